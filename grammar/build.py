"""AST node constructors shared by both parsers, with the checks the grammar cannot express.

`dsl.lark` accepts some text the language does not (a top-level `x = 3`, a def without `return`,
`sum(x)` as a diagram box, `f64[2.5]`, ...). Each such rule is checked here, once, and raises a
`ParseError` that says what is allowed instead. The direct parser (`grammar.direct`) and the Lark
path (`grammar.transformer.AstBuilder`) both build their nodes through these functions; they
differ only in where the spans come from (tokens vs. Lark's `meta`).

>>> make_num("2.5", None)
Num(value=2.5, is_int=False, span=None)
>>> make_named_type("f64", (), None).dtype
'f64'
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from grammar import ast
from grammar.errors import ParseError, Span
from grammar.frozen import constructor

DTYPES = ("f32", "f64", "i32", "i64", "bool")
DERIVED_OPS = ("grad", "value_and_grad", "vjp", "jvp", "hessian", "jacobian", "simplify")
STRUCTURAL_ARITY = {"id": 1, "copy": 1, "discard": 1, "swap": 2}
# Unicode spellings that are plain names (§1) and operators with an ASCII canonical form.
NAME_ALIASES = {"∇": "nabla", "∫": "integrate"}
OP_ALIASES = {"**": "^", "≤": "<=", "≥": ">=", "≠": "!="}


def name_of(text: str) -> str:
    """A NAME token's text, with `∇`/`∫` spelled `nabla`/`integrate`."""
    return NAME_ALIASES.get(text, text)


def op_of(text: str) -> str:
    """An operator token's canonical spelling (`**` is `^`, `≤` is `<=`, ...)."""
    return OP_ALIASES.get(text, text)


def unescape(literal: str) -> str:
    """The value of a string literal (quotes removed; `\\"`, `\\\\`, `\\n`, `\\t` decoded)."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), literal[1:-1])


def _is_derived_call(e: ast.Expr) -> bool:
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in DERIVED_OPS


# The nodes made here, built by `grammar.frozen.constructor` (one per construct parsed: see there).
_Num = constructor(ast.Num)
_Def = constructor(ast.Def)
_Call = constructor(ast.Call)
_MCompose = constructor(ast.MCompose)
_TensorType = constructor(ast.TensorTypeExpr)
_NamedType = constructor(ast.NamedTypeExpr)
_DimRef = constructor(ast.DimRef)
_BoxDecl = constructor(ast.BoxDecl)
_DiagramDef = constructor(ast.DiagramDef)
_Derived = constructor(ast.Derived)
_Lambda = constructor(ast.Lambda)
_MStructural = constructor(ast.MStructural)

# ------------------------------------------------------------------ declarations


def make_box_decl(name: str, sig: ast.TypeExpr, span: Span | None) -> ast.BoxDecl:
    if not isinstance(sig, ast.FunTypeExpr):
        raise ParseError(f"box '{name}' needs a signature of the form `A -> B`", sig.span,
                         hint=f"e.g. box {name} : f64 ⊗ f64 -> f64")
    return _BoxDecl(name, sig.arg, sig.res, span)


def make_diagram_decl(name: str, sig: ast.TypeExpr | None, body: ast.Morphism, span: Span | None,
                      name_span: Span | None) -> ast.DiagramDef:
    dom = cod = None
    if sig is not None:
        if not isinstance(sig, ast.FunTypeExpr):
            raise ParseError(f"the signature of diagram '{name}' must have the form `A -> B`", sig.span)
        dom, cod = sig.arg, sig.res
    return _DiagramDef(name, dom, cod, body, span, name_span)


def make_top_assign(name: str, value: ast.Expr, span: Span | None, name_span: Span | None) -> ast.Derived:
    """`name = op(target, key=value...)` at top level: only derived definitions are allowed."""
    if not _is_derived_call(value):
        ops = ", ".join(DERIVED_OPS)
        raise ParseError(f"only derived definitions can be assigned at top level ({ops}): "
                         f"'{name} = ...' is not one", span,
                         hint=f"write `{name} = grad(f)`, or put the computation in a def")
    assert isinstance(value, ast.Call)
    op, target, kwargs = _derived_parts(value)
    return _Derived(name, op, target, kwargs, span, name_span)


def _derived_parts(call: ast.Call) -> tuple[str, ast.Expr, tuple[ast.Keyword, ...]]:
    """Check `op(target, key=value...)` (target: f, o.f or a nested derived call) and split it."""
    assert isinstance(call.func, ast.Name)
    op = call.func.id
    if len(call.args) != 1:
        raise ParseError(f"{op} takes one definition and keyword options (e.g. {op}(f, wrt=x)), "
                         f"got {len(call.args)} positional arguments", call.span)
    target = call.args[0]
    if _is_derived_call(target):
        assert isinstance(target, ast.Call)
        _derived_parts(target)  # validate the nested one the same way, keep it as a Call
    elif not isinstance(target, (ast.Name, ast.Attr)):
        raise ParseError(f"the argument of {op} must name a definition (f, o.f) or be a derived "
                         f"definition such as grad(f)", target.span)
    return op, target, call.kwargs


def top_return_error(span: Span | None) -> ParseError:
    return ParseError("'return' outside of a def", span, hint="return may only end the body of a def { ... }")


def make_def(name: str, params: tuple[ast.Param, ...], ret: ast.TypeExpr | None, stmts: Sequence[Any],
             span: Span | None, name_span: Span | None) -> ast.Def:
    """A def; its body must be assignments then exactly one `return`, last."""
    body = tuple(stmts[:-1])
    if stmts and type(stmts[-1]) is ast.Return and (not body or ast.Return not in map(type, body)):  # (valid, fast)
        return _Def(name, params, ret, body, stmts[-1], span, name_span)
    returns = [i for i, s in enumerate(stmts) if isinstance(s, ast.Return)]
    if not returns:
        raise ParseError(f"def '{name}' has no return statement", span, hint="end the body with `return expr`")
    if returns[0] != len(stmts) - 1:
        after = stmts[returns[0] + 1]
        what = "second 'return'" if isinstance(after, ast.Return) else "statement after 'return'"
        raise ParseError(f"{what} in def '{name}': return must be the last statement", after.span)
    return _Def(name, params, ret, body, stmts[-1], span, name_span)


# ------------------------------------------------------------------ types


def make_named_type(name: str, dims: tuple[ast.DimRef, ...] | None, span: Span | None) -> ast.TypeExpr:
    """`f64[n]` (a dtype with dims) or an alias name; only dtypes take dims."""
    if name in DTYPES:
        return _TensorType(name, dims or (), span)
    if dims is not None:
        raise ParseError(f"'{name}' is not a dtype: only {', '.join(DTYPES)} take dims in [...]", span)
    return _NamedType(name, span)


def make_dim(e: ast.Expr, span: Span | None, source: str) -> ast.DimRef:
    """A dim: an int, a dim name, or arithmetic on them (`source` is its text, kept for messages)."""
    if isinstance(e, ast.Name):
        return _DimRef(e.id, span)
    if isinstance(e, ast.Num):
        if not e.is_int:
            raise ParseError(f"a dim must be an integer or a dim name, not {source}", span)
        return _DimRef(int(e.value), span)
    # `n - 2`: the source text as the value (for messages), the arithmetic in `expr`.
    return _DimRef(source, span, e)


# ------------------------------------------------------------------ expressions


def make_num(text: str, span: Span | None) -> ast.Num:
    # A literal beyond the largest f64 (about 1.8e308, 309 digits) has no value in any dtype:
    # an error here, not inf silently (write `inf`) or a Python limit deep in elaboration.
    if text.isdigit():
        if len(text) <= 309 or len(text.lstrip("0")) <= 309:
            return _Num(int(text), True, span)
    else:
        value = float(text)
        if value != math.inf:  # (a literal is never negative nor nan)
            return _Num(value, False, span)
    shown = text if len(text) <= 20 else f"{text[:8]}...{text[-4:]} ({len(text)} characters)"
    raise ParseError(f"the number {shown} is too large: the largest f64 is about 1.8e308 "
                     "(write inf for infinity)", span)


def make_lambda(head: ast.Expr, body: ast.Expr, span: Span | None) -> ast.Lambda:
    """`x => body` or `(x, y) => body`: the head was parsed as an expression (see dsl.lark)."""
    if isinstance(head, ast.Name):
        params: tuple[str, ...] = (head.id,)
    elif isinstance(head, ast.TupleExpr) and all(isinstance(i, ast.Name) for i in head.items):
        params = tuple(i.id for i in head.items if isinstance(i, ast.Name))
    else:
        raise ParseError("the parameters of a lambda must be a name or a tuple of names: "
                         "x => ... or (x, y) => ...", head.span)
    return _Lambda(params, body, span)


def make_call(func: ast.Expr, items: Sequence[Any], span: Span | None) -> ast.Call:
    """`f(a, b, k=v)`: positional arguments first, each keyword at most once."""
    args: list[ast.Expr] = []
    kwargs: list[ast.Keyword] = []
    for item in items:
        if isinstance(item, ast.Keyword):
            if any(k.name == item.name for k in kwargs):
                raise ParseError(f"keyword argument '{item.name}' given twice", item.span)
            kwargs.append(item)
        elif kwargs:
            raise ParseError("positional argument after a keyword argument", item.span)
        else:
            args.append(item)
    return _Call(func, tuple(args), tuple(kwargs), span)


# ------------------------------------------------------------------ morphisms


def make_compose(op: str, left: ast.Morphism, right: ast.Morphism, span: Span | None) -> ast.MCompose:
    # `g ∘ f` / `g << f` is traditional order: f first, then g.
    if op == ">>":
        return _MCompose(left, right, span)
    return _MCompose(right, left, span)


def make_structural(kind: str, types: tuple[ast.TypeExpr, ...], span: Span | None) -> ast.MStructural:
    if kind not in STRUCTURAL_ARITY:
        raise ParseError(f"'{kind}(...)' is not a structural box: only id(T), copy(T), discard(T) and "
                         f"swap(A, B) take types in a diagram", span,
                         hint=f"write {kind} as a box, or {kind}[key=value] for static parameters")
    if len(types) != STRUCTURAL_ARITY[kind]:
        raise ParseError(f"{kind} takes {STRUCTURAL_ARITY[kind]} type(s), got {len(types)}", span)
    return _MStructural(kind, types, span)
