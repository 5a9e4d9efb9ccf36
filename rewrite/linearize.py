"""Linearization (forward mode): each node's JVP template from the primitive table, applied once.

`linearize(f, wrt)` builds the diagram `(x..., dx_wrt...) -> (y..., dy...)`: the primal nodes of
f followed, node by node, by the tangent nodes its JVP rule writes. Every node is linearized
exactly once (the diagram shares subterms), so the result is linear in the size of f. Integer and
bool wires, `stop_gradient`, `floor` and comparisons carry the zero tangent (LANGUAGE.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rewrite.templates import ZERO, ZeroVal, instantiate, template_statics, zeros
from semantics.diagram import Box, Builder, Diagram, Node
from semantics.errors import DerivativeError
from semantics.primitives import PRIMITIVES
from semantics.types import FLOAT_DTYPES, TensorType, WireType
from semantics.values import TupleVal, WireVal

Tangent = WireVal | ZeroVal


@dataclass(frozen=True)
class Linearized:
    """`diagram : (x..., t...) -> (y..., dy...)`; counts say where each group starts."""

    diagram: Diagram
    n_primal_in: int
    n_tangent_in: int
    n_primal_out: int


def is_float(t: WireType) -> bool:
    return isinstance(t, TensorType) and t.dtype in FLOAT_DTYPES


def derivative_box(box: Box, mode: str) -> Box:
    """The uninterpreted derivatives of a generator box `f`: `d_f(x..., dx...) -> dy...` (its JVP)
    and `dT_f(x..., ct...) -> ct_x...` (its transpose, for reverse mode). Running them needs
    implementations, like `f` itself: `boxes={"f": ..., "d_f": ..., "dT_f": ...}`."""
    return Box(f"{'d' if mode == 'jvp' else 'dT'}_{box.name}", (), "gen")


def linearize(d: Diagram, wrt: tuple[int, ...]) -> Linearized:
    b = Builder()
    primal = {w: b.input(d.types[w]) for w in d.inputs}
    tangent: dict[int, Tangent] = {}
    for i in wrt:
        w = d.inputs[i]
        tangent[w] = WireVal(b.input(d.types[w]), d.types[w])
    for node in d.nodes:
        outs = b.add(node.box, [primal[w] for w in node.inputs], [d.types[w] for w in node.outputs], node.span)
        primal.update(zip(node.outputs, outs))
        tans = [tangent.get(w, ZERO) for w in node.inputs]
        if all(isinstance(t, ZeroVal) for t in tans) or not any(is_float(d.types[w]) for w in node.outputs):
            continue
        for w, t in zip(node.outputs, _node_tangents(b, node, d, primal, tans)):
            tangent[w] = t
    outs = tuple(primal[w] for w in d.outputs)
    douts = []
    for w in d.outputs:
        t = tangent.get(w, ZERO)
        if isinstance(t, ZeroVal):
            wt = d.types[w]
            if not isinstance(wt, TensorType):
                raise DerivativeError("function-typed outputs cannot be differentiated yet")
            t = zeros(b, wt)
        douts.append(t.wire)
    names = d.param_names() + tuple(f"d{d.param_names()[i]}" for i in wrt)
    lin = b.build(outs + tuple(douts), input_names=names, name=f"jvp_{d.name}" if d.name else "")
    return Linearized(lin, len(d.inputs), len(wrt), len(d.outputs))


def _node_tangents(b: Builder, node: Node, d: Diagram, primal: dict[int, int], tans: list[Tangent]) -> list[Tangent]:
    box = node.box
    if box.kind == "gen":
        live = [t if not isinstance(t, ZeroVal) else zeros(b, d.types[w]) for t, w in zip(tans, node.inputs)]  # type: ignore[arg-type]
        ins = [primal[w] for w in node.inputs] + [t.wire for t in live]
        outs = b.add(derivative_box(box, "jvp"), ins, [d.types[w] for w in node.outputs], node.span)
        return [WireVal(o, d.types[w]) for o, w in zip(outs, node.outputs)]
    if box.kind != "prim":
        raise DerivativeError(f"cannot differentiate the call box '{box.name}' (expand calls first)", node.span)
    prim = PRIMITIVES[box.name]
    if prim.jvp is None:
        raise DerivativeError(f"the primitive '{prim.name}' has no derivative rule", node.span)
    if prim.jvp == "0":
        return [ZERO]
    env, types = _bind_args(prim, node, d, primal, tans, b)
    out_w = node.outputs[0]
    env["out"] = WireVal(primal[out_w], d.types[out_w], node.span)
    types["out"] = d.types[out_w]
    template = prim.jvp_template(types, box.param_dict)
    assert template is not None
    statics = template_statics(box.param_dict, types)
    return [instantiate(template, b, env, statics, d.types[out_w], node.span)]


def _bind_args(prim: Any, node: Node, d: Diagram, primal: dict[int, int], tans: list[Tangent],
               b: Builder) -> tuple[dict[str, Any], dict[str, WireType]]:
    """Template names: each wire argument by name (`x`, `y`) and its tangent (`dx`, `dy`); a variadic
    `*xs` binds `xs`/`dxs` to tuples and `x0, x1, ...`/`dx0, ...` to the items (zero tangents made
    explicit, as concat needs arrays). Also returns the argument types by name."""
    env: dict[str, Any] = {}
    types: dict[str, WireType] = {}
    wire_args = [a for a in prim.args if prim.param_spec(a) is None]
    ws = list(node.inputs)
    if prim.variadic:
        name = wire_args[0].lstrip("*")
        items = [WireVal(primal[w], d.types[w], node.span) for w in ws]
        dits = [t if not isinstance(t, ZeroVal) else zeros(b, d.types[w], node.span)  # type: ignore[arg-type]
                for t, w in zip(tans, ws)]
        env[name], env["d" + name] = TupleVal(tuple(items)), TupleVal(tuple(dits))
        for k, (x, dx) in enumerate(zip(items, dits)):
            env[f"x{k}"], env[f"dx{k}"], types[f"x{k}"] = x, dx, x.type
        return env, types
    for a, w, t in zip(wire_args, ws, tans):
        env[a] = WireVal(primal[w], d.types[w], node.span)
        env["d" + a] = t
        types[a] = d.types[w]
    return env, types
