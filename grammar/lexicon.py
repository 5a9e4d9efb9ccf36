"""The token layer of the direct parser: the grammar's terminals compiled into one regex.

`Lexicon.from_terminals` takes the terminals of `dsl.lark` (the same order, priorities and keyword
rule as Lark's basic lexer; a test compares the token streams), and `Lexicon.tokenize` cuts a text
into `Tokens`: parallel lists of kinds, texts, lines and end columns, which the parser indexes.

Why it is shaped this way (it runs once per character of every source, so its constant matters;
instruction counts from callgrind, per line of `benchmarks/parse.py`'s workloads): `re` costs
≈ 1,800 instructions per token found, in a `findall` too (each match sets up and frees its state),
and ≈ 1,000 more per call; a C loop step (`map`, `extend`, a dict lookup) costs 50-150. So the
tokenizer finds tokens by regex only in text it has not seen in this parse, and finds them there
in bulk, never with a Python step per token or per piece:

- each line is split at its spaces (`str.split`, in C) into pieces, which repeat (`f64[n],`, `=`,
  `return`, `sin(y)`, names); the line's tokens are its pieces' cuts joined (`list.extend` of each
  piece's list of token texts and widths in turn, `accumulate` of the widths for the columns);
- per run of up to `_CHUNK` lines, the pieces not cut yet are found by one set difference and cut
  by ONE `findall` of `Lexicon.pieces` over them joined by spaces (the lexemes that start with a
  space start a piece), and their new token texts are classified together: by their first
  character where only one terminal may start with it (`Lexicon.first_kinds`: names, numbers,
  most punctuation), else by one `fullmatch` of `kinds` each; then the keywords among the names;
- a piece is cut as part of its line would be unless a token crosses a space there, which only a
  terminal whose matches may contain a space can do (a string, a comment): a line holding a
  character such a token starts with (`"`, `#`, computed from the terminals) or a blank other than
  a space (`Lexicon.line_only`) is cut whole by one `findall` (each lexeme carrying the whitespace
  before it, so that the running sum of their lengths gives the columns), and so is a line with
  two spaces in a row or one at its end (its empty piece). A text is screened for those characters
  by `in` (C scans), its lines only when it holds one.

Measured (callgrind, 2,000 lines, tokenize only, instructions per line; before: each new piece cut
by a Python method, a leading name split off first): defs 57.7k -> 55.2k, varied (random names
and numbers on every line, ~5 new pieces and ~14 new tokens a line) 187.8k -> 102.3k, dag 39.7k
-> 28.6k, bigdef 30.8k -> 26.9k. On varied the one `findall` is ~20k of that and the lines' joins
~35k. Cutting each new piece by a `findall` of its own, or keeping the lexemes as the cuts, or a
named group for names, measured slower. The tokenizer runs with the collector paused
(`grammar.gcpause`): it allocates lists per line and piece, and finds no cycle.

>>> from grammar.parser import _lark
>>> lexicon = Lexicon.from_terminals(_lark().terminals, _lark().lexer_conf.ignore)
>>> t = lexicon.tokenize("def f(x) {\\n  return x # done\\n}")
>>> list(zip(t.kinds, t.values, t.lines, t.cols, t.ends))[6:]
[('RETURN', 'return', 2, 3, 9), ('NAME', 'x', 2, 10, 11), ('RBRACE', '}', 3, 1, 2), ('$END', '', 3, 2, 2)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import accumulate, compress, count, islice, repeat
from operator import attrgetter, is_not, itemgetter, not_, or_, sub
from typing import TypeVar

from lark.lexer import PatternStr, TerminalDef

from grammar.alternation import (
    context_free,
    fast_alternation,
    first_chars,
    regex_pieces,
    spans_blanks,
    unrivalled,
)
from grammar.gcpause import paused_gc

_CHUNK = 4096  # lines cut in bulk at a time (bounds the lists of pieces held at once)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")

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
        k = next((k for k, t in enumerate(kept) if t.name in keywords), None)
        fast_names = None if k is None or not unrivalled(regexes, k) else (kept[k].name, re.compile(regexes[k]))
        return Lexicon(re.compile(f"{gap}(?:{lexemes})"), re.compile(gap), re.compile(kinds), keywords, ignore, line_only,
                       fast_names, *_piece_regexes(lexemes, line_only), _first_kinds(kept))

    @paused_gc()
    def tokenize(self, text: str) -> Tokens:
        """The tokens of `text` (ignored terminals dropped), then `$END`; `Unparsed` if a character
        is no terminal's (the Lark path reports it).

        Line by line (Lark counts lines by "\\n" only; no token spans lines), and on most lines piece
        by piece, the new pieces of each run of lines cut in bulk: see the module doc."""
        rows = text.split("\n")
        cut = _Cut(self, text)
        for a in range(0, len(rows), _CHUNK):
            cut.rows(rows[a:a + _CHUNK], a + 1)
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
    """How `Lexicon.tokenize` cuts one text: the cut of each distinct piece (the texts and widths of
    its tokens in turn, the width of the first one counting the space before the piece; None for a
    piece that only its line's cut can cut) and the kind of each distinct token text, found in bulk
    for the new pieces of each run of lines; and the tokens so far (texts and widths in turn,
    lines, end columns)."""

    def __init__(self, lexicon: Lexicon, text: str):
        self.lexicon = lexicon
        self.cuts: dict[str, list[str | int] | None] = {"": None}  # ("": two spaces in a row, or one at the end)
        self.kind_of_value: dict[str, str] = {}  # text of a token -> its kind
        self.kind_of = _Memo(self.classify)  # lexeme (of a line cut whole) -> kind of its token
        self.value_of: dict[str, str] = {}  # lexeme (of a line cut whole) -> text of its token
        self.out: list[str | int] = []
        self.lines: list[int] = []
        self.ends: list[int] = []
        # the characters of `line_only` in the text (a C scan each, or one for the text's non-ASCII characters)
        self.present = [c for c in lexicon.line_ascii if c in text]
        ascii = text.isascii()
        if lexicon.line_only is not None and not ascii:
            self.present += filter(lexicon.line_only.match, set(_NON_ASCII.findall(text)))
        self.piece_lexemes = lexicon.pieces and lexicon.pieces[ascii].findall

    def rows(self, rows: list[str], number: int) -> None:
        """Cut `rows`, the first one line `number`: the new pieces of the lines without a character
        of `line_only` first, in bulk (`cut`), then each such line's tokens as its pieces' cuts
        joined (C loops over pieces and tokens); the other lines, and those with a piece that has
        no cut (None), by their whole cut (`line`)."""
        bodies = list(map(str.lstrip, rows, repeat(" ")))
        pieces = list(map(str.split, bodies, repeat(" ")))
        whole = self.whole(rows)
        new = set().union(*(pieces if whole is None else compress(pieces, map(not_, whole)))).difference(self.cuts)
        if new:
            self.cut(new)
        out, lines, ends = self.out, self.lines, self.ends
        piece_cuts, add_cuts = self.cuts.__getitem__, out.extend
        for number, row, body, split, alone in zip(count(number), rows, bodies, pieces, whole or repeat(False)):  # noqa: B020
            if alone or not body:  # (a blank line has no tokens)
                if alone:
                    self.add_line(row, number)
                continue
            first = len(out)
            try:  # (`any` runs `extend` on each piece's cut, in C: no iterator per piece)
                any(map(add_cuts, map(piece_cuts, split)))  # type: ignore[arg-type]
            except TypeError:  # (a piece that only its line's cut can cut: its cut is None)
                del out[first:]
                self.add_line(row, number)
                continue
            widths: list[int] = out[first + 1::2]  # type: ignore[assignment]
            widths[0] += len(row) - len(body)  # (the indentation)
            ends += accumulate(widths)
            lines += [number] * len(widths)

    def whole(self, rows: list[str]) -> list[bool] | None:
        """Which of `rows` hold a character of `line_only` (None: none do), by C scans."""
        flags: list[bool] | None = None
        for c in self.present:
            has = map(str.__contains__, rows, repeat(c))
            flags = list(has) if flags is None else list(map(or_, flags, has))
        return flags

    def add_line(self, row: str, number: int) -> None:
        """Append the tokens of line `number`, cut whole."""
        values, ends = self.line(row)
        pairs: list[str | int] = [0] * (2 * len(values))
        pairs[::2] = values
        self.out += pairs
        self.ends += ends
        self.lines += [number] * len(values)

    def cut(self, new: set[str]) -> None:
        """Cut the `new` pieces (of lines without a character of `line_only`) by one `findall` of
        `Lexicon.pieces` over them joined, each after a space: the lexemes that start with a space
        start a piece's cut. A piece holding a character that no terminal matches has no cut
        (None; then each piece is cut alone, to find which): its line's cut raises `Unparsed`."""
        if self.piece_lexemes is None:
            self.cuts.update(dict.fromkeys(new, None))
            return
        pieces = list(new)
        joined = " " + " ".join(pieces)
        found = self.piece_lexemes(joined)
        widths = list(map(len, found))
        values = list(map(str.lstrip, found))
        # (each piece's first lexeme starts with its space: `lstrip` returns a new string for it, and
        # the lexeme itself for the others)
        starts = list(compress(count(0, 2), map(is_not, values, found)))
        if sum(widths) != len(joined) or len(starts) != len(pieces):
            self.cut_alone(new)
            return
        self.classify_all(set(values).difference(self.kind_of_value))
        pairs: list[str | int] = [0] * (2 * len(found))
        pairs[::2] = values
        pairs[1::2] = widths
        starts.append(len(pairs))
        self.cuts.update(zip(pieces, map(pairs.__getitem__, map(slice, starts, islice(starts, 1, None)))))

    def cut_alone(self, new: set[str]) -> None:
        """Cut each of the `new` pieces alone, when some character in them is no terminal's: such
        a piece has no cut, the others are cut together."""
        lexemes = self.lexicon.lexemes
        uncut = {p for p in new if sum(map(len, lexemes.findall(p))) != len(p)}
        self.cuts.update(dict.fromkeys(uncut, None))
        if len(uncut) < len(new):
            self.cut(new.difference(uncut))

    def classify_all(self, texts: set[str]) -> None:
        """Store the kinds of new token texts: by their first character where only one terminal
        starts with it (`Lexicon.first_kinds`), else by the group of `kinds` that matches them (one
        `fullmatch` each); then the keywords among them. `Unparsed` for an ignored token amid a
        piece (none in dsl.lark: the Lark path cuts it)."""
        lexicon, kind_of_value = self.lexicon, self.kind_of_value
        new = list(texts)
        kinds = list(map(lexicon.first_kinds.get, map(itemgetter(0), new)))
        kind_of_value.update(zip(new, kinds))  # type: ignore[arg-type]  # (None for the others: set next)
        others = list(compress(new, map(not_, kinds)))
        try:
            groups = list(map(attrgetter("lastgroup"), map(lexicon.kinds.fullmatch, others)))
        except AttributeError:  # (cannot happen: the same alternatives matched these texts in the lexemes)
            raise Unparsed from None
        kind_of_value.update(zip(others, groups))
        for terminal, keyword_of in lexicon.keywords.items():
            kind_of_value.update((k, keyword_of[k]) for k in texts.intersection(keyword_of) if kind_of_value[k] == terminal)
        if not lexicon.ignore.isdisjoint(kind_of_value[t] for t in texts):
            raise Unparsed

    def line(self, line: str) -> tuple[list[str], list[int]]:
        """The texts and end columns of the tokens of a whole line, cut by one `findall` (its
        ignored tokens left out)."""
        if not line:
            return [], []
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

