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


@pytest.mark.parametrize("env, module_checks", [(None, 0), ("1", 2)])
def test_a_gradient_is_verified_once_per_pipeline_and_at_every_boundary_under_dsl_verify(monkeypatch, env, module_checks):
    """The optimiser verifies what it extracts (always: it keeps the input otherwise); the Module's
    stage-boundary checks (after building `f`, after deriving `df`) are internal consistency checks
    that run under DSL_VERIFY=1 (set for the test suite) or DSL_DEBUG."""
    import importlib

    import dsl
    import semantics.verify

    optimizer = importlib.import_module("rewrite.optimize")  # `rewrite.optimize` is also a function's name

    calls = {"module": 0, "optimizer": 0}

    def counting(key, real):
        def run(d):
            calls[key] += 1
            return real(d)
        return run

    monkeypatch.setattr(semantics.verify, "verify", counting("module", semantics.verify.verify))
    monkeypatch.setattr(optimizer, "verify", counting("optimizer", optimizer.verify))
    monkeypatch.delenv("DSL_DEBUG", raising=False)
    if env is None:
        monkeypatch.delenv("DSL_VERIFY", raising=False)
    else:
        monkeypatch.setenv("DSL_VERIFY", env)
    mod = dsl.loads("def f(x: f64) -> f64 { return sin(x) * x }\ndf = grad(f)")
    mod.compile("df")
    assert calls == {"module": module_checks, "optimizer": 1}
