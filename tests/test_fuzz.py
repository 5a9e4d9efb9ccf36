"""Fuzzing the front end: random bytes and mutated example files through `dsl.loads` and the CLI.
Only a DslError may ever escape (a clear message, exit 1), never another exception or exit 2.

Small example counts by default; `DSL_FUZZ_EXAMPLES=3000 pytest tests/test_fuzz.py` runs a larger search."""

from __future__ import annotations

import glob
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsl
from dsl.cli import main
from semantics.program import GeneratorDef, GenericDef

EXAMPLES = int(os.environ.get("DSL_FUZZ_EXAMPLES", "60"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = [open(p, encoding="utf-8").read() for p in sorted(glob.glob(os.path.join(ROOT, "examples", "*.dsl")))
           + sorted(glob.glob(os.path.join(ROOT, "..", "shared", "conformance", "cases", "*.dsl")))]
# Fragments that make mutations reach deeper than the parser: types, dims, static arguments,
# literals at the edges of the number types, names that are bound, unbound, or bound twice.
TOKENS = ["(", ")", "[", "]", "{", "}", ",", ":", "=", "->", "@", "^", "-", "*", "?", "::", "::-1",
          "f32", "f64", "i32", "bool", "[n]", "[3 * n]", "[n - 1]", "[2, 2]", "dim n\n", "axis=0", "axis=0.5",
          "axis=n", "keepdims=true", "1e400", "9" * 400, "0.5", "-1", "None", "x", "y", "t1", "n",
          "grad(", "jvp(", "hessian(", "wrt=", "sum(", "softmax(", "einsum(\"ij,j->i\", ", "\"é\"",
          "return ", "\ndef g(x: f64) -> f64 { return x }\n", "x = x\n", "import \"nope.dsl\"\n", "é", "\x00", "\n"]


@st.composite
def mutated_sources(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "replace"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif op == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[j:]
    return text


def check_everything(text: str) -> None:
    """What `dsl check` does: load, then derive every derived definition. Only DslError may escape."""
    try:
        mod = dsl.loads(text, filename="fuzz.dsl")
        for name in mod.names:
            if not isinstance(mod.definition(name), (GenericDef, GeneratorDef)):
                mod[name].show()
    except dsl.DslError as err:
        assert str(err).strip(), "an error without a message"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sources())
def test_mutated_examples_give_only_dsl_errors(text):
    check_everything(text)


@settings(max_examples=EXAMPLES * 2 // 3, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_through_the_cli_exit_0_or_1(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f.dsl"
    path.write_bytes(data)
    assert main(["check", str(path)]) in (0, 1)


@settings(max_examples=EXAMPLES * 2 // 3, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_token_soup_gives_only_dsl_errors(text):
    check_everything(text)

