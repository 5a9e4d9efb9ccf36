"""The linearizer (rewrite/jvp.py: JVP rules as egglog rewrites) against oracles, not against a
second implementation: its tangents against central finite differences w.r.t. each argument alone,
its transpose by the dot-product test ⟨J v, w⟩ = ⟨v, Jᵀ w⟩, on every differentiable primitive,
the examples, random diagrams and generator boxes (one or several outputs). Scaling and budgets
are asserted by counts (iterations, matches per iteration, e-nodes), never by wall time."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

import dsl
from rewrite.jvp import JvpLimits, activity, linearize_diagram, linearize_stats
from rewrite.tangents import Linearized
from rewrite.transpose import transpose
from semantics.diagram import Builder, Diagram, make_box, structural_errors
from semantics.errors import DerivativeError
from semantics.interpret import interpret
from semantics.primitives import PRIMITIVES
from semantics.types import NUMPY_DTYPE, Dim, TensorType, scalar
from semantics.verify import verify
from tests.helpers import examples, load_shared
from tests.strategies import VEC, diagrams
from tests.test_derivatives import _case, _differentiable, _inputs, _source

EX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
F64 = scalar("f64")


def _as_tuple(v: Any) -> tuple[Any, ...]:
    return v if isinstance(v, tuple) else (v,)


def _check(lin: Linearized) -> None:
    d = lin.diagram
    assert not list(structural_errors(d))
    assert not verify(d)
    # no JVP (or any other e-graph constructor) survived: every box is a primitive or a generator
    assert all(n.box.name in PRIMITIVES if n.box.kind == "prim" else n.box.kind == "gen" for n in d.nodes)


def _against_oracles(d: Diagram, i: int, xs: list[Any], rng: np.random.Generator, boxes: Any = None,
                     h: float = 1e-6, rtol: float = 1e-5) -> None:
    """The tangent w.r.t. argument i alone against a central difference of d along a random
    direction, then the transpose of the same linearization by the dot-product test."""
    lin, stats = linearize_stats(d, (i,))
    _check(lin)
    assert stats.unresolved == 0
    dtype = np.asarray(xs[i]).dtype
    v = rng.standard_normal(np.shape(xs[i])).astype(dtype)
    out = _as_tuple(interpret(lin.diagram, *xs, v, boxes=boxes))
    ys, jv = out[:lin.n_primal_out], out[lin.n_primal_out:]
    shifted = [[(x + s * h * v).astype(dtype) if k == i else x for k, x in enumerate(xs)] for s in (1, -1)]
    plus, minus = (_as_tuple(interpret(d, *a, boxes=boxes)) for a in shifted)
    for k, t in enumerate(d.cod):
        if isinstance(t, TensorType) and t.dtype in ("f32", "f64"):
            fd = (np.asarray(plus[k], np.float64) - minus[k]) / (2 * h)
            np.testing.assert_allclose(jv[k], fd, rtol=rtol, atol=rtol * 0.1, err_msg=f"output {k}, d/d{i}")
    ws = [rng.standard_normal(np.shape(y)).astype(np.asarray(y).dtype) for y in ys]
    (jtw,) = _as_tuple(interpret(transpose(lin), *xs, *ws, boxes=boxes))[lin.n_primal_out:]
    lhs = sum(float(np.sum(np.asarray(a, np.float64) * w)) for a, w in zip(jv, ws))
    assert lhs == pytest.approx(float(np.sum(np.asarray(v, np.float64) * jtw)), rel=rtol * 1e-4, abs=1e-9)


@pytest.mark.parametrize("name", _differentiable())
def test_every_primitive_against_finite_differences_and_its_transpose(name):
    expr, shapes, domain = _case(name)
    mod = dsl.loads(_source(expr, shapes))
    xs = _inputs(shapes, domain, 1)
    rng = np.random.default_rng(2)
    for i in range(len(shapes)):  # each argument alone: the other's zero tangent is absorbed in the e-graph
        _against_oracles(mod["g"], i, xs, rng)


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
def test_examples_against_finite_differences(example):
    mod = load_shared(os.path.join(EX, example))
    rng = np.random.default_rng(0)
    for name in mod.names:
        d = mod[name]
        if not d.cod or not all(isinstance(t, TensorType) for t in (*d.dom, *d.cod)):
            continue  # functionals: Gateaux-checked by tests/test_functional_derivatives.py
        xs = _arrays(d.dom, rng)
        f32 = any(getattr(t, "dtype", "") == "f32" for t in d.dom)
        for i, t in enumerate(d.dom):
            if isinstance(t, TensorType) and t.dtype in ("f32", "f64"):
                _against_oracles(d, i, xs, rng, h=1e-2 if f32 else 1e-6, rtol=2e-2 if f32 else 1e-5)


@settings(max_examples=examples(30), deadline=None)
@given(diagrams(max_nodes=10))
def test_random_diagrams_against_finite_differences(d):
    rng = np.random.default_rng(3)
    xs = [np.linspace(-0.93, 0.87, 4) + 0.1173 * (i + 1) for i in range(len(d.inputs))]  # no ties of maximum
    for i in range(len(d.inputs)):
        _against_oracles(d, i, xs, rng)


MULTI = """box f : f64 ⊗ f64 -> (f64, f64)
box s : f64 -> f64
def g(x: f64, y: f64) -> (f64, f64) {
    a, b = f(x * y, y)
    return a * b + sin(a), s(b)
}
"""
BOXES = {"f": lambda u, v: (np.sin(u) * v, u + v * v),
         "d_f": lambda u, v, du, dv: (np.cos(u) * v * du + np.sin(u) * dv, du + 2 * v * dv),
         "dT_f": lambda u, v, ca, cb: (np.cos(u) * v * ca + cb, np.sin(u) * ca + 2 * v * cb),
         "s": np.tanh, "d_s": lambda u, du: du / np.cosh(u) ** 2, "dT_s": lambda u, ct: ct / np.cosh(u) ** 2}


def test_generator_boxes_with_one_or_several_outputs():
    """A generator's JVP is its uninterpreted box d_f (one node for all its outputs), transposed to
    dT_f; with implementations for them the derivatives meet the oracles."""
    d = dsl.loads(MULTI, boxes=BOXES)["g"]
    lin = linearize_diagram(d, (0, 1))
    names = [n.box.name for n in lin.diagram.nodes]
    assert names.count("d_f") == 1 and names.count("d_s") == 1
    assert [len(n.outputs) for n in lin.diagram.nodes if n.box.name == "d_f"] == [2]
    rng = np.random.default_rng(4)
    for i in range(2):
        _against_oracles(d, i, [np.float64(0.3), np.float64(0.7)], rng, boxes=BOXES)


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
def test_deep_diagrams_saturate_in_iterations_independent_of_depth(make, n):
    d = make(n)
    lin, stats = linearize_stats(d, (0,))
    assert stats.iterations <= 4  # every JVP goal is present at once: iterations do not grow with depth
    assert stats.unresolved == 0
    assert stats.enodes <= 20 * len(d.nodes)  # linear in the diagram
    assert len(lin.diagram.nodes) <= 4 * len(d.nodes)
    _check(lin)
    _against_oracles(d, 0, [np.linspace(-0.5, 0.5, 5)], np.random.default_rng(5))


def test_each_iteration_is_bounded_by_the_step_budget():
    """With `step` = 100 active wires per iteration, no iteration matches more than 100 JVP rules,
    and the run still completes (same result as one step)."""
    d = _chain(1000)
    lin, stats = linearize_stats(d, (0,), JvpLimits(step=100))
    assert max(stats.per_iteration) <= 100
    assert sum(stats.per_iteration) == 1000  # each node linearized exactly once
    assert 10 <= stats.iterations <= 10 + 4
    assert stats.unresolved == 0
    x, dx = np.linspace(-0.5, 0.5, 5), np.cos(np.arange(5.0))
    want = interpret(linearize_diagram(d, (0,)).diagram, x, dx)
    for u, v in zip(want, interpret(lin.diagram, x, dx)):
        np.testing.assert_array_equal(v, u)


def test_a_planted_exploding_rule_stops_within_the_node_budget(monkeypatch):
    """A (wrong) rule that doubles the LMul e-nodes every iteration: the run stops with a
    DerivativeError naming the budget, after a few iterations and within twice the budget."""
    planted = ('(rule ((= e (LMul t a x))) ((union e (LMul t (LNeg t (LNeg t a)) x))) '
               ':ruleset jvp :name "planted-explode")')
    module = sys.modules["rewrite.jvp"]  # `rewrite.jvp` is also the name of the jvp operator
    ext = module.LIN_EXTENSION
    monkeypatch.setattr(module, "LIN_EXTENSION", dataclasses.replace(ext, program=ext.program + planted))
    d = _chain(50)
    limits = JvpLimits(enodes_per_box=20)
    budget = 20 * (len(d.nodes) + len(d.inputs)) + 10_000
    with pytest.raises(DerivativeError, match="exceed its budget") as err:
        linearize_stats(d, (0,), limits)
    size = int(re.search(r"(\d+) e-nodes", err.value.message).group(1))
    assert budget < size <= 2 * budget + 1_000


def test_inactive_parts_make_no_tangent_nodes():
    """y = sin(x) * cos(k): only x is active, so no tangent node reads cos(k)'s tangent."""
    b = Builder()
    x, k = b.input(F64), b.input(F64)
    (s,) = b.add(make_box("sin"), [x], [F64])
    (c,) = b.add(make_box("cos"), [k], [F64])
    (y,) = b.add(make_box("mul"), [s, c], [F64])
    d = b.build([y])
    assert activity(d, (0,)) == {x, s, y}
    lin = linearize_diagram(d, (0,))
    assert sorted(n.box.name for n in lin.diagram.nodes) == ["cos", "cos", "mul", "mul", "mul", "sin"]
    assert float(interpret(lin.diagram, 0.3, 0.7, 2.0)[1]) == pytest.approx(2.0 * np.cos(0.3) * np.cos(0.7))


def test_constants_write_no_tangent_terms_and_leave_nothing_to_choose(monkeypatch):
    """h = 0.999 h + 0.01 sin(h), 200 times: the constants are inactive, so each rule is specialised
    to the zero tangent of its constant argument (no `x * dconst` term, no zero absorption), every
    e-class holds one e-node and the extraction takes it without a search. Per layer the tangent is
    3 muls (dh * 0.999, dh * cos h, that * 0.01), an add and cos h, beside the 2 primal muls."""
    module = sys.modules["rewrite.jvp"]  # `rewrite.jvp` is also the name of the jvp operator
    searched = []
    monkeypatch.setattr(module, "choose", lambda *a: searched.append(1))
    b = Builder()
    h = b.input(VEC)
    for _ in range(200):
        (c1,) = b.add(make_box("const", {"value": 0.999, "dtype": "f64"}), [], [F64])
        (c2,) = b.add(make_box("const", {"value": 0.01, "dtype": "f64"}), [], [F64])
        (a,) = b.add(make_box("mul"), [c1, h], [VEC])
        (s,) = b.add(make_box("sin"), [h], [VEC])
        (m,) = b.add(make_box("mul"), [c2, s], [VEC])
        (h,) = b.add(make_box("add"), [a, m], [VEC])
    d = b.build([h])
    lin, stats = linearize_stats(d, (0,))
    assert not searched
    assert stats.rules == 3 and stats.iterations <= 3
    assert not [r for r in stats.fired if r.startswith("lzero")]
    lin_nodes = [n.box.name for n in lin.diagram.nodes]
    assert lin_nodes.count("mul") == 2 * 200 + 3 * 200 and lin_nodes.count("cos") == 200
    _check(lin)
    _against_oracles(d, 0, [np.linspace(-0.5, 0.5, 5)], np.random.default_rng(6))


def test_inactive_output_gets_a_zero_tangent_and_broadcast_add_is_fitted():
    n = TensorType("f64", (Dim.const(3),))
    b = Builder()
    x, v = b.input(F64), b.input(n)
    (y,) = b.add(make_box("add"), [x, v], [n])
    (z,) = b.add(make_box("exp"), [v], [n])
    d = b.build([y, z])
    lin = linearize_diagram(d, (0,))
    _check(lin)
    out = interpret(lin.diagram, 0.5, np.arange(3.0), 2.0)
    np.testing.assert_allclose(out[2], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(out[3], 0.0)
    assert "broadcast_to" in [n.box.name for n in lin.diagram.nodes]


def test_what_cannot_be_linearized_is_an_error_not_a_fallback():
    b = Builder()
    x = b.input(F64)
    (y,) = b.add(make_box("sin"), [x], [F64])
    from semantics.diagram import Box

    (z,) = b.add(Box("helper", (), "call"), [y], [F64])
    with pytest.raises(DerivativeError, match="call box 'helper'"):
        linearize_diagram(b.build([z]), (0,))


def test_describe_lists_tied_rules_in_name_order() -> None:
    """`dsl show --steps` prints this text: rules fired equally often come out by name, not in
    egglog's hash order (the text must be the same on every run)."""
    from rewrite.jvp import JvpStats, describe

    fired = {"jvp-mul-2": 1, "jvp-add-1": 1, "jvp-sin-1": 3, "jvp-matmul-3": 1}
    for order in (fired, dict(reversed(list(fired.items())))):
        text = describe(JvpStats(4, 1, 10, order, (6,), 0, {"run": 0.0}))
        assert text.endswith("rules fired most: jvp-sin-1 ×3, jvp-add-1 ×1, jvp-matmul-3 ×1, jvp-mul-2 ×1")
