"""The direct parser (`grammar.direct`) against the Lark path it stands in for (`parse_with_lark`):
the same tokens, the same AST with the same spans on valid text, and the same error on invalid text
(errors always come from the Lark path; these tests check that the direct parser never accepts what
Lark rejects nor builds a different tree)."""

from __future__ import annotations

import glob
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grammar import ParseError, direct, parse, parse_expr
from grammar.parser import MAX_DEPTH, _lex, _lexicon, _parse_with_lark, parse_with_lark
from grammar.transformer import SpanMaker
from tests.test_fuzz import SOURCES, mutated_sources

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.dsl")) + glob.glob(os.path.join(ROOT, "benchmarks", "models", "*.dsl"))
               + [os.path.join(ROOT, "dsl", "stdlib.dsl")]
               + glob.glob(os.path.join(ROOT, "..", "shared", "conformance", "cases", "*.dsl")))
EXAMPLES = int(os.environ.get("DSL_FUZZ_EXAMPLES", "60"))

# Text that exercises every rule: types and dims, defaults, slices, lambdas, conditionals, keyword
# arguments, point-free diagrams with parentheses, Unicode spellings, comments and semicolons.
EVERYTHING = """# a comment
dim n, m; type V = f64[n]
box g : f64 ⊗ f64 -> f64
import "lib.dsl" as lib
def f(x: f64[n], y: V, k: i64 = 2, h: (f64, f64) -> f64 = p => p, u: f64[(n + 1) * 2, n - 1] = 0,) -> (f64, f64[n]) {
    a, b = f(x[1:], x[::-1]); c = x[:n - 1:2, 0]
    d = -x ^ 2 ** -1 @ y / 3.5e-1 ≤ +1 ? (t, s) => t * s : x ≠ y ? "s\\"q" : true
    e = f(x, y, k=k,)(1).T[0].real
    g2 = ∇(x)
    return sum((a)), (((b + (c)) * d) - e,)
}
diagram d : f64 ⊗ f64 -> f64 = (copy(f64) ⊗ id(f64,)) >> (sin | (cos ∘ tanh)) << swap(f64, f64) >> lib.mul[k=1, j=2,] >> f[]
df = grad(f, wrt=(x, y)); ddf = hessian(grad(lib.f))
"""


def outcome(run, text: str) -> tuple[str, object]:
    try:
        return "ok", run(text)
    except ParseError as err:
        return "error", str(err)


def direct_decls(text: str) -> tuple[object, ...]:
    """The direct parser alone (raises `direct.Unparsed` where `parse` would fall back)."""
    return direct.parse_tokens(text, "t.dsl", _lexicon())[0]


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_the_direct_parser_builds_larks_ast_for_every_file(path):
    text = open(path, encoding="utf-8").read()
    if os.path.basename(path).startswith("err_"):  # conformance cases of errors: the same error
        assert outcome(lambda t: parse(t, path), text) == outcome(lambda t: parse_with_lark(t, path), text)
    else:
        assert direct.parse_tokens(text, path, _lexicon())[0] == parse_with_lark(text, path).decls


def test_the_direct_parser_covers_every_rule():
    assert direct_decls(EVERYTHING) == parse_with_lark(EVERYTHING, "t.dsl").decls


@pytest.mark.parametrize("text", [
    EVERYTHING + "".join(SOURCES) + "\r\n x.5e3 .5 5. defx def_ ∇x ∫ a**b >>= <<< -> => == >= ≥ ∘ ⊗ | → \n",
    "", "  \n\t", "# only a comment",
    # pieces cut as a leading name then a rest already cut: (x: then f0(x:, f1(x:; + then a+; a keyword; ∇; a tab
    "(x: f0(x: f1(x: + a+ b+1 +1 return(x) define(x) def(x) ∇x(y) x\t+ y\t+ x\t+\t1 é1,",
    "x # a comment at the end", "\n\n  x\n# c\n  # d\ny  z\n\n", "x\r\n\ry\r\n"])
def test_tokens_are_larks_tokens(text):
    tokens = _lexicon().tokenize(text)
    lark = [(t.type, str(t), t.line, t.column, t.end_column) for t in _lex(text, SpanMaker("t.dsl", text))]
    assert list(zip(tokens.kinds, tokens.values, tokens.lines, tokens.cols, tokens.ends))[:-1] == lark
    lines = text.split("\n")  # the end marker is at the end of the text
    assert (tokens.kinds[-1], tokens.lines[-1], tokens.cols[-1]) == ("$END", len(lines), len(lines[-1]) + 1)


# Random texts over the characters the terminals start with (and some no terminal has): the
# reordered master regex (`grammar.alternation`) must cut them where Lark's lexer does.
_CHARS = "ab_9.5eE+-*/^@<>=!?:;,()[]{}|#\"\\ \t\r\n∘⊗→≤≥≠∇∫é٣$\x00"


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(st.text(_CHARS, max_size=40))
def test_random_texts_are_cut_as_lark_cuts_them(text):
    try:
        lark = [(t.type, str(t), t.line, t.column, t.end_column) for t in _lex(text, SpanMaker("t.dsl", text))]
    except ParseError:
        with pytest.raises(direct.Unparsed):
            _lexicon().tokenize(text)
        return
    tokens = _lexicon().tokenize(text)
    assert list(zip(tokens.kinds, tokens.values, tokens.lines, tokens.cols, tokens.ends))[:-1] == lark


# Random lines of tokens and whitespace: the tokenizer cuts most lines piece by piece (between
# spaces, each distinct piece once) and a line where a token may cross a space (a string, a
# comment) or with other blanks whole; both must cut as Lark does, columns included.
_PIECES = st.sampled_from(["x", "y1", "def", "define", "return", "3", "2.5", "1e-3", ".5", "5.", "f64[n],", "sin(y)",
                           "f0(x:", "a+", "(", ")", "[", "]", ",", ":", "->", "=>", "==", "=", "<=", "≤", "⊗", "∇", "**", "*",
                           "+", '"a b"', '"s"', "# c d", "#", "\t", "\r", "$", "é"])
_BLANKS = st.sampled_from([" ", " ", " ", "", "  ", "\n", "\n    ", " \t"])


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(st.lists(st.tuples(_PIECES, _BLANKS), max_size=16))
def test_texts_cut_piece_by_piece_are_cut_as_lark_cuts_them(parts):
    text = "".join(piece + blank for piece, blank in parts)
    test_random_texts_are_cut_as_lark_cuts_them.hypothesis.inner_test(text)


def test_only_strings_comments_and_blanks_other_than_spaces_send_a_line_to_its_whole_cut():
    # (the characters that may start a token containing a space, read from the terminals, and the
    # blanks that a piece may not hold; no terminal of dsl.lark looks around its match)
    line_only = _lexicon().line_only
    assert line_only is not None
    chars = '"#xy1(.:=- \t\r\f\v\xa0\u2028é∇'
    assert [c for c in chars if line_only.match(c)] == ['"', "#", "\t", "\r", "\f", "\v", "\xa0", "\u2028"]


@pytest.mark.parametrize("text", ["x $ y", '"open', "def f(x) { return x } }", "def f(a) { return a < a < a }",
                                  "x = 3", "return 1", "def f(x: f64) -> f64 { return x\n y = 1 }", "def f() {}",
                                  "diagram d = a.b(f64)"])
def test_invalid_text_goes_to_the_lark_path(text):
    with pytest.raises(direct.Unparsed):
        try:
            direct_decls(text)
        except ParseError:  # a check in grammar.build failed: `parse` falls back for those too
            raise direct.Unparsed from None
    assert outcome(lambda t: parse(t, "t.dsl"), text) == outcome(lambda t: parse_with_lark(t, "t.dsl"), text)


def test_every_prefix_of_a_def_is_parsed_or_refused_as_with_lark():
    # (truncated text: the fast paths look ahead several tokens, never past the end marker)
    text = "def f(x: f64[n, 2], y: f64[n]) -> f64[n] { z = x[0] * 2.5 + sin(y) ^ 2; return f(z, k=1) }"
    for cut in range(len(text) + 1):
        prefix = text[:cut]
        assert outcome(lambda t: parse(t, "t.dsl"), prefix) == outcome(lambda t: parse_with_lark(t, "t.dsl"), prefix)
        expr = text[text.index("z =") + 4:][:max(0, cut - 60)]
        lark = outcome(lambda t: _parse_with_lark(t, "e.dsl", "expr_start"), expr)
        assert outcome(lambda t: parse_expr(t, "e.dsl"), expr) == lark


@pytest.mark.parametrize("depth", [MAX_DEPTH - 3, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH])
def test_long_statements_are_depth_checked_as_before(depth):
    # `x + x + ...` folds to a BinOp chain as deep as it is long: the limit is found where Lark finds it
    text = "def f(x: f64) -> f64 {\n  y = " + " + ".join(["x"] * depth) + "\n  return y\n}"
    assert outcome(lambda t: parse(t, "t.dsl"), text) == outcome(lambda t: parse_with_lark(t, "t.dsl"), text)
    expr = " + ".join(["x"] * (depth + 2))
    assert outcome(lambda t: parse_expr(t, "e.dsl"), expr) == outcome(lambda t: _parse_with_lark(t, "e.dsl", "expr_start"), expr)


# Random expressions from the grammar's own shapes, parenthesised at random: the direct parser must
# give Lark's tree (precedence, associativity and every span).
_ATOMS = st.sampled_from(["x", "y2", "1", "2.5", "1e-3", '"s"', "true", "()", "∇"])
_BIN = st.sampled_from(["+", "-", "*", "/", "@", "^", "**", "<", "==", "≤"])


def _wrap(children):
    return st.one_of(
        st.tuples(children, _BIN, children).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"-{c}"),
        st.tuples(children, children).map(lambda t: f"f({t[0]}, k={t[1]})"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}, ::2, :{t[1]}]"),
        st.tuples(children, children).map(lambda t: f"({t[0]}, {t[1]},)"),
        st.tuples(children, children, children).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
        children.map(lambda c: f"x => {c}"),
        children.map(lambda c: f"{c}.T"),
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.recursive(_ATOMS, _wrap, max_leaves=12))
def test_random_expressions_parse_as_with_lark(text):
    def lark(t):
        return _parse_with_lark(t, "e.dsl", "expr_start")

    assert outcome(lambda t: parse_expr(t, "e.dsl"), text) == outcome(lark, text)
    body = f"def f(x: f64) -> f64 {{\n  z = {text}\n  return z\n}}"
    assert outcome(lambda t: parse(t, "t.dsl"), body) == outcome(lambda t: parse_with_lark(t, "t.dsl"), body)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sources())
def test_mutated_sources_parse_as_with_lark(text):
    assert outcome(lambda t: parse(t, "t.dsl"), text) == outcome(lambda t: parse_with_lark(t, "t.dsl"), text)
