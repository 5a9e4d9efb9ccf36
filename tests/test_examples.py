"""Every example runs end to end (parse, check, derive, run) and gives the right numbers."""

from __future__ import annotations

import os

import numpy as np
import pytest

import dsl

EX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
EXAMPLES = sorted(f for f in os.listdir(EX) if f.endswith(".dsl"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_checks(name):
    mod = dsl.load(os.path.join(EX, name))
    assert mod.names
    for n in mod.names:
        assert mod.signature(n)


def test_mlp_loss():
    mod = dsl.load(os.path.join(EX, "mlp.dsl"))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)).astype("f4"), rng.standard_normal((8, 1)).astype("f4")
    W1, b1, W2 = (rng.standard_normal(s).astype("f4") for s in ((3, 5), (5,), (5, 1)))
    got = mod.compile("loss", backend="interpret")(x, y, W1, b1, W2)
    want = np.mean((np.tanh(x @ W1 + b1) @ W2 - y) ** 2)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_stencil_energy():
    mod = dsl.load(os.path.join(EX, "stencil_energy.dsl"))
    u = np.linspace(-1, 1, 11)
    want = np.sum(0.5 * np.diff(u) ** 2) + np.sum(0.25 * u**4 - 0.5 * u**2)
    np.testing.assert_allclose(mod.compile("energy", backend="interpret")(u), want)
    np.testing.assert_allclose(mod.compile("laplacian", backend="interpret")(u), u[:-2] - 2 * u[1:-1] + u[2:])


def test_reactions():
    mod = dsl.load(os.path.join(EX, "reactions.dsl"))
    rng = np.random.default_rng(1)
    T = rng.uniform(300, 1500, 6)
    A, Ea = rng.uniform(1e3, 1e5, 4), rng.uniform(2e4, 9e4, 4)
    c, obs = rng.uniform(0, 1, (6, 4)), rng.uniform(-1, 0, (6, 4))
    k = A[None, :] * np.exp(-Ea[None, :] / (8.314462618 * T[:, None]))
    np.testing.assert_allclose(mod.compile("rates", backend="interpret")(T, A, Ea), k)
    np.testing.assert_allclose(mod.compile("fit", backend="interpret")(T, c, obs, A, Ea), np.mean((-k * c - obs) ** 2))


def test_pointfree_example():
    mod = dsl.load(os.path.join(EX, "pointfree.dsl"))
    x = 0.3
    np.testing.assert_allclose(mod.compile("sincos", backend="interpret")(x), np.sin(x) * np.cos(x))
    np.testing.assert_allclose(mod.compile("twist", backend="interpret")(1.0, 2.0), -2.0 - np.e)
    np.testing.assert_allclose(mod.compile("damped", backend="interpret")(x), np.tanh(np.sin(x) * np.cos(x)))
