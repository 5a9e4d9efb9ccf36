"""`fast_alternation`: the terminals' regexes as one alternation that Python's `re` runs fast, and
that cuts every text exactly where the alternation in the grammar's own order would.

Why: `grammar.lexicon` cuts a text with one `findall` of `gap(?:T1|T2|...)`, the terminals in
Lark's order (priority, then longest first), so that the first alternative matching at a position is
Lark's token there. `re` tries the alternatives one by one at every token: in Lark's order a name,
the most frequent token, is tried after the numbers and strings, and each one-character
punctuation token after ~30 others (≈ 0.45 µs a token). But the order only matters between
alternatives that can start with the same character. So this module reorders them under that
constraint: names first, then every one-character literal merged into one character class (one
test), numbers, then the rest in Lark's order; the alternatives of a terminal that is itself an
alternation (`==|!=|<=|...`) are split out first, so that their one-character literals join the class.
Measured on 20,000 one-line defs: `findall` 0.31 s -> 0.15 s. The kinds of the tokens are still
named by the grammar's order (`Lexicon.kinds`); tests compare the tokens with Lark's.

Which characters can start an alternative is read from the regex's parse (`re._parser`, what `re`
compiles from; Lark reads pattern widths the same way). Two alternatives whose first characters are
both categories (`\\w`, `\\d`, `\\s`) are compared on every code point below U+3000 and a few above
(where every category has members); anything not understood (anchors, flags, look-arounds) counts as
"may start with any character" and keeps its place.

>>> fast_alternation([(r"(?:==|<)", False), (r"\\d+", False), ("[a-z]+", False), ("=", False), (",", False)], "[a-z]+")
'[a-z]+|[<,]|\\\\d+|==|='
"""

from __future__ import annotations

import re
import re._constants as sre  # (private, but the stable parse that `re` compiles from)
import re._parser as sre_parse
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

_CATEGORIES = {sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_NOT_DIGIT: r"\D", sre.CATEGORY_SPACE: r"\s",
               sre.CATEGORY_NOT_SPACE: r"\S", sre.CATEGORY_WORD: r"\w", sre.CATEGORY_NOT_WORD: r"\W"}
_CLASS_SPECIALS = "]\\^-"
# rank of an alternative when free to move: names, one-character literals, other category starts
# (numbers), the rest, then ignored terminals (whitespace at the end of a text, comments)
_NAMES, _SINGLE, _CATEGORY, _OTHER, _IGNORED = range(5)


def fast_alternation(terminals: Sequence[tuple[str, bool]], names: str | None) -> str:
    """The alternation of `terminals` (regex, ignored), in Lark's order, reordered as the module
    doc says; `names` is the regex of the terminal whose matches are names (it goes first)."""
    alts = [_Alt(part, ignored, regex == names, k) for k, (part, ignored, regex) in
            enumerate((part, ignored, regex) for regex, ignored in terminals for part in split_alternatives(regex))]
    before = {a.index: [b.index for b in alts[:a.index] if _may_overlap(a, b)] for a in alts}
    placed: set[int] = set()
    ordered: list[_Alt] = []
    while len(ordered) < len(alts):  # each step: the best alternative whose rivals before it are placed
        ready = (a for a in alts if a.index not in placed and placed.issuperset(before[a.index]))
        best = min(ready, key=lambda a: (a.rank, a.index))
        placed.add(best.index)
        ordered.append(best)
    return _emit(ordered)


def split_alternatives(regex: str) -> list[str]:
    """`regex` cut at its top-level `|`; `(?:A|B)rest` (a group around all of it but a suffix) is
    distributed to `Arest`, `Brest`, which `re` tries in the same order.

    >>> split_alternatives(r"(?:\\d+\\.|\\.\\d+)(?:e\\d+)?"), split_alternatives("a|[|]|(b|c)")
    (['\\\\d+\\\\.(?:e\\\\d+)?', '\\\\.\\\\d+(?:e\\\\d+)?'], ['a', '[|]', '(b|c)'])
    """
    parts: list[str] = []
    depth, start, first_group_end = 0, 0, -1
    for i, piece, in_class in regex_pieces(regex):
        if in_class:
            continue
        if piece == "(":
            depth += 1
        elif piece == ")":
            depth -= 1
            if depth == 0 and first_group_end < 0:
                first_group_end = i
        elif piece == "|" and depth == 0:
            parts.append(regex[start:i])
            start = i + 1
    parts.append(regex[start:])
    if len(parts) == 1 and regex.startswith("(?:") and first_group_end > 0:
        inner, rest = regex[3:first_group_end], regex[first_group_end + 1:]
        split = split_alternatives(inner)
        if len(split) > 1:
            return [part + rest for part in split]
    return parts


def regex_pieces(regex: str) -> Iterator[tuple[int, str, bool]]:
    """The pieces of `regex` in order, as (position, text, part of a character class): an escape is
    one piece, a class's opening (`[`, `[^`, with a `]` right after it, which is literal) is one;
    every other character is a piece of its own. The one scanner of regex text in `grammar/`.

    >>> [(p, c) for _, p, c in regex_pieces(r"a\\.[^]x](")]
    [('a', False), ('\\\\.', False), ('[^]', True), ('x', True), (']', True), ('(', False)]
    """
    i, in_class = 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            yield i, regex[i:i + 2], in_class
            i += 2
        elif c == "[" and not in_class:
            j = i + (2 if regex.startswith("[^", i) else 1)
            j += regex.startswith("]", j)
            yield i, regex[i:j], True
            in_class, i = True, j
        else:
            yield i, c, in_class
            in_class = in_class and c != "]"
            i += 1


class _Alt:
    """One alternative: its regex, which characters it may start with, and its rank."""

    def __init__(self, regex: str, ignored: bool, names: bool, index: int):
        self.regex, self.index = regex, index
        data = sre_parse.parse(regex).data
        self.single = chr(data[0][1]) if len(data) == 1 and data[0][0] is sre.LITERAL else None
        firsts, nullable = _first_chars(data)
        self.first = re.compile("|".join(firsts)) if firsts and not nullable else None  # None: any
        literal = [f for f in firsts or () if len(f) == 1 or (len(f) == 2 and f[0] == "\\" and not f[1].isalnum())]
        self.finite = {f[-1] for f in literal} if self.first is not None and len(literal) == len(firsts or ()) else None
        self.rank = (_NAMES if names else _SINGLE if self.single is not None else _IGNORED if ignored
                     else _CATEGORY if self.first is not None and self.finite is None else _OTHER)


def _may_overlap(a: _Alt, b: _Alt) -> bool:
    """Whether some character may start both (True when unsure)."""
    if a.first is None or b.first is None:
        return True
    if a.finite is not None:
        return any(b.first.match(c) for c in a.finite)
    if b.finite is not None:
        return any(a.first.match(c) for c in b.finite)
    return re.search(f"(?=(?:{a.first.pattern}))(?:{b.first.pattern})", _witnesses()) is not None


@lru_cache(maxsize=1)
def _witnesses() -> str:
    """Characters on which two category classes are compared (see the module doc)."""
    return "".join(map(chr, (*range(0x3000), 0xFF10, 0xFF21, 0x1D400, 0x1D7CE, 0x20000, 0x1F600, 0xE0020)))


def unrivalled(regexes: Sequence[str], k: int) -> bool:
    """Whether no regex before `regexes[k]` may start with a character `regexes[k]` may start with
    (False when unsure): then a text that `regexes[k]` matches in full is its terminal's, whatever
    the alternatives before it.

    >>> unrivalled(["[0-9]+", "[a-z]+"], 1), unrivalled(["[0-9a]+", "[a-z]+"], 1)
    (True, False)
    """
    target = _Alt(regexes[k], False, False, k)
    return not any(_may_overlap(target, _Alt(r, False, False, i)) for i, r in enumerate(regexes[:k]))


def spans_blanks(regex: str) -> bool:
    """Whether a match of `regex` may contain a space (True when unsure: a class or flag not
    understood, or an anchor or look-around, whose match may depend on what follows a space).
    `grammar.lexicon` cuts a line at its spaces first, which only such terminals cross.

    >>> spans_blanks('"[^"]*"'), spans_blanks("#.*"), spans_blanks("[a-z_][a-z0-9_]*"), spans_blanks("[0-9]+")
    (True, True, False, False)
    """
    return _may_match(sre_parse.parse(regex).data, " ")


def context_free(regex: str) -> bool:
    """Whether what `regex` matches at a position never depends on the text before it (no anchor,
    look-around or back reference): then the lexemes after a token are those of the rest cut alone.

    >>> context_free("[a-z]+"), context_free(r"\\bx"), context_free("(?<=a)b")
    (True, False, False)
    """
    return _context_free(sre_parse.parse(regex).data)


def _context_free(seq: Any) -> bool:
    for op, av in seq:
        if op is sre.BRANCH:
            if not all(_context_free(alt) for alt in av[1]):
                return False
        elif op is sre.SUBPATTERN:
            if not _context_free(av[3]):
                return False
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            if not _context_free(av[2]):
                return False
        elif op not in (sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY):
            return False  # (anchors, look-arounds, back references, atomic groups: unsure)
    return True


def run_of(regex: str) -> tuple[str, str] | None:
    """The two character classes of a regex that matches one character of a class then the
    longest run of another (`[a-z_]\\w*`), as regexes; None for any other shape.

    >>> run_of(r"[^\\W\\d]\\w*"), run_of("x[0-9]*"), run_of("[a-z]+"), run_of("[a-z]*?")
    (('[^\\\\W\\\\d]', '[\\\\w]'), ('x', '[0-9]'), None, None)
    """
    data = sre_parse.parse(regex).data
    if len(data) != 2 or data[1][0] is not sre.MAX_REPEAT or data[1][1][:2] != (0, sre.MAXREPEAT) or len(data[1][1][2]) != 1:
        return None
    first, rest = _one_char(data[0]), _one_char(data[1][1][2][0])
    return None if first is None or rest is None else (first, rest)


def _one_char(item: Any) -> str | None:
    """The regex of a parsed literal or character class; None for anything else."""
    op, av = item
    if op is sre.LITERAL:
        return re.escape(chr(av))
    return _char_class(av) if op is sre.IN else None


def first_chars(regex: str) -> re.Pattern[str] | None:
    """A pattern matching every character a non-empty match of `regex` may start with; None if
    that is not known (anchors, look-arounds, flags) or `regex` matches the empty string.

    >>> first_chars('"[^"]*"').pattern, first_chars("(?:ab|c)d").pattern, first_chars("a*")
    ('"', 'a|c', None)
    """
    firsts, nullable = _first_chars(sre_parse.parse(regex).data)
    return None if firsts is None or nullable else re.compile("|".join(firsts))


def _may_match(seq: Any, char: str) -> bool:
    """Whether the parsed regex `seq` may match `char` somewhere (True when unsure)."""
    for op, av in seq:
        if op is sre.LITERAL or op is sre.NOT_LITERAL:
            if (chr(av) == char) == (op is sre.LITERAL):
                return True
        elif op is sre.IN:
            c = _char_class(av)
            if c is None or re.match(c, char):
                return True
        elif op is sre.BRANCH:
            if any(_may_match(alt, char) for alt in av[1]):
                return True
        elif op is sre.SUBPATTERN and not av[1] and not av[2]:  # a group without flags
            if _may_match(av[3], char):
                return True
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            if _may_match(av[2], char):
                return True
        else:  # any, flags, look-arounds, anchors (which test what is around a piece): unsure
            return True
    return False


def _first_chars(seq: Any) -> tuple[list[str] | None, bool]:
    """One-character regexes for the first character of what the parsed regex `seq` matches (None:
    unknown), and whether it can match the empty string."""
    out: list[str] = []
    for op, av in seq:
        if op is sre.LITERAL:
            return [*out, re.escape(chr(av))], False
        if op is sre.NOT_LITERAL:
            return [*out, f"[^{re.escape(chr(av))}]"], False
        if op is sre.IN:
            c = _char_class(av)
            return (None, False) if c is None else ([*out, c], False)
        if op is sre.BRANCH:
            alts, nullable = av[1], False
        elif op is sre.SUBPATTERN and not av[1] and not av[2]:  # a group without flags
            alts, nullable = [av[3]], False
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            alts, nullable = [av[2]], av[0] == 0
        else:  # anchors, look-arounds, flags, back references: unknown
            return None, False
        for alt in alts:
            firsts, empty = _first_chars(alt)
            if firsts is None:
                return None, False
            out += firsts
            nullable = nullable or empty
        if not nullable:
            return out, False
    return out, True


def _char_class(items: Any) -> str | None:
    parts: list[str] = []
    for op, av in items:
        if op is sre.NEGATE:
            parts.insert(0, "^")
        elif op is sre.LITERAL:
            parts.append(re.escape(chr(av)))
        elif op is sre.RANGE:
            parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is sre.CATEGORY and av in _CATEGORIES:
            parts.append(_CATEGORIES[av])
        else:
            return None
    return f"[{''.join(parts)}]"


def _emit(alts: list[_Alt]) -> str:
    """The alternation, each run of one-character literals as one character class."""
    parts: list[str] = []
    run: list[str] = []
    for a in [*alts, None]:
        if a is not None and a.single is not None:
            run.append("\\" + a.single if a.single in _CLASS_SPECIALS else re.escape(a.single))
            continue
        if run:
            parts.append(run[0] if len(run) == 1 else f"[{''.join(run)}]")
            run = []
        if a is not None:
            parts.append(a.regex)
    return "|".join(parts)
