"""IEEE-safe optimisation: the optimised program computes what the interpreter computes on every
input — NaN, ±inf, ±0 and negatives included — unless the user asks for `fast_math=True`.

The oracle is the reference interpreter running the diagram as written."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import dsl
from rewrite.optimize import optimize
from rewrite.prove import prove_equal
from semantics.diagram import Diagram
from semantics.interpret import interpret
from tests.helpers import examples
from tests.test_rewrite_optimize import VEC, random_diagram
from tests.test_rewrite_rules import term

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, -1.5, -3.0, 0.5, 2.0, 1e300, -1e-300]


def same(a: Any, b: Any) -> bool:
    """Equal as IEEE values up to rounding: NaN where NaN, the same infinities, close elsewhere."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    ok = ~np.isnan(a)
    return bool(np.allclose(a[ok], b[ok], rtol=1e-9, atol=0.0))


def outputs(d: Diagram, args: list[Any]) -> tuple[Any, ...]:
    with np.errstate(all="ignore"):
        r = interpret(d, *args)
    return r if isinstance(r, tuple) else (r,)


@settings(max_examples=examples(30), deadline=None)
@example(seed=1335, n_ops=10, picks=[np.nan, np.nan, np.nan, 0.0, np.nan, np.nan, np.nan])  # 0 - (+0) is +0, not -0
@given(st.integers(0, 10_000), st.integers(1, 20), st.lists(st.sampled_from(SPECIAL), min_size=7, max_size=7))
def test_optimised_program_keeps_special_values(seed: int, n_ops: int, picks: list[float]) -> None:
    d = random_diagram(seed, n_ops)
    out, report = optimize(d)
    vec = np.array(picks[:4])
    args = [vec if t == VEC else np.float64(picks[4 + k % 3]) for k, t in enumerate(d.dom)]
    for want, got in zip(outputs(d, args), outputs(out, args)):
        assert same(want, got), (want, got, report.rules_fired)



def test_signed_zero_survives_optimisation() -> None:
    """`0 - x` and `x + 0` keep the sign of a zero (1/result tells -inf from inf): no rewrite to -x / x."""
    mod = dsl.loads("dim n\ndef f(x: f64[n]) -> (f64[n], f64[n]) { return 1.0 / (0.0 - x), 1.0 / (x + 0.0) }")
    for backend in ("numpy", "interpret"):
        with np.errstate(all="ignore"):
            a, b = mod.compile("f", backend=backend)(np.array([0.0, -0.0]))
        assert list(a) == [np.inf, np.inf] and list(b) == [np.inf, np.inf], (backend, a, b)

# the reproducers of issue 8 (item 8): program, input, expected output on every backend
USER_CASES = [
    ("def f(x: f64[n]) -> f64 { return sum(x * 0) + 1 }", [np.nan, 1.0], np.nan),
    ("def f(x: f64[n]) -> f64 { return sum(x * 0) + 1 }", [np.inf, 1.0], np.nan),
    ("def f(x: f64[n]) -> f64[n] { return exp(log(x)) }", [-1.0], [np.nan]),
    ("def f(x: f64[n]) -> f64[n] { return log(exp(x)) }", [800.0], [np.inf]),
    ("def f(x: f64[n]) -> f64 { return max(x) - max(x) }", [np.nan, 1.0], np.nan),
    ("def f(x: f64[n]) -> f64[n] { return x - x }", [np.inf], [np.nan]),
    ("def f(x: f64[n]) -> f64[n] { return x / x }", [0.0], [np.nan]),
    ("def f(x: f64[n], y: f64[n]) -> f64[n] { return exp(x) * exp(y) }", [800.0], [np.nan]),
]


@pytest.mark.parametrize("backend", ["numpy", "interpret"])
@pytest.mark.parametrize(("body", "x", "want"), USER_CASES, ids=[f"case{i}" for i in range(len(USER_CASES))])
def test_special_values_from_the_users_side(backend: str, body: str, x: list[float], want: Any) -> None:
    mod = dsl.loads("dim n\n" + body)
    f = mod.compile("f", backend=backend)
    args = [np.array(x)] * len(mod["f"].dom)
    if len(args) == 2 and "exp(y)" in body:
        args = [np.array(x), -np.array(x)]
    with np.errstate(all="ignore"):
        got = f(*args)
    assert same(want, got), (backend, got)


def test_prove_equal_never_claims_an_ieee_falsehood() -> None:
    assert prove_equal(term(("exp", ("log", "x"))), term("x")) is None
    assert prove_equal(term(("log", ("exp", "x"))), term("x")) is None
    assert prove_equal(term(("mul", "s", 0.0)), term(0.0)) is None
    # what holds for real numbers is still available on request
    assert prove_equal(term(("exp", ("log", "x"))), term("x"), fast_math=True) is True


def test_fast_math_is_opt_in_through_the_api() -> None:
    mod = dsl.loads("dim n\ndef f(x: f64[n]) -> f64 { return sum(x * 0) + 1 }")
    safe = mod.optimized("f")
    fast = dsl.simplify(mod["f"], fast_math=True)
    assert "mul" in [n.box.name for n in safe.nodes] and "mul" not in [n.box.name for n in fast.nodes]
    x = np.array([np.nan, 1.0])
    with np.errstate(all="ignore"):
        assert np.isnan(mod.compile("f")(x))
        assert float(interpret(fast, x)) == 1.0  # x * 0 -> 0: the real-number answer


def test_symbolic_zero_tangents_still_drop() -> None:
    """Linearization's known-zero tangents are structural (no `0 *` in the program): the gradient of a
    function with a literal `0 *` keeps it small without the unsafe `x * 0 -> 0`."""
    mod = dsl.loads("dim n\ndef f(x: f64[n], y: f64[n]) -> f64 { a = 0 * sin(x) * y\n b = exp(a) * tanh(x * y) + 0 * x\n"
                    " return sum(a * b + 0 * cos(b)) }\ng = grad(f)")
    g = mod["g"]
    assert len(g.nodes) <= 4 * len(mod["f"].nodes)
    x, y = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    h = 1e-6
    gx, gy = mod.compile("g")(x, y)
    f = mod.compile("f")
    for k in range(2):
        e = np.eye(2)[k] * h
        assert abs((f(x + e, y) - f(x - e, y)) / (2 * h) - gx[k]) < 1e-6
        assert abs((f(x, y + e) - f(x, y - e)) / (2 * h) - gy[k]) < 1e-6
