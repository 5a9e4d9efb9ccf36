"""Elaboration of LANGUAGE.md §7: lambdas, application, `compose`, `nabla` and `integrate`.

A lambda body is elaborated in *lifted mode* (see semantics/prims/functional.py): its variables
are `coord` boxes, every wire in it is a function of them, and the ordinary rows act pointwise. A
name from an enclosing scope read inside a lambda is `lift`ed to the lambda's variables (a plain
wire becomes a constant function; a value of an enclosing lambda gains the new variables), so that
the transpose with respect to a captured wire is a well-defined integral over the region.

`integrate(x => body, over=...)` extends the current variables (a nested integral is a function
of the outer variables until its own are integrated out); a lambda used as a function value (an
argument or return value declared as a function, `compose`, `nabla`) is closed: its variables are
its own parameters, typed from the context.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from grammar import ast
from grammar.errors import DslError, Span
from semantics.diagram import make_box
from semantics.errors import ShapeError, TypeCheckError
from semantics.order import ReadAhead
from semantics.prims.functional import domain, fun
from semantics.statics import convert_static
from semantics.types import Dim, FunType, TensorType, TupleType, WireType, flatten, unify
from semantics.values import Pending, StaticVal, TupleVal, Value, WireVal

Domain = tuple[WireType, ...]
Region = tuple[tuple[float, float, int], ...]
MAX_POINTS = 64  # default quadrature order (LANGUAGE.md §7)
MAX_N = 100_000


@dataclass(frozen=True)
class Level:
    """The variables of the lambdas a body is nested in, with the region of each (None: unknown)."""

    domain: Domain
    regions: tuple[Region | None, ...]


ROOT = Level((), ())


class LambdaElaboration:
    """Mixin of `BodyElaborator` (semantics/expressions.py) for the functional forms."""

    # provided by BodyElaborator
    b: Any
    env: dict[str, Value]
    statics: Any
    later: Collection[str]

    def expr(self, e: ast.Expr) -> Value:
        raise NotImplementedError  # BodyElaborator.expr

    def typed(self, v: Value, dtype: str | None, what: str = "value") -> WireVal:
        raise NotImplementedError  # BodyElaborator.typed

    def _init_levels(self) -> None:
        self.levels: list[Level] = [ROOT]
        self.env_level: dict[str, int] = {}

    @property
    def level(self) -> Level:
        return self.levels[-1]

    # ------------------------------------------------------------ lifting captured wires

    def lifted(self, name: str, v: Value, span: Span | None) -> Value:
        """A value bound in an enclosing scope, as a function of the current lambda's variables."""
        bound = self.env_level.get(name, 0)
        if bound == len(self.levels) - 1 or not isinstance(v, WireVal):
            return v
        if bound == 0:
            # a function-typed parameter is used as a function (applied, integrated, ...)
            return v if isinstance(v.type, FunType) else self.lift_to(v, (), span, name)
        return self.lift_to(v, self.levels[bound].domain, span, name)

    def lift_to(self, v: WireVal, src: Domain, span: Span | None, what: str = "value") -> WireVal:
        dst = self.level.domain
        if src == dst:
            return v
        if dst[:len(src)] != src:
            raise TypeCheckError(f"'{what}' is a variable of an enclosing lambda; a lambda used as a function "
                                 "value (argument, compose, nabla) cannot capture it yet: write the expression "
                                 "inline", span)
        region = tuple(r for r in self.level.regions[len(src):])
        params = {"dom_from": src, "dom_to": dst, "region": region if all(region) else None}
        res = v.type.res if isinstance(v.type, FunType) else v.type
        assert not isinstance(res, TupleType)
        (w,) = self.b.add_shared(make_box("lift", params), [v.wire], (fun(dst, res),), span)
        return WireVal(w, fun(dst, res), span)

    def lift_plain_args(self, args: list[Value]) -> list[Value]:
        """Inside a lambda, a plain wire combined with lifted ones (an integral, `f(0.5)`) is lifted
        too; only literals (still pending here) stay plain constants."""
        if not self.level.domain or not any(isinstance(a, WireVal) and isinstance(a.type, FunType) for a in args):
            return args
        return [self.lift_to(a, (), a.span) if isinstance(a, WireVal) and isinstance(a.type, TensorType) else a
                for a in args]

    @contextmanager
    def scope_of(self, level: Level, names: tuple[str, ...], values: list[WireVal]) -> Iterator[None]:
        """Bind a lambda's parameters (shadowing outer names) while its body is elaborated."""
        saved = {n: (self.env[n], self.env_level.get(n, 0)) for n in names if n in self.env}
        self.levels.append(level)
        for n, v in zip(names, values):
            self.env[n] = v
            self.env_level[n] = len(self.levels) - 1
        try:
            yield
        finally:
            self.levels.pop()
            for n in names:
                del self.env[n]
                self.env_level.pop(n, None)
            for n, (old, lv) in saved.items():
                self.env[n] = old
                self.env_level[n] = lv

    # ------------------------------------------------------------ lambdas

    def lambda_body(self, e: ast.Lambda, level: Level, first: int) -> WireVal:
        """Elaborate `e`'s body with its parameters as the variables first.. of `level`."""
        names = e.params
        if len(set(names)) != len(names):
            raise TypeCheckError("a lambda names the same parameter twice", e.span)
        coords = []
        for j in range(len(names)):
            params = {"i": first + j, "dom": level.domain, "region": level.regions if all(level.regions) else None}
            t = fun(level.domain, level.domain[first + j])
            (w,) = self.b.add_shared(make_box("coord", params), (), (t,), e.span)
            coords.append(WireVal(w, t, e.span))
        with self.scope_of(level, names, coords):
            v = self.expr(e.body)
            if isinstance(v, TupleVal):
                raise TypeCheckError("a lambda returns one value", e.body.span)
            w = self.typed(v, "f64")
            if not isinstance(w.type, FunType):
                w = self.lift_to(w, (), e.body.span)
            elif domain(w.type) != level.domain:
                raise TypeCheckError(f"the lambda's body is a function {w.type}, not a value", e.body.span)
        return w

    def function_value(self, e: ast.Expr, args: Domain | None = None) -> WireVal:
        """`e` as a closed function (a lambda typed by `args`, a function-typed name, nabla/compose
        of functions, a call of a definition returning one)."""
        if isinstance(e, ast.Lambda):
            if args is None:
                raise TypeCheckError("cannot infer the type of this lambda's parameter(s): use it where a "
                                     "function type is known (integrate(..., over=...), an argument or return "
                                     "value declared as a function, compose with a typed function)", e.span)
            if len(e.params) != len(args):
                raise TypeCheckError(f"the lambda takes {len(e.params)} parameter(s), but a function of "
                                     f"{len(args)} argument(s) ({', '.join(map(str, args))}) is expected", e.span)
            return self.lambda_body(e, Level(tuple(args), (None,) * len(args)), 0)
        if isinstance(e, ast.Name) and self.env_level.get(e.id, 0) > 0:
            raise TypeCheckError(f"'{e.id}' is a variable of the lambda, not a function", e.span)
        if isinstance(e, ast.Call):
            self.check_callee_bound(e)
        if args is not None and isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and not e.kwargs \
                and e.func.id in ("nabla", "divergence", "compose") and e.func.id not in self.env:
            return self.typed_function_call(e, e.func.id, args)
        v = self.expr(e)
        if not isinstance(v, WireVal) or not isinstance(v.type, FunType):
            got = v.type if isinstance(v, WireVal) else "a number" if isinstance(v, Pending) else "a tuple"
            raise TypeCheckError(f"expected a function, got {got}", e.span)
        return v

    # ------------------------------------------------------------ calls

    def check_callee_bound(self, e: ast.Call) -> None:
        """A call of a name that a statement further down binds (a wire there) is no call of the box
        of that name: `ReadAhead`, so the body is elaborated again in dependency order."""
        if isinstance(e.func, ast.Name) and e.func.id in self.later and e.func.id not in self.env:
            raise ReadAhead(e.func.id)

    def typed_function_call(self, e: ast.Call, fname: str, args: Domain) -> WireVal:
        """nabla / divergence / compose where the resulting function's arguments are known (a declared
        return or parameter type): they keep the arguments, so a lambda operand is typed by them."""
        if fname == "compose" and len(e.args) == 2:
            g = self.function_value(e.args[1], args)
            assert isinstance(g.type, FunType)
            res = g.type.res
            f = self.function_value(e.args[0], None if isinstance(res, TupleType) else (res,))
            return self.compose(f, g, e.span)
        if fname != "compose" and len(e.args) == 1:
            return self._box(fname, [self.function_value(e.args[0], args)], {}, e.span)
        out = self.functional_call(e, fname)  # the arity error
        assert isinstance(out, WireVal)
        return out

    def functional_call(self, e: ast.Call, fname: str | None) -> Value | None:
        """The §7 forms of a call (None when `e` is an ordinary call)."""
        if fname == "integrate":
            return self.integrate_call(e)
        if fname in ("nabla", "divergence", "compose"):
            want = 1 if fname != "compose" else 2
            if len(e.args) != want or e.kwargs:
                raise TypeCheckError(f"{fname} takes {want} function argument(s)", e.span)
            if fname != "compose":  # nabla(f); divergence(f), the (minus) adjoint of nabla
                f = self.function_value(e.args[0])
                return self._box(fname, [f], {}, e.span)
            g = self.function_value(e.args[1])
            assert isinstance(g.type, FunType)
            res = g.type.res
            f = self.function_value(e.args[0], None if isinstance(res, TupleType) else (res,))
            return self.compose(f, g, e.span)
        callee_is_function = not isinstance(e.func, (ast.Name, ast.Attr)) or (
            isinstance(e.func, ast.Name) and isinstance(self.env.get(e.func.id), WireVal)
            and isinstance(self.env[e.func.id].type, FunType) and self.env_level.get(e.func.id, 0) == 0)  # type: ignore[union-attr]
        if isinstance(e.func, ast.Name) and self.env_level.get(e.func.id, 0) > 0:
            raise TypeCheckError(f"'{e.func.id}' is a variable of the lambda, not a function", e.func.span)
        return self.apply_call(e) if callee_is_function else None

    def apply_call(self, e: ast.Call) -> Value:
        if e.kwargs:
            raise TypeCheckError("a function value takes no keyword arguments", e.kwargs[0].span)
        if _needs_types(e.func):  # (x => ...)(p), compose(f, y => ...)(p): typed by the points
            points = [self.typed(self.expr(a), "f64", "argument") for a in e.args]
            kinds = tuple(p.type.res if isinstance(p.type, FunType) else p.type for p in points)
            f = self.function_value(e.func, None if any(isinstance(k, TupleType) for k in kinds) else kinds)  # type: ignore[arg-type]
        else:
            f = self.function_value(e.func)
            points = []
        assert isinstance(f.type, FunType)
        args = domain(f.type)
        if len(e.args) != len(args):
            raise TypeCheckError(f"the function {f.type} takes {len(args)} argument(s), got {len(e.args)}", e.span)
        if not points:
            for a, t in zip(e.args, args):
                v = self.expr(a)
                points.append(self.typed(v, t.dtype if isinstance(t, TensorType) else None, "argument"))
        return self._box("apply", [f, *points], {}, e.span)

    def compose(self, f: WireVal, g: WireVal, span: Span | None) -> WireVal:
        """`compose(f, g)` = x => f(g(x)) over g's arguments."""
        assert isinstance(g.type, FunType)
        dom = domain(g.type)
        params = {"dom": dom, "region": None}
        coords = []
        for i, t in enumerate(dom):
            (w,) = self.b.add_shared(make_box("coord", {**params, "i": i}), (), (fun(dom, t),), span)
            coords.append(WireVal(w, fun(dom, t), span))
        inner = self._box("apply", [g, *coords], {}, span)
        return self._box("apply", [f, inner], {}, span)

    def _box(self, name: str, args: list[WireVal], params: dict[str, Any], span: Span | None) -> WireVal:
        from semantics.primitives import PRIMITIVES

        try:
            outs = PRIMITIVES[name].infer(tuple(a.type for a in args), params)
        except DslError as err:
            raise err.with_span(span) from None
        (w,) = self.b.add_shared(make_box(name, params), [a.wire for a in args], outs, span)
        return WireVal(w, outs[0], span)

    def pointwise_call(self, name: str, diagram: Any, names: Sequence[str], wires: list[WireVal],
                       e: ast.Call) -> Value:
        """A def on arrays called with function-valued arguments (`x => sq(rho(x))`): its body, inlined,
        acting pointwise like the rows it is made of."""
        from semantics.primitives import PRIMITIVES
        from semantics.replay import expand_defs, substitute_box

        flat = expand_defs(diagram)
        binding: dict[str, Dim] = {}
        for w, t, pname, a in zip(wires, flat.dom, names, e.args):
            value = w.type.res if isinstance(w.type, FunType) else w.type
            if isinstance(value, TupleType) or not unify(t, value, binding):
                raise TypeCheckError(f"type mismatch in argument '{pname}' of {name}: expected {t} (pointwise), got "
                                     f"{w.type}", a.span)
        args = self.lift_plain_args(list(wires))
        env = {i: a.wire for i, a in zip(flat.inputs, args) if isinstance(a, WireVal)}
        for node in flat.nodes:
            if node.box.kind != "prim":
                raise TypeCheckError(f"'{name}' cannot act pointwise on functions: it calls '{node.box.name}', "
                                     "which is not a primitive", e.span)
            box = substitute_box(node.box, binding)
            ins = [env[w] for w in node.inputs]
            try:
                outs_t = PRIMITIVES[box.name].infer([self.b.types[i] for i in ins], box.param_dict)
            except DslError as err:
                raise err.with_span(e.span) from None
            add = self.b.add_shared if any(isinstance(t, FunType) for t in outs_t) else self.b.add
            env.update(zip(node.outputs, add(box, ins, outs_t, e.span)))
        vals = [WireVal(env[w], self.b.types[env[w]], e.span) for w in flat.outputs]
        return vals[0] if len(vals) == 1 else TupleVal(tuple(vals), e.span)

    # ------------------------------------------------------------ integrate

    def integrate_call(self, e: ast.Call) -> Value:
        kw = {k.name: k for k in e.kwargs}
        unknown = [k for k in kw if k not in ("over", "n")]
        if unknown:
            raise TypeCheckError(f"integrate has no parameter '{unknown[0]}' (it takes g, over=, n=)", kw[unknown[0]].span)
        if len(e.args) != 1:
            raise TypeCheckError(f"integrate takes one integrand (a function), got {len(e.args)} argument(s)", e.span)
        if "over" not in kw:
            raise TypeCheckError("integrate needs over=(a, b) or over=((a0, b0), (a1, b1)[, (a2, b2)])", e.span)
        bounds = self._bounds(kw["over"])
        ns = self._quadrature_orders(kw.get("n"), len(bounds))
        region = tuple((lo, hi, n) for (lo, hi), n in zip(bounds, ns))
        g = e.args[0]
        if isinstance(g, ast.Lambda):
            k = len(bounds)
            if len(g.params) == 1:
                vars_: Domain = (TensorType("f64", (Dim.const(k),)) if k > 1 else TensorType("f64"),)
                regions: tuple[Region | None, ...] = (region,)
            elif len(g.params) == k:
                vars_ = (TensorType("f64"),) * k
                regions = tuple((r,) for r in region)
            else:
                raise TypeCheckError(f"the integrand takes {len(g.params)} parameter(s) but over= has {k} "
                                     f"dimension(s): write one parameter (a point) or {k}", g.span)
            outer = self.level
            level = Level(outer.domain + vars_, outer.regions + regions)
            body = self.lambda_body(g, level, len(outer.domain))
            return self._box("integrate", [body], {"region": region, "vars": len(vars_)}, e.span)
        k = len(bounds)
        f = self.function_value(g, (TensorType("f64", (Dim.const(k),)) if k > 1 else TensorType("f64"),))
        assert isinstance(f.type, FunType)
        return self._box("integrate", [f], {"region": region, "vars": len(domain(f.type))}, e.span)

    def _quadrature_orders(self, k: ast.Keyword | None, dims: int) -> tuple[int, ...]:
        """The Gauss–Legendre order of each dimension of the box: `n=32` for all of them, or one per
        dimension, `n=(32, 8)` (a direction the integrand varies little in needs fewer nodes)."""
        if k is None:
            return (MAX_POINTS,) * dims
        v = convert_static("any" if isinstance(k.value, ast.TupleExpr) else "int", k.value, self.statics,
                           "'n' of integrate")
        ns = v if isinstance(v, tuple) else (v,) * dims
        if len(ns) != dims:
            raise TypeCheckError(f"'n' of integrate gives {len(ns)} order(s) but over= has {dims} dimension(s): "
                                 f"write one n for all or one per dimension", k.span)
        for n in ns:
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
                raise TypeCheckError(f"'n' of integrate must be a positive integer up to {MAX_N} (or one per "
                                     f"dimension), got {_show(v)}", k.span)
        return ns

    def _bounds(self, k: ast.Keyword) -> tuple[tuple[float, float], ...]:
        v = convert_static("any", k.value, self.statics, "'over' of integrate")
        usage = "over= must be (a, b) or a box ((a0, b0), (a1, b1)[, (a2, b2)]) of numbers"

        def number(x: Any) -> float:
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise TypeCheckError(f"{usage}, got {_show(v)}", k.value.span)
            return float(x)

        if not isinstance(v, tuple) or not v:
            raise TypeCheckError(f"{usage}, got {_show(v)}", k.value.span)
        pairs = v if isinstance(v[0], tuple) else (v,)
        if len(pairs) > 3 or any(not isinstance(p, tuple) or len(p) != 2 for p in pairs):
            raise TypeCheckError(f"{usage}, got {_show(v)}", k.value.span)
        out = tuple((number(a), number(b)) for a, b in pairs)
        for a, b in out:
            if not (abs(a) < float("inf") and abs(b) < float("inf")):
                raise ShapeError(f"integrate over ({a}, {b}): Gauss–Legendre needs finite bounds", k.value.span)
        return out


def _needs_types(e: ast.Expr) -> bool:
    """A function expression whose argument types come from where it is used (a lambda inside)."""
    if isinstance(e, ast.Lambda):
        return True
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in ("compose", "nabla", "divergence") \
        and any(_needs_types(a) for a in e.args)


def _show(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    return str(v)


def flat_domain(t: FunType) -> Domain:
    return flatten(t.arg)


__all__ = ["LambdaElaboration", "Level", "StaticVal"]
