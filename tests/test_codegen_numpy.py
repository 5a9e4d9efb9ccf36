"""The NumPy backend against its oracle, the reference interpreter: every primitive, random diagrams
(f32/f64, broadcasting, constants, copies), input validation, caching, determinism and snapshots."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen import BACKENDS, CodegenError, CompileCache, compile_diagram, emit
from codegen.kernel_plan import plan_kernels
from codegen.lowering_numpy import LOWERINGS, can_write_in_place
from codegen.schedule import build_schedule
from grammar.errors import DslError, Span
from semantics.diagram import Builder, Diagram, make_box
from semantics.errors import InputError
from semantics.interpret import interpret
from semantics.primitives import PRIMITIVES
from semantics.prims.functional import LIFTED_ROWS
from semantics.types import Dim, TensorType
from tests.helpers import examples
from tests.strategies import diagrams
from tests.test_codegen_support import ARRAY_ROWS, DIMS, M, N, T, cases, mixed_diagrams, random_input, single_prim_diagram

SNAPSHOTS = Path(__file__).parent / "snapshots"


def inputs_for(d: Diagram, binding: dict[str, int], seed: int = 0) -> list[Any]:
    rng = np.random.default_rng(seed)
    return [random_input(t, binding, rng) for t in d.dom]  # type: ignore[arg-type]


def assert_same(got: Any, want: Any) -> None:
    got_t = got if isinstance(got, tuple) else (got,)
    want_t = want if isinstance(want, tuple) else (want,)
    assert len(got_t) == len(want_t)
    for g, w in zip(got_t, want_t):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        assert g.shape == w.shape, (g.shape, w.shape)
        tol = 2e-6 if w.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)


def check_against_interpreter(d: Diagram, binding: dict[str, int], seed: int = 0, **kw: Any) -> None:
    args = inputs_for(d, binding, seed)
    before = [a.copy() for a in args]
    want = interpret(d, *args, **kw)
    got = compile_diagram(d, "numpy", cache=CompileCache(), **kw)(*args)
    assert_same(got, want)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)  # inputs are never written


# ------------------------------------------------------------------ the table is complete


@pytest.mark.parametrize("name", sorted(set(PRIMITIVES) - set(LIFTED_ROWS)))
def test_every_primitive_has_a_numpy_lowering(name: str) -> None:
    assert name in LOWERINGS, f"codegen/lowering_numpy.py has no entry for the primitive '{name}'"


@pytest.mark.parametrize("name", ARRAY_ROWS)
def test_every_primitive_matches_the_interpreter(name: str) -> None:
    examples = cases(name)
    assert examples, f"tests/test_codegen_support.py has no example call of the primitive '{name}'"
    for in_types, params in examples:
        d = single_prim_diagram(name, in_types, params)
        for k, binding in enumerate(DIMS):
            check_against_interpreter(d, binding, seed=k)


# ------------------------------------------------------------------ random diagrams


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_diagrams(), st.sampled_from(DIMS), st.integers(0, 3))
def test_random_diagrams_match_the_interpreter_and_keep_inputs(d: Diagram, binding: dict[str, int], seed: int) -> None:
    check_against_interpreter(d, binding, seed)


@settings(max_examples=examples(60), deadline=None)
@given(diagrams(max_nodes=10))
def test_shared_strategy_diagrams(d: Diagram) -> None:
    check_against_interpreter(d, {"n": 5})


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_diagrams(max_nodes=16))
def test_buffer_reuse_is_safe(d: Diagram) -> None:
    """The schedule never writes into an input, an output, or a buffer some later instruction reads."""
    s = build_schedule(d, in_place=can_write_in_place)
    pos = {w: k for k, ins in enumerate(s.instrs) for w in ins.outputs}
    for k, ins in enumerate(s.instrs):
        if ins.reuse is None:
            continue
        assert ins.reuse not in s.inputs
        assert ins.reuse not in s.outputs
        assert s.last_use_of(ins.reuse) == k
        assert d.types[ins.reuse] == d.types[ins.outputs[0]]
        assert pos[ins.reuse] < k


def test_schedule_last_use_and_kernel_fusion() -> None:
    """The schedule records each wire's last reader (here the cos reads s after the sum); fusing
    the instructions into loops is the kernel plan's one job: the sin, exp, sum and cos over one
    space become one kernel, which stores the cos and accumulates the sum."""
    v = T("f64", N)
    b = Builder()
    x = b.input(v)
    (s,) = b.add(make_box("sin"), [x], [v])
    (e,) = b.add(make_box("exp"), [s], [v])
    (t,) = b.add(make_box("sum"), [e], [T("f64")])
    (c,) = b.add(make_box("cos"), [s], [v])
    d = b.build([t, c])
    sched = build_schedule(d, in_place=can_write_in_place)
    assert sched.last_use_of(s) == 3 and sched.last_use_of(t) == len(sched.instrs) == 4
    (kernel,) = plan_kernels(d).kernels
    assert [sched.instrs[k].outputs for k in kernel.reductions] == [(t,)] and kernel.stores == (c,)


# ------------------------------------------------------------------ f32, broadcasting, constants


def mlp_like(matmul: bool = True) -> Diagram:
    """tanh(x @ W1 + b1) * 0.5 - y, squared (x * y instead of x @ W1 until the matmul row exists)."""
    b = Builder()
    span = lambda line: Span("model.dsl", line, 5, line, 9)
    x, w1, b1, y = (b.input(t) for t in (T("f32", M, N), T("f32", N, N), T("f32", N), T("f32", M, N)))

    def op(name: str, *ins: int, line: int, **params: Any) -> int:
        return b.add(make_box(name, params), ins, PRIMITIVES[name].infer(tuple(b.types[i] for i in ins), params),
                     span(line))[0]

    z = op("matmul", x, w1, line=2) if matmul and "matmul" in PRIMITIVES else op("mul", x, y, line=2)
    h = op("tanh", op("add", z, b1, line=2), line=2)
    (half,) = b.add(make_box("const", {"value": 0.5, "dtype": "f32"}), [], [T("f32")])
    r = op("sub", op("mul", h, half, line=3), y, line=3)
    loss = op("square", r, line=4)
    return b.build([loss, h], name="mlp_like", input_names=("x", "W1", "b1", "y"))


def test_f32_stays_f32_with_python_constants() -> None:
    d = mlp_like()
    src = emit(d)
    assert " 0.5" in src and "float64" not in src
    check_against_interpreter(d, DIMS[0])
    out = compile_diagram(d)(*inputs_for(d, DIMS[0]))
    assert all(o.dtype == np.float32 for o in out)


def test_constant_only_results_are_typed_arrays() -> None:
    b = Builder()
    (c,) = b.add(make_box("const", {"value": 0.5, "dtype": "f32"}), [], [T("f32")])
    (s,) = b.add(make_box("sin"), [c], [T("f32")])
    d = b.build([s, c], name="consts")
    got = compile_diagram(d, cache=CompileCache())()
    assert_same(got, interpret(d))
    assert all(isinstance(g, np.ndarray) for g in got)


# ------------------------------------------------------------------ sharing and in-place reuse


def test_common_subexpressions_are_computed_once() -> None:
    b = Builder()
    x = b.input(T("f64", N))
    (s1,) = b.add(make_box("sin"), [x], [T("f64", N)])
    (s2,) = b.add(make_box("sin"), [x], [T("f64", N)])
    (y,) = b.add(make_box("add"), [s1, s2], [T("f64", N)])
    d = b.build([y], name="twice", input_names=("x",))
    src = emit(d)
    assert src.count("xp.sin(") == 1
    check_against_interpreter(d, DIMS[0])


def test_out_reuse_never_writes_an_input_or_a_live_value() -> None:
    b = Builder()
    x = b.input(T("f64", N))
    (s,) = b.add(make_box("sin"), [x], [T("f64", N)])
    (c,) = b.add(make_box("cos"), [s], [T("f64", N)])   # s is still live: read again below
    (e,) = b.add(make_box("exp"), [c], [T("f64", N)])   # c is dead here: may be reused
    (y,) = b.add(make_box("add"), [e, s], [T("f64", N)])
    d = b.build([y, s], name="live", input_names=("x",))
    s_ = build_schedule(d, in_place=can_write_in_place)
    reuse = {ins.box.name: ins.reuse for ins in s_.instrs}
    assert reuse == {"sin": None, "cos": None, "exp": c, "add": e}
    check_against_interpreter(d, DIMS[0])


def test_a_long_chain_emits_and_runs_without_recursion() -> None:
    b = Builder()
    x = b.input(T("f64", N))
    w = x
    names = ("sin", "cos", "tanh", "neg")
    for k in range(2000):
        (w,) = b.add(make_box(names[k % 4]), [w], [T("f64", N)])
    d = b.build([w], name="chain", input_names=("x",))
    src = emit(d)
    assert src.count("\n") > 2000
    x0 = np.linspace(0.1, 0.9, 7)
    np.testing.assert_allclose(compile_diagram(d, cache=CompileCache())(x0), interpret(d, x0))


# ------------------------------------------------------------------ input validation


def sig_diagram() -> Diagram:
    b = Builder()
    x, w = b.input(T("f64", M, N)), b.input(T("f64", N))
    (y,) = b.add(make_box("mul"), [x, w], [T("f64", M, N)])
    return b.build([y], name="scale", input_names=("x", "w"))


@pytest.mark.parametrize("args, fragment", [
    ((np.zeros((2, 3)),), "takes 2 argument(s)"),
    ((np.zeros((2, 3), np.float32), np.zeros(3)), "argument 'x'"),
    ((np.zeros((2, 3)), np.zeros((3, 1))), "argument 'w'"),
    ((np.zeros((2, 3)), np.zeros(4)), "inconsistent dim n"),
    ((np.zeros((2, 3)), "no"), "argument 'w'"),
])
def test_input_errors_match_the_interpreter(args: tuple[Any, ...], fragment: str) -> None:
    d = sig_diagram()
    with pytest.raises(InputError) as ref:
        interpret(d, *args)
    with pytest.raises(InputError) as got:
        compile_diagram(d, cache=CompileCache())(*args)
    assert str(got.value) == str(ref.value)
    assert fragment in str(got.value)


def test_python_scalars_are_converted_like_the_interpreter() -> None:
    b = Builder()
    x, y = b.input(T("f32")), b.input(T("f32", N))
    (z,) = b.add(make_box("mul"), [x, y], [T("f32", N)])
    d = b.build([z], name="scale", input_names=("a", "v"))
    v = np.arange(3, dtype=np.float32)
    assert_same(compile_diagram(d, cache=CompileCache())(2.5, v), interpret(d, 2.5, v))


def test_unknown_backend_and_target_name_the_available_ones() -> None:
    d = sig_diagram()
    with pytest.raises(CodegenError, match="numpy"):
        compile_diagram(d, "fortran")
    with pytest.raises(CodegenError, match="numpy"):
        emit(d, "fortran")
    assert BACKENDS[0] == "numpy" and "interpret" in BACKENDS


# ------------------------------------------------------------------ cache


def test_cache_hits_and_dims_bound_differently() -> None:
    cache = CompileCache()
    d = sig_diagram()
    f = compile_diagram(d, cache=cache)
    for binding in DIMS:  # one function for every binding: dims are read from the arguments
        args = inputs_for(d, binding)
        assert_same(f(*args), interpret(d, *args))
    assert cache.stats() == {"hits": 0, "misses": 1, "entries": 1}
    compile_diagram(sig_diagram(), cache=cache)   # an equal diagram, built again
    assert cache.stats() == {"hits": 1, "misses": 1, "entries": 1}
    compile_diagram(sig_diagram().with_names(input_names=("a", "b")), cache=cache)
    assert cache.misses == 2   # other parameter names: other source, other entry


# ------------------------------------------------------------------ names, generators


def test_parameter_names_are_sanitised() -> None:
    b = Builder()
    ins = [b.input(T("f64", N)) for _ in range(5)]
    y = ins[0]
    for w in ins[1:]:
        (y,) = b.add(make_box("add"), [y, w], [T("f64", N)])
    d = b.build([y], name="my-fn.v2", input_names=("lambda", "xp", "a b", "1x", "lambda"))
    src = emit(d)
    tree = ast.parse(src)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    params = [a.arg for a in fn.args.args]
    assert len(set(params)) == 5 and all(p.isidentifier() for p in params) and "xp" not in params
    assert fn.name.isidentifier()
    check_against_interpreter(d, DIMS[0])


def test_generator_boxes_are_called_from_boxes() -> None:
    b = Builder()
    x = b.input(T("f64", N))
    (y,) = b.add(make_box("f", kind="gen"), [x], [T("f64", N)], Span("m.dsl", 3, 1, 3, 2))
    (z,) = b.add(make_box("sin"), [y], [T("f64", N)])
    d = b.build([z], name="uses_f", input_names=("x",))
    boxes = {"f": lambda a: a * 3}
    assert "boxes['f'](x)" in emit(d)
    check_against_interpreter(d, DIMS[0], boxes=boxes)
    with pytest.raises(InputError) as ref:
        interpret(d, np.ones(2))
    with pytest.raises(InputError) as got:
        compile_diagram(d, cache=CompileCache())(np.ones(2))
    assert str(got.value) == str(ref.value)


def test_user_filenames_cannot_break_out_of_comments() -> None:
    b = Builder()
    x = b.input(T("f64", N))
    (y,) = b.add(make_box("sin"), [x], [T("f64", N)], Span("evil\nimport os #.dsl", 1, 1, 1, 2))
    src = emit(b.build([y], name="f"))
    assert "\nimport os" not in src
    ast.parse(src)


# ------------------------------------------------------------------ determinism and snapshots


def test_emit_is_deterministic() -> None:
    assert emit(mlp_like()) == emit(mlp_like())


def _snapshot_diagrams() -> dict[str, Diagram]:
    return {"elementwise_mlp": mlp_like(matmul=False), "mlp_like": mlp_like(), "scale": sig_diagram()}


@pytest.mark.parametrize("name", sorted(_snapshot_diagrams()))
def test_snapshot(name: str) -> None:
    """Generated source is compared with tests/snapshots/<name>.numpy.txt (DSL_UPDATE_SNAPSHOTS=1 rewrites)."""
    src = emit(_snapshot_diagrams()[name])
    path = SNAPSHOTS / f"{name}.numpy.txt"  # not .py: keep linters and collectors off it
    if os.environ.get("DSL_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(src)
    assert src == path.read_text(), f"generated source changed; review and rerun with DSL_UPDATE_SNAPSHOTS=1 ({path})"


# ------------------------------------------------------------------ other array namespaces


def test_dask_arrays_stay_lazy() -> None:
    da = pytest.importorskip("dask.array")
    d = mlp_like()
    args = inputs_for(d, DIMS[0])
    lazy = [da.from_array(a, chunks=2) for a in args]
    out = compile_diagram(d, cache=CompileCache())(*lazy)
    assert all(isinstance(o, da.Array) for o in out)
    assert_same(tuple(o.compute() for o in out), interpret(d, *args))


@pytest.mark.gpu
def test_cupy_arrays() -> None:
    cp = pytest.importorskip("cupy")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:  # pragma: no cover - no GPU
        pytest.skip("no CUDA device")
    d = mlp_like()
    args = inputs_for(d, DIMS[0])
    out = compile_diagram(d, cache=CompileCache())(*[cp.asarray(a) for a in args])
    assert all(isinstance(o, cp.ndarray) for o in out)
    assert_same(tuple(cp.asnumpy(o) for o in out), interpret(d, *args))


def test_errors_are_dsl_errors() -> None:
    assert issubclass(CodegenError, DslError)
    b = Builder()
    q2 = Dim.sym("q") * Dim.sym("q")  # q - 1 would be solved (q = x.shape[0] + 1); q * q cannot be
    x = b.input(TensorType("f64", (q2,)))
    (y,) = b.add(make_box("dimsize", {"dim": Dim.sym("q"), "dtype": "f64"}), [], [T("f64")])
    (z,) = b.add(make_box("mul"), [x, y], [TensorType("f64", (q2,))])
    with pytest.raises(CodegenError, match="dim q"):
        emit(b.build([z], name="unreadable"))


# ------------------------------------------------------------------ through the front door

DSL_SOURCE = """dim n

def act(x: f32[n], y: f32[n]) -> f32[n] {
    h = tanh(x * 0.5 + y)
    return h * h - sin(h)
}

def scaled(u: f64[n]) -> (f64[n], f64[n]) {
    v = 2 * u / n
    return (v, cos(v) + sin(u) + sin(u))
}
"""


@pytest.mark.skipif(not (Path(__file__).parents[1] / "grammar" / "parser.py").exists(), reason="no parser yet")
def test_module_compile_and_emit() -> None:
    import dsl

    mod = dsl.loads(DSL_SOURCE, filename="model.dsl")
    src = mod.emit("act")
    assert "# model.dsl:4" in src and "def act(x, y):" in src
    x = np.linspace(0.1, 0.9, 5).astype(np.float32)
    assert_same(mod.compile("act")(x, x), mod.compile("act", backend="interpret")(x, x))
    u = np.linspace(0.1, 0.9, 4)
    assert_same(mod.compile("scaled")(u), mod.compile("scaled", backend="interpret")(u))
    scaled_src = mod.emit("scaled")
    assert "n = u.shape[0]" in scaled_src and scaled_src.count("xp.sin(") == 1
    with pytest.raises(InputError, match="argument 'u'"):
        mod.compile("scaled")(u.astype(np.float32))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_diagrams(max_nodes=8))
def test_random_diagrams_on_dask(d: Diagram) -> None:
    da = pytest.importorskip("dask.array")
    args = inputs_for(d, DIMS[0])
    out = compile_diagram(d, cache=CompileCache())(*[da.from_array(a, chunks=2) for a in args])
    out_t = out if isinstance(out, tuple) else (out,)
    assert_same(tuple(np.asarray(o.compute() if hasattr(o, "compute") else o) for o in out_t), interpret(d, *args))
