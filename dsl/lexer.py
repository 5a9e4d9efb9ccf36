"""A Pygments lexer for the DSL: highlights the REPL's input and `.dsl` code in docs.

It is registered as the Pygments lexer `dsl` (entry point in pyproject.toml), so Sphinx, MkDocs or
`pygmentize -l dsl model.dsl` use it once the package is installed. Keywords, dtypes, built-in
constants and the structural morphisms come from the language (the keywords from the grammar,
`dsl.lark`); the primitive names come from the primitive table, so a new primitive is highlighted
without touching this file.

>>> [(t, v) for t, v in DslLexer().get_tokens("def f(x: f64) -> f64 { return sin(x) }") if v.strip()][:4]
[(Token.Keyword, 'def'), (Token.Name.Function, 'f'), (Token.Punctuation, '('), (Token.Name, 'x')]
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

from grammar.parser import keywords
from semantics.derived import DERIVED_OPS
from semantics.primitives import PRIMITIVES
from semantics.types import DTYPES

CONSTANTS = ("true", "false", "pi", "inf")
KEYWORDS = tuple(k for k in keywords() if k not in CONSTANTS)  # the grammar's: dim, type, box, def, ...
STRUCTURAL = ("id", "copy", "discard", "swap", "I")
FUNCTIONAL = ("nabla", "integrate", "compose")
_NAME = r"[A-Za-z_α-ωΑ-Ω][A-Za-z0-9_α-ωΑ-Ω]*"


class DslLexer(RegexLexer):
    """Pygments lexer for `.dsl` model files and REPL input."""

    name = "dsl"
    aliases = ["dsl"]
    filenames = ["*.dsl"]
    mimetypes = ["text/x-dsl"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"[^"\n]*"', String),
            (r"^:[a-z]+", Keyword.Pseudo),  # REPL commands
            (rf"(def|diagram|box)(\s+)({_NAME})", bygroups(Keyword, Whitespace, Name.Function)),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(DTYPES, suffix=r"\b"), Keyword.Type),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(tuple(DERIVED_OPS), suffix=r"\b"), Name.Builtin.Pseudo),
            (words(STRUCTURAL + FUNCTIONAL, suffix=r"\b"), Name.Builtin.Pseudo),
            (words(tuple(sorted(PRIMITIVES, key=len, reverse=True)), suffix=r"\b"), Name.Builtin),
            (r"(\d+\.\d*|\.\d+)([eE][+-]?\d+)?|\d+[eE][+-]?\d+", Number.Float),
            (r"\d+", Number.Integer),
            (r"->|=>|>>|<<|\*\*|==|!=|<=|>=|[-+*/@^<>=?:⊗∘→∇∫|]", Operator),
            (r"[()\[\]{},;.]", Punctuation),
            (_NAME, Name),
            (r".", Text),
        ],
    }
