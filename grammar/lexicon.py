"""The token layer of the direct parser: the grammar's terminals compiled into one regex.

`Lexicon.from_terminals` takes the terminals of `dsl.lark` (the same order, priorities and keyword
rule as Lark's basic lexer; a test compares the token streams), and `Lexicon.tokenize` cuts a text
into `Tokens`: parallel lists of kinds, texts, lines and end columns, which the parser indexes.

How it cuts a text, and why so (it runs once per character of every source): `grammar.pieces`.

>>> from grammar.parser import _lark
>>> lexicon = Lexicon.from_terminals(_lark().terminals, _lark().lexer_conf.ignore)
>>> t = lexicon.tokenize("def f(x) {\\n  return x # done\\n}")
>>> list(zip(t.kinds, t.values, t.lines, t.cols, t.ends))[6:]
[('RETURN', 'return', 2, 3, 9), ('NAME', 'x', 2, 10, 11), ('RBRACE', '}', 3, 1, 2), ('$END', '', 3, 2, 2)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import sub

from lark.lexer import PatternStr, TerminalDef

from grammar.alternation import (
    context_free,
    fast_alternation,
    first_chars,
    regex_pieces,
    run_of,
    spans_blanks,
    split_alternatives,
    unrivalled,
)
from grammar.gcpause import paused_gc
from grammar.pieces import CHUNK, TextCut, Unparsed

__all__ = ["Lexicon", "Tokens", "Unparsed"]




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
    # the characters that send a line to the whole-line cut: those a token containing a space may
    # start with (`"`, `#`: strings, comments) and blanks other than a space; None: lines are never
    # cut at their spaces (the gap is not plain whitespace, a terminal is not understood or looks
    # at the text around its match)
    line_only: re.Pattern[str] | None = None
    # the terminal of names (NAME) and its regex when no terminal before it may start as a name does:
    # a new token text that it matches in full is a name or a keyword, without the `kinds` match
    names: tuple[str, re.Pattern[str]] | None = None
    # the ASCII characters that `line_only` matches, "\\n" aside (a text is screened for them by `in`)
    line_ascii: tuple[str, ...] = ()
    # the lexemes of a piece after a space (None: lines are never cut into pieces): `lexemes` with
    # ` ?` for the gap, then the same compiled for ASCII only, for ASCII texts (the same matches on
    # them, ~10% faster: `\\w`, `\\d` test a bitmap instead of Unicode tables)
    pieces: tuple[re.Pattern[str], re.Pattern[str]] | None = None
    # ASCII character -> the one terminal whose matches may start with it (`a` -> NAME, `7` ->
    # NUMBER, not `.`: NUMBER or DOT): the terminal of a token text starting with it, without a match
    first_kinds: dict[str, str] = field(default_factory=dict)
    # in ASCII text, names as a run of characters: the names terminal, the characters a name starts
    # with (where only names start) and those it continues with (`str.lstrip` strips a name's run)
    ascii_names: tuple[str, frozenset[str], str] | None = None

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
        line_only = (None if crossing is None or not all(map(context_free, regexes))
                     else re.compile(f"[^\\S ]|{crossing.pattern}"))
        first_kinds = _first_kinds(kept)
        k = next((k for k, t in enumerate(kept) if t.name in keywords), None)
        fast_names = None if k is None or not unrivalled(regexes, k) else (kept[k].name, re.compile(regexes[k]))
        return Lexicon(re.compile(f"{gap}(?:{lexemes})"), re.compile(gap), re.compile(kinds), keywords, ignore, line_only,
                       fast_names, *_piece_regexes(lexemes, line_only), first_kinds, _ascii_names(fast_names, first_kinds))

    @paused_gc()
    def tokenize(self, text: str) -> Tokens:
        """The tokens of `text` (ignored terminals dropped), then `$END`; `Unparsed` if a character
        is no terminal's (the Lark path reports it).

        Line by line (Lark counts lines by "\\n" only; no token spans lines), and on most lines piece
        by piece, the new pieces of each run of lines cut in bulk: see the module doc."""
        rows = text.split("\n")
        cut = TextCut(self, text)
        for a in range(0, len(rows), CHUNK):
            cut.rows(rows[a:a + CHUNK], a + 1)
        values: list[str] = cut.out[::2]  # type: ignore[assignment]
        kinds = list(map(cut.kind_of_value.__getitem__, values))  # (a token's kind is its text's)
        kinds.append("$END")
        values.append("")
        cut.lines.append(len(rows))
        cut.ends.append(len(rows[-1]) + 1)
        return Tokens(kinds, values, cut.lines, cut.ends)

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


def _piece_regexes(lexemes: str, line_only: re.Pattern[str] | None
                   ) -> tuple[tuple[str, ...], tuple[re.Pattern[str], re.Pattern[str]] | None]:
    """`Lexicon.line_ascii` and `Lexicon.pieces`, from the alternation of the terminals."""
    if line_only is None:
        return (), None
    line_ascii = tuple(c for c in map(chr, range(128)) if c != "\n" and line_only.match(c))
    return line_ascii, (re.compile(f" ?(?:{lexemes})"), re.compile(f" ?(?:{lexemes})", re.ASCII))


def _first_kinds(terminals: list[TerminalDef]) -> dict[str, str]:
    """`Lexicon.first_kinds`: each ASCII character that the matches of exactly one terminal may
    start with (none if some terminal's first characters are not known)."""
    firsts = [first_chars(t.pattern.to_regexp()) for t in terminals]
    if any(f is None for f in firsts):
        return {}
    starting = {c: [t.name for t, f in zip(terminals, firsts) if f.match(c)] for c in map(chr, range(128))}  # type: ignore[union-attr]
    return {c: names[0] for c, names in starting.items() if len(names) == 1}


def _ascii_names(names: tuple[str, re.Pattern[str]] | None, first_kinds: dict[str, str]
                 ) -> tuple[str, frozenset[str], str] | None:
    """`Lexicon.ascii_names`: when the one alternative of the names regex that may match ASCII text
    is a character then the longest run of others (`[^\\W\\d]\\w*`), that a name's first
    character names the terminal (`first_kinds`) and continues the run too."""
    if names is None:
        return None
    ascii = "".join(map(chr, range(128)))
    alternatives = [a for a in split_alternatives(names[1].pattern) if (f := first_chars(a)) is None or f.search(ascii)]
    run = run_of(alternatives[0]) if len(alternatives) == 1 else None
    if run is None:
        return None
    start, rest = (frozenset(re.findall(r, ascii)) for r in run)
    if not start <= rest or any(first_kinds.get(c) != names[0] for c in start):
        return None
    return names[0], start, "".join(sorted(rest))


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
