"""Diagram → canonical DSL text (what `dsl show` prints), deterministic so it can be snapshot-tested.

Nodes are visited in canonical order; a node whose single output is read exactly once is written
inline in its reader (with the fewest parentheses the precedence table allows), every other node
becomes a statement `tK = ...`. Literals and dim sizes are always inline. The text parses back to
an equal diagram (tested as a round trip).

>>> from grammar import parse
>>> from semantics.elaborate import elaborate
>>> p = elaborate(parse("dim n\\ndef f(x: f64[n]) -> f64 { y = sin(x)\\n return sum(y * y) }"))
>>> print(to_text(p.lookup("f").diagram))
dim n
def f(x: f64[n]) -> f64 {
    t1 = sin(x)
    return sum(t1 * t1)
}
"""

from __future__ import annotations

import math
import re
from typing import Any

from semantics.diagram import Diagram, Node
from semantics.primitives import INFIX_LEVEL, PRIMITIVES, REQUIRED
from semantics.types import Dim, FunType, TensorType, flatten, type_str

ATOM = 8


def format_static(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Dim):
        return str(v)
    if isinstance(v, str):
        return v if v in ("f32", "f64", "i32", "i64", "bool") else '"' + v + '"'
    if isinstance(v, tuple):
        return "(" + ", ".join(format_static(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, float):
        return format_number(v)
    return str(v)


def format_number(v: float | int | bool) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if math.isnan(v):
        return "(0.0 / 0.0)"
    return repr(v)


def _format_index(spec: tuple[Any, ...]) -> str:
    parts = []
    for item in spec:
        if item[0] == "int":
            parts.append(str(item[1]))
        elif item[0] == "newaxis":
            parts.append("None")
        else:
            lo, hi, step = item[1:]
            s = f"{'' if lo is None else lo}:{'' if hi is None else hi}"
            parts.append(s + (f":{step}" if step is not None else ""))
    return ", ".join(parts)


class Printer:
    def __init__(self, d: Diagram):
        self.d = d.canonical
        self.names: dict[int, str] = {}
        self.inline: dict[int, tuple[str, int]] = {}  # wire -> (text, precedence level)
        self.lines: list[str] = []
        readers = self.d.readers()
        self.uses = {w: len(r) for w, r in readers.items()}
        for w in self.d.outputs:
            self.uses[w] = self.uses.get(w, 0) + 1
        self.outputs = set(self.d.outputs)
        self.pending: set[int] = set()  # wires whose text elaborates to a dtype-less literal
        self.wrap: set[int] = set()
        # LANGUAGE.md §7: wires on function-typed values are written inside lambdas, never as
        # statements; a plain wire a lambda reads (a `lift`) needs a name to be read by
        producer = {w: n for n in self.d.nodes for w in n.outputs}
        self.must_name = {n.inputs[0] for n in self.d.nodes if n.box.name == "lift" and n.box.kind == "prim"
                          and not isinstance(self.d.types[n.inputs[0]], FunType)
                          and n.inputs[0] in producer and producer[n.inputs[0]].box.name not in ("const", "dimsize")}
        self.variables: list[str] = []  # the name of each bound variable, by position in the domain

    def wire(self, w: int, level: int) -> str:
        text, lvl = self.inline.get(w, (self.names.get(w, f"?{w}"), ATOM))
        if w in self.wrap:  # a literal that no typed operand gives its dtype: cast(1.0, f32)
            return f"cast({text}, {self.d.types[w].dtype})"  # type: ignore[union-attr]
        return f"({text})" if lvl < level else text

    def _untyped_literals(self, node: Node) -> set[int]:
        """Inputs of a primitive that read back as dtype-less literals (`2.0`, `n`, `1.0 / n`) and that
        no typed operand types: elaboration would make them f64, so a non-f64 one is written as a cast."""
        value_ins = node.inputs[1:] if node.box.name == "where" else node.inputs
        if node.box.kind != "prim" or any(w not in self.pending for w in value_ins):
            return set()
        return {w for w in value_ins if getattr(self.d.types[w], "dtype", "f64") != "f64"}

    def expression(self, node: Node) -> tuple[str, int]:
        self.wrap = self._untyped_literals(node)
        box, ins = node.box, node.inputs
        params = box.param_dict
        if box.kind != "prim":
            return f"{box.name}({', '.join(self.wire(w, 0) for w in ins)})", ATOM
        name = box.name
        if name in LAMBDA_SYNTAX:
            return LAMBDA_SYNTAX[name](self, node)
        if box.name in ("const", "dimsize") or (PRIMITIVES[name].elementwise and ins
                                                  and all(w in self.pending for w in ins) and not self.wrap):
            self.pending.update(node.outputs)
        if name == "const":
            v = params["value"]
            text = format_number(v)
            return text, (5 if text.startswith("-") or text.startswith("(") else ATOM)
        if name == "dimsize":
            dim = params["dim"]
            if dim.is_const:  # reads back as the literal it is
                v = dim.value
                return format_number(float(v) if params["dtype"] in ("f32", "f64") else v), (ATOM if v >= 0 else 5)
            return str(dim), (ATOM if len(dim.terms) == 1 and dim.terms[0][1] > 0 and len(dim.terms[0][0]) <= 1 else 3)
        syntax = PRIMITIVES[name].syntax  # the row's printed form (semantics/primitives.py)
        if syntax in INFIX_LEVEL:
            op, lvl = syntax, INFIX_LEVEL[syntax]
            left_lvl, right_lvl = (lvl + 1, lvl) if op == "^" else (lvl, lvl + 1)  # ^ is right-associative
            if lvl == 2:  # comparisons do not chain
                left_lvl = right_lvl = 3
            return f"{self.wire(ins[0], left_lvl)} {op} {self.wire(ins[1], right_lvl)}", lvl
        if syntax == "-x":
            return f"-{self.wire(ins[0], 6)}", 5
        if syntax == "x[...]":
            return f"{self.wire(ins[0], ATOM)}[{_format_index(params['index'])}]", ATOM
        if syntax == "x.T" and params.get("axes") is None and self._rank(ins[0]) == 2:
            return f"{self.wire(ins[0], ATOM)}.T", ATOM
        return self.call_text(node), ATOM

    # ---------------------------------------------------------------- §7: lambdas

    def variable(self, i: int) -> str:
        while len(self.variables) <= i:
            k = len(self.variables)
            name = f"x{k}"
            while name in self.taken:
                name = "_" + name
            self.variables.append(name)
        return self.variables[i]

    def function(self, w: int) -> str:
        """A function-typed wire where a function is expected: a name, nabla(...), or a lambda."""
        node = self.producer.get(w)
        if node is None or node.box.name in ("nabla", "divergence") or node.box.kind != "prim":
            return self.wire(w, ATOM)
        composed = self.compose_text(node)
        return composed if composed is not None else "(" + self.lambda_text(w, 0) + ")"

    def returned(self, w: int) -> str:
        """A returned wire: a function-typed one is a name, nabla(...), compose(...) or a lambda."""
        node = self.producer.get(w)
        if not isinstance(self.d.types[w], FunType) or node is None:
            return self.wire(w, 0)
        text = self.function(w)
        return text[1:-1] if text.startswith("(") and "=>" in text and self.compose_text(node) is None else text

    def compose_text(self, node: Node) -> str | None:
        """`compose(f, g)` for the nodes it elaborates to: apply(f, apply(g, x...)) over g's variables."""
        if node.box.name != "apply" or len(node.inputs) != 2:
            return None
        inner = self.producer.get(node.inputs[1])
        if inner is None or inner.box.name != "apply":
            return None
        coords = [self.producer.get(w) for w in inner.inputs[1:]]
        if any(c is None or c.box.name != "coord" or c.box.param_dict["i"] != i or c.box.param_dict["region"] is not None
               for i, c in enumerate(coords)):
            return None
        return f"compose({self.function(node.inputs[0])}, {self.function(inner.inputs[0])})"

    def lambda_text(self, w: int, first: int) -> str:
        """`x => body` for a function-typed wire whose variables from `first` on are the lambda's."""
        t = self.d.types[w]
        assert isinstance(t, FunType)
        composed = self.compose_text(self.producer[w]) if first == 0 and w in self.producer else None
        if composed is not None:
            return composed
        names = [self.variable(i) for i in range(first, len(flatten(t.arg)))]
        params = names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
        return f"{params} => {self.wire(w, 0)}"

    def _coord(self, node: Node) -> tuple[str, int]:
        return self.variable(node.box.param_dict["i"]), ATOM

    def _lift(self, node: Node) -> tuple[str, int]:
        (x,) = node.inputs
        return self.inline.get(x, (self.names.get(x, f"?{x}"), ATOM))

    def _apply(self, node: Node) -> tuple[str, int]:
        f, *points = node.inputs
        return f"{self.function(f)}({', '.join(self.wire(p, 0) for p in points)})", ATOM

    def _nabla(self, node: Node) -> tuple[str, int]:
        return f"{node.box.name}({self.function(node.inputs[0])})", ATOM

    def _integrate(self, node: Node) -> tuple[str, int]:
        params = node.box.param_dict
        region, k = params["region"], params["vars"]
        (g,) = node.inputs
        gt = self.d.types[g]
        assert isinstance(gt, FunType)
        first = len(flatten(gt.arg)) - k
        gnode = self.producer.get(g)
        lam = gnode is not None and gnode.box.name not in ("nabla", "divergence")
        body = self.lambda_text(g, first) if lam else self.function(g)
        bounds = [f"({format_number(float(a))}, {format_number(float(b))})" for a, b, _ in region]
        over = bounds[0] if len(bounds) == 1 else "(" + ", ".join(bounds) + ")"
        ns = [n for _, _, n in region]
        n = str(ns[0]) if len(set(ns)) == 1 else "(" + ", ".join(map(str, ns)) + ")"
        return f"integrate({body}, over={over}, n={n})", ATOM

    def _rank(self, w: int) -> int:
        t = self.d.types[w]
        return t.rank if isinstance(t, TensorType) else -1

    def call_text(self, node: Node) -> str:
        prim = PRIMITIVES[node.box.name]
        params = node.box.param_dict
        wires = iter(node.inputs)
        args: list[str] = []
        kwargs: list[str] = []
        for i, a in enumerate(prim.args):
            spec = prim.param_spec(a)
            if spec is None:
                if a.startswith("*"):
                    items = [self.wire(w, 0) for w in wires]
                    args.append("(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")")
                else:
                    args.append(self.wire(next(wires), 0))
                continue
            later_wire = any(prim.param_spec(b) is None for b in prim.args[i + 1:])
            if spec.kind == "index":  # re-loadable as the subscript string the row accepts
                args.append(f'"{_format_index(params[a])}"')
            elif later_wire or (spec.default is REQUIRED and not kwargs):
                args.append(format_static(params[a]))
            elif params.get(a, spec.default) != spec.default:
                kwargs.append(f"{a}={format_static(params[a])}")
        for spec in prim.params:
            if spec.name not in prim.args and params.get(spec.name, spec.default) != spec.default:
                kwargs.append(f"{spec.name}={format_static(params[spec.name])}")
        return f"{prim.name}({', '.join(args + kwargs)})"

    def run(self, name: str) -> str:
        d = self.d
        params = []
        taken = self.taken = set(d.param_names())
        self.producer = {w: n for n in d.nodes for w in n.outputs}
        for w, pname, t in zip(d.inputs, d.param_names(), d.dom):
            self.names[w] = pname
            params.append(f"{pname}: {t}")
        counter = 0
        for node in d.nodes:
            text, lvl = self.expression(node)
            single = len(node.outputs) == 1
            w0 = node.outputs[0] if node.outputs else -1
            always_inline = node.box.name in ("const", "dimsize") and node.box.kind == "prim"
            # a function of lambda variables is only ever written inside its lambda
            always_inline = always_inline or (single and isinstance(d.types[w0], FunType))
            if single and w0 in self.must_name and w0 not in self.outputs:
                always_inline = False
                self.uses[w0] = max(self.uses.get(w0, 0), 2)
            if single and (always_inline or (self.uses.get(w0, 0) == 1 and w0 not in self.outputs)):
                self.inline[w0] = (text, lvl)  # type: ignore[index]
                continue
            if single and w0 in self.outputs and self.uses.get(w0, 0) == 1:
                self.inline[w0] = (text, lvl)  # type: ignore[index]
                continue
            targets = []
            for w in node.outputs:
                counter += 1
                while f"t{counter}" in taken:
                    counter += 1
                self.names[w] = f"t{counter}"
                targets.append(f"t{counter}")
            self.lines.append(f"    {', '.join(targets) if targets else '_'} = {text}")
        self.wrap = set()  # outputs are typed by the signature
        ret = ", ".join(self.returned(w) for w in d.outputs)
        dims = sorted({name for t in d.types if isinstance(t, TensorType) for dim in t.shape for a in dim.atoms
                       for name in declared_dims(a)})
        head = [f"dim {', '.join(dims)}"] if dims else []
        sig = f"def {name}({', '.join(params)}) -> {type_str(d.cod)} {{"
        return "\n".join(head + [sig] + self.lines + [f"    return {ret}", "}"])


def declared_dims(atom: str) -> tuple[str, ...]:
    """The declared dims an atom of a Dim stands on: itself, or those inside an opaque size that a
    strided slice makes (`ceil(n/2)` is no dim to declare; `n` is).

    >>> declared_dims("n"), declared_dims("ceil((n - 1)/2)")
    (('n',), ('n',))
    """
    if atom.isidentifier():
        return (atom,)
    return tuple(name for name in re.findall(r"[A-Za-z_]\w*", atom) if name != "ceil")


# The rows on function-typed wires print as the §7 syntax they elaborate from.
LAMBDA_SYNTAX = {"coord": Printer._coord, "lift": Printer._lift, "apply": Printer._apply,
                 "nabla": Printer._nabla, "divergence": Printer._nabla, "integrate": Printer._integrate}


def to_text(d: Diagram, name: str | None = None) -> str:
    """The diagram as a DSL `def` (preceded by the `dim` line it needs)."""
    return Printer(d).run(name or d.name or "f")
