"""What linearization produces and which wires carry a tangent: the contract shared by the
linearizer (rewrite/jvp.py), the transpose and batching.

Activity analysis is written once (`active_wires`): a wire is active when a tangent can flow into
it from the seeds. The linearizer asks it which wires get a JVP rule (the rest have the zero
tangent); the transpose and batching ask it which wires of a linearized diagram are linear.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import scalar
>>> b = Builder(); x, k = b.input(scalar("f64")), b.input(scalar("f64"))
>>> (y,) = b.add(make_box("mul"), [x, k], [scalar("f64")])
>>> (z,) = b.add(make_box("floor"), [y], [scalar("f64")])
>>> sorted(active_wires(b.build([y, z]), [x], lambda node: node.box.name != "floor")) == sorted([x, y])
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from semantics.derived import differentiable
from semantics.diagram import Box, Diagram, Node
from semantics.types import WireType


@dataclass(frozen=True)
class Linearized:
    """`diagram : (x..., t...) -> (y..., dy...)`; counts say where each group starts."""

    diagram: Diagram
    n_primal_in: int
    n_tangent_in: int
    n_primal_out: int

    def tangent_inputs(self) -> tuple[int, ...]:
        return self.diagram.inputs[self.n_primal_in:self.n_primal_in + self.n_tangent_in]


def is_float(t: WireType) -> bool:
    """Carries a tangent: a float tensor or a function with float values (`differentiable`)."""
    return differentiable(t)


def derivative_box(box: Box, mode: str) -> Box:
    """The uninterpreted derivatives of a generator box `f`: `d_f(x..., dx...) -> dy...` (its JVP)
    and `dT_f(x..., ct...) -> ct_x...` (its transpose, for reverse mode). Running them needs
    implementations, like `f` itself: `boxes={"f": ..., "d_f": ..., "dT_f": ...}`."""
    return Box(f"{'d' if mode == 'jvp' else 'dT'}_{box.name}", (), "gen")


def active_wires(d: Diagram, seeds: Iterable[int], passes: Callable[[Node], bool] = lambda node: True) -> set[int]:
    """The float wires a tangent reaches from `seeds`: float outputs of every node that reads an
    active wire and `passes` it on (a node whose derivative is structurally zero does not)."""
    types = d.types
    floats: dict[int, bool] = {}  # is_float by type (its identity: d keeps it alive): a model has few distinct types

    def carries(w: int) -> bool:
        t = types[w]
        f = floats.get(id(t))
        if f is None:
            f = floats[id(t)] = is_float(t)
        return f

    active = {w for w in seeds if carries(w)}
    for node in d.nodes:
        if not active.isdisjoint(node.inputs) and passes(node):
            outs = node.outputs
            if len(outs) == 1:
                if carries(outs[0]):
                    active.add(outs[0])
            else:
                active.update([w for w in outs if carries(w)])
    return active


def linear_wires(lin: Linearized) -> set[int]:
    """The wires of a linearized diagram that depend on the tangent inputs (the linear part)."""
    return active_wires(lin.diagram, lin.tangent_inputs())
