"""Notebook display and the tutorial notebook.

`examples/tutorial.ipynb` is executed cell by cell, as a kernel would: in one namespace, from the
`examples/` folder, with the value of a cell's last expression displayed through its rich reprs
(`_repr_html_`, `_repr_svg_`, `_repr_latex_`, `_repr_markdown_`), each of which must render."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
from pathlib import Path

import pytest

import dsl
from tests.helpers import load_shared

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "tutorial.ipynb"
REPRS = ("_repr_html_", "_repr_svg_", "_repr_latex_", "_repr_markdown_")


def display(value: object) -> dict[str, str]:
    """What a notebook front end would be given: every rich repr that returns text."""
    shown = {}
    for name in REPRS:
        method = getattr(value, name, None)
        if callable(method):
            text = method()
            if text is not None:
                assert isinstance(text, str) and text, name
                shown[name] = text
    return shown


def run_cell(source: str, namespace: dict) -> tuple[str, dict[str, str]]:
    """Run a code cell; returns its printed output and the displayed reprs of its last expression."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tree, "<cell>", "exec"), namespace)
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None
    return out.getvalue(), (display(value) if value is not None else {})


def test_tutorial_notebook_runs_and_every_cell_shows_something(monkeypatch):
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert len(code) >= 8
    monkeypatch.chdir(ROOT / "examples")
    namespace: dict = {"__name__": "__notebook__"}
    shown = []
    for source in code:
        printed, reprs = run_cell(source, namespace)
        assert printed or reprs, f"cell shows nothing:\n{source}"
        shown.append((printed, reprs))
    kinds = {k for _, reprs in shown for k in reprs}
    assert {"_repr_html_", "_repr_svg_", "_repr_latex_"} <= kinds  # a module table, drawings, formulas
    text = "".join(p for p, _ in shown)
    for part in ("def dloss(", "linearize", "e-graph", "xp.", "finite difference", "True"):
        assert part in text, part


def test_diagram_and_module_reprs():
    mod = load_shared(ROOT / "examples" / "mlp.dsl")
    html = mod._repr_html_()
    assert "<table>" in html and "<code>dloss</code>" in html and "grad(loss)" in html and "-&gt;" in html
    assert mod["loss"]._repr_svg_().startswith("<svg")
    assert mod["loss"]._repr_latex_() is None  # matmul and mean have no scalar formula: markdown instead
    md = mod["loss"]._repr_markdown_()
    assert md.startswith("**loss** : `(f32[B, D]") and "def loss(" in md
    small = dsl.loads("def f(x: f64, y: f64) -> f64 { return exp(x) * y }\ng = grad(f)")
    assert small["f"]._repr_latex_() == r"$\displaystyle \mathrm{f}(x, y) = y e^{x}$"
    assert small["g"]._repr_latex_() == r"$\displaystyle \mathrm{g}(x, y) = \left(y e^{x}, e^{x}\right)$"


@pytest.mark.parametrize("name", ["sincos", "twist", "dsincos"])
def test_pointfree_definitions_render_as_formulas(name):
    d = load_shared(os.path.join(ROOT, "examples", "pointfree.dsl"))[name]
    latex = d._repr_latex_()
    assert latex is not None and latex.startswith(r"$\displaystyle \mathrm{" + name + "}(")
