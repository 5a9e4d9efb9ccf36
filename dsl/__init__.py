"""dsl: models as typed string diagrams — parsed, checked, run, differentiated and compiled.

>>> import dsl
>>> mod = dsl.loads("dim n\\ndef energy(u: f64[n]) -> f64 { return sum(0.5 * u ^ 2) }")
>>> mod["energy"].signature
'f64[n] -> f64'

See LANGUAGE.md §10 for the whole API.
"""

from dsl.errors import (
    CodegenError,
    DerivativeError,
    DslError,
    DslWarning,
    InputError,
    OptimizerLimitWarning,
    ParseError,
    RebindError,
    ShapeError,
    Span,
    TypeCheckError,
    UnboundNameError,
)
from dsl.fnvalue import FnValue, fn
from dsl.module import Module, load, loads
from rewrite import grad, hessian, jacobian, jvp, prove_equal, simplify, value_and_grad, vjp
from semantics.diagram import Diagram

__version__ = "0.1.0"

__all__ = [
    "CodegenError",
    "DerivativeError",
    "Diagram",
    "DslError",
    "DslWarning",
    "FnValue",
    "InputError",
    "Module",
    "OptimizerLimitWarning",
    "ParseError",
    "RebindError",
    "ShapeError",
    "Span",
    "TypeCheckError",
    "UnboundNameError",
    "fn",
    "grad",
    "hessian",
    "jacobian",
    "jvp",
    "load",
    "loads",
    "prove_equal",
    "simplify",
    "value_and_grad",
    "vjp",
]
