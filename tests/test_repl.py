"""The REPL: completeness by the parser, forms and expressions, every command, errors that never end
the session, the prompt_toolkit front end through a pipe input, and a golden transcript."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import pytest

import dsl
from dsl.repl import Quit, Session
from dsl.repl_commands import COMMANDS
from dsl.repl_ui import DslCompleter, main, run_interactive, run_plain

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = Path(__file__).parent / "transcripts"

F = "dim n\ndef f(x: f64[n], w: f64) -> f64 {\n    return sum(w * sin(x) * x)\n}"


@pytest.fixture()
def s() -> Session:
    session = Session()
    session.submit(F)
    return session


# ------------------------------------------------------------------ completeness, forms, expressions


@pytest.mark.parametrize(("text", "complete"), [
    ("def f(x: f64) -> f64 {", False),
    ("def f(x: f64) -> f64 {\n    y = sin(x)", False),
    ("def f(x: f64) -> f64 {\n    return sin(x)\n}", True),
    ("g = grad(f,", False),
    ("1 + ", False),
    ("(1 + 2", False),
    ("1 + 2", True),
    ("1 +* 2", True),  # a real syntax error: submit it and show the error
    ("dim n", True),
    (":grad f", True),
    ("", True),
])
def test_enter_submits_only_complete_input(text, complete):
    assert Session().is_complete(text) is complete


def test_forms_are_checked_added_and_replaced(s):
    assert s.submit("g = grad(f, wrt=x)") == "g : (f64[n], f64) -> f64[n]   # grad(f)"
    assert s.names == ["f", "g"]
    with pytest.raises(dsl.DslError, match="scalar"):
        s.submit("def h(x: f64[n]) -> f64[n] { return x }\nbad = grad(h)")
    assert s.names == ["f", "g"]  # a rejected input leaves the session as it was
    assert s.submit("def f(x: f64[n], w: f64) -> f64 { return sum(w * x) }").startswith("f : ")
    assert s.names == ["g", "f"]  # redefined: the old f is gone, g now differentiates the new one
    np.testing.assert_allclose(s.mod.compile("g")(np.array([1.0, 2.0]), np.array(3.0)), [3.0, 3.0])


def test_expressions_are_evaluated_on_let_bindings(s):
    assert s.submit(":let a = 0.5") == "a : f64 = 0.5"
    assert s.submit(":let v = [0.25, 1.5]") == "v : f64[2] = [0.25 1.5 ]"
    out = s.submit("f(v, a)")
    want = 0.5 * (math.sin(0.25) * 0.25 + math.sin(1.5) * 1.5)
    assert out.splitlines()[0] == "f64" and float(out.splitlines()[1]) == pytest.approx(want, rel=1e-7)
    assert s.submit(":let w: f32 = v * 2").startswith("w : f32[2] = [0.5 3. ]")
    assert s.submit("f") == "f : (f64[n], f64) -> f64"
    with pytest.raises(dsl.UnboundNameError, match="unbound name 'z'") as err:
        s.submit("z + 1")
    assert "<input>:1:1" in str(err.value) and ":let z =" in str(err.value)


# ------------------------------------------------------------------ commands


def test_derivation_commands(s):
    text = s.submit(":grad f x")
    assert text.startswith("# grad_f = grad(f, wrt=x) : (f64[n], f64) -> f64[n]") and "def grad_f(" in text
    assert "def hessian_f(" in s.submit(":hessian f w")
    assert "def jvp_f(" in s.submit(":jvp f") and "def vjp_f(" in s.submit(":vjp f")
    assert "def simplify_f(" in s.submit(":simplify f")
    with pytest.raises(dsl.DslError, match="no parameter 'q'"):
        s.submit(":grad f q")
    s.submit("g = grad(f)")
    steps = s.submit(":steps g")
    assert "linearize" in steps and "transpose" in steps and "e-graph" in steps and "rules fired" in steps
    assert s.submit(":type f g") == "f : (f64[n], f64) -> f64\ng : (f64[n], f64) -> (f64[n], f64)   # grad(f)"
    assert s.submit(":show f").startswith("# f : (f64[n], f64) -> f64\ndim n\ndef f(")


def test_eq_proves_or_says_why_not(s):
    s.submit("def f2(x: f64[n], w: f64) -> f64 { return sum(1 * (w * sin(x)) * x - 0) }")
    assert s.submit(":eq f f2").startswith("proved: f = f2")
    s.submit("def f3(x: f64[n], w: f64) -> f64 { return sum(x * cos(x) * w) }")
    assert s.submit(":eq f f3").startswith("not proven within limits")
    s.submit("def f4(x: f64[n]) -> f64 { return sum(x) }")
    assert s.submit(":eq f f4").startswith("not equal: f : (f64[n], f64) -> f64 but f4 : f64[n] -> f64")


def test_run_time_emit_and_draw(s, tmp_path):
    s.submit(":let v = [0.25, 1.5]")
    s.submit(":let a = 2")
    out = s.submit(":run f v a").splitlines()
    assert out[0] == "f : f64" and float(out[1]) == pytest.approx(2 * (math.sin(0.25) * 0.25 + math.sin(1.5) * 1.5))
    assert s.submit(":run f [1.0, 2.0] 0.5").splitlines()[0] == "f : f64"
    assert s.submit(":run f n=7 seed=3").splitlines()[0] == "f : f64"  # random inputs
    assert "best" in s.submit(":time f n=50") and "runs" in s.submit(":time f n=50")
    with pytest.raises(dsl.DslError, match="takes 2 argument"):
        s.submit(":run f v")
    assert "def f(" in s.submit(":emit f") and "xp." in s.submit(":emit f numpy")
    try:  # another target: its source, or the DslError saying why not
        assert s.submit(":emit f cuda")
    except dsl.DslError as err:
        assert "cuda" in str(err)
    assert s.submit(f":draw f {tmp_path / 'f.svg'}") == f"wrote {tmp_path / 'f.svg'}"
    assert (tmp_path / "f.svg").read_text().startswith("<svg")


def test_save_load_reload(s, tmp_path):
    s.submit("g = grad(f, wrt=w)")
    path = tmp_path / "session.dsl"
    assert s.submit(f":save {path}") == f"wrote 3 form(s) to {path}"
    mod = dsl.load(path)  # the saved session is an ordinary .dsl file
    assert mod.names == ["f", "g"] and mod.signature("g") == "(f64[n], f64) -> f64"
    t = Session()
    assert t.submit(f":load {path}") == f"loaded {path}: f, g"
    path.write_text(path.read_text().replace("sin(x)", "cos(x)"))
    assert t.submit(":reload") == f"loaded {path}: f, g"
    assert "cos" in t.submit(":show f")
    assert t.submit(":names") == "dim n\nf : (f64[n], f64) -> f64\ng : (f64[n], f64) -> f64   # grad(f)"
    with pytest.raises(dsl.DslError, match="cannot read"):
        t.submit(f":load {tmp_path / 'missing.dsl'}")


def test_help_unknown_commands_and_quit(s):
    text = s.submit(":help")
    assert all(c.usage in text for c in COMMANDS.values())
    assert s.submit(":help eq").startswith(":eq A B")
    with pytest.raises(dsl.DslError, match=r"unknown command ':stesp'; did you mean :steps\?"):
        s.submit(":stesp f")
    with pytest.raises(dsl.DslError, match="usage: :grad NAME"):
        s.submit(":grad")
    with pytest.raises(Quit):
        s.submit(":quit")


# ------------------------------------------------------------------ front ends


def test_plain_loop_reports_errors_and_carries_on():
    out = io.StringIO()
    lines = ["def f(x: f64) -> f64 {", "    return x * q", "}", "def f(x: f64) -> f64 {", "    return x * x", "}",
             ":grda f", ":type f"]
    code = run_plain(Session(), [line + "\n" for line in lines], out, echo=True)
    text = out.getvalue()
    assert code == 1  # errors happened (a piped script fails), but the session went on
    assert "<input>:2:16: error: unbound name 'q'" in text and "did you mean :grad?" in text
    assert text.rstrip().endswith(">>> :type f\nf : f64 -> f64")


def test_prompt_toolkit_pipe_input(tmp_path, monkeypatch):
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    written: list[str] = []
    with create_pipe_input() as inp:
        inp.send_text("def f(x: f64) -> f64 {\r")  # incomplete: Enter adds a line
        inp.send_text("return x * x\r}\r")
        inp.send_text("garbage that is cleared\x03")  # Ctrl-C drops the input
        inp.send_text(":type f\r")
        inp.send_text(":let v = [3]\rf(v[0])\r")
        inp.send_text("\x04")  # Ctrl-D ends the session
        code = run_interactive(Session(), written.append, input=inp, output=DummyOutput())
    assert code == 0
    assert written == ["f : f64 -> f64", "f : f64 -> f64", "v : f64[1] = [3.]", "f64\n9."]
    assert (tmp_path / "dsl" / "repl_history").read_text().count("+:type f") == 1


def test_completion_of_names_primitives_keywords_and_commands(s):
    from prompt_toolkit.document import Document

    def complete(text: str) -> list[str]:
        return [c.text for c in DslCompleter(s).get_completions(Document(text), None)]

    assert ":grad" in complete(":gr") and ":steps" in complete(":st")
    assert "sin" in complete("y = si") and "sinh" in complete("y = si")
    assert "softmax" in complete("softm")  # the standard library
    assert "axis=" in complete("sum(x, ax")
    assert "f" in complete("g = grad(")
    s.submit(":let velocity = [1]")
    assert complete("vel") == ["velocity"]


def test_golden_transcript_of_a_derivation_session():
    """`dsl repl < session.txt` prints a transcript; DSL_UPDATE_SNAPSHOTS=1 rewrites the golden file."""
    source = (TRANSCRIPTS / "derivation.txt").read_text(encoding="utf-8")
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)  # `:load examples/...` paths in the session are relative to the repository
    try:
        code = main([], stdin=io.StringIO(source), stdout=out)
    finally:
        os.chdir(cwd)
    golden = TRANSCRIPTS / "derivation.out"
    if os.environ.get("DSL_UPDATE_SNAPSHOTS") == "1" or not golden.exists():
        golden.write_text(out.getvalue(), encoding="utf-8")
    assert code == 0
    assert out.getvalue() == golden.read_text(encoding="utf-8"), "transcript changed; review, then DSL_UPDATE_SNAPSHOTS=1"
