"""Stage 1: text → AST. `parse(text, filename) -> ast.Module`; `Span` and `DslError` live here
because this stage owns the source text."""

from grammar import ast
from grammar.errors import DslError, ParseError, Span
from grammar.parser import parse, parse_expr

__all__ = ["DslError", "ParseError", "Span", "ast", "parse", "parse_expr"]
