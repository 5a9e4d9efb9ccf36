"""Drawing string diagrams as SVG without Graphviz: the pictures' invariants are checked on the SVG
text itself (every wire path sampled against every box), outputs are deterministic and the
forward definitions of the examples are snapshot-tested (DSL_UPDATE_SNAPSHOTS=1 rewrites)."""

from __future__ import annotations

import bisect
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings

import dsl
from semantics.diagram import Builder, make_box
from semantics.draw import draw, to_dot, to_png, to_svg
from semantics.layout import DUMMY_BUDGET, MIN_DUMMIES, layout
from semantics.program import DerivedDef, DiagramDef
from semantics.types import scalar
from tests.helpers import load_shared
from tests.strategies import VEC, diagrams

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.dsl"))
SNAPSHOTS = Path(__file__).parent / "snapshots" / "draw"


def _all_definitions():
    for path in EXAMPLES:
        mod = load_shared(path)
        for name in mod.names:
            yield pytest.param(path, name, id=f"{path.stem}:{name}")


# ------------------------------------------------------------------ reading the SVG back


def _boxes(svg: str) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of every box and constant drawn."""
    out = []
    for x, y, w, h in re.findall(r'<rect class="[bg]" x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg):
        out.append((float(x), float(y), float(x) + float(w), float(y) + float(h)))
    for cx, cy, rx, ry in re.findall(r'<ellipse class="c" cx="([-\d.]+)" cy="([-\d.]+)" rx="([\d.]+)" ry="([\d.]+)"', svg):
        out.append((float(cx) - float(rx), float(cy) - float(ry), float(cx) + float(rx), float(cy) + float(ry)))
    return out


def _sample_path(d: str, steps: int = 24) -> list[tuple[float, float]]:
    """Points along an SVG path made of M, L and C commands."""
    pts: list[tuple[float, float]] = []
    cur = (0.0, 0.0)
    for cmd, args in re.findall(r"([MLC])([^MLC]*)", d):
        nums = [float(v) for v in re.findall(r"-?[\d.]+", args)]
        if cmd == "M":
            cur = (nums[0], nums[1])
        elif cmd == "L":
            end = (nums[0], nums[1])
            pts += [(cur[0] + (end[0] - cur[0]) * t / steps, cur[1] + (end[1] - cur[1]) * t / steps) for t in range(steps + 1)]
            cur = end
        else:
            p1, p2, p3 = (nums[0], nums[1]), (nums[2], nums[3]), (nums[4], nums[5])
            for i in range(steps + 1):
                t = i / steps
                a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
                pts.append((a * cur[0] + b * p1[0] + c * p2[0] + e * p3[0], a * cur[1] + b * p1[1] + c * p2[1] + e * p3[1]))
            cur = p3
    return pts


def _wires_avoid_boxes(svg: str) -> None:
    """No sampled point of any wire lies inside a box (1 px inside the border: wires end on it).
    Boxes are grouped by band (boxes of a rank share their y range) and bisected by x; the bands
    are sorted by top edge, so a point is tested only against the bands whose top lies within the
    tallest band's height above it (every band that can contain it), not against every band."""
    groups: dict[tuple[float, float], list[tuple[float, float]]] = {}
    for x0, y0, x1, y1 in _boxes(svg):
        groups.setdefault((y0 + 1, y1 - 1), []).append((x0 + 1, x1 - 1))
    bands = sorted((y0, y1, sorted(spans)) for (y0, y1), spans in groups.items())
    tops = [b[0] for b in bands]
    tallest = max((y1 - y0 for y0, y1, _ in bands), default=0.0)
    for d in re.findall(r'<path class="w" d="([^"]+)"', svg):
        for x, y in _sample_path(d):
            for y0, y1, spans in bands[bisect.bisect_right(tops, y - tallest):bisect.bisect_left(tops, y)]:
                if y0 < y < y1:
                    i = bisect.bisect_right(spans, (x, float("inf"))) - 1
                    assert i < 0 or not (spans[i][0] < x < spans[i][1]), f"wire through a box at {(x, y)}"


# ------------------------------------------------------------------ every example


@pytest.mark.parametrize(("path", "name"), list(_all_definitions()))
def test_every_example_draws_with_wires_around_boxes(path, name):
    d = load_shared(path)[name]
    svg = to_svg(d)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert len(_boxes(svg)) == len(d.nodes)  # one box (or constant) per node, none hidden
    _wires_avoid_boxes(svg)
    lay = layout(d)
    ins = [v.y for v in lay.vertices if v.kind == "input"]
    outs = [v.y for v in lay.vertices if v.kind == "output"]
    boxes = [v.y for v in lay.vertices if v.kind in ("box", "gen", "const")]
    assert max(ins) < min(boxes) and max(boxes) < min(outs)  # inputs on top, outputs at the bottom
    assert to_svg(d) == svg  # deterministic


def _forward_definitions():
    for path in EXAMPLES:
        mod = dsl.load(path)
        for name in mod.names:
            if isinstance(mod.definition(name), DiagramDef):
                yield pytest.param(path, name, id=f"{path.stem}:{name}")


@pytest.mark.parametrize(("path", "name"), list(_forward_definitions()))
def test_snapshot_of_example_drawings(path, name):
    """Forward definitions only: their diagrams come from elaboration alone (a derived one changes
    whenever the optimiser improves, which is not a drawing change)."""
    svg = to_svg(load_shared(path)[name])
    snap = SNAPSHOTS / f"{path.stem}.{name}.svg"
    if os.environ.get("DSL_UPDATE_SNAPSHOTS") == "1" or not snap.exists():
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_text(svg, encoding="utf-8")
    assert svg == snap.read_text(encoding="utf-8"), f"drawing changed; review and rerun with DSL_UPDATE_SNAPSHOTS=1 ({snap})"


def test_derived_definitions_draw_too():
    mod = load_shared(ROOT / "examples" / "mlp.dsl")
    assert isinstance(mod.definition("dloss"), DerivedDef)
    svg = mod["dloss"].draw()
    assert "dloss : " in svg and ">matmul</text>" in svg


# ------------------------------------------------------------------ structure of the picture


@settings(max_examples=25, deadline=None)
@given(diagrams(max_nodes=8))
def test_random_diagrams_wires_never_cross_boxes(d):
    _wires_avoid_boxes(to_svg(d))


def test_copy_discard_and_swap_are_dots_and_crossings():
    b = Builder()
    x, y = b.input(VEC), b.input(VEC)
    (s,) = b.add(make_box("sin"), [x], [VEC])
    b.add(make_box("cos"), [x], [VEC])  # read x twice: a copy dot; its output unused: a discard dot
    d = b.build([y, s])  # outputs swapped relative to the inputs
    lay = layout(d)
    kinds = [v.kind for v in lay.vertices]
    assert kinds.count("copy") == 1 and kinds.count("discard") == 1
    assert to_svg(d).count('<circle class="dot"') == 2
    # y (right input) reaches the left output: its wire crosses the one from sin
    y_wire = next(w for w in lay.wires if w.points[0][0] == max(v.x for v in lay.vertices if v.kind == "input"))
    assert y_wire.points[-1][0] < y_wire.points[0][0]


def test_labels_show_primitives_static_parameters_and_types():
    mod = dsl.loads("dim n\ndef f(u: f64[n]) -> f64 { return sum(u[1:] * 2.5, axis=0) }")
    svg = to_svg(mod["f"])
    for text in (">[1:]</text>", ">2.5</text>", ">sum[axis=0]</text>", ">u: f64[n]</text>", ">f64[n - 1]</text>"):
        assert text in svg, text
    plain = to_svg(mod["f"], wire_types=False)
    assert ">f64[n - 1]</text>" not in plain and ">u</text>" in plain


def test_equal_diagrams_draw_identically():
    """Interchange: independent boxes added in either order are the same diagram and picture."""
    f64 = scalar("f64")

    def build(first: str, second: str):
        b = Builder()
        x, y = b.input(f64), b.input(f64)
        outs = {}
        for name, w in ((first, x if first == "sin" else y), (second, x if second == "sin" else y)):
            (outs[name],) = b.add(make_box(name), [w], [f64])
        return b.build([outs["sin"], outs["cos"]])

    assert build("sin", "cos") == build("cos", "sin")
    assert to_svg(build("sin", "cos")) == to_svg(build("cos", "sin"))


def test_long_wires_use_side_lanes_so_vertices_stay_linear():
    """A gradient reads forward values at the mirrored depth; dummies for all of them would be
    quadratic. The vertex count stays within the budget as depth doubles."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tests.test_cheap_gradient import residual_chain

    counts = {}
    for layers in (20, 40):
        d = dsl.loads(residual_chain(layers))["g"]
        lay = layout(d)
        real = sum(1 for v in lay.vertices if v.kind != "dummy")
        counts[layers] = len(lay.vertices)
        assert len(lay.vertices) <= real + max(MIN_DUMMIES, DUMMY_BUDGET * real)
    right = max(v.x + v.width / 2 for v in lay.vertices)
    assert sum(1 for w in lay.wires if w.points[1][0] > right) > 10  # the long wires run in side lanes
    _wires_avoid_boxes(to_svg(d))
    assert counts[40] <= 2.2 * counts[20], counts


# ------------------------------------------------------------------ files and formats


def test_draw_writes_svg_png_and_dot(tmp_path):
    d = dsl.load(ROOT / "examples" / "pointfree.dsl")["sincos"]
    assert Path(draw(d, str(tmp_path / "a.svg"))).read_text().startswith("<svg")
    assert Path(d.draw(str(tmp_path / "a.png"))).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(draw(d, str(tmp_path / "a.dot"))).read_text().startswith("digraph diagram {")
    assert 'label="sin"' in to_dot(d)
    with pytest.raises(dsl.DslError, match=r"\.svg, \.png, \.dot"):
        draw(d, str(tmp_path / "a.bmp"))


def test_png_without_rasteriser_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "resvg_py", None)  # import resvg_py now raises ImportError
    d = dsl.load(ROOT / "examples" / "pointfree.dsl")["sincos"]
    with pytest.raises(dsl.DslError, match=r"resvg_py.*\.svg and \.dot work without it"):
        to_png(d)


def test_cli_draw_svg_needs_no_graphviz(tmp_path, monkeypatch, capsys):
    from dsl.cli import main

    monkeypatch.setenv("PATH", "")  # no `dot` binary anywhere
    out = tmp_path / "loss.svg"
    assert main(["draw", str(ROOT / "examples" / "mlp.dsl"), "loss", "-o", str(out), "--no-types"]) == 0
    assert "wrote" in capsys.readouterr().out and out.read_text().startswith("<svg")
    assert main(["draw", str(ROOT / "examples" / "mlp.dsl"), "loss", "-o", str(tmp_path / "x.gif")]) == 1
    assert "extension" in capsys.readouterr().err
