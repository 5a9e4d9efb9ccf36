"""Every user error on the command line is a DslError: a message and exit status 1, never
"internal error" (exit 2) and never a traceback (issue 8). Each case runs through `main()`."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

import dsl
from dsl.cli import main
from dsl.inputs import random_inputs
from semantics.types import Dim, TensorType

VEC = "dim n\ndef f(x: f64[n]) -> f64 { return sum(x) }\n"


def fails(capsys, *argv: str, expect: tuple[str, ...]) -> str:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 1, text
    assert "Traceback" not in text and "internal error" not in text, text
    for fragment in expect:
        assert fragment in out.err, f"{fragment!r} not in {out.err!r}"
    return out.err


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "v.dsl"
    path.write_text(VEC)
    return path


# ---------------------------------------------------------------- outputs


@pytest.mark.parametrize("command", ["run", "draw"])
def test_unwritable_output_paths(capsys, model, tmp_path, command):
    extra = ["--random", "0", "--dims", "n=3"] if command == "run" else []
    fails(capsys, command, model, "f", *extra, "-o", tmp_path / "no" / "such" / "out.npz",
          expect=("cannot write", "does not exist"))
    fails(capsys, command, model, "f", *extra, "-o", tmp_path, expect=("cannot write", "is a folder"))
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        fails(capsys, command, model, "f", *extra, "-o", locked / "out.dot", expect=("permission denied",))


# ---------------------------------------------------------------- input files


@pytest.mark.parametrize(("name", "content", "expect"), [
    ("empty.npy", b"", "empty, truncated or not an .npy array"),
    ("empty.npz", b"", "empty, truncated or not an .npz archive"),
    ("bad.npy", b"\x93NUMPY garbage", "not an .npy array"),
    ("bad.npz", b"PK\x03\x04 garbage", "not an .npz archive"),
    ("bad.json", b"{\"x\": [1, 2,", "not valid JSON"),
    ("latin.json", b"{\"x\": \"\xff\"}", "not UTF-8"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("ragged.json", b"{\"x\": [[1, 2], [3]]}", "not an array of f64[n]"),
    ("huge.json", b"{\"x\": [1e999999, 10000000000000000000000000000000000]}", None),
])
def test_corrupt_input_files(capsys, model, tmp_path, name, content, expect):
    path = tmp_path / name
    path.write_bytes(content)
    code = main(["run", str(model), "f", str(path)])
    text = capsys.readouterr()
    assert "Traceback" not in text.err and "internal error" not in text.err
    if expect is None:  # numbers JSON can hold: inf and a big integer are f64 values, so this runs
        assert code == 0, text.err
    else:
        assert code == 1 and expect in text.err, text.err


def test_npz_holding_objects_is_refused(capsys, model, tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    fails(capsys, "run", model, "f", path, expect=("cannot read input file",))
    with zipfile.ZipFile(tmp_path / "trunc.npz", "w") as z:
        z.writestr("x.npy", b"\x93NUMPY\x01\x00")
    fails(capsys, "run", model, "f", tmp_path / "trunc.npz", expect=("trunc.npz",))


# ---------------------------------------------------------------- sizes and memory


@pytest.mark.parametrize(("dims", "expect"), [
    ("n=-5", "a size must be 0 or more"),
    ("n=100000000000000000000", "at most 2^62"),
    ("n=" + "9" * 5000, "name=integer pairs"),
    ("n=10000000000000", "need 72.8 TiB"),
])
def test_bad_dims(capsys, model, dims, expect):
    fails(capsys, "run", model, "f", "--random", "0", "--dims", dims, expect=(expect,))


def test_compound_dim_that_comes_out_negative(capsys, tmp_path):
    path = tmp_path / "m.dsl"
    path.write_text("dim n\ndef f(x: f64[n - 3]) -> f64 { return sum(x) }\n")
    fails(capsys, "run", path, "f", "--random", "0", "--dims", "n=1", expect=("n - 3 is -2 < 0",))


def test_random_inputs_say_how_much_memory_they_need():
    t = TensorType("f32", (Dim.sym("n"), Dim.sym("n")))
    with pytest.raises(dsl.InputError, match=r"need 3\.8 GiB \(a: f32\[n, n\] = 3\.8 GiB\), more than the 1\.0 GiB"):
        random_inputs((t,), ("a",), 0, {"n": 32_000}, memory=2**30)


MEMORY = "dim n\ndef f(x: f64[n]) -> f64 { return sum(outer(x, x)) }\n"
MEMORY_SAYS = ("not enough memory to run f with n = 3000000: its largest array, f64[n, n] (outer), needs 65.5 TiB; "
               "its outputs 8 bytes, all its arrays together at most 65.5 TiB")


@pytest.mark.parametrize("backend", ["numpy", "interpret"])
def test_memory_error_while_running(capsys, tmp_path, backend):
    path = tmp_path / "m.dsl"
    path.write_text(MEMORY)
    # 3e6 x 3e6 doubles = 65 TiB: NumPy refuses the allocation at once (a MemoryError, not a slow swap)
    err = fails(capsys, "run", path, "f", "--random", "0", "--dims", "n=3000000", "--backend", backend,
                expect=(MEMORY_SAYS, "this machine has"))
    assert err.splitlines()[1].strip().startswith("def f(") and "^^^^^^^^^^^" in err  # the caret under outer(x, x)


@pytest.mark.parametrize("backend", ["numpy", "interpret"])
def test_memory_error_from_the_python_api_is_an_input_error(backend):
    f = dsl.loads(MEMORY, filename="m.dsl").compile("f", backend=backend)
    with pytest.raises(dsl.InputError) as info:
        f(np.zeros(3_000_000))
    assert MEMORY_SAYS in info.value.message and (info.value.line, info.value.col) == (2, 38)


# ---------------------------------------------------------------- source files


def test_hundred_thousand_digit_literal(capsys, tmp_path):
    path = tmp_path / "big.dsl"
    path.write_text("def f(x: f64) -> f64 { return x + " + "9" * 100_000 + " }\n")
    err = fails(capsys, "check", path, expect=("is too large", "100000 characters"))
    assert len(err) < 1000  # the caret line shows a window of the line, not 100,000 characters
    path.write_text("def f(x: f64) -> f64 { return x + 1e400 }\n")
    fails(capsys, "check", path, expect=("1e400 is too large", "inf"))
    path.write_text("def f(x: i32) -> i32 { return x + 3000000000 }\n")
    fails(capsys, "check", path, expect=("out of the range of i32",))


def test_non_utf8_files(capsys, tmp_path):
    (tmp_path / "latin.dsl").write_bytes(b"def g(x: f64) -> f64 { return x } # caf\xe9\n")
    (tmp_path / "main.dsl").write_text('import "latin.dsl"\ndef f(x: f64) -> f64 { return g(x) }\n')
    fails(capsys, "check", tmp_path / "main.dsl", expect=("main.dsl:1:1", "latin.dsl", "not UTF-8"))
    fails(capsys, "check", tmp_path / "latin.dsl", expect=("not UTF-8",))


# ---------------------------------------------------------------- imports


def test_two_imports_under_one_alias_are_an_error(capsys, tmp_path):
    (tmp_path / "a.dsl").write_text("def g(x: f64) -> f64 { return x }\n")
    (tmp_path / "b.dsl").write_text("def h(x: f64) -> f64 { return -x }\n")
    (tmp_path / "m.dsl").write_text('import "a.dsl" as o\nimport "b.dsl" as o\ndef f(x: f64) -> f64 { return o.g(x) }\n')
    fails(capsys, "check", tmp_path / "m.dsl", expect=("m.dsl:2:1", "alias 'o' is already used", "a.dsl"))
    with pytest.raises(dsl.RebindError):
        dsl.load(tmp_path / "m.dsl")


def test_what_imports_may_read(tmp_path):
    """Relative to the importing file; `..` and absolute paths reach any .dsl file; nothing else."""
    (tmp_path / "lib.dsl").write_text("def g(x: f64) -> f64 { return 2 * x }\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "up.dsl").write_text('import "../lib.dsl"\ndef f(x: f64) -> f64 { return g(x) }\n')
    (sub / "abs.dsl").write_text(f'import "{tmp_path / "lib.dsl"}" as L\ndef f(x: f64) -> f64 {{ return L.g(x) }}\n')
    assert float(dsl.load(sub / "up.dsl").compile("f")(1.5)) == 3.0
    assert float(dsl.load(sub / "abs.dsl").compile("f")(1.5)) == 3.0
    (tmp_path / "secret.txt").write_text("password = hunter2\n")
    (sub / "leak.dsl").write_text('import "../secret.txt"\n')
    with pytest.raises(dsl.UnboundNameError, match=r"only \.dsl files can be imported") as info:
        dsl.load(sub / "leak.dsl")
    assert "hunter2" not in str(info.value)
    with pytest.raises(dsl.UnboundNameError, match="from a string source"):
        dsl.loads('import "lib.dsl"\n')
