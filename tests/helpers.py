"""Shared test helpers."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import dsl

# `pytest --slow` (or DSL_SLOW_TESTS=1) runs the full hypothesis example counts; by default each
# property runs a third of them, so the whole suite stays within its time budget. tests/conftest.py
# sets DSL_SLOW_TESTS for --slow: a pytest-xdist worker's sys.argv is not the pytest command line.
SLOW = "--slow" in sys.argv or os.environ.get("DSL_SLOW_TESTS") == "1"


def examples(n: int) -> int:
    """Hypothesis `max_examples`: n under --slow, else n // 3 (at least 10)."""
    return n if SLOW else max(10, n // 3)


ROOT = Path(__file__).resolve().parent.parent


def load_shared(path: str | os.PathLike[str]) -> dsl.Module:
    """`dsl.load(path)`, once per test process for each file: for tests that only read the module.

    A Module caches the definitions it derives, optimises and compiles, so the ~15 test files that
    check every example (snapshots, drawings, the verifier, round trips, finite differences, kernels)
    derive each example's gradients once instead of once per file and parametrised case. A file
    inside the repository is loaded by its path relative to the root (as `dsl check examples/mlp.dsl`
    run there), so the `# examples/mlp.dsl:5` comments of generated code, and the snapshots, do not
    depend on the folder pytest runs in. Tests that check loading itself, pass `boxes` or
    `fast_math`, or change a module, call `dsl.load`.

    >>> load_shared(ROOT / "examples" / "mlp.dsl") is load_shared("examples/mlp.dsl")
    True
    """
    full = Path(path) if Path(path).is_absolute() else ROOT / path
    full = Path(os.path.normpath(full))
    return _load_shared(str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else str(full))


@functools.cache
def _load_shared(path: str) -> dsl.Module:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return dsl.load(path)
    finally:
        os.chdir(cwd)


def raises_at(exc: type, source: str, line: int, *fragments: str, col: int | None = None) -> dsl.DslError:
    """Loading `source` (and deriving everything) raises `exc` at `line` with every fragment in the message."""
    with pytest.raises(exc) as info:
        mod = dsl.loads(source, filename="t.dsl")
        for name in mod.names:
            if mod.signature(name) != "(generic: typed at each call)":
                mod[name]
    err = info.value
    assert err.line == line, f"line {err.line} != {line}: {err}"
    if col is not None:
        assert err.col == col, f"col {err.col} != {col}: {err}"
    text = str(err)
    for f in fragments:
        assert f in text, f"{f!r} not in {text!r}"
    assert "Traceback" not in text
    assert text.startswith("t.dsl:"), text
    return err


def rand(shape: tuple[int, ...], dtype: str = "float64", seed: int = 0, positive: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return a.astype(dtype)


def run(source: str, name: str, *args, backend: str = "interpret"):
    return dsl.loads(source).compile(name, backend=backend)(*args)


def share_constants(d: dsl.Diagram) -> dsl.Diagram:
    """`d` without dead nodes and with identical nullary boxes (constants, dim sizes) merged into one
    node: the same morphism (a box whose result is discarded is no box; copying a constant is the
    constant twice), the form in which printed text — where a constant is written at each use and
    an unused literal makes no node — and a CSE'd derived diagram compare equal."""
    from rewrite.cleanup import prune
    from semantics.diagram import Builder, Node, make_box

    d = prune(d)

    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    seen: dict[object, tuple[int, ...]] = {}
    for node in d.nodes:
        params = node.box.param_dict
        if node.box.name == "dimsize" and params["dim"].is_const:  # the size of a constant dim is a constant
            value = params["dim"].value
            node = Node(make_box("const", {"value": float(value) if params["dtype"] in ("f32", "f64") else value,
                                           "dtype": params["dtype"]}), node.inputs, node.outputs)
        outs = seen.get(node.box) if not node.inputs else None
        if outs is None:
            outs = b.add(node.box, tuple(rename[w] for w in node.inputs), [d.types[w] for w in node.outputs])
            if not node.inputs:
                seen[node.box] = outs
        rename.update(zip(node.outputs, outs))
    return b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name)
