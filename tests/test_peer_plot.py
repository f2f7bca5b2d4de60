"""bench/peers/admission.py --plot: reviews/s and p99 against connections, every server, as SVG.

Fed fixed figures, never the peers themselves: what is checked is the drawing,
which must be valid XML with both panels, one line per server configuration in
each, the legend naming them, and nothing drawn from a figure that is not a number.
"""

from __future__ import annotations

import math
import sys
import xml.etree.ElementTree as ET

from support.paths import REPO

sys.path.insert(0, str(REPO / "bench" / "peers"))
sys.path.insert(0, str(REPO / "bench"))

from admission import Series, plot_lines
from plot import Line, figures_svg, svg

from loadgen import Result

SVG = "{http://www.w3.org/2000/svg}"
CAPTION = (
    "Measured 2026-12-06 on x86_64, 2 CPUs (`nproc`), 1-minute load average 0.5, 1.9 "
    "(at the start and the end); Gatekeeper v3.23.1; median of 3 interleaved rounds of 5 s "
    "each (bench/peers/admission.py)."
)
LINES = [
    Line("meshc (wasm)", [(1, 1926.0, 1.02), (4, 3728.0, 2.07), (16, 3887.0, 7.86)]),
    Line("Gatekeeper Rego", [(1, 916.0, 3.36), (4, 1727.0, 8.28), (16, 1708.0, 49.76)]),
    # A run with no answered review has a p99 of NaN (loadgen.Result.percentile).
    Line("Gatekeeper CEL", [(1, 1114.0, 2.60), (4, 0.0, math.nan), (16, 2246.0, 31.06)]),
]
NAMES = ["meshc (wasm)", "Gatekeeper Rego", "Gatekeeper CEL"]


def drawn() -> ET.Element:
    return ET.fromstring(svg(LINES, CAPTION))


def polylines(panel: ET.Element) -> dict[str, list[tuple[float, float]]]:
    return {
        line.attrib["data-label"]: [
            (float(x), float(y))
            for x, y in (point.split(",") for point in line.attrib["points"].split())
        ]
        for line in panel.iter(f"{SVG}polyline")
    }


def test_it_has_a_throughput_and_a_p99_panel_each_with_one_line_per_server() -> None:
    panels = {g.attrib["id"]: g for g in drawn().iter(f"{SVG}g") if g.get("class") == "panel"}
    assert list(panels) == ["throughput", "p99"]
    for panel in panels.values():
        assert list(polylines(panel)) == NAMES
        texts = [t.text for t in panel.iter(f"{SVG}text")]
        assert "connections" in texts and {"1", "4", "16"} <= set(texts)  # axis and ticks
    assert "reviews/s" in [t.text for t in panels["throughput"].iter(f"{SVG}text")]
    assert "p99 latency (ms)" in [t.text for t in panels["p99"].iter(f"{SVG}text")]


def test_more_reviews_a_second_is_drawn_higher_and_a_lost_p99_is_left_out() -> None:
    panels = [g for g in drawn().iter(f"{SVG}g") if g.get("class") == "panel"]
    rates, p99s = (polylines(panel) for panel in panels)
    assert rates["meshc (wasm)"][1][1] < rates["Gatekeeper CEL"][1][1]  # SVG's y grows down
    assert len(rates["Gatekeeper CEL"]) == 3
    assert len(p99s["Gatekeeper CEL"]) == 2  # the NaN's point is not drawn
    assert [x for x, _ in p99s["Gatekeeper CEL"]] == [
        x for i, (x, _) in enumerate(p99s["meshc (wasm)"]) if i != 1
    ]


def test_the_legend_names_every_server_and_the_caption_says_where_it_was_measured() -> None:
    root = drawn()
    (legend,) = (g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert [t.text for t in legend.iter(f"{SVG}text")] == NAMES
    caption = " ".join(t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "caption")
    assert caption == CAPTION.replace("`", "")


def test_nothing_in_it_is_nan_and_the_same_figures_give_the_same_bytes() -> None:
    text = svg(LINES, CAPTION)
    assert "nan" not in text.lower() and "inf" not in text.lower()
    assert text == svg(LINES, CAPTION)


def test_the_bench_draws_one_line_per_server_configuration_from_its_medians() -> None:
    def run(rate: float, latency: float) -> Result:
        return Result(latencies=[latency] * int(rate), elapsed=1.0)

    series = [
        Series(server, engine, connections, [run(rate, latency)], [0.001])
        for server, engine, rate, latency in [
            ("meshc (wasm)", "wasm", 2000, 0.001),
            ("Gatekeeper", "rego", 900, 0.003),
            ("Gatekeeper", "cel", 1100, 0.002),
        ]
        for connections in (1, 4)
    ]
    lines = plot_lines(series)
    assert [line.label for line in lines] == NAMES
    assert lines[1].points == [(1, 900.0, 3.0), (4, 900.0, 3.0)]


def test_a_legend_too_wide_for_one_row_wraps_and_the_panels_move_down_under_it() -> None:
    five = [
        *LINES,
        Line("Kyverno ClusterPolicy", [(1, 700.0, 4.0), (4, 900.0, 12.0), (16, 950.0, 40.0)]),
        Line("Kyverno ValidatingPolicy", [(1, 800.0, 3.5), (4, 1000.0, 10.0), (16, 1050.0, 35.0)]),
    ]
    root = ET.fromstring(svg(five, CAPTION))
    (legend,) = (g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    entries = [(float(t.attrib["x"]), float(t.attrib["y"])) for t in legend.iter(f"{SVG}text")]
    assert len({y for _, y in entries}) == 2  # two rows
    assert max(x for x, _ in entries) + 160 < float(root.attrib["width"])  # the longest label fits
    (moved,) = (g for g in root.iter(f"{SVG}g") if "transform" in g.attrib)
    panels = {g.get("id") for g in moved.iter(f"{SVG}g") if g.get("class") == "panel"}
    assert panels == {"throughput", "p99"}
    assert float(root.attrib["height"]) > float(ET.fromstring(svg(LINES, CAPTION)).attrib["height"])


def test_each_rule_set_gets_its_own_row_of_panels_and_a_server_keeps_its_colour() -> None:
    full = [Line(line.label, [(c, r / 2, p * 2) for c, r, p in line.points]) for line in LINES[1:]]
    root = ET.fromstring(figures_svg([("one", LINES), ("full", full)], CAPTION))
    panels = {g.attrib["id"]: g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"}
    assert list(panels) == ["one-throughput", "one-p99", "full-throughput", "full-p99"]
    assert list(polylines(panels["full-p99"])) == NAMES[1:]

    def colours(panel: ET.Element) -> dict[str, str]:
        return {p.attrib["data-label"]: p.attrib["stroke"] for p in panel.iter(f"{SVG}polyline")}

    one, two = colours(panels["one-throughput"]), colours(panels["full-throughput"])
    assert all(two[name] == one[name] for name in two)
    (legend,) = (g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert [t.text for t in legend.iter(f"{SVG}text")] == NAMES  # each configuration once
