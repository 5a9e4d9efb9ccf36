"""`constructor(cls)`: a fast way to build instances of a frozen dataclass, for the hot loops.

(In `grammar/`, the bottom layer, so that the parser and the passes above it share it.)

Why: the parser makes one AST node per construct of the source, and elaboration one node, one box
and a few values per operation; a frozen dataclass's generated `__init__` sets each field through
`object.__setattr__` (it must get past the frozen `__setattr__`), after a class call that Python
cannot inline. The function made here stores the fields directly, which is what those calls end
up doing:

- for a `@dataclass(frozen=True, slots=True)` class (the hot ones), into a *twin*: a subclass
  that adds no slot and keeps `object`'s `__setattr__`, whose instance takes the plain slot stores
  that Python's interpreter specialises (`o.x = x`, a few machine instructions each), and then
  becomes an instance of the frozen class by `__class__` assignment, which Python allows between
  a class and a subclass of the same layout. Measured with callgrind, a 4-field node costs half
  the instructions it took through the slots' member descriptors (`cls.__dict__[name].__set__`, a
  C call through an argument tuple per field), and a parse of one-line defs 14% fewer;
- for a class without slots, into the instance's `__dict__`.

The instance is as frozen as any other (assigning an attribute raises), equal to and hashed and
pickled like one built by `cls(...)`, and of exactly that class. It is generated from the
dataclass's fields, as `dataclasses` generates `__init__`, so it follows any change to the fields;
classes with a `__post_init__`, `init=False` fields or default factories are refused.

Slots classes are what the hot classes should be: an instance without a `__dict__` is one object
for the cyclic garbage collector to track instead of two, and smaller (see `grammar/ast.py`).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_MADE: dict[type, Callable[..., Any]] = {}  # class -> its constructor: one (and one twin) per class


def constructor(cls: type[T]) -> Callable[..., T]:
    """A function that builds `cls` (a frozen dataclass, with or without slots) exactly as
    `cls(...)` does, with the same parameters and defaults, in about half the time. Made once per
    class: the modules that build a class each ask for it and get the same function.

    >>> from grammar import ast
    >>> make_name = constructor(ast.Name)
    >>> make_name("x", None) == ast.Name("x", None), type(make_name("x", None)).__name__
    (True, 'Name')
    >>> constructor(ast.Param)("p", None, None) == ast.Param("p", None, None), constructor(ast.Name) is make_name
    (True, True)
    """
    if cls not in _MADE:
        _MADE[cls] = _make_constructor(cls)
    return _MADE[cls]


def _make_constructor(cls: type[T]) -> Callable[..., T]:
    """`constructor`'s function for `cls`, generated from its fields."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__}: only plain frozen dataclasses are supported")
    if any(f.name.startswith("_frozen_") for f in fields):  # (the generated code's own names)
        raise TypeError(f"{cls.__name__}: field names starting with _frozen_ are not supported")
    namespace: dict[str, Any] = {"_frozen_new": object.__new__, "_frozen_cls": cls}
    params = []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            namespace[f"_frozen_default_{f.name}"] = f.default
            params.append(f"{f.name}=_frozen_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: default factories are not supported")
        else:
            params.append(f.name)
    source = f"def make({', '.join(params)}):\n{_stores(cls, [f.name for f in fields], namespace)}    return _frozen_obj\n"
    exec(source, namespace)  # (as `dataclasses` builds `__init__`)
    make: Callable[..., T] = namespace["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    return make


def _stores(cls: type, names: list[str], namespace: dict[str, Any]) -> str:
    """The body of `make` up to its return: `_frozen_obj` made and its fields stored (the names it
    uses are added to `namespace`)."""
    if not _in_slots(cls, names):
        return "    _frozen_obj = _frozen_new(_frozen_cls)\n    _frozen_dict = _frozen_obj.__dict__\n" + "".join(
            f"    _frozen_dict[{name!r}] = {name}\n" for name in names)
    namespace["_frozen_twin"] = _twin(cls)  # plain slot stores, then the class (see the module doc)
    stores = "".join(f"    _frozen_obj.{name} = {name}\n" for name in names)
    return f"    _frozen_obj = _frozen_twin()\n{stores}    _frozen_obj.__class__ = _frozen_cls\n"


def _in_slots(cls: type, names: list[str]) -> bool:
    """Whether `cls` stores its fields in slots (False: in a `__dict__`). A class with slots for
    some fields and a `__dict__` for others is refused."""
    found = 0
    for name in names:
        owner = next((k for k in cls.__mro__ if name in k.__dict__), None)
        found += owner is not None and isinstance(owner.__dict__[name], types.MemberDescriptorType)
    if found and found != len(names):
        raise TypeError(f"{cls.__name__}: fields partly in slots, partly in __dict__ are not supported")
    return found > 0


def _twin(cls: type) -> type:
    """A subclass of the slots class `cls` that adds no slot (so the same layout: Python lets its
    instances become `cls`'s by `__class__` assignment) and lets its fields be assigned: `object`'s
    own `__setattr__` and an `__init__` that takes nothing, instead of the frozen ones."""
    namespace = {"__slots__": (), "__module__": cls.__module__, "__init__": object.__init__,
                 "__setattr__": object.__setattr__, "__delattr__": object.__delattr__}
    twin = type(f"{cls.__name__}Twin", (cls,), namespace)
    try:
        twin().__class__ = cls  # (Python checks the layouts here)
    except TypeError as err:
        raise TypeError(f"{cls.__name__}: its instances cannot be built through a subclass ({err})") from None
    return twin
