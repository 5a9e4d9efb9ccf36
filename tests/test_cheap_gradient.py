"""The cheap-gradient principle, measured on diagram sizes (deterministic): every gradient of an
example or conformance model has at most 4× the boxes of its function, and on a residual chain
with a diamond at every layer the gradient is exact and grows linearly with depth."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

import dsl
from rewrite import grad, prove_equal, simplify
from semantics.interpret import interpret
from semantics.program import DerivedDef
from semantics.types import FunType
from tests.helpers import load_shared

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = sorted(glob.glob(os.path.join(ROOT, "examples", "*.dsl"))
                + [p for p in glob.glob(os.path.join(ROOT, "..", "shared", "conformance", "cases", "*.dsl"))
                   if "err_" not in p and "functional" not in p])


def _gradients():
    for path in MODELS:
        mod = load_shared(path)
        for name in mod.names:
            d = mod.definition(name)
            # A functional derivative (w.r.t. a function-typed parameter) is a pointwise formula
            # masked to the integration region, not a reverse sweep of the function: its size is
            # checked instead by the no-swell test (a constant number of boxes per level of a chain,
            # tests/test_functional_derivatives.py), like the functional conformance case above.
            functional = any(isinstance(d.dom[i], FunType) for i in d.wrt) if isinstance(d, DerivedDef) else False
            if isinstance(d, DerivedDef) and d.op in ("grad", "value_and_grad") and not functional:
                yield pytest.param(path, name, id=f"{os.path.basename(path)}:{name}")


@pytest.mark.parametrize(("path", "name"), list(_gradients()))
def test_gradient_is_at_most_four_times_the_function(path, name):
    mod = load_shared(path)
    g = mod[name]
    f = mod[mod.definition(name).target]
    assert g.stats()["ops"] <= 4 * f.stats()["ops"], (g.stats(), f.stats())


def residual_chain(layers: int) -> str:
    body = "\n".join(f"    h{i + 1} = h{i} + 0.1 * tanh(h{i} * h{i})" for i in range(layers))
    return f"dim n\ndef f(h0: f64[n]) -> f64 {{\n{body}\n    return sum(h{layers})\n}}\ng = grad(f)\n"


def _reference_gradient(x: np.ndarray, layers: int) -> np.ndarray:
    """Forward-mode dual numbers by hand: d h_{k+1}/d h_k = 1 + 0.1 (1 - tanh²(h²)) 2h."""
    h, dh = x.copy(), np.ones_like(x)
    for _ in range(layers):
        t = np.tanh(h * h)
        h, dh = h + 0.1 * t, dh * (1 + 0.2 * h * (1 - t * t))
    return dh


@pytest.mark.parametrize("layers", [10, 20, 40])
def test_residual_chain_gradient_is_exact(layers):
    mod = dsl.loads(residual_chain(layers))
    x = np.linspace(-1.2, 1.3, 7)
    np.testing.assert_allclose(mod.compile("g")(x), _reference_gradient(x, layers), rtol=1e-12)
    np.testing.assert_allclose(mod.compile("g", backend="interpret")(x), _reference_gradient(x, layers), rtol=1e-12)


def test_residual_chain_gradient_grows_linearly():
    sizes = {k: dsl.loads(residual_chain(k))["g"].stats()["ops"] for k in (10, 20, 40)}
    step1, step2 = sizes[20] - sizes[10], sizes[40] - sizes[20]
    assert step2 == 2 * step1, sizes  # exactly the same number of boxes per layer
    f40 = dsl.loads(residual_chain(40))["f"].stats()["ops"]
    assert sizes[40] <= 4 * f40


def _random_program(n_ops: int, seed: int = 0) -> str:
    """A scalar model with n_ops elementwise operations, diamonds everywhere (each op reads two
    earlier values)."""
    rng = np.random.default_rng(seed)
    lines, names = [], ["x", "y"]
    for i in range(n_ops):
        a, b = rng.choice(names[-8:], 2)
        # bounded operations, so values stay O(1) over hundreds of layers and differences are exact
        op = rng.choice(["tanh({a} * {b})", "0.5 * {a} + sin({b})", "tanh({a}) - 0.5 * {b}", "{a} * exp(-{b} * {b})"])
        lines.append(f"    v{i} = " + op.format(a=a, b=b))
        names.append(f"v{i}")
    return "dim n\ndef f(x: f64[n], y: f64[n]) -> f64 {\n" + "\n".join(lines) + f"\n    return sum({names[-1]})\n}}\n"


def test_derivation_of_a_thousand_op_model_is_fast():
    mod = dsl.loads(_random_program(400))  # ~1,000 boxes once literals and unary ops are counted
    f = mod["f"]
    assert f.stats()["ops"] >= 1000
    g = grad(f)
    assert g.stats()["ops"] <= 4 * f.stats()["ops"]  # a count, not a time (benchmarks/scaling.py times it)
    x, y = np.linspace(-1, 1, 3), np.linspace(0.5, -0.5, 3)
    gx, gy = interpret(g, x, y)
    eps = 1e-6
    fd = (interpret(f, x + eps * np.eye(3)[0], y) - interpret(f, x - eps * np.eye(3)[0], y)) / (2 * eps)
    assert gx[0] == pytest.approx(float(fd), rel=1e-5, abs=1e-8)
    assert gy.shape == (3,)


def test_grad_of_grad_and_derived_definitions_as_boxes():
    src = """
def f(x: f64) -> f64 { return x ^ 3 + sin(x) }
g = grad(f)
gg = grad(grad(f))
def uses(x: f64) -> f64 { return g(x) * 2 + gg(x) }
g2 = grad(g)
"""
    mod = dsl.loads(src)
    x = 0.3
    assert float(mod.compile("gg")(x)) == pytest.approx(6 * x - np.sin(x))
    assert float(mod.compile("g2")(x)) == pytest.approx(6 * x - np.sin(x))
    assert float(mod.compile("uses")(x)) == pytest.approx(2 * (3 * x * x + np.cos(x)) + 6 * x - np.sin(x))


def test_prove_equal_and_simplify():
    mod = dsl.loads("def a(x: f64) -> f64 { return sin(x) * 1 - 0 }\ndef b(x: f64) -> f64 { return sin(x) }\n"
                    "def c(x: f64) -> f64 { return cos(x) }\ndef z(x: f64) -> f64 { return sin(x) + 0 }")
    assert prove_equal(mod["a"], mod["b"]) is True
    assert prove_equal(mod["a"], mod["c"]) is None
    assert simplify(mod["a"]) == mod["b"]
    # sin(-0) + 0 is +0, sin(-0) is -0: equal as reals only
    assert prove_equal(mod["z"], mod["b"]) is None
    assert prove_equal(mod["z"], mod["b"], fast_math=True) is True


def test_per_row_scaling_gradient_is_a_matvec():
    """The transpose of `a / column` summed over rows is emitted as `row @ a` (no N×M temporary)."""
    src = ("dim N, M\ndef f(a: f64[N, M], w: f64[M], T: f64[N]) -> f64 {\n"
           "    return sum(exp(a - expand_dims(w, 0) / expand_dims(T, 1)))\n}\ng = grad(f, wrt=w)\n")
    mod = dsl.loads(src)
    g = mod["g"]
    assert any(n.box.name == "matmul" for n in g.nodes), g.show()
    rng = np.random.default_rng(0)
    a, w, T = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.uniform(1, 2, 5)
    want = -np.sum(np.exp(a - w[None, :] / T[:, None]) / T[:, None], axis=0)
    np.testing.assert_allclose(mod.compile("g")(a, w, T), want, rtol=1e-12)
    np.testing.assert_allclose(mod.compile("g", backend="interpret")(a, w, T), want, rtol=1e-12)
