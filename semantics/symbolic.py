"""The SymPy functor: each elementwise/scalar box ↦ its SymPy expression (LaTeX via `sympy.latex`).

Inputs become symbols named after the parameters (a tensor input stands for a generic element, so
elementwise diagrams read as scalar formulas). Boxes without a scalar meaning (reductions, linear
algebra, shape operations, generators) become uninterpreted SymPy functions of their inputs, so
every diagram has an image.

>>> from grammar import parse
>>> from semantics.elaborate import elaborate
>>> d = elaborate(parse("def f(x: f64) -> f64 { return exp(x) * x + 1 }")).lookup("f").diagram
>>> to_sympy(d)
x*exp(x) + 1
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from semantics.diagram import Diagram, Node
from semantics.functor import Functor

_UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": lambda x: -x, "exp": sp.exp, "log": sp.log, "log1p": lambda x: sp.log(1 + x),
    "expm1": lambda x: sp.exp(x) - 1, "sqrt": sp.sqrt, "rsqrt": lambda x: 1 / sp.sqrt(x), "abs": sp.Abs,
    "sign": sp.sign, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "tanh": sp.tanh, "sinh": sp.sinh,
    "cosh": sp.cosh, "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan,
    "sigmoid": lambda x: 1 / (1 + sp.exp(-x)), "relu": lambda x: sp.Max(x, 0),
    "softplus": lambda x: sp.log(1 + sp.exp(x)), "erf": sp.erf, "square": lambda x: x**2,
    "reciprocal": lambda x: 1 / x, "floor": sp.floor, "stop_gradient": lambda x: x, "cast": lambda x: x,
}
_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a**b, "maximum": sp.Max, "minimum": sp.Min,
    "atan2": sp.atan2, "eq": sp.Eq, "ne": sp.Ne, "lt": sp.Lt, "le": sp.Le, "gt": sp.Gt, "ge": sp.Ge,
}


def _number(v: Any) -> Any:
    if isinstance(v, bool):
        return sp.true if v else sp.false
    if isinstance(v, float) and v.is_integer():
        return sp.Integer(int(v))
    return sp.nsimplify(v, rational=False) if isinstance(v, float) else sp.Integer(v)


class SympyFunctor(Functor[Any]):
    def on_node(self, node: Node, inputs: Sequence[Any], diagram: Diagram) -> Sequence[Any]:
        name, params = node.box.name, node.box.param_dict
        if node.box.kind == "prim":
            if name == "const":
                return [_number(params["value"])]
            if name == "dimsize":
                return [sp.Symbol(str(params["dim"]), integer=True, positive=True)]
            if name in _UNARY:
                return [_UNARY[name](inputs[0])]
            if name in _BINARY:
                return [_BINARY[name](*inputs)]
            if name == "where":
                return [sp.Piecewise((inputs[1], inputs[0]), (inputs[2], True))]
        fn = sp.Function(name)
        if len(node.outputs) == 1:
            return [fn(*inputs)]
        return [sp.Function(f"{name}_{i}")(*inputs) for i in range(len(node.outputs))]


def to_sympy(d: Diagram) -> Any:
    symbols = [sp.Symbol(n, real=True) for n in d.param_names()]
    outs = SympyFunctor()(d, symbols)
    return outs[0] if len(outs) == 1 else outs
