"""Inlining a (dim-polymorphic) diagram at a call site: copy its nodes, substituting the call's dim
binding into wire types and static parameters, so `mlp(x, ...)` called with `x: f64[N, 4]`
yields nodes typed with `N` and `4` rather than the callee's own `B` and `D`.

`expand_defs` inlines every call of a def (`kind="def"` boxes, left by elaboration) all the way
down, without recursion and in time linear in the expanded diagram:

>>> from grammar import parse
>>> from semantics.elaborate import elaborate
>>> p = elaborate(parse("def g(x: f64) -> f64 { return sin(x) }\\ndef f(x: f64) -> f64 { return g(g(x)) }"))
>>> [n.box.kind for n in p.lookup("f").diagram.nodes]
['def', 'def']
>>> [str(n.box) for n in expand_defs(p.lookup("f").diagram).nodes]
['sin', 'sin']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grammar.errors import Span
from semantics.diagram import Box, Builder, Callee, Diagram, Node
from semantics.types import Dim, FunType, TensorType, WireType, substitute, unify


def substitute_param(value: Any, binding: Mapping[str, Dim]) -> Any:
    if isinstance(value, Dim):
        return value.substitute(binding)
    if isinstance(value, TensorType):
        return substitute(value, binding)
    if isinstance(value, tuple):
        return tuple(substitute_param(v, binding) for v in value)
    return value


def substitute_box(box: Box, binding: Mapping[str, Dim]) -> Box:
    if not binding or not box.params:
        return box
    return Box(box.name, tuple((k, substitute_param(v, binding)) for k, v in box.params), box.kind)


def inline_diagram(b: Builder, d: Diagram, inputs: Sequence[int], binding: Mapping[str, Dim],
                   span: Span | None = None) -> tuple[int, ...]:
    """Insert `d` into `b` reading `inputs`; returns the wires of d's outputs.

    Nodes keep their own spans (pointing into the callee's source) so errors and generated-code
    comments lead back to where each operation was written."""
    rename = dict(zip(d.inputs, inputs))
    trivial = all(Dim.sym(k) == v for k, v in binding.items())
    for node in d.nodes:
        outs = tuple(b.wire(d.types[w] if trivial else substitute(d.types[w], binding)) for w in node.outputs)
        rename.update(zip(node.outputs, outs))
        box = node.box if trivial else substitute_box(node.box, binding)
        b.nodes.append(Node(box, tuple(rename[w] for w in node.inputs), outs, node.span or span))
    return tuple(rename[w] for w in d.outputs)


def expand_defs(d: Diagram) -> Diagram:
    """`d` with every `kind="def"` call box replaced by the callee's nodes, recursively."""
    if all(n.box.kind != "def" for n in d.nodes):
        return d
    b = Builder()
    outs = _expand_into(b, d, [b.input(d.types[w]) for w in d.inputs])
    return b.build(outs, input_names=d.input_names, name=d.name, span=d.span)


class _Frame:
    """One diagram being copied: its next node, its wire renaming and the dims bound by its call."""

    def __init__(self, d: Diagram, inputs: Sequence[int], binding: Mapping[str, Dim], span: Span | None):
        self.d, self.i, self.span, self.binding = d, 0, span, binding
        self.rename = dict(zip(d.inputs, inputs))
        self.trivial = all(Dim.sym(k) == v for k, v in binding.items())

    def type(self, t: WireType) -> WireType:
        return t if self.trivial else substitute(t, self.binding)


def _expand_into(b: Builder, d: Diagram, inputs: Sequence[int]) -> list[int]:
    # An explicit stack of frames rather than recursion: a chain of 3,000 defs each calling the
    # previous one is 3,000 frames deep.
    stack = [_Frame(d, inputs, {}, None)]
    while True:
        f = stack[-1]
        if f.i == len(f.d.nodes):
            outs = [f.rename[w] for w in f.d.outputs]
            stack.pop()
            if not stack:
                return outs
            caller = stack[-1]
            caller.rename.update(zip(caller.d.nodes[caller.i].outputs, outs))
            caller.i += 1
            continue
        node = f.d.nodes[f.i]
        ins = [f.rename[w] for w in node.inputs]
        if node.box.kind == "def":
            callee: Diagram = node.box.param_dict["def"].diagram
            binding: dict[str, Dim] = {}
            for t, w in zip(callee.dom, ins):
                unify(t, b.types[w], binding)  # cannot fail: elaboration checked the call
            stack.append(_Frame(callee, ins, binding, node.span or f.span))
            continue
        box = node.box if f.trivial else substitute_box(node.box, f.binding)
        types = [f.type(f.d.types[w]) for w in node.outputs]
        if any(isinstance(t, FunType) for t in types):
            # one node per distinct lambda subterm, as elaboration keeps them (LANGUAGE.md §7): the
            # bodies of two functionals called on the same function share `rho(x)`
            wires = b.add_shared(box, ins, types, node.span or f.span)
        else:
            wires = b.add(box, ins, types, node.span or f.span)
        f.rename.update(zip(node.outputs, wires))
        f.i += 1


def def_box(name: str, diagram: Diagram) -> Box:
    """The box of a call of the def `name` (expanded later by `expand_defs`)."""
    return Box(name, (("def", Callee(diagram)),), "def")
