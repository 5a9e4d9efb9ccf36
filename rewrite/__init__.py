"""Stage 3: derivatives (linearize, then transpose), e-graph simplification, cost and extraction.

Entry points: `grad / value_and_grad / vjp / jvp / hessian / jacobian / simplify(diagram, ...)`,
`derive(op, diagram, wrt)`, `prove_equal(d1, d2)`, `optimize(d) -> (Diagram, RewriteReport)`,
`cost(d)`.
"""

from rewrite.cost import cost
from rewrite.operators import derive, grad, hessian, jacobian, jvp, simplify, value_and_grad, vjp
from rewrite.optimize import Limits, optimize
from rewrite.prove import prove_equal
from rewrite.report import RewriteReport

__all__ = [
           "Limits",
           "RewriteReport",
           "cost",
           "derive",
           "grad",
           "hessian",
           "jacobian",
           "jvp",
           "optimize",
           "prove_equal",
           "simplify",
           "value_and_grad",
           "vjp",
]
