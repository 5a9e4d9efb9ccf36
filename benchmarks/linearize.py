"""How the linearizer (rewrite/jvp.py: JVP rules in the e-graph) scales with model size.

    .venv/bin/python benchmarks/linearize.py            # chain and random DAG, 4 sizes each

For each size: boxes of the forward definition, iterations of the JVP run, e-nodes (and per box),
boxes of the linearized diagram, and the CPU seconds of each phase (load = e-graph, rules and
seeds; saturate = the step loop; extract = export, DAG extraction, rebuild), best of 3. The
exponent k of `time ≈ c · boxes^k` is the least-squares slope of log(CPU time) on log(boxes);
1 is linear. The workloads are those of benchmarks/scaling.py (the same sources).
"""

from __future__ import annotations

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dsl
from benchmarks.scaling import chain_source, dag_source
from rewrite.jvp import linearize_stats

SIZES = {"chain": (150, 300, 600, 1200), "dag": (1000, 2000, 4000, 8000)}


def measure(source: str) -> dict[str, float]:
    d = dsl.loads(source)["f"]
    wrt = tuple(range(len(d.dom)))
    best: dict[str, float] = {}
    for _ in range(3):
        t = time.process_time()
        lin, stats = linearize_stats(d, wrt)
        cpu = time.process_time() - t
        if not best or cpu < best["cpu"]:
            best = {"cpu": cpu, **{k: v for k, v in stats.seconds.items() if k != "total"},
                    "boxes": len(d.nodes), "iterations": stats.iterations, "enodes": stats.enodes,
                    "out": len(lin.diagram.nodes)}
    return best


def slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    print("| workload | boxes | iterations | e-nodes (per box) | linearized boxes | load s | saturate s | extract s | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, sizes in SIZES.items():
        rows = [measure(chain_source(n) if name == "chain" else dag_source(n)) for n in sizes]
        for n, r in zip(sizes, rows):
            print(f"| {name} {n} | {r['boxes']:,} | {r['iterations']} | {r['enodes']:,} ({r['enodes'] / r['boxes']:.1f}) "
                  f"| {r['out']:,} | {r['load']:.3f} | {r['saturate']:.3f} | {r['extract']:.3f} | {r['cpu']:.3f} |")
        k = slope([r["boxes"] for r in rows], [r["cpu"] for r in rows])
        print(f"| {name}: exponent of CPU time in boxes | | | | | | | | **{k:.2f}** |")


if __name__ == "__main__":
    main()
