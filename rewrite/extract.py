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
        if nodes:
            t = nodes[0][2]
            if t >= 0:
                out[c] = t
                continue
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
    return any(n.op in _LIST_OPS for n in fz.classes.get(c, []))


_LIST_OPS = ("cons", "nil")
_FREE_OPS = frozenset(("leaf", "proj", "nil", "cons"))  # priced 0 by enode_cost, whatever their types
_NODE_OPS = frozenset(("op", "multi", "num"))  # a node in the diagram: +1, so ties go to fewer nodes


def choose(fz: Frozen, tab: Tables, sizes: Mapping[str, int] | None = None) -> dict[int, ENode]:
    """The cheapest e-node of every class that has a finite-cost term."""
    types = class_types(fz)
    # argument-list classes (a class holds e-nodes of one sort: a list class only cons and nil)
    lists = {c for c, nodes in fz.classes.items() if nodes and nodes[0].op in _LIST_OPS}
    # the e-nodes with a finite cost, as parallel lists: class, node, price, distinct children
    cls: list[int] = []
    enodes: list[ENode] = []
    price: list[int] = []
    kids_of: list[tuple[int, ...]] = []
    parents: dict[int, list[int]] = {}
    memo: dict[tuple[object, ...], int] = {}  # many e-nodes share (op, box, type, child types)
    tget = types.get
    for c, nodes in fz.classes.items():
        for n in nodes:
            op, a, t, _, children = n
            k = len(children)
            if op in _FREE_OPS:
                own = 0
            elif k == 1 and children[0] in lists and (op == "op" or op == "multi"):  # priced by its list
                own = _price(n, fz, tab, types, sizes)
            else:
                key = ((op, a, t, tget(children[0], -2)) if k == 1 else
                       (op, a, t, tget(children[0], -2), tget(children[1], -2)) if k == 2 else
                       (op, a, t, *[tget(x, -2) for x in children]))
                own = memo.get(key, -2)
                if own == -2:
                    own = memo[key] = _price(n, fz, tab, types, sizes)
            if own < 0:  # never extract it
                continue
            if k == 2:
                kids = children if children[0] != children[1] else children[:1]
            elif k > 2:
                kids = tuple(dict.fromkeys(children))
            else:
                kids = children
            idx = len(cls)
            cls.append(c)
            enodes.append(n)
            price.append(own)
            kids_of.append(kids)
            for x in kids:
                readers = parents.get(x)
                if readers is None:
                    parents[x] = [idx]
                else:
                    readers.append(idx)
    return _dijkstra(cls, enodes, price, kids_of, parents)


def _price(n: ENode, fz: Frozen, tab: Tables, types: Mapping[int, int], sizes: Mapping[str, int] | None) -> int:
    """`enode_cost` in the extractor's exact integer units (-1: never extract), +1 per diagram node."""
    own = enode_cost(n, fz, tab, types, sizes)
    return -1 if own == math.inf else int(own * 4) + (1 if n.op in _NODE_OPS else 0)


def _dijkstra(cls: list[int], enodes: list[ENode], price: list[int], kids_of: list[tuple[int, ...]],
              parents: Mapping[int, list[int]]) -> dict[int, ENode]:
    """Knuth's generalisation of Dijkstra: an e-node is priced once all its children are final, and
    the cheapest priced e-node finalises its class (ties: the e-node listed first)."""
    pending = [len(k) for k in kids_of]
    best: dict[int, int] = {}
    choice: dict[int, ENode] = {}
    heap: list[tuple[int, int]] = [(own, i) for i, own in enumerate(price) if not kids_of[i]]
    heapq.heapify(heap)
    pop, push, get = heapq.heappop, heapq.heappush, best.__getitem__
    while heap:
        total, i = pop(heap)
        c = cls[i]
        if c in best:
            continue
        best[c] = total
        choice[c] = enodes[i]
        for p in parents.get(c, ()):
            pending[p] -= 1
            if pending[p] == 0 and cls[p] not in best:
                push(heap, (price[p] + sum(map(get, kids_of[p])), p))
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
    r = _Rebuild(choice, Builder(), originals or {})
    ins_of = [r.b.input(d.types[w]) for w in d.inputs]
    for root in roots:
        r.emit_from(root, tab, ins_of, (spans or {}).get)
    return r.b.build([r.full(k) for k in roots], input_names=d.input_names, name=d.name, span=d.span)


class _Rebuild:
    """`rebuild`'s state: the wire of each class emitted (`tuples` for multi-output ones), and the
    Num classes of non-scalar type, built as a scalar const (`filled`) and broadcast where a reader
    needs the full value (`broadcast`)."""

    def __init__(self, choice: Mapping[int, ENode], b: Builder, originals: Mapping[tuple[float, str], Box]):
        self.choice, self.b, self.originals = choice, b, originals
        self.wire: dict[int, int] = {}
        self.tuples: dict[int, tuple[int, ...]] = {}
        self.filled: dict[int, WireType] = {}
        self.broadcast: dict[int, int] = {}

    def args_of(self, c: int) -> list[int]:
        out: list[int] = []
        for _ in range(1_000_000):
            n = self.choice.get(c)
            if n is None:
                raise ExtractionError(f"argument list class {c} has no term")
            if n.op == "nil":
                return out
            out.append(n.children[0])
            c = n.children[1]
        raise ExtractionError("argument list too long")

    def deps(self, n: ENode) -> Sequence[int]:
        op, children = n.op, n.children
        if op == "multi" or (op == "op" and len(children) == 1 and self.choice.get(children[0], n).op in _LIST_OPS):
            return self.args_of(children[0])
        return children

    def full(self, k: int) -> int:
        if k not in self.filled:
            return self.wire[k]
        if k not in self.broadcast:
            t = self.filled[k]
            vt = _value_type(t)
            w = self.wire[k]
            if vt.shape:
                (w,) = self.b.add(make_box("broadcast_to", {"shape": vt.shape}), [w], [vt])
            if isinstance(t, FunType):  # a constant function (the zero tangent of a function wire)
                from rewrite.functional import constant_function

                w = constant_function(self.b, w, t)
            self.broadcast[k] = w
        return self.broadcast[k]

    def operands(self, box: Box, kids: Sequence[int], out_t: WireType) -> list[int]:
        """Elementwise boxes read a filled constant as a scalar (broadcasting does the rest) when that
        leaves the node's type unchanged; everything else reads the full tensor."""
        scalar = [self.wire[k] for k in kids]
        if any(k in self.filled for k in kids) and box.kind == "prim" and PRIMITIVES[box.name].elementwise:
            try:
                if PRIMITIVES[box.name].infer([self.b.types[w] for w in scalar], box.param_dict) == (out_t,):
                    return scalar
            except DslError:
                pass
        return [self.full(k) for k in kids]

    def emit_from(self, root: int, tab: Tables, ins_of: Sequence[int], span_of: Any) -> None:
        """Emit `root` and what it reads, depth first (a class's entry comes back with its
        dependencies; None: not expanded yet)."""
        wire, tuples, filled, choice = self.wire, self.tuples, self.filled, self.choice
        boxes, types, add = tab.boxes, tab.types, self.b.add
        stack: list[tuple[int, Sequence[int] | None]] = [(root, None)]
        while stack:
            c, kids = stack.pop()
            if c in wire or c in tuples:
                continue
            n = choice.get(c)
            if n is None:
                raise ExtractionError(f"e-class {c} has no finite-cost term")
            if kids is None:
                kids = self.deps(n)
                todo = [(k, None) for k in reversed(kids) if k not in wire and k not in tuples]
                if todo:  # (otherwise its entry would come straight back: emit it now)
                    stack.append((c, kids))
                    stack.extend(todo)
                    continue
            op = n.op
            if op == "op":
                box = boxes[n.a][0]
                out_t = types[n.t]
                ins = self.operands(box, kids, out_t) if filled else [wire[k] for k in kids]
                (wire[c],) = add(box, ins, (out_t,), span_of(c))
            elif op == "leaf":
                wire[c] = ins_of[n.a]
            elif op == "num":
                t = types[n.t]
                vt = _value_type(t)
                st = TensorType(vt.dtype, ())
                (wire[c],) = add(_scalar_const(n.value, vt, self.originals), [], (st,))
                if t != st:  # a filled tensor or function: expanded where a reader needs it
                    filled[c] = t
            elif op == "multi":
                box, outs = boxes[n.a]
                tuples[c] = add(box, [wire[k] for k in kids], list(outs), span_of(c))
            elif op == "proj":
                wire[c] = tuples[n.children[0]][n.a]
            else:
                raise ExtractionError(f"unexpected {n.op} node in a term position")
