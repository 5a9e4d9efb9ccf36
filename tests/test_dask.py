"""The generated NumPy code on chunked Dask arrays: losses and gradients of the examples stay lazy
until `.compute()` and agree with the same code on NumPy arrays; the caller's arrays are never
touched; examples/dask_cluster.py runs on a small LocalCluster.

Needs the `dask` extra (`dask[array,distributed]`); skipped without it.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dsl
from tests.helpers import load_shared

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@contextlib.contextmanager
def nothing_computed() -> Iterator[None]:
    """Any Dask computation inside the block fails: what runs there only builds graphs."""

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a Dask graph was computed before .compute()")

    with dask.config.set(scheduler=forbidden):
        yield


def assert_lazy(*values: Any) -> None:
    for v in values:
        assert isinstance(v, da.Array), f"expected a lazy dask Array, got {type(v).__name__}"


def assert_close(got: Any, want: Any, rtol: float = 1e-10) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert (got.dtype, got.shape) == (want.dtype, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * float(np.max(np.abs(want))))


def mlp_f64() -> dsl.Module:
    """examples/mlp.dsl with every f32 made f64 (so chunked sums agree with NumPy's to 1e-10)."""
    source = (EXAMPLES / "mlp.dsl").read_text().replace("f32", "f64")
    return dsl.loads(source, filename="examples/mlp.dsl")


def mlp_data(rows: int, dtype: str, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    D, H = 8, 16
    x, y = rng.standard_normal((rows, D)), rng.standard_normal((rows, 1))
    W1, b1, W2 = rng.standard_normal((D, H)) / 3, rng.standard_normal(H) / 3, rng.standard_normal((H, 1)) / 4
    return tuple(a.astype(dtype) for a in (x, y, W1, b1, W2))


@pytest.mark.parametrize("weights", ["numpy", "dask"])
def test_mlp_loss_and_gradient_on_a_chunked_batch(weights: str) -> None:
    mod = mlp_f64()
    loss, dloss = mod.compile("loss"), mod.compile("dloss")
    x, y, W1, b1, W2 = mlp_data(20_000, "float64")
    xs, ys = da.from_array(x, chunks=(2_500, -1)), da.from_array(y, chunks=(2_500, -1))
    assert xs.numblocks[0] >= 8
    params = (W1, b1, W2) if weights == "numpy" else tuple(da.from_array(w) for w in (W1, b1, W2))
    with nothing_computed():
        lazy_loss = loss(xs, ys, *params)
        lazy_grads = dloss(xs, ys, *params)
    assert_lazy(lazy_loss, *lazy_grads)
    got_loss, *got_grads = dask.compute(lazy_loss, *lazy_grads, scheduler="threads")
    assert_close(got_loss, loss(x, y, W1, b1, W2))
    for g, w in zip(got_grads, dloss(x, y, W1, b1, W2)):
        assert_close(g, w)


def test_mlp_example_in_f32() -> None:
    mod = load_shared(EXAMPLES / "mlp.dsl")
    x, y, W1, b1, W2 = mlp_data(4_000, "float32")
    xs, ys = da.from_array(x, chunks=(500, -1)), da.from_array(y, chunks=(500, -1))
    with nothing_computed():
        lazy = (mod.compile("loss")(xs, ys, W1, b1, W2), *mod.compile("dloss")(xs, ys, W1, b1, W2))
    assert_lazy(*lazy)
    want = (mod.compile("loss")(x, y, W1, b1, W2), *mod.compile("dloss")(x, y, W1, b1, W2))
    for g, w in zip(dask.compute(*lazy, scheduler="sync"), want):
        assert_close(g, w, rtol=1e-5)


def test_stencil_energy_and_gradient_on_a_chunked_vector() -> None:
    mod = load_shared(EXAMPLES / "stencil_energy.dsl")
    energy, gradient, laplacian = mod.compile("energy"), mod.compile("gradient"), mod.compile("laplacian")
    u = np.random.default_rng(1).uniform(-1.5, 1.5, 100_000)
    us = da.from_array(u, chunks=10_000)
    assert us.numblocks[0] >= 10
    with nothing_computed():
        e, g, lap = energy(us), gradient(us), laplacian(us)
    assert_lazy(e, g, lap)
    assert g.numblocks[0] >= 10, "the gradient should stay chunked"
    got = dask.compute(e, g, lap, scheduler="threads")
    for have, want in zip(got, (energy(u), gradient(u), laplacian(u))):
        assert_close(have, want)


def test_reaction_fit_gradient_chunked_over_states() -> None:
    mod = load_shared(EXAMPLES / "reactions.dsl")
    rng = np.random.default_rng(2)
    N, S = 4_000, 6
    T, c, obs = rng.uniform(300, 1500, N), rng.uniform(0, 1, (N, S)), rng.uniform(-1, 0, (N, S))
    A, Ea = rng.uniform(1e3, 1e5, S), rng.uniform(2e4, 9e4, S)
    lazy_args = (da.from_array(T, chunks=500), da.from_array(c, chunks=(500, -1)), da.from_array(obs, chunks=(500, -1)))
    with nothing_computed():
        fit, dfit = mod.compile("fit")(*lazy_args, A, Ea), mod.compile("dfit")(*lazy_args, A, Ea)
    assert_lazy(fit, *dfit)
    got = dask.compute(fit, *dfit, scheduler="threads")
    for have, want in zip(got, (mod.compile("fit")(T, c, obs, A, Ea), *mod.compile("dfit")(T, c, obs, A, Ea))):
        assert_close(have, want)


SOURCE = """dim n
def recast(x: f64[n]) -> f64[n] { return sin(exp(cast(x, f64))) + x }
def mixed(a: f64[n], b: f64[n]) -> f64[n] { return sin(a) + b }
"""


def test_in_place_temporaries_never_touch_the_callers_arrays() -> None:
    """On Dask, `out=` rebinds the Array object it is given: a no-op cast must still give a new object,
    and the caller's arrays keep their graphs."""
    mod = dsl.loads(SOURCE)
    x = np.linspace(-1, 1, 12)
    xs = da.from_array(x, chunks=4)
    name = xs.name
    got = mod.compile("recast")(xs)
    assert xs.name == name
    assert_close(got.compute(), mod.compile("recast", backend="interpret")(x))
    assert_close(xs.compute(), x)


@pytest.mark.parametrize("lazy", ["a", "b"])
def test_numpy_and_dask_arguments_mix(lazy: str) -> None:
    mod = dsl.loads(SOURCE)
    a, b = np.linspace(-1, 1, 12), np.linspace(2, 3, 12)
    args = (da.from_array(a, chunks=4), b) if lazy == "a" else (a, da.from_array(b, chunks=4))
    got = mod.compile("mixed")(*args)
    assert_lazy(got)
    assert_close(got.compute(), np.sin(a) + b)
    np.testing.assert_array_equal(args[1] if lazy == "a" else args[0], b if lazy == "a" else a)


def load_example_script() -> Any:
    spec = importlib.util.spec_from_file_location("dask_cluster_example", EXAMPLES / "dask_cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dask_cluster_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("dask.distributed")
    monkeypatch.delenv("DSL_DASK_SCHEDULER", raising=False)
    example = load_example_script()
    out = example.main(rows=4_000, chunk=500, steps=2, workers=2, processes=False, check=True)
    text = capsys.readouterr().out
    assert "with 2 worker(s)" in text and "in 8 chunks" in text and "matches the NumPy backend" in text
    assert len(out["losses"]) == 2 and all(np.isfinite(out["losses"]))
    assert out["losses"][1] < out["losses"][0], "one gradient step should lower the loss"
    assert [g.shape for g in out["grads"]] == [(8, 32), (32,), (32, 1)]
    assert all(isinstance(g, np.ndarray) for g in out["grads"])
