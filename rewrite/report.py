"""What the e-graph optimiser did, as plain data: `RewriteReport` (printed by `dsl show --steps`).

>>> st = StageReport("algebra", 3, "saturated", 120, 118, 0.004)
>>> r = RewriteReport(stages=(st,), ops_before=10, ops_after=7, cost_before=50.0, cost_after=31.0,
...                   rules_fired=(("add-zero-r", 2),))
>>> print(r)  # doctest: +NORMALIZE_WHITESPACE
stage     iterations  stop reason  e-graph before  e-graph after  time
algebra            3  saturated               120            118  4.0 ms
ops 10 -> 7, cost 50 -> 31
rules fired most: add-zero-r ×2
"""

from __future__ import annotations

from dataclasses import dataclass

from grammar.errors import DslWarning

STOP_REASONS = ("saturated", "iteration limit", "node limit", "time limit", "error", "skipped")
LIMIT_REASONS = ("node limit", "time limit", "iteration limit")  # a budget cut the search short: warn


@dataclass(frozen=True)
class StageReport:
    """One staged rule set: how many iterations ran, why it stopped, e-graph sizes (e-nodes) and time."""

    name: str
    iterations: int
    stop_reason: str
    size_before: int
    size_after: int
    seconds: float


@dataclass(frozen=True)
class RewriteReport:
    """The whole optimisation: the stages, diagram sizes (ops) and estimated cost before/after, the
    rules that fired most (name, matches), and notes (fallbacks, errors, limits)."""

    stages: tuple[StageReport, ...] = ()
    ops_before: int = 0
    ops_after: int = 0
    cost_before: float = 0.0
    cost_after: float = 0.0
    rules_fired: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()
    unsound_merges: int = 0
    seconds: float = 0.0

    @property
    def stop_reason(self) -> str:
        """The limit that cut the search short (the first stage that hit one), else "saturated"."""
        for s in self.stages:
            if s.stop_reason in LIMIT_REASONS:
                return s.stop_reason
        return "saturated"

    def __str__(self) -> str:
        head = ("stage", "iterations", "stop reason", "e-graph before", "e-graph after", "time")
        rows = [head] + [
            (s.name, str(s.iterations), s.stop_reason, str(s.size_before), str(s.size_after), f"{s.seconds * 1e3:.1f} ms")
            for s in self.stages
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        right = {1, 3, 4}  # numbers are right-aligned
        lines = ["  ".join(c.rjust(w) if i in right and r is not head else c.ljust(w)
                           for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows]
        lines.append(f"ops {self.ops_before} -> {self.ops_after}, cost {self.cost_before:.4g} -> {self.cost_after:.4g}")
        if self.rules_fired:
            lines.append("rules fired most: " + ", ".join(f"{n} ×{c}" for n, c in self.rules_fired))
        if self.unsound_merges:
            lines.append(f"UNSOUND: {self.unsound_merges} merges of different constants")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


class OptimizerLimitWarning(DslWarning):
    """The e-graph optimiser stopped at a budget and returned the best result found so far.

    >>> print(OptimizerLimitWarning(RewriteReport((StageReport("algebra", 2, "node limit", 10, 900, 0.1),)), "f"))
    optimising 'f' stopped at its node limit in stage algebra after 2 iterations (900 e-nodes); the result is the best so far
    """

    def __init__(self, report: RewriteReport, name: str = "") -> None:
        self.report = report
        stage = next((s for s in report.stages if s.stop_reason in LIMIT_REASONS), None)
        where = f" in stage {stage.name} after {stage.iterations} iterations ({stage.size_after} e-nodes)" if stage else ""
        what = f"optimising '{name}'" if name else "the optimiser"
        super().__init__(f"{what} stopped at its {report.stop_reason}{where}; the result is the best so far")
