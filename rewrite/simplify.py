"""The bridge to the e-graph optimiser, recording what happened in a trace for `dsl show --steps`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rewrite.cleanup import after_extraction
from rewrite.optimize import Limits, optimize
from semantics.diagram import Diagram


@dataclass(frozen=True)
class Step:
    """One pass of a derivation: its name, the diagram size (ops) after it, and the e-graph report if any."""

    name: str
    ops: int
    report: Any = None

    def __str__(self) -> str:
        head = f"{self.name}: {self.ops} ops"
        return head if self.report is None else f"{head}\n" + "\n".join("    " + line for line in str(self.report).splitlines())


def simplify_diagram(d: Diagram, trace: list[Step] | None = None, limits: Limits | None = None,
                     fast_math: bool = False) -> Diagram:
    """The e-graph optimiser, then the clean-ups that follow extraction (see rewrite/optimize.py for
    `fast_math`)."""
    out, report = optimize(d, limits, fast_math)
    out = after_extraction(out)
    if trace is not None:
        trace.append(Step("e-graph optimisation", out.stats()["ops"], report))
    return out
