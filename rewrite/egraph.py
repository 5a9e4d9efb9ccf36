"""The only module that talks to egglog: declare the schema and a rule table (once per process),
load diagrams, run rule sets one iteration at a time, measure, roll back, and export the e-graph
as plain Python data. The encoding itself (diagram -> rows, rows -> e-nodes) is plain data in
rewrite/egraph_encoding.py; the names it defines are re-exported here.

Declaring once (measured, CPU: declaring the schema is ~15 ms and the 60 IEEE-safe rules of
rewrite/rules.py ~35 ms more, 0.6 ms a rule; a push of the declared e-graph ~2.5 ms, a pop ~0.8 ms
plus freeing the used e-graph, which costs what dropping it would: ~6 ms for a declared e-graph,
whose rules are freed too; egglog has no clone or clear but push/pop): an `EGraph` takes an egglog
instance in which its schema, rule table and `Extension` are already declared from a per-thread
pool (egglog instances must stay on the thread that made them), `push`es, and on `close()` —
or when it is garbage — `pop`s back to the declared state and returns the instance to the pool.
egglog's pop restores everything the push saved (rows, e-class ids, rules and functions declared
after it), so nothing leaks from one e-graph to the next; `pool_counts()` counts how often a
schema was declared in this process. A rule of the table is declared into an instance the first
time one of its e-graphs may run it (`EGraph._need`: parsing and declaring the 43 IEEE-safe rules
was ~75 ms of a fresh process, a 10,000-op random DAG needs 23 of them); rule sets list their rules
in table order, so results never depend on which rules an instance declared before. Rules that
depend on the diagram (the JVP rules) are declared after the push with `declare`, and popped with
the rest.

Loading (EGGLOG-NOTES.md): rows are read with egglog's `input` from in-memory files
(`os.memfd_create`, read back through /proc/self/fd; a temporary file where that does not exist),
and one loader rule per row kind unions a wire name `(N w)` with its term, so loading is linear and
never builds a shared expression tree in Python. Measured (2-core machine, CPU per load): egglog
facts as top-level commands, parsed or built as command objects, cost 0.1-0.5 ms a row (1k rows:
0.11-0.52 s, against 0.012 s through `input`), and one rule with a head of 1k actions 0.07 s;
`input` of 10k / 100k rows 0.065 / 0.71 s whatever the file; an in-memory file saves the ~2 ms CPU
and ~5-10 ms wall per call of a temporary directory. `N`/`NA`/`NT` name wires, lists and tuples.

Limits: egglog 13 has no node limit or timeout, so `run_step` runs one iteration of one rule set
under a back-off match limit (no rule applies more matches than the limit) and the caller checks
`size()` and the clock between those small steps, and rolls back with `push()`/`pop()`. Cost
(measured on mlp.dloss, 54 e-nodes): a back-off step of the 38 algebra rules takes ~5 ms against
0.07 ms for a plain `(run algebra)`, because each `let-scheduler` builds, per rule, a query rule,
an action rule and a table in egglog's backend, and never frees them: the step costs 6.5 ms after
100 steps on one e-graph and 17 ms after 300 (they go with the e-graph's pop).

Constant folding: `fold()` finds the operations whose operands are all constants (`Q1`/`Q2`
rows, collected by the `foldscan` rules), evaluates them with semantics/fold.py — the one folding
function, the primitive table's NumPy meaning in the wire's dtype — and unions each with its
`(Num r t)`. The rules themselves never compute a constant.

>>> from rewrite.rules import RULES
>>> with EGraph(RULES) as eg:
...     eg.size()
0
"""

from __future__ import annotations

import itertools
import operator
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from egglog import bindings

from rewrite.egraph_base import Base, Extension, base_of
from rewrite.egraph_encoding import (
    LOWERING,
    DenseIds,
    ENode,
    Frozen,
    Lowering,
    Rows,
    Tables,
    encode,
    num_value,
    op_lowering,
    op_name,
    op_rows,
    relevant_rules,
    row_files,
    type_facts,
)
from rewrite.rules import Rule
from semantics.diagram import Diagram
from semantics.fold import fold, foldable
from semantics.types import TensorType

__all__ = ["EGraph", "ENode", "Extension", "Frozen", "Lowering", "Tables", "num_value", "op_name", "pool_counts"]



class _Instance:
    """A declared egglog instance, and the rules of its table declared in it so far (indices)."""

    __slots__ = ("eg", "rules")

    def __init__(self, eg: bindings.EGraph) -> None:
        self.eg = eg
        self.rules: set[int] = set()


class _Pool(threading.local):
    """Per thread (egglog instances are unsendable): declared instances at rest, per `Base`."""

    def __init__(self) -> None:
        self.free: dict[Base, list[_Instance]] = {}


_POOL = _Pool()
_POOL_SIZE = 2  # instances kept per base and thread (~25 MB each with the safe rules; more are alive at once only when nested)
_COUNTS = {"declared": 0, "taken": 0}


def pool_counts() -> dict[str, int]:
    """How many egglog instances this process has declared a schema and rule table in
    (`declared`), and how many e-graphs it has started (`taken`).

    >>> with EGraph(()) as eg:
    ...     pass
    >>> with EGraph(()) as eg:
    ...     counts = pool_counts()
    >>> with EGraph(()) as eg:
    ...     pool_counts()["declared"] == counts["declared"], pool_counts()["taken"] - counts["taken"]
    (True, 1)
    """
    return dict(_COUNTS)


def _acquire(base: Base) -> _Instance:
    free = _POOL.free.setdefault(base, [])
    if free:
        inst = free.pop()
    else:
        inst = _Instance(bindings.EGraph())
        inst.eg.run_program(*_parse(inst.eg, base.program))
        _COUNTS["declared"] += 1
    _COUNTS["taken"] += 1
    inst.eg.run_program(*_parse(inst.eg, "(push)"))
    return inst


def _release(base: Base, inst: _Instance, pushes: int) -> None:
    try:
        inst.eg.run_program(*_parse(inst.eg, f"(pop {pushes})"))
    except bindings.EggSmolError:  # not back in the declared state: drop the instance
        return
    free = _POOL.free.setdefault(base, [])
    if len(free) < _POOL_SIZE:
        free.append(inst)


class EGraph:
    """One egglog e-graph with our schema, a rule table and an optional extension, taken from the
    pool of declared instances (see the module doc). Wire names are global ints: load each diagram
    with a distinct `offset` (see `load`). Use it in a `with` block or `close()` it to hand the
    instance back at once; otherwise that happens when it is garbage."""

    def __init__(self, rules: Sequence[Rule], tables: Tables | None = None, extension: Extension | None = None) -> None:
        self.tables = tables or Tables()
        self._base = base_of(tuple(rules), extension or Extension(), tuple(sorted(self.tables.rule_boxes().items())))
        self._thread = threading.get_ident()
        self._inst = _acquire(self._base)
        self._eg = self._inst.eg
        self._pushes = 1  # ours over the declared state, the pool's own included
        self._fresh = True  # nothing run since the push (see `_need`)
        self._above: set[int] = set()  # rules of the table declared over the push (see `_need`)
        self._closed = False
        self._sizes: tuple[tuple[str, int], ...] | None = None
        self._ops: set[str] | None = set()  # op names loaded (None: unknown, after a `declare`)
        self._subsets: dict[tuple[str, frozenset[str]], tuple[str, int]] = {}  # -> (rule set, pushes)
        self._subset_ids = itertools.count()
        self.rule_names = set(self._base.rule_names)
        self.rule_sets = set(self._base.rule_sets)
        self._counted = set(self._base.counted)  # the constructors freeze exports
        self._scanned: set[tuple[Any, ...]] = set()  # constant operations already folded (or not foldable)
        self._read: dict[str, int] = {}  # rows of Q1/Q2 read by the last `fold`
        # what `fold` knew at each `push`: a `pop` takes the folds since back, so it must forget them
        self._fold_saves: list[tuple[set[tuple[Any, ...]], dict[str, int]]] = []

    def close(self) -> None:
        """Pop back to the declared state and return the egglog instance to the pool (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if threading.get_ident() == self._thread:
            _release(self._base, self._inst, self._pushes)

    def __enter__(self) -> EGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not getattr(self, "_closed", True):
                self.close()
        except Exception:  # at interpreter exit the pool may be gone already: nothing to hand back
            pass

    def declare(self, program: str, constructors: Iterable[str] = (), rules: Iterable[str] = ()) -> None:
        """Add egglog declarations, rules or facts written by another module (the JVP rule compiler):
        `constructors` then count in `size()`, `rules` (names) in `run_iteration`'s matches."""
        self._counted.update(constructors)
        self.rule_names.update(rules)
        if program:
            self._ops = None  # its rules may make any op: every rule of a stage stays in its steps
            self._run(program)

    def _run(self, text: str) -> list[Any]:
        if self._closed:
            raise RuntimeError("this EGraph was closed: its egglog instance is back in the pool")
        self._sizes = None  # any command may change them
        self._fresh = False
        return self._eg.run_program(*_parse(self._eg, text))

    def _need(self, rules: Iterable[int]) -> None:
        """Declare the rules of the table (indices) that a step may run and this instance has not
        declared yet: into the declared state while this e-graph is still empty (pop, declare, push:
        the instance's next e-graphs have them too), else over the push (gone at `close`).
        Declaring a rule costs ~1 ms (measured: the IEEE-safe table is ~45 ms of a fresh process's
        CPU; a 10,000-op random DAG needs 23 of its rules). What an e-graph computes does not depend
        on which rules its instance declared before: a rule runs only in a step of its rule set, and
        every rule set lists its rules in table order, whatever order they were declared in."""
        missing = sorted(k for k in rules if k not in self._inst.rules and k not in self._above)
        if not missing:
            return
        text = "\n".join(self._base.rules[k] for k in missing)
        if self._fresh and self._pushes == 1:
            self._run(f"(pop)\n{text}\n(push)")
            self._inst.rules.update(missing)
            self._fresh = True
        else:
            self._run(text)
            self._above.update(missing)

    # ----------------------------------------------------------- loading

    def load(self, diagrams: Sequence[Diagram]) -> list[list[int]]:
        """Insert diagrams (inputs identified positionally: input k is `(Leaf k t)` in every one).
        Returns, per diagram, the global wire name of each output."""
        rows, outputs = encode(diagrams, self.tables)
        if self._ops is not None:
            self._ops.update(r[1] for rel in ("R1", "R2", "R3", "RN", "RMulti") for r in rows[rel])
            relevant = relevant_rules(self._base.ops, self._ops)
            self._need(k for k, r in enumerate(self._base.ops) if r.name in relevant)
        self.input_rows({**rows, **type_facts(self.tables)}, "load")
        self._run("(run-schedule (saturate (run typing)))")
        return outputs

    def input_rows(self, rows: Rows, ruleset: str) -> None:
        """Bulk-load relation rows with egglog's `input` from in-memory files (linear, unlike
        building terms in Python), then run the ruleset that turns them into terms."""
        with row_files(rows) as files:
            self._run("\n".join([*(f'(input {rel} "{path}")' for rel, path in files),
                                 f"(run-schedule (run {ruleset}))"]))

    # ----------------------------------------------------------- running

    def run_iteration(self, rulesets: Sequence[str] | str, match_limit: int | None = None) -> tuple[bool, dict[str, int]]:
        """Saturate typing, then one iteration of the rule sets (semi-naive without `match_limit`, so
        `updated` is exact; see `run_step` for a bounded one). Returns (updated, matches per rule)."""
        updated, matches, _ = self.run_step(rulesets, match_limit)
        return updated, matches

    def run_step(self, rulesets: Sequence[str] | str, match_limit: int | None = None
                 ) -> tuple[bool, dict[str, int], dict[str, int]]:
        """One iteration; with `match_limit`, under egglog's back-off scheduler: a rule with more
        matches than the limit sits the iteration out, so no step applies more than rules x limit
        matches. Returns (updated, matches applied per rule, matches of the rules that sat out). A
        back-off run re-applies old matches, so `updated` can be True without any change: compare
        `sizes()` before and after."""
        names = [self._stage_ruleset(r) for r in ([rulesets] if isinstance(rulesets, str) else rulesets)]
        body = " ".join(f"(run-with bo {r})" if match_limit else f"(run {r})" for r in names)
        sched = f"(let-scheduler bo (back-off :match-limit {match_limit})) " if match_limit else ""
        (out,) = self._run(f"(run-schedule {sched}(seq (saturate (run typing)) {body}))")
        rep = out.report
        matches = {k: v for k, v in rep.num_matches_per_rule.items() if k in self.rule_names and v}
        banned: dict[str, int] = {}
        if match_limit:  # the search passes report every rule's matches, banned ones included
            for it in rep.iterations:
                for rule, reports in it.rule_set_report.rule_reports.items():
                    n = max((r.num_matches for r in reports), default=0)
                    if rule in self.rule_names and n > match_limit and rule not in matches:
                        banned[rule] = max(n, banned.get(rule, 0))
        return bool(rep.updated), matches, banned

    def step_rules(self, rs: str) -> tuple[str, ...]:
        """The rules a step of rule set `rs` runs: for a stage rule set of the table (`algebra`, ...),
        only those that can ever match here (`relevant_rules` of the ops loaded); a back-off step
        costs ~0.13 ms per rule it runs, matched or not. Empty for other rule sets (all of theirs)."""
        stage = dict(self._base.stages).get(rs, ())
        if self._ops is None:
            return tuple(self._base.ops[k].name for k in stage)
        relevant = relevant_rules(self._base.ops, self._ops)
        return tuple(self._base.ops[k].name for k in stage if self._base.ops[k].name in relevant)

    def _stage_ruleset(self, rs: str) -> str:
        """The rule set that runs `step_rules(rs)`: `rs` itself when that is all of it, else a
        combination declared once per e-graph (and per set of ops loaded)."""
        stage = dict(self._base.stages).get(rs)
        if stage is None:
            return rs
        if self._ops is None:
            self._need(stage)
            return rs
        members = set(self.step_rules(rs))
        self._need(k for k in stage if self._base.ops[k].name in members)
        if len(members) == len(stage):
            return rs
        key = (rs, frozenset(self._ops))
        if key not in self._subsets:
            name = f"{rs}-only-{next(self._subset_ids)}"
            ids = " ".join(f"rs-{k}" for k in stage if self._base.ops[k].name in members)
            self._run(f"(unstable-combined-ruleset {name} {ids})")
            self._subsets[key] = (name, self._pushes)  # a pop below that depth takes it away
        return self._subsets[key][0]

    def fold(self, limit: int = 1_000_000) -> dict[str, int]:
        """Fold every new operation on constants (see the module doc). Returns folds per primitive
        ("fold-<name>": count)."""
        self._run("(run-schedule (run foldscan))")
        rows: dict[str, list[tuple[Any, ...]]] = {"Fold1": [], "Fold2": []}
        done: dict[str, int] = {}
        counts = dict(self.sizes())
        for rel, arity in (("Q1", 1), ("Q2", 2)):
            # Q rows hold no e-class, so they are never merged away: a relation with as many rows
            # as were read last time has no new one (most iterations; printing it costs ~0.5 ms)
            if counts.get(rel, 0) == self._read.get(rel, 0):
                continue
            found = self._rows(rel, limit)
            self._read[rel] = len(found)
            for row in found:
                if row in self._scanned:
                    continue
                self._scanned.add(row)
                name, p, t, args = row[0], row[1], row[2], row[3:]
                value = self._fold_row(name, p, t, args[0::2], args[1::2])
                if value is not None:
                    rows[f"Fold{arity}"].append((*row, value))
                    done[f"fold-{name}"] = done.get(f"fold-{name}", 0) + 1
        if done:
            self.input_rows(rows, "foldapply")
        return done

    def _fold_row(self, name: str, p: int, t: int, values: Sequence[float], types: Sequence[int]) -> float | None:
        box, outs = self.tables.boxes[p]
        out_t = self.tables.types[t]
        arg_t = [self.tables.types[k] for k in types]
        if outs or box.kind != "prim" or not foldable(box.name) or not isinstance(out_t, TensorType) \
                or not all(isinstance(a, TensorType) for a in arg_t):
            return None
        v = fold(box.name, box.param_dict, values, [a.dtype for a in arg_t], out_t.dtype)  # type: ignore[union-attr]
        if v is None or abs(float(v)) >= 1e308 or (isinstance(v, int) and abs(v) >= 2**53):
            return None
        return float(v)

    def _rows(self, relation: str, limit: int) -> list[tuple[Any, ...]]:
        """The rows of a relation, as tuples of Python values."""
        (out,) = self._run(f"(print-function {relation} {limit})")
        td = out.termdag
        rows = []
        for i, _ in out.terms:
            app = td.get(i)
            rows.append(tuple(td.get(k).value.value for k in app.args))
        return rows

    def size(self) -> int:
        """E-nodes (rows of the term constructors, wire names and declared constructors)."""
        return sum(n for name, n in self.sizes() if name in self._counted)

    def sizes(self) -> tuple[tuple[str, int], ...]:
        """Rows per function and relation: a fingerprint that changes with every new e-node and with
        every merge of two classes (their `HasTy` rows become one)."""
        if self._sizes is None:  # asked again and again between steps: kept until the next command
            (out,) = self._run("(print-size)")
            self._sizes = tuple(sorted(out.sizes))
        return self._sizes

    def push(self) -> None:
        """Save the e-graph (egglog copies it) for a later `pop`."""
        self._run("(push)")
        self._pushes += 1
        self._fold_saves.append((set(self._scanned), dict(self._read)))

    def pop(self) -> None:
        """Back to the e-graph of the last `push` (never past the declared state)."""
        if self._pushes <= 1:
            raise RuntimeError("pop without a matching push")
        self._run("(pop)")
        self._pushes -= 1
        self._scanned, self._read = self._fold_saves.pop()
        self._subsets = {k: v for k, v in self._subsets.items() if v[1] <= self._pushes}

    def same(self, w1: int, w2: int) -> bool:
        """Are two wire names in one e-class?"""
        try:
            self._run(f"(check (= (N {w1}) (N {w2})))")
        except Exception as err:  # egglog raises a generic error for a failed check
            if "Check failed" in str(err) or "check failed" in str(err).lower():
                return False
            raise
        return True

    def unsound(self) -> int:
        """Herbie's check: merges of two different constants (or two types) in one e-class."""
        self._run("(run-schedule (saturate (run typing)) (run check))")
        sizes = dict(self.sizes())
        return sizes.get("Unsound", 0) + sizes.get("TyClash", 0)

    # ----------------------------------------------------------- export

    def freeze(self, extra: Mapping[str, Lowering] | None = None) -> Frozen:
        """The e-graph as plain data (`Frozen`), read through egglog's freeze (EGGLOG-NOTES.md: the
        public `eg.freeze()` crashed on Unit-valued functions). Every row of a constructor in
        `LOWERING` (plus `extra`, for sorts a caller declared) becomes an `ENode` of its e-class;
        a row of a naming constructor (`names=True`, e.g. `N w`) maps its key to its class instead
        (`Frozen.names[constructor]`, `Frozen.wires` for `N`). E-class ids are dense and distinct
        per sort."""
        if self._closed:
            raise RuntimeError("this EGraph was closed: its egglog instance is back in the pool")
        eg = self._eg
        fz = eg.freeze()
        table = {**LOWERING, **(extra or {})}
        decode: dict[str, Callable[[Any], Any]] = {"i": eg.value_to_i64, "f": eg.value_to_f64, "-": lambda v: v}
        counter = itertools.count()
        ids: dict[str, DenseIds] = {}  # per sort: egglog value -> dense class id (all C-level lookups on a hit)
        classes: dict[int, list[ENode]] = {}
        names: dict[str, dict[Any, int]] = {}
        for fname, fn in fz.functions.items():
            low = table.get(fname)
            if low is None:
                continue
            own = ids.setdefault(low.sort, DenseIds(counter))
            readers = [decode.get(s) or ids.setdefault(s, DenseIds(counter)).__getitem__ for s in low.inputs]
            rows = fn.rows
            if low.names:
                named = names.setdefault(fname, {})
                if len(readers) == 1:  # (N w): the common case, without a tuple per row
                    key = readers[0]
                    for row in rows:
                        if not row.subsumed:
                            c = own[row.output]
                            named[key(row.inputs[0])] = c
                    continue
                for row in rows:  # every input decoded (in order: that numbers the classes it names)
                    if not row.subsumed:
                        c = own[row.output]
                        x = tuple(map(operator.call, readers, row.inputs))
                        named[x[0]] = c
                continue
            if low.node is op_lowering and low.inputs.startswith("-ii"):
                op_rows(rows, own, classes, eg.value_to_i64, readers[3:])
                continue
            node = low.node
            get = classes.get
            for row in rows:
                if row.subsumed:
                    continue
                c = own[row.output]
                x = tuple(map(operator.call, readers, row.inputs))
                nodes = get(c)
                if nodes is None:
                    nodes = classes[c] = []
                if node is not None:
                    n = node(x)
                    if n is not None:
                        nodes.append(n)
        return Frozen(classes, names.get("N", {}), names)


# Parsed commands are plain data that any e-graph can run: the small, repeated commands (run, size,
# push, pop, input) are parsed once per process, a large program from its second use on (one-off
# programs, such as the facts of a diagram, are not kept); all tables are bounded.
_PARSED: dict[str, list[Any]] = {}
_SEEN: dict[int, int] = {}  # hash of a large program text -> uses


def _parse(eg: bindings.EGraph, text: str) -> list[Any]:
    cmds = _PARSED.get(text)
    if cmds is None:
        cmds = eg.parse_program(text)
        if len(_PARSED) > 4096 or len(_SEEN) > 4096:
            _PARSED.clear()
            _SEEN.clear()
        if len(text) < 400:
            _PARSED[text] = cmds
        else:
            h = hash(text)
            _SEEN[h] = _SEEN.get(h, 0) + 1
            if _SEEN[h] >= 2:
                _PARSED[text] = cmds
    return cmds
