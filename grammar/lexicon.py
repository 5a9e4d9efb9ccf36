"""The token layer of the direct parser: the grammar's terminals compiled into one regex.

`Lexicon.from_terminals` takes the terminals of `dsl.lark` (the same order, priorities and keyword
rule as Lark's basic lexer; a test compares the token streams), and `Lexicon.tokenize` cuts a text
into `Tokens`: parallel lists of kinds, texts, lines and columns, which the parser indexes.

Why it is shaped this way (it runs once per character of every source, so its constant matters):
the whole text is cut by ONE `findall` of a master regex, in C; each lexeme carries the whitespace
before it (so there are half as many matches as tokens plus gaps); every distinct lexeme is then
classified once per parse (names, operators and numbers repeat), and the per-token lists are built
by `map`/`accumulate` over the lexemes with dict lookups, never by a Python loop per token.

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
from itertools import accumulate, compress, repeat
from operator import sub

from lark.lexer import PatternStr, TerminalDef


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
    terminal, and names the terminal of a lexeme's text after its gap. Both
    alternations are ordered as Lark's basic lexer orders them, so the first alternative that
    matches at a position is Lark's token there."""

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
        lexemes = "|".join(_non_capturing(t.pattern.to_regexp()) for t in kept)
        kinds = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in kept)
        return Lexicon(re.compile(f"{gap}(?:{lexemes})"), re.compile(gap), re.compile(kinds), keywords, ignore)

    def tokenize(self, text: str) -> Tokens:
        """The tokens of `text` (ignored terminals dropped), then `$END`; `Unparsed` if a character
        is no terminal's (the Lark path reports it)."""
        lexemes = self.lexemes.findall(text)
        distinct = list(set(lexemes))
        # each distinct lexeme's token text: what follows the gap (all of it for blanks alone, at
        # the end of the text: an ignored token), found in C when the gap is plain whitespace
        if self.gap.pattern == r"\s*":  # (`str.lstrip` strips what `\s` matches)
            texts = list(map(str.lstrip, distinct))
        else:
            gap_end = self.gap.match
            texts = [lexeme[gap_end(lexeme).end():] for lexeme in distinct]  # type: ignore[union-attr]
        while "" in texts:  # (in C; only blanks at the end of the text are a lexeme of their own)
            blank = texts.index("")
            texts[blank] = distinct[blank]
        kind_of_text = {text: self._kind(text) for text in set(texts)}
        kind_of = dict(zip(distinct, map(kind_of_text.__getitem__, texts)))
        value_of = dict(zip(distinct, texts))
        # (a kept token has no newline: a lexeme's newlines are in its gap)
        newlines_of = dict(zip(distinct, map(str.count, distinct, repeat("\n"))))
        offsets = list(accumulate(map(len, lexemes)))  # of each lexeme's end
        if (offsets[-1] if offsets else 0) != len(text):
            raise Unparsed  # findall skipped a character that no terminal matches
        kinds = list(map(kind_of.__getitem__, lexemes))
        values = list(map(value_of.__getitem__, lexemes))
        # a lexeme's newlines are in the whitespace before its token: the line is the count so far
        lines = list(accumulate(map(newlines_of.__getitem__, lexemes), initial=1))
        del lines[0]
        # column = offset - (offset of the line's start - 1), through a table of line starts
        before_line = [0, -1, *(m.start() for m in _NEWLINE.finditer(text))]
        ends = list(map(sub, offsets, map(before_line.__getitem__, lines)))
        cols = list(map(sub, ends, map(len, values)))
        ignored = [lexeme for lexeme, kind in kind_of.items() if kind in self.ignore]
        if ignored and ignored == lexemes[-1:] and lexemes[-1].isspace():
            # only the whitespace at the end (blanks elsewhere are in the gap before a token)
            for column in (kinds, values, lines, cols, ends):
                column.pop()
        elif ignored:  # comments
            keep = [kind not in self.ignore for kind in kinds]
            kinds, values, lines, cols, ends = (list(compress(x, keep)) for x in (kinds, values, lines, cols, ends))
        last_line = len(before_line) - 1
        end_col = len(text) - before_line[last_line]
        kinds.append("$END")
        values.append("")
        lines.append(last_line)
        cols.append(end_col)
        ends.append(end_col)
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


_NEWLINE = re.compile("\n")


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
