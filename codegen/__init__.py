"""Code generation: diagrams → callables (and source text) per backend.

Entry points: `compile_diagram(diagram, backend) -> callable`, `emit(diagram, target) -> str`.

* `schedule` — the backend-neutral linear program (sharing, order, liveness, buffer reuse);
* `numpy_emitter` + `lowering_numpy` (+ `numpy_dims`) — straight-line Python over an array namespace `xp`;
* `kernel_plan` + `renderer` (+ `kernel_coords`) + `targets` + `kernel_lowering` — fused kernels: one
  C-style renderer, target differences as data; `kernel_program` — kernels + a Python launcher;
  `c_backend` (C + OpenMP through the system compiler and ctypes) and `cuda_backend` (CUDA through CuPy);
* `compiled`, `kernel_compiled` — validated callables and the explicit compile cache; `runtime` —
  helpers the generated code imports.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import scalar
>>> b = Builder(); x = b.input(scalar("f64")); (y,) = b.add(make_box("sin"), [x], [scalar("f64")])
>>> f = compile_diagram(b.build([y], name="f", input_names=("x",)))
>>> round(float(f(0.5)), 6)
0.479426
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from codegen.compiled import CompileCache, CompiledFunction, compile_numpy
from codegen.errors import CodegenError
from codegen.numpy_emitter import emit_numpy
from semantics.diagram import Diagram
from semantics.interpret import interpret

BACKENDS = ("numpy", "interpret", "c", "cupy")
TARGETS = ("numpy", "c", "cuda")

# The compile cache used when none is passed (the only mutable state of codegen, and explicit).
DEFAULT_CACHE = CompileCache()


class InterpretedFunction:
    """The reference interpreter behind the same calling convention as compiled code."""

    def __init__(self, diagram: Diagram, boxes: Mapping[str, Callable[..., Any]] | None = None):
        self.diagram = diagram
        self.boxes = dict(boxes or {})
        self.__name__ = diagram.name or "diagram"

    def __call__(self, *args: Any) -> Any:
        return interpret(self.diagram, *args, boxes=self.boxes)

    def __repr__(self) -> str:
        return f"<interpreted {self.__name__} : {self.diagram.signature}>"


def compile_diagram(diagram: Diagram, backend: str = "numpy", boxes: Mapping[str, Callable[..., Any]] | None = None,
                    cache: CompileCache | None = None) -> Callable[..., Any]:
    """A callable running `diagram` on arrays: `f(*arrays)` returns one array, or a tuple for several
    outputs. Inputs are validated before any work (`InputError` naming the parameter).

    `backend`: "numpy" (generated code, the default), "interpret" (the reference interpreter), "c"
    (fused kernels compiled for the CPU with the system C compiler) or "cupy" (the same kernels in
    CUDA, through CuPy).
    `boxes` implements generator boxes by name. Compiled functions are kept in `cache`
    (`DEFAULT_CACHE` when None).
    """
    from rewrite.sampling import is_functional

    if backend in BACKENDS and is_functional(diagram):
        from codegen.functional import compile_functional

        return compile_functional(diagram, backend, dict(boxes or {}), cache)
    if backend == "numpy":
        return compile_numpy(diagram, dict(boxes or {}), DEFAULT_CACHE if cache is None else cache)
    if backend == "interpret":
        return InterpretedFunction(diagram, boxes)
    if backend in ("c", "cupy"):
        from codegen.kernel_compiled import compile_c, compile_cupy

        build = compile_c if backend == "c" else compile_cupy
        return build(diagram, dict(boxes or {}), DEFAULT_CACHE if cache is None else cache)
    raise CodegenError(f"unknown backend '{backend}' (available: {', '.join(BACKENDS)})")


def emit(diagram: Diagram, target: str = "numpy") -> str:
    """The generated source of `diagram` for `target` ("numpy", "c" or "cuda"); deterministic. For
    "c" and "cuda": the fused kernels, then the Python launcher that runs them (as a comment)."""
    from rewrite.sampling import is_functional, sample_diagram

    if is_functional(diagram):  # the sampled array programs: one per array result set / function output
        sampled = sample_diagram(diagram)
        parts = ([sampled.arrays] if sampled.arrays is not None else []) + list(sampled.functions)
        if target in ("c", "cuda"):  # what the kernel backends run: see codegen.functional
            from codegen.functional import KERNEL_BACKENDS, kernel_note

            backend = next(b for b, t in KERNEL_BACKENDS.items() if t == target)
            return f"# {kernel_note(backend)}\n\n" + "\n\n".join(emit(p, "numpy") for p in parts)
        return "\n\n".join(emit(p, target) for p in parts)
    if target == "numpy":
        return emit_numpy(diagram)
    if target in ("c", "cuda"):
        from codegen.kernel_program import generate_kernels

        return generate_kernels(diagram, target).listing()
    raise CodegenError(f"unknown target '{target}' (available: {', '.join(TARGETS)})")


__all__ = ["BACKENDS", "DEFAULT_CACHE", "TARGETS", "CodegenError", "CompileCache", "CompiledFunction",
           "compile_diagram", "emit"]
