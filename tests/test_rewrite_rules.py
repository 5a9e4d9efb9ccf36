"""Egg-style tables for the rewrite rules: each `start ⇒ goal` is proved equal in the e-graph, and
`optimize(start)` gives a diagram no bigger than the goal. Terms are written as nested tuples:
`("add", "x", 0.0)` is `x + 0.0`; strings are inputs, floats are f64 scalar constants.
A case named after an unsafe rule (rewrite/rules.py: it changes results on NaN/inf/-0/negative
inputs) is proved only with fast_math, and must NOT be proved or applied without it."""

from __future__ import annotations

from typing import Any

import pytest

from rewrite.optimize import optimize
from rewrite.prove import prove_equal
from rewrite.rules import RULES
from semantics.diagram import Builder, Diagram, make_box
from semantics.primitives import PRIMITIVES
from semantics.types import Dim, TensorType, scalar
from semantics.verify import verify

F64 = scalar("f64")
VEC = TensorType("f64", (Dim.sym("n"),))
INPUTS = {"x": VEC, "y": VEC, "z": VEC, "s": F64, "t": F64}


def term(expr: Any, inputs: dict[str, TensorType] | None = None) -> Diagram:
    """A diagram of one output from a nested-tuple term over the named inputs (in INPUTS order)."""
    inputs = inputs or INPUTS
    b = Builder()
    wires = {name: b.input(t) for name, t in inputs.items()}
    memo: dict[Any, int] = {}

    def go(e: Any) -> int:
        if isinstance(e, str):
            return wires[e]
        if isinstance(e, (int, float)):
            return b.add(make_box("const", {"value": float(e), "dtype": "f64"}), [], [F64])[0]
        name, *args = e
        params = args.pop() if args and isinstance(args[-1], dict) else {}
        ins = [go(a) for a in args]
        outs = PRIMITIVES[name].infer([b.types[w] for w in ins], params)
        return b.add(make_box(name, params), ins, outs)[0]

    out = go(expr)
    del memo
    return b.build([out], input_names=tuple(inputs))


def ops(d: Diagram) -> int:
    return d.stats()["ops"]


# rule name, start, goal
CASES: list[tuple[str, Any, Any]] = [
    ("add-zero-r", ("add", "x", 0.0), "x"),
    ("add-zero-l", ("add", 0.0, ("sin", "x")), ("sin", "x")),
    ("sub-zero", ("sub", "x", 0.0), "x"),
    ("zero-sub", ("sub", 0.0, "x"), ("neg", "x")),
    ("sub-self", ("sub", "s", "s"), 0.0),
    ("mul-one-r", ("mul", ("sin", "x"), 1.0), ("sin", "x")),
    ("mul-one-l", ("mul", 1.0, "x"), "x"),
    ("mul-zero-r", ("mul", "s", 0.0), 0.0),
    ("mul-zero-l", ("mul", 0.0, "s"), 0.0),
    ("mul-minus-one", ("mul", "x", -1.0), ("neg", "x")),
    ("div-one", ("div", "x", 1.0), "x"),
    ("neg-neg", ("neg", ("neg", "x")), "x"),
    ("add-neg", ("add", "x", ("neg", "y")), ("sub", "x", "y")),
    ("sub-neg", ("sub", "x", ("neg", "y")), ("add", "x", "y")),
    ("neg-mul-neg", ("mul", ("neg", "x"), ("neg", "y")), ("mul", "x", "y")),
    ("add-self", ("add", "x", "x"), ("mul", "x", 2.0)),
    ("mul-self", ("mul", "x", "x"), ("square", "x")),
    ("square-mul", ("square", "x"), ("mul", "x", "x")),
    ("pow-two", ("pow", "x", 2.0), ("square", "x")),
    ("pow-one", ("pow", "x", 1.0), "x"),
    ("pow-three", ("pow", "x", 3.0), ("mul", "x", ("square", "x"))),
    ("pow-four", ("pow", "x", 4.0), ("square", ("square", "x"))),
    ("pow-zero", ("pow", "s", 0.0), 1.0),
    ("pow-half", ("pow", "x", 0.5), ("sqrt", "x")),
    ("pow-minus-one", ("pow", "x", -1.0), ("reciprocal", "x")),
    ("exp-log", ("exp", ("log", "x")), "x"),
    ("log-exp", ("log", ("exp", "x")), "x"),
    ("exp-mul", ("mul", ("exp", "x"), ("exp", "y")), ("exp", ("add", "x", "y"))),
    ("where-same", ("where", ("lt", "x", "y"), "z", "z"), "z"),
    ("stop-gradient-const", ("mul", "x", ("stop_gradient", 1.0)), "x"),
    ("cast-same", ("cast", "x", {"dtype": "f64"}), "x"),
    # constant folding (semantics/fold.py, applied in the e-graph); asymmetric operands, so a fold
    # with the wrong operation or operand order cannot reach the goal
    ("fold-add", ("mul", "x", ("add", 0.25, 0.75)), "x"),
    ("fold-sub", ("add", "x", ("sub", 2.0, 0.5)), ("add", "x", 1.5)),
    ("fold-sub-order", ("mul", "x", ("sub", 0.5, 2.0)), ("mul", "x", -1.5)),
    ("fold-mul", ("mul", "s", ("mul", 0.5, 4.0)), ("mul", "s", 2.0)),
    ("fold-div", ("mul", "s", ("div", 1.0, 4.0)), ("mul", "s", 0.25)),
    ("fold-pow", ("mul", "s", ("pow", 2.0, 3.0)), ("mul", "s", 8.0)),
    ("fold-neg", ("mul", "x", ("neg", -1.0)), "x"),
    ("fold-transcendental", ("mul", "x", ("cos", 0.0)), "x"),
    ("mul-assoc-const-0", ("mul", ("mul", "x", 0.5), 4.0), ("mul", "x", 2.0)),
    ("mul-assoc-const-1", ("mul", ("mul", 0.5, "x"), 4.0), ("mul", "x", 2.0)),
    ("mul-assoc-const-2", ("mul", 4.0, ("mul", "x", 0.5)), ("mul", "x", 2.0)),
    ("mul-assoc-const-3", ("mul", 4.0, ("mul", 0.5, "x")), ("mul", "x", 2.0)),
    ("neg-mul-const", ("neg", ("mul", "x", 3.0)), ("mul", "x", -3.0)),
    ("mul-const-neg", ("mul", ("neg", "x"), 3.0), ("mul", "x", -3.0)),
    ("fold-assoc-to-identity", ("mul", ("mul", "x", 0.5), 2.0), "x"),
    ("mul-filled-r", ("mul", "x", ("broadcast_to", 2.0, {"shape": (Dim.sym("n"),)})), ("mul", "x", 2.0)),
    ("mul-filled-l", ("mul", ("broadcast_to", 2.0, {"shape": (Dim.sym("n"),)}), "x"), ("mul", 2.0, "x")),
    # a filled factor reassociates too (the gradient of 0.5 * x^2 is full of them)
    ("mul-filled-assoc", ("mul", ("mul", ("broadcast_to", 0.5, {"shape": (Dim.sym("n"),)}), "x"), 4.0), ("mul", "x", 2.0)),
    ("sum-scale-r", ("sum", ("mul", "x", 0.5)), ("mul", ("sum", "x"), 0.5)),
    ("sum-scale-l", ("sum", ("mul", 0.5, "x")), ("mul", ("sum", "x"), 0.5)),
    ("sum-sub", ("sum", ("sub", ("mul", 0.25, "x"), ("mul", 0.5, "y"))),
     ("sub", ("mul", ("sum", "x"), 0.25), ("mul", ("sum", "y"), 0.5))),
    ("sum-add", ("sum", ("add", ("mul", "x", 2.0), "y")), ("add", ("mul", ("sum", "x"), 2.0), ("sum", "y"))),
    ("pad-neg", ("add", ("pad", "y", {"width": (1, 0)}), ("pad", ("neg", "x"), {"width": (1, 0)})),
     ("sub", ("pad", "y", {"width": (1, 0)}), ("pad", "x", {"width": (1, 0)}))),
    *((f"{op}-broadcast-{side}",
       ("mul", "x", (op, *(("s", ("broadcast_to", "t", {"shape": (Dim.sym("n"),)})) if side == "r" else
                           (("broadcast_to", "s", {"shape": (Dim.sym("n"),)}), "t")))),
       ("mul", "x", ("broadcast_to", (op, "s", "t"), {"shape": (Dim.sym("n"),)})))
      for op in ("add", "sub", "mul") for side in ("r", "l")),
    ("factor-ll", ("add", ("mul", "x", "y"), ("mul", "x", "z")), ("mul", "x", ("add", "y", "z"))),
    ("factor-rr", ("add", ("mul", "y", "x"), ("mul", "z", "x")), ("mul", ("add", "y", "z"), "x")),
    ("factor-lr", ("add", ("mul", "x", "y"), ("mul", "z", "x")), ("mul", "x", ("add", "y", "z"))),
    ("factor-sub", ("sub", ("mul", "x", "y"), ("mul", "x", "z")), ("mul", "x", ("sub", "y", "z"))),
    ("rules-chain", ("add", ("mul", ("sin", "x"), 1.0), ("sub", "y", 0.0)), ("add", ("sin", "x"), "y")),
]


UNSAFE = {r.name for r in RULES if r.unsafe}


@pytest.mark.parametrize(("name", "start", "goal"), CASES, ids=[c[0] for c in CASES])
def test_rule(name: str, start: Any, goal: Any) -> None:
    d0, d1 = term(start), term(goal)
    fast = name in UNSAFE
    assert prove_equal(d0, d1, fast_math=fast) is True, f"{name}: {start} ⇏ {goal}"
    out, report = optimize(d0, fast_math=fast)
    assert report.unsound_merges == 0
    assert not verify(out)
    assert out.cod == d0.cod and out.dom == d0.dom
    assert ops(out) <= ops(d1), f"{name}: {out.show() if hasattr(out, 'show') else out}"
    if fast:  # an unsafe rule neither proves nor rewrites without fast_math
        assert prove_equal(d0, d1) is None, name
        boxes = sorted(n.box.name for n in optimize(d0)[0].nodes)
        assert boxes != sorted(n.box.name for n in d1.nodes), name


def test_every_rule_has_a_case_or_is_listed() -> None:
    covered = {c[0] for c in CASES}
    untested_here = {"where-true", "where-false", "transpose-transpose", "broadcast-const", "sum-broadcast",
                     "mean-broadcast", "matmul-assoc-r", "matmul-assoc-l"}
    assert {r.name for r in RULES} - covered <= untested_here


# start, goal that must NOT be proved (unsound, type-changing, or false on some IEEE input)
NOT_PROVED: list[tuple[Any, Any]] = [
    (("sin", "x"), ("cos", "x")),
    (("div", "x", "x"), ("add", ("mul", "x", 0.0), 1.0)),  # x/x = 1 is false at 0
    (("sub", "x", "y"), ("sub", "y", "x")),
    (("mul", "x", 2.0), ("mul", "x", 3.0)),
    # IEEE: each is false at NaN, ±inf or a negative input
    (("exp", ("log", "x")), "x"),                          # x = -1: NaN
    (("log", ("exp", "x")), "x"),                          # x = 800: inf
    (("mul", "s", 0.0), 0.0),                              # s = NaN or inf
    (("add", ("sum", ("mul", "x", 0.0)), 1.0), 1.0),       # x = NaN
    (("sub", ("max", "x"), ("max", "x")), 0.0),            # x = NaN
    (("sub", "s", "s"), 0.0),                              # s = inf
    (("div", "s", "s"), 1.0),                              # s = 0
    (("pow", "x", 0.5), ("sqrt", "x")),                    # x = -inf
    (("mul", ("exp", "x"), ("exp", "y")), ("exp", ("add", "x", "y"))),  # exp(800) * exp(-800)
    (("add", ("mul", "x", "y"), ("mul", "x", "z")), ("mul", "x", ("add", "y", "z"))),  # x = inf, z = 0
]


@pytest.mark.parametrize(("start", "goal"), NOT_PROVED)
def test_not_proved(start: Any, goal: Any) -> None:
    assert prove_equal(term(start), term(goal)) is None


def test_broadcasting_blocks_identity() -> None:
    """s + x*0 has type f64[n]: dropping to `s` (a scalar) would change the type."""
    d = term(("add", "s", ("mul", "x", 0.0)))
    out, report = optimize(d)
    assert out.cod == d.cod and not verify(out) and report.unsound_merges == 0
    assert not report.notes, report.notes


def test_guarded_folding_does_not_crash() -> None:
    for e in [("mul", "x", ("div", 0.0, 0.0)), ("mul", "x", ("log", -1.0)), ("add", "x", ("div", 1.0, 0.0))]:
        d = term(e)
        out, report = optimize(d)
        assert report.unsound_merges == 0 and not verify(out)
        assert not any("failed" in n for n in report.notes), report.notes


def test_signatures_differ() -> None:
    assert prove_equal(term("x"), term("s", {"s": F64, "x": VEC})) is False


def test_different_constants_never_merge() -> None:
    """Herbie's soundness check: no e-class holds two different constants after saturation."""
    d = term(("add", ("mul", ("sub", 3.0, 1.0), "x"), ("mul", ("add", 1.0, 1.0), ("div", "x", 1.0))))
    out, report = optimize(d)
    assert report.unsound_merges == 0
    assert ops(out) < ops(d)
