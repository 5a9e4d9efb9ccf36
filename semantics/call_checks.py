"""The checks of a call's arguments and of a def's return values, with their messages: a mismatch
in dtype or rank is a TypeCheckError, one in dims only a ShapeError; unknown names get a suggestion.

(Split from semantics/expressions.py, which elaborates the calls.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from grammar import ast
from grammar.errors import DslError, Span
from semantics.errors import ShapeError, TypeCheckError
from semantics.types import Dim, TensorType, WireType, unify
from semantics.values import TupleVal, Value, WireVal


def type_of(v: Value) -> str:
    return str(v.type) if isinstance(v, WireVal) else "tuple" if isinstance(v, TupleVal) else "number"


def dotted(e: ast.Expr) -> str:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Attr):
        return f"{dotted(e.value)}.{e.attr}"
    return "<expression>"


def same_kind(want: WireType, got: WireType) -> bool:
    """Same dtype and rank: a mismatch between them is about dims (a ShapeError)."""
    return isinstance(want, TensorType) and isinstance(got, TensorType) and want.dtype == got.dtype and want.rank == got.rank


def arg_mismatch(fname: str, pname: str, want: WireType, got: WireType, binding: Mapping[str, Dim],
                  span: Span | None) -> DslError:
    if same_kind(want, got):
        bound = ", ".join(f"{k} = {v}" for k, v in binding.items())
        return ShapeError(f"shape mismatch in argument '{pname}' of {fname}: expected {want}, got {got}"
                          + (f" (with {bound})" if bound else ""), span)
    return TypeCheckError(f"type mismatch in argument '{pname}' of {fname}: expected {want}, got {got}", span)


def suggest(name: str, candidates: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def check_return(values: Sequence[WireVal], declared: tuple[WireType, ...], binding: dict[str, Dim],
                 spans: Sequence[Span | None]) -> None:
    """Each returned wire must have its declared type (dims not fixed by the parameters are inferred)."""
    for i, (v, t, sp) in enumerate(zip(values, declared, spans)):
        if not unify(t, v.type, binding):
            what = f"return value {i + 1}" if len(declared) > 1 else "the return value"
            cls = ShapeError if same_kind(t, v.type) else TypeCheckError
            raise cls(f"{what} has type {v.type}, but the signature declares {t}", sp)
