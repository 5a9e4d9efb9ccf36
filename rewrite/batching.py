"""Batching the linear (tangent) part of a linearized diagram over a leading axis of k tangents.

`jacobian` and `hessian` push all k = numel(x) basis tangents through the JVP at once: every
tangent wire gets a leading batch axis, and each linear node is rewritten by its primitive's
batching rule — a DSL template in the primitive table row (`batch`), instantiated here like the JVP
and transpose templates. This is vmap restricted to the primitives a JVP rule can produce; this
module holds no per-primitive facts.
"""

from __future__ import annotations

from typing import Any

from rewrite.jvp import linearize_diagram
from rewrite.tangents import linear_wires
from rewrite.templates import TemplateElaborator, ZeroVal, parse_template, template_statics, zeros
from semantics.diagram import Builder, Diagram, Node, make_box
from semantics.errors import DerivativeError
from semantics.primitives import PRIMITIVES
from semantics.types import Dim, FunType, TensorType, WireType
from semantics.values import TupleVal, WireVal


def numel(t: TensorType) -> Dim:
    total = Dim.const(1)
    for d in t.shape:
        total = total * d
    return total


def batch_statics(types: dict[str, WireType], k: Dim) -> dict[str, Any]:
    """What batching templates may use besides the derivative templates' statics: `k`, and for each
    argument (and `out`) its batched shape `bshape_<a>` and its flattened batched shape `bflat_<a>`."""
    out: dict[str, Any] = {"k": k}
    for name, t in types.items():
        if isinstance(t, TensorType):
            out[f"bshape_{name}"] = (k, *t.shape)
            out[f"bflat_{name}"] = (k, numel(t))
    return out


def batch_node(b: Builder, k: Dim, node: Node, d: Diagram, ins: list[int], batched: list[bool]) -> int:
    """Write the batched version of linear node `node`; `ins` are the new wires (batched where flagged)."""
    name, params = node.box.name, node.box.param_dict
    prim = PRIMITIVES.get(name)
    if node.box.kind != "prim" or prim is None:
        raise DerivativeError(f"cannot batch the box '{name}' (jacobian/hessian through generator boxes)", node.span)
    out_t = d.types[node.outputs[0]]
    names = list(prim.wire_args)
    if prim.variadic:
        names = [f"x{i}" for i in range(len(node.inputs))] if len(names) == 1 else \
            names[:-1] + [f"{names[-1].lstrip('*')}{i}" for i in range(len(node.inputs) - len(names) + 1)]
    # An array row on function-typed wires acts pointwise, so it batches like its values (the batch
    # axis leads the values: FunType(D, [k, ...])); the functional rows' own rules see the real types.
    view = (lambda t: t) if prim.family == "functional" else _values
    types: dict[str, WireType] = {n: view(d.types[w]) for n, w in zip(names, node.inputs)}
    types["out"] = view(out_t)
    flagged = frozenset(n for n, f in zip(names, batched) if f)
    rule = prim.batch_template(types, params, flagged)
    if rule is None:
        raise DerivativeError(f"jacobian/hessian: the primitive '{name}' has no batching rule", node.span)
    template, extra = rule
    el = TemplateElaborator(b, {**params, **template_statics(params, types), **batch_statics(types, k), **extra},
                            _dims(types))
    for n, w, f, t in zip(names, ins, batched, (d.types[w] for w in node.inputs)):
        el.env[n] = WireVal(w, batched_type(t, k) if f else t, node.span)
    if prim.variadic:
        star = len(prim.wire_args) - 1
        el.env[prim.wire_args[-1].lstrip("*")] = TupleVal(tuple(el.env[n] for n in names[star:]))
    first = len(b.nodes)
    value = el.expr(parse_template(template))
    b.nodes[first:] = [Node(n.box, n.inputs, n.outputs, node.span) for n in b.nodes[first:]]
    want = batched_type(out_t, k)
    assert isinstance(value, WireVal) and not isinstance(value, ZeroVal), (name, template)
    assert value.type == want, f"batching rule of {name} gave {value.type}, expected {want}"
    return value.wire


def _values(t: WireType) -> WireType:
    """The type a pointwise row sees: a function's values (its own type for a tensor)."""
    return t.res if isinstance(t, FunType) and isinstance(t.res, TensorType) else t


def batched_type(t: WireType, k: Dim) -> WireType:
    """A wire carrying k tangents: a leading axis k (on a function, on its values)."""
    if isinstance(t, FunType):
        return FunType(t.arg, batched_type(_values(t), k))
    assert isinstance(t, TensorType)
    return TensorType(t.dtype, (k, *t.shape))


def _dims(types: dict[str, WireType]) -> frozenset[str]:
    return frozenset(a for t in types.values() if isinstance(t, TensorType) for d in t.shape for a in d.atoms)


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
    new = {w: b.input(L.types[w]) for w in L.inputs[:lin.n_primal_in]}
    eye = _add(b, "eye", [], {"n": k, "dtype": x_t.dtype}, [])
    tangent_in = L.inputs[lin.n_primal_in]
    new[tangent_in] = _add(b, "reshape", [eye], {"shape": (k, *x_t.shape)}, [TensorType(x_t.dtype, (k, k))])
    for node in L.nodes:
        ins = [new[w] for w in node.inputs]
        if not any(w in linear for w in node.inputs):
            outs = b.add(node.box, ins, [L.types[w] for w in node.outputs], node.span)
        else:
            outs = (batch_node(b, k, node, L, ins, [w in linear for w in node.inputs]),)
        new.update(zip(node.outputs, outs))
    dy = L.outputs[lin.n_primal_out]
    if dy not in linear:
        return b.build([zeros(b, TensorType(y_t.dtype, y_t.shape + x_t.shape)).wire])
    r = y_t.rank
    moved = _add(b, "transpose", [new[dy]], {"axes": (*range(1, r + 1), 0)}, [TensorType(y_t.dtype, (k, *y_t.shape))])
    out = _add(b, "reshape", [moved], {"shape": y_t.shape + x_t.shape}, [TensorType(y_t.dtype, (*y_t.shape, k))])
    return b.build([out])


def _add(b: Builder, name: str, ins: list[int], params: dict[str, Any], types: list[WireType]) -> int:
    (o,) = b.add(make_box(name, params), ins, PRIMITIVES[name].infer(tuple(types), params))
    return o
