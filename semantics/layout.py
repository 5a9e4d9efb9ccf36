"""A layered (Sugiyama-style) layout of a string diagram, in pure Python and deterministic.

Convention (the string-diagram one used by DisCoPy and most papers): **inputs at the top,
outputs at the bottom**, wires flow downwards. Every box, copy dot (a wire read several times),
discard dot (a wire read by nobody), input and output is a *vertex* on a *rank* (a horizontal
layer); a wire that spans several ranks gets a dummy vertex on each rank it passes, so a wire
never runs through a box. Swaps are not boxes in the IR (a permutation of outputs): they appear
as wires that cross.

The steps are the classic ones (Sugiyama, Tagawa, Toda 1981):

1. ranks: longest path from the inputs; boxes without inputs (constants) sink to just above
   their first reader; all outputs share the last rank;
2. dummy vertices on long wires;
3. order within each rank: barycentre sweeps down and up (with port positions), keeping the
   order with the fewest crossings; inputs and outputs keep the diagram's boundary order;
4. x coordinates: per rank, the positions closest (least squares) to the neighbours' ports under
   the order and minimum-gap constraints — solved exactly by isotonic regression (pool adjacent
   violators), so long wires straighten and boxes centre under what feeds them.

Everything is linear or n log n per sweep, so 2,000 boxes lay out in about a second.

>>> from semantics.diagram import box, make_box
>>> from semantics.types import scalar
>>> f64 = scalar("f64")
>>> lay = layout(box(make_box("sin"), [f64], [f64]))
>>> [(v.kind, v.rank) for v in lay.vertices]
[('input', 0), ('box', 1), ('output', 2)]
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass, field
from heapq import heappop, heappush

from semantics.diagram import Box, Diagram
from semantics.primitives import PRIMITIVES
from semantics.printer import _format_index as format_index
from semantics.printer import format_number, format_static
from semantics.types import type_str

BOX_H = 26.0  # height of a box (and of the band a dummy vertex passes straight through)
RANK_GAP = 62.0  # vertical distance between rank centres
GAP = 18.0  # minimum horizontal gap between neighbouring vertices of a rank
CHAR_W = 7.0  # estimated width of one character of the box font (12 px sans-serif)
SWEEPS = 4  # ordering sweeps (each one down and one up)
PLACEMENT_PASSES = 4
DUMMY_BUDGET = 3  # dummy vertices allowed per real vertex (see `_add_dummies`)
MIN_DUMMIES = 600
LANE_GAP = 10.0  # distance between the side lanes of long wires


@dataclass(frozen=True)
class Vertex:
    """A placed vertex: `kind` is input, output, box, gen (generator box), const, copy, discard or dummy;
    (x, y) is its centre."""

    kind: str
    label: str
    rank: int
    x: float
    y: float
    width: float
    height: float
    n_in: int
    n_out: int

    def port_x(self, port: int, count: int) -> float:
        """The x of port `port` of `count` along the top or bottom edge (all at the centre for dots)."""
        if self.kind in ("copy", "discard", "dummy", "input", "output") or count <= 1:
            return self.x
        return self.x - self.width / 2 + self.width * (port + 0.5) / count


@dataclass(frozen=True)
class Wire:
    """One drawn wire: the points it passes (source port, dummy bands, target port) and its type label
    (empty for the branches after a copy dot, which repeat the type)."""

    points: tuple[tuple[float, float], ...]
    label: str


@dataclass(frozen=True)
class Layout:
    vertices: tuple[Vertex, ...]
    wires: tuple[Wire, ...]
    width: float
    height: float


@dataclass
class _V:
    kind: str
    label: str
    n_in: int
    n_out: int
    rank: int = 0
    x: float = 0.0
    width: float = field(init=False)
    height: float = field(init=False)

    def __post_init__(self) -> None:
        if self.kind in ("copy", "discard", "dummy"):
            self.width = 8.0
        else:
            text = CHAR_W * len(self.label) + (16 if self.kind not in ("input", "output") else 4)
            self.width = max(text, 14.0 * max(self.n_in, self.n_out, 1) + 8, 20.0)
        # every vertex fills its rank's band, so wires only bend between bands, where no box is;
        # dots, inputs and outputs are drawn with a straight stub through the band
        self.height = BOX_H


@dataclass
class _E:
    """A wire from (src vertex, output port) to (dst vertex, input port); `via` are its dummies."""

    src: int
    sport: int
    dst: int
    dport: int
    label: str
    via: list[int]
    lane: int = -1  # a wire too long for dummies runs down lane `lane` right of the drawing


def _graph(d: Diagram, wire_types: bool) -> tuple[list[_V], list[_E]]:
    """Vertices and edges of the diagram: copy dots for wires read several times, discard dots for
    wires read by nobody, in SSA order (so creation order is a topological order)."""
    verts: list[_V] = []
    edges: list[_E] = []
    readers: dict[int, list[tuple[int, int]]] = {}
    for k, node in enumerate(d.nodes):
        for i, w in enumerate(node.inputs):
            readers.setdefault(w, []).append((k, i))
    for j, w in enumerate(d.outputs):
        readers.setdefault(w, []).append((-1 - j, 0))
    source: dict[int, tuple[int, int]] = {}  # wire -> (vertex, port) its readers are wired to
    pending: list[tuple[int, int, int]] = []  # (wire, input port, reading vertex)

    def produce(w: int, vertex: int, port: int) -> None:
        rs = readers.get(w, [])
        label = type_str((d.types[w],)) if vertex_kind(vertex) != "input" else ""
        if len(rs) == 1:
            source[w] = (vertex, port)
            return
        verts.append(_V("copy" if rs else "discard", "", 1, len(rs)))
        edges.append(_E(vertex, port, len(verts) - 1, 0, label, []))
        source[w] = (len(verts) - 1, -1)

    def vertex_kind(v: int) -> str:
        return verts[v].kind

    for name, w in zip(d.param_names(), d.inputs):
        verts.append(_V("input", f"{name}: {type_str((d.types[w],))}" if wire_types else name, 0, 1))
        produce(w, len(verts) - 1, 0)
    for node in d.nodes:
        verts.append(_V(_kind(node.box), _box_label(node.box), len(node.inputs), len(node.outputs)))
        for i, w in enumerate(node.inputs):
            pending.append((w, i, len(verts) - 1))
        for p, w in enumerate(node.outputs):
            produce(w, len(verts) - 1, p)
    for j, w in enumerate(d.outputs):
        verts.append(_V("output", d_output_label(d, j), 1, 0))
        pending.append((w, 0, len(verts) - 1))
    branch: dict[int, int] = {}
    for w, port, dst in pending:
        v, p = source[w]
        if p < 0:  # a branch of a copy dot
            p = branch.get(v, 0)
            branch[v] = p + 1
            edges.append(_E(v, p, dst, port, "", []))
        else:
            edges.append(_E(v, p, dst, port, type_str((d.types[w],)) if verts[v].kind != "input" else "", []))
    return verts, edges


def d_output_label(d: Diagram, j: int) -> str:
    return f"out{j}" if len(d.outputs) > 1 else "out"


def _kind(box: object) -> str:
    kind = getattr(box, "kind", "prim")
    if kind == "gen":
        return "gen"
    return "const" if getattr(box, "name", "") == "const" else "box"


def _box_label(box: Box) -> str:
    """The primitive and its static parameters that differ from their defaults, as in the DSL text:
    `sum[axis=0]`, `[1:]` for indexing, `B` for a dim's size, the value of a constant."""
    params = box.param_dict
    if box.kind != "prim" or box.name not in PRIMITIVES:
        return str(box)
    if box.name == "const":
        return format_number(params["value"])
    if box.name == "dimsize":
        return str(params["dim"])
    if box.name == "index":
        return f"[{format_index(params['index'])}]"
    prim = PRIMITIVES[box.name]
    shown = [f"{p.name}={format_static(params[p.name])}" for p in prim.params
             if p.name in params and params[p.name] != p.default]
    return f"{box.name}[{', '.join(shown)}]" if shown else box.name


def _rank(verts: list[_V], edges: list[_E]) -> None:
    """Longest-path ranks; sources other than inputs sink to just above their first reader."""
    ins: list[list[int]] = [[] for _ in verts]
    outs: list[list[int]] = [[] for _ in verts]
    for e in edges:
        ins[e.dst].append(e.src)
        outs[e.src].append(e.dst)
    floating = [False] * len(verts)
    for v, vert in enumerate(verts):  # creation order is topological
        if vert.kind == "input":
            vert.rank = 0
        elif not ins[v]:
            floating[v], vert.rank = True, 1
        else:
            vert.rank = 1 + max(verts[u].rank for u in ins[v])
            floating[v] = vert.kind in ("copy", "discard") and all(floating[u] for u in ins[v])
    last = 1 + max((v.rank for v in verts if v.kind != "output"), default=0)
    for v in reversed(range(len(verts))):
        if verts[v].kind == "output":
            verts[v].rank = last
        elif floating[v] and outs[v]:
            verts[v].rank = min(verts[w].rank for w in outs[v]) - 1


def _add_dummies(verts: list[_V], edges: list[_E]) -> list[_E]:
    """Dummy vertices on the wires spanning several ranks, shortest wires first, within a budget of
    DUMMY_BUDGET x the real vertices (at least MIN_DUMMIES). A gradient reads forward values at
    the mirrored depth, so dummies for every wire would grow quadratically with depth; the wires
    past the budget are returned and run down lanes at the right of the drawing instead."""
    budget = max(MIN_DUMMIES, DUMMY_BUDGET * len(verts))
    spans = sorted((verts[e.dst].rank - verts[e.src].rank - 1, i) for i, e in enumerate(edges))
    long: list[_E] = []
    for span, i in spans:
        e = edges[i]
        if span > budget:
            e.lane = 0  # numbered by `_assign_lanes`
            long.append(e)
            continue
        budget -= span
        for r in range(verts[e.src].rank + 1, verts[e.dst].rank):
            verts.append(_V("dummy", "", 1, 1, r))
            e.via.append(len(verts) - 1)
    return long


def _assign_lanes(verts: list[_V], long: list[_E]) -> int:
    """Lanes for the long wires: interval colouring by start rank (a lane is reused once the wire
    in it has ended), which uses the fewest lanes. Returns the number of lanes."""
    free: list[tuple[int, int]] = []  # (rank where the lane's wire ends, lane)
    count = 0
    for e in sorted(long, key=lambda e: (verts[e.src].rank, verts[e.dst].rank, e.src, e.sport, e.dst, e.dport)):
        start = verts[e.src].rank
        if free and free[0][0] <= start:
            _, e.lane = heappop(free)
        else:
            e.lane, count = count, count + 1
        heappush(free, (verts[e.dst].rank, e.lane))
    return count


def _segments(edges: list[_E]) -> list[tuple[int, int, int, int]]:
    """Every edge as segments between adjacent ranks: (upper vertex, its port, lower vertex, its port);
    wires in side lanes take no part in ordering and placement."""
    segs = []
    for e in edges:
        if e.lane >= 0:
            continue
        chain = [e.src, *e.via, e.dst]
        ports = [e.sport] + [0] * len(e.via) + [e.dport]
        segs += [(chain[i], ports[i] if i == 0 else 0, chain[i + 1], ports[i + 1] if i + 1 == len(chain) - 1 else 0)
                 for i in range(len(chain) - 1)]
    return segs


def _crossings(upper: dict[int, float], lower: dict[int, float], segs: Sequence[tuple[int, int, int, int]],
               verts: list[_V]) -> int:
    """Crossings between two adjacent ranks: inversions of the lower ends sorted by upper end."""
    keys = sorted((upper[a] + _port_frac(verts[a], p, True), lower[b] + _port_frac(verts[b], q, False)) for a, p, b, q in segs)
    seen: list[float] = []
    count = 0
    for _, low in keys:
        count += len(seen) - bisect_right(seen, low)
        insort(seen, low)
    return count


def _port_frac(v: _V, port: int, bottom: bool) -> float:
    n = v.n_out if bottom else v.n_in
    return 0.0 if n <= 1 or v.kind in ("copy", "discard") else (port + 0.5) / n * 0.8 - 0.4


def _order(verts: list[_V], segs: list[tuple[int, int, int, int]]) -> list[list[int]]:
    """Vertices per rank, ordered by barycentre sweeps; the ordering with the fewest crossings wins."""
    n_ranks = 1 + max(v.rank for v in verts)
    layers: list[list[int]] = [[] for _ in range(n_ranks)]
    for i, v in enumerate(verts):
        layers[v.rank].append(i)
    by_upper: dict[int, list[tuple[int, int, int, int]]] = {r: [] for r in range(n_ranks)}
    up_nb: list[list[tuple[int, float]]] = [[] for _ in verts]  # (neighbour, port fraction)
    down_nb: list[list[tuple[int, float]]] = [[] for _ in verts]
    for s in segs:
        a, p, b, q = s
        by_upper[verts[a].rank].append(s)
        up_nb[b].append((a, _port_frac(verts[a], p, True) - _port_frac(verts[b], q, False)))
        down_nb[a].append((b, _port_frac(verts[b], q, False) - _port_frac(verts[a], p, True)))

    def total(ls: list[list[int]]) -> int:
        pos = [{v: float(i) for i, v in enumerate(layer)} for layer in ls]
        return sum(_crossings(pos[r], pos[r + 1], by_upper[r], verts) for r in range(n_ranks - 1))

    def sweep(r: int, ref: list[int], nbs: list[list[tuple[int, float]]]) -> None:
        pos = {v: i for i, v in enumerate(ref)}
        cur = {v: i for i, v in enumerate(layers[r])}

        def key(v: int) -> tuple[float, int]:
            ns = nbs[v]
            return (sum(pos[u] + f for u, f in ns) / len(ns) if ns else float(cur[v]), cur[v])

        layers[r].sort(key=key)

    best, best_count = [list(layer) for layer in layers], total(layers)
    for _ in range(SWEEPS):
        if best_count == 0:
            break
        for r in range(1, n_ranks - 1):
            sweep(r, layers[r - 1], up_nb)
        for r in range(n_ranks - 2, 0, -1):
            sweep(r, layers[r + 1], down_nb)
        count = total(layers)
        if count < best_count:
            best, best_count = [list(layer) for layer in layers], count
    return best


def _isotonic(targets: Sequence[float], weights: Sequence[float]) -> list[float]:
    """Weighted least-squares nondecreasing fit (pool adjacent violators), O(n)."""
    means: list[float] = []
    wsum: list[float] = []
    counts: list[int] = []
    for t, w in zip(targets, weights):
        m, c = t, 1
        while means and means[-1] > m:
            m1, w1 = means.pop(), wsum.pop()
            m = (m1 * w1 + m * w) / (w1 + w)
            w += w1
            c += counts.pop()
        means.append(m)
        wsum.append(w)
        counts.append(c)
    out: list[float] = []
    for m, c in zip(means, counts):
        out += [m] * c
    return out


def _offset(vert: _V, port: int, bottom: bool) -> float:
    """Where port `port` sits relative to the vertex centre (bottom: an output port)."""
    n = vert.n_out if bottom else vert.n_in
    if vert.kind in ("copy", "discard", "dummy", "input", "output") or n <= 1:
        return 0.0
    return vert.width * ((port + 0.5) / n - 0.5)


def _place(verts: list[_V], layers: list[list[int]], segs: list[tuple[int, int, int, int]],
           edges: list[_E]) -> None:
    """x coordinates: per rank, least squares to the neighbours' port positions under the order and
    the minimum gaps (isotonic regression on x minus the cumulative gaps)."""

    def offset(v: int, port: int, bottom: bool) -> float:
        return _offset(verts[v], port, bottom)

    # per vertex: (neighbour, where the neighbour must be for the wire to be vertical, relative to it)
    up: list[list[tuple[int, float]]] = [[] for _ in verts]
    down: list[list[tuple[int, float]]] = [[] for _ in verts]
    for a, p, b, q in segs:
        up[b].append((a, offset(a, p, True) - offset(b, q, False)))
        down[a].append((b, offset(b, q, False) - offset(a, p, True)))
    both = [u + d for u, d in zip(up, down)]
    widths = [v.width for v in verts]
    weight_of = [4.0 if v.kind == "dummy" else 1.0 for v in verts]  # dummies pull harder: straight wires
    xs = [0.0] * len(verts)
    shifts: list[list[float]] = []  # per layer: cumulative minimum distance from its first vertex
    for layer in layers:
        acc, prev, shift = 0.0, None, []
        for v in layer:
            if prev is not None:
                acc += (prev + widths[v]) / 2 + GAP
            prev = widths[v]
            shift.append(acc)
            xs[v] = acc
        shifts.append(shift)

    def fit(r: int, nbs: list[list[tuple[int, float]]]) -> None:
        layer, shift = layers[r], shifts[r]
        targets, weights = [], []
        for v, acc in zip(layer, shift):
            ns = nbs[v]
            if ns:
                targets.append(sum([xs[u] + du for u, du in ns]) / len(ns) - acc)
                weights.append(weight_of[v] * len(ns))
            else:
                targets.append(xs[v] - acc)
                weights.append(0.05)
        for v, y, acc in zip(layer, _isotonic(targets, weights), shift):
            xs[v] = y + acc

    # fewer passes on very large drawings keep 2,000 boxes within seconds (each pass is linear)
    passes = PLACEMENT_PASSES if len(verts) < 4000 else 2
    for _ in range(passes):
        for r in range(1, len(layers)):
            fit(r, up)
        for r in reversed(range(len(layers) - 1)):
            fit(r, down)
    for r in range(len(layers)):
        fit(r, both)
    for vert, x in zip(verts, xs):
        vert.x = x
    _straighten(verts, layers, edges)
    lo = min((v.x - v.width / 2 for v in verts), default=0.0)
    for vert in verts:
        vert.x -= lo


def _straighten(verts: list[_V], layers: list[list[int]], edges: list[_E]) -> None:
    """Make each long wire one vertical line where its rank neighbours leave room: at its source
    port's x, else its target port's x, else the median of its dummies (left as placed otherwise)."""
    where = {v: (r, i) for r, layer in enumerate(layers) for i, v in enumerate(layer)}

    def room(v: int, x: float) -> bool:
        r, i = where[v]
        layer = layers[r]
        if i > 0 and verts[layer[i - 1]].x + verts[layer[i - 1]].width / 2 + GAP > x - verts[v].width / 2:
            return False
        return not (i + 1 < len(layer) and verts[layer[i + 1]].x - verts[layer[i + 1]].width / 2 - GAP < x + verts[v].width / 2)

    for _ in range(2):
        for e in edges:
            if not e.via:
                continue
            xs = sorted(verts[m].x for m in e.via)
            src_x = verts[e.src].x + _offset(verts[e.src], e.sport, True)
            dst_x = verts[e.dst].x + _offset(verts[e.dst], e.dport, False)
            for x in (src_x, dst_x, xs[len(xs) // 2]):
                if all(room(m, x) for m in e.via):
                    for m in e.via:
                        verts[m].x = x
                    break


def layout(d: Diagram, margin: float = 24.0, top: float = 0.0, wire_types: bool = True) -> Layout:
    """Lay out diagram `d` (its canonical form, so equal diagrams get the same picture). Inputs are
    labelled `name: type` when `wire_types` (their wires then carry no separate type label)."""
    c = d.canonical
    verts, edges = _graph(c, wire_types)
    _rank(verts, edges)
    long = _add_dummies(verts, edges)
    segs = _segments(edges)
    layers = _order(verts, segs)
    _place(verts, layers, segs, edges)
    lanes = _assign_lanes(verts, long)
    y0 = top + margin + 18.0
    placed = tuple(Vertex(v.kind, v.label, v.rank, v.x + margin, y0 + v.rank * RANK_GAP, v.width, v.height,
                          v.n_in, v.n_out) for v in verts)
    right = max((v.x + v.width / 2 for v in placed), default=0.0) + GAP
    wires = []
    for e in edges:
        a, b = placed[e.src], placed[e.dst]
        pts = [(a.port_x(e.sport, a.n_out), a.y + a.height / 2)]
        if e.lane >= 0:  # across to the lane in the free band below the source, down, back above the target
            x = right + e.lane * LANE_GAP
            pts += [(x, a.y + RANK_GAP / 2), (x, b.y - RANK_GAP / 2)]
        for m in e.via:
            pts += [(placed[m].x, placed[m].y - BOX_H / 2), (placed[m].x, placed[m].y + BOX_H / 2)]
        pts.append((b.port_x(e.dport, b.n_in), b.y - b.height / 2))
        wires.append(Wire(tuple(pts), e.label))
    width = max(right + lanes * LANE_GAP, max((v.x + v.width / 2 for v in placed), default=0.0)) + margin
    height = max((v.y for v in placed), default=0.0) + margin + 18.0
    return Layout(placed, tuple(wires), width, height)
