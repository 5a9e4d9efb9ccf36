"""Point-free `diagram` bodies (LANGUAGE.md §5): `>>`, `∘`, `⊗`, structural boxes and named boxes.

Types flow forward: each morphism is elaborated knowing its input types (from the signature or
from its left neighbour), so polymorphic primitives (`sin`, `mul`) get their types by their
shape rules. A morphism whose input types cannot be known is an error asking for an annotation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from grammar import ast
from grammar.errors import DslError, Span
from semantics import diagram as D
from semantics.errors import TypeCheckError, UnboundNameError
from semantics.primitives import PRIMITIVES, REQUIRED
from semantics.program import Definition, DerivedDef, DiagramDef, GeneratorDef, GenericDef, instantiate
from semantics.replay import inline_diagram
from semantics.statics import StaticScope, convert_static
from semantics.types import Dim, WireType, type_str, unify

TypeConv = Callable[[ast.TypeExpr], tuple[WireType, ...]]
Resolve = Callable[[str, "Span | None"], "Definition | None"]


class PointFree:
    def __init__(self, resolve: Resolve, convert_type: TypeConv, dims: frozenset[str]):
        self.resolve = resolve
        self.convert_type = convert_type
        self.statics = StaticScope(dims, {})

    def arity(self, m: ast.Morphism) -> int | None:
        """Number of input wires, when it follows from the syntax alone (for splitting `f ⊗ g`)."""
        if isinstance(m, ast.MCompose):
            return self.arity(m.first)
        if isinstance(m, ast.MTensor):
            a, b = self.arity(m.left), self.arity(m.right)
            return None if a is None or b is None else a + b
        if isinstance(m, ast.MStructural):
            wires = [self.convert_type(t) for t in m.types]
            return sum(len(w) for w in wires)
        d = self.resolve(m.name, m.span)
        if isinstance(d, DiagramDef):
            return len(d.diagram.dom)
        if isinstance(d, (GeneratorDef, DerivedDef)):
            return len(d.dom)
        prim = PRIMITIVES.get(m.name)
        if prim is not None and not prim.variadic:
            return len(prim.wire_args)
        return None

    def elab(self, m: ast.Morphism, dom: tuple[WireType, ...] | None) -> D.Diagram:
        if isinstance(m, ast.MCompose):
            f = self.elab(m.first, dom)
            return self._compose(f, self.elab(m.second, f.cod), m.span)
        if isinstance(m, ast.MTensor):
            return self._tensor(m, dom)
        if isinstance(m, ast.MStructural):
            return self._check_dom(self._structural(m), dom, m.span)
        return self._box(m, dom)

    def _compose(self, f: D.Diagram, g: D.Diagram, span: Span | None) -> D.Diagram:
        try:
            return D.compose(f, g)
        except DslError as err:
            raise err.with_span(span) from None

    def _tensor(self, m: ast.MTensor, dom: tuple[WireType, ...] | None) -> D.Diagram:
        if dom is None:
            return D.tensor(self.elab(m.left, None), self.elab(m.right, None))
        k = self.arity(m.left)
        if k is None:
            r = self.arity(m.right)
            k = None if r is None else len(dom) - r
        if k is None or not 0 <= k <= len(dom):
            raise TypeCheckError(f"cannot split the input {type_str(dom)} between the two sides of ⊗; "
                                 "annotate the boxes with id(T) or give a signature", m.span)
        return D.tensor(self.elab(m.left, dom[:k]), self.elab(m.right, dom[k:]))

    def _structural(self, m: ast.MStructural) -> D.Diagram:
        types = [self.convert_type(t) for t in m.types]
        want = 2 if m.kind == "swap" else 1
        if len(types) != want:
            raise TypeCheckError(f"{m.kind} takes {want} type argument(s), got {len(types)}", m.span)
        if m.kind == "id":
            return D.identity(types[0])
        if m.kind == "swap":
            return D.swap(types[0], types[1])
        b = D.Builder()
        ins = [b.input(t) for t in types[0]]
        return b.build(ins + ins if m.kind == "copy" else [])

    def _check_dom(self, d: D.Diagram, dom: Sequence[WireType] | None, span: Span | None) -> D.Diagram:
        if dom is not None and tuple(dom) != d.dom:
            raise TypeCheckError(f"type mismatch: this box takes {type_str(d.dom)} but receives {type_str(tuple(dom))}", span)
        return d

    def _box(self, m: ast.MBox, dom: tuple[WireType, ...] | None) -> D.Diagram:
        d = self.resolve(m.name, m.span)
        if d is not None:
            return self._definition_box(d, m, dom)
        prim = PRIMITIVES.get(m.name)
        if prim is None:
            raise UnboundNameError(f"unknown box '{m.name}'", m.span)
        if dom is None:
            raise TypeCheckError(f"cannot infer the input type of '{m.name}' here; give the diagram a "
                                 "signature (diagram name : A -> B = ...)", m.span)
        params = {}
        for k in m.params:
            spec = prim.param_spec(k.name)
            if spec is None:
                raise TypeCheckError(f"{prim.name} has no static parameter '{k.name}'", k.span)
            params[k.name] = convert_static(spec.kind, k.value, self.statics, f"'{k.name}' of {prim.name}")
        for spec in prim.params:
            if spec.name not in params:
                if spec.default is REQUIRED:
                    raise TypeCheckError(f"{prim.name} needs the static parameter '{spec.name}': "
                                         f"{prim.name}[{spec.name}=...]", m.span)
                params[spec.name] = spec.default
        if not prim.variadic and len(dom) != len(prim.wire_args):
            raise TypeCheckError(f"{prim.name} takes {len(prim.wire_args)} input(s) but receives "
                                 f"{type_str(dom)}", m.span)
        try:
            cod = prim.infer(dom, params)
        except DslError as err:
            raise err.with_span(m.span) from None
        return D.box(D.make_box(prim.name, params), dom, cod, m.span)

    def _definition_box(self, d: Definition, m: ast.MBox, dom: tuple[WireType, ...] | None) -> D.Diagram:
        if m.params:
            raise TypeCheckError(f"'{m.name}' has no static parameters", m.span)
        if isinstance(d, GenericDef):
            raise TypeCheckError(f"'{m.name}' is generic; call it inside a def instead", m.span)
        ddom = d.diagram.dom if isinstance(d, DiagramDef) else d.dom
        binding: dict[str, Dim] = {}
        if dom is not None:
            if len(dom) != len(ddom) or not all(unify(p, a, binding) for p, a in zip(ddom, dom)):
                raise TypeCheckError(f"type mismatch: '{m.name}' takes {type_str(ddom)} but receives "
                                     f"{type_str(dom)}", m.span)
        actual = instantiate(ddom, binding)
        b = D.Builder()
        ins = [b.input(t) for t in actual]
        if isinstance(d, DiagramDef):
            outs = inline_diagram(b, d.diagram, ins, binding, m.span)
        else:
            kind = "gen" if isinstance(d, GeneratorDef) else "call"
            outs = b.add(D.Box(d.name, (), kind), ins, instantiate(d.cod, binding), m.span)
        return b.build(outs)
