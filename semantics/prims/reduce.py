"""Reduction rows: sum, mean, prod, max, min, logsumexp (`axis=`, `keepdims=`) and the internal `sum_to`.

Every reduction shares one shape rule (drop or keep the reduced axes) and one calling convention
`name(x, axis=None, keepdims=false)`; they differ in the dtypes they accept, their NumPy meaning and
their JVP template. Results keep the input dtype (NumPy accumulates small integers in int64; the
impls cast back).

JVP templates that need the primal output broadcast against `x` recompute the reduction with
`keepdims=true`, so they are correct for every `axis` / `keepdims` combination.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from semantics.errors import ShapeError, TypeCheckError
from semantics.primitives import ParamSpec, Primitive, Template, normalize_axes, register, tensor_arg
from semantics.types import FLOAT_DTYPES, Dim, WireType

REDUCE_PARAMS = (ParamSpec("axis", "axis", None), ParamSpec("keepdims", "bool", False))
_KW = "axis=axis, keepdims=keepdims"


def _stable_logsumexp(xp: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """log(sum(exp(x))) with the max subtracted first; an all -inf slice gives -inf, not nan."""
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    s = xp.sum(xp.exp(x - m), axis=axis, keepdims=True)
    out = xp.log(s) + m
    if not keepdims:
        out = xp.squeeze(out, axis=tuple(range(x.ndim)) if axis is None else axis)
    return out


# name, cost class, NumPy meaning (xp, x, axis, keepdims), accepted dtypes, JVP template, transpose
# templates, doc. JVPs reuse the primal output `out` (axes put back) rather than recomputing the
# reduction. Reductions have no scalar SymPy meaning and return fresh arrays.
REDUCTIONS: tuple[tuple[str, str, Any, tuple[str, ...], Template, dict[str, Template], str], ...] = (
    ("sum", "reduction", lambda xp, x, a, k: xp.sum(x, axis=a, keepdims=k), ("f32", "f64", "i32", "i64"),
     f"sum(dx, {_KW})", {"x": lambda types, params, i: unreduce("ct", types["x"], params)},
     "sum over `axis`; the transpose re-inserts the reduced axes and the derivatives stage broadcasts"),
    ("mean", "reduction", lambda xp, x, a, k: xp.mean(x, axis=a, keepdims=k), FLOAT_DTYPES,
     f"mean(dx, {_KW})", {"x": lambda types, params, i: unreduce("ct", types["x"], params) + " * (count_out / count_x)"},
     "arithmetic mean over `axis`; its transpose spreads ct / (elements per output) back over x"),
    ("prod", "reduction", lambda xp, x, a, k: xp.prod(x, axis=a, keepdims=k), ("f32", "f64", "i32", "i64"),
     lambda types, params, i: _prod_jvp(types["x"]), {},
     "product over `axis`; the JVP multiplies each tangent by the product of the other factors "
     "(exact with zero factors: no division by x)"),
    ("max", "reduction", lambda xp, x, a, k: xp.max(x, axis=a, keepdims=k), ("f32", "f64", "i32", "i64"),
     lambda types, params, i: _extremum_jvp(types["x"], params), {},
     "maximum over `axis`; at ties the derivative is split evenly among the maximal entries (LANGUAGE.md §6)"),
    ("min", "reduction", lambda xp, x, a, k: xp.min(x, axis=a, keepdims=k), ("f32", "f64", "i32", "i64"),
     lambda types, params, i: _extremum_jvp(types["x"], params), {},
     "minimum over `axis`; at ties the derivative is split evenly among the minimal entries (LANGUAGE.md §6)"),
    ("logsumexp", "transcendental-reduction", _stable_logsumexp, FLOAT_DTYPES,
     lambda types, params, i: f"sum(dx * exp(x - {unreduce('out', types['x'], params)}), {_KW})", {},
     "log(sum(exp(x))) over `axis`, computed stably (max subtracted first, all -inf gives -inf)"),
)


NONEMPTY = ("max", "min", "logsumexp")  # no identity: NumPy raises on an empty axis, so the binding is checked


def _extremum_jvp(x: WireType, params: Mapping[str, Any]) -> str:
    """The mean of the tangents of the entries equal to the extremum (ties split evenly, as in JAX)."""
    hit = f"x == {unreduce('out', x, params)}"
    return f"sum(where({hit}, dx, 0), {_KW}) / sum(cast({hit}, {tensor_arg(x, 'max').dtype}), {_KW})"


def _prod_jvp(x: WireType) -> str:
    """sum(dx * (product of the other factors)) without dividing by x, exact with zero factors to
    second order (hessian): with p the product of the non-zero factors, z the number of zeros in the
    slice and s the sum of the zero entries (0, but its tangent is theirs), the other factors' product
    is p / x (z = 0), s * p / x or, at the zero, p (z = 1), (s - x) * p at a zero (z = 2), else 0."""
    dtype = tensor_arg(x, "prod").dtype
    keep = "axis=axis, keepdims=true"
    zero, nz = "x == 0", "where(x == 0, 1, x)"
    p, z, s = f"prod({nz}, {keep})", f"sum(cast({zero}, {dtype}), {keep})", f"sum(where({zero}, x, 0), {keep})"
    at_zero = f"where({z} == 1, {p}, where({z} == 2, ({s} - x) * {p}, 0))"
    elsewhere = f"where({z} == 0, {p} / {nz}, where({z} == 1, {s} * {p} / {nz}, 0))"
    return f"sum(dx * where({zero}, {at_zero}, {elsewhere}), {_KW})"


def _shift_axis(axis: Any, rank: int) -> Any:
    """A reduction's `axis` for the batched operand (one more leading axis)."""
    return tuple(a + 1 for a in normalize_axes(axis, rank, "reduce"))


def _reduce_batch(name: str) -> Any:
    def rule(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> Any:
        axis = _shift_axis(params.get("axis"), tensor_arg(types["x"], name).rank)
        return f"{name}(x, axis=baxis, keepdims=keepdims)", {"baxis": axis}

    return rule


def _sum_to_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> Any:
    """Sum the leading axes x has beyond the target first, so the batch axis stays in place."""
    lead = tensor_arg(types["x"], "sum_to").rank - len(params["shape"])
    if not lead:
        return "sum_to(x, bshape_out)"
    return "sum_to(sum(x, axis=baxis), bshape_out)", {"baxis": tuple(range(1, lead + 1))}


def unreduce(expr: str, x: WireType, params: Mapping[str, Any]) -> str:
    """`expr` (a reduction of x) with the dropped axes put back as size 1, so it broadcasts against x."""
    if params.get("keepdims") or params.get("axis") is None:
        return expr
    for a in normalize_axes(params["axis"], tensor_arg(x, "sum").rank, "sum"):
        expr = f"expand_dims({expr}, {a})"
    return expr


def reduced_shape(shape: tuple[Dim, ...], axes: tuple[int, ...], keepdims: bool) -> tuple[Dim, ...]:
    """`shape` with `axes` dropped, or set to 1 when `keepdims`."""
    one = Dim.const(1)
    return tuple(one if i in axes else d for i, d in enumerate(shape) if keepdims or i not in axes)


def _reduce_rule(name: str, dtypes: tuple[str, ...]) -> Any:
    def rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
        t = tensor_arg(ts[0], name)
        if t.dtype not in dtypes:
            what = "a float (f32 or f64)" if dtypes == FLOAT_DTYPES else "a number"
            hint = "; use cast(x, f64)" if t.dtype != "bool" or dtypes != FLOAT_DTYPES else ""
            raise TypeCheckError(f"{name} expects {what} argument, got {t}{hint}")
        axes = normalize_axes(params.get("axis"), t.rank, name)
        if name in NONEMPTY and any(t.shape[a] == Dim.const(0) for a in axes):
            raise ShapeError(f"{name} over an empty axis of {t}: it has no value there (no identity)")
        return (t.with_shape(reduced_shape(t.shape, axes, bool(params.get("keepdims", False)))),)

    return rule


def _reduce_impl(fn: Any) -> Any:
    def impl(xp: Any, params: Mapping[str, Any], x: Any) -> Any:
        axis = params.get("axis")
        out = fn(xp, x, axis, bool(params.get("keepdims", False)))
        return xp.asarray(out).astype(x.dtype, copy=False)

    return impl


for _name, _cost, _fn, _dtypes, _jvp, _tr, _doc in REDUCTIONS:
    register(Primitive(_name, ("x", "axis"), _reduce_rule(_name, _dtypes), _reduce_impl(_fn), "reduce",
                       params=REDUCE_PARAMS, jvp=_jvp, transpose=_tr, batch=_reduce_batch(_name), doc=_doc,
                       cost=_cost,
                       sympy=None,
                       view=False,
                       domain="positive" if _name == "prod" else "real",  # prod's JVP divides by x
                       nonempty=_name in NONEMPTY))


# ---------------------------------------------------------------- sum_to (the transpose of broadcast_to)


def sum_to_axes(shape: tuple[int, ...], target: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """For summing a concrete `shape` down to `target`: the leading extra axes (dropped) and the axes
    where the target is 1 but the source is not (kept, as 1)."""
    lead = len(shape) - len(target)
    kept = tuple(lead + i for i, d in enumerate(target) if d == 1 and shape[lead + i] != 1)
    return tuple(range(lead)), kept


def _sum_to_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    t = tensor_arg(ts[0], "sum_to")
    if t.dtype == "bool":
        raise TypeCheckError(f"sum_to expects numbers, got {t}")
    target = tuple(params["shape"])
    shown = f"[{', '.join(map(str, target))}]"
    if len(target) > t.rank:
        raise ShapeError(f"sum_to cannot sum {t} to the larger rank shape {shown}")
    one = Dim.const(1)
    for d, s in zip(target, t.shape[t.rank - len(target):]):
        if d != s and d != one:
            raise ShapeError(f"sum_to: {shown} does not broadcast to {t} ({d} ≠ {s})")
    return (t.with_shape(target),)


def _sum_to_impl(xp: Any, params: Mapping[str, Any], x: Any) -> Any:
    target = tuple(params["shape"])
    dtype = x.dtype
    lead, kept = sum_to_axes(tuple(x.shape), target)
    if kept:
        x = xp.sum(x, axis=kept, keepdims=True)
    if lead:
        x = xp.sum(x, axis=lead)
    return xp.reshape(xp.asarray(x).astype(dtype, copy=False), target)


register(Primitive("sum_to", ("x", "shape"), _sum_to_rule, _sum_to_impl, "reduce",
                   params=(ParamSpec("shape", "shape"),), jvp="sum_to(dx, shape)",
                   transpose={"x": "ct"}, batch=_sum_to_batch,
                   doc="internal: sum a broadcast tensor back to `shape` (the transpose of broadcast_to); "
                       "transpose `ct` is broadcast back to x by the derivatives stage",
                   cost="reduction",
                   sympy=None,
                   view=True))  # a reshape of x when nothing is summed
