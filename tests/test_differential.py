"""The differential test: random well-typed programs (tests/differential_programs.py) checked against
independent oracles on the reference interpreter and on the generated NumPy code.

For every program: the forward value (NumPy backend = interpreter); grad w.r.t. every parameter
against central finite differences w.r.t. each argument alone; jvp against a directional difference;
vjp against jvp by the dot-product test ⟨J v, w⟩ = ⟨v, Jᵀ w⟩; jacobian against finite differences;
hessian against finite differences of the gradient and against jacobian(grad). A point where the
function is not smooth (a kink of maximum/where/max crossed by the difference step) is recognised
by two step sizes disagreeing, and skipped: the oracle does not apply there.

Default: a few programs per run; `pytest --slow` runs 2,000 (DSL_DIFFERENTIAL_EXAMPLES overrides the count).
The large run is sharded by seed, one shard at a time: `benchmarks/differential_shards.sh 1 20 100`
(seeds 1-20 x 100 programs, each `--hypothesis-seed=SEED`); its last result, with the times and
where the time of a program goes, is in benchmarks/RESULTS.md ("Differential test: the large run").
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import dsl
from codegen import CompileCache, compile_diagram
from rewrite import grad, hessian, jacobian, jvp, vjp
from semantics.diagram import Diagram
from semantics.interpret import interpret
from tests.differential_programs import INPUTS, N, programs

H = 1e-6
CACHE = CompileCache()


def inputs(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, tuple(N if d == "n" else int(d) for d in s)) for s in INPUTS.values()]


def both(d: Diagram, backend: str):
    """`d` on the interpreter and, for a compiling backend ("numpy", "c"), also as generated code, the
    two compared on every call (so the oracles below check both)."""
    compiled = compile_diagram(d, backend, cache=CACHE) if backend != "interpret" else None

    def run(*args):
        want = interpret(d, *args)
        if compiled is None:
            return want
        got = compiled(*args)
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, err_msg=f"{backend} backend vs interpreter")
        return want

    return run


def directional(f, xs, vs, h):
    return (np.asarray(f(*[x + h * v for x, v in zip(xs, vs)])) - np.asarray(f(*[x - h * v for x, v in zip(xs, vs)]))) / (2 * h)


def smooth_close(got, f, xs, vs, what):
    """got ≈ the directional difference; where two step sizes disagree the point is a kink: skip."""
    fd = directional(f, xs, vs, H)
    if np.allclose(got, fd, rtol=1e-5, atol=1e-6):
        return
    assume(np.allclose(fd, directional(f, xs, vs, H / 8), rtol=1e-4, atol=1e-6))
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6, err_msg=what)


def check_program(source: str, seed: int, backend: str) -> None:
    mod = dsl.loads(source, filename="random.dsl")
    f_d = mod["f"]
    xs = inputs(seed)
    rng = np.random.default_rng(seed + 1)
    f = both(f_d, backend)
    assume(np.isfinite(f(*xs)))
    # grad w.r.t. every parameter, each checked along every basis direction of that argument alone
    gs = both(grad(f_d), backend)(*xs)
    for i, (x, g) in enumerate(zip(xs, gs)):  # w.r.t. each argument alone, along a random direction
        v = [np.zeros_like(a) for a in xs]
        v[i] = rng.standard_normal(x.shape)
        smooth_close(np.sum(g * v[i]), f, xs, v, f"grad w.r.t. {list(INPUTS)[i]}")
    vs = [rng.standard_normal(x.shape) for x in xs]
    _, jv = both(jvp(f_d), backend)(*xs, *vs)
    smooth_close(jv, f, xs, vs, "jvp")
    assert float(jv) == pytest.approx(sum(float(np.sum(g * v)) for g, v in zip(gs, vs)), rel=1e-8, abs=1e-9)
    # hessian w.r.t. x = jacobian(grad w.r.t. x) = finite differences of that gradient
    gx_d = grad(f_d, wrt="x")
    h = both(hessian(f_d, wrt="x"), backend)(*xs)
    np.testing.assert_allclose(h, both(jacobian(gx_d, wrt="x"), backend)(*xs), rtol=1e-8, atol=1e-9,
                               err_msg="hessian vs jacobian(grad)")
    gx = both(gx_d, backend)
    for idx in np.ndindex((N,)):
        v = [np.zeros_like(a) for a in xs]
        v[0][idx] = 1.0
        smooth_close(h[:, idx[0]], gx, xs, v, f"hessian column {idx}")
    if "g" in mod.names:
        check_vector_output(mod["g"], xs, rng, backend)


def check_vector_output(g_d: Diagram, xs, rng, backend: str) -> None:
    g = both(g_d, backend)
    y = np.asarray(g(*xs))
    assume(np.all(np.isfinite(y)))
    vs = [rng.standard_normal(x.shape) for x in xs]
    w = rng.standard_normal(y.shape)
    outs = both(jvp(g_d), backend)(*xs, *vs)
    jv = outs[1]
    smooth_close(jv, g, xs, vs, "jvp of g")
    cts = both(vjp(g_d), backend)(*xs, w)
    assert float(np.sum(jv * w)) == pytest.approx(sum(float(np.sum(v * c)) for v, c in zip(vs, cts)),
                                                  rel=1e-8, abs=1e-9), "dot-product test"
    J = both(jacobian(g_d, wrt="y"), backend)(*xs)
    for idx in np.ndindex((N,)):
        v = [np.zeros_like(a) for a in xs]
        v[1][idx] = 1.0
        smooth_close(J[..., idx[0]], g, xs, v, f"jacobian column {idx}")


def _examples(default: int) -> int:
    return int(os.environ.get("DSL_DIFFERENTIAL_EXAMPLES", default))


COUNTS = {"passed": 0, "started": 0}  # programs checked in this process (printed by the slow run, `-s`)


def _run(source: str, seed: int, backend: str) -> None:
    COUNTS["started"] += 1
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        check_program(source, seed, backend)
    COUNTS["passed"] += 1


NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)


def test_random_programs_match_finite_differences() -> None:
    """Every value is computed by both backends (compared at rtol 1e-9) and checked against the oracles."""
    @settings(max_examples=_examples(3), **SETTINGS)  # type: ignore[arg-type]
    @given(programs(max_steps=4), st.integers(0, 2**16))
    def check(source: str, seed: int) -> None:
        _run(source, seed, "numpy")

    check()


def test_random_programs_on_the_c_backend() -> None:
    """The fused C kernels (one gcc run per diagram, so few programs): the function, its gradient and its
    Hessian, each computed by the c backend and the interpreter and compared (a strided slice of a
    symbolic dim once made a kernel gcc rejected), and the gradient checked against finite differences."""
    @settings(max_examples=_examples(2), **SETTINGS)  # type: ignore[arg-type]
    @given(programs(max_steps=4), st.integers(0, 2**16))
    def check(source: str, seed: int) -> None:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            f_d = dsl.loads(source, filename="random.dsl")["f"]
            xs = inputs(seed)
            f = both(f_d, "c")
            assume(np.isfinite(f(*xs)))
            gs = both(grad(f_d), "c")(*xs)
            vs = [np.random.default_rng(seed).standard_normal(x.shape) for x in xs]
            smooth_close(sum(float(np.sum(g * v)) for g, v in zip(gs, vs)), f, xs, vs, "grad (c backend)")
            both(hessian(f_d, wrt="x"), "c")(*xs)

    check()


@pytest.mark.slow
def test_two_thousand_random_programs() -> None:
    """Run in shards by seed (benchmarks/differential_shards.sh); no example database, so a shard is a
    function of its `--hypothesis-seed` alone (a failure saved by one shard is not replayed by the next),
    and no shrinking (at 1-3 s a program it takes hypothesis > 5 minutes; the failing program is printed
    whole, and its minimal form becomes a regression test)."""
    @settings(max_examples=_examples(2000), database=None, phases=NO_SHRINK, **SETTINGS)  # type: ignore[arg-type]
    @given(programs(max_steps=6), st.integers(0, 2**16))
    def check(source: str, seed: int) -> None:
        _run(source, seed, "numpy")

    check()
    print(f"\ndifferential: {COUNTS['passed']} of {COUNTS['started']} programs passed every check (the others were "
          "rejected by an assumption: a non-finite value or a kink)")
