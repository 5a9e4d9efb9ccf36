"""Elaboration: AST → Program of typed diagrams (type and shape checking, named-wire desugaring).

Definitions are elaborated on demand (a def may call one written further down), memoised, with
recursion reported as an error. Imports are loaded through a callback so this stage never touches
the file system itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from grammar import ast
from grammar.errors import DslError, Span
from semantics.call_checks import check_return
from semantics.derived import DERIVED_OPS, derived_signature, resolve_wrt
from semantics.diagram import Builder, Diagram
from semantics.errors import DerivativeError, RebindError, TypeCheckError, UnboundNameError
from semantics.expressions import BodyElaborator
from semantics.order import ReadAhead, binders, dependency_order
from semantics.pointfree import PointFree
from semantics.primitives import PRIMITIVES
from semantics.program import (
    Definition,
    DerivedDef,
    DiagramDef,
    GeneratorDef,
    GenericDef,
    Program,
)
from semantics.statics import StaticScope, convert_static, static_number
from semantics.types import DTYPES, Dim, FunType, TensorType, WireType, flatten, interned, product
from semantics.values import Pending, StaticVal, TupleVal, Value, WireVal

ImportLoader = Callable[[str, "Span | None"], Program]
_IN_PROGRESS = object()


def elaborate(module: ast.Module, load_import: ImportLoader | None = None, prelude: Program | None = None) -> Program:
    """Type- and shape-check every declaration of `module` and build its diagrams.

    >>> from grammar import parse
    >>> p = elaborate(parse("def f(x: f64) -> f64 { return sin(x) * 2 }"))
    >>> p.lookup("f").diagram.signature
    'f64 -> f64'
    """
    return Elaborator(module, load_import, prelude).run()


class Elaborator:
    def __init__(self, module: ast.Module, load_import: ImportLoader | None, prelude: Program | None):
        self.module = module
        self.load_import = load_import
        self.prelude = prelude
        self.decls: dict[str, ast.Decl] = {}
        self.done: dict[str, Any] = {}
        self.aliases: dict[str, ast.TypeExpr] = {}
        self.imported: dict[str, Definition] = {}
        self.import_aliases: dict[str, ast.Import] = {}
        self.dims: frozenset[str] = frozenset(
            n for d in module.decls if isinstance(d, ast.DimDecl) for n in d.names)
        self.anonymous = 0

    # ------------------------------------------------------------ driver

    def run(self) -> Program:
        own: list[str] = []
        for decl in self.module.decls:
            if isinstance(decl, ast.DimDecl):
                continue
            if isinstance(decl, ast.Import):
                self.do_import(decl)
                continue
            if isinstance(decl, ast.TypeAlias):
                self.declare(decl.name, decl, decl.span)
                self.aliases[decl.name] = decl.type
                continue
            self.declare(decl.name, decl, getattr(decl, "name_span", None) or decl.span)
            own.append(decl.name)
        for decl in self.module.decls:
            if isinstance(decl, ast.TypeAlias):
                self.convert_type(decl.type)  # reports undeclared dims in unused aliases too
        for name in own:
            self.resolve(name, None)
        hidden = [(k, v) for k, v in self.done.items() if "#" in k]  # nested grad(grad(f)) operands
        defs = list(self.imported.items()) + hidden + [(n, self.done[n]) for n in own]
        return Program(self.module.filename, tuple(defs), self.dims, tuple(own))

    def declare(self, name: str, decl: ast.Decl, span: Span | None) -> None:
        if name in self.decls or name in self.imported:
            first = self.decls.get(name)
            where = f" (first defined at {first.span})" if first is not None and first.span else ""
            raise RebindError(f"'{name}' is defined twice{where}", span)
        if name in PRIMITIVES or name in DTYPES or name in ("pi", "inf"):
            raise UnboundNameError(f"'{name}' is a built-in name and cannot be redefined", span)
        self.decls[name] = decl

    def do_import(self, decl: ast.Import) -> None:
        if self.load_import is None:
            raise UnboundNameError(f"cannot import '{decl.path}' here (no file system access)", decl.span)
        if decl.alias:
            first = self.import_aliases.setdefault(decl.alias, decl)
            if first is not decl:  # o.f from two files would merge silently
                raise RebindError(f"the alias '{decl.alias}' is already used by import \"{first.path}\""
                                  f"{f' at line {first.span.line}' if first.span else ''}; choose another name",
                                  decl.span)
        program = self.load_import(decl.path, decl.span)
        for name in program.own:
            key = f"{decl.alias}.{name}" if decl.alias else name
            if key in self.imported or key in self.decls:
                raise RebindError(f"import of '{decl.path}' defines '{key}' a second time; "
                                       f"use import \"{decl.path}\" as name", decl.span)
            self.imported[key] = program.lookup(name)  # type: ignore[assignment]
        self.dims = self.dims | (program.dims if not decl.alias else frozenset())

    # ------------------------------------------------------------ names

    def resolve(self, name: str, span: Span | None) -> Definition | None:
        """The definition called `name`, elaborating it now if needed (None if there is none)."""
        if name in self.done:
            if self.done[name] is _IN_PROGRESS:
                raise TypeCheckError(f"'{name}' is defined in terms of itself (recursion is not allowed)", span)
            return self.done[name]  # type: ignore[no-any-return]
        if name in self.imported:
            return self.imported[name]
        decl = self.decls.get(name)
        if decl is None or isinstance(decl, ast.TypeAlias):
            return self.prelude.lookup(name) if self.prelude is not None else None
        self.done[name] = _IN_PROGRESS
        try:
            self.done[name] = self.elaborate_decl(decl)
        except BaseException:
            del self.done[name]
            raise
        return self.done[name]  # type: ignore[no-any-return]

    def elaborate_decl(self, decl: ast.Decl) -> Definition:
        if isinstance(decl, ast.Def):
            if any(p.type is None for p in decl.params):
                return GenericDef(decl.name, decl, decl.span)
            return DiagramDef(decl.name, self.elaborate_def(decl), "def", decl.span)
        if isinstance(decl, ast.DiagramDef):
            return DiagramDef(decl.name, self.elaborate_diagram(decl), "diagram", decl.span)
        if isinstance(decl, ast.BoxDecl):
            return GeneratorDef(decl.name, self.convert_type(decl.dom), self.convert_type(decl.cod), decl.span)
        if isinstance(decl, ast.Derived):
            return self.elaborate_derived(decl.name, decl.op, decl.target, decl.kwargs, decl.span)
        raise AssertionError(decl)

    # ------------------------------------------------------------ types

    def convert_type(self, t: ast.TypeExpr, seen: frozenset[str] = frozenset()) -> tuple[WireType, ...]:
        """A type expression as the tuple of its wire types."""
        if isinstance(t, ast.TensorTypeExpr):
            if t.dtype not in DTYPES:
                raise TypeCheckError(f"unknown dtype '{t.dtype}' (dtypes: {', '.join(DTYPES)})", t.span)
            return (interned(TensorType(t.dtype, tuple(self.convert_dim(d) for d in t.dims))),)
        if isinstance(t, ast.NamedTypeExpr):
            if t.name == "I":
                return ()
            if t.name in DTYPES:
                return (TensorType(t.name, ()),)
            if t.name not in self.aliases or t.name in seen:
                raise UnboundNameError(f"unknown type '{t.name}'", t.span)
            return self.convert_type(self.aliases[t.name], seen | {t.name})
        if isinstance(t, ast.TupleTypeExpr):
            return tuple(w for item in t.items for w in self.convert_type(item, seen))
        if isinstance(t, ast.FunTypeExpr):
            return (FunType(product(self.convert_type(t.arg, seen)), product(self.convert_type(t.res, seen))),)
        raise AssertionError(t)

    def convert_dim(self, d: ast.DimRef) -> Dim:
        if isinstance(d.value, int):
            return Dim.const(d.value)
        if d.expr is not None:  # arithmetic on dims: f64[n - 1], f64[2 * n]
            value = static_number(d.expr, StaticScope(self.dims, {}), f"the dim {d.value}")
            if isinstance(value, bool) or not isinstance(value, (int, Dim)):
                raise TypeCheckError(f"the dim {d.value} must be an integer expression of dims", d.span)
            return value if isinstance(value, Dim) else Dim.const(value)
        if d.value not in self.dims:
            raise UnboundNameError(f"dim '{d.value}' is not declared; add `dim {d.value}` at the top of the file", d.span)
        return Dim.sym(d.value)

    # ------------------------------------------------------------ def

    def elaborate_def(self, decl: ast.Def) -> Diagram:
        """The diagram of a typed def. Its statements are elaborated in source order, the order almost
        every body is written in, without first collecting the names each one reads; a body where a
        statement reads a name bound further down (`ReadAhead`) is elaborated again from the start in
        dependency order (semantics/order.py), and so is one that raised an error while out of that
        order, so the diagram and the error are always those of the dependency order."""
        try:
            return self._elaborate_def(decl, in_source_order=True)
        except ReadAhead:
            pass
        except DslError:
            bound = [p.name for p in decl.params]
            if all(a is b for a, b in zip(dependency_order(decl.body, bound), decl.body)):
                raise
        return self._elaborate_def(decl, in_source_order=False)

    def _elaborate_def(self, decl: ast.Def, in_source_order: bool) -> Diagram:
        b = Builder()
        body = BodyElaborator(self, b)
        names: list[str] = []
        for p in decl.params:
            assert p.type is not None
            wires = [WireVal(b.input(t), t, p.span) for t in self.convert_type(p.type)]
            body.bind(p.name, wires[0] if len(wires) == 1 else TupleVal(tuple(wires), p.span), p.span)
            names += [p.name] if len(wires) == 1 else [f"{p.name}_{i}" for i in range(len(wires))]
        declared = self.convert_type(decl.ret) if decl.ret is not None else None
        outs = self.elaborate_body(body, decl, declared, in_source_order)
        return b.build([w.wire for w in outs], input_names=tuple(names), name=decl.name, span=decl.span)

    def elaborate_body(self, body: BodyElaborator, decl: ast.Def, declared: tuple[WireType, ...] | None,
                       in_source_order: bool = False) -> list[WireVal]:
        if in_source_order:  # (see elaborate_def)
            body.later = binders(decl.body, body.env.keys())  # (names bound twice are errors here too)
            stmts: Sequence[ast.Assign] = decl.body
        else:
            stmts = dependency_order(decl.body, body.env.keys())
        env = body.env
        for stmt in stmts:
            value = body.expr(stmt.value)
            targets = stmt.targets
            if len(targets) == 1 and targets[0] not in env:
                env[targets[0]] = value  # (`assign`'s common case: one new name)
            else:
                self.assign(body, stmt, value)
        values, spans = self.flatten_returns(body, decl.returns, declared)
        if declared is not None and len(values) != len(declared):
            raise TypeCheckError(f"'{decl.name}' returns {len(values)} value(s) but its signature declares "
                                 f"{len(declared)} ({product(declared)})", decl.returns.span)
        wires = [body.typed(v, declared[i].dtype if declared and isinstance(declared[i], TensorType) else None)  # type: ignore[union-attr]
                 for i, v in enumerate(values)]
        if declared is not None:
            # each distinct wire type object once (a long body has few types and many wires; deduplicated
            # by identity in C, where `dict.fromkeys` ran a Python `__hash__` per wire)
            types = body.b.types
            binding = {n: Dim.sym(n) for t in dict(zip(map(id, types), types)).values() for n in _dim_names(t)}
            check_return(wires, declared, binding, spans)
        return wires

    def assign(self, body: BodyElaborator, stmt: ast.Assign, value: Value) -> None:
        if len(stmt.targets) == 1:
            body.bind(stmt.targets[0], value, stmt.target_spans[0] if stmt.target_spans else stmt.span)
            return
        spans = stmt.target_spans or (stmt.span,) * len(stmt.targets)
        items = value.items if isinstance(value, TupleVal) else (value,)
        if len(items) != len(stmt.targets):
            raise TypeCheckError(f"cannot unpack {len(items)} value(s) into {len(stmt.targets)} names "
                                 f"({', '.join(stmt.targets)})", stmt.span)
        for name, item, sp in zip(stmt.targets, items, spans):
            body.bind(name, item, sp)

    def flatten_returns(self, body: BodyElaborator, ret: ast.Return,
                        declared: tuple[WireType, ...] | None = None) -> tuple[list[Value], list[Span | None]]:
        values: list[Value] = []
        spans: list[Span | None] = []
        for i, e in enumerate(ret.values):
            want = declared[i] if declared is not None and len(declared) == len(ret.values) else None
            # a returned lambda takes its parameter types from the declared function type
            v = body.function_value(e, flatten(want.arg)) if isinstance(want, FunType) else body.expr(e)
            items = _flatten_value(v)
            values += items
            spans += [e.span] * len(items)
        return values, spans

    # ------------------------------------------------------------ generic defs (templates)

    def generic_instance(self, d: GenericDef, args: list[Value], kwargs: dict[str, tuple[Any, Span | None]],
                         span: Span | None, into: Builder) -> list[Value]:
        """Elaborate generic `d` for these argument values, writing its nodes into the caller's builder."""
        decl = d.node
        wire_params = [p for p in decl.params if p.default is None]
        static_params = [p for p in decl.params if p.default is not None]
        if len(args) > len(decl.params):
            raise TypeCheckError(f"'{d.name}' takes at most {len(decl.params)} argument(s), got {len(args)}", span)
        if len(args) < len(wire_params):
            missing = ", ".join(p.name for p in wire_params[len(args):])
            raise TypeCheckError(f"'{d.name}' is missing argument(s) {missing}", span)
        statics: dict[str, Any] = {}
        scope = StaticScope(self.dims, {})
        for p, a in zip(static_params, args[len(wire_params):]):
            statics[p.name] = a.value if isinstance(a, StaticVal) else _pending_number(a, p.name, d.name)
        for p in static_params:
            if p.name in kwargs:
                statics[p.name] = kwargs.pop(p.name)[0]
            elif p.name not in statics:
                statics[p.name] = convert_static("any", p.default, scope, f"'{p.name}' of {d.name}")  # type: ignore[arg-type]
        if kwargs:
            name, (_, kspan) = next(iter(kwargs.items()))
            raise TypeCheckError(f"'{d.name}' has no parameter '{name}'", kspan)
        body = BodyElaborator(self, into, statics)
        for p, a in zip(wire_params, args):
            body.bind(p.name, a, span)
        try:
            values, _ = self._generic_body(body, decl)
        except DslError as err:
            if err.span is not None and err.span.filename != (span.filename if span else None):
                raise type(err)(f"in '{d.name}' (defined at {err.span}): {err.message}", span) from None
            raise
        return values

    def _generic_body(self, body: BodyElaborator, decl: ast.Def) -> tuple[list[Value], list[Span | None]]:
        for stmt in dependency_order(decl.body, body.env.keys() | body.statics.statics.keys()):
            self.assign(body, stmt, body.expr(stmt.value))
        return self.flatten_returns(body, decl.returns)

    # ------------------------------------------------------------ point-free diagrams

    def elaborate_diagram(self, decl: ast.DiagramDef) -> Diagram:
        pf = PointFree(self.resolve, self.convert_type, self.dims)
        dom = self.convert_type(decl.dom) if decl.dom is not None else None
        d = pf.elab(decl.body, dom)
        if decl.cod is not None:
            cod = self.convert_type(decl.cod)
            if cod != d.cod:
                raise TypeCheckError(f"diagram '{decl.name}' has type {d.signature}, but its signature "
                                     f"declares {product(cod)} as output", decl.span)
        return d.with_names(decl.name)

    # ------------------------------------------------------------ derived definitions

    def elaborate_derived(self, name: str, op: str, target: ast.Expr, kwargs: Sequence[ast.Keyword],
                          span: Span | None) -> DerivedDef:
        tname = self.derived_target(target, span)
        d = self.resolve(tname, target.span)
        if d is None:
            raise UnboundNameError(f"{op}: unknown definition '{tname}'", target.span)
        if isinstance(d, GenericDef):
            raise DerivativeError(f"{op}: '{tname}' is generic (untyped parameters); wrap it in a typed def", target.span)
        dom, cod = (d.diagram.dom, d.diagram.cod) if isinstance(d, DiagramDef) else (d.dom, d.cod)
        names = d.param_names
        opts = {k.name: k for k in kwargs}
        wrt_kw = opts.pop("wrt", None)
        wrt_names = None if wrt_kw is None else _wrt_names(wrt_kw.value)
        if op == "simplify" and wrt_kw is not None:
            raise DerivativeError("simplify takes no wrt=", wrt_kw.span)
        if opts:
            k = next(iter(opts.values()))
            raise DerivativeError(f"{op} has no option '{k.name}' (options: wrt)", k.span)
        wrt = resolve_wrt(op, tname, names, dom, wrt_names, wrt_kw.span if wrt_kw else span)
        new_dom, new_cod, new_names = derived_signature(op, tname, names, dom, cod, wrt, span)
        return DerivedDef(name, op, tname, wrt, new_dom, new_cod, new_names, (), span)

    def derived_target(self, target: ast.Expr, span: Span | None) -> str:
        if isinstance(target, ast.Name):
            return target.id
        if isinstance(target, ast.Attr) and isinstance(target.value, ast.Name):
            return f"{target.value.id}.{target.attr}"
        if isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id in DERIVED_OPS:
            if not target.args:
                raise DerivativeError(f"{target.func.id} needs a definition to differentiate", target.span)
            self.anonymous += 1
            inner = f"{target.func.id}({self.derived_target(target.args[0], span)})#{self.anonymous}"
            self.done[inner] = self.elaborate_derived(inner, target.func.id, target.args[0], target.kwargs, target.span)
            return inner
        raise DerivativeError("the operand of a derived definition must be a definition's name", target.span)


def _wrt_names(e: ast.Expr) -> list[str]:
    items = e.items if isinstance(e, ast.TupleExpr) else (e,)
    out = []
    for i in items:
        if not isinstance(i, ast.Name):
            raise DerivativeError("wrt= takes parameter names: wrt=x or wrt=(a, b)", i.span)
        out.append(i.id)
    return out


def _flatten_value(v: Value) -> list[Value]:
    if isinstance(v, TupleVal):
        return [x for item in v.items for x in _flatten_value(item)]
    return [v]


def _pending_number(v: Value, pname: str, fname: str) -> Any:
    if isinstance(v, Pending) and v.number is not None:
        return v.number
    raise TypeCheckError(f"'{pname}' of {fname} must be a static value", v.span)


def _dim_names(t: WireType) -> set[str]:
    if isinstance(t, TensorType):
        return {a for d in t.shape for a in d.atoms}
    return {a for w in flatten(t.arg) + flatten(t.res) for a in _dim_names(w)}


