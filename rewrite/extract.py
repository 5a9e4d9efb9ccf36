"""Extraction: the cheapest e-node per e-class, then a Diagram with one SSA node per chosen e-class.

Why our own extractor (EGGLOG-NOTES.md): egglog's tree-cost extract saturates at u64 and
recurses; ours runs Knuth's generalisation of Dijkstra over the frozen e-graph — an e-node gets a
cost once all its child classes are final, the cheapest pending e-node finalises its class — so
it is iterative, O(E log E), and never picks a cyclic choice (a chosen node's children were final
before it). Costs are exact Python integers (tree cost, each distinct child counted once per
node), so deep sharing cannot overflow into ties. The rebuild walks the choices iteratively and
emits each e-class once, which preserves sharing (common subexpressions come out as one node).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from typing import Any

from grammar.errors import DslError
from rewrite.cost import nbytes, node_cost
from rewrite.egraph import ENode, Frozen, Tables
from semantics.diagram import Box, Builder, Diagram, make_box
from semantics.primitives import PRIMITIVES
from semantics.types import FunType, TensorType, WireType


class ExtractionError(Exception):
    """No finite-cost term for a root (cannot happen for a loaded diagram; guards bugs)."""


def class_types(fz: Frozen) -> dict[int, int]:
    """The type id of each Term e-class (every e-node of a class has the same type)."""
    out: dict[int, int] = {}
    for c, nodes in fz.classes.items():
        for n in nodes:
            if n.t >= 0:
                out[c] = n.t
                break
    return out


def _list_types(fz: Frozen, c: int, types: Mapping[int, int]) -> list[int]:
    """Element type ids of an argument-list class (any representative: all have the same types)."""
    out: list[int] = []
    seen = set()
    while c not in seen:
        seen.add(c)
        cons = next((n for n in fz.classes.get(c, []) if n.op == "cons"), None)
        if cons is None:
            break
        out.append(types.get(cons.children[0], -1))
        c = cons.children[1]
    return out


def enode_cost(n: ENode, fz: Frozen, tab: Tables, types: Mapping[int, int],
               sizes: Mapping[str, int] | None = None) -> float:
    """The cost model's price of one e-node (math.inf: never extract it)."""
    if n.op in ("leaf", "proj", "nil", "cons"):
        return 0.0
    if n.op == "num":
        t = tab.types[n.t]
        if isinstance(t, TensorType) and t.shape:
            return 0.25 * nbytes(t, sizes) if "broadcast_to" in PRIMITIVES else math.inf
        return 0.0
    box, outs = tab.boxes[n.a]
    if n.op == "op" and len(n.children) == 1 and _is_list(fz, n.children[0]):
        in_ids = _list_types(fz, n.children[0], types)
    elif n.op == "multi":
        in_ids = _list_types(fz, n.children[0], types)
    else:
        in_ids = [types.get(c, -1) for c in n.children]
    in_t = [tab.types[i] for i in in_ids if i >= 0]
    out_t = list(outs) if n.op == "multi" else [tab.types[n.t]]
    return node_cost(box, in_t, out_t, sizes)


def _is_list(fz: Frozen, c: int) -> bool:
    return any(n.op in ("cons", "nil") for n in fz.classes.get(c, []))


def choose(fz: Frozen, tab: Tables, sizes: Mapping[str, int] | None = None) -> dict[int, ENode]:
    """The cheapest e-node of every class that has a finite-cost term."""
    types = class_types(fz)
    flat: list[tuple[int, ENode, int, tuple[int, ...]]] = []  # class, node, own cost, distinct children
    parents: dict[int, list[int]] = {}
    memo: dict[tuple[object, ...], float] = {}  # many e-nodes share (op, box, type, child types)
    for c, nodes in fz.classes.items():
        for n in nodes:
            children = n.children
            listy = len(children) == 1 and n.op in ("op", "multi") and _is_list(fz, children[0])
            key = None if listy else (n.op, n.a, n.t, tuple([types.get(k, -2) for k in children]))
            own = memo.get(key) if key is not None else None
            if own is None:
                own = enode_cost(n, fz, tab, types, sizes)
                if key is not None:
                    memo[key] = own
            if own == math.inf:
                continue
            kids = children if len(children) < 2 else tuple(dict.fromkeys(children))
            # +1 per node: among equal estimates prefer fewer nodes
            idx = len(flat)
            flat.append((c, n, int(own * 4) + (1 if n.op in ("op", "multi", "num") else 0), kids))
            for k in kids:
                readers = parents.get(k)
                if readers is None:
                    parents[k] = [idx]
                else:
                    readers.append(idx)
    pending = [len(k) for _, _, _, k in flat]
    best: dict[int, int] = {}
    choice: dict[int, ENode] = {}
    heap: list[tuple[int, int]] = [(own, i) for i, (_, _, own, k) in enumerate(flat) if not k]
    heapq.heapify(heap)
    while heap:
        total, i = heapq.heappop(heap)
        c, n, _, _ = flat[i]
        if c in best:
            continue
        best[c] = total
        choice[c] = n
        for p in parents.get(c, ()):
            pending[p] -= 1
            if pending[p] == 0:
                pc, _, pown, pkids = flat[p]
                if pc not in best:
                    heapq.heappush(heap, (pown + sum(best[k] for k in pkids), p))
    return choice


def _value_type(t: WireType) -> TensorType:
    """A Num's tensor type: its own, or the values of a constant function."""
    if isinstance(t, FunType):
        assert isinstance(t.res, TensorType)
        return t.res
    assert isinstance(t, TensorType)
    return t


def _scalar_const(value: float, t: TensorType, originals: Mapping[tuple[float, str], Box]) -> Box:
    orig = originals.get((value, t.dtype))
    if orig is not None:
        return orig
    v: float | int | bool = value
    if t.dtype == "bool":
        v = bool(value)
    elif t.dtype in ("i32", "i64"):
        v = int(value)
    return make_box("const", {"value": v, "dtype": t.dtype})


def rebuild(fz: Frozen, choice: Mapping[int, ENode], tab: Tables, d: Diagram, roots: Sequence[int],
            originals: Mapping[tuple[float, str], Box] | None = None, spans: Mapping[int, Any] | None = None) -> Diagram:
    """A Diagram computing the root classes from d's inputs, one node per chosen class (iterative)."""
    originals = originals or {}
    b = Builder()
    ins = [b.input(d.types[w]) for w in d.inputs]
    wire: dict[int, int] = {}
    tuples: dict[int, tuple[int, ...]] = {}

    def args_of(c: int) -> list[int]:
        out: list[int] = []
        for _ in range(1_000_000):
            n = choice.get(c)
            if n is None:
                raise ExtractionError(f"argument list class {c} has no term")
            if n.op == "nil":
                return out
            out.append(n.children[0])
            c = n.children[1]
        raise ExtractionError("argument list too long")

    def deps(n: ENode) -> list[int]:
        if n.op == "op" and len(n.children) == 1 and choice.get(n.children[0], n).op in ("cons", "nil"):
            return args_of(n.children[0])
        if n.op == "multi":
            return args_of(n.children[0])
        return list(n.children)

    filled: dict[int, WireType] = {}  # Num classes of non-scalar type, built as a scalar const
    broadcast: dict[int, int] = {}

    def full(k: int) -> int:
        if k not in filled:
            return wire[k]
        if k not in broadcast:
            t = filled[k]
            vt = _value_type(t)
            w = wire[k]
            if vt.shape:
                (w,) = b.add(make_box("broadcast_to", {"shape": vt.shape}), [w], [vt])
            if isinstance(t, FunType):  # a constant function (the zero tangent of a function wire)
                from rewrite.functional import constant_function

                w = constant_function(b, w, t)
            broadcast[k] = w
        return broadcast[k]

    def _operands(box: Box, kids: list[int], out_t: WireType) -> list[int]:
        """Elementwise boxes read a filled constant as a scalar (broadcasting does the rest) when that
        leaves the node's type unchanged; everything else reads the full tensor."""
        scalar = [wire[k] for k in kids]
        if any(k in filled for k in kids) and box.kind == "prim" and PRIMITIVES[box.name].elementwise:
            try:
                if PRIMITIVES[box.name].infer([b.types[w] for w in scalar], box.param_dict) == (out_t,):
                    return scalar
            except DslError:
                pass
        return [full(k) for k in kids]

    for root in roots:
        stack: list[tuple[int, bool]] = [(root, False)]
        while stack:
            c, expanded = stack.pop()
            if c in wire or c in tuples:
                continue
            n = choice.get(c)
            if n is None:
                raise ExtractionError(f"e-class {c} has no finite-cost term")
            if not expanded:
                stack.append((c, True))
                stack.extend((k, False) for k in reversed(deps(n)) if k not in wire and k not in tuples)
                continue
            if n.op == "leaf":
                wire[c] = ins[n.a]
            elif n.op == "num":
                t = tab.types[n.t]
                vt = _value_type(t)
                (w,) = b.add(_scalar_const(n.value, vt, originals), [], [TensorType(vt.dtype, ())])
                wire[c] = w
                if t != TensorType(vt.dtype, ()):  # a filled tensor or function: expanded where a reader needs it
                    filled[c] = t
            elif n.op == "op":
                box, _ = tab.boxes[n.a]
                out_t = tab.types[n.t]
                (wire[c],) = b.add(box, _operands(box, [k for k in deps(n)], out_t), [out_t], (spans or {}).get(c))
            elif n.op == "multi":
                box, outs = tab.boxes[n.a]
                tuples[c] = b.add(box, [wire[k] for k in deps(n)], list(outs), (spans or {}).get(c))
            elif n.op == "proj":
                wire[c] = tuples[n.children[0]][n.a]
            else:
                raise ExtractionError(f"unexpected {n.op} node in a term position")
    return b.build([full(r) for r in roots], input_names=d.input_names, name=d.name, span=d.span)
