"""The few helpers generated NumPy code imports: choosing the array namespace, and what no array
namespace spells the same way (erf, checking a generator's results).

Generated code never calls `numpy` directly: it calls `xp.<function>`, where `xp` is the module of
its argument arrays, so the same code runs on NumPy, CuPy and (lazily, without computing) Dask.

>>> import numpy as np
>>> array_namespace(np.zeros(2), 1.0).__name__
'numpy'
>>> float(erf(np, np.asarray(0.5)))  # doctest: +ELLIPSIS
0.5204998778...
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from semantics.errors import InputError
from semantics.fnvalues import call_function
from semantics.prims.functional import gauss_legendre

# Re-exported for generated code: function values are called, and quadrature rules built (once per
# region, cached), by the same helpers the interpreter uses.
__all__ = ["array_namespace", "box_outputs", "call_function", "dask_arguments", "erf", "fdiv", "gauss_legendre",
           "logsumexp", "unindex"]


def array_namespace(*arrays: Any) -> Any:
    """The array module of the arguments: `dask.array` if any is a Dask array (it absorbs NumPy
    arrays), `cupy` if any is a CuPy array, otherwise `numpy` (also for Python scalars)."""
    found = None
    for a in arrays:
        module = type(a).__module__.split(".")[0]
        if module == "dask":
            import dask.array

            return dask.array
        if module == "cupy" and found is None:
            import cupy

            found = cupy
    return found if found is not None else np


def dask_arguments(da: Any, arrays: Sequence[Any]) -> list[Any]:
    """The arguments of a generated function about to run on Dask, as new `dask.array.Array` objects.

    Generated code writes into dead temporaries (`xp.exp(t0, out=t0)`, `t0 += b`); on Dask that
    rebinds the graph of the Array *object* it is given. So NumPy arguments become one-chunk Dask
    arrays (a NumPy temporary cannot take a Dask result in place), and Dask arguments are wrapped
    anew (same graph and chunks, nothing copied): the caller's objects are never changed.
    """
    return [da.Array(a.dask, a.name, a.chunks, meta=a) if isinstance(a, da.Array) else da.asarray(a) for a in arrays]


_erf_object = np.frompyfunc(math.erf, 1, 1)


def _numpy_erf(x: Any) -> Any:
    # The reference meaning (math.erf per element), so compiled and interpreted results agree exactly.
    x = np.asarray(x)
    return np.asarray(_erf_object(x), dtype=x.dtype)


def erf(xp: Any, x: Any) -> Any:
    """The error function on any namespace (NumPy itself has none)."""
    name = getattr(xp, "__name__", "")
    if name == "cupy":
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(x)
    if name == "dask.array":
        return x.map_blocks(_numpy_erf, dtype=x.dtype)
    return _numpy_erf(x)


def box_outputs(xp: Any, name: str, result: Any, types: Sequence[tuple[str, int, str]]) -> tuple[Any, ...]:
    """A generator box's results as arrays of their declared dtypes, as the interpreter converts them.
    `types` holds (NumPy dtype, rank, type text) per output."""
    outs = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(outs) != len(types):
        raise InputError(f"box '{name}' returned {len(outs)} value(s), its type has {len(types)}")
    typed = []
    for value, (dtype, rank, text) in zip(outs, types):
        arr = xp.asarray(value)
        if str(arr.dtype) != dtype:
            arr = arr.astype(dtype)
        if len(arr.shape) != rank:
            raise InputError(f"box '{name}' produced rank {len(arr.shape)}, its type is {text}")
        typed.append(arr)
    return tuple(typed)


def fdiv(a: float, b: float) -> float:
    """`a / b` of Python numbers with IEEE results where Python raises: a nonzero a over a zero b is a
    signed inf, 0/0 (or nan) is nan. Used by scalar constants folded at compile time (`1.0 / B`).

    >>> fdiv(1.0, 4), fdiv(1.0, 0), fdiv(-2.0, -0.0), fdiv(0.0, 0)
    (0.25, inf, inf, nan)
    """
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def logsumexp(xp: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """log(sum(exp(x))) without overflow: the maximum is subtracted first (and -inf rows stay -inf)."""
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else xp.squeeze(out, axis=axis)


def unindex(xp: Any, x: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    """Zeros of `shape` with `x` written at `index` (the transpose of indexing)."""
    out = xp.zeros(shape, dtype=x.dtype)
    out[index] = x
    return out
