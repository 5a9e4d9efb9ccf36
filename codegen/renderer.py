"""The C-style renderer: one kernel of a plan + a target description -> source text (a pure function).

Everything target-specific comes from `codegen.targets.Target` (types, qualifiers, loop headers,
reduction epilogues, literal spellings); every primitive's expression from the one table in
`codegen.kernel_lowering`. Inside a kernel a value is an expression *at coordinates*: elementwise
primitives combine their arguments at (broadcast) coordinates, data movement changes the
coordinates (`u[1:]` at `c0` reads `u` at `c0 + 1`), and arrays are read at the row-major address of
the coordinates (`i` itself where an array has the iteration space's shape). A value used more
than once at the same coordinates is named once (`const double v3 = ...;`), a single-use one inlined.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import TensorType, Dim
>>> from codegen.kernel_plan import plan_kernels
>>> from codegen.targets import C
>>> v = TensorType("f32", (Dim.sym("n"),))
>>> b = Builder(); x = b.input(v); (s,) = b.add(make_box("sin"), [x], [v])
>>> plan = plan_kernels(b.build([s]))
>>> print(render_kernel(plan, plan.kernels[0], C))
/* k0: over [n]; writes f32[n] */
void k0(int64_t d_n, const float* restrict a0, float* restrict o0)
{
    const int64_t N = d_n;
    #pragma omp parallel for simd schedule(static) if(parallel: N >= DSL_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++) {
        o0[i] = sinf(a0[i]);
    }
}
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator

from codegen.kernel_coords import Coords, broadcast, coord_map, coordinate_lines, dim_expr, dim_param, product
from codegen.kernel_lowering import EXPR, REDUCTIONS, cast_template
from codegen.kernel_plan import Kernel, Plan
from codegen.naming import safe_comment
from codegen.targets import Target
from semantics.types import TensorType

# A renderer step: yields the (wire, coords) whose text it reads, is sent that text, returns its own.
Renders = Generator[tuple[int, Coords], str, str]

_TOKEN = re.compile(r"@(\w+)\(|(-?)#(inf|\d+)")

# CUDA's combine function and the identity per reduction (the finisher kernels of the prelude).
CUDA_COMBINE = {"sum": "add", "mean": "add", "prod": "mul", "max": "max", "min": "min"}


class _Writer:
    """Renders one kernel's loop body (see the module docstring)."""

    def __init__(self, plan: Plan, kern: Kernel, target: Target, loop: Coords, flat: str | None,
                 interior: bool = False):
        self.plan, self.kern, self.t = plan, kern, target
        # interior: render for iterations where every pad guard on the outermost loop coordinate holds
        self.interior = interior
        self.bounds: list[tuple[str, str]] = []  # (first, end) of c0 where such a guard holds
        self.types = plan.schedule.types
        self.instrs = plan.schedule.instrs
        self.loop, self.flat = loop, flat
        self.inputs = {w: f"a{j}" for j, w in enumerate(kern.inputs)}
        self.producer = {w: k for k in kern.body for w in self.instrs[k].outputs}
        self.uses: dict[int, int] = {}
        for k in kern.body:
            for w in self.instrs[k].inputs:
                self.uses[w] = self.uses.get(w, 0) + 1
        for w in kern.stores:
            self.uses[w] = self.uses.get(w, 0) + 1
        self.memo: dict[tuple[int, Coords], str] = {}
        self.lines: list[str] = []
        self.count = 0

    def ctype(self, w: int) -> str:
        return self.t.ctype[self.types[w].dtype]  # type: ignore[union-attr]

    def literal(self, value: float | int | bool, dtype: str) -> str:
        if dtype in ("f32", "f64"):
            v = float(value)
            if math.isnan(v):
                return self.t.nan[dtype]
            if math.isinf(v):
                return self.t.inf[dtype] if v > 0 else f"(-{self.t.inf[dtype]})"
            text = repr(float(_as_f32(v))) if dtype == "f32" else repr(v)
            text = text + ("f" if dtype == "f32" else "")
            return f"({text})" if v < 0 or text.startswith("-") else text
        if dtype == "bool":
            return "1" if value else "0"
        return f"(({self.t.ctype[dtype]}){int(value)})"

    def fill(self, template: str, dtype: str) -> str:
        """Math functions and literals of `template` in `dtype` (`@sin(` -> `sinf(`, `#1` -> `1.0f`)."""
        def token(m: re.Match[str]) -> str:
            if m.group(1):
                return self.t.math(m.group(1), dtype) + "("
            value = math.inf if m.group(3) == "inf" else int(m.group(3))
            lit = self.literal(value, dtype)
            return f"(-{lit})" if m.group(2) else lit
        return _TOKEN.sub(token, template)

    def address(self, w: int, coords: Coords) -> str:
        shape = self.types[w].shape  # type: ignore[union-attr]
        if self.flat is not None and coords == self.loop and tuple(shape) == tuple(self.kern.space):
            return self.flat
        addr = ""
        for dim, c in zip(shape, coords):
            addr = c if not addr else f"({addr}) * {dim_expr(dim)} + {c}"
        return addr or "0"

    def value(self, w: int, coords: Coords) -> str:
        """The expression of wire `w` at `coords`. The expressions a wire reads are rendered first, by an
        explicit stack of `_render` generators rather than by recursion (a kernel may inline a chain
        of thousands of wires, deeper than Python's recursion limit); each generator asks for what it
        reads by yielding (wire, coords) and is sent back the text, in the order a recursive
        renderer would visit them, so the named values come out in the same order."""
        memo = self.memo
        if (w, coords) in memo:
            return memo[(w, coords)]
        stack: list[Renders] = []  # the steps waiting for a text, innermost last
        fresh: Renders | None = self._render(w, coords)  # a step not started yet
        text = ""
        while True:
            try:
                key = next(fresh) if fresh is not None else stack[-1].send(text)
            except StopIteration as done:
                if fresh is None:
                    stack.pop()
                fresh, text = None, done.value
                if not stack:
                    return text
                continue
            if fresh is not None:
                stack.append(fresh)
                fresh = None
            cached = memo.get(key)
            if cached is None:
                fresh = self._render(*key)
            else:
                text = cached

    def _render(self, w: int, coords: Coords) -> Renders:
        """The text of `w` at `coords` (memoised; see `value`)."""
        if w in self.inputs:
            text = f"{self.inputs[w]}[{self.address(w, coords)}]"
        else:
            ins = self.instrs[self.producer[w]]
            name = ins.box.name
            if name in ("const", "dimsize"):
                text = self.constant(w)
            elif name in EXPR and name != "stop_gradient":
                text = yield from self.elementwise(w, coords)
            else:
                text = yield from self.moved(w, coords)
            if self.uses.get(w, 0) > 1 and not _simple(text):
                var = f"v{self.count}"
                self.count += 1
                self.lines.append(f"const {self.ctype(w)} {var} = {text};")
                text = var
        self.memo[(w, coords)] = text
        return text

    def constant(self, w: int) -> str:
        ins = self.instrs[self.producer[w]]
        p = ins.box.param_dict
        if ins.box.name == "dimsize":
            return f"(({self.t.ctype[p['dtype']]}){dim_expr(p['dim'])})"
        return self.literal(p["value"], p["dtype"])

    def elementwise(self, w: int, coords: Coords) -> Renders:
        ins = self.instrs[self.producer[w]]
        out: TensorType = self.types[w]  # type: ignore[assignment]
        args = []
        for v in ins.inputs:
            args.append((yield (v, broadcast(coords, out, self.types[v]))))  # type: ignore[arg-type]
        entry = EXPR[ins.box.name]
        dtype = self.types[ins.inputs[-1]].dtype  # type: ignore[union-attr]
        template = entry.template
        if ins.box.name == "cast":
            template = cast_template(out.dtype)
        elif dtype not in ("f32", "f64") and entry.int_template is not None:
            template = entry.int_template
        named = dict(zip(("c", "x", "y") if ins.box.name == "where" else ("x", "y"), args))
        return substitute(self.fill(template, dtype).replace("{T}", self.t.ctype[out.dtype]), named)

    def moved(self, w: int, coords: Coords) -> Renders:
        ins = self.instrs[self.producer[w]]
        x: TensorType = self.types[ins.inputs[0]]  # type: ignore[assignment]
        out: TensorType = self.types[w]  # type: ignore[assignment]
        if ins.box.name == "pad":
            inner, guard = self.pad(dict(ins.box.param_dict), x, out, coords)
        else:
            inner, guard = coord_map(ins.box.name, ins.box.param_dict, x, out, coords)
        text = yield (ins.inputs[0], inner)
        if guard:
            text = f"({guard} ? {text} : {self.literal(0, out.dtype)})"
        return text

    def pad(self, p: dict, x: TensorType, out: TensorType, c: Coords) -> tuple[Coords, str | None]:
        """A pad reads its source at clamped coordinates and selects 0 outside it (branch-free). A guard
        on the outermost loop coordinate (`c0 + k`) is recorded as bounds; interior iterations skip it."""
        from semantics.prims.shape import pad_widths

        inner, guards = [], []
        for k, (lo, _) in enumerate(pad_widths(p["width"], x.rank, x)):
            n = dim_expr(x.shape[k])
            if lo == 0 and out.shape[k] == x.shape[k]:
                inner.append(c[k])
                continue
            shifted = f"{c[k]} - {lo}" if lo else c[k]
            m = re.fullmatch(r"c0(?: ([+-]) (\d+))?", c[k])
            if m and self.flat is not None:
                off = (int(m.group(2)) if m.group(1) == "+" else -int(m.group(2))) if m.group(1) else 0
                first = lo - off
                self.bounds.append((str(first), f"{n} + {first}" if first else n))
                if self.interior:
                    inner.append(shifted)
                    continue
            if lo:
                guards.append(f"{shifted} >= 0")
            guards.append(f"{shifted} < {n}")
            inner.append(f"dsl_clamp({shifted}, {n})")
        return tuple(inner), ("(" + " && ".join(guards) + ")") if guards else None

_SLOT = re.compile(r"\{([cxy])\}")


def substitute(template: str, args: dict[str, str]) -> str:
    """Fill `{x}`-style slots, parenthesising an argument unless it is atomic or the slot already is
    delimited (a function argument or a parenthesised slot).

    >>> substitute("({x} * {y})", {"x": "a0[i]", "y": "v1 + 2.0"})
    '(a0[i] * (v1 + 2.0))'
    >>> substitute("sqrt({x})", {"x": "v1 + 2.0"})
    'sqrt(v1 + 2.0)'
    """
    def slot(m: re.Match[str]) -> str:
        text = args[m.group(1)]
        before, after = template[:m.start()].rstrip(), template[m.end():].lstrip()
        delimited = before.endswith(("(", ",")) and after.startswith((")", ","))
        return text if delimited or atomic(text) else f"({text})"
    return _SLOT.sub(slot, template)


def atomic(text: str) -> bool:
    """Whether `text` needs no parentheses as an operand: a name, a number, a load, a call, or a
    fully parenthesised expression."""
    if re.fullmatch(r"[\w.]+(e[+-]\d+)?", text):
        return True
    m = re.match(r"\w*[(\[]", text)
    if not m:
        return False
    depth = 0
    for k in range(m.end() - 1, len(text)):
        depth += (text[k] in "([" and 1) or (-1 if text[k] in ")]" else 0)
        if depth == 0:
            return k == len(text) - 1
    return False




def _as_f32(v: float) -> float:
    import numpy as np

    return float(np.float32(v))


def _simple(text: str) -> bool:
    # a variable, a literal or a load at a plain index: naming it saves nothing
    return bool(re.fullmatch(r"\(?-?[\w.]+\)?(\[\w+\])?", text))


def render_kernel(plan: Plan, kern: Kernel, target: Target) -> str:
    """The source of one kernel for `target` (deterministic)."""
    if kern.axes is not None:
        return _render_partial(plan, kern, target)
    return _render_flat(plan, kern, target)


def _signature(plan: Plan, kern: Kernel, target: Target) -> str:
    types = plan.schedule.types
    params = [f"{target.index} {dim_param(a)}" for a in kern.dims]
    params += [f"const {target.ctype[types[w].dtype]}* {target.restrict} a{j}" for j, w in enumerate(kern.inputs)]  # type: ignore[union-attr]
    params += [f"{target.ctype[types[w].dtype]}* {target.restrict} o{j}" for j, w in enumerate(_outputs(plan, kern))]  # type: ignore[union-attr]
    return f"{target.kernel_prefix} {kern.name}({', '.join(params)})"


def _outputs(plan: Plan, kern: Kernel) -> tuple[int, ...]:
    return kern.stores + tuple(plan.schedule.instrs[r].outputs[0] for r in kern.reductions)


def _header(plan: Plan, kern: Kernel) -> str:
    types = plan.schedule.types
    what = [f"writes {types[w]}" for w in kern.stores]
    what += [f"{plan.schedule.instrs[r].box.name}s to {types[plan.schedule.instrs[r].outputs[0]]}" for r in kern.reductions]
    lines = sorted({(s.filename, s.line) for k in kern.body if (s := plan.schedule.instrs[k].span) is not None})
    src = ""
    if lines:
        src = f"; from {lines[0][0]} line{'s' if len(lines) > 1 else ''} " + ", ".join(str(ln) for _, ln in lines)
    space = ", ".join(map(str, kern.space))
    over = f"over [{space}]" + (f" reducing axes {list(kern.axes)}" if kern.axes is not None else "")
    return f"/* {kern.name}: {over}; {', '.join(what)}{safe_comment(src)} */"


def _flat_body(plan: Plan, kern: Kernel, target: Target, interior: bool) -> tuple[list[str], _Writer]:
    """The statements of one iteration: every store, then every reduction's update."""
    loop = tuple(f"c{k}" for k in range(len(kern.space)))
    w = _Writer(plan, kern, target, loop, "i", interior)
    stmts: list[str] = []
    for j, s in enumerate(kern.stores):
        value = w.value(s, loop)
        stmts += [*w.lines, f"o{j}[i] = {value};"]
        w.lines = []
    for j, r in enumerate(kern.reductions):
        ins = plan.schedule.instrs[r]
        dtype = plan.schedule.types[ins.outputs[0]].dtype  # type: ignore[union-attr]
        value = w.value(ins.inputs[0], loop)
        update = re.sub(r"\bacc\b", f"acc{j}", REDUCTIONS[ins.box.name][1])
        stmts += [*w.lines, f"{{ const {target.ctype[dtype]} v = {value}; acc{j} = {update}; }}"]
        w.lines = []
    if target.rows and len(loop) >= 2:  # nested: c_last is the SIMD index j, the others come from the row o
        lines = coordinate_lines(loop[:-1], kern.space[:-1], "o", target.index)
        lines.append(f"const {target.index} {loop[-1]} = j;")
    else:
        lines = coordinate_lines(loop, kern.space, "i", target.index)
        if len(loop) == 1:
            lines = [f"const {target.index} c0 = i;"]
    used = [ln for name, ln in zip(loop, lines) if re.search(rf"\b{name}\b", "\n".join(stmts))]
    return used + stmts, w


def _render_flat(plan: Plan, kern: Kernel, target: Target) -> str:
    """An elementwise loop over the space (stores and full reductions). Where pads guard reads on the
    outermost coordinate (a stencil's boundary), the C target peels the boundary iterations: the
    interior loop has no guards or clamps, so it vectorises."""
    stmts, w = _flat_body(plan, kern, target, interior=False)
    accs = []
    for j, r in enumerate(kern.reductions):
        ins = plan.schedule.instrs[r]
        dtype = plan.schedule.types[ins.outputs[0]].dtype  # type: ignore[union-attr]
        accs.append((f"acc{j}", ins.box.name, dtype, REDUCTIONS[ins.box.name][2], len(kern.stores) + j))
    out = [_header(plan, kern), _signature(plan, kern, target), "{", f"    const {target.index} N = {product(kern.space)};"]
    for acc, name, dtype, _, _ in accs:
        out.append(f"    {target.ctype[dtype]} {acc} = {w.fill(REDUCTIONS[name][0], dtype)};")
    clauses = "".join(f" reduction({omp}:{acc})" for acc, _, _, omp, _ in accs) if not target.device_reduce else ""

    def loop(start: str, end: str, body: list[str], pragma: bool = True) -> list[str]:
        header = target.loop.format(start=start, end=end, n=end if start == "0" else f"{end} - {start}",
                                    reductions=clauses).split("\n")
        return ["    " + ln for ln in (header if pragma else header[-1:])] + \
            ["        " + ln for ln in body] + ["    }"]

    if target.rows and len(kern.space) >= 2:
        rows = product(kern.space[:-1])
        out.append(f"    const {target.index} NL = {dim_expr(kern.space[-1])}, NO = {rows};")
        out += ["    " + ln for ln in target.outer_loop.format(n="NO", inner="NL", reductions=clauses).split("\n")]
        out[-1] += " {"
        row_coords = [ln for ln in stmts if re.match(rf"const {target.index} c\d+ = .*\bo\b", ln)]
        out += ["        " + ln for ln in row_coords]
        out.append("        " + target.inner_simd.format(reductions=clauses))
        out.append(f"        for ({target.index} j = 0; j < NL; j++) {{")
        out.append(f"            const {target.index} i = o * NL + j;")
        out += ["            " + ln for ln in stmts if ln not in row_coords]
        out += ["        }", "    }"]
    elif target.peel and w.bounds:
        inner, _ = _flat_body(plan, kern, target, interior=True)
        stride = product(kern.space[1:])
        los = sorted(set(b for b, _ in w.bounds))
        his = sorted(set(h for _, h in w.bounds))
        out.append("    /* iterations whose reads are all inside their sources: [LO, HI) */")
        out.append(f"    {target.index} lo_ = 0, hi_ = N;")
        def scaled(b: str) -> str:
            return b if stride == "1" else f"({b}) * ({stride})"
        out += [f"    if ({scaled(b)} > lo_) lo_ = {scaled(b)};" for b in los if b != "0"]
        out += [f"    if ({scaled(h)} < hi_) hi_ = {scaled(h)};" for h in his]
        out += ["    if (lo_ > N) lo_ = N;", "    if (hi_ < lo_) hi_ = lo_;",
                f"    const {target.index} LO = lo_, HI = hi_;"]
        out += loop("0", "LO", stmts, pragma=False)
        out[-len(stmts) - 2] += " {"
        out += loop("LO", "HI", inner)
        out[-len(inner) - 2] += " {"
        out += loop("HI", "N", stmts, pragma=False)
        out[-len(stmts) - 2] += " {"
    else:
        out += loop("0", "N", stmts)
        out[-len(stmts) - 2] += " {"
    for acc, name, dtype, _, j in accs:
        out += ["    " + ln for ln in _epilogue(target, acc, name, dtype, j, w)]
    out.append("}")
    return "\n".join(out)


def _epilogue(target: Target, acc: str, name: str, dtype: str, j: int, w: _Writer) -> list[str]:
    """After the loop: the accumulator into output j (OpenMP already combined the threads' values;
    on CUDA a block reduction, then one atomic per block or, deterministic, one partial per block)."""
    T = target.ctype[dtype]
    if not target.device_reduce:
        final = f"{acc} / ({T})N" if name == "mean" else acc
        return [f"o{j}[0] = {final};"]
    op = CUDA_COMBINE[name]
    identity = w.fill(REDUCTIONS[name][0], dtype)
    lines = [f"{acc} = dsl_block_reduce<{T}, dsl_combine_{op}<{T}>>({acc}, {identity});"]
    if name == "mean":
        lines.append(f"{acc} = {acc} / ({T})N;  /* each block's share of the mean */")
    if op == "add":
        lines += ["#if DSL_DETERMINISTIC", f"if (threadIdx.x == 0) o{j}[blockIdx.x] = {acc};", "#else",
                  f"if (threadIdx.x == 0) atomicAdd(o{j}, {acc});", "#endif"]
    else:
        lines.append(f"if (threadIdx.x == 0) o{j}[blockIdx.x] = {acc};")
    return lines


def _render_partial(plan: Plan, kern: Kernel, target: Target) -> str:
    """A reduction over some axes: each output element (parallel) accumulates over the reduced axes."""
    (r,) = kern.reductions
    ins = plan.schedule.instrs[r]
    dtype = plan.schedule.types[ins.outputs[0]].dtype  # type: ignore[union-attr]
    axes = kern.axes or ()
    kept = [k for k in range(len(kern.space)) if k not in axes]
    loop = tuple(f"c{k}" for k in range(len(kern.space)))
    w = _Writer(plan, kern, target, loop, None)
    value = w.value(ins.inputs[0], loop)
    init, combine, omp = REDUCTIONS[ins.box.name]
    T = target.ctype[dtype]
    inner_stmts = [*coordinate_lines([loop[k] for k in axes], [kern.space[k] for k in axes], "r", target.index), *w.lines,
                   f"{{ const {T} v = {value}; acc = {combine}; }}"]
    outer = coordinate_lines([loop[k] for k in kept], [kern.space[k] for k in kept], "o", target.index)
    final = f"acc / ({T})NR" if ins.box.name == "mean" else "acc"
    simd = target.inner_simd.format(reductions=f" reduction({omp}:acc)") if target.inner_simd else ""
    out = [_header(plan, kern), _signature(plan, kern, target), "{",
           f"    const {target.index} NO = {product([kern.space[k] for k in kept])};",
           f"    const {target.index} NR = {product([kern.space[k] for k in axes])};"]
    out += ["    " + ln for ln in target.outer_loop.format(n="NO", inner="NR", reductions="").split("\n")]
    out[-1] += " {"
    out += ["        " + ln for ln in outer]
    out.append(f"        {T} acc = {w.fill(init, dtype)};")
    if simd:
        out.append("        " + simd)
    out.append(f"        for ({target.index} r = 0; r < NR; r++) {{")
    out += ["            " + ln for ln in inner_stmts]
    out += ["        }", f"        o0[o] = {final};", "    }", "}"]
    return "\n".join(out)


def render_module(plan: Plan, target: Target, title: str) -> str:
    """Every kernel of the plan as one translation unit for `target`."""
    helpers = _helpers(target)
    parts = [f"/* {safe_comment(title)}\n   Generated by dsl (target \"{target.name}\"): {target.comment}. */",
             target.prelude.rstrip(), helpers]
    parts += [render_kernel(plan, k, target) for k in plan.kernels]
    return "\n\n".join(parts) + "\n"


def _helpers(target: Target) -> str:
    q = "static inline" if target.name == "c" else "__device__ __forceinline__"
    i = target.index
    return "\n".join([
        "/* Index helpers: a clamped read keeps a pad's select branch-free; roll is a modulus that is never negative. */",
        f"{q} {i} dsl_clamp({i} v, {i} n) {{ return v < 0 ? 0 : (v >= n ? n - 1 : v); }}",
        f"{q} {i} dsl_mod({i} v, {i} n) {{ {i} m = v % n; return m < 0 ? m + n : m; }}",
        f"{q} {i} dsl_max0({i} v) {{ return v < 0 ? 0 : v; }}",
    ])
