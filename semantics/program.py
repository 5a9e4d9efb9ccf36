"""What elaboration produces: a `Program` of named definitions, each a diagram or a recipe for one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Union

from grammar import ast
from grammar.errors import Span
from semantics.diagram import Diagram
from semantics.types import Dim, WireType, substitute, type_str


@dataclass(frozen=True)
class DiagramDef:
    """A `def` or a point-free `diagram`: an elaborated, typed diagram."""

    name: str
    diagram: Diagram
    kind: str  # "def" | "diagram"
    span: Span | None = None

    @property
    def dom(self) -> tuple[WireType, ...]:
        return self.diagram.dom

    @property
    def cod(self) -> tuple[WireType, ...]:
        return self.diagram.cod

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.diagram.param_names()


@dataclass(frozen=True)
class GeneratorDef:
    """`box f : A -> B`: declared, not defined; runs with an implementation given from Python."""

    name: str
    dom: tuple[WireType, ...]
    cod: tuple[WireType, ...]
    span: Span | None = None

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(f"x{i}" for i in range(len(self.dom)))


@dataclass(frozen=True)
class DerivedDef:
    """`name = op(target, wrt=...)`: its signature is known at load; `rewrite/` derives its diagram
    on first use. `target` is the name of a definition of the same program (possibly another,
    anonymous, DerivedDef for nested `grad(grad(f))`)."""

    name: str
    op: str
    target: str
    wrt: tuple[int, ...]  # indices of the differentiated parameters of the target
    dom: tuple[WireType, ...]
    cod: tuple[WireType, ...]
    param_names: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()
    span: Span | None = None


@dataclass(frozen=True)
class GenericDef:
    """A `def` with untyped parameters (the standard library's `softmax(x, axis=-1)`): a template
    elaborated afresh at every call with the actual argument types and static keywords."""

    name: str
    node: ast.Def
    span: Span | None = None


Definition = Union[DiagramDef, GeneratorDef, DerivedDef, GenericDef]


def signature_of(d: Definition) -> str:
    if isinstance(d, GenericDef):
        return "(generic: typed at each call)"
    dom, cod = (d.diagram.dom, d.diagram.cod) if isinstance(d, DiagramDef) else (d.dom, d.cod)
    return f"{type_str(dom)} -> {type_str(cod)}"


def instantiate(types: tuple[WireType, ...], binding: Mapping[str, Dim]) -> tuple[WireType, ...]:
    return tuple(substitute(t, binding) for t in types)


@dataclass(frozen=True)
class Program:
    """The elaborated module: definitions in source order (imports first, under `alias.name`)."""

    filename: str
    definitions: tuple[tuple[str, Definition], ...]
    dims: frozenset[str]
    own: tuple[str, ...]  # the names defined in this file, in source order

    def lookup(self, name: str) -> Definition | None:
        return self._index.get(name)

    @cached_property
    def _index(self) -> dict[str, Definition]:
        # built once: a lookup per call site must not rebuild it (that made a program of n
        # definitions calling each other take O(n²) time)
        return dict(self.definitions)
