"""The fused-kernel backends: the lowering table is complete for both targets, the C backend agrees
with the reference interpreter primitive by primitive (NaN and inf included), data movement and
reductions are index arithmetic that agrees too, f32 kernels never promote to f64, the disk cache
spares a second process the compile, and missing tools are clear errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dsl
from codegen import CodegenError, CompileCache, compile_diagram, emit
from codegen.kernel_lowering import CONSTANTS, COORDS, EXPR, REDUCTIONS, ROUTED
from codegen.kernel_plan import plan_kernels
from codegen.renderer import _TOKEN, render_module
from codegen.targets import TARGETS
from semantics.diagram import Builder, make_box
from semantics.primitives import PRIMITIVES
from semantics.types import Dim, TensorType
from tests.helpers import load_shared

ROOT = Path(__file__).resolve().parents[1]
SPECIAL = np.array([0.0, -0.0, 0.5, -0.7, 1.5, -2.5, 30.0, -30.0, np.inf, -np.inf, np.nan, 1e-300])


def test_every_primitive_is_lowered_or_routed_once() -> None:
    tables = {"EXPR": set(EXPR), "COORDS": set(COORDS), "REDUCTIONS": set(REDUCTIONS),
              "CONSTANTS": set(CONSTANTS), "ROUTED": set(ROUTED)}
    for name in PRIMITIVES:
        homes = [t for t, names in tables.items() if name in names]
        assert len(homes) == 1, f"primitive '{name}' must be in exactly one kernel table, found in {homes}"
    stale = set().union(*tables.values()) - set(PRIMITIVES)
    assert not stale, f"kernel tables name primitives that do not exist: {sorted(stale)}"


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_every_expression_renders_for_both_targets(target: str, dtype: str) -> None:
    """Every elementwise and reduction template resolves its math functions and literals."""
    t = TARGETS[target]
    v = TensorType(dtype, (Dim.sym("n"),))
    for name, entry in EXPR.items():
        if dtype not in entry.dtypes or name == "stop_gradient":
            continue
        b = Builder()
        args = [b.input(v.with_dtype("bool") if (name == "where" and k == 0) else v)
                for k in range(len(PRIMITIVES[name].wire_args))]
        out = v.with_dtype("bool") if PRIMITIVES[name].family == "compare" else v
        (y,) = b.add(make_box(name, {"dtype": dtype} if name == "cast" else {}), args, [out])
        (s,) = b.add(make_box("sum"), [y], [out.with_shape(())]) if out.dtype == dtype else (y,)
        src = render_module(plan_kernels(b.build([y, s])), t, name)
        body = src.split("*/", 2)[-1]
        assert not _TOKEN.search(body.replace("#pragma", "").replace("#if", "").replace("#else", "")
                                 .replace("#endif", "").replace("#define", "").replace("#include", "")), name
        if dtype == "f32":
            kernels = src[src.index("/* k0"):]
            assert "double" not in kernels, f"{name}: f32 kernel promotes to double:\n{kernels}"
            assert not re.search(r"\b\d+\.\d+(e[+-]?\d+)?(?![\w.])", kernels), f"{name}: f64 literal in f32 kernel"


def _diagram(name: str, n_args: int, dtype: str = "f64") -> object:
    v = TensorType(dtype, (Dim.sym("n"),))
    b = Builder()
    args = [b.input(v.with_dtype("bool") if (name == "where" and k == 0) else v) for k in range(n_args)]
    out = v.with_dtype("bool") if PRIMITIVES[name].family == "compare" else v
    (y,) = b.add(make_box(name), args, [out])
    return b.build([y], name=name, input_names=tuple(f"x{k}" for k in range(n_args)))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("name", sorted(n for n in EXPR if n not in ("cast", "stop_gradient")))
def test_elementwise_matches_interpreter_on_special_values(name: str, dtype: str) -> None:
    """Each primitive alone on NaN, ±inf, ±0 and large values: the same results as the reference
    (rewrites and kernels never change results on NaN/inf)."""
    if dtype not in EXPR[name].dtypes:
        pytest.skip(f"{name} has no {dtype} form")
    n = len(PRIMITIVES[name].wire_args)
    d = _diagram(name, n, dtype)
    npdt = "float32" if dtype == "f32" else "float64"
    grid = np.meshgrid(*([SPECIAL] * min(n, 2)), indexing="ij")
    args = [g.ravel().astype(npdt) for g in grid]
    if name == "where":
        args = [(args[0] > 0), args[0], args[1]]
    with np.errstate(all="ignore"):
        want = compile_diagram(d, "interpret")(*args)
    got = compile_diagram(d, "c", cache=CompileCache())(*args)
    assert got.dtype == want.dtype
    tol = 4e-6 if dtype == "f32" else 1e-13
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True, err_msg=name)
    assert np.array_equal(np.isnan(got), np.isnan(want))


MOVES = """
dim n, m
def moves(a: f64[n, m], v: f64[m], w: f64[n]) -> f64[n, m] {
    s = a[1:, :] - a[:-1, :]
    p = pad(s, ((1, 0), (0, 0)))
    q = roll(a, 2, axis=1) * transpose(a.T, axes=(1, 0))
    r = expand_dims(w, 1) * v + a[:, -1:]
    return p + q * r + sin(p) * a[::1, 0:]
}
def reductions(a: f64[n, m]) -> f64 {
    x = exp(sin(a))
    return sum(max(x, axis=0)) + sum(min(x, axis=1, keepdims=true)) + prod(mean(x, axis=1) * 0.5) + mean(x)
}
def ints(i: i64[n], j: i64[n]) -> i64[n] {
    return i * j + abs(i) - j / (abs(j) + 1)
}
g = grad(reductions)
"""


@pytest.mark.parametrize("name", ["moves", "reductions", "ints", "g"])
def test_moves_reductions_and_ints_match_interpreter(name: str) -> None:
    mod = dsl.loads(MOVES, filename="moves.dsl")
    rng = np.random.default_rng(3)
    d = mod[name]
    args = []
    for t in d.dom:
        shape = tuple(7 if str(s) == "n" else 6 for s in t.shape)
        args.append(rng.integers(-9, 9, shape) if t.dtype == "i64" else rng.standard_normal(shape))
    want = mod.compile(name, backend="interpret")(*args)
    got = mod.compile(name, backend="c")(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_moves_are_fused_into_one_kernel() -> None:
    """Slices, pads, rolls, transposes and broadcasts are offsets: `moves` is one kernel, no copies."""
    mod = dsl.loads(MOVES, filename="moves.dsl")
    plan = plan_kernels(mod.optimized("moves"))
    assert len(plan.kernels) == 1
    assert [k for k, i in plan.steps if k == "instr" and plan.schedule.instrs[i].kind != "const"] == []


def test_a_long_inlined_chain_renders_without_recursion() -> None:
    """A kernel inlining a chain of thousands of single-use elementwise wires (the 600-layer chain's
    gradient, a 10,000-op DAG) renders: the renderer walks what a value reads with an explicit
    stack, not Python recursion (which stopped after a few hundred nested operations)."""
    v = TensorType("f64", (Dim.sym("n"),))
    b = Builder()
    w = b.input(v)
    for k in range(3000):
        (w,) = b.add(make_box("sin" if k % 2 else "cos"), [w], [v])
    d = b.build([w], name="chain", input_names=("x",))
    plan = plan_kernels(d)
    assert len(plan.kernels) == 1
    (line,) = [line for line in emit(d, "c").splitlines() if line.strip().startswith("o0[i] =")]
    assert line.count("sin(") == 1500 and line.count("cos(") == 1500 and line.count("a0[i]") == 1


def test_energy_value_and_gradient_share_a_loop() -> None:
    mod = dsl.load(ROOT / "benchmarks" / "models" / "stencil_energy.dsl")
    plan = plan_kernels(mod.optimized("vg_energy"))
    spaces = sorted(str(list(map(str, k.space))) for k in plan.kernels)
    assert len(plan.kernels) <= 3, plan.describe()   # [n-1] springs, [n] well + gradient, [] the total
    assert "['n']" in spaces


def test_disk_cache_spares_a_second_process_the_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "dim n\\ndef f(x: f64[n]) -> f64[n] { return tanh(x) * 3.25 }"
    code = (f"import dsl; from codegen import c_backend; mod = dsl.loads('{source}'); "
            "from codegen.kernel_program import generate_kernels; "
            "p = generate_kernels(mod.optimized('f'), 'c'); print(c_backend.library_path(p.kernel_source)[1])")
    # the first compile here (one interpreter start fewer), the second in a fresh process
    from codegen import c_backend
    from codegen.kernel_program import generate_kernels

    monkeypatch.setenv("DSL_CACHE_DIR", str(tmp_path))
    first = c_backend.library_path(generate_kernels(dsl.loads(source.replace("\\n", "\n")).optimized("f"), "c").kernel_source)
    env = {**os.environ, "DSL_CACHE_DIR": str(tmp_path)}
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert (first[1], second.stdout.strip()) == (True, "False")
    assert len(list((tmp_path / "c").glob("*.so"))) == 1


def test_no_c_compiler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    mod = dsl.loads("dim n\ndef f(x: f64[n]) -> f64[n] { return sin(x) }")
    with pytest.raises(CodegenError, match="needs a C compiler.*gcc"):
        mod.compile("f", backend="c")
    assert float(mod.compile("f")(np.zeros(1))[0]) == 0.0  # the NumPy backend keeps working


def test_missing_cupy_is_a_clear_error() -> None:
    try:
        import cupy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("CuPy is installed here")
    mod = dsl.loads("dim n\ndef f(x: f64[n]) -> f64[n] { return sin(x) }")
    with pytest.raises(CodegenError, match=r"pip install -e '\.\[cuda\]'"):
        mod.compile("f", backend="cupy")


def test_emit_targets_are_deterministic() -> None:
    mod = load_shared(ROOT / "examples" / "mlp.dsl")
    for target in ("c", "cuda"):
        a = emit(mod.optimized("dloss"), target)
        assert a == emit(mod.optimized("dloss"), target)
        assert "def dloss(" in a  # the launcher is part of the listing
    assert 'extern "C" __global__ void k0(' in emit(mod.optimized("dloss"), "cuda")


def test_cli_emit_and_run_kernel_backends(tmp_path: Path) -> None:
    from dsl.cli import main

    path = str(ROOT / "examples" / "stencil_energy.dsl")
    assert main(["emit", path, "gradient", "--target", "c"]) == 0
    assert main(["run", path, "gradient", "--random", "0", "--dims", "n=100", "--backend", "c"]) == 0


STENCIL = """
dim n
def s(u: f64[n]) -> f64[n] {
    return pad(u[2:] - u[:-2], (2, 0)) + pad(u[1:] * u[1:], (0, 1)) + roll(u, 1, axis=0) * exp(u)
}
def e(u: f64[n]) -> f64 {
    return sum(0.5 * (u[1:] - u[:-1]) ^ 2) + sum(sin(3 * u))
}
vge = value_and_grad(e)
"""


@pytest.mark.parametrize("n", [2, 3, 4, 5, 61])
def test_peeled_stencils_match_interpreter_at_every_size(n: int) -> None:
    """The boundary iterations are split off the interior loop (where pads need no guard): sizes where
    the interior is empty, one element, or most of the array give the reference results."""
    mod = dsl.loads(STENCIL, filename="stencil.dsl")
    u = np.random.default_rng(n).standard_normal(n)
    for name in ("s", "vge"):
        want = mod.compile(name, backend="interpret")(u)
        got = mod.compile(name, backend="c")(u)
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=f"{name} n={n}")
    assert "LO" in mod.emit("vge", target="c")  # the gradient's loop is peeled


STRIDED = """
dim n, α
def f(y: f64[n], z: f64[α]) -> f64 {
    w = y[::2]
    v = y[1::3] * 2.0
    return sum(sin(w) * 1.1) + sum(v) + sum(cos(z) * z[::-1])
}
g = grad(f)
"""


@pytest.mark.parametrize("name", ["f", "g"])
def test_sizes_that_are_not_dim_names_compile(name: str) -> None:
    # a strided slice of a symbolic dim has the opaque size ceil(n/2): its kernel parameter was once
    # written `int64_t d_ceil(n/2)`, which the C compiler rejected; a Unicode dim name too
    mod = dsl.loads(STRIDED, filename="strided.dsl")
    rng = np.random.default_rng(5)
    args = [rng.standard_normal(7), rng.standard_normal(4)]
    want = mod.compile(name, backend="interpret")(*args)
    got = mod.compile(name, backend="c")(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    source = mod.emit(name, target="c")
    params = re.findall(r"int64_t (\w+)[,)]", source)
    assert params and all(p.isascii() for p in params) and any(p.startswith("dx_ceil") for p in params)
