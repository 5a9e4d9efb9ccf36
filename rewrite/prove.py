"""`prove_equal(d1, d2)`: equality of two diagrams by equality saturation.

Both diagrams go into one e-graph with their inputs identified positionally (input k of each is
the same leaf); the rules (IEEE-safe ones unless fast_math) run under limits and the proof succeeds when every pair of outputs
lands in one e-class. Failing to prove is not disproving, so the answer is True or None — False
only when the signatures differ.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import scalar
>>> f64 = scalar("f64")
>>> def unary(name):
...     b = Builder(); x = b.input(f64)
...     return b.build(b.add(make_box(name), [x], [f64]))
>>> prove_equal(unary("sin"), unary("sin")), prove_equal(unary("sin"), unary("cos"))
(True, None)
"""

from __future__ import annotations

from rewrite.egraph import EGraph
from rewrite.optimize import Limits, run_stages
from rewrite.rules import rules_for
from semantics.diagram import Diagram


def prove_equal(d1: Diagram, d2: Diagram, limits: Limits | None = None, fast_math: bool = False) -> bool | None:
    """True if the rules prove d1 = d2 within limits, None if not proven, False if the signatures differ.

    By default only IEEE-safe rules take part, so True means equal on every input, NaN, ±inf and
    ±0 included (up to rounding); `fast_math=True` also uses the rules that hold for real numbers
    only (`exp(log(x)) = x`)."""
    if d1.dom != d2.dom or d1.cod != d2.cod:
        return False
    limits = limits or Limits()
    try:
        eg = EGraph(rules_for(fast_math))
        o1, o2 = eg.load([d1, d2])

        def proved() -> bool:
            return all(eg.same(a, b) for a, b in zip(o1, o2))

        if proved():
            return True
        has_matmul = any(n.box.name == "matmul" for d in (d1, d2) for n in d.nodes)
        run_stages(eg, limits, {}, has_matmul, until=proved)
        if eg.unsound():
            return None  # a proof through an unsound merge is no proof
        return True if proved() else None
    except Exception:  # egglog failure: not proven
        return None
