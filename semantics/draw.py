"""Drawing a diagram: Graphviz DOT text (deterministic), rendered to SVG/PNG when `dot` is installed.

Boxes are nodes, wires are edges labelled with their types; inputs on the left, outputs on the
right — the string-diagram picture, read left to right.

>>> from semantics.diagram import box, make_box
>>> from semantics.types import scalar
>>> print(to_dot(box(make_box("sin"), [scalar("f64")], [scalar("f64")])).splitlines()[0])
digraph diagram {
"""

from __future__ import annotations

import os
import shutil
import subprocess

from semantics.diagram import Diagram


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(d: Diagram, title: str | None = None) -> str:
    c = d.canonical
    lines = ["digraph diagram {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    if title or d.name:
        lines.append(f'  label="{_label(title or d.name)} : {_label(d.signature)}"; labelloc=t;')
    source: dict[int, str] = {}
    for i, (w, name) in enumerate(zip(c.inputs, c.param_names())):
        lines.append(f'  in{i} [shape=plaintext, label="{_label(name)}"];')
        source[w] = f"in{i}"
    for k, node in enumerate(c.nodes):
        box = node.box
        if box.kind == "prim" and box.name == "const":
            label, shape = str(box.param_dict["value"]), "ellipse"
        else:
            label, shape = str(box), "box" if box.kind == "prim" else "box3d"
        lines.append(f'  n{k} [shape={shape}, label="{_label(label)}"];')
        for w in node.inputs:
            lines.append(f'  {source[w]} -> n{k} [label="{_label(str(c.types[w]))}"];')
        for w in node.outputs:
            source[w] = f"n{k}"
    for i, w in enumerate(c.outputs):
        lines.append(f'  out{i} [shape=plaintext, label="out{i if len(c.outputs) > 1 else ""}"];')
        lines.append(f'  {source[w]} -> out{i} [label="{_label(str(c.types[w]))}"];')
    lines.append("}")
    return "\n".join(lines)


def draw(d: Diagram, path: str) -> str:
    """Write the drawing to `path` (.dot always works; .svg/.png/.pdf need Graphviz's `dot`).
    Returns the path written."""
    text = to_dot(d)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext in ("svg", "png", "pdf") and shutil.which("dot"):
        subprocess.run(["dot", f"-T{ext}", "-o", path], input=text.encode(), check=True)
        return path
    if ext != "dot":
        path = os.path.splitext(path)[0] + ".dot"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return path
