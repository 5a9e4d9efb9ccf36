"""`constructor(cls)`: a fast way to build instances of a frozen dataclass, for the hot loops.

(In `grammar/`, the bottom layer, so that the parser and the passes above it share it.)

Why: the parser makes one AST node per construct of the source, and elaboration one node, one box
and a few values per operation; a frozen dataclass's generated `__init__` sets each field through
`object.__setattr__` (it must get past the frozen `__setattr__`), after a class call that Python
cannot inline. The function made here stores the fields directly, which is what those calls end
up doing: into the instance's `__dict__`, or, for a `@dataclass(frozen=True, slots=True)` class,
through each slot's member descriptor (`cls.__dict__[name].__set__`, a C call: measured as fast
as the dict stores, and half the time of `object.__setattr__`). The instance is as frozen as any
other (assigning an attribute raises), equal to and hashed like one built by `cls(...)`. It is
generated from the dataclass's fields, as `dataclasses` generates `__init__`, so it follows any
change to the fields; classes with a `__post_init__`, `init=False` fields or default factories are
refused.

Slots classes are what the hot classes should be: an instance without a `__dict__` is one object
for the cyclic garbage collector to track instead of two, and smaller (see `grammar/ast.py`).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def constructor(cls: type[T]) -> Callable[..., T]:
    """A function that builds `cls` (a frozen dataclass, with or without slots) exactly as
    `cls(...)` does, with the same parameters and defaults, in about half the time.

    >>> from grammar import ast
    >>> make_name = constructor(ast.Name)
    >>> make_name("x", None) == ast.Name("x", None), type(make_name("x", None)).__name__
    (True, 'Name')
    >>> constructor(ast.Param)("p", None, None) == ast.Param("p", None, None)
    True
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__}: only plain frozen dataclasses are supported")
    slots = _slot_setters(cls, [f.name for f in fields])
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    params = []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: default factories are not supported")
        else:
            params.append(f.name)
    if slots is not None:
        namespace.update({f"_set_{name}": setter for name, setter in slots.items()})
        stores = "".join(f"    _set_{f.name}(o, {f.name})\n" for f in fields)
    else:
        stores = "    d = o.__dict__\n" + "".join(f"    d[{f.name!r}] = {f.name}\n" for f in fields)
    source = f"def make({', '.join(params)}):\n    o = new(cls)\n{stores}    return o\n"
    exec(source, namespace)  # (as `dataclasses` builds `__init__`)
    make: Callable[..., T] = namespace["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    return make


def _slot_setters(cls: type, names: list[str]) -> dict[str, Callable[[Any, Any], None]] | None:
    """Each field's slot setter if `cls` stores its fields in slots (None if in a `__dict__`).
    A class with slots for some fields and a `__dict__` for others is refused."""
    found: dict[str, Callable[[Any, Any], None]] = {}
    for name in names:
        owner = next((k for k in cls.__mro__ if name in k.__dict__), None)
        descriptor = owner.__dict__[name] if owner is not None else None
        if isinstance(descriptor, types.MemberDescriptorType):
            found[name] = descriptor.__set__
    if not found:
        return None
    if len(found) != len(names):
        raise TypeError(f"{cls.__name__}: fields partly in slots, partly in __dict__ are not supported")
    return found
