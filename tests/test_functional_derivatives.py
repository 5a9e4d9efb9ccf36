"""Functional derivatives (LANGUAGE.md §7): δF/δf against oracles.

* The `inverse` field of the elementwise rows (the table of known inverses the transpose of
  `f(φ(x))` uses) inverts the row's NumPy meaning on every interval where it claims to.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewrite.templates import TemplateElaborator, parse_template
from semantics.diagram import Builder
from semantics.interpret import interpret
from semantics.primitives import PRIMITIVES
from semantics.types import Dim, TensorType
from semantics.values import WireVal

INTERVALS = ((0.1, 0.9), (-0.9, -0.1), (0.2, 3.0), (-1.2, 1.2))
CONSTANTS = (2.5, -0.75)


def _inverse_cases() -> list[tuple[str, str, tuple[float, float], dict[str, float]]]:
    cases = []
    for name, prim in sorted(PRIMITIVES.items()):
        for arg, rule in sorted(prim.inverse.items()):
            others = [a for a in prim.wire_args if a != arg]
            for lo, hi in INTERVALS:
                for c in CONSTANTS if others else (None,):
                    consts = {a: c for a in others}
                    if rule(lo, hi, consts) is not None:  # type: ignore[arg-type]
                        cases.append((name, arg, (lo, hi), consts))
    return cases


def _evaluate(text: str, u: np.ndarray, consts: dict[str, float]) -> np.ndarray:
    """The DSL expression `text` of `u` (and literal constants) on the points u."""
    t = TensorType("f64", (Dim.const(len(u)),))
    b = Builder()
    w = b.input(t)
    el = TemplateElaborator(b, {})
    el.env["u"] = WireVal(w, t)
    for k, v in consts.items():
        el.env[k] = el.literal(v, None)
    out = el.typed(el.expr(parse_template(text)), "f64")
    return np.broadcast_to(interpret(b.build([out.wire]), u), u.shape)


@pytest.mark.parametrize("name, arg, interval, consts", _inverse_cases(),
                         ids=lambda v: str(v) if not isinstance(v, dict) else ",".join(f"{k}={x}" for k, x in v.items()))
def test_inverse_field_inverts_the_row_on_its_interval(name, arg, interval, consts):
    prim = PRIMITIVES[name]
    lo, hi = interval
    x = np.linspace(lo, hi, 7)
    args = [x if a == arg else np.full_like(x, consts[a]) for a in prim.wire_args]
    with np.errstate(all="ignore"):
        u = prim.impl(np, {}, *args)
    assert np.all(np.isfinite(u)), f"{name} claims an inverse on {interval} where it is not finite"
    text = prim.inverse[arg](lo, hi, consts)
    assert text is not None
    np.testing.assert_allclose(_evaluate(text, u, consts), x, rtol=1e-9, atol=1e-9)


def test_every_one_to_one_elementwise_row_has_an_inverse():
    """The rows the design lists (affine maps, x², √, exp, log, tanh, ...) are in the table."""
    want = {"neg", "exp", "log", "sqrt", "square", "tanh", "add", "sub", "mul", "div", "pow", "sin", "arctan"}
    assert want <= {n for n, p in PRIMITIVES.items() if p.inverse}
    assert PRIMITIVES["square"].inverse["x"](-1.0, 1.0, {}) is None  # not one-to-one across 0
    assert PRIMITIVES["sin"].inverse["x"](0.0, math.pi, {}) is None
