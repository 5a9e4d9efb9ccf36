"""Scheduling: a Diagram as a linear program of instructions, shared by every backend.

`build_schedule(diagram)` decides, once and deterministically, everything that does not depend on
the target language:

* **sharing** — nodes with the same box reading the same wires are computed once (common
  subexpressions), and nodes whose results never reach an output are dropped;
* **order** — scalar constants first (they are hoisted), then the nodes in SSA order;
* **liveness** — the last instruction that reads each wire (outputs stay live to the end);
* **buffer reuse** — which instruction may write its result into the buffer of a dead input
  (`out=` in NumPy). A buffer is reusable only if this program allocated it (never an input array,
  a generator's result or a view that may alias one), every wire that may alias it is dead after
  the instruction, it is not an output, and it has the result's exact dtype and shape.

Fusing instructions into loops is not decided here but by the kernel plan (`codegen.kernel_plan`),
across the whole program; the NumPy emitter writes one statement per instruction.

Everything here is plain frozen data, so a schedule can be printed, compared and tested on its own.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import TensorType, Dim
>>> v = TensorType("f64", (Dim.sym("n"),))
>>> b = Builder(); x = b.input(v)
>>> (s,) = b.add(make_box("sin"), [x], [v]); (c,) = b.add(make_box("cos"), [s], [v])
>>> sched = build_schedule(b.build([c]))
>>> [(i.box.name, i.reuse) for i in sched.instrs]
[('sin', None), ('cos', 1)]
>>> print(sched.describe())
elementwise: w1 = sin(w0)  [last use: w0]
elementwise: w2 = cos(w1)  [in place: w1]  [last use: w1]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress

from codegen.errors import CodegenError
from grammar.errors import Span
from grammar.frozen import constructor
from rewrite.cleanup import sharing
from semantics.diagram import Box, Diagram
from semantics.primitives import PRIMITIVES
from semantics.types import TensorType, WireType

# Kinds whose result is a new array this program owns (so a later instruction may write into it).
FRESH_KINDS = frozenset({"elementwise", "reduction", "contraction", "constructor"})

InPlace = Callable[[Box, Sequence[WireType], WireType], bool]


def op_kind(box: Box) -> str:
    """How the scheduler treats a box: `generator` (a user callable: may alias anything), or the
    primitive row's fusion class (`Primitive.fusion`, derived from its family and `view` flag):
    `elementwise`, `reduction`, `contraction`, `constructor`, `const` (a hoisted scalar), `view`
    (may alias its inputs) or `other` (treated like a view).

    >>> op_kind(Box("tanh")), op_kind(Box("const")), op_kind(Box("f", kind="gen"))
    ('elementwise', 'const', 'generator')
    """
    if box.kind == "gen":
        return "generator"
    if box.kind != "prim":
        raise CodegenError(f"'{box.name}' is a call of a definition; expand calls before code generation")
    if box.name not in PRIMITIVES:
        raise CodegenError(f"unknown primitive '{box.name}'")
    return PRIMITIVES[box.name].fusion


def elementwise_in_place(box: Box, in_types: Sequence[WireType], out_type: WireType) -> bool:
    """The backend-neutral rule: an elementwise result may overwrite an argument of its own type."""
    return op_kind(box) == "elementwise" and box.name != "cast"


@dataclass(frozen=True, slots=True)  # slots: one object per instruction for the collector, not two
class Instr:
    """One step of the program: `outputs = box(inputs)`.

    `node` is the index of the diagram node it comes from, `reuse` the
    input wire whose (dead) buffer receives the result, `frees` the wires read here for the last time."""

    node: int
    box: Box
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    kind: str
    reuse: int | None
    frees: tuple[int, ...]
    span: Span | None = None


_make_instr = constructor(Instr)  # one per instruction: see grammar/frozen.py


@dataclass(frozen=True)
class Schedule:
    """The linear program of a diagram (see the module docstring)."""

    types: tuple[WireType, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    instrs: tuple[Instr, ...]
    # by wire: the index of its last reading instruction (END = len(instrs) for an output, -1 for an
    # input nobody reads, -2 for a wire no instruction touches: the result of a dropped node)
    last_use: tuple[int, ...]
    shared: tuple[tuple[int, int], ...]    # (node, node it shares the result of): common subexpressions
    dropped: tuple[int, ...]               # nodes whose results reach no output

    def last_use_of(self, wire: int) -> int:
        return self.last_use[wire]

    def describe(self) -> str:
        """A readable listing (for DSL_DEBUG and tests)."""
        lines = []
        for ins in self.instrs:
            outs = ", ".join(f"w{w}" for w in ins.outputs)
            args = ", ".join(f"w{w}" for w in ins.inputs)
            line = f"{ins.kind}: {outs} = {ins.box}({args})"
            if ins.reuse is not None:
                line += f"  [in place: w{ins.reuse}]"
            if ins.frees:
                line += "  [last use: " + ", ".join(f"w{w}" for w in ins.frees) + "]"
            lines.append(line)
        return "\n".join(lines)


def build_schedule(d: Diagram, in_place: InPlace = elementwise_in_place) -> Schedule:
    """The schedule of `d`. `in_place(box, in_types, out_type)` says whether the backend can compute
    this box into an argument's buffer; the safety of doing so (liveness, aliasing) is decided here."""
    share = sharing(d)  # CSE and dead code: the one implementation, in rewrite/cleanup.py
    rep = share.rep
    nodes, types = d.nodes, d.types
    order, kinds = _order(d, share.live)
    # The per-instruction facts as lists indexed by instruction (the passes below read them by index)
    ins_of = [nodes[i].inputs for i in order]
    outs_of = [nodes[i].outputs for i in order]
    get = rep.get  # only merged wires are stored (see `Sharing.rep`)
    if rep:
        untouched = rep.keys().isdisjoint
        for k, ins in enumerate(ins_of):
            if not untouched(ins):
                ins_of[k] = tuple([get(w, w) for w in ins])
    end = len(order)
    last = [_UNUSED] * len(types)  # by wire: the last instruction reading (or writing) it
    for w in d.inputs:
        last[w] = -1
    for k, outs in enumerate(outs_of):
        for w in outs:
            last[w] = k
        for w in ins_of[k]:
            last[w] = k
    for w in d.outputs:
        last[get(w, w)] = end

    instrs = _instructions(d, order, kinds, ins_of, last, in_place)
    return Schedule(types, d.inputs, tuple(get(w, w) for w in d.outputs), instrs,
                    tuple(last), share.shared, share.dropped)


_UNUSED = -2  # `last` of a wire no instruction touches (the result of a dropped node)


def _order(d: Diagram, live: tuple[int, ...]) -> tuple[list[int], list[str]]:
    """The live nodes in instruction order, scalar constants first (they have no inputs: hoisting them
    keeps the elementwise runs that the kernel plan fuses contiguous), and each one's kind (`op_kind`)."""
    nodes = d.nodes
    kind_of: dict[int, str] = {}  # op_kind by box (by identity: a deep model repeats a few box objects)
    kinds: list[str] = []
    consts: list[int] = []  # positions of the constants in `live`
    for i in live:
        box = nodes[i].box
        kind = kind_of.get(id(box))
        if kind is None:
            kind = kind_of[id(box)] = op_kind(box)
        if kind == "const":
            consts.append(len(kinds))
        kinds.append(kind)
    if not consts:
        return list(live), kinds
    rest = [True] * len(kinds)
    for p in consts:
        rest[p] = False
    return ([live[p] for p in consts] + list(compress(live, rest)),
            [kinds[p] for p in consts] + list(compress(kinds, rest)))


def _instructions(d: Diagram, order: list[int], kinds: list[str], ins_of: list[tuple[int, ...]],
                  last: list[int], in_place: InPlace) -> tuple[Instr, ...]:
    """The instructions with their buffer reuse (decided by `_Buffers`) and the wires each one reads
    for the last time."""
    nodes, types = d.nodes, d.types
    bufs = _Buffers(types, d.inputs, in_place)
    buf, end = bufs.buf, bufs.end
    instrs: list[Instr] = []
    make = _make_instr
    for k, i in enumerate(order):
        node = nodes[i]
        ins = ins_of[k]
        kind = kinds[k]
        outs = node.outputs
        reuse = bufs.reusable(k, node.box, ins, types[outs[0]]) if len(outs) == 1 else None
        for w in outs:
            lw = last[w]
            if reuse is not None:  # w lives in the dead argument's buffer, which now lives as long as w
                b = buf[w] = buf[reuse]
                if end[b] < lw:
                    end[b] = lw
            elif kind in FRESH_KINDS and isinstance(types[w], TensorType):
                buf[w] = w  # a new buffer (no wire named it before: w is defined here)
                end[w] = lw
            else:
                bufs.alias(w, kind, ins, lw)
        if len(ins) == 1:  # (the common case without a call)
            frees: tuple[int, ...] = ins if last[ins[0]] == k else ()
        else:
            frees = _frees(ins, last, k)
        instrs.append(make(i, node.box, ins, outs, kind, reuse, frees, node.span))
    return tuple(instrs)


def _frees(ins: tuple[int, ...], last: list[int], k: int) -> tuple[int, ...]:
    """The distinct arguments of instruction k that it reads for the last time, in wire order."""
    if len(ins) == 1:
        return ins if last[ins[0]] == k else ()
    if len(ins) == 2:  # (the common case without a set)
        a, b = ins
        if last[a] == k:
            return (a if a < b else b, b if a < b else a) if last[b] == k and a != b else (a,)
        return (b,) if last[b] == k else ()
    return tuple(sorted({w for w in ins if last[w] == k}))


class _Buffers:
    """The memory each wire may share while the instructions are laid out in order.

    A wire is either *owned* (`buf[w]`: the one buffer it is, which this program allocated: its own
    or the dead argument's it was computed into) or shares memory with the buffers in `roots[w]`
    (the inputs' buffers are numbered `-1 - k`, a generator's result `-1 - len(inputs) - w`); an
    owned wire's set is just {buf[w]}, so it is not stored (most wires are owned). `end[b]` is the
    last instruction reading a wire on buffer b. Instruction k may overwrite an argument's buffer
    when that is owned, dead after k and aliased by no other argument of k (a same-index overlap
    like `x * x` is fine) and the backend's `in_place` allows it."""

    __slots__ = ("buf", "decided", "end", "in_place", "n_inputs", "roots", "types")

    def __init__(self, types: tuple[WireType, ...], inputs: tuple[int, ...], in_place: InPlace):
        self.types = types
        self.n_inputs = len(inputs)
        self.in_place = in_place
        self.buf: dict[int, int] = {}
        self.roots: dict[int, frozenset[int]] = {w: frozenset({-1 - k}) for k, w in enumerate(inputs)}
        self.end: dict[int, int] = {}
        # in_place by (box, argument types, result type), by identity: a deep model repeats a few kinds
        # of node, and hashing ids is a C call where hashing the types runs their Python __hash__
        self.decided: dict[tuple[int, ...], bool] = {}

    def reusable(self, k: int, box: Box, ins: tuple[int, ...], out_t: WireType) -> int | None:
        """The argument of instruction k whose buffer its one result may be written into, if any."""
        buf, end, types = self.buf, self.end, self.types
        for w in ins:
            b = buf.get(w)
            if b is None or end[b] > k:
                continue
            t = types[w]
            if t is not out_t and t != out_t:
                continue
            if len(ins) > 1 and self.aliased(b, w, ins):
                continue
            return w if self.allows(box, ins, out_t) else None  # (the same answer for every argument)
        return None

    def allows(self, box: Box, ins: tuple[int, ...], out_t: WireType) -> bool:
        """The backend's `in_place` for this box, argument types and result type (memoised)."""
        types = self.types
        n = len(ins)  # (one or two arguments without a list)
        key = ((id(box), id(out_t), id(types[ins[0]]), id(types[ins[1]])) if n == 2 else
               (id(box), id(out_t), id(types[ins[0]])) if n == 1 else
               (id(box), id(out_t), *[id(types[v]) for v in ins]))
        ok = self.decided.get(key)
        if ok is None:
            ok = self.decided[key] = self.in_place(box, tuple([types[v] for v in ins]), out_t)
        return ok

    def aliased(self, b: int, w: int, ins: tuple[int, ...]) -> bool:
        """Whether an argument other than `w` may share buffer `b` (w's)."""
        buf, roots = self.buf, self.roots
        if len(ins) == 2:  # (the common case, without a loop)
            v = ins[1] if w == ins[0] else ins[0]
            if v == w:
                return False
            bv = buf.get(v)
            return (bv == b) if bv is not None else (b in roots[v])
        for v in ins:
            if v != w:
                bv = buf.get(v)
                if (bv == b) if bv is not None else (b in roots[v]):
                    return True
        return False

    def alias(self, w: int, kind: str, ins: tuple[int, ...], lw: int) -> None:
        """Record a wire that is not an owned buffer: a constant (its own root) or a view, generator
        result or other (may alias any argument; a generator's result, anything)."""
        if kind == "const":
            root = frozenset((w,))
        else:
            buf, roots = self.buf, self.roots
            extra = {-1 - self.n_inputs - w} if kind == "generator" else set()
            root = frozenset().union(*(frozenset((buf[v],)) if v in buf else roots[v] for v in ins), extra)
        self.roots[w] = root
        end = self.end
        for b in root:
            if end.get(b, -1) < lw:
                end[b] = lw


