"""Statement order inside a `def` body (LANGUAGE.md §3): the order of statements does not change
the diagram, only the text, so a name may be used above the statement that binds it.

`dependency_order` returns the statements in an order where every statement comes after the ones
binding the names it reads — the source order whenever that already works, so ordinary bodies
elaborate exactly as written. A name bound twice is a `RebindError`; statements that need each
other (`a = b + 1`, `b = a * 2`) are a `TypeCheckError` naming the cycle.

>>> from grammar import parse
>>> body = parse("def f(x: f64) -> f64 { b = a * 2\\n a = sin(x)\\n return b }").decls[0].body
>>> [s.targets for s in dependency_order(body, {"x"})]
[('a',), ('b',)]
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Collection, Iterator, Sequence

from grammar import ast
from grammar.errors import Span
from semantics.errors import RebindError, TypeCheckError


def free_names(e: ast.Expr) -> set[str]:
    """The names an expression reads (lambda parameters excluded). Iterative: deeply nested
    expressions are reported by elaboration with a clear error, not by a RecursionError here.

    >>> from grammar import parse
    >>> sorted(free_names(parse("def f() -> f64 { return g(a + b, x => x * c) }").decls[0].returns.values[0]))
    ['a', 'b', 'c', 'g']
    """
    out: set[str] = set()
    stack: list[tuple[object, frozenset[str]]] = [(e, frozenset())]
    while stack:
        node, bound = stack.pop()
        cls = type(node)
        if cls is ast.BinOp:  # the most common node first: no field lookup
            stack.append((node.right, bound))  # type: ignore[attr-defined]
            stack.append((node.left, bound))  # type: ignore[attr-defined]
        elif cls in _LEAVES:
            continue
        elif isinstance(node, ast.Name):
            if node.id not in bound:
                out.add(node.id)
        elif isinstance(node, ast.Lambda):
            stack.append((node.body, bound | set(node.params)))
        elif isinstance(node, tuple):
            stack.extend((item, bound) for item in node)
        else:
            stack.extend((getattr(node, f), bound) for f in _children(type(node)))
    return out


def _children(cls: type) -> tuple[str, ...]:
    """The fields of an AST node class that may hold expressions (all but its span; none for a
    non-AST value), looked up once per class: `dataclasses.fields` per node was a third of a
    100,000-statement def's ordering."""
    names = _CHILDREN.get(cls)
    if names is None:
        plain = cls is Span or not dataclasses.is_dataclass(cls)
        names = _CHILDREN[cls] = () if plain else tuple(f.name for f in dataclasses.fields(cls) if f.name != "span")
    return names


_CHILDREN: dict[type, tuple[str, ...]] = {}
_LEAVES = frozenset({ast.Num, ast.Bool, ast.Str, str, int, float, bool, type(None)})  # read no names


def binders(stmts: Sequence[ast.Assign], bound: Collection[str]) -> dict[str, int]:
    """Which statement binds each name; a second binding (or a parameter re-bound) is an error."""
    owner: dict[str, int] = {}
    for i, stmt in enumerate(stmts):
        targets = stmt.targets
        if len(targets) == 1 and targets[0] not in owner and targets[0] not in bound:
            owner[targets[0]] = i  # (the common case: one new name, no spans to pair up)
            continue
        spans = stmt.target_spans or (stmt.span,) * len(targets)
        for name, span in zip(targets, spans):
            if name in bound:
                raise RebindError(f"'{name}' is already bound (a parameter); statements are single "
                                  "assignment, choose a new name", span)
            if name in owner:
                first = stmts[owner[name]].span
                where = f" (first bound at line {first.line})" if first is not None else ""
                raise RebindError(f"'{name}' is already bound{where}; statements are single assignment, "
                                  "choose a new name", span)
            owner[name] = i
    return owner


class ReadAhead(Exception):  # (a signal between passes, never shown to a user)
    """A statement elaborated in source order read a name that a statement further down binds (see
    `Elaborator.elaborate_def`): the body is elaborated again, in `dependency_order`."""


def dependency_order(stmts: Sequence[ast.Assign], bound: Collection[str] = ()) -> list[ast.Assign]:
    """The statements sorted so each follows those it reads from; ties keep the source order."""
    owner = binders(stmts, bound)
    reads = [free_names(s.value) for s in stmts]
    get = owner.get
    if all(get(n, -1) < i for i, names in enumerate(reads) for n in names):
        return list(stmts)  # already in order: the common case costs one pass (and no set per statement)
    deps = [{owner[n] for n in names if n in owner} for names in reads]
    readers: list[list[int]] = [[] for _ in stmts]
    waiting = [len(ds) for ds in deps]
    for i, ds in enumerate(deps):
        for j in ds:
            readers[j].append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for r in readers[i]:
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, r)
    if len(order) < len(stmts):
        raise _cycle_error(stmts, deps, set(range(len(stmts))) - set(order))
    return [stmts[i] for i in order]


def _cycle_error(stmts: Sequence[ast.Assign], deps: list[set[int]], left: set[int]) -> TypeCheckError:
    """Name one cycle among the statements that could not be ordered."""
    start = min(left)
    path, seen = [start], {start}
    for i in _walk(deps, left, start):
        if i in seen:
            cycle = path[path.index(i):] + [i]
            break
        path.append(i)
        seen.add(i)
    names = [stmts[i].targets[0] for i in cycle]
    first = stmts[cycle[0]]
    if len(cycle) == 2:
        return TypeCheckError(f"'{names[0]}' is used in its own definition", first.span)
    return TypeCheckError(f"statements depend on each other in a cycle: {' -> '.join(names)} "
                          "(each uses the next)", first.span)


def _walk(deps: list[set[int]], left: set[int], i: int) -> Iterator[int]:
    """Follow dependencies inside the unordered set: every statement there depends on another there."""
    while True:
        i = min(j for j in deps[i] if j in left)
        yield i
