"""Functors out of the category of diagrams.

A functor says what each box means; its extension to composites (`f >> g`, `f ⊗ g`, copy,
discard, swap) is the same for every functor: evaluate the nodes in SSA order, passing each wire's
image along. On the hypergraph this is a single forward sweep, so `F(f >> g) = F(f) ; F(g)` and
`F(f ⊗ g) = F(f) × F(g)` hold by construction (tested as properties in tests/).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from semantics.diagram import Diagram, Node

V = TypeVar("V")


class Functor(Generic[V]):
    """Subclass and define `on_node`: the images of a node's outputs from the images of its inputs."""

    def on_node(self, node: Node, inputs: Sequence[V], diagram: Diagram) -> Sequence[V]:
        raise NotImplementedError

    def __call__(self, diagram: Diagram, inputs: Sequence[V]) -> tuple[V, ...]:
        assert len(inputs) == len(diagram.inputs), (len(inputs), len(diagram.inputs))
        env: dict[int, Any] = dict(zip(diagram.inputs, inputs))
        for node in diagram.nodes:
            outs = self.on_node(node, [env[w] for w in node.inputs], diagram)
            assert len(outs) == len(node.outputs), (node.box, len(outs))
            env.update(zip(node.outputs, outs))
        return tuple(env[w] for w in diagram.outputs)
