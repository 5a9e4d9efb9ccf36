"""Code generation: diagrams → callables (and source text) per backend.

Entry points: `compile_diagram(diagram, backend) -> callable`, `emit(diagram, target) -> str`.

* `schedule` — the backend-neutral linear program (sharing, fusion groups, liveness, buffer reuse);
* `numpy_emitter` + `lowering_numpy` — straight-line Python over an array namespace `xp`;
* `compiled` — validated callables and the explicit compile cache; `runtime` — helpers the
  generated code imports.

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

BACKENDS = ("numpy", "interpret")
TARGETS = ("numpy",)

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

    `backend`: "numpy" (generated code, the default) or "interpret" (the reference interpreter).
    `boxes` implements generator boxes by name. Compiled functions are kept in `cache`
    (`DEFAULT_CACHE` when None).
    """
    if backend == "numpy":
        return compile_numpy(diagram, dict(boxes or {}), DEFAULT_CACHE if cache is None else cache)
    if backend == "interpret":
        return InterpretedFunction(diagram, boxes)
    raise CodegenError(f"unknown backend '{backend}' (available: {', '.join(BACKENDS)})")


def emit(diagram: Diagram, target: str = "numpy") -> str:
    """The generated source of `diagram` for `target` ("numpy"); deterministic."""
    if target == "numpy":
        return emit_numpy(diagram)
    raise CodegenError(f"unknown target '{target}' (available: {', '.join(TARGETS)})")


__all__ = ["BACKENDS", "DEFAULT_CACHE", "TARGETS", "CodegenError", "CompileCache", "CompiledFunction",
           "compile_diagram", "emit"]
