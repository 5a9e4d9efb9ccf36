"""Runtime inputs for `dsl run`: arrays from .npy/.npz/JSON files, or random arrays of the signature."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from semantics.errors import InputError
from semantics.types import NUMPY_DTYPE, Dim, TensorType, WireType


def parse_dims(text: str | None) -> dict[str, int]:
    """`n=1000,m=3` → {"n": 1000, "m": 3}."""
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        if not eq or not value.strip().lstrip("-").isdigit():
            raise InputError(f"--dims expects name=integer pairs like n=1000,m=3, got '{part}'")
        out[name.strip()] = int(value)
    return out


def _read_file(path: str) -> Any:
    try:
        if path.endswith(".npy"):
            return np.load(path, allow_pickle=False)
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read input file {path}: {err}") from None
    raise InputError(f"input file {path}: expected .npy, .npz or .json")


def _as_array(value: Any, t: WireType, name: str, source: str) -> Any:
    if not isinstance(t, TensorType):
        raise InputError(f"parameter '{name}' is a function ({t}); it cannot be read from {source}")
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value, dtype=NUMPY_DTYPE[t.dtype])
    except (TypeError, ValueError) as err:
        raise InputError(f"parameter '{name}' from {source}: {err}") from None


def read_inputs(specs: Sequence[str], dom: Sequence[WireType], names: Sequence[str]) -> list[Any]:
    """Arrays for each parameter, from `path` (next parameter, or by name inside .npz/.json objects)
    and `name=path` items."""
    found: dict[str, Any] = {}
    positional = iter(names)
    types = dict(zip(names, dom))
    for spec in specs:
        name, eq, path = spec.partition("=")
        if eq and not os.path.exists(spec):
            if name not in types:
                raise InputError(f"unknown parameter '{name}' in {spec} (parameters: {', '.join(names)})")
            found[name] = _as_array(_read_file(path), types[name], name, path)
            continue
        data = _read_file(spec)
        if isinstance(data, dict):
            for k, v in data.items():
                if k not in types:
                    raise InputError(f"{spec} has an array '{k}' that is not a parameter ({', '.join(names)})")
                found[k] = _as_array(v, types[k], k, spec)
        elif _is_list_of_arguments(data, spec, dom):
            for k, v in zip(names, data):
                found[k] = _as_array(v, types[k], k, spec)
        else:
            slot = next((n for n in positional if n not in found), None)
            if slot is None:
                raise InputError(f"too many inputs: {spec} has no parameter left to fill")
            found[slot] = _as_array(data, types[slot], slot, spec)
    missing = [n for n in names if n not in found]
    if missing:
        raise InputError(f"missing input for parameter(s) {', '.join(missing)}; pass files or use --random SEED")
    return [found[n] for n in names]


def _is_list_of_arguments(data: Any, spec: str, dom: Sequence[WireType]) -> bool:
    """A JSON list holding one nested list per parameter (rather than one array for the next parameter)."""
    return (spec.endswith(".json") and isinstance(data, list) and len(data) == len(dom) > 1
            and all(isinstance(t, TensorType) and t.rank for t in dom) and isinstance(data[0], list))


def random_inputs(dom: Sequence[WireType], names: Sequence[str], seed: int, dims: dict[str, int]) -> list[Any]:
    """Random arrays matching the signature: normal floats, small integers, fair booleans."""
    rng = np.random.default_rng(seed)
    out = []
    for t, name in zip(dom, names):
        if not isinstance(t, TensorType):
            raise InputError(f"parameter '{name}' is a function ({t}); --random cannot make one")
        out.append(_random_array(rng, t, name, dims))
    return out


def _random_array(rng: np.random.Generator, t: TensorType, name: str, dims: dict[str, int]) -> Any:
    shape = []
    for d in t.shape:
        missing = sorted(a for a in d.atoms if a not in dims)
        if missing:
            raise InputError(f"parameter '{name}' has type {t}: give the size of {', '.join(missing)} "
                             f"with --dims {','.join(f'{m}=...' for m in missing)}")
        shape.append(Dim.evaluate(d, dims))
    if t.dtype in ("f32", "f64"):
        return rng.standard_normal(shape).astype(NUMPY_DTYPE[t.dtype])
    if t.dtype == "bool":
        return rng.random(shape) < 0.5
    return rng.integers(0, 10, size=shape).astype(NUMPY_DTYPE[t.dtype])
