"""The reference interpreter: the functor sending each box to its NumPy meaning.

It is the oracle for every backend, so it favours obviousness over speed: one NumPy call per node,
results converted to the node's declared dtype.

>>> from grammar import parse
>>> from semantics.elaborate import elaborate
>>> d = elaborate(parse("def f(x: f64, y: f64) -> f64 { return x * y + 1 }")).lookup("f").diagram
>>> float(interpret(d, 2.0, 3.0))
7.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from grammar.errors import DslError
from semantics.diagram import Diagram, Node
from semantics.errors import InputError, TypeCheckError
from semantics.functor import Functor
from semantics.primitives import PRIMITIVES
from semantics.types import NUMPY_DTYPE, Dim, TensorType
from semantics.validate import as_arrays, bind_inputs, check_sizes, memory_guard, size_checks

BoxImpls = Mapping[str, Callable[..., Any]]


def resolve_params(params: Sequence[tuple[str, Any]], binding: Mapping[str, int]) -> dict[str, Any]:
    """Static parameters with every symbolic dim replaced by its size."""

    def res(v: Any) -> Any:
        if isinstance(v, Dim):
            return v.evaluate(binding)
        if isinstance(v, tuple):
            return tuple(res(x) for x in v)
        return v

    return {k: res(v) for k, v in params}


class Interpreter(Functor[Any]):
    """NumPy meaning of each box. `boxes` implements generators, `calls` expands `call` boxes."""

    def __init__(self, binding: Mapping[str, int], boxes: BoxImpls | None = None,
                 calls: Callable[[str], Callable[..., Any]] | None = None, xp: Any = np):
        self.binding = dict(binding)
        self.boxes = boxes or {}
        self.calls = calls
        self.xp = xp

    def on_node(self, node: Node, inputs: Sequence[Any], diagram: Diagram) -> Sequence[Any]:
        box = node.box
        if box.kind == "prim":
            params = resolve_params(box.params, self.binding)
            with np.errstate(all="ignore"):
                out = PRIMITIVES[box.name].impl(self.xp, params, *inputs)
            outs = (out,)
        elif box.kind == "gen":
            if box.name not in self.boxes:
                raise InputError(f"generator box '{box.name}' has no implementation; pass it with "
                                 f"dsl.load(..., boxes={{'{box.name}': callable}})", node.span)
            outs = _as_tuple(self.boxes[box.name](*inputs))
        else:
            if self.calls is None:
                raise TypeCheckError(f"'{box.name}' cannot be run here", node.span)
            outs = _as_tuple(self.calls(box.name)(*inputs))
        return [self._typed(o, diagram.types[w], node) for o, w in zip(outs, node.outputs)]

    def _typed(self, value: Any, t: Any, node: Node) -> Any:
        if not isinstance(t, TensorType):
            return value
        arr = self.xp.asarray(value)
        want = NUMPY_DTYPE[t.dtype]
        if str(arr.dtype) != want:
            arr = arr.astype(want)
        if len(arr.shape) != t.rank:
            raise DslError(f"box '{node.box.name}' produced rank {len(arr.shape)}, its type is {t}", node.span)
        return arr


def _as_tuple(out: Any) -> tuple[Any, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def interpret(d: Diagram, *args: Any, boxes: BoxImpls | None = None,
              calls: Callable[[str], Callable[..., Any]] | None = None) -> Any:
    """Run `d` on NumPy arrays (inputs validated first); one array, or a tuple for several outputs."""
    binding = bind_inputs(d.name or "diagram", d.dom, d.param_names(), args)
    check_sizes(d.name or "diagram", size_checks(d), binding)
    with memory_guard(d.name or "diagram", d, binding):
        outs = Interpreter(binding, boxes, calls)(d, as_arrays(d.dom, args))
    return outs[0] if len(outs) == 1 else outs
