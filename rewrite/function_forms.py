"""Derived function-valued definitions in the form a user writes them (LANGUAGE.md §7).

Two passes on a derived diagram, run before its optimisation:

* `expand_derivatives`: the transpose of `nabla` is `-divergence` of the cotangent, a *lifted*
  expression (`x => g(u'(x), x)`). In one variable its derivative is the JVP of that expression
  with respect to the variable (seed 1), written here by the one linearizer: δ/δu ∫ ½ u'² becomes
  `x => -u''(x)` (`nabla(nabla(u))`) instead of `-divergence(x => u'(x))`, which is both the closed
  form and text that reloads. Functions of a point f64[k] keep `divergence` (still evaluated
  exactly, by the sampling pass).
* `release_output_variables`: the variables of a function-valued result range over its whole
  domain; the integration region their `coord` (and constant-function `lift`) boxes carried in the
  integrand is dropped unless they are inside a top-level integral (in a lambda `x => ...`, or an
  integral inside one, elaboration leaves the region of a domain with a free variable unknown),
  and a value of fewer variables lifted into the result's domain (the transpose of an inner
  integral: δ/δk ∫ (∫ k(u, v) f(v) dv)² du is `lift(ct(u)) * f(v)`) is rebuilt on the result's own
  variables, `(u, v) => ct(u) * f(v)`, the diagram that lambda elaborates to.

>>> from semantics.types import scalar
>>> release_output_variables(Builder().build([])).stats()["ops"]
0
"""

from __future__ import annotations

from collections.abc import Mapping

from grammar.errors import DslError
from rewrite.cleanup import cse, prune
from semantics.diagram import Builder, Diagram, Node, make_box
from semantics.types import FunType, TensorType, Type, WireType, flatten, product
from semantics.values import WireVal

BOUNDARY_TERMS = "boundary terms assumed to vanish (nabla was integrated by parts: its transpose is -divergence)"


def assumptions_of(d: Diagram) -> tuple[str, ...]:
    """What a transposed diagram assumed: a `divergence` box is the transpose of `nabla`, an
    integration by parts whose boundary terms were dropped (LANGUAGE.md §7: `dsl show` says so)."""
    return (BOUNDARY_TERMS,) if any(n.box.name == "divergence" and n.box.kind == "prim" for n in d.nodes) else ()


def _one_variable(t: WireType) -> int:
    """k for a function of one variable f64 (k = 1) or a point f64[k] with a constant k; else 0."""
    if not isinstance(t, FunType) or len(flatten(t.arg)) != 1:
        return 0
    (v,) = flatten(t.arg)
    if v == TensorType("f64"):
        return 1
    ok = isinstance(v, TensorType) and v.dtype == "f64" and v.rank == 1 and v.shape[0].is_const
    return v.shape[0].value if ok else 0  # type: ignore[union-attr]


def _coord_cone(w: int, prod: Mapping[int, Node]) -> set[int]:
    """The wires of w's cone that depend on a `coord` (w included when it does)."""
    memo: dict[int, bool] = {}
    stack = [w]
    while stack:
        x = stack[-1]
        node = prod.get(x)
        if node is None:
            memo[x] = False
            stack.pop()
            continue
        if node.box.name == "coord":
            memo[x] = True
            stack.pop()
            continue
        todo = [i for i in node.inputs if i not in memo]
        if todo:
            stack.extend(todo)
            continue
        memo[x] = any(memo[i] for i in node.inputs)
        stack.pop()
    return {x for x, v in memo.items() if v}


def expand_derivatives(d: Diagram) -> Diagram:
    """Replace `nabla`/`divergence` of a lifted expression of one scalar variable by its JVP (see the
    module doc). Diagrams without such a node are returned unchanged."""
    if not any(n.box.name in ("nabla", "divergence") for n in d.nodes):
        return d
    prod = {w: n for n in d.nodes for w in n.outputs}
    targets = [n for n in d.nodes if n.box.name in ("nabla", "divergence") and _one_variable(d.types[n.inputs[0]])
               and n.inputs[0] in prod and _coord_cone(n.inputs[0], prod)]
    if not targets:
        return d
    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    for node in d.nodes:
        if node in targets:
            rename[node.outputs[0]] = _expanded(b, node, d, prod, rename)
            continue
        outs = b.add(node.box, [rename[w] for w in node.inputs], [d.types[w] for w in node.outputs], node.span)
        rename.update(zip(node.outputs, outs))
    out = prune(b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span))
    return expand_derivatives(out)  # nested ones (nabla of an expression that held a nabla)


def _expanded(b: Builder, node: Node, d: Diagram, prod: Mapping[int, Node], rename: Mapping[int, int]) -> int:
    """nabla / divergence of a lifted wire of one variable from its directional derivatives: in 1-D
    the derivative itself; for a point f64[k], the k partials stacked (nabla) or Σ_i ∂_i g_i."""
    from rewrite.functional import _Eval

    w = node.inputs[0]
    k = _one_variable(d.types[w])
    t = d.types[w]
    if k == 1 and flatten(t.arg)[0] == TensorType("f64"):  # type: ignore[union-attr]
        return _derivative(b, w, d, prod, rename, None)
    ev = _Eval(b, node.span)
    parts = [_derivative(b, w, d, prod, rename, ev(f"eye({k})[{i}]").wire) for i in range(k)]
    rank = b.types[parts[0]].res.rank  # type: ignore[union-attr]
    if node.box.name == "nabla":
        env = {f"g{i}": WireVal(p, b.types[p]) for i, p in enumerate(parts)}
        return ev(f"stack(({', '.join(env)},), axis={rank})", **env).wire
    total = None
    for i, p in enumerate(parts):
        comp = ev(f"g[{':, ' * (rank - 1)}{i}]", g=WireVal(p, b.types[p]))
        total = comp if total is None else ev("a + c", a=total, c=comp)
    assert total is not None
    return total.wire


def _derivative(b: Builder, w: int, d: Diagram, prod: Mapping[int, Node], rename: Mapping[int, int],
                direction: int | None) -> int:
    """The derivative of the lifted wire w (a function of one variable) in a direction (a constant
    point; None: 1, the variable being a scalar): the JVP of its cone with respect to the variable,
    seeded with the constant function, inlined into b."""
    from rewrite.jvp import linearize_diagram

    cone = _coord_cone(w, prod)
    sub = Builder()
    outside: dict[int, int] = {}  # wires the cone reads that do not depend on the variable
    var_t = d.types[w]
    assert isinstance(var_t, FunType)
    dom = flatten(var_t.arg)
    x_t = FunType(var_t.arg, dom[0])
    var = sub.input(x_t)  # the variable x ↦ x (every coord of the cone: the domain has one variable)
    inner: dict[int, int] = {}
    for node in d.nodes:
        if not any(o in cone for o in node.outputs):
            continue
        if node.box.name == "coord":
            inner[node.outputs[0]] = var
            continue
        ins = []
        for i in node.inputs:
            if i not in inner:
                if i not in outside:
                    outside[i] = sub.input(d.types[i])
                inner[i] = outside[i]
            ins.append(inner[i])
        outs = sub.add(node.box, ins, [d.types[o] for o in node.outputs], node.span)
        inner.update(zip(node.outputs, outs))
    lin = linearize_diagram(sub.build([inner[w]]), (0,))
    if direction is None:
        (direction,) = b.add(make_box("const", {"value": 1.0, "dtype": "f64"}), [], [TensorType("f64")])
    (seed,) = b.add(make_box("lift", {"dom_from": (), "dom_to": dom, "region": None}), [direction], [x_t])
    (x,) = b.add(make_box("coord", {"i": 0, "dom": dom, "region": None}), [], [x_t])
    ins = [x] + [rename[i] for i in outside] + [seed]
    _, dy = b.inline(lin.diagram, ins)
    return dy


def release_output_variables(d: Diagram) -> Diagram:
    """Function-valued results on their own variables, without regions (see the module doc)."""
    if not any(isinstance(t, FunType) for t in d.cod) and not any(n.box.name in ("coord", "lift") for n in d.nodes):
        return d  # no function-valued result and nothing with a region: nothing to release
    d = _flatten_output_lifts(d)
    prod = {w: n for n in d.nodes for w in n.outputs}
    # the integrands of top-level integrals (a plain result), not the closed functions they call:
    # only there is every variable of a domain an integration variable with a known region
    integrated: set[int] = set()
    stack = [n.inputs[0] for n in d.nodes if n.box.name == "integrate" and not isinstance(d.types[n.outputs[0]], FunType)]
    while stack:
        x = stack.pop()
        if x in integrated:
            continue
        integrated.add(x)
        if x in prod:
            node = prod[x]
            stack.extend(node.inputs[1:] if node.box.name == "apply" else
                         () if node.box.name in ("nabla", "divergence") else node.inputs)
    nodes = []
    changed = False
    for n in d.nodes:
        released = n.box.name == "coord" or (n.box.name == "lift" and not n.box.param_dict.get("dom_from"))
        if released and n.box.param_dict.get("region") is not None and n.outputs[0] not in integrated:
            n = Node(make_box(n.box.name, {**n.box.param_dict, "region": None}), n.inputs, n.outputs, n.span)
            changed = True
        nodes.append(n)
    if not changed:
        return d
    return Diagram(d.types, d.inputs, tuple(nodes), d.outputs, d.input_names, d.name, d.span)


def _flatten_output_lifts(d: Diagram) -> Diagram:
    """Each function-valued output whose lambda reads a lifted value of fewer variables or the
    variables of an integral, rebuilt on its own variables (see the module doc): a function input,
    integral, `nabla` or `divergence` of fewer variables is applied at the first of ours, `ct(x0)`."""
    prod = {w: n for n in d.nodes for w in n.outputs}
    targets = [w for w in d.outputs if isinstance(d.types[w], FunType) and _not_own(w, d, prod)]
    if not targets:
        return d
    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    for node in d.nodes:
        rename.update(zip(node.outputs, b.add(node.box, [rename[w] for w in node.inputs],
                                              [d.types[w] for w in node.outputs], node.span)))
    outs = {w: rename[w] for w in d.outputs}
    for w in targets:
        mark = len(b.nodes)
        try:
            outs[w] = _OwnVariables(b, d, prod, rename, flatten(d.types[w].arg)).wire(w)  # type: ignore[union-attr]
        except _Keep:
            del b.nodes[mark:]
    out = b.build([outs[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span,
                  assumptions=d.assumptions)
    return prune(cse(out))


def _level_inputs(node: Node) -> tuple[int, ...]:
    """The inputs of a node that are values at its own level: not the function an `apply` calls, not
    the body of an integral or the function under `nabla` (their variables are their own)."""
    if node.box.name == "apply":
        return node.inputs[1:]
    if node.box.name in ("integrate", "nabla", "divergence", "lift"):
        return ()
    return node.inputs


def _not_own(w: int, d: Diagram, prod: Mapping[int, Node]) -> bool:
    """Whether the lambda of output w reads a lift of a value of some of its variables, or variables
    (constant functions) that carry an integral's region: shared with a top-level integral, whose
    variables they are (the lambda's own have none)."""
    seen: set[int] = set()
    stack = [w]
    while stack:
        x = stack.pop()
        node = prod.get(x)
        if x in seen or node is None or not isinstance(d.types[x], FunType):
            continue
        seen.add(x)
        params = node.box.param_dict
        if node.box.name == "lift" and (params.get("dom_from") or params.get("region") is not None):
            return True
        if node.box.name == "coord" and params.get("region") is not None:
            return True
        stack.extend(_level_inputs(node))
    return False


class _OwnVariables:
    """The cone of a function-valued output rebuilt with every variable a `coord` of its domain."""

    def __init__(self, b: Builder, d: Diagram, prod: Mapping[int, Node], rename: Mapping[int, int],
                 dom: tuple[WireType, ...]):
        self.b, self.d, self.prod, self.rename, self.dom = b, d, prod, rename, dom
        self.memo: dict[int, int] = {}

    def wire(self, w: int) -> int:
        if w not in self.memo:
            self.memo[w] = self._wire(w)
        return self.memo[w]

    def _wire(self, w: int) -> int:
        from semantics.primitives import PRIMITIVES

        node, t = self.prod.get(w), self.d.types[w]
        if not isinstance(t, FunType):
            return self.rename[w]  # a plain value
        at = flatten(t.arg)
        if self.dom[:len(at)] != at:
            raise _Keep(node.box.name if node else "input")
        name, params = (node.box.name, node.box.param_dict) if node else ("input", {})
        if name in ("input", "integrate", "nabla", "divergence"):
            # a function of its own variables: as it is on ours, else applied at the first of ours
            return self.rename[w] if at == self.dom else self.call(w, len(at), node)
        if name == "coord":
            return self.coord(params["i"], node)
        if name == "lift":
            if params.get("dom_from"):
                return self.wire(node.inputs[0])  # type: ignore[union-attr]  # its variables are a prefix of ours
            box = make_box("lift", {**params, "dom_to": self.dom, "region": None})
            return self.b.add(box, [self.rename[node.inputs[0]]], [self.fun(t.res)], node.span)[0]  # type: ignore[union-attr]
        assert node is not None
        level = set(_level_inputs(node))
        ins = [self.wire(i) if i in level else self.rename[i] for i in node.inputs]
        outs = PRIMITIVES[name].infer([self.b.types[i] for i in ins], params)
        return self.b.add(node.box, ins, list(outs), node.span)[0]

    def fun(self, res: Type) -> FunType:
        return FunType(product(self.dom), res)

    def coord(self, i: int, node: Node | None) -> int:
        box = make_box("coord", {"i": i, "dom": self.dom, "region": None})
        return self.b.add_shared(box, (), [self.fun(self.dom[i])], node.span if node else None)[0]

    def call(self, w: int, k: int, node: Node | None) -> int:
        """`f(x0, ..., x_{k-1})`: w, a function of the first k of our variables, read on all of them."""
        t = self.d.types[w]
        assert isinstance(t, FunType)
        span = node.span if node else None
        return self.b.add(make_box("apply"), [self.rename[w]] + [self.coord(i, node) for i in range(k)],
                          [self.fun(t.res)], span)[0]


def beta_reduce(d: Diagram) -> Diagram:
    """`apply(L, p...)` with L a lifted expression (a cotangent relabelled at the points of a change
    of variables, or a permutation of its variables) is L with its variables replaced by the points:
    the form a user writes (`f(square(sqrt(u)))`, not `(x => f(x ^ 2))(sqrt(u))`), evaluated once on
    the points instead of on a second grid. Cones holding a partial integral keep the application."""
    if not any(n.box.name == "apply" for n in d.nodes):
        return d
    prod = {w: n for n in d.nodes for w in n.outputs}
    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    changed = False
    for node in d.nodes:
        f = node.inputs[0] if node.box.name == "apply" else None
        if f is not None and f in prod and isinstance(d.types[f], FunType) \
                and (_coord_cone(f, prod) or _constant_function(prod[f])):
            subst = _Substitution(b, d, prod, [rename[p] for p in node.inputs[1:]], rename)
            mark = len(b.nodes)
            try:
                rename[node.outputs[0]] = subst.wire(f)
                changed = True
                continue
            except (_Keep, DslError):
                del b.nodes[mark:]  # nodes of the abandoned substitution (their wires stay unread)
        outs = b.add(node.box, [rename[w] for w in node.inputs], [d.types[w] for w in node.outputs], node.span)
        rename.update(zip(node.outputs, outs))
    if not changed:
        return d
    return prune(b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span,
                         assumptions=d.assumptions))


def _constant_function(node: Node) -> bool:
    return node.box.name == "lift" and not node.box.param_dict.get("dom_from")


class _Keep(Exception):
    """The cone has a node the substitution does not rewrite (a partial integral): keep `apply`."""


class _Substitution:
    """L's cone rebuilt with coord i of (a prefix of) L's domain replaced by the point p_i."""

    def __init__(self, b: Builder, d: Diagram, prod: Mapping[int, Node], points: list[int],
                 rename: Mapping[int, int]):
        self.b, self.d, self.prod, self.points, self.rename = b, d, prod, points, rename
        t = b.types[points[0]]
        self.dom = flatten(t.arg) if isinstance(t, FunType) else ()
        self.memo: dict[int, int] = {}

    def wire(self, w: int) -> int:
        if w in self.memo:
            return self.memo[w]
        node = self.prod.get(w)
        t = self.d.types[w]
        if node is not None and _constant_function(node) and isinstance(t, FunType):
            value = self.rename[node.inputs[0]]  # a constant function at the points: the constant
            if self.dom:
                point_t = self.b.types[self.points[0]]
                assert isinstance(point_t, FunType)
                (value,) = self.b.add(make_box("lift", {**node.box.param_dict, "dom_to": self.dom}), [value],
                                      [FunType(point_t.arg, t.res)], node.span)
            self.memo[w] = value
            return value
        if node is None or not isinstance(t, FunType) or not _coord_cone(w, self.prod):
            return self.rename[w]  # a function input or plain value: unchanged
        name, params = node.box.name, node.box.param_dict
        if name == "coord":
            out = self.points[params["i"]]
        elif name == "lift" and params.get("dom_from"):
            out = self.wire(node.inputs[0])  # the outer variables are among the points already
        elif name in ("integrate", "lift", "nabla", "divergence", "coord"):
            raise _Keep(name)
        else:
            ins = [self.wire(i) for i in node.inputs]
            picked = _stacked_item(self.b, name, params, ins)
            if picked is not None:
                out = picked
            else:
                from semantics.primitives import PRIMITIVES

                outs = PRIMITIVES[name].infer([self.b.types[i] for i in ins], params)
                (out,) = self.b.add(node.box, ins, list(outs), node.span)
        self.memo[w] = out
        return out


def _stacked_item(b: Builder, name: str, params: Mapping[str, object], ins: list[int]) -> int | None:
    """`stack((a0, ..., ak-1))[c]` is a_c: a point stacked from its coordinates (the inverse of a
    stacked change of variables, rewrite/functional.py) read coordinate by coordinate at the points
    the substitution puts in (prints `k(stack((x0[0], x0[1])))`, not `stack((x0[1], x0[0]))[1]`)."""
    spec = params.get("index") if name == "index" else None
    if not isinstance(spec, tuple) or len(spec) != 1 or spec[0][0] != "int":
        return None
    src = next((n for n in reversed(b.nodes) if ins[0] in n.outputs), None)
    t = b.types[ins[0]]
    res = t.res if isinstance(t, FunType) else t
    if src is None or src.box.name != "stack" or src.box.kind != "prim" or not isinstance(res, TensorType) \
            or res.rank != 1 or src.box.param_dict.get("axis", 0) not in (0, -1):
        return None
    c = spec[0][1]
    k = len(src.inputs)
    return src.inputs[c + k if c < 0 else c] if -k <= c < k else None
