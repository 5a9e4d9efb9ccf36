"""What `dsl run` prints and saves: arrays as they are, function-valued results sampled on the `--at` grid.

A function-typed output comes back from `compile(...)` as a callable vectorised over leading axes
(`g(points[..., k]) -> values[...]`, `points[...]` for a 1-D domain, one array per variable for a function
of several, `(f64, f64) -> f64`); here it is called once on the
whole grid, and its values become table columns (one per component of its codomain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsl.inputs import Grid, domain_sizes
from semantics.errors import InputError
from semantics.types import FunType, WireType

MAX_ROWS = 200  # a longer table prints its first and last EDGE_ROWS rows (-o FILE.csv keeps them all)
EDGE_ROWS = 10


@dataclass(frozen=True)
class Result:
    """One output of a run: `value` is the array, or for a function the values sampled on the grid."""

    label: str
    value: np.ndarray
    fun: FunType | None = None


def collect(name: str, outs: Sequence[Any], cod: Sequence[WireType], grid: Grid | None,
            option: str = "--at ") -> tuple[list[Result], np.ndarray | None]:
    """The outputs as Results, functions sampled on `grid` (an InputError if one needs a grid and has none),
    and the grid's points (None when no output is a function)."""
    results, points = [], None
    for i, (out, t) in enumerate(zip(outs, cod)):
        label = f"{name}[{i}]" if len(outs) > 1 else name
        if not isinstance(t, FunType):
            results.append(Result(label, np.asarray(out)))
            continue
        if grid is None:
            raise InputError(f"{label} is a function ({t}); give the points to sample it on with {option.strip()}, "
                             f"e.g. {option}0:1:101 (start:stop:count, one per coordinate, comma-separated)")
        sizes = domain_sizes(t, label, grid)
        results.append(Result(label, np.asarray(out(*grid.arguments(sizes))), t))
        points = grid.axes[0] if sizes == [None] else grid.points()
    if grid is not None and points is None:
        raise InputError(f"{grid.spelled}: {name} returns no function to sample (its outputs: "
                         f"{', '.join(str(t) for t in cod)})")
    return results, points


def format_results(results: Sequence[Result], grid: Grid | None, points: np.ndarray | None) -> str:
    """Arrays as dtype, shape and values; the sampled functions as one table over the grid (a long
    table shows its first and last rows)."""
    lines = []
    for r in results:
        if r.fun is None:
            shape = "×".join(map(str, r.value.shape)) or "scalar"
            lines += [f"{r.label} : {r.value.dtype} {shape}",
                      np.array2string(r.value, threshold=20, edgeitems=3, precision=8)]
    sampled = [r for r in results if r.fun is not None]
    if not sampled or grid is None or points is None:
        return "\n".join(lines)
    for r in sampled:
        lines.append(f"{r.label} : {r.fun}, sampled at {'×'.join(map(str, grid.shape))} point(s) ({grid.spelled})")
    header, rows = table(sampled, grid, points)
    width = max(16, *(len(h) + 2 for h in header))
    lines.append("".join(f"{h:>{width}}" for h in header))
    shown = range(len(rows)) if len(rows) <= MAX_ROWS else [*range(EDGE_ROWS), -1,
                                                           *range(len(rows) - EDGE_ROWS, len(rows))]
    for i in shown:
        if i < 0:
            lines.append(f"{'...':>{width}}   ({len(rows):,} rows; -o FILE.csv saves them all)")
        else:
            lines.append("".join(f"{v:>{width}.9g}" for v in rows[i]))
    return "\n".join(lines)


def _n(grid: Grid) -> int:
    return int(np.prod(grid.shape))


def table(sampled: Sequence[Result], grid: Grid, points: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Column names and rows: the coordinates (`x`, or `x0, x1, ...`), then each component of each function.

    >>> from dsl.inputs import parse_grid
    >>> g = parse_grid("0:1:3")
    >>> r = Result("v", np.array([1.0, 2.0, 3.0]), FunType(None, None))
    >>> table([r], g, g.axes[0])[0]
    ['x', 'v']
    """
    n = _n(grid)
    coords = points.reshape(n, -1)
    header = ["x"] if coords.shape[1] == 1 else [f"x{i}" for i in range(coords.shape[1])]
    columns = [coords]
    for r in sampled:
        comp = r.value.shape[len(grid.shape):]
        columns.append(r.value.reshape(n, -1).astype(np.float64))
        if not comp:
            header.append(r.label)
        else:
            header += [f"{r.label}[{','.join(map(str, ix))}]" for ix in np.ndindex(*comp)]
    return header, np.concatenate(columns, axis=1)


def save(path: str, results: Sequence[Result], grid: Grid | None, points: np.ndarray | None) -> str:
    """Write the results to `path` by its extension; returns what was written, for the user.

    `.csv`: the table of the sampled functions (scalar outputs as `# name = value` header lines);
    `.npy`: the one output's array (sampled values for a function); otherwise `.npz` with
    out0, out1, ... and, when a function was sampled, the grid as `points`.
    """
    if path.endswith(".csv"):
        return _save_csv(path, results, grid, points)
    if path.endswith(".npy"):
        if len(results) != 1:
            raise InputError(f"cannot write {path}: a .npy file holds one array and there are {len(results)} "
                             "outputs; use .npz")
        np.save(path, results[0].value)
        return f"wrote {results[0].label} to {path}"
    saved = {f"out{i}": r.value for i, r in enumerate(results)}
    if points is not None:
        saved["points"] = points
    np.savez(path, **saved)  # type: ignore[arg-type]
    extra = " and the grid as 'points'" if points is not None else ""
    return f"wrote {len(results)} output(s) to {path}{extra}"


def _save_csv(path: str, results: Sequence[Result], grid: Grid | None, points: np.ndarray | None) -> str:
    sampled = [r for r in results if r.fun is not None]
    if not sampled or grid is None or points is None:
        raise InputError(f"cannot write {path}: a .csv file holds functions sampled on --at, and no output is a "
                         "function; use .npz or .npy")
    notes = []
    for r in results:
        if r.fun is None:
            if r.value.ndim:
                raise InputError(f"cannot write {path}: output {r.label} is an array of shape {r.value.shape}, "
                                 "which has no place in the table; use .npz")
            notes.append(f"{r.label} = {r.value.item()!r}")
    header, rows = table(sampled, grid, points)
    # The column names are a plain first line (what spreadsheets and pandas expect); scalar outputs
    # go above them as '# ' comment lines.
    np.savetxt(path, rows, delimiter=",", fmt="%.17g", comments="",
               header="\n".join([*(f"# {n}" for n in notes), ",".join(header)]))
    return f"wrote {len(rows)} row(s) of {', '.join(r.label for r in sampled)} to {path}"
