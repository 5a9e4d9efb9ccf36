"""Random well-typed DSL programs for the differential test (tests/test_differential.py).

A program is DSL *source*, so the whole pipeline is exercised: parsing (slicing syntax, `None`
new axes, point-free diagrams), elaboration (broadcasting, stdlib generic defs), derivation and
both backends. Shapes are tracked symbolically while generating: every wire has a shape made of
the symbolic dim `n`, constants, or an opaque token for sizes the generator does not name (a
strided slice of `n`); tokens only meet wires of the same token, scalars, and reductions.

Inputs (bound at run time with n = 5, so no slice or roll is self-inverse):
    x: f64[n], y: f64[n], A: f64[3, n], M: f64[3, 3], T: f64[2, n, 3], s: f64
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

Shape = tuple[str, ...]
INPUTS: dict[str, Shape] = {"x": ("n",), "y": ("n",), "A": ("3", "n"), "M": ("3", "3"), "T": ("2", "n", "3"),
                            "s": ()}
N = 5  # the runtime size of n
HEADER = "dim n\n\ndiagram pf : f64 -> f64 = copy(f64) >> (sin ⊗ tanh) >> mul\n\n"

# smooth on the whole real line (no kinks, no domain errors), so finite differences are valid anywhere
UNARY = ("sin({})", "tanh({})", "sigmoid({})", "arctan({})", "cos({})", "softplus({})", "exp(0.3 * {})",
         "log1p({0} * {0})", "sqrt({0} * {0} + 1)", "square({})", "-{}", "erf({})")
BINARY = ("{} + {}", "{} - {}", "{} * {}", "{} / (1.5 + {} ^ 2)", "maximum({}, {})", "minimum({}, {})",
          "atan2({}, 1.7 + {} ^ 2)")
REDUCE = ("sum", "mean", "max", "min", "prod", "logsumexp")


@dataclass
class Program:
    lines: list[str] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=lambda: dict(INPUTS))
    tokens: int = 0

    def bind(self, expr: str, shape: Shape) -> str:
        name = f"w{len(self.lines)}"
        self.lines.append(f"    {name} = {expr}")
        self.shapes[name] = shape
        return name

    def fresh(self) -> str:
        self.tokens += 1
        return f"?{self.tokens}"


def _broadcast(a: Shape, b: Shape) -> Shape | None:
    """NumPy broadcasting of two generator shapes (None: they do not broadcast)."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else "1"
        db = b[-i] if i <= len(b) else "1"
        if da == db or db == "1":
            out.append(da)
        elif da == "1":
            out.append(db)
        else:
            return None
    return tuple(reversed(out))


def _size(d: str) -> int | None:
    """The runtime size of a generator dim: a constant, a polynomial in n ("n - 1", "2 * n") at n = N, or
    None for an opaque token."""
    return None if d.startswith("?") else int(eval(d, {"n": N}))


def _plus(d: str, k: int, p: Program) -> str:
    """The dim d + k (k may be negative): exact for constants and for polynomials in n."""
    if d.isdigit():
        return str(int(d) + k)
    if d.startswith("?"):
        return p.fresh()
    return f"{d} + {k}" if k >= 0 else f"{d} - {-k}"


def _slices(shape: Shape, p: Program) -> list[tuple[str, Shape]]:
    """Index forms on the first axis (and on a constant second axis), with the result shapes."""
    if not shape or shape[0].startswith("?") or _size(shape[0]) == 0:
        return []
    d, rest = shape[0], shape[1:]
    sym = not d.isdigit()
    size = _size(d)
    assert size is not None
    forms: list[tuple[str, Shape]] = [("[0]", rest), ("[-1]", rest), ("[1:]", (_plus(d, -1, p), *rest)),
                                      ("[:-1]", (_plus(d, -1, p), *rest)), ("[::-1]", shape), ("[None]", ("1", *shape)),
                                      ("[:, None]", (d, "1", *rest))]
    if size > 2:
        forms += [("[1:3]", ("2", *rest)), ("[::2]", (p.fresh() if sym else str((size + 1) // 2), *rest))]
    if sym and size > 1:
        forms += [(f"[:{d} - 1]", (_plus(d, -1, p), *rest))]
    if not sym:  # out-of-range bounds clamp (on symbolic dims the type takes them as in range: n = 5 fits)
        forms += [("[-100:2]", (str(min(2, size)), *rest)), ("[1:100]", (str(size - 1), *rest))]
    if len(shape) >= 2 and shape[1].isdigit() and int(shape[1]) > 1:  # (a keepdims axis of size 1 has no [:, 1])
        forms += [("[:, ::2]", (d, str((int(shape[1]) + 1) // 2), *shape[2:])), ("[:, 1]", (d, *shape[2:]))]
    return forms


@st.composite
def programs(draw: st.DrawFn, max_steps: int = 5) -> str:
    """A module with `def f(x, y, A, M, T, s) -> f64` built from random steps, and `def g` returning
    one of its non-scalar intermediate wires (for jvp/vjp/jacobian of a vector output)."""
    p = Program()
    for _ in range(draw(st.integers(2, max_steps))):
        step(draw, p)
    wires = [w for w in p.shapes if w not in INPUTS] or ["x"]
    used = draw(st.lists(st.sampled_from(wires), min_size=1, max_size=3, unique=True))
    total = " + ".join(f"sum(sin({w}) * {1.1 + 0.3 * i:.1f})" for i, w in enumerate(used))
    body = "\n".join(p.lines)
    params = ", ".join(f"{k}: f64[{', '.join(s)}]" if s else f"{k}: f64" for k, s in INPUTS.items())
    vec = [w for w in wires if w in p.shapes and p.shapes[w] and all(not d.startswith("?") for d in p.shapes[w])]
    out = draw(st.sampled_from(vec)) if vec else None
    g = ""
    if out is not None:
        g = f"\ndef g({params}) -> f64[{', '.join(p.shapes[out])}] {{\n{body}\n    return {out}\n}}\n"
    return f"{HEADER}def f({params}) -> f64 {{\n{body}\n    return {total}\n}}\n{g}"


def step(draw: st.DrawFn, p: Program) -> None:
    """One statement: a random operation on wires of compatible shapes."""
    names = list(p.shapes)
    a = draw(st.sampled_from(names))
    sa = p.shapes[a]
    kind = draw(st.sampled_from(("unary", "binary", "binary", "where", "reduce", "slice", "slice", "matmul",
                                 "einsum", "roll", "pad", "join", "cast", "stdlib", "pointfree")))
    if kind == "unary":
        p.bind(draw(st.sampled_from(UNARY)).format(a), sa)
    elif kind in ("binary", "where"):
        partners = [b for b in names if _broadcast(sa, p.shapes[b]) is not None]
        b = draw(st.sampled_from(partners))
        shape = _broadcast(sa, p.shapes[b])
        assert shape is not None
        if kind == "binary":
            p.bind(draw(st.sampled_from(BINARY)).format(a, b), shape)
        else:  # includes a guarded singularity: the unselected branch is inf/nan
            guard = draw(st.sampled_from((f"where({a} > {b}, {a} * {b}, sin({b}))",
                                          f"where({a} > 0.2, log({a}) * {b}, 0.5 * {b})",
                                          f"({a} < {b} ? sqrt({b} - {a}) : cos({a}))")))
            p.bind(guard, shape)
    elif kind == "reduce":
        name = draw(st.sampled_from(REDUCE))
        if not sa:
            p.bind(f"{name}({a})", ())
            return
        axis = draw(st.one_of(st.none(), st.integers(-len(sa), len(sa) - 1)))
        keep = draw(st.booleans())
        kw = "" if axis is None else f", axis={axis}"
        kw += ", keepdims=true" if keep else ""
        if axis is None:
            shape: Shape = tuple("1" for _ in sa) if keep else ()
        else:
            k = axis % len(sa)
            shape = tuple("1" if i == k else d for i, d in enumerate(sa) if keep or i != k)
        p.bind(f"{name}({a}{kw})", shape)
    elif kind == "slice":
        forms = _slices(sa, p)
        if forms:
            form, shape = draw(st.sampled_from(forms))
            p.bind(f"{a}{form}", shape)
    elif kind == "matmul":
        pairs = [("A", "x", ("3",)), ("x", "y", ()), ("M", "A", ("3", "n")), ("A", "T", ("2", "3", "3")),
                 ("x", "T", ("2", "3")), ("T", "M", ("2", "n", "3")), ("M", "T[0, 1:4]", ("3", "3"))]
        u, v, shape = draw(st.sampled_from(pairs))
        if sa == INPUTS[u]:  # feed the drawn wire where it fits, so products meet the program's wires
            u = a
        p.bind(f"tanh({u}) @ {v}", shape)
    elif kind == "einsum":
        forms = [('einsum("ij,j->i", A, {0})', ("3",), ("n",)), ('einsum("ij,k->k", M, {0})', ("n",), ("n",)),
                 ('einsum("ii,i->i", M, {0})', ("3",), ("3",)), ('einsum("ii->", {0})', (), ("3", "3")),
                 ('einsum("ij,ij->j", {0}, A)', ("n",), ("3", "n")), ('einsum("bij,jk->bik", T, {0})', ("2", "n", "3"),
                                                                        ("3", "3"))]
        ok = [f for f in forms if f[2] == sa]
        if ok:
            form, shape, _ = draw(st.sampled_from(ok))
            p.bind(form.format(a), shape)
    elif kind == "roll" and sa and not any(d.startswith("?") for d in sa):
        form = draw(st.sampled_from(("roll({}, 1)", "roll({}, -2, axis=0)", "roll({}, 2, axis=-1)")))
        p.bind(form.format(a), sa)
    elif kind == "pad" and sa and len(sa) <= 2:
        shape = tuple(_plus(d, 3, p) for d in sa)
        p.bind(f"pad({a}, (1, 2))", shape)
    elif kind == "join" and sa:
        if draw(st.booleans()):
            p.bind(f"stack(({a}, sin({a})), axis=0)", ("2", *sa))
        else:
            d0 = sa[0]
            joined = f"2 * {d0}" if d0 == "n" else str(2 * int(d0)) if d0.isdigit() else p.fresh()  # 2 * (n - 1): a token
            p.bind(f"concat(({a}, cos({a})), axis=0)", (joined, *sa[1:]))
    elif kind == "cast":
        p.bind(f"cast({a} > 0.1, f64) * {a} + {a}", sa)
    elif kind == "stdlib" and sa and not any(d.startswith("?") for d in sa):
        form = draw(st.sampled_from(("softmax({})", "log_softmax({}, axis=0)", "layer_norm({})")))
        p.bind(form.format(a), sa)
    elif kind == "pointfree" and not sa:
        p.bind(f"pf({a})", ())
    else:
        p.bind(f"sin({a}) * 0.9", sa)
