"""Identifiers and literals for generated source, built only from IR data and always sanitised.

Nothing from user text reaches generated code verbatim: names become valid, non-keyword Python
identifiers that cannot shadow the names the generated code relies on, strings become `repr`
literals, and numbers are formatted from their numeric value (never from user text).

>>> n = Namer(reserved=("xp",))
>>> n.claim("x"), n.claim("x"), n.claim("lambda"), n.claim("2nd try"), n.claim("xp")
('x', 'x_2', 'lambda_', '_2nd_try', 'xp_2')
>>> py_literal(float("inf")), py_literal(-0.5), py_literal((1, None, True))
('float("inf")', '(-0.5)', '(1, None, True)')
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Iterable

from codegen.errors import CodegenError

_INVALID = re.compile(r"[^0-9A-Za-z_]")


def sanitize(name: str) -> str:
    """A valid Python identifier that resembles `name` (not yet checked against keywords or clashes)."""
    ident = _INVALID.sub("_", name) or "_"
    if ident[0].isdigit():
        ident = "_" + ident
    return ident


class Namer:
    """Hands out unique identifiers: each claimed name is sanitised, de-keyworded and de-duplicated.

    `reserved` names (the namespace `xp`, helpers, `boxes`) are never handed out, so a parameter
    called `xp` in the DSL cannot shadow the array namespace in the generated function."""

    def __init__(self, reserved: Iterable[str] = ()):
        self.taken: set[str] = set(reserved)

    def claim(self, name: str) -> str:
        base = name if name.isascii() and name.isidentifier() else sanitize(name)  # `t12`: nothing to replace
        if keyword.iskeyword(base) or keyword.issoftkeyword(base):
            base = base + "_"
        ident, k = base, 2
        while ident in self.taken:
            ident = f"{base}_{k}"
            k += 1
        self.taken.add(ident)
        return ident


def safe_comment(text: str) -> str:
    """Comment text without line breaks or control characters (a filename could contain anything)."""
    if text.isprintable():  # the common case, one C-level scan (this runs once per generated line)
        return text
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def py_literal(value: object, atom: bool = True) -> str:
    """Python source for a static parameter value: None, bool, int, float, str, or tuples of those.

    With `atom`, negative numbers are parenthesised so they stay atoms in any context (`x ** (-0.5)`);
    a keyword argument (`axis=-1`) does not need that."""
    if hasattr(value, "item") and not isinstance(value, (tuple, str)):
        value = value.item()  # a NumPy scalar that slipped into the IR: write its Python value
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        text = str(int(value))
        return f"({text})" if value < 0 and atom else text
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else ('(-float("inf"))' if atom else '-float("inf")')
        text = repr(float(value))
        return f"({text})" if text.startswith("-") and atom else text
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, tuple):
        items = [py_literal(v, atom=False) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise CodegenError(f"cannot write the static value {value!r} ({type(value).__name__}) as source")
