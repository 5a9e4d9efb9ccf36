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
    types = d.types
    for i, node in enumerate(d.nodes):
        box = node.box
        if box.kind != "prim":
            continue
        key = (box, tuple([types[w] for w in node.inputs]))
        got = inferred.get(key)
        if got is None:
            prim = PRIMITIVES.get(box.name)
            if prim is None:
                errors.append(f"node {i}: unknown primitive '{box.name}'")
                continue
            try:
                got = inferred[key] = tuple(prim.infer(key[1], box.param_dict))
            except DslError as err:
                errors.append(f"node {i} ({box}): {err.message}")
                continue
        want = tuple([types[w] for w in node.outputs])
        if got != want:
            errors.append(f"node {i} ({box}): outputs typed {[str(t) for t in want]}, "
                          f"its rule gives {[str(t) for t in got]}")
    return errors


def check(d: Diagram, stage: str) -> Diagram:
    """`d` if it verifies; otherwise an AssertionError naming the stage that broke an invariant."""
    errors = verify(d)
    assert not errors, f"invalid diagram after {stage}: " + "; ".join(errors[:5])
    return d
