"""The token layer of the direct parser: the grammar's terminals compiled into one regex.

`Lexicon.from_terminals` takes the terminals of `dsl.lark` (the same order, priorities and keyword
rule as Lark's basic lexer; a test compares the token streams), and `Lexicon.tokenize` cuts a text
into `Tokens`: parallel lists of kinds, texts, lines and columns, which the parser indexes.

Why it is shaped this way (it runs once per character of every source, so its constant matters):
each line is cut by ONE `findall` of a master regex, in C (its alternatives ordered for speed:
`grammar.alternation`); each lexeme carries the whitespace before it (so there are half as many
matches as tokens plus gaps); every distinct lexeme is then classified once per parse (names,
operators and numbers repeat), and the per-token lists are built by `map`/`accumulate`/`repeat`
over the lexemes with dict lookups, never by a Python loop per token.

>>> from grammar.parser import _lark
>>> lexicon = Lexicon.from_terminals(_lark().terminals, _lark().lexer_conf.ignore)
>>> t = lexicon.tokenize("def f(x) {\\n  return x # done\\n}")
>>> list(zip(t.kinds, t.values, t.lines, t.cols, t.ends))[6:]
[('RETURN', 'return', 2, 3, 9), ('NAME', 'x', 2, 10, 11), ('RBRACE', '}', 3, 1, 2), ('$END', '', 3, 2, 2)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate, compress, islice, repeat
from operator import sub

from lark.lexer import PatternStr, TerminalDef

from grammar.alternation import fast_alternation, regex_pieces


class Unparsed(Exception):
    """Raised for any text the direct parser leaves to the Lark path (errors are reported there)."""


@dataclass(frozen=True)
class Tokens:
    """The tokens of a text as parallel lists, the last one `$END`: kind (terminal name), text,
    line, column and end column (1-based, end exclusive: a span's `end_col`)."""

    kinds: list[str]
    values: list[str]
    lines: list[int]
    cols: list[int]
    ends: list[int]


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
        return Lexicon(re.compile(f"{gap}(?:{lexemes})"), re.compile(gap), re.compile(kinds), keywords, ignore)

    def tokenize(self, text: str) -> Tokens:
        """The tokens of `text` (ignored terminals dropped), then `$END`; `Unparsed` if a character
        is no terminal's (the Lark path reports it).

        Line by line (Lark counts lines by "\\n" only; no token spans lines): a line's lexemes give
        its tokens' lines (`repeat`) and end columns (the running sum of their lengths) with no
        pass over the whole text to find where lines start."""
        findall = self.lexemes.findall
        lexemes: list[str] = []
        lines: list[int] = []
        ends: list[int] = []
        number = 0
        line = ""
        for number, line in enumerate(text.split("\n"), 1):
            found = findall(line)
            if found:
                lexemes += found
                lines += repeat(number, len(found))
                ends += islice(accumulate(map(len, found), initial=1), 1, None)
                if ends[-1] != len(line) + 1:
                    raise Unparsed  # findall skipped a character that no terminal matches
            elif line:
                raise Unparsed  # (nothing on the line is a token)
        distinct = list(set(lexemes))
        # each distinct lexeme's token text: what follows the gap (all of it for blanks alone, at
        # the end of a line: an ignored token), found in C when the gap is plain whitespace
        if self.gap.pattern == r"\s*":  # (`str.lstrip` strips what `\s` matches)
            texts = list(map(str.lstrip, distinct))
        else:
            gap_end = self.gap.match
            texts = [lexeme[gap_end(lexeme).end():] for lexeme in distinct]  # type: ignore[union-attr]
        while "" in texts:  # (in C; only blanks at the end of a line are a lexeme of their own)
            blank = texts.index("")
            texts[blank] = distinct[blank]
        kind_of_text = {text: self._kind(text) for text in set(texts)}
        kind_of = dict(zip(distinct, map(kind_of_text.__getitem__, texts)))
        value_of = dict(zip(distinct, texts))
        kinds = list(map(kind_of.__getitem__, lexemes))
        values = list(map(value_of.__getitem__, lexemes))
        cols = list(map(sub, ends, map(len, values)))
        if not self.ignore.isdisjoint(kind_of_text.values()):  # comments, blanks at the end of a line
            keep = [kind not in self.ignore for kind in kinds]
            kinds, values, lines, cols, ends = (list(compress(x, keep)) for x in (kinds, values, lines, cols, ends))
        kinds.append("$END")
        values.append("")
        lines.append(number)
        cols.append(len(line) + 1)
        ends.append(len(line) + 1)
        return Tokens(kinds, values, lines, cols, ends)

    def _kind(self, value: str) -> str:
        """The terminal of a token's text."""
        m = self.kinds.fullmatch(value)
        if m is None or m.lastgroup is None:
            raise Unparsed  # (cannot happen: the same alternatives matched this text in the lexeme)
        kind = self.keywords.get(m.lastgroup, {}).get(value, m.lastgroup)
        if "\n" in value and kind not in self.ignore:
            raise Unparsed  # tokens are on one line (so a span's end is on the line of its last token)
        return kind


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
