"""Runtime inputs for `dsl run`: arrays from .npy/.npz/JSON files, or random arrays of the signature."""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from semantics.errors import InputError
from semantics.types import NUMPY_DTYPE, Dim, FunType, TensorType, WireType, flatten
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


# --------------------------------------------------------------------------- function-typed inputs

MAX_GRID_POINTS = 10**8  # 0.8 GB of f64 coordinates per axis: beyond this a grid is a typo, not a plot


def bind_functions(specs: Sequence[str], dom: Sequence[WireType], names: Sequence[str]) -> dict[str, Any]:
    """`--fn` items → DSL function values by parameter name: `rho=x => 1 + x` binds `rho`; a bare
    lambda (`x => 1 + x`) binds the only function-typed parameter.

    Each value is `dsl.fn(text)`, typed when it is bound to the parameter at the call.

    >>> bind_functions(["rho=x => x"], [TensorType("f64")], ["rho"])
    Traceback (most recent call last):
    semantics.errors.InputError: error: --fn rho=x => x: parameter 'rho' is an array (f64), not a function
    """
    types = dict(zip(names, dom))
    fn_params = [n for n in names if isinstance(types[n], FunType)]
    bound: dict[str, Any] = {}
    for spec in specs:
        name, text = _split_fn_spec(spec, fn_params)
        if name not in types:
            listed = ", ".join(fn_params) or "none"
            raise InputError(f"--fn {spec}: there is no parameter '{name}' (function-typed parameters: {listed})")
        if not isinstance(types[name], FunType):
            raise InputError(f"--fn {spec}: parameter '{name}' is an array ({types[name]}), not a function")
        if name in bound:
            raise InputError(f"--fn {spec}: parameter '{name}' is bound twice")
        if not text.strip():
            raise InputError(f"--fn {spec}: no function after '{name}='; write e.g. --fn {name}=\"x => 1 + x\"")
        bound[name] = _function_value(name, text)
    return bound


def _split_fn_spec(spec: str, fn_params: Sequence[str]) -> tuple[str, str]:
    """`rho=x => x` → ("rho", "x => x"); `x => x` → (the only function parameter, "x => x")."""
    name, eq, text = spec.partition("=")
    if eq and name.strip().isidentifier() and not text.startswith(">"):
        return name.strip(), text
    if len(fn_params) == 1:
        return fn_params[0], spec
    raise InputError(f"--fn {spec}: say which parameter it binds, as NAME=LAMBDA (function-typed parameters: "
                     f"{', '.join(fn_params) or 'none'})")


def _function_value(name: str, text: str) -> Any:
    import dsl  # (lazily: dsl imports this module)

    return dsl.fn(text, filename=f"--fn {name}")


def function_params(dom: Sequence[WireType], names: Sequence[str]) -> list[str]:
    """The names of the function-typed parameters, in order."""
    return [n for n, t in zip(names, dom) if isinstance(t, FunType)]


@dataclass(frozen=True)
class Grid:
    """The points `--at` names: a tensor-product grid, one axis per scalar coordinate of the domain.

    `axes[i]` holds the coordinates along axis i; `points()` is every point `[n0, ..., n_{k-1}, k]`,
    and `arguments(sizes)` splits it into the arrays a function of several variables is called on.

    >>> g = parse_grid("0:1:3,2")
    >>> [a.tolist() for a in g.axes], g.points().shape
    ([[0.0, 0.5, 1.0], [2.0]], (3, 1, 2))
    >>> [a.shape for a in g.arguments([None, None])], g.arguments([2])[0].shape
    ([(3, 1), (3, 1)], (3, 1, 2))
    """

    text: str
    axes: tuple[np.ndarray, ...]
    option: str = "--at "  # how the user wrote the option, for messages ("at=" in the REPL)

    @property
    def spelled(self) -> str:
        return f"{self.option}{self.text}"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a) for a in self.axes)

    def points(self) -> np.ndarray:
        """Every point of the grid, `[n0, ..., n_{k-1}, k]`."""
        return np.stack(np.meshgrid(*self.axes, indexing="ij"), axis=-1)

    def arguments(self, sizes: Sequence[int | None]) -> list[np.ndarray]:
        """The grid as one array per variable of a domain: `[n0, ...]` for a scalar variable (size None),
        `[n0, ..., k]` for a point f64[k] (size k); the sizes add up to the number of axes."""
        grid, out, start = self.points(), [], 0
        for k in sizes:
            out.append(grid[..., start] if k is None else grid[..., start:start + k])
            start += 1 if k is None else k
        return out


def parse_grid(text: str, option: str = "--at ") -> Grid:
    """`--at 0:1:101` (101 points from 0 to 1), `0:1:11,0:2:21` (an 11×21 grid in 2-D), `0.5` (one point).

    >>> parse_grid("0:1:0")
    Traceback (most recent call last):
    semantics.errors.InputError: error: --at 0:1:0: the count of an axis must be 1 or more (start:stop:count)
    """
    spelled = f"{option}{text}"
    axes = []
    for part in text.split(","):
        fields = part.split(":")
        if len(fields) not in (1, 3):
            raise InputError(f"{spelled}: each axis is start:stop:count (e.g. 0:1:101) or one number, "
                             f"separated by commas for a k-D domain; got '{part}'")
        ends = [_finite(f, spelled) for f in fields[:2]]
        count = 1 if len(fields) == 1 else _count(fields[2], spelled)
        axes.append(np.linspace(ends[0], ends[-1], count))
    total = math.prod(len(a) for a in axes)
    if total > MAX_GRID_POINTS:
        raise InputError(f"{spelled}: {total:,} points is more than {MAX_GRID_POINTS:,}; choose smaller counts")
    return Grid(text, tuple(axes), option)


def _finite(field: str, spelled: str) -> float:
    try:
        value = float(field)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"{spelled}: '{field}' is not a finite number")
    return value


def _count(field: str, spelled: str) -> int:
    if not field.strip().isdigit() or len(field.strip()) > 12:
        raise InputError(f"{spelled}: the count '{field}' must be a whole number (start:stop:count)")
    count = int(field)
    if count < 1:
        raise InputError(f"{spelled}: the count of an axis must be 1 or more (start:stop:count)")
    return count


def domain_sizes(t: FunType, label: str, grid: Grid) -> list[int | None]:
    """The coordinates of each variable of `t`'s domain, checked against the grid's axes: None for a
    scalar variable (called on `[...]`), k for a point f64[k] (called on `[..., k]`)."""
    variables = flatten(t.arg)
    sizes = [_coordinates(v, t, label) for v in variables]
    if len(variables) == 1 and sizes[0] == -1:  # f64[n]: as many coordinates as --at gives
        sizes = [len(grid.axes)]
    want = sum(1 if k is None else k for k in sizes)
    if -1 in sizes or len(grid.axes) != want:
        raise InputError(f"{label} is a function {t} of {want} coordinate(s), but {grid.spelled} has "
                         f"{len(grid.axes)} axis/axes; give one start:stop:count per coordinate, separated by commas")
    return sizes


def _coordinates(v: WireType, t: FunType, label: str) -> int | None:
    """None for a scalar variable, k for f64[k] (-1 when k is a symbolic size)."""
    if not isinstance(v, TensorType) or v.rank > 1:
        raise InputError(f"{label} is a function {t}; only functions of scalars f64 and points f64[k] can be "
                         "sampled on a grid")
    if v.rank == 0:
        return None
    return v.shape[0].value if v.shape[0].is_const else -1
