"""The primitive table: every generating box of LANGUAGE.md §4, declared once, as data.

Each `Primitive` has a calling convention (which positional arguments are wires and which are
static parameters), a type/shape rule, a reference NumPy meaning, and the derivative columns
(`jvp`, `transpose`) written as DSL expression templates that `rewrite/` turns into rules.

Rows are grouped by family in `semantics/prims/*.py`; this module holds the row type, the registry
and the helpers the rows share.

>>> from semantics.types import TensorType, Dim
>>> x = TensorType("f64", (Dim.sym("n"),))
>>> [str(t) for t in PRIMITIVES["sin"].infer((x,), {})]
['f64[n]']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from semantics.errors import ShapeError, TypeCheckError
from semantics.types import (
    FLOAT_DTYPES,
    TensorType,
    WireType,
    broadcast_shapes,
)

REQUIRED = object()  # default of a static parameter that must be given

# The kinds of static parameter, converted from the AST by the elaborator:
#   int, float, bool, str, dtype, axis (None | int | tuple of ints), ints (tuple of ints),
#   dim (one Dim), shape (tuple of dims), value (a number), index (internal: the indexing spec)
PARAM_KINDS = ("int", "float", "bool", "str", "dtype", "axis", "ints", "dim", "shape", "value", "index", "pad", "any")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str
    default: Any = REQUIRED


ShapeRule = Callable[[tuple[WireType, ...], Mapping[str, Any]], tuple[WireType, ...]]
# A derivative rule is a DSL expression; where it depends on ranks or static parameters it is a
# function (arg types by name, static params, operand index for variadic rows) -> that expression.
Template = Union[str, Callable[[Mapping[str, WireType], Mapping[str, Any], int], str]]
Impl = Callable[..., Any]  # impl(xp, params, *arrays) -> array | tuple of arrays


@dataclass(frozen=True)
class Primitive:
    """One row of the table.

    `args` lists the positional arguments: a plain name is a wire input, `*name` takes a tuple of
    wires (concat, stack), and a name that is also in `params` is a static parameter.
    `jvp` is a DSL expression of the primal inputs (by arg name), their tangents (`d` + name) and
    the primal output `out`; `transpose` maps each argument the primitive is linear in to a DSL
    expression of the cotangent `ct` and the other arguments. `family` groups rows for lowering
    tables and tests ("unary", "binary", "compare", "reduce", "linalg", "shape", "const", "misc")."""

    name: str
    args: tuple[str, ...]
    rule: ShapeRule
    impl: Impl
    family: str
    params: tuple[ParamSpec, ...] = ()
    jvp: Template | None = None
    transpose: Mapping[str, Template] = field(default_factory=dict)
    doc: str = ""

    @property
    def wire_args(self) -> tuple[str, ...]:
        statics = {p.name for p in self.params}
        return tuple(a for a in self.args if a not in statics)

    @property
    def variadic(self) -> bool:
        return any(a.startswith("*") for a in self.args)

    def param_spec(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def jvp_template(self, types: Mapping[str, WireType], params: Mapping[str, Any]) -> str | None:
        return self.jvp(types, params, -1) if callable(self.jvp) else self.jvp

    def transpose_template(self, arg: str, types: Mapping[str, WireType], params: Mapping[str, Any],
                           index: int = -1) -> str | None:
        t = self.transpose.get(arg)
        return t(types, params, index) if callable(t) else t

    def infer(self, in_types: Sequence[WireType], params: Mapping[str, Any]) -> tuple[WireType, ...]:
        """Output types for these input types (raises ShapeError/TypeCheckError with no span)."""
        return self.rule(tuple(in_types), params)


PRIMITIVES: dict[str, Primitive] = {}


def register(*prims: Primitive) -> None:
    for p in prims:
        assert p.name not in PRIMITIVES, f"primitive {p.name} registered twice"
        PRIMITIVES[p.name] = p


# --------------------------------------------------------------- helpers shared by the rows


def tensor_arg(t: WireType, prim: str, what: str = "argument") -> TensorType:
    if not isinstance(t, TensorType):
        raise TypeCheckError(f"{prim} expects a tensor {what}, got a function {t}")
    return t


def float_arg(t: WireType, prim: str) -> TensorType:
    t = tensor_arg(t, prim)
    if t.dtype not in FLOAT_DTYPES:
        raise TypeCheckError(f"{prim} expects a float (f32 or f64) argument, got {t}; use cast(x, f64)")
    return t


def same_dtype(ts: Sequence[TensorType], prim: str) -> str:
    dtypes = {t.dtype for t in ts}
    if len(dtypes) > 1:
        raise TypeCheckError(
            f"dtype mismatch in {prim}: {' and '.join(str(t) for t in ts)} "
            "(no implicit promotion; use cast(x, dtype))"
        )
    return ts[0].dtype


def broadcast_all(ts: Sequence[TensorType], prim: str) -> tuple:
    shape = ts[0].shape
    for t in ts[1:]:
        shape = broadcast_shapes(shape, t.shape, prim)
    return shape


def normalize_axes(axis: Any, rank: int, prim: str) -> tuple[int, ...]:
    """`axis` (None = all, int, tuple; negative counts from the end) as sorted non-negative ints."""
    if axis is None:
        return tuple(range(rank))
    axes = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ShapeError(f"axis {a} is out of range for {prim} of a rank-{rank} tensor")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {prim}: {axis}")
    return tuple(sorted(out))


def _load_rows() -> None:
    # Importing the row modules registers them; they import this module, so load them last.
    from semantics.prims import elementwise, linalg, reduce, shape  # noqa: F401


_load_rows()
