"""`paused_gc`: the compile-time passes run with Python's cyclic garbage collector paused.

(In `grammar/`, the bottom layer, so the parser uses it as well as the passes above it.)

Why: parsing, loading, deriving, optimising and compiling a model allocate one or more small objects per
box, wire and e-node (frozen dataclasses, tuples, dicts) and keep most of them alive until the
pass ends. Each allocation burst triggers the collector, whose older generations rescan the whole
growing heap: measured on the 600-layer chain and the 5,000-op random DAG of
benchmarks/scaling.py, 18–27% of the CPU time went to collections that found nothing (the passes
create no reference cycles worth collecting: diagrams are immutable trees of tuples). Reference
counting still frees everything as usual; only the cycle detector waits.

What a pass leaves behind is long-lived (an AST, a diagram, generated code), so when the
outermost paused section ends its objects go straight to the collector's oldest generation
instead of being scanned first by the young ones: a gen-0 collection right after parsing 50,000
one-line defs took ~20 µs a line, a third of the parse. `gc.freeze()` then `gc.unfreeze()` does
exactly that move, in constant time (two list splices; the young generations' counts restart at
0). Nothing is kept alive: the oldest generation is collected on the collector's usual schedule,
so a cycle that became garbage meanwhile (ours or the caller's) is found at the next full
collection instead of a young one. Only done when nothing is frozen already, so that a program
that froze objects itself (e.g. before forking) keeps them frozen.

It nests (only the outermost section re-enables the collector) and restores the state it found,
so a caller that disabled the collector itself keeps it disabled.

>>> import gc
>>> with paused_gc():
...     with paused_gc():
...         inner = gc.isenabled()
...     still = gc.isenabled()
>>> inner, still, gc.isenabled()
(False, False, True)
>>> @paused_gc()
... def build() -> bool:
...     return gc.isenabled()
>>> build(), gc.isenabled()
(False, True)
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector for the block (or the decorated function); see the module doc."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            promote_to_oldest_generation()
            gc.enable()


def promote_to_oldest_generation() -> None:
    """Move every object the collector tracks into its oldest generation, unscanned (see the module
    doc); nothing if some objects are frozen (their owner froze them on purpose)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
