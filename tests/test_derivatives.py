"""Derivatives against oracles: central finite differences (float64) for jvp, vjp, grad and hessian of
every primitive, the dot-product test for every transpose, and the chain rule on random diagrams."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import dsl
from rewrite import grad, hessian, jacobian, jvp, value_and_grad, vjp
from semantics.interpret import interpret
from semantics.primitives import PRIMITIVES
from tests.helpers import examples
from tests.strategies import diagrams

H = 1e-6

# name -> (expression over x (and y), shapes of x (and y), domain of the inputs)
CASES: dict[str, tuple[str, tuple[tuple[int, ...], ...], str]] = {
    "add": ("x + y", ((3, 4), (4,)), "any"), "sub": ("x - y", ((3, 4), (3, 1)), "any"),
    "mul": ("x * y", ((3, 4), (3, 4)), "any"), "div": ("x / y", ((3, 4), (4,)), "pos"),
    "pow": ("x ^ y", ((3, 4), (3, 4)), "pos"), "maximum": ("maximum(x, y)", ((5,), (5,)), "any"),
    "minimum": ("minimum(x, y)", ((5,), (5,)), "any"), "atan2": ("atan2(x, y)", ((5,), (5,)), "pos"),
    "where": ("where(x > y, x * x, y)", ((6,), (6,)), "any"),
    "sum": ("sum(x, axis=1)", ((3, 4),), "any"), "mean": ("mean(x, axis=0, keepdims=true)", ((3, 4),), "any"),
    "prod": ("prod(x, axis=1)", ((3, 4),), "pos"), "max": ("max(x, axis=1)", ((3, 4),), "any"),
    "min": ("min(x)", ((3, 4),), "any"), "logsumexp": ("logsumexp(x, axis=1)", ((3, 4),), "any"),
    "matmul": ("x @ y", ((3, 4), (4, 2)), "any"), "dot": ("dot(x, y)", ((4,), (4,)), "any"),
    "outer": ("outer(x, y)", ((3,), (4,)), "any"), "transpose": ("transpose(x, axes=(1, 0, 2))", ((2, 3, 4),), "any"),
    "einsum": ('einsum("ij,jk->ik", x, y)', ((3, 4), (4, 2)), "any"), "trace": ("trace(x)", ((3, 3),), "any"),
    "diag": ("diag(x)", ((3,),), "any"), "reshape": ("reshape(x, (4, 3))", ((3, 4),), "any"),
    "broadcast_to": ("broadcast_to(x, (2, 3, 4))", ((3, 4),), "any"),
    "concat": ("concat((x, y), axis=0)", ((2, 3), (4, 3)), "any"),
    "stack": ("stack((x, y), axis=1)", ((3,), (3,)), "any"),
    "expand_dims": ("expand_dims(x, 1)", ((3, 4),), "any"), "squeeze": ("squeeze(x, axis=1)", ((3, 1),), "any"),
    "index": ("x[1:, ::2]", ((4, 5),), "any"), "pad": ("pad(x, (1, 2))", ((3, 4),), "any"),
    "roll": ("roll(x, 2, axis=1)", ((3, 4),), "any"), "cast": ("cast(x, f64) * 2", ((4,),), "any"),
    "sum_to": ("sum_to(x, (1, 4))", ((3, 4),), "any"),
    "unindex": ('unindex(x, "1:, ::-2", (5, 6))', ((4, 3),), "any"),
}
UNARY_DOMAIN = {n: {"positive": "pos"}.get(p.domain, p.domain) for n, p in PRIMITIVES.items()}  # from the table
ZERO_DERIVATIVE = {name for name, prim in PRIMITIVES.items() if prim.jvp == "0"}  # from the table


def _inputs(shapes, domain, seed):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        if domain == "pos":
            out.append(rng.uniform(0.5, 2.0, s))
        elif domain == "unit":
            out.append(rng.uniform(-0.8, 0.8, s))
        else:
            # well separated values keep max/min/where/relu away from ties and kinks
            out.append(rng.permutation(np.linspace(-2, 2, int(np.prod(s)))).reshape(s) + 0.01 * rng.standard_normal(s))
    return out


def _source(expr: str, shapes) -> str:
    names = ["x", "y"][: len(shapes)]
    params = ", ".join(f"{n}: f64[{', '.join(map(str, s))}]" if s else f"{n}: f64" for n, s in zip(names, shapes))
    return f"def f({params}) -> f64 {{\n    w = {expr}\n    return sum(w * sin(w + 0.5))\n}}\n" \
           f"def g({params}) {{ return {expr} }}\n"


def _case(name):
    if name in CASES:
        return CASES[name]
    return (f"{name}(x)", ((2, 3),), UNARY_DOMAIN.get(name, "any"))


def _differentiable():
    # rows on function-typed wires (family "functional") are differentiated w.r.t. functions: their
    # Gateaux / closed-form checks live with the functional-derivative tests
    return sorted(p for p, row in PRIMITIVES.items() if p not in ZERO_DERIVATIVE and row.family != "functional")


def _fd_grad(f, xs, i):
    g = np.zeros_like(xs[i])
    for idx in np.ndindex(xs[i].shape):
        plus = [x.copy() for x in xs]
        minus = [x.copy() for x in xs]
        plus[i][idx] += H
        minus[i][idx] -= H
        g[idx] = (f(*plus) - f(*minus)) / (2 * H)
    return g


@pytest.mark.parametrize("name", _differentiable())
def test_grad_matches_finite_differences(name):
    expr, shapes, domain = _case(name)
    mod = dsl.loads(_source(expr, shapes))
    f = mod["f"]
    xs = _inputs(shapes, domain, 0)
    fn = lambda *a: float(interpret(f, *a))
    g = grad(f)
    got = interpret(g, *xs)
    got = got if isinstance(got, tuple) else (got,)
    for i in range(len(xs)):
        np.testing.assert_allclose(got[i], _fd_grad(fn, xs, i), rtol=1e-5, atol=1e-7, err_msg=f"{name} d/d{i}")


@pytest.mark.parametrize("name", _differentiable())
def test_jvp_vjp_dot_product(name):
    """⟨J v, w⟩ = ⟨v, Jᵀ w⟩, with J v also checked against a central difference."""
    expr, shapes, domain = _case(name)
    g = dsl.loads(_source(expr, shapes))["g"]
    xs = _inputs(shapes, domain, 1)
    rng = np.random.default_rng(2)
    vs = [rng.standard_normal(x.shape) for x in xs]
    w = rng.standard_normal(np.shape(interpret(g, *xs)))
    jv = interpret(jvp(g), *xs, *vs)[1]
    plus = interpret(g, *[x + H * v for x, v in zip(xs, vs)])
    minus = interpret(g, *[x - H * v for x, v in zip(xs, vs)])
    np.testing.assert_allclose(jv, (plus - minus) / (2 * H), rtol=1e-5, atol=1e-6)
    jtw = interpret(vjp(g), *xs, w)
    jtw = jtw if isinstance(jtw, tuple) else (jtw,)
    lhs = float(np.sum(jv * w))
    rhs = sum(float(np.sum(v * c)) for v, c in zip(vs, jtw))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", ["sin", "exp", "tanh", "mul", "div", "matmul", "logsumexp", "index", "pow",
                                  "sigmoid", "softplus", "sum", "where", "outer", "pad", "reshape"])
def test_hessian_matches_finite_differences_of_the_gradient(name):
    expr, shapes, domain = _case(name)
    mod = dsl.loads(_source(expr, shapes))
    f = mod["f"]
    xs = _inputs(shapes, domain, 3)
    g = grad(f, wrt=(0,))
    h = interpret(hessian(f, wrt=(0,)), *xs)
    x0 = xs[0]
    fd = np.zeros(x0.shape + x0.shape)
    for idx in np.ndindex(x0.shape):
        plus = [x.copy() for x in xs]
        minus = [x.copy() for x in xs]
        plus[0][idx] += 1e-5
        minus[0][idx] -= 1e-5
        fd[(Ellipsis,) + idx] = (interpret(g, *plus) - interpret(g, *minus)) / 2e-5
    np.testing.assert_allclose(h, fd, rtol=1e-4, atol=1e-6)


def test_value_and_grad_and_jacobian():
    mod = dsl.loads("dim n\ndef f(x: f64[n]) -> f64 { return sum(sin(x) * x) }\n"
                    "def v(x: f64[n]) -> f64[n] { return exp(x) * x[0] }")
    x = np.array([0.1, 0.7, -0.3])
    val, g = interpret(value_and_grad(mod["f"]), x)
    assert float(val) == pytest.approx(np.sum(np.sin(x) * x))
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x))
    J = interpret(jacobian(mod["v"]), x)
    want = np.diag(np.exp(x) * x[0])
    want[:, 0] += np.exp(x)
    np.testing.assert_allclose(J, want)


@settings(max_examples=examples(40), deadline=None)
@given(diagrams(n_in=2, n_out=1, max_nodes=8))
def test_vjp_is_functorial_on_random_diagrams(d):
    """R is a functor: vjp of the whole diagram equals the chain rule through its nodes, checked
    against finite differences of the composite."""
    from semantics.diagram import Builder, make_box
    from semantics.types import TensorType

    b = Builder()
    ins = [b.input(t) for t in d.dom]
    (y,) = b.inline(d, ins)
    (s,) = b.add(make_box("sum", {"axis": None, "keepdims": False}), [y], [TensorType("f64", ())])
    f = b.build([s])
    xs = [np.linspace(-0.93, 0.87, 4) + 0.1173 * (i + 1) for i in range(2)]  # away from ties of maximum
    g = interpret(grad(f), *xs)
    fn = lambda *a: float(interpret(f, *a))
    for i in range(2):
        np.testing.assert_allclose(g[i], _fd_grad(fn, xs, i), rtol=1e-5, atol=1e-6)


def test_nondifferentiable_points_use_subgradient_zero():
    mod = dsl.loads("def f(x: f64) -> f64 { return relu(x) + abs(x) + floor(x) + stop_gradient(x * x) }")
    assert float(interpret(grad(mod["f"]), 0.0)) == 0.0
    assert float(interpret(grad(mod["f"]), 1.5)) == 2.0


def test_gradient_through_a_float32_cast():
    mod = dsl.loads("dim n\ndef f(x: f64[n]) -> f64 { return sum(cast(sin(cast(x, f32)), f64)) }")
    x = np.array([0.1, 0.5, -0.7])
    g = interpret(grad(mod["f"]), x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.cos(x), rtol=1e-6)


def test_integer_wires_have_no_tangent():
    mod = dsl.loads("dim n\ndef f(x: f64[n], k: i64) -> f64 { return sum(x * cast(k, f64)) }")
    g = interpret(grad(mod["f"]), np.ones(3), np.int64(2))
    np.testing.assert_allclose(g, 2.0)


def test_generator_boxes_differentiate_to_derivative_boxes():
    mod = dsl.loads("box f : f64 -> f64\ndef g(x: f64) -> f64 { return f(x * x) }",
                    boxes={"f": np.sin})
    d = grad(mod["g"], optimize=False)
    assert any(n.box.name == "dT_f" for n in d.nodes)
    assert "dT_f(" in d.show()
    j = jvp(mod["g"], optimize=False)
    assert "d_f(" in j.show()
    out = interpret(d, 0.5, boxes={"f": np.sin, "dT_f": lambda x, ct: np.cos(x) * ct})
    assert float(out) == pytest.approx(np.cos(0.25) * 2 * 0.5)
