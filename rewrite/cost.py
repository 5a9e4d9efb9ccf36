"""The cost model: estimated floating-point operations plus bytes moved, per node and per diagram.

Symbolic dims are evaluated at representative sizes (64 for every dim name unless `sizes` says
otherwise), so costs are plain floats that can be compared. The e-graph extractor uses the same
per-node function (`node_cost`), so "cheapest" means the same thing everywhere.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import TensorType, Dim
>>> v = TensorType("f64", (Dim.sym("n"),))
>>> b = Builder(); x = b.input(v)
>>> (s,) = b.add(make_box("sin"), [x], [v]); sin_d = b.build([s])
>>> b = Builder(); x = b.input(v)
>>> (s,) = b.add(make_box("add"), [x, x], [v]); add_d = b.build([s])
>>> cost(sin_d) > cost(add_d)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from semantics.diagram import Box, Diagram
from semantics.types import Dim, TensorType, WireType

DEFAULT_DIM = 64
BYTE_WEIGHT = 0.25  # one FLOP ~ four bytes moved (a memory-bound elementwise op costs ~ its traffic)

CHEAP = {"neg", "abs", "sign", "relu", "floor", "square", "cast", "stop_gradient", "add", "sub", "mul",
         "maximum", "minimum", "where", "eq", "ne", "lt", "le", "gt", "ge"}
MEDIUM = {"div", "reciprocal", "sqrt", "rsqrt"}
TRANSCENDENTAL = {"exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin",
                  "arccos", "arctan", "sigmoid", "softplus", "erf", "pow", "atan2", "logsumexp"}
REDUCTIONS = {"sum", "mean", "prod", "max", "min", "logsumexp"}
SHAPE_OPS = {"reshape", "broadcast_to", "transpose", "concat", "stack", "expand_dims", "squeeze", "index",
             "pad", "roll", "sum_to", "diag"}
FREE = {"const", "dimsize"}
WEIGHT = {**{n: 1.0 for n in CHEAP}, **{n: 4.0 for n in MEDIUM}, **{n: 16.0 for n in TRANSCENDENTAL}}
DTYPE_BYTES = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "bool": 1}


def dim_size(d: Dim, sizes: Mapping[str, int] | None = None) -> int:
    """A dim's size with every name bound to `sizes[name]` (default 64); never below 1."""
    binding = {a: (sizes or {}).get(a, DEFAULT_DIM) for a in d.atoms}
    try:
        return max(1, d.evaluate(binding))
    except (KeyError, TypeError):  # an opaque atom such as ceil(n/2): treat as a plain dim
        return DEFAULT_DIM


def numel(t: WireType, sizes: Mapping[str, int] | None = None) -> int:
    """Elements of a tensor wire at representative sizes (a function wire counts as one)."""
    if not isinstance(t, TensorType):
        return 1
    return _numel(t, tuple(sorted(sizes.items())) if sizes else ())


@lru_cache(maxsize=4096)  # an explicit cache: extraction prices every e-node, types repeat
def _numel(t: TensorType, sizes: tuple[tuple[str, int], ...]) -> int:
    return math.prod(dim_size(d, dict(sizes)) for d in t.shape)


def nbytes(t: WireType, sizes: Mapping[str, int] | None = None) -> float:
    return numel(t, sizes) * (DTYPE_BYTES.get(t.dtype, 8) if isinstance(t, TensorType) else 8)


def node_cost(box: Box, in_types: Sequence[WireType], out_types: Sequence[WireType],
              sizes: Mapping[str, int] | None = None) -> float:
    """FLOPs + BYTE_WEIGHT * bytes of one node.

    >>> from semantics.diagram import make_box
    >>> m = lambda r, c: TensorType("f64", (Dim.const(r), Dim.const(c)))
    >>> node_cost(make_box("matmul"), [m(10, 20), m(20, 30)], [m(10, 30)]) >= 2 * 10 * 20 * 30
    True
    """
    name = box.name
    if box.kind == "prim" and name in FREE:
        return 0.0
    traffic = sum(nbytes(t, sizes) for t in in_types) + sum(nbytes(t, sizes) for t in out_types)
    out_n = sum(numel(t, sizes) for t in out_types)
    in_n = sum(numel(t, sizes) for t in in_types)
    if box.kind != "prim":
        flops = 10.0 * (out_n + in_n)  # an opaque generator/call: assume moderately expensive
    elif name in REDUCTIONS:
        flops = in_n * (WEIGHT.get(name, 1.0) if name == "logsumexp" else 1.0)
    elif name == "matmul" or name == "dot":
        k = _contracted(in_types, sizes)
        flops = 2.0 * out_n * k
    elif name == "einsum":
        flops = 2.0 * _einsum_volume(box.param_dict, in_types, sizes)
    elif name in SHAPE_OPS:
        flops = 0.0
        traffic = sum(nbytes(t, sizes) for t in out_types)
    else:
        flops = WEIGHT.get(name, 2.0) * max(out_n, 1)
    return flops + BYTE_WEIGHT * traffic


def _contracted(in_types: Sequence[WireType], sizes: Mapping[str, int] | None) -> int:
    a = in_types[0] if in_types else None
    if isinstance(a, TensorType) and a.shape:
        return dim_size(a.shape[-1], sizes)
    return 1


def _einsum_volume(params: Mapping[str, Any], in_types: Sequence[WireType], sizes: Mapping[str, int] | None) -> float:
    spec = params.get("spec") or params.get("subscripts") or params.get("equation")
    if not isinstance(spec, str):
        return float(sum(numel(t, sizes) for t in in_types))
    letters: dict[str, int] = {}
    for sub, t in zip(spec.split("->")[0].split(","), in_types):
        if isinstance(t, TensorType):
            for ch, d in zip(sub.strip(), t.shape):
                letters[ch] = dim_size(d, sizes)
    return float(math.prod(letters.values()))


def cost(d: Diagram, sizes: Mapping[str, int] | None = None) -> float:
    """Estimated cost of running a diagram: the sum of `node_cost` over its nodes.

    Every symbolic dim is given the size `sizes.get(name, 64)`.
    """
    return sum(node_cost(n.box, [d.types[w] for w in n.inputs], [d.types[w] for w in n.outputs], sizes)
               for n in d.nodes)
