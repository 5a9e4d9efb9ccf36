"""Values during elaboration of a `def` body: wires, pending literals, tuples and static values.

A number literal or a dim used as a value has no dtype of its own (LANGUAGE.md §2: it takes the
dtype its context requires), so it stays `Pending` until an operation with a typed wire, a
parameter type or the declared return type fixes the dtype; then it is materialised as a
`const`/`dimsize` node (or a small expression of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from grammar.errors import Span
from semantics.types import Dim, WireType

# (slots: one object per value, no __dict__; elaboration makes a few per operation)


@dataclass(frozen=True, slots=True)
class WireVal:
    wire: int
    type: WireType
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """A dtype-less scalar: `build(dtype)` writes its nodes and returns the wire.

    `number` is its value when it is known without any wire (literals and literal arithmetic),
    so `(3 / pi) ^ (1 / 3)` folds to one constant; `is_int` says it was written as an integer;
    `dim` is the dim it stands for when it is a dim or integer arithmetic on dims (`N * S - 1`),
    which becomes one `dimsize` node (so the printed text `N * S` reloads as the same box)."""

    build: Callable[[str], WireVal]
    number: Union[float, int, bool, None]
    is_int: bool
    span: Span | None = None
    dim: Dim | None = None


@dataclass(frozen=True, slots=True)
class TupleVal:
    items: tuple[Value, ...]
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class StaticVal:
    """A static (compile-time) value bound to a name: a generic def's keyword parameter (`axis`)."""

    value: Any
    span: Span | None = None


Value = Union[WireVal, Pending, TupleVal, StaticVal]
