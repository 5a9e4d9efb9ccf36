"""The e-graph stage: derivatives (linearize, then transpose), simplification, cost and extraction.

Entry points: `derive(op, diagram, wrt)`, `grad / value_and_grad / vjp / jvp / hessian / jacobian /
simplify`, `prove_equal(d1, d2)`.
"""

from rewrite.operators import derive, grad, hessian, jacobian, jvp, simplify, value_and_grad, vjp

__all__ = ["derive", "grad", "value_and_grad", "vjp", "jvp", "hessian", "jacobian", "simplify"]
