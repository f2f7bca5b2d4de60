"""meshc side by side with conftest, gator and `kyverno apply`: same rules, same corpus, one run.

Run:  bench/peers/build.sh                # once: the pinned peers, into .bench-tools/ (never in CI)
      .venv/bin/python bench/bench_peers.py [--objects 2000 20000] [--runs 5] [--rule-sets one full]

For each rule set (``one``: the injection opt-out alone, meshc with
``--policy injection-required``; ``full``: meshc's every rule against each
peer's port of them, bench/peers/README.md) and each corpus size, it writes
the generated corpus (bench/peers/peer_corpus.py, half compliant, one file an
object), runs every available tool once and checks it finds exactly the
expected violations (a tool that does not is reported and left out of the
timings), then times the tools interleaved, ``--runs`` rounds, each run a
fresh process: wall time and CPU time (user + system of the child). A tool
whose checking run took longer than ``--slow`` seconds (``kyverno apply`` on
20,000 files) is timed by that run alone, and the table says so; never
meshc, whose checking run also compiles its bytecode. A corpus
of one file gives each tool's start-up. It prints the median and range, the
objects a second and the ratio to the fastest peer; ``--markdown`` prints the
table docs/performance.md carries.

meshc runs as a pip install leaves it, its bytecode compiled (by the first,
untimed run, into a temporary PYTHONPYCACHEPREFIX) and its compiled policy
module in the user's cache. Read ratios, not absolutes: on a shared 2-core
machine the absolutes move from run to run, the ratios much less; the table
says the load average at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

import peer_corpus as corpus
from peer_tools import JUDGED, TOOLS, Tool, peers_bin


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


# Where meshc's runs keep their bytecode (main() sets it): compiled by the first
# (untimed) run, as `pip install` compiles it once, not on every timed run.
PYCACHE = Path()


def run_once(tool: Tool, directory: Path, rule_set: str) -> tuple[float, float, str, str]:
    """Wall and CPU seconds of one run, and what it printed (standard output and error)."""
    argv = tool.command(directory, rule_set)
    env = tool.environment(PYCACHE)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in JUDGED:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout, done.stderr


def equivalent(tool: Tool, rule_set: str, directory: Path, written: list[corpus.Item]) -> str:
    """Why ``tool``'s findings on ``directory`` are not exactly the expected ones ("" when they are)."""
    _, _, out, err = run_once(tool, directory, rule_set)
    return mismatch(tool, out, err, written)


def mismatch(tool: Tool, out: str, err: str, written: list[corpus.Item]) -> str:
    """Why the findings ``tool`` printed (``out``) are not exactly the expected ones, or ""."""
    found = tool.parse(out)
    expected = corpus.expected(written)
    if found == expected:
        return ""
    missing, extra = sorted(expected - found), sorted(found - expected)
    # A tool that failed may still exit as one that found violations (gator: 1).
    said = f"; it said: {err.strip().splitlines()[-1]}" if err.strip() else ""
    return (
        f"{len(missing)} missed (e.g. {missing[:2]}), {len(extra)} extra (e.g. {extra[:2]}){said}"
    )


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.0f} ms ({min(values) * 1000:.0f}–{max(values) * 1000:.0f})"


def bench(
    rule_set: str, sizes: list[int], runs: int, root: Path, slow: float, leave_out: list[str]
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    tools = []
    for tool in TOOLS:
        why = "--leave-out" if tool.name in leave_out else tool.available(rule_set)
        if why:
            print(f"[{rule_set}] {tool.name}: left out: {why}", file=sys.stderr)
        else:
            tools.append(tool)
    for size in [1, *sizes]:
        directory = root / f"{rule_set}-{size}"
        written = corpus.write(rule_set, size, directory)
        judged = []
        timings: dict[str, Timings] = {}
        for tool in tools:
            # The checking run, which is also the warm-up.
            wall, cpu, out, err = run_once(tool, directory, rule_set)
            why = mismatch(tool, out, err, written)
            if why:
                print(
                    f"[{rule_set}, {size}] {tool.name}: NOT EQUIVALENT, not timed: {why}",
                    file=sys.stderr,
                )
                continue
            timings[tool.name] = Timings()
            if wall > slow and tool.binary:
                # Timed by this run alone: repeating it would take longer than all the
                # others. Never meshc: its first run is also the one that compiles its bytecode.
                timings[tool.name] = Timings([wall], [cpu])
                print(
                    f"[{rule_set}, {size}] {tool.name}: {wall:.0f} s, over --slow {slow:g} s: "
                    "timed once, by its checking run",
                    file=sys.stderr,
                )
            else:
                judged.append(tool)
        for _ in range(runs):  # interleaved: every tool once a round
            for tool in judged:
                wall, cpu, _, _ = run_once(tool, directory, rule_set)
                timings[tool.name].wall.append(wall)
                timings[tool.name].cpu.append(cpu)
        timed = [tool for tool in tools if tool.name in timings]
        peers = [t.name for t in timed if t.binary]
        fastest = min((statistics.median(timings[p].wall) for p in peers), default=None)
        print(f"\n{rule_set} rule set, {size} file(s), {runs} runs (median, range):")
        for tool in timed:
            t = timings[tool.name]
            wall = statistics.median(t.wall)
            ratio = f"  {fastest / wall:5.2f}x the fastest peer" if fastest else ""
            rate = f"{size / wall:7.0f} objects/s" if size > 1 else "   (start-up)"
            print(f"  {tool.name:34} wall {ms(t.wall)}  cpu {ms(t.cpu)}  {rate}{ratio}")
            rows.append(
                {
                    "rule_set": rule_set,
                    "size": size,
                    "tool": tool.name,
                    "wall": wall,
                    "cpu": statistics.median(t.cpu),
                    "ratio": fastest / wall if fastest else None,
                    "runs": len(t.wall),
                }
            )
    return rows


def enough_open_files(files: int) -> None:
    """Let the tools hold every file of the largest corpus open at once.

    gator opens every file it is given before reading any, and Go raises its
    own soft limit only as far as the hard one: at a hard limit of 20,000 it
    fails on a 20,000-file corpus ("too many open files") and still exits as
    if it had found violations. Raising the hard limit needs root (or
    CAP_SYS_RESOURCE); without it the run goes on and that check says why.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = files + 1024  # the corpus, and what each tool opens besides
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return
        except (ValueError, OSError) as exc:
            print(f"# open files limited to {hard} ({exc})", file=sys.stderr)
    if soft != resource.RLIM_INFINITY and soft < min(wanted, hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def versions() -> str:
    """meshc's, its runtime's and each built peer's version."""
    from importlib.metadata import version

    found = [
        f"meshc {version('meshc')}",
        f"wasmtime {version('wasmtime')}",
        f"{platform.python_implementation()} {platform.python_version()}",
    ]
    for tool in TOOLS:
        if tool.binary and (peers_bin() / tool.binary).is_file():
            flag = "version" if tool.binary == "kyverno-cli" else "--version"
            done = subprocess.run(
                [str(peers_bin() / tool.binary), flag], capture_output=True, text=True, check=False
            )
            line = " ".join(done.stdout.split())
            if line and line not in found:
                found.append(f"{tool.binary}: {line}")
    return "; ".join(dict.fromkeys(found))


def machine(loads: list[tuple[float, float, float]]) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    shown = ", ".join(f"{one:.1f}" for one, _, _ in loads)
    return (
        f"{platform.machine()}, {cpus} CPUs (`nproc`), 1-minute load average "
        f"{shown} (at the start and the end)"
    )


def markdown(
    rows: list[dict[str, object]], runs: int, loads: list[tuple[float, float, float]]
) -> str:
    lines = [
        (
            f"Measured {date.today().isoformat()} on {machine(loads)}; {versions()}; "
            f"median of {runs} interleaved runs (bench/bench_peers.py)."
        ),
        "",
        "| rule set | files | tool | wall | CPU | objects/s | fastest peer's wall / this |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        size, wall, cpu, ratio = (
            int(str(r["size"])),
            float(str(r["wall"])),
            float(str(r["cpu"])),
            r["ratio"],
        )
        rate = f"{size / wall:.0f}" if size > 1 else "(start-up)"
        shown = f"{float(str(ratio)):.2f}x" if ratio is not None else ""
        once = " (timed once)" if r.get("runs") == 1 and runs > 1 else ""
        lines.append(
            f"| {r['rule_set']} | {size} | {r['tool']}{once} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | {rate} | {shown} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--leave-out", nargs="+", default=[], metavar="TOOL",
        help="tools not to run, by the name the table gives them",
    )  # fmt: skip
    parser.add_argument(
        "--slow", type=float, default=60.0, metavar="SECONDS",
        help="a tool whose checking run takes longer is timed by that run alone",
    )  # fmt: skip
    parser.add_argument(
        "--rule-sets", nargs="+", choices=corpus.RULE_SETS, default=list(corpus.RULE_SETS)
    )
    parser.add_argument(
        "--markdown", action="store_true", help="also print the table for docs/performance.md"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE",
        help="also write the rows and the table as JSON (bench/peers/compare.py reads it)",
    )  # fmt: skip
    args = parser.parse_args()
    global PYCACHE
    enough_open_files(max(args.objects))
    loads = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="meshc-peers-") as tmp:
        PYCACHE = Path(tmp) / "pycache"
        rows = [
            row
            for rule_set in args.rule_sets
            for row in bench(
                rule_set, args.objects, args.runs, Path(tmp), args.slow, args.leave_out
            )
        ]
    loads.append(os.getloadavg())
    table = markdown(rows, args.runs, loads)
    if args.markdown:
        print()
        print(table)
    if args.json:
        write_json(args.json, {"rows": rows, "markdown": table})
    return 0


def write_json(path: Path, document: object) -> None:
    """``document`` at ``path``, whole or not at all."""
    written = path.with_name(path.name + ".tmp")
    written.write_text(json.dumps(document, indent=1) + "\n")
    written.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
