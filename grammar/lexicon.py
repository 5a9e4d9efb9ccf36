"""The token layer of the direct parser: the grammar's terminals compiled into one regex.

`Lexicon.from_terminals` takes the terminals of `dsl.lark` (the same order, priorities and keyword
rule as Lark's basic lexer; a test compares the token streams), and `Lexicon.tokenize` cuts a text
into `Tokens`: parallel lists of kinds, texts, lines and end columns, which the parser indexes.

Why it is shaped this way (it runs once per character of every source, so its constant matters):
a regex match costs ≈ 1,700 machine instructions in `re` whatever the regex (a `findall` over a
33-token line: ~60% of the cut), while `str.split(" ")` cuts a line into its pieces between spaces
in C at a fraction of that. Pieces repeat (`f64[n],`, `=`, `return`, `sin(y)`, names), so each
line is split at its spaces and each distinct piece is cut once per parse, by one `findall` of the
master regex (its alternatives ordered for speed: `grammar.alternation`); the line's token texts
and end columns are then its pieces' cuts joined in C (`list.extend` of each piece's tuple of
texts and widths in turn, `accumulate` of the widths), and the kinds are the texts' kinds (one
`map` over the text), never by a Python loop per token or piece.

A piece is cut as part of its line would be unless a token crosses a space there, which only a
terminal whose matches may contain a space can do (a string, a comment): a line holding a
character such a token starts with (`"`, `#`, computed from the terminals), whitespace other than
single spaces between pieces, or ignored tokens, is cut whole by one `findall` (each lexeme
carrying the whitespace before it, so that the running sum of their lengths gives the columns).
A new piece that starts with a name is cut as that name then its rest, most often a piece
already cut (`f0(x:` after `(x:`, `y,`), when no terminal looks at the text before its match.
Every distinct lexeme is classified once per parse (names, operators and numbers repeat).

>>> from grammar.parser import _lark
>>> lexicon = Lexicon.from_terminals(_lark().terminals, _lark().lexer_conf.ignore)
>>> t = lexicon.tokenize("def f(x) {\\n  return x # done\\n}")
>>> list(zip(t.kinds, t.values, t.lines, t.cols, t.ends))[6:]
[('RETURN', 'return', 2, 3, 9), ('NAME', 'x', 2, 10, 11), ('RBRACE', '}', 3, 1, 2), ('$END', '', 3, 2, 2)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate, compress, islice, repeat
from operator import sub
from typing import TypeVar

from lark.lexer import PatternStr, TerminalDef

from grammar.alternation import context_free, fast_alternation, first_chars, regex_pieces, spans_blanks, unrivalled

T = TypeVar("T")


class Unparsed(Exception):
    """Raised for any text the direct parser leaves to the Lark path (errors are reported there)."""


@dataclass(frozen=True)
class Tokens:
    """The tokens of a text as parallel lists, the last one `$END`: kind (terminal name), text,
    line and end column (1-based, end exclusive: a span's `end_col`). A token's column is its end
    less its length (`cols`): the parser computes it for the first token of a span only."""

    kinds: list[str]
    values: list[str]
    lines: list[int]
    ends: list[int]

    @property
    def cols(self) -> list[int]:
        """Each token's column (1-based)."""
        return list(map(sub, self.ends, map(len, self.values)))


@dataclass(frozen=True)
class Lexicon:
    """The tokens of the language, compiled from the grammar's terminals.

    `lexemes` matches optional whitespace (`gap`) then any terminal (ignored ones included), with
    no capturing group, so that `findall` returns whole lexemes; `kinds` has one named group per
    terminal, and names the terminal of a lexeme's text after its gap. `kinds` is ordered as Lark's
    basic lexer orders the terminals, so the first alternative that matches at a position is Lark's
    token there; `lexemes` is that alternation reordered where the order cannot change what matches
    (`grammar.alternation`), which `re` runs twice as fast."""

    lexemes: re.Pattern[str]
    gap: re.Pattern[str]
    kinds: re.Pattern[str]
    keywords: dict[str, dict[str, str]]  # regex terminal -> {keyword text -> its terminal}: NAME -> {"def": DEF}
    ignore: frozenset[str]
    # the characters that may start a token containing a space (`"`, `#`); None: lines are never
    # cut at their spaces first (the gap is not plain whitespace, or the terminals are not understood)
    crossing: re.Pattern[str] | None = None
    # the terminal of names (NAME) and its regex when no terminal before it may start as a name does:
    # a new token text that it matches in full is a name or a keyword, without the `kinds` match
    names: tuple[str, re.Pattern[str]] | None = None
    # `names` again when no terminal looks at the text before its match (no anchor, look-around):
    # then a piece's leading name is its first token and the rest is cut as it would be alone
    leading: re.Pattern[str] | None = None

    @staticmethod
    def from_terminals(terminals: Iterable[TerminalDef], ignore: Iterable[str]) -> Lexicon:
        """As Lark's basic lexer: by priority, then longest possible match first; a string terminal
        that a regex terminal of equal priority matches in full is a keyword of it, recognised after
        the match (so `define` is a name and `def` the keyword)."""
        ignore = frozenset(ignore)
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
        gap = _gap([t.pattern.to_regexp() for t in kept if t.name in ignore])
        names = next((t.pattern.to_regexp() for t in kept if t.name in keywords), None)  # (the terminal of names)
        lexemes = fast_alternation([(_non_capturing(t.pattern.to_regexp()), t.name in ignore) for t in kept],
                                   names and _non_capturing(names))
        kinds = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in kept)
        crossing = _crossing(gap, [t.pattern.to_regexp() for t in kept if t.name not in ignore or not
                                   re.fullmatch(t.pattern.to_regexp(), " ")])
        regexes = [t.pattern.to_regexp() for t in kept]
        k = next((k for k, t in enumerate(kept) if t.name in keywords), None)
        fast_names = None if k is None or not unrivalled(regexes, k) else (kept[k].name, re.compile(regexes[k]))
        leading = (fast_names and all(map(context_free, regexes)) and fast_names[1]) or None
        return Lexicon(re.compile(f"{gap}(?:{lexemes})"), re.compile(gap), re.compile(kinds), keywords, ignore, crossing,
                       fast_names, leading)

    def tokenize(self, text: str) -> Tokens:
        """The tokens of `text` (ignored terminals dropped), then `$END`; `Unparsed` if a character
        is no terminal's (the Lark path reports it).

        Line by line (Lark counts lines by "\\n" only; no token spans lines), and on most lines piece
        by piece: see the module doc."""
        cuts: list[str | int] = []  # each token's text and width, in turn (one `extend` per piece)
        lines: list[int] = []
        ends: list[int] = []
        cut = _Cut(self)
        piece_cuts, add_cuts = cut.cuts.__getitem__, cuts.extend
        number = 0
        line = ""
        for number, line in enumerate(text.split("\n"), 1):
            body = line.lstrip(" ")
            if not body:
                continue  # (a blank line: no tokens)
            pieces = body.split(" ")
            first = len(cuts)
            try:  # (`any` runs `extend` on each piece's tuple, in C: no iterator per piece)
                any(map(add_cuts, map(piece_cuts, pieces)))  # type: ignore[arg-type]
            except TypeError:  # (a piece that only its line's cut can cut: its cut is None)
                del cuts[first:]
                line_values, line_ends = cut.line(line)
                pairs: list[str | int] = [0] * (2 * len(line_values))
                pairs[::2] = line_values
                cuts += pairs
                ends += line_ends
                lines += repeat(number, len(line_values))
                continue
            start = len(ends)
            ends += accumulate(cuts[first + 1::2], initial=len(line) - len(body))  # type: ignore[arg-type]
            del ends[start]  # (the initial value)
            lines += repeat(number, len(ends) - start)
        values: list[str] = cuts[::2]  # type: ignore[assignment]
        kinds = list(map(cut.kind_of_value.__getitem__, values))  # (a token's kind is its text's)
        kinds.append("$END")
        values.append("")
        lines.append(number)
        ends.append(len(line) + 1)
        return Tokens(kinds, values, lines, ends)

    def name_kind(self, name: str) -> str:
        """The terminal of a text that the names terminal matches in full (`names` is known): a
        keyword's (`def` -> DEF) or the names terminal's."""
        names = self.names[0]  # type: ignore[index]
        return self.keywords[names].get(name, names)

    def _kind(self, value: str) -> str:
        """The terminal of a token's text."""
        if self.names is not None and self.names[1].fullmatch(value):
            return self.name_kind(value)
        m = self.kinds.fullmatch(value)
        if m is None or m.lastgroup is None:
            raise Unparsed  # (cannot happen: the same alternatives matched this text in the lexeme)
        kind = self.keywords.get(m.lastgroup, {}).get(value, m.lastgroup)
        if "\n" in value and kind not in self.ignore:
            raise Unparsed  # tokens are on one line (so a span's end is on the line of its last token)
        return kind


def _crossing(gap: str, regexes: list[str]) -> re.Pattern[str] | None:
    """The characters that may start a match of `regexes` containing a space, as one pattern; None
    when lines cannot be cut at their spaces first: the gap is not `\\s*`, or such a match may start
    with a blank or with a character not known."""
    if gap != r"\s*":
        return None
    starts = [first_chars(r) for r in regexes if spans_blanks(r)]
    if any(s is None or s.search(" \t\r\f\v") for s in starts):
        return None
    return re.compile("|".join(s.pattern for s in starts if s is not None) or "(?!)")


def _gap(ignored: list[str]) -> str:
    """The regex of the whitespace before a lexeme: ignored terminals that match a blank (`\\s+`),
    made optional. A single repeated character class (`\\s+` -> `\\s*`) is rewritten so that the
    regex engine runs it as one fast loop; anything else is wrapped in `(?:...)?`."""
    blank = [r for r in ignored if re.fullmatch(r, " ")]
    single = [r[:-1] + "*" for r in blank if re.fullmatch(r"(?:\\.|\[(?:\\.|[^\]\\])*\]|[^\\()\[|*+?{])\+", r)]
    if len(blank) == 1 and single:
        return single[0]
    return "".join(f"(?:{_non_capturing(r)})?" for r in blank)


def _non_capturing(regex: str) -> str:
    """`regex` with its capturing groups made non-capturing (`findall` returns whole matches then)."""
    return "".join("(?:" if piece == "(" and not in_class and not regex.startswith("(?", i) else piece
                   for i, piece, in_class in regex_pieces(regex))


class _Memo(dict[str, T]):
    """A dict that computes (and stores) a missing key's value on its first lookup, through
    `__missing__`: in the C lookups of `map(memo.__getitem__, keys)`, with no exception raised and
    caught for a new key."""

    def __init__(self, compute: Callable[[str], T]):
        super().__init__()
        self.compute = compute

    def __missing__(self, key: str) -> T:
        return self.compute(key)


class _Cut:
    """How `Lexicon.tokenize` cuts the pieces and lines of one text, remembered per distinct piece
    and lexeme, since they repeat: a piece's token texts and widths (the characters from the end of
    the token before to the end of each token, the space before the piece included)."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self.crossing = lexicon.crossing.search if lexicon.crossing is not None else bool
        self.leading = lexicon.leading.match if lexicon.leading is not None else None
        self.cuts: _Memo[tuple[str | int, ...] | None] = _Memo(self.piece)
        self.line_only: set[str] = set()  # pieces that only the whole line's cut can cut
        self.kind_of = _Memo(self.classify)  # lexeme -> kind of its token
        self.value_of: dict[str, str] = {}  # lexeme -> text of its token
        self.kind_of_value: dict[str, str] = {}  # text of a token -> its kind

    def piece(self, piece: str) -> tuple[str | int, ...] | None:
        """Cut a new `piece`: the text and width of each of its tokens, in turn; None if a
        token may cross a space there, it holds an ignored token (whitespace other than a space, a
        comment) or it is empty (two spaces in a row).

        A piece that starts with a name (`f0(x:`, `y,`) is that name then its rest (`(x:`, `,`),
        which most often was cut already: the two cuts joined, without a `findall`; else the rest's
        cut is remembered from the piece's, for the next piece with a new name before it."""
        lexicon = self.lexicon
        if not piece or piece in self.line_only or self.crossing(piece):
            self.line_only.add(piece)
            return None
        end = 0
        if self.leading is not None and piece[0].isalpha():  # (`isalpha`: most pieces that do not start with a name
            m = self.leading(piece)                          # fail before the regex match)
            if m is not None:
                end = m.end()
                if end == len(piece):
                    self.name(piece)
                    cut: tuple[str | int, ...] = (piece, end + 1)
                    self.cuts[piece] = cut
                    return cut
                rest = self.cuts.get(piece[end:])
                if rest is not None:
                    self.name(piece[:end])
                    cut = self.cuts[piece] = (piece[:end], end + 1, rest[0], rest[1] - 1, *rest[2:])  # type: ignore[operator]
                    return cut
        found = lexicon.lexemes.findall(piece)
        if len(found) == 1 and len(found[0]) == len(piece):  # (one token: a number, an operator)
            kind = self.kind_of[piece]
            if kind in lexicon.ignore:
                self.line_only.add(piece)
                return None
            single: tuple[str | int, ...] = (self.value_of[piece], len(piece) + 1)
            self.cuts[piece] = single
            return single
        widths = list(map(len, found))
        kinds = tuple(map(self.kind_of.__getitem__, found))
        if sum(widths) != len(piece) or not lexicon.ignore.isdisjoint(kinds):
            # (a character no terminal matches, for the line's cut to raise `Unparsed`; a comment,
            # whitespace that is not a space)
            self.line_only.add(piece)
            return None
        widths[0] += 1
        pairs: list[str | int] = [0] * (2 * len(found))
        pairs[::2] = map(self.value_of.__getitem__, found)
        pairs[1::2] = widths
        cut = self.cuts[piece] = tuple(pairs)
        if end:  # (the rest after the name, as a piece of its own: the space before it in its first width)
            self.cuts[piece[end:]] = (cut[2], cut[3] + 1, *cut[4:])  # type: ignore[operator]
        return cut

    def name(self, name: str) -> None:
        """Classify a lexeme that `Lexicon.leading` matched in full: a name or a keyword (as
        `classify` would, without its second regex match)."""
        if name not in self.kind_of:
            self.value_of[name] = name
            self.kind_of[name] = self.kind_of_value[name] = self.lexicon.name_kind(name)

    def line(self, line: str) -> tuple[list[str], list[int]]:
        """The texts and end columns of the tokens of a whole line, cut by one `findall`."""
        found = self.lexicon.lexemes.findall(line)
        ends = list(islice(accumulate(map(len, found), initial=1), 1, None))
        if not ends or ends[-1] != len(line) + 1:
            raise Unparsed  # findall skipped a character that no terminal matches
        kinds = list(map(self.kind_of.__getitem__, found))
        if not self.lexicon.ignore.isdisjoint(kinds):  # comments, blanks at the end of the line
            keep = [kind not in self.lexicon.ignore for kind in kinds]
            found, ends = list(compress(found, keep)), list(compress(ends, keep))
        return list(map(self.value_of.__getitem__, found)), ends

    def classify(self, lexeme: str) -> str:
        """The kind of a new lexeme's token (its text is what follows the gap; all of it for blanks
        alone, at the end of a line: an ignored token), and its text stored in `value_of`."""
        gap = self.lexicon.gap
        if gap.pattern == r"\s*":  # (`str.lstrip` strips what `\s` matches)
            value = lexeme.lstrip() or lexeme
        else:
            value = lexeme[gap.match(lexeme).end():] or lexeme  # type: ignore[union-attr]
        self.value_of[lexeme] = value
        kind = self.kind_of[lexeme] = self.kind_of_value[value] = self.lexicon._kind(value)
        return kind
