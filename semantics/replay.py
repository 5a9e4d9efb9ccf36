"""Inlining a (dim-polymorphic) diagram at a call site: copy its nodes, substituting the call's dim
binding into wire types and static parameters, so `mlp(x, ...)` called with `x: f64[N, 4]`
yields nodes typed with `N` and `4` rather than the callee's own `B` and `D`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grammar.errors import Span
from semantics.diagram import Box, Builder, Diagram, Node
from semantics.types import Dim, TensorType, substitute


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
