"""Functional derivatives of deep pointwise chains: derive + compile + evaluate, by depth D.

    .venv/bin/python benchmarks/functional_depth.py                      # D = 10, 20, 40, 80
    .venv/bin/python benchmarks/functional_depth.py --depths 10,20 --points 100000
    .venv/bin/python benchmarks/functional_depth.py --out benchmarks/RESULTS.md   # also write the section

The workload is the one where AutoFD's reverse mode swells (issue 9: depth 22 took 11.7 s to trace,
depth 32 did not finish): h is a D-deep pointwise chain h_k = sin(h_{k-1}) + 0.5, h_0 = f(x), and

    F[f] = ∫₀¹ h_D(f(x)) dx,        δF/δf (x) = Π_k cos(h_{k-1}(x))

derived by `grad(F)` (a lifted diagram: the chain is shared, so the derivative has a constant number
of boxes per level), optimised, compiled to NumPy, and evaluated on 10⁶ points for f = x ↦ 0.5 + 0.3x.
Each depth runs in a fresh process (nothing cached between depths). Phases:

- derive: load + `grad` (linearize, transpose) + e-graph optimisation (`mod.optimized`);
- compile: code generation + the first call on 10 points (which compiles the sampled program of the
  derivative for the bound function value);
- evaluate: the median of 5 calls of the derived function on the 10⁶ points (seconds).

Every result is checked against the closed form above (max relative error reported).
AutoFD (JAX) is timed on the same workload where it is installed, in this interpreter or the one given by
`--autofd-python` (AutoFD 0.0.9 needs jax 0.5.x: `python -m venv /tmp/afd && /tmp/afd/bin/pip install
"jax==0.5.3" "jaxlib==0.5.3" autofd absl-py`): its derive is `jax.grad(F)(f)`, compile the first call
of `jax.jit(jax.vmap(δF/δf))`, evaluate the same 10⁶ points.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
SECTION = "## Functional derivatives: depth scaling"
F_TEXT = "x => 0.5 + 0.3 * x"


def source(depth: int) -> str:
    """F[f] = ∫ h_D(f(x)) dx, the chain written out as one nested expression in the lambda."""
    body = "f(x)"
    for _ in range(depth):
        body = f"sin({body}) + 0.5"
    return f"def F(f: f64 -> f64) -> f64 {{\n    return integrate(x => {body}, over=(0, 1))\n}}\ndF = grad(F)\n"


def closed_form(depth: int, x):
    import numpy as np

    h, out = 0.5 + 0.3 * x, np.ones_like(x)
    for _ in range(depth):
        out = out * np.cos(h)
        h = np.sin(h) + 0.5
    return out


def measure(depth: int, points: int) -> dict[str, float]:
    """One depth in this process: seconds per phase, box counts, the error against the closed form."""
    import numpy as np

    import dsl

    dsl.loads("def warm(x: f64) -> f64 { return x }")  # grammar and stdlib: once per process
    t0 = time.perf_counter()
    mod = dsl.loads(source(depth))
    forward = mod["F"].stats()["ops"]
    derived = mod.optimized("dF")
    t1 = time.perf_counter()
    g = mod.compile("dF")(dsl.fn(F_TEXT))
    g(np.linspace(0, 1, 10))
    t2 = time.perf_counter()
    x = np.linspace(0, 1, points)
    times = []
    for _ in range(5):
        s = time.perf_counter()
        got = np.asarray(g(x))
        times.append(time.perf_counter() - s)
    err = float(np.max(np.abs(got - closed_form(depth, x)) / np.abs(closed_form(depth, x))))
    return {"derive": t1 - t0, "compile": t2 - t1, "evaluate": float(np.median(times)),
            "boxes_F": forward, "boxes_dF": derived.stats()["ops"], "boxes_dF_unoptimised": mod["dF"].stats()["ops"],
            "max_rel_err": err}


def measure_jax(depth: int, points: int) -> dict[str, float] | str:
    """The same δF/δf with AutoFD (JAX) where installed; otherwise why not."""
    try:
        import autofd.operators as o
        import jax
        import jax.numpy as jnp
        from autofd import function
        from jaxtyping import Array, Float64
    except ImportError as err:
        return f"not installed ({err.name})"
    import numpy as np

    sys.setrecursionlimit(200_000)  # AutoFD's evaluation recurses through the nested compositions
    jax.config.update("jax_enable_x64", True)

    def f(x: Float64[Array, ""]) -> Float64[Array, ""]:  # noqa: F722 - jaxtyping's shape strings
        return 0.5 + 0.3 * x

    def F(f):
        h = f
        for _ in range(depth):
            h = o.compose(lambda y: jnp.sin(y) + 0.5, h)
        return o.integrate(h)

    t0 = time.perf_counter()
    dF = jax.grad(F)(function(f))
    t1 = time.perf_counter()
    x = jnp.linspace(0.0, 1.0, points)
    g = jax.jit(jax.vmap(dF))
    g(x[:10]).block_until_ready()
    t2 = time.perf_counter()
    times = []
    for _ in range(5):
        s = time.perf_counter()
        got = np.asarray(g(x).block_until_ready())
        times.append(time.perf_counter() - s)
    want = closed_form(depth, np.asarray(x))
    return {"derive": t1 - t0, "compile": t2 - t1, "evaluate": float(np.median(times)),
            "max_rel_err": float(np.max(np.abs(got - want) / np.abs(want)))}


def run_fresh(kind: str, depth: int, points: int, timeout: float, python: str = sys.executable
              ) -> dict[str, float] | str:
    cmd = [python, __file__, "--measure", kind, str(depth), "--points", str(points)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=os.path.dirname(HERE))
    except subprocess.TimeoutExpired:
        return f"did not finish in {timeout:.0f} s"
    if r.returncode != 0:
        return "failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(r.stdout.strip().splitlines()[-1])


def table(rows: list[tuple[int, dict[str, float] | str, dict[str, float] | str]], points: int) -> str:
    out = [f"| D | boxes F | boxes δF/δf (derived / optimised) | derive (s) | compile (s) | evaluate {points:,} pts (s) "
           "| max rel. error | AutoFD derive / compile / evaluate (s) |",
           "|---|---|---|---|---|---|---|---|"]
    for depth, r, j in rows:
        jax_cell = j if isinstance(j, str) else f"{j['derive']:.2f} / {j['compile']:.2f} / {j['evaluate']:.4f}"
        if isinstance(r, str):
            out.append(f"| {depth} | — | — | {r} | | | | {jax_cell} |")
            continue
        out.append(f"| {depth} | {r['boxes_F']:.0f} | {r['boxes_dF_unoptimised']:.0f} / {r['boxes_dF']:.0f} | "
                   f"{r['derive']:.2f} | {r['compile']:.2f} | {r['evaluate']:.4f} | {r['max_rel_err']:.1e} | {jax_cell} |")
    return "\n".join(out)


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, Python "
            f"{platform.python_version()}, 1-minute load average {load:.2f} at the start")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", default="10,20,40,80")
    ap.add_argument("--points", type=int, default=10**6)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--no-jax", action="store_true", help="do not time AutoFD even if it is installed")
    ap.add_argument("--autofd-python", default=sys.executable, help="the Python that has AutoFD (default: this one)")
    ap.add_argument("--out", help=f"write the table as the '{SECTION}' section of this file")
    ap.add_argument("--measure", nargs=2, metavar=("KIND", "D"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        kind, depth = args.measure[0], int(args.measure[1])
        result = measure(depth, args.points) if kind == "dsl" else measure_jax(depth, args.points)
        print(json.dumps(result))
        return 0
    where = machine()
    rows = []
    for depth in (int(d) for d in args.depths.split(",")):
        r = run_fresh("dsl", depth, args.points, args.timeout)
        j = "not run (--no-jax)" if args.no_jax else run_fresh("jax", depth, args.points, args.timeout,
                                                                        args.autofd_python)
        rows.append((depth, r, j))
        print(f"D={depth}: {r}  AutoFD: {j}", flush=True)
    text = table(rows, args.points)
    print(text)
    if args.out:
        from scaling import write_section

        cmd = "python benchmarks/functional_depth.py " + " ".join(a for a in (argv or sys.argv[1:]))
        write_section(args.out, f"{SECTION}\n\nMachine: {where}. Command: `{cmd.strip()}`.\n\n{text}\n",
                      section=SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
