"""The sampling pass: a diagram with function-typed wires (LANGUAGE.md §7) → ordinary array diagrams.

"A function wire sampled on N points is an array with a leading [N] axis." Each function-typed wire
is evaluated on the point set its consumer needs, on demand and memoised per (wire, point set):

* `integrate[region]` samples its integrand on the tensor-product Gauss–Legendre nodes of the region
  (`gauss_legendre` rows: computed once per region and cached at run time) — inside the variables
  of an enclosing lambda on the product of their points with the nodes — and becomes one weighted
  sum over that axis: an integral is a vectorised evaluation, never a loop over points;
* `lift` is a broadcast (the outer points repeated once per new node); `coord` is the points;
* `apply(f, p)` samples p, then f *at those points*: recursively when f is a lifted expression, a
  run time call (`fn_eval`) when f is a function-typed input;
* `nabla` / `divergence` of an input are `fn_grad` calls (the derivative of a call is a call of the
  derivative); of a lifted expression, the JVP of its sampled sub-program with respect to the
  points, by the one linearizer (`rewrite.jvp`), seeded with ones;
* every other row acts pointwise: its batching rule (the table's `batch` field, as `vmap`) over
  the sample axis.

Function-typed inputs stay opaque wires of the array diagram, read only by `fn_eval` / `fn_grad`.
A function-typed output becomes its own array diagram with one extra input per argument of the
function (`points`, shape [npoints, *arg]), compiled to a callable vectorised over points.

>>> from grammar import parse
>>> from semantics.elaborate import elaborate
>>> src = "def f(c: f64) -> f64 { return integrate(x => c * x ^ 2, over=(0, 3), n=4) }"
>>> s = sample_diagram(elaborate(parse(src)).lookup("f").diagram)
>>> from semantics.interpret import interpret
>>> round(float(interpret(s.arrays, 2.0)), 10)
18.0
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from grammar.errors import DslError
from semantics.diagram import Builder, Diagram, Node, make_box
from semantics.primitives import PRIMITIVES
from semantics.prims.functional import LIFTED_ROWS, domain, region_points, var_size
from semantics.types import Dim, FunType, TensorType, WireType

POINTS = "npoints"  # the symbolic number of points a function-typed output is evaluated at


@dataclass(frozen=True)
class PointSet:
    """Points of a domain: one array [n, *var] per variable (wires of the array builder). A set made
    by an integral is `parent` × (m nodes): each parent point repeated m times, parent-major."""

    key: int
    coords: tuple[int, ...]
    n: Dim
    parent: PointSet | None = None
    m: Dim | None = None
    nodes: tuple[int, ...] = ()  # the m nodes of the new variables alone (a set made by an integral)


@dataclass(frozen=True)
class Sampled:
    """The array form of a diagram: `arrays` computes its array outputs from its inputs; for each
    function-typed output, `functions[k]` computes its values at points (extra inputs, one per
    argument of the function). `kinds[i]` says where output i is: ("array", j) or ("function", k)."""

    source: Diagram
    arrays: Diagram | None
    functions: tuple[Diagram, ...]
    kinds: tuple[tuple[str, int], ...]


_LIFTED, _BOX_NAME = frozenset(LIFTED_ROWS), attrgetter("box.name")


def is_functional(d: Diagram) -> bool:
    """Whether `d` needs this pass before it can run: it has rows on function-typed wires or
    function-typed outputs (an array diagram only passes function-typed inputs to `fn_eval`)."""
    # (both scans run in C: a node's box name, a wire type's class)
    if not _LIFTED.isdisjoint(map(_BOX_NAME, d.nodes)):
        return True
    if FunType not in set(map(type, d.types)):  # no function-typed wire at all (the common case)
        return False
    return any(isinstance(t, FunType) for t in d.cod) \
        or any(isinstance(d.types[w], FunType) for n in d.nodes if n.box.name not in ("fn_eval", "fn_grad")
               for w in n.inputs)


def sample_diagram(d: Diagram) -> Sampled:
    """The array diagrams of `d` (see `Sampled`)."""
    kinds: list[tuple[str, int]] = []
    array_outs = [w for w in d.outputs if not isinstance(d.types[w], FunType)]
    arrays = None
    with _deep_recursion():
        if array_outs or not d.outputs:
            b, s = _start(d)
            arrays = b.build([s.plain(w) for w in array_outs], input_names=d.param_names(), name=d.name, span=d.span)
        functions: list[Diagram] = []
        for w in d.outputs:
            t = d.types[w]
            if isinstance(t, FunType):
                kinds.append(("function", len(functions)))
                functions.append(_function_output(d, w, t))
            else:
                kinds.append(("array", sum(1 for k, _ in kinds if k == "array")))
    return Sampled(d, arrays, tuple(functions), tuple(kinds))


def _start(d: Diagram) -> tuple[Builder, Sampler]:
    b = Builder()
    inputs = {w: b.input(d.types[w]) for w in d.inputs}
    return b, Sampler(d, b, inputs)


def _function_output(d: Diagram, w: int, t: FunType) -> Diagram:
    b, s = _start(d)
    n = Dim.sym(POINTS)
    coords = tuple(b.input(_points_type(a, n)) for a in domain(t))
    out = s.sample(w, s.point_set(coords, n))
    names = (*d.param_names(), *(f"points{i}" if len(coords) > 1 else "points" for i in range(len(coords))))
    return b.build([out], input_names=names, name=f"{d.name or 'f'}_fn", span=d.span)


def _points_type(a: WireType, n: Dim) -> TensorType:
    assert isinstance(a, TensorType)
    return a.with_shape((n, *a.shape))


@contextmanager
def _deep_recursion() -> Iterator[None]:
    # The pass recurses along the diagram's depth (a 1,000-deep chain of lifted boxes is legal).
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


class Sampler:
    """Samples the wires of one lifted diagram into one array builder (memoised per point set)."""

    def __init__(self, d: Diagram, b: Builder, inputs: dict[int, int]):
        self.d = d
        self.b = b
        self.env = dict(inputs)
        self.fun_inputs = {w: i for i, w in enumerate(d.inputs) if isinstance(d.types[w], FunType)}
        self.producer = {w: node for node in d.nodes for w in node.outputs}
        self.memo: dict[tuple[int, int], int] = {}
        self.prefixes: dict[tuple[int, int], PointSet] = {}
        self.inners: dict[int, PointSet] = {}
        self.depends: dict[int, frozenset[int]] = {}
        self.keys = itertools.count()
        # the same diagram with every function type replaced by its values' type, for batching rules
        values = tuple(t.res if isinstance(t, FunType) else t for t in d.types)
        self.values = Diagram(values, d.inputs, d.nodes, d.outputs)  # type: ignore[arg-type]

    def point_set(self, coords: Sequence[int], n: Dim, parent: PointSet | None = None,
                  m: Dim | None = None, nodes: Sequence[int] = ()) -> PointSet:
        return PointSet(next(self.keys), tuple(coords), n, parent, m, tuple(nodes))

    # ------------------------------------------------------------ building blocks

    def op(self, name: str, ins: Sequence[int], node: Node | None = None, **params: Any) -> int:
        prim = PRIMITIVES[name]
        try:
            outs = prim.infer(tuple(self.b.types[w] for w in ins), params)
        except DslError as err:
            raise err.with_span(node.span if node else None) from None
        (w,) = self.b.add(make_box(name, params), ins, outs, node.span if node else None)
        return w

    def type_of(self, w: int) -> TensorType:
        t = self.b.types[w]
        assert isinstance(t, TensorType), t
        return t

    def broadcast_points(self, v: int, n: Dim, node: Node | None) -> int:
        """A plain value as n identical samples: [*s] → [n, *s]."""
        t = self.type_of(v)
        return self.op("broadcast_to", [self.op("expand_dims", [v], node, axis=0)], node, shape=(n, *t.shape))

    def spread(self, v: int, n: Dim, m: Dim, node: Node | None, axis: int) -> int:
        """Samples [k, *s] laid out on an n×m grid, repeated along the other axis, flattened to [n·m, *s]:
        axis=0 keeps v along the n axis (v is [n, *s]), axis=1 along the m axis (v is [m, *s])."""
        t = self.type_of(v)
        e = self.op("expand_dims", [v], node, axis=1 - axis)
        full = self.op("broadcast_to", [e], node, shape=(n, m, *t.shape[1:]))
        return self.op("reshape", [full], node, shape=(n * m, *t.shape[1:]))

    # ------------------------------------------------------------ plain wires

    def plain(self, w: int) -> int:
        if w in self.env:
            return self.env[w]
        node = self.producer[w]
        name = node.box.name
        if name == "integrate":
            out = self.integrate(node, None)
        elif name == "apply":
            out = self.apply(node, None)
        else:
            ins = [self.plain(i) for i in node.inputs]
            outs = self.b.add(node.box, ins, [self.d.types[o] for o in node.outputs], node.span)
            self.env.update(zip(node.outputs, outs))
            return self.env[w]
        self.env[w] = out
        return out

    # ------------------------------------------------------------ function wires

    def sample(self, w: int, p: PointSet) -> int:
        key = (w, p.key)
        if key not in self.memo:
            self.memo[key] = self._sample(w, p)
        return self.memo[key]

    def _sample(self, w: int, p: PointSet) -> int:
        if w in self.fun_inputs:  # a function-typed input: a run time call
            return self.call_input(w, 0, p.coords, None)
        node = self.producer[w]
        name, params = node.box.name, node.box.param_dict
        if name == "coord":
            return p.coords[params["i"]]
        if name == "lift":
            return self.lift(node, p)
        if name == "integrate":
            return self.integrate(node, p)
        if name in ("nabla", "divergence"):
            return self.derivative(node, p)
        k = self.outer_level(node)
        if k is not None and k < len(p.coords):
            # constant in the inner variables (f(x) inside ∫ dy): computed on the outer points, spread
            return self.at_prefix(k, p, node, lambda q: self.unlifted(node, q))
        if p.parent is not None and p.nodes and self.deps(w) and min(self.deps(w)) >= len(p.parent.coords):
            # a function of the integration variables only (f(y) inside ∫ dy): on the m nodes, tiled
            assert p.m is not None
            return self.spread(self.sample(w, self.inner_set(p, node)), p.parent.n, p.m, node, axis=1)
        return self.apply(node, p) if name == "apply" else self.pointwise(node, p)

    def deps(self, w: int) -> frozenset[int]:
        """The variables (positions in its domain) a function-typed wire depends on."""
        if w not in self.depends:
            t = self.d.types[w]
            node = self.producer.get(w)
            if not isinstance(t, FunType):
                out: frozenset[int] = frozenset()
            elif node is None:
                out = frozenset(range(len(domain(t))))
            elif node.box.name == "coord":
                out = frozenset({node.box.param_dict["i"]})
            elif node.box.name == "lift":
                out = self.deps(node.inputs[0])
            elif node.box.name == "integrate":
                out = frozenset(i for i in self.deps(node.inputs[0]) if i < len(domain(t)))
            else:
                ins = node.inputs[1:] if node.box.name == "apply" else node.inputs
                out = frozenset().union(*(self.deps(i) for i in ins))
            self.depends[w] = out
        return self.depends[w]

    def inner_set(self, p: PointSet, node: Node) -> PointSet:
        """The nodes of p's integration variables alone (the outer variables, unused there, at 0)."""
        if p.key not in self.inners:
            assert p.parent is not None and p.m is not None
            zeros = []
            for c in p.parent.coords:
                (z,) = self.b.add(make_box("const", {"value": 0.0, "dtype": "f64"}), (), (TensorType("f64"),), node.span)
                shape = self.type_of(c).shape[1:]
                zeros.append(self.op("broadcast_to", [z], node, shape=(p.m, *shape)))
            self.inners[p.key] = self.point_set([*zeros, *p.nodes], p.m)
        return self.inners[p.key]

    def outer_level(self, node: Node) -> int | None:
        """k when every function-valued operand of `node` is a `lift` from the first k variables (a
        pointwise node's constant operands aside: they are read plain, see `constant_operands`)."""
        values = node.inputs[1:] if node.box.name == "apply" else node.inputs
        constant = self.constant_operands(node) if node.box.name != "apply" else set()
        levels = set()
        for k, w in enumerate(values):
            if isinstance(self.d.types[w], FunType) and k not in constant:
                src = self.producer.get(w)
                if src is None or src.box.name != "lift" or not src.box.param_dict["dom_from"]:
                    return None
                levels.add(len(src.box.param_dict["dom_from"]))
        return levels.pop() if len(levels) == 1 else None

    def constant_operands(self, node: Node) -> set[int]:
        """The operands of a pointwise node that are constant functions (`lift` of a plain wire: a value
        named outside the lambda) while another operand is not: the row reads the plain value and
        broadcasts it itself, instead of the value repeated once per point (what `lift` samples to)."""
        const = set()
        for k, w in enumerate(node.inputs):
            src = self.producer.get(w)
            if src is not None and src.box.name == "lift" and not src.box.param_dict["dom_from"]:
                const.add(k)
        varying = [k for k, w in enumerate(node.inputs) if isinstance(self.d.types[w], FunType) and k not in const]
        return const if varying else set()

    def unlifted(self, node: Node, q: PointSet) -> int:
        """`node` at the outer points q, reading its lifted operands' sources there."""
        def value(w: int, at: PointSet) -> int:
            return self.sample(self.producer[w].inputs[0], at)

        return self.apply(node, q, value) if node.box.name == "apply" else self.pointwise(node, q, value)

    def pointwise(self, node: Node, p: PointSet, value: Callable[[int, PointSet], int] | None = None) -> int:
        if len(node.outputs) != 1:
            raise DslError(f"'{node.box.name}' with several outputs cannot act on functions", node.span)
        value = value or self.sample
        constant = self.constant_operands(node)
        batched = [isinstance(self.d.types[i], FunType) and k not in constant for k, i in enumerate(node.inputs)]
        ins = [value(i, p) if f else self.plain(self.producer[i].inputs[0] if k in constant else i)
               for k, (i, f) in enumerate(zip(node.inputs, batched))]
        from rewrite.batching import batch_node

        return batch_node(self.b, p.n, node, self.values, ins, batched)

    def lift(self, node: Node, p: PointSet) -> int:
        (x,) = node.inputs
        src = node.box.param_dict["dom_from"]
        if not src:
            return self.broadcast_points(self.plain(x), p.n, node)
        return self.at_prefix(len(src), p, node, lambda q: self.sample(x, q))

    def at_prefix(self, k: int, p: PointSet, node: Node, compute: Callable[[PointSet], int]) -> int:
        """Samples at the points of p of a function of the first k variables of p's domain, given
        `compute`, its samples on a set of points of those k variables: on the points of an
        enclosing integral when p was made by one (then repeated), else on p's first k coordinates."""
        if len(p.coords) == k:
            return compute(p)
        if p.parent is not None and len(p.parent.coords) >= k:
            assert p.m is not None
            v = self.at_prefix(k, p.parent, node, compute)
            return self.spread(v, p.parent.n, p.m, node, axis=0)
        key = (p.key, k)
        if key not in self.prefixes:
            self.prefixes[key] = self.point_set(p.coords[:k], p.n)
        return compute(self.prefixes[key])

    def integrate(self, node: Node, p: PointSet | None) -> int:
        params = node.box.param_dict
        region, k = params["region"], params["vars"]
        (g,) = node.inputs
        gt = self.d.types[g]
        assert isinstance(gt, FunType)
        variables = domain(gt)[-k:]
        m = Dim.const(region_points(region))
        nodes, axis = [], 0
        for v in variables:
            size = var_size(v)
            axes = [self.op("gauss_legendre", [], node, region=region, part="nodes", axis=axis + j) for j in range(size)]
            nodes.append(self.op("stack", axes, node, axis=1) if v.rank else axes[0])  # type: ignore[union-attr]
            axis += size
        weights = self.op("gauss_legendre", [], node, region=region, part="weights", axis=0)
        res = gt.res
        assert isinstance(res, TensorType)
        ones = (Dim.const(1),) * res.rank
        if p is None:
            values = self.sample(g, self.point_set(nodes, m))
            w = self.op("reshape", [weights], node, shape=(m, *ones))
            return self.op("sum", [self.op("mul", [values, w], node)], node, axis=0, keepdims=False)
        coords = [self.spread(c, p.n, m, node, axis=0) for c in p.coords]
        coords += [self.spread(c, p.n, m, node, axis=1) for c in nodes]
        values = self.sample(g, self.point_set(coords, p.n * m, p, m, nodes))
        grid = self.op("reshape", [values], node, shape=(p.n, m, *res.shape))
        w = self.op("reshape", [weights], node, shape=(Dim.const(1), m, *ones))
        return self.op("sum", [self.op("mul", [grid, w], node)], node, axis=1, keepdims=False)

    def apply(self, node: Node, p: PointSet | None, value: Callable[[int, PointSet], int] | None = None) -> int:
        f, *points = node.inputs
        if p is None:  # f(0.5) outside a lambda: one point
            one = Dim.const(1)
            coords = [self.broadcast_points(self.plain(x), one, node) for x in points]
            values = self.sample(f, self.point_set(coords, one))
            res = self.d.types[node.outputs[0]]
            assert isinstance(res, TensorType)
            return self.op("reshape", [values], node, shape=res.shape)
        value = value or self.sample
        coords = [value(x, p) if isinstance(self.d.types[x], FunType)
                  else self.broadcast_points(self.plain(x), p.n, node) for x in points]
        return self.sample(f, self.point_set(coords, p.n))

    def call_input(self, w: int, order: int, coords: Sequence[int], node: Node | None) -> int:
        """Values (order 0) or order-th derivatives of the function-typed input w at the points."""
        shape = self.call_shape(w, order)
        if order == 0:
            return self.op("fn_eval", [self.env[w], *coords], node, shape=shape)
        return self.op("fn_grad", [self.env[w], *coords], node, order=order, shape=shape)

    def call_shape(self, w: int, order: int) -> tuple[Dim, ...]:
        """The shape of a call's result at one point: the values, then one axis per nabla of f64[k]."""
        t = self.d.types[w]
        assert isinstance(t, FunType) and isinstance(t.res, TensorType)
        (var,) = domain(t) if order else (None,)
        extra = (var.shape[0],) * order if isinstance(var, TensorType) and var.rank else ()
        return (*t.res.shape, *extra)

    def derivative(self, node: Node, p: PointSet) -> int:
        """nabla / divergence of u at p (rewrite/sampling_derivatives.py)."""
        from rewrite.sampling_derivatives import derivative

        return derivative(self, node, p)


def with_nabla(d: Diagram, output: int, order: int) -> Diagram:
    """`d` with only its function-typed output `output`, replaced by nabla applied `order` times
    (how the derivatives of a function-typed result are computed when one is asked for)."""
    b = Builder()
    outs = b.inline(d, [b.input(t) for t in d.dom])
    w = outs[output]
    for _ in range(order):
        t = PRIMITIVES["nabla"].infer((b.types[w],), {})
        (w,) = b.add(make_box("nabla"), [w], t, d.span)
    return b.build([w], input_names=d.param_names(), name=f"{d.name}_d{order}", span=d.span)
