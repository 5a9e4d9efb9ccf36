"""The error hierarchy, re-exported from the stages that raise them (LANGUAGE.md §9)."""

from codegen.errors import CodegenError
from grammar.errors import DslError, DslWarning, ParseError, Span
from rewrite.report import OptimizerLimitWarning
from semantics.errors import DerivativeError, InputError, RebindError, ShapeError, TypeCheckError, UnboundNameError

__all__ = [
           "CodegenError",
           "DerivativeError",
           "DslError",
           "DslWarning",
           "InputError",
           "OptimizerLimitWarning",
           "ParseError",
           "RebindError",
           "ShapeError",
           "Span",
           "TypeCheckError",
           "UnboundNameError",
]
