"""Benchmark the fused-kernel CPU backend (`backend="c"`) against a hand-fused C loop (the ceiling),
dsl's NumPy backend, hand-written NumPy, JAX and PyTensor; and the one-time kernel compile, cold
and cached.

    .venv/bin/python benchmarks/kernels.py [--quick] [--threads 1]

Workloads: the stencil energy of issue 10, E(u) = Σ½(u[1:] − u[:-1])² + Σ(¼u⁴ − ½u² + 0.1 sin 3u)
(`models/stencil_sin.dsl`; `stencil_hand.c` is the hand-fused loop) at N = 1e6 and 1e7, and the MLP
and reaction network of `workloads.py`. Timing, agreement checks and the table come from `run.py`
(the same process, interleaved rounds, medians). `OMP_NUM_THREADS` defaults to 1 (--threads).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import tempfile
import time

if __name__ == "__main__":
    _threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
    os.environ.setdefault("OMP_NUM_THREADS", _threads)  # before libgomp loads

import numpy as np
import run
from workloads import MODELS, Workload, mlp_workload, reactions_workload

HERE = os.path.dirname(os.path.abspath(__file__))


def stencil_sin_fwd(u):
    d = u[1:] - u[:-1]
    u2 = u * u
    well = 0.25 * u2
    well -= 0.5
    well *= u2
    well += 0.1 * np.sin(3 * u)
    return 0.5 * np.dot(d, d) + well.sum()


def stencil_sin_vg(u):
    d = u[1:] - u[:-1]
    u2 = u * u
    t = 3 * u
    well = 0.25 * u2
    well -= 0.5
    well *= u2
    energy = 0.5 * np.dot(d, d) + well.sum() + 0.1 * np.sin(t).sum()
    g = u2
    g -= 1.0
    g *= u
    np.cos(t, out=t)
    t *= 0.3
    g += t
    g[1:] += d
    g[:-1] -= d
    return energy, g


def stencil_sin_jax(jnp):
    def energy(u):
        return jnp.sum(0.5 * (u[1:] - u[:-1]) ** 2) + jnp.sum(0.25 * u ** 4 - 0.5 * u ** 2 + 0.1 * jnp.sin(3 * u))
    return energy


def stencil_sin_pytensor(pt, p):
    (u,) = p
    return pt.sum(0.5 * (u[1:] - u[:-1]) ** 2) + pt.sum(0.25 * u ** 4 - 0.5 * u ** 2 + 0.1 * pt.sin(3 * u))


def stencil_sin_workload(n: int) -> Workload:
    label = f"{n:.0e}".replace("e+0", "e")
    return Workload(
        key=f"stencil+sin N={label}", model=MODELS / "stencil_sin.dsl", fwd_name="energy", vg_name="vg_energy",
        params=("u",), wrt=("u",), dtype=np.float64, make_inputs=lambda rng: dict(u=rng.standard_normal(n)),
        hand_fwd=stencil_sin_fwd, hand_vg=stencil_sin_vg, jax_loss=stencil_sin_jax,
        pytensor_loss=stencil_sin_pytensor, sizes=dict(n=n))


def dsl_c_build(w: Workload, inputs: dict[str, np.ndarray]) -> run.Built:
    """dsl with backend="c"; the one-time cost is load + derive + optimise + render + gcc (empty disk
    cache), and the note gives the same with the kernels already on disk (a second process start)."""
    import dsl

    cold_dir = tempfile.mkdtemp(prefix="dsl-bench-cache-")
    os.environ["DSL_CACHE_DIR"] = cold_dir
    run.clear_dsl_caches()
    fwd = dsl.load(w.model).compile(w.fwd_name, backend="c")
    run.clear_dsl_caches()
    os.environ["DSL_CACHE_DIR"] = tempfile.mkdtemp(prefix="dsl-bench-cache-")
    t0 = time.perf_counter()
    mod = dsl.load(w.model)
    t1 = time.perf_counter()
    d = mod.optimized(w.vg_name)
    t2 = time.perf_counter()
    vg = mod.compile(w.vg_name, backend="c")
    t3 = time.perf_counter()
    run.clear_dsl_caches()                     # same kernels, disk cache warm: what a second process pays
    mod = dsl.load(w.model)
    mod.optimized(w.vg_name)
    t4 = time.perf_counter()
    mod.compile(w.vg_name, backend="c")
    t5 = time.perf_counter()
    del d
    return run.Built(fwd, vg, tuple(inputs[p] for p in w.params), t3 - t0,
                     note=f"(load {t1 - t0:.2f} s, derive+optimise {t2 - t1:.2f} s, kernels+gcc cold {t3 - t2:.2f} s; "
                          f"kernels cached on disk {t5 - t4:.3f} s)")


def hand_c_build(w: Workload, inputs: dict[str, np.ndarray]) -> run.Built:
    if not w.key.startswith("stencil+sin"):
        raise run.NotInstalled("no hand-fused C loop for this workload")
    from codegen import c_backend

    with open(os.path.join(HERE, "stencil_hand.c")) as f:
        path, _ = c_backend.library_path(f.read())
    lib = ctypes.CDLL(str(path))
    lib.stencil_vg.restype = lib.stencil_e.restype = ctypes.c_double
    lib.stencil_vg.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    lib.stencil_e.argtypes = [ctypes.c_int64, ctypes.c_void_p]
    u = inputs["u"]

    def fwd(u):
        return lib.stencil_e(u.size, u.ctypes.data)

    def vg(u):
        g = np.empty_like(u)   # allocated per call, as every other system does
        return lib.stencil_vg(u.size, u.ctypes.data, g.ctypes.data), g

    return run.Built(fwd, vg, (u,), None, note="(hand-fused loop, same gcc flags)")


run.BUILDERS.update({"dsl-c": dsl_c_build, "hand C": hand_c_build})
SYSTEMS = ("dsl-c", "hand C", "dsl-numpy", "hand NumPy", "JAX", "PyTensor")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few rounds (a smoke run)")
    ap.add_argument("--threads", default="1", help="OMP_NUM_THREADS for the C kernels (default 1)")
    ap.add_argument("--min-runs", type=int, default=7)
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timing per function and phase")
    args = ap.parse_args()
    if args.quick:
        loads = [stencil_sin_workload(100_000), mlp_workload(np.float32, B=256, D=16, H=32, K=32),
                 reactions_workload(N=2_000, S=8, M=10)]
    else:
        loads = [stencil_sin_workload(1_000_000), stencil_sin_workload(10_000_000), mlp_workload(np.float32),
                 mlp_workload(np.float64), reactions_workload()]
    rows: list[run.Row] = []
    sizes = {}
    for w in loads:
        print(f"{w.key}:", flush=True)
        sizes[w.key] = ", ".join(f"{k}={v}" for k, v in w.sizes.items())
        got = run.run_workload(w, SYSTEMS, 3 if args.quick else args.min_runs, 0.3 if args.quick else args.budget, print)
        rows += [r for r in got if r.status != "not installed" or r.system != "hand C"]
    print()
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; load average {run.load_average()}")
    print(run.machine())
    print()
    print(run.table(rows, sizes))
    print()
    for w in loads:
        by = {r.system: r for r in rows if r.workload == w.key}
        c, hand_c = by.get("dsl-c"), by.get("hand C")
        parts = [f"{w.key}: dsl-c fwd+grad {run.fmt_ms(c and c.vg_s)} ms"]
        for other in ("hand C", "JAX", "PyTensor", "dsl-numpy", "hand NumPy"):
            o = by.get(other)
            if o is not None and o.vg_s is not None and c is not None:
                parts.append(f"{other} ÷ dsl-c {run.fmt_ratio(o.vg_s, c.vg_s)}")
        if c is not None and hand_c is not None:
            parts.append(f"(dsl-c ÷ hand C {run.fmt_ratio(c.vg_s, hand_c.vg_s)})")
        if c is not None:
            parts.append(c.extra.get("note", ""))
        print("- " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    if "--system-malloc" not in sys.argv and any(k not in os.environ for k in run.MALLOC_ENV):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **run.MALLOC_ENV})
    sys.exit(main())
