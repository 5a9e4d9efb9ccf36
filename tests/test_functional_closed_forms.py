"""Functional derivatives δF/δf derived by `grad` against closed forms worked out by hand and written
here in NumPy (independent of the DSL: no derivative is taken by the code under test), on both
backends, to ~1e-8.

Each case: a functional F over a function parameter, a concrete input function (DSL lambda text) and
the Euler–Lagrange expression ∂L/∂f − d/dx ∂L/∂f′ + d²/dx² ∂L/∂f″ (or the nonlocal / composed
equivalent) evaluated with that input's exact derivatives. The derivative is a pointwise formula, so
apart from the nonlocal and product cases (which integrate by Gauss–Legendre, exact to rounding for
these smooth integrands at n = 64) nothing is approximated.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import dsl

CX = -0.75 * (3 / np.pi) ** (1 / 3)  # the LDA exchange constant
RTOL = 1e-8


@dataclass(frozen=True)
class Case:
    name: str
    source: str  # defines `F` over parameter `f`; the test derives grad(F)
    f: str  # the input function, as DSL lambda text
    want: Callable[[np.ndarray], np.ndarray]  # δF/δf at the points, in NumPy
    points: np.ndarray


ONE_D = np.array([0.13, 0.37, 0.5, 0.71, 0.94])


def _erf(z):
    return np.vectorize(math.erf)(z)


# f(x) = 0.5 + x - 0.3 x² and its derivatives, for the cases that need f′ and f″.
def _f(x):
    return 0.5 + x - 0.3 * x**2


def _brachistochrone(x):
    """L = √(1 + y′²)/√(−y): δ = 1/(2 √(1+y′²) (−y)^{3/2}) − y″/((1+y′²)^{3/2} √(−y)), with y = −f."""
    y, p, ypp = -_f(x), -(1 - 0.6 * x), 0.6
    return 1 / (2 * np.sqrt(1 + p**2) * (-y) ** 1.5) - ypp / ((1 + p**2) ** 1.5 * np.sqrt(-y))


def _nonlocal(x):
    """½ ∫∫ f(x) e^{−(x−y)²} f(y) with f(y) = y: δ(x) = ∫₀¹ y e^{−(x−y)²} dy, substituting s = y − x."""
    return x * np.sqrt(np.pi) / 2 * (_erf(1 - x) + _erf(x)) + 0.5 * (np.exp(-x**2) - np.exp(-(1 - x) ** 2))


def _integral(body: str, over: str = "(0, 1)") -> str:
    return f"integrate(x => {body}, over={over})"


def _functional(body: str) -> str:
    return f"def F(f: f64 -> f64) -> f64 {{\n    return {body}\n}}\n"


CASES = [
    Case("local exp", _functional(_integral("exp(f(x))")), "x => sin(3 * x)",
         lambda x: np.exp(np.sin(3 * x)), ONE_D),
    Case("entropy", _functional(_integral("f(x) * log(f(x))")), "x => 0.5 + x ^ 2",
         lambda x: np.log(0.5 + x**2) + 1, ONE_D),
    Case("H1", _functional(_integral("f(x) ^ 2 + nabla(f)(x) ^ 2")), "x => sin(2 * x) + x ^ 3",
         lambda x: 2 * (np.sin(2 * x) + x**3) - 2 * (-4 * np.sin(2 * x) + 6 * x), ONE_D),
    Case("bending", _functional(_integral("nabla(nabla(f))(x) ^ 2")), "x => sin(2 * x) + x ^ 5",
         lambda x: 2 * (16 * np.sin(2 * x) + 120 * x), ONE_D),
    Case("explicit x", _functional(_integral("x * f(x) ^ 2 + sin(x) * f(x)")), "x => exp(-x) + 2",
         lambda x: 2 * x * (np.exp(-x) + 2) + np.sin(x), ONE_D),
    Case("brachistochrone", _functional(_integral("sqrt(1 + nabla(f)(x) ^ 2) / sqrt(-f(x))")),
         "x => -(0.5 + x - 0.3 * x ^ 2)", _brachistochrone, ONE_D),
    Case("product of integrals", _functional(f"{_integral('f(x)')} * {_integral('f(x) ^ 2')}"), "x => 1 + x",
         lambda x: 7 / 3 + 2 * (1 + x) * 3 / 2, ONE_D),  # δ = ∫f² + 2 f ∫f, with ∫f = 3/2, ∫f² = 7/3
    Case("nonlocal Gaussian kernel",
         _functional("0.5 * integrate(x => integrate(y => f(x) * exp(-(x - y) ^ 2) * f(y), over=(0, 1)), "
                     "over=(0, 1))"), "x => x", _nonlocal, ONE_D),
    Case("composition f(x²)", _functional(_integral("f(x ^ 2) ^ 2")), "x => 1 + cos(x)",
         lambda u: (1 + np.cos(u)) / np.sqrt(u), ONE_D),  # u = x²: ∫ f(u)² du/(2√u)
]


def _gl_want(p):
    """δ/δu ∫ ½|∇u|² + ¼(u² − 1)² = −Δu + (u² − 1) u, for u = x² y + 0.5 sin(y): Δu = 2y − 0.5 sin(y)."""
    x, y = p[..., 0], p[..., 1]
    u = x**2 * y + 0.5 * np.sin(y)
    return -(2 * y - 0.5 * np.sin(y)) + (u**2 - 1) * u


def _r2(p):
    return np.sum(p**2, axis=-1)


GRID2 = np.array([[0.1, 0.2], [0.5, 0.5], [0.9, 0.3], [0.25, 0.8]])
GRID3 = np.array([[0.0, 0.0, 0.0], [0.3, -0.2, 0.5], [1.0, 0.5, -0.7], [-1.2, 0.1, 0.4]])
A = 0.8  # ρ(r) = exp(−a r²)

CASES += [
    Case("Ginzburg-Landau 2-D",
         "def F(f: f64[2] -> f64) -> f64 {\n"
         "    return integrate(p => 0.5 * sum(nabla(f)(p) ^ 2) + 0.25 * (f(p) ^ 2 - 1) ^ 2, over=((0, 1), (0, 1)))\n"
         "}\n", "p => p[0] ^ 2 * p[1] + 0.5 * sin(p[1])", _gl_want, GRID2),
    Case("LDA exchange 3-D",
         "def F(f: f64[3] -> f64) -> f64 {\n"
         "    return integrate(r => -0.75 * (3 / pi) ^ (1/3) * f(r) ^ (4/3), over=((-4, 4), (-4, 4), (-4, 4)), n=8)\n"
         "}\n", f"r => exp(-{A} * (r[0] ^ 2 + r[1] ^ 2 + r[2] ^ 2))",
         lambda p: 4 / 3 * CX * np.exp(-A * _r2(p)) ** (1 / 3), GRID3),
    Case("von Weizsacker 3-D",  # δ = |∇ρ|²/(8ρ²) − Δρ/(4ρ) = 3a/2 − a² r²/2 for a Gaussian
         "def F(f: f64[3] -> f64) -> f64 {\n"
         "    return integrate(r => 0.125 * sum(nabla(f)(r) ^ 2) / f(r), over=((-4, 4), (-4, 4), (-4, 4)), n=8)\n"
         "}\n", f"r => exp(-{A} * (r[0] ^ 2 + r[1] ^ 2 + r[2] ^ 2))",
         lambda p: 1.5 * A - A**2 * _r2(p) / 2, GRID3),
]


@functools.cache
def _module(source: str) -> dsl.Module:
    """One module per case, shared by both backends (the derivation is cached in it)."""
    return dsl.loads(source + "dF = grad(F)\n")


@pytest.mark.parametrize("backend", ["numpy", "interpret"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_functional_derivative_matches_closed_form(case: Case, backend: str) -> None:
    mod = _module(case.source)
    derivative = mod.compile("dF", backend=backend)(dsl.fn(case.f))
    got = np.asarray(derivative(case.points))
    want = case.want(case.points)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)


def test_lda_exchange_value_for_a_gaussian_density():
    """The functional itself, by quadrature: ∫ c e^{−4a r²/3} d³r = c (3π/(4a))^{3/2} over all of space
    (the box [−5, 5]³ misses ~1e-12 of it; 32 Gauss–Legendre nodes per axis resolve it to ~1e-12)."""
    case = next(c for c in CASES if c.name == "LDA exchange 3-D")
    src = case.source.replace("(-4, 4)", "(-5, 5)").replace("n=8", "n=32")
    got = dsl.loads(src).compile("F")(dsl.fn(case.f))
    np.testing.assert_allclose(got, CX * (3 * np.pi / (4 * A)) ** 1.5, rtol=1e-8)
