"""Compiled kernel functions: the C (`backend="c"`) and CUDA (`backend="cupy"`) backends behind the
same calling convention and validation as the NumPy backend (`codegen.compiled.CompiledFunction`).

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import scalar
>>> b = Builder(); x = b.input(scalar("f64")); (y,) = b.add(make_box("sin"), [x], [scalar("f64")])
>>> f = compile_c(b.build([y], name="f", input_names=("x",)), {}, CompileCache())
>>> round(float(f(0.5)), 6)
0.479426
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from codegen.compiled import CompileCache, CompiledFunction, build_function, numpy_key
from codegen.kernel_program import KernelProgram, generate_kernels
from semantics.diagram import Diagram
from semantics.validate import as_arrays, memory_guard


class KernelFunction(CompiledFunction):
    """A diagram compiled to fused kernels and a Python launcher (`program.listing()` shows both)."""

    def __init__(self, diagram: Diagram, program: KernelProgram, fn: Callable[..., Any],
                 boxes: Mapping[str, Callable[..., Any]], backend: str):
        super().__init__(diagram, program, fn, boxes)
        self.backend = backend

    @property
    def source(self) -> str:
        return self.program.listing()

    def __call__(self, *args: Any) -> Any:
        binding = self.validate(args)
        if self.backend == "cupy":
            from codegen.cuda_backend import import_cupy

            xp = import_cupy()
            args = tuple(xp.asarray(a) for a in args)
        else:
            xp = np
            args = tuple(a.compute() if hasattr(a, "compute") else (a.get() if hasattr(a, "get") else a) for a in args)
        arrays = as_arrays(self.diagram.dom, args, xp)
        d = self.diagram
        with np.errstate(all="ignore"), memory_guard(d.name or "diagram", d, binding):  # as in CompiledFunction
            return self.fn(*arrays)


def compile_c(d: Diagram, boxes: Mapping[str, Callable[..., Any]], cache: CompileCache) -> KernelFunction:
    """The CPU kernel backend of `codegen.compile_diagram` (compiles with the system C compiler once;
    the shared library is cached on disk, see `codegen.c_backend`)."""
    from codegen import c_backend

    c_backend.compiler()  # a clear error before any work when there is no C compiler

    def build() -> tuple[KernelProgram, Callable[..., Any]]:
        program = generate_kernels(d, "c")
        kernels, _ = c_backend.load_kernels(program.kernel_source, program.kernels)
        return program, build_function(program.name, program.launcher_source, "c", {"boxes": dict(boxes), **kernels})

    program, fn = cache.get_or_build(("c", numpy_key(d, boxes)), build)
    return KernelFunction(d, program, fn, boxes, "c")


def compile_cupy(d: Diagram, boxes: Mapping[str, Callable[..., Any]], cache: CompileCache,
                 deterministic: bool | None = None) -> KernelFunction:
    """The CUDA backend of `codegen.compile_diagram` (see `codegen.cuda_backend`)."""
    from codegen import cuda_backend

    cuda_backend.import_cupy()  # a clear error, saying how to install CuPy, before any work
    det = cuda_backend.deterministic_default() if deterministic is None else deterministic

    def build() -> tuple[KernelProgram, Callable[..., Any]]:
        program = generate_kernels(d, "cuda")
        kernels = cuda_backend.load_kernels(program.kernel_source, program.kernels, det)
        return program, build_function(program.name, program.launcher_source, "cupy", {"boxes": dict(boxes), **kernels})

    program, fn = cache.get_or_build(("cupy", det, numpy_key(d, boxes)), build)
    return KernelFunction(d, program, fn, boxes, "cupy")
