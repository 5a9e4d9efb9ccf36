"""The expression layer of the direct parser: types, dims and expressions.

`ExprParser` walks the token lists of `grammar.lexicon.Tokens` (`i` is the next token) by
recursive descent over the rules of `dsl.lark` (each method names its rule) and builds every node
the way `grammar.build` and the Lark path build it (spans included); `grammar.direct` adds the
declarations, statements and point-free morphisms on top. Anything it does not accept raises `Unparsed`.

Why it is shaped this way: the binary operators are parsed by precedence climbing (one loop for
all levels), and a unary/postfix/atom operand by one method, so that an operand costs one or two
Python calls instead of one per grammar level; nodes are made with `grammar.frozen.constructor`,
spans as the tuples they are.

>>> from grammar.parser import _lexicon
>>> p = ExprParser("x * 2 + f(y)[0]", "e.dsl", _lexicon())
>>> e = p.expr()
>>> e.op, e.left.op, type(e.right).__name__, e.right.span.col, e.span.end_col
('+', '*', 'Index', 9, 16)
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

from grammar import ast, build
from grammar.errors import Span
from grammar.frozen import constructor
from grammar.lexicon import Lexicon, Unparsed

# Recursion of the parser's own methods is bounded so that it cannot overflow Python's stack: deeper
# nesting (rare in real models) goes to the Lark path, which is iterative and reports what is too deep.
MAX_NESTING = 60

# Binding power of the binary operators: compare < arith < term; 0 ends an operand chain.
_LEVELS = {"COMP": 1, "PLUS": 2, "MINUS": 2, "STAR": 3, "SLASH": 3, "AT": 3}
_POSTFIX = frozenset(("LPAR", "LSQB", "DOT", "POW"))  # what may follow an atom within an operand
_DIM_END = ("COMMA", "RSQB")
_TYPE_OPS = ("_TENSOR", "_ARROW")
_LEAVES = ("NAME", "NUMBER")
_ARG_END = ("COMMA", "RPAR")
_OP_ALIASES = build.OP_ALIASES
_NO_EXPR = ("COLON", "COMMA", "RSQB")
_alias = build.NAME_ALIASES.get
_DTYPES = frozenset(build.DTYPES)

_new_tuple = tuple.__new__  # a Span from a tuple of its fields, without the call through `Span.__new__`
_Name = constructor(ast.Name)
_BinOp = constructor(ast.BinOp)
_Call = constructor(ast.Call)
_Index = constructor(ast.Index)
_DimRef = constructor(ast.DimRef)
_TensorType = constructor(ast.TensorTypeExpr)
_UnaryOp = constructor(ast.UnaryOp)
_Attr = constructor(ast.Attr)
_Keyword = constructor(ast.Keyword)
_Cond = constructor(ast.Cond)
_TupleExpr = constructor(ast.TupleExpr)
_Slice = constructor(ast.Slice)


class ExprParser:
    """Recursive descent over the token lists, from types up to expressions."""

    def __init__(self, text: str, filename: str, lexicon: Lexicon):
        self.text, self.filename = text, filename
        tokens = lexicon.tokenize(text)
        self.kinds, self.values, self.lines, self.ends = tokens.kinds, tokens.values, tokens.lines, tokens.ends
        # Each token's text as a name (`build.name_of`: `∇` is `nabla`), for NAME tokens; made once,
        # in C, and only if the text has such a name at all: otherwise it is `values` itself.
        self.names = self.values
        if any(alias in text for alias in build.NAME_ALIASES):
            self.names = list(map(_alias, self.values, self.values))
        # Lark counts lines by "\n" only, so split the same way (as `SpanMaker`); [0] is a dummy, so
        # that line n's text is line_texts[n] (spans index it with a token's line)
        texts = text.split("\n")
        if "\r" in text:
            texts = list(map(str.rstrip, texts, repeat("\r")))
        self.line_texts = ["", *texts]
        # (the hot methods take what they need from this tuple in one unpacking)
        self.tables = (self.kinds, self.values, self.names, self.lines, self.ends, self.line_texts, filename)
        self.i = 0
        self.depth = 0
        self.extent = (0, 0)

    # ------------------------------------------------------------ helpers

    def span(self, first: int) -> Span:
        """From token `first` to the last token consumed."""
        last = self.i - 1
        line = self.lines[first]
        col = self.ends[first] - len(self.values[first])
        return _new_tuple(Span, (self.filename, line, col, self.lines[last], self.ends[last], self.line_texts[line]))

    def span_of(self, first: int, last: int) -> Span:
        """From token `first` to token `last`."""
        line = self.lines[first]
        col = self.ends[first] - len(self.values[first])
        return _new_tuple(Span, (self.filename, line, col, self.lines[last], self.ends[last], self.line_texts[line]))

    def expect(self, kind: str) -> str:
        if self.kinds[self.i] != kind:
            raise Unparsed
        self.i += 1
        return self.values[self.i - 1]

    def name_span(self) -> Span:
        self.expect("NAME")
        return self.span(self.i - 1)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise Unparsed

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

    # ------------------------------------------------------------ types

    def type(self) -> ast.TypeExpr:
        """?type: prod_type | prod_type _ARROW type -> fun_type,
        ?prod_type: type_atom | type_atom (_TENSOR type_atom)+ -> tensor_type."""
        kinds = self.kinds
        first = self.i
        if kinds[first] == "NAME":  # (the common `f64` or `f64[n, 3]`, at once)
            tensor = self.tensor_type(first)
            if tensor is not None:
                return tensor
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise Unparsed
        t = self.type_atom()
        if kinds[self.i] == "_TENSOR":
            items = [t]
            while kinds[self.i] == "_TENSOR":
                self.i += 1
                items.append(self.type_atom())
            t = ast.TupleTypeExpr(tuple(items), self.span(first))
        if kinds[self.i] == "_ARROW":
            self.i += 1
            t = ast.FunTypeExpr(t, self.type(), self.span(first))
        self.depth -= 1
        return t

    def type_atom(self) -> ast.TypeExpr:
        first = self.i
        kinds = self.kinds
        if kinds[first] == "NAME":  # NAME [dims] -> named_type
            self.i += 1
            name = self.names[first]
            if kinds[self.i] != "LSQB":
                return build.make_named_type(name, None, self.span(first))
            dims = self.dims()
            if name in _DTYPES:  # (the common case of `build.make_named_type`)
                return _TensorType(name, dims, self.span(first))
            return build.make_named_type(name, dims, self.span(first))
        self.expect("LPAR")
        if kinds[self.i] == "RPAR":  # "(" ")" -> unit_type
            self.i += 1
            return ast.TupleTypeExpr((), self.span(first))
        t = self.type()
        if kinds[self.i] == "RPAR":  # "(" type ")"
            self.i += 1
            return t
        items = self.tail(t, self.type)  # "(" type ("," type)* ","? ")" -> tuple_type
        return ast.TupleTypeExpr(items, self.span(first))

    def tensor_type(self, first: int) -> ast.TensorTypeExpr | None:
        """`dtype` or `dtype[d, ...]` from token `first` (a name) with each dim a name or an integer
        and nothing after it that makes it part of a bigger type (`⊗`, `->`), built as `type`
        would build it; None for anything else."""
        kinds, values, names, lines, ends, texts, fn = self.tables
        name = values[first]
        if name not in _DTYPES:
            return None
        j = first + 1
        if kinds[j] != "LSQB":  # (a scalar)
            if kinds[j] in _TYPE_OPS:
                return None
            self.i = j
            line = lines[first]
            end = ends[first]
            return _TensorType(name, (), _new_tuple(Span, (fn, line, end - len(name), line, end, texts[line])))
        j += 1
        if kinds[j] == "NAME" and kinds[j + 1] == "RSQB" and kinds[j + 2] not in _TYPE_OPS:  # (one named dim: at once)
            text = values[j]
            line = lines[j]
            end = ends[j]
            dim = _DimRef(names[j], _new_tuple(Span, (fn, line, end - len(text), line, end, texts[line])))
            self.i = j + 2
            line = lines[first]
            return _TensorType(name, (dim,), _new_tuple(Span, (fn, line, ends[first] - len(name), lines[j + 1], ends[j + 1],
                                                               texts[line])))
        dims = []
        while True:
            text = values[j]
            kind = kinds[j]
            value: str | int
            if kind == "NAME":
                value = names[j]
            elif kind == "NUMBER" and text.isdigit() and len(text) <= 18:
                value = int(text)
            else:
                return None  # (`make_dim` decides)
            line = lines[j]
            end = ends[j]
            dims.append(_DimRef(value, _new_tuple(Span, (fn, line, end - len(text), line, end, texts[line]))))
            after = kinds[j + 1]
            j += 2
            if after != "COMMA":
                if after != "RSQB" or kinds[j] in _TYPE_OPS:
                    return None
                break
        self.i = j
        line = lines[first]
        span = _new_tuple(Span, (fn, line, ends[first] - len(name), lines[j - 1], ends[j - 1], texts[line]))
        return _TensorType(name, tuple(dims), span)

    def dims(self) -> tuple[ast.DimRef, ...]:  # dims: "[" dim ("," dim)* "]"
        kinds, names = self.kinds, self.names
        out = []
        while True:
            self.i += 1  # "[" or ","
            i = self.i
            if kinds[i] == "NAME" and kinds[i + 1] in _DIM_END:  # (the common case of `dim`)
                self.i += 1
                out.append(_DimRef(names[i], self.span(i)))
            else:
                out.append(self.dim())
            if kinds[self.i] != "COMMA":
                break
        if kinds[self.i] != "RSQB":
            raise Unparsed
        self.i += 1
        return tuple(out)

    def dim(self) -> ast.DimRef:  # dim: dim_sum
        first = self.i
        e = self.dim_sum()
        span = self.span(first)
        if self.i - 1 == first:  # one token
            return build.make_dim(e, span, self.values[first])
        if span.end_line != span.line:
            raise Unparsed  # (a dim written over several lines: the Lark path keeps its source text)
        return build.make_dim(e, span, self.line_texts[span.line][span.col - 1:span.end_col - 1])

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
            return _Name(build.name_of(value), self.span(first))
        self.expect("LPAR")
        e = self.dim_sum()
        self.expect("RPAR")
        return e

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
            return ast.Str(build.unescape(value), self.span(first))
        if kind == "TRUE" or kind == "FALSE":
            return ast.Bool(kind == "TRUE", self.span(first))
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
