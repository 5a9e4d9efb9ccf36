"""The primitive table: every generating box of LANGUAGE.md §4, declared once, as data.

Each `Primitive` has a calling convention (which positional arguments are wires and which are
static parameters), a type/shape rule, a reference NumPy meaning, the derivative columns (`jvp`,
`transpose`) written as DSL expression templates that `rewrite/` turns into rules, its cost class,
its SymPy meaning, its printed syntax, its domain and whether its result may be a view of an argument.
Every other per-primitive fact (elementwise or not, which is also what constant folding evaluates,
and the scheduler's fusion class) is derived from these fields here, once; `tests/test_table_complete.py`
fails, naming the row and the field, when a row leaves a required field out.

Rows are grouped by family in `semantics/prims/*.py`; this module holds the row type, the registry
and the helpers the rows share.

>>> from semantics.types import TensorType, Dim
>>> x = TensorType("f64", (Dim.sym("n"),))
>>> [str(t) for t in PRIMITIVES["sin"].infer((x,), {})]
['f64[n]']
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Union

from semantics.errors import ShapeError, TypeCheckError
from semantics.types import (
    FLOAT_DTYPES,
    FunType,
    TensorType,
    WireType,
    broadcast_shapes,
    interned,
)

REQUIRED = object()  # default of a static parameter that must be given


class _Missing(enum.Enum):
    MISSING = "missing"


# The default of a row field every row must set (cost, sympy, view): a row that leaves one out is
# reported by `missing_fields` (and so by the completeness test) instead of silently getting a value.
MISSING = _Missing.MISSING
REQUIRED_FIELDS = ("cost", "sympy", "view")

# family -> the scheduler's fusion class of its rows (a row with `view=True` is a "view" whatever its
# family). "elementwise": fused with neighbours over one iteration space; "reduction": closes a fusion
# group; "contraction": BLAS-like, allocates its result; "const": a scalar literal, hoisted;
# "constructor": allocates a filled array; "other": a fresh array the scheduler treats like a view.
FAMILY_FUSION: dict[str, str] = {
    "unary": "elementwise",
    "binary": "elementwise",
    "compare": "elementwise",
    "select": "elementwise",
    "reduce": "reduction",
    "linalg": "contraction",
    "const": "const",
    "constructor": "constructor",
    "shape": "other",
    "functional": "other",
}
FAMILIES = tuple(FAMILY_FUSION)

# The cost classes rewrite/cost.py prices (it checks that it has a formula for each): FLOPs per
# output element for "cheap" (1), "medium" (4), "transcendental" (16); per input element for
# "reduction" (1) and "transcendental-reduction" (16); 2·m·k·n for "contraction" (matmul, dot),
# 2·(product of every label's size) for "einsum"; no FLOPs for "free" (scalar literals, no traffic
# either) and "movement" (copies and views: the bytes written).
COST_CLASSES = ("free", "cheap", "medium", "transcendental", "reduction", "transcendental-reduction",
                "contraction", "einsum", "movement")

# The printed syntax of a row (`Primitive.syntax`): an infix operator with its precedence level
# (higher binds tighter; comparisons do not chain), or one of SPECIAL_SYNTAX: negation `-x`, the
# subscript `x[...]`, the matrix transpose `x.T` (printed so when it has no `axes` and rank 2).
# Rows without one print as calls `name(args, key=value)`.
INFIX_LEVEL = {"==": 2, "!=": 2, "<": 2, "<=": 2, ">": 2, ">=": 2, "+": 3, "-": 3, "*": 4, "/": 4, "@": 4, "^": 6}
SPECIAL_SYNTAX = ("-x", "x[...]", "x.T")

# Where a row's wire arguments must lie for it to be smooth and finite (what tests and the oracle
# checks sample): anywhere, all positive, or all in (-1, 1).
DOMAINS = ("real", "positive", "unit")

# The kinds of static parameter, converted from the AST by the elaborator:
#   int, float, bool, str, dtype, axis (None | int | tuple of ints), ints (tuple of ints),
#   dim (one Dim), shape (tuple of dims), value (a number), index (internal: the indexing spec)
PARAM_KINDS = ("int", "float", "bool", "str", "dtype", "axis", "ints", "dim", "shape", "value", "index", "pad", "any")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str
    default: Any = REQUIRED


ShapeRule = Callable[[tuple[WireType, ...], Mapping[str, Any]], tuple[WireType, ...]]
# A derivative rule is a DSL expression; where it depends on ranks or static parameters it is a
# function (arg types by name, static params, operand index for variadic rows) -> that expression.
Template = Union[str, Callable[[Mapping[str, WireType], Mapping[str, Any], int], str]]
Impl = Callable[..., Any]  # impl(xp, params, *arrays) -> array | tuple of arrays
# The SymPy meaning of a row: a SymPy expression of the wire arguments by name (`"1/(1 + exp(-x))"`),
# a function (sympy module, static params) -> expression for rows whose meaning is a parameter
# (`const`), or None for rows without a scalar meaning (an uninterpreted SymPy function).
SympyMeaning = Union[str, Callable[[Any, Mapping[str, Any]], Any], None]
# The inverse of an elementwise row in one argument, the others fixed literals (what the transpose of
# `f(φ(x))` with respect to f needs, LANGUAGE.md §7): given the interval [lo, hi] that argument
# ranges over and the other arguments' values by name, a DSL expression of the output `u` (and the
# other arguments by name) that inverts the row on that interval, or None where the row is not
# one-to-one there.
Inverse = Callable[[float, float, Mapping[str, float]], Union[str, None]]
# A batching rule (vmap of a linear use of the primitive over a leading axis of size `k`): given the
# unbatched arg types by name (and `out`), the static params and the names of the batched args, a
# DSL expression over the args (batched ones carry the extra leading axis) whose value is the
# batched output, plus extra statics it names. Every rule may use `k`, `bshape_<arg>` / `bshape_out`
# (the batched shapes) and `bflat_<arg>` ((k, elements)) besides what derivative templates may use.
BatchRule = Callable[[Mapping[str, WireType], Mapping[str, Any], frozenset[str]], "str | tuple[str, dict[str, Any]]"]


@dataclass(frozen=True)
class Primitive:
    """One row of the table.

    `args` lists the positional arguments: a plain name is a wire input, `*name` takes a tuple of
    wires (concat, stack), and a name that is also in `params` is a static parameter.
    `jvp` is a DSL expression of the primal inputs (by arg name), their tangents (`d` + name) and
    the primal output `out`; `transpose` maps each argument the primitive is linear in to a DSL
    expression of the cotangent `ct` and the other arguments.

    Fields (`cost`, `sympy` and `view` have no default: every row sets them, see REQUIRED_FIELDS):

    - `family`: one of FAMILIES; groups rows for lowering tables and tests, and gives the fusion
      class (FAMILY_FUSION) and the `elementwise` guard of the rewrite rules and constant folding;
    - `cost`: one of COST_CLASSES, how rewrite/cost.py prices a node of this row;
    - `sympy`: the SymPy meaning (see SympyMeaning), used by `semantics/symbolic.py`;
    - `view`: whether the NumPy result may share memory with an argument (`reshape`, `x.T`), so the
      scheduler never writes into it or lets it outlive its argument's buffer;
    - `syntax`: the printed syntax (an INFIX_LEVEL operator or one of SPECIAL_SYNTAX), None for a call;
    - `domain`: one of DOMAINS, where the arguments must lie for the row to be smooth and finite;
    - `inverse`: per argument, the row's inverse in it (see Inverse), for elementwise rows that have one;
    - `nonempty`: a reduction without an identity (max, min, logsumexp): the reduced axes must not be
      empty (a constant 0 is a ShapeError at load; a symbolic size is checked when the dims are bound);
    - `doc`: one line for the reference listing."""

    name: str
    args: tuple[str, ...]
    rule: ShapeRule
    impl: Impl
    family: str
    params: tuple[ParamSpec, ...] = ()
    jvp: Template | None = None
    transpose: Mapping[str, Template] = field(default_factory=dict)
    batch: BatchRule | None = None
    doc: str = ""
    cost: str | _Missing = MISSING
    sympy: SympyMeaning | _Missing = MISSING
    view: bool | _Missing = MISSING
    syntax: str | None = None
    domain: str = "real"
    inverse: Mapping[str, Inverse] = field(default_factory=dict)
    nonempty: bool = False

    @cached_property  # read for every node elaborated, linearized and transposed
    def wire_args(self) -> tuple[str, ...]:
        statics = {p.name for p in self.params}
        return tuple(a for a in self.args if a not in statics)

    @cached_property
    def variadic(self) -> bool:
        return any(a.startswith("*") for a in self.args)

    @cached_property
    def elementwise(self) -> bool:
        """Computed element by element over broadcast operands (the fusion and rewrite guard)."""
        return FAMILY_FUSION.get(self.family) == "elementwise"

    @property
    def fusion(self) -> str:
        """The scheduler's class of a node of this row (see FAMILY_FUSION), "view" when `view`.

        >>> PRIMITIVES["tanh"].fusion, PRIMITIVES["reshape"].fusion, PRIMITIVES["sum"].fusion
        ('elementwise', 'view', 'reduction')
        """
        if self.view is not False:  # a row missing the fact is treated as the safe case, a view
            return "view"
        return FAMILY_FUSION.get(self.family, "other")

    def param_spec(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def jvp_template(self, types: Mapping[str, WireType], params: Mapping[str, Any]) -> str | None:
        return self.jvp(types, params, -1) if callable(self.jvp) else self.jvp

    def transpose_template(self, arg: str, types: Mapping[str, WireType], params: Mapping[str, Any],
                           index: int = -1) -> str | None:
        t = self.transpose.get(arg)
        return t(types, params, index) if callable(t) else t

    def batch_template(self, types: Mapping[str, WireType], params: Mapping[str, Any],
                       batched: frozenset[str]) -> tuple[str, dict[str, Any]] | None:
        """The batching rule's DSL expression and its extra statics (None: the row has no rule)."""
        if self.batch is None:
            return None
        r = self.batch(types, params, batched)
        return (r, {}) if isinstance(r, str) else r

    def infer(self, in_types: Sequence[WireType], params: Mapping[str, Any]) -> tuple[WireType, ...]:
        """Output types for these input types (raises ShapeError/TypeCheckError with no span).

        An array row given function-typed operands (the wires of a lambda body, LANGUAGE.md §7)
        acts pointwise: its rule applies to the values and the result is a function of the same
        variables (all function operands must share them; a plain operand is a constant).

        A shape rule is a pure function of the types and the static parameters, and a model repeats
        a few kinds of node many times (elaboration, verification and every rewrite ask again), so
        results are remembered per row (pointwise ones too); errors are not (each raises afresh)."""
        ts = tuple(in_types)
        try:
            # a value's type too: 1, 1.0 and True are equal keys but not the same static parameter
            key: Any = (ts, tuple([(k, type(v), v) for k, v in sorted(params.items())]) if params else ())
            out = self._inferred.get(key)
        except TypeError:  # an unhashable static parameter: no memo
            return self._infer(ts, params)
        if out is None:
            out = self._infer(ts, params)
            if len(self._inferred) >= 4096:
                self._inferred.clear()
            self._inferred[key] = out
        return out

    def _infer(self, ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
        if self.family != "functional" and any(isinstance(t, FunType) for t in ts):
            return _pointwise(self, ts, params)
        return tuple([interned(t) for t in self.rule(ts, params)])  # (the memo's keys are then mostly identical)

    @cached_property
    def _inferred(self) -> dict[Any, tuple[WireType, ...]]:
        return {}


PRIMITIVES: dict[str, Primitive] = {}


def _pointwise(prim: Primitive, in_types: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    funs = [t for t in in_types if isinstance(t, FunType)]
    args = {f.arg for f in funs}
    if len(args) > 1:
        raise TypeCheckError(f"{prim.name} combines functions of different variables: "
                             f"{' and '.join(sorted(str(f) for f in funs))}")
    values = tuple(t.res if isinstance(t, FunType) else t for t in in_types)
    if any(not isinstance(v, TensorType) for v in values):
        raise TypeCheckError(f"{prim.name} cannot act pointwise on functions returning functions")
    arg = args.pop()
    return tuple(FunType(arg, out) for out in prim.rule(values, params))  # type: ignore[arg-type]


def register(*prims: Primitive) -> None:
    for p in prims:
        assert p.name not in PRIMITIVES, f"primitive {p.name} registered twice"
        PRIMITIVES[p.name] = p


def missing_fields(prim: Primitive) -> list[str]:
    """What a row leaves out or gets wrong, as `field: why` (empty for a complete row); the
    completeness test asserts this is empty for every registered row.

    >>> missing_fields(PRIMITIVES["sin"])
    []
    """
    problems = [f"{f}: not set" for f in REQUIRED_FIELDS if getattr(prim, f) is MISSING]
    if prim.family not in FAMILIES:
        problems.append(f"family: {prim.family!r} is not one of {', '.join(FAMILIES)}")
    if prim.cost is not MISSING and prim.cost not in COST_CLASSES:
        problems.append(f"cost: {prim.cost!r} is not one of {', '.join(COST_CLASSES)}")
    if prim.syntax is not None and prim.syntax not in INFIX_LEVEL and prim.syntax not in SPECIAL_SYNTAX:
        problems.append(f"syntax: {prim.syntax!r} is neither an infix operator nor one of {SPECIAL_SYNTAX}")
    if prim.domain not in DOMAINS:
        problems.append(f"domain: {prim.domain!r} is not one of {', '.join(DOMAINS)}")
    if prim.jvp is None:
        problems.append("jvp: not set (write \"0\" for a derivative that is zero almost everywhere)")
    return problems


# --------------------------------------------------------------- helpers shared by the rows


def tensor_arg(t: WireType, prim: str, what: str = "argument") -> TensorType:
    if not isinstance(t, TensorType):
        raise TypeCheckError(f"{prim} expects a tensor {what}, got a function {t}")
    return t


def float_arg(t: WireType, prim: str) -> TensorType:
    t = tensor_arg(t, prim)
    if t.dtype not in FLOAT_DTYPES:
        raise TypeCheckError(f"{prim} expects a float (f32 or f64) argument, got {t}; use cast(x, f64)")
    return t


def same_dtype(ts: Sequence[TensorType], prim: str) -> str:
    dtypes = {t.dtype for t in ts}
    if len(dtypes) > 1:
        raise TypeCheckError(
            f"dtype mismatch in {prim}: {' and '.join(str(t) for t in ts)} "
            "(no implicit promotion; use cast(x, dtype))"
        )
    return ts[0].dtype


def broadcast_all(ts: Sequence[TensorType], prim: str) -> tuple:
    shape = ts[0].shape
    for t in ts[1:]:
        shape = broadcast_shapes(shape, t.shape, prim)
    return shape


def normalize_axes(axis: Any, rank: int, prim: str) -> tuple[int, ...]:
    """`axis` (None = all, int, tuple; negative counts from the end) as sorted non-negative ints."""
    if axis is None:
        return tuple(range(rank))
    axes = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ShapeError(f"axis {a} is out of range for {prim} of a rank-{rank} tensor")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {prim}: {axis}")
    return tuple(sorted(out))


def lift(expr: str, by: int) -> str:
    """`expr` (batched) with `by` size-1 axes inserted after the batch axis, so that it broadcasts
    like an unbatched operand of `by` more dims.

    >>> lift("x", 2)
    'expand_dims(expand_dims(x, 1), 1)'
    """
    for _ in range(by):
        expr = f"expand_dims({expr}, 1)"
    return expr


def rank_of(t: WireType) -> int:
    return t.rank if isinstance(t, TensorType) else 0


def elementwise_batch(name: str) -> BatchRule:
    """The batching rule of an elementwise row: batched args are lifted to the output's rank (size-1
    axes after the batch axis) so that NumPy broadcasting still lines up every other axis."""

    def rule(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> str:
        prim = PRIMITIVES[name]
        out = rank_of(types["out"])
        args = [lift(a, out - rank_of(types[a])) if a in batched else a for a in prim.wire_args]
        return f"{name}({', '.join(args + [f'{p.name}={p.name}' for p in prim.params])})"

    return rule


def _load_rows() -> None:
    # Importing the row modules registers them; they import this module, so load them last.
    from semantics.prims import elementwise, functional, index, linalg, reduce, shape  # noqa: F401


_load_rows()

# The infix operators of the language and the rows they elaborate to (`+` -> add), from `syntax`.
INFIX_PRIMS: dict[str, str] = {p.syntax: p.name for p in PRIMITIVES.values() if p.syntax in INFIX_LEVEL}
