"""The primitive table's JVP templates compiled to egglog rules, and the tangent sort they rewrite
into (the linearizer itself, which runs them, is rewrite/jvp.py).

* Tangents live in their own sort `Lin` (EGGLOG-NOTES.md): `LZero t`, `LSeed k t` (tangent input
  k), `LAdd`/`LSub t a b`, `LNeg t a`, `LMul`/`LDiv t lin x` (elementwise with a primal factor,
  broadcasting like mul), `LWhere t c a b`, and the generic `LOp1`/`LOpL`/`LOpR name box t ...` for
  a primitive linear in one argument (sum, reshape, cast, `dx @ y`, `x @ dy`, ...), `LOpN name box
  t (LArgs)` for several (concat, stack, einsum, derivative boxes `d_f`) and `LProj k t (LMulti
  name box (LArgs))` for output k of a derivative box with several outputs. Every Lin constructor
  carries its type id, so lowering needs no type inference. `(JVP e)` is the tangent of the primal
  term e; it is unextractable, and the extractor never sees it. One table (`LIN`) gives each
  constructor's signature, its typing rule and the primitive e-node it is exported as.
* Rules are generated mechanically, one per (primitive, box, argument types, which arguments are
  active) that occurs in the diagram: the template (string or callable) is bound to symbolic wires
  `x, dx, out` by `rewrite.templates.bind_args` and instantiated with the ordinary template
  elaborator, giving a tiny typed diagram; its tangent-free nodes compile to primal terms (`Op1`...
  with interned box/type ids, `Num` literals; `x` = the matched child, `out` = the matched term)
  and the nodes that read a tangent to Lin constructors (`dx` = `(JVP x)`). An argument whose
  tangent is structurally zero (inactive: integer/bool, a constant, a parameter not differentiated)
  is bound to the zero tangent, so the template elaborator drops what it would multiply (`x * dy`
  of a constant y writes no node); only active arguments are read as `(JVP x)`. The rule fires on
  the terms marked `(NZ e k)` with its own number k (the linearizer marks each active wire with
  the rule of its node), so it matches by that one fact and the term's shape, without joining the
  children's types. A generator box `f` gets the rule `JVP f(x...) = d_f(x..., JVP x...)`.
* Zero absorption (`LMul t (LZero u) x => LZero t`, `LAdd t (LZero u) l => l`, ...) runs with
  the JVP rules in the ruleset `jvp`, for the tangents that turn out zero only in the e-graph.

>>> LIN["LMul"].egglog_signature()
'(constructor LMul (i64 Lin Term) Lin)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rewrite.egraph import Extension
from rewrite.egraph_encoding import ENode, Lowering, Tables, num_value, op_name
from rewrite.tangents import derivative_box, is_float
from rewrite.templates import ZERO, ZeroVal, bind_args, instantiate, pointwise_view, template_statics
from semantics.diagram import Box, Builder, Diagram, Node, make_box
from semantics.errors import DerivativeError
from semantics.primitives import PRIMITIVES
from semantics.types import TensorType, WireType
from semantics.values import WireVal

_EGGLOG_SORT = {"i": "i64", "-": "String", "T": "Term", "L": "Lin", "P": "LArgs", "V": "LTup"}


@dataclass(frozen=True)
class LinConstructor:
    """One constructor of the tangent sorts: its argument sorts (letters as in `Lowering`, `-` for
    the primitive's name), its own sort, where its type id is (-1: none), the primitive it is
    exported as (None: the row's own box id, at argument 1) and the e-node kind."""

    name: str
    inputs: str
    sort: str = "L"
    type_at: int = 0
    prim: str | None = None
    kind: str = "op"

    def egglog_signature(self) -> str:
        args = " ".join(_EGGLOG_SORT[c] for c in self.inputs)
        return f"(constructor {self.name} ({args}) {_EGGLOG_SORT[self.sort]})"

    def typing_rule(self) -> str:
        vs = " ".join(f"a{i}" for i in range(len(self.inputs)))
        return (f"(rule ((= e ({self.name} {vs}))) ((LTy e a{self.type_at})) :ruleset typing "
                f':name "lty-{self.name}")')

    def lowering(self, tab: Tables, n_primal_in: int) -> Lowering:
        kind, t = self.kind, self.type_at
        if kind == "zero":
            return Lowering(self.sort, self.inputs, lambda x: ENode("num", 0, x[0], 0.0, ()))
        if kind == "seed":
            return Lowering(self.sort, self.inputs, lambda x: ENode("leaf", n_primal_in + x[0], x[1], 0.0, ()))
        if kind in ("nil", "cons"):
            return Lowering(self.sort, self.inputs, lambda x: ENode(kind, 0, -1, 0.0, x if kind == "cons" else ()))
        if kind == "multi":
            return Lowering(self.sort, self.inputs, lambda x: ENode("multi", x[1], -1, 0.0, (x[2],)))
        if kind == "proj":
            return Lowering(self.sort, self.inputs, lambda x: ENode("proj", x[0], x[1], 0.0, (x[2],)))
        if self.prim is not None:
            p = tab.box(make_box(self.prim))
            return Lowering(self.sort, self.inputs, lambda x: ENode("op", p, x[t], 0.0, x[t + 1:]))
        return Lowering(self.sort, self.inputs, lambda x: ENode("op", x[1], x[2], 0.0, x[3:]))


LIN = {c.name: c for c in (
    LinConstructor("LZero", "i", kind="zero"),
    LinConstructor("LSeed", "ii", type_at=1, kind="seed"),
    LinConstructor("LAdd", "iLL", prim="add"),
    LinConstructor("LSub", "iLL", prim="sub"),
    LinConstructor("LNeg", "iL", prim="neg"),
    LinConstructor("LMul", "iLT", prim="mul"),
    LinConstructor("LDiv", "iLT", prim="div"),
    LinConstructor("LWhere", "iTLL", prim="where"),
    LinConstructor("LOp1", "-iiL", type_at=2),
    LinConstructor("LOpL", "-iiLT", type_at=2),
    LinConstructor("LOpR", "-iiTL", type_at=2),
    LinConstructor("LOpN", "-iiP", type_at=2),
    LinConstructor("LProj", "iiV", type_at=1, kind="proj"),
    LinConstructor("LMulti", "-iP", sort="V", type_at=-1, kind="multi"),
    LinConstructor("LNil", "", sort="P", type_at=-1, kind="nil"),
    LinConstructor("LArgL", "LP", sort="P", type_at=-1, kind="cons"),
    LinConstructor("LArgP", "TP", sort="P", type_at=-1, kind="cons"),
)}

# zero absorption: a primitive applied to zero tangents is zero; `0 + l` is l (broadcast if needed)
_ABSORB = """
(rewrite (LNeg t (LZero u)) (LZero t) :ruleset jvp :name "lzero-neg")
(rewrite (LMul t (LZero u) x) (LZero t) :ruleset jvp :name "lzero-mul")
(rewrite (LDiv t (LZero u) x) (LZero t) :ruleset jvp :name "lzero-div")
(rewrite (LOp1 n p t (LZero u)) (LZero t) :ruleset jvp :name "lzero-op1")
(rewrite (LOpL n p t (LZero u) x) (LZero t) :ruleset jvp :name "lzero-opl")
(rewrite (LOpR n p t x (LZero u)) (LZero t) :ruleset jvp :name "lzero-opr")
(rewrite (LWhere t c (LZero u) (LZero v)) (LZero t) :ruleset jvp :name "lzero-where")
(rewrite (LAdd t (LZero u) (LZero v)) (LZero t) :ruleset jvp :name "lzero-add")
(rewrite (LSub t (LZero u) (LZero v)) (LZero t) :ruleset jvp :name "lzero-sub")
(rule ((= e (LAdd t (LZero u) l)) (LTy l t)) ((union e l)) :ruleset jvp :name "lzero-add-l")
(rule ((= e (LAdd t l (LZero u))) (LTy l t)) ((union e l)) :ruleset jvp :name "lzero-add-r")
(rule ((= e (LSub t l (LZero u))) (LTy l t)) ((union e l)) :ruleset jvp :name "lzero-sub-r")
(rule ((= e (LSub t (LZero u) l)) (LTy l t)) ((union e (LNeg t l))) :ruleset jvp :name "lzero-sub-l")
(rule ((= e (LAdd t (LZero u) l)) (LTy l v) (!= v t) (= p (BcastBox t)))
      ((union e (LOp1 "broadcast_to" p t l))) :ruleset jvp :name "lzero-add-l-bcast")
(rule ((= e (LAdd t l (LZero u))) (LTy l v) (!= v t) (= p (BcastBox t)))
      ((union e (LOp1 "broadcast_to" p t l))) :ruleset jvp :name "lzero-add-r-bcast")
"""
ABSORB_RULES = tuple(line.split(':name "')[1].split('"')[0] for line in _ABSORB.splitlines() if ":name" in line)

# The loader rules read TSV rows: `RNZ w k` marks an active wire (JVP rule k may fire on it), `RJZ w t`
# gives an inactive output the zero tangent, `RSeed w k t` makes wrt input w the tangent input k.
LIN_SCHEMA = "\n".join([
    "(sort Lin)\n(sort LArgs)\n(sort LTup)",
    "(constructor JVP (Term) Lin :unextractable)",
    *(c.egglog_signature() for c in LIN.values()),
    "(relation NZ (Term i64))\n(relation LTy (Lin i64))\n(relation RNZ (i64 i64))\n(relation RJZ (i64 i64))",
    "(relation RSeed (i64 i64 i64))\n(function BcastBox (i64) i64 :merge old)\n(ruleset jvpload)\n(ruleset jvp)",
    '(rule ((RNZ w k)) ((NZ (N w) k)) :ruleset jvpload :name "jvp-load-active")',
    '(rule ((RJZ w t)) ((union (JVP (N w)) (LZero t))) :ruleset jvpload :name "jvp-load-zero")',
    '(rule ((RSeed w k t)) ((union (JVP (N w)) (LSeed k t))) :ruleset jvpload :name "jvp-load-seed")',
    *(c.typing_rule() for c in LIN.values() if c.type_at >= 0),
    _ABSORB,
])

# What every JVP e-graph declares besides the schema (declared once per process, see rewrite/egraph.py)
LIN_EXTENSION = Extension(LIN_SCHEMA, (*LIN, "JVP"), ABSORB_RULES)


def lin_lowering(tab: Tables, n_primal_in: int) -> dict[str, Lowering]:
    """How `EGraph.freeze` exports the tangent sorts: each Lin e-node as the primitive e-node it
    stands for (LMul -> mul, LZero -> a filled constant, LSeed k -> input n_primal_in + k), and the
    `JVP` rows as names (primal class -> tangent class)."""
    out = {name: c.lowering(tab, n_primal_in) for name, c in LIN.items()}
    out["JVP"] = Lowering("L", "T", names=True)
    return out


def bcast_facts(tab: Tables) -> str:
    """`BcastBox t`: the broadcast_to box to type t, for `0 + l` with l of a smaller type."""
    return "\n".join(f"(set (BcastBox {i}) {tab.box(make_box('broadcast_to', {'shape': ty.shape}))})"
                     for i, ty in enumerate(list(tab.types)) if isinstance(ty, TensorType) and is_float(ty) and ty.shape)


# --------------------------------------------------------------- template -> rule compilation


def _f64(v: float) -> str:
    s = repr(float(v))
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant if '.' in mant else mant + '.0'}e{exp}"
    return s


def _list(args: Sequence[str]) -> str:
    """An argument list in egraph.py's encoding (a cons list)."""
    lst = "(ANil)"
    for a in reversed(args):
        lst = f"(ACons {a} {lst})"
    return lst


def _term(name: str, p: int, t: int, args: Sequence[str]) -> str:
    """A primal term in egraph.py's encoding (Op1..Op3, or OpN over a cons list)."""
    if 1 <= len(args) <= 3:
        return f'(Op{len(args)} "{name}" {p} {t} {" ".join(args)})'
    return f'(OpN "{name}" {p} {t} {_list(args)})'


def _is_zero_const(node: Node | None, producer: Mapping[int, Node]) -> bool:
    """Is this (primal) node a literal zero, possibly broadcast or cast?"""
    while node is not None and node.box.name in ("broadcast_to", "cast") and len(node.inputs) == 1:
        node = producer.get(node.inputs[0])
    return node is not None and node.box.name == "const" and node.box.param_dict.get("value") == 0


@dataclass(frozen=True)
class JvpRules:
    """The JVP rules of one diagram: their egglog text and names (rule k is `texts[k]`), and the
    `(wire, k)` rows that mark each active wire with the rule of the node that computes it."""

    texts: tuple[str, ...]
    names: tuple[str, ...]
    marks: tuple[tuple[int, int], ...]


def compile_rules(tab: Tables, d: Diagram, active: set[int]) -> JvpRules:
    """One egglog JVP rule per (box, argument and output types, active arguments) among the active
    nodes of d. Rule k fires on a term marked `(NZ e k)` and unions its `JVP` with the tangent the
    row's template writes, the inactive arguments' tangents being zero.

    >>> from semantics.types import scalar
    >>> f64 = scalar("f64")
    >>> b = Builder(); x, y = b.input(f64), b.input(f64)
    >>> (p,) = b.add(make_box("mul"), [x, y], [f64]); (q,) = b.add(make_box("mul"), [p, y], [f64])
    >>> d = b.build([q])
    >>> rules = compile_rules(Tables(), d, {x, p, q})  # d/dx: y is inactive, so `x * dy` is no term
    >>> rules.names, rules.marks
    (('jvp-mul-0',), ((2, 0), (3, 0)))
    >>> rules.texts[0].split(" ((let")[0]
    '(rule ((NZ e 0) (= e (Op2 "mul" 2 0 c0 c1)))'
    """
    comp = _RuleCompiler(tab)
    rules: dict[tuple[object, ...], int] = {}
    texts: list[str] = []
    marks: list[tuple[int, int]] = []
    types = d.types
    for node in d.nodes:
        outs = node.outputs
        if not outs or active.isdisjoint(outs):
            continue
        ins = node.inputs
        live = tuple([w in active for w in ins])
        # the objects themselves key a rule (what the table's ids intern): no table lookups per node
        key = (node.box, tuple([types[w] for w in outs]), tuple([types[w] for w in ins]), live)
        k = rules.get(key)
        if k is None:
            k = rules[key] = len(texts)
            texts.append(comp.rule(f"jvp-{op_name(node.box)}-{k}", k, node, d, live))
        marks.extend([(w, k) for w in outs if w in active])
    names = tuple(r.split(':name "')[1].rstrip('")') for r in texts)
    return JvpRules(tuple(texts), names, tuple(marks))


class _RuleCompiler:
    """Compiles one (primitive, box, argument types) combination into an egglog rule."""

    def __init__(self, tab: Tables) -> None:
        self.tab = tab

    def rule(self, name: str, k: int, node: Node, d: Diagram, live: Sequence[bool]) -> str:
        """Rule number k, for `node`'s box and types with the arguments `live` active. Its query is
        the mark `(NZ e k)` and the term's shape (which binds the children): the mark was given to
        the wires of nodes with exactly this key, so their types need no joins."""
        box = node.box
        in_t = [d.types[w] for w in node.inputs]
        tab = self.tab
        kids = [f"c{i}" for i in range(len(in_t))]
        if len(node.outputs) > 1:  # a generator with several outputs: `Proj j t (Multi f args)`
            outs = tuple(d.types[w] for w in node.outputs)
            facts = [f"(NZ e {k})", "(= e (Proj j t m))", f'(= m (Multi "{op_name(box)}" {tab.box(box, outs)} {_list(kids)}))']
            dbox = derivative_box(box, "jvp")
            res = f'(LProj j t (LMulti "{op_name(dbox)}" {tab.box(dbox, outs)} {self._gen_args(kids, in_t, live)}))'
            return f'(rule ({" ".join(facts)}) ((union (JVP e) {res})) :ruleset jvp :name "{name}")'
        out_t = d.types[node.outputs[0]]
        p, t = tab.box(box), tab.type(out_t)
        facts = [f"(NZ e {k})", f"(= e {_term(op_name(box), p, t, kids)})"]
        if box.kind == "gen":
            dbox = derivative_box(box, "jvp")
            lets: list[str] = []
            res = f'(LOpN "{op_name(dbox)}" {tab.box(dbox)} {t} {self._gen_args(kids, in_t, live)})'
        else:
            lets, res = self._template_actions(box, kids, in_t, out_t, live)
        body = " ".join(f"(let v{i} {x})" for i, x in enumerate(lets))
        return f'(rule ({" ".join(facts)}) ({body} (union (JVP e) {res})) :ruleset jvp :name "{name}")'

    def _gen_args(self, kids: list[str], in_t: list[WireType], live: Sequence[bool]) -> str:
        """The arguments of a generator's uninterpreted JVP box `d_f(x..., dx...)` (an inactive
        argument's tangent is an explicit zero: the box takes all of them)."""
        items = [f"(LArgP {c}" for c in kids] + [f"(LArgL {self._dx(c, ty, a)}" for c, ty, a in zip(kids, in_t, live)]
        return " ".join(items) + " (LNil)" + ")" * len(items)

    def _dx(self, c: str, ty: WireType, active: bool) -> str:
        return f"(JVP {c})" if active else f"(LZero {self.tab.type(ty)})"

    def _template_actions(self, box: Box, kids: list[str], in_t: list[WireType],
                          out_t: WireType, live: Sequence[bool]) -> tuple[list[str], str]:
        prim = PRIMITIVES[box.name]
        b = Builder()
        expr: dict[int, str] = {}  # small-diagram wire -> egglog expression
        tangent: set[int] = set()
        primals: list[WireVal] = []
        tangents: list[WireVal | ZeroVal] = []
        for c, ty, active in zip(kids, in_t, live):
            x = b.input(ty)
            expr[x] = c
            primals.append(WireVal(x, ty))
            tangents.append(ZERO)
            # a variadic row's template takes its tangents as one tuple (`concat(dxs)`), where a
            # structural zero would zero the whole result: an inactive item is an explicit zero term
            if active or (prim.variadic and is_float(ty)):
                w = b.input(ty)
                expr[w] = f"(JVP {c})" if active else f"(LZero {self.tab.type(ty)})"
                tangent.add(w)
                tangents[-1] = WireVal(w, ty)
        env, types = bind_args(prim, in_t, primals, tangents)
        o = b.input(out_t)
        expr[o] = "e"
        env["out"], types["out"] = WireVal(o, out_t), out_t
        types = pointwise_view(prim, types)
        template = prim.jvp_template(types, box.param_dict)
        assert template is not None
        r = instantiate(template, b, env, template_statics(box.param_dict, types), out_t)
        t_out = self.tab.type(out_t)
        if isinstance(r, ZeroVal):
            return [], f"(LZero {t_out})"
        small = b.build([r.wire])
        producer = {w: n for n in small.nodes for w in n.outputs}
        lets: list[str] = []
        for node in small.nodes:
            live = [w in tangent for w in node.inputs]
            text = self._lin(node, small, expr, live, producer) if any(live) else self._primal(node, small, expr)
            tangent.update(node.outputs if any(live) else ())
            lets.append(text)
            expr[node.outputs[0]] = f"v{len(lets) - 1}"
        if r.wire not in tangent:
            if not _is_zero_const(producer.get(r.wire), producer):
                raise DerivativeError(f"the JVP template of '{prim.name}' is not linear in the tangents")
            return lets, f"(LZero {t_out})"
        return lets, expr[r.wire]

    def _primal(self, node: Node, small: Diagram, expr: Mapping[int, str]) -> str:
        if len(node.outputs) != 1:
            raise DerivativeError(f"JVP templates cannot use the multi-output box '{node.box.name}'")
        ty = small.types[node.outputs[0]]
        t = self.tab.type(ty)
        v = num_value(node.box, ty)
        if v is not None:
            return f"(Num {_f64(v)} {t})"
        args = [expr[w] for w in node.inputs]
        if not args:
            return f'(OpN "{op_name(node.box)}" {self.tab.box(node.box)} {t} (ANil))'
        return _term(op_name(node.box), self.tab.box(node.box), t, args)

    def _lin(self, node: Node, small: Diagram, expr: Mapping[int, str], live: list[bool],
             producer: Mapping[int, Node]) -> str:
        """The Lin constructor of a template node that reads a tangent."""
        name = node.box.name
        ty = small.types[node.outputs[0]]
        t = self.tab.type(ty)
        ins = list(node.inputs)

        def lin(k: int) -> str:  # a linear position: a tangent, or a literal zero
            if live[k]:
                return expr[ins[k]]
            if not _is_zero_const(producer.get(ins[k]), producer):
                raise DerivativeError(f"a JVP template uses '{name}' affinely (not linear in the tangents)")
            return f"(LZero {self.tab.type(small.types[ins[k]])})"

        if name in ("add", "sub"):
            return f"(L{name.capitalize()} {t} {lin(0)} {lin(1)})"
        if name == "neg":
            return f"(LNeg {t} {lin(0)})"
        if name in ("mul", "div") and live.count(True) == 1 and (name == "mul" or live[0]):
            k = live.index(True)
            return f"(L{name.capitalize()} {t} {expr[ins[k]]} {expr[ins[1 - k]]})"
        if name == "where" and not live[0]:
            return f"(LWhere {t} {expr[ins[0]]} {lin(1)} {lin(2)})"
        if name in ("mul", "div", "where"):
            raise DerivativeError(f"a JVP template is not linear in the tangents ({name})")
        p, n = self.tab.box(node.box), op_name(node.box)
        if len(ins) == 1:
            return f'(LOp1 "{n}" {p} {t} {expr[ins[0]]})'
        if len(ins) == 2 and live.count(True) == 1:
            return f'(LOp{"L" if live[0] else "R"} "{n}" {p} {t} {expr[ins[0]]} {expr[ins[1]]})'
        items = [f"({'LArgL' if k else 'LArgP'} {expr[w]}" for w, k in zip(ins, live)]
        return f'(LOpN "{n}" {p} {t} {" ".join(items)} (LNil){")" * len(items)})'


