"""Scheduling: a Diagram as a linear program of instructions, shared by every backend.

`build_schedule(diagram)` decides, once and deterministically, everything that does not depend on
the target language:

* **sharing** — nodes with the same box reading the same wires are computed once (common
  subexpressions), and nodes whose results never reach an output are dropped;
* **order** — scalar constants first (they are hoisted), then the nodes in SSA order;
* **fusion groups** — maximal runs of elementwise instructions over one iteration space (the
  broadcast output shape), and a reduction together with its elementwise prologue. NumPy emits a
  group as consecutive statements sharing one buffer; the CUDA backend emits one kernel per group;
* **liveness** — the last instruction that reads each wire (outputs stay live to the end);
* **buffer reuse** — which instruction may write its result into the buffer of a dead input
  (`out=` in NumPy). A buffer is reusable only if this program allocated it (never an input array,
  a generator's result or a view that may alias one), every wire that may alias it is dead after
  the instruction, it is not an output, and it has the result's exact dtype and shape.

Everything here is plain frozen data, so a schedule can be printed, compared and tested on its own.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import TensorType, Dim
>>> v = TensorType("f64", (Dim.sym("n"),))
>>> b = Builder(); x = b.input(v)
>>> (s,) = b.add(make_box("sin"), [x], [v]); (c,) = b.add(make_box("cos"), [s], [v])
>>> sched = build_schedule(b.build([c]))
>>> [(i.box.name, i.group, i.reuse) for i in sched.instrs]
[('sin', 0, None), ('cos', 0, 1)]
>>> print(sched.describe())
g0 elementwise [n]: w1 = sin(w0)  [last use: w0]
g0 elementwise [n]: w2 = cos(w1)  [in place: w1]  [last use: w1]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codegen.errors import CodegenError
from grammar.errors import Span
from grammar.frozen import constructor
from rewrite.cleanup import sharing
from semantics.diagram import Box, Diagram
from semantics.primitives import PRIMITIVES
from semantics.types import Dim, TensorType, WireType

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


@dataclass(frozen=True)
class Instr:
    """One step of the program: `outputs = box(inputs)`.

    `node` is the index of the diagram node it comes from, `group` its fusion group, `reuse` the
    input wire whose (dead) buffer receives the result, `frees` the wires read here for the last time."""

    node: int
    box: Box
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    kind: str
    group: int
    reuse: int | None
    frees: tuple[int, ...]
    span: Span | None = None


_make_instr = constructor(Instr)  # one per instruction: see grammar/frozen.py


@dataclass(frozen=True)
class Group:
    """A fusion group: consecutive instructions with one iteration space (`space`, the output shape of
    its elementwise part). `kind` is `elementwise`, `reduction` (an elementwise prologue ending in one
    reduction) or the kind of its single instruction. `live_out` are the wires it must materialise."""

    id: int
    kind: str
    instrs: tuple[int, ...]
    space: tuple[Dim, ...] | None
    live_out: tuple[int, ...]


@dataclass(frozen=True)
class Schedule:
    """The linear program of a diagram (see the module docstring)."""

    types: tuple[WireType, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    instrs: tuple[Instr, ...]
    groups: tuple[Group, ...]
    last_use: tuple[tuple[int, int], ...]  # (wire, index of its last reading instruction); END = len(instrs)
    shared: tuple[tuple[int, int], ...]    # (node, node it shares the result of): common subexpressions
    dropped: tuple[int, ...]               # nodes whose results reach no output

    def last_use_of(self, wire: int) -> int:
        return dict(self.last_use)[wire]

    def describe(self) -> str:
        """A readable listing (for DSL_DEBUG and tests)."""
        lines = []
        for ins in self.instrs:
            g = self.groups[ins.group]
            space = "[" + ", ".join(map(str, g.space)) + "]" if g.space is not None else "-"
            outs = ", ".join(f"w{w}" for w in ins.outputs)
            args = ", ".join(f"w{w}" for w in ins.inputs)
            line = f"g{g.id} {g.kind} {space}: {outs} = {ins.box}({args})"
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
    kind_of: dict[int, str] = {}  # op_kind by box (by identity: a deep model repeats a few box objects)
    kinds: dict[int, str] = {}
    consts: list[int] = []
    rest: list[int] = []
    for i in share.live:
        box = nodes[i].box
        kind = kind_of.get(id(box))
        if kind is None:
            kind = kind_of[id(box)] = op_kind(box)
        kinds[i] = kind
        (consts if kind == "const" else rest).append(i)
    # Scalar constants have no inputs: hoisting them keeps fusion groups contiguous.
    order = consts + rest
    get = rep.get  # only merged wires are stored (see `Sharing.rep`)
    ins_of = ([tuple([get(w, w) for w in nodes[i].inputs]) for i in order] if rep
              else [nodes[i].inputs for i in order])  # inputs by instruction
    end = len(order)
    last: dict[int, int] = {w: -1 for w in d.inputs}
    for k, i in enumerate(order):
        for w in nodes[i].outputs:
            last[w] = k
        for w in ins_of[k]:
            last[w] = k
    for w in d.outputs:
        last[get(w, w)] = end

    groups = _fusion_groups(d, order, kinds, ins_of, last)
    group_of = {k: g.id for g in groups for k in g.instrs}
    instrs = _instructions(d, order, kinds, ins_of, last, group_of, in_place)
    return Schedule(types, d.inputs, tuple(get(w, w) for w in d.outputs), instrs, tuple(groups),
                    tuple(sorted(last.items())), share.shared, share.dropped)


def _instructions(d: Diagram, order: list[int], kinds: dict[int, str], ins_of: list[tuple[int, ...]],
                  last: dict[int, int], group_of: dict[int, int], in_place: InPlace) -> tuple[Instr, ...]:
    """The instructions with their buffer reuse. `roots[w]` is the set of buffers wire w may share
    memory with; "owned" buffers are the ones this program allocated. A buffer dies after the last
    use of every wire on it."""
    nodes, types = d.nodes, d.types
    roots: dict[int, frozenset[int]] = {w: frozenset({-1 - k}) for k, w in enumerate(d.inputs)}
    owned: set[int] = set()   # wires that *are* an owned buffer (not a view of one)
    buffer_end: dict[int, int] = {}
    instrs: list[Instr] = []
    # in_place by (box, argument types, result type), by identity: a deep model repeats a few kinds of
    # node, and hashing ids is a C call where hashing the types runs their Python __hash__
    decided: dict[tuple[int, ...], bool] = {}
    make = _make_instr
    for k, i in enumerate(order):
        node = nodes[i]
        ins = ins_of[k]
        kind = kinds[i]
        reuse = None
        outs = node.outputs
        if len(outs) == 1:
            out_t = types[outs[0]]
            for w in ins:
                t = types[w]
                if w in owned and (t is out_t or t == out_t) and _dead_after(w, k, ins, roots, buffer_end) \
                        and _can(in_place, decided, node.box, ins, types, out_t):
                    reuse = w
                    break
        for w in outs:
            if reuse is not None:
                root = roots[w] = roots[reuse]
                owned.add(w)
            elif kind in FRESH_KINDS and isinstance(types[w], TensorType):
                root = roots[w] = frozenset((w,))
                owned.add(w)
            elif kind == "const":
                root = roots[w] = frozenset((w,))
            else:  # views, generators, others: may alias any argument (and, for generators, anything)
                extra = {-1 - len(d.inputs) - w} if kind == "generator" else set()
                root = roots[w] = frozenset().union(*(roots[v] for v in ins), extra)
            lw = last[w]
            for b in root:
                if buffer_end.get(b, -1) < lw:
                    buffer_end[b] = lw
        if len(ins) == 1:  # the common cases, without building a set
            frees: tuple[int, ...] = ins if last[ins[0]] == k else ()
        else:
            freed = [w for w in ins if last[w] == k]
            frees = tuple(sorted(set(freed))) if len(freed) > 1 else tuple(freed)
        instrs.append(make(i, node.box, ins, outs, kind, group_of[k], reuse, frees, node.span))
    return tuple(instrs)


def _can(in_place: InPlace, decided: dict[tuple[int, ...], bool], box: Box, ins: tuple[int, ...],
         types: tuple[WireType, ...], out_t: WireType) -> bool:
    """`in_place`, asked once per (box, types): a deep model repeats a few kinds of node. Keyed by
    the objects' ids (they all live as long as the diagram): equal boxes or types that are different
    objects only ask again."""
    key = (id(box), id(out_t), *[id(types[v]) for v in ins])
    ok = decided.get(key)
    if ok is None:
        ok = decided[key] = in_place(box, tuple([types[v] for v in ins]), out_t)
    return ok


def _dead_after(w: int, k: int, ins: tuple[int, ...], roots: dict[int, frozenset[int]],
                buffer_end: dict[int, int]) -> bool:
    """Whether instruction k may overwrite wire w's buffer: every wire on it is last read at k, and no
    other argument of k may alias it (a same-index overlap like `x * x` is fine; a view is not)."""
    mine = roots[w]
    for b in mine:
        if buffer_end[b] > k:
            return False
    for v in ins:
        if v != w and not mine.isdisjoint(roots[v]):
            return False
    return True


_JOINING = frozenset({"elementwise", "reduction"})


def _fusion_groups(d: Diagram, order: list[int], kinds: dict[int, str], ins_of: list[tuple[int, ...]],
                   last: dict[int, int]) -> list[Group]:
    """Consecutive instructions form a group when each elementwise one reads a wire made inside the
    group and has the group's output shape; a reduction of such a wire closes the group."""
    groups: list[tuple[str, list[int], tuple[Dim, ...] | None]] = []
    made: set[int] = set()
    nodes, types = d.nodes, d.types
    current: tuple[str, list[int], tuple[Dim, ...] | None] = ("", [], None)  # the open group
    for k, i in enumerate(order):
        outs = nodes[i].outputs
        kind = kinds[i]
        joins = current[0] == "elementwise" and kind in _JOINING and not made.isdisjoint(ins_of[k])
        if joins and kind == "elementwise":
            made_t = types[outs[0]]
            joins = current[2] == (made_t.shape if isinstance(made_t, TensorType) else None)
            if joins:
                current[1].append(k)
        elif joins:  # a reduction of a wire of the group's shape closes it
            space = current[2]
            joins = any(w in made and getattr(types[w], "shape", None) == space for w in ins_of[k])
            if joins:
                current = groups[-1] = ("reduction", [*current[1], k], space)
        if not joins:
            out_t = types[outs[0]] if outs else None
            shape = out_t.shape if kind == "elementwise" and isinstance(out_t, TensorType) else None
            current = (kind, [k], shape)
            groups.append(current)
            made = set()
        made.update(outs)
    out: list[Group] = []
    get = last.get
    for gid, (kind, ks, space) in enumerate(groups):
        final = ks[-1]
        # every output is last read at or after the instruction making it: live out of the group when
        # read after its end (an output's `last` is `end`, which is after every instruction)
        live_out = [w for k in ks for w in nodes[order[k]].outputs if get(w, -1) > final]
        live_out.sort()
        out.append(Group(gid, kind, tuple(ks), space, tuple(live_out)))
    return out
