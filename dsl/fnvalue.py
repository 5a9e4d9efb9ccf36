"""`dsl.fn("x => ...")`: a DSL function value for function-typed inputs (LANGUAGE.md §10).

The lambda is parsed once; its parameter types are fixed when it is bound ("typed when bound"): the
first call on points of a given type elaborates it as a closed function of that type, compiles it
(and, when `fn_grad` asks, its derivatives nabla, nabla∘nabla, ...) to vectorised NumPy code through
the sampling pass, and caches the result on the object.

>>> import numpy as np
>>> f = fn("x => 1 + 0.5 * sin(pi * x)")
>>> f(np.array([0.0, 0.5])).tolist()
[1.0, 1.5]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grammar import ast
from grammar.parser import parse_expr
from semantics.diagram import Builder
from semantics.errors import InputError, TypeCheckError
from semantics.types import FROM_NUMPY, Dim, TensorType, WireType


class FnValue:
    """A function written in the DSL, for function-typed inputs (see `fn`)."""

    def __init__(self, source: str, filename: str = "<dsl.fn>"):
        expr = parse_expr(source, filename)  # errors point into the text: `--fn rho:1:10` from the CLI
        if not isinstance(expr, ast.Lambda):
            raise TypeCheckError("dsl.fn takes a lambda, such as \"x => sin(x)\" or \"(x, y) => x * y\"", expr.span)
        self.dsl_source = source
        self.expr = expr
        self._compiled: dict[tuple[tuple[WireType, ...], int], Any] = {}

    def compiled(self, args: tuple[WireType, ...], order: int = 0) -> Any:
        """The compiled values of nabla^order of this function at points, for argument types `args`."""
        key = (args, order)
        if key not in self._compiled:
            self._compiled[key] = _compile_lambda(self.expr, args, order)
        return self._compiled[key]

    def dsl_call(self, xp: Any, order: int, points: tuple[Any, ...]) -> Any:
        args = tuple(_arg_type(p) for p in points)
        return self.compiled(args, order)(*points)

    def __call__(self, *points: Any) -> Any:
        """Values at arrays of points, one array per parameter, each argument a scalar."""
        arrays = [np.asarray(p, dtype=np.float64) for p in points]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        flat = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
        out = np.asarray(self.dsl_call(np, 0, tuple(flat)))
        return out.reshape(shape + out.shape[1:])

    def __repr__(self) -> str:
        return f"dsl.fn({self.dsl_source!r})"


def fn(source: str, filename: str = "<dsl.fn>") -> FnValue:
    """A DSL function value: `dsl.fn("x => 1 + 0.5 * sin(pi * x)")`, `dsl.fn("(x, y) => x * y")`.
    Pass it where a definition takes a function-typed parameter; calling it evaluates it at points.
    `filename` is what errors in the text are reported against (`dsl run --fn rho=...` passes `--fn rho`)."""
    return FnValue(source, filename)


def _arg_type(points: Any) -> TensorType:
    dtype = FROM_NUMPY.get(str(getattr(points, "dtype", "")))
    if dtype not in ("f32", "f64") or points.ndim < 1:
        raise InputError(f"a DSL function is called on float arrays of points, got {getattr(points, 'dtype', points)}")
    return TensorType(dtype, tuple(Dim.const(int(s)) for s in points.shape[1:]))


def _compile_lambda(expr: ast.Lambda, args: tuple[WireType, ...], order: int) -> Any:
    from codegen import compile_diagram
    from dsl.loader import stdlib
    from rewrite.sampling import sample_diagram
    from semantics.elaborate import Elaborator
    from semantics.expressions import BodyElaborator

    b = Builder()
    scope = Elaborator(ast.Module("<dsl.fn>", ()), None, stdlib())
    body = BodyElaborator(scope, b)
    w = body.function_value(expr, args)
    for _ in range(order):
        w = body._box("nabla", [w], {}, expr.span)
    d = b.build([w.wire], name="fn", span=expr.span)
    (values,) = sample_diagram(d).functions
    return compile_diagram(values, "numpy")
