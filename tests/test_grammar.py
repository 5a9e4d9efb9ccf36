"""The parser stage (LANGUAGE.md §1–§8): every construct's AST and spans, precedence, Unicode
aliases, classified syntax errors, and deep nesting rejected with a ParseError."""

from __future__ import annotations

import glob
import os

import pytest

from grammar import ParseError, ast, parse, parse_expr
from grammar.parser import MAX_DEPTH

CASES = "/work/shared/conformance/cases"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def expr(text: str) -> ast.Expr:
    return parse_expr(text, "e.dsl")


def sexp(e: object) -> str:
    """A compact rendering of an expression or morphism, to check tree shapes (precedence)."""
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Num):
        return repr(e.value)
    if isinstance(e, ast.BinOp):
        return f"({sexp(e.left)} {e.op} {sexp(e.right)})"
    if isinstance(e, ast.UnaryOp):
        return f"({e.op}{sexp(e.operand)})"
    if isinstance(e, ast.Cond):
        return f"({sexp(e.cond)} ? {sexp(e.then)} : {sexp(e.other)})"
    if isinstance(e, ast.MCompose):
        return f"({sexp(e.first)} >> {sexp(e.second)})"
    if isinstance(e, ast.MTensor):
        return f"({sexp(e.left)} | {sexp(e.right)})"
    if isinstance(e, ast.MBox):
        return e.name
    if isinstance(e, ast.MStructural):
        return e.kind
    raise AssertionError(e)


def error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(text, "t.dsl")
    err = info.value
    assert err.span is not None and err.span.line_text, "every ParseError has a span with its line"
    assert str(err).startswith("t.dsl:")
    return err


def diagram(text: str) -> ast.Morphism:
    decl = parse(f"diagram d = {text}").decls[0]
    assert isinstance(decl, ast.DiagramDef)
    return decl.body


# ---------------------------------------------------------------- declarations


def test_dim_type_box_import():
    m = parse('dim n, m\ntype Vec3 = f64[3]\nbox f : f64 ⊗ f64 -> f64\nimport "x.dsl"\nimport "y.dsl" as o\n')
    dim, alias, box, imp, imp_as = m.decls
    assert isinstance(dim, ast.DimDecl) and dim.names == ("n", "m")
    assert [s.col for s in dim.name_spans if s] == [5, 8]
    assert isinstance(alias, ast.TypeAlias) and alias.name == "Vec3" and isinstance(alias.type, ast.TensorTypeExpr)
    assert alias.type.dtype == "f64" and alias.type.dims == (ast.DimRef(3, alias.type.dims[0].span),)
    assert isinstance(box, ast.BoxDecl) and isinstance(box.dom, ast.TupleTypeExpr) and len(box.dom.items) == 2
    assert box.cod == ast.TensorTypeExpr("f64", (), box.cod.span)
    assert imp == ast.Import("x.dsl", None, imp.span) and imp_as == ast.Import("y.dsl", "o", imp_as.span)
    assert m.source.startswith("dim n") and m.filename == "<string>"


def test_box_with_tuple_domain():
    box = parse("box g : (f64, f64[2]) -> f64").decls[0]
    assert isinstance(box, ast.BoxDecl) and isinstance(box.dom, ast.TupleTypeExpr)
    assert [type(t).__name__ for t in box.dom.items] == ["TensorTypeExpr", "TensorTypeExpr"]


def test_def_with_statements_and_spans():
    src = ("dim B, H\ndef mlp(x: f32[B, H], W2: f32[H, 1]) -> f32[B, 1] {\n"
           "    h, g = split(x); k = h\n    p = h @ W2\n    return p, g\n}\n")
    d = parse(src, "m.dsl").decls[1]
    assert isinstance(d, ast.Def) and d.name == "mlp"
    assert [p.name for p in d.params] == ["x", "W2"]
    assert d.params[0].type == ast.TensorTypeExpr("f32", (ast.DimRef("B", d.params[0].type.dims[0].span),  # type: ignore[union-attr]
                                                          ast.DimRef("H", d.params[0].type.dims[1].span)),  # type: ignore[union-attr]
                                                  d.params[0].type.span)  # type: ignore[union-attr]
    assert [a.targets for a in d.body] == [("h", "g"), ("k",), ("p",)]
    assert len(d.returns.values) == 2
    p = d.body[2]
    assert p.span is not None and (p.span.line, p.span.col, p.span.end_col) == (4, 5, 15)
    binop = p.value
    assert isinstance(binop, ast.BinOp) and binop.op == "@"
    assert binop.span is not None
    assert (binop.span.filename, binop.span.line, binop.span.col, binop.span.end_line, binop.span.end_col) == \
        ("m.dsl", 4, 9, 4, 15)
    assert binop.span.line_text == "    p = h @ W2"
    assert d.name_span is not None and (d.name_span.line, d.name_span.col) == (2, 5)
    assert d.span is not None and (d.span.line, d.span.end_line) == (2, 6)


def test_def_without_return_type_and_with_defaults():
    d = parse("def softmax(x, axis=-1) {\n  return x\n}").decls[0]
    assert isinstance(d, ast.Def) and d.ret is None
    assert d.params[0] == ast.Param("x", None, d.params[0].span)
    assert isinstance(d.params[1].default, ast.UnaryOp)


def test_function_typed_params_and_unit():
    d = parse("def F(rho: f64 -> f64, u: f64[2] → f64) -> () { return () }").decls[0]
    assert isinstance(d, ast.Def)
    assert all(isinstance(p.type, ast.FunTypeExpr) for p in d.params)
    assert d.ret == ast.TupleTypeExpr((), d.ret.span)  # type: ignore[union-attr]


def test_types_precedence_and_flattening():
    t = parse("type T = f64 ⊗ f64 | f64 -> f64 -> I").decls[0].type  # type: ignore[union-attr]
    assert isinstance(t, ast.FunTypeExpr) and isinstance(t.arg, ast.TupleTypeExpr) and len(t.arg.items) == 3
    assert isinstance(t.res, ast.FunTypeExpr) and t.res.res == ast.NamedTypeExpr("I", t.res.res.span)
    alias = parse("type U = Vec3").decls[0].type  # type: ignore[union-attr]
    assert alias == ast.NamedTypeExpr("Vec3", alias.span)


def test_dim_arithmetic():
    d = parse("dim n\ndef lap(u: f64[n]) -> f64[n - 2] { return u[:-2] }").decls[1]
    assert isinstance(d, ast.Def) and isinstance(d.ret, ast.TensorTypeExpr)
    dim = d.ret.dims[0]
    assert dim.value == "n - 2" and isinstance(dim.expr, ast.BinOp) and dim.expr.op == "-"


def test_diagram_with_and_without_signature():
    a, b = parse("diagram s : f64 -> f64 = copy(f64) >> (sin ⊗ cos) >> mul\ndiagram t = sin").decls
    assert isinstance(a, ast.DiagramDef) and a.dom == ast.TensorTypeExpr("f64", (), a.dom.span)  # type: ignore[union-attr]
    assert sexp(a.body) == "((copy >> (sin | cos)) >> mul)"
    body = a.body
    assert isinstance(body, ast.MCompose) and isinstance(body.first, ast.MCompose)
    assert body.first.first == ast.MStructural("copy", (ast.TensorTypeExpr("f64", (), body.first.first.types[0].span),),  # type: ignore[union-attr]
                                               body.first.first.span)
    assert isinstance(body.first.second, ast.MTensor)
    assert isinstance(b, ast.DiagramDef) and b.dom is None and b.cod is None


def test_morphism_atoms():
    m = diagram("swap(f64, f64[2]) >> id(f64 ⊗ f64) >> o.f >> sum[axis=0, keepdims=true] >> discard(f64)")
    assert isinstance(m, ast.MCompose)
    assert isinstance(m.second, ast.MStructural) and m.second.kind == "discard"
    box = m.first.second  # type: ignore[union-attr]
    assert isinstance(box, ast.MBox) and box.name == "sum"
    assert [(k.name, type(k.value).__name__) for k in box.params] == [("axis", "Num"), ("keepdims", "Bool")]
    dotted = m.first.first.second  # type: ignore[union-attr]
    assert dotted == ast.MBox("o.f", (), dotted.span)


def test_derived_definitions():
    decls = parse("g = grad(f, wrt=(a, b))\nh = hessian(o.f, wrt=x)\ngg = grad(grad(f))\ns = simplify(f)").decls
    g, h, gg, s = decls
    assert isinstance(g, ast.Derived) and g.op == "grad" and g.target == ast.Name("f", g.target.span)
    assert g.kwargs[0].name == "wrt" and isinstance(g.kwargs[0].value, ast.TupleExpr)
    assert isinstance(h, ast.Derived) and isinstance(h.target, ast.Attr) and h.target.attr == "f"
    assert isinstance(gg, ast.Derived) and isinstance(gg.target, ast.Call)
    assert gg.target.func == ast.Name("grad", gg.target.func.span)
    assert isinstance(s, ast.Derived) and s.op == "simplify"
    assert g.name_span is not None and g.name_span.col == 1


@pytest.mark.parametrize("op", ["grad", "value_and_grad", "vjp", "jvp", "hessian", "jacobian", "simplify"])
def test_every_derived_op(op):
    d = parse(f"x = {op}(f)").decls[0]
    assert isinstance(d, ast.Derived) and d.op == op


def test_comments_semicolons_and_empty_input():
    assert parse("").decls == ()
    m = parse("# only a comment\ndim n; dim m  # trailing\n;")
    assert [d.names for d in m.decls] == [("n",), ("m",)]  # type: ignore[union-attr]


# ---------------------------------------------------------------- expressions


@pytest.mark.parametrize("text, shape", [
    ("-x^2", "(-(x ^ 2))"),
    ("a+b*c", "(a + (b * c))"),
    ("a-b-c", "((a - b) - c)"),
    ("a / b @ c * d", "(((a / b) @ c) * d)"),
    ("a ^ b ^ c", "(a ^ (b ^ c))"),
    ("a ** b", "(a ^ b)"),
    ("2^-1", "(2 ^ (-1))"),
    ("-a * b", "((-a) * b)"),
    ("+a", "(+a)"),
    ("a ? b : c ? d : e", "(a ? b : (c ? d : e))"),
    ("a < b ? a + 1 : b", "((a < b) ? (a + 1) : b)"),
    ("a + 1 == b * 2", "((a + 1) == (b * 2))"),
    ("a ≤ b", "(a <= b)"), ("a ≥ b", "(a >= b)"), ("a ≠ b", "(a != b)"), ("a != b", "(a != b)"),
    ("(a + b) * c", "((a + b) * c)"),
])
def test_precedence(text, shape):
    assert sexp(expr(text)) == shape


def test_atoms():
    n = expr("3")
    assert n == ast.Num(3, True, n.span) and isinstance(n.value, int)
    for text, value in [("2.5", 2.5), ("1e-3", 1e-3), (".5", 0.5), ("3.", 3.0)]:
        num = expr(text)
        assert isinstance(num, ast.Num) and num.value == value and not num.is_int
    assert expr("true") == ast.Bool(True, expr("true").span)
    assert expr("false") == ast.Bool(False, expr("false").span)
    assert expr('"ij,jk->ik"') == ast.Str("ij,jk->ik", expr('"ij,jk->ik"').span)
    t = expr("(a, b)")
    assert isinstance(t, ast.TupleExpr) and len(t.items) == 2
    one = expr("(a,)")
    assert isinstance(one, ast.TupleExpr) and len(one.items) == 1
    assert expr("()") == ast.TupleExpr((), expr("()").span)
    assert expr("(a)") == ast.Name("a", expr("(a)").span)


def test_names_greek_and_unicode_aliases():
    greek = expr("α_1 + ρ")
    assert isinstance(greek, ast.BinOp) and sexp(greek) == "(α_1 + ρ)"
    assert expr("δ") == ast.Name("δ", expr("δ").span)
    nabla = expr("∇(u)")
    assert isinstance(nabla, ast.Call) and nabla.func == ast.Name("nabla", nabla.func.span)
    integral = expr("∫(g, over=(0, 1))")
    assert isinstance(integral, ast.Call) and integral.func == ast.Name("integrate", integral.func.span)


def test_calls_kwargs_attributes():
    c = expr("f(a, b, key=v,)")
    assert isinstance(c, ast.Call) and len(c.args) == 2 and c.kwargs[0].name == "key"
    assert c.kwargs[0].span is not None and c.kwargs[0].span.col == 9
    t = expr("x.T")
    assert t == ast.Attr(ast.Name("x", t.value.span), "T", t.span)  # type: ignore[union-attr]
    q = expr("o.f(x)")
    assert isinstance(q, ast.Call) and isinstance(q.func, ast.Attr) and q.func.attr == "f"
    curried = expr("nabla(u)(x)")
    assert isinstance(curried, ast.Call) and isinstance(curried.func, ast.Call)
    empty = expr("f()")
    assert isinstance(empty, ast.Call) and empty.args == () and empty.kwargs == ()


@pytest.mark.parametrize("text, parts", [
    ("x[1:]", [(1, None, None)]),
    ("x[:, 0]", [(None, None, None), 0]),
    ("x[::2]", [(None, None, 2)]),
    ("x[:-1]", [(None, "(-1)", None)]),
    ("x[1:-1:2]", [(1, "(-1)", 2)]),
    ("x[i]", ["i"]),
])
def test_indexing_and_slicing(text, parts):
    e = expr(text)
    assert isinstance(e, ast.Index)

    def show(item: object) -> object:
        if isinstance(item, ast.Slice):
            return tuple(None if p is None else show(p) for p in (item.lo, item.hi, item.step))
        return item.value if isinstance(item, ast.Num) else sexp(item)

    assert [show(i) for i in e.items] == parts


def test_lambdas():
    one = expr("x => 2 * x")
    assert isinstance(one, ast.Lambda) and one.params == ("x",) and sexp(one.body) == "(2 * x)"
    two = expr("(x, y) => x + y")
    assert isinstance(two, ast.Lambda) and two.params == ("x", "y")
    assert expr("() => 1").params == ()  # type: ignore[union-attr]
    nested = expr("x => y => x")
    assert isinstance(nested, ast.Lambda) and isinstance(nested.body, ast.Lambda)
    inside = expr("integrate(x => x ^ 2, over=(0, 1))")
    assert isinstance(inside, ast.Call) and isinstance(inside.args[0], ast.Lambda)


def test_multiline_span_and_line_text():
    d = parse("def f(x: f64) -> f64 {\n    return sum(x,\n               axis=0)\n}").decls[0]
    call = d.returns.values[0]  # type: ignore[union-attr]
    assert call.span is not None and (call.span.line, call.span.col, call.span.end_line) == (2, 12, 3)
    assert call.span.line_text == "    return sum(x,"


# ---------------------------------------------------------------- morphisms


@pytest.mark.parametrize("text, shape", [
    ("f ∘ g", "(g >> f)"),
    ("f << g", "(g >> f)"),
    ("a >> b ⊗ c", "(a >> (b | c))"),
    ("a | b >> c", "((a | b) >> c)"),
    ("a >> b >> c", "((a >> b) >> c)"),
    ("h ∘ g ∘ f", "(f >> (g >> h))"),
    ("a ⊗ (b >> c)", "(a | (b >> c))"),
])
def test_morphism_precedence(text, shape):
    assert sexp(diagram(text)) == shape


def test_morphism_spans():
    body = diagram("sin ⊗ cos >> mul")
    assert isinstance(body, ast.MCompose) and body.span is not None
    assert (body.span.col, body.span.end_col) == (13, 29)
    assert body.first.span is not None and (body.first.span.col, body.first.span.end_col) == (13, 22)


# ---------------------------------------------------------------- whole files


def test_worked_example_of_section_11():
    src = """dim B, D, H, n

def mlp(x: f32[B, D], W1: f32[D, H], b1: f32[H], W2: f32[H, 1]) -> f32[B, 1] {
    h = tanh(x @ W1 + b1)
    return h @ W2
}

def loss(x: f32[B, D], y: f32[B, 1], W1: f32[D, H], b1: f32[H], W2: f32[H, 1]) -> f32 {
    return mean((mlp(x, W1, b1, W2) - y) ^ 2)
}

dloss = grad(loss, wrt=(W1, b1, W2))

def energy(u: f64[n]) -> f64 {
    return sum(0.5 * (u[1:] - u[:-1]) ^ 2) + sum(0.25 * u ^ 4 - 0.5 * u ^ 2)   # f64[n-1], then f64[n]
}
force = grad(energy)

def lda_exchange(rho: f64 -> f64) -> f64 {
    return integrate(x => -0.75 * (3 / pi) ^ (1/3) * rho(x) ^ (4/3), over=(0, 1))
}
v_x = grad(lda_exchange)             # x => -(3/pi)^(1/3) * rho(x)^(1/3)
"""
    m = parse(src, "w.dsl")
    assert [type(d).__name__ for d in m.decls] == ["DimDecl", "Def", "Def", "Derived", "Def", "Derived", "Def",
                                                   "Derived"]
    loss = m.decls[2]
    assert isinstance(loss, ast.Def)
    ret = loss.returns.values[0]
    assert isinstance(ret, ast.Call) and isinstance(ret.args[0], ast.BinOp) and ret.args[0].op == "^"
    # the parenthesised base is included in the span of `(...) ^ 2`
    assert ret.args[0].span is not None and ret.args[0].span.col == 17


def test_section_5_example():
    d = parse("diagram sincos : f64 -> f64 = copy(f64) >> (sin ⊗ cos) >> mul").decls[0]
    assert isinstance(d, ast.DiagramDef) and d.name == "sincos"


def _dsl_files() -> list[str]:
    return sorted(glob.glob(os.path.join(CASES, "*.dsl")) + glob.glob(os.path.join(ROOT, "examples", "*.dsl"))
                  + [os.path.join(ROOT, "dsl", "stdlib.dsl")])


@pytest.mark.parametrize("path", _dsl_files(), ids=os.path.basename)
def test_dsl_files(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if os.path.basename(path) == "err_parse.dsl":
        with pytest.raises(ParseError) as info:
            parse(text, path)
        assert info.value.line in (2, 3)
    else:
        assert parse(text, path).decls


# ---------------------------------------------------------------- errors


def test_unclosed_paren_in_conformance_case():
    err = error("def f(x: f64) -> f64 {\n    return (x + 1\n}\n")
    assert (err.line, err.col) == (2, 12)
    assert "unclosed '(' opened at 2:12" in err.message


def test_unclosed_at_end_of_input():
    err = error("def f(x: f64) -> f64 {\n  return x")
    assert (err.line, err.col) == (1, 22) and "unclosed '{' opened at 1:22" in err.message


def test_mismatched_and_unmatched_brackets():
    err = error("def f(x: f64) -> f64 {\n  return f(x]\n}")
    assert (err.line, err.col) == (2, 11) and "unclosed '('" in err.message
    err = error("def f(x: f64) -> f64 {\n  return x }}")
    assert (err.line, err.col) == (2, 13) and "unmatched '}'" in err.message


def test_missing_return():
    err = error("def f(x: f64) -> f64 {\n    y = x\n}\n")
    assert err.line == 1 and "def 'f' has no return statement" in err.message


def test_statement_after_return():
    err = error("def f(x: f64) -> f64 {\n    return x\n    y = 2\n}\n")
    assert (err.line, err.col) == (3, 5) and "statement after 'return'" in err.message
    err = error("def f(x: f64) -> f64 { return x return x }")
    assert err.col == 33 and "second 'return'" in err.message


def test_return_outside_def():
    err = error("dim n\nreturn 1")
    assert (err.line, err.col) == (2, 1) and "'return' outside of a def" in err.message


def test_unexpected_token_lists_expected_in_words():
    err = error("def f(x: f64) -> f64 {\n  return x +\n}")
    assert (err.line, err.col) == (3, 1)
    assert "unexpected '}'; expected one of: an expression" in err.message
    err = error("def f(x: f64 -> f64 {\n  return x }")
    assert (err.line, err.col) == (1, 21)
    assert "unexpected '{'; expected one of: ')', ',', '='" in err.message
    assert err.hint is not None and "'(' opened at 1:6" in err.hint
    assert "RPAR" not in str(err) and "__ANON" not in str(err)


def test_expression_statement_gets_a_hint():
    err = error("def f(x: f64) -> f64 {\n  sin(x)\n  return x\n}")
    assert (err.line, err.col) == (2, 6) and err.hint is not None and "name = expr" in err.hint


def test_unexpected_character_and_unterminated_string():
    err = error("def f(x: f64) -> f64 {\n    y = x $ 2\n    return y\n}")
    assert (err.line, err.col) == (2, 11) and err.message == "unexpected character '$'"
    err = error('import "abc')
    assert (err.line, err.col) == (1, 8) and "unterminated string" in err.message


@pytest.mark.parametrize("src, col", [
    ("def type(x: f64) -> f64 { return x }", 5),
    ("dim n, type", 8),
    ("def f(x: f64) -> f64 { y = dim + 1\n return y }", 28),
    ("def f(return: f64) -> f64 { return 1 }", 7),
])
def test_keyword_as_name(src, col):
    err = error(src)
    assert err.col == col and "is a keyword and cannot be used as a name" in err.message


def test_top_level_assignment_must_be_derived():
    err = error("dim n\nx = 3")
    assert (err.line, err.col) == (2, 1)
    assert "only derived definitions" in err.message
    for op in ("grad", "value_and_grad", "vjp", "jvp", "hessian", "jacobian", "simplify"):
        assert op in err.message
    assert "positional" in error("g = grad(f, h)").message
    assert "must name a definition" in error("g = grad(2)").message
    assert "must name a definition" in error("g = grad(sin(f))").message


@pytest.mark.parametrize("src, fragment", [
    ("box f : f64", "needs a signature"),
    ("diagram d : f64 = sin", "must have the form"),
    ("diagram d = sum(x)", "not a structural box"),
    ("diagram d = swap(f64)", "swap takes 2"),
    ("type T = Vec[3]", "not a dtype"),
    ("dim n\ndef f(x: f64[n, 2.5]) -> f64 { return x }", "a dim must be an integer"),
    ("def f(x: f64) -> f64 { return f(a=1, 2) }", "positional argument after a keyword"),
    ("def f(x: f64) -> f64 { return f(a=1, a=2) }", "given twice"),
    ("def f(x: f64) -> f64 { return (x + 1) => 2 }", "parameters of a lambda"),
    ("def f(x: f64) -> f64 { return x[1:2:3:4] }", "unexpected ':'"),
])
def test_other_classified_errors(src, fragment):
    assert fragment in error(src).message


# ---------------------------------------------------------------- deep nesting


def _body(e: str) -> str:
    return "def f(x: f64) -> f64 {\n  return " + e + "\n}"


@pytest.mark.parametrize("text", [
    "(" * 2000 + "x" + ")" * 2000,
    "sin(" * 2000 + "x" + ")" * 2000,
    "+".join(["x"] * 3000),
    "^".join(["x"] * 3000),
    "-" * 3000 + "x",
    "x => " * 3000 + "x",
    "x ? x : " * 3000 + "x",
    "x" + "(x)" * 3000,
    "x" + "[0]" * 3000,
])
def test_deep_nesting_is_a_parse_error(text):
    err = error(_body(text))
    assert err.message == f"expression nested too deeply (limit {MAX_DEPTH})"
    assert err.line == 2


def test_deep_morphisms_and_types_are_parse_errors():
    assert "nested too deeply" in error("diagram d = " + " >> ".join(["sin"] * 3000)).message
    assert "nested too deeply" in error("type T = " + " -> ".join(["f64"] * 3000)).message


def test_moderate_depth_is_fine():
    d = parse(_body("+".join(["x"] * 150))).decls[0]
    assert isinstance(d, ast.Def)
    parse(_body("(" * 150 + "x" + ")" * 150))
