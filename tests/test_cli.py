"""The command line: every command works on the examples, errors print like a compiler, exit 1,
and no traceback is ever shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dsl.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EX = os.path.join(ROOT, "examples")


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


def test_check_prints_signatures(capsys):
    code, out, _ = cli(capsys, "check", os.path.join(EX, "mlp.dsl"))
    assert code == 0
    assert "loss" in out and "(f32[B, D], f32[B, 1], f32[D, H], f32[H], f32[H, 1]) -> f32" in out


def test_run_random(capsys, tmp_path):
    path = str(tmp_path / "out.npz")
    code, out, _ = cli(capsys, "run", os.path.join(EX, "stencil_energy.dsl"), "energy", "--random", "1",
                       "--dims", "n=50", "-o", path, "--backend", "interpret")
    assert code == 0 and "energy : float64 scalar" in out
    assert np.load(path)["out0"].shape == ()


def test_run_with_npy_npz_and_json_inputs(capsys, tmp_path):
    src = tmp_path / "m.dsl"
    src.write_text("dim n\ndef f(x: f64[n], y: f64[n]) -> f64[n] { return x * y }\n")
    np.save(tmp_path / "x.npy", np.arange(3.0))
    np.savez(tmp_path / "y.npz", y=np.ones(3) * 2)
    (tmp_path / "in.json").write_text(json.dumps({"x": [1, 2, 3], "y": [1, 1, 1]}))
    code, out, _ = cli(capsys, "run", str(src), "f", str(tmp_path / "x.npy"), str(tmp_path / "y.npz"),
                       "--backend", "interpret")
    assert code == 0 and "[0. 2. 4.]" in out
    code, out, _ = cli(capsys, "run", str(src), "f", str(tmp_path / "in.json"), "--backend", "interpret")
    assert code == 0 and "[1. 2. 3.]" in out
    code, out, _ = cli(capsys, "run", str(src), "f", f"y={tmp_path / 'x.npy'}", f"x={tmp_path / 'x.npy'}",
                       "--backend", "interpret")
    assert code == 0 and "[0. 1. 4.]" in out


def test_run_input_errors(capsys, tmp_path):
    src = tmp_path / "m.dsl"
    src.write_text("dim n\ndef f(x: f64[n]) -> f64 { return sum(x) }\n")
    code, _, err = cli(capsys, "run", str(src), "f", "--random", "0")
    assert code == 1 and "--dims n=" in err
    code, _, err = cli(capsys, "run", str(src), "f")
    assert code == 1 and "missing input" in err
    code, _, err = cli(capsys, "run", str(src), "nope", "--random", "0")
    assert code == 1 and "no definition named 'nope'" in err


def test_show(capsys):
    code, out, _ = cli(capsys, "show", os.path.join(EX, "stencil_energy.dsl"), "energy")
    assert code == 0 and out.startswith("# energy : f64[n] -> f64") and "def energy(u: f64[n]) -> f64 {" in out


def test_errors_print_like_a_compiler(capsys, tmp_path):
    bad = tmp_path / "bad.dsl"
    bad.write_text("dim B, D, H\ndef f(x: f32[B, D], W: f32[H, 1]) -> f32[B, 1] {\n    p = x @ W\n    return p\n}\n")
    code, _, err = cli(capsys, "check", str(bad))
    assert code == 1
    first, line, caret = err.splitlines()[:3]
    assert first.startswith(f"{bad}:3:9: error: shape mismatch in matmul")
    assert line.strip() == "p = x @ W" and caret.strip().startswith("^")


def test_parse_error_exit_code(capsys, tmp_path):
    bad = tmp_path / "bad.dsl"
    bad.write_text("def f(x: f64) -> f64 {\n    return (x + 1\n}\n")
    code, _, err = cli(capsys, "check", str(bad))
    assert (code == 1 and ":2:" in err) or ":3:" in err


def test_missing_file(capsys):
    code, _, err = cli(capsys, "check", "/nonexistent/file.dsl")
    assert code == 1 and "cannot read" in err


@pytest.mark.parametrize("cmd", ["check", "run", "show", "grad", "emit", "draw"])
def test_help_on_every_command(capsys, cmd):
    with pytest.raises(SystemExit) as info:
        main([cmd, "--help"])
    assert info.value.code == 0
    assert "usage: dsl" in capsys.readouterr().out


def test_console_script_never_prints_a_traceback(tmp_path):
    bad = tmp_path / "bad.dsl"
    bad.write_text("def f(x: f64) -> f64 { return x +* 1 }\n")
    proc = subprocess.run([sys.executable, "-m", "dsl", "check", str(bad)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr


def test_grad_command_prints_the_derived_definition(capsys):
    code, out, _ = cli(capsys, "grad", os.path.join(EX, "mlp.dsl"), "loss", "--wrt", "W1,b1")
    assert code == 0
    assert out.startswith("# grad_loss = grad(loss, wrt=W1,b1)")
    assert "def grad_loss(x: f32[B, D], y: f32[B, 1], W1: f32[D, H], b1: f32[H], W2: f32[H, 1]) -> (f32[D, H], f32[H])" in out
    code, _, err = cli(capsys, "grad", os.path.join(EX, "mlp.dsl"), "loss", "--wrt", "nope")
    assert code == 1 and "no parameter 'nope'" in err


def test_show_steps_reports_the_stages(capsys):
    code, out, _ = cli(capsys, "show", os.path.join(EX, "mlp.dsl"), "dloss", "--steps")
    assert code == 0
    assert "linearize" in out and "transpose" in out and "CSE + dead code" in out and "e-graph optimisation" in out
    assert "stop reason" in out and "ops " in out


def test_emit_prints_numpy_source(capsys):
    code, out, _ = cli(capsys, "emit", os.path.join(EX, "mlp.dsl"), "loss")
    assert (code == 0 and out.startswith("def loss(")) or "def loss(" in out
    code, _, err = cli(capsys, "emit", os.path.join(EX, "mlp.dsl"), "loss", "--target", "fortran")
    assert code == 1 and "fortran" in err


def test_draw_writes_a_dot_file(capsys, tmp_path):
    out = tmp_path / "sincos.dot"
    code, text, _ = cli(capsys, "draw", os.path.join(EX, "pointfree.dsl"), "sincos", "-o", str(out))
    assert code == 0 and out.exists() and "wrote" in text
    dot = out.read_text()
    assert dot.startswith("digraph diagram {") and 'label="sin"' in dot and 'label="cos"' in dot
