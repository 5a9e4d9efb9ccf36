"""Derivatives of sampled functions (the `nabla` / `divergence` rows of the sampling pass,
rewrite/sampling.py): of a function-typed input, a run time call of its derivative; of a lifted
expression, the JVP of its sampled sub-program with respect to the points, by the one linearizer
(`rewrite.jvp`), seeded with ones (one variable) or the unit vectors (a point of f64[k]).

Kept apart from the pass itself, which calls `derivative` for those two rows only.
"""

from __future__ import annotations

from collections.abc import Sequence

from grammar.errors import DslError
from rewrite.sampling import PointSet, Sampler
from semantics.diagram import Box, Builder, Diagram, Node, make_box
from semantics.primitives import PRIMITIVES
from semantics.prims.functional import domain, var_size
from semantics.types import Dim, FunType, TensorType


def derivative(s: Sampler, node: Node, p: PointSet) -> int:
    """nabla / divergence of u at p: a run time call of the derivative when u is an input,
    otherwise the JVP of u's sampled sub-program with respect to the points (see `_jvp_at`)."""
    (u,) = node.inputs
    t = s.d.types[u]
    assert isinstance(t, FunType)
    (var,) = domain(t)
    assert isinstance(var, TensorType)
    if node.box.name == "nabla" and u in s.fun_inputs:
        return s.call_input(u, 1, p.coords, node)
    if not var.rank:  # one variable: nabla and divergence are the derivative
        return _jvp_at(s, u, p, _seed(s, p.n, None, node), node)
    k = var_size(var)
    parts = [_jvp_at(s, u, p, _seed(s, p.n, (i, k), node), node) for i in range(k)]
    if node.box.name == "nabla":
        return s.op("stack", parts, node, axis=-1)
    total = None
    for i, part in enumerate(parts):  # divergence: the i-th component of the i-th partial
        rank = s.type_of(part).rank
        index = (("slice", None, None, None),) * (rank - 1) + (("int", i),)
        comp = s.op("index", [part], node, index=index)
        total = comp if total is None else s.op("add", [total, comp], node)
    assert total is not None
    return total


def _seed(s: Sampler, n: Dim, axis: tuple[int, int] | None, node: Node) -> int:
    """The tangent of the points: ones (one variable), or the unit vector e_i for a point f64[k]."""
    if axis is None:
        (one,) = s.b.add(make_box("const", {"value": 1.0, "dtype": "f64"}), (), (TensorType("f64"),), node.span)
        return s.broadcast_points(one, n, node)
    i, k = axis
    eye = s.op("eye", [], node, n=Dim.const(k), dtype="f64")
    row = s.op("index", [eye], node, index=(("int", i),))
    return s.broadcast_points(row, n, node)


def _jvp_at(s: Sampler, u: int, p: PointSet, seed: int, node: Node) -> int:
    """The derivative of the samples of u at p along `seed` (one tangent per point), by the one
    linearizer: u is sampled in a sub-program whose inputs are the points (and the plain values
    it reads), run calls of function inputs are generator boxes there (the JVP of a call is a
    call of the derivative), and the linearized program is inlined here."""
    from rewrite.jvp import linearize_diagram

    sub = SubSampler(s.d, Builder())
    coords = [sub.b.input(s.b.types[c]) for c in p.coords]
    out = sub.sample(u, sub.point_set(coords, p.n))
    program = sub.b.build([out], name="sampled")
    wrt = tuple(range(len(coords)))
    if len(coords) != 1:
        raise DslError(f"'{node.box.name}' needs a function of one variable", node.span)
    lin = linearize_diagram(program, wrt)
    ld = lin.diagram
    rename = dict(zip(ld.inputs, [*p.coords, *(s.plain(w) for w in sub.externals), seed]))
    for n in ld.nodes:
        ins = [rename[w] for w in n.inputs]
        if n.box.kind == "gen" and n.box.name.lstrip("d_") in sub.calls:
            outs: tuple[int, ...] = (_translate_call(s, sub, n.box.name, ins, node),)
        else:
            outs = s.b.add(n.box, ins, [ld.types[w] for w in n.outputs], n.span)
        rename.update(zip(n.outputs, outs))
    return rename[ld.outputs[lin.n_primal_out]]


def _translate_call(s: Sampler, sub: SubSampler, name: str, ins: list[int], node: Node) -> int:
    """A generator box of the sub-program back to calls: `fn_i_k(p)` is the k-th derivative of
    input i at p; its JVP `d_fn_i_k(p, dp)` is the (k+1)-th derivative contracted with dp."""
    w, order = sub.calls[name.lstrip("d_")]
    if not name.startswith("d_"):
        return s.call_input(w, order, ins, node)
    (points,), (dp,) = ins[:1], ins[1:]
    grad = s.call_input(w, order + 1, [points], node)
    gt, pt = s.type_of(grad), s.type_of(dp)
    if pt.rank == 1:  # a scalar variable: the derivative times the tangent
        dpx = s.op("reshape", [dp], node, shape=(pt.shape[0], *(Dim.const(1),) * (gt.rank - 1)))
        return s.op("mul", [grad, dpx], node)
    k = pt.shape[1]
    dpx = s.op("reshape", [dp], node, shape=(pt.shape[0], *(Dim.const(1),) * (gt.rank - 2), k))
    return s.op("sum", [s.op("mul", [grad, dpx], node)], node, axis=-1, keepdims=False)


class SubSampler(Sampler):
    """Samples into a sub-program for the linearizer: plain values become inputs (`externals`,
    constants of the derivative), run time calls of function inputs become generator boxes
    `fn_<input>_<order>` (`calls`), so the linearizer differentiates them as uninterpreted boxes."""

    def __init__(self, d: Diagram, b: Builder):
        super().__init__(d, b, {})
        self.externals: list[int] = []
        self.calls: dict[str, tuple[int, int]] = {}

    def plain(self, w: int) -> int:
        if w not in self.env:
            self.env[w] = self.b.input(self.d.types[w])
            self.externals.append(w)
        return self.env[w]

    def call_input(self, w: int, order: int, coords: Sequence[int], node: Node | None) -> int:
        name = f"fn_{self.fun_inputs[w]}_{order}"
        self.calls[name] = (w, order)
        t = self.d.types[w]
        row = PRIMITIVES["fn_grad" if order else "fn_eval"]
        (out,) = row.infer((t, *(self.b.types[c] for c in coords)), {"order": order, "shape": self.call_shape(w, order)})
        return self.b.add(Box(name, (), "gen"), coords, (out,), node.span if node else None)[0]
