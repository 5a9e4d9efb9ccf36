"""Every definition of every examples/*.dsl file (derived ones included: grad, value_and_grad, ...)
through the NumPy backend: its generated source against a reviewed snapshot, and the compiled
function against the reference interpreter on random inputs of its signature.

Snapshots live in tests/snapshots/examples/<file>.<definition>.py.txt. A changed or missing snapshot
fails; review the generated code and rerun with DSL_UPDATE_SNAPSHOTS=1 to (re)write them.
"""

from __future__ import annotations

import difflib
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dsl
from dsl.inputs import random_inputs
from semantics.types import FunType, TensorType, flatten
from tests.helpers import load_shared

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SNAPSHOTS = Path(__file__).parent / "snapshots" / "examples"
UPDATE = os.environ.get("DSL_UPDATE_SNAPSHOTS") == "1"
DIM = 5  # every dim of every signature (small: these are correctness checks, not benchmarks)

Maker = Callable[[np.random.Generator, tuple[int, ...], str], np.ndarray]


def _uniform(lo: float, hi: float) -> Maker:
    return lambda rng, shape, dtype: rng.uniform(lo, hi, shape).astype(dtype)


# Per-example inputs where standard normals make no physical sense (by file stem, then parameter name).
# Arrhenius rates: temperatures in kelvin and activation energies in J/mol such that exp(-Ea / (R T))
# stays well inside the f64 range (the ratio is at most 9e4 / (8.3 * 300) ≈ 36).
INPUTS: dict[str, dict[str, Maker]] = {
    "reactions": {
        "T": _uniform(300.0, 1500.0),
        "A": _uniform(1e3, 1e5),
        "Ea": _uniform(2e4, 9e4),
        "c": _uniform(0.0, 1.0),
        "observed": _uniform(-1.0, 0.0),
    },
}

# Function-typed inputs (DSL lambdas, by file stem then parameter name): functions of the examples of
# LANGUAGE.md §7, smooth and positive where the functional needs it (densities, √, log).
FUNCTIONS: dict[str, dict[str, str]] = {
    "dft": {"rho": "r => exp(-(r[0] ^ 2 + r[1] ^ 2 + r[2] ^ 2))"},
    "euler_lagrange": {"q": "t => t + 0.3 * sin(pi * t)"},
    "neural_operator": {"k": "(u, v) => exp(-(u - v) ^ 2)", "b": "u => 0.1 * u", "f": "v => sin(pi * v)",
                        "t": "u => u"},
}

# Implementations of generator boxes, by file stem then box name (none of the examples declares one
# today; a new example that does must add its implementation here).
BOXES: dict[str, dict[str, Callable[..., Any]]] = {}

RTOL = {"float32": 1e-5, "float64": 1e-10}


def _example_files() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.dsl"))


_modules: dict[str, dsl.Module] = {}


def module(stem: str) -> dsl.Module:
    """The example loaded by its path relative to the repository root, so the `# file:line` comments of
    the generated code (and so the snapshots) do not depend on where the tests run from; shared with
    the other test files (`load_shared`) unless it needs generator-box implementations."""
    if stem not in BOXES:
        return load_shared(f"examples/{stem}.dsl")
    if stem not in _modules:
        cwd = os.getcwd()
        os.chdir(ROOT)
        try:
            _modules[stem] = dsl.load(f"examples/{stem}.dsl", boxes=BOXES[stem])
        finally:
            os.chdir(cwd)
    return _modules[stem]


CASES = [(stem, name) for stem in _example_files() for name in module(stem).names]
IDS = [f"{stem}.{name}" for stem, name in CASES]


def snapshot_path(stem: str, name: str) -> Path:
    return SNAPSHOTS / f"{stem}.{name}.py.txt"  # not .py: keep linters and collectors off it


def test_every_example_has_definitions() -> None:
    assert _example_files(), f"no examples found in {EXAMPLES}"
    for stem in _example_files():
        assert module(stem).names, f"examples/{stem}.dsl defines nothing"


@pytest.mark.parametrize("stem, name", CASES, ids=IDS)
def test_generated_source_matches_snapshot(stem: str, name: str) -> None:
    src = module(stem).emit(name)
    path = snapshot_path(stem, name)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(src)
    if not path.exists():
        pytest.fail(f"no snapshot {path.relative_to(ROOT)} for examples/{stem}.dsl:{name}; review the generated "
                    f"code (`dsl emit examples/{stem}.dsl {name}`) and run with DSL_UPDATE_SNAPSHOTS=1 to write it")
    want = path.read_text()
    if src != want:
        diff = "".join(difflib.unified_diff(want.splitlines(keepends=True), src.splitlines(keepends=True),
                                            f"{path.name} (snapshot)", f"{path.name} (generated now)"))
        pytest.fail(f"generated source of examples/{stem}.dsl:{name} changed; review it and rerun with "
                    f"DSL_UPDATE_SNAPSHOTS=1 if intended:\n{diff}")


def test_no_stale_snapshots() -> None:
    """Every snapshot file belongs to a definition that still exists."""
    expected = {snapshot_path(stem, name).name for stem, name in CASES}
    stale = sorted(p.name for p in SNAPSHOTS.glob("*.py.txt") if p.name not in expected)
    assert not stale, f"snapshots of definitions that no longer exist (delete them): {', '.join(stale)}"


def random_args(stem: str, name: str, seed: int) -> list[Any]:
    d = module(stem)[name]
    names = d.param_names()
    arrays = [(p, t) for p, t in zip(names, d.dom) if isinstance(t, TensorType)]
    dims = {atom: DIM for _, t in arrays for dim in t.shape for atom in dim.atoms}
    args = dict(zip((p for p, _ in arrays), random_inputs([t for _, t in arrays], [p for p, _ in arrays], seed, dims)))
    rng = np.random.default_rng(seed + 1)
    makers = INPUTS.get(stem, {})
    for p, t in zip(names, d.dom):
        if isinstance(t, FunType):
            assert p in FUNCTIONS.get(stem, {}), f"add a function for parameter '{p}' of examples/{stem}.dsl to FUNCTIONS"
            args[p] = dsl.fn(FUNCTIONS[stem][p])
        elif p in makers:
            args[p] = makers[p](rng, args[p].shape, args[p].dtype)
    return [args[p] for p in names]


def sample_points(t: FunType, rng: np.random.Generator) -> list[np.ndarray]:
    """Seven random points of `t`'s domain inside (0.1, 0.9) (inside every example's region), one array
    per variable: [7] for a scalar, [7, k] for f64[k]."""
    return [rng.uniform(0.1, 0.9, (7,) if v.rank == 0 else (7, v.shape[0].value))  # type: ignore[union-attr]
            for v in flatten(t.arg)]


def as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("stem, name", CASES, ids=IDS)
def test_compiled_matches_interpreter(stem: str, name: str) -> None:
    mod = module(stem)
    used = sorted({n.box.name for n in mod[name].nodes if n.box.kind == "gen"})
    missing = [b for b in used if b not in BOXES.get(stem, {})]
    assert not missing, f"add implementations of the generator boxes {missing} of examples/{stem}.dsl to BOXES"
    seed = zlib.crc32(f"{stem}.{name}".encode())
    args = random_args(stem, name, seed)
    before = [np.array(a, copy=True) for a in args]
    want = as_tuple(mod.compile(name, backend="interpret")(*args))
    got = as_tuple(mod.compile(name)(*args))
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b, err_msg="the compiled function wrote into an input")
    assert len(got) == len(want) == len(mod[name].cod)
    for k, (g, w) in enumerate(zip(got, want)):
        t = mod[name].cod[k]
        if isinstance(t, FunType):  # a function-valued result: compare both at the same points
            points = sample_points(t, np.random.default_rng(seed + 2))
            g, w = g(*points), w(*points)
        g, w = np.asarray(g), np.asarray(w)
        assert (g.dtype, g.shape) == (w.dtype, w.shape), f"output {k}: {g.dtype}{g.shape} != {w.dtype}{w.shape}"
        assert np.all(np.isfinite(w)), f"output {k} of the interpreter is not finite: pick better inputs in INPUTS"
        rtol = RTOL.get(str(w.dtype), 0.0)
        scale = float(np.max(np.abs(w))) if w.size else 0.0
        # elementwise relative error, plus a floor relative to the output's scale for entries near zero
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale, err_msg=f"{stem}.{name} output {k}")
