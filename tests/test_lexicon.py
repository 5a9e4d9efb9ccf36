"""The tokenizer (`grammar.lexicon`, `grammar.pieces`) on the paths of its bulk cut: the new pieces of each run of
lines cut by one `findall` over them joined, their new token texts classified together, lines that
only their whole cut can cut (strings, comments, blanks other than spaces, characters no terminal
matches) cut alone. Each test compares the tokens, lines and columns with Lark's lexer (the oracle),
or counts the regex calls the bulk cut makes."""

from __future__ import annotations

import dataclasses
import os
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grammar import ParseError, direct
from grammar import pieces as pieces_module
from grammar.parser import _lex, _lexicon
from grammar.transformer import SpanMaker


def tokens(text: str) -> list[tuple[str, str, int, int, int]]:
    t = _lexicon().tokenize(text)
    assert (t.kinds[-1], t.values[-1]) == ("$END", "")
    return list(zip(t.kinds, t.values, t.lines, t.cols, t.ends))[:-1]


def larks(text: str) -> list[tuple[str, str, int | None, int | None, int | None]]:
    return [(t.type, str(t), t.line, t.column, t.end_column) for t in _lex(text, SpanMaker("t.dsl", text))]


@pytest.mark.parametrize("text", [
    # a piece new on line 2 then known on line 3; lines mixing known and new pieces
    "def f(x: f64) -> f64 { return x }\ndef g(y: f64) -> f64 { return y }\ndef g(y: f64) -> f64 { return y }",
    # keywords as new pieces, alone and before a rest; names that start as keywords
    "return def(x) define returns return(x) true false truex dim, type=box",
    # numbers and operators that only one terminal may start with, and those two may (`.`)
    "x.5 .5 5. 5.e3 1e-3 x.T a.b ->- => >= ** *** == = != <= ≤ ≥ ≠ ⊗ | →",
    # indentation, blank lines, a line of spaces, spaces at the end and two in a row
    "  a\n\n    b  c \n   \nd\t e\n",
    # the same piece on a line cut whole (a comment) and on a line cut by pieces
    "f(x) # f(x) y\nf(x) y\n",
    # a string holding a character that no terminal matches, then the same piece outside one
    'import "a $b" as c\nx = 1',
    # comments whose words no terminal matches (their lines are cut whole, their pieces never alone)
    "x = 1 # it's $5, f(x)\n# a\\b `c`\nf(x) y\n",
    # "\r\n" line ends (a "\r" at the end of a line is cut off it; elsewhere its line is cut whole)
    "def f(x) {\r\n  return x # c\r\n}\r\n\r\n x\ry \r\n\r",
    # non-ASCII text: names, a blank other than a space (a line cut whole), a line separator
    "∇f é1 x∘y\ny\xa0z\nw\u2028v",
])
def test_tokens_are_larks_tokens(text):
    assert tokens(text) == larks(text)


# pieces that start with a name, their rests repeating (then cut as the name and the rest, a piece of
# its own): keywords and names before a rest, names alone, a rest first seen as a piece later
NAMED = "\n".join(f"def f{k}(x: f64[n]) -> f64 {{ return(x) + g{k}(x) * define(x) + x{k} }}" for k in range(40))


@pytest.mark.parametrize("text", [NAMED, NAMED + "\n(x) (x: x(x) return", "aé(x) bé(x) cé(x) d(x) e(x)\nf(x) é(x)"])
def test_pieces_that_start_with_a_name_are_cut_as_lark_cuts_them(text):
    assert tokens(text) == larks(text)


BAD_RESTS = NAMED + "\n" + " ".join(f"a{k}$" for k in range(40))  # (names split off pieces whose rest no terminal matches)


@pytest.mark.parametrize("text", ["x $ y", "a$b", "def f(x) { return x$ }", "x\n$y", BAD_RESTS])
def test_a_character_no_terminal_matches_is_left_to_the_lark_path(text):
    with pytest.raises(direct.Unparsed):
        _lexicon().tokenize(text)


def test_runs_of_lines_longer_than_a_chunk_are_cut_as_lark_cuts_them():
    rng = random.Random(3)
    words = ["x", "y1", "f(x,", "z)", "+", "2.5", "def", "return", "[n]", "#", '"s t"', "\t"]
    rows = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))) for _ in range(pieces_module.CHUNK + 50)]
    text = "\n".join(rows)
    assert tokens(text) == larks(text)


def test_the_first_character_names_the_terminal_only_where_one_terminal_starts_with_it():
    first_kinds = _lexicon().first_kinds
    assert (first_kinds["a"], first_kinds["_"], first_kinds["7"], first_kinds["("]) == ("NAME", "NAME", "NUMBER", "LPAR")
    assert "." not in first_kinds and "=" not in first_kinds and "-" not in first_kinds  # (`.5` / `.`; `==` / `=`; `->` / `-`)


class _Counted:
    """A regex whose `findall` calls are counted."""

    def __init__(self, pattern: re.Pattern[str]):
        self.pattern, self.calls = pattern, 0

    def findall(self, text: str) -> list[str]:
        self.calls += 1
        return self.pattern.findall(text)


@pytest.mark.parametrize("rows", [100, 3000])
def test_new_pieces_are_cut_in_bulk_one_findall_per_chunk(rows):
    # every line holds new names and numbers: the pieces are cut by one `findall` per chunk of lines,
    # whatever their number (not one per piece or per line)
    lexicon = _lexicon()
    assert lexicon.pieces is not None
    counted = _Counted(lexicon.pieces[1])  # (the ASCII one: the text is ASCII)
    counting = dataclasses.replace(lexicon, pieces=(lexicon.pieces[0], counted))  # type: ignore[arg-type]
    text = "\n".join(f"def f{k}(a{k}: f64) -> f64 {{ return a{k} * {k}.25 }}" for k in range(rows))
    t = counting.tokenize(text)
    assert counted.calls == -(-rows // pieces_module.CHUNK)
    assert list(zip(t.kinds, t.values, t.lines, t.cols, t.ends))[:-1] == larks(text)


def test_lines_that_end_with_cr_are_cut_by_pieces():
    # ("\r\n" line ends: the "\r" is a blank after the line's last token, not a reason to cut it whole)
    lexicon = _lexicon()
    counted = _Counted(lexicon.lexemes)  # (the regex of lines cut whole)
    counting = dataclasses.replace(lexicon, lexemes=counted)  # type: ignore[arg-type]
    text = "\r\n".join(f"def f{k}(x: f64) -> f64 {{\r\n  return x * {k}.5 \r\n}}" for k in range(50)) + "\r\n"
    t = counting.tokenize(text)
    assert counted.calls == 50  # (the lines with a space before their "\r": their last piece is empty)
    assert list(zip(t.kinds, t.values, t.lines, t.cols, t.ends))[:-1] == larks(text)


def test_names_are_split_off_pieces_only_where_their_regex_is_a_run():
    # dsl.lark's NAME on ASCII text: a letter or "_", then the longest run of letters, digits, "_"
    from grammar.lexicon import _ascii_names

    lexicon = _lexicon()
    assert lexicon.ascii_names is not None and lexicon.names is not None
    name, start, run = lexicon.ascii_names
    assert name == "NAME" and {"a", "Z", "_"} <= start and "7" not in start and set(run) == start | set("0123456789")
    first_kinds = lexicon.first_kinds
    assert _ascii_names(("NAME", re.compile("[a-z]+")), first_kinds) is None  # (not a char then a `*` run)
    assert _ascii_names(("NAME", re.compile("[a-z][a-z]*?")), first_kinds) is None  # (not the longest run)
    assert _ascii_names(("NAME", re.compile("[a-z0-9][a-z]*")), first_kinds) is None  # (`7` starts a NUMBER)


# Random lines of pieces made of a name and a rest from a few (so that rests repeat and names are
# split off; some rests hold a character no terminal matches, a quote or a tab): Lark's cut, or
# the Lark path for both.
_NAMES = st.sampled_from(["x", "y1", "def", "define", "return", "_a", "f0", "é", "x∇"])
_RESTS = st.sampled_from(["", "(", "(x:", ")", ",", "[n],", "+1", ".5", "$", '"', "\t", "->", "*2)", "é)"])


@settings(max_examples=int(os.environ.get("DSL_FUZZ_EXAMPLES", "60")), deadline=None)
@given(st.lists(st.lists(st.tuples(_NAMES, _RESTS), max_size=6), min_size=1, max_size=12))
def test_pieces_of_names_and_rests_are_cut_as_lark_cuts_them(rows):
    text = "\n".join(" ".join(name + rest for name, rest in row) for row in rows)
    try:
        expected = larks(text)
    except ParseError:
        with pytest.raises(direct.Unparsed):
            _lexicon().tokenize(text)
        return
    assert tokens(text) == expected
