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
from semantics.types import Dim, TensorType, type_str

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
        taken = set()
        for w, pname, t in zip(d.inputs, d.param_names(), d.dom):
            self.names[w] = pname
            taken.add(pname)
            params.append(f"{pname}: {t}")
        counter = 0
        for node in d.nodes:
            text, lvl = self.expression(node)
            single = len(node.outputs) == 1
            w0 = node.outputs[0] if node.outputs else -1
            always_inline = node.box.name in ("const", "dimsize") and node.box.kind == "prim"
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
        ret = ", ".join(self.wire(w, 0) for w in d.outputs)
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


def to_text(d: Diagram, name: str | None = None) -> str:
    """The diagram as a DSL `def` (preceded by the `dim` line it needs)."""
    return Printer(d).run(name or d.name or "f")
