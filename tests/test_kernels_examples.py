"""Every definition of every examples/*.dsl file and every public conformance case through the fused
kernels: the C and CUDA listings against reviewed snapshots (tests/snapshots/kernels/), and the C
backend against the reference interpreter on random inputs (the renderer's numerics are checked on
every commit even where no GPU is lent). Rerun with DSL_UPDATE_SNAPSHOTS=1 to (re)write snapshots
after reviewing a change (`dsl emit FILE NAME --target c|cuda`)."""

from __future__ import annotations

import difflib
import zlib
from pathlib import Path

import numpy as np
import pytest

from semantics.types import FunType
from tests.test_codegen_examples import CASES, IDS, ROOT, UPDATE, as_tuple, module, random_args, sample_points

SNAPSHOTS = Path(__file__).parent / "snapshots" / "kernels"
RTOL = {"float32": 1e-4, "float64": 1e-9}


def snapshot_path(stem: str, name: str, target: str) -> Path:
    return SNAPSHOTS / f"{stem}.{name}.{target}.txt"


@pytest.mark.parametrize("target", ["c", "cuda"])
@pytest.mark.parametrize("stem, name", CASES, ids=IDS)
def test_kernel_listing_matches_snapshot(stem: str, name: str, target: str) -> None:
    d = module(stem)[name]
    if any(isinstance(t, FunType) for t in (*d.dom, *d.cod)):
        # The kernels have no function-typed wires: backend="c"/"cupy" runs the NumPy code of the
        # sampled programs (checked below), which is what the listing shows, under a note saying so.
        from codegen.functional import kernel_note

        note = kernel_note("c" if target == "c" else "cupy")
        assert module(stem).emit(name, target=target) == f"# {note}\n\n" + module(stem).emit(name)
        return
    src = module(stem).emit(name, target=target)
    path = snapshot_path(stem, name, target)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(src)
    if not path.exists():
        pytest.fail(f"no snapshot {path.relative_to(ROOT)}; review `dsl emit examples/{stem}.dsl {name} --target "
                    f"{target}` and run with DSL_UPDATE_SNAPSHOTS=1 to write it")
    want = path.read_text()
    if src != want:
        diff = "".join(difflib.unified_diff(want.splitlines(keepends=True), src.splitlines(keepends=True),
                                            f"{path.name} (snapshot)", f"{path.name} (generated now)"))
        pytest.fail(f"kernels of examples/{stem}.dsl:{name} ({target}) changed; review and rerun with "
                    f"DSL_UPDATE_SNAPSHOTS=1 if intended:\n{diff}")


def test_no_stale_kernel_snapshots() -> None:
    expected = {snapshot_path(stem, name, t).name for stem, name in CASES for t in ("c", "cuda")}
    stale = sorted(p.name for p in SNAPSHOTS.glob("*.txt") if p.name not in expected)
    assert not stale, f"kernel snapshots of definitions that no longer exist (delete them): {', '.join(stale)}"


@pytest.mark.parametrize("stem, name", CASES, ids=IDS)
def test_c_backend_matches_interpreter(stem: str, name: str) -> None:
    mod = module(stem)
    seed = zlib.crc32(f"{stem}.{name}.c".encode())
    args = random_args(stem, name, seed)
    before = [np.array(a, copy=True) for a in args]
    want = as_tuple(mod.compile(name, backend="interpret")(*args))
    got = as_tuple(mod.compile(name, backend="c")(*args))
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b, err_msg="the compiled function wrote into an input")
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        t = mod[name].cod[k]
        if isinstance(t, FunType):  # a function-valued result: compare both at the same points
            points = sample_points(t, np.random.default_rng(seed + 2))
            g, w = g(*points), w(*points)
        g, w = np.asarray(g), np.asarray(w)
        assert (g.dtype, g.shape) == (w.dtype, w.shape), f"output {k}: {g.dtype}{g.shape} != {w.dtype}{w.shape}"
        rtol = RTOL.get(str(w.dtype), 0.0)
        scale = float(np.max(np.abs(w))) if w.size else 0.0
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale, err_msg=f"{stem}.{name} output {k}")
