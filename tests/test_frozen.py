"""`grammar.frozen.constructor`: the fast constructors of frozen dataclasses build the same objects
as the classes themselves (equal, same hash, still frozen), with or without slots, and refuse what
they cannot mimic; the AST's slots classes keep working with copy, pickle and `replace`."""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle

import pytest

from grammar import ast
from grammar.errors import Span
from grammar.frozen import constructor
from grammar.parser import parse
from semantics.diagram import Box, Node
from semantics.values import Pending, WireVal

SPAN = Span("m.dsl", 1, 2, 1, 5, "x = y")


@dataclasses.dataclass(frozen=True, slots=True)
class Slotted:
    a: int
    b: object = None


@pytest.mark.parametrize("cls, args", [
    (ast.Name, ("x", SPAN)), (ast.BinOp, ("+", ast.Name("a", None), ast.Num(1, True, None), SPAN)),
    (ast.Param, ("p", None, SPAN)), (ast.Param, ("p", None, SPAN, ast.Num(2.5, False, None))),
    (ast.Assign, (("a", "b"), ast.Name("c", None), SPAN, (SPAN, SPAN))),
    (Node, (Box("sin"), (0,), (1,))), (Node, (Box("const", (("value", 1.0),)), (), (2,), SPAN)),
    (WireVal, (3, None, SPAN)), (Pending, (str, 2, True, SPAN)),
    (Slotted, (1,)), (Slotted, (1, "b")),
])
def test_constructed_objects_equal_the_classes_own(cls, args):
    made, built = constructor(cls)(*args), cls(*args)
    assert type(made) is cls and made == built and repr(made) == repr(built)
    if cls.__hash__ is not None:
        assert hash(made) == hash(built)
    name = dataclasses.fields(cls)[-1].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, name, None)


def test_slots_instances_have_no_dict_and_are_complete():
    made = constructor(Slotted)(7)
    assert not hasattr(made, "__dict__") and (made.a, made.b) == (7, None)
    # (a new attribute is refused too; Python 3.11's frozen-slots `__setattr__` raises TypeError for
    # a name that is not a field, newer versions FrozenInstanceError or AttributeError)
    with pytest.raises((dataclasses.FrozenInstanceError, TypeError, AttributeError)):
        made.c = 1  # type: ignore[attr-defined]


def test_ast_nodes_are_slots_classes():
    """Every AST class stores its fields in slots: no per-node `__dict__` for the collector to track."""
    classes = [c for c in vars(ast).values() if dataclasses.is_dataclass(c) and c.__module__ == ast.__name__]
    assert len(classes) > 30
    for cls in classes:
        assert "__slots__" in cls.__dict__, cls.__name__
    module = parse("dim n\ndef f(x: f64[n]) -> f64 { y = sin(x) * 2.5\n return sum(y) }", "m.dsl")
    d = module.decls[1]
    assert not hasattr(d, "__dict__") and gc.is_tracked(d)
    assert not any(isinstance(o, dict) for o in gc.get_referents(d, d.returns.values[0], d.body[0].value))


def test_an_ast_survives_copy_pickle_and_replace():
    module = parse("dim n\ndef f(x: f64[n], k: f64 = 2) -> f64 { y, z = g(x[0:2], x)\n return sum(y * k) + (z ? 1 : -2.5) }\n"
                   "df = grad(f, wrt=x)\n", "m.dsl")
    for clone in (copy.copy(module), copy.deepcopy(module), pickle.loads(pickle.dumps(module)),
                  pickle.loads(pickle.dumps(module, protocol=2))):
        assert clone == module and hash(clone.decls) == hash(module.decls)
    d = module.decls[1]
    renamed = dataclasses.replace(d, name="h")
    assert renamed.name == "h" and renamed.params == d.params and renamed != d
    assert dataclasses.asdict(d)["name"] == "f" and dataclasses.astuple(d)[0] == "f"
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.name = "h"  # type: ignore[misc]


@dataclasses.dataclass(frozen=True, slots=True)
class SlottedChild(Slotted):  # (fields in the slots of two classes)
    c: int = 3


@pytest.mark.parametrize("cls, args", [(ast.BinOp, ("+", None, None, SPAN)), (SlottedChild, (1, 2, 4)), (Slotted, (1, "b"))])
def test_slots_instances_are_of_the_class_itself_and_pickle_as_its_own(cls, args):
    made = constructor(cls)(*args)
    assert made.__class__ is cls and type(made) is cls and not hasattr(made, "__dict__")
    assert pickle.loads(pickle.dumps(made)) == cls(*args) and copy.deepcopy(made) == made
    assert dataclasses.replace(made) == made and dataclasses.astuple(made) == args


def test_classes_it_cannot_mimic_are_refused():
    @dataclasses.dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x > 0

    @dataclasses.dataclass(frozen=True)
    class Factory:
        xs: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Base:
        x: int

    @dataclasses.dataclass(frozen=True)
    class Mixed(Base):  # x in a slot, y in the instance's __dict__
        y: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Final:  # (a slots class is built through a subclass, which this one forbids)
        x: int

        def __init_subclass__(cls) -> None:
            raise TypeError("no subclasses")

    for cls in (Checked, Factory, Mixed, Final):
        with pytest.raises(TypeError):
            constructor(cls)
