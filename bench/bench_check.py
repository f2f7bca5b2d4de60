"""`meshc check` as a user runs it: start-up on one file, and a run over many manifests.

Run: .venv/bin/python bench/bench_check.py [--objects N] [--runs N] [--engines ...]
Each case runs `meshc check` in a fresh process, `--runs` times, and prints
the median and range of its wall time and CPU time (user + system, the
child's rusage). The wasm engine is timed twice: with an empty module cache
(cold: it compiles the policies) and with the cache its first run wrote
(warm: it loads the compiled module). The per-object cost is the difference
between the run over `--objects` manifests and the run over one, divided
by the objects added; it includes parsing the YAML.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "policies" / "samples"
SPEC = SAMPLES / "specs" / "istio.yaml"
POD = SAMPLES / "injection-required" / "allowed" / "istio-injected-pod.yaml"
MESHC = [sys.executable, "-m", "meshc.cli"]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `meshc check`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):7.0f} ms ({min(ms):.0f}–{max(ms):.0f})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=("embedded", "wasm-cold", "wasm-warm"),
        default=["embedded", "wasm-cold", "wasm-warm"],
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="meshc-bench-check-"))
    try:
        one = scratch / "one.yaml"
        one.write_text(POD.read_text())
        many = scratch / "many.yaml"
        many.write_text(
            "".join(
                "---\n" + POD.read_text().replace("x2x7q", f"{i:05d}") for i in range(args.objects)
            )
        )
        print(
            f"meshc check --spec {SPEC.relative_to(REPO)}, {args.runs} runs each: median (min–max)"
        )
        print(f"{'engine':10} {'input':>14} {'wall':>22} {'cpu':>22}")
        for case in args.engines:
            engine = case.partition("-")[0]
            results: dict[str, tuple[list[float], list[float]]] = {}
            for label, path in (("1 object", one), (f"{args.objects} objects", many)):
                walls: list[float] = []
                cpus: list[float] = []
                for _ in range(args.runs):
                    cache = scratch / f"cache-{case}"
                    if case != "wasm-warm":
                        shutil.rmtree(cache, ignore_errors=True)
                    cache.mkdir(mode=0o700, exist_ok=True)
                    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
                    argv = [*MESHC, "check", "--spec", str(SPEC), "--engine", engine, str(path)]
                    if case == "wasm-warm" and not any(cache.rglob("*")):
                        run_once(argv, env)  # fills the cache
                    wall, cpu = run_once(argv, env)
                    walls.append(wall)
                    cpus.append(cpu)
                results[label] = (walls, cpus)
                print(f"{case:10} {label:>14} {summary(walls):>22} {summary(cpus):>22}")
            (w1, c1), (wn, cn) = results.values()
            added = args.objects - 1
            per_wall = (statistics.median(wn) - statistics.median(w1)) / added * 1000
            per_cpu = (statistics.median(cn) - statistics.median(c1)) / added * 1000
            print(f"{case:10} {'per object':>14} {per_wall:19.3f} ms {per_cpu:19.3f} ms")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
