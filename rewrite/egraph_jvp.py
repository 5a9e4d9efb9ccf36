"""Linearization as e-graph rewriting: the primitive table's JVP templates compiled to egglog rules.

`linearize_egraph(d, wrt)` has the contract of `rewrite.linearize.linearize`: it returns a
`Linearized` diagram `(x..., dx_wrt...) -> (y..., dy...)`. The derivative rules run in egglog:

* Tangents live in their own sort `Lin` (EGGLOG-NOTES.md): `LZero t`, `LSeed k t` (tangent input
  k), `LAdd`/`LSub t a b`, `LNeg t a`, `LMul`/`LDiv t lin x` (elementwise with a primal factor,
  broadcasting like mul), `LWhere t c a b`, and the generic `LOp1`/`LOpL`/`LOpR name box t ...` for
  a primitive linear in one argument (sum, reshape, cast, `dx @ y`, `x @ dy`, ...) and `LOpN name
  box t (LArgs)` for several (concat, stack, einsum, derivative boxes `d_f`). Every Lin
  constructor carries its type id, so lowering needs no type inference. `(JVP e)` is the tangent
  of the primal term e; it is unextractable, and the extractor never sees it.
* Rules are generated mechanically, one per (primitive, box, argument types) that occurs in the
  diagram: the template (string or callable) is instantiated with the ordinary template
  elaborator (`rewrite.templates.instantiate`) on symbolic wires `x, dx, out`, giving a tiny typed
  diagram; its tangent-free nodes compile to primal terms (`Op1`... with interned box/type ids,
  `Num` literals; `x` = the matched child, `out` = the matched term) and the nodes that read a
  tangent to Lin constructors (`dx` = `(JVP x)`). Integer/bool arguments get the zero tangent.
* Activity analysis in Python decides which wires have a structurally nonzero tangent (the same
  rule as the Python path). Active terms get the fact `(NZ e)` and a JVP rule fires on them; every
  other wire's JVP is seeded with `LZero`, the wrt inputs' with `LSeed`. Because every goal is
  present from the start, all JVP rules fire in the first iteration, whatever the depth; the zero
  absorption rules (`LMul t (LZero u) x => LZero t`, `LAdd t (LZero u) l => l`, ...) then need a
  few more (about the depth of one template): a 1,000- or 10,000-layer chain saturates in 3 iterations
  (goals at the outputs only would need one iteration per layer: 1,002 and 10,002; saturation 60x and 170x slower).
* Extraction: the frozen e-graph is read with Lin e-nodes lowered to the primitive e-nodes they
  stand for (LMul -> mul, LZero -> filled constant, LSeed -> an input leaf), so `rewrite.extract`'s
  DAG extractor (`choose`) and `rebuild` produce the diagram with sharing preserved. A root whose
  class holds nothing but `JVP` is an error (`DerivativeError`).

>>> from semantics.diagram import Builder, make_box
>>> from semantics.types import scalar
>>> f64 = scalar("f64")
>>> b = Builder(); x = b.input(f64)
>>> (y,) = b.add(make_box("sin"), [x], [f64])
>>> lin = linearize_egraph(b.build([y]), (0,))
>>> sorted(n.box.name for n in lin.diagram.nodes)
['cos', 'mul', 'sin']
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewrite.egraph import EGraph, ENode, Frozen, Tables, num_value, op_name
from rewrite.extract import ExtractionError, choose, rebuild
from rewrite.linearize import Linearized, derivative_box, is_float
from rewrite.templates import ZERO, ZeroVal, instantiate, template_statics
from semantics.diagram import Box, Builder, Diagram, Node, make_box
from semantics.errors import DerivativeError
from semantics.primitives import PRIMITIVES
from semantics.types import TensorType, WireType
from semantics.values import TupleVal, WireVal

LIN_SCHEMA = """
(sort Lin)
(sort LArgs)
(constructor JVP (Term) Lin :unextractable)
(constructor LZero (i64) Lin)
(constructor LSeed (i64 i64) Lin)
(constructor LAdd (i64 Lin Lin) Lin)
(constructor LSub (i64 Lin Lin) Lin)
(constructor LNeg (i64 Lin) Lin)
(constructor LMul (i64 Lin Term) Lin)
(constructor LDiv (i64 Lin Term) Lin)
(constructor LWhere (i64 Term Lin Lin) Lin)
(constructor LOp1 (String i64 i64 Lin) Lin)
(constructor LOpL (String i64 i64 Lin Term) Lin)
(constructor LOpR (String i64 i64 Term Lin) Lin)
(constructor LOpN (String i64 i64 LArgs) Lin)
(constructor LNil () LArgs)
(constructor LArgL (Lin LArgs) LArgs)
(constructor LArgP (Term LArgs) LArgs)
(relation NZ (Term))
(relation LTy (Lin i64))
(relation RNZ (i64))
(relation RJZ (i64 i64))
(relation RSeed (i64 i64 i64))
(function BcastBox (i64) i64 :merge old)
(ruleset jvpload)
(rule ((RNZ w)) ((NZ (N w))) :ruleset jvpload :name "jvp-load-active")
(rule ((RJZ w t)) ((union (JVP (N w)) (LZero t))) :ruleset jvpload :name "jvp-load-zero")
(rule ((RSeed w k t)) ((union (JVP (N w)) (LSeed k t))) :ruleset jvpload :name "jvp-load-seed")
(ruleset lintyping)
(rule ((= e (LZero t))) ((LTy e t)) :ruleset lintyping :name "lty-zero")
(rule ((= e (LSeed k t))) ((LTy e t)) :ruleset lintyping :name "lty-seed")
(rule ((= e (LAdd t a b))) ((LTy e t)) :ruleset lintyping :name "lty-add")
(rule ((= e (LSub t a b))) ((LTy e t)) :ruleset lintyping :name "lty-sub")
(rule ((= e (LNeg t a))) ((LTy e t)) :ruleset lintyping :name "lty-neg")
(rule ((= e (LMul t a x))) ((LTy e t)) :ruleset lintyping :name "lty-mul")
(rule ((= e (LDiv t a x))) ((LTy e t)) :ruleset lintyping :name "lty-div")
(rule ((= e (LWhere t c a b))) ((LTy e t)) :ruleset lintyping :name "lty-where")
(rule ((= e (LOp1 n p t a))) ((LTy e t)) :ruleset lintyping :name "lty-op1")
(rule ((= e (LOpL n p t a x))) ((LTy e t)) :ruleset lintyping :name "lty-opl")
(rule ((= e (LOpR n p t x a))) ((LTy e t)) :ruleset lintyping :name "lty-opr")
(rule ((= e (LOpN n p t l))) ((LTy e t)) :ruleset lintyping :name "lty-opn")
(ruleset jvp)
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

# Lin constructors: (ENode op of the lowered primitive, fixed box name or None = from the row),
# position of the type id, positions of the children (e-classes), first name/box position.
_LIN_FIXED = {"LAdd": "add", "LSub": "sub", "LNeg": "neg", "LMul": "mul", "LDiv": "div", "LWhere": "where"}
_SORTS = {  # argument sorts of the class-valued positions ("" = a primitive value)
    "Leaf": ("", ""), "Num": ("", ""), "N": ("",), "Op1": ("", "", "", "T"), "Op2": ("", "", "", "T", "T"),
    "Op3": ("", "", "", "T", "T", "T"), "OpN": ("", "", "", "A"), "Proj": ("", "", "U"), "ANil": (),
    "ACons": ("T", "A"), "NA": ("",), "Multi": ("", "", "A"), "NT": ("",), "JVP": ("T",),
    "LZero": ("",), "LSeed": ("", ""), "LAdd": ("", "L", "L"), "LSub": ("", "L", "L"), "LNeg": ("", "L"),
    "LMul": ("", "L", "T"), "LDiv": ("", "L", "T"), "LWhere": ("", "T", "L", "L"), "LOp1": ("", "", "", "L"),
    "LOpL": ("", "", "", "L", "T"), "LOpR": ("", "", "", "T", "L"), "LOpN": ("", "", "", "P"), "LNil": (),
    "LArgL": ("L", "P"), "LArgP": ("T", "P"),
}
_OUT_SORT = {**{k: "T" for k in ("Leaf", "Num", "N", "Op1", "Op2", "Op3", "OpN", "Proj")},
             "ANil": "A", "ACons": "A", "NA": "A", "Multi": "U", "NT": "U", "LNil": "P", "LArgL": "P", "LArgP": "P"}


@dataclass(frozen=True)
class JvpLimits:
    """Budgets for the JVP run (it saturates in a few iterations; hitting a limit is an error)."""

    iterations: int = 64
    nodes: int = 2_000_000
    seconds: float = 60.0


@dataclass(frozen=True)
class JvpStats:
    """What the run did: JVP rules generated, iterations, e-nodes (all sorts), matches per rule,
    JVP e-classes left without an extractable term (0 after a complete run), seconds per phase."""

    rules: int
    iterations: int
    enodes: int
    fired: dict[str, int]
    unresolved: int
    seconds: dict[str, float]


# --------------------------------------------------------------- activity analysis


def activity(d: Diagram, wrt: Sequence[int]) -> set[int]:
    """Wires whose tangent is not structurally zero (the Python path's rule): the wrt inputs of
    float type, and float outputs of a node with an active input whose JVP template is not "0"."""
    active = {d.inputs[i] for i in wrt if is_float(d.types[d.inputs[i]])}
    for node in d.nodes:
        if not any(w in active for w in node.inputs):
            continue
        box = node.box
        if box.kind == "call":
            raise DerivativeError(f"cannot differentiate the call box '{box.name}' (expand calls first)", node.span)
        if box.kind == "prim":
            prim = PRIMITIVES[box.name]
            if prim.jvp is None:
                raise DerivativeError(f"the primitive '{prim.name}' has no derivative rule", node.span)
            if prim.jvp == "0":
                continue
        elif len(node.outputs) != 1:
            raise DerivativeError(f"egglog linearization of the multi-output box '{box.name}' is not supported",
                                  node.span)
        active.update(w for w in node.outputs if is_float(d.types[w]))
    return active


# --------------------------------------------------------------- template -> rule compilation


def _f64(v: float) -> str:
    s = repr(float(v))
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant if '.' in mant else mant + '.0'}e{exp}"
    return s


def _term(name: str, p: int, t: int, args: Sequence[str]) -> str:
    """A primal term in egraph.py's encoding (Op1..Op3, or OpN over a cons list)."""
    if 1 <= len(args) <= 3:
        return f'(Op{len(args)} "{name}" {p} {t} {" ".join(args)})'
    lst = "(ANil)"
    for a in reversed(args):
        lst = f"(ACons {a} {lst})"
    return f'(OpN "{name}" {p} {t} {lst})'


def _is_zero_const(node: Node | None, producer: Mapping[int, Node]) -> bool:
    """Is this (primal) node a literal zero, possibly broadcast or cast?"""
    while node is not None and node.box.name in ("broadcast_to", "cast") and len(node.inputs) == 1:
        node = producer.get(node.inputs[0])
    return node is not None and node.box.name == "const" and node.box.param_dict.get("value") == 0


class _RuleCompiler:
    """Compiles one (primitive, box, argument types) combination into an egglog rule."""

    def __init__(self, tab: Tables) -> None:
        self.tab = tab

    def rule(self, key: int, node: Node, d: Diagram) -> str:
        box = node.box
        in_t = [d.types[w] for w in node.inputs]
        (out_w,) = node.outputs
        out_t = d.types[out_w]
        tab = self.tab
        p, t = tab.box(box), tab.type(out_t)
        kids = [f"c{i}" for i in range(len(in_t))]
        facts = ["(NZ e)", f"(= e {_term(op_name(box), p, t, kids)})"]
        facts += [f"(HasTy {c} {tab.type(ty)})" for c, ty in zip(kids, in_t)]
        if box.kind == "gen":
            lets, res = self._gen_actions(box, kids, in_t, t)
        else:
            lets, res = self._template_actions(box, kids, in_t, out_t)
        body = " ".join(f"(let v{i} {x})" for i, x in enumerate(lets))
        name = f"jvp-{op_name(box)}-{key}"
        return f'(rule ({" ".join(facts)}) ({body} (union (JVP e) {res})) :ruleset jvp :name "{name}")'

    def _gen_actions(self, box: Box, kids: list[str], in_t: list[WireType], t: int) -> tuple[list[str], str]:
        """A generator `f` differentiates to its uninterpreted JVP box `d_f(x..., dx...)`."""
        dbox = derivative_box(box, "jvp")
        items = [f"(LArgP {c}" for c in kids] + [f"(LArgL {self._dx(c, ty)}" for c, ty in zip(kids, in_t)]
        lst = " ".join(items) + " (LNil)" + ")" * len(items)
        return [], f'(LOpN "{op_name(dbox)}" {self.tab.box(dbox)} {t} {lst})'

    def _dx(self, c: str, ty: WireType) -> str:
        return f"(JVP {c})" if is_float(ty) else f"(LZero {self.tab.type(ty)})"

    def _template_actions(self, box: Box, kids: list[str], in_t: list[WireType],
                          out_t: WireType) -> tuple[list[str], str]:
        prim = PRIMITIVES[box.name]
        b = Builder()
        env: dict[str, Any] = {}
        types: dict[str, WireType] = {}
        expr: dict[int, str] = {}  # small-diagram wire -> egglog expression
        tangent: set[int] = set()

        def bind(name: str, c: str, ty: WireType) -> tuple[WireVal, WireVal | ZeroVal]:
            x = b.input(ty)
            expr[x] = c
            dx: WireVal | ZeroVal = ZERO
            if is_float(ty):
                w = b.input(ty)
                expr[w] = f"(JVP {c})"
                tangent.add(w)
                dx = WireVal(w, ty)
            types[name] = ty
            return WireVal(x, ty), dx

        wire_args = [a for a in prim.args if prim.param_spec(a) is None]
        if prim.variadic:
            pairs = [bind(f"x{k}", c, ty) for k, (c, ty) in enumerate(zip(kids, in_t))]
            name = wire_args[0].lstrip("*")
            env[name] = TupleVal(tuple(x for x, _ in pairs))
            env["d" + name] = TupleVal(tuple(dx for _, dx in pairs))  # type: ignore[misc]  # ZERO items allowed
            for k, (x, dx) in enumerate(pairs):
                env[f"x{k}"], env[f"dx{k}"] = x, dx
        else:
            for a, c, ty in zip(wire_args, kids, in_t):
                env[a], env["d" + a] = bind(a, c, ty)
        o = b.input(out_t)
        expr[o] = "e"
        env["out"], types["out"] = WireVal(o, out_t), out_t
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


# --------------------------------------------------------------- the driver


def linearize_egraph(d: Diagram, wrt: tuple[int, ...], limits: JvpLimits | None = None) -> Linearized:
    """`rewrite.linearize.linearize`, with the JVP rules run as egglog rewrites (see the module doc)."""
    return linearize_egraph_stats(d, wrt, limits)[0]


def linearize_egraph_stats(d: Diagram, wrt: tuple[int, ...],
                           limits: JvpLimits | None = None) -> tuple[Linearized, JvpStats]:
    """`linearize_egraph` and what it did (rules, iterations, size, seconds per phase)."""
    limits = limits or JvpLimits()
    t0 = time.perf_counter()
    secs: dict[str, float] = {}
    active = activity(d, wrt)
    for w in d.outputs:
        if w not in active and not isinstance(d.types[w], TensorType):
            raise DerivativeError("function-typed outputs cannot be differentiated yet")
    eg = EGraph(())
    eg._run(LIN_SCHEMA)
    (outs,) = eg.load([d])
    tab = eg.tables
    secs["load"] = time.perf_counter() - t0
    comp = _RuleCompiler(tab)
    keys: dict[tuple[int, ...], int] = {}
    rules: list[str] = []
    for node in d.nodes:
        if node.outputs and node.outputs[0] in active:
            key = (tab.box(node.box), *(tab.type(d.types[w]) for w in (*node.outputs, *node.inputs)))
            if key not in keys:
                keys[key] = len(keys)
                rules.append(comp.rule(keys[key], node, d))
    facts = [f"(set (BcastBox {i}) {tab.box(make_box('broadcast_to', {'shape': ty.shape}))})"
             for i, ty in enumerate(list(tab.types)) if is_float(ty) and isinstance(ty, TensorType) and ty.shape]
    if rules or facts:
        eg._run("\n".join(rules + facts))
    _seed(eg, d, wrt, active)
    secs["rules"] = time.perf_counter() - t0 - secs["load"]
    t1 = time.perf_counter()
    its = 0
    fired: dict[str, int] = {}
    while True:
        if its >= limits.iterations or time.perf_counter() - t1 > limits.seconds:
            raise DerivativeError(f"egglog JVP did not saturate within {its} iterations")
        (out,) = eg._run("(run-schedule (seq (saturate (run lintyping)) (run jvp)))")
        its += 1
        for rule, k in out.report.num_matches_per_rule.items():
            if k and (rule.startswith("jvp-") or rule.startswith("lzero-")):
                fired[rule] = fired.get(rule, 0) + k
        if not out.report.updated:
            break
        if _size(eg) > limits.nodes:
            raise DerivativeError(f"egglog JVP exceeded {limits.nodes} e-nodes")
    secs["saturate"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    fz, jvp_of = freeze_lin(eg, len(d.inputs))
    choice = choose(fz, tab)
    names = d.param_names() + tuple(f"d{d.param_names()[i]}" for i in wrt)
    sig = Builder()
    for w in d.inputs:
        sig.input(d.types[w])
    for i in wrt:
        sig.input(d.types[d.inputs[i]])
    roots = [fz.wires[w] for w in outs]
    try:
        lin_roots = [jvp_of[c] for c in roots]
        spans: dict[int, Any] = {}  # a primal class and its tangent class point at the node's DSL line
        for node in reversed(d.nodes):
            for w in node.outputs:
                if w in fz.wires:
                    spans[fz.wires[w]] = node.span
                    if fz.wires[w] in jvp_of:
                        spans[jvp_of[fz.wires[w]]] = node.span
        diagram = rebuild(fz, choice, tab, sig.build([], input_names=names), roots + lin_roots, None, spans)
    except (KeyError, ExtractionError) as err:
        raise DerivativeError(f"a JVP term survived saturation: {err}") from err
    diagram = diagram.with_names(name=f"jvp_{d.name}" if d.name else "")
    secs["extract"] = time.perf_counter() - t2
    secs["total"] = time.perf_counter() - t0
    unresolved = sum(1 for c in set(jvp_of.values()) if c not in choice)
    stats = JvpStats(len(rules), its, _size(eg), fired, unresolved, secs)
    return Linearized(diagram, len(d.inputs), len(wrt), len(d.outputs)), stats


def _size(eg: EGraph) -> int:
    """Rows of every table (all sorts, relations included)."""
    (out,) = eg._run("(print-size)")
    return sum(n for _, n in out.sizes)


def _seed(eg: EGraph, d: Diagram, wrt: Sequence[int], active: set[int]) -> None:
    """TSV rows: `(NZ w)` for active node outputs, `JVP w = LZero` for inactive tensor wires,
    `JVP x_i = LSeed k` for the k-th wrt input."""
    tab = eg.tables
    seeds = {d.inputs[i]: k for k, i in enumerate(wrt)}
    rows: dict[str, list[tuple[int, ...]]] = {"RNZ": [], "RJZ": [], "RSeed": []}
    for w, ty in enumerate(d.types):
        if w in seeds and w in active:
            rows["RSeed"].append((w, seeds[w], tab.type(ty)))
        elif w in active:
            rows["RNZ"].append((w,))
        elif isinstance(ty, TensorType):
            rows["RJZ"].append((w, tab.type(ty)))
    eg.input_rows(rows, "jvpload")


# --------------------------------------------------------------- export with Lin lowered


def freeze_lin(eg: EGraph, n_primal_in: int) -> tuple[Frozen, dict[int, int]]:
    """The e-graph as `Frozen` data with every Lin e-node lowered to the primitive e-node it stands
    for, and the map (primal class -> class of its JVP). JVP rows themselves are not exported."""
    raw = eg._eg
    fz = raw.freeze()
    tab = eg.tables
    ids: dict[tuple[str, Any], int] = {}
    fixed = {k: tab.box(make_box(v)) for k, v in _LIN_FIXED.items()}

    def cls(sort: str, v: Any) -> int:
        i = ids.get((sort, v))
        if i is None:
            i = ids[(sort, v)] = len(ids)
        return i

    i64, f64 = raw.value_to_i64, raw.value_to_f64
    classes: dict[int, list[ENode]] = {}
    wires: dict[int, int] = {}
    jvp_of: dict[int, int] = {}
    for fname, fn in fz.functions.items():
        sorts = _SORTS.get(fname)
        if sorts is None:
            continue
        out_sort = _OUT_SORT.get(fname, "L")
        for row in fn.rows:
            if row.subsumed:
                continue
            x = row.inputs
            c = cls(out_sort, row.output)
            kids = tuple(cls(s, v) for s, v in zip(sorts, x) if s)
            n: ENode | None = None
            if fname == "N":
                wires[i64(x[0])] = c
            elif fname == "JVP":
                jvp_of[kids[0]] = c
            elif fname in ("NA", "NT"):
                classes.setdefault(c, [])
            elif fname == "Leaf":
                n = ENode("leaf", i64(x[0]), i64(x[1]), 0.0, ())
            elif fname == "Num":
                n = ENode("num", 0, i64(x[1]), f64(x[0]), ())
            elif fname in ("Op1", "Op2", "Op3", "OpN", "Multi"):
                n = ENode("op" if fname != "Multi" else "multi", i64(x[1]), i64(x[2]) if fname != "Multi" else -1,
                          0.0, kids)
            elif fname == "Proj":
                n = ENode("proj", i64(x[0]), i64(x[1]), 0.0, kids)
            elif fname in ("ANil", "LNil"):
                n = ENode("nil", 0, -1, 0.0, ())
            elif fname in ("ACons", "LArgL", "LArgP"):
                n = ENode("cons", 0, -1, 0.0, kids)
            elif fname == "LZero":
                n = ENode("num", 0, i64(x[0]), 0.0, ())
            elif fname == "LSeed":
                n = ENode("leaf", n_primal_in + i64(x[0]), i64(x[1]), 0.0, ())
            elif fname in _LIN_FIXED:
                n = ENode("op", fixed[fname], i64(x[0]), 0.0, kids)
            else:  # LOp1, LOpL, LOpR, LOpN
                n = ENode("op", i64(x[1]), i64(x[2]), 0.0, kids)
            if n is not None:
                classes.setdefault(c, []).append(n)
    return Frozen(classes, wires), jvp_of
