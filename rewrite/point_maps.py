"""The points an application reads (LANGUAGE.md §7): what the transpose of `apply(f, p)` with respect
to `f` needs to know about p (rewrite/functional.py builds the transpose from it).

* p = φ(x): a bound variable x (a `coord`) through a chain of elementwise rows with literal operands
  (`PointMap`); each step must be one-to-one on the interval x ranges over, which the row's `inverse`
  field says and gives the inverse of (`inverses`).
* p = stack((φ₀(s₀), ..., φₖ₋₁(sₖ₋₁))) for an argument f64[k] (`StackedPoint`): each component a chain
  of its own *scalar* source s_i — a scalar variable, or a coordinate `x[c]` of a point variable —
  so the change of variables is componentwise, its Jacobian diagonal: |det dφ⁻¹/du| = Π_i |dφᵢ⁻¹/duᵢ|.
* p does not depend on the bound variables (`f(0.5)`): `Constant` (a Dirac delta, not a function).
  Anything else: `NotInvertible`, whose message says why, and `map_text` names the map in DSL text.

>>> from semantics.types import scalar
>>> var_region((((0.0, 1.0, 8),), ((2.0, 3.0, 4),)), (scalar("f64"), scalar("f64")), 1)
((2.0, 3.0, 4),)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from semantics.diagram import Diagram, Node
from semantics.primitives import INFIX_LEVEL, PRIMITIVES
from semantics.types import FunType, TensorType, WireType, flatten

Interval = tuple[float, float]
Region = tuple[tuple[float, float, int], ...]


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
    (lo, hi, n) per coordinate, None where unknown) and the chain of maps, innermost first. As a
    component of a `StackedPoint`, the source is coordinate `coord` of the variable (None: a scalar
    variable) and `region` that coordinate's alone."""

    var: int
    var_type: WireType
    region: Region | None
    steps: tuple[Step, ...]
    coord: int | None = None


@dataclass(frozen=True)
class StackedPoint:
    """p = stack((φ₀(s₀), ..., φₖ₋₁(sₖ₋₁))): one scalar `PointMap` per component of the point."""

    components: tuple[PointMap, ...]


Point = Union[PointMap, StackedPoint]


class NotInvertible(Exception):
    """The point is a function of the bound variables that the table cannot invert (message: why)."""


class Constant(Exception):
    """The point does not depend on the bound variables (message: the point, when it is a literal)."""


def producers(d: Diagram) -> dict[int, Node]:
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


def depends(w: int, prod: Mapping[int, Node], seen: dict[int, bool]) -> bool:
    """Does wire w depend on a bound variable (a `coord`)?"""
    stack = [w]
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
    return seen[w]


def point_map(p: int, d: Diagram) -> Point:
    """Analyse the point wire p of an application (see the module doc); raises Constant or
    NotInvertible."""
    prod = producers(d)
    seen: dict[int, bool] = {}
    if not depends(p, prod, seen):
        v = literal_value(p, prod)
        raise Constant(fmt(v) if v is not None else "")
    node = _through_lifts(p, prod)
    if node.box.name == "stack" and _is_point_stack(node, d):
        comps = []
        for k, c in enumerate(node.inputs):
            if not depends(c, prod, seen):
                raise NotInvertible(f"component {k + 1} of the point does not depend on the integration variables "
                                    "(the derivative is concentrated on a plane, not a function)")
            try:
                comps.append(_chain(c, prod, seen, component=True))
            except NotInvertible as err:
                raise NotInvertible(f"component {k + 1} of the point: {err}") from None
        return StackedPoint(tuple(comps))
    return _chain(p, prod, seen, component=False)


def _through_lifts(w: int, prod: Mapping[int, Node]) -> Node:
    node = prod[w]
    while node.box.name == "lift" and node.box.param_dict.get("dom_from"):
        node = prod[node.inputs[0]]
    return node


def _is_point_stack(node: Node, d: Diagram) -> bool:
    """A stack of scalar values into a point f64[k] (the only stack a point argument can be)."""
    t = d.types[node.outputs[0]]
    res = t.res if isinstance(t, FunType) else t
    return isinstance(res, TensorType) and res.rank == 1


def _chain(w: int, prod: Mapping[int, Node], seen: dict[int, bool], component: bool) -> PointMap:
    """The chain of elementwise steps from w back to its bound variable (a coordinate of one, `x[c]`,
    only for a component of a stacked point)."""
    steps: list[Step] = []
    while True:
        node = prod[w]
        name = node.box.name
        if name == "coord":
            return _source(node, None, steps)
        if name == "lift" and node.box.param_dict.get("dom_from"):
            w = node.inputs[0]  # the outer variables keep their positions (dom_from is a prefix)
            continue
        if name == "index" and component:
            spec = node.box.param_dict["index"]
            src = _through_lifts(node.inputs[0], prod)
            if src.box.name == "coord" and len(spec) == 1 and spec[0][0] == "int":
                return _source(src, spec[0][1], steps)
        prim = PRIMITIVES.get(name)
        live = [k for k, i in enumerate(node.inputs) if seen.get(i, depends(i, prod, seen))]
        if name == "apply":
            raise NotInvertible("it is a function value, which has no known inverse")
        if prim is None or not prim.elementwise:
            raise NotInvertible(f"'{name}' is not an elementwise map with a known inverse")
        if len(live) != 1:
            raise NotInvertible(f"{name} reads the variable {len(live)} times")
        consts = []
        for k, i in enumerate(node.inputs):
            if k != live[0]:
                v = literal_value(i, prod)
                if v is None:
                    raise NotInvertible(f"{name} (its other operand is not a literal)")
                consts.append((prim.wire_args[k], v))
        steps.append(Step(node, prim.wire_args[live[0]], tuple(consts)))
        w = node.inputs[live[0]]


def _source(coord: Node, c: int | None, steps: list[Step]) -> PointMap:
    params = coord.box.param_dict
    i, dom = params["i"], params["dom"]
    region = var_region(params.get("region"), dom, i)
    if c is not None:
        region = (region[c],) if region is not None and c < len(region) else None
    return PointMap(i, dom[i], region, tuple(reversed(steps)), c)


def sources(m: Point) -> list[tuple[int, int | None]]:
    """The (variable, coordinate) each component of the point reads (coordinate None: all of it)."""
    comps = m.components if isinstance(m, StackedPoint) else (m,)
    return [(c.var, c.coord) for c in comps]


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


def fmt(v: float) -> str:
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
                raise NotInvertible(f"{prim.name} has no inverse on [{fmt(iv[0])}, {fmt(iv[1])}]")
            if c == 0:
                texts.append(text)
            elif texts[k] != text:
                raise NotInvertible(f"{prim.name} (different inverses on different coordinates)")
            iv = _image(s, iv)
        ivs.append(iv)
    return texts, ivs


def check(m: Point) -> None:
    """Raises NotInvertible where a step of the point (of any component) has no inverse."""
    for c in m.components if isinstance(m, StackedPoint) else (m,):
        try:
            inverses(c)
        except NotInvertible as err:
            if isinstance(m, StackedPoint):
                raise NotInvertible(f"component {m.components.index(c) + 1} of the point: {err}") from None
            raise


# --------------------------------------------------------------- naming the map in messages


def point_text(p: int, d: Diagram) -> str:
    v = literal_value(p, producers(d))
    return fmt(v) if v is not None else ""


def map_text(p: int, d: Diagram, within: Any = None) -> str:
    """The map from the bound variables to the point as DSL text, `x ↦ stack((u(x), v(x)))`: the
    source text of the point and the lambda's own parameter names where the diagram came from source
    (`within`: the span of the application, which the point's text must lie in), else printed."""
    prod = producers(d)
    node = prod.get(p)
    source = _source_text(node.span, within) if node is not None else None
    params = _lambda_params(p, prod)
    if source is not None and params is not None:
        return f"{params} ↦ {source}"
    text = _expr_text(p, d, prod, 0)
    return _variables(p, d) + " ↦ " + (text[1:-1] if text.startswith("(") and text.endswith(")") else text)


def _source_text(span: Any, within: Any) -> str | None:
    if span is None or within is None or not span.line_text or span.line != span.end_line \
            or (span.line, span.col) < (within.line, within.col) \
            or (span.end_line, span.end_col) > (within.end_line, within.end_col):
        return None
    return span.line_text[span.col - 1:span.end_col - 1] or None


def _lambda_params(p: int, prod: Mapping[int, Node]) -> str | None:
    """The parameters as the user wrote them (`x`, `(u, v)`; outer lambdas first), from the spans of
    the coords the point reads (a coord's span is its lambda)."""
    found: dict[tuple[int, int], str] = {}
    for node in _cone(p, prod):
        span = node.span
        if node.box.name == "coord" and span is not None and span.line_text:
            text = span.line_text[span.col - 1:]
            if "=>" not in text or not text[:text.index("=>")].strip():
                return None
            found[(span.line, span.col)] = text[:text.index("=>")].strip()
    names = [found[k] for k in sorted(found)]
    if len(names) == 1:
        return names[0]
    return "(" + ", ".join(n.strip("()") for n in names) + ")" if names else None


def _cone(w: int, prod: Mapping[int, Node]) -> list[Node]:
    seen, out, stack = set(), [], [w]
    while stack:
        x = stack.pop()
        node = prod.get(x)
        if x in seen or node is None:
            continue
        seen.add(x)
        out.append(node)
        stack.extend(node.inputs)
    return out


def _variables(p: int, d: Diagram) -> str:
    t = d.types[p]
    n = len(flatten(t.arg)) if isinstance(t, FunType) else 1
    return "x" if n == 1 else "(" + ", ".join(f"x{i}" for i in range(n)) + ")"


def _expr_text(w: int, d: Diagram, prod: Mapping[int, Node], depth: int) -> str:
    node = prod.get(w)
    if node is None:
        return d.param_names()[d.inputs.index(w)] if w in d.inputs else "…"
    name = node.box.name
    v = literal_value(w, prod)
    if v is not None:
        return fmt(v)
    if depth > 6:
        return "…"
    if name == "coord":
        return "x" if len(node.box.param_dict["dom"]) == 1 else f"x{node.box.param_dict['i']}"
    if name == "lift" and node.box.param_dict.get("dom_from"):
        return _expr_text(node.inputs[0], d, prod, depth)
    args = [_expr_text(i, d, prod, depth + 1) for i in node.inputs]
    if name == "apply":
        return f"{args[0]}({', '.join(args[1:])})"
    if name == "index":
        from semantics.printer import _format_index

        return f"{args[0]}[{_format_index(node.box.param_dict['index'])}]"
    if name == "stack":
        return f"stack(({', '.join(args)}))"
    prim = PRIMITIVES.get(name)
    if prim is not None and prim.syntax in INFIX_LEVEL and len(args) == 2:
        return f"({args[0]} {prim.syntax} {args[1]})"
    return f"{name}({', '.join(args)})"
