"""The REPL's session: the definitions typed so far, `:let` bindings, and what each input does.

A `Session` is the REPL without a terminal, so everything here is tested directly. Each input is
one of: a command (`:grad f`), top-level forms (`dim`, `def`, `diagram`, `box`, `import`,
`g = grad(f)`), or an expression, which is evaluated on the `:let` bindings. Whether an input is
complete (Enter submits) or needs more lines is decided by the DSL's own parser: an input is
incomplete exactly when parsing fails because the text ended (an unclosed bracket, a trailing
operator).

Forms are kept as declarations with their source text; the session's program is the elaboration
of all of them, so a new form is accepted only if everything still type-checks, and the session
can be saved as a `.dsl` file. Defining a name again replaces the earlier definition.

>>> s = Session()
>>> s.is_complete("def f(x: f64) -> f64 {")
False
>>> print(s.submit("def f(x: f64) -> f64 {\\n    return sin(x) * x\\n}"))
f : f64 -> f64
>>> print(s.submit(":let a = 0.5"))
a : f64 = 0.5
>>> print(s.submit("f(a)"))
f64
0.23971277
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsl.loader import _import_loader, stdlib
from dsl.module import Module
from grammar import ast, parse, parse_expr
from grammar.errors import DslError, ParseError
from semantics.elaborate import elaborate
from semantics.errors import UnboundNameError
from semantics.program import DerivedDef, GeneratorDef, GenericDef, signature_of
from semantics.types import FROM_NUMPY, NUMPY_DTYPE

INPUT = "<input>"
EVAL_NAME = "__it__"  # the hidden definition an expression is evaluated as
_DECL_START = re.compile(r"\s*(dim|type|box|def|diagram|import)\b|\s*[A-Za-z_]\w*\s*=[^=>]")
_LET = re.compile(r"\s*([A-Za-z_]\w*)\s*(?::\s*(f32|f64|i32|i64|bool))?\s*=\s*(.+)$", re.S)


class Quit(Exception):
    """Raised by `:quit`."""


@dataclass(frozen=True)
class Entry:
    """One top-level form of the session and the text it was written as (for `:save`)."""

    decl: ast.Decl
    text: str

    @property
    def names(self) -> tuple[str, ...]:
        d = self.decl
        if isinstance(d, ast.DimDecl):
            return ()
        if isinstance(d, ast.Import):
            return (d.alias,) if d.alias else ()
        return (d.name,)


def _decl_text(source: str, decl: ast.Decl) -> str:
    """The exact source text of a declaration, from its span."""
    span = decl.span
    if span is None:
        return ""
    lines = source.splitlines()
    if span.line == span.end_line:
        return lines[span.line - 1][span.col - 1:span.end_col - 1]
    body = [lines[span.line - 1][span.col - 1:], *lines[span.line:span.end_line - 1],
            lines[span.end_line - 1][:span.end_col - 1]]
    return "\n".join(body)


def ends_early(err: ParseError) -> bool:
    """Did parsing fail only because the text ended (so more lines would complete it)?"""
    return err.message.startswith("unexpected end of input") or err.hint == "the input ended before it was closed"


class Session:
    """An interactive session. `submit(text)` runs one complete input and returns what to print;
    errors are raised as `DslError` (the caller prints them and carries on)."""

    def __init__(self, boxes: Mapping[str, Callable[..., Any]] | None = None, base_dir: str | None = None):
        self.boxes = dict(boxes or {})
        self.base_dir = base_dir or os.getcwd()
        self.entries: list[Entry] = []
        self.lets: dict[str, Any] = {}  # arrays, or function values (dsl.fn) bound to a lambda
        self.files: list[str] = []
        self.errors = 0  # errors reported so far (a piped session exits 1 if any)
        self.mod = self._module(self.entries)

    # ------------------------------------------------------------ the program

    def _module(self, entries: list[Entry], extra: tuple[ast.Decl, ...] = ()) -> Module:
        decls = tuple(e.decl for e in entries) + extra
        loader = _import_loader(self.base_dir, (os.path.join(self.base_dir, "<session>"),))
        program = elaborate(ast.Module("<session>", decls, ""), loader, stdlib())
        return Module(program, self.boxes)

    @property
    def names(self) -> list[str]:
        return [n for e in self.entries for n in e.names]

    @property
    def dims(self) -> list[str]:
        return sorted({n for e in self.entries if isinstance(e.decl, ast.DimDecl) for n in e.decl.names})

    def add_source(self, source: str, filename: str = INPUT) -> list[str]:
        """Parse `source` as top-level forms and add them (replacing earlier definitions of the same
        names); nothing changes if the result does not check. Returns the names defined."""
        new = [Entry(d, _decl_text(source, d)) for d in parse(source, filename).decls]
        defined = {n for e in new for n in e.names}
        kept = [e for e in self.entries if not defined & set(e.names)]
        mod = self._module(kept + new)
        for name in (n for e in new for n in e.names):
            d = mod.definition(name)
            if not isinstance(d, (GenericDef, GeneratorDef)) and name in mod:
                mod[name]  # derive now, so a derivation error shows at once
        self.entries, self.mod = kept + new, mod
        return [n for e in new for n in e.names]

    def describe(self, name: str) -> str:
        if name in self.lets:
            v = self.lets[name]
            if not isinstance(v, np.ndarray):
                return f"{name} = {v.dsl_source}  (:let, a function: typed where it is passed)"
            return f"{name} : {_type_of(v)}  (:let)"
        d = self.mod.definition(name)
        kind = f"   # {d.op}({d.target.split('#')[0]})" if isinstance(d, DerivedDef) else (
            "   # generator box" if isinstance(d, GeneratorDef) else "")
        return f"{name} : {signature_of(d)}{kind}"

    # ------------------------------------------------------------ inputs

    def classify(self, text: str) -> tuple[str, Any]:
        """("command" | "forms" | "expr" | "empty", parsed or error) for one input."""
        stripped = text.strip()
        if not stripped:
            return "empty", None
        if stripped.startswith(":"):
            return "command", None
        try:
            return "forms", parse(text, INPUT)
        except ParseError as decl_err:
            if _DECL_START.match(text):
                return "forms", decl_err
            try:
                return "expr", parse_expr(text, INPUT)
            except ParseError as expr_err:
                return "expr", expr_err

    def is_complete(self, text: str) -> bool:
        _, parsed = self.classify(text)
        return not (isinstance(parsed, ParseError) and ends_early(parsed))

    def submit(self, text: str) -> str:
        """Run one complete input; returns the text to print."""
        from dsl.repl_commands import run_command

        kind, parsed = self.classify(text)
        if isinstance(parsed, ParseError):
            raise parsed
        if kind == "empty":
            return ""
        if kind == "command":
            return run_command(self, text.strip())
        if kind == "forms":
            names = self.add_source(text)
            shown = [self.describe(n) for n in names]
            for decl in parsed.decls:
                if isinstance(decl, ast.DimDecl):
                    shown.insert(0, f"dim {', '.join(decl.names)}")
                elif isinstance(decl, ast.Import) and not decl.alias:
                    shown.append(f"imported {decl.path}")
            return "\n".join(shown)
        return self.evaluate(text)

    # ------------------------------------------------------------ expressions and values

    def evaluate(self, text: str) -> str:
        """Evaluate an expression over the `:let` bindings with the reference interpreter; a bare
        definition name shows its signature."""
        expr = parse_expr(text, INPUT)
        if isinstance(expr, ast.Name) and expr.id in self.mod and expr.id not in self.lets:
            return self.describe(expr.id)
        out = self._eval_raw(text)
        return format_values(list(out) if isinstance(out, tuple) else [out])

    def let(self, raw: str) -> str:
        """`:let x = [1, 2, 3]`, `:let x: f32 = [[1, 2]]`, `:let y = <expression>`, or a function value
        `:let rho = x => 1 + x` (for function-typed parameters: `:run lda rho at=0:1:5`)."""
        m = _LET.match(raw)
        if not m:
            raise DslError("usage: :let NAME [: dtype] = VALUE  (a number, a JSON list, an expression or a lambda)")
        name, dtype, value = m.group(1), m.group(2), m.group(3).strip()
        if name in {"dim", "type", "box", "def", "diagram", "return", "import", "as", "true", "false"}:
            raise DslError(f"'{name}' is a keyword and cannot be bound")
        if _is_lambda(value):
            if dtype:
                raise DslError(f"a function value has no dtype: write :let {name} = {value}")
            import dsl

            self.lets[name] = dsl.fn(value, filename=INPUT)
            return self.describe(name)
        array = self.value(value, dtype)
        if array.dtype.name not in FROM_NUMPY:
            raise DslError(f"cannot bind '{name}': values of dtype {array.dtype} are not DSL values")
        self.lets[name] = array
        shown = np.array2string(array, threshold=20, edgeitems=3, precision=8)
        return f"{name} : {_type_of(array)} = {shown}"

    def value(self, text: str, dtype: str | None = None) -> np.ndarray:
        """A value written as JSON (`[1, 2.5]`, f64 unless `dtype`) or as a DSL expression."""
        try:
            return np.asarray(json.loads(text), dtype=NUMPY_DTYPE[dtype or "f64"])
        except (ValueError, TypeError):
            pass
        kind, parsed = self.classify(text)
        if kind != "expr" or isinstance(parsed, ParseError):
            raise parsed if isinstance(parsed, ParseError) else DslError(f"not a value or an expression: {text}")
        out = self._eval_raw(text)
        if isinstance(out, tuple):
            raise DslError("a value is one array; the expression has several outputs")
        return np.asarray(out, dtype=NUMPY_DTYPE[dtype]) if dtype else np.asarray(out)

    def _eval_raw(self, text: str) -> Any:
        """The expression as the body of a hidden definition whose parameters are the bindings."""
        expr = parse_expr(text, INPUT)
        names = sorted(n for n, v in self.lets.items() if isinstance(v, np.ndarray))
        params = ", ".join(f"{n}: {_type_of(self.lets[n])}" for n in names)
        header = parse(f"def {EVAL_NAME}({params}) {{ return 0 }}", "<let>").decls[0]
        assert isinstance(header, ast.Def)
        try:
            mod = self._module(self.entries, (dataclasses.replace(header, returns=ast.Return((expr,), expr.span)),))
        except UnboundNameError as err:
            m = re.match(r"unbound name '(\w+)'", err.message)
            if err.hint is None and m and m.group(1) in self.lets:
                err.hint = f"{m.group(1)} is a function value: pass it to a definition, e.g. :run NAME {m.group(1)} at=0:1:5"
            elif err.hint is None and m:
                err.hint = f"bind a value first, e.g. :let {m.group(1)} = [1.0, 2.0, 3.0]"
            raise
        return mod.compile(EVAL_NAME, backend="interpret")(*(self.lets[n] for n in names))

    def source(self) -> str:
        """The session as a `.dsl` file: its forms in order."""
        return "\n\n".join(e.text for e in self.entries) + ("\n" if self.entries else "")


def _is_lambda(text: str) -> bool:
    try:
        return isinstance(parse_expr(text, INPUT), ast.Lambda)
    except ParseError:
        return False


def format_values(values: list[Any], names: list[str] | None = None) -> str:
    """Arrays as `[name : ]type` then NumPy's summary of the values (long arrays elided)."""
    lines = []
    for i, v in enumerate(values):
        arr = np.asarray(v)
        label = f"{names[i]} : " if names else (f"[{i}] " if len(values) > 1 else "")
        lines.append(f"{label}{_type_of(arr)}")
        lines.append(np.array2string(arr, threshold=20, edgeitems=3, precision=8))
    return "\n".join(lines)


def _type_of(v: np.ndarray) -> str:
    dtype = FROM_NUMPY.get(np.asarray(v).dtype.name, "f64")
    return f"{dtype}[{', '.join(map(str, v.shape))}]" if v.shape else dtype
