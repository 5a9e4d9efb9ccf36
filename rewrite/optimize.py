"""`optimize(d)`: the e-graph simplifier. Fold constants, load the diagram into a fresh e-graph,
run the staged rule sets (rewrite/rules.py) under limits, extract the cheapest equivalent with
sharing preserved, check it, and report what happened.

It never raises and never hangs on a bad rule: every stage runs one iteration at a time against
an iteration, node and time budget; any failure returns the best diagram so far (the input at
worst) with the reason in the report.

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
from collections.abc import Callable
from dataclasses import dataclass

from rewrite.cost import cost
from rewrite.egraph import EGraph
from rewrite.extract import choose, rebuild, type_errors
from rewrite.report import RewriteReport, StageReport
from rewrite.rules import RULES, STAGES, const_value, fold_constants
from semantics.diagram import Box, Diagram, structural_errors


@dataclass(frozen=True)
class Limits:
    """Budgets: iterations per stage, e-nodes in the e-graph, wall-clock seconds for all stages."""

    iterations: int = 20
    nodes: int = 50_000
    seconds: float = 2.0


def run_stage(eg: EGraph, name: str, rulesets: tuple[str, ...], match_limit: int | None, limits: Limits,
              deadline: float, fired: dict[str, int], until: Callable[[], bool] | None = None) -> StageReport:
    """Run one stage an iteration at a time; roll back the iteration that crosses the node limit."""
    start = time.perf_counter()
    size0 = size = eg.size()
    reason = "iteration limit"
    its = 0
    for _ in range(limits.iterations):
        if time.perf_counter() > deadline:
            reason = "time limit"
            break
        if size > limits.nodes:
            reason = "node limit"
            break
        # A snapshot costs a few ms, so take one only when one iteration could plausibly cross the
        # limit (growth > 16x in one iteration needs AC-like rules, which we do not have).
        snapshot = size * 16 > limits.nodes
        if snapshot:
            eg.push()
        changed, matches = eg.run_iteration(rulesets, match_limit)
        new_size = eg.size()
        if match_limit is not None:
            changed = new_size != size  # back-off runs re-report old matches: judge by growth
        if new_size > limits.nodes:
            if snapshot:
                eg.pop()  # keep the last e-graph within the limit
            else:
                size = new_size
                its += 1
            reason = "node limit"
            break
        size = new_size
        its += 1
        for rule, k in matches.items():
            fired[rule] = fired.get(rule, 0) + k
        if not changed:
            reason = "saturated"
            break
        if until is not None and until():
            reason = "saturated"  # proved: nothing more to learn
            break
    return StageReport(name, its, reason, size0, size, time.perf_counter() - start)


def run_stages(eg: EGraph, limits: Limits, deadline: float, fired: dict[str, int], has_matmul: bool,
               until: Callable[[], bool] | None = None) -> list[StageReport]:
    reports: list[StageReport] = []
    for name, rulesets, match_limit in STAGES:
        blocked = any(r.stop_reason in ("node limit", "time limit") for r in reports)
        if blocked or (name == "cost" and not has_matmul):
            s = eg.size()
            reports.append(StageReport(name, 0, "skipped", s, s, 0.0))
            continue
        reports.append(run_stage(eg, name, rulesets, match_limit, limits, deadline, fired, until))
    return reports


def optimize(d: Diagram, limits: Limits | None = None) -> tuple[Diagram, RewriteReport]:
    """The cheapest diagram equal to `d` that the rules find within `limits`, and a report.

    The result has d's signature, input names and name; its ops and cost never exceed d's.
    """
    limits = limits or Limits()
    t0 = time.perf_counter()
    fired: dict[str, int] = {}
    notes: list[str] = []
    stages: list[StageReport] = []
    unsound = 0
    ops0, cost0 = d.stats()["ops"], cost(d)
    best = d
    try:
        folded = fold_constants(d, fired)
        if _no_worse(folded, d):
            best = folded
        eg = EGraph(RULES)
        (outs,) = eg.load([folded])
        has_matmul = any(n.box.name == "matmul" for n in d.nodes)
        stages = run_stages(eg, limits, t0 + limits.seconds, fired, has_matmul)
        unsound = eg.unsound()
        if unsound:
            notes.append(f"{unsound} unsound merges: kept the input")
        else:
            fz = eg.freeze()
            choice = choose(fz, eg.tables)
            # each e-class keeps the source span of an original node in it, so generated code can still
            # point back to the DSL line that an extracted node computes
            spans = {fz.wires[w]: n.span for n in reversed(folded.nodes) for w in n.outputs if w in fz.wires}
            new = rebuild(fz, choice, eg.tables, d, [fz.wires[w] for w in outs], _const_boxes(d), spans)
            new = fold_constants(new, fired)
            errs = type_errors(new) + list(structural_errors(new))
            if errs:
                notes.append("extracted diagram failed its checks, kept the input: " + "; ".join(errs[:3]))
            elif new.cod != d.cod or new.dom != d.dom:
                notes.append("extracted diagram changed the signature, kept the input")
            elif _no_worse(new, best):
                best = new
            else:
                notes.append("extraction was not cheaper than the input; kept the input")
    except Exception as err:  # egglog or a bug in a rule: never crash the caller
        notes.append(f"optimiser failed ({type(err).__name__}: {err}); returned the best diagram so far")
    top = sorted(fired.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    report = RewriteReport(tuple(stages), ops0, best.stats()["ops"], cost0, cost(best), tuple(top), tuple(notes),
                           unsound, time.perf_counter() - t0)
    return best, report


def _no_worse(new: Diagram, old: Diagram) -> bool:
    return new.stats()["ops"] <= old.stats()["ops"] and cost(new) <= cost(old) * (1 + 1e-9) + 1e-9


def _const_boxes(d: Diagram) -> dict[tuple[float, str], Box]:
    """The input's const boxes by (value, dtype), reused so literals keep their spelling (2 vs 2.0)."""
    out: dict[tuple[float, str], Box] = {}
    for n in d.nodes:
        v = const_value(n.box)
        if v is not None:
            out.setdefault((float(v), str(n.box.param_dict.get("dtype"))), n.box)
    return out
