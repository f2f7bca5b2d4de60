"""The whole comparison with the peers in one command: offline, admission, the targets, the docs.

Run:  bench/peers/build.sh                  # once: the pinned peers, into .bench-tools/ (never in CI)
      MESHC_TOOLS_BIN=.tools/bin .venv/bin/python bench/peers/compare.py

It runs bench/bench_peers.py (``meshc check`` beside conftest, gator and
``kyverno apply``: both rule sets, 2,000 and 20,000 files) and bench/peers/admission.py
(the webhook beside Gatekeeper's and Kyverno's admission servers: both rule
sets, 1, 4 and 16 connections), each with the figures it is given below,
then judges the issue's targets from what they measured, and writes it all
where people read it: the tables and the targets into docs/performance.md
(between its ``<!-- peers:NAME:begin -->`` and ``<!-- peers:NAME:end -->``
marks), the plot to docs/admission.svg, and the two summary rows of the
README's performance table. Each file is written whole or not at all; a run
that fails changes none of them.

``--offline-json`` and ``--admission-json`` take the results of earlier runs
instead of running that part again.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PEERS = Path(__file__).resolve().parent
BENCH = PEERS.parent
REPO = BENCH.parent
PERFORMANCE = REPO / "docs" / "performance.md"
PLOT = REPO / "docs" / "admission.svg"
README = REPO / "README.md"

# The embedded engine is meshc's own slower one (bench/bench_policies.py measures
# it); at 20,000 files it would add minutes and nothing to the comparison.
OFFLINE_ARGS = ["--objects", "2000", "20000", "--runs", "5", "--leave-out", "meshc (embedded)"]
ADMISSION_ARGS = ["--connections", "1", "4", "16", "--runs", "3"]

# The targets, as numbers.
OFFLINE_ONE_RATIO = 1.5  # x the faster of conftest and gator, one rule, 2,000 files
ADMISSION_ONE_RATIO = 2.0  # x the fastest peer configuration, one rule, 16 connections
ADMISSION_ONE_P99 = 0.005  # seconds, at 16 connections
FILES = 2000
CONNECTIONS = 16
MESHC_OFFLINE = "meshc (wasm)"
# The offline peers the targets name; Kyverno's CLI is measured and shown, not targeted.
OFFLINE_RIVALS = ("conftest", "gator")


@dataclass(frozen=True)
class Target:
    what: str
    wanted: str
    measured: str
    met: bool


def _wall(rows: Iterable[dict[str, Any]], rule_set: str, tool: str) -> float | None:
    for row in rows:
        if row["rule_set"] == rule_set and row["size"] == FILES and row["tool"] == tool:
            return float(row["wall"])
    return None


def _rivals(rows: list[dict[str, Any]], rule_set: str) -> dict[str, float]:
    """The targeted peers' walls on ``rule_set`` at FILES files, by tool."""
    return {
        str(row["tool"]): float(row["wall"])
        for row in rows
        if row["rule_set"] == rule_set
        and row["size"] == FILES
        and str(row["tool"]).startswith(OFFLINE_RIVALS)
    }


def offline_targets(rows: list[dict[str, Any]]) -> list[Target]:
    targets = []
    for rule_set, wanted in (
        ("one", f">= {OFFLINE_ONE_RATIO:g}x the faster of conftest and gator"),
        ("full", "faster than conftest and gator"),
    ):
        what = f"`meshc check`, {rule_set} rule set, {FILES:,} files (wall)"
        meshc, rivals = _wall(rows, rule_set, MESHC_OFFLINE), _rivals(rows, rule_set)
        missing = [name for name in OFFLINE_RIVALS if not any(t.startswith(name) for t in rivals)]
        if meshc is None or missing:
            absent = ", ".join(([MESHC_OFFLINE] if meshc is None else []) + missing)
            targets.append(Target(what, wanted, f"not measured: {absent}", False))
            continue
        fastest = min(rivals, key=rivals.__getitem__)
        ratio = rivals[fastest] / meshc
        needed = OFFLINE_ONE_RATIO if rule_set == "one" else 1.0
        met = ratio >= needed if rule_set == "one" else ratio > needed
        shown = f"{ratio:.2f}x {fastest} ({meshc * 1e3:.0f} against {rivals[fastest] * 1e3:.0f} ms)"
        targets.append(Target(what, wanted, shown, met))
    return targets


def _label(row: dict[str, Any]) -> str:
    return f"{row['server']} {row['config']}"


def admission_targets(rows: list[dict[str, Any]]) -> list[Target]:
    targets = []
    one = [r for r in rows if r["rule_set"] == "one" and r["connections"] == CONNECTIONS]
    meshc = [r for r in one if r["server"] == "meshc"]
    peers = [r for r in one if r["server"] != "meshc"]
    what = f"webhook, one rule, {CONNECTIONS} connections"
    wanted = f">= {ADMISSION_ONE_RATIO:g}x the fastest peer, p99 <= {ADMISSION_ONE_P99 * 1e3:g} ms"
    if not meshc or not peers:
        targets.append(Target(what, wanted, "not measured", False))
    else:
        best = max(peers, key=lambda r: r["rate"])
        ratio = meshc[0]["rate"] / best["rate"]
        p99 = meshc[0]["p99"]
        shown = (
            f"{ratio:.2f}x {_label(best)} ({meshc[0]['rate']:.0f} against {best['rate']:.0f}/s), "
            f"p99 {p99 * 1e3:.1f} ms"
        )
        met = ratio >= ADMISSION_ONE_RATIO and p99 <= ADMISSION_ONE_P99
        targets.append(Target(what, wanted, shown, met))
    full = [r for r in rows if r["rule_set"] == "full"]
    what = "webhook, full rule set, every connection count"
    wanted = "ahead of every peer configuration"
    counts = sorted({r["connections"] for r in full})
    if not any(r["server"] == "meshc" for r in full) or not any(
        r["server"] != "meshc" for r in full
    ):
        targets.append(Target(what, wanted, "not measured", False))
        return targets
    worst: tuple[float, int, str] | None = None
    for count in counts:
        at = [r for r in full if r["connections"] == count]
        ours = [r["rate"] for r in at if r["server"] == "meshc"]
        theirs = [r for r in at if r["server"] != "meshc"]
        if not ours or not theirs:
            continue
        best = max(theirs, key=lambda r: r["rate"])
        ratio = ours[0] / best["rate"]
        if worst is None or ratio < worst[0]:
            worst = (ratio, count, _label(best))
    assert worst is not None
    ratio, count, best_label = worst
    plural = "" if count == 1 else "s"
    shown = f"at least {ratio:.2f}x (the closest: {best_label} at {count} connection{plural})"
    targets.append(Target(what, wanted, shown, ratio > 1.0))
    return targets


def targets_markdown(targets: list[Target]) -> str:
    lines = ["| target | wanted | measured | met |", "|---|---|---|---|"]
    for t in targets:
        lines.append(f"| {t.what} | {t.wanted} | {t.measured} | {'yes' if t.met else '**no**'} |")
    return "\n".join(lines)


class MarkMissing(Exception):
    pass


def splice(text: str, name: str, content: str) -> str:
    """``text`` with what lies between the ``peers:name`` marks replaced by ``content``."""
    begin, end = f"<!-- peers:{name}:begin -->", f"<!-- peers:{name}:end -->"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise MarkMissing(f"expected one {begin} ... {end} pair")
    return pattern.sub(lambda _: f"{begin}\n{content.strip()}\n{end}", text)


def replace_row(text: str, first_cell: str, row: str) -> str:
    """``text`` with the table row that starts with ``| first_cell |`` replaced by ``row``."""
    lines = text.split("\n")
    hits = [i for i, line in enumerate(lines) if line.startswith(f"| {first_cell} |")]
    if len(hits) != 1:
        raise MarkMissing(f"expected one README row starting with | {first_cell} |")
    lines[hits[0]] = row
    return "\n".join(lines)


README_OFFLINE = "`meshc check` vs conftest, gator and `kyverno apply`"
README_ADMISSION = "webhook vs Gatekeeper's and Kyverno's admission servers"


def readme_rows(targets: list[Target]) -> tuple[str, str]:
    def cells(ts: list[Target]) -> str:
        return "; ".join(f"{t.what}: {t.measured} ({'met' if t.met else 'not met'})" for t in ts)

    offline = [t for t in targets if t.what.startswith("`meshc check`")]
    admission = [t for t in targets if t.what.startswith("webhook")]
    link = "table, machine and versions in [docs/performance.md](docs/performance.md)"
    return (
        f"| {README_OFFLINE} | {cells(offline)}; {link} | `bench/peers/compare.py` |",
        f"| {README_ADMISSION} | {cells(admission)}; {link} | `bench/peers/compare.py` |",
    )


def write_whole(path: Path, text: str) -> None:
    written = path.with_name(path.name + ".tmp")
    written.write_text(text)
    written.replace(path)


def run(script: Path, args: list[str], out: Path) -> dict[str, Any]:
    argv = [sys.executable, str(script), *args, "--json", str(out)]
    print(f"# {' '.join(argv)}", file=sys.stderr)
    done = subprocess.run(argv, check=False, stdout=sys.stderr)
    if done.returncode != 0:
        raise SystemExit(f"bench/peers/compare.py: {script.name} exited {done.returncode}")
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline-json", type=Path, help="bench_peers.py --json of an earlier run")
    parser.add_argument("--admission-json", type=Path, help="admission.py --json of an earlier run")
    parser.add_argument(
        "--no-write", action="store_true", help="print the targets only; change no file"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meshc-compare-") as tmp:
        offline = (
            json.loads(args.offline_json.read_text())
            if args.offline_json
            else run(BENCH / "bench_peers.py", OFFLINE_ARGS, Path(tmp) / "offline.json")
        )
        plot = Path(tmp) / "admission.svg"
        admission = (
            json.loads(args.admission_json.read_text())
            if args.admission_json
            else run(
                PEERS / "admission.py", [*ADMISSION_ARGS, "--plot", str(plot)], Path(tmp) / "a.json"
            )
        )
        targets = offline_targets(offline["rows"]) + admission_targets(admission["rows"])
        table = targets_markdown(targets)
        print(table)
        if args.no_write:
            return 0 if all(t.met for t in targets) else 1
        text = PERFORMANCE.read_text()
        text = splice(text, "targets", table)
        text = splice(text, "offline", offline["markdown"])
        text = splice(text, "admission", admission["markdown"])
        readme = README.read_text()
        for first, row in zip(
            (README_OFFLINE, README_ADMISSION), readme_rows(targets), strict=True
        ):
            readme = replace_row(readme, first, row)
        write_whole(PERFORMANCE, text)
        write_whole(README, readme)
        if plot.is_file():
            write_whole(PLOT, plot.read_text())
    print(f"# wrote {PERFORMANCE.relative_to(REPO)}, {README.relative_to(REPO)}", file=sys.stderr)
    return 0 if all(t.met for t in targets) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
