"""Elaboration of a `def` body: named-wire expressions → nodes of a Diagram.

Each primitive call becomes a box; a wire used twice is simply read twice (copy) and a wire never
read is discarded, so copy/discard insertion is implicit in the hypergraph. Number literals and
dims used as values stay `Pending` until their dtype is known (see semantics/values.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from grammar import ast
from grammar.errors import DslError, Span
from grammar.frozen import constructor
from semantics.call_checks import arg_mismatch, dotted, suggest, type_of
from semantics.diagram import Box, Builder, make_box
from semantics.errors import RebindError, TypeCheckError, UnboundNameError
from semantics.fold import fold
from semantics.lambdas import LambdaElaboration
from semantics.literals import PLAIN_NODES, const_box, dim_arithmetic, once_per_dtype, plain_key, remember_plain
from semantics.order import ReadAhead
from semantics.primitives import INFIX_PRIMS, PRIMITIVES, REQUIRED, Primitive
from semantics.program import Definition, DerivedDef, DiagramDef, GeneratorDef, GenericDef, instantiate
from semantics.replay import def_box
from semantics.statics import CONSTANTS, StaticScope, convert_index, convert_static
from semantics.types import (
    FLOAT_DTYPES,
    NUMPY_DTYPE,
    Dim,
    FunType,
    TensorType,
    WireType,
    flatten,
    scalar,
    unify,
)
from semantics.values import Pending, StaticVal, TupleVal, Value, WireVal

BINOPS = INFIX_PRIMS  # operator -> primitive, from the rows' `syntax`
_INFIX = {op: PRIMITIVES[name] for op, name in BINOPS.items()}
assert all(len(p.wire_args) == 2 for p in _INFIX.values())  # (see binop)
# (made for every operation elaborated: see grammar/frozen.py)
_WireVal = constructor(WireVal)
_Pending = constructor(Pending)
FUNCTIONAL = ("integrate", "nabla", "divergence", "compose")  # LANGUAGE.md §7: semantics/lambdas.py
MAX_DEPTH = 400  # expression nesting accepted before a clear error (Python's stack is the limit)


class Scope(Protocol):
    """What a body may call: the program's definitions, elaborated on demand."""

    dims: frozenset[str]

    def resolve(self, name: str, span: Span | None) -> Definition | None: ...

    def generic_instance(self, d: GenericDef, args: list[Value], kwargs: dict[str, Any], span: Span | None,
                         into: Builder) -> list[Value]: ...


def value_span(v: Value) -> Span | None:
    return v.span


class BodyElaborator(LambdaElaboration):
    """Elaborates one body (a def, or one instance of a generic def) into a Builder."""

    def __init__(self, scope: Scope, builder: Builder, statics: Mapping[str, Any] | None = None):
        self.scope = scope
        self.b = builder
        self.env: dict[str, Value] = {}
        self.statics = StaticScope(scope.dims, dict(statics or {}))
        # names that statements not elaborated yet bind, when they are elaborated in source order
        # (reading one raises ReadAhead: see Elaborator.elaborate_def)
        self.later: Collection[str] = ()
        self.depth = 0
        self._init_levels()

    # ------------------------------------------------------------ names

    def bind(self, name: str, value: Value, span: Span | None) -> None:
        if name in self.env:
            raise RebindError(f"'{name}' is already bound; statements are single assignment, choose a new name",
                              span)
        self.env[name] = value

    # ------------------------------------------------------------ materialising pending values

    def typed(self, v: Value, dtype: str | None, what: str = "value") -> WireVal:
        """A wire for v, giving a pending literal the dtype its context requires."""
        if isinstance(v, WireVal):
            return v
        if isinstance(v, StaticVal):
            v = self.literal(v.value, v.span)
        if isinstance(v, TupleVal):
            raise TypeCheckError(f"expected a single {what}, got a tuple of {len(v.items)}", v.span)
        assert isinstance(v, Pending)
        dtype = dtype or "f64"  # a literal no context ever typed (e.g. `return 2` with no signature)
        if v.number is not None and dtype not in FLOAT_DTYPES:  # (any number fits a float dtype)
            self._check_literal_fits(v.number, dtype, v.span)
        return v.build(dtype)

    def typed_number(self, number: Any, dtype: str, span: Span | None) -> WireVal:
        """`typed(self.literal(number, span), dtype)`, without the pending value."""
        if dtype not in FLOAT_DTYPES:
            self._check_literal_fits(number, dtype, span)
        return self.const_wire(number, dtype, span)

    def typed_literal(self, v: Pending | StaticVal, dtype: str) -> WireVal | None:
        """`cast(2.0, f32)`: a literal (or dim) given a dtype is that literal built at the dtype — one
        `const` box, as the printer writes an f32 constant — when the value fits it (None otherwise:
        `cast(2.5, i32)` truncates through a cast box)."""
        p = self.literal(v.value, v.span) if isinstance(v, StaticVal) else v
        n = p.number
        if n is None:
            return p.build(dtype) if p.dim is not None or dtype in ("f32", "f64") else None
        fits = (dtype in ("f32", "f64") and not isinstance(n, bool)) or (dtype == "bool" and isinstance(n, bool)) \
            or (dtype in ("i32", "i64") and not isinstance(n, bool) and float(n).is_integer() and abs(n) < 2**31)
        return p.build(dtype) if fits else None

    def _check_literal_fits(self, n: Any, dtype: str, span: Span | None) -> None:
        if dtype in ("i32", "i64") and not (isinstance(n, (int, np.integer)) or float(n).is_integer()):
            raise TypeCheckError(f"the literal {n} does not fit the integer dtype {dtype}", span)
        info = np.iinfo(NUMPY_DTYPE[dtype]) if dtype in ("i32", "i64") else None
        if info is not None and not info.min <= n <= info.max:
            raise TypeCheckError(f"the literal {n} is out of the range of {dtype} ({info.min} to {info.max})", span)
        if dtype == "bool" and not isinstance(n, bool):
            raise TypeCheckError(f"the number {n} is used where a bool is required", span)

    def const_wire(self, number: Any, dtype: str, span: Span | None) -> WireVal:
        """The `const` node of `number` converted to `dtype` (unchecked: see typed)."""
        value = bool(number) if dtype == "bool" else (int(number) if dtype in ("i32", "i64") else float(number))
        t = scalar(dtype)
        (w,) = self.b.add(const_box(value, dtype), (), (t,), span)
        return _WireVal(w, t, span)

    def literal(self, number: Any, span: Span | None, is_int: bool = False) -> Pending:
        const_wire = self.const_wire

        def build(dtype: str) -> WireVal:
            return const_wire(number, dtype, span)

        return _Pending(build, number, is_int, span)

    def dim_value(self, dim: Dim, span: Span | None) -> Pending:
        if dim.is_const:
            return self.literal(dim.value, span, True)

        def build(dtype: str) -> WireVal:
            (w,) = self.b.add(make_box("dimsize", {"dim": dim, "dtype": dtype}), (), (TensorType(dtype),), span)
            return WireVal(w, TensorType(dtype), span)

        return Pending(once_per_dtype(build), None, True, span, dim)

    # ------------------------------------------------------------ expressions

    def expr(self, e: ast.Expr) -> Value:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise TypeCheckError(f"expression nested too deeply (more than {MAX_DEPTH} levels); "
                                     "split it into named statements", e.span)
            return self._expr(e)
        finally:
            self.depth -= 1

    def _expr(self, e: ast.Expr) -> Value:
        # (the node classes are disjoint: the most frequent are tested first)
        if isinstance(e, ast.Name):
            return self.name(e)
        if isinstance(e, ast.BinOp):
            return self.binop(e)
        if isinstance(e, ast.Num):
            return self.literal(e.value, e.span, e.is_int)
        if isinstance(e, ast.Bool):
            return self.literal(e.value, e.span)
        if isinstance(e, ast.UnaryOp):
            v = self.expr(e.operand)
            return v if e.op == "+" else self.call_primitive(PRIMITIVES["neg"], [v], {}, e.span)
        if isinstance(e, ast.Cond):
            args = [self.expr(e.cond), self.expr(e.then), self.expr(e.other)]
            return self.call_primitive(PRIMITIVES["where"], args, {}, e.span)
        if isinstance(e, ast.TupleExpr):
            return TupleVal(tuple(self.expr(i) for i in e.items), e.span)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.Index):
            x = self.expr(e.value)
            return self.call_primitive(PRIMITIVES["index"], [x], {"index": convert_index(e.items, self.statics)}, e.span)
        if isinstance(e, ast.Attr):
            if e.attr == "T":
                return self.call_primitive(PRIMITIVES["transpose"], [self.expr(e.value)], {"axes": None}, e.span)
            raise TypeCheckError(f"'{dotted(e)}' is not a value; call it: {dotted(e)}(...)", e.span)
        if isinstance(e, ast.Str):
            raise TypeCheckError("a string is only allowed as a static argument (einsum subscripts)", e.span)
        if isinstance(e, ast.Lambda):
            return self.function_value(e)  # no context types it: a clear error
        raise AssertionError(f"unknown expression {e!r}")

    def binop(self, e: ast.BinOp) -> Value:
        a = self._operand(e.left)
        prim = _INFIX[e.op]
        outside_lambdas = not self.levels[-1].domain
        # the most common nodes, outside lambdas, without call_primitive's general checks (every infix
        # row takes two wires, and the first typed argument gives a literal its dtype): two typed wires,
        # or a tensor and a literal, which takes the tensor's dtype as typed() gives it
        if isinstance(a, WireVal) and isinstance(a.type, TensorType) and outside_lambdas \
                and isinstance(e.right, ast.Num):  # `x * 2`: no pending value for the 2
            w = self.typed_number(e.right.value, a.type.dtype, e.right.span)
            return self._add_node(prim, (a.type, w.type), (a.wire, w.wire), {}, e.span)
        b = self._operand(e.right)
        if outside_lambdas:
            if isinstance(a, WireVal):
                if isinstance(b, Pending) and isinstance(a.type, TensorType):
                    b = self.typed(b, a.type.dtype)
                if isinstance(b, WireVal):
                    return self._add_node(prim, (a.type, b.type), (a.wire, b.wire), {}, e.span)
            elif isinstance(a, Pending) and isinstance(b, WireVal) and isinstance(b.type, TensorType):
                a = self.typed(a, b.type.dtype)
                return self._add_node(prim, (a.type, b.type), (a.wire, b.wire), {}, e.span)
        return self.call_primitive(prim, [a, b], {}, e.span)

    def _operand(self, e: ast.Expr) -> Value:
        """`expr(e)`; names and numbers nest nothing, so they skip its depth count."""
        if e.__class__ is ast.Name:
            v = self.env.get(e.id)
            if v.__class__ is WireVal and len(self.levels) == 1:  # (`name`'s common case, without the call)
                return v
            return self.name(e)
        if isinstance(e, ast.Num):
            return self.literal(e.value, e.span, e.is_int)
        return self.expr(e)

    def name(self, e: ast.Name) -> Value:
        v = self.env.get(e.id)
        if v is not None:
            if v.__class__ is WireVal and len(self.levels) == 1:  # (the common case: a wire outside lambdas)
                # as bound: its span (where it was computed) is read only to lift it into a lambda,
                # and a name read inside one is lifted at that use's span below
                return v
            return v if isinstance(v, TupleVal) else self.lifted(e.id, _respan(v, e.span), e.span)
        if e.id in self.later:
            raise ReadAhead(e.id)
        if e.id in self.statics.statics:
            value = self.statics.statics[e.id]
            return self.dim_value(value, e.span) if isinstance(value, Dim) else StaticVal(value, e.span)
        if e.id in self.scope.dims:
            return self.dim_value(Dim.sym(e.id), e.span)
        if e.id in CONSTANTS:
            return self.literal(CONSTANTS[e.id], e.span)
        if e.id in PRIMITIVES or self.scope.resolve(e.id, e.span) is not None:
            raise TypeCheckError(f"'{e.id}' is a box, not a value; call it: {e.id}(...)", e.span)
        raise UnboundNameError(f"unbound name '{e.id}'" + suggest(e.id, list(self.env)), e.span)

    # ------------------------------------------------------------ calls

    def call(self, e: ast.Call) -> Value:
        func = e.func
        if isinstance(func, ast.Name) and func.id in PRIMITIVES and func.id not in FUNCTIONAL \
                and func.id not in self.env and func.id not in self.later:
            # `sin(x)`: no definition is named like a primitive (Elaborator.declare), so this is all
            # the general path below would find
            prim = PRIMITIVES[func.id]
            args, kwargs = self.bind_primitive_args(prim, e)
            return self.call_primitive(prim, args, kwargs, e.span)
        self.check_callee_bound(e)
        fname = dotted(e.func) if isinstance(e.func, (ast.Name, ast.Attr)) else None
        special = self.functional_call(e, fname)
        if special is not None:
            return special
        assert fname is not None
        if isinstance(e.func, ast.Name) and e.func.id in self.env:
            raise TypeCheckError(f"'{fname}' is a wire of type {type_of(self.env[fname])}, not a function", e.func.span)
        d = self.scope.resolve(fname, e.func.span)
        if d is not None:
            return self.call_definition(d, e)
        if fname in PRIMITIVES:
            prim = PRIMITIVES[fname]
            args, kwargs = self.bind_primitive_args(prim, e)
            return self.call_primitive(prim, args, kwargs, e.span)
        raise UnboundNameError(f"unknown function '{fname}'" + suggest(fname, list(PRIMITIVES)), e.func.span)

    def bind_primitive_args(self, prim: Primitive, e: ast.Call) -> tuple[list[Value], dict[str, Any]]:
        """Split a call's arguments into wire values and static parameters, by the row's convention."""
        if not e.kwargs and not prim.params and len(e.args) == len(prim.args) and not prim.variadic:
            return [self.expr(a) for a in e.args], {}  # (`sin(x)`: each argument is a wire, in order)
        positional: list[tuple[str, Any]] = list(zip(prim.args, e.args))
        if prim.args and prim.args[-1].startswith("*") and len(e.args) > len(prim.args):
            # a trailing variadic takes the remaining positionals: einsum("ij,jk->ik", a, b)
            k = len(prim.args) - 1
            items = ast.TupleExpr(tuple(e.args[k:]), e.args[k].span)
            positional = positional[:k] + [(prim.args[k], items)]
        elif len(e.args) > len(prim.args):
            raise TypeCheckError(f"{prim.name} takes {len(prim.args)} positional argument(s) "
                                 f"({', '.join(prim.args)}), got {len(e.args)}", e.span)
        wires: dict[str, Value] = {}
        statics: dict[str, Any] = {}
        given = positional + [(k.name, k.value) for k in e.kwargs]
        for name, arg in given:
            spec = prim.param_spec(name)
            if name in wires or name in statics:
                raise TypeCheckError(f"{prim.name} got argument '{name}' twice", arg.span)
            if spec is not None:
                statics[name] = convert_static(spec.kind, arg, self.statics, f"'{name}' of {prim.name}")
            elif name.startswith("*"):
                if isinstance(arg, ast.TupleExpr):
                    wires[name] = TupleVal(tuple(self.expr(i) for i in arg.items), arg.span)
                else:
                    v = self.expr(arg)
                    wires[name] = v if isinstance(v, TupleVal) else TupleVal((v,), arg.span)
            elif name in prim.args:
                wires[name] = self.expr(arg)
            else:
                raise TypeCheckError(f"{prim.name} has no parameter '{name}' (it takes "
                                     f"{', '.join(a.lstrip('*') for a in prim.args) or 'no arguments'}"
                                     f"{'; static: ' + ', '.join(p.name for p in prim.params) if prim.params else ''})",
                                     arg.span)
        for spec in prim.params:
            if spec.name not in statics:
                if spec.default is REQUIRED:
                    raise TypeCheckError(f"{prim.name} needs the static argument '{spec.name}'", e.span)
                statics[spec.name] = spec.default
        missing = [a for a in prim.wire_args if a not in wires]
        if missing:
            raise TypeCheckError(f"{prim.name} is missing argument(s) {', '.join(missing)} "
                                 f"(it takes {', '.join(prim.wire_args)})", e.span)
        args: list[Value] = []
        for a in prim.wire_args:
            v = wires[a]
            args.extend(v.items if a.startswith("*") and isinstance(v, TupleVal) else [v])
        return args, statics

    def call_primitive(self, prim: Primitive, args: Sequence[Value], params: dict[str, Any], span: Span | None) -> Value:
        arity = _arity(prim)
        if arity is not None and len(args) != arity:
            raise TypeCheckError(f"{prim.name} takes {arity} argument(s), got {len(args)}", span)
        untyped = 0  # pending literals and static values among the arguments
        for a in args:
            if a.__class__ is not WireVal:  # (the common case: a typed wire)
                if isinstance(a, TupleVal):
                    raise TypeCheckError(f"{prim.name} got a tuple of {len(a.items)} values where one value is "
                                         "expected", a.span or span)
                untyped += 1  # (a Pending or a StaticVal)
        if untyped:
            return self._call_untyped(prim, args, params, span, untyped)
        if self.levels[-1].domain:  # inside a lambda
            args = self.lift_plain_args(list(args))
        return self._node(prim, args, params, span)  # type: ignore[arg-type]  # (all WireVals)

    def _call_untyped(self, prim: Primitive, args: Sequence[Value], params: dict[str, Any], span: Span | None,
                      untyped: int) -> Value:
        """`call_primitive` with literals (or static values) among the arguments: they take the dtype
        of the typed ones, or the whole call stays a literal when every argument is one."""
        if prim.name == "cast" and len(args) == 1:
            direct = self.typed_literal(args[0], params["dtype"])  # type: ignore[arg-type]
            if direct is not None:
                return direct
        if untyped == len(args) and prim.elementwise:
            return self.pending_call(prim, list(args), params, span)
        if self.levels[-1].domain:  # inside a lambda
            args = self.lift_plain_args(list(args))
        dtype = self.context_dtype(prim, args)
        wires = [self.typed(a, dtype if not (prim.name == "where" and i == 0) else "bool") for i, a in enumerate(args)]
        return self._node(prim, wires, params, span)

    def _node(self, prim: Primitive, wires: Sequence[WireVal], params: dict[str, Any], span: Span | None) -> Value:
        """The node of `prim` on typed wires (its output types from the row's shape rule)."""
        if len(wires) == 1:  # (`sin(x)`: without the two lists)
            return self._add_node(prim, (wires[0].type,), (wires[0].wire,), params, span)
        return self._add_node(prim, tuple([w.type for w in wires]), tuple([w.wire for w in wires]), params, span)

    def _add_node(self, prim: Primitive, in_types: tuple[WireType, ...], ins: tuple[int, ...], params: dict[str, Any],
                  span: Span | None) -> Value:
        plain = None if params else PLAIN_NODES.get(  # (the two-argument key spelled out: most nodes)
            (id(prim), id(in_types[0]), id(in_types[1])) if len(in_types) == 2 else plain_key(prim, in_types))
        if plain is not None:
            box, out_types = plain[0], plain[1]
        else:
            try:
                out_types = prim.infer(in_types, params)
            except DslError as err:
                raise err.with_span(span) from None
            box = make_box(prim.name, params)
            if not params:
                remember_plain(prim, in_types, box, out_types)
        # a node on function-typed wires (a lambda's body) is hash-consed: `rho(x) * rho(x)` is one
        # apply read twice, as printed text reloads (lambda bodies have no statements to name it)
        if len(out_types) == 1:
            t = out_types[0]
            add = self.b.add if t.__class__ is not FunType else self.b.add_shared
            (w,) = add(box, ins, out_types, span)
            return _WireVal(w, t, span)
        add = self.b.add
        for t in out_types:
            if isinstance(t, FunType):
                add = self.b.add_shared
        return _result(add(box, ins, out_types, span), out_types, span)

    def context_dtype(self, prim: Primitive, args: Sequence[Value]) -> str | None:
        """The dtype of the first typed wire among the arguments (a function's result's dtype;
        the condition of `where` does not count)."""
        for a in args[1:] if prim.name == "where" else args:  # (by position: a value may be passed twice)
            if isinstance(a, WireVal):
                t = a.type.res if isinstance(a.type, FunType) else a.type
                if isinstance(t, TensorType):
                    return t.dtype
        return None

    def pending_call(self, prim: Primitive, args: list[Value], params: dict[str, Any], span: Span | None) -> Value:
        pend = [a if isinstance(a, Pending) else self.literal(a.value, a.span) for a in args]  # type: ignore[union-attr]
        dim = dim_arithmetic(prim.name, pend)
        if dim is not None:
            return self.dim_value(dim, span)
        numbers = [p.number for p in pend]
        # an expression of literals is one literal, computed in f64 by the one folding function
        out_dtype = "bool" if prim.family == "compare" else "f64"
        value = None if any(n is None for n in numbers) else \
            fold(prim.name, params, numbers, ["f64"] * len(numbers), out_dtype, finite=False)  # type: ignore[arg-type]
        if value is not None:
            is_int = all(p.is_int for p in pend) and prim.name in ("add", "sub", "mul", "neg") and float(value).is_integer()
            return self.literal(int(value) if is_int else value, span, is_int)

        def build(dtype: str) -> WireVal:
            out = self.call_primitive(prim, [p.build(dtype) for p in pend], params, span)
            assert isinstance(out, WireVal)
            return out

        return Pending(once_per_dtype(build), None, all(p.is_int for p in pend), span)

    def call_definition(self, d: Definition, e: ast.Call) -> Value:
        if isinstance(d, GenericDef):
            args = [self.expr(a) for a in e.args]
            kwargs = {k.name: (convert_static("any", k.value, self.statics, f"'{k.name}' of {d.name}"), k.span)
                      for k in e.kwargs}
            outs = self.scope.generic_instance(d, args, kwargs, e.span, self.b)
            return outs[0] if len(outs) == 1 else TupleVal(tuple(outs), e.span)
        if e.kwargs:
            raise TypeCheckError(f"'{d.name}' takes no keyword arguments (only primitives and generic "
                                 "library definitions have static parameters)", e.kwargs[0].span)
        dom = d.diagram.dom if isinstance(d, DiagramDef) else d.dom
        if len(e.args) != len(dom):
            raise TypeCheckError(f"'{d.name}' takes {len(dom)} argument(s), got {len(e.args)}", e.span)
        names = d.param_names
        wires = [self.function_value(a, flatten(t.arg)) if isinstance(t, FunType)
                 else self.typed(self.expr(a), t.dtype if isinstance(t, TensorType) else None)
                 for a, t in zip(e.args, dom)]
        if isinstance(d, DiagramDef) and any(isinstance(w.type, FunType) and isinstance(t, TensorType)
                                             for w, t in zip(wires, dom)):
            return self.pointwise_call(d.name, d.diagram, names, wires, e)
        binding: dict[str, Dim] = {}
        for w, t, pname, a in zip(wires, dom, names, e.args):
            if not unify(t, w.type, binding):
                raise arg_mismatch(d.name, pname, t, w.type, binding, a.span)
        out_wires: tuple[int, ...]
        if isinstance(d, DiagramDef):  # a box, not inlined: see semantics.diagram.Callee
            cod = instantiate(d.diagram.cod, binding)
            out_wires = self.b.add(def_box(d.name, d.diagram), [w.wire for w in wires], cod, e.span)
        else:
            cod = instantiate(d.cod, binding)
            kind = "gen" if isinstance(d, GeneratorDef) else "call"
            box = Box(d.name, (), kind) if kind == "gen" else _call_box(d)  # type: ignore[arg-type]
            out_wires = self.b.add(box, [w.wire for w in wires], cod, e.span)
        return _result(out_wires, cod, e.span)


_ARITY: dict[str, int | None] = {}


def _arity(prim: Primitive) -> int | None:
    """How many wire arguments a call of `prim` takes (None: it varies, or `index`/`transpose`,
    which check their own). Once per row: read for every operation elaborated."""
    if prim.name not in _ARITY:
        fixed = prim.name not in ("index", "transpose") and not prim.variadic
        _ARITY[prim.name] = len(prim.wire_args) if fixed else None
    return _ARITY[prim.name]


def _call_box(d: DerivedDef) -> Box:
    return Box(d.name, (), "call")


def _result(outs: Sequence[int], types: Sequence[WireType], span: Span | None) -> Value:
    vals = [_WireVal(w, t, span) for w, t in zip(outs, types)]
    return vals[0] if len(vals) == 1 else TupleVal(tuple(vals), span)


def _respan(v: Value, span: Span | None) -> Value:
    if isinstance(v, WireVal):
        return _WireVal(v.wire, v.type, span)
    if isinstance(v, Pending):
        return Pending(v.build, v.number, v.is_int, span, v.dim)
    return v
