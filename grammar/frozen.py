"""`constructor(cls)`: a fast way to build instances of a frozen dataclass, for the hot loops.

(In `grammar/`, the bottom layer, so that the parser and the passes above it share it.)

Why: the parser makes one AST node per construct of the source, and elaboration one node, one box
and a few values per operation; a frozen dataclass's generated `__init__` sets each field through
`object.__setattr__` (it must get past the frozen `__setattr__`), after a class call that Python
cannot inline. The function made here fills the new instance's `__dict__` directly, which is what
those calls end up doing; the instance is as frozen as any other (assigning an attribute raises),
equal to and hashed like one built by `cls(...)`. It is generated from the dataclass's fields, as
`dataclasses` generates `__init__`, so it follows any change to the fields; classes with a
`__post_init__`, slots, `init=False` fields or default factories are refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def constructor(cls: type[T]) -> Callable[..., T]:
    """A function that builds `cls` (a frozen dataclass) exactly as `cls(...)` does, with the
    same parameters and defaults, in about 40% of the time.

    >>> from grammar import ast
    >>> make_name = constructor(ast.Name)
    >>> make_name("x", None) == ast.Name("x", None), type(make_name("x", None)).__name__
    (True, 'Name')
    >>> constructor(ast.Param)("p", None, None) == ast.Param("p", None, None)
    True
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or hasattr(cls, "__slots__") or not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__}: only plain frozen dataclasses are supported")
    defaults: dict[str, Any] = {}
    params = []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            defaults[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: default factories are not supported")
        else:
            params.append(f.name)
    stores = "".join(f"    d[{f.name!r}] = {f.name}\n" for f in fields)
    source = f"def make({', '.join(params)}):\n    o = new(cls)\n    d = o.__dict__\n{stores}    return o\n"
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls, **defaults}
    exec(source, namespace)  # (as `dataclasses` builds `__init__`)
    make: Callable[..., T] = namespace["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    return make
