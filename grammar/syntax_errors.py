"""Turning Lark's syntax errors into `ParseError`s a user can act on.

Classes of message: unexpected characters (lexer), unclosed/unmatched brackets, keywords used as
names, and "unexpected X; expected one of: ..." with the expected tokens in words rather than
Lark's terminal names (RPAR, __ANON_3, ...).

>>> describe_token_type("RPAR"), describe_token_type("NAME"), describe_token_type("COMP")
("')'", 'a name', 'a comparison')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr, TerminalDef

from grammar.errors import ParseError, Span
from grammar.transformer import SpanMaker

OPENERS = {"LPAR": "(", "LSQB": "[", "LBRACE": "{"}
CLOSERS = {"RPAR": ")", "RSQB": "]", "RBRACE": "}"}
MATCHING = {"(": ")", "[": "]", "{": "}"}
# The keywords' terminals (DEF, TRUE, ...) and texts, from the grammar (`register_terminals`).
KEYWORDS: set[str] = set()
_KEYWORD_TEXTS: list[str] = []

# Terminals whose name or pattern says nothing to a user; string terminals are shown quoted.
WORDS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "$END": "end of input",
    "COMP": "a comparison", "POW": "'^'", "MSEQ": "'>>' or '∘'", "_TENSOR": "'⊗'", "_ARROW": "'->'",
    "_LAMBDA": "'=>'",
}
# Tokens that can start an expression: when all are expected, say "an expression" once instead.
EXPR_START = frozenset({"NAME", "NUMBER", "STRING", "LPAR", "PLUS", "MINUS", "TRUE", "FALSE"})
# Binary operators that may follow an operand: shown as "an operator".
BINARY_OPS = frozenset({"PLUS", "MINUS", "STAR", "SLASH", "AT", "POW", "COMP"})
_STRINGS: dict[str, str] = {}  # terminal name -> its literal text, filled by `register_terminals`


def register_terminals(terminals: Iterable[TerminalDef], keywords: dict[str, str]) -> None:
    """Remember the literal text of the grammar's string terminals (LPAR -> "(") and its keywords
    (text -> terminal, e.g. "def" -> DEF, in the order messages list them) for messages."""
    for term in terminals:
        if isinstance(term.pattern, PatternStr):
            _STRINGS[term.name] = term.pattern.value
    KEYWORDS.update(keywords.values())
    _KEYWORD_TEXTS[:] = list(keywords)


def describe_token_type(name: str) -> str:
    """How a person would write a terminal: `')'`, `a name`, `keyword 'def'`."""
    if name in WORDS:
        return WORDS[name]
    if name in _STRINGS:
        text = _STRINGS[name]
        return f"keyword '{text}'" if name in KEYWORDS else f"'{text}'"
    if name in CLOSERS:
        return f"'{CLOSERS[name]}'"
    if name in OPENERS:
        return f"'{OPENERS[name]}'"
    return name.lower()


def describe_expected(expected: set[str] | frozenset[str]) -> str:
    """The expected terminals in words, expression starts and operators grouped, sorted for stability."""
    names = set(expected)
    words: list[str] = []
    if EXPR_START <= names:
        names -= EXPR_START
        words.append("an expression")
    if BINARY_OPS <= names:
        names -= BINARY_OPS
        words.append("an operator")
    words += sorted({describe_token_type(n) for n in names})
    return ", ".join(words)


def describe_token(tok: Token) -> str:
    """The offending token as the user wrote it."""
    if tok.type == "$END":
        return "end of input"
    if tok.type in KEYWORDS:
        return f"keyword '{tok}'"
    if tok.type == "NAME":
        return f"name '{tok}'"
    if tok.type == "NUMBER":
        return f"number {tok}"
    return f"'{tok}'"


def lexer_error(err: UnexpectedCharacters, text: str, spans: SpanMaker) -> ParseError:
    """An unexpected character (or an unterminated string literal)."""
    pos = err.pos_in_stream
    ch = text[pos] if pos is not None and 0 <= pos < len(text) else "?"
    span = spans.at(err.line, err.column, err.line, err.column + 1)
    if ch == '"':
        return ParseError("unterminated string literal", span, hint='a string must end with " on the same line')
    shown = ch if ch.isprintable() else repr(ch)
    return ParseError(f"unexpected character '{shown}'", span)


def open_brackets(tokens: Sequence[Token], before: int | None) -> tuple[list[Token], Token | None]:
    """The brackets still open before offset `before` (None: the whole input), and the first closer
    that did not match (an unmatched or mismatched one), if any came before it."""
    stack: list[Token] = []
    for tok in tokens:
        if before is not None and tok.start_pos is not None and tok.start_pos >= before:
            break
        if tok.type in OPENERS:
            stack.append(tok)
        elif tok.type in CLOSERS:
            if not stack or MATCHING[str(stack[-1])] != str(tok):
                return stack, tok
            stack.pop()
    return stack, None


def _where(tok: Token) -> str:
    return f"{tok.line}:{tok.column}"


def _token_span(tok: Token, spans: SpanMaker) -> Span:
    return spans.at(tok.line or 1, tok.column or 1, tok.end_line or 1, tok.end_column or 1)


def _bracket_error(stack: list[Token], bad: Token | None, spans: SpanMaker) -> ParseError | None:
    """An unmatched closer, a closer that meets a different opener, or brackets open at the end."""
    if bad is not None and not stack:
        return ParseError(f"unmatched '{bad}' (no bracket to close)", _token_span(bad, spans))
    if bad is not None:
        opener = stack[-1]
        return ParseError(f"unclosed '{opener}' opened at {_where(opener)}",
                          _token_span(opener, spans),
                          hint=f"found '{bad}' at {_where(bad)} before the matching '{MATCHING[str(opener)]}'")
    return None


def syntax_error(err: UnexpectedInput, text: str, tokens: Sequence[Token], spans: SpanMaker) -> ParseError:
    """Classify a Lark parse error (raised after lexing succeeded) into a ParseError."""
    if isinstance(err, UnexpectedCharacters):
        return lexer_error(err, text, spans)
    if not isinstance(err, UnexpectedToken):
        line, col = getattr(err, "line", 1) or 1, getattr(err, "column", 1) or 1
        return ParseError("syntax error", spans.at(line, col, line, col + 1))
    tok = err.token
    at_end = tok.type == "$END"
    stack, _ = open_brackets(tokens, None if at_end else tok.start_pos)
    if at_end and stack:
        opener = stack[-1]
        return ParseError(f"unclosed '{opener}' opened at {_where(opener)}", _token_span(opener, spans),
                          hint="the input ended before it was closed")
    if not at_end and tok.type in CLOSERS:
        classified = _bracket_error(*open_brackets(tokens, tok.end_pos), spans)
        if classified is not None:
            return classified
    return _unexpected(err, tok, stack, tokens, spans)


def _unexpected(err: UnexpectedToken, tok: Token, stack: list[Token], tokens: Sequence[Token],
                spans: SpanMaker) -> ParseError:
    expected = set(err.expected)
    span = _end_span(tokens, spans) if tok.type == "$END" else _token_span(tok, spans)
    if tok.type in KEYWORDS and "NAME" in expected:
        return ParseError(f"'{tok}' is a keyword and cannot be used as a name", span,
                          hint=f"keywords: {' '.join(_KEYWORD_TEXTS)}")
    return ParseError(f"unexpected {describe_token(tok)}; expected one of: {describe_expected(expected)}", span,
                      hint=_hint(tok, expected, stack))


def _hint(tok: Token, expected: set[str], stack: list[Token]) -> str | None:
    """A likely cause of an unexpected token, when one can be guessed."""
    # A '{' left open is normal (we are in a def body); an open '(' or '[' is a likely culprit when its
    # closer would have been accepted here or it was opened on an earlier line.
    if stack and str(stack[-1]) in "([":
        opener = stack[-1]
        closer = "RPAR" if str(opener) == "(" else "RSQB"
        if closer in expected or opener.line != tok.line:
            return f"'{opener}' opened at {_where(opener)} is not closed yet"
    if "EQUAL" in expected and expected <= {"EQUAL", "COMMA"}:
        return "a statement is `name = expr`, `a, b = expr` or `return expr`"
    if tok.type == "RETURN":
        return "return may only end the body of a def"
    if tok.type in ("DEF", "DIM", "TYPE", "BOX", "DIAGRAM", "IMPORT"):
        return "declarations cannot be nested; close the previous one first"
    return None


def _end_span(tokens: Sequence[Token], spans: SpanMaker) -> Span:
    """Just after the last token (where the missing text should have been)."""
    if not tokens:
        return spans.at(1, 1, 1, 2)
    last = tokens[-1]
    line, col = last.end_line or 1, last.end_column or 1
    return spans.at(line, col, line, col + 1)
