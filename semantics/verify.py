"""The Diagram verifier: structural invariants (SSA order, every wire defined once, no dangling
wire) and types (every primitive node's output types are what its shape rule infers from its
inputs). Run at every stage boundary by `dsl` (it is linear in the diagram).

>>> from semantics.diagram import box, make_box
>>> from semantics.types import scalar
>>> verify(box(make_box("sin"), [scalar("f64")], [scalar("f64")]))
[]
"""

from __future__ import annotations

from grammar.errors import DslError
from semantics.diagram import Box, Diagram, structural_errors
from semantics.primitives import PRIMITIVES
from semantics.types import WireType


def verify(d: Diagram) -> list[str]:
    """Every violated invariant, as a sentence (empty when the diagram is well formed)."""
    errors = list(structural_errors(d))
    if errors:
        return errors
    inferred: dict[tuple[Box, tuple[WireType, ...]], tuple[WireType, ...]] = {}  # nodes repeat (box, types)
    for i, node in enumerate(d.nodes):
        if node.box.kind != "prim":
            continue
        prim = PRIMITIVES.get(node.box.name)
        if prim is None:
            errors.append(f"node {i}: unknown primitive '{node.box.name}'")
            continue
        want = tuple(d.types[w] for w in node.outputs)
        key = (node.box, tuple(d.types[w] for w in node.inputs))
        got = inferred.get(key)
        if got is None:
            try:
                got = inferred[key] = tuple(prim.infer(key[1], node.box.param_dict))
            except DslError as err:
                errors.append(f"node {i} ({node.box}): {err.message}")
                continue
        if got != want:
            errors.append(f"node {i} ({node.box}): outputs typed {[str(t) for t in want]}, "
                          f"its rule gives {[str(t) for t in got]}")
    return errors


def check(d: Diagram, stage: str) -> Diagram:
    """`d` if it verifies; otherwise an AssertionError naming the stage that broke an invariant."""
    errors = verify(d)
    assert not errors, f"invalid diagram after {stage}: " + "; ".join(errors[:5])
    return d
