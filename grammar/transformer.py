"""Parse tree → AST: one method per grammar rule or alias of `dsl.lark`, each returning `ast` nodes.

The walk is iterative (`AstBuilder.build`), not Lark's recursive `Transformer`: deeply nested or
long right-associative input (`a ^ a ^ ... ^ a`) must end in a `ParseError` from the depth check
in `grammar.parser`, never in a RecursionError half-way through building the tree.

Every method receives the Lark tree (for its source positions: `node.meta` and the positions of
the raw children) and the already-built children. Syntax that the LALR grammar accepts but the
language does not (a top-level `x = 3`, a def with no `return`, `sum(x)` as a diagram box, ...) is
rejected here with a `ParseError` that says what is allowed instead.

>>> from grammar.parser import parse
>>> parse("def f(x: f64) -> f64 { return -x ^ 2 }").decls[0].returns.values[0].op
'-'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from lark import Token, Tree

from grammar import ast
from grammar.errors import ParseError, Span

DTYPES = ("f32", "f64", "i32", "i64", "bool")
DERIVED_OPS = ("grad", "value_and_grad", "vjp", "jvp", "hessian", "jacobian", "simplify")
STRUCTURAL_ARITY = {"id": 1, "copy": 1, "discard": 1, "swap": 2}
# Unicode spellings that are plain names (§1) and operators with an ASCII canonical form.
NAME_ALIASES = {"∇": "nabla", "∫": "integrate"}
OP_ALIASES = {"**": "^", "≤": "<=", "≥": ">=", "≠": "!="}

Node = Any  # an ast node, a Token, a tuple of nodes, or None (an absent optional part)


class SpanMaker:
    """Builds `Span`s for one source text: positions come from Lark (1-based, end exclusive)."""

    def __init__(self, filename: str, text: str):
        self.filename = filename
        # Lark counts lines by "\n" only, so split the same way (not str.splitlines).
        self.lines = [line.rstrip("\r") for line in text.split("\n")]

    def at(self, line: int, col: int, end_line: int, end_col: int) -> Span:
        """The span from (line, col) to (end_line, end_col), with the first line's text."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Span(self.filename, line, col, end_line, end_col, text)

    def of(self, item: Tree | Token) -> Span | None:
        """The span of a parse-tree node or token (None for an empty rule)."""
        if isinstance(item, Token):
            return self.at(item.line or 1, item.column or 1, item.end_line or 1, item.end_column or 1)
        meta = item.meta
        if meta.empty:
            return None
        return self.at(meta.line, meta.column, meta.end_line, meta.end_column)

    def join(self, first: Span | None, last: Span | None) -> Span | None:
        """From the start of `first` to the end of `last`."""
        if first is None or last is None:
            return first or last
        return self.at(first.line, first.col, last.end_line, last.end_col)


def name_of(tok: Token) -> str:
    """A NAME token's text, with `∇`/`∫` spelled `nabla`/`integrate`."""
    return NAME_ALIASES.get(str(tok), str(tok))


def unescape(literal: str) -> str:
    """The value of a string literal (quotes removed; `\\"`, `\\\\`, `\\n`, `\\t` decoded)."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), literal[1:-1])


def _is_derived_call(e: ast.Expr) -> bool:
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in DERIVED_OPS


class AstBuilder:
    """Turns the Lark parse tree of one source text into AST nodes."""

    def __init__(self, filename: str, text: str):
        self.spans = SpanMaker(filename, text)
        self.text = text

    # ------------------------------------------------------------ the walk

    def build(self, tree: Tree) -> Node:
        """Post-order walk with an explicit stack: calls the method named after each tree's rule."""
        results: list[Node] = []
        work: list[tuple[Tree | Token | None, bool]] = [(tree, False)]
        while work:
            item, ready = work.pop()
            if not isinstance(item, Tree):
                results.append(item)  # tokens and absent optionals are handled by their parent
            elif not ready:
                work.append((item, True))
                work.extend((child, False) for child in reversed(item.children))
            else:
                n = len(item.children)
                children = results[len(results) - n:] if n else []
                del results[len(results) - n:]
                results.append(self._method(str(item.data))(item, children))
        return results[0]

    def _method(self, rule: str) -> Callable[[Tree, list[Node]], Node]:
        method = getattr(self, "r_" + rule, None)
        if method is None:  # a grammar rule without a builder is a bug in this file, not user error
            raise AssertionError(f"no AST builder for grammar rule {rule!r}")
        return method

    def span(self, node: Tree | Token) -> Span | None:
        return self.spans.of(node)

    # ------------------------------------------------------------ top level

    def r_start(self, node: Tree, c: list[Node]) -> tuple[ast.Decl, ...]:
        return tuple(c)

    def r_expr_start(self, node: Tree, c: list[Node]) -> ast.Expr:
        return c[0]

    def r_dim_decl(self, node: Tree, c: list[Token]) -> ast.DimDecl:
        return ast.DimDecl(tuple(name_of(t) for t in c), self.span(node), tuple(self.span(t) for t in c))

    def r_type_alias(self, node: Tree, c: list[Node]) -> ast.TypeAlias:
        return ast.TypeAlias(name_of(c[0]), c[1], self.span(node))

    def r_box_decl(self, node: Tree, c: list[Node]) -> ast.BoxDecl:
        name, sig = name_of(c[0]), c[1]
        if not isinstance(sig, ast.FunTypeExpr):
            raise ParseError(f"box '{name}' needs a signature of the form `A -> B`", sig.span,
                             hint=f"e.g. box {name} : f64 ⊗ f64 -> f64")
        return ast.BoxDecl(name, sig.arg, sig.res, self.span(node))

    def r_import_decl(self, node: Tree, c: list[Node]) -> ast.Import:
        path, alias = c
        return ast.Import(unescape(str(path)), name_of(alias) if alias is not None else None, self.span(node))

    def r_diagram_decl(self, node: Tree, c: list[Node]) -> ast.DiagramDef:
        name, sig, body = name_of(c[0]), c[1], c[2]
        dom = cod = None
        if sig is not None:
            if not isinstance(sig, ast.FunTypeExpr):
                raise ParseError(f"the signature of diagram '{name}' must have the form `A -> B`", sig.span)
            dom, cod = sig.arg, sig.res
        return ast.DiagramDef(name, dom, cod, body, self.span(node), self.span(c[0]))

    def r_top_assign(self, node: Tree, c: list[Node]) -> ast.Derived:
        name, value = name_of(c[0]), c[1]
        if not _is_derived_call(value):
            ops = ", ".join(DERIVED_OPS)
            raise ParseError(f"only derived definitions can be assigned at top level ({ops}): "
                             f"'{name} = ...' is not one", self.span(node),
                             hint=f"write `{name} = grad(f)`, or put the computation in a def")
        op, target, kwargs = self._derived_parts(value)
        return ast.Derived(name, op, target, kwargs, self.span(node), self.span(c[0]))

    def _derived_parts(self, call: ast.Call) -> tuple[str, ast.Expr, tuple[ast.Keyword, ...]]:
        """Check `op(target, key=value...)` (target: f, o.f or a nested derived call) and split it."""
        assert isinstance(call.func, ast.Name)
        op = call.func.id
        if len(call.args) != 1:
            raise ParseError(f"{op} takes one definition and keyword options (e.g. {op}(f, wrt=x)), "
                             f"got {len(call.args)} positional arguments", call.span)
        target = call.args[0]
        if _is_derived_call(target):
            assert isinstance(target, ast.Call)
            self._derived_parts(target)  # validate the nested one the same way, keep it as a Call
        elif not isinstance(target, (ast.Name, ast.Attr)):
            raise ParseError(f"the argument of {op} must name a definition (f, o.f) or be a derived "
                             f"definition such as grad(f)", target.span)
        return op, target, call.kwargs

    def r_top_return(self, node: Tree, c: list[Node]) -> None:
        raise ParseError("'return' outside of a def", self.span(node),
                         hint="return may only end the body of a def { ... }")

    # ------------------------------------------------------------ def

    def r_def_decl(self, node: Tree, c: list[Node]) -> ast.Def:
        name_tok, params, ret, stmts = c
        name = name_of(name_tok)
        body, returns = self._split_body(name, stmts, node)
        return ast.Def(name, params or (), ret, body, returns, self.span(node), self.span(name_tok))

    def _split_body(self, name: str, stmts: Sequence[Node], node: Tree) -> tuple[tuple[ast.Assign, ...], ast.Return]:
        """The assignments and the final return of a def body; `return` must come exactly once, last."""
        returns = [i for i, s in enumerate(stmts) if isinstance(s, ast.Return)]
        if not returns:
            raise ParseError(f"def '{name}' has no return statement", self.span(node),
                             hint="end the body with `return expr`")
        if returns[0] != len(stmts) - 1:
            after = stmts[returns[0] + 1]
            what = "second 'return'" if isinstance(after, ast.Return) else "statement after 'return'"
            raise ParseError(f"{what} in def '{name}': return must be the last statement", after.span)
        return tuple(stmts[:-1]), stmts[-1]

    def r_params(self, node: Tree, c: list[ast.Param]) -> tuple[ast.Param, ...]:
        return tuple(c)

    def r_param(self, node: Tree, c: list[Node]) -> ast.Param:
        return ast.Param(name_of(c[0]), c[1], self.span(node), c[2])

    def r_ret_type(self, node: Tree, c: list[Node]) -> ast.TypeExpr:
        return c[0]

    def r_body(self, node: Tree, c: list[Node]) -> tuple[Node, ...]:
        return tuple(c)

    def r_assign(self, node: Tree, c: list[Node]) -> ast.Assign:
        *targets, value = c
        return ast.Assign(tuple(name_of(t) for t in targets), value, self.span(node),
                          tuple(self.span(t) for t in targets))

    def r_return_stmt(self, node: Tree, c: list[Node]) -> ast.Return:
        return ast.Return(tuple(c), self.span(node))

    # ------------------------------------------------------------ types

    def r_fun_type(self, node: Tree, c: list[Node]) -> ast.FunTypeExpr:
        return ast.FunTypeExpr(c[0], c[1], self.span(node))

    def r_tensor_type(self, node: Tree, c: list[Node]) -> ast.TupleTypeExpr:
        # `A ⊗ B ⊗ C` arrives as one flat list: one product of three (not nested pairs).
        return ast.TupleTypeExpr(tuple(c), self.span(node))

    def r_named_type(self, node: Tree, c: list[Node]) -> ast.TypeExpr:
        tok, dims = c
        name = name_of(tok)
        if name in DTYPES:
            return ast.TensorTypeExpr(name, dims or (), self.span(node))
        if dims is not None:
            raise ParseError(f"'{name}' is not a dtype: only {', '.join(DTYPES)} take dims in [...]", self.span(node))
        return ast.NamedTypeExpr(name, self.span(node))

    def r_unit_type(self, node: Tree, c: list[Node]) -> ast.TupleTypeExpr:
        return ast.TupleTypeExpr((), self.span(node))

    def r_tuple_type(self, node: Tree, c: list[Node]) -> ast.TupleTypeExpr:
        return ast.TupleTypeExpr(tuple(c), self.span(node))

    def r_dims(self, node: Tree, c: list[ast.DimRef]) -> tuple[ast.DimRef, ...]:
        return tuple(c)

    def r_dim(self, node: Tree, c: list[Node]) -> ast.DimRef:
        e, span = c[0], self.span(node)
        if isinstance(e, ast.Name):
            return ast.DimRef(e.id, span)
        if isinstance(e, ast.Num):
            if not e.is_int:
                raise ParseError(f"a dim must be an integer or a dim name, not {self._source(node)}", span)
            return ast.DimRef(int(e.value), span)
        # `n - 2`: the source text as the value (for messages), the arithmetic in `expr`.
        return ast.DimRef(self._source(node), span, e)

    def _source(self, node: Tree) -> str:
        return self.text[node.meta.start_pos:node.meta.end_pos]

    def r_dim_binop(self, node: Tree, c: list[Node]) -> ast.BinOp:
        return ast.BinOp(str(c[1]), c[0], c[2], self.span(node))

    # ------------------------------------------------------------ expressions

    def r_lambda_(self, node: Tree, c: list[Node]) -> ast.Lambda:
        head, body = c
        if isinstance(head, ast.Name):
            params: tuple[str, ...] = (head.id,)
        elif isinstance(head, ast.TupleExpr) and all(isinstance(i, ast.Name) for i in head.items):
            params = tuple(i.id for i in head.items if isinstance(i, ast.Name))
        else:
            raise ParseError("the parameters of a lambda must be a name or a tuple of names: "
                             "x => ... or (x, y) => ...", head.span)
        return ast.Lambda(params, body, self.span(node))

    def r_conditional(self, node: Tree, c: list[Node]) -> ast.Cond:
        return ast.Cond(c[0], c[1], c[2], self.span(node))

    def r_compare(self, node: Tree, c: list[Node]) -> ast.BinOp:
        op = str(c[1])
        return ast.BinOp(OP_ALIASES.get(op, op), c[0], c[2], self.span(node))

    def _chain(self, node: Tree, c: list[Node], make: Callable[[Token, Node, Node, Span | None], Node]) -> Node:
        """Fold `a op b op c ...` to the left; each partial result spans from `a` to its last operand."""
        raw = node.children
        acc = c[0]
        first = self.span(raw[0])
        for i in range(1, len(c), 2):
            acc = make(c[i], acc, c[i + 1], self.spans.join(first, self.span(raw[i + 1])))
        return acc

    @staticmethod
    def _binop(op: Token, left: Node, right: Node, span: Span | None) -> ast.BinOp:
        return ast.BinOp(OP_ALIASES.get(str(op), str(op)), left, right, span)

    def r_arith(self, node: Tree, c: list[Node]) -> ast.Expr:
        return self._chain(node, c, self._binop)

    r_term = r_arith

    def r_unary(self, node: Tree, c: list[Node]) -> ast.UnaryOp:
        return ast.UnaryOp(str(c[0]), c[1], self.span(node))

    def r_power(self, node: Tree, c: list[Node]) -> ast.BinOp:
        return ast.BinOp("^", c[0], c[2], self.span(node))

    def r_call(self, node: Tree, c: list[Node]) -> ast.Call:
        func, items = c[0], c[1] or ()
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
        return ast.Call(func, tuple(args), tuple(kwargs), self.span(node))

    def r_args(self, node: Tree, c: list[Node]) -> tuple[Node, ...]:
        return tuple(c)

    def r_kwarg(self, node: Tree, c: list[Node]) -> ast.Keyword:
        return ast.Keyword(name_of(c[0]), c[1], self.span(node))

    def r_index(self, node: Tree, c: list[Node]) -> ast.Index:
        return ast.Index(c[0], c[1], self.span(node))

    def r_subscripts(self, node: Tree, c: list[Node]) -> tuple[Node, ...]:
        return tuple(c)

    def r_slice(self, node: Tree, c: list[Node]) -> ast.Slice:
        # children: lo, ':', hi, ':' or None, step (absent parts are None placeholders)
        return ast.Slice(c[0], c[2], c[4], self.span(node))

    def r_attr(self, node: Tree, c: list[Node]) -> ast.Attr:
        return ast.Attr(c[0], name_of(c[1]), self.span(node))

    def r_num(self, node: Tree, c: list[Token]) -> ast.Num:
        text = str(c[0])
        is_int = text.isdigit()
        # A literal beyond the largest f64 (about 1.8e308, 309 digits) has no value in any dtype:
        # an error here, not inf silently (write `inf`) or a Python limit deep in elaboration.
        if (is_int and len(text.lstrip("0")) > 309) or (not is_int and math.isinf(float(text))):
            shown = text if len(text) <= 20 else f"{text[:8]}...{text[-4:]} ({len(text)} characters)"
            raise ParseError(f"the number {shown} is too large: the largest f64 is about 1.8e308 "
                             "(write inf for infinity)", self.span(node))
        return ast.Num(int(text) if is_int else float(text), is_int, self.span(node))

    def r_string(self, node: Tree, c: list[Token]) -> ast.Str:
        return ast.Str(unescape(str(c[0])), self.span(node))

    def r_true_(self, node: Tree, c: list[Node]) -> ast.Bool:
        return ast.Bool(True, self.span(node))

    def r_false_(self, node: Tree, c: list[Node]) -> ast.Bool:
        return ast.Bool(False, self.span(node))

    def r_name(self, node: Tree, c: list[Token]) -> ast.Name:
        return ast.Name(name_of(c[0]), self.span(node))

    def r_paren(self, node: Tree, c: list[Node]) -> ast.Expr:
        # A separate rule only so that enclosing chains can see the parentheses' positions.
        return c[0]

    def r_tuple(self, node: Tree, c: list[Node]) -> ast.TupleExpr:
        return ast.TupleExpr(tuple(c), self.span(node))

    # ------------------------------------------------------------ morphisms

    @staticmethod
    def _compose(op: Token, left: Node, right: Node, span: Span | None) -> ast.MCompose:
        # `g ∘ f` / `g << f` is traditional order: f first, then g.
        if str(op) == ">>":
            return ast.MCompose(left, right, span)
        return ast.MCompose(right, left, span)

    def r_morphism(self, node: Tree, c: list[Node]) -> ast.Morphism:
        return self._chain(node, c, self._compose)

    def r_mtensor(self, node: Tree, c: list[Node]) -> ast.Morphism:
        acc, first = c[0], self.span(node.children[0])
        for raw, item in zip(node.children[1:], c[1:]):
            acc = ast.MTensor(acc, item, self.spans.join(first, self.span(raw)))
        return acc

    def r_mname(self, node: Tree, c: list[Token]) -> str:
        return ".".join(name_of(t) for t in c)

    def r_mbox(self, node: Tree, c: list[Node]) -> ast.MBox:
        return ast.MBox(c[0], (), self.span(node))

    def r_mbox_params(self, node: Tree, c: list[Node]) -> ast.MBox:
        return ast.MBox(c[0], c[1] or (), self.span(node))

    def r_kwargs(self, node: Tree, c: list[ast.Keyword]) -> tuple[ast.Keyword, ...]:
        return tuple(c)

    def r_mstruct(self, node: Tree, c: list[Node]) -> ast.MStructural:
        kind, types = name_of(c[0]), tuple(c[1:])
        if kind not in STRUCTURAL_ARITY:
            raise ParseError(f"'{kind}(...)' is not a structural box: only id(T), copy(T), discard(T) and "
                             f"swap(A, B) take types in a diagram", self.span(node),
                             hint=f"write {kind} as a box, or {kind}[key=value] for static parameters")
        if len(types) != STRUCTURAL_ARITY[kind]:
            raise ParseError(f"{kind} takes {STRUCTURAL_ARITY[kind]} type(s), got {len(types)}", self.span(node))
        return ast.MStructural(kind, types, self.span(node))
