"""Smoke tests of `dsl repl` in a real pseudo-terminal (pexpect): the prompt_toolkit front end as a
user meets it. Before every send we wait for the terminal's echo to be off: prompt_toolkit turns
echo off while it reads a line, and keys typed between two prompts (echo on) would be lost."""

from __future__ import annotations

import os
import sys

import pexpect  # in the test extra

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def spawn(tmp_path, term: str = "xterm-256color"):
    env = dict(os.environ, TERM=term, XDG_STATE_HOME=str(tmp_path), PROMPT_TOOLKIT_NO_CPR="1",
               PYTHONPATH=ROOT, NO_COLOR="1")
    child = pexpect.spawn(sys.executable, ["-m", "dsl", "repl"], cwd=ROOT, env=env, encoding="utf-8",
                          dimensions=(40, 160), timeout=60)
    child.expect("Ctrl-D exits")
    return child


def send(child, text: str) -> None:
    assert child.waitnoecho(timeout=60), "the prompt never turned echo off"
    child.send(text)


def test_pty_define_differentiate_and_exit_with_ctrl_d(tmp_path):
    child = spawn(tmp_path)
    send(child, "dim n\r")
    child.expect("dim n")
    send(child, "def f(x: f64[n]) -> f64 {\r")  # incomplete: Enter continues the input
    send(child, "return sum(sin(x) * x)\r}\r")
    child.expect(r"f : f64\[n\] -> f64")
    send(child, ":grad f\r")
    child.expect(r"def grad_f\(x: f64\[n\]\) -> f64\[n\]")
    send(child, "\x04")  # Ctrl-D
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert ":grad f" in (tmp_path / "dsl" / "repl_history").read_text()


def test_pty_errors_and_ctrl_c_keep_the_session(tmp_path):
    child = spawn(tmp_path)
    send(child, "sin(\r")  # unfinished: a continuation line
    send(child, "\x03")  # Ctrl-C drops it
    send(child, "x + 1\r")
    child.expect("unbound name 'x'")
    child.expect(r"\^")  # the caret under the input
    send(child, ":let x = [1, 2]\r")
    child.expect(r"x : f64\[2\]")
    send(child, "x * 10 + 1\r")
    child.expect(r"\[11\. 21\.\]")
    send(child, ":quit\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_pty_with_term_dumb_is_a_plain_line_loop(tmp_path):
    """TERM=dumb on a terminal: no prompt_toolkit (it cannot draw there), plain prompts, same session."""
    child = spawn(tmp_path, term="dumb")
    child.expect_exact(">>> ")
    child.sendline("def f(x: f64) -> f64 {")
    child.expect_exact("... ")
    child.sendline("return 3 * x }")
    child.expect_exact("f : f64 -> f64")
    child.sendline("f(2.0)")
    child.expect_exact("6.")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
