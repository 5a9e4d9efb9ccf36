"""Drawing a diagram: SVG in pure Python (the layered layout of `semantics.layout`), PNG through
the optional pure-pip rasteriser `resvg_py`, and Graphviz DOT text as an export option.

The picture follows the string-diagram convention: inputs at the top, outputs at the bottom,
boxes labelled with their primitive and static parameters, wires labelled with their types
(`wire_types=False` drops them), copy as a dot where a wire splits, discard as a dot where a wire
ends, swaps as crossing wires. Output is deterministic, so drawings are snapshot-tested.

>>> from semantics.diagram import box, make_box
>>> from semantics.types import scalar
>>> svg = to_svg(box(make_box("sin"), [scalar("f64")], [scalar("f64")]))
>>> svg.startswith("<svg") and ">sin</text>" in svg
True
>>> print(to_dot(box(make_box("sin"), [scalar("f64")], [scalar("f64")])).splitlines()[0])
digraph diagram {
"""

from __future__ import annotations

import os
import shutil
import subprocess

from grammar.errors import DslError
from semantics.diagram import Diagram
from semantics.layout import BOX_H, Layout, Vertex, layout

FORMATS = ("svg", "png", "dot")
_STYLE = (
    "text{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;font-size:12px;fill:#222}"
    ".t{font-size:10px;fill:#777}.io{font-size:12px;font-style:italic}.title{font-size:13px;font-weight:bold}"
    ".w{fill:none;stroke:#333;stroke-width:1.4}.b{fill:#eef3fb;stroke:#35507a;stroke-width:1.2}"
    ".g{fill:#fbf1e4;stroke:#8a5a1e;stroke-width:1.2}.c{fill:#f4f4f4;stroke:#777;stroke-width:1}"
    ".dot{fill:#333}"
)


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(d: Diagram, title: str | None = None) -> str:
    c = d.canonical
    lines = ["digraph diagram {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=11];',
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


def _f(v: float) -> str:
    return f"{v:.1f}"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _wire_path(points: tuple[tuple[float, float], ...]) -> str:
    """Cubic segments with vertical tangents between consecutive points; straight through dummy bands."""
    (x0, y0), parts = points[0], [f"M{_f(points[0][0])},{_f(points[0][1])}"]
    for x1, y1 in points[1:]:
        if x1 == x0:
            parts.append(f"L{_f(x1)},{_f(y1)}")
        else:
            ym = (y0 + y1) / 2
            parts.append(f"C{_f(x0)},{_f(ym)} {_f(x1)},{_f(ym)} {_f(x1)},{_f(y1)}")
        x0, y0 = x1, y1
    return "".join(parts)


def _stub(x: float, y0: float, y1: float) -> str:
    return f'<path class="w" d="M{_f(x)},{_f(y0)}L{_f(x)},{_f(y1)}"/>'


def _vertex_svg(v: Vertex) -> list[str]:
    x, y, w = v.x, v.y, v.width
    label = _esc(v.label)
    if v.kind in ("box", "gen"):
        return [f'<rect class="{"g" if v.kind == "gen" else "b"}" x="{_f(x - w / 2)}" y="{_f(y - BOX_H / 2)}" '
                f'width="{_f(w)}" height="{_f(BOX_H)}" rx="4"/>',
                f'<text x="{_f(x)}" y="{_f(y + 4)}" text-anchor="middle">{label}</text>']
    if v.kind == "const":
        return [f'<ellipse class="c" cx="{_f(x)}" cy="{_f(y)}" rx="{_f(w / 2)}" ry="{_f(BOX_H / 2)}"/>',
                f'<text x="{_f(x)}" y="{_f(y + 4)}" text-anchor="middle">{label}</text>']
    top, bottom = y - BOX_H / 2, y + BOX_H / 2
    if v.kind in ("copy", "discard"):
        return [_stub(x, top, bottom if v.kind == "copy" else y), f'<circle class="dot" cx="{_f(x)}" cy="{_f(y)}" r="3.5"/>']
    if v.kind == "input":
        return [_stub(x, y - 4, bottom), f'<text class="io" x="{_f(x)}" y="{_f(y - 8)}" text-anchor="middle">{label}</text>']
    if v.kind == "output":
        return [_stub(x, top, y + 4), f'<text class="io" x="{_f(x)}" y="{_f(y + 18)}" text-anchor="middle">{label}</text>']
    return []  # dummy vertices are drawn by their wire


def render_svg(lay: Layout, title: str = "", wire_types: bool = True) -> str:
    """The SVG text of a layout (deterministic: coordinates rounded to 0.1 px)."""
    width = max(lay.width, 7.0 * len(title) + 24)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(lay.height)}" '
           f'viewBox="0 0 {_f(width)} {_f(lay.height)}">', f"<style>{_STYLE}</style>",
           '<rect width="100%" height="100%" fill="white"/>']
    if title:
        out.append(f'<text class="title" x="12" y="18">{_esc(title)}</text>')
    for wire in lay.wires:
        out.append(f'<path class="w" d="{_wire_path(wire.points)}"/>')
    if wire_types:
        for wire in lay.wires:
            if wire.label:
                (x, y) = wire.points[0]
                out.append(f'<text class="t" x="{_f(x + 4)}" y="{_f(y + 13)}">{_esc(wire.label)}</text>')
    for v in lay.vertices:
        out += _vertex_svg(v)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def to_svg(d: Diagram, wire_types: bool = True, title: str | None = None) -> str:
    """The diagram as SVG text (inputs at the top, outputs at the bottom)."""
    if title is None:
        title = f"{d.name} : {d.signature}" if d.name else d.signature
    return render_svg(layout(d, top=18.0 if title else 0.0, wire_types=wire_types), title, wire_types)


def to_png(d: Diagram, wire_types: bool = True, zoom: float = 2.0) -> bytes:
    """The drawing as PNG bytes, through the optional pure-pip rasteriser `resvg_py`."""
    try:
        import resvg_py  # optional: pip install 'dsl-diagrams[png]'
    except ImportError:
        raise DslError("PNG output needs the rasteriser resvg_py: pip install 'dsl-diagrams[png]' "
                       "(or pip install resvg_py); .svg and .dot work without it") from None
    return bytes(resvg_py.svg_to_bytes(svg_string=to_svg(d, wire_types), zoom=zoom, background="white"))


def draw(d: Diagram, path: str, wire_types: bool = True) -> str:
    """Write the drawing to `path`: .svg (pure Python), .png (needs `resvg_py`) or .dot (Graphviz text).
    Returns the path written."""
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext == "svg":
        data: str | bytes = to_svg(d, wire_types)
    elif ext == "png":
        data = to_png(d, wire_types)
    elif ext == "dot":
        data = to_dot(d) + "\n"
    elif ext == "pdf" and shutil.which("dot"):
        subprocess.run(["dot", "-Tpdf", "-o", path], input=to_dot(d).encode(), check=True)
        return path
    else:
        raise DslError(f"cannot draw to '{path}': the extension must be one of .svg, .png, .dot"
                       f"{' (.pdf needs Graphviz dot)' if ext == 'pdf' else ''}")
    try:
        if isinstance(data, bytes):
            with open(path, "wb") as fb:
                fb.write(data)
        else:
            with open(path, "w", encoding="utf-8") as ft:
                ft.write(data)
    except OSError as err:
        raise DslError(f"cannot write {path}: {err.strerror}") from None
    return path
