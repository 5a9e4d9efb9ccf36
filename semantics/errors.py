"""Errors raised while type- and shape-checking (elaboration) and while running diagrams."""

from grammar.errors import DslError


class TypeCheckError(DslError):
    """Types do not fit: dtype mixing, wrong arity, a point-free type mismatch, a bad static argument."""


class ShapeError(TypeCheckError):
    """Shapes (dims) do not fit: `f64[B, D] @ f64[H, 1]`."""


class RebindError(TypeCheckError):
    """A name bound a second time: statements are single assignment, a definition is defined once."""


class UnboundNameError(DslError):
    """A name that is not defined where it is used."""


class DerivativeError(DslError):
    """A derivative that cannot be taken: grad of a non-scalar, differentiating a Python callable..."""


class InputError(DslError):
    """Runtime inputs that do not match a signature: dtype, rank, dims, argument count."""
