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
* p = stack((φ₀(s₀), ..., φₖ₋₁(sₖ₋₁))), a point f64[k] whose coordinates are such chains of distinct
  scalar variables or coordinates `x[c]` (`k(stack((u, v)))` over (u, v)): the same, coordinate by
  coordinate; the Jacobian is diagonal, |det dφ⁻¹/du| = Π_i |dφᵢ⁻¹/duᵢ|. (rewrite/point_maps.py
  analyses the points.)
* Either way the result is zero outside the image of the region (F does not depend on f there).
* p does not depend on the bound variables (`f(0.5)`): the derivative is a Dirac delta, not a
  function — a DerivativeError at the application. Anything else: a DerivativeError naming the map.

"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grammar.errors import Span
from rewrite.point_maps import (
    Constant,
    Interval,
    NotInvertible,
    Point,
    PointMap,
    Region,
    StackedPoint,
    Step,
    check,
    inverses,
    map_text,
    point_map,
    point_text,
    sources,
    var_region,
)
from semantics.diagram import Builder, Diagram, Node, make_box
from semantics.errors import DerivativeError
from semantics.primitives import PRIMITIVES
from semantics.types import FunType, TensorType, Type, WireType, flatten, product
from semantics.values import Pending, Value, WireVal


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
    maps = [_point(p, d, node, points, fname) for p in points]
    ct_t = d.types[node.outputs[0]]
    if not isinstance(ct_t, FunType):
        raise DerivativeError(f"the functional derivative of {fname} at a point is a Dirac delta, not a function",
                              node.span)
    dom = domain(ct_t)
    _check_sources(maps, dom, fname, node)
    ev = _Eval(b, node.span)
    identity = all(isinstance(m, PointMap) and not m.steps for m in maps) \
        and [m.var for m in maps] == list(range(len(dom)))  # type: ignore[union-attr]
    if identity:
        val = WireVal(ct, ct_t)
        us = [WireVal(primal[p], d.types[p]) for p in points]
        ivs = [[(r[0], r[1]) for r in (m.region or ())] for m in maps]  # type: ignore[union-attr]
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


def _point(p: int, d: Diagram, node: Node, points: Sequence[int], fname: str) -> Point:
    """The analysis of one point of the application, or the DerivativeError that says why not."""
    try:
        m = point_map(p, d)
        check(m)  # raises NotInvertible where a step has no inverse on its interval
        return m
    except Constant as err:
        pts = [str(point_text(q, d)) for q in points]
        at = ", ".join(pts) if all(pts) else "a point that does not depend on the integration variable"
        raise DerivativeError(f"the functional derivative of {fname}({', '.join(x or '…' for x in pts)}) with "
                              f"respect to {fname} is a Dirac delta at {at}, not a function: {fname} is "
                              f"evaluated at a fixed point, not at the integration variable", node.span) from err
    except NotInvertible as err:
        point_t = d.types[p]
        value = point_t.res if isinstance(point_t, FunType) else point_t
        vector = isinstance(value, TensorType) and value.rank == 1
        hint = (" Write each coordinate of the point as an invertible elementwise map of an integration variable "
                "of its own (stack((2 * x + 1, exp(y))) over (x, y), or p[1], p[0] of a point p), or give "
                f"{fname} one argument per coordinate ({fname}: (f64, f64) -> f64, {fname}(x, y))") if vector else ""
        raise DerivativeError(f"cannot take the functional derivative of {fname}(φ(x)) with respect to "
                              f"{fname}: the map φ = {map_text(p, d, node.span)} must be invertible on the domain "
                              f"with a known inverse ({err}).{hint}", node.span) from err


def _check_sources(maps: Sequence[Point], dom: Sequence[WireType], fname: str, node: Node) -> None:
    """The points read distinct variables (a point variable read by coordinates: each one once, all
    of them): else the derivative is concentrated on a lower-dimensional set, not a function."""
    by_var: dict[int, list[int | None]] = {}
    for m in maps:
        for var, c in sources(m):
            by_var.setdefault(var, []).append(c)
    for var, coords in by_var.items():
        if len(coords) > 1 and (None in coords or len(set(coords)) != len(coords)):
            raise DerivativeError(f"cannot take the functional derivative of {fname} with respect to {fname}: its "
                                  "arguments depend on the same variable (the derivative is concentrated on a "
                                  "diagonal, not a function)", node.span)
        t = dom[var]
        k = t.shape[0].value if isinstance(t, TensorType) and t.rank == 1 and t.shape[0].is_const else 1
        if None not in coords and sorted(coords) != list(range(k)):  # type: ignore[type-var]
            missing = sorted(set(range(k)) - set(coords))  # type: ignore[arg-type]
            raise DerivativeError(f"cannot take the functional derivative of {fname} with respect to {fname}: its "
                                  f"point reads coordinate(s) {sorted(coords)} of a variable {t} but not "  # type: ignore[type-var]
                                  f"{missing}; read every coordinate of it once (or integrate over a variable "
                                  "per coordinate)", node.span)


def _changed_variables(b: Builder, ev: _Eval, d: Diagram, maps: Sequence[Point], ct: int, ct_t: FunType,
                       args: Sequence[WireType]) -> tuple[WireVal, list[WireVal], list[list[Interval]], WireVal | None]:
    """u ↦ ∫ ct(x) dx_other with the variables x read by the points x = φ⁻¹(u) (u: f's arguments),
    over the domain (f's arguments..., other variables), and |det dφ⁻¹/du|; returns (value, u_j
    wires, their intervals, jacobian)."""
    dom = domain(ct_t)
    read = {var for m in maps for var, _ in sources(m)}
    others = [k for k in range(len(dom)) if k not in read]
    small = tuple(args)
    big = small + tuple(dom[k] for k in others)
    parts = [_Inverted.of(m) for m in maps]
    region: tuple[Region, ...] | None = None  # per variable of f's domain, as coord boxes carry it
    if all(p.region is not None for p in parts):
        region = tuple(p.region for p in parts)  # type: ignore[misc]
    other_regions = tuple(_region_of(d, dom, k) for k in others)
    us: list[WireVal] = []
    values: dict[tuple[int, int | None], WireVal] = {}  # (variable, coordinate) -> its value in u
    jac: WireVal | None = None
    for j, part in enumerate(parts):
        (u,) = b.add(make_box("coord", {"i": j, "dom": small, "region": region}), [], [fun(small, args[j])])
        us.append(WireVal(u, fun(small, args[j])))
        jac_j = part.build(ev, us[-1], args[j], {} if others else values)
        if others:  # inside the integral over the other variables u is a captured variable, as written
            part.build(ev, _lift(b, us[-1], small, big, other_regions), args[j], values)
        if jac_j is not None:
            jac = jac_j if jac is None else ev("a * b", a=jac, b=jac_j)
    points: list[int] = []
    for k in range(len(dom)):
        if k in others:
            big_region = None if region is None else region + other_regions
            (c,) = b.add(make_box("coord", {"i": len(small) + others.index(k), "dom": big, "region": big_region}),
                         [], [fun(big, dom[k])])
            points.append(c)
            continue
        if (k, None) in values:
            x = values[(k, None)]
        else:  # a point variable read coordinate by coordinate: its coordinates stacked back
            comps = {f"c{c}": values[(k, c)] for c in range(dom[k].shape[0].value)}  # type: ignore[union-attr]
            x = ev(f"stack(({', '.join(comps)},))", **comps)
        points.append(x.wire)
    target = fun(big, ct_t.res)
    (val,) = b.add(make_box("apply"), [ct, *points], [target])
    value = WireVal(val, target)
    if others:
        reg = tuple(r for per_var in other_regions for r in per_var)
        (g,) = b.add(make_box("integrate", {"region": reg, "vars": len(others)}), [val], [fun(small, ct_t.res)])
        value = WireVal(g, fun(small, ct_t.res))
    return value, us, [p.intervals for p in parts], jac


@dataclass(frozen=True)
class _Inverted:
    """One point of the application inverted: its components (one map of a whole variable, or one per
    coordinate of a stacked point), each with its inverse steps, and the intervals and region of u."""

    point: Point
    inverses: tuple[tuple[list[str], list[Interval]], ...]
    intervals: list[Interval]  # per coordinate of u ([] where the region is unknown)
    region: Region | None  # u's region, one (lo, hi, n) per coordinate

    @staticmethod
    def of(m: Point) -> _Inverted:
        comps = m.components if isinstance(m, StackedPoint) else (m,)
        inv = tuple(inverses(c) for c in comps)
        if any(c.region is None for c in comps):
            return _Inverted(m, inv, [], None)
        ivs = [iv for _, civ in inv for iv in civ]
        ns = [r[2] for c in comps for r in c.region]  # type: ignore[union-attr]
        return _Inverted(m, inv, ivs, tuple((lo, hi, n) for (lo, hi), n in zip(ivs, ns)))

    def build(self, ev: _Eval, u: WireVal, arg: WireType, values: dict[tuple[int, int | None], WireVal]) -> WireVal | None:
        """The value of each variable (coordinate) the point reads, in u, into `values`; returns
        |det dφ⁻¹/du| (None: 1)."""
        if isinstance(self.point, PointMap):
            (texts, _), = self.inverses
            x, jac = _invert_chain(ev, self.point, texts, u)
            if jac is not None and _rank(arg):  # a point f64[k] maps componentwise: |det| = Π over k
                k = arg.shape[0].value  # type: ignore[union-attr]
                jac = ev("prod(j, axis=-1)", j=jac) if _rank(jac.type) else ev("j ^ k", j=jac, k=k)
            values[(self.point.var, None)] = x
            return jac
        total: WireVal | None = None
        for i, (c, (texts, _)) in enumerate(zip(self.point.components, self.inverses)):
            x, jac = _invert_chain(ev, c, texts, ev(f"u[{i}]", u=u))
            values[(c.var, c.coord)] = x
            if jac is not None:
                total = jac if total is None else ev("a * b", a=total, b=jac)
        return total


def _invert_chain(ev: _Eval, m: PointMap, texts: Sequence[str], u: WireVal) -> tuple[WireVal, WireVal | None]:
    """x = φ⁻¹(u) step by step (outermost first), with Π 1/|φₖ'| (None: no step)."""
    v, jac = u, None
    for s, text in zip(reversed(m.steps), reversed(texts)):
        prev = ev(text, u=v, **dict(s.consts))
        factor = ev("1 / abs(g)", g=_slope(ev, s, prev, v))
        jac = factor if jac is None else ev("a * b", a=jac, b=factor)
        v = prev
    return v, jac


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
