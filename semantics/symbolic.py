"""The SymPy functor: each elementwise/scalar box ↦ its SymPy expression (LaTeX via `sympy.latex`),
as written in the box's row of the primitive table (`Primitive.sympy`).

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

from collections.abc import Sequence
from functools import cache
from typing import Any

import sympy as sp
from sympy.parsing.sympy_parser import parse_expr

from semantics.diagram import Diagram, Node
from semantics.functor import Functor
from semantics.primitives import MISSING, PRIMITIVES


@cache  # an explicit cache: one parse per primitive
def _meaning(name: str) -> tuple[tuple[Any, ...], Any] | None:
    """The row's SymPy meaning as (placeholder symbols, expression), or None for opaque rows.

    The text is the table's own (never user input), parsed once with the wire arguments as symbols."""
    prim = PRIMITIVES[name]
    text = prim.sympy
    assert text is not MISSING, f"primitive {name} has no SymPy meaning"
    if not isinstance(text, str):
        return None
    args = tuple(sp.Dummy(a) for a in prim.wire_args)
    return args, parse_expr(text, local_dict=dict(zip(prim.wire_args, args)))


class SympyFunctor(Functor[Any]):
    def on_node(self, node: Node, inputs: Sequence[Any], diagram: Diagram) -> Sequence[Any]:
        name = node.box.name
        if node.box.kind == "prim":
            meaning = PRIMITIVES[name].sympy
            if callable(meaning):  # a parameter's value: const, dimsize
                return [meaning(sp, node.box.param_dict)]
            parsed = _meaning(name)
            if parsed is not None:
                args, expr = parsed
                return [expr.xreplace(dict(zip(args, inputs)))]
        fn = sp.Function(name)
        if len(node.outputs) == 1:
            return [fn(*inputs)]
        return [sp.Function(f"{name}_{i}")(*inputs) for i in range(len(node.outputs))]


def to_sympy(d: Diagram) -> Any:
    symbols = [sp.Symbol(n, real=True) for n in d.param_names()]
    outs = SympyFunctor()(d, symbols)
    return outs[0] if len(outs) == 1 else outs
