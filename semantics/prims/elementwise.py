"""Elementwise rows: unary and binary arithmetic, comparisons, where, cast, constants.

Unary and binary rows are generated from small tables (name, NumPy meaning, JVP template), so a
new elementwise primitive is one line here plus one lowering per backend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from semantics.errors import TypeCheckError
from semantics.primitives import (
    ParamSpec,
    Primitive,
    broadcast_all,
    float_arg,
    register,
    same_dtype,
    tensor_arg,
)
from semantics.types import DTYPES, NUMPY_DTYPE, TensorType, WireType

_erf = np.frompyfunc(math.erf, 1, 1)


def _erf_impl(x: Any) -> Any:
    x = np.asarray(x)
    return np.asarray(_erf(x), dtype=x.dtype)


def _sigmoid(x: Any) -> Any:
    # exp(-softplus(-x)) never overflows, unlike 1 / (1 + exp(-x)) for large negative x.
    return np.exp(-np.logaddexp(0, -x))


# name, NumPy meaning, JVP template (x: input, dx: its tangent, out: the primal output).
# "0" marks a primitive whose derivative is zero almost everywhere (LANGUAGE.md §6).
UNARY: tuple[tuple[str, Any, str], ...] = (
    ("neg", np.negative, "-dx"),
    ("exp", np.exp, "dx * out"),
    ("log", np.log, "dx / x"),
    ("log1p", np.log1p, "dx / (1 + x)"),
    ("expm1", np.expm1, "dx * (out + 1)"),
    ("sqrt", np.sqrt, "dx / (2 * out)"),
    ("rsqrt", lambda x: 1 / np.sqrt(x), "-0.5 * dx * out / x"),
    ("abs", np.abs, "dx * sign(x)"),
    ("sign", np.sign, "0"),
    ("sin", np.sin, "dx * cos(x)"),
    ("cos", np.cos, "-(dx * sin(x))"),
    ("tan", np.tan, "dx * (1 + out * out)"),
    ("tanh", np.tanh, "dx * (1 - out * out)"),
    ("sinh", np.sinh, "dx * cosh(x)"),
    ("cosh", np.cosh, "dx * sinh(x)"),
    ("arcsin", np.arcsin, "dx * rsqrt(1 - x * x)"),
    ("arccos", np.arccos, "-(dx * rsqrt(1 - x * x))"),
    ("arctan", np.arctan, "dx / (1 + x * x)"),
    ("sigmoid", _sigmoid, "dx * out * (1 - out)"),
    ("relu", lambda x: np.maximum(x, 0), "where(x > 0, dx, 0)"),
    ("softplus", lambda x: np.logaddexp(0, x), "dx * sigmoid(x)"),
    ("erf", _erf_impl, "1.1283791670955126 * dx * exp(-(x * x))"),
    ("square", np.square, "2 * x * dx"),
    ("reciprocal", np.reciprocal, "-(dx * out * out)"),
    ("floor", np.floor, "0"),
)

# Unary rows that also accept integers (the rest need floats).
INT_OK = {"neg", "abs", "sign", "square"}

# name, NumPy meaning, JVP template (x, y inputs; dx, dy tangents; out), transpose templates.
BINARY: tuple[tuple[str, Any, str, dict[str, str]], ...] = (
    ("add", np.add, "dx + dy", {"x": "ct", "y": "ct"}),
    ("sub", np.subtract, "dx - dy", {"x": "ct", "y": "-ct"}),
    ("mul", np.multiply, "dx * y + x * dy", {"x": "ct * y", "y": "x * ct"}),
    ("div", np.divide, "(dx - out * dy) / y", {"x": "ct / y"}),
    ("pow", np.power, "dx * y * x ^ (y - 1) + dy * where(x > 0, log(x), 0) * out", {}),
    ("maximum", np.maximum, "where(x >= y, dx, dy)", {}),
    ("minimum", np.minimum, "where(x <= y, dx, dy)", {}),
    ("atan2", np.arctan2, "(y * dx - x * dy) / (x * x + y * y)", {}),
)

FLOAT_ONLY_BINARY = {"pow", "atan2"}

COMPARE: tuple[tuple[str, Any, str], ...] = (
    ("eq", np.equal, "=="),
    ("ne", np.not_equal, "!="),
    ("lt", np.less, "<"),
    ("le", np.less_equal, "<="),
    ("gt", np.greater, ">"),
    ("ge", np.greater_equal, ">="),
)


def _unary_rule(name: str) -> Any:
    def rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
        t = tensor_arg(ts[0], name) if name in INT_OK else float_arg(ts[0], name)
        if t.dtype == "bool":
            raise TypeCheckError(f"{name} expects a number, got {t}")
        return (t,)

    return rule


def _binary_rule(name: str, out_dtype: str | None = None) -> Any:
    def rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
        a, b = (tensor_arg(t, name) for t in ts)
        dtype = same_dtype((a, b), name)
        if name in FLOAT_ONLY_BINARY:
            float_arg(a, name)
        elif out_dtype is None and dtype == "bool":
            raise TypeCheckError(f"{name} expects numbers, got {a} and {b}")
        return (TensorType(out_dtype or dtype, broadcast_all((a, b), name)),)

    return rule


def _pointwise(fn: Any) -> Any:
    return lambda xp, params, *xs: fn(*xs)


for _name, _fn, _jvp in UNARY:
    register(Primitive(_name, ("x",), _unary_rule(_name), _pointwise(_fn), "unary", jvp=_jvp,
                       transpose={"x": "-ct"} if _name == "neg" else {}))

for _name, _fn, _jvp, _tr in BINARY:
    register(Primitive(_name, ("x", "y"), _binary_rule(_name), _pointwise(_fn), "binary", jvp=_jvp, transpose=_tr))

for _name, _fn, _op in COMPARE:
    register(Primitive(_name, ("x", "y"), _binary_rule(_name, "bool"), _pointwise(_fn), "compare", jvp="0",
                       doc=f"`x {_op} y`, elementwise"))


def _where_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    c, a, b = (tensor_arg(t, "where") for t in ts)
    if c.dtype != "bool":
        raise TypeCheckError(f"where expects a bool condition, got {c}")
    dtype = same_dtype((a, b), "where")
    return (TensorType(dtype, broadcast_all((c, a, b), "where")),)


register(Primitive("where", ("c", "x", "y"), _where_rule, _pointwise(np.where), "select",
                   jvp="where(c, dx, dy)", transpose={"x": "where(c, ct, 0)", "y": "where(c, 0, ct)"}))


def _cast_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    return (tensor_arg(ts[0], "cast").with_dtype(params["dtype"]),)


def _cast_impl(xp: Any, params: Mapping[str, Any], x: Any) -> Any:
    return x.astype(NUMPY_DTYPE[params["dtype"]])


register(Primitive("cast", ("x", "dtype"), _cast_rule, _cast_impl, "unary", params=(ParamSpec("dtype", "dtype"),),
                   jvp="cast(dx, dtype)", transpose={"x": lambda types, params, i: f"cast(ct, {types['x'].dtype})"}))  # type: ignore[union-attr]


def _identity_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    return (tensor_arg(ts[0], "stop_gradient"),)


register(Primitive("stop_gradient", ("x",), _identity_rule, lambda xp, params, x: x, "unary", jvp="0",
                   doc="the identity, with zero derivative"))


def _const_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    if params["dtype"] not in DTYPES:
        raise TypeCheckError(f"unknown dtype {params['dtype']}")
    return (TensorType(params["dtype"], ()),)


def _const_impl(xp: Any, params: Mapping[str, Any]) -> Any:
    return xp.asarray(params["value"], dtype=NUMPY_DTYPE[params["dtype"]])


register(Primitive("const", (), _const_rule, _const_impl, "const",
                   params=(ParamSpec("value", "value"), ParamSpec("dtype", "dtype")), jvp="0",
                   doc="a scalar literal of the dtype its context requires"))


def _dimsize_impl(xp: Any, params: Mapping[str, Any]) -> Any:
    # The interpreter resolves the symbolic `dim` parameter to an int before calling.
    return xp.asarray(params["dim"], dtype=NUMPY_DTYPE[params["dtype"]])


register(Primitive("dimsize", (), _const_rule, _dimsize_impl, "const",
                   params=(ParamSpec("dim", "dim"), ParamSpec("dtype", "dtype")), jvp="0",
                   doc="the size of a dim as a scalar (`sqrt(D)`)"))
