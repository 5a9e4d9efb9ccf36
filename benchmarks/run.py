"""Benchmark dsl's generated NumPy against hand-written NumPy, JAX and PyTensor.

    .venv/bin/python benchmarks/run.py [--quick] [--out benchmarks/RESULTS.md]

For every workload (see `workloads.py`) and every system: the forward time, the forward+gradient
time (a value-and-gradient function), their ratio, and the one-time cost of getting the
value-and-gradient function ready (see README.md). All systems run in the same process on the
same inputs, and their results are checked against each other before anything is timed.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# glibc returns freed blocks above its (adaptive) mmap/trim thresholds to the OS, so whether a temporary
# array costs fresh page faults depends on the process's allocation history: on this VM that made the
# same NumPy function vary 5x between runs. Unless --system-malloc is given, rerun this script with
# fixed thresholds, so that every system reuses freed memory the same way (see README.md).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(2 ** 32), "MALLOC_TRIM_THRESHOLD_": str(2 ** 32)}
if __name__ == "__main__" and "--system-malloc" not in sys.argv and any(k not in os.environ for k in MALLOC_ENV):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# A fresh PyTensor compile directory, so that its one-time cost is not hidden by an on-disk cache
# left by an earlier run (dsl's caches are cleared too, see `dsl_build`). --keep-pytensor-cache
# turns this off.
if "--keep-pytensor-cache" not in sys.argv and "compiledir" not in os.environ.get("PYTENSOR_FLAGS", ""):
    _flags = os.environ.get("PYTENSOR_FLAGS", "")
    os.environ["PYTENSOR_FLAGS"] = ",".join(filter(None, [_flags, f"compiledir={tempfile.mkdtemp(prefix='pytensor-bench-')}"]))

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import Workload, workloads  # noqa: E402

SYSTEMS = ("dsl-numpy", "hand NumPy", "JAX", "PyTensor")
DSL_PACKAGES = ("dsl", "codegen", "rewrite", "semantics", "grammar")
# Timed in a block of their own, after the others: PyTensor's Numba backend calls a second OpenBLAS
# (SciPy's), whose busy-waiting threads halved NumPy's matmul speed when the calls were interleaved
# on this 2-core machine (MLP f64: hand NumPy 9 ms -> 17 ms forward).
TIMED_APART = ("PyTensor",)


class NotInstalled(Exception):
    pass


class Mismatch(Exception):
    pass


@dataclass
class Built:
    fwd: Callable[..., Any]
    vg: Callable[..., Any]
    args: tuple[Any, ...]            # the inputs, in the system's own array type
    build_s: float | None            # building the value-and-gradient function (None: nothing to build)
    sync: Callable[[Any], Any] = lambda out: out
    note: str = ""


@dataclass
class Row:
    workload: str
    system: str
    fwd_s: float | None = None
    vg_s: float | None = None
    one_time_s: float | None = None
    status: str = ""                 # "not installed", an error, or ""
    extra: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- systems


def clear_dsl_caches() -> None:
    """Empty every in-process cache of dsl: the compile cache and every functools cache in its packages
    (the parsed standard library, primitive rule templates, cost tables)."""
    import codegen

    codegen.DEFAULT_CACHE.clear()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in DSL_PACKAGES or module is None:
            continue
        for obj in list(vars(module).values()):
            if getattr(obj, "__module__", None) == name and callable(getattr(obj, "cache_clear", None)):
                obj.cache_clear()


def dsl_build(w: Workload, inputs: dict[str, np.ndarray]) -> Built:
    import dsl

    clear_dsl_caches()
    mod = dsl.load(w.model)
    fwd = mod.compile(w.fwd_name)
    clear_dsl_caches()
    t0 = time.perf_counter()
    mod = dsl.load(w.model)                  # parse + elaborate (builds the Lark parser anew: caches cleared)
    t1 = time.perf_counter()
    vg = mod.compile(w.vg_name)              # derive (linearize, transpose) + e-graph optimise + codegen
    t2 = time.perf_counter()
    return Built(fwd, vg, tuple(inputs[p] for p in w.params), t2 - t0,
                 note=f"(load {t1 - t0:.2f} s, derive+optimise+compile {t2 - t1:.2f} s)")


def hand_build(w: Workload, inputs: dict[str, np.ndarray]) -> Built:
    return Built(w.hand_fwd, w.hand_vg, tuple(inputs[p] for p in w.params), None)


def jax_build(w: Workload, inputs: dict[str, np.ndarray]) -> Built:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as err:
        raise NotInstalled(str(err)) from None
    jax.config.update("jax_enable_x64", True)   # f64 workloads stay f64; f32 inputs stay f32
    loss = w.jax_loss(jnp)
    argnums = tuple(w.params.index(p) for p in w.wrt)
    fwd = jax.jit(loss)
    vg_raw = jax.jit(jax.value_and_grad(loss, argnums=argnums))

    def vg(*args):
        value, grads = vg_raw(*args)
        return (value, *grads)

    args = tuple(jax.device_put(inputs[p]) for p in w.params)
    return Built(fwd, vg, args, None, sync=jax.block_until_ready)


def pytensor_build(w: Workload, inputs: dict[str, np.ndarray]) -> Built:
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError as err:
        raise NotInstalled(str(err)) from None

    def symbols():
        return [pt.tensor(p, dtype=str(inputs[p].dtype), shape=(None,) * inputs[p].ndim) for p in w.params]

    sym = symbols()
    fwd = pytensor.function(sym, w.pytensor_loss(pt, sym))
    t0 = time.perf_counter()
    sym = symbols()
    loss = w.pytensor_loss(pt, sym)
    grads = pytensor.grad(loss, [sym[w.params.index(p)] for p in w.wrt])
    vg = pytensor.function(sym, [loss, *grads])
    build = time.perf_counter() - t0
    mode = type(vg.maker.linker).__name__
    return Built(fwd, vg, tuple(inputs[p] for p in w.params), build, note=f"{mode}")


BUILDERS = {"dsl-numpy": dsl_build, "hand NumPy": hand_build, "JAX": jax_build, "PyTensor": pytensor_build}


# ------------------------------------------------------------------------------------------- timing


def as_tuple(out: Any) -> tuple[np.ndarray, ...]:
    if not isinstance(out, (tuple, list)):
        out = (out,)
    return tuple(np.asarray(o) for o in out)


def timed_call(fn: Callable[..., Any], args: tuple[Any, ...], sync: Callable[[Any], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = sync(fn(*args))
    return time.perf_counter() - t0, out


def interleaved_medians(fns: dict[str, tuple[Callable[..., Any], tuple[Any, ...], Callable[[Any], Any]]],
                        min_runs: int, budget_s: float, warmup: int = 2) -> dict[str, float]:
    """Median time of each function, measured in rounds: every round calls every function once, in a
    shuffled order, so that a change in the machine's background load hits all systems alike. At least
    `min_runs` rounds after `warmup` untimed calls each; more rounds (up to 50) while the total stays
    under `budget_s` per function. The garbage collector is off while timing, as in timeit."""
    for fn, args, sync in fns.values():
        for _ in range(warmup):
            sync(fn(*args))
    times: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    rng = np.random.default_rng(0)
    gc.disable()
    try:
        start = time.perf_counter()
        rounds = 0
        while rounds < min_runs or (time.perf_counter() - start < budget_s * len(fns) and rounds < 50):
            rng.shuffle(order)
            for k in order:
                fn, args, sync = fns[k]
                times[k].append(timed_call(fn, args, sync)[0])
            rounds += 1
    finally:
        gc.enable()
    return {k: statistics.median(v) for k, v in times.items()}


def max_rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    a, ref = np.asarray(a, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if a.shape != ref.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-30)
    return float(np.max(np.abs(a - ref))) / scale if ref.size else 0.0


def check_same(w: Workload, system: str, fwd_out: Any, vg_out: Any, ref_fwd: Any, ref_vg: Any) -> float:
    """Compare a system's outputs with the reference (hand NumPy); raise `Mismatch` with every
    offending output named. Errors are relative to the largest magnitude of each reference output."""
    tol = 2e-3 if w.dtype == np.float32 else 1e-9
    names = ("value", *(f"d/d{p}" for p in w.wrt))
    got, ref = as_tuple(fwd_out) + as_tuple(vg_out), as_tuple(ref_fwd) + as_tuple(ref_vg)
    labels = ("forward value", *(f"value_and_grad {n}" for n in names))
    if len(got) != len(ref):
        raise Mismatch(f"{system} on {w.key}: {len(got)} outputs, expected {len(ref)}")
    worst = 0.0
    bad = []
    for label, g, r in zip(labels, got, ref):
        err = max_rel_err(g, r)
        worst = max(worst, err)
        if not err <= tol:
            bad.append(f"{label}: max relative error {err:.3g} (tolerance {tol:g}), shape {g.shape} vs {r.shape}")
    if bad:
        raise Mismatch(f"{system} disagrees with hand NumPy on {w.key}:\n    " + "\n    ".join(bad))
    return worst


def run_workload(w: Workload, systems: tuple[str, ...], min_runs: int, budget_s: float,
                 log: Callable[[str], None]) -> list[Row]:
    inputs = w.make_inputs(np.random.default_rng(0))
    ref_fwd = w.hand_fwd(*(inputs[p] for p in w.params))
    ref_vg = w.hand_vg(*(inputs[p] for p in w.params))
    rows: list[Row] = []
    built: dict[str, Built] = {}
    for system in systems:
        row = Row(w.key, system)
        rows.append(row)
        try:
            b = built[system] = BUILDERS[system](w, inputs)
        except NotInstalled:
            row.status = "not installed"
            log(f"  {system:11s} not installed")
            continue
        # first calls: one-time work still pending (JAX traces and compiles here), then the agreement check
        first_fwd, fwd_out = timed_call(b.fwd, b.args, b.sync)
        first_vg, vg_out = timed_call(b.vg, b.args, b.sync)
        row.extra = dict(max_rel_err=check_same(w, system, fwd_out, vg_out, ref_fwd, ref_vg),
                         first_fwd=first_fwd, first_vg=first_vg, note=b.note)
        del fwd_out, vg_out
    gc.collect()
    gc.freeze()   # what exists now (compiled functions, inputs) is never collected: cheap GC while timing
    fwd: dict[str, float] = {}
    vg: dict[str, float] = {}
    groups = [[k for k in built if k not in TIMED_APART], *([k] for k in built if k in TIMED_APART)]
    for group in filter(None, groups):
        fwd.update(interleaved_medians({k: (built[k].fwd, built[k].args, built[k].sync) for k in group},
                                       min_runs, budget_s))
        vg.update(interleaved_medians({k: (built[k].vg, built[k].args, built[k].sync) for k in group},
                                      min_runs, budget_s))
        time.sleep(0.2)   # let any spinning worker threads of this group go to sleep
    for row in rows:
        if row.status:
            continue
        b = built[row.system]
        row.fwd_s, row.vg_s = fwd[row.system], vg[row.system]
        excess = max(row.extra["first_vg"] - row.vg_s, 0.0)
        if row.system == "JAX":
            row.one_time_s = excess                 # trace + compile, seen at the first call
        elif b.build_s is not None:
            row.one_time_s = b.build_s              # dsl: load + derive + optimise + compile; PyTensor: compile
        log(f"  {row.system:11s} fwd {fmt_ms(row.fwd_s):>9s} ms  fwd+grad {fmt_ms(row.vg_s):>9s} ms  "
            f"one-time {fmt_s(row.one_time_s)}  first-call excess {fmt_s(excess)}  "
            f"max rel err vs hand {row.extra['max_rel_err']:.1e} {b.note}")
    built.clear()
    gc.unfreeze()
    gc.collect()
    return rows


# ------------------------------------------------------------------------------------------- report


def fmt_ms(s: float | None) -> str:
    if s is None:
        return "—"
    ms = s * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def fmt_s(s: float | None) -> str:
    return "—" if s is None else f"{s:.2f} s" if s >= 0.01 else f"{s * 1e3:.1f} ms"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


def table(rows: list[Row], sizes: dict[str, str]) -> str:
    head = ("| workload | system | forward (ms) | fwd+grad (ms) | grad/fwd | one-time | fwd ÷ hand | fwd+grad ÷ hand "
            "| fwd ÷ JAX | fwd+grad ÷ JAX |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    by = {(r.workload, r.system): r for r in rows}
    for r in rows:
        label = f"{r.workload} ({sizes[r.workload]})"
        if r.status:
            lines.append(f"| {label} | {r.system} | {r.status} | | | | | | | |")
            continue
        hand, jax_row = by.get((r.workload, "hand NumPy")), by.get((r.workload, "JAX"))
        lines.append("| " + " | ".join([
            label, r.system, fmt_ms(r.fwd_s), fmt_ms(r.vg_s), fmt_ratio(r.vg_s, r.fwd_s), fmt_s(r.one_time_s),
            fmt_ratio(r.fwd_s, hand and hand.fwd_s), fmt_ratio(r.vg_s, hand and hand.vg_s),
            fmt_ratio(r.fwd_s, jax_row and jax_row.fwd_s), fmt_ratio(r.vg_s, jax_row and jax_row.vg_s)]) + " |")
    return "\n".join(lines)


def version(module: str) -> str:
    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return "not installed"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            ram = f"{kb / 2 ** 20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    blas = ""
    try:
        cfg = np.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        blas = f"{b.get('name')} {b.get('version')}"
    except Exception:
        pass
    pt_mode = ""
    try:
        import pytensor

        pt_mode = f" (default mode: {pytensor.compile.mode.get_default_mode().linker.__class__.__name__})"
    except ImportError:
        pass
    return "\n".join([
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; RAM {ram}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}; numpy {np.__version__} (BLAS: {blas or '?'}); "
        f"jax {version('jax')} / jaxlib {version('jaxlib')} (CPU); pytensor {version('pytensor')}{pt_mode}",
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        "- malloc: " + ("glibc defaults (--system-malloc)" if not all(k in os.environ for k in MALLOC_ENV)
                        else ", ".join(f"{k}={os.environ[k]}" for k in MALLOC_ENV)),
    ])


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def cold_dsl_one_time(model: Path, name: str) -> str:
    """The same one-time cost in a fresh interpreter, where imports (egglog, lark, sympy, numpy) count too."""
    code = ("import time; t0 = time.perf_counter(); import dsl; t1 = time.perf_counter(); "
            f"mod = dsl.load({str(model)!r}); mod.compile({name!r}); t2 = time.perf_counter(); "
            "print(f'{t1 - t0:.2f} {t2 - t1:.2f}')")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
        imp, build = out.stdout.split()
        return f"import dsl {imp} s + load/derive/optimise/compile {build} s"
    except (subprocess.SubprocessError, ValueError) as err:
        return f"failed ({err})"


def write_results(path: Path, text: str) -> None:
    """Write the generated part of RESULTS.md, keeping a hand-written `## Analysis` section if there is one."""
    keep = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        i = old.find("\n## Analysis")
        if i >= 0:
            keep = old[i:]
    path.write_text(text + keep, encoding="utf-8")


# ------------------------------------------------------------------------------------------- smoke


def smoke_check(log: Callable[[str], None] = print) -> None:
    """A tiny self-test, no pytest: the hand-derived gradients against central differences (f64), then
    every installed system against hand NumPy on small inputs. Raises AssertionError / Mismatch."""
    for w in workloads(quick=True):
        if w.dtype != np.float64:
            continue
        inputs = w.make_inputs(np.random.default_rng(1))
        args = [inputs[p].copy() for p in w.params]
        _, *grads = w.hand_vg(*[a.copy() for a in args])
        rng = np.random.default_rng(2)
        for p, g in zip(w.wrt, grads):
            i = w.params.index(p)
            direction = rng.standard_normal(args[i].shape)
            h = 1e-6 * max(1.0, float(np.max(np.abs(args[i]))))
            plus = [a.copy() for a in args]
            plus[i] = plus[i] + h * direction
            minus = [a.copy() for a in args]
            minus[i] = minus[i] - h * direction
            fd = (w.hand_fwd(*plus) - w.hand_fwd(*minus)) / (2 * h)
            exact = float(np.sum(g * direction))
            assert abs(fd - exact) <= 1e-5 * max(1.0, abs(exact)), f"{w.key}: hand gradient d/d{p} {exact} vs FD {fd}"
        log(f"smoke: hand-derived gradient of {w.key} matches central differences")
    for w in workloads(quick=True):
        inputs = w.make_inputs(np.random.default_rng(3))
        ref_fwd = w.hand_fwd(*(inputs[p] for p in w.params))
        ref_vg = w.hand_vg(*(inputs[p] for p in w.params))
        for system in SYSTEMS:
            try:
                built = BUILDERS[system](w, inputs)
            except NotInstalled:
                continue
            check_same(w, system, built.sync(built.fwd(*built.args)), built.sync(built.vg(*built.args)), ref_fwd, ref_vg)
        log(f"smoke: every installed system agrees on {w.key}")


# ------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes and a smoke check (< 1 min)")
    ap.add_argument("--out", type=Path, help="write the results (machine, command, table) to this Markdown file")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of: " + ", ".join(SYSTEMS))
    ap.add_argument("--only", default="", help="run only workloads whose label contains this text")
    ap.add_argument("--min-runs", type=int, default=7, help="timed calls per measurement, at least (default 7)")
    ap.add_argument("--system-malloc", action="store_true",
                    help="keep glibc's default (adaptive) malloc thresholds instead of fixed ones")
    ap.add_argument("--keep-pytensor-cache", action="store_true",
                    help="use PyTensor's usual compile directory instead of a fresh one")
    args = ap.parse_args(argv)
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        ap.error(f"unknown system(s) {unknown}; choose from {SYSTEMS}")
    if "hand NumPy" not in systems:
        systems = ("hand NumPy", *systems)   # the reference for the checks and ratios
    min_runs = max(args.min_runs, 7)
    budget_s = 0.1 if args.quick else 4.0

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    load_before = load_average()
    if args.quick:
        smoke_check(log)
    rows: list[Row] = []
    sizes: dict[str, str] = {}
    try:
        for w in workloads(args.quick):
            if args.only and args.only not in w.key:
                continue
            sizes[w.key] = ", ".join(f"{k}={v:,}" for k, v in w.sizes.items())
            log(f"{w.key} ({sizes[w.key]})")
            rows.extend(run_workload(w, systems, min_runs, budget_s, log))
    except Mismatch as err:
        print(f"error: the systems do not compute the same numbers, nothing was timed further:\n  {err}", file=sys.stderr)
        return 1
    mlp = next((w for w in workloads(args.quick) if w.key.startswith("MLP f32")), None)
    cold = cold_dsl_one_time(mlp.model, mlp.vg_name) if mlp and "dsl-numpy" in systems else ""
    elapsed = time.perf_counter() - start

    tab = table(rows, sizes)
    print(tab)
    if cold:
        print(f"\ndsl one-time cost of MLP f32 value_and_grad in a fresh process: {cold}")
    print(f"\n(total {elapsed:.0f} s)")
    if args.out:
        command = ".venv/bin/python benchmarks/run.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
        text = "\n".join([
            "# Benchmark results", "",
            "Generated by `benchmarks/run.py` (what is measured: `benchmarks/README.md`).", "",
            "## Machine", "", machine(), "",
            "## Command", "", f"```\n{command}\n```", "",
            f"Total wall time of the run: {elapsed:.0f} s. 1-minute load average: {load_before} before the run, "
            f"{load_average()} after it ({os.cpu_count()} cores, shared with other work).", "",
            "## Results", "",
            "Times are medians of at least 7 calls after 2 warm-up calls; forward = the loss value, "
            "fwd+grad = one value-and-gradient function; one-time = getting the value-and-gradient function "
            "ready (dsl: load + derive + optimise + compile with caches cleared; JAX: first call minus steady "
            "call; PyTensor: graph + `pytensor.grad` + `pytensor.function`). Systems are timed interleaved, "
            "round by round.", "",
            tab, "",
            *([f"dsl one-time cost of MLP f32 `value_and_grad` in a fresh process: {cold}.", ""] if cold else []),
        ])
        write_results(args.out, text)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
