"""The admission figures as an SVG: reviews/s and p99 latency against connections.

Written by hand, not with a plotting library, so the bench needs nothing the
project does not already depend on and the same figures always give the same
bytes. Two panels side by side share the connection axis (log 2: the counts
grow by factors), a row of them per rule set, each on its own scales; the rate is linear from 0, the p99 on a log 10 axis, since
the servers' p99s are an order of magnitude apart. Points that are not
finite (a run with no answered review) are left out, never drawn as NaN.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH, PANEL, TOP, BOTTOM, LEFT, RIGHT, PAD = 960, 480, 60, 320, 75, 20, 16
COLOURS = ("#1b6ca8", "#d1495b", "#2e933c", "#8f5db7", "#e08e0b")
MARKERS = ("circle", "square", "triangle", "diamond", "circle")
QUOTE = {'"': "&quot;"}  # for text inside an attribute
CAPTION_CHARS = 150  # about what fits across WIDTH at the caption's 11 px
# A legend entry's width: "Kyverno ValidatingPolicy" at 12 px and its marker.
LEGEND_ITEM, LEGEND_ROW = 220, 18
LEGEND_PER_ROW = (WIDTH - LEFT) // LEGEND_ITEM
FIGURE = BOTTOM - TOP + 90  # from one figure's panels to the next's, axis labels between


Point = tuple[int, float, float]  # connections, reviews/s, p99 ms


@dataclass(frozen=True)
class Line:
    """One server configuration: (connections, reviews/s, p99 ms) per connection count."""

    label: str
    points: Sequence[Point]


def _nice(step: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at least ``step``."""
    power = 10 ** math.floor(math.log10(step))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= step * (1 - 1e-9)))


def _linear_ticks(top: float) -> list[float]:
    step = _nice(max(top, 1e-9) / 5)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _log_ticks(low: float, high: float) -> list[float]:
    """The 1-2-5 values spanning [low, high], one below and one above."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    candidates = [m * 10.0**e for e in decades for m in (1, 2, 5)]
    below = max(c for c in candidates if c <= low * (1 + 1e-9))
    above = min(c for c in candidates if c >= high * (1 - 1e-9))
    return [c for c in candidates if below <= c <= above]


def _label(value: float) -> str:
    return f"{value:g}" if value < 1e4 else f"{value / 1e3:g}k"


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    fill = f'fill="{colour}"'
    if shape == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" {fill}/>'
    if shape in ("triangle", "diamond"):
        corners = (
            [(x, y - 4.5), (x + 4.5, y + 3.5), (x - 4.5, y + 3.5)]
            if shape == "triangle"
            else [(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)]
        )
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in corners)
        return f'<polygon points="{points}" {fill}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" {fill}/>'


def _panel(
    left: int,
    name: str,
    title: str,
    axis: str,
    lines: Sequence[Line],
    order: Sequence[str],  # every label drawn, in the legend's order: its colour and marker
    value: Callable[[Point], float],
    log: bool,
) -> list[str]:
    conns = sorted({c for line in lines for c, _, _ in line.points}) or [1]
    values = [value(p) for line in lines for p in line.points if math.isfinite(value(p))]
    values = [v for v in values if v > 0] if log else values
    if log:
        ticks = _log_ticks(min(values), max(values)) if values else [1.0, 10.0]
    else:
        ticks = _linear_ticks(max(values, default=1.0))
    scale = math.log10 if log else float
    low, high = scale(ticks[0]), scale(ticks[-1])
    x0, x1 = left + LEFT, left + PANEL - RIGHT
    span = math.log2(conns[-1] / conns[0]) or 1.0

    def at(c: int, v: float) -> tuple[float, float]:
        fraction = math.log2(c / conns[0]) / span if len(conns) > 1 else 0.5
        x = x0 + PAD + (x1 - x0 - 2 * PAD) * fraction  # PAD: markers clear of the frame
        return x, BOTTOM - (BOTTOM - TOP) * (scale(v) - low) / ((high - low) or 1.0)

    out = [f'<g class="panel" id="{name}">']
    out.append(
        f'<text x="{(x0 + x1) / 2:.1f}" y="{TOP - 12}" text-anchor="middle" font-weight="bold">{escape(title)}</text>'
    )
    out.append(
        f'<rect x="{x0}" y="{TOP}" width="{x1 - x0}" height="{BOTTOM - TOP}" fill="none" stroke="#444"/>'
    )
    for tick in ticks:
        y = at(conns[0], tick)[1]
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
    for c in conns:
        x = at(c, ticks[0])[0]
        out.append(f'<text x="{x:.1f}" y="{BOTTOM + 18}" text-anchor="middle">{c}</text>')
    out.append(
        f'<text x="{(x0 + x1) / 2:.1f}" y="{BOTTOM + 40}" text-anchor="middle">connections</text>'
    )
    middle = (TOP + BOTTOM) / 2
    out.append(
        f'<text x="{left + 18}" y="{middle:.1f}" text-anchor="middle" transform="rotate(-90 {left + 18} {middle:.1f})">{escape(axis)}</text>'
    )
    for line in lines:
        i = order.index(line.label)
        colour, shape = COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]
        drawn = [
            at(p[0], value(p))
            for p in sorted(line.points)
            if math.isfinite(value(p)) and (value(p) > 0 or not log)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in drawn)
        out.append(
            f'<polyline class="series" data-label="{escape(line.label, QUOTE)}" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        out.extend(_marker(shape, x, y, colour) for x, y in drawn)
    return [*out, "</g>"]


def svg(lines: Sequence[Line], caption: str) -> str:
    """The two panels, a legend across the top and ``caption`` (wrapped) below."""
    return figures_svg([("", lines)], caption)


def figures_svg(figures: Sequence[tuple[str, Sequence[Line]]], caption: str) -> str:
    """One row of the two panels per named figure (a rule set), each on its own scales,
    under one legend: a configuration has the same colour and marker in every row."""
    wrapped = textwrap.wrap(caption.replace("`", ""), CAPTION_CHARS)
    order = list(dict.fromkeys(line.label for _, lines in figures for line in lines))
    # The legend takes as many rows as it needs; what is below moves down with it.
    below = LEGEND_ROW * (max(0, len(order) - 1) // LEGEND_PER_ROW)
    height = BOTTOM + 70 + 15 * len(wrapped) + below + FIGURE * (len(figures) - 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        '<g class="legend">',
    ]
    for i, label in enumerate(order):
        colour = COLOURS[i % len(COLOURS)]
        x = LEFT + (i % LEGEND_PER_ROW) * LEGEND_ITEM
        y = 16 + LEGEND_ROW * (i // LEGEND_PER_ROW)
        out.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{colour}" stroke-width="2"/>'
        )
        out.append(_marker(MARKERS[i % len(MARKERS)], x + 12, y, colour))
        out.append(f'<text x="{x + 30}" y="{y + 4}">{escape(label)}</text>')
    out.append("</g>")
    for row, (name, lines) in enumerate(figures):
        down = below + FIGURE * row
        out.append(f'<g class="figure" transform="translate(0 {down})">' if down else "<g>")
        prefix, suffix = (f"{name}-", f", {name}") if name else ("", "")
        out += _panel(
            0, f"{prefix}throughput", f"Throughput{suffix}", "reviews/s",
            lines, order, lambda p: p[1], log=False,
        )  # fmt: skip
        out += _panel(
            PANEL, f"{prefix}p99", f"p99 latency (log scale){suffix}", "p99 latency (ms)",
            lines, order, lambda p: p[2], log=True,
        )  # fmt: skip
        out.append("</g>")
    bottom = BOTTOM + below + FIGURE * (len(figures) - 1)
    for i, text in enumerate(wrapped):
        out.append(
            f'<text class="caption" x="{LEFT}" y="{bottom + 65 + 15 * i}" font-size="11" fill="#333">{escape(text)}</text>'
        )
    return "\n".join([*out, "</svg>", ""])
