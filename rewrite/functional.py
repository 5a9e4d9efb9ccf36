"""Derivatives through function-typed wires (LANGUAGE.md §7): what the transpose needs beyond the
templates of the table.

Most functional rows transpose by a template of their row (`lift` ↦ `integrate`, `integrate` ↦
`lift`, `nabla` ↦ `-div`). One does not: the transpose of `apply(f, p)` with respect to `f` (the
cotangent of a function evaluated at the points p) depends on what p is, so it reads the diagram:

* p = x (a bound variable, `coord`): the cotangent itself, as a function of f's argument; the
  other bound variables of the domain are integrated out (∫ ct dy: a nonlocal functional).
* p = φ(x), a chain of elementwise rows with literal operands, each one-to-one on the interval x
  ranges over (the row's `inverse` field says so and gives the inverse): u ↦ ct(φ⁻¹(u)) ·
  |dφ⁻¹/du|, the change of variables; |dφ⁻¹/du| = Π 1/|φₖ'| with φₖ' from the row's own JVP rule.
* Either way the result is zero outside the image of the region (F does not depend on f there).
* p does not depend on the bound variables (`f(0.5)`): the derivative is a Dirac delta, not a
  function — a DerivativeError at the application. Anything else: a DerivativeError naming the map.

>>> from semantics.types import scalar
>>> var_region((((0.0, 1.0, 8),), ((2.0, 3.0, 4),)), (scalar("f64"), scalar("f64")), 1)
((2.0, 3.0, 4),)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grammar.errors import Span
from semantics.diagram import Builder, Diagram, Node, make_box
from semantics.errors import DerivativeError
from semantics.primitives import INFIX_LEVEL, PRIMITIVES
from semantics.types import FunType, TensorType, Type, WireType, flatten, product
from semantics.values import Pending, Value, WireVal

Interval = tuple[float, float]
Region = tuple[tuple[float, float, int], ...]


def domain(t: WireType) -> tuple[WireType, ...]:
    """The variables a function-typed wire depends on (its argument, flattened)."""
    assert isinstance(t, FunType), t
    return flatten(t.arg)


def fun(dom: Sequence[WireType], res: Type) -> FunType:
    return FunType(product(tuple(dom)), res)


def constant_function(b: Builder, w: int, t: FunType, span: Span | None = None) -> int:
    """The function of t's variables that is `w` everywhere (the zero function from a zero)."""
    (o,) = b.add(make_box("lift", {"dom_from": (), "dom_to": domain(t), "region": None}), [w], [t], span)
    return o


# --------------------------------------------------------------- the points an application reads


@dataclass(frozen=True)
class Step:
    """One elementwise map on the way from a bound variable to the point: `prim` applied with the
    variable in argument `arg` and literal values for the others (`consts`, by argument name)."""

    node: Node
    arg: str
    consts: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PointMap:
    """p = φ(x_var): the bound variable (its index in the domain, its type and its region, one
    (lo, hi, n) per coordinate, None where unknown) and the chain of maps, innermost first."""

    var: int
    var_type: WireType
    region: Region | None
    steps: tuple[Step, ...]


class NotInvertible(Exception):
    """The point is a function of the bound variables that the table cannot invert (message: why)."""


class Constant(Exception):
    """The point does not depend on the bound variables (message: the point, when it is a literal)."""


def _producers(d: Diagram) -> dict[int, Node]:
    return {w: n for n in d.nodes for w in n.outputs}


def literal_value(w: int, prod: Mapping[int, Node]) -> float | None:
    """The value of a wire that is a literal (through broadcasts, casts and constant functions)."""
    node = prod.get(w)
    while node is not None and node.box.name in ("broadcast_to", "cast", "lift") and len(node.inputs) == 1:
        if node.box.name == "lift" and node.box.param_dict.get("dom_from"):
            return None
        node = prod.get(node.inputs[0])
    if node is None or node.box.name != "const":
        return None
    v = node.box.param_dict.get("value")
    return float(v) if isinstance(v, (int, float)) else None


def _depends(w: int, prod: Mapping[int, Node], seen: dict[int, bool]) -> bool:
    """Does wire w depend on a bound variable (a `coord`)?"""
    stack = [w]
    order: list[int] = []
    while stack:
        x = stack.pop()
        if x in seen:
            continue
        node = prod.get(x)
        if node is None:
            seen[x] = False
            continue
        if node.box.name == "coord":
            seen[x] = True
            continue
        pending = [i for i in node.inputs if i not in seen]
        if pending:
            stack.append(x)
            stack.extend(pending)
            continue
        seen[x] = any(seen[i] for i in node.inputs)
        order.append(x)
    return seen[w]


def point_map(p: int, d: Diagram) -> PointMap:
    """Analyse the point wire p of an application (see the module doc); raises Constant or
    NotInvertible."""
    prod = _producers(d)
    seen: dict[int, bool] = {}
    if not _depends(p, prod, seen):
        v = literal_value(p, prod)
        raise Constant(_fmt(v) if v is not None else "")
    steps: list[Step] = []
    w = p
    while True:
        node = prod[w]
        name = node.box.name
        if name == "coord":
            i = node.box.param_dict["i"]
            dom = node.box.param_dict["dom"]
            region = var_region(node.box.param_dict.get("region"), dom, i)
            return PointMap(i, dom[i], region, tuple(reversed(steps)))
        if name == "lift" and node.box.param_dict.get("dom_from"):
            w = node.inputs[0]  # the outer variables keep their positions (dom_from is a prefix)
            continue
        prim = PRIMITIVES.get(name)
        live = [k for k, i in enumerate(node.inputs) if seen.get(i, _depends(i, prod, seen))]
        if prim is None or not prim.elementwise:
            raise NotInvertible(f"'{name}' is not an elementwise map with a known inverse")
        if len(live) != 1:
            raise NotInvertible(f"{name} reads the variable {len(live)} times")
        args = prim.wire_args
        consts = []
        for k, i in enumerate(node.inputs):
            if k != live[0]:
                v = literal_value(i, prod)
                if v is None:
                    raise NotInvertible(f"{name} (its other operand is not a literal)")
                consts.append((args[k], v))
        steps.append(Step(node, args[live[0]], tuple(consts)))
        w = node.inputs[live[0]]


def var_region(region: Any, dom: Sequence[WireType], i: int) -> Region | None:
    """The (lo, hi, n) of each coordinate of variable i, from a coord box's region: one entry per
    variable (each a tuple of (lo, hi, n) per coordinate, or None where unknown), or flat, one
    (lo, hi, n) per scalar coordinate of every variable."""
    if region is None:
        return None
    if len(region) == len(dom) and all(r is None or (r and isinstance(r[0], tuple)) for r in region):
        return tuple(region[i]) if region[i] is not None else None
    sizes = [t.shape[0].value if isinstance(t, TensorType) and t.rank else 1 for t in dom]
    start = sum(sizes[:i])
    if len(region) != sum(sizes):
        return None
    return tuple(region[start:start + sizes[i]])


def _fmt(v: float) -> str:
    return repr(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(v)


# --------------------------------------------------------------- inverting a chain


def _image(step: Step, iv: Interval) -> Interval:
    """The image of an interval under one (monotone) step, from the row's NumPy meaning."""
    prim = PRIMITIVES[step.node.box.name]
    consts = dict(step.consts)
    out = []
    with np.errstate(all="ignore"):
        for end in iv:
            args = [np.float64(end) if a == step.arg else np.float64(consts[a]) for a in prim.wire_args]
            out.append(float(prim.impl(np, step.node.box.param_dict, *args)))
    lo, hi = min(out), max(out)
    if math.isnan(lo) or math.isnan(hi):
        raise NotInvertible(prim.name)
    return lo, hi


def inverses(pm: PointMap) -> tuple[list[str], list[Interval]]:
    """Each step's inverse (DSL text in `u` and the literal operands) and the interval after it,
    checked against the row's `inverse` field on the interval the step sees."""
    regions = pm.region or ()
    ivs: list[Interval] = []
    texts: list[str] = []
    ncoord = max(1, len(regions))
    for c in range(ncoord):  # vector variables: every coordinate's interval must pass
        iv = (regions[c][0], regions[c][1]) if regions else (-math.inf, math.inf)
        for k, s in enumerate(pm.steps):
            prim = PRIMITIVES[s.node.box.name]
            rule = prim.inverse.get(s.arg)
            text = rule(iv[0], iv[1], dict(s.consts)) if rule is not None else None
            if text is None:
                raise NotInvertible(f"{prim.name} has no inverse on [{_fmt(iv[0])}, {_fmt(iv[1])}]")
            if c == 0:
                texts.append(text)
            elif texts[k] != text:
                raise NotInvertible(f"{prim.name} (different inverses on different coordinates)")
            iv = _image(s, iv)
        ivs.append(iv)
    return texts, ivs


# --------------------------------------------------------------- the transpose of apply w.r.t. f


class _Eval:
    """Elaborates small DSL expressions into a builder (the template machinery), names bound to wires."""

    def __init__(self, b: Builder, span: Span | None):
        from rewrite.templates import TemplateElaborator

        self.el = TemplateElaborator(b, {})
        self.span = span

    def __call__(self, text: str, **env: Value | float) -> WireVal:
        from rewrite.templates import parse_template

        for k, v in env.items():
            self.el.env[k] = self.el.literal(v, self.span) if isinstance(v, (int, float)) else v
        nodes = self.el.b.nodes
        first = len(nodes)
        value = self.el.expr(parse_template(text))
        for k in env:
            del self.el.env[k]
        typed = self.el.typed(value, None)
        # like the table's templates: the nodes belong to the apply being transposed, so they carry
        # its source line (not the `<template>` text they were elaborated from)
        nodes[first:] = [Node(n.box, n.inputs, n.outputs, self.span) for n in nodes[first:]]
        return typed

    def literal(self, v: float) -> Pending:
        return self.el.literal(v, self.span)


def transpose_apply(b: Builder, node: Node, d: Diagram, primal: Mapping[int, int], ct: int,
                    fname: str) -> int:
    """The cotangent of `f` in `apply(f, p...)` given the cotangent `ct` of its output (see the
    module doc). `fname` names f in messages."""
    f_t = d.types[node.inputs[0]]
    assert isinstance(f_t, FunType)
    args = domain(f_t)
    points = node.inputs[1:]
    maps: list[PointMap] = []
    for p in points:
        try:
            maps.append(point_map(p, d))
            inverses(maps[-1])  # raises NotInvertible where a step has no inverse on its interval
        except Constant as err:
            pts = [str(_point_text(q, d)) for q in points]
            at = ", ".join(pts) if all(pts) else "a point that does not depend on the integration variable"
            raise DerivativeError(f"the functional derivative of {fname}({', '.join(x or '…' for x in pts)}) with "
                                  f"respect to {fname} is a Dirac delta at {at}, not a function: {fname} is "
                                  f"evaluated at a fixed point, not at the integration variable", node.span) from err
        except NotInvertible as err:
            raise DerivativeError(f"cannot take the functional derivative of {fname}(φ(x)) with respect to "
                                  f"{fname}: the map φ = {_map_text(p, d)} must be invertible on the domain "
                                  f"with a known inverse ({err})", node.span) from err
    vars_used = [m.var for m in maps]
    if len(set(vars_used)) != len(vars_used):
        raise DerivativeError(f"cannot take the functional derivative of {fname} with respect to {fname}: its "
                              "arguments depend on the same variable (the derivative is concentrated on a "
                              "diagonal, not a function)", node.span)
    ct_t = d.types[node.outputs[0]]
    if not isinstance(ct_t, FunType):
        raise DerivativeError(f"the functional derivative of {fname} at a point is a Dirac delta, not a function",
                              node.span)
    dom = domain(ct_t)
    ev = _Eval(b, node.span)
    identity = all(not m.steps for m in maps) and vars_used == list(range(len(dom)))
    if identity:
        val = WireVal(ct, ct_t)
        us = [WireVal(primal[p], d.types[p]) for p in points]
        ivs = [[(r[0], r[1]) for r in (m.region or ())] for m in maps]
        jac: WireVal | None = None
    else:
        val, us, ivs, jac = _changed_variables(b, ev, d, maps, ct, ct_t, args)
    out = val if jac is None else ev("ct * jac", ct=val, jac=jac)
    for u, iv in zip(us, ivs):
        out = _mask(ev, out, u, iv)
    want = fun(args, ct_t.res)
    if out.type != want:  # a constant factor kept a tensor, or the values need their own shape
        from rewrite.templates import fit

        out = fit(b, out, want, node.span)
    return out.wire


def _changed_variables(b: Builder, ev: _Eval, d: Diagram, maps: Sequence[PointMap], ct: int, ct_t: FunType,
                       args: Sequence[WireType]) -> tuple[WireVal, list[WireVal], list[list[Interval]], WireVal | None]:
    """u ↦ ∫ ct(x) dx_other with x_var(j) = φ_j⁻¹(u_j), over the domain (f's arguments..., other
    variables), and |det dφ⁻¹/du|; returns (value, u_j wires, their intervals, jacobian)."""
    dom = domain(ct_t)
    others = [k for k in range(len(dom)) if k not in {m.var for m in maps}]
    small = tuple(args)
    big = small + tuple(dom[k] for k in others)
    inv = [inverses(m) for m in maps]
    ivs = [iv if m.region else [] for m, (_, iv) in zip(maps, inv)]
    region: tuple[Region, ...] | None = None  # per variable of f's domain, as coord boxes carry it
    if all(m.region for m in maps):
        region = tuple(tuple((lo, hi, r[2]) for (lo, hi), r in zip(iv, m.region or ())) for m, iv in zip(maps, ivs))
    us, xs = [], []
    jac: WireVal | None = None
    for j, (m, (texts, _)) in enumerate(zip(maps, inv)):
        (u,) = b.add(make_box("coord", {"i": j, "dom": small, "region": region}), [], [fun(small, args[j])])
        v = WireVal(u, fun(small, args[j]))
        us.append(v)
        jac_j: WireVal | None = None
        for s, text in zip(reversed(m.steps), reversed(texts)):
            prev = ev(text, u=v, **dict(s.consts))
            factor = ev("1 / abs(g)", g=_slope(ev, s, prev, v))
            jac_j = factor if jac_j is None else ev("a * b", a=jac_j, b=factor)
            v = prev
        if jac_j is not None and _rank(args[j]):  # a point f64[k] maps componentwise: |det| = Π over k
            k = args[j].shape[0].value  # type: ignore[union-attr]
            jac_j = ev("prod(j, axis=-1)", j=jac_j) if _rank(jac_j.type) else ev("j ^ k", j=jac_j, k=k)
        if jac_j is not None:
            jac = jac_j if jac is None else ev("a * b", a=jac, b=jac_j)
        xs.append(v)
    other_regions = tuple(_region_of(d, dom, k) for k in others)
    if others:
        xs = [_lift(b, v, small, big, other_regions) for v in xs]
    points: list[int] = []
    for k in range(len(dom)):
        if k in others:
            big_region = None if region is None else region + other_regions
            (c,) = b.add(make_box("coord", {"i": len(small) + others.index(k), "dom": big, "region": big_region}),
                         [], [fun(big, dom[k])])
            points.append(c)
        else:
            points.append(xs[[m.var for m in maps].index(k)].wire)
    target = fun(big, ct_t.res)
    (val,) = b.add(make_box("apply"), [ct, *points], [target])
    value = WireVal(val, target)
    if others:
        reg = tuple(r for per_var in other_regions for r in per_var)
        (g,) = b.add(make_box("integrate", {"region": reg, "vars": len(others)}), [val], [fun(small, ct_t.res)])
        value = WireVal(g, fun(small, ct_t.res))
    return value, us, ivs, jac


def _lift(b: Builder, v: WireVal, small: tuple[WireType, ...], big: tuple[WireType, ...],
          regions: tuple[Region, ...]) -> WireVal:
    assert isinstance(v.type, FunType)
    t = fun(big, v.type.res)
    (w,) = b.add(make_box("lift", {"dom_from": small, "dom_to": big, "region": regions}), [v.wire], [t])
    return WireVal(w, t)


def _region_of(d: Diagram, dom: Sequence[WireType], k: int) -> Region:
    """The region of variable k of a domain: from a coord box over that domain (whose region lists
    every variable's) or a lift into it that adds variable k."""
    for n in d.nodes:
        params = n.box.param_dict
        if n.box.name == "coord" and tuple(params["dom"]) == tuple(dom):
            r = var_region(params.get("region"), dom, k)
        elif n.box.name == "lift" and tuple(params["dom_to"]) == tuple(dom) and k >= len(params["dom_from"]) \
                and params.get("region") is not None:
            r = tuple(params["region"][k - len(params["dom_from"])])
        else:
            continue
        if r is not None:
            return r
    raise DerivativeError(f"the functional derivative integrates out variable {k + 1} of a function of "
                          f"{len(dom)} variables, but its region is not known")


def _slope(ev: _Eval, s: Step, x: WireVal, out: WireVal) -> WireVal:
    """φ'(x) from the row's JVP template with the tangent 1 (one source of truth for derivatives)."""
    from rewrite.templates import ZERO

    prim = PRIMITIVES[s.node.box.name]
    one = ev.literal(1.0)
    env: dict[str, Any] = {"out": out}
    for a in prim.wire_args:
        if a == s.arg:
            env[a], env["d" + a] = x, one
        else:
            env[a], env["d" + a] = ev.literal(dict(s.consts)[a]), ZERO
    from rewrite.templates import pointwise_view

    types = pointwise_view(prim, {a: x.type for a in prim.wire_args} | {"out": out.type})
    template = prim.jvp_template(types, s.node.box.param_dict)
    assert template is not None
    return ev(template, **env)


def _rank(t: WireType) -> int:
    v = t.res if isinstance(t, FunType) else t
    return v.rank if isinstance(v, TensorType) else 0


def _mask(ev: _Eval, val: WireVal, u: WireVal, ivs: Sequence[Interval]) -> WireVal:
    """val where u lies in the intervals (per coordinate), zero elsewhere."""
    if not ivs:
        return val
    if len(ivs) == 1 and isinstance(u.type, FunType) and not flatten(u.type.res)[0].shape:  # type: ignore[union-attr]
        lo, hi = ivs[0]
        if math.isfinite(lo):
            val = ev("where(u >= lo, v, 0)", u=u, lo=lo, v=val)
        if math.isfinite(hi):
            val = ev("where(u <= hi, v, 0)", u=u, hi=hi, v=val)
        return val
    inside = None
    for c, (lo, hi) in enumerate(ivs):
        uc = ev(f"u[{c}]", u=u)  # pointwise: coordinate c of the point
        for text, bound in (("where(x >= b, 1, 0)", lo), ("where(x <= b, 1, 0)", hi)):
            if math.isfinite(bound):
                m = ev(text, x=uc, b=bound)
                inside = m if inside is None else ev("a * b", a=inside, b=m)
    return val if inside is None else ev("where(m > 0, v, 0)", m=inside, v=val)


def _point_text(p: int, d: Diagram) -> str:
    v = literal_value(p, _producers(d))
    return _fmt(v) if v is not None else ""


def _map_text(p: int, d: Diagram) -> str:
    """The map from the bound variable to the point as DSL text (`x ↦ sin(x)`, `x ↦ g(x)`)."""
    text = _expr_text(p, d, _producers(d), 0)
    return "x ↦ " + (text[1:-1] if text.startswith("(") and text.endswith(")") else text)


def _expr_text(w: int, d: Diagram, prod: Mapping[int, Node], depth: int) -> str:
    node = prod.get(w)
    if node is None:
        return d.param_names()[d.inputs.index(w)] if w in d.inputs else "…"
    name = node.box.name
    v = literal_value(w, prod)
    if v is not None:
        return _fmt(v)
    if depth > 6:
        return "…"
    if name == "coord":
        return "x"
    if name == "lift" and node.box.param_dict.get("dom_from"):
        return _expr_text(node.inputs[0], d, prod, depth)
    args = [_expr_text(i, d, prod, depth + 1) for i in node.inputs]
    if name == "apply":
        return f"{args[0]}({', '.join(args[1:])})"
    prim = PRIMITIVES.get(name)
    if prim is not None and prim.syntax in INFIX_LEVEL and len(args) == 2:
        return f"({args[0]} {prim.syntax} {args[1]})"
    return f"{name}({', '.join(args)})"
