"""Running definitions with function-typed wires (LANGUAGE.md §7).

`compile_diagram` sends a diagram with function-typed wires here: the sampling pass
(rewrite/sampling.py) turns it into array diagrams, each compiled by the chosen backend, and the
callable returned binds them together: array outputs are arrays, and each function-typed output is
an `OutputFunction`, a callable vectorised over leading axes, `g(points[..., d]) -> values[...]`,
which can itself be passed as a function-typed input (its derivatives are compiled on demand).
The kernel backends ("c", "cupy") run the sampled program through the generated NumPy code: the
run time calls of function values are Python calls between array operations.

>>> import numpy as np
>>> from grammar import parse
>>> from semantics.elaborate import elaborate
>>> src = "def f(c: f64) -> f64 -> f64 { return x => c * x ^ 2 }"
>>> g = compile_functional(elaborate(parse(src)).lookup("f").diagram, "numpy", {}, None)(3.0)
>>> g(np.array([[1.0, 2.0]])).tolist()
[[3.0, 12.0]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rewrite.sampling import sample_diagram, with_nabla
from semantics.diagram import Diagram
from semantics.errors import InputError
from semantics.prims.functional import domain
from semantics.types import FunType, TensorType
from semantics.validate import bind_inputs

KERNEL_BACKENDS = {"c": "c", "cupy": "cuda"}  # backend -> its emit target


def kernel_note(backend: str) -> str:
    """What a kernel backend does with a definition on function-typed wires (said by `dsl run`,
    `dsl emit --target c|cuda` and the compiled function's repr).

    >>> kernel_note("c").split(" (")[0]
    "note: backend 'c' runs definitions with function-typed wires"
    """
    return (f"note: backend '{backend}' runs definitions with function-typed wires (LANGUAGE.md §7) through "
            "the generated NumPy code of their sampled array programs; fused kernels for them are not built")


class FunctionalFunction:
    """A compiled definition with function-typed inputs or outputs (see the module doc)."""

    def __init__(self, diagram: Diagram, backend: str, boxes: Mapping[str, Callable[..., Any]], cache: Any):
        from codegen import compile_diagram

        self.diagram = diagram
        self.backend = backend
        self.__name__ = diagram.name or "diagram"
        inner = "numpy" if backend in KERNEL_BACKENDS else backend
        self.note = kernel_note(backend) if backend in KERNEL_BACKENDS else None
        self._compile = lambda d: compile_diagram(d, inner, boxes, cache)
        self.sampled = sample_diagram(diagram)
        self.arrays = self._compile(self.sampled.arrays) if self.sampled.arrays is not None else None
        self.functions = [self._compile(f) for f in self.sampled.functions]

    def __call__(self, *args: Any) -> Any:
        d = self.diagram
        bind_inputs(self.__name__, d.dom, d.param_names(), args)
        arrays: tuple[Any, ...] = ()
        if self.arrays is not None:
            out = self.arrays(*args)
            arrays = out if isinstance(out, tuple) else (out,)
        results = []
        for i, (kind, k) in enumerate(self.sampled.kinds):
            if kind == "array":
                results.append(arrays[k])
            else:
                results.append(OutputFunction(self, i, self.functions[k], args))
        return results[0] if len(results) == 1 else tuple(results)

    def derivative(self, output: int, order: int) -> Callable[..., Any]:
        """The compiled values of nabla^order of function-typed output `output`, at points."""
        d = with_nabla(self.diagram, output, order)
        (f,) = sample_diagram(d).functions
        return self._compile(f)

    def __repr__(self) -> str:
        through = " (through numpy)" if self.note else ""
        return f"<compiled {self.backend}{through} {self.__name__} : {self.diagram.signature}>"


class OutputFunction:
    """A function-typed result: call it on points (vectorised over leading axes) or pass it on."""

    def __init__(self, owner: FunctionalFunction, output: int, values: Callable[..., Any], args: tuple[Any, ...]):
        self.owner = owner
        self.output = output
        self.values = values
        self.args = args
        t = owner.diagram.cod[output]
        assert isinstance(t, FunType)
        self.type = t
        self.dsl_source = f"output {output + 1} of '{owner.__name__}' ({t})"
        self._derivatives: dict[int, Callable[..., Any]] = {0: values}

    def __call__(self, *points: Any) -> Any:
        """Values at `points`: one array per argument of the function, each `[..., *arg_shape]`;
        the result is `[..., *value_shape]`."""
        args = domain(self.type)
        if len(points) != len(args):
            raise InputError(f"{self.dsl_source} takes {len(args)} argument(s), got {len(points)}")
        arrays = [np.asarray(p, dtype=np.float64) for p in points]
        lead = []
        for a, t in zip(arrays, args):
            assert isinstance(t, TensorType)
            if a.shape[a.ndim - t.rank:] != tuple(d.value for d in t.shape):
                raise InputError(f"points for {self.dsl_source} must end with the shape of {t}, got {a.shape}")
            lead.append(a.shape[:a.ndim - t.rank])
        shape = np.broadcast_shapes(*lead)
        flat = [np.broadcast_to(a, shape + a.shape[len(lo):]).reshape((-1, *a.shape[len(lo):]))
                for a, lo in zip(arrays, lead)]
        out = np.asarray(self.values(*self.args, *flat))
        return out.reshape(shape + out.shape[1:])

    def dsl_call(self, xp: Any, order: int, points: tuple[Any, ...]) -> Any:
        if order not in self._derivatives:
            self._derivatives[order] = self.owner.derivative(self.output, order)
        return self._derivatives[order](*self.args, *points)

    def __repr__(self) -> str:
        return f"<function {self.dsl_source}>"


def compile_functional(d: Diagram, backend: str, boxes: Mapping[str, Callable[..., Any]], cache: Any) -> FunctionalFunction:
    return FunctionalFunction(d, backend, boxes, cache)
