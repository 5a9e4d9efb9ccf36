"""Dims in the generated NumPy code: symbolic dims as Python expressions over dim variables, and the
lines at the top of a function that read each dim it uses from its arguments' shapes (the function
is shape-polymorphic, see `codegen.numpy_emitter`).

>>> from semantics.diagram import Builder
>>> from semantics.types import TensorType
>>> b = Builder(); x = b.input(TensorType("f64", (Dim.sym("n") + 1,)))
>>> dim_lines(b.build([x]), ["x"], {"n": "n"})
['    n = (x.shape[0] - (1)) // (1)']
"""

from __future__ import annotations

from collections.abc import Sequence

from codegen.errors import CodegenError
from semantics.diagram import Diagram
from semantics.types import CEIL_ATOMS, Dim, TensorType


def dim_source(d: Dim, names: dict[str, str]) -> str:
    """Python source for a polynomial dim over the dim variables `names` (atom -> identifier).

    >>> dim_source(Dim.sym("n") * 2 - 1, {"n": "n"})
    '2 * n - 1'
    """
    if d.is_const:
        return str(d.value)
    out = ""
    for i, (mono, c) in enumerate(sorted(d.terms, key=lambda t: (-len(t[0]), t[0]))):
        mag = abs(c)
        factors = [names[a] for a in mono]
        body = " * ".join(([str(mag)] if mag != 1 or not factors else []) + factors)
        if i == 0:
            out = ("-" if c < 0 else "") + body
        else:
            out += (" - " if c < 0 else " + ") + body
    return out


def dim_lines(d: Diagram, params: Sequence[str], dims: dict[str, str]) -> list[str]:
    """`n = x.shape[0]`: each dim the function uses (`dims`: atom -> its variable), read from the
    shapes of the parameters (`params`: the inputs' names in the generated code)."""
    sources: dict[str, str] = {}
    for w, name in zip(d.inputs, params):
        t = d.types[w]
        for axis, dim in enumerate(t.shape if isinstance(t, TensorType) else ()):  # a function: no axes
            if len(dim.terms) == 1 and dim.terms[0][1] == 1 and len(dim.terms[0][0]) == 1:
                sources.setdefault(dim.terms[0][0][0], f"{name}.shape[{axis}]")
    _solve_linear(d, params, sources)
    lines = []
    for atom in dims:
        _ceil_source(atom, sources)
    for atom, var in dims.items():
        if atom not in sources:
            raise CodegenError(f"dim {atom} is needed by {d.name or 'the diagram'} but is not the size "
                               "of any argument's axis, so it cannot be read from the inputs", d.span)
        lines.append(f"    {var} = {sources[atom]}")
    return lines


def _solve_linear(d: Diagram, params: Sequence[str], sources: dict[str, str]) -> None:
    """A dim that is only known through a compound argument dim (`x: f64[n + 1]`) is read back
    from it: `n = (x.shape[0] - 1) // 1` (the inputs were validated, so it divides exactly)."""
    progress = True
    while progress:
        progress = False
        for w, name in zip(d.inputs, params):
            t = d.types[w]
            for axis, dim in enumerate(t.shape if isinstance(t, TensorType) else ()):
                unknown = [a for a in dim.atoms if a not in sources]
                linear = dim.linear_in(unknown[0]) if len(unknown) == 1 else None
                if linear is None:
                    continue
                coeff, rest = (" + ".join(" * ".join([str(c)] + [sources[a] for a in m]) for m, c in part.terms)
                               for part in linear)
                sources[unknown[0]] = f"({name}.shape[{axis}] - ({rest or '0'})) // ({coeff})"
                progress = True


def _ceil_source(atom: str, sources: dict[str, str]) -> None:
    """Add the expression of an opaque size ceil(num/k) (a strided slice of a symbolic dim, needed when a
    derived diagram makes an array of that size) to `sources`, from the dims it stands on."""
    if atom in sources or atom not in CEIL_ATOMS:
        return
    num, k = CEIL_ATOMS[atom]
    for a in num.atoms:
        _ceil_source(a, sources)
    if all(a in sources for a in num.atoms):
        expr = " + ".join(" * ".join([str(c)] + [f"({sources[a]})" for a in m]) for m, c in num.terms)
        sources[atom] = f"max(0, -(-({expr or '0'}) // {k}))"
