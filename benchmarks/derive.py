"""Where a gradient's compile time goes, pass by pass (issue 7: the 600-layer chain).

    .venv/bin/python benchmarks/derive.py                 # chain 75, 150, 300, 600
    .venv/bin/python benchmarks/derive.py --sizes 600     # one size

For each size of the chain of benchmarks/scaling.py (`h = 0.999 h + 0.01 sin h`, `f = sum(h)`), the
CPU seconds of each pass of `grad(f)` (rewrite/operators.py), best of `--repeat` runs in this
process after one warm-up gradient (so the e-graph declarations, paid once per process and shown by
scaling.py's fresh processes, are not in them): linearize (JVP rules in the e-graph, export,
extraction), transpose (the reverse sweep), tidy (CSE, broadcast elision), optimise (the e-graph
optimiser and the clean-ups after it), and `grad` end to end; then the counts that explain them:
boxes of f, e-nodes and iterations of the JVP run, boxes of the gradient before and after optimising.
CPU time of the measuring process is used because it is what a loaded shared machine disturbs least.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dsl
from benchmarks.scaling import chain_source
from grammar.gcpause import paused_gc
from rewrite.cleanup import tidy
from rewrite.jvp import linearize_stats
from rewrite.operators import grad
from rewrite.simplify import simplify_diagram
from rewrite.transpose import transpose
from semantics.diagram import make_box


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The least CPU seconds of `repeat` runs of fn (under the GC pause the pipeline itself uses), and its result."""
    out, least = None, float("inf")
    for _ in range(repeat):
        with paused_gc():
            t = time.process_time()
            out = fn()
            least = min(least, time.process_time() - t)
    return least, out


def measure(n: int, repeat: int) -> dict[str, float]:
    f = dsl.loads(chain_source(n))["f"]
    one = (make_box("const", {"value": 1.0, "dtype": "f64"}),)
    r: dict[str, float] = {"boxes": len(f.nodes)}
    r["linearize"], (lin, stats) = best(lambda: linearize_stats(f, (0,)), repeat)
    r["transpose"], back = best(lambda: transpose(lin, seeds=one, primal_outputs=False), repeat)
    r["tidy"], tidied = best(lambda: tidy(back), repeat)
    r["optimise"], out = best(lambda: simplify_diagram(tidied), repeat)
    r["grad"], _ = best(lambda: grad(f), repeat)
    r.update(enodes=stats.enodes, iterations=stats.iterations, before=len(tidied.nodes), after=len(out.nodes))
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="75,150,300,600", help="chain lengths, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="runs per pass (the least CPU time is reported)")
    args = ap.parse_args(argv)
    grad(dsl.loads(chain_source(2))["f"])  # declare the e-graphs and parse the templates once
    print("| chain | boxes | JVP e-nodes | JVP iterations | gradient boxes (optimised) | linearize s | transpose s "
          "| tidy s | optimise s | grad s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        r = measure(n, args.repeat)
        print(f"| {n} | {r['boxes']:,.0f} | {r['enodes']:,.0f} | {r['iterations']:.0f} | {r['before']:,.0f} "
              f"({r['after']:,.0f}) | {r['linearize']:.3f} | {r['transpose']:.3f} | {r['tidy']:.3f} "
              f"| {r['optimise']:.3f} | {r['grad']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
