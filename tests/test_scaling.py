"""Compile-time scaling, asserted by counts (boxes, nodes copied, tokens), never by wall time.

The timings themselves are measured by `benchmarks/scaling.py` and recorded in
`benchmarks/RESULTS.md`; these tests pin the algorithmic facts those timings rest on."""

from __future__ import annotations

import glob
import os
import sys
import tempfile

import numpy as np

import dsl
from benchmarks.scaling import bigdef_source, chain_source, dag_source, defchain_source
from grammar import parse
from semantics.elaborate import elaborate
from semantics.program import DiagramDef


def _own_boxes(source: str) -> dict[str, int]:
    program = elaborate(parse(source, "chain.dsl"))
    return {n: len(d.diagram.nodes) for n, d in program.definitions if isinstance(d, DiagramDef)}


def test_defs_calling_defs_elaborate_in_linear_size():
    # Each def of the chain is 4 boxes (0.5, the call, *, +) however deep the chain is: calls stay
    # boxes until a definition is used, so elaborating n defs builds O(n) boxes, not O(n²).
    for n in (50, 200):
        sizes = _own_boxes(defchain_source(n))
        assert sizes["g0"] == 1
        assert {sizes[f"g{k}"] for k in range(1, n)} == {4}


def test_a_chain_deeper_than_the_recursion_limit_expands_exactly():
    n = sys.getrecursionlimit() + 100  # expansion is iterative: no RecursionError at any depth
    mod = dsl.loads(defchain_source(n))
    last = mod[f"g{n - 1}"]
    kinds = {node.box.kind for node in last.nodes}
    assert kinds == {"prim"}
    assert last.stats()["ops"] == 1 + 3 * (n - 1)  # sin, then (0.5, *, +) per level
    x = np.linspace(-1.0, 1.0, 5)
    expected = np.sin(x)
    for _ in range(n - 1):
        expected = 0.5 * expected + x
    np.testing.assert_allclose(mod.compile(f"g{n - 1}", backend="interpret")(x), expected, rtol=1e-12)


def test_calls_keep_the_callers_dims_through_several_levels():
    src = """
dim B, D, N
def lin(x: f64[B, D], W: f64[D, D]) -> f64[B, D] { return tanh(x @ W) }
def two(x: f64[B, D], W: f64[D, D]) -> f64[B, D] { return lin(lin(x, W), W) }
def four(z: f64[N, 3], W: f64[3, 3]) -> f64[N, 3] { return two(two(z, W), W) }
"""
    mod = dsl.loads(src)
    d = mod["four"]
    assert d.stats()["ops"] == 8 and {str(t) for t in d.types} == {"f64[N, 3]", "f64[3, 3]"}
    z, W = np.linspace(-1, 1, 6).reshape(2, 3), np.eye(3) * 0.5 + 0.1
    out = mod.compile("four")(z, W)
    expected = z
    for _ in range(4):
        expected = np.tanh(expected @ W)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_a_long_def_elaborates_one_box_per_operation():
    n = 600
    program = elaborate(parse(bigdef_source(n), "big.dsl"))
    d = program.lookup("f").diagram
    assert len(d.nodes) == 3 * n  # (* y), (k.5), (+) per statement


def test_a_body_in_source_order_is_elaborated_once_without_ordering_it(monkeypatch):
    """Statements are elaborated in source order without collecting the names each reads; only a
    body that reads a name further down is elaborated a second time, in dependency order."""
    import semantics.elaborate as elab

    counts = {"bodies": 0, "orderings": 0}

    def counted(name, real):
        def call(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(elab, "dependency_order", counted("orderings", elab.dependency_order))
    monkeypatch.setattr(elab.Elaborator, "_elaborate_def", counted("bodies", elab.Elaborator._elaborate_def))
    lines = bigdef_source(300).splitlines()
    in_order = elaborate(parse("\n".join(lines), "big.dsl")).lookup("f").diagram
    assert counts == {"bodies": 1, "orderings": 0}
    counts.update(bodies=0)
    late = lines[:3] + lines[4:-2] + [lines[3]] + lines[-2:]  # `v1 = v0 * y + 1.5` moved to the end
    shuffled = elaborate(parse("\n".join(late), "big.dsl")).lookup("f").diagram
    assert counts == {"bodies": 2, "orderings": 1}
    assert shuffled == in_order


def test_the_parser_tables_are_cached_on_disk():
    from grammar.parser import _lark

    _lark()
    assert glob.glob(os.path.join(tempfile.gettempdir(), ".lark_cache_*.tmp"))


def test_benchmark_sources_load():
    # the benchmark generators stay valid programs (benchmarks are not run by the suite)
    assert dsl.loads(chain_source(3)).signature("df") == "f64[n] -> f64[n]"
    assert dsl.loads(dag_source(30))["f"].stats()["ops"] >= 30
    # every operation of the DAG is live, so its size is the optimiser's work (dead code is dropped)
    from rewrite.cleanup import tidy

    assert len(tidy(dsl.loads(dag_source(300))["f"]).nodes) >= 300


def test_derivative_templates_are_elaborated_once_per_kind_of_node():
    # transpose writes each node's rule by replaying a fragment elaborated once per (template, types,
    # statics): a chain 4x as deep needs no more fragments than a shallow one
    from rewrite import templates

    # (the memo is not cleared between the two: other per-process caches, such as the transpose's
    # plans, keep what the first chain needed, so a second cold start would elaborate fewer)
    templates._FRAGMENTS.clear()
    dsl.loads(chain_source(10))["df"]
    shallow = len(templates._FRAGMENTS)
    dsl.loads(chain_source(40))["df"]
    assert len(templates._FRAGMENTS) == shallow <= 20, (shallow, len(templates._FRAGMENTS))
