"""The functional-derivative examples (dft, euler_lagrange, neural_operator) run end to end and give the
closed-form numbers; the README's dft command works as printed."""

from __future__ import annotations

import io
import itertools
import os
import sys

import numpy as np
import pytest

import dsl
from tests.helpers import load_shared
from tests.test_cli import EX, ROOT, cli

A = 1.0  # the README's density: ρ(r) = exp(−|r|²)
GAUSSIAN = "r => exp(-(r[0] ^ 2 + r[1] ^ 2 + r[2] ^ 2))"
CX = -0.75 * (3 / np.pi) ** (1 / 3)
POINTS3 = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.3, -0.4, 1.1], [-1.5, 0.2, 0.7]])


def _r2(p):
    return np.sum(p**2, axis=-1)


def v_x(p):
    return 4 / 3 * CX * np.exp(-A * _r2(p)) ** (1 / 3)


def v_w(p):
    """|∇ρ|²/(8ρ²) − Δρ/(4ρ) for ρ = e^{−a r²}: a² r²/2 − (4a² r² − 6a)/4 = 3a/2 − a² r²/2."""
    return 1.5 * A - A**2 * _r2(p) / 2


@pytest.fixture(scope="module")
def dft():
    return load_shared(os.path.join(EX, "dft.dsl"))


@pytest.mark.parametrize("backend", ["numpy", "interpret"])
def test_dft_potentials(dft, backend):
    rho = dsl.fn(GAUSSIAN)
    for name, want in (("v_x", v_x), ("v_w", v_w), ("v", lambda p: v_x(p) + v_w(p))):
        got = dft.compile(name, backend=backend)(rho)(POINTS3)
        np.testing.assert_allclose(got, want(POINTS3), rtol=1e-8, atol=1e-12, err_msg=name)


def test_dft_energies(dft):
    """∫ c ρ^{4/3} = c (3π/(4a))^{3/2}; ⅛ ∫ |∇ρ|²/ρ = (a²/2) ∫ r² e^{−a r²} = (3a/4) (π/a)^{3/2}
    (the box [−5, 5]³ and 32 nodes per axis resolve both to ~1e-10)."""
    rho = dsl.fn(GAUSSIAN)
    np.testing.assert_allclose(dft.compile("lda_exchange")(rho), CX * (3 * np.pi / (4 * A)) ** 1.5, rtol=1e-8)
    np.testing.assert_allclose(dft.compile("von_weizsacker")(rho), 0.75 * A * (np.pi / A) ** 1.5, rtol=1e-8)


def test_dft_readme_command(capsys):
    """`dsl run examples/dft.dsl v --fn rho=... --at=-2:2:9,0,0`, as the README prints it."""
    code, out, _ = cli(capsys, "run", os.path.join(EX, "dft.dsl"), "v", "--fn", f"rho={GAUSSIAN}", "--at=-2:2:9,0,0")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[1].split() == ["x0", "x1", "x2", "v"]
    rows = np.array([[float(v) for v in line.split()] for line in lines[2:11]])
    np.testing.assert_allclose(rows[:, 0], np.linspace(-2, 2, 9))
    np.testing.assert_allclose(rows[:, 3], v_x(rows[:, :3]) + v_w(rows[:, :3]), rtol=1e-8)
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        assert f"dsl run examples/dft.dsl v --fn rho=\"{GAUSSIAN}\" --at=-2:2:9,0,0" in f.read()


def test_euler_lagrange_descent_drives_the_residual_to_zero():
    sys.path.insert(0, EX)
    try:
        import euler_lagrange
    finally:
        sys.path.remove(EX)
    out = io.StringIO()
    norms = euler_lagrange.descend(steps=7, modes=10, out=out)
    # the straight path q(t) = t has residual −sin t: ‖sin‖ on (0, 1) = √(1/2 − sin(2)/4)
    np.testing.assert_allclose(norms[0], np.sqrt(0.5 - np.sin(2) / 4), rtol=1e-10)
    assert all(b < a / 5 for a, b in itertools.pairwise(norms)), norms  # ~10× per step
    assert norms[-1] < 1e-7
    assert "action S[q]" in out.getvalue()


@pytest.mark.parametrize("backend", ["numpy", "interpret"])
def test_neural_operator_gradients(backend):
    mod = load_shared(os.path.join(EX, "neural_operator.dsl"))
    k, b = dsl.fn("(u, v) => exp(-(u - v) ^ 2)"), dsl.fn("u => 0.1 * u")
    f, t = dsl.fn("v => sin(pi * v)"), dsl.fn("u => u")
    # o(u) = ∫₀¹ e^{−(u−v)²} sin(πv) dv + 0.1 u, by an independent 64-node Gauss–Legendre rule
    nodes, weights = np.polynomial.legendre.leggauss(64)
    v, w = (nodes + 1) / 2, weights / 2
    u = np.array([0.05, 0.3, 0.62, 0.9])
    o = np.exp(-(u[:, None] - v[None, :]) ** 2) @ (w * np.sin(np.pi * v)) + 0.1 * u
    residual = 2 * (o - u)
    got_b = mod.compile("dL_db", backend=backend)(k, b, f, t)(u)
    np.testing.assert_allclose(got_b, residual, rtol=1e-8, atol=1e-12)
    v_at = np.array([0.2, 0.9, 0.5, 0.33])
    got_k = mod.compile("dL_dk", backend=backend)(k, b, f, t)(u, v_at)  # a function of (u, v)
    np.testing.assert_allclose(got_k, residual * np.sin(np.pi * v_at), rtol=1e-8, atol=1e-12)
    loss = mod.compile("loss", backend=backend)(k, b, f, t)
    np.testing.assert_allclose(loss, w @ ((np.exp(-(v[:, None] - v[None, :]) ** 2) @ (w * np.sin(np.pi * v))
                                           + 0.1 * v - v) ** 2), rtol=1e-8)


def test_neural_operator_kernel_gradient_from_the_cli(capsys):
    """The command in the example's header: δL/δk on a 3×3 grid of (u, v); at v = 0 and v = 1, f(v) = 0."""
    code, out, _ = cli(capsys, "run", os.path.join(EX, "neural_operator.dsl"), "dL_dk",
                       "--fn", "k=(u, v) => exp(-(u - v) ^ 2)", "--fn", "b=u => 0.1 * u",
                       "--fn", "f=v => sin(pi * v)", "--fn", "t=u => u", "--at", "0:1:3,0:1:3")
    assert code == 0 and out.splitlines()[1].split() == ["x0", "x1", "dL_dk"]
    rows = np.array([[float(v) for v in line.split()] for line in out.splitlines()[2:]])
    assert rows.shape == (9, 3)
    np.testing.assert_allclose(rows[rows[:, 1] != 0.5, 2], 0, atol=1e-12)
