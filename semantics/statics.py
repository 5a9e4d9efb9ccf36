"""Static (compile-time) arguments: `axis=(0, 1)`, `keepdims=true`, `(n, m)` shapes, `f64`, slices.

They are part of the box, not wires, so they are converted from the AST directly, by the kind the
primitive table declares for the parameter (see `semantics.primitives.PARAM_KINDS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from grammar import ast
from grammar.errors import Span
from semantics.errors import TypeCheckError, UnboundNameError
from semantics.types import DTYPES, Dim

CONSTANTS = {"pi": math.pi, "inf": math.inf}


class StaticScope:
    """What a static expression may refer to: declared dims and static names (generic def keywords)."""

    def __init__(self, dims: frozenset[str], statics: Mapping[str, Any]):
        self.dims = dims
        self.statics = statics


def static_number(e: ast.Expr, scope: StaticScope, what: str) -> Any:
    """A number (int, float or bool) or a Dim, folding + - * / ^ and unary minus."""
    if isinstance(e, ast.Num):
        return e.value
    if isinstance(e, ast.Bool):
        return e.value
    if isinstance(e, ast.Name):
        if e.id in scope.statics:
            return scope.statics[e.id]
        if e.id in scope.dims:
            return Dim.sym(e.id)
        if e.id in CONSTANTS:
            return CONSTANTS[e.id]
        raise UnboundNameError(f"unbound name '{e.id}' in the static argument {what}", e.span)
    if isinstance(e, ast.UnaryOp):
        v = static_number(e.operand, scope, what)
        return -v if e.op == "-" else v
    if isinstance(e, ast.BinOp) and e.op in _FOLD:
        a, b = static_number(e.left, scope, what), static_number(e.right, scope, what)
        try:
            return _FOLD[e.op](a, b)
        except (TypeError, ZeroDivisionError) as err:
            raise TypeCheckError(f"cannot evaluate the static argument {what}: {err}", e.span) from None
    raise TypeCheckError(f"{what} must be a static value (a number, dim or tuple), not an expression", e.span)


def _pow(a: Any, b: Any) -> Any:
    if isinstance(a, Dim) or isinstance(b, Dim):
        if isinstance(b, int) and b >= 0:
            out = Dim.const(1)
            for _ in range(b):
                out = out * a
            return out
        raise TypeError("dims can only be raised to a non-negative integer power")
    return a**b


def _div(a: Any, b: Any) -> Any:
    if isinstance(a, Dim) or isinstance(b, Dim):
        raise TypeError("dims cannot be divided")
    return a / b


_FOLD: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
    "^": _pow,
}


def _int(e: ast.Expr, scope: StaticScope, what: str) -> int:
    v = static_number(e, scope, what)
    if isinstance(v, Dim) and v.is_const:
        v = v.value
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeCheckError(f"{what} must be an integer, got {v}", getattr(e, "span", None))
    return v


def _items(e: ast.Expr) -> tuple[ast.Expr, ...]:
    return e.items if isinstance(e, ast.TupleExpr) else (e,)


def _dim(e: ast.Expr, scope: StaticScope, what: str) -> Dim:
    v = static_number(e, scope, what)
    if isinstance(v, Dim):
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeCheckError(f"{what} must be a dim or an integer, got {v}", e.span)
    return Dim.const(v)


def convert_static(kind: str, e: ast.Expr, scope: StaticScope, what: str) -> Any:
    """Convert the AST of a static argument to the value the primitive table expects for `kind`.

    A name of a generic def's static parameter (`axis` inside `softmax`) stands for the value the
    caller gave, which is checked against `kind` here, at elaboration, with the caller's span.
    """
    if isinstance(e, ast.Name) and e.id in scope.statics:
        return check_static(kind, scope.statics[e.id], what, e.span)
    if kind == "any" and isinstance(e, ast.TupleExpr):
        return tuple(convert_static("any", i, scope, what) for i in e.items)
    if kind in _BY_VALUE:
        return check_static(kind, static_number(e, scope, what), what, e.span)
    if kind == "str":
        if not isinstance(e, ast.Str):
            raise TypeCheckError(f"{what} must be a string literal", e.span)
        return e.value
    if kind == "dtype":
        if isinstance(e, ast.Name) and e.id in DTYPES:
            return e.id
        raise TypeCheckError(f"{what} must be a dtype ({', '.join(DTYPES)})", e.span)
    if kind == "axis" and isinstance(e, ast.TupleExpr):
        return tuple(_int(i, scope, what) for i in e.items)
    if kind == "ints":
        return tuple(_int(i, scope, what) for i in _items(e))
    if kind == "shape":
        return tuple(_dim(i, scope, what) for i in _items(e))
    if kind == "pad":
        return _pad(e, scope, what)
    if kind == "index":  # internal rows (unindex): the subscript as a string, "1:, ::2, 0"
        return _index_static(e, scope, what)
    raise AssertionError(f"unknown static kind {kind}")


_BY_VALUE = ("int", "bool", "float", "value", "axis", "dim", "any")


def check_static(kind: str, v: Any, what: str, span: Span | None) -> Any:
    """A static value (a number, bool, Dim or tuple of them) checked against a parameter kind.

    >>> check_static("axis", (0, 1), "'axis' of sum", None)
    (0, 1)
    >>> check_static("int", 0.5, "'axis' of max", None)
    Traceback (most recent call last):
    semantics.errors.TypeCheckError: error: 'axis' of max must be an integer, got 0.5
    """
    if kind == "str" and isinstance(v, str):
        return v
    if kind == "dtype" and v in DTYPES:
        return v
    if kind not in _CHECKED or v is None:
        return v  # built by the rewrite templates (an index spec, axis=None), never written by a user
    if isinstance(v, tuple):
        if kind == "pad" and all(isinstance(x, tuple) for x in v):
            return tuple(check_static("pad", x, what, span) for x in v)
        if kind in ("axis", "ints", "shape", "pad"):
            return tuple(check_static("int" if kind != "shape" else "dim", x, what, span) for x in v)
        raise TypeCheckError(f"{what} must be {_KIND_TEXT.get(kind, kind)}, got the tuple {_show(v)}", span)
    if kind == "bool":
        if not isinstance(v, bool):
            raise TypeCheckError(f"{what} must be true or false, got {_show(v)}", span)
        return v
    if kind in ("int", "axis", "ints"):
        if isinstance(v, Dim) and v.is_const:
            v = v.value
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeCheckError(f"{what} must be an integer, got {_show(v)}", span)
        return (v,) if kind == "ints" else v
    if kind in ("dim", "shape"):
        if isinstance(v, bool) or not isinstance(v, (int, Dim)):
            raise TypeCheckError(f"{what} must be a dim or an integer, got {_show(v)}", span)
        d = v if isinstance(v, Dim) else Dim.const(v)
        return (d,) if kind == "shape" else d
    if kind in ("float", "value"):
        if isinstance(v, Dim) or (kind == "float" and isinstance(v, bool)):
            raise TypeCheckError(f"{what} must be a number, got {_show(v)}", span)
        return float(v) if kind == "float" else v
    raise TypeCheckError(f"{what} must be {_KIND_TEXT.get(kind, kind)}, got {_show(v)}", span)


_CHECKED = ("int", "bool", "float", "value", "axis", "ints", "dim", "shape", "pad", "str", "dtype")
_KIND_TEXT = {"str": "a string literal", "dtype": f"a dtype ({', '.join(DTYPES)})", "pad": "(lo, hi) pairs"}


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Dim):
        return f"the dim {v}"
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    return str(v)


def _pad(e: ast.Expr, scope: StaticScope, what: str) -> Any:
    items = _items(e)
    if all(isinstance(i, ast.TupleExpr) for i in items):
        if any(len(i.items) != 2 for i in items if isinstance(i, ast.TupleExpr)):
            raise TypeCheckError(f"{what} must be (lo, hi) or ((lo, hi), ...)", e.span)
        return tuple((_int(i.items[0], scope, what), _int(i.items[1], scope, what))
                     for i in items if isinstance(i, ast.TupleExpr))
    if len(items) != 2:
        raise TypeCheckError(f"{what} must be (lo, hi) or ((lo, hi), ...)", e.span)
    return (_int(items[0], scope, what), _int(items[1], scope, what))


def _index_static(e: ast.Expr, scope: StaticScope, what: str) -> tuple[tuple[Any, ...], ...]:
    from grammar import parse
    from grammar.errors import DslError

    if not isinstance(e, ast.Str):
        raise TypeCheckError(f"{what} must be a subscript string such as \"1:, ::2\"", e.span)
    try:
        decl = parse(f"def f(x: f64) -> f64 {{ return x[{e.value}] }}", "<index>").decls[0]
    except DslError:
        raise TypeCheckError(f"{what}: '{e.value}' is not a subscript such as \"1:, ::2\"", e.span) from None
    assert isinstance(decl, ast.Def)
    index = decl.returns.values[0]
    assert isinstance(index, ast.Index)
    return convert_index(index.items, scope)


def _bound(e: ast.Expr, scope: StaticScope) -> int | Dim:
    """A slice bound: an integer, or a symbolic dim expression (`x[:n - 1]`, taken as in range)."""
    v = static_number(e, scope, "a slice bound")
    if isinstance(v, Dim) and not v.is_const:
        return v
    return _int(e, scope, "a slice bound")


def convert_index(items: tuple[Any, ...], scope: StaticScope) -> tuple[tuple[Any, ...], ...]:
    """`x[1:, ::2, 0]` as the `index` primitive's spec: ("slice", lo, hi, step) / ("int", k) items."""
    spec: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, ast.Name) and item.id == "None":  # NumPy's newaxis
            spec.append(("newaxis",))
        elif isinstance(item, ast.Slice):
            lo, hi = (None if p is None else _bound(p, scope) for p in (item.lo, item.hi))
            parts = (lo, hi, None if item.step is None else _int(item.step, scope, "a slice step"))
            if parts[2] == 0:
                raise TypeCheckError("slice step cannot be zero", item.span)
            spec.append(("slice", *parts))
        else:
            spec.append(("int", _int(item, scope, "an index")))
    return tuple(spec)
