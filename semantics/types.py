"""Types: dtypes, symbolic dims, tensor / function / tuple types, dim unification and broadcasting.

A `Dim` is a polynomial with integer coefficients over declared dim names (so `n - 1`, `2 * n`
and `n * m` are exact and comparable); sizes that are not polynomials (a strided slice of a
symbolic dim) become opaque atoms such as `ceil(n/2)`, which compare equal only to themselves.

>>> n = Dim.sym("n")
>>> str(n - 1), (n - 1 + 1) == n, Dim.const(3).value
('n - 1', True, 3)
>>> str(TensorType("f64", (n, Dim.const(3))))
'f64[n, 3]'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Union

from semantics.errors import ShapeError

DTYPES = ("f32", "f64", "i32", "i64", "bool")
FLOAT_DTYPES = ("f32", "f64")
INT_DTYPES = ("i32", "i64")
NUMPY_DTYPE = {"f32": "float32", "f64": "float64", "i32": "int32", "i64": "int64", "bool": "bool"}
FROM_NUMPY = {v: k for k, v in NUMPY_DTYPE.items()}

Monomial = tuple[str, ...]  # sorted atom names; () is the constant term


# Opaque sizes by name (`ceil((n - 1)/2)` -> (n - 1, 2)): filled by Dim.ceil_div, the only maker of
# such atoms, so every one that exists can be evaluated (a name always stands for the same size).
CEIL_ATOMS: dict[str, tuple[Dim, int]] = {}


@dataclass(frozen=True)
class Dim:
    """An integer polynomial over dim names: `terms` maps sorted monomials to non-zero coefficients."""

    terms: tuple[tuple[Monomial, int], ...]

    # Types are dict keys everywhere (interning, cost and shape caches, unification): their hash is
    # computed once per object instead of re-walking the nested tuples at every lookup.
    def __hash__(self) -> int:
        return self._hash

    @cached_property
    def _hash(self) -> int:
        return hash(self.terms)

    def __getstate__(self) -> dict[str, object]:
        return without_hash(self)

    @staticmethod
    def const(value: int) -> Dim:
        return Dim((((), value),) if value else ())

    @staticmethod
    def sym(name: str) -> Dim:
        return Dim((((name,), 1),))

    @staticmethod
    def _make(acc: Mapping[Monomial, int]) -> Dim:
        return Dim(tuple(sorted((m, c) for m, c in acc.items() if c)))

    @property
    def is_const(self) -> bool:
        return all(not m for m, _ in self.terms)

    @property
    def value(self) -> int:
        """The integer value of a constant dim."""
        assert self.is_const, self
        return self.terms[0][1] if self.terms else 0

    @property
    def atoms(self) -> frozenset[str]:
        return frozenset(a for m, _ in self.terms for a in m)

    def __add__(self, other: Union[Dim, int]) -> Dim:
        other = as_dim(other)
        acc: dict[Monomial, int] = dict(self.terms)
        for m, c in other.terms:
            acc[m] = acc.get(m, 0) + c
        return Dim._make(acc)

    def __radd__(self, other: int) -> Dim:
        return self + other

    def __neg__(self) -> Dim:
        return Dim(tuple((m, -c) for m, c in self.terms))

    def __sub__(self, other: Union[Dim, int]) -> Dim:
        return self + (-as_dim(other))

    def __rsub__(self, other: int) -> Dim:
        return as_dim(other) - self

    def __mul__(self, other: Union[Dim, int]) -> Dim:
        other = as_dim(other)
        acc: dict[Monomial, int] = {}
        for m1, c1 in self.terms:
            for m2, c2 in other.terms:
                m = tuple(sorted(m1 + m2))
                acc[m] = acc.get(m, 0) + c1 * c2
        return Dim._make(acc)

    def __rmul__(self, other: int) -> Dim:
        # `3 * n` (an int on the left) is the same polynomial as `n * 3`
        return self * other

    def linear_in(self, atom: str) -> tuple[Dim, Dim] | None:
        """(c, rest) with self == c * atom + rest, c non-zero and c, rest free of atom; None if atom is
        absent or not of degree 1 (how an argument of type f64[2 * n * m + 1] determines n).

        >>> c, rest = (Dim.sym("n") * Dim.sym("m") * 2 + 1).linear_in("n")
        >>> str(c), str(rest)
        ('2 * m', '1')
        """
        coeff: dict[Monomial, int] = {}
        rest: dict[Monomial, int] = {}
        for m, c in self.terms:
            if m.count(atom) > 1:
                return None
            if atom in m:
                coeff[tuple(a for a in m if a != atom)] = c
            else:
                rest[m] = c
        return (Dim._make(coeff), Dim._make(rest)) if coeff else None

    @staticmethod
    def ceil_div(num: Dim, k: int) -> Dim:
        """The opaque size ceil(num / k) of a strided slice (`x[::2]` of f64[n]): an atom that equals
        only itself, whose value `evaluate` computes from the dims it stands on."""
        shown = str(num) if len(num.terms) == 1 and num.terms[0][1] == 1 else f"({num})"
        name = f"ceil({shown}/{k})"
        CEIL_ATOMS.setdefault(name, (num, k))
        return Dim.sym(name)

    def evaluate(self, binding: Mapping[str, int]) -> int:
        """The concrete size under a binding of every atom (raises KeyError if one is unbound); an
        opaque ceil(num/k) atom is computed from the dims it stands on.

        >>> Dim.ceil_div(Dim.sym("n") - 1, 2).evaluate({"n": 6})
        3
        """
        total = 0
        for m, c in self.terms:
            term = c
            for a in m:
                if a not in binding and a in CEIL_ATOMS:
                    num, k = CEIL_ATOMS[a]
                    term *= max(0, -(-num.evaluate(binding) // k))
                else:
                    term *= binding[a]
            total += term
        return total

    def substitute(self, binding: Mapping[str, Dim]) -> Dim:
        """Replace atoms by dims (atoms missing from the binding stay)."""
        total = Dim.const(0)
        for m, c in self.terms:
            term = Dim.const(c)
            for a in m:
                term = term * binding.get(a, Dim.sym(a))
            total = total + term
        return total

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        out = ""
        for i, (m, c) in enumerate(sorted(self.terms, key=lambda t: (-len(t[0]), t[0]))):
            mono = " * ".join(m)
            mag = abs(c)
            body = (f"{mag} * {mono}" if mag != 1 else mono) if m else str(mag)
            sign = "-" if c < 0 else "+"
            out = (("-" if c < 0 else "") + body) if i == 0 else f"{out} {sign} {body}"
        return out


def without_hash(obj: object) -> dict[str, object]:
    """Pickled state without the cached hash: string hashes differ between processes."""
    return {k: v for k, v in vars(obj).items() if k != "_hash"}


def as_dim(d: Union[Dim, int]) -> Dim:
    return d if isinstance(d, Dim) else Dim.const(int(d))


@dataclass(frozen=True)
class TensorType:
    """A dtype and a shape of dims; shape () is a scalar."""

    dtype: str
    shape: tuple[Dim, ...] = ()

    def __hash__(self) -> int:  # computed once (see Dim)
        return self._hash

    @cached_property
    def _hash(self) -> int:
        return hash((self.dtype, self.shape))

    def __getstate__(self) -> dict[str, object]:
        return without_hash(self)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def with_dtype(self, dtype: str) -> TensorType:
        return TensorType(dtype, self.shape)

    def with_shape(self, shape: tuple[Dim, ...]) -> TensorType:
        return TensorType(self.dtype, shape)

    def __str__(self) -> str:
        if not self.shape:
            return self.dtype
        return f"{self.dtype}[{', '.join(str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class FunType:
    """A function-typed wire `arg -> res` (an exponential object)."""

    arg: Type
    res: Type

    def __str__(self) -> str:
        arg = f"({self.arg})" if isinstance(self.arg, FunType) else str(self.arg)
        return f"{arg} -> {self.res}"


@dataclass(frozen=True)
class TupleType:
    """The monoidal product; `TupleType(())` is the unit `I`."""

    items: tuple[Type, ...]

    def __str__(self) -> str:
        if not self.items:
            return "I"
        return "(" + ", ".join(str(t) for t in self.items) + ")"


Type = Union[TensorType, FunType, TupleType]
WireType = Union[TensorType, FunType]


def flatten(t: Type) -> tuple[WireType, ...]:
    """The wires of a type: a tuple type is its items' wires in order."""
    if isinstance(t, TupleType):
        return tuple(w for item in t.items for w in flatten(item))
    return (t,)


def product(wires: tuple[WireType, ...]) -> Type:
    """The type of several wires: the wire itself when there is one."""
    return wires[0] if len(wires) == 1 else TupleType(tuple(wires))


def type_str(wires: tuple[WireType, ...]) -> str:
    """The type of several wires as text; one function-typed wire is parenthesised, so that a
    signature `(f64 -> f64) -> f64` reads unambiguously (`->` is right associative)."""
    if len(wires) == 1 and isinstance(wires[0], FunType):
        return f"({wires[0]})"
    return str(product(wires))


def scalar(dtype: str) -> TensorType:
    """The scalar type of a dtype (one shared object per dtype, so its hash is computed once)."""
    t = _SCALARS.get(dtype)
    if t is None:
        t = _SCALARS[dtype] = TensorType(dtype, ())
    return t


_SCALARS: dict[str, TensorType] = {}


def interned(t: WireType) -> WireType:
    """One shared object per distinct wire type (among those interned): wire types are compared and
    hashed as dict keys at every node elaborated (the shape-rule memo, the return check), and equal
    objects that are not the same one compare field by field in Python.

    >>> a, b = TensorType("f64", (Dim.sym("n"),)), TensorType("f64", (Dim.sym("n"),))
    >>> a is b, interned(a) is interned(b)
    (False, True)
    """
    shared = _INTERNED.get(t)
    if shared is None:
        if len(_INTERNED) >= 4096:  # (a bounded cache: a type dropped from it is only no longer shared)
            _INTERNED.clear()
        shared = _INTERNED[t] = t
    return shared


_INTERNED: dict[WireType, WireType] = {}


def broadcast_shapes(a: tuple[Dim, ...], b: tuple[Dim, ...], what: str) -> tuple[Dim, ...]:
    """NumPy broadcasting of two symbolic shapes; a dim of 1 stretches, otherwise dims must be equal.

    >>> n = Dim.sym("n")
    >>> [str(d) for d in broadcast_shapes((n, Dim.const(1)), (Dim.const(3),), "add")]
    ['n', '3']
    """
    if a == b:  # the common case: nothing to broadcast
        return a
    out: list[Dim] = []
    one = Dim.const(1)
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else one
        db = b[-i] if i <= len(b) else one
        if da == db or db == one:
            out.append(da)
        elif da == one:
            out.append(db)
        else:
            raise ShapeError(
                f"shapes do not broadcast in {what}: [{', '.join(map(str, a))}] and "
                f"[{', '.join(map(str, b))}] ({da} ≠ {db})"
            )
    return tuple(reversed(out))


def unify_dims(pattern: Dim, actual: Dim, binding: dict[str, Dim]) -> bool:
    """Match a declared dim (a single name or a constant, as written in a signature) against an actual
    dim, extending `binding` (name -> dim). Compound patterns are compared after substitution."""
    if len(pattern.terms) == 1 and pattern.terms[0][1] == 1 and len(pattern.terms[0][0]) == 1:
        name = pattern.terms[0][0][0]
        if name in binding:
            return binding[name] == actual
        binding[name] = actual
        return True
    return pattern.substitute(binding) == actual


def unify(pattern: WireType, actual: WireType, binding: dict[str, Dim]) -> bool:
    """Match a declared wire type against an actual one, binding dim names consistently."""
    if isinstance(pattern, TensorType) and isinstance(actual, TensorType):
        if pattern.dtype != actual.dtype or pattern.rank != actual.rank:
            return False
        return all(unify_dims(p, a, binding) for p, a in zip(pattern.shape, actual.shape))
    if isinstance(pattern, FunType) and isinstance(actual, FunType):
        pa, aa = flatten(pattern.arg), flatten(actual.arg)
        pr, ar = flatten(pattern.res), flatten(actual.res)
        return (
            len(pa) == len(aa)
            and len(pr) == len(ar)
            and all(unify(p, a, binding) for p, a in zip(pa + pr, aa + ar))
        )
    return False


def substitute(t: WireType, binding: Mapping[str, Dim]) -> WireType:
    """Apply a dim binding to a wire type."""
    if isinstance(t, TensorType):
        return TensorType(t.dtype, tuple(d.substitute(binding) for d in t.shape))
    arg = product(tuple(substitute(w, binding) for w in flatten(t.arg)))
    res = product(tuple(substitute(w, binding) for w in flatten(t.res)))
    return FunType(arg, res)
