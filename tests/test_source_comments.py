"""Every line of generated code that computes something says which DSL line it comes from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import load_shared

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.dsl"))
# Lines that compute nothing of the model: the array namespace, dims read from argument shapes, the return.
PLUMBING = re.compile(r"^    (xp = array_namespace\(.*\)|\w+ = \w+\.shape\[\d+\]|return .*)$")
COMMENT = re.compile(r"  # (\S+):(\d+)$")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_computing_line_points_to_its_source_line(path: Path) -> None:
    mod = load_shared(path)
    sources = {str(path): path.read_text().split("\n"), "<stdlib>": None}
    for name in mod.names:
        if mod.signature(name) == "(generic: typed at each call)":
            continue
        body = mod.emit(name).split("\ndef ", 1)[1].split("\n")[1:]
        lines = [ln for ln in body if ln.strip() and not PLUMBING.match(ln)]
        assert lines, name
        for line in lines:
            m = COMMENT.search(line)
            assert m is not None, f"{path.name}:{name}: no source comment on {line!r}"
            file, number = m.group(1), int(m.group(2))
            assert file in sources or file.endswith(path.name), (name, line)
            text = sources.get(file) or sources[str(path)]
            if file != "<stdlib>":
                assert 1 <= number <= len(text) and text[number - 1].strip(), (name, line)
