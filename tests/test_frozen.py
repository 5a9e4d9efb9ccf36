"""`grammar.frozen.constructor`: the fast constructors of frozen dataclasses build the same objects
as the classes themselves (equal, same hash, still frozen), and refuse what they cannot mimic."""

from __future__ import annotations

import dataclasses

import pytest

from grammar import ast
from grammar.errors import Span
from grammar.frozen import constructor
from semantics.diagram import Box, Node
from semantics.values import Pending, WireVal

SPAN = Span("m.dsl", 1, 2, 1, 5, "x = y")


@pytest.mark.parametrize("cls, args", [
    (ast.Name, ("x", SPAN)), (ast.BinOp, ("+", ast.Name("a", None), ast.Num(1, True, None), SPAN)),
    (ast.Param, ("p", None, SPAN)), (ast.Param, ("p", None, SPAN, ast.Num(2.5, False, None))),
    (ast.Assign, (("a", "b"), ast.Name("c", None), SPAN, (SPAN, SPAN))),
    (Node, (Box("sin"), (0,), (1,))), (Node, (Box("const", (("value", 1.0),)), (), (2,), SPAN)),
    (WireVal, (3, None, SPAN)), (Pending, (str, 2, True, SPAN)),
])
def test_constructed_objects_equal_the_classes_own(cls, args):
    made, built = constructor(cls)(*args), cls(*args)
    assert type(made) is cls and made == built and repr(made) == repr(built)
    if cls.__hash__ is not None:
        assert hash(made) == hash(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.span = None


def test_classes_it_cannot_mimic_are_refused():
    @dataclasses.dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x > 0

    @dataclasses.dataclass(frozen=True)
    class Factory:
        xs: list[int] = dataclasses.field(default_factory=list)

    for cls in (Checked, Factory):
        with pytest.raises(TypeError):
            constructor(cls)
