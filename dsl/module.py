"""`Module`: a loaded `.dsl` file — its definitions as diagrams, derived on first use, compiled on demand."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from dsl.loader import load_program, stdlib
from grammar.errors import DslError
from grammar.gcpause import paused_gc
from semantics.diagram import Builder, Diagram
from semantics.errors import TypeCheckError, UnboundNameError
from semantics.program import Definition, DerivedDef, DiagramDef, GeneratorDef, GenericDef, Program, signature_of
from semantics.replay import expand_defs, inline_diagram
from semantics.types import Dim, unify
from semantics.verify import check


def verifying() -> bool:
    """Whether `Module` re-verifies each diagram at its stage boundaries (after building or deriving a
    definition, after optimising one): under `DSL_VERIFY=1` (the test suite sets it) or `DSL_DEBUG`.
    These checks are internal consistency checks (the elaborator reports every user mistake as a
    `DslError` before a diagram exists), and the e-graph optimiser verifies what it extracts before it
    keeps it, so an ordinary run verifies each pipeline once; re-verifying a derived diagram costs
    as much as 3-5% of deriving it (a 600-layer chain: three passes over 3.6k-5.4k nodes)."""
    return bool(os.environ.get("DSL_VERIFY") or os.environ.get("DSL_DEBUG"))


def _checked(d: Diagram, stage: str) -> Diagram:
    return check(d, stage) if verifying() else d


class Module:
    """The definitions of one `.dsl` file (plus what it imports), by name, in source order.

    >>> mod = loads("def f(x: f64) -> f64 { return 2 * x }")
    >>> mod.names, mod["f"].signature
    (['f'], 'f64 -> f64')
    >>> float(mod.compile("f", backend="interpret")(1.5))
    3.0
    """

    def __init__(self, program: Program, boxes: Mapping[str, Callable[..., Any]] | None = None,
                 fast_math: bool = False):
        self.program = program
        self.fast_math = fast_math  # let the optimiser use rewrites exact for real numbers only
        self.boxes = dict(boxes or {})
        self._diagrams: dict[str, Diagram] = {}
        self._compiled: dict[tuple[str, str], Any] = {}
        self._traces: dict[str, list[Any]] = {}
        self._optimized: dict[str, Diagram] = {}
        self._defs = dict(program.definitions)

    @property
    def names(self) -> list[str]:
        return list(self.program.own)

    @property
    def filename(self) -> str:
        return self.program.filename

    def definition(self, name: str) -> Definition:
        d = self._defs.get(name) or stdlib().lookup(name)
        if d is None:
            raise UnboundNameError(f"no definition named '{name}' in {self.filename} "
                                   f"(definitions: {', '.join(self.names) or 'none'})")
        return d

    def signature(self, name: str) -> str:
        return signature_of(self.definition(name))

    def __contains__(self, name: str) -> bool:
        return name in self._defs

    @paused_gc()  # compile-time passes: see grammar/gcpause.py
    def __getitem__(self, name: str) -> Diagram:
        """The diagram of a definition; derived definitions are derived (and cached) here.
        Each diagram is verified at this stage boundary when `verifying()`; DSL_DEBUG=1 prints it."""
        if name not in self._diagrams:
            d = _checked(self._build(name), f"building '{name}'")
            if os.environ.get("DSL_DEBUG"):
                print(f"# DSL_DEBUG {name} : {d.signature}\n{d.show()}", file=sys.stderr)
            self._diagrams[name] = d
        return self._diagrams[name]

    def _build(self, name: str) -> Diagram:
        d = self.definition(name)
        if isinstance(d, DiagramDef):
            return self.expand_calls(expand_defs(d.diagram)).with_names(name)
        if isinstance(d, GeneratorDef):
            b = Builder()
            ins = [b.input(t) for t in d.dom]
            from semantics.diagram import Box

            return b.build(b.add(Box(d.name, (), "gen"), ins, d.cod, d.span), name=name)
        if isinstance(d, GenericDef):
            raise TypeCheckError(f"'{name}' is generic (untyped parameters); call it from a typed def", d.span)
        return self.derive(d)

    def derive(self, d: DerivedDef) -> Diagram:
        target = self[d.target]
        from rewrite import derive  # the derivatives stage

        trace: list[Any] = []
        try:
            out = derive(d.op, target, d.wrt, trace=trace, fast_math=self.fast_math)
        except DslError as err:
            raise err.with_span(d.span) from None
        self._traces[d.name] = trace
        return out.with_names(d.name, d.param_names)

    def steps(self, name: str) -> list[Any]:
        """The passes that produced definition `name` (derivation, CSE, e-graph stages), for `--steps`.
        A plain definition is optimised here so its e-graph report can be shown."""
        diagram = self[name]
        if name not in self._traces:
            from rewrite import simplify

            trace: list[Any] = []
            simplify(diagram, trace, self.fast_math)
            self._traces[name] = trace
        return self._traces[name]

    def expand_calls(self, d: Diagram) -> Diagram:
        """Inline every `call` box (a use of a derived definition) by its derived diagram."""
        if all(n.box.kind != "call" for n in d.nodes):
            return d
        b = Builder()
        rename = {w: b.input(d.types[w]) for w in d.inputs}
        for node in d.nodes:
            ins = [rename[w] for w in node.inputs]
            if node.box.kind == "call":
                callee = self[node.box.name]
                binding: dict[str, Dim] = {}
                for p, w in zip(callee.dom, node.inputs):
                    unify(p, d.types[w], binding)
                outs = inline_diagram(b, callee, ins, binding, node.span)
            else:
                outs = b.add(node.box, ins, [d.types[w] for w in node.outputs], node.span)
            rename.update(zip(node.outputs, outs))
        return b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span)

    @paused_gc()  # compile-time passes: see grammar/gcpause.py
    def compile(self, name: str, backend: str = "numpy") -> Callable[..., Any]:
        """A callable running definition `name` on arrays; inputs are validated before any work."""
        key = (name, backend)
        if key not in self._compiled:
            from codegen import compile_diagram

            diagram = self[name] if backend == "interpret" else self.optimized(name)
            self._compiled[key] = compile_diagram(diagram, backend, boxes=self.boxes)
        return self._compiled[key]

    @paused_gc()  # compile-time passes: see grammar/gcpause.py
    def emit(self, name: str, target: str = "numpy") -> str:
        """The generated source of definition `name` for `target`: "numpy", "c" (fused kernels as C with
        OpenMP, what `compile(name, backend="c")` runs) or "cuda" (the same kernels in CUDA, what
        `backend="cupy"` runs); the kernel targets end with the Python launcher as a comment."""
        from codegen import emit

        return emit(self.optimized(name), target)

    @paused_gc()  # compile-time passes: see grammar/gcpause.py
    def optimized(self, name: str) -> Diagram:
        """What code generation compiles: the definition after the e-graph optimiser (derived
        definitions are optimised when they are derived; the interpreter runs `self[name]` as written)."""
        if name not in self._optimized:
            d = self[name]
            from rewrite.sampling import is_functional

            # function-typed wires are not e-graph terms; the sampling pass runs at compile time
            if not isinstance(self.definition(name), DerivedDef) and not is_functional(d):
                from rewrite import simplify

                d = _checked(simplify(d, fast_math=self.fast_math), f"optimising '{name}'")
            self._optimized[name] = d
        return self._optimized[name]

    def _repr_html_(self) -> str:
        """Jupyter shows a module as a table of its definitions and their signatures."""
        from html import escape

        rows = []
        for name in self.names:
            d = self.definition(name)
            kind = (f"{d.op}({d.target.split('#')[0]})" if isinstance(d, DerivedDef) else
                    "generator box" if isinstance(d, GeneratorDef) else "generic" if isinstance(d, GenericDef) else
                    d.kind if isinstance(d, DiagramDef) else "")
            rows.append(f"<tr><td><code>{escape(name)}</code></td><td><code>{escape(signature_of(d))}</code></td>"
                        f"<td>{escape(kind)}</td></tr>")
        return (f"<p><b>{escape(os.path.basename(self.filename))}</b>: {len(self.names)} definition(s)</p>"
                "<table><tr><th>name</th><th>signature</th><th>kind</th></tr>" + "".join(rows) + "</table>")

    def __repr__(self) -> str:
        return f"<dsl.Module {os.path.basename(self.filename)}: {', '.join(self.names)}>"


@paused_gc()  # compile-time passes: see grammar/gcpause.py
def load(path: str | os.PathLike[str], boxes: Mapping[str, Callable[..., Any]] | None = None,
         fast_math: bool = False) -> Module:
    """Parse and elaborate a `.dsl` file; raises a `dsl.DslError` subclass on bad input.
    `fast_math=True` lets the optimiser rewrite as for real numbers (`x * 0 -> 0`,
    `exp(log x) -> x`), which can change results at NaN, ±inf, ±0 or negative inputs."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise DslError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise DslError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    return Module(load_program(text, path, os.path.dirname(os.path.abspath(path))), boxes, fast_math)


@paused_gc()  # compile-time passes: see grammar/gcpause.py
def loads(source: str, filename: str = "<string>", boxes: Mapping[str, Callable[..., Any]] | None = None,
          fast_math: bool = False) -> Module:
    """Parse and elaborate DSL source text."""
    return Module(load_program(source, filename, None), boxes, fast_math)


