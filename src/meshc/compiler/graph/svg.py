"""The graph as SVG, laid out by grandalf, for documentation and for viewers without Mermaid.

grandalf (https://github.com/bdcht/grandalf, pure Python, installed with
``pip install 'meshc[graph]'``) computes a layered (Sugiyama) layout:
layers, crossing reduction, coordinates, and edges bent around the nodes
through dummy vertices. It was chosen because it installs from PyPI with no
system library or binary (Graphviz's ``dot`` would need one, which CI does
not have), lays out a 2,000-service mesh in seconds, and a mesh spec is
layered by nature: callers, services, versions.

Namespaces are boxes, which a layered layout does not know about. As ELK
does by default for nested graphs (hierarchy handling "separate children"),
the layout runs bottom-up: first inside each namespace (its title as the top
layer, joined to the nodes nothing else in it points at), then once more
over the namespaces as nodes of their measured size, joined by the edges
that cross them. Edges inside a namespace follow grandalf's routes; an edge
between namespaces is drawn straight from box to box. Every coordinate comes
from grandalf; this module only measures text and writes the SVG.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from .model import Edge, MeshGraph, Node, members

INSTALL_HINT = "pip install 'meshc[graph]'"
FONT_SIZE = 12
CHAR_WIDTH = 7.0  # an average glyph of 12px Helvetica, rounded up
LABEL_CHAR_WIDTH = 6.0  # the same at 10px, for edge labels
LINE_HEIGHT = 16.0
PAD = 8.0
GROUP_PAD = 16.0
XSPACE = 24
YSPACE = 48


class LayoutUnavailable(Exception):
    """grandalf is not installed."""


@dataclass
class Box:
    """What grandalf lays out: a width, a height and, after layout, a centre."""

    w: float
    h: float
    xy: tuple[float, float] = (0.0, 0.0)


@dataclass
class Route:
    """grandalf's edge viewer: the points an edge passes through."""

    points: list[tuple[float, float]] = field(default_factory=list)
    head_angle: float = 0.0

    def setpath(self, pts: list[tuple[float, float]]) -> None:
        self.points = [(float(x), float(y)) for x, y in pts]


def _grandalf() -> Any:
    try:
        from grandalf import graphs, layouts, routing
    except ImportError:
        raise LayoutUnavailable(f"SVG output needs grandalf: {INSTALL_HINT}") from None
    return graphs, layouts, routing


def text_box(lines: Sequence[str], char_width: float = CHAR_WIDTH) -> Box:
    shown = [line for line in lines if line] or [""]
    width = max(len(line) for line in shown) * char_width + 2 * PAD
    return Box(max(width, 40.0), len(shown) * LINE_HEIGHT + PAD)


def _layout(names: Sequence[str], boxes: dict[str, Box],
            edges: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Route]:  # fmt: skip
    """Lay ``names`` out (centres into ``boxes``); the routes of ``edges``."""
    graphs, layouts, routing = _grandalf()
    vertices = {}
    for name in names:
        vertex = graphs.Vertex(name)
        vertex.view = boxes[name]
        vertices[name] = vertex
    links = []
    routes: dict[tuple[str, str], Route] = {}
    for source, target in edges:
        if (source, target) in routes or source == target:
            continue
        edge = graphs.Edge(vertices[source], vertices[target])
        edge.view = routes.setdefault((source, target), Route())
        links.append(edge)
    graph = graphs.Graph(list(vertices.values()), links)
    for component in graph.C:
        layout = layouts.SugiyamaLayout(component)
        layout.xspace, layout.yspace = XSPACE, YSPACE
        layout.route_edge = routing.route_with_lines
        layout.init_all()
        layout.draw(2)
    return routes


def _bounds(boxes: Iterable[Box]) -> tuple[float, float, float, float]:
    listed = list(boxes)
    return (
        min(b.xy[0] - b.w / 2 for b in listed), min(b.xy[1] - b.h / 2 for b in listed),
        max(b.xy[0] + b.w / 2 for b in listed), max(b.xy[1] + b.h / 2 for b in listed),
    )  # fmt: skip


@dataclass
class Placed:
    boxes: dict[str, Box]  # node id (and group id) -> box, final coordinates
    groups: dict[str, tuple[float, float, float, float]]  # group id -> x0, y0, x1, y1
    routes: dict[tuple[str, str], list[tuple[float, float]]]


def place(graph: MeshGraph) -> Placed:
    """Every node's box, every group's frame and the inner edges' routes."""
    grouped = members(graph)
    boxes = {n.id: text_box(n.lines) for n in graph.nodes.values()}
    inner = [e for e in graph.edges if graph.nodes[e.source].group
             and graph.nodes[e.source].group == graph.nodes[e.target].group]  # fmt: skip
    frames: dict[str, Box] = {}
    local: dict[str, tuple[list[str], dict[tuple[str, str], Route], tuple[float, ...]]] = {}
    for gid, group in graph.groups.items():
        nodes = [n.id for n in grouped.get(gid, [])]
        header = f"{gid}::title"
        boxes[header] = text_box([_title(group.title, group.meshed)])
        # An edge's label is a vertex of its own between its ends, as Graphviz
        # lays labels out: the layout keeps it clear of nodes and other labels.
        labelled: dict[tuple[str, str], list[str]] = {}
        for e in inner:
            if graph.nodes[e.source].group == gid:
                labelled.setdefault((e.source, e.target), []).append(_MARK[e.change] + e.label)
        edges: list[tuple[str, str]] = []
        label_ids = []
        for (source, target), lines in labelled.items():
            label = f"{source}::{target}::label"
            boxes[label] = text_box(lines, LABEL_CHAR_WIDTH)
            label_ids.append(label)
            edges += [(source, label), (label, target)]
        pointed = {t for _, t in edges}
        edges += [(header, n) for n in nodes if n not in pointed]
        names = [header, *nodes, *label_ids]
        routes = _layout(names, boxes, edges)
        for source, target in labelled:
            label = f"{source}::{target}::label"
            first, second = routes.pop((source, label)), routes.pop((label, target))
            routes[(source, target)] = Route(
                first.points[:-1] + [boxes[label].xy] + second.points[1:]
            )
        x0, y0, x1, y1 = _bounds(boxes[n] for n in names)
        frames[gid] = Box(x1 - x0 + 2 * GROUP_PAD, y1 - y0 + 2 * GROUP_PAD)
        local[gid] = (names, routes, (x0, y0, x1, y1))
    # The namespaces as nodes of their size, with the nodes of no namespace.
    loose = [n.id for n in grouped.get("", [])]
    top = {**frames, **{n: boxes[n] for n in loose}}
    owner = {n.id: (n.group or n.id) for n in graph.nodes.values()}
    crossing = [(owner[e.source], owner[e.target]) for e in graph.edges
                if owner[e.source] != owner[e.target]]  # fmt: skip
    _layout(list(top), top, crossing)
    placed = Placed(boxes={}, groups={}, routes={})
    for gid, (names, routes, (x0, y0, x1, y1)) in local.items():
        frame = frames[gid]
        dx = frame.xy[0] - (x0 + x1) / 2
        dy = frame.xy[1] - (y0 + y1) / 2
        for name in names:
            box = boxes[name]
            placed.boxes[name] = Box(box.w, box.h, (box.xy[0] + dx, box.xy[1] + dy))
        for key, route in routes.items():
            placed.routes[key] = [(x + dx, y + dy) for x, y in route.points]
        placed.groups[gid] = (frame.xy[0] - frame.w / 2, frame.xy[1] - frame.h / 2,
                              frame.xy[0] + frame.w / 2, frame.xy[1] + frame.h / 2)  # fmt: skip
    for name in loose:
        placed.boxes[name] = boxes[name]
    return placed


def _title(title: str, meshed: bool) -> str:
    return title if meshed else f"{title} (not meshed)"


def _border(box: Box, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from ``box``'s centre to ``toward`` leaves the box."""
    cx, cy = box.xy
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(box.w / 2 / abs(dx) if dx else float("inf"),
                box.h / 2 / abs(dy) if dy else float("inf"))  # fmt: skip
    return cx + dx * scale, cy + dy * scale


def _edge_points(edge: Edge, placed: Placed) -> list[tuple[float, float]]:
    source, target = placed.boxes[edge.source], placed.boxes[edge.target]
    route = placed.routes.get((edge.source, edge.target))
    if route and len(route) >= 2:
        points = list(route)
        points[0] = _border(source, points[1])
        points[-1] = _border(target, points[-2])
        return points
    return [_border(source, target.xy), _border(target, source.xy)]


def _text(x: float, y: float, lines: Sequence[str], cls: str) -> str:
    shown = [line for line in lines if line]
    top = y - (len(shown) - 1) * LINE_HEIGHT / 2
    spans = "".join(
        f'<tspan x="{x:.1f}" y="{top + i * LINE_HEIGHT + FONT_SIZE / 3:.1f}">'
        f"{xml_escape(line)}</tspan>"
        for i, line in enumerate(shown)
    )
    return f'<text class="{cls}">{spans}</text>'


_MARK = {"": "", "added": "+ ", "removed": "- "}
_STYLE = """
text { font-family: Helvetica, Arial, sans-serif; font-size: 12px; text-anchor: middle; }
.group rect { fill: #f6f8fa; stroke: #57606a; }
.group.unmeshed rect { stroke-dasharray: 6 4; fill: #ffffff; }
.group .title { font-weight: bold; }
.node rect { fill: #ffffff; stroke: #24292f; }
.node.version rect { fill: #ddf4ff; }
.node.workloads rect, .node.serviceaccount rect, .node.anyone rect { fill: #fff8c5; }
.edge path { fill: none; stroke: #24292f; marker-end: url(#arrow); }
.edge.route path { stroke-dasharray: 4 3; stroke: #0969da; }
.edge .label { font-size: 10px; fill: #57606a; paint-order: stroke; stroke: #ffffff;
  stroke-width: 3px; stroke-linejoin: round; }
.added rect, .edge.added path { stroke: #1a7f37; stroke-width: 3; }
.removed rect, .edge.removed path { stroke: #cf222e; stroke-width: 3; stroke-dasharray: 6 3; }
.added text, .edge.added .label { fill: #1a7f37; }
.removed text, .edge.removed .label { fill: #cf222e; }
"""


def render(graph: MeshGraph) -> str:
    if not graph.nodes:
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0" '
                'viewBox="0 0 0 0"></svg>\n')  # fmt: skip
    placed = place(graph)
    frames = [*placed.groups.values()]
    frames += [(b.xy[0] - b.w / 2, b.xy[1] - b.h / 2, b.xy[0] + b.w / 2, b.xy[1] + b.h / 2)
               for b in placed.boxes.values()]  # fmt: skip
    x0 = min(f[0] for f in frames) - PAD
    y0 = min(f[1] for f in frames) - PAD
    width = max(f[2] for f in frames) + PAD - x0
    height = max(f[3] for f in frames) + PAD - y0
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.1f} {y0:.1f} {width:.1f} '
            f'{height:.1f}" width="{width:.0f}" height="{height:.0f}">'
        ),
        f"<title>{xml_escape('mesh ' + graph.name)}</title>",
        f"<style>{_STYLE}</style>",
        (
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
            'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/>'
            "</marker></defs>"
        ),
    ]
    for gid, group in graph.groups.items():
        gx0, gy0, gx1, gy1 = placed.groups[gid]
        title = _MARK[group.change] + _title(group.title, group.meshed)
        header = placed.boxes[f"{gid}::title"]
        classes = " ".join(c for c in ("group", "" if group.meshed else "unmeshed", group.change)
                           if c)  # fmt: skip
        out.append(
            f'<g class="{classes}" id={quoteattr(gid)}><title>{xml_escape(title)}</title>'
            f'<rect x="{gx0:.1f}" y="{gy0:.1f}" width="{gx1 - gx0:.1f}" height="{gy1 - gy0:.1f}"'
            f' rx="6"/>{_text(header.xy[0], header.xy[1], [title], "title")}</g>'
        )
    labels = []
    # Parallel edges (several routes to one version) share one line and one label.
    bundles: dict[tuple[str, str, str, str], list[Edge]] = {}
    for edge in graph.edges:
        bundles.setdefault((edge.source, edge.target, edge.kind, edge.change), []).append(edge)
    for (source, target, kind, change), bundle in bundles.items():
        points = _edge_points(bundle[0], placed)
        path = "M " + " L ".join(f"{x:.1f} {y:.1f}" for x, y in points)
        label_box = placed.boxes.get(f"{source}::{target}::label")
        lx, ly = label_box.xy if label_box is not None else _along(points, 0.6)
        lines = [_MARK[change] + edge.label for edge in bundle]
        classes = " ".join(c for c in ("edge", kind, change) if c)
        titles = "; ".join(_edge_title(edge, graph) for edge in bundle)
        out.append(f'<g class="{classes}"><title>{xml_escape(titles)}</title>'
                   f'<path d="{path}"/></g>')  # fmt: skip
        labels.append(f'<g class="{classes}">{_text(lx, ly, lines, "label")}</g>')
    for node in graph.nodes.values():
        box = placed.boxes[node.id]
        x, y = box.xy[0] - box.w / 2, box.xy[1] - box.h / 2
        lines = [_MARK[node.change] + node.lines[0], *node.lines[1:]]
        classes = " ".join(c for c in ("node", node.kind, node.change) if c)
        radius = 10 if node.kind in ("version", "anyone") else 3
        out.append(
            f'<g class="{classes}" id={quoteattr(node.id)}><title>{xml_escape(node.lines[0])}'
            f'</title><rect x="{x:.1f}" y="{y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}"'
            f' rx="{radius}"/>{_text(box.xy[0], box.xy[1], lines, "label")}</g>'
        )
    # Labels last, over nodes and lines, each on a white halo.
    out += labels
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _along(points: Sequence[tuple[float, float]], share: float) -> tuple[float, float]:
    """The point ``share`` of the way along a polyline."""
    lengths = [((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
               for (ax, ay), (bx, by) in itertools.pairwise(points)]  # fmt: skip
    goal = sum(lengths) * share
    for ((ax, ay), (bx, by)), length in zip(itertools.pairwise(points), lengths, strict=True):
        if goal <= length and length:
            t = goal / length
            return ax + (bx - ax) * t, ay + (by - ay) * t
        goal -= length
    return points[-1]


def _edge_title(edge: Edge, graph: MeshGraph) -> str:
    def name(node: Node) -> str:
        return node.lines[0]

    return f"{name(graph.nodes[edge.source])} -> {name(graph.nodes[edge.target])}: {edge.label}"
