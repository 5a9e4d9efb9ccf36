"""The expression layer of the direct parser.

`ExprParser` adds expressions to `grammar.direct_types.TypeParser` (the parser's state over the
token lists, its helpers, types and dims), by recursive descent over the rules of `dsl.lark` (each
method names its rule), building every node the way `grammar.build` and the Lark path build it
(spans included); `grammar.direct` adds the declarations, statements and point-free morphisms on
top. Anything it does not accept raises `Unparsed`.

Why it is shaped this way: the binary operators are parsed by precedence climbing (one loop for
all levels), and a unary/postfix/atom operand by one method, so that an operand costs one or two
Python calls instead of one per grammar level; a lone name or number operand (the common case) is
built inline, without a call; nodes are made with `grammar.frozen.constructor`, spans as the
tuples they are.

>>> from grammar.parser import _lexicon
>>> p = ExprParser("x * 2 + f(y)[0]", "e.dsl", _lexicon())
>>> e = p.expr()
>>> e.op, e.left.op, type(e.right).__name__, e.right.span.col, e.span.end_col
('+', '*', 'Index', 9, 16)
"""

from __future__ import annotations

from typing import Any

from grammar import ast, build
from grammar.direct_types import MAX_NESTING, TypeParser
from grammar.errors import Span
from grammar.frozen import constructor
from grammar.lexicon import Unparsed

__all__ = ["MAX_NESTING", "ExprParser"]

# Binding power of the binary operators: compare < arith < term; 0 ends an operand chain.
_LEVELS = {"COMP": 1, "PLUS": 2, "MINUS": 2, "STAR": 3, "SLASH": 3, "AT": 3}
_POSTFIX = frozenset(("LPAR", "LSQB", "DOT", "POW"))  # what may follow an atom within an operand
_LEAVES = ("NAME", "NUMBER")
_ARG_END = ("COMMA", "RPAR")
_OP_ALIASES = build.OP_ALIASES
_NO_EXPR = ("COLON", "COMMA", "RSQB")

_new_tuple = tuple.__new__  # (see grammar.direct_types)
_Name = constructor(ast.Name)
_BinOp = constructor(ast.BinOp)
_Call = constructor(ast.Call)
_Index = constructor(ast.Index)
_UnaryOp = constructor(ast.UnaryOp)
_Attr = constructor(ast.Attr)
_Keyword = constructor(ast.Keyword)
_Cond = constructor(ast.Cond)
_TupleExpr = constructor(ast.TupleExpr)
_Slice = constructor(ast.Slice)
_Str = constructor(ast.Str)
_Bool = constructor(ast.Bool)


class ExprParser(TypeParser):
    """Recursive descent over the token lists: expressions, over `TypeParser`."""

    # ------------------------------------------------------------ expressions

    def expr(self) -> ast.Expr:
        """?expr: cond | cond _LAMBDA expr -> lambda_,
        ?cond: compare | compare "?" expr ":" cond -> conditional."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise Unparsed
        first = self.i
        e = self.binary(1)
        kind = self.kinds[self.i]
        if kind == "QMARK":
            e = self.cond_rest(e, first)
            kind = self.kinds[self.i]
        if kind == "_LAMBDA":
            self.i += 1
            e = build.make_lambda(e, self.expr(), self.span(first))
        self.depth -= 1
        return e

    def cond(self) -> ast.Expr:
        first = self.i
        e = self.binary(1)
        return self.cond_rest(e, first) if self.kinds[self.i] == "QMARK" else e

    def cond_rest(self, e: ast.Expr, first: int) -> ast.Expr:
        """`? expr : cond` after the condition `e` (tokens from `first`)."""
        self.enter()
        self.i += 1
        then = self.expr()
        self.expect("COLON")
        e = _Cond(e, then, self.cond(), self.span(first))
        self.depth -= 1
        return e

    def binary(self, min_level: int, first: int = 0, e: ast.Expr | None = None) -> ast.Expr:
        """The binary levels by precedence climbing (`_LEVELS`): ?compare: arith | arith COMP arith,
        ?arith: term ((PLUS | MINUS) term)*, ?term: unary ((STAR | SLASH | AT) unary)*. A chain folds
        to the left, each partial result spanning from the chain's first operand (`e`, from token
        `first`, when the caller parsed it). An operand that is a lone name or number (the common
        case) is built here, and a right operand climbs a level only if an operator of a higher one
        follows it."""
        kinds, values, names, lines, ends, texts, fn = self.tables
        if e is None:
            first = self.i
            kind = kinds[first]
            if (kind == "NAME" or kind == "NUMBER") and kinds[first + 1] not in _POSTFIX:  # (`leaf`, inline)
                value = values[first]
                end = ends[first]
                line = lines[first]
                span = _new_tuple(Span, (fn, line, end - len(value), line, end, texts[line]))
                e = _Name(names[first], span) if kind == "NAME" else build.make_num(value, span)
                self.i = first + 1
            else:
                e = self.unary()
        i = self.i
        level = _LEVELS.get(kinds[i], 0)
        if level < min_level:
            return e
        line = lines[first]
        col = ends[first] - len(values[first])
        text = texts[line]
        while level >= min_level:
            op = values[i]
            j = i + 1
            kind = kinds[j]
            if (kind == "NAME" or kind == "NUMBER") and (after := kinds[j + 1]) not in _POSTFIX:
                value = values[j]  # (a lone name or number: `leaf`, inline)
                end = ends[j]
                at = lines[j]
                span = _new_tuple(Span, (fn, at, end - len(value), at, end, texts[at]))
                right: ast.Expr = _Name(names[j], span) if kind == "NAME" else build.make_num(value, span)
                i = j + 1
            else:
                self.i = j
                right = self.unary()
                i = self.i
                after = kinds[i]
            next_level = _LEVELS.get(after, 0)
            if next_level > level:  # (`a + b * c`: the right operand is `b * c`)
                self.i = i
                right = self.binary(level + 1, j, right)
                i = self.i
                next_level = _LEVELS.get(kinds[i], 0)
            e = _BinOp(_OP_ALIASES.get(op, op), e, right, _new_tuple(Span, (fn, line, col, lines[i - 1], ends[i - 1], text)))
            if level == 1 and next_level == 1:  # not associative: `a < b < c` is an error
                raise Unparsed
            level = next_level
        self.i = i
        return e

    def leaf(self, j: int) -> ast.Expr:
        """The name or number at token j, as `atom` builds it (the caller checked the kind)."""
        self.i = j + 1
        kinds, values, names, lines, ends, texts, fn = self.tables
        value = values[j]
        line = lines[j]
        end = ends[j]
        span = _new_tuple(Span, (fn, line, end - len(value), line, end, texts[line]))
        if kinds[j] == "NAME":
            return _Name(names[j], span)
        return build.make_num(value, span)

    def unary(self) -> ast.Expr:
        """?unary: power | (PLUS | MINUS) unary -> unary, ?power: postfix | postfix POW unary -> power
        (the exponent is a unary expression: `2 ^ -1`, and `a ^ b ^ c` is a ^ (b ^ c)),
        ?postfix: atom | postfix "(" [args] ")" -> call | postfix "[" subscripts "]" -> index
        | postfix "." NAME -> attr."""
        first = self.i
        kinds = self.kinds
        kind = kinds[first]
        if kind == "NAME" or kind == "NUMBER":  # (the common atoms, without `atom`)
            e: ast.Expr = self.leaf(first)
            if kinds[first + 1] not in _POSTFIX:
                return e
        elif kind == "PLUS" or kind == "MINUS":
            self.enter()
            self.i += 1
            e = _UnaryOp(self.values[first], self.unary(), self.span(first))
            self.depth -= 1
            return e
        else:
            e = self.atom()
        while kinds[self.i] in _POSTFIX:
            kind = kinds[self.i]
            self.i += 1
            if kind == "LPAR":  # call
                j = self.i
                if kinds[j] == "RPAR":
                    self.i += 1
                    e = _Call(e, (), (), self.span(first))
                    continue
                if kinds[j] in _LEAVES and kinds[j + 1] == "RPAR":  # (`f(x)`: one lone name or number)
                    items: tuple[Any, ...] = (self.leaf(j),)
                    keywords = False
                else:
                    items, keywords = self.args()
                    if kinds[self.i] != "RPAR":
                        raise Unparsed
                self.i += 1
                # (`make_call` checks the order and uniqueness of keyword arguments)
                e = build.make_call(e, items, self.span(first)) if keywords else _Call(e, items, (), self.span(first))
            elif kind == "LSQB":  # index
                subs = self.subscripts()
                self.expect("RSQB")
                e = _Index(e, subs, self.span(first))
            elif kind == "DOT":  # attr
                e = _Attr(e, build.name_of(self.expect("NAME")), self.span(first))
            else:  # power: the end of the operand
                self.enter()
                e = _BinOp("^", e, self.unary(), self.span(first))
                self.depth -= 1
                return e
        return e

    def args(self) -> tuple[tuple[Any, ...], bool]:  # args: _arg ("," _arg)* ","?   _arg: expr | kwarg
        """The arguments, and whether there is a keyword argument among them."""
        kinds = self.kinds
        items: list[Any] = []
        keywords = False
        while True:
            j = self.i
            kind = kinds[j]
            if kind in _LEAVES and kinds[j + 1] in _ARG_END:  # a lone name or number
                items.append(self.leaf(j))
            elif kind == "NAME" and kinds[j + 1] == "EQUAL":
                items.append(self.kwarg())
                keywords = True
            else:
                items.append(self.expr())
            if kinds[self.i] != "COMMA":
                break
            self.i += 1
            if kinds[self.i] == "RPAR":
                break
        return tuple(items), keywords

    def kwarg(self) -> ast.Keyword:  # kwarg: NAME "=" expr
        first = self.i
        name = build.name_of(self.expect("NAME"))
        self.expect("EQUAL")
        return _Keyword(name, self.expr(), self.span(first))

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
        return _Slice(lo, hi, step, self.span(first))

    def atom(self) -> ast.Expr:
        """?atom: NUMBER | STRING | TRUE | FALSE | NAME | "(" expr ")" | a tuple."""
        first = self.i
        kind = self.kinds[first]
        value = self.values[first]
        self.i += 1
        if kind == "NUMBER":
            return build.make_num(value, self.span(first))
        if kind == "NAME":
            return _Name(build.name_of(value), self.span(first))
        if kind == "STRING":
            return _Str(build.unescape(value), self.span(first))
        if kind == "TRUE" or kind == "FALSE":
            return _Bool(kind == "TRUE", self.span(first))
        if kind != "LPAR":
            raise Unparsed
        if self.kinds[self.i] == "RPAR":  # "(" ")" -> tuple
            self.i += 1
            return _TupleExpr((), self.span(first))
        e = self.expr()
        if self.kinds[self.i] == "RPAR":  # "(" expr ")" -> paren
            self.i += 1
            return e
        return _TupleExpr(self.tail(e, self.expr), self.span(first))
