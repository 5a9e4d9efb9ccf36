"""The rewrite rules, as named data (egglog rule text), plus the constant folding done in Python.

Terms (see rewrite/egraph.py): `(Leaf k t)`, `(Num v t)`, `(Op1 name box t a)`, `(Op2 ...)`,
`(Op3 ...)`; `t` is an interned type id, `box` an interned Box id. `(HasTy x t)` holds for every
term of type t. Type facts computed in Python: `(F64T t)` (dtype f64), `(ScalarT t)`,
`(ScalarOf t)` (the scalar type of t's dtype), `(Numel t)` (constant element count),
`(Mat2 t)` (rank-2), `(MatTy a b)` (matmul result type), `(InvPerm p q)` (transpose boxes that
undo each other). Placeholders `{mul}`, `{add}`, ... are the box ids of parameterless primitives.

Discipline (EGGLOG-NOTES.md): every rule keeps the node's type — a rule that drops an operand
checks `(HasTy kept t)`, and a rule that makes a constant makes `(Num v t)` of the node's type
(a filled tensor; extracted as const + broadcast_to). No commutativity/associativity, except
matmul association in its own back-off stage. Division and folding are guarded (non-zero
divisor, finite results, f64 only: f32/int folding in f64 would change the rounding).
Transcendental constants are folded in Python (`fold_constants`), since egglog's f64 has no sin.

>>> [r.name for r in RULES if r.stage == "algebra"][:3]
['add-zero-r', 'add-zero-l', 'sub-zero']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from semantics.diagram import Builder, Diagram, make_box
from semantics.primitives import PRIMITIVES
from semantics.types import FLOAT_DTYPES, NUMPY_DTYPE, TensorType

# Boxes the rules create (parameterless primitives): interned first, so their ids are fixed.
RULE_BOXES = ("add", "sub", "mul", "neg", "square", "sqrt", "exp", "reciprocal", "matmul")


@dataclass(frozen=True)
class Rule:
    """`lhs ⇒ rhs` when every fact of `when` holds, in the rule set `stage`."""

    name: str
    lhs: str
    rhs: str
    when: str = ""
    stage: str = "algebra"

    def egglog(self, boxes: dict[str, int]) -> str:
        when = f" :when ({self.when})" if self.when else ""
        rhs = self.rhs.format(**boxes)
        return f'(rewrite {self.lhs} {rhs}{when} :ruleset {self.stage} :name "{self.name}")'


def _r(name: str, lhs: str, rhs: str, when: str = "", stage: str = "algebra") -> Rule:
    return Rule(name, lhs, rhs, when, stage)


KEEP = "(HasTy x t)"  # the kept operand already has the node's type (no broadcasting lost)
FOLD = "(F64T t) (< r 1.0e308) (> r -1.0e308)"  # f64 only; finite (NaN fails both comparisons)

RULES: tuple[Rule, ...] = (
    # identities
    _r("add-zero-r", '(Op2 "add" p t x (Num 0.0 z))', "x", KEEP),
    _r("add-zero-l", '(Op2 "add" p t (Num 0.0 z) x)', "x", KEEP),
    _r("sub-zero", '(Op2 "sub" p t x (Num 0.0 z))', "x", KEEP),
    _r("zero-sub", '(Op2 "sub" p t (Num 0.0 z) x)', '(Op1 "neg" {neg} t x)', KEEP),
    _r("sub-self", '(Op2 "sub" p t x x)', "(Num 0.0 t)"),
    _r("mul-one-r", '(Op2 "mul" p t x (Num 1.0 z))', "x", KEEP),
    _r("mul-one-l", '(Op2 "mul" p t (Num 1.0 z) x)', "x", KEEP),
    _r("mul-zero-r", '(Op2 "mul" p t x (Num 0.0 z))', "(Num 0.0 t)"),
    _r("mul-zero-l", '(Op2 "mul" p t (Num 0.0 z) x)', "(Num 0.0 t)"),
    _r("mul-minus-one", '(Op2 "mul" p t x (Num -1.0 z))', '(Op1 "neg" {neg} t x)', KEEP),
    _r("div-one", '(Op2 "div" p t x (Num 1.0 z))', "x", KEEP),
    _r("neg-neg", '(Op1 "neg" p t (Op1 "neg" q t x))', "x"),
    _r("add-neg", '(Op2 "add" p t x (Op1 "neg" q u y))', '(Op2 "sub" {sub} t x y)'),
    _r("sub-neg", '(Op2 "sub" p t x (Op1 "neg" q u y))', '(Op2 "add" {add} t x y)'),
    _r("neg-mul-neg", '(Op2 "mul" p t (Op1 "neg" q u x) (Op1 "neg" r v y))', '(Op2 "mul" {mul} t x y)'),
    _r("add-self", '(Op2 "add" p t x x)', '(Op2 "mul" {mul} t x (Num 2.0 s))', "(= s (ScalarOf t))"),
    _r("mul-self", '(Op2 "mul" p t x x)', '(Op1 "square" {square} t x)'),
    _r("square-mul", '(Op1 "square" p t x)', '(Op2 "mul" {mul} t x x)'),
    # powers
    _r("pow-two", '(Op2 "pow" p t x (Num 2.0 z))', '(Op1 "square" {square} t x)', KEEP),
    _r("pow-one", '(Op2 "pow" p t x (Num 1.0 z))', "x", KEEP),
    _r("pow-three", '(Op2 "pow" p t x (Num 3.0 z))', '(Op2 "mul" {mul} t x (Op1 "square" {square} t x))', KEEP),
    _r("pow-four", '(Op2 "pow" p t x (Num 4.0 z))', '(Op1 "square" {square} t (Op1 "square" {square} t x))', KEEP),
    _r("pow-zero", '(Op2 "pow" p t x (Num 0.0 z))', "(Num 1.0 t)"),
    _r("pow-half", '(Op2 "pow" p t x (Num 0.5 z))', '(Op1 "sqrt" {sqrt} t x)', KEEP),
    _r("pow-minus-one", '(Op2 "pow" p t x (Num -1.0 z))', '(Op1 "reciprocal" {reciprocal} t x)', KEEP),
    # exp / log
    _r("exp-log", '(Op1 "exp" p t (Op1 "log" q t x))', "x"),
    _r("log-exp", '(Op1 "log" p t (Op1 "exp" q t x))', "x"),
    _r("exp-mul", '(Op2 "mul" p t (Op1 "exp" q u a) (Op1 "exp" r v b))', '(Op1 "exp" {exp} t (Op2 "add" {add} t a b))'),
    # shapes, selection, constants
    _r("transpose-transpose", '(Op1 "transpose" p t (Op1 "transpose" q u x))', "x", f"(InvPerm q p) {KEEP}"),
    _r("where-same", '(Op3 "where" p t c x x)', "x", KEEP),
    _r("where-true", '(Op3 "where" p t (Num 1.0 z) x y)', "x", KEEP),
    _r("where-false", '(Op3 "where" p t (Num 0.0 z) x y)', "y", "(HasTy y t)"),
    _r("stop-gradient-const", '(Op1 "stop_gradient" p t (Num v u))', "(Num v t)"),
    _r("broadcast-const", '(Op1 "broadcast_to" p t (Num v u))', "(Num v t)"),
    _r("cast-same", '(Op1 "cast" p t x)', "x", KEEP),
    _r("sum-broadcast", '(Op1 "sum" p t (Op1 "broadcast_to" q u x))', '(Op2 "mul" {mul} t x (Num n t))',
       f"{KEEP} (ScalarT t) (= n (Numel u))"),
    _r("mean-broadcast", '(Op1 "mean" p t (Op1 "broadcast_to" q u x))', "x", f"{KEEP} (ScalarT t)"),
    # reductions are linear: pull scalar factors out of a sum (one pass fewer over the data) and
    # split sums of sums/differences of same-typed operands (so the factors can come out)
    _r("sum-scale-r", '(Op1 "sum" p t (Op2 "mul" q u x (Num c z)))', '(Op2 "mul" {mul} t (Op1 "sum" p t x) (Num c s))',
       "(HasTy x u) (= s (ScalarOf t))"),
    _r("sum-scale-l", '(Op1 "sum" p t (Op2 "mul" q u (Num c z) x))', '(Op2 "mul" {mul} t (Op1 "sum" p t x) (Num c s))',
       "(HasTy x u) (= s (ScalarOf t))"),
    _r("sum-add", '(Op1 "sum" p t (Op2 "add" q u a b))', '(Op2 "add" {add} t (Op1 "sum" p t a) (Op1 "sum" p t b))',
       "(HasTy a u) (HasTy b u)"),
    _r("sum-sub", '(Op1 "sum" p t (Op2 "sub" q u a b))', '(Op2 "sub" {sub} t (Op1 "sum" p t a) (Op1 "sum" p t b))',
       "(HasTy a u) (HasTy b u)"),
    # broadcast late: an elementwise op of two values of one (small) type, one of them broadcast, is
    # the broadcast of the op (then the broadcast is read as a scalar by its elementwise readers)
    *(_r(f"{op}-broadcast-{side}", f'(Op2 "{op}" p t {lhs})', f'(Op1 "broadcast_to" q t (Op2 "{op}" {{{op}}} s a b))',
         "(HasTy a s) (HasTy b s)")
      for op in ("add", "sub", "mul")
      for side, lhs in (("r", 'a (Op1 "broadcast_to" q t b)'), ("l", '(Op1 "broadcast_to" q t a) b'))),
    # linear shape operations commute with negation, so a - pad(x) replaces a + pad(-x)
    _r("pad-neg", '(Op1 "pad" p t (Op1 "neg" q u x))', '(Op1 "neg" {neg} t (Op1 "pad" p t x))'),
    # guarded constant folding (f64 only)
    _r("fold-add", '(Op2 "add" p t (Num a ta) (Num b tb))', "(Num r t)", f"(= r (+ a b)) {FOLD}", "fold"),
    _r("fold-sub", '(Op2 "sub" p t (Num a ta) (Num b tb))', "(Num r t)", f"(= r (- a b)) {FOLD}", "fold"),
    _r("fold-mul", '(Op2 "mul" p t (Num a ta) (Num b tb))', "(Num r t)", f"(= r (* a b)) {FOLD}", "fold"),
    _r("fold-div", '(Op2 "div" p t (Num a ta) (Num b tb))', "(Num r t)", f"(!= b 0.0) (= r (/ a b)) {FOLD}", "fold"),
    _r("fold-neg", '(Op1 "neg" p t (Num a ta))', "(Num r t)", f"(= r (* -1.0 a)) {FOLD}", "fold"),
    _r("fold-square", '(Op1 "square" p t (Num a ta))', "(Num r t)", f"(= r (* a a)) {FOLD}", "fold"),
    # constant reassociation: (x * a) * b -> x * (a * b) for scalar f64 constants; the kept x has
    # the node's type, so no broadcasting is lost, and the product is a new scalar constant
    *(_r(f"fold-mul-assoc-{i}", f'(Op2 "mul" p t {inner} {outer_b})'.replace("INNER", inner_l),
         '(Op2 "mul" {mul} t x (Num r s))', f"{KEEP} (= s (ScalarOf t)) (= r (* a b)) {FOLD}",
         "scale")
      for i, (inner_l, inner, outer_b) in enumerate([
          ("", '(Op2 "mul" q t x (Num a ta))', "(Num b tb)"),
          ("", '(Op2 "mul" q t (Num a ta) x)', "(Num b tb)"),
      ])),
    *(_r(f"fold-mul-assoc-{i + 2}", f'(Op2 "mul" p t (Num b tb) {inner})', '(Op2 "mul" {mul} t x (Num r s))',
         f"{KEEP} (= s (ScalarOf t)) (= r (* a b)) {FOLD}", "scale")
      for i, inner in enumerate(['(Op2 "mul" q t x (Num a ta))', '(Op2 "mul" q t (Num a ta) x)'])),
    _r("fold-neg-mul", '(Op1 "neg" p t (Op2 "mul" q t x (Num a ta)))', '(Op2 "mul" {mul} t x (Num r s))',
       f"{KEEP} (= s (ScalarOf t)) (= r (* -1.0 a)) {FOLD}", "scale"),
    _r("fold-mul-neg", '(Op2 "mul" p t (Op1 "neg" q t x) (Num a ta))', '(Op2 "mul" {mul} t x (Num r s))',
       f"{KEEP} (= s (ScalarOf t)) (= r (* -1.0 a)) {FOLD}", "scale"),
    # factoring (distributivity, one direction only: it removes a multiplication)
    _r("factor-ll", '(Op2 "add" p t (Op2 "mul" q u a b) (Op2 "mul" r v a c))',
       '(Op2 "mul" {mul} t a (Op2 "add" {add} w b c))', "(HasTy b w) (HasTy c w)", "factor"),
    _r("factor-rr", '(Op2 "add" p t (Op2 "mul" q u b a) (Op2 "mul" r v c a))',
       '(Op2 "mul" {mul} t (Op2 "add" {add} w b c) a)', "(HasTy b w) (HasTy c w)", "factor"),
    _r("factor-lr", '(Op2 "add" p t (Op2 "mul" q u a b) (Op2 "mul" r v c a))',
       '(Op2 "mul" {mul} t a (Op2 "add" {add} w b c))', "(HasTy b w) (HasTy c w)", "factor"),
    _r("factor-sub", '(Op2 "sub" p t (Op2 "mul" q u a b) (Op2 "mul" r v a c))',
       '(Op2 "mul" {mul} t a (Op2 "sub" {sub} w b c))', "(HasTy b w) (HasTy c w)", "factor"),
    # cost-lowering: matmul association (rank-2 operands only: with vectors it is not associative)
    _r("matmul-assoc-r", '(Op2 "matmul" p t (Op2 "matmul" p u a b) c)', '(Op2 "matmul" p t a (Op2 "matmul" p v b c))',
       "(HasTy a ta) (HasTy b tb) (HasTy c tc) (Mat2 ta) (Mat2 tb) (Mat2 tc) (= v (MatTy tb tc))", "assoc"),
    _r("matmul-assoc-l", '(Op2 "matmul" p t a (Op2 "matmul" p u b c))', '(Op2 "matmul" p t (Op2 "matmul" p v a b) c)',
       "(HasTy a ta) (HasTy b tb) (HasTy c tc) (Mat2 ta) (Mat2 tb) (Mat2 tc) (= v (MatTy ta tb))", "assoc"),
)

# Stages: (name, rule sets run together, back-off match limit or None). Constant reassociation
# ("scale") runs with the algebra only: together with factoring it keeps creating new constants
# (measured: a 2,600-box gradient went from 5.6k to 45k e-nodes and hit the time limit). Factoring only ever
# consumes a pattern, so plain runs saturate; matmul association can enumerate every bracketing of
# a chain, so it runs under egglog's back-off scheduler (a rule with more matches than the limit
# sits the iteration out).
STAGES: tuple[tuple[str, tuple[str, ...], int | None], ...] = (
    ("algebra", ("algebra", "fold", "scale"), None),
    ("factor", ("algebra", "fold", "factor"), None),
    ("cost", ("assoc",), 1000),
)


# --------------------------------------------------------------- constant folding in Python


def const_value(node_box: Any) -> float | int | bool | None:
    """The value of a scalar `const` box (None for anything else)."""
    if node_box.kind != "prim" or node_box.name != "const":
        return None
    v = node_box.param_dict.get("value")
    if isinstance(v, np.number):
        v = v.item()
    return v if isinstance(v, (int, float, bool)) else None


def fold_constants(d: Diagram, fired: dict[str, int] | None = None) -> Diagram:
    """Fold float elementwise primitives whose inputs are all scalar constants, in the node's own
    dtype with NumPy (so f32 rounds like f32), keeping only finite results. Rule name "fold-<prim>".

    >>> from semantics.types import scalar
    >>> b = Builder(); x = b.input(scalar("f64"))
    >>> (c,) = b.add(make_box("const", {"value": 0.0, "dtype": "f64"}), [], [scalar("f64")])
    >>> (s,) = b.add(make_box("cos"), [c], [scalar("f64")])
    >>> (y,) = b.add(make_box("mul"), [x, s], [scalar("f64")])
    >>> "cos" in [n.box.name for n in fold_constants(b.build([y])).nodes]
    False
    """
    b = Builder()
    rename = {w: b.input(d.types[w]) for w in d.inputs}
    consts: dict[int, Any] = {}
    changed = False
    for node in d.nodes:
        ins = [rename[w] for w in node.inputs]
        outs_t = [d.types[w] for w in node.outputs]
        value = _fold(node.box, [consts.get(w) for w in ins], outs_t)
        if value is not None:
            t = outs_t[0]
            assert isinstance(t, TensorType)
            box = make_box("const", {"value": value, "dtype": t.dtype})
            outs = b.add(box, [], outs_t, node.span)
            if fired is not None:
                fired[f"fold-{node.box.name}"] = fired.get(f"fold-{node.box.name}", 0) + 1
            changed = True
        else:
            outs = b.add(node.box, ins, outs_t, node.span)
        cv = const_value(node.box) if value is None else value
        if cv is not None and len(outs) == 1:
            consts[outs[0]] = cv
        rename.update(zip(node.outputs, outs))
    if not changed:
        return d
    return b.build([rename[w] for w in d.outputs], input_names=d.input_names, name=d.name, span=d.span)


def _fold(box: Any, args: list[Any], outs_t: list[Any]) -> float | None:
    prim = PRIMITIVES.get(box.name) if box.kind == "prim" else None
    if prim is None or not prim.foldable or not args or any(a is None for a in args):
        return None
    t = outs_t[0]
    if len(outs_t) != 1 or not isinstance(t, TensorType) or t.shape or t.dtype not in FLOAT_DTYPES:
        return None
    if box.name == "cast":
        return None
    dt = np.dtype(NUMPY_DTYPE[t.dtype])
    with np.errstate(all="ignore"):
        out = prim.impl(np, box.param_dict, *[np.asarray(a, dtype=dt) for a in args])
    val = float(np.asarray(out, dtype=dt))
    return val if math.isfinite(val) else None
