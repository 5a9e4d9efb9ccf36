"""Cheap linear-time passes used between the derivative passes: dead-code elimination and
common-subexpression elimination (hash-consing of identical nodes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from grammar.errors import DslError
from semantics.diagram import LITERAL_BOXES, Builder, Diagram, Node, make_box
from semantics.primitives import PRIMITIVES
from semantics.prims.shape import squeezed_axes
from semantics.types import Dim, TensorType, WireType


@dataclass(frozen=True)
class Sharing:
    """Common subexpressions and dead nodes of a diagram, as data: the one implementation of CSE and
    dead-code removal, read by `cse`/`prune` here and by codegen's scheduler.

    `live`: the kept node indices, in order; `rep`: each wire's representative (the same output of
    the first node with the same box reading the same wires; `rep[w]` for every wire, but only
    the merged ones are stored, so hot loops read `rep.get(w, w)`); `shared`: (node, the node it repeats);
    `dropped`: kept nodes whose results reach no output. Generator boxes are merged like primitives:
    a box is a morphism, so equal inputs give equal outputs (the e-graph merges them the same way).

    >>> from semantics.types import scalar
    >>> b = Builder(); x = b.input(scalar("f64"))
    >>> (s1,) = b.add(make_box("sin"), [x], [scalar("f64")]); (s2,) = b.add(make_box("sin"), [x], [scalar("f64")])
    >>> (c,) = b.add(make_box("cos"), [x], [scalar("f64")])
    >>> sh = sharing(b.build([s2])); sh.live, sh.shared, sh.dropped
    ((0,), ((1, 0),), (2,))
    """

    live: tuple[int, ...]
    rep: Mapping[int, int]
    shared: tuple[tuple[int, int], ...]
    dropped: tuple[int, ...]


def sharing(d: Diagram, merge: bool = True) -> Sharing:
    """The CSE (unless `merge` is False) and dead-code decisions for `d`, in one linear pass each way."""
    if not merge:
        live = _live(d, d.outputs)
        return Sharing(live, _Identity(), (), _complement(len(d.nodes), live))
    rep = _Identity()  # only the wires a merge renamed are stored; every other wire is its own
    get = rep.get  # (a C call: `rep[w]` would run __missing__ in Python for most wires)
    renamed = rep.keys()  # a live view: `renamed.isdisjoint(ins)` is one C call per node
    seen: dict[tuple[object, ...], int] = {}
    first_of = seen.setdefault  # one hash of the key per node (get, then a store, hashed it twice)
    shared: list[tuple[int, int]] = []
    nodes = d.nodes
    for i, node in enumerate(nodes):
        ins = node.inputs
        # most nodes read no renamed wire (in a random 10k-op DAG only repeated literals merge):
        # their inputs tuple is the key as it is, without a new tuple per node
        if rep and not renamed.isdisjoint(ins):
            ins = tuple([get(w, w) for w in ins])
        first = first_of((node.box, ins), i)
        if first != i:
            # the first node was never merged itself, so its outputs are their own representatives
            rep.update(zip(node.outputs, nodes[first].outputs))
            shared.append((i, first))
    if not shared:
        live = _live(d, d.outputs)
        return Sharing(live, rep, (), _complement(len(nodes), live))
    merged = {i for i, _ in shared}
    needed = {get(w, w) for w in d.outputs}
    live_list: list[int] = []
    for i in range(len(nodes) - 1, -1, -1):
        if i in merged:
            continue
        node = nodes[i]
        outs = node.outputs
        if (outs[0] in needed if len(outs) == 1 else not needed.isdisjoint(outs)):
            live_list.append(i)
            ins = node.inputs
            needed.update(ins if renamed.isdisjoint(ins) else [get(w, w) for w in ins])
    live_list.reverse()
    live_set = set(live_list)
    dropped = tuple(i for i in range(len(nodes)) if i not in merged and i not in live_set)
    return Sharing(tuple(live_list), rep, tuple(shared), dropped)


class _Identity(dict[int, int]):
    """A representative map that stores only the renamed wires: every wire not in it is its own."""

    def __missing__(self, w: int) -> int:
        return w


def _live(d: Diagram, outputs: Iterable[int]) -> tuple[int, ...]:
    """The nodes some output depends on (a reverse sweep over wires read in `d` as it is), in order."""
    needed = set(outputs)
    live: list[int] = []
    nodes = d.nodes
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        outs = node.outputs
        if (outs[0] in needed if len(outs) == 1 else not needed.isdisjoint(outs)):
            live.append(i)
            needed.update(node.inputs)
    live.reverse()
    return tuple(live)


def _complement(n: int, live: tuple[int, ...]) -> tuple[int, ...]:
    if len(live) == n:
        return ()
    keep = set(live)
    return tuple(i for i in range(n) if i not in keep)


def prune(d: Diagram) -> Diagram:
    """Drop nodes none of whose outputs reach an output (discard is natural: `f ; discard = discard`)."""
    s = sharing(d, merge=False)
    return _rebuild(d, s) if s.dropped else d


def cse(d: Diagram) -> Diagram:
    """Merge nodes with the same box reading the same wires (their outputs are equal) and drop the
    nodes whose results reach no output."""
    s = sharing(d)
    return _rebuild(d, s) if s.dropped or s.shared else d


def elide_broadcasts(d: Diagram) -> Diagram:
    """An elementwise box broadcasts its operands itself: read the un-broadcast wire instead of a
    `broadcast_to` result wherever that leaves the box's output type unchanged (saves the
    materialised array). A constant function of a literal (`lift` of a `const`, LANGUAGE.md §7) is a
    broadcast over the bound variables: a pointwise box reads the literal instead wherever another
    operand is a function of the same variables, as in elaborated lambdas (where only literals stay
    plain: a named plain wire read in a lambda is lifted, and the sampling pass broadcasts it only
    where it must). Dead broadcasts are then dropped by `prune`."""
    literal: set[int] = set()
    source: dict[int, int] = {}
    for n in d.nodes:  # one pass: a literal precedes the lift that reads it
        box = n.box
        if box.kind != "prim":
            continue
        name = box.name
        if name in LITERAL_BOXES:
            literal.add(n.outputs[0])
        elif name == "broadcast_to" or (name == "lift" and n.inputs[0] in literal and not box.param_dict.get("dom_from")):
            source[n.outputs[0]] = n.inputs[0]
    if not source:
        return d
    sources = source.keys()
    nodes: list[Node] | None = None  # a copy of d's nodes from the first one that changes
    for k, node in enumerate(d.nodes):
        if sources.isdisjoint(node.inputs):  # (a C call: most nodes read no broadcast)
            continue
        prim = PRIMITIVES.get(node.box.name) if node.box.kind == "prim" else None
        if prim is None or not prim.elementwise:
            continue
        ins = list(node.inputs)
        for i, w in enumerate(ins):
            if w in source:
                trial = ins[:i] + [source[w]] + ins[i + 1:]
                try:
                    same = prim.infer([d.types[v] for v in trial], node.box.param_dict) == \
                        tuple(d.types[o] for o in node.outputs)
                except DslError:
                    same = False
                if same:
                    ins = trial
        if tuple(ins) != node.inputs:
            if nodes is None:
                nodes = list(d.nodes)
            nodes[k] = Node(node.box, tuple(ins), node.outputs, node.span)
    if nodes is None:  # no broadcast elided: none became dead either
        return d
    return prune(Diagram(d.types, d.inputs, tuple(nodes), d.outputs, d.input_names, d.name, d.span,
                         d.assumptions))


def contract_columns(d: Diagram) -> Diagram:
    """`sum_to(a / c, (1, M))` with a: [N, M] and a column c: [N, 1] is the matvec
    `reshape(1 / c, (1, N)) @ a` (likewise `a * c`; a target `(M,)` uses the row `reshape(1 / c, (N,))`):
    no N×M temporary, and BLAS does the sum. This is the shape a reverse-mode gradient takes for a
    per-row scaling (the transpose of broadcasting)."""
    return _rewrite_nodes(d, _column_matvec, "sum_to")


Rewrite = Callable[[Builder, Node, Diagram, dict[int, Node], dict[int, int], dict[int, int]], int | None]


def _rewrite_nodes(d: Diagram, step: Rewrite, fires_at: str, pruned: bool = False) -> Diagram:
    """Rebuild `d` node by node: `step(builder, node, d, producer, readers, rename)` returns the wire
    that replaces the node's single output, or None to copy the node. `readers` counts the diagram's
    outputs too, so a step that needs a wire read once never drops a result. Dead nodes are pruned.
    `step` only ever fires at a primitive named `fires_at`: without one, and with `d` already
    numbered as the rebuild would number it, the rebuild would copy `d` as it is, so it is skipped
    (and so is the pruning when the caller says `d` has no dead nodes)."""
    if fires_at not in {n.box.name for n in d.nodes} and _builder_numbered(d):
        return d if pruned else prune(d)
    producer = {w: n for n in d.nodes for w in n.outputs}
    readers: dict[int, int] = {w: 1 for w in d.outputs}
    for n in d.nodes:
        for w in n.inputs:
            readers[w] = readers.get(w, 0) + 1
    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    for node in d.nodes:
        out = step(b, node, d, producer, readers, rename)
        if out is None:
            outs = b.add(node.box, [rename[w] for w in node.inputs], [d.types[w] for w in node.outputs], node.span)
            rename.update(zip(node.outputs, outs))
        else:
            rename[node.outputs[0]] = out
    return prune(b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span))


def _builder_numbered(d: Diagram) -> bool:
    """Inputs are wires 0..k-1 and each node's outputs follow in node order (what a Builder that
    adds the inputs first writes), so copying the nodes into a fresh Builder renumbers nothing."""
    if d.inputs != tuple(range(len(d.inputs))):
        return False
    nxt = len(d.inputs)
    for n in d.nodes:
        for w in n.outputs:
            if w != nxt:
                return False
            nxt += 1
    return nxt == len(d.types)


def _column_matvec(b: Builder, node: Node, d: Diagram, producer: dict[int, Node], readers: dict[int, int],
                   rename: dict[int, int]) -> int | None:
    if node.box.kind != "prim" or node.box.name != "sum_to":
        return None
    inner = producer.get(node.inputs[0])
    if inner is None or inner.box.name not in ("mul", "div") or readers.get(node.inputs[0]) != 1:
        return None
    a_w, c_w = inner.inputs
    if inner.box.name == "mul" and _is_column(d.types[a_w]) and not _is_column(d.types[c_w]):
        a_w, c_w = c_w, a_w
    a, c, out = d.types[a_w], d.types[c_w], d.types[node.outputs[0]]
    if not (isinstance(a, TensorType) and isinstance(c, TensorType) and isinstance(out, TensorType)):
        return None
    one = Dim.const(1)
    if not (a.rank == 2 and _is_column(c) and c.shape[0] == a.shape[0] and a.dtype in ("f32", "f64")
            and out.shape in ((one, a.shape[1]), (a.shape[1],)) and d.types[inner.outputs[0]] == a):
        return None
    col = rename[c_w]
    if inner.box.name == "div":
        (col,) = b.add(make_box("reciprocal"), [col], [c], inner.span)
    row_t = TensorType(c.dtype, (one, c.shape[0]) if out.rank == 2 else (c.shape[0],))  # [N] @ a is [M]
    (row,) = b.add(make_box("reshape", {"shape": row_t.shape}), [col], [row_t], inner.span)
    negated = producer.get(a_w)
    if negated is not None and negated.box.name == "neg" and readers.get(a_w) == 1:
        # -(row @ a) negates M numbers instead of copying N×M of them
        (mv,) = b.add(make_box("matmul"), [row, rename[negated.inputs[0]]], [out], node.span)
        (neg,) = b.add(make_box("neg"), [mv], [out], negated.span)
        return neg
    (mv,) = b.add(make_box("matmul"), [row, rename[a_w]], [out], node.span)
    return mv


def _is_column(t: object) -> bool:
    return isinstance(t, TensorType) and t.rank == 2 and t.shape[1] == Dim.const(1)


def _rebuild(d: Diagram, s: Sharing) -> Diagram:
    b = Builder()
    types, nodes, add = d.types, d.nodes, b.add
    rename = {w: b.input(types[w]) for w in d.inputs}
    get = s.rep.get
    renamed = s.rep.keys()
    for i in s.live:
        node = nodes[i]
        ins, outs = node.inputs, node.outputs
        # (most nodes read no merged wire, and have one output: no generic zip/update per node)
        new_ins = [rename[w] for w in ins] if renamed.isdisjoint(ins) else [rename[get(w, w)] for w in ins]
        if len(outs) == 1:
            (rename[outs[0]],) = add(node.box, new_ins, (types[outs[0]],), node.span)
        else:
            rename.update(zip(outs, add(node.box, new_ins, [types[w] for w in outs], node.span)))
    return b.build([rename[get(w, w)] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span)


def after_extraction(d: Diagram) -> Diagram:
    """The clean-ups that follow the e-graph optimiser: dead nodes dropped, squeezed sums merged
    (`merge_squeezed_sums`), column scalings contracted (`contract_columns`), broadcasts elided
    (`elide_broadcasts`). Each of the first two prunes what it rebuilds, so `d` is pruned once up
    front instead of once by each of them when neither fires (the common case: two sweeps over a
    10k-node diagram that find nothing)."""
    d = prune(d)
    if _builder_numbered(d) and {n.box.name for n in d.nodes}.isdisjoint(("squeeze", "sum_to")):
        return elide_broadcasts(d)  # neither would fire (one scan for both)
    d = _rewrite_nodes(d, _merge_squeeze, "squeeze", pruned=True)
    d = _rewrite_nodes(d, _column_matvec, "sum_to", pruned=True)
    return elide_broadcasts(d)


def tidy(d: Diagram) -> Diagram:
    """CSE, then constant functions hoisted, broadcasts elided, then dead-code elimination."""
    return elide_broadcasts(hoist_constant_functions(cse(d)))


def hoist_constant_functions(d: Diagram) -> Diagram:
    """A pointwise box whose function operands are all constant functions (`lift` of a plain wire)
    is the constant function of the box applied to the plain values: `lift(1.0) * 2.0` is
    `lift(1.0 * 2.0)`, which the e-graph folds (the seed of a functional derivative is one)."""
    if not any(n.box.name == "lift" and not n.box.param_dict.get("dom_from") for n in d.nodes):
        return d
    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    plain: dict[int, tuple[int, Node]] = {}  # new wire -> (its plain value, the lift node)
    for node in d.nodes:
        ins = [rename[w] for w in node.inputs]
        prim = PRIMITIVES.get(node.box.name) if node.box.kind == "prim" else None
        lifted = [w for w in ins if w in plain]
        if node.box.name == "lift" and (not node.box.param_dict.get("dom_from") or ins[0] in plain):
            value, box = ins[0], node.box
            if ins[0] in plain:  # a constant function seen as a function of more variables: still constant
                value = plain[ins[0]][0]
                box = make_box("lift", {**node.box.param_dict, "dom_from": (), "region": None})
            lift = Node(box, node.inputs, node.outputs, node.span)
            (o,) = b.add(box, [value], [d.types[node.outputs[0]]], node.span)
            plain[o] = (value, lift)
            rename[node.outputs[0]] = o
            continue
        if prim is not None and prim.elementwise and lifted and len(node.outputs) == 1 \
                and all(w in plain or isinstance(b.types[w], TensorType) for w in ins):
            vals = [plain[w][0] if w in plain else w for w in ins]
            try:
                (vt,) = prim.infer([b.types[v] for v in vals], node.box.param_dict)
            except DslError:
                vt = None
            lift = plain[lifted[0]][1]
            if isinstance(vt, TensorType):
                (v,) = b.add(node.box, vals, [vt], node.span)
                (o,) = b.add(lift.box, [v], [d.types[node.outputs[0]]], lift.span)
                plain[o] = (v, lift)
                rename[node.outputs[0]] = o
                continue
        outs = b.add(node.box, ins, [d.types[w] for w in node.outputs], node.span)
        rename.update(zip(node.outputs, outs))
    return prune(b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span))


def merge_squeezed_sums(d: Diagram) -> Diagram:
    """`squeeze(sum_to(x, (1, ..., 1, *rest)), axis=(0, ..., k-1))` is `sum_to(x, rest)`: the leading
    axes are summed away in one reduction instead of kept as size 1 and squeezed off afterwards (the
    shape the gradient of an `expand_dims`ed parameter takes). Unary elementwise nodes between the two
    (`squeeze(-sum_to(...))`) are applied to the smaller result. Only nodes read by the next one alone.

    >>> from semantics.types import Dim
    >>> n, m = Dim.sym("n"), Dim.sym("m")
    >>> b = Builder(); x = b.input(TensorType("f64", (n, m)))
    >>> (s,) = b.add(make_box("sum_to", {"shape": (Dim.const(1), m)}), [x], [TensorType("f64", (Dim.const(1), m))])
    >>> (q,) = b.add(make_box("squeeze", {"axis": 0}), [s], [TensorType("f64", (m,))])
    >>> [(nd.box.name, nd.box.param_dict) for nd in merge_squeezed_sums(b.build([q])).nodes]
    [('sum_to', {'shape': (Dim(terms=((('m',), 1),)),)})]
    """
    return _rewrite_nodes(d, _merge_squeeze, "squeeze")


def _merge_squeeze(b: Builder, node: Node, d: Diagram, producer: dict[int, Node], readers: dict[int, int],
                   rename: dict[int, int]) -> int | None:
    chain = _squeezed_sum(node, d, producer, readers)
    if chain is None:
        return None
    total, *unary = chain
    out_t = d.types[node.outputs[0]]
    assert isinstance(out_t, TensorType)
    t: WireType = out_t.with_dtype(d.types[total.outputs[0]].dtype)  # type: ignore[union-attr]
    (w,) = b.add(make_box("sum_to", {"shape": out_t.shape}), [rename[total.inputs[0]]], [t], node.span)
    for u in unary:
        (t,) = PRIMITIVES[u.box.name].infer((t,), u.box.param_dict)
        (w,) = b.add(u.box, [w], [t], u.span)
    return w


def _squeezed_sum(node: Node, d: Diagram, producer: dict[int, Node], readers: dict[int, int]) -> list[Node] | None:
    """For a squeeze of leading axes over unary elementwise nodes over a sum_to, each read once: the
    sum_to followed by the unary nodes in order; otherwise None."""
    if node.box.kind != "prim" or node.box.name != "squeeze":
        return None
    summed = d.types[node.inputs[0]]
    assert isinstance(summed, TensorType)
    axes = squeezed_axes(summed, node.box.param_dict.get("axis"))
    if axes != tuple(range(len(axes))):
        return None
    chain: list[Node] = []
    w = node.inputs[0]
    while readers.get(w) == 1 and w in producer:
        inner = producer[w]
        if inner.box.kind != "prim":
            return None
        if inner.box.name == "sum_to":
            return [inner, *reversed(chain)]
        if not (PRIMITIVES[inner.box.name].elementwise and len(inner.inputs) == 1 and len(inner.outputs) == 1):
            return None
        chain.append(inner)
        w = inner.inputs[0]
    return None
