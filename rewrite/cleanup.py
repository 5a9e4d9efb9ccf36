"""Cheap linear-time passes used between the derivative passes: dead-code elimination and
common-subexpression elimination (hash-consing of identical nodes)."""

from __future__ import annotations

from semantics.diagram import Builder, Diagram


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


def _rebuild(d: Diagram, nodes: list) -> Diagram:
    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    for node in nodes:
        outs = b.add(node.box, [rename[w] for w in node.inputs], [d.types[w] for w in node.outputs], node.span)
        rename.update(zip(node.outputs, outs))
    return b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span)


def tidy(d: Diagram) -> Diagram:
    """CSE then dead-code elimination."""
    return prune(cse(d))
