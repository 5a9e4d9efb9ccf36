"""The Diagram IR: an immutable, typed open hypergraph kept in topological (SSA) order.

Wires are integers `0 .. len(types)-1`; `types[w]` is wire w's type. Input wires come first, then
each node's output wires in node order (SSA: a wire is read only after it is written). Copy is a
wire read several times, discard a wire read by nobody, swap a permutation of the outputs — so
the monoidal-category axioms (associativity, unit, interchange, naturality of copy) hold on the
data itself, and `canonical()` makes diagrams equal up to wire renaming compare equal.

>>> from semantics.types import scalar
>>> f64 = scalar("f64")
>>> sin = box(Box("sin"), (f64,), (f64,))
>>> cos = box(Box("cos"), (f64,), (f64,))
>>> (sin >> cos).signature
'f64 -> f64'
>>> (sin @ identity((f64,))) >> (identity((f64,)) @ cos) == (identity((f64,)) @ cos) >> (sin @ identity((f64,)))
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from grammar.errors import Span
from grammar.frozen import constructor
from semantics.errors import TypeCheckError
from semantics.types import WireType, type_str, without_hash

LITERAL_BOXES = frozenset({"const", "dimsize"})  # nullary rows whose node is only its value

ParamValue = Any  # hashable: int, float, bool, str, None, Dim, TensorType, or tuples of those


@dataclass(frozen=True)
class Box:
    """What a node computes: a primitive (`kind="prim"`), a generator declared with `box`
    (`kind="gen"`), a call of a derived definition, by name, expanded later (`kind="call"`), or a
    call of another def (`kind="def"`, its diagram in the parameter `def`, see `Callee`).
    `params` are the static parameters, sorted by name."""

    name: str
    params: tuple[tuple[str, ParamValue], ...] = ()
    kind: str = "prim"

    def __hash__(self) -> int:  # computed once: boxes key the e-graph's tables and the passes' memos
        return self._hash

    @cached_property
    def _hash(self) -> int:
        return hash((self.name, self.params, self.kind))

    def __getstate__(self) -> dict[str, object]:
        return without_hash(self)

    @property
    def param_dict(self) -> dict[str, ParamValue]:
        return dict(self.params)

    def __str__(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}[{', '.join(f'{k}={v}' for k, v in self.params)}]"


@dataclass(frozen=True, eq=False)
class Callee:
    """The diagram of a called `def`, as the parameter of its `kind="def"` call boxes.

    Elaboration leaves calls as boxes (a chain of n defs each calling the previous one stays
    O(n) in total rather than O(n²) once every callee is inlined into its caller);
    `semantics.replay.expand_defs` inlines them when a definition is used. A definition is
    elaborated once, so its callee is compared and hashed by identity."""

    diagram: Diagram

    def __repr__(self) -> str:
        return f"<def {self.diagram.name}>"


def make_box(name: str, params: dict[str, ParamValue] | None = None, kind: str = "prim") -> Box:
    if not params:  # one shared object per parameterless box: its hash is computed once per process
        box = _PLAIN_BOXES.get((name, kind))
        if box is None:
            box = _PLAIN_BOXES[(name, kind)] = Box(name, (), kind)
        return box
    return _Box(name, tuple(sorted(params.items())), kind)


_PLAIN_BOXES: dict[tuple[str, str], Box] = {}
_Box = constructor(Box)  # (one per parameterised node built: see grammar/frozen.py)


@dataclass(frozen=True, slots=True)  # (no per-node __dict__: one object per node for the collector)
class Node:
    box: Box
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    span: Span | None = field(default=None, compare=False)


_Node = constructor(Node)  # (one per node built: see grammar/frozen.py)


@dataclass(frozen=True, eq=False)
class Diagram:
    """An open hypergraph. Build one with `Builder` or the combinators below; never mutate it.

    `input_names`/`output_names` are for display only and do not take part in equality; `assumptions`
    are what a derivation assumed (printed by `show`, e.g. boundary terms of an integration by parts)."""

    types: tuple[WireType, ...]
    inputs: tuple[int, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]
    input_names: tuple[str, ...] = ()
    name: str = ""
    span: Span | None = None
    assumptions: tuple[str, ...] = ()

    # ----------------------------------------------------------- signature

    @property
    def dom(self) -> tuple[WireType, ...]:
        return tuple(self.types[w] for w in self.inputs)

    @property
    def cod(self) -> tuple[WireType, ...]:
        return tuple(self.types[w] for w in self.outputs)

    @property
    def signature(self) -> str:
        return f"{type_str(self.dom)} -> {type_str(self.cod)}"

    def param_names(self) -> tuple[str, ...]:
        if len(self.input_names) == len(self.inputs):
            return self.input_names
        return tuple(f"x{i}" for i in range(len(self.inputs)))

    # ----------------------------------------------------------- categorical API

    def __rshift__(self, other: Diagram) -> Diagram:
        return compose(self, other)

    def __matmul__(self, other: Diagram) -> Diagram:
        return tensor(self, other)

    # ----------------------------------------------------------- equality up to the axioms

    @cached_property
    def canonical(self) -> Diagram:
        """The same diagram with a canonical node order and wire numbering (see semantics/canonical.py)."""
        from semantics.canonical import canonicalize  # (it builds Diagrams: imported on first use)

        return canonicalize(self)

    @cached_property
    def _key(self) -> tuple[Any, ...]:
        c = self.canonical
        return (c.types, c.inputs, tuple((n.box, n.inputs, n.outputs) for n in c.nodes), c.outputs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Diagram) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    @cached_property
    def digest(self) -> str:
        """A stable content hash (same across processes), for caches and snapshot names."""
        return hashlib.sha1(repr(self._key).encode()).hexdigest()[:16]

    def with_names(self, name: str | None = None, input_names: Sequence[str] | None = None) -> Diagram:
        return Diagram(
            self.types, self.inputs, self.nodes, self.outputs,
            tuple(input_names) if input_names is not None else self.input_names,
            self.name if name is None else name, self.span, self.assumptions,
        )

    def assuming(self, *notes: str) -> Diagram:
        """The same diagram with these assumptions recorded (see `show`)."""
        new = tuple(n for n in notes if n not in self.assumptions)
        return Diagram(self.types, self.inputs, self.nodes, self.outputs, self.input_names, self.name, self.span,
                       self.assumptions + new)

    # ----------------------------------------------------------- inspection

    def show(self) -> str:
        """The diagram as canonical DSL text (a `def` that parses back to an equal diagram), after a
        comment with each assumption its derivation made (`assumptions`)."""
        from semantics.printer import to_text

        return "".join(f"# note: {n}\n" for n in self.assumptions) + to_text(self)

    def to_sympy(self) -> Any:
        """SymPy expressions of the outputs (one, or a tuple), over one symbol per input."""
        from semantics.symbolic import to_sympy

        return to_sympy(self)

    def draw(self, path: str | None = None, wire_types: bool = True) -> str:
        """Write the string-diagram drawing to `path` (.svg in pure Python, .png with the optional
        `resvg_py`, .dot for Graphviz) and return the path; without a path, return the SVG text.

        >>> from semantics.types import scalar
        >>> box(make_box("sin"), [scalar("f64")], [scalar("f64")]).draw().startswith("<svg")
        True
        """
        from semantics.draw import draw, to_svg

        return to_svg(self, wire_types) if path is None else draw(self, path, wire_types)

    def _repr_svg_(self) -> str:
        """Jupyter shows a diagram as its drawing."""
        from semantics.draw import to_svg

        return to_svg(self)

    def _repr_latex_(self) -> str | None:
        """The definition as a formula (SymPy functor) when every box has a scalar meaning, else None."""
        from semantics.display import to_latex

        return to_latex(self)

    def _repr_markdown_(self) -> str:
        """The signature and the canonical DSL text."""
        from semantics.display import to_markdown

        return to_markdown(self)

    def stats(self) -> dict[str, int]:
        """Sizes. `ops` counts boxes (primitives, literals, generators); copy, discard and swap are
        wiring in this representation, so they are not boxes and never counted.

        >>> from semantics.types import scalar
        >>> box(make_box("sin"), [scalar("f64")], [scalar("f64")]).stats()["ops"]
        1
        """
        consts = sum(1 for n in self.nodes if n.box.kind == "prim" and n.box.name in ("const", "dimsize"))
        return {"ops": len(self.nodes), "consts": consts, "wires": len(self.types),
                "inputs": len(self.inputs), "outputs": len(self.outputs)}

    def readers(self) -> dict[int, list[int]]:
        """For each wire, the indices of the nodes that read it (in order)."""
        out: dict[int, list[int]] = {}
        for i, node in enumerate(self.nodes):
            for w in node.inputs:
                out.setdefault(w, []).append(i)
        return out

    def __repr__(self) -> str:
        return f"<Diagram {self.name or '(anonymous)'} : {self.signature}, {len(self.nodes)} nodes>"


class Builder:
    """Mutable helper that writes a Diagram in SSA order (internal to passes; the result is frozen)."""

    def __init__(self) -> None:
        self.types: list[WireType] = []
        self.inputs: list[int] = []
        self.nodes: list[Node] = []
        self.shared: dict[tuple[Box, tuple[object, ...]], tuple[int, ...]] = {}
        self.literals: dict[int, Box] = {}  # wire of a literal node -> its box (see add_shared)

    def wire(self, t: WireType) -> int:
        self.types.append(t)
        return len(self.types) - 1

    def input(self, t: WireType) -> int:
        w = self.wire(t)
        self.inputs.append(w)
        return w

    def add(self, box: Box, inputs: Sequence[int], out_types: Sequence[WireType], span: Span | None = None) -> tuple[int, ...]:
        types = self.types
        first = len(types)
        if len(out_types) == 1:  # (most nodes: no range object)
            types.append(out_types[0])
            outs: tuple[int, ...] = (first,)
        else:
            types.extend(out_types)
            outs = tuple(range(first, len(types)))
        self.nodes.append(_Node(box, tuple(inputs), outs, span))
        if not inputs and box.name in LITERAL_BOXES:
            self.literals[first] = box
        return outs

    def add_shared(self, box: Box, inputs: Sequence[int], out_types: Sequence[WireType],
                   span: Span | None = None) -> tuple[int, ...]:
        """`add`, but a node with the same box and inputs as one added this way before is that node
        (hash-consing: how the elaborator keeps one node per distinct lambda subterm, LANGUAGE.md §7).
        An input that is a literal counts by its value, not its node: every `1.0` written in a lambda
        is a node of its own, and `x <= 1.0` written twice is still one subterm."""
        literals = self.literals
        # repr: -0.0 is not 0.0 (they are equal and hash alike)
        key = (box, tuple((literals[w], repr(literals[w].params)) if w in literals else w for w in inputs))
        if key not in self.shared:
            self.shared[key] = self.add(box, inputs, out_types, span)
        return self.shared[key]

    def inline(self, d: Diagram, inputs: Sequence[int]) -> tuple[int, ...]:
        """Insert diagram d reading the given wires; returns the wires of its outputs."""
        assert len(inputs) == len(d.inputs), (len(inputs), len(d.inputs))
        rename = dict(zip(d.inputs, inputs))
        for node in d.nodes:
            outs = tuple(self.wire(d.types[w]) for w in node.outputs)
            rename.update(zip(node.outputs, outs))
            self.nodes.append(Node(node.box, tuple(rename[w] for w in node.inputs), outs, node.span))
        return tuple(rename[w] for w in d.outputs)

    def build(self, outputs: Sequence[int], **meta: Any) -> Diagram:
        return Diagram(tuple(self.types), tuple(self.inputs), tuple(self.nodes), tuple(outputs), **meta)


# --------------------------------------------------------------- combinators


def identity(types: Sequence[WireType]) -> Diagram:
    b = Builder()
    ins = [b.input(t) for t in types]
    return b.build(ins)


def copy(t: WireType, n: int = 2) -> Diagram:
    b = Builder()
    x = b.input(t)
    return b.build([x] * n)


def discard(t: WireType) -> Diagram:
    b = Builder()
    b.input(t)
    return b.build([])


def swap(a: Sequence[WireType], c: Sequence[WireType]) -> Diagram:
    b = Builder()
    xa = [b.input(t) for t in a]
    xc = [b.input(t) for t in c]
    return b.build(xc + xa)


def box(bx: Box, dom: Sequence[WireType], cod: Sequence[WireType], span: Span | None = None) -> Diagram:
    b = Builder()
    ins = [b.input(t) for t in dom]
    return b.build(b.add(bx, ins, cod, span))


def compose(f: Diagram, g: Diagram) -> Diagram:
    """`f >> g`: f then g; f's outputs must have g's input types."""
    if f.cod != g.dom:
        raise TypeCheckError(f"cannot compose {f.signature} with {g.signature}: {type_str(f.cod)} ≠ {type_str(g.dom)}")
    b = Builder()
    ins = [b.input(t) for t in f.dom]
    mid = b.inline(f, ins)
    return b.build(b.inline(g, mid))


def tensor(f: Diagram, g: Diagram) -> Diagram:
    """`f ⊗ g`: f and g side by side."""
    b = Builder()
    fi = [b.input(t) for t in f.dom]
    gi = [b.input(t) for t in g.dom]
    return b.build(b.inline(f, fi) + b.inline(g, gi))


def inherit_spans(d: Diagram) -> Diagram:
    """`d` with a source span on every node that can get one, so each generated line can point back
    to the DSL line it comes from.

    Passes keep spans (inlining, linearize, transpose, CSE, extraction of original nodes), but a
    node that a rewrite created (a factored `2 * t`, the subterms of a JVP or transpose rule) has
    none. Such a node is a subterm of the rewritten node that it feeds, so it takes the span of its
    first reader (transitively); failing that, of its first producer (then its readers are tried
    again); what is left (a diagram without any span) takes the diagram's own.

    >>> from semantics.types import scalar
    >>> from grammar.errors import Span
    >>> b, f64, here = Builder(), scalar("f64"), Span("m.dsl", 3, 1, 3, 2, "y = 2 * x")
    >>> x = b.input(f64)
    >>> (two,) = b.add(make_box("const", {"value": 2.0, "dtype": "f64"}), [], [f64])
    >>> (y,) = b.add(make_box("mul"), [two, x], [f64], here)
    >>> [n.span.line for n in inherit_spans(b.build([y])).nodes]
    [3, 3]
    """
    nodes = d.nodes
    missing = [i for i, n in enumerate(nodes) if n.span is None]
    if not missing:
        return d
    spans: dict[int, Span | None] = {i: None for i in missing}  # the spans found for them so far
    # readers and producers of the wires around the nodes without a span only (usually a few among
    # thousands: one C-level disjointness test per node finds the nodes that touch them)
    outs = {w for i in missing for w in nodes[i].outputs}
    ins = {w for i in missing for w in nodes[i].inputs}
    readers: dict[int, list[int]] = {}
    producer: dict[int, int] = {}
    for i, n in enumerate(nodes):
        if not outs.isdisjoint(n.inputs):
            for w in n.inputs:
                if w in outs:
                    readers.setdefault(w, []).append(i)
        if not ins.isdisjoint(n.outputs):
            for w in n.outputs:
                if w in ins:
                    producer[w] = i

    def span(i: int) -> Span | None:
        return spans[i] if i in spans else nodes[i].span

    for _ in range(3):  # a reader may get its span from a producer only in the forward pass: repeat
        for i in reversed(missing):  # readers come later: already resolved
            if spans[i] is None:
                spans[i] = next((span(r) for w in nodes[i].outputs for r in readers.get(w, ())
                                 if span(r) is not None), None)
        for i in missing:
            if spans[i] is None:
                spans[i] = next((span(producer[w]) for w in nodes[i].inputs
                                 if w in producer and span(producer[w]) is not None), None)
        if all(s is not None for s in spans.values()):
            break
    new = list(nodes)
    for i, s in spans.items():
        n = nodes[i]
        new[i] = _Node(n.box, n.inputs, n.outputs, s or d.span)
    return Diagram(d.types, d.inputs, tuple(new), d.outputs, d.input_names, d.name, d.span)


def structural_errors(d: Diagram) -> Iterable[str]:
    """Structural invariants (SSA order, every wire defined once, no dangling wire)."""
    defined: set[int] = set()
    for w in d.inputs:
        if w in defined:
            yield f"input wire {w} defined twice"
        defined.add(w)
    for i, node in enumerate(d.nodes):
        if not defined.issuperset(node.inputs):  # (the checks one wire at a time only when one fails)
            for w in node.inputs:
                if w not in defined:
                    yield f"node {i} ({node.box}) reads wire {w} before it is defined"
        outs = node.outputs
        if defined.isdisjoint(outs) and (len(outs) == 1 or len(set(outs)) == len(outs)):
            defined.update(outs)
            continue
        for w in outs:
            if w in defined:
                yield f"node {i} ({node.box}) redefines wire {w}"
            defined.add(w)
    for w in d.outputs:
        if w not in defined:
            yield f"output wire {w} is dangling"
    if len(defined) != len(d.types):
        yield f"{len(d.types)} wire types for {len(defined)} defined wires"
