"""Policy evaluation cost: one typical post-injection Pod, and `meshc check` per object.

Run: .venv/bin/python bench/bench_policies.py [--iterations N] [--objects N] [--engines ...]
Each engine in turn (wasm: the policies compiled to WebAssembly; embedded:
rego-cpp).
Prints median/p90/p99 per evaluation, as CPU time of the evaluating thread
(``time.thread_time``, steady on a loaded machine) and as wall time, for dict
and JSON-text input; the same Pod as an API server sends it (managed fields,
env, probes, volumes: bench/reviews.py) with each step of an evaluation
timed on its own, with and without the projection; and the per-object cost
`meshc check` adds on top of parsing the manifests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
SAMPLES = REPO / "tests" / "policies" / "samples"
SPEC = SAMPLES / "specs" / "istio.yaml"
QUICKSTART = REPO / "examples" / "quickstart" / "mesh.yaml"
POD = SAMPLES / "injection-required" / "allowed" / "istio-injected-pod.yaml"


def percentiles(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    q = statistics.quantiles(ms, n=100)
    return f"median {statistics.median(ms):.3f} ms  p90 {q[89]:.3f} ms  p99 {q[98]:.3f} ms"


def measure(label: str, run: Callable[[], object], iterations: int, wall: bool = True) -> None:
    for _ in range(50):
        run()
    cpu: list[float] = []
    walls: list[float] = []
    for _ in range(iterations):
        c0, w0 = time.thread_time(), time.perf_counter()
        run()
        w1, c1 = time.perf_counter(), time.thread_time()
        cpu.append(c1 - c0)
        walls.append(w1 - w0)
    if not wall:
        print(f"  {label:44} cpu {percentiles(cpu)}")
        return
    print(f"{label} (n={iterations})")
    print(f"  cpu  {percentiles(cpu)}")
    print(f"  wall {percentiles(walls)}")


def steps(engine: Any, body: bytes, iterations: int) -> None:
    """Each step from the body the webhook receives to the answer, timed alone."""
    from meshc.policies.engine import input_text
    from meshc.policies.modules import ENTRYPOINT
    from meshc.policies.projection import project

    # The engine's own interpreter and bundle, so the steps add up to evaluate().
    rego, bundle = engine._interpreter(), engine._bundle
    doc = json.loads(body)
    projected = project(doc)
    text = input_text(projected)
    print(f"  {len(body)} bytes as sent, {len(text)} bytes projected")
    measure("json.loads(body)", lambda: json.loads(body), iterations, wall=False)
    measure("project(review)", lambda: project(doc), iterations, wall=False)
    measure("input_text(projection)", lambda: input_text(projected), iterations, wall=False)
    for label, document in (("whole review", doc), ("projection", projected)):
        measure(
            f"parse the input (set_input_term), {label}",
            partial(rego.set_input_term, input_text(document)),
            iterations,
            wall=False,
        )
    rego.set_input_term(text)
    measure(
        "query, projection",
        lambda: rego.query_bundle_entrypoint(bundle, ENTRYPOINT),
        iterations,
        wall=False,
    )


def main() -> int:
    from meshc.policies.engine import ENGINES

    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--objects", type=int, default=2000)
    in_process = [name for name, info in ENGINES.items() if info.in_process]
    parser.add_argument("--engines", nargs="+", choices=in_process, default=in_process)
    args = parser.parse_args()

    from meshc.compiler.loader import load_mesh
    from meshc.policies.admission import admission_review
    from meshc.policies.data import policy_data
    from meshc.policies.manifests import parse_manifests
    from reviews import pod_create_bodies

    (manifest,) = parse_manifests(POD.read_text(), str(POD))
    review = admission_review(manifest.obj)
    bodies = pod_create_bodies(64)
    decoded = [json.loads(b) for b in bodies]
    corpus = "".join(
        "---\n" + POD.read_text().replace("x2x7q", f"{i:05d}") for i in range(args.objects)
    )
    data = policy_data(load_mesh(str(SPEC)))
    api_data = policy_data(load_mesh(str(QUICKSTART)))
    for kind in args.engines:
        print(f"\n## engine: {kind}")
        engine = compiled(kind, data)
        api_engine = compiled(kind, api_data)
        evaluations(engine, api_engine, review, decoded, args.iterations)
        if kind == "embedded":
            print("its steps, alone (cpu):")
            steps(api_engine, bodies[0], args.iterations)
        check(engine, corpus)
    return 0


def compiled(kind: str, data: dict[str, Any]) -> Any:
    from meshc.policies.engine import create_engine

    started = time.perf_counter()
    engine = create_engine(kind, data)
    print(f"compile the policies once: {(time.perf_counter() - started) * 1000:.1f} ms")
    return engine


def evaluations(
    engine: Any, api_engine: Any, review: dict[str, Any], decoded: list[Any], iterations: int
) -> None:
    text = json.dumps(review)
    assert engine.evaluate(review) == [], "the typical pod must be admitted"
    measure(
        "evaluate, typical injected Pod, dict input", lambda: engine.evaluate(review), iterations
    )
    measure(
        "evaluate, typical injected Pod, JSON text input", lambda: engine.evaluate(text), iterations
    )
    assert api_engine.evaluate(decoded[0]) == [], "the API server's pod must be admitted"
    cycle = iter(range(1 << 62))
    measure(
        "evaluate, the Pod as the API server sends it (bench/reviews.py), decoded dict input",
        lambda: api_engine.evaluate(decoded[next(cycle) % len(decoded)]),
        iterations,
    )


def check(engine: Any, corpus: str) -> None:
    """What `meshc check` adds per object on top of parsing the manifests."""
    from meshc.policies.check import evaluate
    from meshc.policies.manifests import parse_manifests

    c0, t0 = time.process_time(), time.perf_counter()
    manifests = parse_manifests(corpus, "bench.yaml")
    parse_cpu, parse_s = time.process_time() - c0, time.perf_counter() - t0
    c0, t0 = time.process_time(), time.perf_counter()
    findings = evaluate(engine, manifests, "CREATE")
    check_cpu, check_s = time.process_time() - c0, time.perf_counter() - t0
    assert not findings
    n = len(manifests)
    print(
        f"meshc check over {n} manifests: parse {parse_s * 1000:.0f} ms wall "
        f"({parse_cpu * 1000:.0f} ms cpu), policies {check_s * 1000:.0f} ms wall "
        f"({check_cpu * 1000:.0f} ms cpu) = {check_s / n * 1000:.3f} ms wall, "
        f"{check_cpu / n * 1000:.3f} ms cpu per object on top of parsing"
    )


if __name__ == "__main__":
    sys.exit(main())
