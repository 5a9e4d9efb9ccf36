"""Instantiating the primitive table's derivative templates (DSL expressions) into diagram nodes.

A JVP template such as `"dx * (1 - out * out)"` is parsed once, then elaborated with the same
machinery as user code (literal dtypes, broadcasting, shape rules), its names bound to wires of
the diagram being built. Tangents that are structurally zero are `ZERO`: an operation linear in a
zero tangent is zero, `a + 0` is `a`, so zero tangents never produce nodes.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from grammar import ast
from grammar.errors import Span
from semantics.diagram import Box, Builder, Diagram, Node, make_box
from semantics.errors import DerivativeError
from semantics.expressions import BodyElaborator
from semantics.primitives import PRIMITIVES, Primitive
from semantics.program import Definition, GenericDef
from semantics.types import Dim, FunType, TensorType, WireType, flatten
from semantics.values import Pending, StaticVal, TupleVal, Value, WireVal


class ZeroVal:
    """A structurally zero tangent or cotangent."""

    span: Span | None = None

    def __repr__(self) -> str:
        return "ZERO"


ZERO = ZeroVal()


@cache
def parse_template(text: str) -> ast.Expr:
    from grammar import parse

    module = parse(f"def template() -> f64 {{\n    return {text}\n}}", "<template>")
    decl = module.decls[0]
    assert isinstance(decl, ast.Def)
    return decl.returns.values[0]


class _NoDefinitions:
    def __init__(self, dims: frozenset[str]):
        self.dims = dims

    def resolve(self, name: str, span: Span | None) -> Definition | None:
        return None

    def generic_instance(self, d: GenericDef, args: list[Value], kwargs: dict[str, Any], span: Span | None,
                         into: Builder) -> list[Value]:
        raise AssertionError("templates call primitives only")


def _is_zero(v: Any) -> bool:
    return isinstance(v, ZeroVal) or (isinstance(v, Pending) and v.number == 0)


class TemplateElaborator(BodyElaborator):
    """Elaborates templates, propagating structural zeros instead of building nodes for them."""

    def __init__(self, builder: Builder, statics: Mapping[str, Any], dims: frozenset[str] = frozenset()):
        super().__init__(_NoDefinitions(dims), builder, statics)

    def call_primitive(self, prim: Primitive, args: Sequence[Value], params: dict[str, Any], span: Span | None) -> Value:
        if not any(isinstance(a, ZeroVal) for a in args):
            return super().call_primitive(prim, args, params, span)
        name = prim.name
        if name == "add":
            live = [a for a in args if not isinstance(a, ZeroVal)]
            return live[0] if live else ZERO  # type: ignore[return-value]
        if name == "sub":  # one of the two is zero: a - 0 = a, 0 - b = -b
            if isinstance(args[1], ZeroVal):
                return args[0]
            return super().call_primitive(PRIMITIVES["neg"], [args[1]], {}, span)
        if name == "where":
            if _is_zero(args[1]) and _is_zero(args[2]):
                return ZERO  # type: ignore[return-value]
            fixed = [self.literal(0, span, True) if isinstance(a, ZeroVal) else a for a in args]
            return super().call_primitive(prim, fixed, params, span)
        return ZERO  # type: ignore[return-value]  # every other template position is linear in the tangent

    def call(self, e: ast.Call) -> Value:
        """Templates call rows of the table by name: `integrate(ct, region=region, vars=vars)` is the
        `integrate` box, not the user-facing special form that elaborates a lambda."""
        if isinstance(e.func, ast.Name) and e.func.id in PRIMITIVES and e.func.id not in self.env:
            prim = PRIMITIVES[e.func.id]
            args, kwargs = self.bind_primitive_args(prim, e)
            return self.call_primitive(prim, args, kwargs, e.span)
        return super().call(e)


def instantiate(template: str, b: Builder, env: Mapping[str, Any], statics: Mapping[str, Any],
                out_type: WireType, span: Span | None = None) -> WireVal | ZeroVal:
    """Write the nodes of `template` into `b`; names in `env` are WireVals, TupleVals or ZERO.

    The result has exactly `out_type`: a tangent that came out broadcast-smaller is broadcast up,
    one that came out larger (a cotangent of a broadcast argument) is summed down.

    The nodes depend only on the template, the types (and zero pattern) of what `env` binds, the
    statics and `out_type` — not on which wires `env` names — so they are elaborated once per such
    key as a `Fragment` and replayed for every node of a diagram that repeats it (a 600-layer chain
    transposes the same `mul`, `add` and `sin` 600 times each)."""
    wires: list[int] = []
    frag = fragment(template, env, statics, out_type, wires, span)
    return frag.replay(b, wires, out_type, span)


@dataclass(frozen=True)
class Fragment:
    """A template elaborated over stand-in input wires: `small`'s inputs are the distinct wires of the
    env (in order), its one output the result (none: the result is ZERO). `own_span[i]` is the span
    node i keeps (`CALLER`: it takes the span of the node being differentiated)."""

    small: Diagram
    own_span: tuple[Any, ...]

    @cached_property
    def program(self) -> tuple[tuple[tuple[Box, tuple[int, ...], tuple[WireType, ...], Any], ...], int]:
        """The nodes as (box, inputs, output types, own span) over local numbers (the stand-ins are
        0..k-1 and each node's outputs follow, as `replay` appends them), and the result's local
        number (-1: ZERO); computed once per fragment."""
        d = self.small
        local = {w: i for i, w in enumerate(d.inputs)}
        steps = []
        for node, own in zip(d.nodes, self.own_span):
            steps.append((node.box, tuple([local[w] for w in node.inputs]), tuple([d.types[w] for w in node.outputs]),
                          own))
            for w in node.outputs:
                local[w] = len(local)
        return tuple(steps), local[d.outputs[0]] if d.outputs else -1

    def replay(self, b: Builder, wires: Sequence[int], out_type: WireType, span: Span | None) -> WireVal | ZeroVal:
        r = self.replay_wire(b, wires, span)
        return ZERO if r < 0 else WireVal(r, out_type, span)

    def replay_wire(self, b: Builder, wires: Sequence[int], span: Span | None) -> int:
        """`replay`'s result wire (of the type the fragment was elaborated to), -1 for ZERO."""
        steps, result = self.program
        vals = list(wires)
        for box, ins, out_types, own in steps:
            vals.extend(b.add(box, [vals[i] for i in ins], out_types, span if own is CALLER else own))
        return vals[result] if result >= 0 else -1


CALLER = object()  # a Fragment node that takes the caller's span
_FRAGMENTS: dict[Hashable, Fragment] = {}
_MAX_FRAGMENTS = 4096  # distinct (template, types) keys; a bounded memo, emptied when full


def fragment(template: str, env: Mapping[str, Any], statics: Mapping[str, Any], out_type: WireType,
             wires: list[int], span: Span | None) -> Fragment:
    """The Fragment of this instantiation (memoised by its key), filling `wires` with the actual wires
    that stand for its inputs."""
    distinct: dict[int, int] = {}  # actual wire -> input position
    sig = tuple((k, _signature(v, distinct)) for k, v in env.items())
    wires.extend(distinct)
    try:
        key: Hashable | None = (template, sig, tuple(sorted(statics.items())), out_type)
        hash(key)
    except TypeError:  # an unhashable static: elaborate every time
        key = None
    frag = _FRAGMENTS.get(key) if key is not None else None
    if frag is None:
        frag = _elaborate_fragment(template, env, statics, out_type, distinct, span)
        if key is not None:
            if len(_FRAGMENTS) >= _MAX_FRAGMENTS:
                _FRAGMENTS.clear()
            _FRAGMENTS[key] = frag
    return frag


def _signature(v: Any, distinct: dict[int, int]) -> Hashable:
    """What of an env value the nodes depend on: a wire's type and which input it is (two names may
    bind one wire), a tuple's items, ZERO; anything else is a value the key must hold itself."""
    if isinstance(v, WireVal):
        return ("w", v.type, distinct.setdefault(v.wire, len(distinct)))
    if isinstance(v, TupleVal):
        return ("t", tuple(_signature(i, distinct) for i in v.items))
    if isinstance(v, ZeroVal):
        return "0"
    return ("v", id(v))  # never equal across calls: such an env is elaborated afresh


def _elaborate_fragment(template: str, env: Mapping[str, Any], statics: Mapping[str, Any], out_type: WireType,
                        distinct: Mapping[int, int], span: Span | None) -> Fragment:
    """Elaborate the template over stand-ins for the env's wires. Nodes written with the caller's
    `span` (the template's own literals keep theirs, which are never the caller's) replay with the
    span of each later caller."""
    small = Builder()
    types: dict[int, WireType] = {}
    _types_of(env.values(), types)
    stand_in = {w: small.input(types[w]) for w in distinct}

    def local(v: Any) -> Any:
        if isinstance(v, WireVal):
            return WireVal(stand_in[v.wire], v.type, v.span)
        if isinstance(v, TupleVal):
            return TupleVal(tuple(local(i) for i in v.items), v.span)
        return v

    dims = frozenset(a for v in statics.values() if isinstance(v, tuple) for d in v if isinstance(d, Dim) for a in d.atoms)
    el = TemplateElaborator(small, statics, dims)
    for k, v in env.items():
        el.env[k] = local(v)
    value = el.expr(parse_template(template))
    # the nodes a rule writes belong to the node being differentiated: give them its source line
    small.nodes[:] = [Node(n.box, n.inputs, n.outputs, span) for n in small.nodes]
    out: list[int] = []
    if not isinstance(value, ZeroVal):
        if isinstance(value, StaticVal):
            value = el.literal(value.value, span)
        if isinstance(value, TupleVal):
            raise DerivativeError(f"template '{template}' produced a tuple")
        out.append(fit(small, el.typed(value, value_type(out_type).dtype), out_type, span).wire)
    d = small.build(out)
    return Fragment(d, tuple(CALLER if n.span is span else n.span for n in d.nodes))


def _types_of(values: Iterable[Any], out: dict[int, WireType]) -> None:
    for v in values:
        if isinstance(v, WireVal):
            out[v.wire] = v.type
        elif isinstance(v, TupleVal):
            _types_of(v.items, out)


def bind_args(prim: Primitive, types: Sequence[WireType], primals: Sequence[Any],
              tangents: Sequence[Any] | None = None) -> tuple[dict[str, Any], dict[str, WireType]]:
    """The names a row's template reads, bound to the values of one node's wire arguments — the one
    place that knows the naming convention (used by the JVP rule compiler and the transpose).

    Each wire argument is bound by its name in the row (`x`, `y`) and its tangent, when `tangents`
    are given, as `dx`, `dy`; a variadic `*xs` binds `xs` (`dxs`) to the tuple and `x0, x1, ...`
    (`dx0, ...`) to the items. An argument whose primal is None (the transpose's linear arguments)
    is left unbound. Returns the bindings and the argument types by name (see `template_statics`).

    >>> from semantics.types import scalar
    >>> env, types = bind_args(PRIMITIVES["mul"], [scalar("f64")] * 2, ["X", None], ["DX", ZERO])
    >>> sorted(env.items(), key=str), sorted(types)
    ([('dx', 'DX'), ('dy', ZERO), ('x', 'X')], ['x', 'y'])
    """
    env: dict[str, Any] = {}
    names: dict[str, WireType] = {}
    items = [a for a in prim.wire_args if not a.startswith("*")]
    if prim.variadic:  # a trailing `*name` takes the remaining wires: `name` is the tuple, items numbered
        name = prim.wire_args[-1].lstrip("*")
        k0 = len(items)
        stem = "x" if k0 == 0 else name  # concat(*xs): x0, x1, ...; apply(f, *p): p0, p1, ...
        items += [f"{stem}{k}" for k in range(len(types) - k0)]
        env[name] = TupleVal(tuple(primals[k0:]))
        if tangents is not None:
            env["d" + name] = TupleVal(tuple(tangents[k0:]))
    for k, a in enumerate(items):
        names[a] = types[k]
        if primals[k] is not None:
            env[a] = primals[k]
        if tangents is not None:
            env["d" + a] = tangents[k]
    return env, names


def pointwise_view(prim: Primitive, types: Mapping[str, WireType]) -> dict[str, WireType]:
    """The argument types a row's templates see: an array row on function-typed wires acts pointwise,
    so its templates (and the shapes they read) see the functions' values; the functional rows see
    the functions themselves."""
    if prim.family == "functional":
        return dict(types)
    return {k: (t.res if isinstance(t, FunType) and isinstance(t.res, TensorType) else t) for k, t in types.items()}


def template_statics(params: Mapping[str, Any], types: Mapping[str, WireType]) -> dict[str, Any]:
    """What a template may use besides wires: the box's static parameters and, for each argument
    `a` (and `out`), `shape_a`, `rank_a` and `count_a` (its number of elements, a dim)."""
    out = dict(params)
    for name, t in types.items():
        # `dom_a`: the variables a function-typed wire depends on (() for a plain wire)
        out[f"dom_{name}"] = flatten(t.arg) if isinstance(t, FunType) else ()
        if isinstance(t, TensorType):
            out[f"shape_{name}"] = t.shape
            out[f"rank_{name}"] = t.rank
            out[f"count_{name}"] = _count(t)
    return out


def _count(t: TensorType) -> Dim:
    """The number of elements of t as a dim (the product of its shape), once per type: a polynomial
    product per argument of every node transposed was a tenth of the transpose."""
    count = _COUNTS.get(t)
    if count is None:
        count = Dim.const(1)
        for d in t.shape:
            count = count * d
        if len(_COUNTS) < 4096:
            _COUNTS[t] = count
    return count


_COUNTS: dict[TensorType, Dim] = {}


def value_type(t: WireType) -> TensorType:
    """The tensor type of a wire's values: itself, or a function's (pointwise) value type."""
    if isinstance(t, FunType):
        (r,) = flatten(t.res)
        assert isinstance(r, TensorType)
        return r
    return t


def fit(b: Builder, w: WireVal, want: WireType, span: Span | None) -> WireVal:
    """Broadcast or sum `w` so it has type `want` (the shape of a tangent or a cotangent). On
    functions this acts pointwise on the values; a tensor where a function is wanted becomes the
    constant function."""
    t = w.type
    if t is want or t == want:
        return w
    if isinstance(want, FunType):
        from rewrite.functional import constant_function

        if isinstance(t, FunType):
            return _fit_values(b, w, want, span)
        v = fit(b, w, value_type(want), span)
        return WireVal(constant_function(b, v.wire, want, span), want, span)
    assert isinstance(t, TensorType), f"a function cotangent {t} where a tensor {want} is wanted"
    assert isinstance(want, TensorType)
    if t.dtype != want.dtype:
        (c,) = b.add(make_box("cast", {"dtype": want.dtype}), [w.wire], [t.with_dtype(want.dtype)], span)
        return fit(b, WireVal(c, t.with_dtype(want.dtype), span), want, span)
    name = "sum_to" if len(t.shape) > len(want.shape) or _sums(t, want) else "broadcast_to"
    (o,) = b.add(make_box(name, {"shape": want.shape}), [w.wire], [want], span)
    return WireVal(o, want, span)


def _fit_values(b: Builder, w: WireVal, want: FunType, span: Span | None) -> WireVal:
    """`fit` on a function's values: cast, sum or broadcast pointwise (the rows act on FunType
    wires pointwise, keeping the domain)."""
    t, wt = value_type(w.type), value_type(want)
    if t.dtype != wt.dtype:
        t = t.with_dtype(wt.dtype)
        (c,) = b.add(make_box("cast", {"dtype": wt.dtype}), [w.wire], [FunType(want.arg, t)], span)
        w = WireVal(c, FunType(want.arg, t), span)
    if t == wt:
        return w
    name = "sum_to" if len(t.shape) > len(wt.shape) or _sums(t, wt) else "broadcast_to"
    (o,) = b.add(make_box(name, {"shape": wt.shape}), [w.wire], [want], span)
    return WireVal(o, want, span)


def _sums(t: TensorType, want: TensorType) -> bool:
    one = Dim.const(1)
    return any(a != b and b == one for a, b in zip(reversed(t.shape), reversed(want.shape)))


def zeros(b: Builder, t: WireType, span: Span | None = None) -> WireVal:
    """An explicit zero of type t (where a structural zero must become a real array; for a
    function type, the zero function)."""
    if isinstance(t, FunType):
        return fit(b, zeros(b, value_type(t), span), t, span)
    (z,) = b.add(make_box("const", {"value": 0 if t.dtype not in ("f32", "f64") else 0.0, "dtype": t.dtype}), (),
                 (TensorType(t.dtype),), span)
    if not t.shape:
        return WireVal(z, t, span)
    (o,) = b.add(make_box("broadcast_to", {"shape": t.shape}), [z], [t], span)
    return WireVal(o, t, span)
