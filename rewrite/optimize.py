"""`optimize(d)`: the e-graph simplifier. Load the diagram into a fresh e-graph, run the staged
rule sets (rewrite/rules.py) under limits, folding constants between iterations, extract the
cheapest equivalent with sharing preserved, check it, and report what happened.

It never raises and never hangs on a bad rule: every stage runs in small steps (one iteration of
one rule set, under a back-off match limit that bounds the matches any step applies) against an
iteration and an e-node budget; a limit returns the best diagram so far (the input at worst),
records the stop reason in the report and warns with `OptimizerLimitWarning`. The budgets are
counts, so a definition is optimised the same way on any machine and under any load (generated
code never depends on how busy the machine was); the wall clock is only a far-off backstop.

IEEE safety: by default only rules that hold in IEEE arithmetic run (rewrite/rules.py);
`fast_math=True` adds those that change results on NaN, ±inf, ±0 or out-of-domain inputs.

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import scalar
>>> f64 = scalar("f64")
>>> b = Builder(); x = b.input(f64)
>>> (one,) = b.add(make_box("const", {"value": 1.0, "dtype": "f64"}), [], [f64])
>>> (s,) = b.add(make_box("sin"), [x], [f64])
>>> (y,) = b.add(make_box("mul"), [s, one], [f64])
>>> out, report = optimize(b.build([y]))
>>> [n.box.name for n in out.nodes], report.ops_before, report.ops_after
(['sin'], 3, 1)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rewrite.cost import cost
from rewrite.egraph import EGraph
from rewrite.extract import choose, rebuild
from rewrite.report import LIMIT_REASONS, OptimizerLimitWarning, RewriteReport, StageReport
from rewrite.rules import STAGES, rules_for
from semantics.diagram import Box, Diagram
from semantics.verify import verify

# the wall clock, read through this name so that tests can replace it (a loaded machine, a fake clock)
clock = time.perf_counter


@dataclass(frozen=True)
class Limits:
    """Budgets, in counts: iterations per stage; e-nodes in the e-graph (`nodes`, or `growth` times
    the loaded e-graph when that is more, so a large model is optimised too); and the back-off match
    limit (the most matches one rule applies in one step; doubled for a rule set whose rules all sit
    out, as egg's BackoffScheduler does). `seconds` of wall clock for all stages is only a safety
    backstop, far beyond what the counts allow on a working machine: within it, the result does not
    depend on the machine's speed or load.

    >>> Limits().node_limit(1_000), Limits().node_limit(100_000)
    (50000, 400000)
    """

    iterations: int = 20
    nodes: int = 50_000
    growth: float = 4.0
    matches: int = 1_000
    seconds: float = 60.0

    def node_limit(self, loaded: int) -> int:
        """The e-node budget of an e-graph that held `loaded` e-nodes after loading."""
        return max(self.nodes, int(self.growth * loaded))


@dataclass(frozen=True)
class Budget:
    """What one optimisation may spend: `limits`, the e-node limit they give the loaded e-graph, and
    the wall-clock deadline of the backstop."""

    limits: Limits
    nodes: int
    deadline: float

    @staticmethod
    def start(limits: Limits, loaded: int) -> Budget:
        return Budget(limits, limits.node_limit(loaded), clock() + limits.seconds)

    def out_of_time(self) -> bool:
        return clock() > self.deadline


def run_stage(eg: EGraph, name: str, rulesets: tuple[str, ...], budget: Budget, fired: dict[str, int],
              until: Callable[[], bool] | None = None) -> StageReport:
    """Run one stage to saturation or a limit. An iteration is one small step per rule set, then
    constant folding; the size (and the backstop clock) are checked after every step, and the
    iteration that crosses the node limit is rolled back when a snapshot was taken."""
    start = clock()
    size0 = size = eg.size()
    reason = "iteration limit"
    its = 0
    match_limit = budget.limits.matches
    sig = eg.sizes()
    for _ in range(budget.limits.iterations):
        if budget.out_of_time():
            reason = "time limit"
            break
        if size > budget.nodes:
            reason = "node limit"
            break
        # a snapshot costs about 1 ms per 1,000 e-nodes (and memory: egglog keeps it), so take one
        # only when this iteration could cross the limit: within 2x of it (crossing from further
        # below takes more than limit/2 new e-nodes in one bounded step), or once a raised match
        # limit lets an explosive rule apply more; otherwise an iteration that crosses is kept
        snapshot = size * 2 > budget.nodes or match_limit > budget.limits.matches
        if snapshot:
            eg.push()
        step = _iteration(eg, rulesets, match_limit, budget, fired)
        new_size = eg.size()
        if new_size > budget.nodes:
            if snapshot:
                eg.pop()  # keep the last e-graph within the limit
            else:
                size = new_size
                its += 1
            reason = "node limit"
            break
        its += 1
        size = new_size
        if step.stopped:
            reason = "time limit"
            break
        if step.banned and max(step.banned.values()) > budget.nodes:
            # a rule sat out with more matches than the e-graph may hold e-nodes: the e-graph is
            # exploding (every step searches that rule again, in time proportional to its matches,
            # and the raised limit that finally lets it apply takes gigabytes: measured with
            # fast_math on a 300-op random DAG, 2 s a step at 230k matches, then out of memory)
            reason = "node limit"
            break
        new_sig = eg.sizes()
        if new_sig == sig and not step.folded:
            if not step.banned:
                reason = "saturated"
                break
            match_limit *= 2  # the rest is done: give the rules that sat out a bigger budget
        sig = new_sig
        if until is not None and until():
            reason = "saturated"  # proved: nothing more to learn
            break
    return StageReport(name, its, reason, size0, size, clock() - start)


@dataclass(frozen=True)
class _Step:
    banned: dict[str, int]  # the rules that had more matches than the limit and sat out: their matches
    folded: bool
    stopped: bool  # by the clock or the node limit, before the iteration ended


def _iteration(eg: EGraph, rulesets: tuple[str, ...], match_limit: int, budget: Budget,
               fired: dict[str, int]) -> _Step:
    """One iteration: each rule set one step, then folding."""
    banned: dict[str, int] = {}
    for rs in rulesets:
        changed, matches, sat_out = eg.run_step(rs, match_limit)
        banned.update(sat_out)
        if changed:
            for rule, k in matches.items():
                fired[rule] = fired.get(rule, 0) + k
        if budget.out_of_time() or eg.size() > budget.nodes:
            return _Step(banned, False, True)
    folds = eg.fold()
    for rule, k in folds.items():
        fired[rule] = fired.get(rule, 0) + k
    return _Step(banned, bool(folds), False)


def run_stages(eg: EGraph, limits: Limits, fired: dict[str, int], has_matmul: bool,
               until: Callable[[], bool] | None = None) -> list[StageReport]:
    """The stages of rules.STAGES in order, under one budget for them all (see `Limits`); after a
    node or time limit the rest are skipped, and a stage none of whose own rule sets has an enabled
    rule is skipped."""
    budget = Budget.start(limits, eg.size())
    reports: list[StageReport] = []
    enabled = eg.rule_sets
    done: set[str] = set()
    for name, rulesets in STAGES:
        blocked = any(r.stop_reason in ("node limit", "time limit") for r in reports)
        own = [rs for rs in rulesets if rs not in done and rs in enabled]
        if blocked or not own or (name == "cost" and not has_matmul):
            s = eg.size()
            reports.append(StageReport(name, 0, "skipped", s, s, 0.0))
            continue
        ran = tuple(rs for rs in rulesets if rs in enabled)
        reports.append(run_stage(eg, name, ran, budget, fired, until))
        done.update(ran)
    return reports


def optimize(d: Diagram, limits: Limits | None = None, fast_math: bool = False) -> tuple[Diagram, RewriteReport]:
    """The cheapest diagram equal to `d` that the rules find within `limits`, and a report.

    The result has d's signature, input names and name; its ops and cost never exceed d's. When a
    limit stops the search, the result is the best found so far and an `OptimizerLimitWarning`
    says which limit (also in `report.stop_reason`).
    """
    limits = limits or Limits()
    t0 = clock()
    fired: dict[str, int] = {}
    notes: list[str] = []
    stages: list[StageReport] = []
    unsound = 0
    ops0, cost0 = len(d.nodes), cost(d)
    best, best_cost = d, cost0
    try:
        eg = EGraph(rules_for(fast_math))
        (outs,) = eg.load([d])
        has_matmul = any(n.box.name == "matmul" for n in d.nodes)
        stages = run_stages(eg, limits, fired, has_matmul)
        unsound = eg.unsound()
        if unsound:
            notes.append(f"{unsound} unsound merges: kept the input")
        else:
            best, best_cost = _extract(eg, d, cost0, outs, notes) or (best, best_cost)
    except Exception as err:  # egglog or a bug in a rule: never crash the caller
        notes.append(f"optimiser failed ({type(err).__name__}: {err}); returned the best diagram so far")
    top = sorted(fired.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    report = RewriteReport(tuple(stages), ops0, len(best.nodes), cost0, best_cost, tuple(top), tuple(notes),
                           unsound, clock() - t0)
    if report.stop_reason in LIMIT_REASONS:
        warnings.warn(OptimizerLimitWarning(report, d.name), stacklevel=2)
    return best, report


def _extract(eg: EGraph, d: Diagram, cost0: float, outs: list[int], notes: list[str]) -> tuple[Diagram, float] | None:
    """The cheapest term of each output, rebuilt as a diagram and checked, with its cost (None: keep
    the input, whose cost is `cost0`)."""
    fz = eg.freeze()
    choice = choose(fz, eg.tables)
    # each e-class keeps the source span of an original node in it, so generated code can still
    # point back to the DSL line that an extracted node computes
    cls = fz.wires.get
    spans: dict[int, Any] = {c: n.span for n in reversed(d.nodes) for c in map(cls, n.outputs) if c is not None}
    new = rebuild(fz, choice, eg.tables, d, [fz.wires[w] for w in outs], _const_boxes(d), spans)
    errs = verify(new)
    if errs:
        notes.append("extracted diagram failed its checks, kept the input: " + "; ".join(errs[:3]))
    elif new.cod != d.cod or new.dom != d.dom:
        notes.append("extracted diagram changed the signature, kept the input")
    else:
        new_cost = cost(new)
        if len(new.nodes) <= len(d.nodes) and new_cost <= cost0 * (1 + 1e-9) + 1e-9:
            return new, new_cost
        notes.append("extraction was not cheaper than the input; kept the input")
    return None


def _const_boxes(d: Diagram) -> dict[tuple[float, str], Box]:
    """The input's const boxes by (value, dtype), reused so literals keep their spelling (2 vs 2.0)."""
    out: dict[tuple[float, str], Box] = {}
    for n in d.nodes:
        box = n.box
        if box.name != "const" or box.kind != "prim":
            continue
        params = box.param_dict
        v = params.get("value")
        if isinstance(v, (int, float, bool)):
            out.setdefault((float(v), str(params.get("dtype"))), box)
    return out
