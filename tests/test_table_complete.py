"""Every fact about a primitive is in its table row, and every row is complete and true.

Completeness: `missing_fields` names the row and the field a row leaves out (cost class, SymPy
meaning, view flag) or gets wrong (an unknown family, cost class or syntax); a planted row without
them is reported. Truth, against oracles rather than second copies: the SymPy meaning evaluates to
the NumPy meaning, a row whose NumPy result shares memory with an argument declares `view`, every
cost class is priced, every row prints as DSL text that elaborates back to the same node, and the
consumers (cost model, scheduler, printer, SymPy functor) read the row instead of their own lists.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from grammar import parse
from rewrite.cost import node_cost
from semantics.diagram import Box, make_box
from semantics.elaborate import elaborate
from semantics.primitives import (
    COST_CLASSES,
    FAMILY_FUSION,
    INFIX_PRIMS,
    PRIMITIVES,
    Primitive,
    missing_fields,
)
from semantics.printer import to_text
from semantics.symbolic import to_sympy
from semantics.types import NUMPY_DTYPE, TensorType
from tests.test_codegen_support import ARRAY_ROWS, DIMS, cases, random_input, single_prim_diagram

NAMES = sorted(PRIMITIVES)


@pytest.mark.parametrize("name", NAMES)
def test_every_row_is_complete(name: str) -> None:
    problems = missing_fields(PRIMITIVES[name])
    assert not problems, f"primitive {name!r} in semantics/prims/: " + "; ".join(problems)


def test_a_row_without_cost_or_sympy_is_reported_by_name() -> None:
    sin = PRIMITIVES["sin"]
    planted = Primitive("planted", ("x",), sin.rule, sin.impl, "unary", jvp="dx", view=False)
    assert missing_fields(planted) == ["cost: not set", "sympy: not set"]
    wrong = Primitive("planted", ("x",), sin.rule, sin.impl, "unary", jvp="dx", cost="cheapish", sympy=None,
                      view=False, syntax="**")
    problems = missing_fields(wrong)
    assert any(p.startswith("cost: 'cheapish' is not one of") for p in problems), problems
    assert any(p.startswith("syntax: '**'") for p in problems), problems


@pytest.mark.parametrize("name", ARRAY_ROWS)
def test_every_row_has_an_example_call(name: str) -> None:
    assert cases(name), f"tests/test_codegen_support.py has no example call of the primitive {name!r}"


# ---------------------------------------------------------------- SymPy meaning = NumPy meaning

SCALAR_ROWS = [n for n in NAMES if isinstance(PRIMITIVES[n].sympy, str)]


@pytest.mark.parametrize("name", SCALAR_ROWS)
def test_sympy_meaning_agrees_with_the_numpy_meaning(name: str) -> None:
    """The row's SymPy text, evaluated by SymPy at sample points, equals the row's impl there."""
    prim = PRIMITIVES[name]
    in_types, params = next(c for c in cases(name) if all(t.dtype == "f64" for t in c[0][-2:]))
    d = single_prim_diagram(name, in_types, params)
    expr = to_sympy(d)
    symbols = [sp.Symbol(n, real=True) for n in d.param_names()]
    rng = np.random.default_rng(3)
    for k in range(4):
        # values in (0.1, 0.9) (every row's domain) except for the sign-sensitive points below
        args = [random_input(TensorType(t.dtype, ()), {}, rng) for t in in_types]
        if k == 3:
            args = [np.asarray(-a) if a.dtype.kind == "f" else a for a in args]
        if prim.domain != "real" and k == 3:
            continue  # outside the row's domain
        want = prim.impl(np, params, *args)
        got = expr.subs(dict(zip(symbols, (sp.Float(float(a)) if a.dtype.kind == "f" else bool(a) for a in args))))
        if isinstance(want, np.bool_) or np.asarray(want).dtype == bool:
            assert bool(got) == bool(want), f"{name}{tuple(args)}: SymPy {got}, NumPy {want}"
        else:
            tol = 1e-12 if np.asarray(want).dtype == np.float64 else 1e-6  # cast to f32 rounds
            assert float(got) == pytest.approx(float(want), rel=tol, abs=tol), f"{name}{tuple(args)}"


def test_param_meanings() -> None:
    """const is its value, dimsize the polynomial of its dim (not a symbol named `N*S`)."""
    m = elaborate(parse("dim N, S\ndef f(x: f64[N, S]) -> f64 { return sum(x) / (N * S) + 0.5 }"))
    expr = to_sympy(m.lookup("f").diagram)
    n, s = sp.Symbol("N", integer=True, positive=True), sp.Symbol("S", integer=True, positive=True)
    assert expr.has(n) and expr.has(s) and expr.has(sp.Rational(1, 2))


# ---------------------------------------------------------------- view flag against NumPy

@pytest.mark.parametrize("name", ARRAY_ROWS)
def test_rows_whose_result_aliases_an_argument_declare_view(name: str) -> None:
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(0)
    for in_types, params in cases(name):
        if not prim.wire_args:
            continue
        binding = DIMS[0]
        args = [random_input(t, binding, rng) for t in in_types]
        concrete = {k: (v.evaluate(binding) if hasattr(v, "evaluate") else
                        tuple(x.evaluate(binding) if hasattr(x, "evaluate") else x for x in v)
                        if isinstance(v, tuple) and any(hasattr(x, "evaluate") for x in v) else v)
                    for k, v in params.items()}
        out = prim.impl(np, concrete, *args)
        if any(np.shares_memory(out, a) for a in args):
            assert prim.view is True, f"primitive {name!r}: its NumPy result is a view of an argument; set view=True"


# ---------------------------------------------------------------- the consumers read the row

@pytest.mark.parametrize("name", ARRAY_ROWS)
def test_cost_is_priced_from_the_row(name: str) -> None:
    prim = PRIMITIVES[name]
    assert prim.cost in COST_CLASSES
    for in_types, params in cases(name):
        ins = in_types if prim.wire_args else ()
        c = node_cost(make_box(name, params), ins, prim.infer(ins, params))
        assert (c == 0.0) == (prim.cost == "free"), f"{name}: cost {c} for class {prim.cost}"


def test_cost_classes_order_the_work_per_element() -> None:
    v = TensorType("f64", (PRIMITIVES["sin"].infer((TensorType("f64", ()),), {})[0].shape))
    by_class = {PRIMITIVES[n].cost: node_cost(Box(n), [v], [v]) for n in ("neg", "sqrt", "exp")}
    assert by_class["cheap"] < by_class["medium"] < by_class["transcendental"]


def test_fusion_class_comes_from_family_and_view() -> None:
    from codegen.schedule import FRESH_KINDS, op_kind

    for name, prim in PRIMITIVES.items():
        kind = op_kind(Box(name))
        assert kind == ("view" if prim.view else FAMILY_FUSION[prim.family]), name
        assert kind in FRESH_KINDS | {"view", "other", "const"}, name
        assert prim.elementwise == (kind == "elementwise" or (prim.view and FAMILY_FUSION[prim.family] == "elementwise"))


@pytest.mark.parametrize("name", ARRAY_ROWS)
def test_every_row_prints_as_text_that_elaborates_back(name: str) -> None:
    """The printer reads the row's syntax; what it prints parses and elaborates to the same node."""
    for in_types, params in cases(name)[:1]:
        d = single_prim_diagram(name, in_types, params)
        text = to_text(d, "f")
        back = elaborate(parse(text)).lookup("f").diagram
        assert [n.box.name for n in back.nodes] == [name], text
        assert to_text(back, "f") == text


def test_infix_operators_come_from_the_rows() -> None:
    assert INFIX_PRIMS["+"] == "add" and INFIX_PRIMS["@"] == "matmul" and INFIX_PRIMS["^"] == "pow"
    for op, name in INFIX_PRIMS.items():
        x = "f64[3, 3]" if op == "@" else "f64"
        d = elaborate(parse(f"def f(a: {x}, b: {x}) {{ return a {op} b }}")).lookup("f").diagram
        assert [n.box.name for n in d.nodes] == [name]
        assert f"a {op} b" in to_text(d, "f")


def test_numpy_dtypes_cover_the_examples() -> None:
    assert all(t.dtype in NUMPY_DTYPE for n in NAMES for c in cases(n) for t in c[0])


# ---------------------------------------------------------------- domain against NumPy

SAMPLES = {"real": np.linspace(-2.0, 2.0, 41) + 0.013, "positive": np.linspace(0.1, 2.0, 20),
           "unit": np.linspace(-0.9, 0.9, 19)}


@pytest.mark.parametrize("name", [n for n in NAMES if PRIMITIVES[n].elementwise and PRIMITIVES[n].family != "select"])
def test_rows_are_finite_on_their_domain(name: str) -> None:
    """A row that is not finite everywhere on the reals must declare where it is (`domain`)."""
    prim = PRIMITIVES[name]
    xs = SAMPLES[prim.domain]
    args = [xs] if len(prim.wire_args) == 1 else [xs[:, None], xs[None, :]]
    params = {"dtype": "f32"} if name == "cast" else {}
    with np.errstate(all="ignore"):
        out = np.asarray(prim.impl(np, params, *args), dtype=float)
    bad = np.asarray(np.broadcast_arrays(*args))[:, ~np.isfinite(out)]
    assert np.isfinite(out).all(), f"primitive {name!r} is not finite at {bad.T[:3].tolist()}; set its domain"
