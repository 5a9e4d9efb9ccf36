"""Kernel planning: which instructions of a schedule become fused kernels, and which run between them
as array-library calls. Target-independent (the C and CUDA backends share one plan).

A wire is **materialised** (written to memory by a kernel) when it is an output of the diagram, is
read by a library call, is the result of a reduction, or is expensive and needed by several
kernels; every other fusible wire is inlined into the kernels that read it, at the coordinates
they read it (a slice is an offset, a pad a clamped read and a select, a broadcast a coordinate
that stays 0). Kernels with one iteration space and no dependency between them merge, so e.g. an
energy and its gradient over the same array are one loop.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import TensorType, Dim
>>> v = TensorType("f64", (Dim.sym("n"),))
>>> b = Builder(); x = b.input(v)
>>> (s,) = b.add(make_box("sin"), [x], [v]); (c,) = b.add(make_box("cos"), [s], [v])
>>> (t,) = b.add(make_box("sum"), [s], [v.with_shape(())])
>>> plan = plan_kernels(b.build([c, t]))
>>> [(k.name, [str(d) for d in k.space], len(k.stores), len(k.reductions)) for k in plan.kernels]
[('k0', ['n'], 1, 1)]
"""

from __future__ import annotations

from dataclasses import dataclass

from codegen.kernel_lowering import CONSTANTS, COORDS, EXPR, REDUCTIONS
from codegen.schedule import Instr, Schedule, build_schedule
from semantics.diagram import Box, Diagram
from semantics.primitives import normalize_axes
from semantics.types import Dim, TensorType, WireType

# Inlined work (in rough flops; a math-library call counts EXPENSIVE) above which a wire needed by
# several kernels is written once instead of recomputed in each.
EXPENSIVE = 10
RECOMPUTE_LIMIT = 2 * EXPENSIVE


@dataclass(frozen=True)
class Kernel:
    """One fused loop. `space` is its iteration space; `stores` the elementwise wires it writes (of
    shape `space`); `reductions` the reduction instructions it accumulates (over all of `space`, or,
    for a kernel with `axes`, over those axes of it); `body` the instructions inlined, in order;
    `inputs` the arrays it reads; `dims` the dim variables its indices need."""

    id: int
    name: str
    space: tuple[Dim, ...]
    stores: tuple[int, ...]
    reductions: tuple[int, ...]
    axes: tuple[int, ...] | None
    body: tuple[int, ...]
    inputs: tuple[int, ...]
    dims: tuple[str, ...]

    @property
    def outputs(self) -> tuple[int, ...]:
        """The wires it writes, stores first (the order of the kernel's output parameters)."""
        return self.stores + self.reductions


@dataclass(frozen=True)
class Plan:
    """The schedule, the kernels, and the steps in run order: ("kernel", kernel id) or ("instr", k)."""

    schedule: Schedule
    kernels: tuple[Kernel, ...]
    steps: tuple[tuple[str, int], ...]

    def describe(self) -> str:
        lines = []
        for kind, k in self.steps:
            if kind == "kernel":
                kern = self.kernels[k]
                red = ", ".join(str(self.schedule.instrs[r].box) for r in kern.reductions)
                lines.append(f"{kern.name} [{', '.join(map(str, kern.space))}]: {len(kern.body)} instrs, "
                             f"stores {[f'w{w}' for w in kern.stores]}" + (f", reduces {red}" if red else ""))
            else:
                lines.append(f"call {self.schedule.instrs[k].box}")
        return "\n".join(lines)


def _never(box: Box, ins: object, out: object) -> bool:
    return False  # kernels allocate their outputs; library calls never write into another buffer


def fusible(ins: Instr, types: tuple[WireType, ...]) -> str | None:
    """How an instruction enters kernels: "const" (a literal), "ew" (an elementwise expression),
    "coords" (index arithmetic), "reduce" (a fused reduction) or None (a library call)."""
    box = ins.box
    if box.kind != "prim" or any(not isinstance(types[w], TensorType) for w in (*ins.inputs, *ins.outputs)):
        return None
    out: TensorType = types[ins.outputs[0]]  # type: ignore[assignment]
    dtypes = {types[w].dtype for w in ins.inputs}  # type: ignore[union-attr]
    if box.name in CONSTANTS:
        return "const" if out.dtype != "bool" or box.name == "const" else None
    if box.name in EXPR:
        return "ew" if dtypes <= set(EXPR[box.name].dtypes) else None
    if box.name in COORDS:
        return "coords" if coord_supported(box, types[ins.inputs[0]], out) else None  # type: ignore[arg-type]
    if box.name in REDUCTIONS and out.dtype in ("f32", "f64") and dtypes == {out.dtype}:
        return "reduce"
    return None


def coord_supported(box: Box, x: TensorType, out: TensorType) -> bool:
    """Whether `coord_map` handles these parameters (others are library calls, always correct)."""
    p = box.param_dict
    if box.name == "index":
        return all(item[0] in ("int", "newaxis") or (item[0] == "slice" and item[3] in (None, 1)
                   and all(v is None or isinstance(v, (int, Dim)) for v in item[1:3])) for item in p["index"])
    if box.name == "roll":
        return isinstance(p.get("shift"), int) and isinstance(p.get("axis"), int)
    if box.name == "pad":
        from semantics.prims.shape import pad_widths

        try:
            pad_widths(p["width"], x.rank, x)
        except Exception:
            return False
        return True
    return True


def reduced_axes(ins: Instr, types: tuple[WireType, ...]) -> tuple[int, ...]:
    x: TensorType = types[ins.inputs[0]]  # type: ignore[assignment]
    return normalize_axes(ins.box.param_dict.get("axis"), x.rank, ins.box.name)


def plan_kernels(d: Diagram) -> Plan:
    """The kernel plan of `d` (deterministic)."""
    return _Planner(d).run()


class _Planner:
    def __init__(self, d: Diagram):
        self.d = d
        self.sched = build_schedule(d, in_place=_never)
        self.types = d.types
        self.producer: dict[int, int] = {}
        for k, ins in enumerate(self.sched.instrs):
            for w in ins.outputs:
                self.producer[w] = k
        self.how = {k: fusible(ins, self.types) for k, ins in enumerate(self.sched.instrs)}
        self.readers: dict[int, list[int]] = {}
        for k, ins in enumerate(self.sched.instrs):
            for w in set(ins.inputs):
                self.readers.setdefault(w, []).append(k)
        # Data movement read only by library calls stays a library call: a view costs nothing, and
        # BLAS reads a transposed operand in place (a kernel would copy it).
        outputs = set(self.sched.outputs)
        for k in reversed(range(len(self.sched.instrs))):
            outs = self.sched.instrs[k].outputs
            readers = self.readers.get(outs[0], [])
            if self.how[k] == "coords" and outs[0] not in outputs and all(self.how[r] is None for r in readers):
                self.how[k] = None

    def inline(self, w: int) -> bool:
        k = self.producer.get(w)
        return k is not None and self.how[k] in ("ew", "coords")

    def required(self) -> set[int]:
        """Wires kernels must write whatever else happens."""
        out = set(self.sched.outputs)
        m: set[int] = set()
        for k, ins in enumerate(self.sched.instrs):
            how = self.how[k]
            if how == "reduce":
                m.add(ins.outputs[0])
            elif how is None or how == "const":
                continue
            for w in ins.outputs:
                if w in out or any(self.how[r] is None for r in self.readers.get(w, [])):
                    m.add(w)
        return m

    def cone(self, w: int, m: set[int]) -> tuple[set[int], set[int]]:
        """(instructions inlined, array wires read) to compute wire w inside a kernel."""
        body: set[int] = set()
        leaves: set[int] = set()
        stack = [w]
        while stack:
            v = stack.pop()
            k = self.producer.get(v)
            if k is not None and self.how[k] == "const":
                body.add(k)
            elif self.inline(v) and (v == w or v not in m):
                if k not in body:
                    body.add(k)  # type: ignore[arg-type]
                    stack.extend(self.sched.instrs[k].inputs)  # type: ignore[index]
            else:
                leaves.add(v)
        return body, leaves

    def cost(self, body: set[int]) -> int:
        total = 0
        for k in body:
            name = self.sched.instrs[k].box.name
            total += EXPENSIVE if "@" in (EXPR[name].template if name in EXPR else "") else 1
        return total

    def run(self) -> Plan:
        m = self.required()
        for _ in range(8):  # materialise expensive wires recomputed by several kernels, then replan
            kernels = self.group(m)
            owners: dict[int, set[int]] = {}
            for kid, (_, roots, _, body, _) in enumerate(kernels):
                for k in body:
                    for w in self.sched.instrs[k].outputs:
                        if w not in roots:
                            owners.setdefault(w, set()).add(kid)
            extra = {w for w, ks in owners.items() if len(ks) > 1 and self.inline(w)
                     and self.cost(self.cone(w, m)[0]) >= RECOMPUTE_LIMIT}
            if not extra:
                break
            m |= extra
        return self.finish(kernels)

    def group(self, m: set[int]) -> list[tuple[tuple[Dim, ...], list[int], tuple[int, ...] | None, set[int], set[int]]]:
        """Kernels as (space, root wires, reduced axes, body, leaves), merging roots greedily in
        program order into the first kernel of the same space whose position precedes all their inputs."""
        kernels: list[tuple[tuple[Dim, ...], list[int], tuple[int, ...] | None, set[int], set[int]]] = []
        first: list[int] = []            # instruction index of each kernel's first root
        step_of: dict[int, int] = {}     # wire -> position of the step that produces it
        for k, ins in enumerate(self.sched.instrs):
            if self.how[k] is None:
                for w in ins.outputs:
                    step_of[w] = k
                continue
            roots = [w for w in ins.outputs if w in m]
            if not roots:
                continue
            (w,) = roots
            if self.how[k] == "reduce":
                x: TensorType = self.types[ins.inputs[0]]  # type: ignore[assignment]
                axes = reduced_axes(ins, self.types)
                space = x.shape
                body, leaves = self.cone(ins.inputs[0], m) if self.inline(ins.inputs[0]) and ins.inputs[0] not in m \
                    else (set(), {ins.inputs[0]})
                body = body | {k}
                partial = axes if len(axes) < x.rank else None
            else:
                space = self.types[w].shape  # type: ignore[union-attr]
                body, leaves = self.cone(w, m)
                partial = None
            ready = max((step_of.get(v, -1) for v in leaves), default=-1)
            target = None
            if partial is None:
                target = next((j for j, kern in enumerate(kernels) if kern[0] == space and kern[2] is None
                               and ready < first[j]), None)
            if target is None:
                kernels.append((space, [w], partial, body, leaves))
                first.append(k)
                target = len(kernels) - 1
            else:
                kern = kernels[target]
                kern[1].append(w)
                kern[3].update(body)
                kern[4].update(leaves)
            step_of[w] = first[target]
        return kernels

    def finish(self, groups: list[tuple[tuple[Dim, ...], list[int], tuple[int, ...] | None, set[int], set[int]]]) -> Plan:
        kernels = []
        positions: list[tuple[int, str, int]] = []
        for kid, (space, roots, axes, body, leaves) in enumerate(groups):
            stores = tuple(w for w in roots if self.how[self.producer[w]] != "reduce")
            reductions = tuple(self.producer[w] for w in roots if self.how[self.producer[w]] == "reduce")
            inputs = tuple(sorted(v for v in leaves if self.producer.get(v) is None or self.how[self.producer[v]] != "const"))
            atoms: set[str] = set()
            for dim in space:
                atoms.update(dim.atoms)
            for v in inputs:
                for dim in self.types[v].shape:  # type: ignore[union-attr]
                    atoms.update(dim.atoms)
            for k in body:
                atoms.update(_param_atoms(self.sched.instrs[k].box))
            kernels.append(Kernel(kid, f"k{kid}", space, stores, reductions, axes, tuple(sorted(body)), inputs,
                                  tuple(sorted(atoms))))
            positions.append((min(self.producer[w] for w in roots), "kernel", kid))
        for k, how in self.how.items():
            if how is None or how == "const":
                positions.append((k, "instr", k))
        steps = tuple((kind, i) for _, kind, i in sorted(positions, key=lambda p: (p[0], p[1] == "instr")))
        return Plan(self.sched, tuple(kernels), steps)


def _param_atoms(box: Box) -> set[str]:
    atoms: set[str] = set()

    def walk(v: object) -> None:
        if isinstance(v, Dim):
            atoms.update(v.atoms)
        elif isinstance(v, tuple):
            for x in v:
                walk(x)

    for _, v in box.params:
        walk(v)
    return atoms
