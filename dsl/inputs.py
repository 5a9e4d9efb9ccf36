"""Runtime inputs for `dsl run`: arrays from .npy/.npz/JSON files, or random arrays of the signature."""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from semantics.errors import InputError
from semantics.types import NUMPY_DTYPE, Dim, TensorType, WireType
from semantics.validate import format_bytes, physical_memory

MAX_DIM = 2**62  # larger sizes overflow NumPy's shape arithmetic (int64) long before memory runs out


def parse_dims(text: str | None) -> dict[str, int]:
    """`n=1000,m=3` → {"n": 1000, "m": 3}.

    >>> parse_dims("n=-5")
    Traceback (most recent call last):
    semantics.errors.InputError: error: --dims n=-5: a size must be 0 or more
    """
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        value = value.strip()
        if not eq or not value.lstrip("-").isdigit() or len(value) > 30:
            raise InputError(f"--dims expects name=integer pairs like n=1000,m=3, got '{part}'")
        size = int(value)
        if size < 0:
            raise InputError(f"--dims {part.strip()}: a size must be 0 or more")
        if size > MAX_DIM:
            raise InputError(f"--dims {part.strip()}: a size must be at most 2^62")
        out[name.strip()] = size
    return out


# What NumPy, zipfile and json raise on a file that is not what its name says (empty, truncated,
# corrupt, nested deeper than the parser's stack): each becomes an InputError naming the file.
_UNREADABLE = (OSError, ValueError, EOFError, RecursionError, zipfile.BadZipFile, KeyError, MemoryError)


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
    except _UNREADABLE as err:
        raise InputError(f"cannot read input file {path}: {_reason(path, err)}") from None
    raise InputError(f"input file {path}: expected .npy, .npz or .json")


def _reason(path: str, err: BaseException) -> str:
    if isinstance(err, OSError) and not isinstance(err, zipfile.BadZipFile):
        return err.strerror or str(err)
    if isinstance(err, RecursionError):
        return "it is nested too deeply"
    if isinstance(err, UnicodeDecodeError):
        return f"it is not UTF-8 text ({err.reason} at byte {err.start})"
    if isinstance(err, json.JSONDecodeError):
        return f"it is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
    if isinstance(err, MemoryError):
        return "not enough memory to load it"
    kind = "an .npz archive" if path.endswith(".npz") else "an .npy array"
    detail = "" if isinstance(err, EOFError) or "pickled" in str(err) or not str(err) else f" ({err})"
    return f"it is empty, truncated or not {kind} written by numpy.save/savez{detail}"


def _as_array(value: Any, t: WireType, name: str, source: str) -> Any:
    if not isinstance(t, TensorType):
        raise InputError(f"parameter '{name}' is a function ({t}); it cannot be read from {source}")
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value, dtype=NUMPY_DTYPE[t.dtype])
    except (TypeError, ValueError, OverflowError, RecursionError) as err:
        raise InputError(f"parameter '{name}' from {source}: not an array of {t} ({err})") from None


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


def random_inputs(dom: Sequence[WireType], names: Sequence[str], seed: int, dims: dict[str, int],
                  memory: int | None = None) -> list[Any]:
    """Random arrays matching the signature: normal floats, small integers, fair booleans.

    The shapes are worked out first: a negative size, or inputs needing more than `memory` bytes
    (default: this machine's physical memory) are an InputError saying how much they need.
    """
    shapes = []
    for t, name in zip(dom, names):
        if not isinstance(t, TensorType):
            raise InputError(f"parameter '{name}' is a function ({t}); --random cannot make one")
        shapes.append(_shape(t, name, dims))
    sizes = [math.prod(s) * np.dtype(NUMPY_DTYPE[t.dtype]).itemsize  # type: ignore[union-attr]
             for s, t in zip(shapes, dom)]
    limit = physical_memory() if memory is None else memory
    if limit is not None and sum(sizes) > limit:
        parts = ", ".join(f"{n}: {t} = {format_bytes(b)}" for n, t, b in zip(names, dom, sizes) if b)
        raise InputError(f"the random inputs need {format_bytes(sum(sizes))} ({parts}), more than the "
                         f"{format_bytes(limit)} of memory available; choose smaller --dims")
    rng = np.random.default_rng(seed)
    return [_random_array(rng, t, s) for t, s in zip(dom, shapes)]  # type: ignore[arg-type]


def _shape(t: TensorType, name: str, dims: dict[str, int]) -> tuple[int, ...]:
    shape = []
    for d in t.shape:
        missing = sorted(a for a in d.atoms if a not in dims)
        if missing:
            raise InputError(f"parameter '{name}' has type {t}: give the size of {', '.join(missing)} "
                             f"with --dims {','.join(f'{m}=...' for m in missing)}")
        size = Dim.evaluate(d, dims)
        if size < 0:
            raise InputError(f"parameter '{name}' has type {t}: with --dims "
                             f"{','.join(f'{a}={dims[a]}' for a in sorted(d.atoms))} its size {d} is {size} < 0")
        shape.append(size)
    return tuple(shape)


def _random_array(rng: np.random.Generator, t: TensorType, shape: tuple[int, ...]) -> Any:
    if t.dtype in ("f32", "f64"):
        return rng.standard_normal(shape).astype(NUMPY_DTYPE[t.dtype])
    if t.dtype == "bool":
        return rng.random(shape) < 0.5
    return rng.integers(0, 10, size=shape).astype(NUMPY_DTYPE[t.dtype])
