"""Functional rows (LANGUAGE.md §7): function-typed wires as arrays over a continuous index.

A lambda body is elaborated in *lifted mode*: every wire in it is a function of the bound
variables, a `FunType` wire whose argument is the tuple of those variables (the *domain*), and the
ordinary rows act on such wires pointwise (`Primitive.infer`). These rows build and consume them:

* `coord[i, dom, region]` — the i-th bound variable of the domain `dom`, x ↦ x_i;
* `lift[dom_from, dom_to, region]` — a value of an outer scope (a function of `dom_from`, or a plain
  wire when `dom_from` is empty) seen as a function of more variables, constant in the new ones;
* `integrate[region, vars]` — tensor-product Gauss–Legendre quadrature over the trailing `vars`
  variables of the domain (`region` holds `(lo, hi, n)` per scalar coordinate);
* `apply(f, p...)` — a function evaluated at (lifted) points: `rho(x)`, `f(0.5)`, `f(g(x))`;
* `nabla(f)` — the derivative / gradient function (appends the domain axis); `divergence(f)` —
  minus its adjoint (named so because `div` is division).

`rewrite/sampling.py` turns a diagram with these rows into an ordinary array diagram, where the
only rows left that read a function-typed wire are `fn_eval` / `fn_grad` (run time calls of a
function value, `semantics/fnvalues.py`), and quadrature nodes come from `gauss_legendre`.
Regions are box parameters, not part of the type, so a cotangent has its primal's type.

>>> from semantics.types import scalar
>>> f64 = scalar("f64")
>>> str(PRIMITIVES["coord"].infer((), {"i": 0, "dom": (f64,), "region": None})[0])
'f64 -> f64'
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from grammar.errors import DslError
from semantics.errors import DerivativeError, ShapeError, TypeCheckError
from semantics.primitives import PRIMITIVES, ParamSpec, Primitive, register
from semantics.types import Dim, FunType, TensorType, TupleType, WireType, flatten, product

Domain = tuple[WireType, ...]


def fun(dom: Domain, res: WireType) -> FunType:
    """The type of a wire that is a function of the variables `dom` (a lifted wire)."""
    return FunType(product(dom), res)


def domain(t: FunType) -> Domain:
    """The variables a function-typed wire depends on."""
    return flatten(t.arg)


def var_size(t: WireType) -> int:
    """How many scalar coordinates a bound variable has: f64 → 1, f64[k] → k."""
    if not isinstance(t, TensorType) or t.dtype not in ("f32", "f64") or t.rank > 1 \
            or (t.rank == 1 and not t.shape[0].is_const):
        raise TypeCheckError(f"a bound variable must be a float scalar or a point f64[k] with a constant k, got {t}")
    return t.shape[0].value if t.rank else 1


def region_points(region: tuple[tuple[float, float, int], ...]) -> int:
    total = 1
    for _, _, n in region:
        total *= n
    return total


def _not_lowered(name: str) -> Any:
    def impl(xp: Any, params: Mapping[str, Any], *args: Any) -> Any:
        raise DslError(f"'{name}' works on function-typed wires; run the diagram through the sampling "
                       "pass (rewrite.sampling), as compile() does")

    return impl


def _codomain(t: WireType, prim: str) -> TensorType:
    if not isinstance(t, FunType):
        raise TypeCheckError(f"{prim} expects a function, got {t}")
    if not isinstance(t.res, TensorType):
        raise TypeCheckError(f"{prim}: functions returning {t.res} are not supported")
    return t.res


# ------------------------------------------------------------------ type rules


def _coord_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    dom, i = params["dom"], params["i"]
    if not 0 <= i < len(dom):
        raise TypeCheckError(f"coord: variable {i} of a domain of {len(dom)}")
    return (fun(dom, dom[i]),)


def _lift_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    (t,) = ts
    src, dst = tuple(params["dom_from"]), tuple(params["dom_to"])
    if dst[:len(src)] != src or len(dst) <= len(src):
        raise TypeCheckError(f"lift: ({', '.join(map(str, src))}) is not a prefix of ({', '.join(map(str, dst))})")
    if not src:
        if not isinstance(t, TensorType):
            raise TypeCheckError(f"lift of a constant expects an array, got {t}")
        return (fun(dst, t),)
    if not isinstance(t, FunType) or domain(t) != src or isinstance(t.res, TupleType):
        raise TypeCheckError(f"lift expects a function of ({', '.join(map(str, src))}), got {t}")
    return (fun(dst, t.res),)


def _integrate_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    (t,) = ts
    res = _codomain(t, "integrate")
    dom, k, region = domain(t), params["vars"], params["region"]  # type: ignore[arg-type]
    if not 1 <= k <= len(dom):
        raise TypeCheckError(f"integrate over {k} variable(s) of a function of {len(dom)}")
    inner = dom[len(dom) - k:]
    size = sum(var_size(v) for v in inner)
    if size != len(region):
        raise ShapeError(f"integrate: the region has {len(region)} dimension(s) but the integrand is a "
                         f"function of {size} coordinate(s) ({', '.join(map(str, inner))})")
    for _, _, n in region:
        if not isinstance(n, int) or n < 1:
            raise TypeCheckError(f"integrate: n must be a positive integer, got {n}")
    if res.dtype not in ("f32", "f64"):
        raise TypeCheckError(f"integrate expects a float integrand, got {res}")
    outer = dom[:len(dom) - k]
    return (fun(outer, res) if outer else res,)


def _apply_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    f, points = ts[0], ts[1:]
    res = _codomain(f, "apply")
    args = domain(f)  # type: ignore[arg-type]
    if len(points) != len(args):
        raise TypeCheckError(f"the function {f} takes {len(args)} argument(s), got {len(points)}")
    doms = set()
    for i, (p, a) in enumerate(zip(points, args)):
        value = p.res if isinstance(p, FunType) else p
        if isinstance(p, FunType):
            doms.add(domain(p))
        if value != a:
            raise TypeCheckError(f"argument {i + 1} of the function {f} must be {a}, got {value}")
    if len(doms) > 1:
        raise TypeCheckError("the arguments of an application are functions of different variables")
    return (fun(doms.pop(), res) if doms else res,)


def _grad_shape(f: WireType, prim: str, order: int = 1) -> tuple[Domain, TensorType, int]:
    res = _codomain(f, prim)
    dom = domain(f)  # type: ignore[arg-type]
    if len(dom) != 1:
        raise TypeCheckError(f"{prim} needs a function of one variable (a scalar or a point f64[k]), got {f}")
    k = var_size(dom[0])
    return dom, res, k


def _nabla_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    dom, res, k = _grad_shape(ts[0], "nabla")
    if res.dtype not in ("f32", "f64"):
        raise TypeCheckError(f"nabla expects a float function, got {ts[0]}")
    shape = res.shape if dom[0].rank == 0 else res.shape + (Dim.const(k),)  # type: ignore[union-attr]
    return (fun(dom, res.with_shape(shape)),)


def _div_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    dom, res, k = _grad_shape(ts[0], "divergence")
    if dom[0].rank == 0:  # type: ignore[union-attr]
        return (fun(dom, res),)
    if not res.shape or res.shape[-1] != Dim.const(k):
        raise ShapeError(f"divergence of a function of f64[{k}] needs values with a trailing axis of {k}, got {res}")
    return (fun(dom, res.with_shape(res.shape[:-1])),)


def _sampled_points(ts: tuple[WireType, ...], prim: str) -> tuple[FunType, TensorType, Dim]:
    f, points = ts[0], ts[1:]
    if not isinstance(f, FunType):
        raise TypeCheckError(f"{prim} expects a function first, got {f}")
    args = domain(f)
    if len(points) != len(args):
        raise TypeCheckError(f"{prim}: the function {f} takes {len(args)} argument(s), got {len(points)}")
    n = None
    for p, a in zip(points, args):
        if not isinstance(p, TensorType) or not isinstance(a, TensorType) or p.shape[1:] != a.shape \
                or p.dtype != a.dtype or not p.shape:
            raise TypeCheckError(f"{prim}: points {p} do not fit the argument {a} of {f} (a leading axis of points)")
        if n is not None and p.shape[0] != n:
            raise ShapeError(f"{prim}: point arrays of {n} and {p.shape[0]} points")
        n = p.shape[0]
    assert n is not None
    return f, _codomain(f, prim), n


def _fn_eval_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    _, res, n = _sampled_points(ts, "fn_eval")
    return (_checked(res.with_shape((n, *res.shape)), params, "fn_eval"),)


def _checked(out: TensorType, params: Mapping[str, Any], prim: str) -> TensorType:
    # `shape` (the value shape per point, what the run time call checks) must agree with the type
    if tuple(params.get("shape", ())) != out.shape[1:]:
        raise ShapeError(f"{prim}: shape parameter {params.get('shape')} but the values are {out.with_shape(out.shape[1:])}")
    return out


def _fn_grad_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    f, res, n = _sampled_points(ts, "fn_grad")
    dom, _, k = _grad_shape(f, "fn_grad")
    order = params["order"]
    if not isinstance(order, int) or order < 1:
        raise TypeCheckError(f"fn_grad: order must be a positive integer, got {order}")
    extra = () if dom[0].rank == 0 else (Dim.const(k),) * order  # type: ignore[union-attr]
    return (_checked(res.with_shape((n, *res.shape, *extra)), params, "fn_grad"),)


def _gauss_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    region, part, axis = params["region"], params["part"], params["axis"]
    if part not in ("nodes", "weights") or not 0 <= axis < len(region):
        raise TypeCheckError(f"gauss_legendre: part must be nodes or weights and axis < {len(region)}")
    return (TensorType("f64", (Dim.const(region_points(region)),)),)


# ------------------------------------------------------------------ quadrature


@lru_cache(maxsize=256)
def gauss_legendre_grid(region: tuple[tuple[float, float, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """The tensor-product Gauss–Legendre rule of a box: (nodes [M, d], weights [M]), M = Π n_i,
    computed once per region and cached (read-only arrays).

    >>> x, w = gauss_legendre_grid(((0.0, 2.0, 3),))
    >>> round(float(w.sum()), 12), round(float((w * x[:, 0] ** 5).sum()), 12)
    (2.0, 10.666666666667)
    """
    axes, weights = [], []
    for lo, hi, n in region:
        t, w = np.polynomial.legendre.leggauss(n)
        axes.append(0.5 * (hi - lo) * t + 0.5 * (hi + lo))
        weights.append(0.5 * (hi - lo) * w)
    grid = np.meshgrid(*axes, indexing="ij")
    nodes = np.stack([g.ravel() for g in grid], axis=-1)
    wgrid = np.meshgrid(*weights, indexing="ij")
    w = np.prod(np.stack([g.ravel() for g in wgrid], axis=-1), axis=-1)
    nodes.setflags(write=False)
    w.setflags(write=False)
    return nodes, w


def gauss_legendre(xp: Any, region: tuple[tuple[float, float, int], ...], part: str, axis: int) -> Any:
    """One coordinate of the nodes, or the weights, of the cached rule, as an array of `xp`."""
    nodes, w = gauss_legendre_grid(tuple((float(a), float(b), int(n)) for a, b, n in region))
    return xp.asarray(nodes[:, axis] if part == "nodes" else w)


def _gauss_impl(xp: Any, params: Mapping[str, Any]) -> Any:
    return gauss_legendre(xp, params["region"], params["part"], params["axis"])


def _fn_eval_impl(xp: Any, params: Mapping[str, Any], f: Any, *points: Any) -> Any:
    from semantics.fnvalues import call_function

    return call_function(xp, f, 0, params["shape"], *points)


def _fn_grad_impl(xp: Any, params: Mapping[str, Any], f: Any, *points: Any) -> Any:
    from semantics.fnvalues import call_function

    return call_function(xp, f, params["order"], params["shape"], *points)


def _sampled_jvp(types: Mapping[str, WireType], params: Mapping[str, Any], index: int) -> str:
    # The sampling pass differentiates run time calls itself (nabla of a sampled sub-program: the
    # derivative of a call is a call of the derivative); derivatives are taken on lifted diagrams.
    raise DerivativeError("differentiate the functional (lifted) diagram, not its sampled array form")


def _lift_transpose(types: Mapping[str, WireType], params: Mapping[str, Any], index: int) -> str:
    """The new variables are integrated out: ⟨lift x, ct⟩ = ∫∫ x(a) ct(a, b) db da = ⟨x, ∫ ct db⟩ (this
    is what makes nonlocal functionals ∫∫ f(x) K(x, y) f(y) work)."""
    if params.get("region") is None:
        raise DerivativeError("the derivative integrates a lifted value over its new variables, but their "
                              "region is not known")
    flat = tuple(c for var in params["region"] for c in var)  # integrate's region: one (lo, hi, n) per coordinate
    return f"integrate(ct, region={flat!r}, vars={len(params['dom_to']) - len(params['dom_from'])})"


def _integrate_transpose(types: Mapping[str, WireType], params: Mapping[str, Any], index: int) -> str:
    """⟨∫ g dy, ct⟩ = ⟨g, lift ct⟩: the cotangent as a function of the integrand's variables, constant in
    the integrated ones. A lift carries one region per new variable (integrate's is flat, one
    (lo, hi, n) per scalar coordinate), so that the lift transposes back to this integral.

    >>> from semantics.types import scalar
    >>> p3 = TensorType("f64", (Dim.const(3),))
    >>> t = fun((scalar("f64"), p3), scalar("f64"))
    >>> _integrate_transpose({"g": t}, {"region": ((0.0, 1.0, 4),) * 3, "vars": 1}, 0)
    'lift(ct, dom_from=dom_out, dom_to=dom_g, region=(((0.0, 1.0, 4), (0.0, 1.0, 4), (0.0, 1.0, 4)),))'
    """
    g = types["g"]
    assert isinstance(g, FunType)
    dom = domain(g)
    flat, per_var = tuple(params["region"]), []
    for v in dom[len(dom) - params["vars"]:]:
        per_var.append(flat[:var_size(v)])
        flat = flat[var_size(v):]
    return f"lift(ct, dom_from=dom_out, dom_to=dom_g, region={tuple(per_var)!r})"


def _apply_jvp(types: Mapping[str, WireType], params: Mapping[str, Any], index: int) -> str:
    """d f(p) = (df)(p) + ∇f(p) · dp, the chain rule (a point of f64[k] contracts the gradient axis).
    Its transpose w.r.t. f depends on the points (rewrite/functional.py: change of variables)."""
    points = [k for k in types if k.startswith("p") and k[1:].isdigit()]
    if len(points) != 1:  # f of several variables: no row for partials (rewrite/jvp.py refuses moving points)
        return f"apply(df, {', '.join(points)})"
    p = types[points[0]]
    value = p.res if isinstance(p, FunType) else p
    chain = "apply(nabla(f), p0) * dp0"
    return f"apply(df, p0) + {chain if getattr(value, 'rank', 0) == 0 else f'sum({chain}, axis=-1)'}"


def _same_row(name: str) -> Any:
    """The batching rule of a linear functional row: the row itself (the batch axis leads the values,
    which these rows carry along without reading them)."""

    def rule(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> str:
        row = PRIMITIVES[name]
        wires = [a for a in row.wire_args if not a.startswith("*")]
        wires += sorted((k for k in types if k.startswith("p") and k[1:].isdigit()), key=lambda k: int(k[1:]))
        return f"{name}({', '.join(wires + [f'{p.name}={p.name}' for p in row.params])})"

    return rule


_ANY = "any"
_LIFTED = dict(family="functional", sympy=None, view=False)

register(
    Primitive("coord", ("i", "dom", "region"), _coord_rule, _not_lowered("coord"),
              params=(ParamSpec("i", "int"), ParamSpec("dom", _ANY), ParamSpec("region", _ANY, None)),
              jvp="0", cost="free", doc="the i-th bound variable of a lambda, x ↦ x_i", **_LIFTED),  # type: ignore[arg-type]
    Primitive("lift", ("x", "dom_from", "dom_to", "region"), _lift_rule, _not_lowered("lift"),
              params=(ParamSpec("dom_from", _ANY), ParamSpec("dom_to", _ANY), ParamSpec("region", _ANY, None)),
              jvp="lift(dx, dom_from=dom_from, dom_to=dom_to, region=region)", transpose={"x": _lift_transpose},
              cost="movement",
              doc="a value of an outer scope as a function of more variables (constant in the new ones)",
              batch=_same_row("lift"), **_LIFTED),  # type: ignore[arg-type]
    Primitive("integrate", ("g", "region", "vars"), _integrate_rule, _not_lowered("integrate"),
              params=(ParamSpec("region", _ANY), ParamSpec("vars", "int", 1)),
              jvp="integrate(dg, region=region, vars=vars)",
              transpose={"g": _integrate_transpose}, cost="reduction",
              doc="tensor-product Gauss–Legendre quadrature over the trailing `vars` variables",
              batch=_same_row("integrate"), **_LIFTED),  # type: ignore[arg-type]
    Primitive("apply", ("f", "*p"), _apply_rule, _not_lowered("apply"),
              jvp=_apply_jvp, transpose={"f": "(by rewrite/functional.py: it reads the points)"}, cost="cheap",
              doc="a function evaluated at (lifted) points: rho(x), f(0.5), f(g(x))", batch=_same_row("apply"),
              **_LIFTED),  # type: ignore[arg-type]
    Primitive("nabla", ("f",), _nabla_rule, _not_lowered("nabla"), jvp="nabla(df)",
              transpose={"f": "-divergence(ct)"}, cost="medium",
              doc="the derivative / gradient function (appends the domain axis for f64[k] -> T)",
              batch=_same_row("nabla"), **_LIFTED),  # type: ignore[arg-type]
    Primitive("divergence", ("f",), _div_rule, _not_lowered("divergence"), jvp="divergence(df)",
              transpose={"f": "-nabla(ct)"}, cost="medium",
              doc="the divergence over the trailing axis (the derivative in 1-D)", batch=_same_row("divergence"),
              **_LIFTED),  # type: ignore[arg-type]
    Primitive("fn_eval", ("f", "*p", "shape"), _fn_eval_rule, _fn_eval_impl, "functional", jvp=_sampled_jvp,
              params=(ParamSpec("shape", "shape", ()),),
              cost="transcendental",
              sympy=None, view=False,
              doc="a function value called on an array of points (leading axis): the run time call"),
    Primitive("fn_grad", ("f", "*p", "order", "shape"), _fn_grad_rule, _fn_grad_impl, "functional",
              params=(ParamSpec("order", "int", 1), ParamSpec("shape", "shape", ())), jvp=_sampled_jvp,
              cost="transcendental", sympy=None, view=False,
              doc="the order-th derivative (gradient) of a function value on an array of points"),
    Primitive("gauss_legendre", ("region", "part", "axis"), _gauss_rule, _gauss_impl, "constructor",
              params=(ParamSpec("region", _ANY), ParamSpec("part", "str", "nodes"), ParamSpec("axis", "int", 0)),
              # view: the result is the cached, read-only rule, never a buffer the program may overwrite
              jvp="0", cost="movement", sympy=None, view=True,
              doc="one coordinate of the nodes (or the weights) of a tensor-product Gauss–Legendre rule (cached)"),
)

# Rows that read or build function-typed wires and are removed by the sampling pass.
LIFTED_ROWS = ("coord", "lift", "integrate", "apply", "nabla", "divergence")
assert all(name in PRIMITIVES for name in LIFTED_ROWS)
