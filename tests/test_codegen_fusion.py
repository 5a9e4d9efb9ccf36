"""Adding a padded array is written as a slice update (no padded temporary), and stays exact."""

from __future__ import annotations

import numpy as np
import pytest

import dsl

SRC = """
dim n, m
def f(x: f64[n, m], y: f64[n - 1, m - 3]) -> f64[n, m] {
    a = exp(x)
    return a + pad(y, ((1, 0), (1, 2)))
}
def g(x: f64[n, m], y: f64[n - 1, m - 3]) -> f64[n, m] {
    a = exp(x)
    return a - pad(sin(y), ((0, 1), (2, 1)))
}
def h(x: f64[n, m], y: f64[n - 1, m - 3]) -> f64[n, m] {
    a = exp(x)
    p = pad(y, ((1, 0), (0, 3)))
    return a + p + p
}
"""


@pytest.mark.parametrize("name", ["f", "g", "h"])
def test_pad_then_add_matches_the_interpreter(name):
    mod = dsl.loads(SRC)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 7)), rng.standard_normal((4, 4))
    np.testing.assert_allclose(mod.compile(name)(x, y), mod.compile(name, backend="interpret")(x, y), rtol=1e-12)


def test_pad_is_fused_into_the_in_place_add():
    mod = dsl.loads(SRC)
    assert "pad" not in mod.emit("f") and "] += " in mod.emit("f")
    assert "pad" not in mod.emit("g") and "] -= " in mod.emit("g")
    assert "xp.pad" in mod.emit("h")  # the padded array is read twice: it must exist


def test_sum_of_squares_is_a_dot_product():
    mod = dsl.loads("dim n\ndef f(x: f64[n]) -> f64 { d = x[1:] - x[:-1]\n return sum(d * d) + sum(exp(x)) }")
    assert "xp.vdot(" in mod.emit("f")
    x = np.linspace(-1, 2, 9)
    np.testing.assert_allclose(mod.compile("f")(x), np.sum(np.diff(x) ** 2) + np.sum(np.exp(x)), rtol=1e-13)
