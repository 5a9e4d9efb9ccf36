"""The derivative operators of LANGUAGE.md §6 as functions Diagram -> Diagram.

Reverse mode is linearize-then-transpose; `hessian` is forward-over-reverse (the JVP of the
gradient, batched over a basis of tangents); `jacobian` is the batched JVP. Every result is
cleaned (CSE, dead code) and then optimised in the e-graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

from rewrite.cleanup import tidy
from rewrite.function_forms import assumptions_of, beta_reduce, expand_derivatives, release_output_variables
from rewrite.jvp import linearize_diagram
from rewrite.simplify import Step, simplify_diagram
from rewrite.tangents import is_float
from rewrite.transpose import transpose
from semantics.diagram import Diagram, make_box
from semantics.errors import DerivativeError
from semantics.types import TensorType, type_str

Wrt = Union[Sequence[Union[int, str]], int, str, None]  # parameters by index or name; None = all float ones
Trace = Union[list[Step], None]  # collects the passes for `dsl show --steps`


def default_wrt(d: Diagram, wrt: Wrt) -> tuple[int, ...]:
    """Parameter indices to differentiate: given by index or by name; default every float parameter."""
    if wrt is None:
        return tuple(i for i, t in enumerate(d.dom) if is_float(t))
    names = list(d.param_names())
    out = []
    for w in (wrt,) if isinstance(wrt, (int, str)) else wrt:
        if isinstance(w, str):
            if w not in names:
                raise DerivativeError(f"'{d.name or 'diagram'}' has no parameter '{w}' (parameters: {', '.join(names)})")
            w = names.index(w)
        if not 0 <= w < len(d.dom) or not is_float(d.dom[w]):
            raise DerivativeError(f"cannot differentiate with respect to parameter {w} of type "
                                  f"{d.dom[w] if 0 <= w < len(d.dom) else '?'}; only float tensors and "
                                  "functions with float values have derivatives")
        out.append(w)
    return tuple(out)


def _tensor_param(d: Diagram, i: int, op: str) -> None:
    """hessian / jacobian batch over a basis of the parameter: a function has none (no finite basis)."""
    if not isinstance(d.dom[i], TensorType):
        name = d.param_names()[i]
        raise DerivativeError(f"{op} needs a tensor parameter, but '{name}' is the function {d.dom[i]}; for a "
                              f"second variation apply jvp to grad(..., wrt={name}) in a direction")


def _scalar_out(d: Diagram, op: str) -> TensorType:
    if len(d.cod) != 1 or not isinstance(d.cod[0], TensorType) or d.cod[0].shape or not is_float(d.cod[0]):
        raise DerivativeError(f"{op} needs a scalar float output, got {type_str(d.cod)}; use vjp for "
                              "non-scalar outputs")
    return d.cod[0]


def _finish(d: Diagram, name: str, names: Sequence[str], optimize: bool, trace: list[Step] | None,
            fast_math: bool = False) -> Diagram:
    if trace is not None:
        trace.append(Step("transpose (reverse sweep) and seeding", d.stats()["ops"]))
    tidied = tidy(d)
    reduced = expand_derivatives(beta_reduce(tidied))
    # tidy again only what the function forms changed (tidy of a tidy diagram is the same diagram)
    out = release_output_variables(reduced if reduced is tidied else tidy(reduced))
    if trace is not None:
        trace.append(Step("CSE + dead code", out.stats()["ops"]))
    if optimize:
        out = simplify_diagram(out, trace, fast_math=fast_math)
    return out.with_names(name, names).assuming(*d.assumptions, *assumptions_of(d))


def vjp(d: Diagram, wrt: Wrt = None, optimize: bool = True, trace: Trace = None,
        fast_math: bool = False) -> Diagram:
    """`(x..., ct_y...) -> ct_x...` for the parameters in wrt."""
    wrt = default_wrt(d, wrt)
    back = transpose(linearize_diagram(d, wrt, trace), primal_outputs=False)
    names = d.param_names() + tuple("ct" if len(d.cod) == 1 else f"ct{i}" for i in range(len(d.cod)))
    return _finish(_unnamed(back), f"vjp_{d.name}", names, optimize, trace, fast_math)


def _seeded(d: Diagram, wrt: tuple[int, ...], keep_value: bool, trace: Trace = None) -> Diagram:
    y = _scalar_out(d, "grad")
    back = transpose(linearize_diagram(d, wrt, trace), seeds=(make_box("const", {"value": 1.0, "dtype": y.dtype}),),
                     primal_outputs=keep_value)
    return _unnamed(back)


def _unnamed(d: Diagram) -> Diagram:
    """`d` without names (the caller names the result), sharing d's nodes."""
    return Diagram(d.types, d.inputs, d.nodes, d.outputs)


def grad(d: Diagram, wrt: Wrt = None, optimize: bool = True, trace: Trace = None,
        fast_math: bool = False) -> Diagram:
    """The gradient of a scalar-valued diagram: `x... -> dy/dx_wrt...`."""
    wrt = default_wrt(d, wrt)
    return _finish(_seeded(d, wrt, False, trace), f"grad_{d.name}", d.param_names(), optimize, trace, fast_math)


def value_and_grad(d: Diagram, wrt: Wrt = None, optimize: bool = True, trace: Trace = None,
        fast_math: bool = False) -> Diagram:
    wrt = default_wrt(d, wrt)
    return _finish(_seeded(d, wrt, True, trace), f"value_and_grad_{d.name}", d.param_names(), optimize, trace, fast_math)


def jvp(d: Diagram, wrt: Wrt = None, optimize: bool = True, trace: Trace = None,
        fast_math: bool = False) -> Diagram:
    """`(x..., dx_wrt...) -> (y..., dy...)`."""
    wrt = default_wrt(d, wrt)
    lin = linearize_diagram(d, wrt, trace)
    return _finish(lin.diagram, f"jvp_{d.name}", lin.diagram.param_names(), optimize, trace, fast_math)


def jacobian(d: Diagram, wrt: Wrt = None, optimize: bool = True, trace: Trace = None,
        fast_math: bool = False) -> Diagram:
    """`x... -> J` with shape(y) + shape(x_wrt) for a single output and a single wrt parameter."""
    from rewrite.batching import batched_jacobian

    wrt = default_wrt(d, wrt)
    if len(wrt) != 1 or len(d.cod) != 1:
        raise DerivativeError("jacobian needs one output and exactly one wrt parameter")
    _tensor_param(d, wrt[0], "jacobian")
    return _finish(batched_jacobian(d, wrt[0]), f"jacobian_{d.name}", d.param_names(), optimize, trace, fast_math)


def hessian(d: Diagram, wrt: Wrt = None, optimize: bool = True, trace: Trace = None,
        fast_math: bool = False) -> Diagram:
    """Forward-over-reverse: the Jacobian of the gradient; shape(x) + shape(x)."""
    from rewrite.batching import batched_jacobian

    wrt = default_wrt(d, wrt)
    if len(wrt) != 1:
        raise DerivativeError("hessian needs exactly one wrt parameter")
    _tensor_param(d, wrt[0], "hessian")
    g = tidy(_seeded(d, wrt, False))
    return _finish(batched_jacobian(g, wrt[0]), f"hessian_{d.name}", d.param_names(), optimize, trace, fast_math)


def simplify(d: Diagram, trace: list[Step] | None = None, fast_math: bool = False) -> Diagram:
    """The cheapest equivalent diagram the e-graph finds (same signature). By default every rewrite
    keeps IEEE results (NaN, ±inf, ±0); `fast_math=True` also allows those exact for real numbers
    only (`x * 0 -> 0`, `exp(log x) -> x`, factoring)."""
    return simplify_diagram(tidy(d), trace, fast_math=fast_math).with_names(d.name, d.param_names())


OPERATORS = {"grad": grad, "value_and_grad": value_and_grad, "vjp": vjp, "jvp": jvp,
             "hessian": hessian, "jacobian": jacobian}


def derive(op: str, d: Diagram, wrt: Wrt = None, optimize: bool = True, trace: Trace = None,
           fast_math: bool = False) -> Diagram:
    """Apply a derived-definition operator by name (what `name = op(f, wrt=...)` does)."""
    if op == "simplify":
        return simplify(d, trace, fast_math).assuming(*d.assumptions)
    if op not in OPERATORS:
        raise DerivativeError(f"unknown operator '{op}'")
    return OPERATORS[op](d, wrt, optimize, trace, fast_math).assuming(*d.assumptions)  # what d's derivation assumed
