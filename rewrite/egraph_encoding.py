"""The e-graph's encoding as plain Python data, with no egglog in it: how a diagram becomes rows of
the loader relations (`encode`) and the in-memory files egglog's `input` reads them from
(`row_files`), which type facts the rules consult (`type_facts`), and how the rows of a frozen
e-graph become e-nodes (`LOWERING`, `Frozen`). rewrite/egraph.py, the only
module that talks to egglog, declares the schema these rows fill and runs the commands.

Encoding (why): one generic constructor family keyed by primitive name —
`(Op1 name box t a)`, `(Op2 name box t a b)`, `(Op3 name box t a b c)`, `(OpN name box t args)`
for other arities, `(Leaf k t)` for input k, `(Num v t)` for a constant v filling type t, and
`(Proj k t (Multi name box args))` for output k of a node with several outputs (generators,
calls). `(Var e)` holds for a term that depends on an input (or on an opaque box): a constant
expression never does, so rules that reassociate constants require `Var` of the kept operand.
`box` and `t` are ids into Python tables (`Tables`) of Box values and wire types, so the egglog
schema never changes when a primitive is added, rewrites cannot alter static parameters or
types (they are opaque integers), and rules compare types by id. The name string is redundant
with the box id but makes rules readable (`(Op2 "add" p t x (Num 0.0 z))`). The boxes the rules
mention (`RULE_BOXES`) are interned first, so their ids are the same in every `Tables` and the
rule text of one rule table is the same in every e-graph (which lets egraph.py declare it once).

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import scalar
>>> b = Builder(); x = b.input(scalar("f64"))
>>> (y,) = b.add(make_box("sin"), [x], [scalar("f64")])
>>> tab = Tables()
>>> rows, outputs = encode([b.build([y])], tab)
>>> rows["RLeaf"], [r[:2] + r[3:] for r in rows["R1"]], outputs   # (w, name, box, t, a): box id left out
([(0, 0, 0)], [(1, 'sin', 0, 0)], [[1]])
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from rewrite.rules import RULE_BOXES, Rule
from semantics.diagram import Box, Diagram, make_box
from semantics.primitives import PRIMITIVES
from semantics.types import TensorType, WireType

# The sorts, constructors, loader relations and the rules every e-graph has (rewrite/egraph.py
# declares them, with a rule table whose stage rule sets it declares itself).
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
(relation RNumel (i64 f64))
(rule ((RNumel t n)) ((set (Numel t) n)) :ruleset load :name "load-numel")
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
"""


# the loader relations, in the order their rows are loaded (see `SCHEMA`)
ROW_RELATIONS = ("RLeaf", "RNum", "R1", "R2", "R3", "RN", "RNil", "RCons", "RMulti", "RProj", "RVar")

Rows = dict[str, list[tuple[Any, ...]]]


class ENode(NamedTuple):
    """One e-node as plain data. `op`: leaf | num | op | proj | nil | cons | multi.
    `a`: input index (leaf), box id (op, multi), output index (proj). `t`: type id (-1 if none).
    A NamedTuple rather than a frozen dataclass: the export makes one per e-node, and it is built
    ~4x faster (0.66 vs 2.55 us measured; 111k rows for the JVP of a random 8,000-op DAG)."""

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
    """Interned types and boxes (ids are list positions). Multi-output boxes carry their out types.
    The boxes the rules mention come first, so `rule_boxes()` is the same in every Tables."""

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


# ----------------------------------------------------------------- diagram -> rows


def encode(diagrams: Sequence[Diagram], tab: Tables) -> tuple[Rows, list[list[int]]]:
    """The loader rows of diagrams whose inputs are identified positionally (input k is `(Leaf k
    t)` in every one) and, per diagram, the global wire name of each output. Wire names are
    global: diagram i's wires are offset by the wire counts of the diagrams before it.

    `Var` is computed here, in one pass, as its rules would (`RVar` rows): seeded, it saturates at
    once instead of one level of the DAG per iteration."""
    rows: Rows = {k: [] for k in ROW_RELATIONS}
    leaf, num, r_n, multi, proj = rows["RLeaf"], rows["RNum"], rows["RN"], rows["RMulti"], rows["RProj"]
    by_arity = {1: rows["R1"], 2: rows["R2"], 3: rows["R3"]}
    outputs = []
    offset = 0
    lists = [0]  # the next free argument-list id
    # (id(box), id(type)) -> the row's fields after the wire: a diagram's nodes share a few box and
    # type objects, so each distinct pair is interned and tested for a constant once
    heads: dict[tuple[int, int], tuple[Any, ...]] = {}
    for d in diagrams:
        types = d.types
        var = set(d.inputs)
        for k, w in enumerate(d.inputs):
            leaf.append((w + offset, k, tab.type(types[w])))
        for node in d.nodes:
            outs, box = node.outputs, node.box
            ins = node.inputs if not offset else tuple([w + offset for w in node.inputs])
            if len(outs) == 1:
                ty = types[outs[0]]
                head = heads.get((id(box), id(ty)))
                if head is None:
                    v = num_value(box, ty)
                    head = heads[(id(box), id(ty))] = ((v, tab.type(ty)) if v is not None else
                                                       (op_name(box), tab.box(box), tab.type(ty)))
                if len(head) == 2:
                    num.append((outs[0] + offset, *head))  # a constant never depends on an input
                    continue
                if not 1 <= len(ins) <= 3:
                    r_n.append((outs[0] + offset, *head, _arg_list(ins, lists, rows)))
                    var.add(outs[0])
                    continue
                by_arity[len(ins)].append((outs[0] + offset, *head, *ins))
                if not var.isdisjoint(node.inputs):
                    var.add(outs[0])
            elif outs:
                var.update(outs)
                outs_t = tuple(types[w] for w in outs)
                m = outs[0] + offset  # the tuple is named after its first output wire
                multi.append((m, op_name(box), tab.box(box, outs_t), _arg_list(ins, lists, rows)))
                proj.extend((w + offset, k, tab.type(ty), m) for k, (w, ty) in enumerate(zip(outs, outs_t)))
        outputs.append([w + offset for w in d.outputs])
        rows["RVar"] += [(w + offset,) for w in sorted(var)]
        offset += len(types)
    return rows, outputs


def _arg_list(ins: Sequence[int], lists: list[int], rows: Rows) -> int:
    """Rows for a cons list of wires; returns the list's id (`lists[0]` is the next free id)."""
    first = lists[0]
    rows["RNil"].append((first,))
    rows["RCons"].extend((first + k + 1, h, first + k) for k, h in enumerate(reversed(ins)))
    lists[0] = first + len(ins) + 1
    return first + len(ins)


def type_facts(tab: Tables) -> Rows:
    """Type facts the rules consult, as rows loaded with the diagram (computed in Python, so rules
    never compute types): `ScalarOf`, `F64T`, `ScalarT`, `Mat2`, `Numel` (through `RNumel`: egglog
    cannot `input` a function with an f64 value), `MatTy` and `InvPerm`. Interns the scalar type of
    every tensor type first. Rows, not `set` commands: a top-level egglog action costs 0.1-0.5 ms,
    and the `MatTy` facts alone are quadratic in the rank-2 types."""
    for t in list(tab.types):
        if isinstance(t, TensorType):
            tab.type(TensorType(t.dtype, ()))
    rows: Rows = {k: [] for k in ("ScalarOf", "F64T", "ScalarT", "Mat2", "RNumel")}
    for i, t in enumerate(tab.types):
        if not isinstance(t, TensorType):
            continue
        rows["ScalarOf"].append((i, tab.type(TensorType(t.dtype, ()))))
        if t.dtype == "f64":
            rows["F64T"].append((i,))
        if t.rank == 0:
            rows["ScalarT"].append((i,))
        if t.rank == 2:
            rows["Mat2"].append((i,))
        if all(d.is_const for d in t.shape):
            n = 1
            for d in t.shape:
                n *= d.value
            rows["RNumel"].append((i, float(n)))
    rows["MatTy"] = _matmul_types(tab)
    rows["InvPerm"] = _inverse_transposes(tab.boxes)
    return rows


def _matmul_types(tab: Tables) -> list[tuple[int, int, int]]:
    """(a, b, a @ b) for the rank-2 types (the first 64), for the matmul association rules."""
    if "matmul" not in PRIMITIVES:
        return []
    mats = [t for t in tab.types if isinstance(t, TensorType) and t.rank == 2][:64]
    return [(tab.type(a), tab.type(b), tab.type(TensorType(a.dtype, (a.shape[0], b.shape[1]))))
            for a in mats for b in mats if a.dtype == b.dtype and a.shape[1] == b.shape[0]]


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


# ----------------------------------------------------------------- which rules can match

_OP_ATOM = re.compile(r'\((?:Op[123N]|Multi)\s+"([^"]+)"')
_QUOTED = re.compile(r'"([^"]+)"')


@dataclass(frozen=True)
class RuleOps:
    """The op names a rule needs (those of the Op/Multi atoms of its pattern and conditions: it
    cannot match without a term of each) and those its right-hand side may make (every quoted
    name: an over-approximation, the safe side)."""

    name: str
    stage: str
    needs: frozenset[str]
    makes: frozenset[str]

    @staticmethod
    def of(rule: Rule) -> RuleOps:
        return RuleOps(rule.name, rule.stage, frozenset(_OP_ATOM.findall(rule.lhs + " " + rule.when)),
                       frozenset(_QUOTED.findall(rule.rhs)))


def relevant_rules(rules: Sequence[RuleOps], present: Iterable[str]) -> frozenset[str]:
    """The rules that can ever match in an e-graph whose terms use the op names `present`, given
    that the rules which can match make their ops present too (a fixpoint; folding makes only
    constants). The others cannot fire, so leaving them out of a step changes nothing.

    >>> rules = [RuleOps("a", "algebra", frozenset({"exp"}), frozenset({"mul"})),
    ...          RuleOps("b", "algebra", frozenset({"mul"}), frozenset()),
    ...          RuleOps("c", "algebra", frozenset({"log"}), frozenset())]
    >>> sorted(relevant_rules(rules, {"exp"}))
    ['a', 'b']
    """
    ops = set(present)
    out: set[str] = set()
    grew = True
    while grew:
        grew = False
        for r in rules:
            if r.name not in out and r.needs <= ops:
                out.add(r.name)
                ops |= r.makes
                grew = True
    return frozenset(out)


# ----------------------------------------------------------------- rows -> files for egglog's `input`

_MEMFD = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")


@contextlib.contextmanager
def row_files(rows: Rows) -> Iterator[list[tuple[str, str]]]:
    """(relation, path) of a file holding each relation's rows as TSV, for egglog's `input`: an
    in-memory file (memfd, no name in any directory) where the system has them, else a temporary
    file; both are gone when the block ends."""
    with contextlib.ExitStack() as stack:
        files = []
        for rel, rs in rows.items():
            if not rs:
                continue
            # one %-format over all the cells (2x faster than joining each row); `%s` of a float is its repr
            line = "\t".join(["%s"] * len(rs[0])) + "\n"
            data = ((line * len(rs)) % tuple(itertools.chain.from_iterable(rs))).encode()
            if _MEMFD:
                fd = os.memfd_create(rel, os.MFD_CLOEXEC)
                stack.callback(os.close, fd)
                path = f"/proc/self/fd/{fd}"
            else:
                fd, path = tempfile.mkstemp(suffix=".tsv")
                stack.callback(os.unlink, path)
                stack.callback(os.close, fd)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            files.append((rel, path))
        yield files


# ----------------------------------------------------------------- frozen rows -> e-nodes


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


def op_lowering(x: tuple[Any, ...]) -> ENode:
    """The e-node of an `(OpK name box t children...)` row (rewrite/egraph.py exports these rows
    with a loop of its own, which it recognises by this function)."""
    return ENode("op", x[1], x[2], 0.0, x[3:])


def op_rows(rows: Sequence[Any], own: DenseIds, classes: dict[int, list[ENode]], i64: Callable[[Any], int],
            kids: Sequence[Callable[[Any], int]]) -> None:
    """The e-nodes of the frozen rows of an `Op1`/`Op2`/`Op3`/`OpN` constructor (name, box, type,
    children), added to `classes`: the export's hot loop (most e-nodes), without the generic row
    tuple of `op_lowering`. Classes are numbered in the same order as the generic loop (the row's
    class, then its children in order), so the export is the same; `tuple.__new__` makes an ENode
    without NamedTuple's Python-level `__new__` (2.5x faster)."""
    new, get, enode = tuple.__new__, classes.get, ENode
    k0 = kids[0]
    k1 = kids[1] if len(kids) == 2 else None
    for row in rows:
        if row.subsumed:
            continue
        ins = row.inputs
        c = own[row.output]
        if k1 is not None:
            children: tuple[int, ...] = (k0(ins[3]), k1(ins[4]))
        elif len(kids) == 1:
            children = (k0(ins[3]),)
        else:
            children = tuple([k(v) for k, v in zip(kids, ins[3:])])
        n = new(enode, ("op", i64(ins[1]), i64(ins[2]), 0.0, children))
        nodes = get(c)
        if nodes is None:
            classes[c] = [n]
        else:
            nodes.append(n)


LOWERING: dict[str, Lowering] = {
    "N": Lowering("T", "i", names=True),
    "NA": Lowering("A", "i"),
    "NT": Lowering("U", "i"),
    "Leaf": Lowering("T", "ii", lambda x: ENode("leaf", x[0], x[1], 0.0, ())),
    "Num": Lowering("T", "fi", lambda x: ENode("num", 0, x[1], x[0], ())),
    "Op1": Lowering("T", "-iiT", op_lowering),
    "Op2": Lowering("T", "-iiTT", op_lowering),
    "Op3": Lowering("T", "-iiTTT", op_lowering),
    "OpN": Lowering("T", "-iiA", op_lowering),
    "Proj": Lowering("T", "iiU", lambda x: ENode("proj", x[0], x[1], 0.0, (x[2],))),
    "ANil": Lowering("A", "", lambda x: ENode("nil", 0, -1, 0.0, ())),
    "ACons": Lowering("A", "TA", lambda x: ENode("cons", 0, -1, 0.0, x)),
    "Multi": Lowering("U", "-iA", lambda x: ENode("multi", x[1], -1, 0.0, (x[2],))),
}


class DenseIds(dict[Any, int]):
    """Dense ids drawn from a shared counter, assigned on first lookup."""

    def __init__(self, counter: Iterator[int]) -> None:
        super().__init__()
        self.counter = counter

    def __missing__(self, key: Any) -> int:
        i = self[key] = next(self.counter)
        return i
