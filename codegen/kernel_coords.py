"""Coordinate arithmetic of the C-style kernels (`codegen.renderer`): dims as integer C expressions
over the kernel's dim parameters, the coordinates at which an argument is read for coordinates of a
result (broadcasting and the data-movement primitives), and the decomposition of a flat index into
coordinates. Pure functions over strings: a coordinate is a C expression (`c0`, `c1 + 2`).

>>> from semantics.types import TensorType
>>> n = Dim.sym("n")
>>> broadcast(("c0", "c1"), TensorType("f32", (n, n)), TensorType("f32", (Dim.const(1), n)))
('0', 'c1')
>>> coord_map("transpose", {}, TensorType("f32", (n, Dim.const(3))), TensorType("f32", (Dim.const(3), n)), ("c0", "c1"))
(('c1', 'c0'), None)
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from codegen.naming import sanitize
from semantics.primitives import normalize_axes
from semantics.types import Dim, TensorType

Coords = tuple[str, ...]


def dim_param(atom: str) -> str:
    """The kernel parameter that holds the size of a dim atom: `d_n` for a dim named `n`; an atom
    that is no ASCII identifier (the opaque size `ceil(n/2)` of a strided slice, a Unicode dim name)
    gets `dx_` and a sanitised form made unique by a checksum of the atom (no `d_` name can clash
    with it, and it is the same in every run).

    >>> dim_param("n"), dim_param("ceil(n/2)")
    ('d_n', 'dx_ceil_n_2__cc6fe832')
    """
    if atom.isascii() and atom.isidentifier():
        return f"d_{atom}"
    return f"dx_{sanitize(atom)}_{zlib.crc32(atom.encode()):08x}"


def dim_expr(d: Dim) -> str:
    """A dim as an integer C expression over the kernel's dim parameters (`d_<name>`).

    >>> dim_expr(Dim.sym("n") * 2 - 1)
    '(2 * d_n - 1)'
    """
    if d.is_const:
        return str(d.value)
    parts = []
    for mono, c in sorted(d.terms, key=lambda t: (-len(t[0]), t[0])):
        factors = [dim_param(a) for a in mono]
        body = " * ".join(([str(abs(c))] if abs(c) != 1 or not factors else []) + factors)
        parts.append(("- " if c < 0 else "+ ") + body)
    text = " ".join(parts)
    text = text[2:] if text.startswith("+ ") else "-" + text[2:]
    return text if len(d.terms) == 1 and len(d.terms[0][0]) <= 1 and d.terms[0][1] >= 0 else f"({text})"


def product(dims: Sequence[Dim]) -> str:
    return " * ".join(dim_expr(d) for d in dims) if dims else "1"


def broadcast(coords: Coords, out: TensorType, x: TensorType) -> Coords:
    """The coordinates at which an argument of shape `x.shape` is read for output `coords`."""
    lead = out.rank - x.rank
    return tuple("0" if d.is_const and d.value == 1 and not (out.shape[lead + k].is_const and out.shape[lead + k].value == 1)
                 else coords[lead + k] for k, d in enumerate(x.shape))


def coord_map(name: str, p: dict, x: TensorType, out: TensorType, c: Coords) -> tuple[Coords, str | None]:
    """Coordinates in the argument for coordinates `c` of the result, and the condition under which
    the argument is read at all (pad: inside the source), for the data-movement primitives."""
    if name == "stop_gradient":
        return c, None
    if name == "broadcast_to":
        return broadcast(c, out, x), None
    if name == "expand_dims":
        axis = p["axis"] % out.rank
        return c[:axis] + c[axis + 1:], None
    if name == "squeeze":
        axes = normalize_axes(p.get("axis"), x.rank, "squeeze") if p.get("axis") is not None else \
            tuple(k for k, d in enumerate(x.shape) if d.is_const and d.value == 1)
        it = iter(c)
        return tuple("0" if k in axes else next(it) for k in range(x.rank)), None
    if name == "transpose":
        axes = p.get("axes") or tuple(reversed(range(x.rank)))
        inner = ["0"] * x.rank
        for j, a in enumerate(axes):
            inner[a] = c[j]
        return tuple(inner), None
    if name == "roll":
        axis = p["axis"] % x.rank
        n = dim_expr(x.shape[axis])
        inner = list(c)
        inner[axis] = f"dsl_mod({c[axis]} - ({p['shift']}), {n})"
        return tuple(inner), None
    assert name == "index", name
    return index_coords(p["index"], x, c), None


def index_coords(spec: tuple, x: TensorType, c: Coords) -> Coords:
    inner: list[str] = []
    it = iter(c)
    axis = 0
    for item in spec:
        if item[0] == "newaxis":
            next(it)
            continue
        n = dim_expr(x.shape[axis])
        if item[0] == "int":
            k = item[1]
            inner.append(str(k) if k >= 0 else f"({n} - {-k})")
        else:
            inner.append(_offset(next(it), item[1], n))
        axis += 1
    inner.extend(it)
    return tuple(inner)


def _offset(c: str, lo: int | Dim | None, n: str) -> str:
    if lo is None or lo == 0:
        return c
    if isinstance(lo, Dim):
        return f"{c} + {dim_expr(lo)}"
    if lo > 0:
        return f"{c} + {lo}"
    return f"{c} + dsl_max0({n} - {-lo})"  # Python clamps a start before the beginning to 0


def coordinate_lines(names: Sequence[str], dims: Sequence[Dim], flat: str, index: str) -> list[str]:
    """`const index c_k = ...;` decomposing the flat index over `dims` (row-major)."""
    lines = []
    for k, name in enumerate(names):
        stride = product(dims[k + 1:])
        expr = flat if stride == "1" else f"{flat} / ({stride})"
        if k > 0:
            expr = f"({expr}) % {dim_expr(dims[k])}"
        lines.append(f"const {index} {name} = {expr};")
    return lines
