"""The error hierarchy, re-exported from the stages that raise them (LANGUAGE.md §9)."""

from codegen.errors import CodegenError
from grammar.errors import DslError, ParseError, Span
from semantics.errors import DerivativeError, InputError, RebindError, ShapeError, TypeCheckError, UnboundNameError

__all__ = [
           "CodegenError",
           "DerivativeError",
           "DslError",
           "InputError",
           "ParseError",
           "RebindError",
           "ShapeError",
           "Span",
           "TypeCheckError",
           "UnboundNameError",
]
