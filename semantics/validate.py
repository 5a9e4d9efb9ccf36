"""Checking runtime inputs against a signature before any work is done (LANGUAGE.md §9).

Shared by the interpreter and every compiled backend: each error names the parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from semantics.errors import InputError
from semantics.types import FROM_NUMPY, NUMPY_DTYPE, Dim, FunType, TensorType, WireType


def _describe(shape: Sequence[int], dtype: str) -> str:
    return f"{dtype}[{', '.join(map(str, shape))}]" if len(shape) else dtype


def bind_inputs(fname: str, dom: Sequence[WireType], names: Sequence[str], args: Sequence[Any]) -> dict[str, int]:
    """Check dtype, rank and dims of every argument; return the binding of symbolic dims to sizes.

    >>> bind_inputs("f", (TensorType("f64", (Dim.sym("n"),)),), ("x",), (np.zeros(3),))
    {'n': 3}
    """
    if len(args) != len(dom):
        raise InputError(f"{fname} takes {len(dom)} argument(s) ({', '.join(names)}), got {len(args)}")
    binding: dict[str, int] = {}
    for t, name, a in zip(dom, names, args):
        if isinstance(t, FunType):
            if not callable(a):
                raise InputError(f"argument '{name}' of {fname} must be a function ({t}), got {type(a).__name__}")
            continue
        bind_tensor(fname, t, name, a, binding)
    return binding


def array_dtype(a: Any) -> str | None:
    dt = getattr(a, "dtype", None)
    return FROM_NUMPY.get(str(dt)) if dt is not None else None


def bind_tensor(fname: str, t: TensorType, name: str, a: Any, binding: dict[str, int]) -> None:
    shape = getattr(a, "shape", None)
    if shape is None:
        if isinstance(a, (int, float, bool, np.number)) and not t.shape:
            return _check_python_scalar(fname, t, name, a)
        raise InputError(f"argument '{name}' of {fname} must be an array of type {t}, got {type(a).__name__}")
    dtype = array_dtype(a)
    if dtype != t.dtype:
        raise InputError(f"argument '{name}' of {fname} has dtype {getattr(a, 'dtype', '?')}, expected "
                         f"{NUMPY_DTYPE[t.dtype]} ({t}); convert it with .astype(np.{NUMPY_DTYPE[t.dtype]})")
    if len(shape) != t.rank:
        raise InputError(f"argument '{name}' of {fname} has rank {len(shape)} ({_describe(shape, dtype)}), "
                         f"expected rank {t.rank} ({t})")
    for axis, (d, size) in enumerate(zip(t.shape, shape)):
        _bind_dim(fname, name, t, axis, d, int(size), binding)


def _bind_dim(fname: str, name: str, t: TensorType, axis: int, d: Dim, size: int, binding: dict[str, int]) -> None:
    atoms = d.atoms
    if len(atoms) == 1 and d == Dim.sym(next(iter(atoms))):
        sym = next(iter(atoms))
        if sym in binding and binding[sym] != size:
            raise InputError(f"inconsistent dim {sym}: argument '{name}' of {fname} has {sym} = {size} "
                             f"(axis {axis} of {t}), but an earlier argument has {sym} = {binding[sym]}")
        binding[sym] = size
        return
    try:
        want = d.evaluate(binding)
    except KeyError:
        return  # a compound dim whose atoms are bound later; checked by the result shapes
    if want != size:
        raise InputError(f"argument '{name}' of {fname} has size {size} on axis {axis}, expected {d} = {want} ({t})")


def _check_python_scalar(fname: str, t: TensorType, name: str, a: Any) -> None:
    if t.dtype in ("f32", "f64") and isinstance(a, (bool, np.bool_)):
        raise InputError(f"argument '{name}' of {fname} must be a number ({t}), got a bool")
    if t.dtype in ("i32", "i64", "bool") and isinstance(a, (float, np.floating)):
        raise InputError(f"argument '{name}' of {fname} must be {t}, got the float {a}")


def as_arrays(dom: Sequence[WireType], args: Sequence[Any], xp: Any = np) -> list[Any]:
    """Python scalars become 0-d arrays of the declared dtype; arrays pass through untouched."""
    out = []
    for t, a in zip(dom, args):
        if isinstance(t, TensorType) and not hasattr(a, "shape"):
            a = xp.asarray(a, dtype=NUMPY_DTYPE[t.dtype])
        out.append(a)
    return out
