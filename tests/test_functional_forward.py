"""LANGUAGE.md §7, forward: lambdas, application, compose, nabla and integrate, run through the
sampling pass on both backends, against closed forms (the oracle is calculus, not our code)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dsl
from rewrite.sampling import is_functional, sample_diagram
from semantics.prims.functional import LIFTED_ROWS, gauss_legendre_grid
from tests.helpers import raises_at

BACKENDS = ("interpret", "numpy")

SRC = """
def lda(rho: f64 -> f64) -> f64 {
    return integrate(x => -0.75 * (3 / pi) ^ (1/3) * rho(x) ^ (4/3), over=(0, 1))
}
def moments(f: f64 -> f64, a: f64) -> f64 {
    return integrate(x => x * f(x) ^ 2 + sin(x) * f(x) + a, over=(0, 1), n=16)
}
def dirichlet(u: f64 -> f64) -> f64 {
    return integrate(x => 0.5 * nabla(u)(x) ^ 2, over=(0, 1))
}
def kernel(f: f64 -> f64, c: f64) -> f64 {
    return integrate(x => integrate(y => f(x) * exp(-c * (x - y) ^ 2) * f(y), over=(0, 1), n=32), over=(0, 1), n=32)
}
def product(f: f64 -> f64) -> f64 {
    return integrate(f, over=(0, 1)) * integrate(x => f(x) ^ 2, over=(0, 1)) / integrate(x => 1 + 0 * f(x), over=(0, 2))
}
def box2(u: f64[2] -> f64) -> f64 {
    return integrate(p => u(p) ^ 2 + p[0], over=((0, 1), (0, 2)), n=8)
}
def box2xy(w: f64) -> f64 {
    return integrate((x, y) => w * x * y ^ 2, over=((0, 1), (-1, 2)), n=4)
}
def box3(u: f64[3] -> f64) -> f64 {
    return integrate(p => u(p) * p[2], over=((0, 1), (0, 1), (0, 2)), n=6)
}
def poly(k: f64) -> f64 {
    return integrate(x => x ^ k, over=(-1, 2), n=5)
}
def scaled(f: f64 -> f64, c: f64) -> f64 -> f64 {
    return x => c * f(x) + x
}
def squared(f: f64 -> f64) -> f64 -> f64 {
    return compose(y => y ^ 2, f)
}
def curvature(f: f64 -> f64) -> f64 -> f64 {
    return nabla(nabla(f))
}
def gradient(u: f64[2] -> f64) -> f64[2] -> f64[2] {
    return nabla(u)
}
def smooth(f: f64 -> f64) -> f64 -> f64 {
    return x => integrate(y => exp(-(x - y) ^ 2) * f(y), over=(0, 1), n=24)
}
"""


@pytest.fixture(scope="module")
def mod() -> dsl.Module:
    return dsl.loads(SRC, filename="functional.dsl")


def run(mod: dsl.Module, name: str, *args: object) -> dict[str, object]:
    return {be: mod.compile(name, backend=be)(*args) for be in BACKENDS}


def close(results: dict[str, object], want: float, tol: float = 1e-12) -> None:
    for be, got in results.items():
        assert abs(float(got) - want) <= tol * max(1.0, abs(want)), (be, float(got), want)


def test_lda_exchange_matches_the_conformance_value(mod: dsl.Module) -> None:
    close(run(mod, "lda", dsl.fn("x => 1 + 0.5 * sin(pi * x)")), -1.070882170630954, 1e-10)


def test_explicit_dependence_on_x_and_captured_parameters(mod: dsl.Module) -> None:
    # ∫ x·1 + sin(x)·1 + a = 1/2 + (1 - cos 1) + a
    close(run(mod, "moments", dsl.fn("x => 1 + 0 * x"), 0.25), 0.5 + 1 - math.cos(1) + 0.25)
    close(run(mod, "moments", lambda x: x, 0.0), 0.25 + (math.sin(1) - math.cos(1)))


def test_derivative_of_a_dsl_function(mod: dsl.Module) -> None:
    # u = sin(2x) + x³: ½∫₀¹ (2cos 2x + 3x²)² dx = ½ (2 + sin 4 / 2 + 12 ∫x² cos 2x + 9/5)
    want = 0.5 * (2 + math.sin(4) / 2 + 12 * _x2cos2x() + 9 / 5)
    close(run(mod, "dirichlet", dsl.fn("x => sin(2 * x) + x ^ 3")), want, 1e-11)


def _x2cos2x() -> float:
    """∫₀¹ x² cos 2x dx = [x² sin2x/2 + x cos2x/2 − sin2x/4]₀¹."""
    return math.sin(2) / 2 + math.cos(2) / 2 - math.sin(2) / 4


def test_nested_nonlocal_integral(mod: dsl.Module) -> None:
    # ∫∫ exp(-(x - y)²) over the unit square = √π erf(1) + e⁻¹ − 1
    close(run(mod, "kernel", lambda x: np.ones_like(x), 1.0), math.sqrt(math.pi) * math.erf(1) + math.exp(-1) - 1, 1e-10)


def test_products_and_quotients_of_integrals(mod: dsl.Module) -> None:
    close(run(mod, "product", dsl.fn("x => x")), (1 / 2) * (1 / 3) / 2)


def test_two_and_three_dimensional_boxes(mod: dsl.Module) -> None:
    # ∫₀¹∫₀² (xy)² + x = (1/3)(8/3) + 1;  ∫∫ w x y² over (0,1)×(-1,2) = w/2 · 3;  ∫∫∫ xyz · z = 1/2·1/2·8/3
    close(run(mod, "box2", lambda p: p[:, 0] * p[:, 1]), 8 / 9 + 1)
    close(run(mod, "box2xy", 2.0), 2.0 * 0.5 * 3.0)
    close(run(mod, "box3", dsl.fn("p => p[0] * p[1] * p[2]")), 0.25 * 8 / 3)


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_gauss_legendre_is_exact_up_to_degree_2n_minus_1(n: int) -> None:
    nodes, w = gauss_legendre_grid(((-1.0, 2.0, n),))
    x = nodes[:, 0]
    for k in range(2 * n):
        assert abs(w @ x ** k - (2 ** (k + 1) - (-1) ** (k + 1)) / (k + 1)) < 1e-11 * 2 ** k
    assert abs(w @ x ** (2 * n) - (2 ** (2 * n + 1) + 1) / (2 * n + 1)) > 1e-6  # and not beyond


def test_quadrature_order_from_the_source(mod: dsl.Module) -> None:
    close(run(mod, "poly", 9.0), (2 ** 10 - 1) / 10)  # degree 9 = 2·5 − 1: exact with n=5
    assert abs(float(mod.compile("poly")(10.0)) - (2 ** 11 + 1) / 11) > 1e-3


def test_function_outputs_are_vectorised_callables(mod: dsl.Module) -> None:
    for be in BACKENDS:
        g = mod.compile("scaled", backend=be)(dsl.fn("x => x ^ 2"), 2.0)
        pts = np.array([[0.5, 1.0, 2.0], [0.0, -1.0, 3.0]])
        np.testing.assert_allclose(g(pts), 2 * pts ** 2 + pts, rtol=1e-14)
        assert g(np.float64(0.5)).shape == ()
        h = mod.compile("squared", backend=be)(np.sin)
        np.testing.assert_allclose(h(pts), np.sin(pts) ** 2, rtol=1e-14)


def test_nabla_nests_and_gives_gradients(mod: dsl.Module) -> None:
    x = np.linspace(-1, 1, 7)
    for be in BACKENDS:
        g = mod.compile("curvature", backend=be)(dsl.fn("x => sin(3 * x) + x ^ 3"))
        np.testing.assert_allclose(g(x), -9 * np.sin(3 * x) + 6 * x, rtol=1e-12, atol=1e-12)
        grad = mod.compile("gradient", backend=be)(dsl.fn("p => p[0] ^ 2 * p[1]"))
        pts = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
        want = np.stack([2 * pts[:, 0] * pts[:, 1], pts[:, 0] ** 2], axis=-1)
        np.testing.assert_allclose(grad(pts), want, rtol=1e-13)


def test_function_of_an_integral_and_a_function_output_passed_back(mod: dsl.Module) -> None:
    x = np.array([0.0, 0.3, 1.0])
    s = mod.compile("smooth")(dsl.fn("y => 1 + 0 * y"))
    # ∫₀¹ exp(-(x - y)²) dy = √π/2 (erf(1 - x) + erf(x))
    want = [math.sqrt(math.pi) / 2 * (math.erf(1 - v) + math.erf(v)) for v in x]
    np.testing.assert_allclose(s(x), want, rtol=1e-12)
    # a function-typed result is a function value: pass it on, differentiate it
    close({"numpy": mod.compile("dirichlet")(mod.compile("scaled")(dsl.fn("x => x ^ 2"), 1.0))},
          0.5 * (4 / 3 + 2 + 1))  # u = x² + x, u' = 2x + 1


def test_python_callables_and_their_derivative_errors(mod: dsl.Module) -> None:
    def density(x: np.ndarray) -> np.ndarray:
        return 1 + 0.5 * np.sin(np.pi * x)

    close(run(mod, "lda", density), -1.070882170630954, 1e-10)
    for be in BACKENDS:
        with pytest.raises(dsl.InputError, match="'test_python_callables_and_their_derivative_errors.<locals>.density'"):
            mod.compile("dirichlet", backend=be)(density)
        with pytest.raises(dsl.InputError, match="returned shape"):
            mod.compile("lda", backend=be)(lambda x: np.zeros((len(x), 2)))
        with pytest.raises(dsl.InputError, match="must be a function"):
            mod.compile("lda", backend=be)(np.zeros(3))


def test_backends_agree_and_generated_code_has_no_loop_over_points(mod: dsl.Module) -> None:
    f = dsl.fn("x => exp(-x) * cos(x)")
    for name in ("lda", "kernel", "dirichlet"):
        args = (f, 0.7) if name == "kernel" else (f,)
        r = run(mod, name, *args)
        assert abs(float(r["numpy"]) - float(r["interpret"])) <= 1e-13 * abs(float(r["interpret"]))
    src = mod.emit("kernel")
    assert "gauss_legendre(xp, ((0.0, 1.0, 32),), 'nodes', 0)" in src
    assert "for " not in src and "while " not in src


def test_every_row_on_function_wires_is_exercised(mod: dsl.Module) -> None:
    seen = {n.box.name for name in mod.names for n in mod[name].nodes}
    assert set(LIFTED_ROWS) - {"divergence"} <= seen, set(LIFTED_ROWS) - seen
    for name in mod.names:
        sampled = sample_diagram(mod[name])
        for d in ([sampled.arrays] if sampled.arrays else []) + list(sampled.functions):
            assert not is_functional(d)


# ------------------------------------------------------------------ errors, with spans


@pytest.mark.parametrize("body, line_frag, fragments", [
    ("g = x => x\n    return integrate(g, over=(0, 1))", "g = x => x", ("cannot infer", "lambda")),
    ("return integrate(x => rho(x), over=(0))", "(0)", ("over= must be",)),
    ("return integrate(x => rho(x), over=((0, 1), (0, 1), (0, 1), (0, 1)))", "over", ("over= must be",)),
    ("return integrate((x, y) => rho(x), over=(0, 1))", "(x, y)", ("2 parameter(s)", "1 dimension")),
    ("return integrate(x => rho(x, x), over=(0, 1))", "rho(x, x)", ("takes 1 argument",)),
    ("return integrate(x => rho(x), over=(0, 1), n=0)", "n=0", ("positive integer",)),
    ("return integrate(p => rho(p[0]), over=((0, 1), (0, 1)), n=(4, 4, 4))", "n=(4", ("3 order(s)", "2 dimension")),
    ("return integrate(p => rho(p[0]), over=((0, 1), (0, 1)), n=(4, 0))", "n=(4", ("positive integer", "(4, 0)")),
    ("return integrate(x => x(1), over=(0, 1))", "x(1)", ("variable of the lambda",)),
    ("return integrate(x => rho(x), over=(0, 1), m=3)", "m=3", ("no parameter 'm'",)),
    ("return integrate(p => rho(p), over=((0, 1), (0, 1)))", "rho(p)", ("must be f64", "f64[2]")),
])
def test_errors_name_the_problem_at_its_span(body: str, line_frag: str, fragments: tuple[str, ...]) -> None:
    src = f"def F(rho: f64 -> f64) -> f64 {{\n    {body}\n}}"
    line = next(i + 1 for i, text in enumerate(src.splitlines()) if line_frag in text)
    raises_at(dsl.TypeCheckError, src, line, *fragments)


def test_nabla_of_a_python_callable_names_it_from_the_cli_path() -> None:
    mod = dsl.loads("def F(u: f64 -> f64) -> f64 -> f64 { return nabla(u) }")
    g = mod.compile("F")(np.cos)
    with pytest.raises(dsl.InputError, match="'cos'"):
        g(np.array([0.5]))


def test_show_prints_lambdas_that_reload_to_the_same_diagram(mod: dsl.Module) -> None:
    from tests.test_show_roundtrip import assert_reloads

    for name in mod.names:
        assert_reloads(mod[name])
    assert "integrate(x0 => integrate(x1 => f(x0) * exp(-c * (x0 - x1) ^ 2.0) * f(x1), over=(0.0, 1.0), n=32)" \
        in mod["kernel"].show()
    assert "return compose((x0 => x0 ^ 2.0), f)" in mod["squared"].show()


def test_divergence_of_lifted_and_input_functions() -> None:
    mod = dsl.loads("""
def div_in(v: f64[2] -> f64[2]) -> f64[2] -> f64 {
    return divergence(v)
}
def laplacian(u: f64[2] -> f64) -> f64[2] -> f64 {
    return divergence(nabla(u))
}
def div_1d(u: f64 -> f64) -> f64 -> f64 {
    return divergence(x => x * u(x))
}
""")
    pts = np.array([[0.5, 1.0], [2.0, -1.0], [0.0, 3.0]])
    x, y = pts[:, 0], pts[:, 1]
    for be in BACKENDS:
        v = dsl.fn("p => stack((p[0] ^ 2 * p[1], sin(p[1])), axis=0)")
        np.testing.assert_allclose(mod.compile("div_in", backend=be)(v)(pts), 2 * x * y + np.cos(y), rtol=1e-13)
        u = dsl.fn("p => p[0] ^ 3 * p[1] + exp(p[1])")
        np.testing.assert_allclose(mod.compile("laplacian", backend=be)(u)(pts), 6 * x * y + np.exp(y), rtol=1e-13)
        g = mod.compile("div_1d", backend=be)(dsl.fn("x => sin(x)"))
        np.testing.assert_allclose(g(x), np.sin(x) + x * np.cos(x), rtol=1e-13)
    assert "return divergence(nabla(u))" in mod["laplacian"].show()


def test_defs_act_pointwise_inside_lambdas_and_shared_subterms_stay_shared() -> None:
    mod = dsl.loads("""
def sq(a: f64, k: f64) -> f64 {
    return k * a * a
}
def energy(rho: f64 -> f64, k: f64) -> f64 {
    return integrate(x => sq(rho(x), k) + rho(x) * rho(x), over=(0, 1), n=8)
}
def at_half(f: f64 -> f64) -> f64 {
    return f(0.5) + integrate(x => f(0.25) * x, over=(0, 1), n=2)
}
""")
    close(run(mod, "energy", dsl.fn("x => x"), 3.0), 4 / 3)
    close(run(mod, "at_half", np.cos), math.cos(0.5) + math.cos(0.25) / 2)
    d = mod["energy"]
    assert sum(n.box.name == "apply" for n in d.nodes) == 1  # rho(x): one node, read four times
    from tests.test_show_roundtrip import assert_reloads

    assert_reloads(d)
    assert_reloads(mod["at_half"])


def test_integrals_are_one_vectorised_call_per_application(mod: dsl.Module) -> None:
    """The nonlocal ∫∫ f(x) K f(y): f(x) is evaluated once on the 32 outer nodes (constant in y, then
    spread), f(y) once on the 32 inner nodes (then tiled): every call is one array of points."""
    calls: list[tuple[int, ...]] = []

    def f(x: np.ndarray) -> np.ndarray:
        calls.append(x.shape)
        return np.ones_like(x)

    for be in BACKENDS:
        calls.clear()
        mod.compile("kernel", backend=be)(f, 1.0)
        # (the generated code shares the two: the inner and outer rules are the same nodes)
        assert calls and len(calls) <= 2 and all(c == (32,) for c in calls), (be, calls)


def test_kernel_backends_run_functionals_through_the_numpy_path(mod: dsl.Module) -> None:
    f = mod.compile("lda", backend="c")
    assert abs(float(f(dsl.fn("x => 1 + 0.5 * sin(pi * x)"))) + 1.070882170630954) < 1e-10
    assert "(through numpy)" in repr(f) and "through the generated NumPy code" in f.note


def test_lambdas_typed_by_their_use() -> None:
    mod = dsl.loads("""
def F(f: f64 -> f64) -> f64 {
    return integrate(x => compose(f, y => y ^ 2)(x) + (z => 2 * z)(x), over=(0, 1), n=8)
}
def G(f: f64 -> f64) -> f64 {
    return integrate(compose(f, y => 3 * y), over=(0, 1), n=8) + integrate(nabla(y => y * f(y)), over=(0, 1), n=8)
}
""")
    close(run(mod, "F", dsl.fn("x => x")), 1 / 3 + 1)
    close(run(mod, "G", dsl.fn("x => x ^ 2")), 3.0 + 1.0)  # ∫ 9y² = 3;  ∫ (y³)' = 1
    from tests.test_show_roundtrip import assert_reloads

    assert_reloads(mod["F"])
    assert_reloads(mod["G"])


def test_a_value_named_outside_a_lambda_is_broadcast_by_the_row_that_reads_it():
    """`t` read in `x => t * f(x)` is a constant function (`lift`): sampled, the row reads t itself
    (no [npoints] copy of it) unless nothing else in the row varies."""
    mod = dsl.loads("def h(f: f64 -> f64, a: f64) -> (f64 -> f64) {\n t = a * a\n return x => t * f(x)\n}")
    d = mod["h"]
    assert any(n.box.name == "lift" for n in d.nodes)
    (values,) = sample_diagram(d).functions
    assert not any(n.box.name == "broadcast_to" for n in values.nodes)
    got = mod.compile("h")(dsl.fn("x => x + 1"), np.float64(3.0))(np.array([0.5, 2.0]))
    np.testing.assert_allclose(got, [13.5, 27.0])


def test_each_dimension_of_a_box_has_its_own_order() -> None:
    """`n=(3, 24)`: 3 nodes along x (exact for the quadratic in x), 24 along y, one call on 72 points;
    show() prints the orders back and reloads."""
    from tests.test_show_roundtrip import assert_reloads

    mod = dsl.loads("def F(u: f64[2] -> f64) -> f64 {\n"
                    "    return integrate(p => u(p) ^ 2 * exp(p[1]), over=((0, 1), (0, 2)), n=(3, 24))\n}\n")
    calls: list[tuple[int, ...]] = []

    def u(p: np.ndarray) -> np.ndarray:
        calls.append(p.shape)
        return p[:, 0] + p[:, 1]

    for be in BACKENDS:
        calls.clear()
        close({be: mod.compile("F", backend=be)(u)}, (10 * math.e ** 2 - 4) / 3)  # ∫∫ (x + y)² eʸ
        assert calls == [(72, 2)], (be, calls)
    assert "n=(3, 24)" in mod["F"].show()
    assert_reloads(mod["F"])
