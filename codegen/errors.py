"""Errors of the code generation stage."""

from grammar.errors import DslError


class CodegenError(DslError):
    """A diagram that a backend cannot lower, or an unknown backend/target."""
