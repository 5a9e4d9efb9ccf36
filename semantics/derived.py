"""Signatures of derived definitions (LANGUAGE.md §6), checked at load; the derivation itself is
done by `rewrite/` on first use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grammar.errors import Span
from semantics.errors import DerivativeError
from semantics.types import FLOAT_DTYPES, FunType, TensorType, WireType, flatten, type_str

DERIVED_OPS = ("grad", "value_and_grad", "vjp", "jvp", "hessian", "jacobian", "simplify")


def differentiable(t: WireType) -> bool:
    """Does a wire of type t carry a tangent? Float tensors, and functions with float values
    (LANGUAGE.md §7: their derivative is the functional derivative, a function of the same type).

    >>> from semantics.types import scalar
    >>> differentiable(scalar("f64")), differentiable(FunType(scalar("f64"), scalar("f64"))), differentiable(scalar("i32"))
    (True, True, False)
    """
    if isinstance(t, FunType):
        return all(isinstance(r, TensorType) and r.dtype in FLOAT_DTYPES for r in flatten(t.res))
    return isinstance(t, TensorType) and t.dtype in FLOAT_DTYPES


def resolve_wrt(op: str, fname: str, names: Sequence[str], dom: Sequence[WireType],
                wrt: Sequence[str] | None, span: Span | None) -> tuple[int, ...]:
    """Indices of the differentiated parameters: the named ones, or every float parameter."""
    if wrt is None:
        idx = tuple(i for i, t in enumerate(dom) if differentiable(t))
        if not idx and op != "simplify":
            raise DerivativeError(f"{op}({fname}): '{fname}' has no float parameter to differentiate", span)
        return idx
    out = []
    for w in wrt:
        if w not in names:
            raise DerivativeError(f"{op}({fname}, wrt={w}): '{fname}' has no parameter '{w}' "
                                  f"(parameters: {', '.join(names)})", span)
        i = list(names).index(w)
        if not differentiable(dom[i]):
            raise DerivativeError(f"{op}({fname}, wrt={w}): parameter '{w}' has type {dom[i]}; only float "
                                  "(f32/f64) tensors can be differentiated", span)
        out.append(i)
    return tuple(out)


def _scalar_output(op: str, fname: str, cod: Sequence[WireType], span: Span | None) -> TensorType:
    if len(cod) != 1 or not isinstance(cod[0], TensorType) or cod[0].shape or not differentiable(cod[0]):
        raise DerivativeError(
            f"{op} needs a scalar float output, but '{fname}' returns {type_str(tuple(cod))}; "
            "use vjp (or jacobian) for non-scalar outputs", span)
    return cod[0]


def derived_signature(op: str, fname: str, names: Sequence[str], dom: tuple[WireType, ...],
                      cod: tuple[WireType, ...], wrt: tuple[int, ...], span: Span | None
                      ) -> tuple[tuple[WireType, ...], tuple[WireType, ...], tuple[str, ...]]:
    """(inputs, outputs, parameter names) of `op(f, wrt=...)`."""
    grads = tuple(dom[i] for i in wrt)
    if op in ("grad", "value_and_grad", "hessian"):
        _scalar_output(op, fname, cod, span)
    if op == "grad":
        return dom, grads, tuple(names)
    if op == "value_and_grad":
        return dom, cod + grads, tuple(names)
    if op == "vjp":
        cts = tuple(f"ct{i}" if len(cod) > 1 else "ct" for i in range(len(cod)))
        return dom + cod, grads, tuple(names) + cts
    if op == "jvp":
        tans = tuple(f"d{names[i]}" for i in wrt)
        return dom + grads, cod + cod, tuple(names) + tans
    if op in ("hessian", "jacobian"):
        if len(wrt) != 1:
            raise DerivativeError(f"{op}({fname}) needs exactly one parameter in wrt=, got "
                                  f"{len(wrt)}", span)
        x = dom[wrt[0]]
        if not isinstance(x, TensorType):
            raise DerivativeError(f"{op}({fname}) needs a tensor parameter, but '{names[wrt[0]]}' is the function "
                                  f"{x}; for a second variation use jvp(grad({fname}, wrt={names[wrt[0]]}))", span)
        if op == "hessian":
            return dom, (TensorType(x.dtype, x.shape + x.shape),), tuple(names)
        if len(cod) != 1 or not isinstance(cod[0], TensorType):
            raise DerivativeError(f"jacobian({fname}) needs a single tensor output, got {type_str(cod)}", span)
        return dom, (TensorType(cod[0].dtype, cod[0].shape + x.shape),), tuple(names)
    if op == "simplify":
        return dom, cod, tuple(names)
    raise AssertionError(op)


def describe(op: str, target: str, wrt_names: Sequence[str], options: Sequence[tuple[str, Any]] = ()) -> str:
    args = [target]
    if wrt_names:
        args.append(f"wrt={wrt_names[0] if len(wrt_names) == 1 else '(' + ', '.join(wrt_names) + ')'}")
    args += [f"{k}={v}" for k, v in options]
    return f"{op}({', '.join(args)})"
