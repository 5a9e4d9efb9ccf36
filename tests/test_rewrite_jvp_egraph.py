"""Linearization by egglog rewriting (rewrite/egraph_jvp.py) against the Python linearization: the
same tangents for every differentiable primitive, the examples and random diagrams, the same
gradients after transposition, no JVP term left, and linear time on deep chains."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

import dsl
from rewrite.egraph_jvp import activity, linearize_egraph, linearize_egraph_stats
from rewrite.extract import type_errors
from rewrite.linearize import Linearized, linearize
from rewrite.transpose import transpose
from semantics.diagram import Builder, Diagram, make_box, structural_errors
from semantics.interpret import interpret
from semantics.primitives import PRIMITIVES
from semantics.types import NUMPY_DTYPE, Dim, TensorType, scalar
from tests.strategies import VEC, diagrams
from tests.test_derivatives import _case, _differentiable, _inputs, _source

EX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
F64 = scalar("f64")


def _as_tuple(v):
    return v if isinstance(v, tuple) else (v,)


def _check(lin: Linearized) -> None:
    d = lin.diagram
    assert not list(structural_errors(d))
    assert not type_errors(d)
    # no JVP (or any other e-graph constructor) survived: every box is a primitive or a generator
    assert all(n.box.name in PRIMITIVES if n.box.kind == "prim" else n.box.kind == "gen" for n in d.nodes)


def _same_tangents(d: Diagram, wrt: tuple[int, ...], xs, rng, rtol=1e-10) -> None:
    """linearize_egraph == linearize on random tangents; then the transposes agree on random cotangents."""
    py, (eg, stats) = linearize(d, wrt), linearize_egraph_stats(d, wrt)
    _check(eg)
    assert stats.unresolved == 0
    assert eg.diagram.dom == py.diagram.dom and eg.diagram.cod == py.diagram.cod
    dxs = [rng.standard_normal(np.shape(xs[i])).astype(np.asarray(xs[i]).dtype) for i in wrt]
    a, b = _as_tuple(interpret(py.diagram, *xs, *dxs)), _as_tuple(interpret(eg.diagram, *xs, *dxs))
    for u, v in zip(a, b):
        np.testing.assert_allclose(v, u, rtol=rtol, atol=1e-12)
    ys = a[: py.n_primal_out]
    cts = [rng.standard_normal(np.shape(y)).astype(np.asarray(y).dtype) for y in ys]
    ga, gb = _as_tuple(interpret(transpose(py), *xs, *cts)), _as_tuple(interpret(transpose(eg), *xs, *cts))
    for u, v in zip(ga, gb):
        np.testing.assert_allclose(v, u, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name", _differentiable())
def test_every_primitive_matches_the_python_linearization(name):
    expr, shapes, domain = _case(name)
    mod = dsl.loads(_source(expr, shapes))
    xs = _inputs(shapes, domain, 1)
    rng = np.random.default_rng(2)
    for fn in ("g", "f"):
        _same_tangents(mod[fn], tuple(range(len(shapes))), xs, rng)
        if len(shapes) == 2:  # one inactive argument: zero tangents absorbed in the e-graph
            _same_tangents(mod[fn], (1,), xs, rng)
            _same_tangents(mod[fn], (0,), xs, rng)


def _arrays(types, rng, size=4):
    out = []
    for t in types:
        assert isinstance(t, TensorType)
        shape = tuple(d.evaluate({a: size for a in d.atoms}) for d in t.shape)
        if t.dtype in ("f32", "f64"):
            out.append(rng.uniform(0.5, 1.5, shape).astype(NUMPY_DTYPE[t.dtype]))
        else:
            out.append(rng.integers(1, 3, shape).astype(NUMPY_DTYPE[t.dtype]))
    return out


@pytest.mark.parametrize("example", sorted(f for f in os.listdir(EX) if f.endswith(".dsl")))
def test_examples_match_the_python_linearization(example):
    mod = dsl.load(os.path.join(EX, example))
    rng = np.random.default_rng(0)
    for name in mod.names:
        d = mod[name]
        xs = _arrays(d.dom, rng)
        wrt = tuple(i for i, t in enumerate(d.dom) if isinstance(t, TensorType) and t.dtype in ("f32", "f64"))
        _same_tangents(d, wrt, xs, rng, rtol=1e-4 if any(getattr(t, "dtype", "") == "f32" for t in d.dom) else 1e-10)


@settings(max_examples=40, deadline=None)
@given(diagrams(max_nodes=10))
def test_random_diagrams_match_the_python_linearization(d):
    rng = np.random.default_rng(3)
    xs = [np.linspace(-1, 1, 4) + 0.1 * i for i in range(len(d.inputs))]
    _same_tangents(d, tuple(range(len(d.inputs))), xs, rng)
    _same_tangents(d, (0,), xs, rng)


def _chain(n: int) -> Diagram:
    b = Builder()
    h = b.input(VEC)
    for i in range(n):
        (h,) = b.add(make_box(("sin", "tanh", "sigmoid", "cos")[i % 4]), [h], [VEC])
    return b.build([h])


def _diamonds(n: int) -> Diagram:
    """h = h + 0.1 * tanh(h * h), n times: 2^n paths from the input to the output."""
    b = Builder()
    h = b.input(VEC)
    (c,) = b.add(make_box("const", {"value": 0.1, "dtype": "f64"}), [], [F64])
    for _ in range(n):
        (s,) = b.add(make_box("mul"), [h, h], [VEC])
        (t,) = b.add(make_box("tanh"), [s], [VEC])
        (m,) = b.add(make_box("mul"), [c, t], [VEC])
        (h,) = b.add(make_box("add"), [h, m], [VEC])
    return b.build([h])


@pytest.mark.parametrize("make, n", [(_chain, 1000), (_diamonds, 40)])
def test_deep_diagrams_linearize_fast(make, n):
    d = make(n)
    start = time.perf_counter()
    lin, stats = linearize_egraph_stats(d, (0,))
    assert time.perf_counter() - start < 10.0  # measured 0.07 s; a loose bound so a loaded machine does not flake
    assert stats.iterations < 10  # every JVP goal is present at once: iterations do not grow with depth
    assert stats.unresolved == 0
    _check(lin)
    x, dx = np.linspace(-0.5, 0.5, 5), np.cos(np.arange(5.0))
    want = interpret(linearize(d, (0,)).diagram, x, dx)
    got = interpret(lin.diagram, x, dx)
    for u, v in zip(want, got):
        np.testing.assert_allclose(v, u, rtol=1e-10, atol=1e-12)


def test_inactive_parts_make_no_tangent_nodes():
    """y = sin(x) * cos(k): only x is active, so no tangent node reads cos(k)'s tangent."""
    b = Builder()
    x, k = b.input(F64), b.input(F64)
    (s,) = b.add(make_box("sin"), [x], [F64])
    (c,) = b.add(make_box("cos"), [k], [F64])
    (y,) = b.add(make_box("mul"), [s, c], [F64])
    d = b.build([y])
    assert activity(d, (0,)) == {x, s, y}
    lin = linearize_egraph(d, (0,))
    assert sorted(n.box.name for n in lin.diagram.nodes) == ["cos", "cos", "mul", "mul", "mul", "sin"]
    assert float(interpret(lin.diagram, 0.3, 0.7, 2.0)[1]) == pytest.approx(2.0 * np.cos(0.3) * np.cos(0.7))


def test_inactive_output_gets_a_zero_tangent_and_broadcast_add_is_fitted():
    n = TensorType("f64", (Dim.const(3),))
    b = Builder()
    x, v = b.input(F64), b.input(n)
    (y,) = b.add(make_box("add"), [x, v], [n])
    (z,) = b.add(make_box("exp"), [v], [n])
    d = b.build([y, z])
    lin = linearize_egraph(d, (0,))
    _check(lin)
    out = interpret(lin.diagram, 0.5, np.arange(3.0), 2.0)
    np.testing.assert_allclose(out[2], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(out[3], 0.0)
    assert "broadcast_to" in [n.box.name for n in lin.diagram.nodes]


def test_generator_boxes_become_derivative_boxes():
    mod = dsl.loads("box f : f64 -> f64\ndef g(x: f64) -> f64 { return f(x * x) }", boxes={"f": np.sin})
    lin = linearize_egraph(mod["g"], (0,))
    assert any(n.box.name == "d_f" for n in lin.diagram.nodes)
    boxes: dict[str, Any] = {"f": np.sin, "d_f": lambda x, dx: np.cos(x) * dx}
    _, dy = interpret(lin.diagram, 0.5, 1.0, boxes=boxes)
    assert float(dy) == pytest.approx(np.cos(0.25) * 2 * 0.5)
