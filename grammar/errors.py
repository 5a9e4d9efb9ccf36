"""Source spans and the base of the error hierarchy.

These live in the lowest stage (grammar/) because it owns the source text; every later stage
adds its own subclasses and `dsl` re-exports them all.

>>> span = Span("m.dsl", 2, 5, 2, 8, "    y = sin(x)")
>>> print(DslError("unbound name 'z'", span))
m.dsl:2:5: error: unbound name 'z'
        y = sin(x)
        ^^^
"""

from __future__ import annotations

from typing import NamedTuple

MAX_SHOWN = 160  # characters of a source line shown under an error


class Span(NamedTuple):
    """A region of a source file: 1-based line and column, end exclusive, plus the first line's text.

    A named tuple (immutable, compared and hashed by value like the frozen dataclasses of the AST)
    because the parser makes one per AST node: building a tuple is a single C call, about a
    quarter of the time of a frozen dataclass's `__init__`, and it takes less memory."""

    filename: str
    line: int
    col: int
    end_line: int
    end_col: int
    line_text: str = ""

    def caret(self) -> str:
        """The source line and a caret line under the spanned characters."""
        if not self.line_text:
            return ""
        text = self.line_text.rstrip("\n")
        width = self.end_col - self.col if self.end_line == self.line else len(text) - self.col + 1
        width = max(1, min(width, len(text) - self.col + 2))
        col = self.col
        if len(text) > MAX_SHOWN:  # a huge line (a 100,000-digit literal): show a window around the span
            start = max(0, col - 1 - MAX_SHOWN // 4)
            shown = text[start:start + MAX_SHOWN]
            text = ("..." if start else "") + shown + ("..." if start + MAX_SHOWN < len(text) else "")
            col = col - start + (3 if start else 0)
            width = min(width, len(text) - col + 1)
        return f"    {text}\n    {' ' * (col - 1)}{'^' * width}"

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}"


class DslError(Exception):
    """Every user-facing error: a message, and where in the user's source it applies."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

    @property
    def filename(self) -> str | None:
        return self.span.filename if self.span else None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def col(self) -> int | None:
        return self.span.col if self.span else None

    def with_span(self, span: Span | None) -> DslError:
        """Attach a span if this error has none yet (errors raised deep inside rules get the call's span)."""
        if self.span is None and span is not None:
            self.span = span
        return self

    def __str__(self) -> str:
        head = f"{self.span}: {self.kind}: {self.message}" if self.span else f"{self.kind}: {self.message}"
        parts = [head]
        if self.span is not None and self.span.line_text:
            parts.append(self.span.caret())
        if self.hint:
            parts.append(f"    hint: {self.hint}")
        return "\n".join(parts)


class ParseError(DslError):
    """The text is not in the language's grammar."""


class DslWarning(UserWarning):
    """Base of the warnings dsl emits (e.g. the optimiser stopping at a limit); the CLI prints them
    as `warning: ...` lines."""
