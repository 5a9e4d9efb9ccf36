"""Batching the linear (tangent) part of a linearized diagram over a leading axis of k tangents.

`jacobian` and `hessian` push all k = numel(x) basis tangents through the JVP at once: every
tangent wire gets a leading batch axis, and each linear node is rewritten by a per-family rule
(shift `axis=` parameters by one, prepend a full slice to an index, align ranks so broadcasting
still lines up, ...). This is vmap restricted to the primitives a JVP rule can produce.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grammar.errors import Span
from rewrite.jvp import linearize_diagram
from rewrite.tangents import linear_wires
from rewrite.templates import zeros
from semantics.diagram import Builder, Diagram, Node, make_box
from semantics.errors import DerivativeError
from semantics.primitives import PRIMITIVES
from semantics.types import Dim, TensorType, WireType

ELEMENTWISE = ("unary", "binary", "compare", "select")


def numel(t: TensorType) -> Dim:
    total = Dim.const(1)
    for d in t.shape:
        total = total * d
    return total


class Batcher:
    def __init__(self, b: Builder, k: Dim):
        self.b = b
        self.k = k

    def add(self, name: str, ins: list[int], params: dict[str, Any], types: list[WireType], span: Span | None) -> int:
        out_types = PRIMITIVES[name].infer(tuple(types), params)
        (o,) = self.b.add(make_box(name, params), ins, out_types, span)
        return o

    def lift(self, w: int, t: TensorType, rank: int, span: Span | None) -> int:
        """Batched wire of unbatched type t, as rank `rank` (+1 for the batch axis) with singleton axes
        after the batch axis, so it broadcasts against unbatched operands of that rank."""
        for _ in range(rank - t.rank):
            w = self.add("expand_dims", [w], {"axis": 1}, [self.btype(t)], span)
            t = TensorType(t.dtype, (Dim.const(1), *t.shape))
        return w

    def btype(self, t: TensorType) -> TensorType:
        return TensorType(t.dtype, (self.k, *t.shape))


def _shift_axis(axis: Any, rank: int) -> Any:
    if axis is None:
        return tuple(range(1, rank + 1))
    if isinstance(axis, tuple):
        return tuple(a % rank + 1 for a in axis)
    return axis % rank + 1


def batch_node(bt: Batcher, node: Node, d: Diagram, ins: list[int], batched: list[bool]) -> int:
    """Write the batched version of linear node `node`; `ins` are the new wires (batched where flagged)."""
    name, params = node.box.name, dict(node.box.param_dict)
    if node.box.kind != "prim":
        raise DerivativeError(f"cannot batch the box '{name}' (jacobian/hessian through generator boxes)", node.span)
    prim = PRIMITIVES[name]
    in_t = [d.types[w] for w in node.inputs]
    out_t = d.types[node.outputs[0]]
    assert isinstance(out_t, TensorType)
    tys: list[TensorType] = [t for t in in_t if isinstance(t, TensorType)]
    new_types = [bt.btype(t) if f else t for t, f in zip(tys, batched)]
    sp = node.span
    if prim.family in ELEMENTWISE:
        lifted = [bt.lift(w, t, out_t.rank, sp) if f else w for w, t, f in zip(ins, tys, batched)]
        types: list[WireType] = [TensorType(t.dtype, (bt.k,) + (Dim.const(1),) * (out_t.rank - t.rank) + t.shape) if f else t
                 for t, f in zip(tys, batched)]
        return bt.add(name, lifted, params, types, sp)
    rule = RULES.get(name)
    if rule is None:
        raise DerivativeError(f"jacobian/hessian: no batching rule for '{name}'", sp)
    return rule(bt, ins, tys, batched, new_types, params, out_t, sp)


Rule = Callable[[Batcher, list[int], list[TensorType], list[bool], list[TensorType], dict[str, Any], TensorType,
                 "Span | None"], int]


def _reduce(name: str) -> Rule:
    def rule(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
        params["axis"] = _shift_axis(params.get("axis"), tys[0].rank)
        return bt.add(name, ins, params, nt, sp)
    return rule


def _prepend(key: str, value: Callable[[Batcher, Any, TensorType], Any], name: str) -> Rule:
    def rule(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
        params[key] = value(bt, params.get(key), tys[0])
        return bt.add(name, ins, params, nt, sp)
    return rule


def _broadcast_to(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
    w = bt.lift(ins[0], tys[0], len(params["shape"]), sp)
    t = TensorType(tys[0].dtype, (bt.k,) + (Dim.const(1),) * (len(params["shape"]) - tys[0].rank) + tys[0].shape)
    return bt.add("broadcast_to", [w], {"shape": (bt.k, *params["shape"])}, [t], sp)


def _pad_width(bt: Batcher, width: Any, t: TensorType) -> Any:
    per_axis = width if isinstance(width[0], tuple) else (tuple(width),) * t.rank
    return ((0, 0), *per_axis)


def _transpose_axes(bt: Batcher, axes: Any, t: TensorType) -> Any:
    axes = tuple(reversed(range(t.rank))) if axes is None else axes
    return (0, *(a + 1 for a in axes))


def _squeeze_axis(bt: Batcher, axis: Any, t: TensorType) -> Any:
    if axis is None:
        return tuple(i + 1 for i, d in enumerate(t.shape) if d == Dim.const(1))
    return _shift_axis(axis, t.rank)


def _expand_axis(bt: Batcher, axis: int, t: TensorType) -> int:
    return axis + 1 if axis >= 0 else axis


def _joined(name: str) -> Rule:
    def rule(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
        full = []
        for w, t, f in zip(ins, tys, batched):
            if not f:
                w = bt.add("broadcast_to", [w], {"shape": (bt.k, *t.shape)}, [t], sp)
            full.append(w)
        axis = params.get("axis", 0)
        params["axis"] = axis + 1 if axis >= 0 else axis
        return bt.add(name, full, params, [bt.btype(t) for t in tys], sp)
    return rule


def _matmul(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
    x, y = tys
    if batched[1] and y.rank == 1:
        if x.rank == 1:
            return bt.add("matmul", [ins[1], ins[0]], {}, [nt[1], x], sp)
        xt = bt.add("transpose", [ins[0]], {"axes": None}, [x], sp)
        return bt.add("matmul", [ins[1], xt], {}, [nt[1], TensorType(x.dtype, tuple(reversed(x.shape)))], sp)
    return bt.add("matmul", ins, {}, nt, sp)


def _outer(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
    x, y = tys
    if batched[0]:
        xe = bt.add("expand_dims", [ins[0]], {"axis": 2}, [nt[0]], sp)
        return bt.add("mul", [xe, ins[1]], {}, [TensorType(x.dtype, (bt.k, x.shape[0], Dim.const(1))), y], sp)
    xe = bt.add("expand_dims", [ins[0]], {"axis": 1}, [x], sp)
    ye = bt.add("expand_dims", [ins[1]], {"axis": 1}, [nt[1]], sp)
    return bt.add("mul", [xe, ye], {}, [TensorType(x.dtype, (x.shape[0], Dim.const(1))),
                                         TensorType(y.dtype, (bt.k, Dim.const(1), y.shape[0]))], sp)


def _einsum(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
    subs = params["subscripts"].replace(" ", "")
    lhs, arrow, rhs = subs.partition("->")
    terms = lhs.split(",")
    if not arrow:
        letters = sorted(c for c in set(lhs.replace(",", "")) if lhs.replace(",", "").count(c) == 1)
        rhs = "".join(letters)
    z = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in subs)
    terms = [z + t if f else t for t, f in zip(terms, batched)]
    return bt.add("einsum", ins, {"subscripts": ",".join(terms) + "->" + z + rhs}, nt, sp)


def _via_einsum(spec: str) -> Rule:
    def rule(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
        return bt.add("einsum", ins, {"subscripts": spec}, nt, sp)
    return rule


def _diag(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
    (x,) = tys
    if x.rank == 2:
        return bt.add("einsum", ins, {"subscripts": "zii->zi"}, nt, sp)
    n = x.shape[0]
    eye = bt.add("eye", [], {"n": n, "dtype": x.dtype}, [], sp)
    xe = bt.add("expand_dims", [ins[0]], {"axis": 2}, [nt[0]], sp)
    return bt.add("mul", [xe, eye], {}, [TensorType(x.dtype, (bt.k, n, Dim.const(1))), TensorType(x.dtype, (n, n))], sp)


def _dot(bt, ins, tys, batched, nt, params, out_t, sp):  # type: ignore[no-untyped-def]
    if tys[0].rank == 1 and tys[1].rank == 1:
        order = [1, 0] if batched[1] else [0, 1]
        return bt.add("matmul", [ins[i] for i in order], {}, [nt[i] for i in order], sp)
    return _matmul(bt, ins, tys, batched, nt, params, out_t, sp)


RULES: dict[str, Rule] = {
    **{r: _reduce(r) for r in ("sum", "mean", "prod", "max", "min", "logsumexp")},
    "sum_to": _prepend("shape", lambda bt, s, t: (bt.k, *s), "sum_to"),
    "reshape": _prepend("shape", lambda bt, s, t: (bt.k, *s), "reshape"),
    "broadcast_to": _broadcast_to,
    "index": _prepend("index", lambda bt, spec, t: (("slice", None, None, None), *spec), "index"),
    "pad": _prepend("width", _pad_width, "pad"),
    "transpose": _prepend("axes", _transpose_axes, "transpose"),
    "expand_dims": _prepend("axis", _expand_axis, "expand_dims"),
    "squeeze": _prepend("axis", _squeeze_axis, "squeeze"),
    "roll": _prepend("axis", lambda bt, a, t: _shift_axis(a, t.rank) if a is not None else _no_flat_roll(), "roll"),
    "concat": _joined("concat"),
    "stack": _joined("stack"),
    "matmul": _matmul,
    "dot": _dot,
    "outer": _outer,
    "einsum": _einsum,
    "trace": _via_einsum("zii->z"),
    "diag": _diag,
}


def _no_flat_roll() -> Any:
    raise DerivativeError("jacobian/hessian of roll without axis= is not supported; give axis=")


def batched_jacobian(d: Diagram, i: int) -> Diagram:
    """`x... -> J` with J of shape shape(y) + shape(x_i), by pushing the k = numel(x_i) basis
    tangents through the JVP of d at once."""
    (y_t,) = d.cod
    x_t = d.dom[i]
    if not isinstance(x_t, TensorType) or not isinstance(y_t, TensorType):
        raise DerivativeError("jacobian needs tensor input and output")
    lin = linearize_diagram(d, (i,))
    L = lin.diagram
    linear = linear_wires(lin)
    k = numel(x_t)
    b = Builder()
    bt = Batcher(b, k)
    new = {w: b.input(L.types[w]) for w in L.inputs[:lin.n_primal_in]}
    eye = bt.add("eye", [], {"n": k, "dtype": x_t.dtype}, [], None)
    tangent_in = L.inputs[lin.n_primal_in]
    new[tangent_in] = bt.add("reshape", [eye], {"shape": (k, *x_t.shape)}, [TensorType(x_t.dtype, (k, k))], None)
    for node in L.nodes:
        ins = [new[w] for w in node.inputs]
        if not any(w in linear for w in node.inputs):
            outs = b.add(node.box, ins, [L.types[w] for w in node.outputs], node.span)
        else:
            outs = (batch_node(bt, node, L, ins, [w in linear for w in node.inputs]),)
        new.update(zip(node.outputs, outs))
    dy = L.outputs[lin.n_primal_out]
    if dy not in linear:
        return b.build([zeros(b, TensorType(y_t.dtype, y_t.shape + x_t.shape)).wire])
    r = y_t.rank
    moved = bt.add("transpose", [new[dy]], {"axes": (*range(1, r + 1), 0)}, [bt.btype(y_t)], None)
    out = bt.add("reshape", [moved], {"shape": y_t.shape + x_t.shape},
                 [TensorType(y_t.dtype, (*y_t.shape, k))], None)
    return b.build([out])
