"""The primitive table against NumPy: every row's shape rule agrees with its impl on concrete shapes,
the impl agrees with the obvious NumPy expression, symbolic dims give the expected polynomials, bad
inputs raise ShapeError / TypeCheckError naming the types and dims, and every row is complete."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semantics.errors import ShapeError, TypeCheckError
from semantics.primitives import FAMILIES, PARAM_KINDS, PRIMITIVES, REQUIRED, Primitive
from semantics.types import FROM_NUMPY, NUMPY_DTYPE, Dim, TensorType
from tests.helpers import examples
from tests.test_codegen_support import ARRAY_ROWS

# ---------------------------------------------------------------- helpers


def dims(*ds: int | str) -> tuple[Dim, ...]:
    return tuple(Dim.sym(d) if isinstance(d, str) else Dim.const(d) for d in ds)


def tt(dtype: str, *ds: int | str) -> TensorType:
    return TensorType(dtype, dims(*ds))


def resolve(v: Any) -> Any:
    """Static parameters as the interpreter hands them to impls: every (constant) Dim as an int."""
    if isinstance(v, Dim):
        return v.value
    if isinstance(v, tuple):
        return tuple(resolve(x) for x in v)
    if isinstance(v, dict):
        return {k: resolve(x) for k, x in v.items()}
    return v


def with_defaults(prim: Primitive, params: dict[str, Any]) -> dict[str, Any]:
    out = {p.name: p.default for p in prim.params if p.default is not REQUIRED}
    out.update(params)
    return out


def type_of(a: np.ndarray) -> TensorType:
    return TensorType(FROM_NUMPY[str(a.dtype)], dims(*a.shape))


def check_row(name: str, arrays: list[np.ndarray], params: dict[str, Any]) -> np.ndarray:
    """Infer the output type from the arrays' types, run the impl, and check shape and dtype agree."""
    prim = PRIMITIVES[name]
    params = with_defaults(prim, params)
    (out_t,) = prim.infer(tuple(type_of(a) for a in arrays), params)
    got = np.asarray(prim.impl(np, resolve(params), *arrays))
    assert isinstance(out_t, TensorType)
    assert got.shape == tuple(d.value for d in out_t.shape), f"{name}: rule {out_t} vs impl {got.shape}"
    assert str(got.dtype) == NUMPY_DTYPE[out_t.dtype], f"{name}: rule {out_t} vs impl {got.dtype}"
    return got


def rand(shape: tuple[int, ...], dtype: str = "f64", domain: str = "any", seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype in ("i32", "i64"):
        return rng.integers(-3, 4, shape).astype(NUMPY_DTYPE[dtype])
    if dtype == "bool":
        return rng.random(shape) < 0.5
    a = {"positive": lambda: rng.uniform(0.5, 2.0, shape), "unit": lambda: rng.uniform(-0.9, 0.9, shape)}.get(
        domain, lambda: rng.standard_normal(shape))()
    return np.asarray(a, dtype=NUMPY_DTYPE[dtype])


# ---------------------------------------------------------------- every row against NumPy

DOMAIN = {name: prim.domain for name, prim in PRIMITIVES.items()}  # where each row is smooth, from the table

UNARY_REF: dict[str, Callable[[Any], Any]] = {
    "rsqrt": lambda x: 1 / np.sqrt(x), "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0),
    "softplus": lambda x: np.log1p(np.exp(x)), "erf": np.vectorize(math.erf), "abs": np.abs,
    "reciprocal": lambda x: 1 / x, "neg": lambda x: -x,
}
BINARY_REF = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
              "maximum": np.maximum, "minimum": np.minimum, "atan2": np.arctan2, "eq": np.equal, "ne": np.not_equal,
              "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}

# name -> (input (dtype, shape)s, params, NumPy reference over the inputs)
CASES: dict[str, tuple[list[tuple[str, tuple[int, ...]]], dict[str, Any], Callable[..., Any]]] = {
    "where": ([("bool", (3, 4)), ("f64", (4,)), ("f64", (3, 1))], {}, np.where),
    "cast": ([("f64", (3,))], {"dtype": "i32"}, lambda x: x.astype("int32")),
    "stop_gradient": ([("f64", (3,))], {}, lambda x: x),
    "const": ([], {"value": 2.5, "dtype": "f32"}, lambda: np.float32(2.5)),
    "dimsize": ([], {"dim": Dim.const(7), "dtype": "f64"}, lambda: np.float64(7)),
    "sum": ([("i32", (3, 4, 5))], {"axis": (0, 2)}, lambda x: np.sum(x, axis=(0, 2)).astype("int32")),
    "mean": ([("f32", (3, 4))], {"axis": 1, "keepdims": True}, lambda x: np.mean(x, axis=1, keepdims=True)),
    "prod": ([("f64", (3, 4))], {"axis": -1}, lambda x: np.prod(x, axis=-1)),
    "max": ([("f64", (3, 4))], {}, np.max),
    "min": ([("i64", (3, 4))], {"axis": 0}, lambda x: np.min(x, axis=0)),
    "logsumexp": ([("f32", (3, 4))], {"axis": 1}, lambda x: np.log(np.sum(np.exp(x.astype("f8")), axis=1))),
    "sum_to": ([("f64", (2, 3, 4))], {"shape": dims(3, 1)}, lambda x: np.sum(x, axis=(0, 2))[:, None]),
    "matmul": ([("f64", (2, 3, 4)), ("f64", (4, 5))], {}, np.matmul),
    "dot": ([("f64", (4,)), ("f64", (4,))], {}, np.dot),
    "outer": ([("f32", (3,)), ("f32", (4,))], {}, np.outer),
    "transpose": ([("f64", (2, 3, 4))], {"axes": (1, 2, 0)}, lambda x: np.transpose(x, (1, 2, 0))),
    "einsum": ([("f64", (3, 4)), ("f64", (4, 2))], {"subscripts": "ij,jk->ik"}, lambda a, b: a @ b),
    "trace": ([("i32", (3, 3))], {}, lambda x: np.trace(x).astype("int32")),
    "diag": ([("f64", (3,))], {}, np.diag),
    "reshape": ([("f64", (3, 4))], {"shape": dims(2, -1)}, lambda x: x.reshape(2, 6)),
    "broadcast_to": ([("f64", (3, 1))], {"shape": dims(2, 3, 4)}, lambda x: np.broadcast_to(x, (2, 3, 4))),
    "concat": ([("f64", (2, 3)), ("f64", (4, 3))], {"axis": 0}, lambda a, b: np.concatenate([a, b])),
    "stack": ([("f64", (3,)), ("f64", (3,))], {"axis": 1}, lambda a, b: np.stack([a, b], axis=1)),
    "expand_dims": ([("f64", (3, 4))], {"axis": -1}, lambda x: x[:, :, None]),
    "squeeze": ([("f64", (3, 1, 1))], {"axis": 1}, lambda x: x[:, 0]),
    "index": ([("f64", (4, 5, 6))], {"index": (("slice", 1, None, None), ("newaxis",), ("int", -1))},
              lambda x: x[1:, None, -1]),
    "unindex": ([("f64", (3, 2))], {"index": (("slice", None, None, -1), ("int", 1), ("slice", 1, None, 2)),
                                   "shape": dims(3, 4, 5)}, lambda x: _scatter(x, np.s_[::-1, 1, 1::2], (3, 4, 5))),
    "pad": ([("f64", (3, 4))], {"width": ((1, 2), (0, 1))}, lambda x: np.pad(x, ((1, 2), (0, 1)))),
    "roll": ([("f64", (3, 4))], {"shift": 2, "axis": 1}, lambda x: np.roll(x, 2, axis=1)),
    "zeros": ([], {"shape": dims(2, 3)}, lambda: np.zeros((2, 3))),
    "ones": ([], {"shape": dims(2,), "dtype": "i32"}, lambda: np.ones(2, dtype="int32")),
    "full": ([], {"shape": dims(2, 2), "value": 1.5, "dtype": "f32"}, lambda: np.full((2, 2), 1.5, "float32")),
    "arange": ([], {"n": Dim.const(5)}, lambda: np.arange(5)),
    "linspace": ([], {"start": 0, "stop": 1, "num": Dim.const(5)}, lambda: np.linspace(0, 1, 5)),
    "eye": ([], {"n": Dim.const(3)}, lambda: np.eye(3)),
    "gauss_legendre": ([], {"region": ((1.0, 3.0, 4),), "part": "nodes"},
                       lambda: 2.0 + np.polynomial.legendre.leggauss(4)[0]),
}


def _scatter(x: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, x.dtype)
    out[index] = x
    return out


def case(name: str) -> tuple[list[tuple[str, tuple[int, ...]]], dict[str, Any], Callable[..., Any]]:
    if name in CASES:
        return CASES[name]
    if name in BINARY_REF:
        return [("f64", (3, 4)), ("f64", (4,))], {}, BINARY_REF[name]
    return [("f64", (2, 3))], {}, UNARY_REF.get(name) or getattr(np, name)


@pytest.mark.parametrize("name", ARRAY_ROWS)
def test_rule_and_impl_agree_with_numpy(name: str) -> None:
    ins, params, ref = case(name)
    assert ref is not None, f"no reference for {name}: add a case"
    arrays = [rand(s, d, DOMAIN.get(name, "any"), seed=i) for i, (d, s) in enumerate(ins)]
    got = check_row(name, arrays, params)
    want = np.asarray(ref(*arrays))
    rtol = 1e-5 if got.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want.astype(got.dtype), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("name", ["mean", "logsumexp", "sum", "prod", "max", "min"])
def test_reductions_keep_the_dtype(name: str, dtype: str) -> None:
    check_row(name, [rand((3, 4), dtype, "positive")], {"axis": 0})


def test_logsumexp_is_stable() -> None:
    x = np.array([[1000.0, 1000.0], [-np.inf, -np.inf], [-1000.0, 0.0]])
    with np.errstate(divide="ignore"):
        got = check_row("logsumexp", [x], {"axis": 1})
        assert not np.isnan(check_row("logsumexp", [x.astype("float32")], {})).any()
    np.testing.assert_allclose(got, [1000 + np.log(2), -np.inf, 0.0])


def test_dtype_edge_cases() -> None:
    check_row("sum", [rand((3,), "bool")[:0].astype("int32")], {})
    with pytest.raises(TypeCheckError, match="mean expects a float.*i32"):
        PRIMITIVES["mean"].infer((tt("i32", 3),), {"axis": None})
    with pytest.raises(TypeCheckError, match="sum expects a number.*bool"):
        PRIMITIVES["sum"].infer((tt("bool", 3),), {"axis": None})


# ---------------------------------------------------------------- broadcasting (binary, compare, where)

BROADCASTS = [((3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 1, 4), (3, 1)), ((5,), ())]


@pytest.mark.parametrize("shapes", BROADCASTS)
@pytest.mark.parametrize("name", sorted(BINARY_REF))
def test_binary_broadcasting(name: str, shapes: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    arrays = [rand(s, "f64", DOMAIN.get(name, "any"), seed=i) for i, s in enumerate(shapes)]
    np.testing.assert_allclose(check_row(name, arrays, {}), BINARY_REF[name](*arrays))


@pytest.mark.parametrize("shapes", BROADCASTS)
def test_where_broadcasting(shapes: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    c, x, y = rand(shapes[0], "bool"), rand(shapes[1]), rand((1,), seed=3)
    np.testing.assert_array_equal(check_row("where", [c, x, y], {}), np.where(c, x, y))


# ---------------------------------------------------------------- property tests on random shapes


@st.composite
def shape_and_axis(draw: Any) -> tuple[tuple[int, ...], Any, bool]:
    shape = tuple(draw(st.lists(st.integers(1, 4), max_size=4)))
    rank = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-rank, rank - 1) if rank else st.none(),
                          st.sets(st.integers(0, max(rank - 1, 0)), max_size=rank).map(tuple) if rank else st.none()))
    return shape, axis, draw(st.booleans())


@settings(max_examples=examples(60), deadline=None)
@given(shape_and_axis(), st.sampled_from(["sum", "mean", "prod", "max", "min", "logsumexp"]))
def test_reductions_on_random_shapes(sak: tuple[tuple[int, ...], Any, bool], name: str) -> None:
    shape, axis, keepdims = sak
    x = rand(shape, "f64")
    got = check_row(name, [x], {"axis": axis, "keepdims": keepdims})
    ref = (lambda a, **kw: np.log(np.sum(np.exp(a), **kw))) if name == "logsumexp" else getattr(np, name)
    np.testing.assert_allclose(got, ref(x, axis=axis, keepdims=keepdims), rtol=1e-12)


slice_bound = st.one_of(st.none(), st.integers(-5, 5))


@settings(max_examples=examples(100), deadline=None)
@given(st.integers(1, 5), slice_bound, slice_bound, st.one_of(st.none(), st.integers(-3, 3).filter(bool)))
def test_slices_match_numpy(n: int, lo: int | None, hi: int | None, step: int | None) -> None:
    x = rand((n, 2))
    spec = (("slice", lo, hi, step),)  # out-of-range bounds are clamped, as in NumPy (LANGUAGE.md §3)
    np.testing.assert_array_equal(check_row("index", [x], {"index": spec}), x[lo:hi:step])


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=2), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 4), st.sampled_from(["mm", "mv", "vm", "vv"]))
def test_matmul_matches_numpy(batch: list[int], n: int, k: int, m: int, kind: str) -> None:
    xs = (*batch, n, k) if kind[0] == "m" else (k,)
    ys = (k, m) if kind[1] == "m" else (k,)
    x, y = rand(xs), rand(ys, seed=1)
    np.testing.assert_allclose(check_row("matmul", [x, y], {}), x @ y, rtol=1e-12)


@pytest.mark.parametrize("subscripts", ["ij,jk", "ij->ji", "ii->i", "ii", "i,i->", "ij,kj->ik", "bij,bjk->bik"])
def test_einsum_matches_numpy(subscripts: str) -> None:
    terms = subscripts.split("->")[0].split(",")
    size = {"i": 3, "j": 4, "k": 2, "b": 2}
    arrays = [rand(tuple(size["i" if "ii" in t else c] for c in t), seed=s) for s, t in enumerate(terms)]
    np.testing.assert_allclose(check_row("einsum", arrays, {"subscripts": subscripts}),
                               np.einsum(subscripts, *arrays), rtol=1e-12)


@pytest.mark.parametrize("x", [np.arange(9.0).reshape(3, 3), np.arange(3.0)])
def test_diag_both_ways(x: np.ndarray) -> None:
    np.testing.assert_array_equal(check_row("diag", [x], {}), np.diag(x))


@pytest.mark.parametrize("width", [(1, 2), ((0, 0), (2, 1))])
def test_pad_widths(width: Any) -> None:
    x = rand((2, 3))
    want = np.pad(x, width if isinstance(width[0], tuple) else (width,) * 2)
    np.testing.assert_array_equal(check_row("pad", [x], {"width": width}), want)


@pytest.mark.parametrize("axis", [None, 0, (0, 1)])
def test_roll_axes(axis: Any) -> None:
    x = rand((3, 4))
    np.testing.assert_array_equal(check_row("roll", [x], {"shift": -1, "axis": axis}), np.roll(x, -1, axis=axis))


@pytest.mark.parametrize(("shape", "target"), [((2, 3, 4), (4,)), ((3, 4), (1, 4)), ((3, 4), (3, 4)),
                                               ((5, 3, 1), (1, 1)), ((2, 3), ())])
def test_sum_to_inverts_broadcast(shape: tuple[int, ...], target: tuple[int, ...]) -> None:
    x = rand(shape)
    got = check_row("sum_to", [x], {"shape": dims(*target)})
    # <broadcast_to(v), x> == <v, sum_to(x)>: sum_to is the transpose of broadcast_to
    v = rand(target, seed=5)
    b = check_row("broadcast_to", [v], {"shape": dims(*shape)})
    assert float(np.sum(b * x)) == pytest.approx(float(np.sum(v * got)))


def test_squeeze_default_and_stack_negative_axis() -> None:
    assert check_row("squeeze", [rand((1, 3, 1))], {}).shape == (3,)
    assert check_row("stack", [rand((2, 3)), rand((2, 3))], {"axis": -1}).shape == (2, 3, 2)
    assert check_row("concat", [rand((2, 3)), rand((2, 1))], {"axis": -1}).shape == (2, 4)


# ---------------------------------------------------------------- symbolic dims


def infer(name: str, ins: list[TensorType], **params: Any) -> str:
    prim = PRIMITIVES[name]
    (t,) = prim.infer(tuple(ins), with_defaults(prim, params))
    return str(t)


def sl(lo: int | None = None, hi: int | None = None, step: int | None = None) -> tuple[Any, ...]:
    return ("slice", lo, hi, step)


SYMBOLIC = [
    ("index", [tt("f64", "n")], {"index": (sl(1),)}, "f64[n - 1]"),
    ("index", [tt("f64", "n")], {"index": (sl(None, -1),)}, "f64[n - 1]"),
    ("index", [tt("f64", "n")], {"index": (sl(2, 5),)}, "f64[3]"),
    ("index", [tt("f64", "n")], {"index": (sl(-3),)}, "f64[3]"),
    ("index", [tt("f64", "n")], {"index": (sl(1, -1),)}, "f64[n - 2]"),
    ("index", [tt("f64", "n")], {"index": (sl(None, None, -1),)}, "f64[n]"),
    ("index", [tt("f64", "n", "m")], {"index": (sl(None, None, 2), ("int", 0))}, "f64[ceil(n/2)]"),
    ("index", [tt("f64", "n", 3)], {"index": (("newaxis",), ("int", 0))}, "f64[1, 3]"),
    ("matmul", [tt("f64", "B", "D"), tt("f64", "D", "H")], {}, "f64[B, H]"),
    ("matmul", [tt("f64", "K", 1, "n", "k"), tt("f64", "B", "k", "m")], {}, "f64[K, B, n, m]"),
    ("matmul", [tt("f64", "k"), tt("f64", "B", "k", "m")], {}, "f64[B, m]"),
    ("dot", [tt("f64", "n"), tt("f64", "n")], {}, "f64"),
    ("outer", [tt("f64", "n"), tt("f64", "m")], {}, "f64[n, m]"),
    ("concat", [tt("f64", "n"), tt("f64", "m")], {"axis": 0}, "f64[m + n]"),
    ("concat", [tt("f64", "n", 2), tt("f64", "n", 2)], {"axis": 0}, "f64[2 * n, 2]"),
    ("stack", [tt("f64", "n"), tt("f64", "n")], {"axis": 0}, "f64[2, n]"),
    ("sum", [tt("f64", "n", "m")], {"axis": 1}, "f64[n]"),
    ("logsumexp", [tt("f32", "n", "m")], {"axis": -1, "keepdims": True}, "f32[n, 1]"),
    ("sum_to", [tt("f64", "B", "n", "m")], {"shape": dims("n", 1)}, "f64[n, 1]"),
    ("reshape", [tt("f64", "n", "m")], {"shape": dims("m", "n")}, "f64[m, n]"),
    ("reshape", [tt("f64", "n", 4)], {"shape": dims(-1, 2)}, "f64[2 * n, 2]"),
    ("reshape", [tt("f64", "n", 3)], {"shape": dims(-1, 2)}, "f64[(3 * n)/2, 2]"),
    ("broadcast_to", [tt("f64", "n", 1)], {"shape": dims("B", "n", "m")}, "f64[B, n, m]"),
    ("transpose", [tt("f64", "a", "b", "c")], {"axes": None}, "f64[c, b, a]"),
    ("einsum", [tt("f64", "i", "j"), tt("f64", "j", "k")], {"subscripts": "ij,jk"}, "f64[i, k]"),
    ("trace", [tt("f64", "n", "n")], {}, "f64"),
    ("diag", [tt("f64", "n")], {}, "f64[n, n]"),
    ("pad", [tt("f64", "n", "m")], {"width": (1, 2)}, "f64[n + 3, m + 3]"),
    ("squeeze", [tt("f64", "n", 1)], {}, "f64[n]"),
    ("expand_dims", [tt("f64", "n")], {"axis": 0}, "f64[1, n]"),
    ("roll", [tt("f64", "n")], {"shift": 1}, "f64[n]"),
    ("add", [tt("f64", "n", 1), tt("f64", "m")], {}, "f64[n, m]"),
    ("where", [tt("bool", "n"), tt("f64", "n"), tt("f64")], {}, "f64[n]"),
    ("zeros", [], {"shape": dims("n", 2)}, "f64[n, 2]"),
    ("arange", [], {"n": Dim.sym("n") + 1}, "i64[n + 1]"),
    ("linspace", [], {"start": 0, "stop": 1, "num": Dim.sym("n"), "dtype": "f32"}, "f32[n]"),
    ("eye", [], {"n": Dim.sym("n")}, "f64[n, n]"),
]


@pytest.mark.parametrize(("name", "ins", "params", "want"), SYMBOLIC, ids=[f"{c[0]}-{c[3]}" for c in SYMBOLIC])
def test_symbolic_shapes(name: str, ins: list[TensorType], params: dict[str, Any], want: str) -> None:
    assert infer(name, ins, **params) == want


# ---------------------------------------------------------------- errors

ERRORS = [
    ("matmul", [tt("f32", "B", "D"), tt("f32", "H", 1)], {}, ShapeError,
     "shape mismatch in matmul: f32[B, D] @ f32[H, 1] (D ≠ H)"),
    ("matmul", [tt("f64", 2, 3, 4), tt("f64", 5, 4, 2)], {}, ShapeError, "batch dims do not broadcast"),
    ("matmul", [tt("f64", 3), tt("f32", 3)], {}, TypeCheckError, "dtype mismatch in matmul: f64[3] and f32[3]"),
    ("matmul", [tt("f64"), tt("f64", 3)], {}, ShapeError, "rank ≥ 1"),
    ("dot", [tt("f64", "n"), tt("f64", "m")], {}, ShapeError, "(n ≠ m)"),
    ("dot", [tt("f64", 2, 2, 2), tt("f64", 2)], {}, ShapeError, "1-D or 2-D"),
    ("outer", [tt("f64", 2, 2), tt("f64", 2)], {}, ShapeError, "outer takes two 1-D"),
    ("add", [tt("f64", "n"), tt("f64", "m")], {}, ShapeError, "(n ≠ m)"),
    ("add", [tt("f64", 3), tt("i64", 3)], {}, TypeCheckError, "dtype mismatch in add"),
    ("where", [tt("f64", 3), tt("f64", 3), tt("f64", 3)], {}, TypeCheckError, "bool condition"),
    ("sum", [tt("f64", 3, 4)], {"axis": 2}, ShapeError, "axis 2 is out of range"),
    ("sum", [tt("f64", 3, 4)], {"axis": (0, -2)}, ShapeError, "repeated axis"),
    ("logsumexp", [tt("i64", 3)], {}, TypeCheckError, "i64[3]"),
    ("sum_to", [tt("f64", 3, 4)], {"shape": dims(2, 4)}, ShapeError, "(2 ≠ 3)"),
    ("sum_to", [tt("f64", 4)], {"shape": dims(3, 4)}, ShapeError, "larger rank"),
    ("transpose", [tt("f64", 2, 3)], {"axes": (0, 0)}, ShapeError, "not a permutation"),
    ("transpose", [tt("f64", 2, 3)], {"axes": (1, 0, 2)}, ShapeError, "not a permutation"),
    ("einsum", [tt("f64", "n", "k"), tt("f64", "m", "k")], {"subscripts": "ij,jk->ik"}, ShapeError,
     "label 'j' has two sizes: k ≠ m"),
    ("einsum", [tt("f64", 3, 3)], {"subscripts": "...ij->ij"}, TypeCheckError, "ellipsis"),
    ("einsum", [tt("f64", 3, 3)], {"subscripts": "ij,jk->ik"}, TypeCheckError, "2 operand(s), got 1"),
    ("einsum", [tt("f64", 3, 3)], {"subscripts": "ijk->i"}, ShapeError, "names 3 axes"),
    ("einsum", [tt("f64", 3, 3)], {"subscripts": "ij->iz"}, TypeCheckError, "output labels"),
    ("trace", [tt("f64", "n", "m")], {}, ShapeError, "square matrix, got f64[n, m] (n ≠ m)"),
    ("diag", [tt("f64", 2, 2, 2)], {}, ShapeError, "f64[2, 2, 2]"),
    ("reshape", [tt("f64", 3, 4)], {"shape": dims(5, 2)}, ShapeError, "cannot reshape f64[3, 4] to [5, 2]"),
    ("reshape", [tt("f64", "n")], {"shape": dims("m")}, ShapeError, "(n ≠ m elements)"),
    ("reshape", [tt("f64", 3, 4)], {"shape": dims(-1, 5)}, ShapeError, "cannot reshape"),
    ("reshape", [tt("f64", 3, 4)], {"shape": dims(-1, -1)}, ShapeError, "at most one"),
    ("reshape", [tt("f64", "n", 4)], {"shape": dims(-1, "n")}, ShapeError, "other dims are constant"),
    ("broadcast_to", [tt("f64", 3)], {"shape": dims(2, 4)}, ShapeError, "(3 ≠ 4)"),
    ("broadcast_to", [tt("f64", "n")], {"shape": dims("m")}, ShapeError, "f64[n] does not broadcast to [m]"),
    ("concat", [tt("f64", 2, 3), tt("f64", 2, 4)], {"axis": 0}, ShapeError, "differ in axis 1 (3 ≠ 4)"),
    ("concat", [tt("f64", 2), tt("f64", 2, 1)], {"axis": 0}, ShapeError, "one rank"),
    ("concat", [tt("f64", 2), tt("f32", 2)], {"axis": 0}, TypeCheckError, "dtype mismatch in concat"),
    ("concat", [tt("f64", 2)], {"axis": 1}, ShapeError, "axis 1 is out of range"),
    ("stack", [tt("f64", "n"), tt("f64", "m")], {"axis": 0}, ShapeError, "f64[n] and f64[m]"),
    ("squeeze", [tt("f64", "n", 3)], {"axis": 0}, ShapeError, "size n, which is not known to be 1"),
    ("squeeze", [tt("f64", 2, 3)], {"axis": 1}, ShapeError, "size 3, which is not 1"),
    ("expand_dims", [tt("f64", 2)], {"axis": 2}, ShapeError, "axis 2 is out of range"),
    ("index", [tt("f64", 3)], {"index": (("int", 3),)}, ShapeError, "index 3 is out of range for axis 0 of f64[3]"),
    ("index", [tt("f64", 3)], {"index": (("int", 0), ("int", 0))}, ShapeError, "too many indices for f64[3]"),
    ("pad", [tt("f64", 2, 2)], {"width": ((1, 1),)}, ShapeError, "one (lo, hi) pair per axis"),
    ("pad", [tt("f64", 2)], {"width": (-1, 0)}, TypeCheckError, "non-negative"),
    ("roll", [tt("f64", 2)], {"shift": 1, "axis": 1}, ShapeError, "out of range"),
    ("zeros", [], {"shape": dims(-2)}, ShapeError, "negative size"),
    ("ones", [], {"shape": dims(2), "dtype": "c128"}, TypeCheckError, "unknown dtype c128"),
    ("sin", [tt("i64", 3)], {}, TypeCheckError, "sin expects a float"),
]


@pytest.mark.parametrize(("name", "ins", "params", "exc", "msg"), ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_name_types_and_dims(name: str, ins: list[TensorType], params: dict[str, Any], exc: type,
                                    msg: str) -> None:
    with pytest.raises(exc) as info:
        infer(name, ins, **params)
    assert msg in str(info.value), str(info.value)
    assert info.value.span is None if hasattr(info.value, "span") else True


# ---------------------------------------------------------------- completeness

@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_row_is_complete(name: str) -> None:
    prim = PRIMITIVES[name]
    assert prim.name == name
    assert prim.family in FAMILIES
    assert callable(prim.jvp) or (isinstance(prim.jvp, str) and prim.jvp.strip())
    assert callable(prim.rule) and callable(prim.impl)
    names = [p.name for p in prim.params]
    assert len(set(names)) == len(names)
    assert all(p.kind in PARAM_KINDS for p in prim.params)
    assert len(set(prim.args)) == len(prim.args)
    assert sum(a.startswith("*") for a in prim.args) <= 1
    for a in prim.args:  # positional statics are declared params; the rest are wires
        assert a.lstrip("*") == a or a not in names
    wires = {a.lstrip("*") for a in prim.wire_args}
    assert set(prim.transpose) <= wires, f"{name}: transpose for a non-wire argument"
    if prim.family in ("const", "constructor"):
        assert not wires and prim.jvp == "0"
    if prim.args:  # every param of a callable row is reachable: positional, or keyword with a default
        assert all(spec.name in prim.args or spec.default is not REQUIRED for spec in prim.params)


TEMPLATE_CASES = [
    ("sum", {"x": tt("f64", 3, 4)}, {"axis": (0, -1), "keepdims": False}, "x", "expand_dims(expand_dims(ct, 0), 1)"),
    ("sum", {"x": tt("f64", 3, 4)}, {"axis": 1, "keepdims": True}, "x", "ct"),
    ("matmul", {"x": tt("f64", 2, 3), "y": tt("f64", 3, 4)}, {}, "x", "matmul(ct, transpose(y, axes=(1, 0)))"),
    ("matmul", {"x": tt("f64", "B", 2, 3), "y": tt("f64", "B", 3, 4)}, {}, "y",
     "matmul(transpose(x, axes=(0, 2, 1)), ct)"),
    ("matmul", {"x": tt("f64", 3), "y": tt("f64", 3)}, {}, "y", "x * ct"),
    ("transpose", {"x": tt("f64", 2, 3, 4)}, {"axes": (1, 2, 0)}, "x", "transpose(ct, axes=(2, 0, 1))"),
    ("reshape", {"x": tt("f64", "n", 4)}, {"shape": dims(-1)}, "x", "reshape(ct, (n, 4))"),
    ("pad", {"x": tt("f64", 3, 4)}, {"width": ((1, 2), (3, 0))}, "x", "ct[1:-2, 3:]"),
    ("trace", {"x": tt("f64", "n", "n")}, {}, "x", "ct * eye(n)"),
    ("index", {"x": tt("f64", "n", 3)}, {"index": (sl(1, -2), ("newaxis",), ("int", 1))}, "x",
     "unindex(ct, index, shape_x)"),
    ("index", {"x": tt("f64", "n", 5)}, {"index": (sl(1, -2), sl(-3, 100))}, "x", "pad(ct, ((1, 2), (2, 0),))"),
    ("index", {"x": tt("f64", "n", 5)}, {"index": (sl(-2),)}, "x", "unindex(ct, index, shape_x)"),
    ("unindex", {"x": tt("f64", "n", 3)}, {"index": (sl(None, None, -1),), "shape": dims("n", 3)}, "x",
     "index(ct, index)"),
    ("concat", {"x0": tt("f64", 2, 3), "x1": tt("f64", "n", 3)}, {"axis": 0}, "xs", "ct[2:]"),
    ("concat", {"x0": tt("f64", "n", 3), "x1": tt("f64", 2, 3), "x2": tt("f64", 1, 3)}, {"axis": 0}, "xs", "ct[-3:-1]"),
    ("stack", {"x0": tt("f64", 3), "x1": tt("f64", 3)}, {"axis": -1}, "xs", "ct[:, 1]"),
    ("einsum", {"x0": tt("f64", 3, 4), "x1": tt("f64", 4, 2)}, {"subscripts": "ij,jk->ik"}, "xs",
     'einsum("ik,ij->jk", (ct, x0,))'),
    ("einsum", {"x0": tt("f64", 3, 4), "x1": tt("f64", 5)}, {"subscripts": "ij,k->k"}, "xs",
     'broadcast_to(expand_dims(expand_dims(einsum("k,k->", (ct, x1,)), 0), 1), shape_x0)'),
    ("einsum", {"x0": tt("f64", 3, 3), "x1": tt("f64", 3)}, {"subscripts": "ii,i->i"}, "xs",
     'einsum("i,i,ia->ia", (ct, x1, eye(3, f64),))'),
]


@pytest.mark.parametrize(("name", "types", "params", "arg", "want"), TEMPLATE_CASES)
def test_transpose_templates(name: str, types: dict[str, TensorType], params: dict[str, Any], arg: str,
                             want: str) -> None:
    repeated_or_alone = "ij,k" in str(params) or "ii" in str(params)
    index = {"concat": 1, "stack": 1, "einsum": 0 if repeated_or_alone else 1}.get(name, -1)
    assert PRIMITIVES[name].transpose_template(arg, types, params, index) == want


@pytest.mark.parametrize("perm", [(1, 2, 0), (2, 0, 1), None, (0, 2, 1)])
def test_transpose_of_transpose_is_the_inverse(perm: Any) -> None:
    x = rand((2, 3, 4))
    inverse = tuple(int(i) for i in np.argsort(perm if perm is not None else (2, 1, 0)))
    tmpl = PRIMITIVES["transpose"].transpose_template("x", {"x": type_of(x)}, {"axes": perm})
    assert tmpl == f"transpose(ct, axes={inverse})"
    y = check_row("transpose", [x], {"axes": perm})
    np.testing.assert_array_equal(check_row("transpose", [y], {"axes": inverse}), x)


@pytest.mark.parametrize("name", ARRAY_ROWS)
def test_templates_parse(name: str) -> None:
    """Every string template, and every callable one on a sample case, is a DSL expression."""
    from rewrite.templates import parse_template

    prim = PRIMITIVES[name]
    ins, params, _ = case(name)
    arrays = [rand(s, d) for d, s in ins]
    names = [f"x{k}" for k in range(len(arrays))] if prim.variadic else list(prim.wire_args)
    types: dict[str, Any] = dict(zip(names, map(type_of, arrays)))
    params = with_defaults(prim, params)
    texts = [prim.jvp_template(types, params) or "0"]
    texts += [prim.transpose_template(a, types, params, k) or "0" for a in prim.transpose
              for k in (range(len(arrays)) if prim.variadic else (-1,))]
    for text in texts:
        parse_template(text)
