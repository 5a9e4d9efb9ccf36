"""The direct parser: text -> AST in one pass, for text that is in the language.

`grammar.parse` tries this parser first and falls back to the Lark path (`grammar.parser`) for
anything it does not accept: the Lark path then reports the error, with exactly the message, span
and hint it always gave. So this parser never reports an error itself; it only has to be right and
fast on valid text. Lark builds a generic parse tree (a `Tree` per rule, a `Token` object per
token, positions propagated through every level) that the AST builder then walks; that costs
≈ 20x the time of building the AST directly, which is what this parser does.

It has four layers, one module each:
- tokens (`grammar.lexicon`): the grammar's terminals compiled into one regex (the same order,
  priorities and keyword rule as Lark's basic lexer; a test compares the token streams);
- the parser's state, helpers, types and dims (`grammar.direct_types`);
- expressions (`grammar.direct_exprs`);
- declarations, statements and point-free morphisms (this module), and the entry points.

`dsl.lark` stays the one definition of the language: the parser is a recursive descent over the
same rules (each method names its rule), and every node is built by `grammar.build`, the
constructors the Lark path uses too (or, for the common nodes, by `grammar.frozen.constructor` with what those
constructors would do); a differential test checks that both paths give equal ASTs (spans included)
on every example, test and fuzz program. Anything outside what it handles (a syntax error, a check
in `grammar.build` that fails, nesting deeper than `MAX_NESTING`) raises `Unparsed`, and the Lark
path decides.

Spans follow Lark's `propagate_positions`: a node spans from the first to the last token its rule
matched (parentheses of an inlined child included), which is `self.span(first_token_index)`.

>>> from grammar.parser import _lexicon
>>> decls, _ = parse_tokens("dim n\\ndef f(x: f64[n]) -> f64 { return sum(x) }", "m.dsl", _lexicon())
>>> [type(d).__name__ for d in decls], decls[1].span.end_col
(['DimDecl', 'Def'], 42)
"""

from __future__ import annotations

from typing import Any

from grammar import ast, build
from grammar.direct_exprs import MAX_NESTING, ExprParser
from grammar.errors import Span
from grammar.frozen import constructor
from grammar.lexicon import Lexicon, Unparsed

__all__ = ["MAX_NESTING", "SAFE_TOKENS", "Lexicon", "Unparsed", "parse_expression", "parse_tokens"]

# A statement of at most this many tokens cannot build an AST deeper than the depth limit of
# `grammar.parser` (every AST node owns at least one token of its statement), so its depth check
# can be skipped; longer ones are returned for the check.
SAFE_TOKENS = 150

_DECL_STARTS = ("DIM", "TYPE", "BOX", "DEF", "DIAGRAM", "IMPORT", "NAME")
_Assign = constructor(ast.Assign)
_Param = constructor(ast.Param)
_Return = constructor(ast.Return)
_MTensor = constructor(ast.MTensor)
_MBox = constructor(ast.MBox)
_DimDecl = constructor(ast.DimDecl)
_TypeAlias = constructor(ast.TypeAlias)
_Import = constructor(ast.Import)
_new_tuple = tuple.__new__


def parse_tokens(text: str, filename: str, lexicon: Lexicon) -> tuple[tuple[Any, ...], list[Any]]:
    """The declarations of `text`, and those whose AST depth must still be checked."""
    p = _Parser(text, filename, lexicon)
    return p.module(), p.unchecked


def parse_expression(text: str, filename: str, lexicon: Lexicon) -> tuple[ast.Expr, list[Any]]:
    """One expression (the whole text), and [it] if its AST depth must still be checked."""
    p = _Parser(text, filename, lexicon)
    e = p.expr()
    p.expect("$END")
    return e, [e] if len(p.kinds) > SAFE_TOKENS else []


class _Parser(ExprParser):
    """The declarations and statements of a module, over `ExprParser`."""

    def __init__(self, text: str, filename: str, lexicon: Lexicon):
        super().__init__(text, filename, lexicon)
        self.unchecked: list[Any] = []
        self.long_part = False

    def check_depth_if_long(self, node: Any, first: int) -> None:
        """Leave `node` (tokens `first` to the last one consumed) for the depth check if it is long."""
        if self.i - first > SAFE_TOKENS:
            self.unchecked.append(node)

    def measure_part(self, first: int) -> None:
        """A part of a def (a parameter, the return type, a statement): if one is long, the whole def
        is left for the depth check (so that the check sees the depths it always saw)."""
        if self.i - first > SAFE_TOKENS:
            self.long_part = True

    # ------------------------------------------------------------ declarations

    def module(self) -> tuple[Any, ...]:
        decls: list[Any] = []
        kinds = self.kinds
        while True:
            kind = kinds[self.i]
            if kind == "SEMICOLON":
                self.i += 1
                continue
            if kind == "$END":
                return tuple(decls)
            if kind not in _DECL_STARTS:
                raise Unparsed
            first = self.i
            self.long_part = False
            decl = self.decl_DEF() if kind == "DEF" else getattr(self, "decl_" + kind)()
            if self.long_part:
                self.unchecked.append(decl)
            elif kind != "DEF":  # (a def's parts were measured one by one)
                self.check_depth_if_long(decl, first)
            decls.append(decl)

    def decl_DIM(self) -> ast.DimDecl:  # dim_decl: "dim" NAME ("," NAME)*
        first = self.i
        self.i += 1
        names, spans = [], []
        while True:
            spans.append(self.name_span())
            names.append(build.name_of(self.values[self.i - 1]))
            if self.kinds[self.i] != "COMMA":
                return _DimDecl(tuple(names), self.span(first), tuple(spans))
            self.i += 1

    def decl_TYPE(self) -> ast.TypeAlias:  # type_alias: "type" NAME "=" type
        first = self.i
        self.i += 1
        name = build.name_of(self.expect("NAME"))
        self.expect("EQUAL")
        t = self.type()
        return _TypeAlias(name, t, self.span(first))

    def decl_BOX(self) -> ast.BoxDecl:  # box_decl: "box" NAME ":" type
        first = self.i
        self.i += 1
        name = build.name_of(self.expect("NAME"))
        self.expect("COLON")
        sig = self.type()
        return build.make_box_decl(name, sig, self.span(first))

    def decl_IMPORT(self) -> ast.Import:  # import_decl: "import" STRING ["as" NAME]
        first = self.i
        self.i += 1
        path = build.unescape(self.expect("STRING"))
        alias = None
        if self.kinds[self.i] == "AS":
            self.i += 1
            alias = build.name_of(self.expect("NAME"))
        return _Import(path, alias, self.span(first))

    def decl_DIAGRAM(self) -> ast.DiagramDef:  # diagram_decl: "diagram" NAME [":" type] "=" morphism
        first = self.i
        self.i += 1
        name_span = self.name_span()
        name = build.name_of(self.values[self.i - 1])
        sig = None
        if self.kinds[self.i] == "COLON":
            self.i += 1
            sig = self.type()
        self.expect("EQUAL")
        body = self.morphism()
        return build.make_diagram_decl(name, sig, body, self.span(first), name_span)

    def decl_NAME(self) -> ast.Derived:  # top_assign: NAME "=" expr
        first = self.i
        name_span = self.name_span()
        self.expect("EQUAL")
        value = self.expr()
        return build.make_top_assign(build.name_of(self.values[first]), value, self.span(first), name_span)

    def decl_DEF(self) -> ast.Def:  # def_decl: "def" NAME "(" [params] ")" [ret_type] "{" body "}"
        first = self.i
        kinds, values, names, lines, ends, texts, fn = self.tables
        i = first + 1
        if kinds[i] != "NAME" or kinds[i + 1] != "LPAR":
            raise Unparsed
        line = lines[i]
        end = ends[i]
        name_span = _new_tuple(Span, (fn, line, end - len(values[i]), line, end, texts[line]))
        params = self.params(i + 2)
        ret: ast.TypeExpr | None = None
        if kinds[self.i] == "_ARROW":
            start = self.i
            if kinds[start + 1] == "NAME":  # (the common `-> f64` or `-> f64[n]`: shallow)
                ret = self.tensor_type(start + 1)
            if ret is None:
                self.i = start + 1
                ret = self.type()
                self.measure_part(start)
        if kinds[self.i] != "LBRACE":
            raise Unparsed
        self.i += 1
        stmts = self.body()
        last = self.i
        if kinds[last] != "RBRACE":
            raise Unparsed
        self.i = last + 1
        line = lines[first]  # (`self.span(first)`, inline)
        span = _new_tuple(Span, (fn, line, ends[first] - len(values[first]), lines[last], ends[last], texts[line]))
        return build.make_def(names[i], params, ret, stmts, span, name_span)

    def params(self, i: int) -> tuple[ast.Param, ...]:
        """params: param ("," param)* ","?, param: NAME [":" type] ["=" expr], from token i (after
        the "(") to the ")" (consumed)."""
        kinds, values, names, lines, ends, texts, fn = self.tables
        params: list[ast.Param] = []
        while kinds[i] != "RPAR":
            if kinds[i] != "NAME":
                raise Unparsed
            pname = values[i]
            t: ast.TypeExpr | None = None
            if kinds[i + 1] == "COLON":
                if kinds[i + 2] == "NAME":  # (the common `x: f64` or `x: f64[n, 3]`, at once: shallow)
                    t = self.tensor_type(i + 2)
                if t is None:
                    self.i = i + 2
                    t = self.type()
            else:
                self.i = i + 1
            default = None
            if kinds[self.i] == "EQUAL":
                self.i += 1
                default = self.expr()
            last = self.i - 1
            line = lines[i]
            span = _new_tuple(Span, (fn, line, ends[i] - len(pname), lines[last], ends[last], texts[line]))
            params.append(_Param(names[i], t, span, default))
            if last - i >= SAFE_TOKENS:
                self.long_part = True
            i = self.i
            if kinds[i] != "COMMA":
                break
            i += 1
        if kinds[i] != "RPAR":
            raise Unparsed
        self.i = i + 1
        return tuple(params)

    # A chain's partial results span from its first operand to the current one, each operand taken
    # without the parentheses around it (the AstBuilder sees an inlined `"(" morphism ")"` as the
    # tree inside): `extent` holds the token indices of the last operand parsed, parentheses stripped.

    def morphism(self) -> ast.Morphism:  # ?morphism: mtensor (MSEQ mtensor)*
        self.enter()
        first_token = self.i
        m = self.mtensor()
        first = self.extent[0]
        while self.kinds[self.i] == "MSEQ":
            op = self.values[self.i]
            self.i += 1
            right = self.mtensor()
            m = build.make_compose(op, m, right, self.span_of(first, self.extent[1]))
            self.extent = (first_token, self.i - 1)
        self.depth -= 1
        return m

    def mtensor(self) -> ast.Morphism:  # ?mtensor: matom (_TENSOR matom)*
        first_token = self.i
        m = self.matom()
        first = self.extent[0]
        while self.kinds[self.i] == "_TENSOR":
            self.i += 1
            right = self.matom()
            m = _MTensor(m, right, self.span_of(first, self.extent[1]))
            self.extent = (first_token, self.i - 1)
        return m

    def matom(self) -> ast.Morphism:
        first = self.i
        if self.kinds[first] == "LPAR":  # "(" morphism ")": the extent stays the one inside
            self.i += 1
            m = self.morphism()
            self.expect("RPAR")
            return m
        m = self.named_matom(first)
        self.extent = (first, self.i - 1)
        return m

    def named_matom(self, first: int) -> ast.Morphism:
        name = build.name_of(self.expect("NAME"))
        if self.kinds[self.i] == "LPAR":  # NAME "(" type ("," type)* ","? ")" -> mstruct
            self.i += 1
            types = self.tail(self.type(), self.type)
            return build.make_structural(name, types, self.span(first))
        parts = [name]  # mname: NAME ("." NAME)*
        while self.kinds[self.i] == "DOT":
            self.i += 1
            parts.append(build.name_of(self.expect("NAME")))
        if self.kinds[self.i] != "LSQB":  # mname -> mbox
            return _MBox(".".join(parts), (), self.span(first))
        self.i += 1  # mname "[" [kwargs] "]" -> mbox_params
        kwargs: list[ast.Keyword] = []
        while self.kinds[self.i] != "RSQB":  # kwargs: kwarg ("," kwarg)* ","?
            kwargs.append(self.kwarg())
            if self.kinds[self.i] != "COMMA":
                break
            self.i += 1
        self.expect("RSQB")
        return _MBox(".".join(parts), tuple(kwargs), self.span(first))

    def body(self) -> list[Any]:  # body: (_stmt | ";")*   _stmt: assign | return_stmt
        stmts: list[Any] = []
        kinds, values, names, lines, ends, texts, fn = self.tables
        stmt: Any
        while True:
            kind = kinds[self.i]
            first = self.i
            if kind == "NAME" and kinds[first + 1] == "EQUAL":  # (one target, the common assign)
                self.i = first + 2
                value = self.expr()
                last = self.i - 1
                line = lines[first]
                name = values[first]
                end = ends[first]
                col = end - len(name)
                stmt = _Assign((names[first],), value,
                               _new_tuple(Span, (fn, line, col, lines[last], ends[last], texts[line])),
                               (_new_tuple(Span, (fn, line, col, line, end, texts[line])),))
            elif kind == "NAME":  # assign: NAME ("," NAME)* "=" expr
                targets, spans = [], []
                while True:
                    spans.append(self.name_span())
                    targets.append(names[self.i - 1])
                    if kinds[self.i] != "COMMA":
                        break
                    self.i += 1
                self.expect("EQUAL")
                value = self.expr()
                stmt = _Assign(tuple(targets), value, self.span(first), tuple(spans))
            elif kind == "RETURN":  # return_stmt: "return" expr ("," expr)* (its span inline)
                self.i += 1
                items: tuple[Any, ...] = (self.expr(),)
                if kinds[self.i] == "COMMA":  # (`return a, b`)
                    more = list(items)
                    while kinds[self.i] == "COMMA":
                        self.i += 1
                        more.append(self.expr())
                    items = tuple(more)
                last = self.i - 1
                line = lines[first]
                col = ends[first] - len(values[first])
                stmt = _Return(items, _new_tuple(Span, (fn, line, col, lines[last], ends[last], texts[line])))
            elif kind == "SEMICOLON":
                self.i += 1
                continue
            else:
                return stmts
            if self.i - first > SAFE_TOKENS:
                self.long_part = True
            stmts.append(stmt)
