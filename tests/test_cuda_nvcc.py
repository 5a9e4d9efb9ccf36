"""Every generated CUDA source compiles with nvcc, without a GPU: the kernels of every example's and
every public conformance case's definitions, and of the gradient of each scalar one, in one
translation unit (`nvcc -cubin -arch=sm_90`); the examples' kernels must not spill registers
(`-Xptxas -v`). Skipped, with the reason, where nvcc is absent. `pytest -m gpu` runs the CuPy
numerics where a GPU exists."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import dsl
from codegen.kernel_plan import plan_kernels
from codegen.renderer import _helpers, render_kernel
from codegen.targets import CUDA
from semantics.types import TensorType
from tests.helpers import load_shared

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT.parent / "shared" / "conformance" / "cases"
NVCC = shutil.which("nvcc") or ("/usr/local/bin/nvcc" if Path("/usr/local/bin/nvcc").exists() else None)


def _diagrams() -> list[tuple[str, bool, object]]:
    """(label, is_example, optimised diagram) for every definition and scalar gradient."""
    out = []
    files = [(p, True) for p in sorted((ROOT / "examples").glob("*.dsl"))]
    files += [(p, False) for p in sorted(CASES.glob("*.dsl")) if not p.stem.startswith(("err_", "functional"))]
    for path, is_example in files:
        mod = load_shared(path)
        for name in mod.names:
            d = mod.optimized(name)
            out.append((f"{path.stem}.{name}", is_example, d))
            cod = d.cod
            if len(cod) == 1 and isinstance(cod[0], TensorType) and cod[0].rank == 0 and cod[0].dtype in ("f32", "f64") \
                    and any(isinstance(t, TensorType) and t.dtype == cod[0].dtype for t in d.dom):
                try:
                    g = dsl.simplify(dsl.grad(mod[name]))
                except dsl.DslError:
                    continue
                out.append((f"{path.stem}.grad_{name}", is_example, g))
    return out


@functools.lru_cache(maxsize=1)
def translation_unit() -> tuple[str, dict[str, str]]:
    """All kernels in one CUDA source (prelude once; kernel symbols prefixed per definition), and the
    definition label of each symbol."""
    parts = [CUDA.prelude, _helpers(CUDA)]
    owner: dict[str, str] = {}
    for j, (label, is_example, d) in enumerate(_diagrams()):
        plan = plan_kernels(d)
        for k in plan.kernels:
            symbol = f"m{j}_{k.name}"
            owner[symbol] = ("example " if is_example else "case ") + label
            text = render_kernel(plan, k, CUDA)
            parts.append(re.sub(rf"\b{k.name}\(", f"{symbol}(", text, count=1))
            if "#if DSL_DETERMINISTIC" in text:  # the deterministic mode of the same kernel, in the same unit
                owner[symbol + "_det"] = owner[symbol]
                det = text.replace("#if DSL_DETERMINISTIC", "#if 1")
                parts.append(re.sub(rf"\b{k.name}\(", f"{symbol}_det(", det, count=1))
    return "\n\n".join(parts) + "\n", owner


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed here (CUDA compile checks need the CUDA toolkit)")
def test_every_cuda_kernel_compiles_without_spills(tmp_path: Path) -> None:
    """Both reduction modes (atomic and deterministic two-stage) of every kernel, in one nvcc run."""
    source, owner = translation_unit()
    assert len(owner) > 20
    src = tmp_path / "all.cu"
    src.write_text(source)
    run = subprocess.run([NVCC, "-cubin", "-arch=sm_90", "-Xptxas", "-v", "-DDSL_DETERMINISTIC=0",
                          "-o", str(tmp_path / "all.cubin"), str(src)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    log = run.stdout + run.stderr
    compiled = set(re.findall(r"Compiling entry function '(\w+)'", log))
    assert set(owner) <= compiled, f"not compiled: {sorted(set(owner) - compiled)[:5]}"
    for fn, stores, loads in re.findall(r"Function properties for (\w+)\n\s*\d+ bytes stack frame, (\d+) bytes spill "
                                        r"stores, (\d+) bytes spill loads", log):
        if owner.get(fn, "").startswith("example"):
            assert (stores, loads) == ("0", "0"), f"{owner[fn]} ({fn}) spills registers"


def test_cupy_launcher_source_is_deterministic() -> None:
    mod = dsl.load(ROOT / "examples" / "stencil_energy.dsl")
    assert mod.emit("gradient", target="cuda") == mod.emit("gradient", target="cuda")


def _gpu() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu(), reason="needs CuPy and a CUDA GPU (none here)")
@pytest.mark.parametrize("deterministic", [False, True])
def test_cupy_backend_matches_interpreter(deterministic: bool) -> None:
    import cupy

    from codegen import CompileCache
    from codegen.kernel_compiled import compile_cupy

    for path in [*sorted((ROOT / "examples").glob("*.dsl"))]:
        mod = dsl.load(path)
        for name in mod.names:
            d = mod.optimized(name)
            rng = np.random.default_rng(0)
            args = [rng.uniform(0.5, 1.5, tuple(5 for _ in t.shape)).astype(t.dtype.replace("f", "float")
                    .replace("i", "int")) for t in d.dom]
            want = mod.compile(name, backend="interpret")(*args)
            got = compile_cupy(d, {}, CompileCache(), deterministic)(*[cupy.asarray(a) for a in args])
            for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
                np.testing.assert_allclose(cupy.asnumpy(g), w, rtol=1e-4, atol=1e-6, err_msg=f"{path.stem}.{name}")


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed here (CUDA compile checks need the CUDA toolkit)")
def test_kernels_over_sizes_that_are_not_dim_names_compile(tmp_path: Path) -> None:
    """A strided slice of a symbolic dim (size ceil(n/2)) and a Unicode dim name: each size is a
    kernel parameter, which must be a valid (ASCII) identifier for nvcc too."""
    from tests.test_kernels import STRIDED

    mod = dsl.loads(STRIDED, filename="strided.dsl")
    parts = [CUDA.prelude, _helpers(CUDA)]
    for j, name in enumerate(("f", "g")):
        plan = plan_kernels(mod.optimized(name))
        parts += [re.sub(rf"\b{k.name}\(", f"s{j}_{k.name}(", render_kernel(plan, k, CUDA), count=1) for k in plan.kernels]
    src = tmp_path / "strided.cu"
    src.write_text("\n\n".join(parts) + "\n")
    run = subprocess.run([NVCC, "-cubin", "-arch=sm_90", "-o", str(tmp_path / "strided.cubin"), str(src)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
