"""The canonical form of a Diagram: a node order and wire numbering that depend only on the
hypergraph, so diagrams equal up to the monoidal-category axioms and wire renaming compare equal
(`Diagram.__eq__`, `Diagram.digest`).

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import scalar
>>> def two_sines(first: int) -> Diagram:
...     b = Builder()
...     x, y = b.input(scalar("f64")), b.input(scalar("f64"))
...     outs = {w: b.add(make_box("sin"), [w], [scalar("f64")])[0] for w in ([x, y] if first == 0 else [y, x])}
...     return b.build([outs[x], outs[y]])
>>> [n.inputs for n in two_sines(1).nodes], [n.inputs for n in canonicalize(two_sines(1)).nodes]
([(1,), (0,)], [(0,), (1,)])
"""

from __future__ import annotations

import hashlib

from semantics.diagram import Diagram, Node
from semantics.types import WireType


def _node_digests(d: Diagram) -> list[str]:
    """A Merkle digest per node: its box and, for each input, which input/node-output produces it."""
    source: dict[int, str] = {w: f"in{i}" for i, w in enumerate(d.inputs)}
    digests: list[str] = []
    for node in d.nodes:
        text = repr((node.box, [source[w] for w in node.inputs]))
        h = hashlib.sha1(text.encode()).hexdigest()
        digests.append(h)
        for j, w in enumerate(node.outputs):
            source[w] = f"{h}.{j}"
    return digests


def canonicalize(d: Diagram) -> Diagram:
    """Order nodes by an iterative depth-first post-order from the outputs (then the unread nodes by
    digest) and number wires in order of definition. Two diagrams that differ only by the order of
    independent nodes (interchange law) or by wire names get the same canonical form."""
    producer = {w: i for i, node in enumerate(d.nodes) for w in node.outputs}
    digests = _node_digests(d)
    order: list[int] = []
    seen: set[int] = set()

    def visit(root: int) -> None:
        stack: list[tuple[int, bool]] = [(root, False)]
        while stack:
            i, expanded = stack.pop()
            if expanded:
                order.append(i)
                continue
            if i in seen:
                continue
            seen.add(i)
            stack.append((i, True))
            for w in reversed(d.nodes[i].inputs):
                p = producer.get(w)
                if p is not None and p not in seen:
                    stack.append((p, False))

    for w in d.outputs:
        if w in producer:
            visit(producer[w])
    for i in sorted(range(len(d.nodes)), key=lambda k: digests[k]):
        visit(i)
    rename: dict[int, int] = {}
    types: list[WireType] = []

    def fresh(w: int) -> int:
        rename[w] = len(types)
        types.append(d.types[w])
        return rename[w]

    inputs = tuple(fresh(w) for w in d.inputs)
    nodes = []
    for i in order:
        n = d.nodes[i]
        ins = tuple(rename[w] for w in n.inputs)
        nodes.append(Node(n.box, ins, tuple(fresh(w) for w in n.outputs), n.span))
    return Diagram(tuple(types), inputs, tuple(nodes), tuple(rename[w] for w in d.outputs),
                   d.input_names, d.name, d.span)
