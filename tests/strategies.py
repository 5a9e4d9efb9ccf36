"""Hypothesis strategies: random well-typed diagrams over f64 vectors of a symbolic size n."""

from __future__ import annotations

from hypothesis import strategies as st

from semantics.diagram import Builder, Diagram, make_box
from semantics.primitives import PRIMITIVES
from semantics.types import Dim, TensorType

VEC = TensorType("f64", (Dim.sym("n"),))
UNARY = ["sin", "cos", "tanh", "neg", "exp", "sigmoid", "square", "arctan"]
BINARY = ["add", "sub", "mul", "maximum"]


@st.composite
def diagrams(draw: st.DrawFn, n_in: int | None = None, n_out: int | None = None, max_nodes: int = 6) -> Diagram:
    """A random diagram from n_in to n_out f64[n] wires, with copies, discards and permutations."""
    n_in = draw(st.integers(1, 3)) if n_in is None else n_in
    n_out = draw(st.integers(1, 3)) if n_out is None else n_out
    b = Builder()
    wires = [b.input(VEC) for _ in range(n_in)]
    for _ in range(draw(st.integers(0, max_nodes))):
        if draw(st.booleans()) or len(wires) < 2:
            name = draw(st.sampled_from(UNARY))
            args = [draw(st.sampled_from(wires))]
        else:
            name = draw(st.sampled_from(BINARY))
            args = [draw(st.sampled_from(wires)), draw(st.sampled_from(wires))]
        (out,) = b.add(make_box(name), args, PRIMITIVES[name].infer([VEC] * len(args), {}))
        wires.append(out)
    outs = [draw(st.sampled_from(wires)) for _ in range(n_out)]
    return b.build(outs)


@st.composite
def composable(draw: st.DrawFn, count: int = 3) -> list[Diagram]:
    """`count` diagrams d0 >> d1 >> ... that compose (matching wire counts)."""
    sizes = [draw(st.integers(1, 3)) for _ in range(count + 1)]
    return [draw(diagrams(sizes[i], sizes[i + 1])) for i in range(count)]
