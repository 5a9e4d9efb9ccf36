"""`paused_gc`: the collector is paused inside, restored after, and what the pass built is moved to
the oldest generation unscanned (so no young collection rescans a fresh AST), without keeping any
garbage cycle alive and without touching objects a program froze on purpose."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from grammar.gcpause import paused_gc


class _Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.collect()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def _young_counts() -> tuple[int, int]:
    return gc.get_count()[0], gc.get_count()[1]


def test_the_young_generations_start_empty_after_a_pass(collector: None) -> None:
    with paused_gc():
        kept = [[i] for i in range(5_000)]  # 5,000 tracked lists, alive after the pass
    assert _young_counts() == (0, 0)
    assert gc.get_freeze_count() == 0  # nothing stays frozen
    assert all(gc.is_tracked(x) for x in kept[:10])


def test_a_garbage_cycle_is_still_collected_by_a_full_collection(collector: None) -> None:
    with paused_gc():
        _Cycle()
    assert gc.collect() >= 1  # found: promoted, not kept alive


def test_objects_a_program_froze_stay_frozen(collector: None) -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    with paused_gc():
        pass
    assert gc.get_freeze_count() == frozen > 0


def test_a_collector_disabled_by_the_caller_stays_disabled(collector: None) -> None:
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()


def test_a_parse_leaves_no_cyclic_garbage():
    # a parse runs with the collector paused and moves what it built to the oldest generation, so a
    # cycle among its temporaries (the tokenizer's memo once held a bound method of its owner) would
    # keep the token lists alive until the next full collection: hundreds of MB at 100,000 lines
    from grammar import parse

    text = "dim n\n" + "".join(f"def f{k}(x: f64[n]) -> f64[n] {{ return x * {k}.5 # c\n}}\n" for k in range(200))
    parse(text, "warm.dsl")  # (the grammar's tables and lexicon: once per process)
    gc.collect()
    saved = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        module = parse(text, "t.dsl")
        gc.collect()
        garbage = [type(o).__name__ for o in gc.garbage]
    finally:
        gc.set_debug(saved)
        gc.garbage.clear()
    assert len(module.decls) == 201
    assert garbage == []
