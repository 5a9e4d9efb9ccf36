"""Choosing the linearizer: JVP rules as egglog rewrites (the default), or the direct pass.

Both apply the primitive table's JVP templates once per node and give the same tangent program
(tests/test_rewrite_jvp_egraph.py checks them against each other). The e-graph version is the
default; the direct pass (rewrite/linearize.py) serves the few boxes the e-graph encoding does not
cover (generator boxes with several outputs) and is selected everywhere with DSL_JVP=direct.
"""

from __future__ import annotations

import os
from typing import Any

from rewrite.egraph_jvp import JvpLimits, JvpStats, linearize_egraph_stats
from rewrite.linearize import Linearized, linearize
from semantics.diagram import Diagram
from semantics.errors import DerivativeError

# A JVP run saturates in a few iterations (10k nodes: ~1 s); past these budgets the direct pass,
# which is linear by construction, takes over rather than keep the user waiting.
JVP_LIMITS = JvpLimits(iterations=64, nodes=2_000_000, seconds=10.0)


def linearize_diagram(d: Diagram, wrt: tuple[int, ...], trace: list[Any] | None = None) -> Linearized:
    from rewrite.simplify import Step

    if os.environ.get("DSL_JVP") == "direct":
        return linearize(d, wrt)
    try:
        lin, stats = linearize_egraph_stats(d, wrt, JVP_LIMITS)
    except DerivativeError as err:
        if trace is not None:
            trace.append(Step(f"JVP in the e-graph not possible ({err.message}); direct pass used", 0))
        return linearize(d, wrt)
    if trace is not None:
        trace.append(Step("linearize: JVP rules in the e-graph", lin.diagram.stats()["ops"], describe(stats)))
    return lin


def describe(stats: JvpStats) -> str:
    top = sorted(stats.fired.items(), key=lambda kv: -kv[1])[:5]
    return (f"{stats.rules} rules generated from the primitive table, {stats.iterations} iterations (saturated), "
            f"{stats.enodes} e-nodes, {sum(stats.seconds.values()) * 1e3:.1f} ms\n"
            f"rules fired most: {', '.join(f'{k} ×{v}' for k, v in top)}")
