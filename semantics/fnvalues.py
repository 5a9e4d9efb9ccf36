"""Function values at run time: what a function-typed input is bound to, and how it is called.

The sampling pass (rewrite/sampling.py) leaves two rows that read a function-typed wire, `fn_eval`
and `fn_grad`; the interpreter and the generated NumPy code both run them through `call_function`,
the one place that knows what a function value is:

* a DSL function (`dsl.fn("x => ...")`) or a function-typed output of a compiled definition: an
  object with a `dsl_call(xp, order, points)` method, which computes values (order 0) or
  derivatives (order k: the k-th derivative, or for a point argument f64[d] the gradient with the
  trailing axes of `nabla` applied k times) at an array of points;
* any other Python callable, called on the point arrays (one per argument) and expected to return
  the values, one per point. Its derivatives are not known: asking for one is an error that names it.

>>> import numpy as np
>>> call_function(np, lambda x: x ** 2, 0, (), np.array([1.0, 2.0])).tolist()
[1.0, 4.0]
"""

from __future__ import annotations

from typing import Any

from semantics.errors import InputError


def describe(f: Any) -> str:
    """How an error names a function value: its DSL source, or the Python callable's name."""
    text = getattr(f, "dsl_source", None)
    if text is not None:
        return f"the DSL function {text!r}"
    name = getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or type(f).__name__
    return f"the Python callable '{name}'"


def call_function(xp: Any, f: Any, order: int, shape: tuple[int, ...], *points: Any) -> Any:
    """Values (order 0) or order-th derivatives of the function value `f` at `points` (arrays with
    a leading axis of n points): an array [n, *shape] (checked; a scalar result is broadcast)."""
    n = points[0].shape[0]
    if hasattr(f, "dsl_call"):
        out = f.dsl_call(xp, order, points)
    elif not callable(f):
        raise InputError(f"a function-typed input must be a DSL function (dsl.fn) or a Python callable, "
                         f"got {type(f).__name__}")
    elif order:
        raise InputError(f"cannot differentiate {describe(f)}: nabla of a Python callable (or a derivative "
                         "through one) needs its derivative; pass a DSL function (dsl.fn(\"x => ...\")) instead")
    else:
        try:
            out = f(*points)
        except Exception as err:
            raise InputError(f"{describe(f)} failed on an array of {n} point(s): "
                             f"{type(err).__name__}: {err}") from None
    out = xp.asarray(out)
    want = (n, *shape)
    if out.ndim == 0:
        out = xp.broadcast_to(out, want)
    if tuple(out.shape) != want:
        raise InputError(f"{describe(f)} returned shape {tuple(out.shape)} for {n} point(s); expected {want} "
                         "(one value per point, along the leading axis)")
    return out
