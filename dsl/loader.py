"""Reading `.dsl` files: parse, elaborate with the standard library in scope, resolve imports."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache

from grammar import parse
from grammar.errors import Span
from semantics.elaborate import elaborate
from semantics.errors import UnboundNameError
from semantics.program import Program

STDLIB_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stdlib.dsl")


@lru_cache(maxsize=1)
def stdlib() -> Program:
    """The standard library program (parsed once per process)."""
    with open(STDLIB_PATH, encoding="utf-8") as f:
        return elaborate(parse(f.read(), "<stdlib>"))


def load_program(source: str, filename: str, base_dir: str | None, stack: tuple[str, ...] = ()) -> Program:
    """Parse and elaborate `source`; imports are resolved relative to `base_dir`."""
    module = parse(source, filename)
    return elaborate(module, _import_loader(base_dir, stack + (os.path.abspath(filename),)), stdlib())


def _import_loader(base_dir: str | None, stack: tuple[str, ...]) -> Callable[[str, Span | None], Program]:
    """What `import "path"` may read: a `.dsl` file, at `path` relative to the importing file's folder
    (`..` and absolute paths included: like a C #include, an import names any file the user can
    read). Only `.dsl` files: an error message quotes source lines, so an import never shows the
    contents of another kind of file."""

    def load(path: str, span: Span | None) -> Program:
        if base_dir is None:
            raise UnboundNameError(f"cannot import '{path}' from a string source; use dsl.load(path)", span)
        if not path.endswith(".dsl"):
            raise UnboundNameError(f"cannot import '{path}': only .dsl files can be imported", span)
        full = os.path.normpath(os.path.join(base_dir, path))
        if full in stack:
            chain = " -> ".join(os.path.basename(p) for p in stack + (full,))
            raise UnboundNameError(f"circular import: {chain}", span)
        try:
            with open(full, encoding="utf-8") as f:
                text = f.read()
        except OSError as err:
            raise UnboundNameError(f"cannot import '{path}': {err.strerror} ({full})", span) from None
        except UnicodeDecodeError as err:
            raise UnboundNameError(f"cannot import '{path}': it is not UTF-8 text ({err.reason} at byte "
                                   f"{err.start}) ({full})", span) from None
        return load_program(text, full, os.path.dirname(full), stack)

    return load
