"""The CUDA backend (`backend="cupy"`): the fused kernels as `extern "C" __global__` CUDA, compiled by
NVRTC through `cupy.RawModule` (modules cached per source and mode), launched on grid-stride loops.

Full reductions end with a block reduction (warp shuffles, then shared memory) and either one
`atomicAdd` per block into the result (sums and means: fast, order not fixed) or, in the
deterministic mode, one partial per block combined by a one-block second stage in a fixed order
(`DSL_CUDA_DETERMINISTIC=1`, or `compile_cupy(..., deterministic=True)`; products, max and min
always use it). CuPy is the optional extra `.[cuda]`; without it `backend="cupy"` is a
CodegenError that says how to install it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from codegen.errors import CodegenError
from codegen.kernel_program import KernelInfo

BLOCK = 256
INSTALL = ("backend 'cupy' needs CuPy and a CUDA GPU: install the extra with `pip install -e '.[cuda]'` "
           "(or `pip install cupy-cuda12x`), or use backend='c' (CPU kernels) or backend='numpy'")

# Compiled modules by (source digest, deterministic): explicit, like the compile cache.
MODULES: dict[tuple[str, bool], Any] = {}


def import_cupy() -> Any:
    try:
        import cupy
    except ImportError as err:
        raise CodegenError(f"{INSTALL} ({err})") from None
    return cupy


def deterministic_default() -> bool:
    return os.environ.get("DSL_CUDA_DETERMINISTIC", "") not in ("", "0")


def load_module(source: str, deterministic: bool) -> Any:
    cupy = import_cupy()
    key = (hashlib.sha256(source.encode()).hexdigest(), deterministic)
    if key not in MODULES:
        MODULES[key] = cupy.RawModule(code=source, options=("-std=c++14", f"-DDSL_DETERMINISTIC={int(deterministic)}"))
    return MODULES[key]


class CudaKernel:
    """One kernel: allocates outputs on the device, launches, and finishes reductions."""

    def __init__(self, module: Any, info: KernelInfo, deterministic: bool):
        self.cupy = import_cupy()
        self.info = info
        self.fn = module.get_function(info.name)
        self.module = module
        self.deterministic = deterministic
        self.sms = self.cupy.cuda.Device().attributes["MultiProcessorCount"]

    def __call__(self, dims: Sequence[int], size: int, inputs: Sequence[Any],
                 shapes: Sequence[tuple[int, ...]]) -> tuple[Any, ...]:
        cp = self.cupy
        info = self.info
        grid = max(1, min((size + BLOCK - 1) // BLOCK, self.sms * 8))
        arrays = [cp.ascontiguousarray(cp.asarray(a, dtype=dt)) for a, dt in zip(inputs, info.in_dtypes)]
        outs = [cp.empty(s, dtype=dt) for s, dt in zip(shapes[:info.n_stores], info.out_dtypes)]
        targets: list[Any] = []  # what each reduction kernel argument points to
        for op, dt in zip(info.reduce_ops, info.out_dtypes[info.n_stores:]):
            if info.partial:
                targets.append(None)
            elif op == "add" and not self.deterministic:
                targets.append(cp.zeros(1, dtype=dt))
            else:
                targets.append(cp.empty(grid, dtype=dt))
        if info.partial:
            outs = [cp.empty(shapes[-1], dtype=info.out_dtypes[-1])]
            red_args: list[Any] = []
        else:
            red_args = [t for t in targets]
        args = [*(cp.int64(d) for d in dims), *arrays, *outs, *red_args]
        self.fn((grid,), (BLOCK,), tuple(args))
        if info.partial:
            return tuple(outs)
        results = list(outs)
        for op, dt, t, shape in zip(info.reduce_ops, info.out_dtypes[info.n_stores:], targets, shapes[info.n_stores:]):
            if op != "add" or self.deterministic:
                out = cp.empty(1, dtype=dt)
                suffix = "f32" if dt == "float32" else "f64"
                finish = self.module.get_function(f"dsl_finish_{'sum' if op == 'add' else op}_{suffix}")
                finish((1,), (BLOCK,), (t, cp.int64(grid), out, cp.dtype(dt).type(1)))
                t = out
            results.append(t.reshape(shape))
        return tuple(results)


def load_kernels(source: str, infos: Sequence[KernelInfo], deterministic: bool | None = None) -> dict[str, CudaKernel]:
    det = deterministic_default() if deterministic is None else deterministic
    module = load_module(source, det)
    return {info.symbol: CudaKernel(module, info, det) for info in infos}
