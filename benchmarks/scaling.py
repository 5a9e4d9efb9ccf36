"""Compile-time scaling: how load, derivation, optimisation and code generation grow with model size.

    .venv/bin/python benchmarks/scaling.py                  # all four workloads, 4 sizes each
    .venv/bin/python benchmarks/scaling.py --only chain     # one workload
    .venv/bin/python benchmarks/scaling.py --out benchmarks/RESULTS.md   # also write the section

Workloads (each size runs in a fresh process, so times include nothing cached and the peak
memory is that size's alone):

- **chain**: the L-layer chain `h_k = 0.999 h_{k-1} + 0.01 sin(h_{k-1})`, `f = sum(h_L)`;
  measured: load + `grad(f)` + compile (derivation and e-graph optimisation included).
- **dag**: a random DAG of N elementwise/binary operations on `f64[n]` wires (seeded), all live;
  measured: load + optimise + compile of the forward definition.
- **bigdef**: one def of N one-line statements; measured: `dsl check` (parse + elaborate + verify).
- **defchain**: N defs, each calling the previous one; measured: `dsl check`.

The exponent k of `time ≈ c · size^k` is the least-squares slope of log(CPU time) against
log(size) over the sizes run; 1 is linear. CPU time (of the measuring process) is fitted rather
than wall time because it is what a loaded shared machine disturbs least; both are reported.
Compare exponents rather than absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECTION = "## Compile-time scaling"


def chain_source(n: int) -> str:
    """The n-layer chain `h = 0.999 h + 0.01 sin h` and its gradient."""
    lines = ["dim n", "def f(x: f64[n]) -> f64 {", "    h0 = x"]
    lines += [f"    h{k} = 0.999 * h{k - 1} + 0.01 * sin(h{k - 1})" for k in range(1, n + 1)]
    lines += [f"    return sum(h{n})", "}", "df = grad(f)"]
    return "\n".join(lines) + "\n"


_UNARY = ("sin", "cos", "tanh", "exp", "neg")
_BINARY = ("+", "-", "*")


def dag_source(n: int, seed: int = 0) -> str:
    """A random DAG of n operations, every one of them live (the output depends on it, so the size
    is the work). Each operand is one of the 8 most recent wires (so it is deep), or, one time in
    five, the oldest wire nobody has read yet (so it is wide, with long edges); the output sums the
    few wires left unread.

    >>> src = dag_source(50)
    >>> sum(line.startswith("    v") for line in src.splitlines())  # v0, v1 and 50 operations
    52
    """
    rng = random.Random(seed)
    lines = ["dim n", "def f(x: f64[n], y: f64[n]) -> f64 {", "    v0 = x", "    v1 = y"]
    unread = dict.fromkeys([0, 1])  # insertion-ordered: the oldest first

    def pick(k: int) -> str:
        j = rng.randrange(max(0, k - 8), k) if rng.random() < 0.8 or not unread else next(iter(unread))
        unread.pop(j, None)
        return f"v{j}"

    for k in range(2, n + 2):
        if rng.random() < 0.4:
            op = rng.choice(_UNARY)
            arg = pick(k)
            rhs = f"-{arg}" if op == "neg" else f"{op}(0.5 * {arg})" if op == "exp" else f"{op}({arg})"
        else:
            rhs = f"{pick(k)} {rng.choice(_BINARY)} {pick(k)}"
        unread[k] = None
        lines.append(f"    v{k} = {rhs}")
    lines += [f"    return sum({' + '.join(f'v{k}' for k in unread)})", "}"]
    return "\n".join(lines) + "\n"


def bigdef_source(n: int) -> str:
    """One def with n statements, each reading the previous one and a parameter."""
    lines = ["dim n", "def f(x: f64[n], y: f64[n]) -> f64[n] {", "    v0 = x"]
    lines += [f"    v{k} = v{k - 1} * y + {k % 7}.5" for k in range(1, n + 1)]
    lines += [f"    return v{n}", "}"]
    return "\n".join(lines) + "\n"


def defchain_source(n: int) -> str:
    """n defs, each calling the previous one."""
    lines = ["dim n", "def g0(x: f64[n]) -> f64[n] { return sin(x) }"]
    lines += [f"def g{k}(x: f64[n]) -> f64[n] {{ return 0.5 * g{k - 1}(x) + x }}" for k in range(1, n)]
    return "\n".join(lines) + "\n"


# workload -> (source generator, what is measured, sizes, target seconds at the largest size)
WORKLOADS = {
    "chain": (chain_source, "load + grad + compile", (75, 150, 300, 600), 1.0),
    "dag": (dag_source, "load + optimise + compile", (1250, 2500, 5000, 10000), 2.0),
    "bigdef": (bigdef_source, "check", (12500, 25000, 50000, 100000), 10.0),
    "defchain": (defchain_source, "check", (375, 750, 1500, 3000), 5.0),
}


def measure(workload: str, size: int) -> dict[str, float]:
    """Run one workload at one size in this process; returns seconds per phase and peak RSS."""
    import resource

    import dsl
    from dsl.cli import main as cli_main

    source = WORKLOADS[workload][0](size)
    with tempfile.NamedTemporaryFile("w", suffix=".dsl", delete=False) as f:
        f.write(source)
    try:
        dsl.loads("def warm(x: f64) -> f64 { return x }")  # grammar and stdlib: once per process
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        c0 = time.process_time()
        t0 = time.perf_counter()
        if workload in ("bigdef", "defchain"):
            with open(os.devnull, "w") as devnull:
                saved, sys.stdout = sys.stdout, devnull
                try:
                    rc = cli_main(["check", f.name])
                finally:
                    sys.stdout = saved
            assert rc == 0, rc
            phases = {"total": time.perf_counter() - t0}
        else:
            mod = dsl.load(f.name)
            t1 = time.perf_counter()
            name = "df" if workload == "chain" else "f"
            mod.optimized(name)
            t2 = time.perf_counter()
            mod.compile(name)
            t3 = time.perf_counter()
            phases = {"load": t1 - t0, "derive+optimise": t2 - t1, "codegen": t3 - t2, "total": t3 - t0}
    finally:
        os.unlink(f.name)
    phases["cpu"] = time.process_time() - c0
    phases["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    phases["added_mb"] = phases["rss_mb"] - rss0  # what the workload added to the peak
    return phases


def run_fresh(workload: str, size: int, timeout: float) -> dict[str, float] | None:
    """`measure` in a fresh interpreter (None if it ran past `timeout` seconds)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--measure", workload, str(size)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"{workload} at size {size} failed:\n{err.stderr}") from None
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def exponent(sizes: list[int], values: list[float]) -> float:
    """Least-squares slope of log(value) against log(size)."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(v, 1e-6)) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def table(results: dict[str, list[tuple[int, dict[str, float] | None]]]) -> str:
    rows = ["| workload | measured | size | wall (s) | CPU (s) | phases, wall (s) | peak RSS (MB) | added (MB) | target "
            "| exponent (CPU) | exponent (added MB) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for workload, runs in results.items():
        _, what, _, target = WORKLOADS[workload]
        done = [(s, r) for s, r in runs if r is not None]
        k_time = f"{exponent([s for s, _ in done], [r['cpu'] for _, r in done]):.2f}" if len(done) >= 2 else "-"
        extra = [(s, max(r["added_mb"], 0.5)) for s, r in done]  # 0.5 MB: below what ru_maxrss resolves here
        k_mem = f"{exponent([s for s, _ in extra], [m for _, m in extra]):.2f}" if len(extra) >= 2 else "-"
        for i, (size, r) in enumerate(runs):
            if r is None:
                rows.append(f"| {workload} | {what} | {size:,} | timeout | | | | | | | |")
                continue
            phases = ", ".join(f"{k} {v:.2f}" for k, v in r.items() if k not in ("total", "cpu", "rss_mb", "added_mb"))
            last = i == len(runs) - 1
            rows.append(f"| {workload} | {what} | {size:,} | {r['total']:.2f} | {r['cpu']:.2f} | {phases} "
                        f"| {r['rss_mb']:.0f} | {r['added_mb']:.0f} | "
                        f"{f'≤ {target:g} s' if last else ''} | {k_time if last else ''} | {k_mem if last else ''} |")
    return "\n".join(rows)


def machine_and_load() -> tuple[str, str]:
    """The machine line and the load average every RESULTS.md section records (the timings depend on both)."""
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"
    return machine, ", ".join(f"{x:.1f}" for x in os.getloadavg())


def write_section(path: str, text: str, section: str = SECTION) -> None:
    """Replace (or append) the section titled `section` of RESULTS.md, leaving the other sections alone."""
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    start = old.find(section + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    else:
        nxt = old.find("\n## ", start + len(section))
        new = old[:start] + text + ("\n" + old[nxt + 1:] if nxt >= 0 else "\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="workloads whose name contains this text")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run before it is reported as a timeout")
    ap.add_argument("--out", help="write the table as the '## Compile-time scaling' section of this file")
    ap.add_argument("--section", default=SECTION[3:], help="the title of that section (another title adds a section "
                    "and leaves the earlier ones as they are)")
    ap.add_argument("--measure", nargs=2, metavar=("WORKLOAD", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure[0], int(args.measure[1]))))
        return 0
    results: dict[str, list[tuple[int, dict[str, float] | None]]] = {}
    for workload, (_, _, sizes, _) in WORKLOADS.items():
        if args.only not in workload:
            continue
        results[workload] = []
        for size in sizes:
            r = run_fresh(workload, size, args.timeout)
            print(f"{workload:9s} {size:>7,}: {'timeout' if r is None else json.dumps(r)}", flush=True)
            results[workload].append((size, r))
    text = table(results)
    print(text)
    if args.out:
        machine, load = machine_and_load()
        cmd = "python benchmarks/scaling.py" + (f" --only {args.only}" if args.only else "") + \
            (f' --section "{args.section}"' if args.section != SECTION[3:] else "")
        title = f"## {args.section}"
        write_section(args.out, f"{title}\n\nMachine: {machine}; load average at the end {load}. Command: `{cmd}` "
                                f"(each size in a fresh process; `benchmarks/scaling.py` documents the workloads)."
                                f"\n\n{text}\n", title)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    sys.exit(main())
