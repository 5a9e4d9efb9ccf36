"""Notebook display of diagrams: the definition as mathematics (through the SymPy functor, where
every box has a scalar meaning) or as DSL text. `Diagram._repr_latex_` / `_repr_markdown_` call
these; `_repr_svg_` is the drawing (semantics.draw).

>>> from grammar import parse
>>> from semantics.elaborate import elaborate
>>> d = elaborate(parse("def f(x: f64, y: f64) -> f64 { return exp(x) * y }")).lookup("f").diagram
>>> to_latex(d)
'$\\\\displaystyle \\\\mathrm{f}(x, y) = y e^{x}$'
>>> print(to_markdown(d).splitlines()[0])
**f** : `(f64, f64) -> f64`
"""

from __future__ import annotations

from semantics.diagram import Diagram
from semantics.primitives import PRIMITIVES


def has_scalar_meaning(d: Diagram) -> bool:
    """Does every box have a SymPy meaning (so the formula says everything, with no opaque calls)?"""
    for node in d.nodes:
        if node.box.kind != "prim" or node.box.name not in PRIMITIVES:
            return False
        if not (callable(PRIMITIVES[node.box.name].sympy) or isinstance(PRIMITIVES[node.box.name].sympy, str)):
            return False
    return True


def to_latex(d: Diagram) -> str | None:
    """`$name(args) = formula$` where the SymPy functor applies, else None (the notebook then shows
    the markdown or the drawing)."""
    if not has_scalar_meaning(d):
        return None
    import sympy as sp

    from semantics.symbolic import to_sympy

    value = to_sympy(d)
    body = sp.latex(value) if not isinstance(value, (tuple, list)) else (
        r"\left(" + ", ".join(sp.latex(v) for v in value) + r"\right)")
    args = ", ".join(sp.latex(sp.Symbol(n)) for n in d.param_names())
    name = d.name.replace("_", "\\_")
    head = f"\\mathrm{{{name}}}({args})" if d.name else ""
    return f"$\\displaystyle {head + ' = ' if head else ''}{body}$"


def to_markdown(d: Diagram) -> str:
    """The signature and the canonical DSL text as a fenced code block."""
    return f"**{d.name or '(anonymous)'}** : `{d.signature}`\n\n```\n{d.show()}\n```\n"
