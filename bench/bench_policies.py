"""Policy evaluation cost: one typical post-injection Pod, and `meshc check` per object.

Run: .venv/bin/python bench/bench_policies.py [--iterations N] [--objects N]
Prints median/p90/p99 per evaluation for dict and JSON-text input, and the
per-object cost `meshc check` adds on top of parsing the manifests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "policies" / "samples" / "specs" / "istio.yaml"
POD = REPO / "policies" / "samples" / "injection-required" / "allowed" / "istio-injected-pod.yaml"


def percentiles(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    q = statistics.quantiles(ms, n=100)
    return f"median {statistics.median(ms):.3f} ms  p90 {q[89]:.3f} ms  p99 {q[98]:.3f} ms  (n={len(ms)})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--objects", type=int, default=2000)
    args = parser.parse_args()

    from meshc.compiler.loader import load_mesh
    from meshc.policies.check import evaluate
    from meshc.policies.data import policy_data
    from meshc.policies.engine import create_engine
    from meshc.policies.manifests import parse_manifests
    from meshc.policies.review import admission_review

    data = policy_data(load_mesh(str(SPEC)))
    started = time.perf_counter()
    engine = create_engine("embedded", data)
    print(f"compile the bundle once: {(time.perf_counter() - started) * 1000:.1f} ms")

    (manifest,) = parse_manifests(POD.read_text(), str(POD))
    review = admission_review(manifest.obj)
    text = json.dumps(review)
    assert engine.evaluate(review) == [], "the typical pod must be admitted"

    for label, value in (("dict input (json.dumps inside)", review), ("JSON text input", text)):
        for _ in range(50):
            engine.evaluate(value)
        times = []
        for _ in range(args.iterations):
            t0 = time.perf_counter()
            engine.evaluate(value)
            times.append(time.perf_counter() - t0)
        print(f"evaluate, typical injected Pod, {label}: {percentiles(times)}")

    encode = []
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        json.dumps(review)
        encode.append(time.perf_counter() - t0)
    print(f"json.dumps of that review alone: {percentiles(encode)}")

    corpus = "".join(
        "---\n" + POD.read_text().replace("x2x7q", f"{i:05d}") for i in range(args.objects)
    )
    t0 = time.perf_counter()
    manifests = parse_manifests(corpus, "bench.yaml")
    parse_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    findings = evaluate(engine, manifests, "CREATE")
    check_s = time.perf_counter() - t0
    assert not findings
    n = len(manifests)
    print(
        f"meshc check over {n} manifests: parse {parse_s * 1000:.0f} ms, "
        f"policies {check_s * 1000:.0f} ms = {check_s / n * 1000:.3f} ms per object on top of parsing"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
