"""`dsl run` with function-typed parameters (--fn NAME=LAMBDA) and function-valued results sampled on a
grid (--at start:stop:count[,...]), printed as a table or saved as .npz/.npy/.csv; every mistake is a
DslError with exit status 1."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.test_cli import cli

LDA = (
    "def lda(rho: f64 -> f64) -> f64 {\n"
    "    return integrate(x => -0.75 * (3 / pi) ^ (1/3) * rho(x) ^ (4/3), over=(0, 1))\n"
    "}\n"
    "def v(rho: f64 -> f64) -> (f64 -> f64) {\n"
    "    return x => 4 / 3 * -0.75 * (3 / pi) ^ (1/3) * rho(x) ^ (1/3)\n"
    "}\n"
    "def both(rho: f64 -> f64, s: f64) -> (f64, f64 -> f64) {\n"
    "    return s * lda(rho), x => s * rho(x)\n"
    "}\n"
)
RHO = "x => 1 + 0.5 * sin(pi * x)"
CX = -0.75 * (3 / np.pi) ** (1 / 3)


def rho(x):
    return 1 + 0.5 * np.sin(np.pi * x)


def v_exact(x):
    """(4/3) c ρ^(1/3), the exchange potential (δ/δρ of lda; `grad` itself is tested elsewhere)."""
    return 4 / 3 * CX * rho(x) ** (1 / 3)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "lda.dsl"
    path.write_text(LDA)
    return str(path)


@pytest.fixture
def model2d(tmp_path):
    path = tmp_path / "gl.dsl"
    path.write_text("def de(u: f64[2] -> f64) -> (f64[2] -> f64) {\n"
                    "    return p => u(p) + p[1]\n"
                    "}\n")
    return str(path)


@pytest.mark.parametrize("backend", ["numpy", "interpret"])
def test_functional_value_from_a_lambda(capsys, model, backend):
    code, out, _ = cli(capsys, "run", model, "lda", "--fn", f"rho={RHO}", "--backend", backend)
    assert code == 0
    assert "-1.07088217" in out  # the conformance value -1.070882170630954


@pytest.mark.parametrize("backend", ["numpy", "interpret"])
def test_function_valued_result_printed_as_a_table(capsys, model, backend):
    code, out, _ = cli(capsys, "run", model, "v", "--fn", RHO, "--at", "0:1:11", "--backend", backend)
    assert code == 0, out
    lines = out.splitlines()
    assert "v : f64 -> f64, sampled at 11 point(s) (--at 0:1:11)" in lines[0]
    assert lines[1].split() == ["x", "v"]
    rows = np.array([[float(v) for v in line.split()] for line in lines[2:13]])
    np.testing.assert_allclose(rows[:, 0], np.linspace(0, 1, 11))
    np.testing.assert_allclose(rows[:, 1], v_exact(rows[:, 0]), rtol=1e-8)


def test_long_tables_are_elided_and_saved_whole(capsys, model, tmp_path):
    path = str(tmp_path / "v.csv")
    code, out, _ = cli(capsys, "run", model, "v", "--fn", f"rho={RHO}", "--at", "0:1:1001", "-o", path)
    assert code == 0
    assert "(1,001 rows; -o FILE.csv saves them all)" in out and len(out.splitlines()) < 40
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["x", "v"] and len(rows) == 1002
    table = np.array(rows[1:], dtype=float)
    np.testing.assert_allclose(table[:, 1], v_exact(table[:, 0]), rtol=1e-8)


def test_npz_and_npy_outputs(capsys, model, tmp_path):
    npz, npy = str(tmp_path / "v.npz"), str(tmp_path / "v.npy")
    assert cli(capsys, "run", model, "v", "--fn", f"rho={RHO}", "--at", "0.2:0.8:4", "-o", npz)[0] == 0
    with np.load(npz) as z:
        np.testing.assert_allclose(z["points"], np.linspace(0.2, 0.8, 4))
        np.testing.assert_allclose(z["out0"], v_exact(z["points"]), rtol=1e-8)
    assert cli(capsys, "run", model, "v", "--fn", f"rho={RHO}", "--at", "0.5", "-o", npy)[0] == 0
    np.testing.assert_allclose(np.load(npy), v_exact(np.array([0.5])), rtol=1e-8)


def test_mixed_outputs_and_array_parameters(capsys, model, tmp_path):
    """A scalar and a function output, a function and an array parameter: the scalar prints as before,
    the function as a table; in a .csv the scalar is a comment line above the column names."""
    s = tmp_path / "s.npy"
    np.save(s, np.float64(2.0))
    path = str(tmp_path / "both.csv")
    code, out, _ = cli(capsys, "run", model, "both", f"s={s}", "--fn", f"rho={RHO}", "--at", "0:1:3", "-o", path)
    assert code == 0
    assert "both[0] : float64 scalar\n-2.14176434" in out
    with open(path) as f:
        text = f.read().splitlines()
    assert text[0].startswith("# both[0] = -2.1417643") and text[1] == "x,both[1]"
    np.testing.assert_allclose(np.array([r.split(",") for r in text[2:]], dtype=float)[:, 1],
                               2 * rho(np.linspace(0, 1, 3)))


def test_two_dimensional_grid(capsys, model2d, tmp_path):
    path = str(tmp_path / "de.npz")
    code, out, _ = cli(capsys, "run", model2d, "de", "--fn", "u=p => p[0] * p[1] ^ 2", "--at", "0:1:3,0:2:5",
                       "-o", path)
    assert code == 0
    assert out.splitlines()[1].split() == ["x0", "x1", "de"]
    with np.load(path) as z:
        p = z["points"]
        assert p.shape == (3, 5, 2)
        np.testing.assert_allclose(z["out0"], p[..., 0] * p[..., 1] ** 2 + p[..., 1], rtol=1e-12)


def test_function_of_two_variables(capsys, tmp_path):
    """A result typed (f64, f64) -> f64 is called with one array per variable; the table shows both."""
    path = tmp_path / "kern.dsl"
    path.write_text("def kern(f: f64 -> f64) -> ((f64, f64) -> f64) {\n    return (u, v) => f(u) * v\n}\n")
    code, out, _ = cli(capsys, "run", str(path), "kern", "--fn", "x => 1 + x", "--at", "0:1:2,0:2:3")
    assert code == 0
    rows = np.array([[float(v) for v in line.split()] for line in out.splitlines()[2:]])
    assert out.splitlines()[1].split() == ["x0", "x1", "kern"] and rows.shape == (6, 3)
    np.testing.assert_allclose(rows[:, 2], (1 + rows[:, 0]) * rows[:, 1])


@pytest.mark.parametrize("argv, expect", [
    ([], ("missing --fn", "rho: f64 -> f64", "--fn rho=")),
    (["--fn", "sigma=x => x"], ("no parameter 'sigma'", "function-typed parameters: rho")),
    (["--fn", "rho=x => x", "--fn", "rho=x => 1"], ("bound twice",)),
    (["--fn", "rho="], ("no function after 'rho='",)),
    (["--fn", "rho=x => (1 +"], ("--fn rho:1:",)),  # a parse error points into the lambda text
    (["--fn", "rho=x => 1 + q"], ("--fn rho:1:", "q")),
])
def test_bad_function_arguments(capsys, model, argv, expect):
    code, _, err = cli(capsys, "run", model, "lda", *argv)
    assert code == 1
    for piece in expect:
        assert piece in err, err


@pytest.mark.parametrize("at, expect", [
    ("0:1", "start:stop:count"),
    ("0:1:x", "must be a whole number"),
    ("0:1:0", "must be 1 or more"),
    ("a:1:3", "'a' is not a finite number"),
    ("0:inf:3", "'inf' is not a finite number"),
    ("0:1:3,0:1:3", "1 coordinate(s), but --at 0:1:3,0:1:3 has 2"),
    ("0:1:100000,0:1:100000", "more than 100,000,000"),
])
def test_bad_grids(capsys, model, at, expect):
    code, _, err = cli(capsys, "run", model, "v", "--fn", f"rho={RHO}", "--at", at)
    assert code == 1 and expect in err, err


def test_grid_errors_in_two_dimensions(capsys, model2d):
    code, _, err = cli(capsys, "run", model2d, "de", "--fn", "u=p => p[0]", "--at", "0:1:3")
    assert code == 1 and "2 coordinate(s), but --at 0:1:3 has 1" in err


@pytest.mark.parametrize("argv, expect", [
    (["v", "--fn", f"rho={RHO}"], "v is a function (f64 -> f64); give the points to sample it on with --at"),
    (["lda", "--fn", f"rho={RHO}", "--at", "0:1:3"], "lda returns no function to sample"),
    (["lda", "--fn", f"rho={RHO}", "-o", "OUT.csv"], "no output is a function"),
    (["both", "--fn", f"rho={RHO}", "--at", "0:1:3", "-o", "OUT.npy"], "a .npy file holds one array"),
])
def test_results_that_cannot_be_shown_or_saved(capsys, model, tmp_path, argv, expect):
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    if argv[0] == "both":
        np.save(tmp_path / "s.npy", np.float64(1.0))
        argv.append(f"s={tmp_path / 's.npy'}")
    code, _, err = cli(capsys, "run", model, *argv)
    assert code == 1 and expect in err, err


def test_fn_on_an_array_parameter_is_an_error(capsys, tmp_path):
    path = tmp_path / "m.dsl"
    path.write_text("def f(x: f64) -> f64 { return x * 2 }\n")
    code, _, err = cli(capsys, "run", str(path), "f", "--fn", "x=y => y")
    assert code == 1 and "parameter 'x' is an array (f64), not a function" in err


def test_help_documents_fn_and_at(capsys):
    with pytest.raises(SystemExit):
        cli(capsys, "run", "--help")
    out = capsys.readouterr().out
    assert "--fn NAME=LAMBDA" in out and "--at GRID" in out and "start:stop:count" in out


def test_a_bad_lambda_is_a_clear_error_without_a_traceback(capsys, model):
    """In process (`main` returns 1 and prints no traceback; an exception escaping it fails the test):
    the console-script wrapper itself is checked in a real subprocess by tests/test_cli.py."""
    code, _, err = cli(capsys, "run", model, "lda", "--fn", "rho=x => )")
    assert code == 1 and "Traceback" not in err and "--fn rho" in err


# ---------------------------------------------------------------- the REPL: :let f = LAMBDA, :run ... at=GRID


def test_repl_binds_function_values_and_samples_function_results():
    from dsl.repl import Session

    s = Session()
    s.submit(LDA)
    assert s.submit(f":let rho = {RHO}") == f"rho = {RHO}  (:let, a function: typed where it is passed)"
    assert "-1.07088217" in s.submit(":run lda rho")
    out = s.submit(":run v rho at=0:1:3").splitlines()
    assert out[0] == "v : f64 -> f64, sampled at 3 point(s) (at=0:1:3)" and out[1].split() == ["x", "v"]
    rows = np.array([[float(v) for v in line.split()] for line in out[2:]])
    np.testing.assert_allclose(rows[:, 1], v_exact(rows[:, 0]), rtol=1e-8)


@pytest.mark.parametrize("line, expect", [
    (":run lda", "takes function-typed parameter(s) rho: bind each with :let rho = x => ..."),
    (":run v rho", "v is a function (f64 -> f64); give the points to sample it on with at=, e.g. at=0:1:101"),
    (":run v rho at=0:1", "at=0:1: each axis is start:stop:count"),
    (":let g: f32 = x => x", "a function value has no dtype"),
    (":let g = x => (", "<input>:1:6"),
])
def test_repl_function_value_errors(line, expect):
    from dsl.errors import DslError
    from dsl.repl import Session

    s = Session()
    s.submit(LDA)
    s.submit(f":let rho = {RHO}")
    with pytest.raises(DslError) as err:
        s.submit(line)
    assert expect in str(err.value)


@pytest.mark.parametrize("backend, target", [("c", "c"), ("cupy", "cuda")])
def test_kernel_backends_say_they_run_functionals_through_numpy(capsys, model, backend, target):
    """`--backend c|cupy` on a functional runs its sampled programs' NumPy code (no compiler or GPU
    needed) and says so on stderr; `emit --target c|cuda` shows that code under the same note."""
    code, out, err = cli(capsys, "run", model, "lda", "--fn", f"rho={RHO}", "--backend", backend)
    assert code == 0 and "-1.07088217" in out
    assert f"note: backend '{backend}' runs definitions with function-typed wires" in err
    code, out, _ = cli(capsys, "emit", model, "v", "--target", target)
    assert code == 0 and out.startswith(f"# note: backend '{backend}'") and "def v_fn(" in out
