"""Generated code folds what is known before the run: scalar arithmetic on constants and dim sizes is
one Python expression (`s0 = fdiv(1.0, B)`), not 0-d array operations, and a sum whose kept size-1
axes are squeezed off right after is one reduction (no `reshape(sum(...))` + `squeeze` round trip)."""

from __future__ import annotations

import numpy as np
import pytest

import dsl
from codegen import compile_diagram, emit
from rewrite.cleanup import merge_squeezed_sums
from semantics.diagram import Builder, make_box
from semantics.interpret import interpret
from semantics.types import Dim, TensorType
from tests.helpers import load_shared

N, S = Dim.sym("N"), Dim.sym("S")
ONE = Dim.const(1)


def test_reciprocal_of_a_dim_is_a_python_scalar() -> None:
    src = emit(load_shared("examples/mlp.dsl").optimized("dloss"))
    assert "fdiv(1.0, B)" in src
    assert "xp.asarray(B" not in src and "xp.asarray(1.0" not in src, src


@pytest.mark.parametrize("n", [0, 1, 5])
def test_folded_dim_arithmetic_matches_the_interpreter(tmp_path, n: int) -> None:
    """Including an empty dim, where 1/n is inf in NumPy (Python would raise ZeroDivisionError)."""
    path = tmp_path / "m.dsl"
    path.write_text("dim n\ndef f(x: f32[n], y: f32) -> f32[n] { return x * (2.0 / n) + y / (n * n) - 1 / n }\n")
    mod = dsl.load(str(path))
    src = mod.emit("f")
    assert "fdiv(" in src and "xp.asarray(n" not in src, src
    x = np.linspace(0.5, 1.5, n, dtype=np.float32)
    y = np.float32(3.0)
    with np.errstate(all="ignore"):
        want = mod.compile("f", backend="interpret")(x, y)
        got = mod.compile("f")(x, y)
    assert got.dtype == np.float32 and got.shape == (n,)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("stem,name", [("mlp", "dloss"), ("reactions", "dfit"), ("stencil_energy", "gradient")])
def test_no_reshape_of_a_sum_or_squeeze_round_trip(stem: str, name: str) -> None:
    src = emit(load_shared(f"examples/{stem}.dsl").optimized(name))
    assert "xp.reshape(xp.sum(" not in src and "xp.squeeze(" not in src, src


def _sum_squeeze(target: tuple[Dim, ...], axis: int, unary: str | None = None):
    b = Builder()
    x = b.input(TensorType("f64", (N, S)))
    t = TensorType("f64", target)
    (w,) = b.add(make_box("sum_to", {"shape": target}), [x], [t])
    if unary is not None:
        (w,) = b.add(make_box(unary), [w], [t])
    out = TensorType("f64", tuple(d for i, d in enumerate(target) if i != axis))
    (q,) = b.add(make_box("squeeze", {"axis": axis}), [w], [out])
    return b.build([q], input_names=("x",))


@pytest.mark.parametrize("target,axis,unary,merged", [
    ((ONE, S), 0, None, True),
    ((ONE, S), 0, "neg", True),
    ((ONE, S), 0, "exp", True),
    ((N, ONE), 1, None, False),  # not a leading axis: sum_to(x, (N,)) would align N with S
])
def test_squeezed_sum_becomes_one_sum(target, axis, unary, merged: bool) -> None:
    d = _sum_squeeze(target, axis, unary)
    out = merge_squeezed_sums(d)
    names = [n.box.name for n in out.nodes]
    assert ("squeeze" not in names) == merged, names
    x = np.random.default_rng(0).uniform(-1, 1, (3, 4))
    np.testing.assert_allclose(interpret(out, x), interpret(d, x))
    np.testing.assert_allclose(compile_diagram(out)(x), interpret(d, x))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_folded_scalar_used_as_a_typed_array(tmp_path, dtype: str) -> None:
    """A folded scalar that is an output, or read where no array operand sets its dtype, becomes a
    typed 0-d array of the right NumPy dtype."""
    path = tmp_path / "m.dsl"
    path.write_text(f"dim n\ndef f(x: {dtype}[n]) -> ({dtype}, {dtype}[n]) {{ s = 1.0 / n\n return s, x * s }}\n")
    mod = dsl.load(str(path))
    x = np.arange(1, 5, dtype=np.float32 if dtype == "f32" else np.float64)
    got = mod.compile("f")(x)
    want = mod.compile("f", backend="interpret")(x)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w)
