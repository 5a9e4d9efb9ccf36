"""Cheap linear-time passes used between the derivative passes: dead-code elimination and
common-subexpression elimination (hash-consing of identical nodes)."""

from __future__ import annotations

from grammar.errors import DslError
from semantics.diagram import Builder, Diagram, Node
from semantics.primitives import PRIMITIVES


def prune(d: Diagram) -> Diagram:
    """Drop nodes none of whose outputs reach an output (discard is natural: `f ; discard = discard`)."""
    live = set(d.outputs)
    keep = [False] * len(d.nodes)
    for i in range(len(d.nodes) - 1, -1, -1):
        node = d.nodes[i]
        if any(w in live for w in node.outputs):
            keep[i] = True
            live.update(node.inputs)
    if all(keep):
        return d
    return _rebuild(d, [n for n, k in zip(d.nodes, keep) if k])


def cse(d: Diagram) -> Diagram:
    """Merge nodes with the same box reading the same wires (their outputs are equal)."""
    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    seen: dict[tuple[object, ...], tuple[int, ...]] = {}
    for node in d.nodes:
        ins = tuple(rename[w] for w in node.inputs)
        key = (node.box, ins)
        outs = seen.get(key)
        if outs is None:
            outs = b.add(node.box, ins, [d.types[w] for w in node.outputs], node.span)
            seen[key] = outs
        rename.update(zip(node.outputs, outs))
    return b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span)


ELEMENTWISE = ("unary", "binary", "compare", "select")


def elide_broadcasts(d: Diagram) -> Diagram:
    """An elementwise box broadcasts its operands itself: read the un-broadcast wire instead of a
    `broadcast_to` result wherever that leaves the box's output type unchanged (saves the
    materialised array). Dead broadcasts are then dropped by `prune`."""
    source = {n.outputs[0]: n.inputs[0] for n in d.nodes
              if n.box.kind == "prim" and n.box.name == "broadcast_to" and len(n.outputs) == 1}
    if not source:
        return d
    nodes = []
    for node in d.nodes:
        prim = PRIMITIVES.get(node.box.name) if node.box.kind == "prim" else None
        if prim is not None and prim.family in ELEMENTWISE and any(w in source for w in node.inputs):
            ins = list(node.inputs)
            for i, w in enumerate(ins):
                if w in source:
                    trial = ins[:i] + [source[w]] + ins[i + 1:]
                    try:
                        same = prim.infer([d.types[v] for v in trial], node.box.param_dict) == \
                            tuple(d.types[o] for o in node.outputs)
                    except DslError:
                        same = False
                    if same:
                        ins = trial
            node = Node(node.box, tuple(ins), node.outputs, node.span)
        nodes.append(node)
    return prune(Diagram(d.types, d.inputs, tuple(nodes), d.outputs, d.input_names, d.name, d.span))


def _rebuild(d: Diagram, nodes: list) -> Diagram:
    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    for node in nodes:
        outs = b.add(node.box, [rename[w] for w in node.inputs], [d.types[w] for w in node.outputs], node.span)
        rename.update(zip(node.outputs, outs))
    return b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span)


def tidy(d: Diagram) -> Diagram:
    """CSE, then broadcasts elided, then dead-code elimination."""
    return elide_broadcasts(prune(cse(d)))
