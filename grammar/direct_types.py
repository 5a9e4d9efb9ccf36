"""The base of the direct parser: its state over the token lists, its helpers, types and dims.

`TypeParser` holds the token lists of `grammar.lexicon.Tokens` (`i` is the next token) and parses
types and dims by recursive descent over the rules of `dsl.lark` (each method names its rule);
`grammar.direct_exprs` adds expressions on top, and `grammar.direct` declarations, statements and
point-free morphisms. Every node is built the way `grammar.build` and the Lark path build it (spans
included), by `grammar.frozen.constructor` for the frequent ones; spans are made as the tuples they
are. Anything it does not accept raises `Unparsed`.

Why the hot methods look as they do: the common types (`f64`, `f64[n, 3]`) are built by one method
(`tensor_type`) at once; the token lists are unpacked from one tuple (`tables`) into locals, one
attribute load instead of one per list; names are aliased once per parse (`names`).

>>> from grammar.parser import _lexicon
>>> t = TypeParser("f64[n, 3] -> f64", "t.dsl", _lexicon()).type()
>>> type(t).__name__, [d.value for d in t.arg.dims], t.res.span.col
('FunTypeExpr', ['n', 3], 14)
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

_DIM_END = ("COMMA", "RSQB")
_TYPE_OPS = ("_TENSOR", "_ARROW")
_alias = build.NAME_ALIASES.get
_DTYPES = frozenset(build.DTYPES)

_new_tuple = tuple.__new__  # a Span from a tuple of its fields, without the call through `Span.__new__`
_Name = constructor(ast.Name)
_DimRef = constructor(ast.DimRef)
_TensorType = constructor(ast.TensorTypeExpr)
_TupleType = constructor(ast.TupleTypeExpr)
_FunType = constructor(ast.FunTypeExpr)
_BinOp = constructor(ast.BinOp)


class TypeParser:
    """The parser's state and helpers, and types and dims, by recursive descent over the token lists."""

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
            t = _TupleType(tuple(items), self.span(first))
        if kinds[self.i] == "_ARROW":
            self.i += 1
            t = _FunType(t, self.type(), self.span(first))
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
            return _TupleType((), self.span(first))
        t = self.type()
        if kinds[self.i] == "RPAR":  # "(" type ")"
            self.i += 1
            return t
        items = self.tail(t, self.type)  # "(" type ("," type)* ","? ")" -> tuple_type
        return _TupleType(items, self.span(first))

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
            e = _BinOp(op, e, self.dim_prod(), self.span(first))
        self.depth -= 1
        return e

    def dim_prod(self) -> ast.Expr:  # ?dim_prod: dim_atom | dim_prod STAR dim_atom -> dim_binop
        first = self.i
        e = self.dim_atom()
        while self.kinds[self.i] == "STAR":
            self.i += 1
            e = _BinOp("*", e, self.dim_atom(), self.span(first))
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
