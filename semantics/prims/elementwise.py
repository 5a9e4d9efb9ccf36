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
    Impl,
    Inverse,
    ParamSpec,
    Primitive,
    SympyMeaning,
    broadcast_all,
    elementwise_batch,
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


# name, NumPy meaning, JVP template (x: input, dx: its tangent, out: the primal output), cost class,
# SymPy meaning (see semantics/primitives.py). A JVP of "0" marks a primitive whose derivative is zero
# almost everywhere (LANGUAGE.md §6).
UNARY: tuple[tuple[str, Any, str, str, str], ...] = (
    ("neg", np.negative, "-dx", "cheap", "-x"),
    ("exp", np.exp, "dx * out", "transcendental", "exp(x)"),
    ("log", np.log, "dx / x", "transcendental", "log(x)"),
    ("log1p", np.log1p, "dx / (1 + x)", "transcendental", "log(1 + x)"),
    ("expm1", np.expm1, "dx * (out + 1)", "transcendental", "exp(x) - 1"),
    ("sqrt", np.sqrt, "dx / (2 * out)", "medium", "sqrt(x)"),
    ("rsqrt", lambda x: 1 / np.sqrt(x), "-0.5 * dx * out / x", "medium", "1/sqrt(x)"),
    ("abs", np.abs, "dx * sign(x)", "cheap", "Abs(x)"),
    ("sign", np.sign, "0", "cheap", "sign(x)"),
    ("sin", np.sin, "dx * cos(x)", "transcendental", "sin(x)"),
    ("cos", np.cos, "-(dx * sin(x))", "transcendental", "cos(x)"),
    ("tan", np.tan, "dx * (1 + out * out)", "transcendental", "tan(x)"),
    ("tanh", np.tanh, "dx * (1 - out * out)", "transcendental", "tanh(x)"),
    ("sinh", np.sinh, "dx * cosh(x)", "transcendental", "sinh(x)"),
    ("cosh", np.cosh, "dx * sinh(x)", "transcendental", "cosh(x)"),
    ("arcsin", np.arcsin, "dx * rsqrt(1 - x * x)", "transcendental", "asin(x)"),
    ("arccos", np.arccos, "-(dx * rsqrt(1 - x * x))", "transcendental", "acos(x)"),
    ("arctan", np.arctan, "dx / (1 + x * x)", "transcendental", "atan(x)"),
    ("sigmoid", _sigmoid, "dx * out * (1 - out)", "transcendental", "1/(1 + exp(-x))"),
    ("relu", lambda x: np.maximum(x, 0), "where(x > 0, dx, 0)", "cheap", "Max(x, 0)"),
    ("softplus", lambda x: np.logaddexp(0, x), "dx * sigmoid(x)", "transcendental", "log(1 + exp(x))"),
    ("erf", _erf_impl, "1.1283791670955126 * dx * exp(-(x * x))", "transcendental", "erf(x)"),
    ("square", np.square, "2 * x * dx", "cheap", "x**2"),
    ("reciprocal", np.reciprocal, "-(dx * out * out)", "medium", "1/x"),
    ("floor", np.floor, "0", "cheap", "floor(x)"),
)

# Unary rows that also accept integers (the rest need floats).
INT_OK = {"neg", "abs", "sign", "square"}

# Rows that are smooth and finite only on part of the reals (Primitive.domain; the rest: "real").
DOMAIN = {"log": "positive", "log1p": "positive", "sqrt": "positive", "rsqrt": "positive",
          "reciprocal": "positive", "arcsin": "unit", "arccos": "unit",
          "div": "positive", "pow": "positive", "atan2": "positive"}

# name, NumPy meaning, JVP template (x, y inputs; dx, dy tangents; out), transpose templates, cost
# class, SymPy meaning, infix operator (None: printed as a call).
BINARY: tuple[tuple[str, Any, str, dict[str, str], str, str, str | None], ...] = (
    ("add", np.add, "dx + dy", {"x": "ct", "y": "ct"}, "cheap", "x + y", "+"),
    ("sub", np.subtract, "dx - dy", {"x": "ct", "y": "-ct"}, "cheap", "x - y", "-"),
    ("mul", np.multiply, "dx * y + x * dy", {"x": "ct * y", "y": "x * ct"}, "cheap", "x*y", "*"),
    ("div", np.divide, "(dx - out * dy) / y", {"x": "ct / y"}, "medium", "x/y", "/"),
    ("pow", np.power, "dx * y * x ^ (y - 1) + dy * where(x > 0, log(x), 0) * out", {}, "transcendental", "x**y", "^"),
    # at ties the derivative is split evenly between the arguments (LANGUAGE.md §6), as JAX does
    ("maximum", np.maximum, "where(x > y, dx, where(x < y, dy, 0.5 * (dx + dy)))", {}, "cheap", "Max(x, y)", None),
    ("minimum", np.minimum, "where(x < y, dx, where(x > y, dy, 0.5 * (dx + dy)))", {}, "cheap", "Min(x, y)", None),
    ("atan2", np.arctan2, "(y * dx - x * dy) / (x * x + y * y)", {}, "transcendental", "atan2(x, y)", None),
)

FLOAT_ONLY_BINARY = {"pow", "atan2"}


def _inv(text: str, ok: Any = lambda lo, hi, c: True) -> Inverse:
    """An inverse valid where `ok(lo, hi, consts)` holds (the row is one-to-one on [lo, hi])."""
    return lambda lo, hi, c: text if ok(lo, hi, c) else None


def _by_sign(pos: str, neg: str) -> Inverse:
    """An even map: one inverse on [0, ∞), another on (-∞, 0]."""
    return lambda lo, hi, c: pos if lo >= 0 else neg if hi <= 0 else None


_HALF_PI = math.pi / 2

# The inverses of the elementwise rows (Primitive.inverse): per argument, the inverse as a DSL
# expression of the output `u` and the other (literal) arguments, and where it is valid.
INVERSE: dict[str, dict[str, Inverse]] = {
    "neg": {"x": _inv("-u")},
    "exp": {"x": _inv("log(u)")},
    "log": {"x": _inv("exp(u)", lambda lo, hi, c: lo >= 0)},
    "log1p": {"x": _inv("expm1(u)", lambda lo, hi, c: lo >= -1)},
    "expm1": {"x": _inv("log1p(u)")},
    "sqrt": {"x": _inv("square(u)", lambda lo, hi, c: lo >= 0)},
    "rsqrt": {"x": _inv("reciprocal(square(u))", lambda lo, hi, c: lo > 0)},
    "square": {"x": _by_sign("sqrt(u)", "-sqrt(u)")},
    "reciprocal": {"x": _inv("reciprocal(u)", lambda lo, hi, c: lo > 0 or hi < 0)},
    "sin": {"x": _inv("arcsin(u)", lambda lo, hi, c: -_HALF_PI <= lo and hi <= _HALF_PI)},
    "cos": {"x": _inv("arccos(u)", lambda lo, hi, c: 0 <= lo and hi <= math.pi)},
    "tan": {"x": _inv("arctan(u)", lambda lo, hi, c: -_HALF_PI < lo and hi < _HALF_PI)},
    "tanh": {"x": _inv("0.5 * log((1 + u) / (1 - u))")},
    "sinh": {"x": _inv("log(u + sqrt(u * u + 1))")},
    "cosh": {"x": _by_sign("log(u + sqrt(u * u - 1))", "-log(u + sqrt(u * u - 1))")},
    "arcsin": {"x": _inv("sin(u)", lambda lo, hi, c: -1 <= lo and hi <= 1)},
    "arccos": {"x": _inv("cos(u)", lambda lo, hi, c: -1 <= lo and hi <= 1)},
    "arctan": {"x": _inv("tan(u)")},
    "sigmoid": {"x": _inv("log(u / (1 - u))")},
    "softplus": {"x": _inv("log(expm1(u))")},
    "add": {"x": _inv("u - y"), "y": _inv("u - x")},
    "sub": {"x": _inv("u + y"), "y": _inv("x - u")},
    "mul": {"x": _inv("u / y", lambda lo, hi, c: c["y"] != 0), "y": _inv("u / x", lambda lo, hi, c: c["x"] != 0)},
    "div": {"x": _inv("u * y", lambda lo, hi, c: c["y"] != 0),
            "y": _inv("x / u", lambda lo, hi, c: c["x"] != 0 and (lo > 0 or hi < 0))},
    "pow": {"x": _inv("u ^ (1 / y)", lambda lo, hi, c: lo >= 0 and c["y"] != 0),
            "y": _inv("log(u) / log(x)", lambda lo, hi, c: c["x"] > 0 and c["x"] != 1)},
}

# name, NumPy meaning, infix operator, SymPy meaning (all cost "cheap", JVP "0").
COMPARE: tuple[tuple[str, Any, str, str], ...] = (
    ("eq", np.equal, "==", "Eq(x, y)"),
    ("ne", np.not_equal, "!=", "Ne(x, y)"),
    ("lt", np.less, "<", "Lt(x, y)"),
    ("le", np.less_equal, "<=", "Le(x, y)"),
    ("gt", np.greater, ">", "Gt(x, y)"),
    ("ge", np.greater_equal, ">=", "Ge(x, y)"),
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
        shape, dtype = broadcast_all((a, b), name), out_dtype or dtype
        return (a if a.shape == shape and a.dtype == dtype else TensorType(dtype, shape),)  # reuse: hash once

    return rule


def _pointwise(fn: Any) -> Any:
    return lambda xp, params, *xs: fn(*xs)


for _name, _fn, _jvp, _cost, _sympy in UNARY:
    register(Primitive(_name, ("x",), _unary_rule(_name), _pointwise(_fn), "unary", jvp=_jvp,
                       transpose={"x": "-ct"} if _name == "neg" else {}, batch=elementwise_batch(_name),
                       cost=_cost,
                       sympy=_sympy,
                       view=False,
                       syntax="-x" if _name == "neg" else None,
                       domain=DOMAIN.get(_name, "real"),
                       inverse=INVERSE.get(_name, {})))

for _name, _fn, _jvp, _tr, _cost, _sympy, _op in BINARY:
    register(Primitive(_name, ("x", "y"), _binary_rule(_name), _pointwise(_fn), "binary", jvp=_jvp, transpose=_tr,
                       batch=elementwise_batch(_name),
                       cost=_cost,
                       sympy=_sympy,
                       view=False,
                       syntax=_op,
                       domain=DOMAIN.get(_name, "real"),
                       inverse=INVERSE.get(_name, {})))

for _name, _fn, _op, _sympy in COMPARE:
    register(Primitive(_name, ("x", "y"), _binary_rule(_name, "bool"), _pointwise(_fn), "compare", jvp="0",
                       doc=f"`x {_op} y`, elementwise", batch=elementwise_batch(_name),
                       cost="cheap",
                       sympy=_sympy,
                       view=False,
                       syntax=_op))


def _where_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    c, a, b = (tensor_arg(t, "where") for t in ts)
    if c.dtype != "bool":
        raise TypeCheckError(f"where expects a bool condition, got {c}")
    dtype = same_dtype((a, b), "where")
    return (TensorType(dtype, broadcast_all((c, a, b), "where")),)


register(Primitive("where", ("c", "x", "y"), _where_rule, _pointwise(np.where), "select",
                   jvp="where(c, dx, dy)", transpose={"x": "where(c, ct, 0)", "y": "where(c, 0, ct)"},
                   batch=elementwise_batch("where"),
                   cost="cheap",
                   sympy="Piecewise((x, c), (y, True))",
                   view=False))


def _cast_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    return (tensor_arg(ts[0], "cast").with_dtype(params["dtype"]),)


def _cast_impl(xp: Any, params: Mapping[str, Any], x: Any) -> Any:
    return x.astype(NUMPY_DTYPE[params["dtype"]])


register(Primitive("cast", ("x", "dtype"), _cast_rule, _cast_impl, "unary", params=(ParamSpec("dtype", "dtype"),),
                   jvp="cast(dx, dtype)", transpose={"x": lambda types, params, i: f"cast(ct, {types['x'].dtype})"},  # type: ignore[union-attr]
                   batch=elementwise_batch("cast"),
                   cost="cheap",
                   sympy="x",  # the value, in another dtype
                   view=False))


def _identity_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    return (tensor_arg(ts[0], "stop_gradient"),)


register(Primitive("stop_gradient", ("x",), _identity_rule, lambda xp, params, x: x, "unary", jvp="0",
                   doc="the identity, with zero derivative", batch=elementwise_batch("stop_gradient"),
                   cost="cheap",
                   sympy="x",
                   view=True))


def sympy_number(sp: Any, v: Any) -> Any:
    """A literal as a SymPy number: booleans as true/false, integral floats as integers."""
    if isinstance(v, bool):
        return sp.true if v else sp.false
    if isinstance(v, float) and v.is_integer():
        return sp.Integer(int(v))
    return sp.nsimplify(v, rational=False) if isinstance(v, float) else sp.Integer(v)


def sympy_dim(sp: Any, d: Any) -> Any:
    """A dim (an integer polynomial over dim names) as a SymPy expression of positive integer symbols."""
    return sp.Add(*(c * sp.Mul(*(sp.Symbol(a, integer=True, positive=True) for a in m)) for m, c in d.terms))


def _const_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    if params["dtype"] not in DTYPES:
        raise TypeCheckError(f"unknown dtype {params['dtype']}")
    return (TensorType(params["dtype"], ()),)


def _const_impl(xp: Any, params: Mapping[str, Any]) -> Any:
    return xp.asarray(params["value"], dtype=NUMPY_DTYPE[params["dtype"]])


def _scalar_row(name: str, param: ParamSpec, impl: Impl, sympy: SympyMeaning, doc: str) -> Primitive:
    """A row of the "const" family: a scalar of `dtype` given by one static parameter, no wires."""
    return Primitive(name, (), _const_rule, impl, "const", params=(param, ParamSpec("dtype", "dtype")), jvp="0",
                     doc=doc, cost="free", sympy=sympy, view=False)


register(_scalar_row("const", ParamSpec("value", "value"), _const_impl,
                     lambda sp, params: sympy_number(sp, params["value"]),
                     "a scalar literal of the dtype its context requires"))


def _dimsize_impl(xp: Any, params: Mapping[str, Any]) -> Any:
    # The interpreter resolves the symbolic `dim` parameter to an int before calling.
    return xp.asarray(params["dim"], dtype=NUMPY_DTYPE[params["dtype"]])


register(_scalar_row("dimsize", ParamSpec("dim", "dim"), _dimsize_impl,
                     lambda sp, params: sympy_dim(sp, params["dim"]), "the size of a dim as a scalar (`sqrt(D)`)"))
