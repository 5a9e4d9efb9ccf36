"""Transposition (the dagger functor on the linear part): one reverse sweep, linear in the diagram.

Given `lin : (x..., t...) -> (y..., dy...)` linear in t, builds `(x..., ct_dy...) -> (y..., ct_t...)`:
the primal nodes (those not reading a tangent) are copied forward; then, in reverse order, each
linear node sends its output cotangent to the arguments it is linear in through the primitive's
transpose template. Copy becomes add — cotangents are summed at every fan-out — and discard
becomes zero (a wire nobody reads gets no cotangent). Never by rewriting: on diamond-shaped
diagrams that is exponential; this sweep is linear whatever the number of paths.

Selection masks: the cotangent of a `where` branch is zero where the branch is not selected, and
the forward JVP never multiplies the unselected branch's tangent into anything. So that the reverse
pass agrees (no `0 * inf = nan` from a guarded singularity such as `where(x > 0, sqrt(x), 0)`), a
cotangent remembers the selections it went through, and each elementwise transpose it meets selects
its result (`where(c, ct / y, 0)`) instead of scaling a zero.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any

from grammar.errors import Span
from rewrite.functional import transpose_apply
from rewrite.tangents import Linearized, derivative_box, linear_wires
from rewrite.templates import Fragment, bind_args, fragment, pointwise_view, template_statics, zeros
from semantics.diagram import Box, Builder, Diagram, make_box
from semantics.errors import DerivativeError
from semantics.primitives import PRIMITIVES
from semantics.types import TensorType
from semantics.values import WireVal

Mask = tuple[tuple[int, bool], ...]  # (condition wire, branch selected when it holds), outermost last


def transpose(lin: Linearized, seeds: Sequence[Box] | None = None, primal_outputs: bool = True) -> Diagram:
    """`(x..., ct_dy...) -> (y..., ct_t...)` (see the module doc). With `seeds` (one constant box per
    tangent output, e.g. the `1.0` of a gradient), the cotangents are those constants instead of
    inputs: `x... -> (y..., ct_t...)`, the diagram a caller would get by feeding the constants in,
    numbered alike (the constants are the first nodes), without copying the sweep's result.
    Without `primal_outputs` the result is `ct_t...` alone, and the primal nodes only the dropped
    `y...` read are not copied (dead code the caller would otherwise remove)."""
    d = lin.diagram
    types = d.types
    linear = linear_wires(lin)
    is_linear = [not linear.isdisjoint(node.outputs) for node in d.nodes]
    if not primal_outputs:
        if any(w in linear for w in d.outputs[:lin.n_primal_out]):
            _unreachable(0)
        needed = _primal_needed(d, is_linear)
    b = Builder()
    primal = {w: b.input(types[w]) for w in d.inputs[:lin.n_primal_in]}
    tangent_outs = d.outputs[lin.n_primal_out:]
    if seeds is None:
        ct_inputs = [b.input(types[w]) for w in tangent_outs]
    else:
        assert len(seeds) == len(tangent_outs), (len(seeds), len(tangent_outs))
        ct_inputs = [b.add(box, (), (types[w],))[0] for box, w in zip(seeds, tangent_outs)]
    linear_nodes = []
    for node, lin_node in zip(d.nodes, is_linear):
        if lin_node:
            linear_nodes.append(node)
            continue
        outs = node.outputs
        if not primal_outputs and (outs[0] not in needed if len(outs) == 1 else needed.isdisjoint(outs)):
            continue
        new = b.add(node.box, [primal[w] for w in node.inputs], [types[w] for w in outs], node.span)
        if len(outs) == 1:
            primal[outs[0]] = new[0]
        else:
            primal.update(zip(outs, new))
    acc = Accumulator(b, d)
    for w, c in zip(tangent_outs, ct_inputs):
        if w in linear:
            acc.add(w, c)
    memo: Memo = {}
    ct_of = acc.ct
    for node in reversed(linear_nodes):
        outs = node.outputs
        if len(outs) == 1:
            one = ct_of.get(outs[0])
            if one is not None:
                _transpose_node(b, node, d, primal, linear, [one], acc, memo)
            continue
        cts = [ct_of.get(w) for w in outs]
        if any(x is not None for x in cts):
            _transpose_node(b, node, d, primal, linear, cts, acc, memo)
    ys = [primal[w] if w in primal else _unreachable(w) for w in d.outputs[:lin.n_primal_out]] \
        if primal_outputs else []
    grads: list[int] = []
    for w in d.inputs[lin.n_primal_in:lin.n_primal_in + lin.n_tangent_in]:
        ct = acc.get(w)
        grads.append(ct if ct is not None else zeros(b, d.types[w]).wire)
    names = d.param_names()[:lin.n_primal_in] + tuple(f"ct{i}" for i in range(len(b.inputs) - lin.n_primal_in))
    return b.build(ys + grads, input_names=names)


def _primal_needed(d: Diagram, is_linear: Sequence[bool]) -> set[int]:
    """The primal wires the reverse sweep reads: the arguments of the linear nodes (their transpose
    templates read the primal ones) and, transitively, what computes them. One reverse pass: every
    reader of a node's outputs comes after it, so it was seen first."""
    needed: set[int] = set()
    nodes = d.nodes
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        outs = node.outputs
        if is_linear[i] or (outs[0] in needed if len(outs) == 1 else not needed.isdisjoint(outs)):
            needed.update(node.inputs)
    return needed


def _unreachable(w: int) -> int:
    raise DerivativeError("a primal output depends on a tangent (internal error in linearization)")


_ADD = make_box("add")


class Accumulator:
    """Cotangent per wire, summed at fan-out (the transpose of copy is add)."""

    def __init__(self, b: Builder, d: Diagram):
        self.b = b
        self.d = d
        self.ct: dict[int, int] = {}
        self.masks: dict[int, Mask] = {}
        self._spans: dict[int, Span | None] | None = None  # each wire's defining span, when first needed

    def add(self, w: int, c: int, mask: Mask = (), span: Span | None = None) -> None:
        """Add cotangent `c` to wire w's; the sum points at the DSL line of the use that
        contributes `c` (or of w's definition), so generated code can name its source line."""
        old = self.ct.get(w)
        if old is not None:
            (s,) = self.b.add(_ADD, [old, c], [self.d.types[w]], span or self.span_of(w))
            self.ct[w] = s
            self.masks[w] = mask if self.masks.get(w) == mask else ()
        else:
            self.ct[w] = c
            self.masks[w] = mask

    def span_of(self, w: int) -> Span | None:
        if self._spans is None:
            self._spans = {o: n.span for n in self.d.nodes for o in n.outputs}
        return self._spans.get(w)

    def get(self, w: int) -> int | None:
        return self.ct.get(w)


def _transpose_node(b: Builder, node: Any, d: Diagram, primal: dict[int, int], linear: set[int],
                    cts: list[int | None], acc: Accumulator, memo: Memo) -> None:
    box = node.box
    if box.kind == "gen" and box.name.startswith("d_"):
        _transpose_derivative_box(b, node, d, primal, linear, cts, acc)
        return
    prim = PRIMITIVES.get(box.name)
    if box.kind != "prim" or prim is None:
        raise DerivativeError(f"cannot transpose '{box.name}'", node.span)
    (c,) = cts
    assert c is not None
    if box.name == "apply":  # its transpose reads the points' diagram (rewrite/functional.py)
        if any(w in linear for w in node.inputs[1:]):
            raise DerivativeError("apply is linear only in the function (internal error in linearization)", node.span)
        f = node.inputs[0]
        acc.add(f, transpose_apply(b, node, d, primal, c, _function_name(d, f)), span=node.span)
        return
    out = node.outputs[0]
    mask = acc.masks.get(out, ()) if prim.elementwise else ()
    if prim.variadic:  # concat/stack transposes read the other operands' shapes: zeros stand in for linear ones
        env_wires = [_primal_or_zeros(b, w, d, primal, linear).wire for w in node.inputs]
        targets = _targets(prim, node, d, env_wires, [True] * len(env_wires), linear, c, mask, b)
    else:
        flags = [w not in linear for w in node.inputs]
        env_wires = [primal[w] if f else -1 for w, f in zip(node.inputs, flags)]
        targets = _plan(prim, node, d, env_wires, flags, linear, c, mask, b, memo)
    slots = [*env_wires, c, *[m for m, _ in mask]] if mask else [*env_wires, c]  # what fragment inputs index into
    types = d.types
    span = node.span
    plain = not mask and box.name != "where"  # no selection to pass on (the common case)
    for j, frag, ins in targets:
        w = node.inputs[j]
        # the fragment was elaborated to w's type: its result needs no `fit`
        r = frag.replay_wire(b, [slots[i] for i in ins], span)
        if r < 0:
            continue
        if plain:
            acc.add(w, r, (), span)
        else:
            wt, out_t = types[w], types[out]
            acc.add(w, r, _passed_mask(prim.name, _arg_name(prim, j), node, d, primal, mask,
                                       wt is out_t or wt == out_t), span)


Target = tuple[int, Fragment, tuple[int, ...]]  # (input index, its cotangent's fragment, the fragment's inputs as slots)
Memo = dict[tuple[object, ...], tuple[Target, ...]]  # one sweep's plans, by the identity of boxes and types
_PLANS: dict[Hashable, tuple[Target, ...]] = {}
_MAX_PLANS = 4096  # distinct node kinds; a bounded memo, emptied when full


def _plan(prim: Any, node: Any, d: Diagram, env_wires: list[int], flags: list[bool], linear: set[int], c: int,
          mask: Mask, b: Builder, memo: Memo) -> tuple[Target, ...]:
    """`_targets` memoised by what they depend on: the box, the argument and result types, which
    arguments are linear, the mask's branches and types, and which primal/mask wires coincide — not
    the wires themselves (a 600-layer chain transposes the same few kinds of node 600 times each).
    The sweep's own `memo` is keyed by the identity of the box and the types (the diagram keeps
    them alive, and the e-graph's extraction shares one object per distinct box and type), whose
    hashes are C integers; the process-wide memo, keyed by their values, answers its misses."""
    types = d.types
    ins = node.inputs
    bound = [w for w in env_wires if w >= 0] + [m for m, _ in mask]
    if len(bound) < 2:
        pattern: tuple[int, ...] = (0,) * len(bound)
    else:
        first: dict[int, int] = {}
        pattern = tuple([first.setdefault(w, len(first)) for w in bound])
    fast = (id(node.box), tuple([id(types[w]) for w in ins]), id(types[node.outputs[0]]), tuple(flags), pattern,
            tuple([(id(b.types[m]), branch) for m, branch in mask]) if mask else ())
    plan = memo.get(fast)
    if plan is not None:
        return plan
    key = (node.box, tuple([types[w] for w in ins]), types[node.outputs[0]], tuple(flags),
           tuple((b.types[m], branch) for m, branch in mask), pattern)
    try:
        plan = _PLANS.get(key)
    except TypeError:  # an unhashable static parameter: no memo
        return _targets(prim, node, d, env_wires, flags, linear, c, mask, b)
    if plan is None:
        plan = _targets(prim, node, d, env_wires, flags, linear, c, mask, b)
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[key] = plan
    memo[fast] = plan
    return plan


def _targets(prim: Any, node: Any, d: Diagram, env_wires: list[int], flags: list[bool], linear: set[int], c: int,
             mask: Mask, b: Builder) -> tuple[Target, ...]:
    """For each linear argument of `node`, the fragment of its transpose template and the slots its
    inputs come from (indices into env_wires + [c] + mask wires, see `_transpose_node`)."""
    box = node.box
    in_t = [d.types[w] for w in node.inputs]
    primals = [WireVal(w, t, node.span) if f else None for w, t, f in zip(env_wires, in_t, flags)]
    env, types = bind_args(prim, in_t, primals)
    out_t = d.types[node.outputs[0]]
    env["ct"], types["out"] = WireVal(c, out_t, node.span), out_t
    types = pointwise_view(prim, types)
    statics = template_statics(box.param_dict, types)
    for i, (m, _) in enumerate(mask):
        env[f"mask{i}"] = WireVal(m, b.types[m], node.span)
    slot_of: dict[int, int] = {}
    for i, w in enumerate([*env_wires, c, *(m for m, _ in mask)]):
        slot_of.setdefault(w, i)
    out: list[Target] = []
    for j, w in enumerate(node.inputs):
        if w not in linear:
            continue
        a = _arg_name(prim, j)
        template = prim.transpose_template(a, types, box.param_dict, j if prim.variadic else -1)
        if template is None:
            raise DerivativeError(f"the primitive '{prim.name}' is used linearly in '{a}' but has no transpose rule "
                                  f"for it", node.span)
        # only a primal factor can turn a masked zero into nan; `ct`, `-ct`, casts pass it through
        scaled = mask and any(re.search(rf"\b{n}\b", template) for n, v in env.items()
                              if isinstance(v, WireVal) and n != "ct" and getattr(v.type, "is_float", False))
        for i, (_, branch) in enumerate(mask if scaled else ()):
            template = f"where(mask{i}, {template}, 0)" if branch else f"where(mask{i}, 0, {template})"
        wires: list[int] = []
        frag = fragment(template, env, statics, d.types[w], wires, node.span)
        out.append((j, frag, tuple(slot_of[v] for v in wires)))
    return tuple(out)


def _arg_name(prim: Any, j: int) -> str:
    """The row's name of wire argument j (a variadic row's arguments share one name)."""
    return prim.wire_args[0].lstrip("*") if prim.variadic else prim.wire_args[j]


def _passed_mask(name: str, arg: str, node: Any, d: Diagram, primal: dict[int, int], mask: Mask,
                 same_type: bool) -> Mask:
    """The selections an argument's cotangent went through: the output's (when no broadcasting sum
    mixed entries), plus this node's own when it is a `where` branch."""
    if not same_type:
        return ()
    if name == "where" and arg in ("x", "y"):
        return (*mask, (primal[node.inputs[0]], arg == "x"))
    return mask


def _function_name(d: Diagram, w: int) -> str:
    """The parameter a function tangent comes from (`rho` for the wire `drho`), for messages."""
    prod = {o: n for n in d.nodes for o in n.outputs}
    while w in prod and len(prod[w].inputs) == 1:
        w = prod[w].inputs[0]
    if w in d.inputs:
        name = d.param_names()[d.inputs.index(w)]
        return name[1:] if name.startswith("d") and len(name) > 1 else name
    return "the function"


def _primal_or_zeros(b: Builder, w: int, d: Diagram, primal: dict[int, int], linear: set[int]) -> WireVal:
    t = d.types[w]
    if w in linear:
        assert isinstance(t, TensorType)
        return zeros(b, t)
    return WireVal(primal[w], t)


def _transpose_derivative_box(b: Builder, node: Any, d: Diagram, primal: dict[int, int], linear: set[int],
                              cts: list[int | None], acc: Accumulator) -> None:
    """`d_f(x..., dx...) -> dy...` (linear in dx) transposes to the uninterpreted `d_f[mode=vjp]`."""
    n = len(node.inputs) // 2
    xs, dxs = node.inputs[:n], node.inputs[n:]
    full = [c if c is not None else zeros(b, d.types[w]).wire for c, w in zip(cts, node.outputs)]  # type: ignore[arg-type]
    base = node.box.name[len("d_"):]
    outs = b.add(derivative_box(type(node.box)(base, (), "gen"), "vjp"), [primal[w] for w in xs] + full,
                 [d.types[w] for w in dxs], node.span)
    for w, o in zip(dxs, outs):
        if w in linear:
            acc.add(w, o, span=node.span)
