"""Loading a diagram into the e-graph: facts computed in Python at load time equal what the
e-graph's own rules derive (they are seeded so saturation does not take one iteration per level)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from rewrite.egraph import EGraph
from rewrite.rules import RULES
from semantics.diagram import Builder, Diagram, make_box
from semantics.types import scalar
from tests.strategies import VEC, diagrams

F64 = scalar("f64")


def _var_rows(d: Diagram, seeded: bool, monkeypatch) -> int:
    if not seeded:  # the rules alone derive Var
        original = EGraph.input_rows
        monkeypatch.setattr(EGraph, "input_rows",
                            lambda self, rows, rs: original(self, {k: v for k, v in rows.items() if k != "RVar"}, rs))
    eg = EGraph(RULES)
    eg.load([d])
    monkeypatch.undo()
    return dict(eg.sizes()).get("Var", 0)


def _with_constants() -> Diagram:
    """x * (2 * 3) + sin(4): two constant subterms, three terms that depend on x."""
    b = Builder()
    x = b.input(VEC)
    two, three, four = (b.add(make_box("const", {"value": v, "dtype": "f64"}), [], [F64])[0] for v in (2.0, 3.0, 4.0))
    (c,) = b.add(make_box("mul"), [two, three], [F64])
    (s,) = b.add(make_box("sin"), [four], [F64])
    (m,) = b.add(make_box("mul"), [x, c], [VEC])
    (y,) = b.add(make_box("add"), [m, s], [VEC])
    return b.build([y])


def test_seeded_var_facts_equal_the_rules_fixpoint(monkeypatch):
    d = _with_constants()
    assert _var_rows(d, True, monkeypatch) == _var_rows(d, False, monkeypatch) == 3  # x, x * c, x * c + s


@settings(max_examples=15, deadline=None)
@given(diagrams(max_nodes=12))
def test_seeded_var_facts_equal_the_rules_fixpoint_on_random_diagrams(d):
    with pytest.MonkeyPatch.context() as mp:
        assert _var_rows(d, True, mp) == _var_rows(d, False, mp)
