"""The CPU kernel backend (`backend="c"`): the fused kernels as C with OpenMP, compiled by the system C
compiler at first use, loaded with ctypes, and cached on disk by source hash + compiler version +
flags + CPU, so a second process start compiles nothing.

Vector math: the kernels declare glibc's libmvec SIMD variants (`#pragma omp declare simd`) and are
compiled with `-fno-math-errno` (a scalar errno write would stop vectorisation) and
`-fno-builtin-sin -fno-builtin-cos` (gcc otherwise merges sin+cos into a scalar `sincos` call and
the loop stops vectorising). Never `-ffast-math`: it breaks NaN/inf semantics. The thread count
follows `OMP_NUM_THREADS`. Without a C compiler, `backend="c"` is a `CodegenError` naming the tool;
the NumPy backend keeps working.

The cache directory is `$DSL_CACHE_DIR/c` (default `~/.cache/dsl/c`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codegen.errors import CodegenError
from codegen.kernel_program import KernelInfo

FLAGS = ("-O3", "-march=native", "-fopenmp", "-fno-math-errno", "-fno-builtin-sin", "-fno-builtin-cos",
         "-fwrapv", "-fPIC", "-shared")
MVEC_FLAGS = ("-DDSL_LIBMVEC", "-lmvec", "-lm")


def compiler() -> str:
    """The C compiler: `$CC`, else gcc, else cc on PATH; a CodegenError names what is missing."""
    for name in (os.environ.get("CC"), "gcc", "cc"):
        if name and shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    raise CodegenError("backend 'c' needs a C compiler, and none was found: no gcc or cc on PATH (and $CC is "
                       "unset). Install gcc (e.g. `apt-get install gcc`) or use backend='numpy'")


@functools.lru_cache(maxsize=8)
def compiler_version(cc: str) -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.split("\n", 1)[0].strip()


@functools.lru_cache(maxsize=1)
def _cpu() -> str:
    # -march=native code must not be loaded on another CPU sharing the cache directory.
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return hashlib.sha256(flags.encode()).hexdigest()[:12]


def cache_dir() -> Path:
    root = os.environ.get("DSL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dsl")
    path = Path(root) / "c"
    path.mkdir(parents=True, exist_ok=True)
    return path


def library_path(source: str) -> tuple[Path, bool]:
    """The shared library for `source`, compiled if it is not cached yet; and whether it was compiled."""
    cc = compiler()
    key = hashlib.sha256("\0".join([source, compiler_version(cc), *FLAGS, _cpu()]).encode()).hexdigest()[:24]
    path = cache_dir() / f"dsl_{key}.so"
    if path.exists():
        return path, False
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        src = Path(tmp) / "kernels.c"
        src.write_text(source)
        out = Path(tmp) / path.name
        errors = ""
        for extra in (MVEC_FLAGS, ("-lm",)):  # without libmvec (not glibc): scalar math, still correct
            run = subprocess.run([cc, *FLAGS, str(src), "-o", str(out), *extra], capture_output=True, text=True,
                                 check=False)
            if run.returncode == 0:
                break
            errors = run.stderr
        else:
            raise CodegenError(f"the C compiler ({cc}) rejected the generated kernels (a bug in dsl; please "
                               f"report it with the source from `dsl emit --target c`):\n{errors[-2000:]}")
        os.replace(out, path)  # atomic: a concurrent process sees the old state or the whole library
    return path, True


class CKernel:
    """One kernel of a loaded library: allocates the outputs and calls the C function."""

    def __init__(self, lib: ctypes.CDLL, info: KernelInfo):
        self.info = info
        self.fn = getattr(lib, info.name)
        self.fn.restype = None
        self.fn.argtypes = ([ctypes.c_int64] * info.n_dims
                            + [ctypes.c_void_p] * (len(info.in_dtypes) + len(info.out_dtypes)))

    def __call__(self, dims: Sequence[int], size: int, inputs: Sequence[Any],
                 shapes: Sequence[tuple[int, ...]]) -> tuple[np.ndarray, ...]:
        arrays = [_contiguous(a, dt) for a, dt in zip(inputs, self.info.in_dtypes)]
        outs = tuple(np.empty(s, dtype=dt) for s, dt in zip(shapes, self.info.out_dtypes))
        self.fn(*dims, *(a.ctypes.data for a in arrays), *(o.ctypes.data for o in outs))
        return outs


def _contiguous(a: Any, dtype: str) -> np.ndarray:
    arr = np.ascontiguousarray(a)
    return arr if arr.dtype == dtype else arr.astype(dtype)


def load_kernels(source: str, infos: Sequence[KernelInfo]) -> tuple[dict[str, CKernel], bool]:
    """The callable kernels of `source` by launcher symbol, and whether the library was compiled now."""
    path, compiled = library_path(source)
    lib = ctypes.CDLL(str(path))
    return {info.symbol: CKernel(lib, info) for info in infos}, compiled
