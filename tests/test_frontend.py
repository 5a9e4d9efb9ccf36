"""The front end (issue 8): dim arithmetic, runtime checks of compound dims, statement order,
re-binding, static arguments checked at elaboration. Each test fails without its fix."""

from __future__ import annotations

import numpy as np
import pytest

import dsl
from tests.helpers import raises_at

BACKENDS = ("numpy", "interpret")


# ---------------------------------------------------------------- dims


def test_int_times_dim_is_the_same_dim_as_dim_times_int():
    mod = dsl.loads("dim n\ndef f(x: f64[3 * n]) -> f64 { return sum(x) }\n"
                    "def g(x: f64[n * 3]) -> f64 { return sum(x) }\n"
                    "def h(x: f64[1 + n], y: f64[2 - n + 2 * n]) -> f64 { return sum(x) + sum(y) }")
    assert mod["f"].signature == mod["g"].signature == "f64[3 * n] -> f64"
    assert mod["h"].signature == "(f64[n + 1], f64[n + 2]) -> f64"


@pytest.mark.parametrize("backend", BACKENDS)
def test_compound_dims_are_checked_at_run_time(backend):
    src = ("dim n\ndef g(x: f64[n + 1], y: f64[n]) -> f64 { return sum(x[1:] * y) }\n"
           "def h(x: f64[n * 2]) -> f64 { return sum(x) }\n"
           "def k(x: f64[n + 1]) -> f64 { return sum(x) }")
    mod = dsl.loads(src)
    g, h, k = (mod.compile(name, backend=backend) for name in ("g", "h", "k"))
    assert g(np.ones(4), np.ones(3)) == 3.0
    with pytest.raises(dsl.InputError, match=r"argument 'x' of g has size 5 on axis 0, expected n \+ 1 = 4"):
        g(np.ones(5), np.ones(3))
    assert h(np.ones(6)) == 6.0
    with pytest.raises(dsl.InputError, match=r"argument 'x' of h has size 5 .* not 2 \* n for any size n"):
        h(np.ones(5))
    assert k(np.ones(3)) == 3.0  # n = 2, solved from the compound dim alone
    with pytest.raises(dsl.InputError, match="argument 'x' of k has size 0"):
        k(np.ones(0))


def test_compound_dims_solve_in_any_argument_order():
    src = "dim n\ndef g(x: f64[2 * n + 1], y: f64[n]) -> f64 { return sum(x) + sum(y) }"
    f = dsl.loads(src).compile("g", backend="interpret")
    assert f(np.ones(7), np.ones(3)) == 10.0
    with pytest.raises(dsl.InputError, match="expected 2 \\* n \\+ 1 = 5"):
        f(np.ones(7), np.ones(2))


# ---------------------------------------------------------------- statement order


def test_statement_order_does_not_change_the_diagram():
    in_order = "def f(x: f64) -> f64 {\n a = sin(x)\n b = a * a\n c = b + a\n return c\n}"
    shuffled = "def f(x: f64) -> f64 {\n c = b + a\n b = a * a\n a = sin(x)\n return c\n}"
    d1, d2 = dsl.loads(in_order)["f"], dsl.loads(shuffled)["f"]
    assert d1.canonical == d2.canonical
    assert float(dsl.loads(shuffled).compile("f")(0.5)) == pytest.approx(np.sin(0.5) ** 2 + np.sin(0.5))


def test_statement_order_in_a_generic_def():
    src = ("def twice_sm(x, axis=-1) {\n y = e / sum(e, axis=axis, keepdims=true)\n e = exp(x)\n return y\n}\n"
           "dim n\ndef f(x: f64[n]) -> f64[n] { return twice_sm(x, axis=0) }")
    x = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(dsl.loads(src).compile("f")(x), np.exp(x) / np.exp(x).sum())


def test_a_cycle_between_statements_is_an_error():
    raises_at(dsl.TypeCheckError, "def f(x: f64) -> f64 {\n a = b + x\n b = a * 2\n return b\n}", 2,
              "cycle", "a -> b -> a")
    raises_at(dsl.TypeCheckError, "def f(x: f64) -> f64 {\n a = x\n y = y + 1\n return y\n}", 3,
              "'y' is used in its own definition")


def test_a_name_bound_further_down_shadows_builtins_and_defs_as_in_dependency_order():
    """Bodies are elaborated in source order first (semantics/elaborate.py): a name read above the
    statement that binds it must still mean that statement's value, never the constant, dim or
    definition of the same name that source order would find first."""
    src = "dim n\ndef f(x: f64[n]) -> f64[n] {\n b = pi * x + n\n pi = 3.0\n n = 1.0\n return b\n}"
    np.testing.assert_allclose(dsl.loads(src).compile("f")(np.ones(2)), [4.0, 4.0])
    raises_at(dsl.TypeCheckError, "def g(x: f64) -> f64 { return x }\n"
              "def f(x: f64) -> f64 {\n a = g(x)\n g = 2 * x\n return a\n}", 3, "'g' is a wire of type f64")


def test_errors_are_those_of_the_dependency_order():
    # in source order `bad1` would be reported first; in dependency order `a` (and its error) comes first
    raises_at(dsl.UnboundNameError, "def f(x: f64) -> f64 {\n b = bad1 + a\n a = bad2(x)\n return b\n}", 3,
              "unknown function 'bad2'")
    raises_at(dsl.UnboundNameError, "def f(x: f64) -> f64 {\n a = sin(x)\n b = bad1 + a\n return b\n}", 3,
              "unbound name 'bad1'")


def test_unpacking_statements_are_ordered_too():
    src = "def f(x: f64) -> f64 {\n s = p + q\n p, q = (sin(x), cos(x))\n return s\n}"
    assert float(dsl.loads(src).compile("f")(0.3)) == pytest.approx(np.sin(0.3) + np.cos(0.3))


# ---------------------------------------------------------------- re-binding


def test_rebinding_is_a_rebind_error_exported_from_dsl():
    assert "RebindError" in dsl.__all__
    err = raises_at(dsl.RebindError, "def f(x: f64) -> f64 {\n  y = x\n  z = y\n  y = 2 * x\n  return y\n}", 4,
                    "'y' is already bound (first bound at line 2)", col=3)
    assert isinstance(err, dsl.TypeCheckError)
    raises_at(dsl.RebindError, "def f(x, axis=0) {\n  axis = 1\n  return x\n}\ndef g(x: f64) -> f64 { return f(x) }",
              2, "'axis' is already bound")


# ---------------------------------------------------------------- static arguments


@pytest.mark.parametrize(("call", "col", "fragments"), [
    ("softmax(x, axis=0.5)", 10, ("'axis' of max must be an integer, got 0.5",)),
    ("softmax(x, axis=n)", 10, ("must be an integer, got the dim n",)),
    ("softmax(x, axis=true)", 10, ("must be an integer, got true",)),
    ('einsum("é,é->i", x, x)', 10, ("letters a-z, A-Z",)),
    ("sum(x, axis=0.5)", 22, ("'axis' of sum must be an integer, got 0.5",)),
])
def test_static_arguments_are_checked_at_elaboration(call, col, fragments):
    src = f"dim n\ndef f(x: f64[n]) -> f64[n] {{\n  return {call}\n}}"
    raises_at(dsl.TypeCheckError, src, 3, *fragments, col=col)


def test_tuple_static_arguments_pass_through_generic_defs():
    src = ("dim n, m\ndef f(x: f64[n, m]) -> f64[n, m] { return softmax(x, axis=(0, 1)) }")
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(dsl.loads(src).compile("f")(x), np.exp(x) / np.exp(x).sum())


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_index_out_of_a_symbolic_axis_is_an_input_error(backend):
    src = "dim n, m\ndef f(x: f64[n, m]) -> f64[m] {\n  return x[5] + x[-3]\n}"
    f = dsl.loads(src, filename="t.dsl").compile("f", backend=backend)
    np.testing.assert_allclose(f(np.arange(12.0).reshape(6, 2)), [10.0 + 6.0, 11.0 + 7.0])
    with pytest.raises(dsl.InputError, match=r"f cannot run with n = 2: index (5|-3) into axis 0 of f64\[n, m\] "
                                             r"is out of range \(size n = 2\)") as info:
        f(np.zeros((2, 2)))
    assert info.value.line == 3 and "^" in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dim_known_only_through_a_compound_dim_is_solved(backend):
    src = ("dim n, m\ndef a(x: f64[n + 1]) -> f64 { return sum(x) / n }\n"
           "def b(x: f64[2 * n * m + m - 1], y: f64[m]) -> f64 { return sum(x) / n + sum(y) * m }")
    mod = dsl.loads(src)
    assert float(mod.compile("a", backend=backend)(np.ones(4))) == pytest.approx(4 / 3)
    b = mod.compile("b", backend=backend)
    assert float(b(np.ones(13), np.ones(2))) == pytest.approx(13 / 3 + 4)  # 2*n*2 + 2 - 1 = 13: n = 3
    with pytest.raises(dsl.InputError, match="not 2 \\* m \\* n \\+ m - 1 for any size n"):
        b(np.ones(12), np.ones(2))
    with pytest.raises(dsl.InputError, match="cannot determine n"):
        b(np.ones(0), np.ones(0))  # m = 0: x has -1 + 0 * n elements whatever n is


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("call", ["max(x)", "min(x, axis=0)", "logsumexp(x)", "sum(softmax(x))"])
def test_a_reduction_without_identity_over_an_empty_axis_is_an_input_error(call, backend):
    """max/min/logsumexp of nothing has no value (NumPy raises a ValueError mid-run; the kernels would
    give -inf): an InputError at the reduction when the dims are bound, a ShapeError at load on f64[0]."""
    f = dsl.loads(f"dim n\ndef f(x: f64[n]) -> f64 {{\n  return {call}\n}}", filename="t.dsl").compile("f", backend)
    assert np.isfinite(f(np.ones(1)))
    with pytest.raises(dsl.InputError, match=r"f cannot run with n = 0: (max|min|logsumexp) over axis 0 of f64\[n\] "
                                             r"needs at least one element") as info:
        f(np.ones(0))
    assert "^" in str(info.value)
    name = call.split("(")[0]
    if name != "sum":
        with pytest.raises(dsl.ShapeError, match=rf"{name} over an empty axis of f64\[0, 2\]"):
            dsl.loads(f"def f(x: f64[0, 2]) -> f64[2] {{ return {name}(x, axis=0) }}")
