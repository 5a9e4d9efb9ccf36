"""`show()` is re-loadable DSL text: `loads(show(d))` is the same diagram (canonical form, constants
shared) for every example, every conformance case definition (derived ones included) and random
programs that mix dtypes, literals, dim sizes (compound ones too), reductions, casts and selects."""

from __future__ import annotations

import glob
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dsl
from semantics.diagram import Builder, Diagram, make_box
from semantics.primitives import PRIMITIVES
from semantics.program import GeneratorDef, GenericDef
from semantics.types import Dim, TensorType
from tests.differential_programs import programs
from tests.helpers import examples, load_shared, share_constants
from tests.strategies import diagrams

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.dsl"))) + sorted(
    glob.glob(os.path.join(ROOT, "..", "shared", "conformance", "cases", "*.dsl")))


def assert_reloads(d: Diagram) -> None:
    text = d.show()
    again = dsl.loads(text)[d.name or "f"]
    assert share_constants(again) == share_constants(d), f"show() does not reload to the same diagram:\n{text}"
    assert dsl.loads(again.show())[d.name or "f"].show() == again.show()  # a fixed point after one round


def _definitions() -> list[tuple[str, str]]:
    out = []
    for path in FILES:
        try:
            mod = load_shared(path)
        except dsl.DslError:
            continue  # the error cases of the conformance suite
        out += [(path, n) for n in mod.names if not isinstance(mod.definition(n), (GenericDef, GeneratorDef))]
    return out


@pytest.mark.parametrize(("path", "name"), _definitions(), ids=lambda v: os.path.basename(str(v)))
def test_every_example_and_conformance_definition_reloads(path, name):
    try:
        d = load_shared(path)[name]
    except dsl.DslError:
        pytest.skip("a conformance case that expects this definition to fail")
    assert_reloads(d)


N, M = Dim.sym("n"), Dim.sym("m")
UNARY = ["sin", "exp", "tanh", "neg", "square", "abs", "sqrt", "floor"]
BINARY = ["add", "sub", "mul", "div", "maximum", "pow"]
DIMS = [N, M, N * 3, N + 1, N * M - 2, Dim.const(4)]


@st.composite
def typed_programs(draw: st.DrawFn) -> Diagram:
    """A random f32/f64 program over [n, m] and scalar wires, with literals, dim sizes and casts."""
    dtype = draw(st.sampled_from(["f32", "f64"]))
    mat, sca = TensorType(dtype, (N, M)), TensorType(dtype, ())
    b = Builder()
    wires = [b.input(mat), b.input(sca)]

    def add(name: str, args: list[int], **params: object) -> int:
        try:
            types = PRIMITIVES[name].infer([b.types[w] for w in args], params)
        except dsl.ShapeError:  # [n] against [n, m]: use the first operand's broadcast instead
            args = [args[0], args[0]] + args[2:] if name != "where" else [args[0], args[1], args[1]]
            types = PRIMITIVES[name].infer([b.types[w] for w in args], params)
        return b.add(make_box(name, params), args, types)[0]

    literals: list[int] = []  # never the only operands of an operation: text folds literal arithmetic
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["unary", "binary", "const", "dim", "reduce", "where", "cast"]))
        x = draw(st.sampled_from(wires))
        if kind == "unary":
            wires.append(add(draw(st.sampled_from(UNARY)), [x]))
        elif kind == "binary":
            wires.append(add(draw(st.sampled_from(BINARY)), [x, draw(st.sampled_from(wires))]))
        elif kind == "const":
            value = draw(st.sampled_from([0.5, 2.0, -1.25, 1e-3, 3.0]))
            c = add("const", [], value=value, dtype=dtype)
            wires.append(add(draw(st.sampled_from(BINARY)), draw(st.permutations([x, c]))))
        elif kind == "dim":
            c = add("dimsize", [], dim=draw(st.sampled_from(DIMS)), dtype=dtype)
            if draw(st.booleans()):
                wires.append(add("mul", [c, x]))
            else:
                literals.append(c)
        elif kind == "reduce":
            rank = b.types[x].rank  # type: ignore[union-attr]
            axis = draw(st.sampled_from([None] + list(range(rank))))
            wires.append(add(draw(st.sampled_from(["sum", "max", "mean"])), [x], axis=axis,
                             keepdims=draw(st.booleans()) if axis is not None else False))
        elif kind == "where":
            cond = add("gt", [x, draw(st.sampled_from(wires))])
            other = add("const", [], value=0.0, dtype=dtype) if draw(st.booleans()) else x
            wires.append(add("where", [cond, x, other]))
        else:
            other = "f64" if dtype == "f32" else "f32"
            wires.append(add("cast", [add("cast", [x], dtype=other)], dtype=dtype))
    outs = draw(st.lists(st.sampled_from(wires[2:] + literals or wires), min_size=1, max_size=2))
    return b.build(outs, input_names=("x", "s"), name="f")


@settings(max_examples=examples(40), deadline=None)
@given(typed_programs())
def test_random_typed_programs_reload(d):
    assert_reloads(d)


@settings(max_examples=examples(25), deadline=None)
@given(diagrams())
def test_random_strategy_diagrams_reload(d):
    assert_reloads(d.with_names("f"))


def test_literals_without_a_typed_operand_keep_their_dtype():
    b = Builder()
    x = b.input(TensorType("f32", (N,)))
    c = b.add(make_box("const", {"value": 2.0, "dtype": "f32"}), [], [TensorType("f32")])[0]
    one = b.add(make_box("const", {"value": 1.0, "dtype": "f32"}), [], [TensorType("f32")])[0]
    cond = b.add(make_box("gt", {}), [x, c], [TensorType("bool", (N,))])[0]
    sel = b.add(make_box("where", {}), [cond, c, one], [TensorType("f32", (N,))])[0]
    d = b.build([sel], input_names=("x",), name="f")
    assert "where(x > 2.0, cast(2.0, f32), cast(1.0, f32))" in d.show()
    assert_reloads(d)


def test_compound_dim_sizes_print_as_reloadable_dims():
    d = dsl.loads("dim n, m\ndef f(x: f64[3 * n, m]) -> f64 { t = 1.0 / (n * m - 1)\n return sum(x) * t * t }")["f"]
    assert "f64[3 * n, m]" in d.show() and "1.0 / (m * n - 1)" in d.show()
    assert_reloads(d)


@settings(max_examples=examples(30), deadline=None)
@given(programs(max_steps=6))
def test_random_differential_programs_reload(source):
    """The differential test's programs (every slicing form, einsum, roll, pad, concat, where, stdlib
    calls, point-free diagrams) reload from show() too."""
    mod = dsl.loads(source, filename="random.dsl")
    for name in mod.names:
        assert_reloads(mod[name])


def test_a_strided_slice_of_a_symbolic_dim_declares_the_dim_not_its_opaque_size():
    """`x[::2]` of f64[n] has the opaque size ceil(n/2): show() declared `dim ceil(n/2), n` (a parse error)."""
    d = dsl.loads("dim n\ndef f(x: f64[n]) -> f64 {\n  t = x[1::2]\n  return sum(t * t)\n}")["f"]
    assert d.show().startswith("dim n\n")
    assert_reloads(d)


FUNCTIONALS = """
def a(rho: f64 -> f64) -> f64 { return integrate(x => rho(x) ^ 2, over=(0, 1), n=8) }
def b(rho: f64 -> f64) -> f64 { return integrate(x => sin(rho(x)), over=(0, 1), n=8) }
def ab(rho: f64 -> f64) -> f64 { return a(rho) + b(rho) }
def masked(q: f64 -> f64) -> (f64 -> f64) { return x => where(x <= 1.0, q(x), 0.0) - where(x <= 1.0, 2.0 * q(x), 0.0) }
def layer(k: (f64, f64) -> f64, f: f64 -> f64) -> f64 {
    return integrate(u => integrate(v => k(u, v) * f(v), over=(0, 1), n=8) ^ 2, over=(0, 1), n=8)
}
g_ab = grad(ab)
g_layer = grad(layer, wrt=k)
"""


def test_derived_functionals_are_in_the_form_their_text_elaborates_to():
    """The rules that make §7 text reload to the same diagram: one node per distinct lambda subterm
    (across inlined functionals, and a literal counts by its value), and a function-valued result on
    its own variables (the inner integral's transpose `lift(ct(u))` read as `ct(u)` in `(u, v) => ...`)."""
    mod = dsl.loads(FUNCTIONALS, filename="functionals.dsl")

    def count(d: Diagram, name: str) -> int:
        return sum(n.box.name == name for n in share_constants(d).nodes)

    assert count(mod["ab"], "apply") == 1 and count(mod["masked"], "le") == 1
    assert count(mod["g_layer"], "lift") == 1  # u captured by the inner integrand, as in `layer`; ct(u) is not lifted
    for name in mod.names:
        assert_reloads(mod[name])
