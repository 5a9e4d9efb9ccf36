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
