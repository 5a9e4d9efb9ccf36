"""PyPI has unrelated distributions named grammar, rewrite and codegen: ours must be the ones imported."""

from __future__ import annotations

import importlib
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("package", ["dsl", "grammar", "semantics", "rewrite", "codegen"])
def test_package_imports_from_this_repository(package):
    module = importlib.import_module(package)
    assert os.path.dirname(os.path.dirname(os.path.abspath(module.__file__))) == ROOT


def test_public_api():
    import dsl

    for name in ("load", "loads", "Module", "Diagram", "grad", "value_and_grad", "vjp", "jvp", "hessian", "jacobian",
                 "simplify", "prove_equal", "DslError", "ParseError", "TypeCheckError", "ShapeError",
                 "UnboundNameError", "DerivativeError", "CodegenError", "InputError"):
        assert hasattr(dsl, name), name
