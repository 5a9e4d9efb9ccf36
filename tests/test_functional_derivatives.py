"""Functional derivatives (LANGUAGE.md §7): δF/δf against oracles.

* The `inverse` field of the elementwise rows (the table of known inverses the transpose of
  `f(φ(x))` uses) inverts the row's NumPy meaning on every interval where it claims to.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import dsl
from rewrite.templates import TemplateElaborator, parse_template
from semantics.diagram import Builder
from semantics.interpret import interpret
from semantics.primitives import PRIMITIVES
from semantics.types import Dim, TensorType
from semantics.values import WireVal
from tests.helpers import raises_at
from tests.test_show_roundtrip import assert_reloads

INTERVALS = ((0.1, 0.9), (-0.9, -0.1), (0.2, 3.0), (-1.2, 1.2))
CONSTANTS = (2.5, -0.75)


def _inverse_cases() -> list[tuple[str, str, tuple[float, float], dict[str, float]]]:
    cases = []
    for name, prim in sorted(PRIMITIVES.items()):
        for arg, rule in sorted(prim.inverse.items()):
            others = [a for a in prim.wire_args if a != arg]
            for lo, hi in INTERVALS:
                for c in CONSTANTS if others else (None,):
                    consts = {a: c for a in others}
                    if rule(lo, hi, consts) is not None:  # type: ignore[arg-type]
                        cases.append((name, arg, (lo, hi), consts))
    return cases


def _evaluate(text: str, u: np.ndarray, consts: dict[str, float]) -> np.ndarray:
    """The DSL expression `text` of `u` (and literal constants) on the points u."""
    t = TensorType("f64", (Dim.const(len(u)),))
    b = Builder()
    w = b.input(t)
    el = TemplateElaborator(b, {})
    el.env["u"] = WireVal(w, t)
    for k, v in consts.items():
        el.env[k] = el.literal(v, None)
    out = el.typed(el.expr(parse_template(text)), "f64")
    return np.broadcast_to(interpret(b.build([out.wire]), u), u.shape)


@pytest.mark.parametrize("name, arg, interval, consts", _inverse_cases(),
                         ids=lambda v: str(v) if not isinstance(v, dict) else ",".join(f"{k}={x}" for k, x in v.items()))
def test_inverse_field_inverts_the_row_on_its_interval(name, arg, interval, consts):
    prim = PRIMITIVES[name]
    lo, hi = interval
    x = np.linspace(lo, hi, 7)
    args = [x if a == arg else np.full_like(x, consts[a]) for a in prim.wire_args]
    with np.errstate(all="ignore"):
        u = prim.impl(np, {}, *args)
    assert np.all(np.isfinite(u)), f"{name} claims an inverse on {interval} where it is not finite"
    text = prim.inverse[arg](lo, hi, consts)
    assert text is not None
    np.testing.assert_allclose(_evaluate(text, u, consts), x, rtol=1e-9, atol=1e-9)


def test_every_one_to_one_elementwise_row_has_an_inverse():
    """The rows the design lists (affine maps, x², √, exp, log, tanh, ...) are in the table."""
    want = {"neg", "exp", "log", "sqrt", "square", "tanh", "add", "sub", "mul", "div", "pow", "sin", "arctan"}
    assert want <= {n for n, p in PRIMITIVES.items() if p.inverse}
    assert PRIMITIVES["square"].inverse["x"](-1.0, 1.0, {}) is None  # not one-to-one across 0
    assert PRIMITIVES["sin"].inverse["x"](0.0, math.pi, {}) is None

# --------------------------------------------------------------- δF/δf against the functional itself

BACKENDS = ("interpret", "numpy")
# The oracle checks run on generated NumPy code; `test_backends_agree_on_every_derived_function` shows
# the reference interpreter gives the same functions (so the checks hold for both, at half the time).
CHECKED = ("numpy",)
EPS = 1e-4


def _gl(region: tuple[tuple[float, float], ...], n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Tensor-product Gauss–Legendre nodes [M, d] and weights [M] (the oracle's own quadrature)."""
    axes, weights = [], []
    for lo, hi in region:
        t, w = np.polynomial.legendre.leggauss(n)
        axes.append(0.5 * (hi - lo) * t + 0.5 * (hi + lo))
        weights.append(0.5 * (hi - lo) * w)
    nodes = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=-1)
    w = np.prod(np.stack([g.ravel() for g in np.meshgrid(*weights, indexing="ij")], axis=-1), axis=-1)
    return nodes, w


def _points(nodes: np.ndarray, point: bool) -> np.ndarray:
    """Points as a function of `f64` (scalars) or of `f64[k]` (rows) takes them."""
    return nodes if point else nodes[:, 0]


def _values(f: Any, pts: np.ndarray) -> np.ndarray:
    if isinstance(f, dsl.FnValue):
        return np.asarray(f.dsl_call(np, 0, (pts,)))
    return np.asarray(f(pts))


def _perturbed(f: str, h: str, eps: float) -> Any:
    """f + eps h as a DSL function (so that nabla of it stays symbolic)."""
    head, f_body = f.split("=>", 1)
    _, h_body = h.split("=>", 1)
    return dsl.fn(f"{head}=> ({f_body}) + {eps!r} * ({h_body})")


def gateaux_check(mod: Any, name: str, args: dict[str, Any], wrt: str, h: str,
                  region: tuple[tuple[float, float], ...], backend: str, rtol: float = 1e-7,
                  point: bool = False, out: int | None = None,
                  pieces: tuple[tuple[tuple[float, float], ...], ...] = ()) -> None:
    """d/dε F(f + ε h) at 0 (central differences of the functional, run by quadrature) equals
    ⟨δF/δf, h⟩ (the derived function, integrated against h by the oracle's quadrature)."""
    F = mod.compile(name, backend=backend)
    names = list(mod[name].param_names())
    g = mod.compile(f"g_{name}", backend=backend)

    def value(eps: float) -> float:
        call = [(_perturbed(args[n], h, eps) if n == wrt else _arg(args[n])) for n in names]
        return float(F(*call))

    fd = (value(EPS) - value(-EPS)) / (2 * EPS)
    res = g(*[_arg(args[n]) for n in names])
    dF = res[out] if out is not None else res
    pairing = 0.0
    for piece in pieces or (region,):  # a derivative with jumps is integrated piece by piece
        nodes, w = _gl(piece)
        pts = _points(nodes, point)
        pairing += float(np.sum(w * _values(dF, pts) * _values(dsl.fn(h), pts)))
    assert pairing == pytest.approx(fd, rel=rtol, abs=1e-9), (pairing, fd)


def _arg(v: Any) -> Any:
    return dsl.fn(v) if isinstance(v, str) else np.asarray(v, dtype=np.float64)


LOCAL = """
def lda(rho: f64 -> f64) -> f64 {
    return integrate(x => -0.75 * (3 / pi) ^ (1/3) * rho(x) ^ (4/3), over=(0, 1))
}
g_lda = grad(lda)
def entropy(f: f64 -> f64) -> f64 {
    return integrate(x => f(x) * log(f(x)), over=(0, 1))
}
g_entropy = grad(entropy)
def expf(f: f64 -> f64) -> f64 {
    return integrate(x => exp(f(x)), over=(-1, 2), n=48)
}
g_expf = grad(expf)
def explicit(f: f64 -> f64) -> f64 {
    return integrate(x => x * f(x) ^ 2 + sin(x) * f(x), over=(0, 2))
}
g_explicit = grad(explicit)
def h1(f: f64 -> f64) -> f64 {
    return integrate(x => f(x) ^ 2 + nabla(f)(x) ^ 2, over=(0, 1))
}
g_h1 = grad(h1)
def bending(f: f64 -> f64) -> f64 {
    return integrate(x => nabla(nabla(f))(x) ^ 2, over=(0, 1))
}
g_bending = grad(bending)
def brachistochrone(f: f64 -> f64) -> f64 {
    return integrate(x => sqrt(1 + nabla(f)(x) ^ 2) / sqrt(-f(x)), over=(0.2, 1))
}
g_brachistochrone = grad(brachistochrone)
def product(f: f64 -> f64) -> f64 {
    return integrate(f, over=(0, 1)) * integrate(x => f(x) ^ 2, over=(0, 1)) / integrate(x => 1 + f(x) ^ 2, over=(0, 1))
}
g_product = grad(product)
def kernel(f: f64 -> f64, c: f64) -> f64 {
    return integrate(x => integrate(y => f(x) * exp(-c * (x - y) ^ 2) * f(y), over=(0, 1), n=32), over=(0, 1), n=32)
}
g_kernel = grad(kernel, wrt=f)
"""

# name -> (f, direction h vanishing with its derivative at the ends, the region of f's pairing)
LOCAL_CASES = {
    "lda": ("x => 1 + 0.5 * sin(pi * x)", "x => cos(3 * x) + x", (0, 1)),
    "entropy": ("x => 1.5 + x * x", "x => exp(-x) * sin(2 * x)", (0, 1)),
    "expf": ("x => 0.3 * x - 0.2 * x * x", "x => cos(x)", (-1, 2)),
    "explicit": ("x => cos(x) + 0.5", "x => 1 / (1 + x * x)", (0, 2)),
    "h1": ("x => sin(2 * x) + x ^ 3", "x => x * x * (1 - x) * exp(x)", (0, 1)),
    "bending": ("x => sin(2 * x) + x ^ 4", "x => (x * (1 - x)) ^ 2 * exp(x)", (0, 1)),
    "brachistochrone": ("x => -sqrt(x) - 0.1 * x * x", "x => (x - 0.2) ^ 2 * (1 - x) ^ 2 * cos(x)", (0.2, 1)),
    "product": ("x => 1 + x * sin(x)", "x => exp(x) - x", (0, 1)),
    "kernel": ("x => 1 + x * x", "x => cos(2 * x)", (0, 1)),
}


@pytest.fixture(scope="module")
def local() -> Any:
    return dsl.loads(LOCAL, filename="local.dsl")


@pytest.mark.parametrize("backend", CHECKED)
@pytest.mark.parametrize("name", sorted(LOCAL_CASES))
def test_functional_derivative_matches_the_gateaux_derivative(local, name, backend):
    f, h, region = LOCAL_CASES[name]
    args = {"rho": f, "f": f, "c": 3.0}
    gateaux_check(local, name, args, "rho" if name == "lda" else "f", h, (region,), backend)


COMPOSE = """
def csq(f: f64 -> f64) -> f64 {
    return integrate(x => f(x ^ 2) ^ 2, over=(0.5, 1.5))
}
g_csq = grad(csq)
def csqrt(f: f64 -> f64) -> f64 {
    return integrate(x => x * f(sqrt(x)) ^ 2, over=(0.5, 2))
}
g_csqrt = grad(csqrt)
def cexp(f: f64 -> f64) -> f64 {
    return integrate(x => sin(f(exp(x))), over=(-0.5, 1))
}
g_cexp = grad(cexp)
def clog(f: f64 -> f64) -> f64 {
    return integrate(x => f(log(x)) ^ 3, over=(0.5, 2))
}
g_clog = grad(clog)
def ctanh(f: f64 -> f64) -> f64 {
    return integrate(x => exp(f(tanh(x))), over=(-1, 1))
}
g_ctanh = grad(ctanh)
def caffine(f: f64 -> f64) -> f64 {
    return integrate(x => f(1 - 3 * x) ^ 2 + f(2 * x + 1), over=(0, 1))
}
g_caffine = grad(caffine)
def cgen(f: f64 -> f64) -> f64 {
    return integrate(x => f(0.5 * exp(x) + 1) ^ 2, over=(0, 1))
}
g_cgen = grad(cgen)
"""

# name -> (f, h, the region f's argument ranges over: the image of the integration region)
COMPOSE_CASES = {
    "csq": ("u => cos(u)", "u => exp(-u) + u", (0.25, 2.25)),
    "csqrt": ("u => 1 + u", "u => sin(3 * u)", (math.sqrt(0.5), math.sqrt(2))),
    "cexp": ("u => u * u", "u => 1 / (1 + u)", (math.exp(-0.5), math.e)),
    "clog": ("u => 2 + u", "u => cos(u) * u", (math.log(0.5), math.log(2))),
    "ctanh": ("u => u / 2", "u => 1 + u * u", (-math.tanh(1), math.tanh(1))),
    "caffine": ("u => sin(u)", "u => exp(u / 3)", ((-2, 1), (1, 3))),
    "cgen": ("u => u ^ 3", "u => sin(u)", (1.5, 0.5 * math.e + 1)),
}


@pytest.fixture(scope="module")
def composed() -> Any:
    return dsl.loads(COMPOSE, filename="compose.dsl")


@pytest.mark.parametrize("backend", CHECKED)
@pytest.mark.parametrize("name", sorted(COMPOSE_CASES))
def test_compose_with_a_known_inverse_matches_the_gateaux_derivative(composed, name, backend):
    """δ/δf ∫ g(f(φ(x))) dx = g'(f(u)) |dφ⁻¹/du| on φ(region): the change of variables. The pairing
    integrates over the image of the region (the derivative is zero outside it)."""
    f, h, region = COMPOSE_CASES[name]
    pieces = tuple((r,) for r in region) if isinstance(region[0], tuple) else ()
    gateaux_check(composed, name, {"f": f}, "f", h, (region,), backend, pieces=pieces)


@pytest.mark.parametrize("which", ["local", "composed", "multi"])
def test_backends_agree_on_every_derived_function(which, local, composed, multi):
    """Every derived δF/δf of this file, compiled to NumPy and run by the reference interpreter, gives
    the same values (both backends share the derivation and the sampling pass)."""
    mod = {"local": local, "composed": composed, "multi": multi}[which]
    for name in (n for n in mod.names if n.startswith("g_")):
        d = mod[name]
        args = [dsl.fn("p => 1 + 0.25 * p[0] * p[1]") if str(t).startswith("f64[2]") else
                dsl.fn("x => 1.5 + 0.25 * sin(x)") if not hasattr(t, "shape") else np.float64(0.5) for t in d.dom]
        outs = [mod.compile(name, backend=b)(*args) for b in BACKENDS]
        pts = np.linspace(0.05, 0.95, 5)
        for a, b in zip(*(o if isinstance(o, tuple) else (o,) for o in outs)):
            if callable(a):
                x = np.stack([pts, pts[::-1]], axis=-1) if str(d.dom[0]).startswith("f64[2]") else pts
                a, b = a(x), b(x)
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-14, err_msg=name)


def test_derivative_is_zero_outside_the_image_of_the_region(composed, local):
    """F does not depend on f outside the points it is evaluated at: δF/δf vanishes there."""
    g = composed.compile("g_csq")(dsl.fn("u => cos(u)"))
    v = g(np.array([0.1, 0.2, 1.0, 2.3, 3.0]))
    assert v[0] == 0 and v[1] == 0 and v[3] == 0 and v[4] == 0 and v[2] != 0
    g = local.compile("g_lda")(dsl.fn("x => 1 + x"))
    assert g(np.array([-0.5, 1.5])).tolist() == [0.0, 0.0]


MULTI = """
def box2(u: f64[2] -> f64) -> f64 {
    return integrate(p => u(p) ^ 2 + p[0] * sin(u(p)), over=((0, 1), (0, 2)), n=12)
}
g_box2 = grad(box2)
def landau(u: f64[2] -> f64) -> f64 {
    return integrate(p => 0.5 * sum(nabla(u)(p) ^ 2) + 0.25 * (u(p) ^ 2 - 1) ^ 2, over=((0, 1), (0, 1)), n=16)
}
g_landau = grad(landau)
def stretched(u: f64[2] -> f64) -> f64 {
    return integrate(p => u(2 * p + 1) ^ 2 * (1 + p[1]), over=((0, 1), (0, 1)), n=12)
}
g_stretched = grad(stretched)
def warped(u: f64[2] -> f64) -> f64 {
    return integrate(p => exp(u(exp(p))), over=((0, 1), (0, 1)), n=12)
}
g_warped = grad(warped)
def moments(f: f64 -> f64, a: f64) -> f64 {
    return integrate(x => x * f(x) ^ 2 + sin(a * x) * f(x), over=(0, 1), n=24)
}
g_moments = grad(moments)
vjp_moments = vjp(moments)
"""


@pytest.fixture(scope="module")
def multi() -> Any:
    return dsl.loads(MULTI, filename="multi.dsl")


@pytest.mark.parametrize("backend", CHECKED)
def test_two_dimensional_functionals_match_the_gateaux_derivative(multi, backend):
    """u: f64[2] -> f64 over a box; Ginzburg–Landau uses nabla in 2-D, whose transpose is -divergence
    (h vanishes on the boundary, so the dropped boundary terms are zero)."""
    h = "p => sin(pi * p[0]) * sin(pi * p[1] / 2) * exp(p[0])"
    gateaux_check(multi, "box2", {"u": "p => 1 + p[0] * p[1]"}, "u", h, ((0, 1), (0, 2)), backend, point=True)
    h = "p => sin(pi * p[0]) * sin(pi * p[1]) * (1 + p[0])"
    gateaux_check(multi, "landau", {"u": "p => p[0] * p[0] + sin(p[1])"}, "u", h, ((0, 1), (0, 1)), backend,
                  point=True)
    h = "p => cos(p[0] - p[1]) + p[0]"  # u(2p + 1): the change of variables in 2-D, |det| = 1/4 on [1, 3]²
    gateaux_check(multi, "stretched", {"u": "p => p[0] * p[1]"}, "u", h, ((1, 3), (1, 3)), backend, point=True)
    gateaux_check(multi, "warped", {"u": "p => p[0] - p[1]"}, "u", "p => p[0] * p[1]", ((1, math.e), (1, math.e)),
                  backend, point=True)  # |det dφ⁻¹/du| = 1 / (u0 u1)
    assert "boundary terms assumed to vanish" in multi["g_landau"].show()
    assert "boundary terms" not in multi["g_box2"].show()


@pytest.mark.parametrize("backend", CHECKED)
def test_mixed_wrt_function_and_array(multi, backend):
    """grad w.r.t. a function and a scalar at once: (δF/δf, ∂F/∂a), each checked alone."""
    f, a = "x => 1 + x * x", 0.7
    gateaux_check(multi, "moments", {"f": f, "a": a}, "f", "x => cos(2 * x)", ((0, 1),), backend, out=0)
    F = multi.compile("moments", backend=backend)
    fd = (F(dsl.fn(f), np.float64(a + EPS)) - F(dsl.fn(f), np.float64(a - EPS))) / (2 * EPS)
    _, da = multi.compile("g_moments", backend=backend)(dsl.fn(f), np.float64(a))
    assert float(da) == pytest.approx(float(fd), rel=1e-7)


@pytest.mark.parametrize("backend", CHECKED)
def test_vjp_and_jvp_with_function_wires(multi, backend):
    """vjp(F)(f, a, ct) = ct · (δF/δf, ∂F/∂a); jvp(F)(f, a, df, da) = (F, ⟨δF/δf, df⟩ + ∂F/∂a da)."""
    mod = dsl.loads(MULTI + "\njvp_moments = jvp(moments)\n",
                    filename="multi.dsl")
    f, a, df, da = dsl.fn("x => 1 + x * x"), np.float64(0.7), dsl.fn("x => cos(2 * x)"), np.float64(0.3)
    g, ga = mod.compile("g_moments", backend=backend)(f, a)
    v, va = mod.compile("vjp_moments", backend=backend)(f, a, np.float64(2.5))
    x = np.linspace(0, 1, 7)
    np.testing.assert_allclose(v(x), 2.5 * g(x), rtol=1e-12)
    assert float(va) == pytest.approx(2.5 * float(ga), rel=1e-12)
    y, dy = mod.compile("jvp_moments", backend=backend)(f, a, df, da)
    F = mod.compile("moments", backend=backend)
    assert float(y) == pytest.approx(float(F(f, a)), rel=1e-14)
    nodes, w = _gl(((0, 1),))
    pairing = float(np.sum(w * g(nodes[:, 0]) * df(nodes[:, 0]))) + float(ga) * float(da)
    assert float(dy) == pytest.approx(pairing, rel=1e-9)


SECOND = """
def energy(f: f64 -> f64) -> f64 {
    return integrate(x => exp(f(x)) + 0.5 * nabla(f)(x) ^ 2 + x * f(x) ^ 3, over=(0, 1))
}
g_energy = grad(energy)
second = jvp(g_energy)
"""


@pytest.mark.parametrize("backend", CHECKED)
def test_second_variation_is_the_jvp_of_the_functional_derivative(backend):
    """δ²F/δf² applied to a direction h: jvp(grad(F)) against central differences of δF/δf itself."""
    mod = dsl.loads(SECOND, filename="second.dsl")
    f, h = "x => sin(x) + 0.5", "x => x * x * (1 - x) ^ 2"
    g = mod.compile("g_energy", backend=backend)
    g0, dg = mod.compile("second", backend=backend)(dsl.fn(f), dsl.fn(h))
    x = np.linspace(0.1, 0.9, 5)
    fd = (g(_perturbed(f, h, EPS))(x) - g(_perturbed(f, h, -EPS))(x)) / (2 * EPS)
    np.testing.assert_allclose(g0(x), g(dsl.fn(f))(x), rtol=1e-13)
    np.testing.assert_allclose(dg(x), fd, rtol=1e-6)


@pytest.mark.parametrize("backend", CHECKED)
def test_hessian_of_a_functional_with_respect_to_an_array(backend):
    """hessian w.r.t. an array parameter batches through the functional rows (integrate, lift, apply
    act on the values' leading batch axis): against central differences of the gradient."""
    src = ("def F(f: f64 -> f64, a: f64[2]) -> f64 {\n"
           "    return integrate(x => x * f(x) ^ 2 + sin(a[0] * x) * f(x) * a[1] ^ 2, over=(0, 1), n=24)\n"
           "}\n"
           "g = grad(F, wrt=a)\nh = hessian(F, wrt=a)\n")
    mod = dsl.loads(src, filename="h.dsl")
    f, a = dsl.fn("x => 1 + x"), np.array([0.7, 1.3])
    g, h = mod.compile("g", backend=backend), mod.compile("h", backend=backend)
    fd = np.stack([(g(f, a + EPS * e) - g(f, a - EPS * e)) / (2 * EPS) for e in np.eye(2)], axis=-1)
    np.testing.assert_allclose(h(f, a), fd, rtol=1e-7, atol=1e-10)


# --------------------------------------------------------------- the dot-product test of each transpose

DOT = """
def l_integrate(f: f64 -> f64) -> f64 {
    return integrate(x => exp(-x) * f(x), over=(0, 2), n=40)
}
def l_lift(f: f64 -> f64) -> f64 {
    return integrate(x => integrate(y => f(x) * cos(x * y), over=(0, 1), n=24), over=(0, 1), n=24)
}
def l_outer_var(f: f64 -> f64) -> f64 {
    return integrate(x => integrate(y => sin(x + 2 * y) * f(y), over=(-1, 1), n=24), over=(0, 1), n=24)
}
def l_apply(f: f64 -> f64) -> f64 -> f64 {
    return x => x * f(x)
}
def l_compose(f: f64 -> f64) -> f64 -> f64 {
    return x => f(2 * x + 1)
}
def l_nabla(f: f64 -> f64) -> f64 -> f64 {
    return nabla(f)
}
def l_gradient(u: f64[2] -> f64) -> f64[2] -> f64[2] {
    return nabla(u)
}
"""

WIDE = (-9.0, 9.0)  # Gaussian test functions: the pairing over the real line, by quadrature
# name -> (v, ct (a number or a function), the input's pairing region, the output's)
DOT_CASES: dict[str, tuple[str, Any, tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]] = {
    "l_integrate": ("x => cos(x) + x", 1.7, ((0, 2),), ()),
    "l_lift": ("x => exp(x) - x * x", -0.6, ((0, 1),), ()),
    "l_outer_var": ("x => 1 + x ^ 3", 2.1, ((-1, 1),), ()),
    "l_apply": ("x => exp(-x * x) * (1 + x)", "x => exp(-(x - 1) ^ 2)", (WIDE,), (WIDE,)),
    "l_compose": ("x => exp(-x * x / 2) * sin(x)", "x => exp(-x * x) * (2 - x)", (WIDE,), (WIDE,)),
    "l_nabla": ("x => exp(-x * x) * (1 + x)", "x => x * exp(-(x - 0.5) ^ 2)", (WIDE,), (WIDE,)),
    "l_gradient": ("p => exp(-sum(p * p)) * (1 + p[0])", "p => p * exp(-sum(p * p) / 2)",
                   ((-7, 7), (-7, 7)), ((-7, 7), (-7, 7))),
}


def _pair(a: Any, b: Any, region: tuple[tuple[float, float], ...], point: bool) -> float:
    if not region:
        return float(a) * float(b)
    nodes, w = _gl(region, 96 if len(region) == 1 else 64)
    pts = _points(nodes, point)
    va, vb = _values(a, pts), _values(b, pts)
    return float(np.sum(w * (va * vb if va.ndim == 1 else np.sum(va * vb, axis=-1))))


@pytest.mark.parametrize("backend", CHECKED)
@pytest.mark.parametrize("name", sorted(DOT_CASES))
def test_transpose_passes_the_dot_product_test(name, backend):
    """⟨L v, ct⟩ = ⟨v, Lᵀ ct⟩ with the L² pairing by quadrature, for each new transpose rule:
    integrate (↦ constant function), lift (↦ ∫ over the new variable), an outer variable integrated
    out, apply at x, apply at an invertible φ(x) (change of variables), nabla (↦ -divergence, in 1-D
    and 2-D; the Gaussians make the dropped boundary terms vanish)."""
    mod = dsl.loads(DOT + f"\nt_{name} = vjp({name})\n", filename="dot.dsl")
    v, ct, in_region, out_region = DOT_CASES[name]
    point = name == "l_gradient"
    L = mod.compile(name, backend=backend)(dsl.fn(v))
    ct_value = dsl.fn(ct) if isinstance(ct, str) else np.float64(ct)
    back = mod.compile(f"t_{name}", backend=backend)(dsl.fn(v), ct_value)
    lhs = _pair(L, ct_value, out_region, point)
    rhs = _pair(dsl.fn(v), back, in_region, point)
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-12)


# --------------------------------------------------------------- what is not a function: clear errors


def test_point_evaluation_is_a_dirac_delta_error_at_the_application():
    src = ("def F(f: f64 -> f64) -> f64 {\n"
           "    return integrate(x => f(x) ^ 2, over=(0, 1)) + 3 * f(0.5)\n"
           "}\n"
           "g = grad(F)\n")
    err = raises_at(dsl.DerivativeError, src, 2, "Dirac delta at 0.5", "f(0.5)", "not a function", col=56)
    assert "^^^^^^" in str(err)
    # inside a lambda too: f(0.25) does not depend on the integration variable
    src = ("def F(f: f64 -> f64) -> f64 {\n"
           "    return integrate(x => x * f(0.25), over=(0, 1))\n"
           "}\n"
           "g = grad(F)\n")
    raises_at(dsl.DerivativeError, src, 2, "Dirac delta at 0.25", col=31)


@pytest.mark.parametrize("inner, why", [
    ("sin(x)", "sin has no inverse on [0, 3]"),          # not monotone on the region
    ("x * x", "mul"),                     # the variable twice: not a chain with literal operands
    ("x ^ 2", "pow has no inverse on [-1, 3]"),          # even power across 0
    ("a * x", "not a literal"),           # a parameter, not a literal: no inverse checked
])
def test_compose_with_a_map_without_a_known_inverse_names_the_map(inner, why):
    lo = -1 if "^" in inner else 0
    src = ("def F(f: f64 -> f64, a: f64) -> f64 {\n"
           f"    return integrate(x => f({inner}) ^ 2, over=({lo}, 3))\n"
           "}\n"
           "g = grad(F, wrt=f)\n")
    err = raises_at(dsl.DerivativeError, src, 2, "must be invertible on the domain", why, col=27)
    if inner in ("sin(x)", "x ^ 2"):
        assert f"x ↦ {inner}" in str(err)


def test_function_parameters_have_no_hessian_or_jacobian():
    src = ("def F(f: f64 -> f64) -> f64 {\n"
           "    return integrate(x => f(x) ^ 2, over=(0, 1))\n"
           "}\n"
           "h = hessian(F)\n")
    raises_at(dsl.DerivativeError, src, 4, "function", "jvp(grad(F, wrt=f))")


def test_function_of_two_variables_and_moving_points():
    """δ/δK ∫∫ K(x, y)² e^(x-y) = 2 K(u, v) e^(u-v) on the region (a kernel, as in an integral layer);
    K(x, g(x)) w.r.t. g would need K's partial derivatives: an error at the application."""
    src = ("def F(K: (f64, f64) -> f64, g: f64 -> f64) -> f64 {\n"
           "    return integrate(x => integrate(y => K(x, y) ^ 2 * exp(x - y), over=(0, 1), n=16), over=(0, 2), n=16)"
           " + integrate(x => K(x, g(x)), over=(0, 1))\n"
           "}\n"
           "dK = grad(F, wrt=K)\n")
    mod = dsl.loads(src, filename="t.dsl")
    K, g = dsl.fn("(x, y) => x + y * y"), dsl.fn("x => 0.5 * x")
    with pytest.raises(dsl.DerivativeError, match="invertible"):  # K(x, g(x)) w.r.t. K: a curve, not a map
        mod["dK"]
    mod = dsl.loads(src.replace(" + integrate(x => K(x, g(x)), over=(0, 1))", ""), filename="t.dsl")
    x, y = np.array([0.5, 1.5, 2.5]), np.array([0.25, 0.75, 0.5])
    np.testing.assert_allclose(mod.compile("dK")(K, g)(x, y), [*(2 * (x + y * y) * np.exp(x - y))[:2], 0.0],
                               rtol=1e-13)
    raises_at(dsl.DerivativeError, src.replace("dK = grad(F, wrt=K)", "dg = grad(F, wrt=g)"), 2,
              "points of a function of several variables", col=124)


def test_show_and_grad_commands_say_boundary_terms_vanish(capsys, tmp_path):
    """`dsl show` / `dsl grad` print δF/δu = -u'' with the integration-by-parts assumption stated."""
    from dsl.cli import main

    path = tmp_path / "d.dsl"
    path.write_text("def dirichlet(u: f64 -> f64) -> f64 {\n"
                    "    return integrate(x => 0.5 * nabla(u)(x) ^ 2, over=(0, 1))\n"
                    "}\nd = grad(dirichlet)\n"
                    "def local(u: f64 -> f64) -> f64 {\n    return integrate(x => u(x) ^ 2, over=(0, 1))\n}\n"
                    "g = grad(local)\n")
    for argv in (["show", str(path), "d"], ["grad", str(path), "dirichlet", "--wrt", "u"]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "# note: boundary terms assumed to vanish" in out and "divergence" in out
    assert main(["show", str(path), "g"]) == 0
    assert "boundary terms" not in capsys.readouterr().out
    mod = dsl.load(str(path))
    x = np.array([0.1, 0.35, 0.8])
    u = dsl.fn("x => sin(2 * x) + x ^ 3")
    np.testing.assert_allclose(mod.compile("d")(u)(x), -(-4 * np.sin(2 * x) + 6 * x), rtol=1e-9)  # -u''


# --------------------------------------------------------------- no expression swell


def _chain(depth: int) -> str:
    body = "f(x)"
    for k in range(depth):
        body = f"sin({0.5 + 0.01 * k!r} * {body})" if k % 2 else f"tanh(exp(-0.1 * {body}) + 0.3)"
    return (f"def chain(f: f64 -> f64) -> f64 {{\n    return integrate(x => {body}, over=(0, 1))\n}}\n"
            "g = grad(chain)\n")


def test_functional_derivative_of_a_deep_chain_grows_linearly():
    """δ/δf ∫ h_D(f(x)) dx with h a D-deep pointwise chain: function values are wires of one diagram,
    shared, so the derivative grows by the same number of boxes per level (no expression swell)."""
    ops = {}
    for depth in (10, 20, 40):
        mod = dsl.loads(_chain(depth), filename="chain.dsl")
        ops[depth] = (mod["chain"].stats()["ops"], mod["g"].stats()["ops"])
    per_level = (ops[20][1] - ops[10][1]) / 10
    assert ops[40][1] - ops[20][1] == 20 * per_level
    assert per_level <= 4 * (ops[20][0] - ops[10][0]) / 10  # a constant multiple of the primal's boxes per level


# --------------------------------------------------------------- a point f64[k] stacked from its coordinates

STACKED = """
def sperm(k: f64[2] -> f64) -> f64 {
    return integrate(p => k(stack((2 * p[1] + 1, p[0]))) ^ 2 * (1 + p[0]), over=((0, 1), (0, 2)), n=16)
}
g_sperm = grad(sperm)
def smaps(k: f64[2] -> f64) -> f64 {
    return integrate((x, y, z) => exp(k(stack((exp(z), 1 - 3 * x)))) * (1 + y * z), over=((0, 1), (0, 2), (0, 1)), n=12)
}
g_smaps = grad(smaps)
def l_stack(k: f64[2] -> f64) -> (f64[2] -> f64) {
    return p => k(stack((2 * p[1] + 1, p[0])))
}
t_l_stack = vjp(l_stack)
"""


@pytest.fixture(scope="module")
def stacked() -> Any:
    return dsl.loads(STACKED, filename="stacked.dsl")


def test_every_derived_functional_here_reloads_from_its_text(local, composed, multi, stacked):
    """show() of δF/δf is the DSL text of the same diagram (LANGUAGE.md §7 results print in the form
    a user writes): masks, changes of variables, integrated-out variables, mixed results."""
    for mod in (local, composed, multi, stacked):
        for name in mod.names:
            assert_reloads(mod[name])


@pytest.mark.parametrize("backend", CHECKED)
def test_a_stacked_point_is_a_componentwise_change_of_variables(stacked, backend):
    """δ/δk ∫ g(k(stack((φ₀(s₀), φ₁(s₁))))) with each coordinate an invertible map of its own variable:
    coordinates of a point p (swapped, one mapped), or scalar variables (mapped, the third integrated
    out). |det dφ⁻¹/du| = Π |dφᵢ⁻¹/duᵢ|; the pairing runs over the image of the region."""
    k, h = "u => sin(u[0]) + u[1] * u[0] / 3", "u => exp(-u[0] / 2) * (1 + u[1] ^ 2)"
    gateaux_check(stacked, "sperm", {"k": k}, "k", h, ((1, 5), (0, 1)), backend, point=True)
    gateaux_check(stacked, "smaps", {"k": k}, "k", h, ((1, math.e), (-2, 1)), backend, point=True)
    assert "k(stack((2.0 * ((x0[0] - 1.0) / 2.0) + 1.0, x0[1])))" in stacked["g_sperm"].show()  # not stack(...)[c]


@pytest.mark.parametrize("backend", CHECKED)
def test_the_stacked_transpose_passes_the_dot_product_test(stacked, backend):
    """⟨L v, ct⟩ = ⟨v, Lᵀ ct⟩ for L v = p ↦ v(2 p₁ + 1, p₀) over the plane (Lᵀ ct = ct(φ⁻¹(u)) / 2)."""
    v, ct = "u => exp(-sum(u * u) / 3) * (1 + u[0])", "p => exp(-(p[0] - 0.5) ^ 2 - p[1] ^ 2) * (2 - p[1])"
    L = stacked.compile("l_stack", backend=backend)(dsl.fn(v))
    back = stacked.compile("t_l_stack", backend=backend)(dsl.fn(v), dsl.fn(ct))
    nodes, w = _gl(((-9, 9), (-9, 9)), 128)  # L v is narrower than v in p[1]: more nodes than _pair's
    lhs = float(np.sum(w * L(nodes) * _values(dsl.fn(ct), nodes)))
    assert lhs == pytest.approx(float(np.sum(w * _values(dsl.fn(v), nodes) * back(nodes))), rel=1e-12)


@pytest.mark.parametrize("point, why", [
    ("stack((u(x), v(x)))", "component 1 of the point: it is a function value"),
    ("stack((x, 2 * x))", "depend on the same variable"),
])
def test_a_stacked_point_that_is_not_a_change_of_variables_names_the_map(point, why):
    src = ("def F(k: f64[2] -> f64, u: f64 -> f64, v: f64 -> f64) -> f64 {\n"
           f"    return integrate(x => k({point}) ^ 2, over=(0, 1))\n"
           "}\n"
           "g = grad(F, wrt=k)\n")
    err = raises_at(dsl.DerivativeError, src, 2, why, col=27)
    if "u(x)" in point:
        assert f"x ↦ {point}" in str(err) and "k: (f64, f64) -> f64, k(x, y)" in str(err)
    src = ("def F(k: f64[2] -> f64) -> f64 {\n"
           "    return integrate(p => k(stack((p[0], p[1]))), over=((0, 1), (0, 1), (0, 1)), n=4)\n"
           "}\n"
           "g = grad(F)\n")
    raises_at(dsl.DerivativeError, src, 2, "reads coordinate(s) [0, 1] of a variable f64[3] but not [2]", col=27)
