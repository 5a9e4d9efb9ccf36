"""Compiled callables and the compile cache.

`CompileCache` is the one piece of mutable state of code generation, and it is explicit: pass your
own to `compile_diagram(..., cache=...)` to isolate it, or call `clear()`.

>>> cache = CompileCache()
>>> cache.get_or_build(("k",), lambda: 41 + 1), cache.get_or_build(("k",), lambda: 0), cache.stats()
(42, 42, {'hits': 1, 'misses': 1, 'entries': 1})
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np

from codegen.numpy_emitter import NumpyProgram, generate_numpy
from codegen.runtime import array_namespace, dask_arguments
from semantics.diagram import Diagram
from semantics.errors import InputError
from semantics.types import TensorType
from semantics.validate import as_arrays, bind_inputs, check_sizes, memory_guard, size_checks


class CompileCache:
    """Compiled functions by key (see `numpy_key`), with hit/miss counters for tests and `dsl bench`."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, Any] = {}
        self.hits = 0
        self.misses = 0

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> Any:
        if key in self._entries:
            self.hits += 1
            return self._entries[key]
        self.misses += 1
        value = self._entries[key] = build()
        return value

    def clear(self) -> None:
        self._entries.clear()
        self.hits = self.misses = 0

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "entries": len(self._entries)}

    def __len__(self) -> int:
        return len(self._entries)


def numpy_key(d: Diagram, boxes: Mapping[str, Callable[..., Any]]) -> Hashable:
    """The cache key of the NumPy function of `d`: its content digest, the names that appear in the
    generated code, the dtype signature and the identity of the generator implementations it calls.
    Bound dims are not part of it: the generated code reads them from its arguments (see
    `codegen.numpy_emitter`), so one function serves every binding."""
    dtypes = tuple(t.dtype if isinstance(t, TensorType) else str(t) for t in d.dom)
    impls: tuple[tuple[str, int], ...] = ()
    if boxes:  # (without implementations, the generator boxes used change nothing: skip the scan)
        used = sorted({n.box.name for n in d.nodes if n.box.kind == "gen"})
        impls = tuple((name, id(boxes[name])) for name in used if name in boxes)
    # Spans only change comments, but a cached function should show the source it was built from.
    lines = tuple([(n.span.filename, n.span.line) if n.span else None for n in d.nodes])
    # The diagram as it is (types, nodes in order, wires), not its canonical form: the generated code
    # follows the node order, and hashing the tuples (box and type hashes are cached) is linear with
    # a small constant, where the canonical digest re-sorted and re-printed the whole diagram.
    structure = _Hashed((d.types, d.inputs, d.nodes, d.outputs))
    return (structure, d.name, d.param_names(), "numpy", dtypes, impls, lines)


class _Hashed:
    """A cache key part hashed once: a dict hashes its key at every lookup and store, and hashing a
    diagram's nodes runs each node's and box's Python `__hash__`."""

    __slots__ = ("hash", "value")

    def __init__(self, value: Hashable):
        self.value = value
        self.hash = hash(value)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Hashed) and self.hash == other.hash and self.value == other.value


def build_numpy_function(program: NumpyProgram, boxes: Mapping[str, Callable[..., Any]]) -> Callable[..., Any]:
    """`compile` + `exec` the generated module in a fresh namespace that holds only `boxes` (the
    generator implementations it calls) besides what the source itself imports."""
    return build_function(program.name, program.source, "numpy", {"boxes": dict(boxes)})


def build_function(name: str, source: str, target: str, names: Mapping[str, Any]) -> Callable[..., Any]:
    """Execute generated Python `source` in a fresh namespace holding only `names` (generator
    implementations, kernels) and return its function `name`."""
    if os.environ.get("DSL_DEBUG", "") >= "2":
        print(source, file=sys.stderr)
    namespace: dict[str, Any] = {"__name__": "dsl_generated", **names}
    code = compile(source, f"<dsl {target}: {name}>", "exec")
    exec(code, namespace)  # the source is generated from the IR with sanitised names, never user text
    return namespace[name]


class CompiledFunction:
    """A diagram compiled to generated NumPy code, behind the interpreter's calling convention:
    inputs are validated first (same InputError messages), Python scalars become 0-d arrays, and the
    result is one array or a tuple of arrays."""

    backend = "numpy"

    def __init__(self, diagram: Diagram, program: Any, fn: Callable[..., Any],
                 boxes: Mapping[str, Callable[..., Any]]):
        self.diagram = diagram
        self.program = program
        self.fn = fn
        self.__name__ = diagram.name or "diagram"
        self._names = diagram.param_names()
        self._size_checks = size_checks(diagram)  # sizes the types cannot promise (x[5] needs n > 5)
        self._missing = [(name, span) for name, span in program.generators if name not in boxes]

    @property
    def source(self) -> str:
        return self.program.source

    def validate(self, args: tuple[Any, ...]) -> dict[str, int]:
        """Check the arguments (InputError naming the parameter); the binding of the dims."""
        d = self.diagram
        binding = bind_inputs(d.name or "diagram", d.dom, self._names, args)
        check_sizes(d.name or "diagram", self._size_checks, binding)
        if self._missing:
            name, span = self._missing[0]
            raise InputError(f"generator box '{name}' has no implementation; pass it with "
                             f"dsl.load(..., boxes={{'{name}': callable}})", span)
        return binding

    def __call__(self, *args: Any) -> Any:
        d = self.diagram
        binding = self.validate(args)
        xp = array_namespace(*args)
        arrays = as_arrays(d.dom, args, xp)
        if xp.__name__ == "dask.array":
            arrays = dask_arguments(xp, arrays)
        # as the interpreter: inf/nan are values, not errors; running out of memory says how much it needs
        with np.errstate(all="ignore"), memory_guard(d.name or "diagram", d, binding):
            out = self.fn(*arrays)
        return out

    def __repr__(self) -> str:
        return f"<compiled {self.backend} {self.__name__} : {self.diagram.signature}>"


def compile_numpy(d: Diagram, boxes: Mapping[str, Callable[..., Any]], cache: CompileCache) -> CompiledFunction:
    """The NumPy backend of `codegen.compile_diagram`, for an array diagram (`compile_diagram` runs the
    sampling pass first where a diagram has rows on function-typed wires)."""

    def build() -> tuple[NumpyProgram, Callable[..., Any]]:
        program = generate_numpy(d, sampled=True)
        return program, build_numpy_function(program, boxes)

    program, fn = cache.get_or_build(numpy_key(d, boxes), build)
    return CompiledFunction(d, program, fn, boxes)
