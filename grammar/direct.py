"""The direct parser: text -> AST in one pass, for text that is in the language.

`grammar.parse` tries this parser first and falls back to the Lark path (`grammar.parser`) for
anything it does not accept: the Lark path then reports the error, with exactly the message, span
and hint it always gave. So this parser never reports an error itself; it only has to be right and
fast on valid text. Lark builds a generic parse tree (a `Tree` per rule, a `Token` object per
token, positions propagated through every level) that the AST builder then walks; that costs
≈ 10x the time of building the AST directly, which is what this parser does.

`dsl.lark` stays the one definition of the language:
- the tokens come from its terminals (`Lexicon.from_terminals`: the same order, priorities and
  keyword rule as Lark's basic lexer; a test compares the token streams);
- this parser is a recursive descent over the same rules (each method names its rule), and every
  node is built by `grammar.build`, the constructors the Lark path uses too; a differential test
  checks that both paths give equal ASTs (spans included) on every example, test and fuzz program;
- anything outside what it handles (a syntax error, a check in `grammar.build` that fails, nesting
  deeper than `MAX_NESTING`) raises `Unparsed`, and the Lark path decides.

Spans follow Lark's `propagate_positions`: a node spans from the first to the last token its rule
matched (parentheses of an inlined child included), which is `self.span(first_token_index)`.

>>> from grammar.parser import _lark
>>> lexicon = Lexicon.from_terminals(_lark().terminals, _lark().lexer_conf.ignore)
>>> decls, _ = parse_tokens("dim n\\ndef f(x: f64[n]) -> f64 { return sum(x) }", "m.dsl", lexicon)
>>> [type(d).__name__ for d in decls], decls[1].span.end_col
(['DimDecl', 'Def'], 42)
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate, compress
from typing import Any

from lark.lexer import PatternStr, TerminalDef

from grammar import ast, build
from grammar.errors import Span

# Recursion of the parser's own methods is bounded so that it cannot overflow Python's stack: deeper
# nesting (rare in real models) goes to the Lark path, which is iterative and reports what is too deep.
MAX_NESTING = 60
# A statement of at most this many tokens cannot build an AST deeper than the depth limit of
# `grammar.parser` (every AST node owns at least one token of its statement), so its depth check
# can be skipped; longer ones are returned for the check.
SAFE_TOKENS = 150


class Unparsed(Exception):
    """Raised for any text this parser leaves to the Lark path (errors are reported there)."""


@dataclass(frozen=True)
class Lexicon:
    """The tokens of the language, compiled from the grammar's terminals.

    `lexemes` matches any terminal (ignored ones included) with no capturing group, so that
    `findall` cuts the whole text into lexemes in C; `kinds` has one named group per terminal in the
    same order, and tells the terminal of each distinct lexeme (once per parse: names and operators
    repeat). Both alternations are ordered as Lark's basic lexer orders them, so the first
    alternative that matches at a position is Lark's token there."""

    lexemes: re.Pattern[str]
    kinds: re.Pattern[str]
    keywords: dict[str, dict[str, str]]  # regex terminal -> {keyword text -> its terminal}: NAME -> {"def": DEF}
    ignore: frozenset[str]

    @staticmethod
    def from_terminals(terminals: Iterable[TerminalDef], ignore: Iterable[str]) -> Lexicon:
        """As Lark's basic lexer: by priority, then longest possible match first; a string terminal
        that a regex terminal of equal priority matches in full is a keyword of it, recognised after
        the match (so `define` is a name and `def` the keyword)."""
        terms = sorted(terminals, key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name))
        keywords: dict[str, dict[str, str]] = {}
        embedded: set[str] = set()
        for r in terms:
            if isinstance(r.pattern, PatternStr):
                continue
            for t in terms:
                if isinstance(t.pattern, PatternStr) and t.priority == r.priority:
                    m = re.match(r.pattern.to_regexp(), t.pattern.value)
                    if m is not None and m.group(0) == t.pattern.value:
                        keywords.setdefault(r.name, {})[t.pattern.value] = t.name
                        if set(t.pattern.flags) <= set(r.pattern.flags):
                            embedded.add(t.name)
        kept = [t for t in terms if t.name not in embedded]
        lexemes = "|".join(_non_capturing(t.pattern.to_regexp()) for t in kept)
        kinds = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in kept)
        return Lexicon(re.compile(lexemes), re.compile(kinds), keywords, frozenset(ignore))

    def tokenize(self, text: str) -> tuple[list[str], list[str], list[int], list[int], list[int]]:
        """Kinds, texts, start offsets, lines and columns (1-based) of the tokens, then `$END`."""
        lexemes = self.lexemes.findall(text)
        lengths = list(map(len, lexemes))
        if sum(lengths) != len(text):
            raise Unparsed  # findall skipped a character that no terminal matches
        known: dict[str, str] = {}
        all_kinds = [known[v] if v in known else self._kind(v, known) for v in lexemes]
        keep = [k not in self.ignore for k in all_kinds]
        kinds = list(compress(all_kinds, keep))
        values = list(compress(lexemes, keep))
        starts = [end - n for end, n in compress(zip(accumulate(lengths), lengths), keep)]
        newlines = [m.start() for m in _NEWLINE.finditer(text)]
        line_starts = [0] + [n + 1 for n in newlines]
        lines = [bisect_right(newlines, s) + 1 for s in starts]
        cols = [s - line_starts[line - 1] + 1 for s, line in zip(starts, lines)]
        end = len(text)
        kinds.append("$END")
        values.append("")
        starts.append(end)
        lines.append(len(line_starts))
        cols.append(end - line_starts[-1] + 1)
        return kinds, values, starts, lines, cols

    def _kind(self, lexeme: str, known: dict[str, str]) -> str:
        m = self.kinds.match(lexeme)
        if m is None or m.end() != len(lexeme) or m.lastgroup is None:
            raise Unparsed  # (cannot happen: the same alternatives matched this lexeme in the text)
        kind = self.keywords.get(m.lastgroup, {}).get(lexeme, m.lastgroup)
        if "\n" in lexeme and kind not in self.ignore:
            raise Unparsed  # tokens are on one line (so a span's end is on the line of its last token)
        known[lexeme] = kind
        return kind


_NEWLINE = re.compile("\n")


def _non_capturing(regex: str) -> str:
    """`regex` with its capturing groups made non-capturing (`findall` returns whole matches then)."""
    out, i, in_class = [], 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            out.append(regex[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(" and not regex.startswith("(?", i):
            c = "(?:"
        out.append(c)
        i += 1
    return "".join(out)


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


# Binding power of the binary operators (`binary`): compare < arith < term; 0 ends an operand chain.
_LEVELS = {"COMP": 1, "PLUS": 2, "MINUS": 2, "STAR": 3, "SLASH": 3, "AT": 3}
_DECL_STARTS = ("DIM", "TYPE", "BOX", "DEF", "DIAGRAM", "IMPORT", "NAME")
_alias = build.NAME_ALIASES.get  # (build.name_of without a Python call, for the frequent names)
_DIM_END = ("COMMA", "RSQB")
_NO_EXPR = ("COLON", "COMMA", "RSQB")


class _Parser:
    """Recursive descent over the token lists; `i` is the next token. Methods are named after the
    rules of dsl.lark they parse."""

    def __init__(self, text: str, filename: str, lexicon: Lexicon):
        self.text, self.filename = text, filename
        self.kinds, self.values, self.starts, self.lines, self.cols = lexicon.tokenize(text)
        # Lark counts lines by "\n" only, so split the same way (as `SpanMaker`)
        self.text_lines = [line.rstrip("\r") for line in text.split("\n")]
        self.i = 0
        self.depth = 0
        self.unchecked: list[Any] = []
        self.long_part = False
        self.extent = (0, 0)

    # ------------------------------------------------------------ helpers

    def span(self, first: int) -> Span:
        """From token `first` to the last token consumed."""
        last = self.i - 1
        line = self.lines[first]
        return Span(self.filename, line, self.cols[first], self.lines[last],
                    self.cols[last] + len(self.values[last]), self.text_lines[line - 1])

    def expect(self, kind: str) -> str:
        if self.kinds[self.i] != kind:
            raise Unparsed
        self.i += 1
        return self.values[self.i - 1]

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise Unparsed

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
            decl = getattr(self, "decl_" + kind)()
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
                return ast.DimDecl(tuple(names), self.span(first), tuple(spans))
            self.i += 1

    def name_span(self) -> Span:
        self.expect("NAME")
        return self.span(self.i - 1)

    def decl_TYPE(self) -> ast.TypeAlias:  # type_alias: "type" NAME "=" type
        first = self.i
        self.i += 1
        name = build.name_of(self.expect("NAME"))
        self.expect("EQUAL")
        t = self.type()
        return ast.TypeAlias(name, t, self.span(first))

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
        return ast.Import(path, alias, self.span(first))

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
        self.i += 1
        name_span = self.name_span()
        name = build.name_of(self.values[self.i - 1])
        self.expect("LPAR")
        params: list[ast.Param] = []
        while self.kinds[self.i] != "RPAR":  # params: param ("," param)* ","?
            start = self.i
            params.append(self.param())
            self.measure_part(start)
            if self.kinds[self.i] != "COMMA":
                break
            self.i += 1
        self.expect("RPAR")
        ret = None
        if self.kinds[self.i] == "_ARROW":
            start = self.i
            self.i += 1
            ret = self.type()
            self.measure_part(start)
        self.expect("LBRACE")
        stmts = self.body()
        self.expect("RBRACE")
        return build.make_def(name, tuple(params), ret, stmts, self.span(first), name_span)

    def param(self) -> ast.Param:  # param: NAME [":" type] ["=" expr]
        first = self.i
        name = build.name_of(self.expect("NAME"))
        t = default = None
        if self.kinds[self.i] == "COLON":
            self.i += 1
            t = self.type()
        if self.kinds[self.i] == "EQUAL":
            self.i += 1
            default = self.expr()
        return ast.Param(name, t, self.span(first), default)

    def body(self) -> list[Any]:  # body: (_stmt | ";")*   _stmt: assign | return_stmt
        stmts: list[Any] = []
        kinds, values = self.kinds, self.values
        while True:
            kind = kinds[self.i]
            first = self.i
            if kind == "NAME":  # assign: NAME ("," NAME)* "=" expr
                names, spans = [], []
                while True:
                    spans.append(self.name_span())
                    name = values[self.i - 1]
                    names.append(_alias(name, name))
                    if kinds[self.i] != "COMMA":
                        break
                    self.i += 1
                self.expect("EQUAL")
                value = self.expr()
                stmt: Any = ast.Assign(tuple(names), value, self.span(first), tuple(spans))
            elif kind == "RETURN":  # return_stmt: "return" expr ("," expr)*
                self.i += 1
                items = [self.expr()]
                while kinds[self.i] == "COMMA":
                    self.i += 1
                    items.append(self.expr())
                stmt = ast.Return(tuple(items), self.span(first))
            elif kind == "SEMICOLON":
                self.i += 1
                continue
            else:
                return stmts
            if self.i - first > SAFE_TOKENS:
                self.long_part = True
            stmts.append(stmt)

    # ------------------------------------------------------------ types

    def type(self) -> ast.TypeExpr:
        """?type: prod_type | prod_type _ARROW type -> fun_type,
        ?prod_type: type_atom | type_atom (_TENSOR type_atom)+ -> tensor_type."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise Unparsed
        first = self.i
        t = self.type_atom()
        if self.kinds[self.i] == "_TENSOR":
            items = [t]
            while self.kinds[self.i] == "_TENSOR":
                self.i += 1
                items.append(self.type_atom())
            t = ast.TupleTypeExpr(tuple(items), self.span(first))
        if self.kinds[self.i] == "_ARROW":
            self.i += 1
            t = ast.FunTypeExpr(t, self.type(), self.span(first))
        self.depth -= 1
        return t

    def type_atom(self) -> ast.TypeExpr:
        first = self.i
        kind = self.kinds[first]
        if kind == "NAME":  # NAME [dims] -> named_type
            self.i += 1
            dims = self.dims() if self.kinds[self.i] == "LSQB" else None
            name = self.values[first]
            return build.make_named_type(_alias(name, name), dims, self.span(first))
        self.expect("LPAR")
        if self.kinds[self.i] == "RPAR":  # "(" ")" -> unit_type
            self.i += 1
            return ast.TupleTypeExpr((), self.span(first))
        t = self.type()
        if self.kinds[self.i] == "RPAR":  # "(" type ")"
            self.i += 1
            return t
        items = self.tail(t, self.type)  # "(" type ("," type)* ","? ")" -> tuple_type
        return ast.TupleTypeExpr(items, self.span(first))

    def tail(self, item: Any, parse: Any) -> tuple[Any, ...]:
        """The rest of a parenthesised tuple after its first item: ("," item)* ","? ")"."""
        items = [item]
        while self.kinds[self.i] == "COMMA":
            self.i += 1
            if self.kinds[self.i] == "RPAR":
                break
            items.append(parse())
        self.expect("RPAR")
        return tuple(items)

    def dims(self) -> tuple[ast.DimRef, ...]:  # dims: "[" dim ("," dim)* "]"
        self.i += 1
        out = [self.dim()]
        while self.kinds[self.i] == "COMMA":
            self.i += 1
            out.append(self.dim())
        self.expect("RSQB")
        return tuple(out)

    def dim(self) -> ast.DimRef:  # dim: dim_sum
        first = self.i
        kind = self.kinds[first]
        if (kind == "NAME" or kind == "NUMBER") and self.kinds[first + 1] in _DIM_END:  # (the common case)
            self.i += 1
            value, span = self.values[first], self.span(first)
            atom = build.make_num(value, span) if kind == "NUMBER" else ast.Name(_alias(value, value), span)
            return build.make_dim(atom, span, value)
        e = self.dim_sum()
        last = self.i - 1
        return build.make_dim(e, self.span(first), self.text[self.starts[first]:self.starts[last] + len(self.values[last])])

    def dim_sum(self) -> ast.Expr:  # ?dim_sum: dim_prod | dim_sum (PLUS | MINUS) dim_prod -> dim_binop
        self.enter()
        first = self.i
        e = self.dim_prod()
        while self.kinds[self.i] in ("PLUS", "MINUS"):
            op = self.values[self.i]
            self.i += 1
            e = ast.BinOp(op, e, self.dim_prod(), self.span(first))
        self.depth -= 1
        return e

    def dim_prod(self) -> ast.Expr:  # ?dim_prod: dim_atom | dim_prod STAR dim_atom -> dim_binop
        first = self.i
        e = self.dim_atom()
        while self.kinds[self.i] == "STAR":
            self.i += 1
            e = ast.BinOp("*", e, self.dim_atom(), self.span(first))
        return e

    def dim_atom(self) -> ast.Expr:  # ?dim_atom: NUMBER -> num | NAME -> name | "(" dim_sum ")"
        first = self.i
        kind = self.kinds[first]
        if kind == "NUMBER" or kind == "NAME":
            self.i += 1
            value = self.values[first]
            if kind == "NUMBER":
                return build.make_num(value, self.span(first))
            return ast.Name(build.name_of(value), self.span(first))
        self.expect("LPAR")
        e = self.dim_sum()
        self.expect("RPAR")
        return e

    # ------------------------------------------------------------ expressions

    def expr(self) -> ast.Expr:  # ?expr: cond | cond _LAMBDA expr -> lambda_
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise Unparsed
        first = self.i
        e = self.cond()
        if self.kinds[self.i] == "_LAMBDA":
            self.i += 1
            e = build.make_lambda(e, self.expr(), self.span(first))
        self.depth -= 1
        return e

    def cond(self) -> ast.Expr:  # ?cond: compare | compare "?" expr ":" cond -> conditional
        first = self.i
        e = self.binary(1)
        if self.kinds[self.i] == "QMARK":
            self.enter()
            self.i += 1
            then = self.expr()
            self.expect("COLON")
            e = ast.Cond(e, then, self.cond(), self.span(first))
            self.depth -= 1
        return e

    def binary(self, min_level: int) -> ast.Expr:
        """The binary levels by precedence climbing (`_LEVELS`): ?compare: arith | arith COMP arith,
        ?arith: term ((PLUS | MINUS) term)*, ?term: unary ((STAR | SLASH | AT) unary)*. A chain folds
        to the left, each partial result spanning from the chain's first operand."""
        first = self.i
        e = self.unary()
        kinds, values = self.kinds, self.values
        level = _LEVELS.get(kinds[self.i], 0)
        while level >= min_level:
            op = values[self.i]
            self.i += 1
            e = ast.BinOp(build.op_of(op), e, self.binary(level + 1), self.span(first))
            if level == 1 and kinds[self.i] == "COMP":  # not associative: `a < b < c` is an error
                raise Unparsed
            level = _LEVELS.get(kinds[self.i], 0)
        return e

    def unary(self) -> ast.Expr:
        """?unary: power | (PLUS | MINUS) unary -> unary, ?power: postfix | postfix POW unary -> power
        (the exponent is a unary expression: `2 ^ -1`, and `a ^ b ^ c` is a ^ (b ^ c))."""
        first = self.i
        kind = self.kinds[first]
        if kind == "PLUS" or kind == "MINUS":
            self.enter()
            self.i += 1
            e: ast.Expr = ast.UnaryOp(self.values[first], self.unary(), self.span(first))
            self.depth -= 1
            return e
        e = self.postfix()
        if self.kinds[self.i] == "POW":
            self.enter()
            self.i += 1
            e = ast.BinOp("^", e, self.unary(), self.span(first))
            self.depth -= 1
        return e

    def postfix(self) -> ast.Expr:
        first = self.i
        kinds = self.kinds
        if kinds[first] == "NAME":  # (the common atom, without the call)
            self.i += 1
            value = self.values[first]
            e: ast.Expr = ast.Name(_alias(value, value), self.span(first))
        else:
            e = self.atom()
        while True:
            kind = kinds[self.i]
            if kind == "LPAR":  # postfix "(" [args] ")" -> call
                self.i += 1
                items = self.args() if kinds[self.i] != "RPAR" else ()
                self.expect("RPAR")
                e = build.make_call(e, items, self.span(first))
            elif kind == "LSQB":  # postfix "[" subscripts "]" -> index
                self.i += 1
                subs = self.subscripts()
                self.expect("RSQB")
                e = ast.Index(e, subs, self.span(first))
            elif kind == "DOT":  # postfix "." NAME -> attr
                self.i += 1
                e = ast.Attr(e, build.name_of(self.expect("NAME")), self.span(first))
            else:
                return e

    def args(self) -> tuple[Any, ...]:  # args: _arg ("," _arg)* ","?   _arg: expr | kwarg
        items = [self.arg()]
        while self.kinds[self.i] == "COMMA":
            self.i += 1
            if self.kinds[self.i] == "RPAR":
                break
            items.append(self.arg())
        return tuple(items)

    def arg(self) -> Any:
        if self.kinds[self.i] == "NAME" and self.kinds[self.i + 1] == "EQUAL":
            return self.kwarg()
        return self.expr()

    def kwarg(self) -> ast.Keyword:  # kwarg: NAME "=" expr
        first = self.i
        name = build.name_of(self.expect("NAME"))
        self.expect("EQUAL")
        return ast.Keyword(name, self.expr(), self.span(first))

    def subscripts(self) -> tuple[Any, ...]:  # subscripts: _subscript ("," _subscript)* ","?
        items = [self.subscript()]
        while self.kinds[self.i] == "COMMA":
            self.i += 1
            if self.kinds[self.i] == "RSQB":
                break
            items.append(self.subscript())
        return tuple(items)

    def subscript(self) -> Any:  # _subscript: expr | slice   slice: [expr] COLON [expr] [COLON [expr]]
        first = self.i
        lo = hi = step = None
        if self.kinds[self.i] != "COLON":
            lo = self.expr()
            if self.kinds[self.i] != "COLON":
                return lo
        self.i += 1
        if self.kinds[self.i] not in _NO_EXPR:
            hi = self.expr()
        if self.kinds[self.i] == "COLON":
            self.i += 1
            if self.kinds[self.i] not in _NO_EXPR[1:]:
                step = self.expr()
        return ast.Slice(lo, hi, step, self.span(first))

    def atom(self) -> ast.Expr:
        first = self.i
        kind = self.kinds[first]
        value = self.values[first]
        self.i += 1
        if kind == "NAME":
            return ast.Name(build.name_of(value), self.span(first))
        if kind == "NUMBER":
            return build.make_num(value, self.span(first))
        if kind == "STRING":
            return ast.Str(build.unescape(value), self.span(first))
        if kind == "TRUE" or kind == "FALSE":
            return ast.Bool(kind == "TRUE", self.span(first))
        if kind != "LPAR":
            raise Unparsed
        if self.kinds[self.i] == "RPAR":  # "(" ")" -> tuple
            self.i += 1
            return ast.TupleExpr((), self.span(first))
        e = self.expr()
        if self.kinds[self.i] == "RPAR":  # "(" expr ")" -> paren
            self.i += 1
            return e
        return ast.TupleExpr(self.tail(e, self.expr), self.span(first))

    # ------------------------------------------------------------ morphisms

    # A chain's partial results span from its first operand to the current one, each operand taken
    # without the parentheses around it (the AstBuilder sees an inlined `"(" morphism ")"` as the
    # tree inside): `extent` holds the token indices of the last operand parsed, parentheses stripped.

    def span_of(self, first: int, last: int) -> Span:
        """From token `first` to token `last`."""
        line = self.lines[first]
        return Span(self.filename, line, self.cols[first], self.lines[last],
                    self.cols[last] + len(self.values[last]), self.text_lines[line - 1])

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
            m = ast.MTensor(m, right, self.span_of(first, self.extent[1]))
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
            return ast.MBox(".".join(parts), (), self.span(first))
        self.i += 1  # mname "[" [kwargs] "]" -> mbox_params
        kwargs: list[ast.Keyword] = []
        while self.kinds[self.i] != "RSQB":  # kwargs: kwarg ("," kwarg)* ","?
            kwargs.append(self.kwarg())
            if self.kinds[self.i] != "COMMA":
                break
            self.i += 1
        self.expect("RSQB")
        return ast.MBox(".".join(parts), tuple(kwargs), self.span(first))

