"""Literals in expressions: one shared box per distinct constant, a pending literal's nodes written
once per dtype, and integer arithmetic on dims (`N * S - 1`) kept as a dim; and the shared box and
output types of each kind of node without static parameters (`PLAIN_NODES`).

(Split from semantics/expressions.py, which elaborates the expressions that use them.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from semantics.diagram import Box, make_box
from semantics.primitives import Primitive
from semantics.types import Dim, WireType
from semantics.values import Pending, WireVal

_CONST_BOXES: dict[tuple[Any, str], Box] = {}


def const_box(value: bool | int | float, dtype: str) -> Box:
    """The box of the literal `value` of `dtype` (already converted to it), one object per distinct
    literal: a model repeats its constants, and each box would otherwise be built, hashed and kept
    (with its parameter tuples) once per use.

    >>> const_box(2.0, "f64") is const_box(2.0, "f64")
    True
    >>> str(const_box(-0.0, "f64")), str(const_box(0.0, "f64"))
    ('const[dtype=f64, value=-0.0]', 'const[dtype=f64, value=0.0]')
    """
    # (the dtype fixes the value's Python type; -0.0 and 0.0 are equal keys, so zeros go by their text)
    key = (value if value else repr(value), dtype)
    box = _CONST_BOXES.get(key)
    if box is None:
        if len(_CONST_BOXES) >= 4096:  # (a bounded cache: NaNs never hit, each is its own key)
            _CONST_BOXES.clear()
        box = _CONST_BOXES[key] = make_box("const", {"value": value, "dtype": dtype})
    return box


def once_per_dtype(build: Callable[[str], WireVal]) -> Callable[[str], WireVal]:
    """A pending expression bound to a name (`t = 1.0 / (N * S)`) and read twice is one wire, as
    any named value is: its nodes are written once per dtype, not at each use."""
    built: dict[str, WireVal] = {}

    def once(dtype: str) -> WireVal:
        if dtype not in built:
            built[dtype] = build(dtype)
        return built[dtype]

    return once


_DIM_OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


def dim_arithmetic(name: str, pend: Sequence[Pending]) -> Dim | None:
    """`N * S - 1` as one dim when it is integer arithmetic on dims (None otherwise)."""
    if not any(p.dim is not None for p in pend) or (name not in _DIM_OPS and name != "neg"):
        return None
    dims = []
    for p in pend:
        if p.dim is not None:
            dims.append(p.dim)
        elif p.is_int and isinstance(p.number, int) and not isinstance(p.number, bool):
            dims.append(Dim.const(p.number))
        else:
            return None
    return -dims[0] if name == "neg" else _DIM_OPS[name](dims[0], dims[1])


# The box and output types of a node without static parameters, by the identities of its row and
# argument types: a model repeats a few kinds of node, and this skips the shape rule's memo, whose key
# hashes the types in Python (`TensorType.__hash__`). The entry keeps the row and the types alive, so
# their ids cannot be reused by other objects while it is stored.
PLAIN_NODES: dict[tuple[int, ...], tuple[Box, tuple[WireType, ...], Primitive, tuple[WireType, ...]]] = {}


def remember_plain(prim: Primitive, in_types: tuple[WireType, ...], box: Box, out_types: tuple[WireType, ...]) -> None:
    """Store a node's box and output types in `PLAIN_NODES`."""
    if len(PLAIN_NODES) >= 4096:  # (bounded, like the shape rules' memo)
        PLAIN_NODES.clear()
    PLAIN_NODES[plain_key(prim, in_types)] = (box, out_types, prim, in_types)


def plain_key(prim: Primitive, in_types: tuple[WireType, ...]) -> tuple[int, ...]:
    """The key of `PLAIN_NODES` (the elaborator spells out the two-argument case: most nodes)."""
    if len(in_types) == 2:
        return (id(prim), id(in_types[0]), id(in_types[1]))
    return (id(prim), *map(id, in_types))
