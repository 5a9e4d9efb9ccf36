"""A diagram as fused kernels + a Python launcher: what the C and CUDA backends compile and run.

`generate_kernels(d, target)` plans the kernels once (`codegen.kernel_plan`), renders them for the
target (`codegen.renderer`) and writes the launcher: the NumPy emitter's straight-line function
(`codegen.numpy_emitter`, so dims, constants, generator boxes and library calls are written exactly
as in the NumPy backend), with each kernel a call `t3, t4 = k1(dims, size, (inputs...), (shapes...))`
that allocates the kernel's outputs and launches it. Deterministic: the same diagram gives the same text.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

from codegen.errors import CodegenError
from codegen.kernel_plan import Kernel, Plan, plan_kernels
from codegen.naming import safe_comment
from codegen.numpy_emitter import HELPERS, _Emitter
from codegen.renderer import CUDA_COMBINE, render_module
from codegen.targets import TARGETS
from grammar.errors import Span
from semantics.diagram import Diagram
from semantics.types import NUMPY_DTYPE, Dim, TensorType


@dataclass(frozen=True)
class KernelInfo:
    """What a launcher needs about one kernel: its symbol, argument dtypes (NumPy names), and per
    reduction output the CUDA combine (add, mul, max, min) so stage two can finish it."""

    name: str
    symbol: str
    n_dims: int
    in_dtypes: tuple[str, ...]
    out_dtypes: tuple[str, ...]
    n_stores: int
    reduce_ops: tuple[str, ...]
    partial: bool


@dataclass(frozen=True)
class KernelProgram:
    """Kernel source (C or CUDA), the Python launcher source and what running them needs."""

    name: str
    target: str
    kernel_source: str
    launcher_source: str
    kernels: tuple[KernelInfo, ...]
    generators: tuple[tuple[str, Span | None], ...]
    plan: Plan

    def listing(self) -> str:
        """The text `dsl emit --target c|cuda` prints: the kernels, then the launcher as a comment."""
        launcher = "\n".join(" * " + ln if ln else " *" for ln in self.launcher_source.rstrip().split("\n"))
        return f"{self.kernel_source}\n/* Python launcher (runs the kernels and the library calls in order):\n{launcher}\n */\n"


def generate_kernels(d: Diagram, target: str) -> KernelProgram:
    """Plan, render and launch `d` for `target` ("c" or "cuda")."""
    for t in d.types:
        if not isinstance(t, TensorType):
            raise CodegenError(f"the {target} backend does not support function-typed wires ({t}) yet; "
                               "use backend='interpret'", d.span)
    plan = plan_kernels(d)
    source = render_module(plan, TARGETS[target], f"{d.name or 'diagram'} : {d.signature}")
    emitter = _Launcher(d, plan, target)
    launcher = emitter.launch()
    infos = tuple(_info(plan, k, emitter.symbols[k.id]) for k in plan.kernels)
    return KernelProgram(emitter.fname, target, source, launcher, infos,
                         tuple(sorted(emitter.generators.items(), key=lambda kv: kv[0])), plan)


def _info(plan: Plan, k: Kernel, symbol: str) -> KernelInfo:
    types = plan.schedule.types
    outs = k.stores + tuple(plan.schedule.instrs[r].outputs[0] for r in k.reductions)
    return KernelInfo(k.name, symbol, len(k.dims),
                      tuple(NUMPY_DTYPE[types[w].dtype] for w in k.inputs),  # type: ignore[union-attr]
                      tuple(NUMPY_DTYPE[types[w].dtype] for w in outs),  # type: ignore[union-attr]
                      len(k.stores), tuple(CUDA_COMBINE[plan.schedule.instrs[r].box.name] for r in k.reductions),
                      k.axes is not None)


class _Launcher(_Emitter):
    """The NumPy emitter, walking the plan's steps: kernel calls and library calls in order."""

    def __init__(self, d: Diagram, plan: Plan, target: str):
        super().__init__(d)
        self.sched = plan.schedule   # no in-place writes: kernels allocate their outputs
        self.plan = plan
        self.target = target
        self.symbols = {k.id: self.namer.claim(k.name) for k in plan.kernels}

    def launch(self) -> str:
        for kind, k in self.plan.steps:
            if kind == "kernel":
                self.kernel(self.plan.kernels[k])
                continue
            ins = self.sched.instrs[k]
            if ins.kind == "const":
                self.constant(ins)
            elif ins.box.kind == "gen":
                self.generator(ins)
            else:
                self.primitive(ins)
        returns = []
        for w in self.sched.outputs:
            src = self.hoist(w) if w in self.const else self.var[w]
            returns.append(f"xp.asarray({src})" if self.d.types[w].rank == 0 else src)  # type: ignore[union-attr]
        lines = [f"    xp = array_namespace({', '.join(self.params)})", *self.dim_lines(), *self.hoisted, *self.body,
                 f"    return {', '.join(returns) if returns else '()'}"]
        names = ", ".join(self.symbols[k.id] for k in self.plan.kernels)
        header = [
            f"# {safe_comment(self.d.name or 'diagram')} : {safe_comment(self.d.signature)}",
            f'# Generated by dsl (target "{self.target}"): fused kernels ({names or "none"}) and array-library calls.',
            f"from codegen.runtime import {', '.join(h for h in HELPERS if h in self.helpers)}",
            "",
            "",
            f"def {self.fname}({', '.join(self.params)}):",
        ]
        return "\n".join(header + lines) + "\n"

    def kernel(self, k: Kernel) -> None:
        types = self.sched.types
        dims = [self.dim(Dim.sym(a)) for a in k.dims]
        space = [k.space[j] for j in range(len(k.space)) if k.axes is None or j not in k.axes]
        size = self.dim(functools.reduce(operator.mul, space, Dim.const(1)))
        args = [self.var[w] for w in k.inputs]
        outs = k.stores + tuple(self.sched.instrs[r].outputs[0] for r in k.reductions)
        shapes = [self.render(types[w].shape, None) for w in outs]  # type: ignore[union-attr]
        names = [self.fresh() for _ in outs]
        call = (f"{self.symbols[k.id]}({_tuple(dims)}, {size}, {_tuple(args)}, {_tuple(shapes)})")
        work = [j for j in k.body if self.sched.instrs[j].kind != "const"] or list(k.body)
        span_ins = self.sched.instrs[min(work)]
        self.emit(f"{', '.join(names)} = {call}" if len(names) > 1 else f"{names[0]} = {call}[0]", span_ins)
        self.var.update(zip(outs, names))


def _tuple(items: list[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
