"""Parse tree → AST on the Lark path: one method per grammar rule or alias of `dsl.lark`.

This path runs when the direct parser (`grammar.direct`) leaves the text to Lark: for every error
(so every message, span and hint comes from here and `grammar.syntax_errors`), and for nesting too
deep for the direct parser's recursion.

The walk is iterative (`AstBuilder.build`), not Lark's recursive `Transformer`: deeply nested or
long right-associative input (`a ^ a ^ ... ^ a`) must end in a `ParseError` from the depth check
in `grammar.parser`, never in a RecursionError half-way through building the tree.

Every method receives the Lark tree (for its source positions: `node.meta` and the positions of
the raw children) and the already-built children, and builds its node through `grammar.build`
(shared with the direct parser), which rejects what the LALR grammar accepts but the language does
not (a top-level `x = 3`, a def with no `return`, `sum(x)` as a diagram box, ...) with a
`ParseError` that says what is allowed instead.

>>> from grammar.parser import parse
>>> parse("def f(x: f64) -> f64 { return -x ^ 2 }").decls[0].returns.values[0].op
'-'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lark import Token, Tree

from grammar import ast, build
from grammar.build import unescape
from grammar.errors import Span

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
    return build.name_of(str(tok))


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
        return build.make_box_decl(name_of(c[0]), c[1], self.span(node))

    def r_import_decl(self, node: Tree, c: list[Node]) -> ast.Import:
        path, alias = c
        return ast.Import(unescape(str(path)), name_of(alias) if alias is not None else None, self.span(node))

    def r_diagram_decl(self, node: Tree, c: list[Node]) -> ast.DiagramDef:
        return build.make_diagram_decl(name_of(c[0]), c[1], c[2], self.span(node), self.span(c[0]))

    def r_top_assign(self, node: Tree, c: list[Node]) -> ast.Derived:
        return build.make_top_assign(name_of(c[0]), c[1], self.span(node), self.span(c[0]))

    def r_top_return(self, node: Tree, c: list[Node]) -> None:
        raise build.top_return_error(self.span(node))

    # ------------------------------------------------------------ def

    def r_def_decl(self, node: Tree, c: list[Node]) -> ast.Def:
        name_tok, params, ret, stmts = c
        return build.make_def(name_of(name_tok), params or (), ret, stmts, self.span(node), self.span(name_tok))

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
        return build.make_named_type(name_of(c[0]), c[1], self.span(node))

    def r_unit_type(self, node: Tree, c: list[Node]) -> ast.TupleTypeExpr:
        return ast.TupleTypeExpr((), self.span(node))

    def r_tuple_type(self, node: Tree, c: list[Node]) -> ast.TupleTypeExpr:
        return ast.TupleTypeExpr(tuple(c), self.span(node))

    def r_dims(self, node: Tree, c: list[ast.DimRef]) -> tuple[ast.DimRef, ...]:
        return tuple(c)

    def r_dim(self, node: Tree, c: list[Node]) -> ast.DimRef:
        return build.make_dim(c[0], self.span(node), self._source(node))

    def _source(self, node: Tree) -> str:
        return self.text[node.meta.start_pos:node.meta.end_pos]

    def r_dim_binop(self, node: Tree, c: list[Node]) -> ast.BinOp:
        return ast.BinOp(str(c[1]), c[0], c[2], self.span(node))

    # ------------------------------------------------------------ expressions

    def r_lambda_(self, node: Tree, c: list[Node]) -> ast.Lambda:
        return build.make_lambda(c[0], c[1], self.span(node))

    def r_conditional(self, node: Tree, c: list[Node]) -> ast.Cond:
        return ast.Cond(c[0], c[1], c[2], self.span(node))

    def r_compare(self, node: Tree, c: list[Node]) -> ast.BinOp:
        return ast.BinOp(build.op_of(str(c[1])), c[0], c[2], self.span(node))

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
        return ast.BinOp(build.op_of(str(op)), left, right, span)

    def r_arith(self, node: Tree, c: list[Node]) -> ast.Expr:
        return self._chain(node, c, self._binop)

    r_term = r_arith

    def r_unary(self, node: Tree, c: list[Node]) -> ast.UnaryOp:
        return ast.UnaryOp(str(c[0]), c[1], self.span(node))

    def r_power(self, node: Tree, c: list[Node]) -> ast.BinOp:
        return ast.BinOp("^", c[0], c[2], self.span(node))

    def r_call(self, node: Tree, c: list[Node]) -> ast.Call:
        return build.make_call(c[0], c[1] or (), self.span(node))

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
        return build.make_num(str(c[0]), self.span(node))

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
        return build.make_compose(str(op), left, right, span)

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
        return build.make_structural(name_of(c[0]), tuple(c[1:]), self.span(node))
