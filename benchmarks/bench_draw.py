"""Drawing benchmark: lay out and render string diagrams of 200 and 2,000 boxes as SVG.

    python benchmarks/bench_draw.py            # prints one line per size

The diagrams are seeded random DAGs shaped like models: each box reads one or two recent wires
(locality, as in a layer stack) and now and then a far one (a residual / a reused parameter), with
a few constants and several inputs and outputs. The anchor (issue 11): DisCoPy draws a 200-box
diagram in 18 s; the target is < 0.3 s for 200 boxes and < 3 s for 2,000.
"""

from __future__ import annotations

import random
import sys
import time

from semantics.diagram import Builder, Diagram, make_box
from semantics.draw import to_svg
from semantics.layout import layout
from semantics.types import TensorType, scalar

UNARY = ("sin", "cos", "tanh", "exp", "neg", "square")
BINARY = ("add", "mul", "sub", "maximum")


def model_like(n_boxes: int, seed: int = 0, n_inputs: int = 6, n_outputs: int = 3) -> Diagram:
    """A deterministic random diagram of exactly `n_boxes` boxes."""
    rng = random.Random(seed)
    t = TensorType("f64", ())
    b = Builder()
    wires = [b.input(t) for _ in range(n_inputs)]
    for _ in range(n_boxes):
        def pick() -> int:
            return wires[-1 - min(int(rng.expovariate(0.35)), len(wires) - 1)] if rng.random() < 0.9 else rng.choice(wires)

        r = rng.random()
        if r < 0.05:
            (w,) = b.add(make_box("const", {"value": round(rng.uniform(-2, 2), 2)}), [], [scalar("f64")])
        elif r < 0.5:
            (w,) = b.add(make_box(rng.choice(UNARY)), [pick()], [t])
        else:
            (w,) = b.add(make_box(rng.choice(BINARY)), [pick(), pick()], [t])
        wires.append(w)
    return b.build(wires[-n_outputs:], name=f"random{n_boxes}")


def residual_gradient(layers: int) -> Diagram:
    """The gradient of a residual chain (each layer reads the previous twice): a real derived diagram
    whose backward half reads forward values at the mirrored depth, i.e. many long wires."""
    import dsl

    body = "\n".join(f"    h{i + 1} = h{i} + 0.1 * tanh(h{i} * h{i})" for i in range(layers))
    src = f"dim n\ndef f(h0: f64[n]) -> f64 {{\n{body}\n    return sum(h{layers})\n}}\ng = grad(f)\n"
    return dsl.loads(src)["g"]


def measure(label: str, d: Diagram) -> str:
    _ = d.canonical  # canonicalisation is shared with equality and hashing; not part of drawing
    c0, t0 = time.process_time(), time.perf_counter()
    lay = layout(d)
    c1 = time.process_time()
    svg = to_svg(d)  # lays out again, then writes the SVG text
    c2, t2 = time.process_time(), time.perf_counter()
    ranks = 1 + max(v.rank for v in lay.vertices)
    return (f"{label:<28} {len(d.nodes):>6} {len(lay.vertices):>9} {ranks:>6} {c1 - c0:>9.3f} {c2 - c1:>8.3f} "
            f"{t2 - t0:>8.3f} {len(svg) / 1e3:>7.0f}")


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [200, 2000]
    print(f"{'diagram':<28} {'boxes':>6} {'vertices':>9} {'ranks':>6} {'layout s':>9} {'to_svg s':>8} "
          f"{'wall s':>8} {'svg kB':>7}")
    for n in sizes:
        print(measure(f"random model-like {n}", model_like(n)))
    for layers in (20, 200):
        print(measure(f"grad of residual chain x{layers}", residual_gradient(layers)))
    print("layout s and to_svg s are CPU seconds (process time); wall s is layout + to_svg on the clock")


if __name__ == "__main__":
    main()
