"""The linearizer (forward mode): the primitive table's JVP rules run as egglog rewrites.

`linearize_diagram(d, wrt)` returns a `Linearized` diagram `(x..., dx_wrt...) -> (y..., dy...)`,
the primal nodes of d with, for every node a tangent reaches, the tangent nodes its JVP rule
writes. It is the only linearization: every derivative operator, batching (jacobian, hessian)
and the transpose read its output.

1. Activity analysis (`rewrite.tangents.active_wires`) decides which wires have a structurally
   nonzero tangent: the wrt inputs, then the float outputs of every node that reads an active
   wire and whose JVP rule is not "0" (integer and bool wires, `stop_gradient`, `floor` and
   comparisons carry the zero tangent, LANGUAGE.md §6).
2. The diagram is loaded into a fresh e-graph (`rewrite.egraph`, the only module that talks to
   egglog) with the tangent sort of `rewrite.egraph_jvp`, one rule per (primitive, box, argument
   types, active arguments) compiled from the table row's template (an inactive argument's tangent
   is zero there, so no tangent term is written for it), `JVP x_i = LSeed i` for the wrt inputs and
   `JVP w = LZero` for the inactive outputs.
3. The rules run in a budgeted step loop: each iteration makes at most `JvpLimits.step` more
   active wires eligible (`NZ w k`: rule k may fire on w), so the matches of one iteration are bounded by that count
   whatever the model's size, and the e-node count, checked after each iteration, by the
   diagram's size. Every JVP goal is present as soon as its wire is eligible, so the iterations do
   not grow with depth: a 1,000-layer chain saturates in 3. Only a saturated run is a derivative:
   a budget that runs out is a `DerivativeError` naming it, never a partial or silent result.
4. Our DAG extractor (`rewrite.extract`) reads the frozen e-graph with each Lin e-node lowered to
   the primitive it stands for, and rebuilds the diagram with sharing preserved; every tangent
   node carries the source line of the node it differentiates.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import scalar
>>> f64 = scalar("f64")
>>> b = Builder(); x = b.input(f64)
>>> (y,) = b.add(make_box("sin"), [x], [f64])
>>> lin = linearize_diagram(b.build([y]), (0,))
>>> sorted(n.box.name for n in lin.diagram.nodes)
['cos', 'mul', 'sin']
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grammar.gcpause import paused_gc
from rewrite.egraph import EGraph, Frozen
from rewrite.egraph_jvp import LIN_EXTENSION, bcast_facts, compile_rules, lin_lowering
from rewrite.extract import ExtractionError, choose, rebuild
from rewrite.tangents import Linearized, active_wires
from semantics.diagram import Builder, Diagram, Node
from semantics.errors import DerivativeError
from semantics.primitives import PRIMITIVES


@dataclass(frozen=True)
class JvpLimits:
    """Budgets of the JVP run. `step`: active wires made eligible per iteration (bounds the matches
    of one iteration); `enodes_per_box`: e-nodes allowed per box of the diagram (the rules add a
    bounded number per box, so only a faulty rule reaches it); `seconds`: wall time of the run."""

    step: int = 4096
    enodes_per_box: int = 200
    seconds: float = 600.0


@dataclass(frozen=True)
class JvpStats:
    """What the run did: JVP rules generated, iterations, e-nodes, matches per rule, matches of the
    JVP rules in each iteration, JVP e-classes left without an extractable term (0 after a complete
    run), seconds per phase."""

    rules: int
    iterations: int
    enodes: int
    fired: dict[str, int]
    per_iteration: tuple[int, ...]
    unresolved: int
    seconds: dict[str, float]


def linearize_diagram(d: Diagram, wrt: tuple[int, ...], trace: list[Any] | None = None,
                      limits: JvpLimits | None = None) -> Linearized:
    """The JVP of d w.r.t. the parameters `wrt` (see the module doc); `trace` collects a Step."""
    from rewrite.simplify import Step

    lin, stats = linearize_stats(d, wrt, limits)
    if trace is not None:
        trace.append(Step("linearize: JVP rules in the e-graph", lin.diagram.stats()["ops"], describe(stats)))
    return lin


def describe(stats: JvpStats) -> str:
    top = sorted(stats.fired.items(), key=lambda kv: (-kv[1], kv[0]))[:5]  # ties by name: deterministic text
    return (f"{stats.rules} rules generated from the primitive table, {stats.iterations} iterations (saturated), "
            f"{stats.enodes} e-nodes, {sum(v for k, v in stats.seconds.items() if k != 'total') * 1e3:.1f} ms\n"
            f"rules fired most: {', '.join(f'{k} ×{v}' for k, v in top)}")


def activity(d: Diagram, wrt: Sequence[int]) -> set[int]:
    """Wires whose tangent is not structurally zero; a node a tangent reaches must be differentiable."""
    return active_wires(d, [d.inputs[i] for i in wrt], _passes_tangent)


def _check_points(d: Diagram, active: set[int]) -> None:
    """A function of several variables evaluated at points that move (f(x, g(x)) w.r.t. g) needs its
    partial derivatives, which no row provides (nabla is for functions of one variable)."""
    for node in d.nodes:
        if node.box.name == "apply" and len(node.inputs) > 2 and any(w in active for w in node.inputs[1:]):
            raise DerivativeError("cannot differentiate through the points of a function of several variables "
                                  "(its partial derivatives have no rule; nabla is for functions of one "
                                  "variable, scalar or a point f64[k])", node.span)


def _passes_tangent(node: Node) -> bool:
    box = node.box
    if box.kind == "call":
        raise DerivativeError(f"cannot differentiate the call box '{box.name}' (expand calls first)", node.span)
    if box.kind != "prim":
        return True  # a generator: its uninterpreted derivative box d_f
    prim = PRIMITIVES[box.name]
    if prim.jvp is None:
        raise DerivativeError(f"the primitive '{prim.name}' has no derivative rule", node.span)
    return prim.jvp != "0"


def linearize_stats(d: Diagram, wrt: tuple[int, ...],
                    limits: JvpLimits | None = None) -> tuple[Linearized, JvpStats]:
    """`linearize_diagram` and what it did (rules, iterations, size, seconds per phase)."""
    limits = limits or JvpLimits()
    t0 = time.perf_counter()
    active = activity(d, wrt)
    _check_points(d, active)
    eg = EGraph((), extension=LIN_EXTENSION)
    (outs,) = eg.load([d])
    rules = compile_rules(eg.tables, d, active)
    eg.declare("\n".join([*rules.texts, bcast_facts(eg.tables)]), rules=rules.names)
    _seed(eg, d, wrt, active)
    pending: list[tuple[int, ...]] = list(rules.marks)
    secs = {"load": time.perf_counter() - t0}
    fired, per_it = _saturate(eg, pending, limits, len(d.nodes) + len(d.inputs))
    secs["saturate"] = time.perf_counter() - t0 - secs["load"]
    with paused_gc():  # export and extraction: one object per e-node, no cycles
        fz = eg.freeze(lin_lowering(eg.tables, len(d.inputs)))
        lin, unresolved = _extract(eg, fz, d, wrt, outs)
    secs["extract"] = time.perf_counter() - t0 - secs["load"] - secs["saturate"]
    secs["total"] = time.perf_counter() - t0
    return lin, JvpStats(len(rules.texts), len(per_it), eg.size(), fired, per_it, unresolved, secs)


def _seed(eg: EGraph, d: Diagram, wrt: Sequence[int], active: set[int]) -> None:
    """Load `JVP x_i = LSeed k` for the k-th wrt input and `JVP w = LZero` for the inactive outputs
    (tensors and functions: the zero function); the rules read the tangents of active wires only."""
    tab = eg.tables
    rows: dict[str, list[tuple[int, ...]]] = {}
    seeds = {d.inputs[i]: k for k, i in enumerate(wrt)}
    rows["RSeed"] = [(w, k, tab.type(d.types[w])) for w, k in seeds.items() if w in active]
    rows["RJZ"] = [(w, tab.type(d.types[w])) for w in dict.fromkeys(d.outputs) if w not in active]
    eg.input_rows(rows, "jvpload")


def _saturate(eg: EGraph, pending: list[tuple[int, ...]], limits: JvpLimits,
              boxes: int) -> tuple[dict[str, int], tuple[int, ...]]:
    """The step loop: make up to `limits.step` more wires eligible, run one iteration, check the
    budgets; until nothing is pending and an iteration changes nothing. Returns the matches per
    rule and the JVP rule matches of each iteration."""
    t0 = time.perf_counter()
    budget = limits.enodes_per_box * boxes + 10_000
    fired: dict[str, int] = {}
    per_it: list[int] = []
    while True:
        step, pending = pending[:limits.step], pending[limits.step:]
        if step:
            eg.input_rows({"RNZ": step}, "jvpload")
        changed, matches = eg.run_iteration(["jvp"])
        its = len(per_it) + 1
        per_it.append(sum(k for rule, k in matches.items() if rule.startswith("jvp-")))
        for rule, k in matches.items():
            fired[rule] = fired.get(rule, 0) + k
        if not changed and not pending:
            return fired, tuple(per_it)
        size = eg.size()
        if size > budget:
            raise DerivativeError(f"linearization stopped: {size} e-nodes exceed its budget of {budget} "
                                  f"({limits.enodes_per_box} per box); a JVP rule is not linear in size")
        if time.perf_counter() - t0 > limits.seconds:
            raise DerivativeError(f"linearization stopped: not saturated after {its} iterations and "
                                  f"{limits.seconds:g} s (JvpLimits.seconds)")


def _extract(eg: EGraph, fz: Frozen, d: Diagram, wrt: tuple[int, ...], outs: Sequence[int]) -> tuple[Linearized, int]:
    """Our DAG extractor over the frozen e-graph: the outputs' classes and their JVP classes. The
    JVP rules only add terms, so unless a tangent turned out zero in the e-graph (absorption merges
    classes) every e-class holds one e-node: then there is nothing to choose, and that e-node is the
    choice (a class of one e-node cannot be on a cycle: no union made it)."""
    classes = fz.classes
    if all(len(nodes) == 1 for nodes in classes.values()):
        choice = {c: nodes[0] for c, nodes in classes.items()}
    else:
        choice = choose(fz, eg.tables)
    jvp_of = fz.names.get("JVP", {})
    names = d.param_names() + tuple(f"d{d.param_names()[i]}" for i in wrt)
    sig = Builder()
    for t in [*d.dom, *(d.dom[i] for i in wrt)]:
        sig.input(t)
    roots = [fz.wires[w] for w in outs]
    # a primal class and its tangent class point at the DSL line of the first node that computes them
    spans: dict[int, Any] = {}
    span_of = spans.setdefault
    class_of = fz.wires.get
    jvp_get = jvp_of.get
    for node in d.nodes:
        span = node.span
        for w in node.outputs:
            c = class_of(w)
            if c is None:
                continue
            span_of(c, span)
            tc = jvp_get(c)
            if tc is not None:
                span_of(tc, span)
                if len(node.outputs) > 1:  # the tangents of a multi-output box are projections
                    for n in fz.classes.get(tc, ()):
                        if n.op == "proj":
                            for k in n.children:
                                span_of(k, span)
    try:
        lin_roots = [jvp_of[c] for c in roots]
        diagram = rebuild(fz, choice, eg.tables, sig.build([], input_names=names), roots + lin_roots, None, spans)
    except (KeyError, ExtractionError) as err:
        raise DerivativeError(f"a JVP term survived saturation: {err}") from err
    diagram = diagram.with_names(name=f"jvp_{d.name}" if d.name else "")
    unresolved = sum(1 for c in set(jvp_of.values()) if c not in choice)
    return Linearized(diagram, len(d.inputs), len(wrt), len(d.outputs)), unresolved

