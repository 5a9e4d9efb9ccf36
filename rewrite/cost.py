"""The cost model: estimated floating-point operations plus bytes moved, per node and per diagram.

Each primitive's row names its cost class (`Primitive.cost`); this module holds the formula of each
class. Symbolic dims are evaluated at representative sizes (64 for every dim name unless `sizes` says
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
from semantics.primitives import COST_CLASSES, MISSING, PRIMITIVES
from semantics.types import Dim, TensorType, WireType

DEFAULT_DIM = 64
BYTE_WEIGHT = 0.25  # one FLOP ~ four bytes moved (a memory-bound elementwise op costs ~ its traffic)

# FLOPs per element of each cost class (semantics/primitives.py COST_CLASSES; the row says which
# class a primitive is in). Elementwise classes count output elements, reductions input elements.
ELEMENT_FLOPS = {"cheap": 1.0, "medium": 4.0, "transcendental": 16.0}
REDUCTION_FLOPS = {"reduction": 1.0, "transcendental-reduction": 16.0}
STRUCTURAL = ("free", "movement", "contraction", "einsum")  # priced by their own formula below
assert set(ELEMENT_FLOPS) | set(REDUCTION_FLOPS) | set(STRUCTURAL) == set(COST_CLASSES), "a cost class has no formula"
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
    if box.kind != "prim":  # an opaque generator/call: assume moderately expensive
        return 10.0 * (_count(out_types, sizes) + _count(in_types, sizes)) + BYTE_WEIGHT * (
            _bytes(in_types, sizes) + _bytes(out_types, sizes))
    klass = PRIMITIVES[box.name].cost
    assert klass is not MISSING, f"primitive {box.name} has no cost class"
    if klass == "free":
        return 0.0
    traffic = _bytes(in_types, sizes) + _bytes(out_types, sizes)
    if klass in ELEMENT_FLOPS:
        flops = ELEMENT_FLOPS[klass] * max(_count(out_types, sizes), 1)
    elif klass in REDUCTION_FLOPS:
        flops = REDUCTION_FLOPS[klass] * _count(in_types, sizes)
    elif klass == "contraction":
        flops = 2.0 * _count(out_types, sizes) * _contracted(in_types, sizes)
    elif klass == "einsum":
        flops = 2.0 * _einsum_volume(box.param_dict, in_types, sizes)
    else:  # movement: no arithmetic, only the bytes written
        flops, traffic = 0.0, _bytes(out_types, sizes)
    return flops + BYTE_WEIGHT * traffic


def _count(ts: Sequence[WireType], sizes: Mapping[str, int] | None) -> int:
    return sum(numel(t, sizes) for t in ts)


def _bytes(ts: Sequence[WireType], sizes: Mapping[str, int] | None) -> float:
    return sum(nbytes(t, sizes) for t in ts)


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
    types = d.types
    tget = types.__getitem__
    # memo by object identity first (a diagram's nodes share their box and type objects, and ints hash
    # at C speed), then by value (equal boxes and types that are distinct objects)
    by_id: dict[tuple[Any, ...], float] = {}
    by_value: dict[tuple[Box, tuple[WireType, ...], tuple[WireType, ...]], float] = {}
    total = 0.0
    for n in d.nodes:
        box, ins, outs = n.box, n.inputs, n.outputs
        if len(outs) == 1 and len(ins) == 1:  # (the common shapes, keyed without building lists)
            key: tuple[Any, ...] = (id(box), id(tget(outs[0])), id(tget(ins[0])))
        elif len(outs) == 1 and len(ins) == 2:
            key = (id(box), id(tget(outs[0])), id(tget(ins[0])), id(tget(ins[1])))
        else:
            key = ("any", id(box), len(ins), *[id(tget(w)) for w in ins], *[id(tget(w)) for w in outs])
        c = by_id.get(key)
        if c is None:
            vkey = (box, tuple(map(tget, ins)), tuple(map(tget, outs)))
            c = by_value.get(vkey)
            if c is None:
                c = by_value[vkey] = node_cost(box, vkey[1], vkey[2], sizes)
            by_id[key] = c
        total += c
    return total
