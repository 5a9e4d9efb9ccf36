"""`parse(text, filename) -> ast.Module`: the direct parser, and the Lark LALR parser of `dsl.lark`.

Two paths, one grammar. `parse` first runs the direct parser (`grammar.direct`: tokens compiled
from the grammar's terminals, a recursive descent over its rules, nodes built by `grammar.build`),
which builds the AST in one pass, ≈ 20x faster than Lark's parse tree plus the AST builder
(`benchmarks/parse.py`). It never reports an error: anything it does not accept (a syntax error, a
failed check, very deep nesting) goes to the Lark path below, which reports it exactly as it always
did, or parses it. A test (tests/test_parse_direct.py) checks that both paths give equal ASTs,
spans included, and equal errors. Then the depth check (stage 4) runs on what may be too deep.

The Lark path's stages, each turning its failures into a `ParseError` with a span:

1. LALR-parse the text (iterative in Lark), counting bracket nesting depth while it is lexed, so
   that absurd nesting is refused before anything recursive runs; on an error the text is lexed
   again and the first problem is reported: an unexpected character (or unterminated string),
   brackets nested too deeply, or a syntax error classified by `grammar.syntax_errors`;
2. (the tables are analysed once and cached on disk: see `_lark`);
3. build the AST with the iterative `AstBuilder`, which also rejects what the grammar lets
   through but the language does not (`x = 3` at top level, a def without `return`, ...);
4. check the AST's depth: later stages recurse over it, so an expression deeper than
   `MAX_DEPTH` (e.g. a 3,000-term `x + x + ...`, which folds into a 3,000-deep BinOp) is an error.

>>> m = parse("dim n\\ndef f(x: f64[n]) -> f64 { return sum(x ^ 2) }", "m.dsl")
>>> [type(d).__name__ for d in m.decls]
['DimDecl', 'Def']
>>> parse_expr("x => 2 * x").params
('x',)
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, get_args

from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput

from grammar import ast, direct
from grammar.errors import ParseError, Span
from grammar.gcpause import paused_gc
from grammar.lexicon import Lexicon
from grammar.syntax_errors import OPENERS, lexer_error, register_terminals, syntax_error
from grammar.transformer import AstBuilder, SpanMaker

GRAMMAR_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dsl.lark")
# Deepest expression accepted. Later stages walk the AST recursively (a few Python frames per
# level), so this keeps them well inside Python's default recursion limit of 1000.
MAX_DEPTH = 200
_NESTING_HINT = "split the expression into several statements with intermediate names"


class _TooDeep(Exception):
    """Raised from the lexer callbacks when brackets nest deeper than MAX_DEPTH."""


class _BracketDepth:
    """Bracket nesting counted while Lark lexes (through `lexer_callbacks`), so that the text is
    lexed once per parse; on any error the text is lexed again to classify it (`_parse`)."""

    def __init__(self) -> None:
        self.local = threading.local()  # one count per thread: parses may run concurrently

    def reset(self, limit: float = MAX_DEPTH) -> None:
        self.local.depth = 0
        self.local.limit = limit

    def open(self, tok: Token) -> Token:
        self.local.depth += 1
        if self.local.depth > self.local.limit:
            raise _TooDeep
        return tok

    def close(self, tok: Token) -> Token:
        self.local.depth = max(0, self.local.depth - 1)
        return tok


_DEPTH = _BracketDepth()


@lru_cache(maxsize=1)
def _lark() -> Lark:
    """The parser, built once per process. Lark's `cache=True` keeps the analysed LALR tables in a
    file in the temporary directory, named by the SHA-256 of the grammar text and the options, so
    a changed `dsl.lark` is analysed afresh and later processes only unpickle the tables."""
    callbacks = {**dict.fromkeys(OPENERS, _DEPTH.open), **dict.fromkeys(("RPAR", "RSQB", "RBRACE"), _DEPTH.close)}
    with open(GRAMMAR_PATH, encoding="utf-8") as f:
        grammar = f.read()
        parser = Lark(grammar, parser="lalr", lexer="basic", propagate_positions=True,
                      maybe_placeholders=True, start=["start", "expr_start"], cache=True,
                      lexer_callbacks=callbacks)
    found = keywords(Lexicon.from_terminals(parser.terminals, parser.lexer_conf.ignore))
    # (messages list the keywords in the order the grammar introduces them: `dim` first)
    register_terminals(parser.terminals, {k: found[k] for k in sorted(found, key=lambda k: grammar.find(f'"{k}"'))})
    return parser


def keywords(lexicon: Lexicon | None = None) -> dict[str, str]:
    """The grammar's keywords, text -> terminal: the string terminals its name terminal would
    otherwise match (`def` -> DEF), so they cannot be names.

    >>> sorted(keywords())[:4]
    ['as', 'box', 'def', 'diagram']
    """
    lexicon = lexicon or _lexicon()
    return {text: term for absorbed in lexicon.keywords.values() for text, term in absorbed.items()}


@lru_cache(maxsize=1)
def _lexicon() -> Lexicon:
    """The direct parser's tokens, compiled from the grammar's terminals (once per process)."""
    return Lexicon.from_terminals(_lark().terminals, _lark().lexer_conf.ignore)


def parse(text: str, filename: str = "<string>") -> ast.Module:
    """Parse DSL source into an `ast.Module`; every syntax error is a `ParseError` with a span."""
    try:
        with paused_gc():
            decls, unchecked = direct.parse_tokens(text, filename, _lexicon())
    except (direct.Unparsed, ParseError):
        return parse_with_lark(text, filename)  # it reports the error (or parses what the direct parser left)
    for decl in unchecked:
        _check_depth(decl)
    return ast.Module(filename, decls, text)


def parse_expr(text: str, filename: str = "<string>") -> ast.Expr:
    """Parse a single expression (e.g. the text of `dsl.fn("x => sin(x)")`)."""
    try:
        with paused_gc():
            e, unchecked = direct.parse_expression(text, filename, _lexicon())
    except (direct.Unparsed, ParseError):
        return _parse_with_lark(text, filename, "expr_start")  # type: ignore[no-any-return]
    for root in unchecked:
        _check_depth(root)
    return e


def parse_with_lark(text: str, filename: str = "<string>") -> ast.Module:
    """`parse` through the reference path only (Lark's parse tree and `AstBuilder`): the path that
    reports every error, used by tests and benchmarks to compare with the direct parser."""
    return ast.Module(filename, _parse_with_lark(text, filename, "start"), text)


def _parse_with_lark(text: str, filename: str, start: str) -> Any:
    spans = SpanMaker(filename, text)
    _DEPTH.reset()
    try:
        tree = _lark().parse(text, start=start)
    except (LarkError, _TooDeep) as err:
        # The error path lexes the whole text again: a bad character anywhere, then brackets
        # nested too deeply, are reported before a syntax error (the order of the stages above).
        tokens = _lex(text, spans)
        _check_bracket_depth(tokens, spans)
        if isinstance(err, UnexpectedInput):
            raise syntax_error(err, text, tokens, spans) from None
        # any other Lark failure is still the user's syntax, never a traceback
        raise ParseError(f"syntax error: {str(err).splitlines()[0]}", spans.at(1, 1, 1, 2)) from None
    result = AstBuilder(filename, text).build(tree)
    for root in result if isinstance(result, tuple) else (result,):
        _check_depth(root)
    return result


def _lex(text: str, spans: SpanMaker) -> list[Token]:
    """All tokens of `text` (comments and whitespace dropped); bad characters are a ParseError."""
    _DEPTH.reset(limit=float("inf"))  # `_check_bracket_depth` reports the depth with its span
    try:
        return list(_lark().lex(text))
    except UnexpectedCharacters as err:
        raise lexer_error(err, text, spans) from None


def _check_bracket_depth(tokens: list[Token], spans: SpanMaker) -> None:
    """Refuse more than MAX_DEPTH nested brackets, pointing at the first bracket too deep."""
    depth = 0
    for tok in tokens:
        if tok.type in OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                span = spans.at(tok.line or 1, tok.column or 1, tok.end_line or 1, tok.end_column or 1)
                raise ParseError(f"expression nested too deeply (limit {MAX_DEPTH})", span, hint=_NESTING_HINT)
        elif tok.type in ("RPAR", "RSQB", "RBRACE"):
            depth = max(0, depth - 1)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _node_fields(cls: type) -> tuple[str, ...]:
    """The fields of an AST class that can hold sub-nodes (spans excluded), memoised per class."""
    if cls not in _FIELDS:
        _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if "span" not in f.name)
    return _FIELDS[cls]


def _subnodes(node: Any) -> Iterator[Any]:
    for name in _node_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, tuple):
            yield from (v for v in value if dataclasses.is_dataclass(v))
        elif dataclasses.is_dataclass(value):
            yield value


# Nodes that start an expression-like tree: a too-deep error points at the whole outermost one.
_TREE_ROOTS = (*get_args(ast.Expr), *get_args(ast.Morphism), *get_args(ast.TypeExpr))


def _check_depth(root: Any) -> None:
    """Refuse an AST deeper than MAX_DEPTH (iteratively, so the check itself cannot overflow).

    The error's span is the outermost expression (or morphism, or type) containing the too-deep
    part: for `x + x + ... + x` that is the whole chain, which is what the user must split."""
    stack: list[tuple[Any, int, Span | None]] = [(root, 1, None)]
    while stack:
        node, depth, outer = stack.pop()
        if outer is None and isinstance(node, _TREE_ROOTS):
            outer = node.span
        if depth > MAX_DEPTH:
            raise ParseError(f"expression nested too deeply (limit {MAX_DEPTH})", outer or getattr(node, "span", None),
                             hint=_NESTING_HINT)
        stack.extend((child, depth + 1, outer) for child in _subnodes(node))

