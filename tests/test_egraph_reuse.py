"""The e-graph's fixed cost is paid once per process: the schema and a rule table are declared once,
and every later EGraph starts from that declared state (egglog push/pop). Asserted by counts
(declarations, e-graphs taken), never by time, and against a fresh process: nothing leaks from one
derivation to the next."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings

import dsl
from rewrite import egraph, egraph_encoding
from rewrite.egraph import EGraph, pool_counts
from rewrite.optimize import optimize
from rewrite.rules import RULES, rules_for
from semantics.diagram import Builder, Diagram, make_box
from semantics.types import scalar
from tests.helpers import examples
from tests.strategies import diagrams

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F64 = scalar("f64")
CASES = (("examples/mlp.dsl", "dloss"), ("examples/reactions.dsl", "dfit"))


def _emit(case: tuple[str, str]) -> str:
    path, name = case
    return dsl.load(os.path.join(ROOT, path)).emit(name)


def _sin_times_two() -> Diagram:
    b = Builder()
    x = b.input(F64)
    (two,) = b.add(make_box("const", {"value": 2.0, "dtype": "f64"}), [], [F64])
    (s,) = b.add(make_box("sin"), [x], [F64])
    (y,) = b.add(make_box("mul"), [s, two], [F64])
    return b.build([y])


def test_derivations_in_either_order_equal_a_fresh_process():
    script = "import sys, dsl; sys.stdout.write(dsl.load(sys.argv[1]).emit(sys.argv[2]))"
    procs = [subprocess.Popen([sys.executable, "-c", script, os.path.join(ROOT, path), name], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for path, name in CASES]
    fresh = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs) and all(fresh)
    a, b = CASES
    assert [_emit(a), _emit(b), _emit(a)] == [fresh[0], fresh[1], fresh[0]]
    assert [_emit(b), _emit(a), _emit(b)] == [fresh[1], fresh[0], fresh[1]]


def test_the_schema_is_declared_once_per_process():
    for case in CASES:  # the first derivations declare the optimiser's and the linearizer's e-graphs
        _emit(case)
    before = pool_counts()
    for case in (*CASES, *CASES):
        _emit(case)
    after = pool_counts()
    assert after["taken"] - before["taken"] >= 8  # every grad builds e-graphs (linearize, optimise)
    assert after["declared"] == before["declared"]


def test_a_new_egraph_starts_empty_after_a_used_one():
    d = _sin_times_two()
    with EGraph(RULES) as eg:
        eg.load([d])
        eg.push()
        eg.push()  # left pushed on purpose: close pops them all
        assert eg.size() > 0
    with EGraph(RULES) as eg:
        assert eg.size() == 0 and all(n == 0 for _, n in eg.sizes())
        eg.load([d])
        assert eg.size() > 0


def test_egraphs_alive_at_once_do_not_share_state():
    d = _sin_times_two()
    with EGraph(RULES) as first, EGraph(RULES) as second:
        first.load([d])
        assert first.size() > 0 and second.size() == 0


def test_closed_egraph_and_unmatched_pop_fail_clearly():
    eg = EGraph(RULES)
    with pytest.raises(RuntimeError, match="without a matching push"):
        eg.pop()  # would otherwise pop the declared state itself
    eg.close()
    eg.close()
    with pytest.raises(RuntimeError, match="closed"):
        eg.size()
    with EGraph(RULES) as again:  # the instance went back to the pool intact
        again.load([_sin_times_two()])
        assert again.run_iteration("algebra")[0] is not None


def test_an_egraph_in_another_thread_gets_its_own_instance():
    results: list[int] = []

    def work() -> None:
        with EGraph(RULES) as eg:
            eg.load([_sin_times_two()])
            results.append(eg.size())

    with EGraph(RULES) as here:
        here.load([_sin_times_two()])
        t = threading.Thread(target=work)
        t.start()
        t.join()
        assert results == [here.size()]


def test_rows_load_the_same_through_temporary_files(monkeypatch):
    """Where in-memory files do not exist, the rows go through temporary files, with the same e-graph."""
    d = _sin_times_two()
    with EGraph(RULES) as eg:
        eg.load([d])
        want = eg.sizes()
    monkeypatch.setattr(egraph_encoding, "_MEMFD", False)
    with EGraph(RULES) as eg:
        eg.load([d])
        assert eg.sizes() == want


def test_a_step_runs_only_the_rules_that_can_match():
    """sin(x) * 2: the algebra rules about exp, log, transpose, ... cannot match (nor be made
    matchable by other rules), so a step leaves them out, and the optimiser's result is the one
    with every rule in every step."""
    with EGraph(RULES) as eg:
        eg.load([_sin_times_two()])
        ran = eg.step_rules("algebra")
        everything = [r.name for r in RULES if r.stage == "algebra"]
        assert 0 < len(ran) < len(everything) and "exp-log" not in ran and "mul-one-r" in ran
        assert set(ran) <= set(everything)


@settings(max_examples=examples(15), deadline=None)
@given(diagrams(max_nodes=10))
def test_leaving_out_rules_that_cannot_match_changes_nothing(d):
    out, report = optimize(d)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(egraph, "relevant_rules", lambda rules, present: frozenset(r.name for r in rules))
        want, want_report = optimize(d)
    assert [(n.box, n.inputs, n.outputs) for n in out.nodes] == [(n.box, n.inputs, n.outputs) for n in want.nodes]
    assert out.outputs == want.outputs and report.rules_fired == want_report.rules_fired
    assert [(s.name, s.iterations, s.stop_reason, s.size_after) for s in report.stages] == \
        [(s.name, s.iterations, s.stop_reason, s.size_after) for s in want_report.stages]


def _exp_chain() -> Diagram:
    """exp(log(x) * 1) - x * 0.5 * 2: rules about exp, log, mul and sub can match, the rest cannot."""
    b = Builder()
    x = b.input(F64)
    one, half, two = (b.add(make_box("const", {"value": v, "dtype": "f64"}), [], [F64])[0] for v in (1.0, 0.5, 2.0))
    (lg,) = b.add(make_box("log"), [x], [F64])
    (m,) = b.add(make_box("mul"), [lg, one], [F64])
    (e,) = b.add(make_box("exp"), [m], [F64])
    (h,) = b.add(make_box("mul"), [x, half], [F64])
    (t,) = b.add(make_box("mul"), [h, two], [F64])
    (y,) = b.add(make_box("sub"), [e, t], [F64])
    return b.build([y])


@pytest.mark.parametrize("fast_math", [False, True])
def test_rules_are_declared_when_first_needed_and_results_do_not_depend_on_which(fast_math, monkeypatch):
    """An instance declares a rule of its table the first time an e-graph may run it (declaring costs
    ~1 ms a rule): optimising in an instance that has declared none of them, one that has declared
    those of another model first, and one that has declared every rule gives the same result."""
    table = rules_for(fast_math)

    def run() -> tuple[list[object], tuple[object, ...]]:
        out, report = optimize(_exp_chain(), fast_math=fast_math)
        return [(n.box, n.inputs, n.outputs) for n in out.nodes], report.rules_fired

    monkeypatch.setattr(egraph, "_POOL", egraph._Pool())  # no instance at rest: the next one declares no rule
    fresh = run()
    (inst,) = [i for free in egraph._POOL.free.values() for i in free]
    assert 0 < len(inst.rules) < len(table)  # only those that can match exp, log, mul and sub
    monkeypatch.setattr(egraph, "_POOL", egraph._Pool())
    optimize(_sin_times_two(), fast_math=fast_math)  # another model's rules first, in the same instance
    assert run() == fresh
    with EGraph(table) as eg:  # the same instance, with every rule of the table declared
        eg._need(range(len(table)))
    (inst,) = [i for free in egraph._POOL.free.values() for i in free]
    assert len(inst.rules) == len(table)
    assert run() == fresh


def test_a_pop_takes_back_what_fold_learned_since_the_push():
    # run_stage rolls an iteration back (pop) when it crosses the node limit, and a later stage folds
    # on the same e-graph: the folds the pop took away must be found again, not skipped as done
    b = Builder()
    (two,) = b.add(make_box("const", {"value": 2.0, "dtype": "f64"}), [], [F64])
    (s,) = b.add(make_box("sin"), [two], [F64])
    d = b.build([s])
    with EGraph(RULES) as eg:
        eg.load([d])
        eg.push()
        assert eg.fold() == {"fold-sin": 1}
        eg.pop()
        assert eg.fold() == {"fold-sin": 1}
        assert eg.fold() == {}  # (and once folded, not again)
