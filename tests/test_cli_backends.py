"""The CLI advertises exactly the backends and targets codegen registers (one registry: codegen.BACKENDS
/ codegen.TARGETS), and each advertised backend is a real one."""

from __future__ import annotations

import re

import pytest

from codegen import BACKENDS, TARGETS
from dsl.cli import build_parser, main


def _help(*argv: str) -> str:
    sub = build_parser()._subparsers._group_actions[0].choices[argv[0]]  # type: ignore[union-attr]
    return " ".join(sub.format_help().split())


@pytest.mark.parametrize(("command", "option", "registry"), [("run", "--backend", BACKENDS), ("emit", "--target", TARGETS)])
def test_help_lists_the_registry(command: str, option: str, registry: tuple[str, ...]) -> None:
    text = _help(command)
    listed = re.search(rf"{option} \w+ ([^;]*?)(;|$| -)", text)
    assert listed is not None, text
    names = [n.strip() for n in re.sub(r"\([^)]*\)", "", listed.group(1)).split(",")]
    assert [n for n in names if n] == list(registry), text
    for other in ("cupy", "cuda", "jax", "dask"):
        if other not in registry:
            assert not re.search(rf"\b{other}\b", re.sub(r"\([^)]*\)", "", listed.group(1))), other


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_listed_backend_is_known(backend: str, tmp_path, capsys) -> None:
    """Each listed backend runs, or (its toolchain or device missing here) fails with a clear error,
    never "unknown backend"."""
    src = tmp_path / "m.dsl"
    src.write_text("dim n\ndef f(x: f64[n]) -> f64 { return sum(sin(x)) }\n")
    rc = main(["run", str(src), "f", "--random", "0", "--dims", "n=4", "--backend", backend])
    out = capsys.readouterr()
    assert "unknown backend" not in out.err and "Traceback" not in out.err
    assert rc == 0 and out.out.strip() if backend in ("numpy", "interpret") else rc in (0, 1)
