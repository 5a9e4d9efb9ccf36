"""The NumPy lowering table: how each primitive is written as source over an array namespace `xp`.

One entry per row of `semantics.primitives.PRIMITIVES`, keyed by name (a test fails when one is
missing). An entry is a template over the wire arguments and static parameters, by the names the
primitive row declares (`{x}`, `{y}`, `{axis}`...), already rendered as source, or a function of a
`Call` for the few that need logic. Elementwise entries also give an `out=` form, used when the
schedule decides the result may overwrite a dead argument's buffer (`aug` is the augmented
assignment operator used when that argument is the first one: `t0 += b1`).

Only namespace functions that NumPy, CuPy and Dask all provide are used (`xp.absolute`, not
`xp.abs`), so the generated code runs on all three.

>>> LOWERINGS["sin"].render(Call(("t0",), {"x": "t0"}, {}, {}, ("float64",), "float64"))
'xp.sin(t0)'
>>> LOWERINGS["add"].render_out(Call(("t0", "b1"), {"x": "t0", "y": "b1"}, {}, {}, ("float32",) * 2, "float32"), "t0")
't0 += b1'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from semantics.diagram import Box
from semantics.types import INT_DTYPES, NUMPY_DTYPE, WireType


@dataclass(frozen=True)
class Call:
    """What a lowering sees: argument sources in order and by argument name (a variadic argument is
    one tuple source), static parameters as source and as values, and the NumPy dtypes involved."""

    args: tuple[str, ...]
    named: Mapping[str, str]
    params: Mapping[str, str]
    raw: Mapping[str, Any]
    in_dtypes: tuple[str, ...]
    out_dtype: str
    in_ranks: tuple[int, ...] = ()
    source: Callable[[Any], str] = repr  # renders any static value (dims included) as source


Render = Callable[[Call], str]


@dataclass(frozen=True)
class Lowering:
    """`expr`: the expression (template or function); `out`: the same written into `{out}`; `alias`:
    the result *is* the argument (no statement); `result_dtype`: the dtype NumPy actually produces
    when it differs from the declared one (the emitter then appends `.astype`)."""

    expr: str | Render
    out: str | None = None
    aug: str | None = None
    alias: bool = False
    result_dtype: Callable[[Call], str] | None = None
    helpers: tuple[str, ...] = ()
    commutative: bool = False

    def render(self, call: Call) -> str:
        if callable(self.expr):
            return self.expr(call)
        return self.expr.format(**call.named, **call.params)

    def render_out(self, call: Call, out: str) -> str:
        assert self.out is not None
        if self.aug is not None and call.args and call.args[0] == out:
            return f"{out} {self.aug} {call.args[1]}"
        if self.aug is not None and self.commutative and len(call.args) == 2 and call.args[1] == out:
            return f"{out} {self.aug} {call.args[0]}"  # x + t == t + x exactly (IEEE + and * commute)
        return self.out.format(**call.named, **call.params, out=out)

    def drifts(self, call: Call) -> bool:
        """Whether NumPy's result dtype differs from the declared one (then no `out=`, and a cast)."""
        return self.result_dtype is not None and self.result_dtype(call) != call.out_dtype


INT_NUMPY = tuple(NUMPY_DTYPE[d] for d in INT_DTYPES)


def _ufunc(fn: str) -> Lowering:
    return Lowering(f"xp.{fn}({{x}})", f"xp.{fn}({{x}}, out={{out}})")


def _int_true_divide(call: Call) -> str:
    # NumPy's `/` on integers is true division (float64); the reference then casts back.
    return "float64" if call.in_dtypes[0] in INT_NUMPY else call.out_dtype


def _int_accumulate(call: Call) -> str:
    # NumPy sums and products of small integers and bools accumulate in int64.
    return "int64" if call.in_dtypes[0] in ("int32", "int64", "bool") else call.out_dtype


def _int_mean(call: Call) -> str:
    return "float64" if call.in_dtypes[0] in (*INT_NUMPY, "bool") else call.out_dtype


LOWERINGS: dict[str, Lowering] = {
    # ---------------------------------------------------------------- unary
    "neg": Lowering("-{x}", "xp.negative({x}, out={out})"),
    "exp": _ufunc("exp"),
    "log": _ufunc("log"),
    "log1p": _ufunc("log1p"),
    "expm1": _ufunc("expm1"),
    "sqrt": _ufunc("sqrt"),
    "rsqrt": Lowering("1 / xp.sqrt({x})", "xp.divide(1, xp.sqrt({x}), out={out})"),
    "abs": _ufunc("absolute"),
    "sign": _ufunc("sign"),
    "sin": _ufunc("sin"),
    "cos": _ufunc("cos"),
    "tan": _ufunc("tan"),
    "tanh": _ufunc("tanh"),
    "sinh": _ufunc("sinh"),
    "cosh": _ufunc("cosh"),
    "arcsin": _ufunc("arcsin"),
    "arccos": _ufunc("arccos"),
    "arctan": _ufunc("arctan"),
    # exp(-softplus(-x)) never overflows, unlike 1 / (1 + exp(-x)); the same formula as the reference.
    "sigmoid": Lowering("xp.exp(-xp.logaddexp(0, -{x}))", "xp.exp(-xp.logaddexp(0, -{x}), out={out})"),
    "relu": Lowering("xp.maximum({x}, 0)", "xp.maximum({x}, 0, out={out})"),
    "softplus": Lowering("xp.logaddexp(0, {x})", "xp.logaddexp(0, {x}, out={out})"),
    "erf": Lowering("erf(xp, {x})", helpers=("erf",)),
    "square": _ufunc("square"),
    "reciprocal": _ufunc("reciprocal"),
    "floor": _ufunc("floor"),
    "cast": Lowering(lambda c: f"{c.args[0]}.copy()" if c.in_dtypes[0] == c.out_dtype else
                     f"{c.args[0]}.astype({c.params['dtype']})"),
    "stop_gradient": Lowering("{x}", alias=True),
    # ---------------------------------------------------------------- binary
    "add": Lowering("{x} + {y}", "xp.add({x}, {y}, out={out})", "+=", commutative=True),
    "sub": Lowering("{x} - {y}", "xp.subtract({x}, {y}, out={out})", "-="),
    "mul": Lowering("{x} * {y}", "xp.multiply({x}, {y}, out={out})", "*=", commutative=True),
    "div": Lowering("{x} / {y}", "xp.divide({x}, {y}, out={out})", "/=", result_dtype=_int_true_divide),
    "pow": Lowering("{x} ** {y}", "xp.power({x}, {y}, out={out})", "**="),
    "maximum": Lowering("xp.maximum({x}, {y})", "xp.maximum({x}, {y}, out={out})"),
    "minimum": Lowering("xp.minimum({x}, {y})", "xp.minimum({x}, {y}, out={out})"),
    "atan2": Lowering("xp.arctan2({x}, {y})", "xp.arctan2({x}, {y}, out={out})"),
    "eq": Lowering("{x} == {y}", "xp.equal({x}, {y}, out={out})"),
    "ne": Lowering("{x} != {y}", "xp.not_equal({x}, {y}, out={out})"),
    "lt": Lowering("{x} < {y}", "xp.less({x}, {y}, out={out})"),
    "le": Lowering("{x} <= {y}", "xp.less_equal({x}, {y}, out={out})"),
    "gt": Lowering("{x} > {y}", "xp.greater({x}, {y}, out={out})"),
    "ge": Lowering("{x} >= {y}", "xp.greater_equal({x}, {y}, out={out})"),
    "where": Lowering("xp.where({c}, {x}, {y})"),
    # ---------------------------------------------------------------- scalar constants
    # The typed form, hoisted to the top of the function; the emitter writes a plain Python number
    # instead wherever NumPy's weak-scalar rule keeps the other operand's dtype (`t0 * 0.5`).
    "const": Lowering("xp.asarray({value}, dtype={dtype})"),
    "dimsize": Lowering("xp.asarray({dim}, dtype={dtype})"),
}


# ---------------------------------------------------------------- reductions, linear algebra, shape
# Written against LANGUAGE.md §4 while those rows were being added to the primitive table; the
# parametrised tests check each one against the interpreter as soon as its row exists.


def _axis_kw(call: Call) -> str:
    parts = []
    if call.raw.get("axis") is not None:
        parts.append(f", axis={call.params['axis']}")
    if call.raw.get("keepdims"):
        parts.append(", keepdims=True")
    return "".join(parts)


def _reduce(fn: str, result_dtype: Callable[[Call], str] | None = None) -> Lowering:
    return Lowering(lambda c: f"xp.{fn}({c.args[0]}{_axis_kw(c)})", result_dtype=result_dtype)


def _index_parts(call: Call, spell_slice: Callable[[list[str | None]], str]) -> list[str]:
    """The items of the index spec, ("slice", lo, hi, step), ("int", k) and ("newaxis",), as source
    text; a slice is spelled by `spell_slice` from its bounds (None where absent)."""
    items = []
    for item in call.raw["index"]:
        if item[0] == "int":
            items.append(call.source(item[1]))
        elif item[0] == "newaxis":
            items.append("None")
        else:
            items.append(spell_slice([None if v is None else call.source(v) for v in item[1:4]]))
    return items


def _colon_slice(bounds: list[str | None]) -> str:
    lo, hi, step = (b or "" for b in bounds)
    return f"{lo}:{hi}" + (f":{step}" if step else "")


def _index_items(call: Call) -> str:
    """The subscript of the index spec: `x[1:n:2, None, 0]`."""
    return ", ".join(_index_parts(call, _colon_slice)) or "()"


def _index(call: Call) -> str:
    return f"{call.args[0]}[{_index_items(call)}]"


def _unindex(call: Call) -> str:
    # Zeros of `shape` with x written at the index: a statement in NumPy, so a runtime helper.
    return f"unindex(xp, {call.args[0]}, ({_slice_objects(call)}), {call.params['shape']})"


def _slice_objects(call: Call) -> str:
    """The index spec as a tuple's items of slice objects: `slice(1, n, 2), None, 0`."""
    items = _index_parts(call, lambda bounds: "slice(" + ", ".join(b or "None" for b in bounds) + ")")
    return ", ".join(items) + ("," if len(items) == 1 else "")


def _pad(call: Call) -> str:
    width = call.raw["width"]
    rank = call.in_ranks[0]
    widths = tuple(width) if width and isinstance(width[0], tuple) else (tuple(width),) * rank
    return f"xp.pad({call.args[0]}, {widths!r})"


def _transpose(call: Call) -> str:
    axes = call.raw.get("axes")
    return f"xp.transpose({call.args[0]})" if axes is None else f"xp.transpose({call.args[0]}, {call.params['axes']})"


def _sum_to_axes(call: Call) -> tuple[int, ...]:
    # The reference sums the leading axes and those where the target has size 1 (summing an axis
    # that is already of size 1 changes nothing, so the static choice agrees with its runtime test).
    shape = call.raw["shape"]
    lead = call.in_ranks[0] - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if getattr(d, "is_const", False) and d.value == 1)


def _sum_to(call: Call) -> str:
    """One reduction: leading axes are summed away, axes where the target is 1 summed with keepdims;
    only when both happen is the (one-pass) keepdims sum reshaped, a view."""
    axes = _sum_to_axes(call)
    lead = call.in_ranks[0] - len(call.raw["shape"])
    x = call.args[0]
    if not axes:
        return f"xp.reshape({x}, {call.params['shape']})"
    if axes == tuple(range(lead)):
        return f"xp.sum({x}, axis={axes!r})"
    if lead == 0:
        return f"xp.sum({x}, axis={axes!r}, keepdims=True)"
    return f"xp.reshape(xp.sum({x}, axis={axes!r}, keepdims=True), {call.params['shape']})"


LOWERINGS.update({
    "sum_to": Lowering(_sum_to, result_dtype=lambda c: _int_accumulate(c) if _sum_to_axes(c) else c.out_dtype),
    "sum": _reduce("sum", _int_accumulate),
    "prod": _reduce("prod", _int_accumulate),
    "mean": _reduce("mean", _int_mean),
    "max": _reduce("max"),
    "min": _reduce("min"),
    "logsumexp": Lowering(lambda c: f"logsumexp(xp, {c.args[0]}, {c.params.get('axis', 'None')}, "
                                    f"{c.params.get('keepdims', 'False')})", helpers=("logsumexp",)),
    "matmul": Lowering("{x} @ {y}"),
    "dot": Lowering("{x} @ {y}"),
    "outer": Lowering("{x}[:, None] * {y}[None, :]"),
    "transpose": Lowering(_transpose),
    "einsum": Lowering(lambda c: f"xp.einsum({c.params['subscripts']}, {', '.join(c.args)})"),
    "trace": Lowering("xp.trace({x})", result_dtype=_int_accumulate),
    "diag": Lowering("xp.diag({x})"),
    "reshape": Lowering("xp.reshape({x}, {shape})"),
    "broadcast_to": Lowering("xp.broadcast_to({x}, {shape})"),
    "concat": Lowering(lambda c: f"xp.concatenate(({', '.join(c.args)},), axis={c.params.get('axis', '0')})"),
    "stack": Lowering(lambda c: f"xp.stack(({', '.join(c.args)},), axis={c.params.get('axis', '0')})"),
    "expand_dims": Lowering("xp.expand_dims({x}, axis={axis})"),
    "squeeze": Lowering(lambda c: f"xp.squeeze({c.args[0]}{_axis_kw(c)})"),
    "index": Lowering(_index),
    "unindex": Lowering(_unindex, helpers=("unindex",)),
    "pad": Lowering(_pad),
    "roll": Lowering(lambda c: f"xp.roll({c.args[0]}, {c.params['shift']}, axis={c.params['axis']})"),
    "zeros": Lowering("xp.zeros({shape}, dtype={dtype})"),
    "ones": Lowering("xp.ones({shape}, dtype={dtype})"),
    "full": Lowering("xp.full({shape}, {value}, dtype={dtype})"),
    "arange": Lowering("xp.arange({n}, dtype={dtype})"),
    "linspace": Lowering("xp.linspace({start}, {stop}, {num}, dtype={dtype})"),
    "eye": Lowering("xp.eye({n}, dtype={dtype})"),
    # function values (LANGUAGE.md §7): the run time calls and the cached quadrature rule; the rows
    # that build function-typed wires (LIFTED_ROWS) never get here, the sampling pass removes them
    "fn_eval": Lowering(lambda c: f"call_function(xp, {c.args[0]}, 0, {c.params.get('shape', '()')}, "
                                  f"{', '.join(c.args[1:])})", helpers=("call_function",)),
    "fn_grad": Lowering(lambda c: f"call_function(xp, {c.args[0]}, {c.params['order']}, {c.params.get('shape', '()')}, "
                                  f"{', '.join(c.args[1:])})", helpers=("call_function",)),
    "gauss_legendre": Lowering("gauss_legendre(xp, {region}, {part}, {axis})", helpers=("gauss_legendre",)),
})


def can_write_in_place(box: Box, in_types: Sequence[WireType], out_type: WireType) -> bool:
    """The NumPy side of the schedule's in-place decision: an `out=` form exists, the result is a real
    array (rank ≥ 1: NumPy returns scalars for rank 0) and NumPy computes it in the declared dtype."""
    from codegen.schedule import elementwise_in_place

    low = LOWERINGS.get(box.name)
    if box.kind != "prim" or low is None or low.out is None or not elementwise_in_place(box, in_types, out_type):
        return False
    if getattr(out_type, "rank", 0) == 0:
        return False
    dtypes = tuple(NUMPY_DTYPE[getattr(t, "dtype", "f64")] for t in in_types)
    probe = Call((), {}, {}, {}, dtypes, NUMPY_DTYPE[getattr(out_type, "dtype", "f64")])
    return not low.drifts(probe)
