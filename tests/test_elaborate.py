"""Elaboration: defs, literals, dims, calls, generic library defs, point-free diagrams, derived signatures."""

from __future__ import annotations

import numpy as np
import pytest

import dsl
from tests.helpers import rand, run


def test_def_signature_and_run():
    src = "dim n, m\ndef affine(x: f64[n], A: f64[m, n], b: f64[m]) -> f64[m] { return A @ x + b }"
    mod = dsl.loads(src)
    assert mod["affine"].signature == "(f64[n], f64[m, n], f64[m]) -> f64[m]"
    x, A, b = rand((3,)), rand((2, 3), seed=1), rand((2,), seed=2)
    np.testing.assert_allclose(mod.compile("affine", backend="interpret")(x, A, b), A @ x + b)


def test_literals_take_the_context_dtype():
    src = "dim n\ndef f(x: f32[n]) -> f32[n] { return 0.5 * x + 1 }"
    out = run(src, "f", np.ones(3, np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 1.5)


def test_literal_arithmetic_folds():
    mod = dsl.loads("def f(x: f64) -> f64 { return (3 / pi) ^ (1 / 3) * x }")
    consts = [n for n in mod["f"].nodes if n.box.name == "const"]
    assert len(consts) == 1
    assert consts[0].box.param_dict["value"] == pytest.approx((3 / np.pi) ** (1 / 3))


def test_dims_as_values():
    src = "dim n\ndef f(x: f64[n]) -> f64 { return sum(x) / n }"
    np.testing.assert_allclose(run(src, "f", np.arange(4.0)), 1.5)


def test_multiple_returns_and_unpacking():
    src = """
dim n
def two(x: f64[n]) -> (f64, f64[n]) { return sum(x), -x }
def use(x: f64[n]) -> f64 {
    s, y = two(x)
    return s + sum(y * y)
}
"""
    mod = dsl.loads(src)
    assert mod["two"].signature == "f64[n] -> (f64, f64[n])"
    x = rand((4,))
    np.testing.assert_allclose(mod.compile("use", backend="interpret")(x), x.sum() + (x * x).sum())


def test_statement_order_does_not_change_the_diagram():
    a = dsl.loads("def f(x: f64) -> f64 { a = sin(x)\n b = cos(x)\n return a * b }")["f"]
    b = dsl.loads("def f(x: f64) -> f64 { b = cos(x)\n a = sin(x)\n return a * b }")["f"]
    assert a == b


@pytest.mark.parametrize("depth", [5, 150])  # (past 100 levels the names are collected with a stack)
def test_statement_order_sees_names_deep_in_an_expression(depth):
    deep = "(" * depth + "x" + " + x)" * (depth - 1) + " + a)"  # `a` is read at the bottom
    later = dsl.loads(f"def f(x: f64) -> f64 {{ b = {deep}\n a = sin(x)\n return b }}")["f"]
    first = dsl.loads(f"def f(x: f64) -> f64 {{ a = sin(x)\n b = {deep}\n return b }}")["f"]
    assert later == first and len(later.nodes) == depth + 1


def test_calls_are_inlined_with_the_callers_dims():
    src = """
dim B, D, N, K
def lin(x: f64[B, D], W: f64[D, K]) -> f64[B, K] { return x @ W }
def twice(x: f64[N, 4], W: f64[4, 4]) -> f64[N, 4] { return lin(lin(x, W), W) }
"""
    mod = dsl.loads(src)
    d = mod["twice"]
    assert all(str(t) in ("f64[N, 4]", "f64[4, 4]") for t in d.types)
    x, W = rand((3, 4)), rand((4, 4), seed=1)
    np.testing.assert_allclose(mod.compile("twice", backend="interpret")(x, W), x @ W @ W)


def test_defs_may_be_written_after_their_use():
    src = "def g(x: f64) -> f64 { return f(x) + 1 }\ndef f(x: f64) -> f64 { return 2 * x }"
    assert float(run(src, "g", 1.0)) == 3.0


def test_stdlib_is_in_scope_and_generic():
    src = """
dim B, K
def p(z: f32[B, K]) -> f32[B, K] { return softmax(z, axis=1) }
def ce(z: f64[B, K], y: f64[B, K]) -> f64 { return cross_entropy(z, y) }
def ln(z: f64[B, K]) -> f64[B, K] { return layer_norm(z, eps=0.001) }
def loss(a: f64[B, K], b: f64[B, K]) -> f64 { return mse(a, b) }
"""
    mod = dsl.loads(src)
    z = rand((3, 4), "float32")
    p = mod.compile("p", backend="interpret")(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-6)
    assert p.dtype == np.float32
    z64, y = rand((3, 4)), np.eye(4)[[0, 2, 1]]
    lse = np.log(np.exp(z64).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(mod.compile("ce", backend="interpret")(z64, y), -np.mean(np.sum(y * (z64 - lse), axis=1)))
    ln = mod.compile("ln", backend="interpret")(z64)
    c = z64 - z64.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(ln, c / np.sqrt((c * c).mean(axis=1, keepdims=True) + 0.001))
    np.testing.assert_allclose(mod.compile("loss", backend="interpret")(z64, y), np.mean((z64 - y) ** 2))


def test_user_generic_defs():
    src = """
dim n
def scale(x, k=2) { return k * x }
def f(x: f64[n]) -> f64[n] { return scale(x) + scale(x, k=3) }
"""
    np.testing.assert_allclose(run(src, "f", np.ones(2)), 5.0)


def test_indexing_and_slicing_types():
    src = """
dim n, m
def f(x: f64[n, m]) -> (f64[n - 1, m], f64[m], f64[n]) { return x[1:], x[0], x[:, -1] }
"""
    mod = dsl.loads(src)
    assert mod["f"].signature == "f64[n, m] -> (f64[n - 1, m], f64[m], f64[n])"
    x = rand((3, 2))
    a, b, c = mod.compile("f", backend="interpret")(x)
    np.testing.assert_allclose(a, x[1:])
    np.testing.assert_allclose(b, x[0])
    np.testing.assert_allclose(c, x[:, -1])


def test_conditional_and_comparisons():
    src = "dim n\ndef f(x: f64[n]) -> f64[n] { return x > 0 ? x : 0.1 * x }"
    np.testing.assert_allclose(run(src, "f", np.array([-1.0, 2.0])), [-0.1, 2.0])


def test_transpose_attribute_and_type_alias():
    src = "type M = f64[2, 3]\ndef f(a: M) -> f64[3, 2] { return a.T }"
    a = rand((2, 3))
    np.testing.assert_allclose(run(src, "f", a), a.T)


def test_generator_boxes_run_with_python_implementations():
    src = "box g : f64 ⊗ f64 -> f64\ndef f(x: f64, y: f64) -> f64 { return g(x, y) * 2 }"
    mod = dsl.loads(src, boxes={"g": lambda a, b: a - b})
    assert float(mod.compile("f", backend="interpret")(5.0, 2.0)) == 6.0
    with pytest.raises(dsl.InputError, match="implementation"):
        dsl.loads(src).compile("f", backend="interpret")(5.0, 2.0)


def test_pointfree_diagrams():
    src = """
diagram sincos : f64 -> f64 = copy(f64) >> (sin ⊗ cos) >> mul
diagram twisted : f64 ⊗ f64 -> f64 = swap(f64, f64) >> sub
diagram later = copy(f64) >> (id(f64) ⊗ exp) >> add
diagram trad : f64 -> f64 = exp ∘ sin
def use(x: f64) -> f64 { return sincos(x) + trad(x) }
"""
    mod = dsl.loads(src)
    assert mod["sincos"].signature == "f64 -> f64"
    assert mod["later"].signature == "f64 -> f64"
    x = 0.7
    assert float(mod.compile("sincos", backend="interpret")(x)) == pytest.approx(np.sin(x) * np.cos(x))
    assert float(mod.compile("twisted", backend="interpret")(1.25, -0.5)) == pytest.approx(-1.75)
    assert float(mod.compile("trad", backend="interpret")(x)) == pytest.approx(np.exp(np.sin(x)))
    assert float(mod.compile("use", backend="interpret")(x)) == pytest.approx(np.sin(x) * np.cos(x) + np.exp(np.sin(x)))


def test_pointfree_and_def_denote_the_same_diagram():
    pf = dsl.loads("diagram f : f64 -> f64 = copy(f64) >> (sin ⊗ cos) >> mul")["f"]
    named = dsl.loads("def f(x: f64) -> f64 { return sin(x) * cos(x) }")["f"]
    assert pf == named


def test_derived_signatures_are_checked_at_load():
    src = """
dim n
def f(x: f64[n], k: i64) -> f64 { return sum(x * x) }
g = grad(f)
vg = value_and_grad(f, wrt=x)
v = vjp(f)
j = jvp(f)
h = hessian(f, wrt=x)
"""
    mod = dsl.loads(src)
    assert mod.signature("g") == "(f64[n], i64) -> f64[n]"
    assert mod.signature("vg") == "(f64[n], i64) -> (f64, f64[n])"
    assert mod.signature("v") == "(f64[n], i64, f64) -> f64[n]"
    assert mod.signature("j") == "(f64[n], i64, f64[n]) -> (f64, f64)"
    assert mod.signature("h") == "(f64[n], i64) -> f64[n, n]"


def test_show_round_trips():
    src = """
dim n
def f(x: f64[n], y: f64[n]) -> (f64, f64[n - 1]) {
    a = exp(-x) * (y - 1.5) ^ 2
    return sum(a, axis=0) / n, x[1:] - x[:-1]
}
"""
    d = dsl.loads(src)["f"]
    text = d.show()
    again = dsl.loads(text)["f"]
    assert again == d, text


def test_import(tmp_path):
    (tmp_path / "lib.dsl").write_text("def sq(x: f64) -> f64 { return x * x }\n")
    (tmp_path / "main.dsl").write_text('import "lib.dsl"\nimport "lib.dsl" as L\n'
                                       "def f(x: f64) -> f64 { return sq(x) + L.sq(x) }\n")
    mod = dsl.load(tmp_path / "main.dsl")
    assert mod.names == ["f"]
    assert float(mod.compile("f", backend="interpret")(3.0)) == 18.0


def test_to_sympy_and_latex():
    import sympy as sp

    d = dsl.loads("def f(x: f64, y: f64) -> f64 { return sin(x) * y + 2 }")["f"]
    x, y = sp.symbols("x y", real=True)
    assert sp.simplify(d.to_sympy() - (sp.sin(x) * y + 2)) == 0
    assert "sin" in sp.latex(d.to_sympy())
