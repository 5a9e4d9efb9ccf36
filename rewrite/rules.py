"""The rewrite rules, as named data (egglog rule text): the one rule table of the optimiser.

Terms (see rewrite/egraph.py): `(Leaf k t)`, `(Num v t)`, `(Op1 name box t a)`, `(Op2 ...)`,
`(Op3 ...)`; `t` is an interned type id, `box` an interned Box id. `(HasTy x t)` holds for every
term of type t. Type facts computed in Python: `(F64T t)` (dtype f64), `(ScalarT t)`,
`(ScalarOf t)` (the scalar type of t's dtype), `(Numel t)` (constant element count),
`(Mat2 t)` (rank-2), `(MatTy a b)` (matmul result type), `(InvPerm p q)` (transpose boxes that
undo each other). Placeholders `{mul}`, `{add}`, ... are the box ids of parameterless primitives.

Discipline (EGGLOG-NOTES.md): every rule keeps the node's type — a rule that drops an operand
checks `(HasTy kept t)`, and a rule that makes a constant makes `(Num v t)` of the node's type
(a filled tensor; extracted as const + broadcast_to). No commutativity/associativity, except
matmul association in its own stage. No rule computes a constant: constant folding is done in
one place (semantics/fold.py, applied to the e-graph by `EGraph.fold`), so a rule that
reassociates constants writes the product as a term, `x * (a * b)`, and the folder evaluates it.

IEEE safety: a rule whose two sides differ on some input — NaN, ±inf, ±0 or an input outside a
function's domain (`x * 0 ⇒ 0` is NaN at x = inf, `exp(log x) ⇒ x` is NaN at x = -1, `x + 0 ⇒ x`
turns -0 into +0) — says why
in `unsafe` and runs only with `fast_math=True`. The other rules are identities of IEEE
arithmetic up to rounding and intermediate overflow (reassociating a sum may round differently;
it never turns a NaN into a number or a number into a NaN unless an intermediate overflows).

>>> [r.name for r in RULES if r.stage == "algebra"][:3]
['add-zero-r', 'add-zero-l', 'sub-zero']
>>> sorted(r.name for r in RULES if r.unsafe)[:3]
['add-zero-l', 'add-zero-r', 'exp-log']
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """`lhs ⇒ rhs` when every fact of `when` holds, in the rule set `stage`. `unsafe` says on which
    inputs the two sides differ (empty: an IEEE identity); unsafe rules run only with fast_math."""

    name: str
    lhs: str
    rhs: str
    when: str = ""
    stage: str = "algebra"
    unsafe: str = ""

    def egglog(self, boxes: dict[str, int]) -> str:
        when = f" :when ({self.when})" if self.when else ""
        rhs = self.rhs.format(**boxes)
        return f'(rewrite {self.lhs} {rhs}{when} :ruleset {self.stage} :name "{self.name}")'


def _r(name: str, lhs: str, rhs: str, when: str = "", stage: str = "algebra", unsafe: str = "") -> Rule:
    return Rule(name, lhs, rhs, when, stage, unsafe)


def rules_for(fast_math: bool = False) -> tuple[Rule, ...]:
    """The rules that run: every IEEE-safe rule, plus the unsafe ones with fast_math.

    >>> "mul-zero-r" in {r.name for r in rules_for()}, "mul-zero-r" in {r.name for r in rules_for(True)}
    (False, True)
    """
    return RULES if fast_math else tuple(r for r in RULES if not r.unsafe)


KEEP = "(HasTy x t)"  # the kept operand already has the node's type (no broadcasting lost)
# Reassociating constants changes rounding, so only in f64. The guard that keeps it from looping:
# the kept x depends on an input (`Var`) — a class of constants holds every product that folds to
# it (0.5 * 2, 2 * 0.5, ...), and reassociating through those minted constants without end
# (5.3 M matches in one iteration, measured) — and never through 0 or 1 (the zero class absorbs
# every `y * 0` with fast_math; `x * 1` is x), which match again and again without making anything.
# The factor next to x is a scalar `(Num a s)` of t's dtype: then x has the node's type t (no
# implicit promotion, and a scalar broadcasts to nothing), the fact KEEP states, which egglog joins
# with `(Var x)` about 10x slower (measured: 20 ms against 2 ms per step on a 10,000-op model).
SCALE = "(Var x) (F64T t) (= s (ScalarOf t)) (!= a 0.0) (!= a 1.0) (!= b 0.0) (!= b 1.0)"
NAN_INF = "NaN at x = ±inf or NaN"
SIGNED_ZERO = "-0 + 0 is +0 and 0 - (+0) is +0, not -0 (1 / the result differs: -inf vs inf)"
DISTRIBUTE = "a*b + a*c is NaN at a = inf, c = 0, a*(b + c) is inf (matmul association alike)"

RULES: tuple[Rule, ...] = (
    # identities
    _r("add-zero-r", '(Op2 "add" p t x (Num 0.0 z))', "x", KEEP, unsafe=SIGNED_ZERO),
    _r("add-zero-l", '(Op2 "add" p t (Num 0.0 z) x)', "x", KEEP, unsafe=SIGNED_ZERO),
    _r("sub-zero", '(Op2 "sub" p t x (Num 0.0 z))', "x", KEEP),
    _r("zero-sub", '(Op2 "sub" p t (Num 0.0 z) x)', '(Op1 "neg" {neg} t x)', KEEP, unsafe=SIGNED_ZERO),
    _r("sub-self", '(Op2 "sub" p t x x)', "(Num 0.0 t)", unsafe=NAN_INF),
    _r("mul-one-r", '(Op2 "mul" p t x (Num 1.0 z))', "x", KEEP),
    _r("mul-one-l", '(Op2 "mul" p t (Num 1.0 z) x)', "x", KEEP),
    _r("mul-zero-r", '(Op2 "mul" p t x (Num 0.0 z))', "(Num 0.0 t)", unsafe=NAN_INF),
    _r("mul-zero-l", '(Op2 "mul" p t (Num 0.0 z) x)', "(Num 0.0 t)", unsafe=NAN_INF),
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
    _r("pow-half", '(Op2 "pow" p t x (Num 0.5 z))', '(Op1 "sqrt" {sqrt} t x)', KEEP,
       unsafe="pow(-inf, 0.5) = inf but sqrt(-inf) = NaN; pow(-0, 0.5) = 0 but sqrt(-0) = -0"),
    _r("pow-minus-one", '(Op2 "pow" p t x (Num -1.0 z))', '(Op1 "reciprocal" {reciprocal} t x)', KEEP),
    # exp / log
    _r("exp-log", '(Op1 "exp" p t (Op1 "log" q t x))', "x", unsafe="NaN for x < 0; rounds"),
    _r("log-exp", '(Op1 "log" p t (Op1 "exp" q t x))', "x", unsafe="inf for x > 709"),
    _r("exp-mul", '(Op2 "mul" p t (Op1 "exp" q u a) (Op1 "exp" r v b))', '(Op1 "exp" {exp} t (Op2 "add" {add} t a b))',
       unsafe="exp(800) * exp(-800) is NaN, exp(0) is 1"),
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
    # (not by 0: sum(x * 0) is 0 where sum(x) overflows, sum(x) * 0 would be NaN)
    _r("sum-scale-r", '(Op1 "sum" p t (Op2 "mul" q u x (Num c z)))', '(Op2 "mul" {mul} t (Op1 "sum" p t x) (Num c s))',
       "(HasTy x u) (= s (ScalarOf t)) (!= c 0.0)"),
    _r("sum-scale-l", '(Op1 "sum" p t (Op2 "mul" q u (Num c z) x))', '(Op2 "mul" {mul} t (Op1 "sum" p t x) (Num c s))',
       "(HasTy x u) (= s (ScalarOf t)) (!= c 0.0)"),
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
    # a filled constant as a factor is the scalar constant (broadcasting fills it), the form the
    # reassociation rules below match
    *(_r(f"mul-filled-{side}", f'(Op2 "mul" p t {lhs})', f'(Op2 "mul" p t {rhs})',
         f"{KEEP} (F64T t) (= s (ScalarOf t)) (!= s t)", "scale")
      for side, lhs, rhs in (("r", "x (Num a t)", "x (Num a s)"), ("l", "(Num a t) x", "(Num a s) x"))),
    # constant reassociation: (x * a) * b -> x * (a * b); x has the node's type, so no broadcasting
    # is lost, and the folder turns the scalar product a * b into one constant
    *(_r(f"mul-assoc-const-{i}", f'(Op2 "mul" p t {inner})', '(Op2 "mul" {mul} t x (Op2 "mul" {mul} s (Num a s) (Num b s)))',
         SCALE, "scale")
      for i, inner in enumerate(['(Op2 "mul" q t x (Num a s)) (Num b tb)', '(Op2 "mul" q t (Num a s) x) (Num b tb)',
                                 '(Num b tb) (Op2 "mul" q t x (Num a s))', '(Num b tb) (Op2 "mul" q t (Num a s) x)'])),
    _r("neg-mul-const", '(Op1 "neg" p t (Op2 "mul" q t x (Num a s)))', '(Op2 "mul" {mul} t x (Op1 "neg" {neg} s (Num a s)))',
       "(Var x) (F64T t) (= s (ScalarOf t))", "scale"),
    # x has type t: neg keeps its operand's type
    _r("mul-const-neg", '(Op2 "mul" p t (Op1 "neg" q t x) (Num a ta))', '(Op2 "mul" {mul} t x (Op1 "neg" {neg} s (Num a s)))',
       "(Var x) (F64T t) (= s (ScalarOf t))", "scale"),
    # factoring (distributivity, one direction only: it removes a multiplication)
    _r("factor-ll", '(Op2 "add" p t (Op2 "mul" q u a b) (Op2 "mul" r v a c))',
       '(Op2 "mul" {mul} t a (Op2 "add" {add} w b c))', "(HasTy b w) (HasTy c w)", "factor", DISTRIBUTE),
    _r("factor-rr", '(Op2 "add" p t (Op2 "mul" q u b a) (Op2 "mul" r v c a))',
       '(Op2 "mul" {mul} t (Op2 "add" {add} w b c) a)', "(HasTy b w) (HasTy c w)", "factor", DISTRIBUTE),
    _r("factor-lr", '(Op2 "add" p t (Op2 "mul" q u a b) (Op2 "mul" r v c a))',
       '(Op2 "mul" {mul} t a (Op2 "add" {add} w b c))', "(HasTy b w) (HasTy c w)", "factor", DISTRIBUTE),
    _r("factor-sub", '(Op2 "sub" p t (Op2 "mul" q u a b) (Op2 "mul" r v a c))',
       '(Op2 "mul" {mul} t a (Op2 "sub" {sub} w b c))', "(HasTy b w) (HasTy c w)", "factor", DISTRIBUTE),
    # cost-lowering: matmul association (rank-2 operands only: with vectors it is not associative)
    _r("matmul-assoc-r", '(Op2 "matmul" p t (Op2 "matmul" p u a b) c)', '(Op2 "matmul" p t a (Op2 "matmul" p v b c))',
       "(HasTy a ta) (HasTy b tb) (HasTy c tc) (Mat2 ta) (Mat2 tb) (Mat2 tc) (= v (MatTy tb tc))", "assoc", DISTRIBUTE),
    _r("matmul-assoc-l", '(Op2 "matmul" p t a (Op2 "matmul" p u b c))', '(Op2 "matmul" p t (Op2 "matmul" p v a b) c)',
       "(HasTy a ta) (HasTy b tb) (HasTy c tc) (Mat2 ta) (Mat2 tb) (Mat2 tc) (= v (MatTy ta tb))", "assoc", DISTRIBUTE),
)



def _rule_boxes(rules: tuple[Rule, ...]) -> tuple[str, ...]:
    """The boxes the rules create, read off their right-hand sides: a `{name}` placeholder stands for
    the box id of the parameterless primitive `name`, and must follow its own op name (a rule that
    writes `(Op2 "mul" {add} ...)` is a typo this catches at import).

    >>> _rule_boxes((_r("t", '(Op1 "neg" p t x)', '(Op2 "mul" {mul} t x (Op1 "exp" {exp} t x))'),))
    ('exp', 'mul')
    """
    names: set[str] = set()
    for r in rules:
        placed = _PLACED.findall(r.rhs)
        assert all(op == box for op, box in placed), f"rule {r.name}: a placeholder names another op: {placed}"
        assert len(placed) == r.rhs.count("{"), f"rule {r.name}: a placeholder outside `(OpN \"name\" {{name}} ...)`"
        names.update(box for _, box in placed)
    return tuple(sorted(names))


_PLACED = re.compile(r'\(Op\d "(\w+)" \{(\w+)\}')
# Boxes the rules create (parameterless primitives): interned first, so their ids are fixed.
RULE_BOXES = _rule_boxes(RULES)

# Stages: (name, rule sets run together). Constant reassociation ("scale") runs with the algebra
# only: together with factoring it keeps creating new constants (measured: a 2,600-box gradient
# went from 5.6k to 45k e-nodes). Factoring and matmul association are fast_math rules; a stage
# none of whose own rules is enabled is skipped. Every stage runs under the back-off match limit
# (see rewrite/optimize.py), so no iteration applies more than limit x rules matches.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("algebra", ("algebra", "scale")),
    ("factor", ("algebra", "factor")),
    ("cost", ("assoc",)),
)
