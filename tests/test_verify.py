"""The verifier catches broken invariants, and every diagram the pipeline builds passes it."""

from __future__ import annotations

import glob
import os

import pytest

from semantics.diagram import Builder, Diagram, Node, make_box
from semantics.types import Dim, TensorType
from semantics.verify import verify
from tests.helpers import load_shared

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEC = TensorType("f64", (Dim.sym("n"),))


def test_verifier_reports_a_mistyped_node():
    b = Builder()
    x = b.input(VEC)
    (y,) = b.add(make_box("sum", {"axis": None, "keepdims": False}), [x], [VEC])  # sum gives a scalar
    assert any("its rule gives" in e for e in verify(b.build([y])))


def test_verifier_reports_ssa_violations():
    d = Diagram((VEC, VEC), (0,), (Node(make_box("sin"), (1,), (1,)),), (1,))
    assert verify(d)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "examples", "*.dsl"))))
def test_every_definition_and_derivative_of_the_examples_verifies(path):
    mod = load_shared(path)
    for name in mod.names:
        assert verify(mod[name]) == []
