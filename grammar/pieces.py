"""How `Lexicon.tokenize` cuts one text (`TextCut`): by pieces between spaces, the new ones in bulk.

Why it is shaped this way (it runs once per character of every source, so its constant matters;
instruction counts from callgrind, per line of `benchmarks/parse.py`'s workloads): `re` costs
≈ 1,800 instructions per token found, in a `findall` too (each match sets up and frees its state),
and ≈ 1,000 more per call; a C loop step (`map`, `extend`, a dict lookup) costs 50-150. So the
tokenizer finds tokens by regex only in text it has not seen in this parse, and finds them there
in bulk, with no Python step per token, and one per new piece only where it was measured cheaper:

- each line is split at its spaces (`str.split`, in C) into pieces, which repeat (`f64[n],`, `=`,
  `return`, `sin(y)`, names); the line's tokens are its pieces' cuts joined (`list.extend` of each
  piece's list of token texts and widths in turn, `accumulate` of the widths for the columns);
- per run of up to `CHUNK` lines, the pieces not cut yet are found by one set difference and cut
  by ONE `findall` of `Lexicon.pieces` over them joined by spaces (the lexemes that start with a
  space start a piece), and their new token texts are classified together: by their first
  character where only one terminal may start with it (`Lexicon.first_kinds`: names, numbers,
  most punctuation), else by one `fullmatch` of `kinds` each; then the keywords among the names;
- in ASCII text, when the new pieces that start with a name have rests that repeat (`f0(x:`,
  `f1(x:`; `v1`, `v2`: judged on the first `_SAMPLE`), each is cut as its name, the run that
  `str.lstrip` strips (`Lexicon.ascii_names`), then its rest, a piece of its own cut once: a
  Python step per such piece (~1.5k instructions) instead of ~1.8k per token in the `findall`
  and ~2k to group its lexemes; where the rests do not repeat (random names) this costs more;
- a piece is cut as part of its line would be unless a token crosses a space there, which only a
  terminal whose matches may contain a space can do (a string, a comment): a line holding a
  character such a token starts with (`"`, `#`, computed from the terminals) or a blank other than
  a space (`Lexicon.line_only`) is cut whole by one `findall` (each lexeme carrying the whitespace
  before it, so that the running sum of their lengths gives the columns), and so is a line with
  two spaces in a row or one at its end (its empty piece). A text is screened for those characters
  by `in` (C scans), its lines only when it holds one.

Measured (callgrind, 2,000 lines, tokenize only, instructions per line; before: each new piece cut
by a Python method, a leading name split off first): defs 57.7k -> 48.7k, varied (random names
and numbers on every line, ~5 new pieces and ~14 new tokens a line) 187.8k -> 101.6k, dag 39.7k
-> 28.5k, bigdef 30.8k -> 25.2k; a text of the examples and conformance cases (a quarter of its
lines with a comment) 27.7k -> 27.5k. On varied the one `findall` is ~20k of that, grouping its
lexemes per piece ~10k and the lines' joins ~35k. Cutting each new piece by a `findall` of its own,
keeping the lexemes as the cuts, a named group for names, joining names and rests by C loops, or
judging the rests piece by piece (`Counter`) each measured slower. The tokenizer runs with the
collector paused (`grammar.gcpause`): it allocates lists per line and piece, and finds no cycle.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from itertools import accumulate, compress, count, islice, repeat
from operator import attrgetter, is_not, itemgetter, not_, or_
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from grammar.lexicon import Lexicon

CHUNK = 4096  # lines cut in bulk at a time (bounds the lists of pieces held at once)
_SAMPLE = 64  # new pieces looked at to choose whether to split names off pieces (`TextCut.split_names`)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
T = TypeVar("T")


class Unparsed(Exception):
    """Raised for any text the direct parser leaves to the Lark path (errors are reported there)."""


class _Memo(dict[str, T]):
    """A dict that computes (and stores) a missing key's value on its first lookup, through
    `__missing__`: in the C lookups of `map(memo.__getitem__, keys)`, with no exception raised and
    caught for a new key. `compute` must not hold the memo's owner (a bound method of it would):
    that cycle would keep the owner, and the token lists it holds, alive until the next full
    collection, which a parse's paused collector (`grammar.gcpause`) puts off."""

    def __init__(self, compute: Callable[[str], T]):
        super().__init__()
        self.compute = compute

    def __missing__(self, key: str) -> T:
        value = self[key] = self.compute(key)
        return value


class TextCut:
    """How `Lexicon.tokenize` cuts one text: the cut of each distinct piece (the texts and widths of
    its tokens in turn, the width of the first one counting the space before the piece; None for a
    piece that only its line's cut can cut) and the kind of each distinct token text, found in bulk
    for the new pieces of each run of lines; and the tokens so far (texts and widths in turn,
    lines, end columns)."""

    def __init__(self, lexicon: Lexicon, text: str):
        self.lexicon = lexicon
        self.cuts: dict[str, list[str | int] | None] = {"": None}  # ("": two spaces in a row, or one at the end)
        self.kind_of_value: dict[str, str] = {}  # text of a token -> its kind
        self.value_of: dict[str, str] = {}  # lexeme (of a line cut whole) -> text of its token
        # lexeme (of a line cut whole) -> kind of its token (not through a method of self: see _Memo)
        self.kind_of = _Memo(partial(_classify, lexicon, self.value_of, self.kind_of_value))
        self.out: list[str | int] = []
        self.lines: list[int] = []
        self.ends: list[int] = []
        # the characters of `line_only` in the text (a C scan each, or one for the text's non-ASCII characters)
        self.present = [c for c in lexicon.line_ascii if c in text]
        ascii = text.isascii()
        if lexicon.line_only is not None and not ascii:
            self.present += filter(lexicon.line_only.match, set(_NON_ASCII.findall(text)))
        self.piece_lexemes = lexicon.pieces and lexicon.pieces[ascii].findall
        self.names = lexicon.ascii_names if ascii else None

    def rows(self, rows: list[str], number: int) -> None:
        """Cut `rows`, the first one line `number`: the new pieces of the lines without a character
        of `line_only` first, in bulk (`cut`), then each such line's tokens as its pieces' cuts
        joined (C loops over pieces and tokens); the other lines, and those with a piece that has
        no cut (None), by their whole cut (`line`)."""
        # (a "\\r" that ends a line, as in "\\r\\n" line ends, is a blank after its last token)
        cut_rows = list(map(str.removesuffix, rows, repeat("\r"))) if "\r" in self.present else rows
        bodies = list(map(str.lstrip, cut_rows, repeat(" ")))
        pieces = list(map(str.split, bodies, repeat(" ")))
        whole = self.whole(cut_rows)
        new = set().union(*(pieces if whole is None else compress(pieces, map(not_, whole)))).difference(self.cuts)
        if new:
            self.cut(new)
        out, lines, ends = self.out, self.lines, self.ends
        piece_cuts, add_cuts = self.cuts.__getitem__, out.extend
        for number, row, cut_row, body, split, alone in zip(count(number), rows, cut_rows, bodies, pieces,  # noqa: B020
                                                             whole or repeat(False)):
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
            widths[0] += len(cut_row) - len(body)  # (the indentation)
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
        """Cut the `new` pieces (of lines without a character of `line_only`): in ASCII text, those
        that start with a name as the name then the rest (`split_names`, `join_names`); the others,
        and the rests, by one `findall` of `Lexicon.pieces` over them joined (`cut_pieces`)."""
        if self.piece_lexemes is None:
            self.cuts.update(dict.fromkeys(new, None))
            return
        named: list[tuple[str, str]] = []
        if self.names is not None:
            new, named = self.split_names(new)
        if new:
            self.cut_pieces(new)
        if named:
            self.join_names(named)

    def cut_pieces(self, new: set[str]) -> None:
        """Cut the `new` pieces by one `findall` of `Lexicon.pieces` over them joined, each after a
        space: the lexemes that start with a space start a piece's cut. A piece holding a character
        that no terminal matches has no cut (None; then each piece is cut alone, to find which):
        its line's cut raises `Unparsed`."""
        findall = self.piece_lexemes
        assert findall is not None  # (`cut` checked)
        pieces = list(new)
        joined = " " + " ".join(pieces)
        found = findall(joined)
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

    def split_names(self, new: set[str]) -> tuple[set[str], list[tuple[str, str]]]:
        """Split the `new` pieces that start with a name (`f0(x:`, `v1`, `y)`) into the name, found
        without a regex (the run that `str.lstrip` strips: `Lexicon.ascii_names`), and the rest
        (`(x:`), a piece of its own, when the rests repeat (at most one distinct rest for two
        pieces among the first `_SAMPLE`): a rest cut for one piece only costs more than the
        name's token in the `findall`. Return the pieces left to cut (the others and the rests not
        cut yet) and the (piece, rest) pairs for `join_names`."""
        start, run = self.names[1:]  # type: ignore[index]
        sample = list(map(str.lstrip, compress(islice(new, _SAMPLE), map(start.__contains__, map(itemgetter(0), new))),
                          repeat(run)))
        if 2 * len(set(sample)) > len(sample):
            return new, []
        named = list(compress(new, map(start.__contains__, map(itemgetter(0), new))))
        rests = list(map(str.lstrip, named, repeat(run)))
        return new.difference(named).union(rests).difference(self.cuts), list(zip(named, rests))

    def join_names(self, named: list[tuple[str, str]]) -> None:
        """The cut of each piece that starts with a name: the name's then its rest's, the space
        before the rest taken out (a Python step per piece, ~1.5k instructions; joining the cuts
        by C loops instead measured slower, by a Python step per distinct rest)."""
        cuts, heads = self.cuts, []
        for piece, rest in named:
            head = piece[:len(piece) - len(rest)]
            heads.append(head)
            if not rest:
                cuts[piece] = [head, len(head) + 1]
            elif (rest_cut := cuts[rest]) is not None:
                cuts[piece] = [head, len(head) + 1, rest_cut[0], rest_cut[1] - 1, *rest_cut[2:]]  # type: ignore[operator]
            else:
                cuts[piece] = None  # (a rest without a cut: the piece has none either)
        name = self.names[0]  # type: ignore[index]
        fresh = set(heads).difference(self.kind_of_value)
        self.kind_of_value.update(zip(fresh, map(self.lexicon.keywords.get(name, {}).get, fresh, repeat(name))))

    def cut_alone(self, new: set[str]) -> None:
        """Cut each of the `new` pieces alone, when some character in them is no terminal's: such
        a piece has no cut, the others are cut together."""
        lexemes = self.lexicon.lexemes
        uncut = {p for p in new if sum(map(len, lexemes.findall(p))) != len(p)}
        if not uncut:
            raise Unparsed  # (cannot happen: the joined cut lost its pieces' starts; the Lark path cuts it)
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
        if not lexicon.ignore.isdisjoint(map(kind_of_value.__getitem__, texts)):
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


def _classify(lexicon: Lexicon, value_of: dict[str, str], kind_of_value: dict[str, str], lexeme: str) -> str:
    """The kind of a new lexeme's token (its text is what follows the gap; all of it for blanks
    alone, at the end of a line: an ignored token); its text is stored in `value_of`, its kind in
    `kind_of_value` (and, by `_Memo`, in `TextCut.kind_of`)."""
    gap = lexicon.gap
    if gap.pattern == r"\s*":  # (`str.lstrip` strips what `\s` matches)
        value = lexeme.lstrip() or lexeme
    else:
        value = lexeme[gap.match(lexeme).end():] or lexeme  # type: ignore[union-attr]
    value_of[lexeme] = value
    kind = kind_of_value[value] = lexicon._kind(value)
    return kind
