"""Checking runtime inputs against a signature before any work is done (LANGUAGE.md §9).

Shared by the interpreter and every compiled backend: each error names the parameter.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from semantics.errors import InputError
from semantics.primitives import PRIMITIVES, normalize_axes
from semantics.types import FROM_NUMPY, NUMPY_DTYPE, Dim, FunType, TensorType, WireType


def _describe(shape: Sequence[int], dtype: str) -> str:
    return f"{dtype}[{', '.join(map(str, shape))}]" if len(shape) else dtype


def bind_inputs(fname: str, dom: Sequence[WireType], names: Sequence[str], args: Sequence[Any]) -> dict[str, int]:
    """Check dtype, rank and dims of every argument; return the binding of symbolic dims to sizes.

    Plain dims (`n`) are bound from the first axis that has them; compound dims (`n + 1`, `2 * n`)
    are then checked against that binding, or solved for their one unbound dim when they are
    linear in it (`f64[n + 1]` of length 5 binds n = 4; `f64[2 * n]` of length 5 is an error).

    >>> bind_inputs("f", (TensorType("f64", (Dim.sym("n"),)),), ("x",), (np.zeros(3),))
    {'n': 3}
    >>> bind_inputs("f", (TensorType("f64", (Dim.sym("n") + 1,)),), ("x",), (np.zeros(5),))
    {'n': 4}
    """
    if len(args) != len(dom):
        raise InputError(f"{fname} takes {len(dom)} argument(s) ({', '.join(names)}), got {len(args)}")
    binding: dict[str, int] = {}
    compound: list[_Axis] = []
    for t, name, a in zip(dom, names, args):
        if isinstance(t, FunType):
            if not callable(a):
                raise InputError(f"argument '{name}' of {fname} must be a function ({t}), got {type(a).__name__}")
            continue
        compound += bind_tensor(fname, t, name, a, binding)
    _bind_compound(fname, compound, binding)
    return binding


@dataclass(frozen=True)
class _Axis:
    """An axis of an argument whose declared dim is compound (checked once the plain dims are bound)."""

    name: str
    type: TensorType
    axis: int
    dim: Dim
    size: int


def array_dtype(a: Any) -> str | None:
    dt = getattr(a, "dtype", None)
    return FROM_NUMPY.get(str(dt)) if dt is not None else None


def bind_tensor(fname: str, t: TensorType, name: str, a: Any, binding: dict[str, int]) -> list[_Axis]:
    """Check one argument, binding its plain dims; returns its axes with compound dims, to check later."""
    shape = getattr(a, "shape", None)
    if shape is None:
        if isinstance(a, (int, float, bool, np.number)) and not t.shape:
            _check_python_scalar(fname, t, name, a)
            return []
        raise InputError(f"argument '{name}' of {fname} must be an array of type {t}, got {type(a).__name__}")
    dtype = array_dtype(a)
    if dtype != t.dtype:
        raise InputError(f"argument '{name}' of {fname} has dtype {getattr(a, 'dtype', '?')}, expected "
                         f"{NUMPY_DTYPE[t.dtype]} ({t}); convert it with .astype(np.{NUMPY_DTYPE[t.dtype]})")
    if len(shape) != t.rank:
        raise InputError(f"argument '{name}' of {fname} has rank {len(shape)} ({_describe(shape, dtype)}), "
                         f"expected rank {t.rank} ({t})")
    compound = []
    for axis, (d, size) in enumerate(zip(t.shape, shape)):
        if _plain(d) is None:
            compound.append(_Axis(name, t, axis, d, int(size)))
        else:
            _bind_plain(fname, name, t, axis, d, int(size), binding)
    return compound


def _plain(d: Dim) -> str | None:
    """The name of a dim that is a single declared name (`n`), else None."""
    if len(d.terms) == 1 and d.terms[0][1] == 1 and len(d.terms[0][0]) == 1:
        return d.terms[0][0][0]
    return None


def _bind_plain(fname: str, name: str, t: TensorType, axis: int, d: Dim, size: int, binding: dict[str, int]) -> None:
    sym = _plain(d)
    assert sym is not None
    if sym in binding and binding[sym] != size:
        raise InputError(f"inconsistent dim {sym}: argument '{name}' of {fname} has {sym} = {size} "
                         f"(axis {axis} of {t}), but an earlier argument has {sym} = {binding[sym]}")
    binding[sym] = size


def _bind_compound(fname: str, pending: list[_Axis], binding: dict[str, int]) -> None:
    """Check compound dims, solving those linear in one unbound dim, until none is left."""
    while pending:
        progress = False
        for ax in list(pending):
            unbound = sorted(a for a in ax.dim.atoms if a not in binding)
            if len(unbound) > 1 or (unbound and _solve(fname, ax, unbound[0], binding) is None):
                continue
            pending.remove(ax)
            progress = True
            want = ax.dim.evaluate(binding)
            if want != ax.size:
                raise InputError(f"argument '{ax.name}' of {fname} has size {ax.size} on axis {ax.axis}, "
                                 f"expected {ax.dim} = {want} ({ax.type}"
                                 f"{', with ' + _show_binding(ax.dim, binding) if ax.dim.atoms else ''})")
        if not progress:
            ax = pending[0]
            raise InputError(f"argument '{ax.name}' of {fname}: cannot determine "
                             f"{', '.join(sorted(a for a in ax.dim.atoms if a not in binding))} from its size "
                             f"{ax.size} on axis {ax.axis} ({ax.type}); pass an argument that has it as an axis")


def _solve(fname: str, ax: _Axis, atom: str, binding: dict[str, int]) -> int | None:
    """Bind `atom` from `ax.size == ax.dim` when the dim is `c * atom + rest` with rest known (else None)."""
    linear = ax.dim.linear_in(atom)
    if linear is None:
        return None  # non-linear in atom (n * n, n * m with m unbound)
    coeff = linear[0].evaluate(binding)
    if coeff == 0:
        return None  # 2 * m * n with m = 0 says nothing about n
    value, remainder = divmod(ax.size - linear[1].evaluate(binding), coeff)
    if remainder or value < 0:
        raise InputError(f"argument '{ax.name}' of {fname} has size {ax.size} on axis {ax.axis}, which is not "
                         f"{ax.dim} for any size {atom} ≥ 0 ({ax.type})")
    binding[atom] = value
    return value


def _show_binding(d: Dim, binding: dict[str, int]) -> str:
    return ", ".join(f"{a} = {binding[a]}" for a in sorted(d.atoms))


def _check_python_scalar(fname: str, t: TensorType, name: str, a: Any) -> None:
    if t.dtype in ("f32", "f64") and isinstance(a, (bool, np.bool_)):
        raise InputError(f"argument '{name}' of {fname} must be a number ({t}), got a bool")
    if t.dtype in ("i32", "i64", "bool") and isinstance(a, (float, np.floating)):
        raise InputError(f"argument '{name}' of {fname} must be {t}, got the float {a}")


def as_arrays(dom: Sequence[WireType], args: Sequence[Any], xp: Any = np) -> list[Any]:
    """Python scalars become 0-d arrays of the declared dtype; arrays pass through untouched."""
    out = []
    for t, a in zip(dom, args):
        if isinstance(t, TensorType) and not hasattr(a, "shape"):
            a = xp.asarray(a, dtype=NUMPY_DTYPE[t.dtype])
        out.append(a)
    return out


@dataclass(frozen=True)
class SizeCheck:
    """An item on an axis of symbolic size `dim` that the binding must fit: an integer index
    ("int", k) needs `-dim <= k < dim`; a slice ("slice", lo, hi, step) its bounds within the axis (its
    type's length, see semantics/prims/index.py `slice_mismatch`); a reduction without identity
    ("nonempty", name) at least one element."""

    dim: Dim
    item: tuple[Any, ...]
    what: str
    span: Any

    @property
    def index(self) -> int | None:
        return self.item[1] if self.item[0] == "int" else None


def _item_text(item: tuple[Any, ...]) -> str:
    """A slice item as written: ("slice", 1, None, 2) -> "1::2"."""
    text = ":".join("" if b is None else str(b) for b in item[1:3])
    return text if item[3] is None else f"{text}:{item[3]}"


# The rows `size_checks` looks at: indexing, and the reductions that need a non-empty axis.
_SIZED = frozenset({"index", "unindex", *(name for name, row in PRIMITIVES.items() if row.nonempty)})
_BOX_NAME = attrgetter("box.name")


def size_checks(d: Any) -> tuple[SizeCheck, ...]:
    """What the types alone cannot promise for a diagram `d` once its dims are bound: an integer
    index on a symbolic axis (`x[5]` needs n > 5; on a constant axis it is checked at load) and a slice
    bound on one (`x[0:3]` is typed f64[3], so it needs n >= 3: NumPy would clamp it to fewer). NumPy
    would raise an IndexError, or return a shape other than the type's, in the middle of the run; this
    is an InputError before it, at the span.

    >>> from semantics.diagram import Builder, make_box
    >>> b = Builder(); x = b.input(TensorType("f64", (Dim.sym("n"),)))
    >>> (y,) = b.add(make_box("index", {"index": (("int", 5),)}), [x], [TensorType("f64")])
    >>> [(str(c.dim), c.index) for c in size_checks(b.build([y]))]
    [('n', 5)]
    """
    out: dict[tuple[Dim, tuple[Any, ...]], SizeCheck] = {}
    if _SIZED.isdisjoint(map(_BOX_NAME, d.nodes)):  # (most diagrams: one scan in C, no loop body per node)
        return ()
    for node in d.nodes:
        if node.box.kind == "prim" and PRIMITIVES[node.box.name].nonempty:
            _reduced_axes(d, node, out)
        if node.box.kind != "prim" or node.box.name not in ("index", "unindex"):
            continue
        # the indexed array: the operand of index, the result of unindex (its transpose: x written into zeros)
        x = d.types[node.inputs[0] if node.box.name == "index" else node.outputs[0]]
        axes = [item for item in node.box.param_dict["index"] if item[0] != "newaxis"]
        for axis, item in enumerate(axes):
            if not isinstance(x, TensorType) or x.shape[axis].is_const:
                continue
            if item[0] == "int" or (item[0] == "slice" and (item[1] is not None or item[2] is not None)):
                what = f"index {item[1]} into" if item[0] == "int" else f"the slice [{_item_text(item)}] on"
                out.setdefault((x.shape[axis], item), SizeCheck(x.shape[axis], item, f"{what} axis {axis} of {x}",
                                                                 node.span))
    return tuple(out.values())


def _reduced_axes(d: Any, node: Any, out: dict[tuple[Dim, tuple[Any, ...]], SizeCheck]) -> None:
    """Checks that the symbolic axes a reduction without identity (max of f64[n]) reduces are not empty."""
    x = d.types[node.inputs[0]]
    if not isinstance(x, TensorType):
        return
    for axis in normalize_axes(node.box.param_dict.get("axis"), x.rank, node.box.name):
        if not x.shape[axis].is_const:
            item = ("nonempty", node.box.name)
            out.setdefault((x.shape[axis], item), SizeCheck(x.shape[axis], item, f"{node.box.name} over axis {axis} "
                                                                                    f"of {x}", node.span))


def check_sizes(fname: str, checks: Sequence[SizeCheck], binding: dict[str, int]) -> None:
    """Raise an InputError (at the source of the box) for the first check the binding fails."""
    from semantics.prims.index import slice_mismatch

    for c in checks:
        if not c.dim.atoms <= binding.keys():
            continue  # an opaque size such as ceil(n/2): NumPy checks it
        size = c.dim.evaluate(binding)
        bound = ", ".join(f"{a} = {binding[a]}" for a in sorted(c.dim.atoms))
        if c.index is not None and not -size <= c.index < size:
            raise InputError(f"{fname} cannot run with {bound}: {c.what} is out of range "
                             f"(size {c.dim} = {size})", c.span)
        if c.item[0] == "nonempty" and size <= 0:
            raise InputError(f"{fname} cannot run with {bound}: {c.what} needs at least one element ({c.item[1]} of "
                             f"nothing has no value)", c.span)
        wrong = slice_mismatch(c.dim, c.item, binding) if c.item[0] == "slice" else None
        if wrong is not None:
            raise InputError(f"{fname} cannot run with {bound}: {c.what} needs an axis of size ≥ {_fitting(c.item)} "
                             f"(here {c.dim} = {size}): its type has {wrong[0]} element(s), taking the bounds as "
                             f"within the axis, where NumPy would clamp them to give {wrong[1]}", c.span)


def _fitting(item: tuple[Any, ...]) -> int:
    """The smallest axis size from which on a slice with constant bounds has the length of its type."""
    from semantics.prims.index import slice_mismatch

    top = 2 + max(abs(b) for b in item[1:3] if b is not None)
    return 1 + max((k for k in range(top) if slice_mismatch(Dim.sym("n"), item, {"n": k})), default=-1)


# ---------------------------------------------------------------- memory


def physical_memory() -> int | None:
    """Bytes of physical memory (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: int) -> str:
    """`format_bytes(3 * 2**30)` → '3.0 GiB'."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError(n)


def memory_error(fname: str, d: Any, binding: Mapping[str, int]) -> InputError:
    """The InputError for a MemoryError while running diagram `d`: how much memory the shapes the
    binding gives need (its largest array, at the box that makes it; its outputs; every array it makes,
    an upper bound) against this machine's memory.

    >>> from semantics.diagram import Builder, make_box
    >>> b = Builder(); x = b.input(TensorType("f64", (Dim.sym("n"),)))
    >>> (y,) = b.add(make_box("outer"), [x, x], [TensorType("f64", (Dim.sym("n"), Dim.sym("n")))])
    >>> print(memory_error("f", b.build([y]), {"n": 10**6}).message.split(";")[0])
    not enough memory to run f with n = 1000000: its largest array, f64[n, n] (outer), needs 7.3 TiB
    """
    sizes: dict[int, int] = {}
    for w, t in enumerate(d.types):
        if isinstance(t, TensorType) and all(dim.atoms <= binding.keys() for dim in t.shape):
            numel = math.prod(max(dim.evaluate(binding), 0) for dim in t.shape)
            sizes[w] = numel * np.dtype(NUMPY_DTYPE[t.dtype]).itemsize
    makers = {w: node for node in d.nodes for w in node.outputs}
    bound = ", ".join(f"{a} = {v}" for a, v in sorted(binding.items()))
    head = f"not enough memory to run {fname}" + (f" with {bound}" if bound else "")
    if not sizes:
        return InputError(f"{head}; choose smaller inputs")
    big = max(sizes, key=lambda w: (sizes[w], -w))
    node = makers.get(big)
    what = f" ({node.box.name})" if node is not None else f" (the argument '{d.param_names()[d.inputs.index(big)]}')"
    have = physical_memory()
    return InputError(f"{head}: its largest array, {d.types[big]}{what}, needs {format_bytes(sizes[big])}; its "
                      f"outputs {format_bytes(sum(sizes.get(w, 0) for w in set(d.outputs)))}, all its arrays "
                      f"together at most {format_bytes(sum(sizes.values()))}"
                      + (f", and this machine has {format_bytes(have)}" if have else "")
                      + "; choose smaller inputs", node.span if node is not None else None)


@contextmanager
def memory_guard(fname: str, d: Any, binding: Mapping[str, int]) -> Iterator[None]:
    """Run a block that evaluates `d`, turning a MemoryError into `memory_error`'s InputError."""
    try:
        yield
    except MemoryError:
        raise memory_error(fname, d, binding) from None
