"""Shared test helpers."""

from __future__ import annotations

import numpy as np
import pytest

import dsl


def raises_at(exc: type, source: str, line: int, *fragments: str, col: int | None = None) -> dsl.DslError:
    """Loading `source` (and deriving everything) raises `exc` at `line` with every fragment in the message."""
    with pytest.raises(exc) as info:
        mod = dsl.loads(source, filename="t.dsl")
        for name in mod.names:
            if mod.signature(name) != "(generic: typed at each call)":
                mod[name]
    err = info.value
    assert err.line == line, f"line {err.line} != {line}: {err}"
    if col is not None:
        assert err.col == col, f"col {err.col} != {col}: {err}"
    text = str(err)
    for f in fragments:
        assert f in text, f"{f!r} not in {text!r}"
    assert "Traceback" not in text
    assert text.startswith("t.dsl:"), text
    return err


def rand(shape: tuple[int, ...], dtype: str = "float64", seed: int = 0, positive: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return a.astype(dtype)


def run(source: str, name: str, *args, backend: str = "interpret"):
    return dsl.loads(source).compile(name, backend=backend)(*args)
