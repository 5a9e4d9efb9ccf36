"""Every error kind of LANGUAGE.md §9: a DslError subclass with file:line:col, the line, a caret
and a message naming the types/shapes/parameters involved — never a traceback."""

from __future__ import annotations

import numpy as np
import pytest

import dsl
from tests.helpers import raises_at


def test_shape_mismatch_names_types_and_dims():
    src = "dim B, D, H\ndef f(x: f32[B, D], W: f32[H, 1]) -> f32[B, 1] {\n    p = x @ W\n    return p\n}"
    err = raises_at(dsl.ShapeError, src, 3, "f32[B, D] @ f32[H, 1]", "D ≠ H", col=9)
    assert "^" in str(err) and "p = x @ W" in str(err)


def test_dtype_mixing():
    raises_at(dsl.TypeCheckError, "def f(x: f32, y: f64) -> f64 {\n  return x + y\n}", 2, "f32", "f64", "cast")


def test_int_float_mixing():
    raises_at(dsl.TypeCheckError, "def f(x: i64) -> i64 {\n  return x * 0.5\n}", 2, "0.5", "i64")


def test_unbound_name_with_suggestion():
    raises_at(dsl.UnboundNameError, "def f(value: f64) -> f64 {\n  return valeu + 1\n}", 2, "valeu", "value")


def test_unknown_function():
    raises_at(dsl.UnboundNameError, "def f(x: f64) -> f64 {\n  return sinn(x)\n}", 2, "sinn", "sin")


def test_rebinding():
    # a RebindError is a TypeCheckError: the name is bound, the program does not fit the rules
    assert issubclass(dsl.RebindError, dsl.TypeCheckError) and not issubclass(dsl.RebindError, dsl.UnboundNameError)
    raises_at(dsl.RebindError, "def f(x: f64) -> f64 {\n  y = x\n  y = 2 * x\n  return y\n}", 3,
              "'y' is already bound")


def test_rebinding_a_parameter():
    raises_at(dsl.RebindError, "def f(x: f64) -> f64 {\n  x = 2\n  return x\n}", 2, "'x'")


def test_definition_defined_twice():
    raises_at(dsl.RebindError, "def f(x: f64) -> f64 { return x }\ndef f(x: f64) -> f64 { return x }", 2,
              "defined twice")


def test_undeclared_dim():
    raises_at(dsl.UnboundNameError, "def f(x: f64[n]) -> f64 {\n  return sum(x)\n}", 1, "dim 'n'", "dim n")


def test_wrong_arity_of_primitive():
    raises_at(dsl.TypeCheckError, "def f(x: f64) -> f64 {\n  return sin(x, x)\n}", 2, "sin", "1", "2")


def test_wrong_arity_of_def():
    src = "def g(a: f64, b: f64) -> f64 { return a * b }\ndef f(x: f64) -> f64 {\n  return g(x)\n}"
    raises_at(dsl.TypeCheckError, src, 3, "'g' takes 2 argument(s), got 1")


def test_argument_shape_mismatch_with_symbolic_dims():
    src = "dim n, m\ndef g(a: f64[n], b: f64[n]) -> f64 { return sum(a * b) }\n" \
          "def f(x: f64[n], y: f64[m]) -> f64 {\n  return g(x, y)\n}"
    raises_at(dsl.ShapeError, src, 4, "argument 'b' of g", "f64[n]", "f64[m]")


def test_broadcast_mismatch():
    raises_at(dsl.ShapeError, "dim n, m\ndef f(x: f64[n], y: f64[m]) -> f64[n] {\n  return x + y\n}", 3,
              "broadcast", "n ≠ m")


def test_return_type_mismatch():
    raises_at(dsl.ShapeError, "dim n\ndef f(x: f64[n]) -> f64[n] {\n  return x[1:]\n}", 3, "f64[n - 1]", "f64[n]")


def test_return_count_mismatch():
    raises_at(dsl.TypeCheckError, "def f(x: f64) -> (f64, f64) {\n  return x\n}", 2, "returns 1", "declares 2")


def test_pointfree_type_mismatch():
    raises_at(dsl.TypeCheckError, "diagram d : f64 -> f64 = copy(f64) >> sin", 1, "sin takes 1 input",
              "receives (f64, f64)", col=39)
    raises_at(dsl.TypeCheckError, "diagram d : f64 -> f64 = sin >> id(f32)", 1, "takes f32 but receives f64")
    raises_at(dsl.TypeCheckError, "diagram d : f64 -> f32 = sin", 1, "declares f32")


def test_pointfree_cannot_infer():
    raises_at(dsl.TypeCheckError, "diagram d = sin >> cos", 1, "cannot infer", "signature")


def test_recursion_is_an_error():
    raises_at(dsl.TypeCheckError, "def f(x: f64) -> f64 {\n  return f(x)\n}", 2, "itself")


def test_grad_of_nonscalar():
    src = "dim n\ndef f(x: f64[n]) -> f64[n] { return sin(x) }\ng = grad(f)\n"
    raises_at(dsl.DerivativeError, src, 3, "scalar", "vjp")


def test_grad_wrt_unknown_or_integer_parameter():
    src = "def f(x: f64, k: i64) -> f64 { return x }\n"
    raises_at(dsl.DerivativeError, src + "g = grad(f, wrt=y)\n", 2, "no parameter 'y'")
    raises_at(dsl.DerivativeError, src + "g = grad(f, wrt=k)\n", 2, "i64")


def test_missing_import(tmp_path):
    (tmp_path / "m.dsl").write_text('import "nope.dsl"\n')
    with pytest.raises(dsl.UnboundNameError) as info:
        dsl.load(tmp_path / "m.dsl")
    assert info.value.line == 1 and "nope.dsl" in str(info.value)


def test_circular_import(tmp_path):
    (tmp_path / "a.dsl").write_text('import "b.dsl"\n')
    (tmp_path / "b.dsl").write_text('import "a.dsl"\n')
    with pytest.raises(dsl.UnboundNameError, match="circular"):
        dsl.load(tmp_path / "a.dsl")


def test_deeply_nested_expression_is_a_clear_error():
    depth = 3000
    src = "def f(x: f64) -> f64 {\n  return " + "(" * depth + "x" + ")" * depth + "\n}"
    with pytest.raises(dsl.DslError) as info:
        dsl.loads(src)
    assert "deep" in str(info.value) or "nest" in str(info.value)


def test_long_flat_chain_is_fine_or_clear():
    src = "def f(x: f64) -> f64 {\n  return " + " + ".join(["x"] * 3000) + "\n}"
    try:
        mod = dsl.loads(src)
    except dsl.DslError as err:
        assert "deep" in str(err) or "nest" in str(err)
    else:
        assert float(mod.compile("f", backend="interpret")(1.0)) == 3000.0


# ---------------------------------------------------------------- runtime inputs

SRC = "dim n, m\ndef f(x: f64[n, m], y: f64[m]) -> f64[n] { return x @ y }"


@pytest.mark.parametrize("backend", ["interpret", "numpy"])
def test_runtime_input_errors_name_the_parameter(backend):
    f = dsl.loads(SRC).compile("f", backend=backend)
    with pytest.raises(dsl.InputError, match="'x'.*float32"):
        f(np.zeros((2, 3), np.float32), np.zeros(3))
    with pytest.raises(dsl.InputError, match="'y'.*rank 2"):
        f(np.zeros((2, 3)), np.zeros((3, 1)))
    with pytest.raises(dsl.InputError, match="inconsistent dim m.*'y'"):
        f(np.zeros((2, 3)), np.zeros(4))
    with pytest.raises(dsl.InputError, match="takes 2 argument"):
        f(np.zeros((2, 3)))
    with pytest.raises(dsl.InputError, match="'x'"):
        f("hello", np.zeros(3))


def test_nan_inputs_are_allowed():
    f = dsl.loads(SRC).compile("f", backend="interpret")
    out = f(np.full((2, 3), np.nan), np.zeros(3))
    assert np.isnan(out).all()


