"""Linear-algebra rows: matmul (`@`), dot, outer, transpose (`x.T`), einsum, trace, diag.

All take operands of one dtype (no promotion) and keep it; integer results are cast back where NumPy
accumulates in int64. Bilinear rows have the product-rule JVP and one transpose per operand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from semantics.errors import DerivativeError, ShapeError, TypeCheckError
from semantics.primitives import ParamSpec, Primitive, Template, lift, register, same_dtype, tensor_arg
from semantics.types import Dim, TensorType, WireType, broadcast_shapes


def number_args(ts: tuple[WireType, ...], prim: str) -> tuple[list[TensorType], str]:
    """The arguments as tensors of one numeric dtype."""
    args = [tensor_arg(t, prim) for t in ts]
    dtype = same_dtype(args, prim) if args else "f64"
    if dtype == "bool":
        raise TypeCheckError(f"{prim} expects numbers, got {' and '.join(map(str, args))}")
    return args, dtype


def _same_dtype_impl(fn: Any) -> Any:
    """An impl whose result is cast back to the first argument's dtype."""

    def impl(xp: Any, params: Mapping[str, Any], *xs: Any) -> Any:
        return xp.asarray(fn(xp, params, *xs)).astype(xs[0].dtype, copy=False)

    return impl


def _shape_str(shape: tuple[Dim, ...]) -> str:
    return f"[{', '.join(map(str, shape))}]"


# ---------------------------------------------------------------- matmul, dot, outer


def matmul_shape(x: TensorType, y: TensorType, prim: str = "matmul") -> tuple[Dim, ...]:
    """NumPy `@`: 1-D operands are promoted (and the added axis dropped), leading axes broadcast."""
    if x.rank == 0 or y.rank == 0:
        raise ShapeError(f"{prim} needs operands of rank ≥ 1, got {x} @ {y} (use * for scalars)")
    k_x = x.shape[-1]
    k_y = y.shape[-2] if y.rank >= 2 else y.shape[0]
    if k_x != k_y:
        raise ShapeError(f"shape mismatch in {prim}: {x} @ {y} ({k_x} ≠ {k_y})")
    try:
        batch = broadcast_shapes(x.shape[:-2], y.shape[:-2], prim)
    except ShapeError:
        raise ShapeError(f"batch dims do not broadcast in {prim}: {x} @ {y} "
                         f"({_shape_str(x.shape[:-2])} vs {_shape_str(y.shape[:-2])})") from None
    rows = x.shape[-2:-1] if x.rank >= 2 else ()
    cols = y.shape[-1:] if y.rank >= 2 else ()
    return (*batch, *rows, *cols)


def _swap_last(rank: int) -> str:
    axes = (*range(rank - 2), rank - 1, rank - 2)
    return f"transpose({{}}, axes=({', '.join(map(str, axes))}))"


# ct of one operand of `x @ y` by ranks, as (both vectors, only the other a vector, only this one a
# vector, two matrices: {other_t} is the other operand with its last two axes swapped). Batch axes
# are summed back to the operand by the derivatives stage.
_MATMUL_CT = {
    "x": ("ct * y", "expand_dims(ct, -1) * y", "squeeze(matmul(y, expand_dims(ct, -1)), axis=-1)",
          "matmul(ct, {other_t})"),
    "y": ("x * ct", "expand_dims(x, -1) * expand_dims(ct, -2)", "squeeze(matmul(expand_dims(ct, -2), x), axis=-2)",
          "matmul({other_t}, ct)"),
}


def _matmul_transpose(arg: str) -> Template:
    """The transpose template of `x @ y` in the operand `arg`.

    >>> from semantics.types import Dim
    >>> m = TensorType("f64", (Dim.sym("n"), Dim.sym("n")))
    >>> _matmul_transpose("y")({"x": m, "y": m}, {})
    'matmul(transpose(x, axes=(1, 0)), ct)'
    """
    other = "y" if arg == "x" else "x"
    both, other_vec, this_vec, matrices = _MATMUL_CT[arg]

    def template(types: Mapping[str, WireType], params: Mapping[str, Any], index: int = -1) -> str:
        me, it = tensor_arg(types[arg], "matmul"), tensor_arg(types[other], "matmul")
        if it.rank == 1:
            return both if me.rank == 1 else other_vec
        if me.rank == 1:
            return this_vec
        return matrices.format(other_t=_swap_last(it.rank).format(other))

    return template


MATMUL_TRANSPOSE: dict[str, Template] = {a: _matmul_transpose(a) for a in _MATMUL_CT}


def matmul_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> str:
    """`x @ y` with one operand batched: the batched operand gets size-1 axes after the batch axis so
    that NumPy's batch broadcasting lines up the other operand's batch axes; a batched 1-D operand is
    made a row (x) or column (y) matrix first and that axis is squeezed off the result."""
    x, y = tensor_arg(types["x"], "matmul"), tensor_arg(types["y"], "matmul")
    if batched == {"x", "y"}:
        raise DerivativeError("matmul of two batched operands is not linear")
    if x.rank == 1 and y.rank == 1:
        return "matmul(x, y)" if "x" in batched else "matmul(y, x)"
    if "x" in batched:
        if x.rank == 1:
            return f"squeeze(matmul({lift('expand_dims(x, 1)', y.rank - 2)}, y), axis=-2)"
        return f"matmul({lift('x', max(y.rank - x.rank, 0))}, y)"
    if y.rank == 1:
        return f"squeeze(matmul(x, {lift('expand_dims(y, 2)', x.rank - 2)}), axis=-1)"
    return f"matmul(x, {lift('y', max(x.rank - y.rank, 0) if x.rank > 1 else 0)})"


def _outer_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> str:
    return "expand_dims(x, 2) * y" if "x" in batched else "expand_dims(x, 1) * expand_dims(y, 1)"


def _matmul_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    (x, y), dtype = number_args(ts, "matmul")
    return (TensorType(dtype, matmul_shape(x, y)),)


def _dot_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    (x, y), dtype = number_args(ts, "dot")
    if not (1 <= x.rank <= 2 and 1 <= y.rank <= 2):
        raise ShapeError(f"dot takes 1-D or 2-D operands, got {x} and {y} (use matmul or einsum)")
    return (TensorType(dtype, matmul_shape(x, y, "dot")),)


def _outer_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    (x, y), dtype = number_args(ts, "outer")
    if x.rank != 1 or y.rank != 1:
        raise ShapeError(f"outer takes two 1-D operands, got {x} and {y}")
    return (TensorType(dtype, (x.shape[0], y.shape[0])),)


register(
    Primitive("matmul", ("x", "y"), _matmul_rule, _same_dtype_impl(lambda xp, p, x, y: xp.matmul(x, y)), "linalg",
              jvp="dx @ y + x @ dy", transpose=MATMUL_TRANSPOSE, batch=matmul_batch,
              doc="`x @ y` with NumPy semantics (1-D promotion, batch broadcasting); transposes by ranks "
                  "(2-D: ct @ y.T and x.T @ ct)",
              cost="contraction",
              sympy=None,
              view=False,
              syntax="@"),
    Primitive("dot", ("x", "y"), _dot_rule, _same_dtype_impl(lambda xp, p, x, y: xp.matmul(x, y)), "linalg",
              jvp="dot(dx, y) + dot(x, dy)", transpose=MATMUL_TRANSPOSE, batch=matmul_batch,
              doc="inner product of 1-D vectors (a scalar); 2-D operands follow matmul",
              cost="contraction",
              sympy=None,
              view=False),
    Primitive("outer", ("x", "y"), _outer_rule, _same_dtype_impl(lambda xp, p, x, y: xp.outer(x, y)),
              "linalg", jvp="outer(dx, y) + outer(x, dy)", transpose={"x": "ct @ y", "y": "x @ ct"},
              batch=_outer_batch, doc="outer product of 1-D vectors: f[n], f[m] -> f[n, m]",
              cost="cheap",  # one product per output element
              sympy=None,
              view=False),
)


# ---------------------------------------------------------------- transpose


def permutation(axes: Any, rank: int, prim: str = "transpose") -> tuple[int, ...]:
    """`axes` (None = reversed) as a permutation of range(rank); negative axes count from the end."""
    if axes is None:
        return tuple(reversed(range(rank)))
    axes = tuple(axes)
    if len(axes) != rank or any(not -rank <= a < rank for a in axes) or len({a % rank for a in axes}) != rank:
        raise ShapeError(f"axes {axes} of {prim} are not a permutation of the {rank} axes of a rank-{rank} tensor")
    return tuple(a % rank for a in axes)


def _transpose_transpose(types: Mapping[str, WireType], params: Mapping[str, Any], index: int = -1) -> str:
    perm = permutation(params.get("axes"), tensor_arg(types["x"], "transpose").rank)
    inverse = sorted(range(len(perm)), key=lambda i: perm[i])
    return f"transpose(ct, axes=({', '.join(map(str, inverse))}{',' if len(inverse) == 1 else ''}))"


def _transpose_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    t = tensor_arg(ts[0], "transpose")
    perm = permutation(params.get("axes"), t.rank)
    return (t.with_shape(tuple(t.shape[a] for a in perm)),)


register(Primitive("transpose", ("x", "axes"), _transpose_rule,
                   lambda xp, params, x: xp.transpose(x, permutation(params.get("axes"), x.ndim)), "linalg",
                   params=(ParamSpec("axes", "ints", None),), jvp="transpose(dx, axes=axes)",
                   transpose={"x": _transpose_transpose},
                   batch=lambda types, params, b: ("transpose(x, axes=baxes)", {"baxes": (0, *(
                       a + 1 for a in permutation(params.get("axes"), tensor_arg(types["x"], "transpose").rank)))}),
                   doc="permute the axes (default: reverse them; `x.T`); the transpose applies the inverse",
                   cost="movement",
                   sympy=None,
                   view=True,
                   syntax="x.T"))


# ---------------------------------------------------------------- einsum


def parse_subscripts(subscripts: str, n: int) -> tuple[list[str], str]:
    """`"ij,jk->ik"` as input terms and the output term (implicit mode: the labels used once, sorted)."""
    subs = subscripts.replace(" ", "")
    if "." in subs:
        raise TypeCheckError(f"einsum subscripts '{subscripts}': ellipsis (...) is not supported; name every axis")
    lhs, arrow, rhs = subs.partition("->")
    terms = lhs.split(",")
    if len(terms) != n:
        raise TypeCheckError(f"einsum subscripts '{subscripts}' name {len(terms)} operand(s), got {n}")
    if any(not (c.isascii() and c.isalpha()) for c in lhs.replace(",", "") + rhs):
        # NumPy's einsum (and the generated code) only knows the ASCII letters a-z and A-Z as labels
        raise TypeCheckError(f"einsum subscripts '{subscripts}' may only use the letters a-z, A-Z, ',' and '->'")
    labels = "".join(terms)
    if not arrow:
        rhs = "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    if len(set(rhs)) != len(rhs) or any(c not in labels for c in rhs):
        raise TypeCheckError(f"einsum subscripts '{subscripts}': output labels must be distinct input labels")
    return terms, rhs


def _einsum_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    xs, dtype = number_args(ts, "einsum")
    terms, rhs = parse_subscripts(params["subscripts"], len(xs))
    sizes: dict[str, Dim] = {}
    for term, x in zip(terms, xs):
        if len(term) != x.rank:
            raise ShapeError(f"einsum term '{term}' names {len(term)} axes but its operand is {x}")
        for c, d in zip(term, x.shape):
            if c in sizes and sizes[c] != d:
                raise ShapeError(f"einsum label '{c}' has two sizes: {sizes[c]} ≠ {d} "
                                 f"(operands {', '.join(map(str, xs))})")
            sizes.setdefault(c, d)
    return (TensorType(dtype, tuple(sizes[c] for c in rhs)),)


def _operand_names(types: Mapping[str, WireType]) -> list[str]:
    return [f"x{k}" for k in range(len(types)) if f"x{k}" in types]


def _einsum_jvp(types: Mapping[str, WireType], params: Mapping[str, Any], index: int = -1) -> str:
    """The product rule: one einsum per operand, with that operand replaced by its tangent."""
    names = _operand_names(types)
    subs = params["subscripts"]
    return " + ".join(f"einsum({subs!r}, ({', '.join(('d' + n) if j == k else n for j, n in enumerate(names))},))"
                      .replace("'", '"') for k in range(len(names)))


def _einsum_transpose(types: Mapping[str, WireType], params: Mapping[str, Any], index: int = -1) -> str:
    """Operand `index`'s cotangent: contract ct (over the output labels) with the other operands.

    A label repeated in the operand (`ii`: a diagonal) gets a fresh label per repeat, tied to the
    first by an identity matrix; a label summed in this operand alone gets no contraction and the
    result is broadcast along it."""
    names = _operand_names(types)
    terms, rhs = parse_subscripts(params["subscripts"], len(names))
    mine = terms[index]
    x = tensor_arg(types[names[index]], "einsum")
    others = [t for j, t in enumerate(terms) if j != index]
    args = ["ct", *(n for j, n in enumerate(names) if j != index)]
    inputs = [rhs, *others]
    spare = iter(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in params["subscripts"])
    out, seen, missing = "", set(), []
    for pos, c in enumerate(mine):
        if c in seen:  # a repeat: a fresh label, equal to c through eye
            fresh = next(spare)
            inputs.append(c + fresh)
            args.append(f"eye({x.shape[pos]}, {x.dtype})")
            out += fresh
            continue
        seen.add(c)
        if c in "".join([rhs, *others]) or mine.count(c) > 1:
            out += c
        else:
            missing.append(pos)
    expr = f'einsum("{",".join(inputs)}->{out}", ({", ".join(args)},))'
    for pos in missing:
        expr = f"expand_dims({expr}, {pos})"
    return f"broadcast_to({expr}, shape_{names[index]})" if missing else expr


def _einsum_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> str:
    """A fresh label for the batch axis, on the batched operands and in front of the output."""
    names = _operand_names(types)
    terms, rhs = parse_subscripts(params["subscripts"], len(names))
    z = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in params["subscripts"])
    subs = ",".join(z + t if n in batched else t for t, n in zip(terms, names)) + "->" + z + rhs
    return f'einsum("{subs}", ({", ".join(names)},))'


def _diag_batch(types: Mapping[str, WireType], params: Mapping[str, Any], batched: frozenset[str]) -> str:
    x = tensor_arg(types["x"], "diag")
    if x.rank == 2:
        return 'einsum("zii->zi", (x,))'
    return f"expand_dims(x, 2) * eye({x.shape[0]}, {x.dtype})"


register(Primitive("einsum", ("subscripts", "*xs"), _einsum_rule,
                   _same_dtype_impl(lambda xp, p, *xs: xp.einsum(p["subscripts"], *xs)), "linalg",
                   params=(ParamSpec("subscripts", "str"),),
                   jvp=_einsum_jvp, transpose={"xs": _einsum_transpose}, batch=_einsum_batch,
                   doc="Einstein summation, `einsum(\"ij,jk->ik\", a, b)` (NumPy implicit mode without `->`; no "
                       "ellipsis). The transpose contracts ct with the other operands (repeated labels through eye, "
                       "labels summed in one operand alone by broadcasting)",
                   cost="einsum",
                   sympy=None,
                   view=True))  # NumPy returns a view for a pure relabelling ("ij->ji", "ii->i")


# ---------------------------------------------------------------- trace, diag


def _square(t: TensorType, prim: str) -> Dim:
    if t.rank != 2 or t.shape[0] != t.shape[1]:
        raise ShapeError(f"{prim} needs a square matrix, got {t}"
                         + (f" ({t.shape[0]} ≠ {t.shape[1]})" if t.rank == 2 else ""))
    return t.shape[0]


def _trace_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    (x,), dtype = number_args(ts, "trace")
    _square(x, "trace")
    return (TensorType(dtype, ()),)


def _diag_rule(ts: tuple[WireType, ...], params: Mapping[str, Any]) -> tuple[WireType, ...]:
    (x,), _ = number_args(ts, "diag")
    if x.rank == 1:
        return (x.with_shape((x.shape[0], x.shape[0])),)
    if x.rank == 2:
        return (x.with_shape((_square(x, "diag"),)),)
    raise ShapeError(f"diag takes a 1-D vector or a square matrix, got {x}")


register(
    Primitive("trace", ("x",), _trace_rule, _same_dtype_impl(lambda xp, p, x: xp.trace(x)), "linalg",
              jvp="trace(dx)", batch=lambda types, params, b: 'einsum("zii->z", (x,))',
              transpose={"x": lambda types, params, i: f"ct * eye({tensor_arg(types['x'], 'trace').shape[0]})"},
              doc="sum of the diagonal of a square matrix; the transpose `ct * eye(n)` names x's dim n, "
                  "which the template's scope must bind when it is symbolic",
              cost="cheap",
              sympy=None,
              view=False),
    Primitive("diag", ("x",), _diag_rule, _same_dtype_impl(lambda xp, p, x: xp.diag(x)), "linalg",
              jvp="diag(dx)", transpose={"x": "diag(ct)"}, batch=_diag_batch,
              doc="1-D -> the square diagonal matrix; square 2-D -> its diagonal (each the other's transpose)",
              cost="movement",
              sympy=None,
              view=True),  # NumPy's diagonal of a matrix is a read-only view
)
