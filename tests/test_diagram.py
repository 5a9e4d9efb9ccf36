"""The Diagram IR: category laws (hypothesis), canonical form, verifier, and functoriality of the
interpreter on random well-typed diagrams."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from semantics import diagram as D
from semantics.diagram import Builder, make_box
from semantics.errors import TypeCheckError
from semantics.interpret import interpret
from semantics.types import scalar
from tests.helpers import examples
from tests.strategies import VEC, composable, diagrams

SETTINGS = settings(max_examples=examples(60), deadline=None)


def run(d: D.Diagram, xs: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    out = interpret(d, *xs)
    return out if isinstance(out, tuple) else (out,)


def inputs(k: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(4) for _ in range(k)]


@SETTINGS
@given(composable(3))
def test_compose_is_associative(ds):
    f, g, h = ds
    assert (f >> g) >> h == f >> (g >> h)


@SETTINGS
@given(diagrams())
def test_identity_is_a_unit(f):
    assert D.identity(f.dom) >> f == f
    assert f >> D.identity(f.cod) == f


@SETTINGS
@given(composable(2), composable(2))
def test_interchange_law(fh, gk):
    f, h = fh
    g, k = gk
    assert (f @ g) >> (h @ k) == (f >> h) @ (g >> k)


@SETTINGS
@given(diagrams(), diagrams(), diagrams())
def test_tensor_is_associative(f, g, h):
    assert (f @ g) @ h == f @ (g @ h)


@SETTINGS
@given(diagrams(n_out=1))
def test_copy_is_natural(f):
    """f ; copy and copy^n ; (f ⊗ f) (with the inputs duplicated) mean the same."""
    k = len(f.dom)
    lhs = f >> D.copy(VEC)
    dup = Builder()
    ins = [dup.input(VEC) for _ in range(k)]
    rhs = dup.build(ins + ins) >> (f @ f)
    xs = inputs(k)
    for a, b in zip(run(lhs, xs), run(rhs, xs)):
        np.testing.assert_allclose(a, b)


@SETTINGS
@given(diagrams(n_out=1))
def test_discard_is_natural(f):
    """f ; discard = discard^k: the interpreter gives no outputs either way."""
    assert (f >> D.discard(VEC)).cod == ()
    assert run(f >> D.discard(VEC), inputs(len(f.dom))) == ()


@SETTINGS
@given(composable(2))
def test_interpreter_is_a_functor_on_compose(fg):
    f, g = fg
    xs = inputs(len(f.dom), 1)
    mid = run(f, xs)
    for a, b in zip(run(f >> g, xs), run(g, list(mid))):
        np.testing.assert_allclose(a, b)


@SETTINGS
@given(diagrams(), diagrams())
def test_interpreter_is_a_functor_on_tensor(f, g):
    xs, ys = inputs(len(f.dom), 2), inputs(len(g.dom), 3)
    both = run(f @ g, xs + ys)
    expected = run(f, xs) + run(g, ys)
    assert len(both) == len(expected)
    for a, b in zip(both, expected):
        np.testing.assert_allclose(a, b)


@SETTINGS
@given(diagrams())
def test_canonical_form_is_idempotent_and_valid(f):
    c = f.canonical
    assert c.canonical.nodes == c.nodes
    assert list(D.structural_errors(c)) == []
    assert c == f


def test_swap_twice_is_identity():
    f64 = scalar("f64")
    assert D.swap([f64], [VEC]) >> D.swap([VEC], [f64]) == D.identity([f64, VEC])


def test_different_diagrams_differ():
    sin = D.box(make_box("sin"), [VEC], [VEC])
    cos = D.box(make_box("cos"), [VEC], [VEC])
    assert sin >> cos != cos >> sin
    assert sin @ cos != cos @ sin


def test_compose_checks_types():
    sin = D.box(make_box("sin"), [VEC], [VEC])
    try:
        sin >> D.identity([scalar("f64")])
    except TypeCheckError as err:
        assert "cannot compose" in str(err)
    else:
        raise AssertionError("composition of mismatched types was accepted")


def test_verifier_finds_dangling_wires():
    bad = D.Diagram((VEC,), (0,), (), (5,))
    assert any("dangling" in e for e in D.structural_errors(bad))


def test_digest_is_stable_and_structural():
    sin = D.box(make_box("sin"), [VEC], [VEC])
    assert sin.digest == D.box(make_box("sin"), [VEC], [VEC]).digest
    assert sin.digest != D.box(make_box("cos"), [VEC], [VEC]).digest


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3))
def test_copy_then_discard_one_is_identity(k):
    b = Builder()
    x = b.input(VEC)
    assert b.build([x]) == D.copy(VEC) >> (D.identity([VEC]) @ D.discard(VEC))
