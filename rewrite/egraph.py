"""The only module that talks to egglog: load diagrams, run rule sets one iteration at a time,
measure, roll back, and export the e-graph as plain Python data.

Encoding (why): one generic constructor family keyed by primitive name —
`(Op1 name box t a)`, `(Op2 name box t a b)`, `(Op3 name box t a b c)`, `(OpN name box t args)`
for other arities, `(Leaf k t)` for input k, `(Num v t)` for a constant v filling type t, and
`(Proj k t (Multi name box args))` for output k of a node with several outputs (generators,
calls). `(Var e)` holds for a term that depends on an input (or on an opaque box): a constant
expression never does, so rules that reassociate constants require `Var` of the kept operand.
`box` and `t` are ids into Python tables (`Tables`) of Box values and wire types, so the egglog
schema never changes when a primitive is added, rewrites cannot alter static parameters or
types (they are opaque integers), and rules compare types by id. The name string is redundant
with the box id but makes rules readable (`(Op2 "add" p t x (Num 0.0 z))`).

Loading (EGGLOG-NOTES.md): rows are written to TSV files and read with egglog's `input`; one
loader rule per row kind unions a wire name `(N w)` with its term, so loading is linear and
never builds a shared expression tree in Python. `N`/`NA`/`NT` name wires, argument lists and
tuples; the extractor ignores them.

Limits: egglog 13 has no node limit or timeout, so `run_iteration` runs one iteration of one rule
set under a back-off match limit (no rule applies more matches than the limit) and the caller
checks `size()` and the clock between those small steps, and rolls back with `push()`/`pop()`.

Constant folding: `fold()` finds the operations whose operands are all constants (`Q1`/`Q2`
rows, collected by the `foldscan` rules), evaluates them with semantics/fold.py — the one folding
function, the primitive table's NumPy meaning in the wire's dtype — and unions each with its
`(Num r t)`. The rules themselves never compute a constant.

>>> from rewrite.rules import RULES
>>> eg = EGraph(RULES)
>>> eg.size()
0
"""

from __future__ import annotations

import itertools
import operator
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from egglog import bindings

from rewrite.rules import RULE_BOXES, Rule
from semantics.diagram import Box, Diagram, make_box
from semantics.fold import fold, foldable
from semantics.primitives import PRIMITIVES
from semantics.types import TensorType, WireType

SCHEMA = """
(sort Term)
(sort Args)
(sort Tup)
(constructor Leaf (i64 i64) Term)
(constructor Num (f64 i64) Term)
(constructor N (i64) Term)
(constructor Op1 (String i64 i64 Term) Term)
(constructor Op2 (String i64 i64 Term Term) Term)
(constructor Op3 (String i64 i64 Term Term Term) Term)
(constructor OpN (String i64 i64 Args) Term)
(constructor Proj (i64 i64 Tup) Term)
(constructor ANil () Args)
(constructor ACons (Term Args) Args)
(constructor NA (i64) Args)
(constructor Multi (String i64 Args) Tup)
(constructor NT (i64) Tup)
(relation HasTy (Term i64))
(relation F64T (i64))
(relation ScalarT (i64))
(relation Mat2 (i64))
(relation InvPerm (i64 i64))
(function ScalarOf (i64) i64 :merge old)
(function Numel (i64) f64 :merge old)
(function MatTy (i64 i64) i64 :merge old)
(relation RLeaf (i64 i64 i64))
(relation RNum (i64 f64 i64))
(relation R1 (i64 String i64 i64 i64))
(relation R2 (i64 String i64 i64 i64 i64))
(relation R3 (i64 String i64 i64 i64 i64 i64))
(relation RN (i64 String i64 i64 i64))
(relation RNil (i64))
(relation RCons (i64 i64 i64))
(relation RMulti (i64 String i64 i64))
(relation RProj (i64 i64 i64 i64))
(relation Unsound (f64 f64))
(relation TyClash (i64 i64))
(ruleset load)
(rule ((RLeaf w k t)) ((union (N w) (Leaf k t))) :ruleset load :name "load-leaf")
(rule ((RNum w v t)) ((union (N w) (Num v t))) :ruleset load :name "load-num")
(rule ((R1 w n p t a)) ((union (N w) (Op1 n p t (N a)))) :ruleset load :name "load-1")
(rule ((R2 w n p t a b)) ((union (N w) (Op2 n p t (N a) (N b)))) :ruleset load :name "load-2")
(rule ((R3 w n p t a b c)) ((union (N w) (Op3 n p t (N a) (N b) (N c)))) :ruleset load :name "load-3")
(rule ((RN w n p t l)) ((union (N w) (OpN n p t (NA l)))) :ruleset load :name "load-n")
(rule ((RNil l)) ((union (NA l) (ANil))) :ruleset load :name "load-nil")
(rule ((RCons l h r)) ((union (NA l) (ACons (N h) (NA r)))) :ruleset load :name "load-cons")
(rule ((RMulti m n p l)) ((union (NT m) (Multi n p (NA l)))) :ruleset load :name "load-multi")
(rule ((RProj w k t m)) ((union (N w) (Proj k t (NT m)))) :ruleset load :name "load-proj")
(ruleset typing)
(rule ((= e (Leaf k t))) ((HasTy e t)) :ruleset typing :name "ty-leaf")
(rule ((= e (Num v t))) ((HasTy e t)) :ruleset typing :name "ty-num")
(rule ((= e (Op1 n p t a))) ((HasTy e t)) :ruleset typing :name "ty-1")
(rule ((= e (Op2 n p t a b))) ((HasTy e t)) :ruleset typing :name "ty-2")
(rule ((= e (Op3 n p t a b c))) ((HasTy e t)) :ruleset typing :name "ty-3")
(rule ((= e (OpN n p t l))) ((HasTy e t)) :ruleset typing :name "ty-n")
(rule ((= e (Proj k t m))) ((HasTy e t)) :ruleset typing :name "ty-proj")
(relation Var (Term))
(relation RVar (i64))
(rule ((RVar w)) ((Var (N w))) :ruleset load :name "load-var")
(rule ((= e (Leaf k t))) ((Var e)) :ruleset typing :name "var-leaf")
(rule ((= e (Proj k t m))) ((Var e)) :ruleset typing :name "var-proj")
(rule ((= e (OpN n p t l))) ((Var e)) :ruleset typing :name "var-n")
(rule ((= e (Op1 n p t a)) (Var a)) ((Var e)) :ruleset typing :name "var-1")
(rule ((= e (Op2 n p t a b)) (Var a)) ((Var e)) :ruleset typing :name "var-2a")
(rule ((= e (Op2 n p t a b)) (Var b)) ((Var e)) :ruleset typing :name "var-2b")
(rule ((= e (Op3 n p t a b c)) (Var a)) ((Var e)) :ruleset typing :name "var-3a")
(rule ((= e (Op3 n p t a b c)) (Var b)) ((Var e)) :ruleset typing :name "var-3b")
(rule ((= e (Op3 n p t a b c)) (Var c)) ((Var e)) :ruleset typing :name "var-3c")
(ruleset check)
(rule ((= e (Num a t)) (= e (Num b u)) (!= a b)) ((Unsound a b)) :ruleset check :name "check-consts")
(rule ((HasTy e a) (HasTy e b) (!= a b)) ((TyClash a b)) :ruleset check :name "check-types")
(relation Q1 (String i64 i64 f64 i64))
(relation Q2 (String i64 i64 f64 i64 f64 i64))
(relation Fold1 (String i64 i64 f64 i64 f64))
(relation Fold2 (String i64 i64 f64 i64 f64 i64 f64))
(ruleset foldscan)
(rule ((= e (Op1 n p t (Num a ta)))) ((Q1 n p t a ta)) :ruleset foldscan :name "fold-scan-1")
(rule ((= e (Op2 n p t (Num a ta) (Num b tb)))) ((Q2 n p t a ta b tb)) :ruleset foldscan :name "fold-scan-2")
(ruleset foldapply)
(rule ((Fold1 n p t a ta r)) ((union (Op1 n p t (Num a ta)) (Num r t))) :ruleset foldapply :name "fold-1")
(rule ((Fold2 n p t a ta b tb r)) ((union (Op2 n p t (Num a ta) (Num b tb)) (Num r t))) :ruleset foldapply :name "fold-2")
(ruleset algebra)
(ruleset factor)
(ruleset assoc)
(ruleset scale)
"""


@dataclass(frozen=True)
class ENode:
    """One e-node as plain data. `op`: leaf | num | op | proj | nil | cons | multi.
    `a`: input index (leaf), box id (op, multi), output index (proj). `t`: type id (-1 if none)."""

    op: str
    a: int
    t: int
    value: float
    children: tuple[int, ...]


@dataclass
class Frozen:
    """The e-graph as plain data: e-nodes per e-class (dense ints), the class of each wire name, and
    the classes named by other naming constructors (`names["JVP"]`: primal class -> tangent class)."""

    classes: dict[int, list[ENode]]
    wires: dict[int, int]
    names: dict[str, dict[Any, int]] = field(default_factory=dict)


@dataclass
class Tables:
    """Interned types and boxes (ids are list positions). Multi-output boxes carry their out types."""

    types: list[WireType] = field(default_factory=list)
    boxes: list[tuple[Box, tuple[WireType, ...]]] = field(default_factory=list)
    _type_ids: dict[Any, int] = field(default_factory=dict)
    _box_ids: dict[Any, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in RULE_BOXES:
            self.box(make_box(name))

    def type(self, t: WireType) -> int:
        i = self._type_ids.get(t)
        if i is None:
            i = self._type_ids[t] = len(self.types)
            self.types.append(t)
        return i

    def box(self, b: Box, outs: tuple[WireType, ...] = ()) -> int:
        key = (b, outs)
        i = self._box_ids.get(key)
        if i is None:
            i = self._box_ids[key] = len(self.boxes)
            self.boxes.append((b, outs))
        return i

    def rule_boxes(self) -> dict[str, int]:
        return {name: self._box_ids[(make_box(name), ())] for name in RULE_BOXES}


def op_name(b: Box) -> str:
    """The name rules match on: a primitive's own name; generators and calls are prefixed."""
    return b.name if b.kind == "prim" else f"{b.kind}:{b.name}"


def num_value(b: Box, t: WireType) -> float | None:
    """The f64 a `const` box becomes in a `Num` (None: keep it opaque, e.g. NaN, inf, huge ints)."""
    if b.kind != "prim" or b.name != "const" or not isinstance(t, TensorType):
        return None
    v = b.param_dict.get("value")
    if isinstance(v, bool) or (isinstance(v, int) and abs(v) < 2**53):
        return float(v)
    if isinstance(v, float) and v == v and abs(v) < 1e308:
        return v
    return None


class EGraph:
    """One egglog e-graph with our schema and rules. Wire names are global ints: load each diagram
    with a distinct `offset` (see `load`)."""

    def __init__(self, rules: Sequence[Rule], tables: Tables | None = None) -> None:
        self.tables = tables or Tables()
        self._eg = bindings.EGraph()
        self._cmd_cache: dict[str, list[Any]] = {}
        boxes = self.tables.rule_boxes()
        self._run(SCHEMA + "\n".join(r.egglog(boxes) for r in rules))
        self.rule_names = {r.name for r in rules}
        self.rule_sets = {r.stage for r in rules}
        self._scanned: set[tuple[Any, ...]] = set()  # constant operations already folded (or not foldable)
        self._counted = set(LOWERING)  # the constructors freeze exports

    def declare(self, program: str, constructors: Iterable[str] = (), rules: Iterable[str] = ()) -> None:
        """Add egglog declarations, rules or facts written by another module (the JVP rule compiler):
        `constructors` then count in `size()`, `rules` (names) in `run_iteration`'s matches."""
        self._counted.update(constructors)
        self.rule_names.update(rules)
        if program:
            self._run(program)

    def _run(self, text: str) -> list[Any]:
        cmds = self._cmd_cache.get(text)
        if cmds is None:
            cmds = _PARSED.get(text) if len(text) >= 400 else None
            if cmds is None:
                cmds = self._eg.parse_program(text)
            if len(text) < 400:  # cache the small, repeated commands (run, size, push, pop)
                self._cmd_cache[text] = cmds
            elif _parsed_once(text):
                _PARSED[text] = cmds
        return self._eg.run_program(*cmds)

    # ----------------------------------------------------------- loading

    def load(self, diagrams: Sequence[Diagram]) -> list[list[int]]:
        """Insert diagrams (inputs identified positionally: input k is `(Leaf k t)` in every one).
        Returns, per diagram, the global wire name of each output."""
        rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in ("RLeaf", "RNum", "R1", "R2", "R3", "RN", "RNil",
                                                                   "RCons", "RMulti", "RProj", "RVar")}
        outputs = []
        offset = 0
        lists = 0
        for d in diagrams:
            g = lambda w, o=offset: w + o
            var = set(d.inputs)  # `Var` computed here, in one pass, as its rules would: seeded, they
            for k, w in enumerate(d.inputs):  # saturate at once instead of one level per iteration
                rows["RLeaf"].append((g(w), k, self.tables.type(d.types[w])))
            for node in d.nodes:
                if len(node.outputs) != 1 or not 1 <= len(node.inputs) <= 3 or any(w in var for w in node.inputs):
                    var.update(node.outputs)  # Proj and OpN always; Op1-3 when an operand is Var
                outs_t = tuple(d.types[w] for w in node.outputs)
                ins = [g(w) for w in node.inputs]
                if len(outs_t) == 1:
                    t = self.tables.type(outs_t[0])
                    v = num_value(node.box, outs_t[0])
                    w = g(node.outputs[0])
                    if v is not None:
                        rows["RNum"].append((w, v, t))
                        var.discard(node.outputs[0])
                        continue
                    p, name = self.tables.box(node.box), op_name(node.box)
                    if 1 <= len(ins) <= 3:
                        rows[f"R{len(ins)}"].append((w, name, p, t, *ins))
                    else:
                        lists = self._args(ins, lists, rows)
                        rows["RN"].append((w, name, p, t, lists - 1))
                elif outs_t:
                    p = self.tables.box(node.box, outs_t)
                    lists = self._args(ins, lists, rows)
                    m = g(node.outputs[0])  # the tuple is named after its first output wire
                    rows["RMulti"].append((m, op_name(node.box), p, lists - 1))
                    for k, w in enumerate(node.outputs):
                        rows["RProj"].append((g(w), k, self.tables.type(d.types[w]), m))
            outputs.append([g(w) for w in d.outputs])
            rows["RVar"] += [(g(w),) for w in sorted(var)]
            offset += len(d.types)
        self._facts()
        self.input_rows(rows, "load")
        self._run("(run-schedule (saturate (run typing)))")
        return outputs

    def input_rows(self, rows: dict[str, list[tuple[Any, ...]]], ruleset: str) -> None:
        """Bulk-load relation rows through TSV files (linear, unlike building terms in Python), then
        run the ruleset that turns them into terms."""
        with tempfile.TemporaryDirectory() as tmp:
            cmds = []
            for rel, rs in rows.items():
                if rs:
                    path = os.path.join(tmp, f"{rel}.tsv")
                    with open(path, "w") as f:
                        f.writelines("\t".join(_cell(c) for c in r) + "\n" for r in rs)
                    cmds.append(f'(input {rel} "{path}")')
            self._run("\n".join([*cmds, f"(run-schedule (run {ruleset}))"]))

    @staticmethod
    def _args(ins: Sequence[int], lists: int, rows: dict[str, list[tuple[Any, ...]]]) -> int:
        """Rows for a cons list of wires; returns the next free list id (the list is id - 1)."""
        rows["RNil"].append((lists,))
        for h in reversed(ins):
            rows["RCons"].append((lists + 1, h, lists))
            lists += 1
        return lists + 1

    def _facts(self) -> None:
        """Type facts the rules consult (computed in Python, so rules never compute types)."""
        tab = self.tables
        for t in list(tab.types):
            if isinstance(t, TensorType):
                tab.type(TensorType(t.dtype, ()))
        mats = [t for t in tab.types if isinstance(t, TensorType) and t.rank == 2][:64]
        matty = []
        if "matmul" in PRIMITIVES:
            for a in mats:
                for b in mats:
                    if a.dtype == b.dtype and a.shape[1] == b.shape[0]:
                        c = TensorType(a.dtype, (a.shape[0], b.shape[1]))
                        matty.append((tab.type(a), tab.type(b), tab.type(c)))
        lines = []
        for i, t in enumerate(tab.types):
            if not isinstance(t, TensorType):
                continue
            lines.append(f"(set (ScalarOf {i}) {tab.type(TensorType(t.dtype, ()))})")
            if t.dtype == "f64":
                lines.append(f"(F64T {i})")
            if t.rank == 0:
                lines.append(f"(ScalarT {i})")
            if t.rank == 2:
                lines.append(f"(Mat2 {i})")
            if all(d.is_const for d in t.shape):
                n = 1
                for d in t.shape:
                    n *= d.value
                lines.append(f"(set (Numel {i}) {float(n)!r})")
        lines += [f"(set (MatTy {a} {b}) {c})" for a, b, c in matty]
        lines += [f"(InvPerm {p} {q})" for p, q in _inverse_transposes(tab.boxes)]
        if lines:
            self._run("\n".join(lines))

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
        names = [rulesets] if isinstance(rulesets, str) else list(rulesets)
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

    def fold(self, limit: int = 1_000_000) -> dict[str, int]:
        """Fold every new operation on constants (see the module doc). Returns folds per primitive
        ("fold-<name>": count)."""
        self._run("(run-schedule (run foldscan))")
        rows: dict[str, list[tuple[Any, ...]]] = {"Fold1": [], "Fold2": []}
        done: dict[str, int] = {}
        for rel, arity in (("Q1", 1), ("Q2", 2)):
            for row in self._rows(rel, limit):
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
        (out,) = self._run("(print-size)")
        return tuple(sorted(out.sizes))

    def push(self) -> None:
        self._run("(push)")

    def pop(self) -> None:
        self._run("(pop)")

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
        (out,) = self._run("(print-size)")
        sizes = dict(out.sizes)
        return sizes.get("Unsound", 0) + sizes.get("TyClash", 0)

    # ----------------------------------------------------------- export

    def freeze(self, extra: Mapping[str, Lowering] | None = None) -> Frozen:
        """The e-graph as plain data (`Frozen`), read through egglog's freeze (EGGLOG-NOTES.md: the
        public `eg.freeze()` crashed on Unit-valued functions). Every row of a constructor in
        `LOWERING` (plus `extra`, for sorts a caller declared) becomes an `ENode` of its e-class;
        a row of a naming constructor (`names=True`, e.g. `N w`) maps its key to its class instead
        (`Frozen.names[constructor]`, `Frozen.wires` for `N`). E-class ids are dense and distinct
        per sort."""
        eg = self._eg
        fz = eg.freeze()
        table = {**LOWERING, **(extra or {})}
        decode: dict[str, Callable[[Any], Any]] = {"i": eg.value_to_i64, "f": eg.value_to_f64, "-": lambda v: v}
        counter = itertools.count()
        ids: dict[str, _Ids] = {}  # per sort: egglog value -> dense class id (all C-level lookups on a hit)
        classes: dict[int, list[ENode]] = {}
        names: dict[str, dict[Any, int]] = {}
        for fname, fn in fz.functions.items():
            low = table.get(fname)
            if low is None:
                continue
            own = ids.setdefault(low.sort, _Ids(counter))
            readers = [decode.get(s) or ids.setdefault(s, _Ids(counter)).__getitem__ for s in low.inputs]
            named = names.setdefault(fname, {}) if low.names else None
            for row in fn.rows:
                if row.subsumed:
                    continue
                c = own[row.output]
                x = tuple(map(operator.call, readers, row.inputs))
                if named is not None:
                    named[x[0]] = c
                    continue
                nodes = classes.setdefault(c, [])
                n = low.node(x) if low.node else None
                if n is not None:
                    nodes.append(n)
        return Frozen(classes, names.get("N", {}), names)


# Parsed commands are plain data that any e-graph can run: the schema and rule declarations every
# EGraph starts with are parsed once per process (a third of building an e-graph), not per e-graph.
_PARSED: dict[str, list[Any]] = {}
_SEEN: dict[int, int] = {}  # hash of a program text -> uses


def _parsed_once(text: str) -> bool:
    """Keep a large program's parse from its second use on (one-off programs, such as the rows of a
    diagram, are not kept); both tables are bounded."""
    if len(_PARSED) > 64 or len(_SEEN) > 1024:
        _PARSED.clear()
        _SEEN.clear()
    h = hash(text)
    _SEEN[h] = _SEEN.get(h, 0) + 1
    return _SEEN[h] >= 2


class _Ids(dict[Any, int]):
    """Dense ids drawn from a shared counter, assigned on first lookup."""

    def __init__(self, counter: Iterator[int]) -> None:
        super().__init__()
        self.counter = counter

    def __missing__(self, key: Any) -> int:
        i = self[key] = next(self.counter)
        return i


@dataclass(frozen=True)
class Lowering:
    """How the rows of one egglog constructor are exported: the sort of its e-class, the sort of each
    argument (`i`/`f`: an i64/f64 value, decoded; `-`: a value left undecoded, e.g. a name the box id
    repeats; any other letter: a child e-class of that sort), and the `ENode` a decoded row stands
    for (None: the class exists, the row adds no node). `names`: the row names a class (its first
    argument is the key), it is not an e-node."""

    sort: str
    inputs: str
    node: Callable[[tuple[Any, ...]], ENode | None] | None = None
    names: bool = False


def _op(x: tuple[Any, ...]) -> ENode:
    return ENode("op", x[1], x[2], 0.0, x[3:])


LOWERING: dict[str, Lowering] = {
    "N": Lowering("T", "i", names=True),
    "NA": Lowering("A", "i"),
    "NT": Lowering("U", "i"),
    "Leaf": Lowering("T", "ii", lambda x: ENode("leaf", x[0], x[1], 0.0, ())),
    "Num": Lowering("T", "fi", lambda x: ENode("num", 0, x[1], x[0], ())),
    "Op1": Lowering("T", "-iiT", _op),
    "Op2": Lowering("T", "-iiTT", _op),
    "Op3": Lowering("T", "-iiTTT", _op),
    "OpN": Lowering("T", "-iiA", _op),
    "Proj": Lowering("T", "iiU", lambda x: ENode("proj", x[0], x[1], 0.0, (x[2],))),
    "ANil": Lowering("A", "", lambda x: ENode("nil", 0, -1, 0.0, ())),
    "ACons": Lowering("A", "TA", lambda x: ENode("cons", 0, -1, 0.0, x)),
    "Multi": Lowering("U", "-iA", lambda x: ENode("multi", x[1], -1, 0.0, (x[2],))),
}


def _cell(c: Any) -> str:
    return repr(c) if isinstance(c, float) else str(c)


def _inverse_transposes(boxes: Iterable[tuple[Box, tuple[WireType, ...]]]) -> list[tuple[int, int]]:
    """Pairs of transpose boxes (ids) whose composition is the identity permutation."""
    ts = [(i, b.param_dict.get("axes")) for i, (b, outs) in enumerate(boxes)
          if b.kind == "prim" and b.name == "transpose" and not outs]
    out = []
    for i, p in ts:
        for j, q in ts:
            if p is None and q is None:
                out.append((i, j))
            elif p is None or q is None:
                e = tuple(q if p is None else p)  # type: ignore[arg-type]
                if e == tuple(reversed(range(len(e)))):
                    out.append((i, j))
            elif len(p) == len(q) and all(p[q[k]] == k for k in range(len(p))):
                out.append((i, j))
    return out
