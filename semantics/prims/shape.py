"""Shape rows (reshape, broadcast_to, concat, stack, expand_dims, squeeze, pad, roll) and the
array constructors (zeros, ones, full, arange, linspace, eye); indexing and slicing are in
semantics/prims/index.py.

Shape rules work on symbolic dims: slicing `x[1:]` of `f64[n]` is `f64[n - 1]`, concatenating
`f64[n]` and `f64[m]` is `f64[m + n]`; a strided slice of a symbolic dim is an opaque atom
(`ceil(n/2)`, see semantics/prims/index.py). Every row also has its batching rule (the vmap of a
linear use, for jacobian/hessian).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from semantics.errors import ShapeError, TypeCheckError
from semantics.primitives import (
    ParamSpec,
    Primitive,
    lift,
    normalize_axes,
    rank_of,
    register,
    same_dtype,
    tensor_arg,
)
from semantics.types import DTYPES, NUMPY_DTYPE, Dim, TensorType, WireType, as_dim

ONE = Dim.const(1)


def _shape_str(shape: tuple[Dim, ...]) -> str:
    return f"[{', '.join(map(str, shape))}]"


def numel(shape: tuple[Dim, ...]) -> Dim:
    total = ONE
    for d in shape:
        total = total * d
    return total


def _axis(axis: int, rank: int, prim: str) -> int:
    """One axis in range(rank), negative counting from the end."""
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for {prim} (valid: {-rank} to {rank - 1})")
    return axis % rank


# ---------------------------------------------------------------- reshape, broadcast_to


def reshape_to(expr: str, x: WireType) -> str:
    """A DSL expression reshaping `expr` to the shape of x."""
    shape = tensor_arg(x, "reshape").shape
    return f"reshape({expr}, ({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}))"



def _divide(total: Dim, k: int, x: TensorType, shape: tuple[Dim, ...]) -> Dim:
    """total / k for the one -1 of a reshape: exact when every coefficient divides, else an atom."""
    if k != 0 and all(c % k == 0 for _, c in total.terms):
        return Dim(tuple((m, c // k) for m, c in total.terms))
    if total.is_const or k == 0:
        raise ShapeError(f"cannot reshape {x} to {_shape_str(shape)} ({total} elements)")
    return Dim.sym(f"({total})/{k}")


def _reshape_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    x = tensor_arg(ts[0], "reshape")
    shape = tuple(as_dim(d) for d in params["shape"])
    free = [i for i, d in enumerate(shape) if d == Dim.const(-1)]
    if len(free) > 1:
        raise ShapeError(f"reshape to {_shape_str(shape)}: at most one dim may be -1")
    if free:
        rest = [d for i, d in enumerate(shape) if i != free[0]]
        if not all(d.is_const for d in rest):
            raise ShapeError(f"reshape to {_shape_str(shape)}: -1 is only allowed when the other dims are constant")
        k = numel(tuple(rest)).value
        shape = (*shape[:free[0]], _divide(numel(x.shape), k, x, shape), *shape[free[0] + 1:])
    if any(d.is_const and d.value < 0 for d in shape):
        raise ShapeError(f"reshape to {_shape_str(shape)}: negative dim")
    if not free and numel(shape) != numel(x.shape):
        raise ShapeError(f"cannot reshape {x} to {_shape_str(shape)} ({numel(x.shape)} ≠ {numel(shape)} elements)")
    return (x.with_shape(shape),)


def check_broadcast_to(x: TensorType, shape: tuple[Dim, ...], prim: str) -> None:
    """`x` broadcasts to `shape` by NumPy's rules (leading axes added, 1s stretched)."""
    if x.rank > len(shape):
        raise ShapeError(f"{prim} cannot broadcast {x} to the lower-rank shape {_shape_str(shape)}")
    for d, s in zip(x.shape, shape[len(shape) - x.rank:]):
        if d != s and d != ONE:
            raise ShapeError(f"{prim}: {x} does not broadcast to {_shape_str(shape)} ({d} ≠ {s})")


def _broadcast_to_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    x = tensor_arg(ts[0], "broadcast_to")
    shape = tuple(as_dim(d) for d in params["shape"])
    check_broadcast_to(x, shape, "broadcast_to")
    return (x.with_shape(shape),)


SHAPE_PARAM = (ParamSpec("shape", "shape"),)


def _broadcast_to_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> str:
    return f"broadcast_to({lift('x', rank_of(types['out']) - rank_of(types['x']))}, bshape_out)"


register(
    Primitive("reshape", ("x", "shape"), _reshape_rule, lambda xp, p, x: xp.reshape(x, tuple(p["shape"])), "shape",
              params=SHAPE_PARAM, jvp="reshape(dx, shape)", batch=lambda types, params, b: "reshape(x, bshape_out)",
              transpose={"x": lambda types, params, i: reshape_to("ct", types["x"])},
              doc="reshape to `shape` (one dim may be -1 when the others are constant); the transpose reshapes "
                  "back to x's shape, naming its dims (the template's scope must bind symbolic ones)",
              cost="movement",
              sympy=None,
              view=True),
    Primitive("broadcast_to", ("x", "shape"), _broadcast_to_rule,
              lambda xp, p, x: xp.broadcast_to(x, tuple(p["shape"])), "shape",
              params=SHAPE_PARAM, jvp="broadcast_to(dx, shape)", transpose={"x": "ct"}, batch=_broadcast_to_batch,
              doc="NumPy broadcast to `shape`; the transpose `ct` is summed back to x (sum_to) by the "
                  "derivatives stage",
              cost="movement",
              sympy=None,
              view=True),
)


# ---------------------------------------------------------------- concat, stack, expand_dims, squeeze


def _joined_args(ts: tuple[WireType, ...], prim: str) -> tuple[list[TensorType], str]:
    if not ts:
        raise TypeCheckError(f"{prim} needs at least one tensor")
    xs = [tensor_arg(t, prim) for t in ts]
    dtype = same_dtype(xs, prim)
    if len({x.rank for x in xs}) > 1:
        raise ShapeError(f"{prim} needs operands of one rank, got {', '.join(map(str, xs))}")
    return xs, dtype


def _concat_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    xs, dtype = _joined_args(ts, "concat")
    if xs[0].rank == 0:
        raise ShapeError("concat cannot join scalars (use stack)")
    axis = _axis(params.get("axis", 0), xs[0].rank, "concat")
    for x in xs[1:]:
        for i, (a, b) in enumerate(zip(xs[0].shape, x.shape)):
            if i != axis and a != b:
                raise ShapeError(f"concat along axis {axis}: {xs[0]} and {x} differ in axis {i} ({a} ≠ {b})")
    total = Dim.const(0)
    for x in xs:
        total = total + x.shape[axis]
    shape = list(xs[0].shape)
    shape[axis] = total
    return (TensorType(dtype, tuple(shape)),)


def _stack_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    xs, dtype = _joined_args(ts, "stack")
    for x in xs[1:]:
        if x.shape != xs[0].shape:
            raise ShapeError(f"stack needs operands of one shape, got {xs[0]} and {x}")
    axis = _axis(params.get("axis", 0), xs[0].rank + 1, "stack")
    shape = list(xs[0].shape)
    shape.insert(axis, Dim.const(len(xs)))
    return (TensorType(dtype, tuple(shape)),)


def _expand_dims_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    x = tensor_arg(ts[0], "expand_dims")
    axis = _axis(params["axis"], x.rank + 1, "expand_dims")
    return (x.with_shape((*x.shape[:axis], ONE, *x.shape[axis:])),)


def squeezed_axes(x: TensorType, axis: Any) -> tuple[int, ...]:
    """The axes squeeze removes: the given ones (each must be 1) or every constant-1 axis."""
    if axis is None:
        return tuple(i for i, d in enumerate(x.shape) if d == ONE)
    axes = normalize_axes(axis, x.rank, "squeeze")
    for i in axes:
        if x.shape[i] != ONE:
            why = "is not known to be 1" if not x.shape[i].is_const else "is not 1"
            raise ShapeError(f"squeeze: axis {i} of {x} has size {x.shape[i]}, which {why}")
    return axes


def _squeeze_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    x = tensor_arg(ts[0], "squeeze")
    axes = squeezed_axes(x, params.get("axis"))
    return (x.with_shape(tuple(d for i, d in enumerate(x.shape) if i not in axes)),)


def _squeeze_impl(xp: Any, params: Mapping[str, Any], x: Any) -> Any:
    axis = params.get("axis")
    if axis is None:
        axis = tuple(i for i, d in enumerate(x.shape) if d == 1)
    return xp.squeeze(x, axis=axis)


def _ints(ds: list[Dim]) -> int | None:
    """The sum of constant dims, or None when one is symbolic."""
    return sum(d.value for d in ds) if all(d.is_const for d in ds) else None


def _operands(types: Mapping[str, WireType], prim: str) -> list[TensorType]:
    return [tensor_arg(types[f"x{k}"], prim) for k in range(len(types)) if f"x{k}" in types]


def _concat_transpose(types: Mapping[str, WireType], params: Mapping[str, Any], index: int = -1) -> str:
    """Operand `index`'s cotangent: its slice of ct along `axis` (offsets from the operands' sizes)."""
    xs = _operands(types, "concat")
    axis = _axis(params.get("axis", 0), xs[0].rank, "concat")
    sizes = [x.shape[axis] for x in xs]
    before, own_after, after = _ints(sizes[:index]), _ints(sizes[index:]), _ints(sizes[index + 1:])
    lo = str(before) if before is not None else None if own_after is None else str(-own_after)
    own = _ints(sizes[index:index + 1])
    hi = "" if after == 0 else str(-after) if after is not None else (
        None if before is None or own is None else str(before + own))
    if lo is None or hi is None:  # offsets symbolic from both ends: dim bounds (`ct[n:2 * n]`)
        start = sum(sizes[:index], Dim.const(0))
        lo, hi = str(start), str(start + sizes[index])
    return "ct[" + ":, " * axis + f"{lo}:{hi}]"


def _stack_transpose(types: Mapping[str, WireType], params: Mapping[str, Any], index: int = -1) -> str:
    xs = _operands(types, "stack")
    axis = _axis(params.get("axis", 0), xs[0].rank + 1, "stack")
    return "ct[" + ":, " * axis + f"{index}]"


def _joined_batch(name: str) -> Any:
    """Unbatched operands are broadcast along the batch axis; the joining axis moves by one."""

    def rule(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> Any:
        names = [f"x{i}" for i in range(len(types)) if f"x{i}" in types]
        items = [n if n in batched else f"broadcast_to({n}, bshape_{n})" for n in names]
        axis = params.get("axis", 0)
        return f"{name}(({', '.join(items)},), axis=baxis)", {"baxis": axis + 1 if axis >= 0 else axis}

    return rule


def _moved_axis(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> Any:
    axis = params["axis"]
    return "expand_dims(x, baxis)", {"baxis": axis + 1 if axis >= 0 else axis}


def _squeeze_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> Any:
    axes = squeezed_axes(tensor_arg(types["x"], "squeeze"), params.get("axis"))
    return "squeeze(x, axis=baxis)", {"baxis": tuple(a + 1 for a in axes)}


register(
    Primitive("concat", ("*xs", "axis"), _concat_rule, lambda xp, p, *xs: xp.concatenate(xs, axis=p.get("axis", 0)),
              "shape", params=(ParamSpec("axis", "int", 0),), jvp="concat(dxs, axis=axis)",
              transpose={"xs": _concat_transpose}, batch=_joined_batch("concat"),
              doc="join tensors along an existing axis: `concat((a, b), axis=0)`. The transpose slices ct (with dim "
                  "bounds, `ct[n:2 * n]`, when an operand's offset is symbolic from both ends)",
              cost="movement",
              sympy=None,
              view=False),
    Primitive("stack", ("*xs", "axis"), _stack_rule, lambda xp, p, *xs: xp.stack(xs, axis=p.get("axis", 0)),
              "shape", params=(ParamSpec("axis", "int", 0),), jvp="stack(dxs, axis=axis)",
              transpose={"xs": _stack_transpose}, batch=_joined_batch("stack"),
              doc="join tensors of one shape along a new axis; operand i's cotangent is ct[..., i, ...]",
              cost="movement",
              sympy=None,
              view=False),
    Primitive("expand_dims", ("x", "axis"), _expand_dims_rule, lambda xp, p, x: xp.expand_dims(x, p["axis"]),
              "shape", params=(ParamSpec("axis", "int"),), jvp="expand_dims(dx, axis)",
              transpose={"x": "squeeze(ct, axis=axis)"}, batch=_moved_axis,
              doc="insert a size-1 axis at `axis` (an axis of the result)",
              cost="movement",
              sympy=None,
              view=True),
    Primitive("squeeze", ("x", "axis"), _squeeze_rule, _squeeze_impl, "shape",
              params=(ParamSpec("axis", "axis", None),), jvp="squeeze(dx, axis=axis)",
              transpose={"x": lambda types, params, i: reshape_to("ct", types["x"])}, batch=_squeeze_batch,
              doc="remove size-1 axes (default: every axis of constant size 1)",
              cost="movement",
              sympy=None,
              view=True),
)


# ---------------------------------------------------------------- pad, roll


def pad_widths(width: Any, rank: int, x: TensorType) -> tuple[tuple[int, int], ...]:
    """The `pad` parameter as one (lo, hi) pair per axis (a single pair applies to every axis)."""
    width = tuple(width)
    if len(width) == 2 and all(isinstance(w, int) for w in width):
        pairs = ((int(width[0]), int(width[1])),) * rank
    else:
        pairs = tuple((int(lo), int(hi)) for lo, hi in width)
        if len(pairs) != rank:
            raise ShapeError(f"pad of {x} needs one (lo, hi) pair per axis ({rank}), got {len(pairs)}")
    if any(w < 0 for p in pairs for w in p):
        raise TypeCheckError(f"pad widths must be non-negative, got {width}")
    return pairs


def _pad_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    x = tensor_arg(ts[0], "pad")
    pairs = pad_widths(params["width"], x.rank, x)
    return (x.with_shape(tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, pairs))),)


def _pad_impl(xp: Any, params: Mapping[str, Any], x: Any) -> Any:
    return xp.pad(x, pad_widths(params["width"], x.ndim, TensorType("f64")))


def _pad_transpose(types: Mapping[str, WireType], params: Mapping[str, Any], index: int = -1) -> str:
    x = tensor_arg(types["x"], "pad")
    pairs = pad_widths(params["width"], x.rank, x)
    if not pairs:
        return "ct"
    return "ct[" + ", ".join(f"{lo}:{-hi if hi else ''}" for lo, hi in pairs) + "]"


def _pad_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> Any:
    x = tensor_arg(types["x"], "pad")
    return "pad(x, bwidth)", {"bwidth": ((0, 0), *pad_widths(params["width"], x.rank, x))}


def _roll_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> Any:
    """With an axis, shift it by one; without (the flattened array), roll each flattened batch row."""
    x = tensor_arg(types["x"], "roll")
    if params.get("axis") is not None:
        return "roll(x, shift, axis=baxis)", {"baxis": tuple(a + 1 for a in normalize_axes(params["axis"], x.rank, "roll"))}
    return "reshape(roll(reshape(x, bflat_x), shift, axis=1), bshape_out)"


def _roll_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    x = tensor_arg(ts[0], "roll")
    if params.get("axis") is not None:
        normalize_axes(params["axis"], x.rank, "roll")
    return (x,)


register(
    Primitive("pad", ("x", "width"), _pad_rule, _pad_impl, "shape", params=(ParamSpec("width", "pad"),),
              jvp="pad(dx, width)", transpose={"x": _pad_transpose}, batch=_pad_batch,
              doc="zero padding: `pad(x, (lo, hi))` pads every axis, `pad(x, ((lo0, hi0), (lo1, hi1)))` each axis; "
                  "the transpose slices the padding off",
              cost="movement",
              sympy=None,
              view=False),
    Primitive("roll", ("x", "shift", "axis"), _roll_rule,
              lambda xp, p, x: xp.roll(x, p["shift"], axis=p.get("axis")), "shape",
              params=(ParamSpec("shift", "int"), ParamSpec("axis", "axis", None)),
              jvp="roll(dx, shift, axis=axis)", transpose={"x": "roll(ct, -shift, axis=axis)"}, batch=_roll_batch,
              doc="rotate elements by `shift` along `axis` (default: the flattened array), as numpy.roll",
              cost="movement",
              sympy=None,
              view=False),
)


# ---------------------------------------------------------------- constructors


def _dtype(params: Mapping[str, Any], prim: str) -> str:
    dtype = params.get("dtype", "f64")
    if dtype not in DTYPES:
        raise TypeCheckError(f"{prim}: unknown dtype {dtype} (one of {', '.join(DTYPES)})")
    return str(dtype)


def _size(d: Dim | int, prim: str) -> Dim:
    d = as_dim(d)
    if d.is_const and d.value < 0:
        raise ShapeError(f"{prim}: negative size {d}")
    return d


def _filled_rule(name: str) -> Any:
    def rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
        return (TensorType(_dtype(params, name), tuple(_size(d, name) for d in params["shape"])),)

    return rule


def _sized_rule(name: str, square: bool) -> Any:
    def rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
        n = _size(params["n" if "n" in params else "num"], name)
        return (TensorType(_dtype(params, name), (n, n) if square else (n,)),)

    return rule


def _np_dtype(params: Mapping[str, Any]) -> str:
    return NUMPY_DTYPE[params.get("dtype", "f64")]


def _const_row(name: str, args: tuple[str, ...], params: tuple[ParamSpec, ...], rule: Any, impl: Any,
               doc: str) -> Primitive:
    return Primitive(name, args, rule, impl, "constructor", params=params, jvp="0", doc=doc,
                     cost="movement",  # no arithmetic: the bytes written
                     sympy=None,
                     view=False)


DTYPE_F64 = ParamSpec("dtype", "dtype", "f64")

register(
    _const_row("zeros", ("shape", "dtype"), (*SHAPE_PARAM, DTYPE_F64), _filled_rule("zeros"),
               lambda xp, p: xp.zeros(tuple(p["shape"]), dtype=_np_dtype(p)), "an array of zeros"),
    _const_row("ones", ("shape", "dtype"), (*SHAPE_PARAM, DTYPE_F64), _filled_rule("ones"),
               lambda xp, p: xp.ones(tuple(p["shape"]), dtype=_np_dtype(p)), "an array of ones"),
    _const_row("full", ("shape", "value", "dtype"), (*SHAPE_PARAM, ParamSpec("value", "value"), DTYPE_F64),
               _filled_rule("full"), lambda xp, p: xp.full(tuple(p["shape"]), p["value"], dtype=_np_dtype(p)),
               "an array filled with `value`"),
    _const_row("arange", ("n", "dtype"), (ParamSpec("n", "dim"), ParamSpec("dtype", "dtype", "i64")),
               _sized_rule("arange", False), lambda xp, p: xp.arange(p["n"], dtype=_np_dtype(p)),
               "0, 1, ..., n - 1"),
    _const_row("linspace", ("start", "stop", "num", "dtype"),
               (ParamSpec("start", "value"), ParamSpec("stop", "value"), ParamSpec("num", "dim"), DTYPE_F64),
               _sized_rule("linspace", False),
               lambda xp, p: xp.linspace(p["start"], p["stop"], p["num"], dtype=_np_dtype(p)),
               "`num` evenly spaced values from start to stop, both included"),
    _const_row("eye", ("n", "dtype"), (ParamSpec("n", "dim"), DTYPE_F64), _sized_rule("eye", True),
               lambda xp, p: xp.eye(p["n"], dtype=_np_dtype(p)), "the n × n identity matrix"),
)
