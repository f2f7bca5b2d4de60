"""bench/peers/compare.py: the issue's targets judged from the benchmarks' rows, and the docs spliced.

Fed fixed rows, never the peers themselves: what is checked is the judging
(each target met or not by the rule it states, a missing peer never counted
as beaten) and the writing (only between the marks, or not at all).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from support.paths import REPO

sys.path.insert(0, str(REPO / "bench" / "peers"))

from compare import (
    README,
    README_ADMISSION,
    README_OFFLINE,
    MarkMissing,
    admission_targets,
    offline_targets,
    replace_row,
    splice,
)


def offline_row(rule_set: str, tool: str, wall: float, size: int = 2000) -> dict[str, Any]:
    return {"rule_set": rule_set, "size": size, "tool": tool, "wall": wall, "cpu": wall}


def offline(meshc_one: float, meshc_full: float) -> list[dict[str, Any]]:
    return [
        offline_row("one", "meshc (wasm)", meshc_one),
        offline_row("one", "meshc (wasm)", 0.19, size=1),  # start-up: not what is targeted
        offline_row("one", "conftest", 0.97),
        offline_row("one", "gator (Rego)", 1.73),
        offline_row("one", "gator (CEL)", 1.33),
        offline_row("one", "kyverno apply (ClusterPolicy)", 3.4),
        offline_row("full", "meshc (wasm)", meshc_full),
        offline_row("full", "conftest", 1.16),
        offline_row("full", "gator (CEL)", 1.5),
    ]


def test_the_one_rule_target_is_a_ratio_to_the_faster_of_conftest_and_gator() -> None:
    one, full = offline_targets(offline(meshc_one=0.6, meshc_full=1.0))
    assert one.met and "1.62x conftest" in one.measured
    assert full.met
    one, _ = offline_targets(offline(meshc_one=0.7, meshc_full=1.0))
    assert not one.met  # 1.39x


def test_the_full_set_target_needs_meshc_strictly_faster() -> None:
    _, full = offline_targets(offline(meshc_one=0.6, meshc_full=1.16))
    assert not full.met


def test_a_peer_without_figures_is_never_counted_as_beaten() -> None:
    rows = [r for r in offline(0.6, 1.0) if not str(r["tool"]).startswith("gator")]
    one, full = offline_targets(rows)
    assert not one.met and not full.met
    assert "not measured: gator" in one.measured


def admission_row(
    rule_set: str, server: str, config: str, connections: int, rate: float, p99: float
) -> dict[str, Any]:
    return {
        "rule_set": rule_set,
        "server": server,
        "config": config,
        "connections": connections,
        "rate": rate,
        "p50": p99 / 2,
        "p99": p99,
    }


def admission(meshc_rate: float, meshc_p99: float, full_rate: float) -> list[dict[str, Any]]:
    return [
        admission_row("one", "meshc", "wasm", 16, meshc_rate, meshc_p99),
        admission_row("one", "meshc", "wasm", 4, 9000, 0.001),  # not the targeted count
        admission_row("one", "Gatekeeper", "CEL", 16, 2100, 0.031),
        admission_row("one", "Kyverno", "ValidatingPolicy", 16, 2400, 0.02),
        admission_row("full", "meshc", "wasm", 4, full_rate, 0.003),
        admission_row("full", "meshc", "wasm", 16, full_rate, 0.008),
        admission_row("full", "Gatekeeper", "Rego", 4, 1500, 0.01),
        admission_row("full", "Kyverno", "ClusterPolicy", 16, 1800, 0.05),
    ]


def test_the_webhook_target_needs_twice_the_fastest_peer_and_a_p99_within_5_ms() -> None:
    one, full = admission_targets(admission(4900, 0.0049, 4000))
    assert one.met and "Kyverno ValidatingPolicy" in one.measured and full.met
    one, _ = admission_targets(admission(4700, 0.0049, 4000))  # 1.96x
    assert not one.met
    one, _ = admission_targets(admission(4900, 0.0051, 4000))  # p99 over
    assert not one.met


def test_the_full_set_target_is_judged_at_every_connection_count() -> None:
    _, full = admission_targets(admission(4900, 0.004, 1700))  # behind Kyverno at 16
    assert not full.met and "Kyverno ClusterPolicy at 16" in full.measured


def test_no_peer_figures_means_not_met() -> None:
    rows = [r for r in admission(4900, 0.004, 4000) if r["server"] == "meshc"]
    assert not any(t.met for t in admission_targets(rows))


def test_splice_replaces_only_between_the_marks() -> None:
    text = "a\n<!-- peers:x:begin -->\nold\n<!-- peers:x:end -->\nb\n"
    assert splice(text, "x", "new\n") == (
        "a\n<!-- peers:x:begin -->\nnew\n<!-- peers:x:end -->\nb\n"
    )
    with pytest.raises(MarkMissing):
        splice(text, "y", "new")


def test_the_docs_have_every_mark_and_row_compare_writes() -> None:
    performance = (REPO / "docs" / "performance.md").read_text()
    for name in ("targets", "offline", "admission"):
        assert splice(performance, name, "x").count(f"<!-- peers:{name}:begin -->\nx\n") == 1
    readme = README.read_text()
    for first in (README_OFFLINE, README_ADMISSION):
        assert replace_row(readme, first, "| new |").count("| new |") == 1
