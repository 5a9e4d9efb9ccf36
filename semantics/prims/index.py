"""Indexing and slicing rows: `index` (`x[1:, ::2, 0]`, `x[:, None]`) and its transpose `unindex`.

A slice of a constant axis has NumPy's length (bounds clamped). On a symbolic axis `x[1:]` of
`f64[n]` is `f64[n - 1]`, a strided slice is an opaque atom (`ceil(n/2)`), and constant bounds are
taken as within the axis (`x[0:3]` of f64[n] is f64[3], `x[1:100]` is f64[99]): a type that holds
for every n would be `min(n, 3)`, which no other wire could match. Binding a size where NumPy would
clamp the bounds instead (n = 2) is an InputError at the slice before the run (`slice_mismatch`,
used by semantics/validate.py `check_sizes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from semantics.errors import ShapeError, TypeCheckError
from semantics.primitives import ParamSpec, Primitive, register, tensor_arg
from semantics.types import Dim, TensorType, WireType, as_dim

ONE = Dim.const(1)


def _bound(k: int | None, n: Dim, default: Dim) -> Dim:
    """A slice bound relative to a dim: None -> default, negative counts from the end."""
    if k is None:
        return default
    if isinstance(k, Dim):  # a symbolic bound (internal rows) is taken as in range
        return k
    return n + k if k < 0 else Dim.const(k)


def _ceil_div(num: Dim, step: int) -> Dim:
    if num.is_const:
        return Dim.const(max(0, -(-num.value // step)))
    if all(c % step == 0 for _, c in num.terms):  # exact: ceil(2n / 2) = n
        return Dim(tuple((m, c // step) for m, c in num.terms))
    return Dim.ceil_div(num, step)


def _extent(n: Dim, lo: Any, hi: Any, step: int) -> tuple[Dim, int]:
    """(num, k): `lo:hi:step` over an axis of symbolic size n has ceil(num / k) elements when its bounds
    lie within the axis (the type's promise, checked when the dims are bound: `slice_mismatch`)."""
    if step > 0:
        return _bound(hi, n, n) - _bound(lo, n, Dim.const(0)), step
    return _bound(lo, n, n - 1) - _bound(hi, n, Dim.const(-1)), -step


def slice_length(n: Dim, lo: int | None, hi: int | None, step: int | None, x: TensorType) -> Dim:
    """The length of `lo:hi:step` over an axis of size n: NumPy's (bounds clamped) on a constant n; on a
    symbolic n the length when the bounds lie within the axis (`x[0:3]` of f64[n] is f64[3]), which
    the binding must then satisfy (`slice_mismatch`: n = 2 is an InputError at the slice)."""
    step = 1 if step is None else step
    if step == 0:
        raise TypeCheckError("slice step cannot be zero")
    lo, hi = (b.value if isinstance(b, Dim) and b.is_const else b for b in (lo, hi))
    if n.is_const and not isinstance(lo, Dim) and not isinstance(hi, Dim):  # NumPy clamps out-of-range bounds
        return Dim.const(len(range(*slice(lo, hi, step).indices(n.value))))
    return _ceil_div(*_extent(n, lo, hi, step))


def slice_mismatch(n: Dim, item: tuple[Any, ...], binding: Mapping[str, int]) -> tuple[int, int] | None:
    """(typed, actual) when the slice item ("slice", lo, hi, step) over an axis of symbolic size n has,
    under the binding, a length other than its type's: NumPy clamps bounds that fall outside the axis,
    the type took them as inside. None when they agree (or the size is opaque, or a bound symbolic).

    >>> slice_mismatch(Dim.sym("n"), ("slice", 0, 3, None), {"n": 2})
    (3, 2)
    >>> slice_mismatch(Dim.sym("n"), ("slice", 1, -1, None), {"n": 1})
    (-1, 0)
    >>> slice_mismatch(Dim.sym("n"), ("slice", 0, 3, None), {"n": 3}) is None
    True
    """
    _, lo, hi, step = item
    step = 1 if step is None else step
    if isinstance(lo, Dim) or isinstance(hi, Dim) or not n.atoms <= binding.keys():
        return None
    num, k = _extent(n, lo, hi, step)
    # as `_ceil_div` types it: a constant count never below 0, a count that depends on n as computed
    typed = max(0, -(-num.value // k)) if num.is_const else -(-num.evaluate(binding) // k)
    actual = len(range(*slice(lo, hi, step).indices(n.evaluate(binding))))
    return None if typed == actual else (typed, actual)


def _index_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    x = tensor_arg(ts[0], "index")
    spec = tuple(params["index"])
    used = sum(1 for item in spec if item[0] != "newaxis")
    if used > x.rank:
        raise ShapeError(f"too many indices for {x}: {used} given, rank {x.rank}")
    out: list[Dim] = []
    axis = 0
    for item in spec:
        if item[0] == "newaxis":
            out.append(ONE)
            continue
        n = x.shape[axis]
        if item[0] == "int":
            k = item[1]
            if n.is_const and not -n.value <= k < n.value:
                raise ShapeError(f"index {k} is out of range for axis {axis} of {x} (size {n})")
        else:
            out.append(slice_length(n, item[1], item[2], item[3], x))
        axis += 1
    return (x.with_shape((*out, *x.shape[axis:])),)


def numpy_index(spec: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    """The index spec as a Python indexing tuple of ints, slices and None."""
    def one(item: tuple[Any, ...]) -> Any:
        if item[0] == "int":
            return item[1]
        if item[0] == "slice":
            return slice(*item[1:4])
        return None

    return tuple(one(item) for item in spec)


FULL = ("slice", None, None, None)


def _index_transpose(types: Mapping[str, WireType], params: Mapping[str, Any], index: int = -1) -> str:
    """ct written into zeros of x's shape. Contiguous slices whose pad widths are known statically
    (any bounds on constant dims; on symbolic dims a non-negative start and a negative or open end)
    transpose to `pad`, which the NumPy emitter turns into an in-place slice update; every other form
    (integers, steps, new axes, bounds relative to a symbolic size) to `unindex`."""
    x = tensor_arg(types["x"], "index")
    spec = tuple(params["index"])
    widths = []
    if any(item[0] != "slice" or item[3] not in (None, 1) or any(isinstance(b, Dim) for b in item[1:3])
           for item in spec):
        return "unindex(ct, index, shape_x)"
    for item, n in zip(spec, x.shape):
        lo, hi = item[1], item[2]
        if n.is_const:
            start, stop, _ = slice(lo, hi).indices(n.value)
            widths.append((start, n.value - max(stop, start)))
        elif (lo is None or lo >= 0) and (hi is None or hi < 0):
            widths.append((lo or 0, -hi if hi is not None else 0))
        else:
            return "unindex(ct, index, shape_x)"
    widths += [(0, 0)] * (x.rank - len(spec))
    if all(w == (0, 0) for w in widths):
        return "ct"
    return f"pad(ct, ({', '.join(f'({lo}, {hi})' for lo, hi in widths)},))"


def _index_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> Any:
    return "index(x, bindex)", {"bindex": (FULL, *params["index"])}


def _unindex_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    x = tensor_arg(ts[0], "unindex")
    out = x.with_shape(tuple(as_dim(d) for d in params["shape"]))
    (picked,) = _index_rule((out,), params)
    if picked != x:
        raise ShapeError(f"unindex: {x} does not fit the index of {out} (the index picks {picked})")
    return (out,)


def _unindex_impl(xp: Any, params: Mapping[str, Any], x: Any) -> Any:
    out = xp.zeros(tuple(params["shape"]), dtype=x.dtype)
    out[numpy_index(params["index"])] = x
    return out


def _unindex_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> Any:
    return "unindex(x, bindex, bshape_out)", {"bindex": (FULL, *params["index"])}


register(
    Primitive("index", ("x", "index"), _index_rule, lambda xp, p, x: x[numpy_index(p["index"])], "shape",
              params=(ParamSpec("index", "index"),), jvp="index(dx, index)",
              transpose={"x": _index_transpose}, batch=_index_batch,
              doc="`x[1:, ::2, 0]`: the spec is a tuple of (\"int\", k), (\"slice\", lo, hi, step) and "
                  "(\"newaxis\",) items; missing trailing items take whole axes. The transpose writes ct "
                  "into zeros of x's shape (pad, or unindex), for every form on symbolic and constant dims",
              cost="movement",
              sympy=None,
              view=True,
              syntax="x[...]"),
    Primitive("unindex", ("x", "index", "shape"), _unindex_rule, _unindex_impl, "shape",
              params=(ParamSpec("index", "index"), ParamSpec("shape", "shape")), jvp="unindex(dx, index, shape)",
              transpose={"x": "index(ct, index)"}, batch=_unindex_batch,
              doc="internal: zeros of `shape` with x written at `index` (the transpose of indexing)",
              cost="movement",
              sympy=None,
              view=False),
)
