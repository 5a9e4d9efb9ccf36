"""The kernel lowering table: how each primitive appears in a fused C-style kernel, for every target.

One table serves the C (OpenMP) and CUDA targets; what differs between them (type names, math
function suffixes, literal spelling) is data in `codegen.targets`. Every primitive of
`semantics.primitives.PRIMITIVES` is in exactly one of:

* `EXPR` — an elementwise expression template over the arguments (`{x}`, `{y}`, `{c}`), where
  `@name(` is a math function (`sinf` for f32, `sin` for f64) and `#v` a literal of the value's
  dtype (`0.5f` in f32 kernels: f32 kernels never promote to f64);
* `COORDS` — primitives that only move data (slices, pads, rolls, broadcasts, transposes): inside a
  kernel they are index arithmetic on the coordinates at which their argument is read;
* `REDUCTIONS` — reductions fused with their elementwise prologue (float dtypes);
* `CONSTANTS` — scalar constants, written as typed literals;
* `ROUTED` — primitives computed between kernels by the array library (BLAS through NumPy on CPU,
  cuBLAS through CuPy on GPU), with the reason.

>>> EXPR["sigmoid"].template
'({x} >= #0 ? #1 / (#1 + @exp(-{x})) : @exp({x}) / (#1 + @exp({x})))'
>>> sorted(set(EXPR) & set(ROUTED))
[]
"""

from __future__ import annotations

from dataclasses import dataclass

from semantics.primitives import PRIMITIVES

FLOAT = ("f32", "f64")


@dataclass(frozen=True)
class KernelExpr:
    """`template` for float operands; `int_template` where integer/bool operands need another
    formula (None: the same one); `dtypes` the operand dtypes the kernel form covers (others are
    routed to the array library, which is always correct)."""

    template: str
    int_template: str | None = None
    dtypes: tuple[str, ...] = ("f32", "f64", "i32", "i64", "bool")


def _f(template: str) -> KernelExpr:
    return KernelExpr(template, dtypes=FLOAT)


def _call(fn: str) -> KernelExpr:
    return _f(f"@{fn}({{x}})")


EXPR: dict[str, KernelExpr] = {
    # ---------------------------------------------------------------- unary
    "neg": KernelExpr("(-{x})"),
    "exp": _call("exp"),
    "log": _call("log"),
    "log1p": _call("log1p"),
    "expm1": _call("expm1"),
    "sqrt": _call("sqrt"),
    "rsqrt": _f("(#1 / @sqrt({x}))"),
    # abs/sign/maximum as comparisons keep NaN (fabs would too; the select form also covers ints)
    "abs": KernelExpr("({x} < #0 ? -{x} : {x})", dtypes=("f32", "f64", "i32", "i64")),
    "sign": KernelExpr("({x} > #0 ? #1 : ({x} < #0 ? -#1 : {x}))", dtypes=("f32", "f64", "i32", "i64")),
    "sin": _call("sin"),
    "cos": _call("cos"),
    "tan": _call("tan"),
    "tanh": _call("tanh"),
    "sinh": _call("sinh"),
    "cosh": _call("cosh"),
    "arcsin": _call("asin"),
    "arccos": _call("acos"),
    "arctan": _call("atan"),
    # the reference is exp(-logaddexp(0, -x)); these two branches never overflow either
    "sigmoid": _f("({x} >= #0 ? #1 / (#1 + @exp(-{x})) : @exp({x}) / (#1 + @exp({x})))"),
    "relu": _f("({x} > #0 || {x} != {x} ? {x} : #0)"),
    # logaddexp(0, x) = max(x, 0) + log1p(exp(-|x|)); NaN stays NaN through the log1p term
    "softplus": _f("(({x} > #0 ? {x} : #0) + @log1p(@exp(-({x} < #0 ? -{x} : {x}))))"),
    "erf": _call("erf"),
    "square": KernelExpr("({x} * {x})", dtypes=("f32", "f64", "i32", "i64")),
    "reciprocal": _f("(#1 / {x})"),
    "floor": _call("floor"),
    "cast": KernelExpr("(({T}){x})"),   # to bool: `x != 0` (see `cast_template`)
    "stop_gradient": KernelExpr("{x}"),
    # ---------------------------------------------------------------- binary
    "add": KernelExpr("({x} + {y})", dtypes=("f32", "f64", "i32", "i64")),
    "sub": KernelExpr("({x} - {y})", dtypes=("f32", "f64", "i32", "i64")),
    "mul": KernelExpr("({x} * {y})", dtypes=("f32", "f64", "i32", "i64")),
    # integer `/` is true division in the reference (float64), cast back to the declared dtype
    "div": KernelExpr("({x} / {y})", "(({T})((double){x} / (double){y}))", dtypes=("f32", "f64", "i32", "i64")),
    "pow": _f("@pow({x}, {y})"),
    # NaN-propagating like np.maximum / np.minimum (fmax/fmin drop NaN)
    "maximum": KernelExpr("({x} > {y} || {x} != {x} ? {x} : {y})", dtypes=("f32", "f64", "i32", "i64")),
    "minimum": KernelExpr("({x} < {y} || {x} != {x} ? {x} : {y})", dtypes=("f32", "f64", "i32", "i64")),
    "atan2": _f("@atan2({x}, {y})"),
    "eq": KernelExpr("({x} == {y})"),
    "ne": KernelExpr("({x} != {y})"),
    "lt": KernelExpr("({x} < {y})"),
    "le": KernelExpr("({x} <= {y})"),
    "gt": KernelExpr("({x} > {y})"),
    "ge": KernelExpr("({x} >= {y})"),
    "where": KernelExpr("({c} ? {x} : {y})"),
}

# Data movement as coordinate maps (implemented in `codegen.kernel_plan.coord_map`).
COORDS: dict[str, str] = {
    "index": "slices, integer indices and new axes are offsets on the coordinates",
    "pad": "reads inside the source, zero outside (the read is clamped, so the select is branch-free)",
    "roll": "a modular offset on the rolled axis",
    "broadcast_to": "size-1 and leading axes read coordinate 0",
    "expand_dims": "the new axis is dropped from the coordinates",
    "squeeze": "the squeezed axes read coordinate 0",
    "transpose": "a permutation of the coordinates",
}

# Reductions fused with their elementwise prologue: (initial value, combine, OpenMP reduction id).
# `acc` is the accumulator, `v` the new value; max/min propagate NaN like NumPy.
REDUCTIONS: dict[str, tuple[str, str, str]] = {
    "sum": ("#0", "acc + v", "+"),
    "mean": ("#0", "acc + v", "+"),
    "prod": ("#1", "acc * v", "*"),
    "max": ("-#inf", "(v > acc || v != v) ? v : acc", "dsl_max"),
    "min": ("#inf", "(v < acc || v != v) ? v : acc", "dsl_min"),
}

# the rows whose fusion class (semantics/primitives.py FAMILY_FUSION) is "const"
CONSTANTS = frozenset(name for name, prim in PRIMITIVES.items() if prim.fusion == "const")

_LIBRARY = "dense linear algebra stays a library call (BLAS through NumPy on CPU, cuBLAS through CuPy on GPU)"
_RUNTIME = "computed by the array library between kernels"
ROUTED: dict[str, str] = {
    "matmul": _LIBRARY, "dot": _LIBRARY, "outer": _LIBRARY, "einsum": _LIBRARY, "trace": _LIBRARY,
    "diag": _LIBRARY,
    "logsumexp": _RUNTIME + " (two passes: the maximum, then the shifted sum)",
    "sum_to": _RUNTIME + " (the transpose of broadcasting; a view or one library sum)",
    "reshape": "a view of a contiguous array, no data moves",
    "concat": _RUNTIME + " (one copy)", "stack": _RUNTIME + " (one copy)",
    "unindex": _RUNTIME + " (zeros, then the cotangent written at the index: the transpose of indexing)",
    "zeros": _RUNTIME, "ones": _RUNTIME, "full": _RUNTIME, "arange": _RUNTIME, "linspace": _RUNTIME,
    "eye": _RUNTIME,
    "fn_eval": "a call of a function value (Python or DSL) on an array of points, between kernels",
    "fn_grad": "a call of a function value's derivative on an array of points, between kernels",
    "gauss_legendre": _RUNTIME + " (the cached nodes or weights of a quadrature rule)",
    # rows on function-typed wires: the sampling pass (rewrite/sampling.py) replaces them by array rows
    "coord": "removed by the sampling pass", "lift": "removed by the sampling pass",
    "integrate": "removed by the sampling pass", "apply": "removed by the sampling pass",
    "nabla": "removed by the sampling pass", "divergence": "removed by the sampling pass",
}


def cast_template(to_dtype: str) -> str:
    """The cast expression: C's conversion, except to bool (any nonzero, NaN included, is true)."""
    return "({x} != 0)" if to_dtype == "bool" else EXPR["cast"].template
