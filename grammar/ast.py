"""The abstract syntax tree: frozen dataclasses, every node carrying the span of its source text.

The parser (`grammar.parse`) produces a `Module`; `semantics.elaborate` consumes it. Nodes are
plain data: no behaviour beyond construction, so every later pass is a pure function over them.

Every class is a slots class (`@dataclass(frozen=True, slots=True)`): an instance with a `__dict__`
is two objects for Python's cyclic garbage collector to track and scan (the instance and its dict),
and a parse makes one node per construct (≈ 17 for a one-line def): without the dicts, 20,000
one-line defs leave 0.82 M tracked objects instead of 1.12 M, and the first collection after the
parse scans that many fewer. Copying, pickling, `dataclasses.replace` and equality work as before
(tests/test_frozen.py).

>>> Num(2.5, False, None).value
2.5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from grammar.errors import Span

# ---------------------------------------------------------------- types (objects of the category)


@dataclass(frozen=True, slots=True)
class DimRef:
    """A dimension in a type: an integer literal (`3`) or a declared dim name (`n`).

    Arithmetic on dims (`f64[n - 2]`) has the source text as `value` (`"n - 2"`) and the parsed
    arithmetic (BinOp/Name/Num nodes) as `expr`; `expr` is None for a plain int or name."""

    value: Union[int, str]
    span: Span | None
    expr: Expr | None = None


@dataclass(frozen=True, slots=True)
class TensorTypeExpr:
    """`f64`, `f32[n, 3]`: a dtype name and its dims (empty for a scalar)."""

    dtype: str
    dims: tuple[DimRef, ...]
    span: Span | None


@dataclass(frozen=True, slots=True)
class NamedTypeExpr:
    """A type alias name (`Vec3`) or the unit `I`."""

    name: str
    span: Span | None


@dataclass(frozen=True, slots=True)
class FunTypeExpr:
    """`A -> B`: a function-typed wire (right associative)."""

    arg: TypeExpr
    res: TypeExpr
    span: Span | None


@dataclass(frozen=True, slots=True)
class TupleTypeExpr:
    """`(A, B)` or `A ⊗ B`: the monoidal product. `()` is the unit."""

    items: tuple[TypeExpr, ...]
    span: Span | None


TypeExpr = Union[TensorTypeExpr, NamedTypeExpr, FunTypeExpr, TupleTypeExpr]

# ---------------------------------------------------------------- expressions (value level)


@dataclass(frozen=True, slots=True)
class Num:
    """A number literal; `is_int` when written without `.`/exponent (`3` vs `3.0`, `1e-3`)."""

    value: float | int
    is_int: bool
    span: Span | None


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span | None


@dataclass(frozen=True, slots=True)
class Str:
    """A string literal, e.g. an einsum subscript `"ij,jk->ik"`."""

    value: str
    span: Span | None


@dataclass(frozen=True, slots=True)
class Name:
    """A name: a wire, a dim, a constant (`pi`, `inf`), a primitive, def or dtype (`f64` in `cast`)."""

    id: str
    span: Span | None


@dataclass(frozen=True, slots=True)
class Attr:
    """`o.name` (a name from an imported module) or `x.T`."""

    value: Expr
    attr: str
    span: Span | None


@dataclass(frozen=True, slots=True)
class BinOp:
    """`a op b` with op one of `+ - * / @ ^ == != < <= > >=` (`**` is parsed as `^`)."""

    op: str
    left: Expr
    right: Expr
    span: Span | None


@dataclass(frozen=True, slots=True)
class UnaryOp:
    """`-a` (op `-`) or `+a` (op `+`)."""

    op: str
    operand: Expr
    span: Span | None


@dataclass(frozen=True, slots=True)
class Cond:
    """`c ? a : b`."""

    cond: Expr
    then: Expr
    other: Expr
    span: Span | None


@dataclass(frozen=True, slots=True)
class Keyword:
    """`key=value` in a call."""

    name: str
    value: Expr
    span: Span | None


@dataclass(frozen=True, slots=True)
class Call:
    """`f(a, b, key=value)`: f is a Name, an Attr (`o.f`) or any expression (a function-typed wire)."""

    func: Expr
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    span: Span | None


@dataclass(frozen=True, slots=True)
class Slice:
    """`lo:hi:step` inside `x[...]`; omitted parts are None."""

    lo: Expr | None
    hi: Expr | None
    step: Expr | None
    span: Span | None


@dataclass(frozen=True, slots=True)
class Index:
    """`x[i]`, `x[1:]`, `x[:, 0]`: items are expressions or Slices."""

    value: Expr
    items: tuple[Union[Expr, Slice], ...]
    span: Span | None


@dataclass(frozen=True, slots=True)
class TupleExpr:
    """`(a, b)`: also used for static tuple arguments such as `axis=(0, 1)` and `(n, m)` shapes."""

    items: tuple[Expr, ...]
    span: Span | None


@dataclass(frozen=True, slots=True)
class Lambda:
    """`x => body` or `(x, y) => body`; parameter types are inferred where the lambda is used."""

    params: tuple[str, ...]
    body: Expr
    span: Span | None


Expr = Union[Num, Bool, Str, Name, Attr, BinOp, UnaryOp, Cond, Call, Index, TupleExpr, Lambda]

# ---------------------------------------------------------------- point-free morphisms (§5)


@dataclass(frozen=True, slots=True)
class MCompose:
    """`first >> second` (`g ∘ f` / `g << f` is parsed as `MCompose(f, g)`)."""

    first: Morphism
    second: Morphism
    span: Span | None


@dataclass(frozen=True, slots=True)
class MTensor:
    """`left ⊗ right` / `left | right`."""

    left: Morphism
    right: Morphism
    span: Span | None


@dataclass(frozen=True, slots=True)
class MStructural:
    """`id(T)`, `copy(T)`, `discard(T)`, `swap(A, B)`."""

    kind: str
    types: tuple[TypeExpr, ...]
    span: Span | None


@dataclass(frozen=True, slots=True)
class MBox:
    """A named box (`sin`, `o.f`, a def or diagram), with static parameters: `sum[axis=0]`."""

    name: str
    params: tuple[Keyword, ...]
    span: Span | None


Morphism = Union[MCompose, MTensor, MStructural, MBox]

# ---------------------------------------------------------------- statements and declarations


@dataclass(frozen=True, slots=True)
class Param:
    """`name: T`; in a generic def the type may be omitted and a static keyword has a default."""

    name: str
    type: TypeExpr | None
    span: Span | None
    default: Expr | None = None


@dataclass(frozen=True, slots=True)
class Assign:
    """`a = expr` or `b, c = expr` (targets in order)."""

    targets: tuple[str, ...]
    value: Expr
    span: Span | None
    target_spans: tuple[Span | None, ...] = ()


@dataclass(frozen=True, slots=True)
class Return:
    """`return e` or `return e1, e2`."""

    values: tuple[Expr, ...]
    span: Span | None


@dataclass(frozen=True, slots=True)
class DimDecl:
    """`dim n, m, B`."""

    names: tuple[str, ...]
    span: Span | None
    name_spans: tuple[Span | None, ...] = ()


@dataclass(frozen=True, slots=True)
class TypeAlias:
    """`type Vec3 = f64[3]`."""

    name: str
    type: TypeExpr
    span: Span | None


@dataclass(frozen=True, slots=True)
class BoxDecl:
    """`box f : A -> B`: a generator (declared, not defined)."""

    name: str
    dom: TypeExpr
    cod: TypeExpr
    span: Span | None


@dataclass(frozen=True, slots=True)
class Def:
    """`def name(p: T, ...) -> R { stmts; return ... }` (`ret` None if omitted)."""

    name: str
    params: tuple[Param, ...]
    ret: TypeExpr | None
    body: tuple[Assign, ...]
    returns: Return
    span: Span | None
    name_span: Span | None = None


@dataclass(frozen=True, slots=True)
class DiagramDef:
    """`diagram name [: A -> B] = morphism`."""

    name: str
    dom: TypeExpr | None
    cod: TypeExpr | None
    body: Morphism
    span: Span | None
    name_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Derived:
    """`name = op(target, key=value, ...)`, op in grad/value_and_grad/vjp/jvp/hessian/jacobian/simplify.

    `target` is a Name, an Attr (`o.f`) or a nested derived Call (`grad(grad(f))`)."""

    name: str
    op: str
    target: Expr
    kwargs: tuple[Keyword, ...]
    span: Span | None
    name_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Import:
    """`import "path.dsl"` or `import "path.dsl" as o`."""

    path: str
    alias: str | None
    span: Span | None


Decl = Union[DimDecl, TypeAlias, BoxDecl, Def, DiagramDef, Derived, Import]


@dataclass(frozen=True, slots=True)
class Module:
    filename: str
    decls: tuple[Decl, ...]
    source: str = ""

