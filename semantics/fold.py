"""Constant folding, in exactly one place: the value of an elementwise primitive applied to
constants, computed by the primitive's own reference NumPy meaning (its table row) in the dtypes
of the wires, so f32 rounds like f32 and folding can never disagree with the interpreter.

Two callers use it: elaboration (an expression of literals, `2 * pi`, is one literal) and the
e-graph optimiser (rewrite/egraph.py folds every operation whose operands are constants between
rule iterations). Nothing else folds: the rule table has no arithmetic of its own.

>>> fold("add", {}, [1.5, 2.0], ["f64", "f64"], "f64")
3.5
>>> fold("sin", {}, [0.0], ["f32"], "f32")
0.0
>>> fold("div", {}, [1.0, 0.0], ["f64", "f64"], "f64") is None   # not finite: left to run time
True
>>> fold("div", {}, [1.0, 0.0], ["f64", "f64"], "f64", finite=False)
inf
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from semantics.primitives import PRIMITIVES
from semantics.types import NUMPY_DTYPE

Scalar = float | int | bool


def foldable(name: str) -> bool:
    """Whether `name` is a primitive that `fold` evaluates: an elementwise row (a map of scalars,
    so its value on constant operands is exact in the result's dtype)."""
    prim = PRIMITIVES.get(name)
    return prim is not None and prim.elementwise


def fold(name: str, params: Mapping[str, Any], args: Sequence[Scalar], arg_dtypes: Sequence[str],
         out_dtype: str, finite: bool = True) -> Scalar | None:
    """`name(*args)` computed by the primitive table's NumPy meaning, each argument in its dtype and
    the result in `out_dtype`; None when `name` is not elementwise, the call fails, or (with
    `finite`) the result is NaN or infinite (those stay run-time operations, so a NaN is produced
    where the program computes it)."""
    if not foldable(name) or len(args) != len(arg_dtypes):
        return None
    prim = PRIMITIVES[name]
    try:
        with np.errstate(all="ignore"):
            xs = [np.asarray(a, dtype=NUMPY_DTYPE[dt]) for a, dt in zip(args, arg_dtypes)]
            out = np.asarray(prim.impl(np, params, *xs)).astype(NUMPY_DTYPE[out_dtype])
    except (ArithmeticError, TypeError, ValueError):
        return None
    if out.shape != ():
        return None
    value: Scalar = out.item()
    if isinstance(value, float) and finite and not math.isfinite(value):
        return None
    return value
