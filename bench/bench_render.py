"""How fast `meshc render` is, against the floor for a YAML-to-YAML compiler in Python.

The floor is PyYAML's C loader reading the spec plus its C dumper writing the
very objects meshc renders: no validation, no model, no rendering logic.
meshc's goal is at most 1.5x that floor plus interpreter start-up, growing
linearly (10x the services at most 11x the time).

Two specs of each size: one with splits, resilience and allow rules, and one
that also uses the rest of traffic management (per-route timeouts and retries,
gRPC and any-of matches, faults, mirrors, header changes, rewrites, redirects,
rate limits) with ingress, egress and telemetry sections.

    python bench/bench_render.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from meshc.compiler.loader import load_mesh
from meshc.compiler.serialize import dump_all
from meshc.compiler.targets import RenderOptions, render

REPO = Path(__file__).resolve().parents[1]


def generated_spec(services: int, namespaces: int = 20) -> dict[str, Any]:
    ns_names = [f"team-{i:02d}" for i in range(namespaces)]
    return {
        "apiVersion": "meshc.io/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "bench"},
        "spec": {
            "provider": "istio",
            "mtls": "STRICT",
            "namespaces": [{"name": n} for n in ns_names],
            "services": [
                {
                    "name": f"svc-{i:05d}",
                    "namespace": ns_names[i % namespaces],
                    "selector": {"app": f"svc-{i:05d}"},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                    "versions": [
                        {"name": "v1", "labels": {"version": "v1"}},
                        {"name": "v2", "labels": {"version": "v2"}},
                    ],
                    "routes": [
                        {
                            "name": "beta",
                            "match": {"headers": {"x-beta": {"exact": "1"}}},
                            "to": "v2",
                        },
                        {"split": {"v1": 90, "v2": 10}},
                    ],
                    "timeout": "3s",
                    "retries": {"attempts": 2, "perTryTimeout": "1s"},
                    "connectionPool": {"http1MaxPendingRequests": 100},
                    "outlierDetection": {
                        "consecutive5xxErrors": 5,
                        "interval": "5s",
                        "baseEjectionTime": "30s",
                    },
                    "allow": [{"fromNamespaces": [ns_names[(i + 1) % namespaces]], "ports": [80]}],
                }
                for i in range(services)
            ],
        },
    }


def with_traffic(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with every service using the rest of traffic management, and the spec-wide
    ingress, egress and telemetry sections (one ingress and telemetry entry per namespace)."""
    namespaces = [ns["name"] for ns in spec["spec"]["namespaces"]]
    for svc in spec["spec"]["services"]:
        svc["ports"].append({"name": "grpc", "port": 9090, "targetPort": 9090, "protocol": "grpc"})
        svc["routes"] = [
            {
                "name": "checkout",
                "matches": [
                    {"grpc": {"service": "shop.v1.Cart", "method": "Add"}},
                    {"path": {"prefix": "/cart"}},
                ],
                "to": "v2",
                "timeout": "1500ms",
                "retries": {"attempts": 3, "perTryTimeout": "500ms", "retryOn": ["5xx"]},
                "fault": {
                    "delay": {"fixed": "2s", "percent": 1.5},
                    "abort": {
                        "httpStatus": 503,
                        "percent": 0.5,
                        "service": {"name": "errors", "port": 80},
                    },
                },
                "headers": {
                    "request": {"set": {"x-route": "checkout"}},
                    "response": {"remove": ["server"]},
                },
            },
            {
                "name": "old",
                "match": {"path": {"prefix": "/old"}},
                "redirect": {"path": "/new", "statusCode": 301},
            },
            {
                "name": "legacy",
                "match": {"path": {"prefix": "/legacy/"}},
                "rewrite": {"path": "/"},
                "to": "v1",
            },
            *svc["routes"][:1],
            {**svc["routes"][-1], "mirror": {"to": "v2", "percent": 5}},
        ]
        svc["rateLimit"] = {"requestsPerSecond": 100}
    by_namespace: dict[str, str] = {}
    for svc in spec["spec"]["services"]:
        by_namespace.setdefault(svc["namespace"], svc["name"])
    spec["spec"]["ingress"] = [
        {
            "name": f"edge-{ns}",
            "namespace": ns,
            "gateway": {
                "namespace": "istio-system",
                "serviceAccount": "ingress",
                "className": "edge",
            },
            "listeners": [
                {"name": "http", "port": 80, "protocol": "HTTP", "hosts": [f"{ns}.example"]}
            ],
            "routes": [
                {
                    "match": {"path": {"prefix": "/"}},
                    "backend": {"service": by_namespace[ns], "port": 80},
                }
            ],
        }
        for ns in namespaces
        if ns in by_namespace
    ]
    spec["spec"]["egress"] = {
        "hosts": [
            {"host": f"api{i}.example.com", "ports": [{"port": 443, "protocol": "tls"}]}
            for i in range(5)
        ]
    }
    spec["spec"]["telemetry"] = [
        {
            "name": "defaults",
            "namespace": ns,
            "accessLogging": {"enabled": True},
            "tracing": {"samplingPercent": 1},
        }
        for ns in namespaces
    ]
    return spec


def best_of(repeat: int, fn: Any, clock: Any = time.process_time) -> float:
    """The best of ``repeat`` runs. In-process work is timed in CPU seconds, which
    other load on the machine barely moves; subprocesses in wall seconds."""
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def startup_seconds(repeat: int) -> tuple[float, float]:
    """Wall time of `meshc render` on the quickstart, and of a bare interpreter."""

    def run(args: list[str]) -> float:
        return best_of(
            repeat,
            lambda: subprocess.run(args, check=True, stdout=subprocess.DEVNULL),
            time.perf_counter,
        )

    quickstart = str(REPO / "examples" / "quickstart" / "mesh.yaml")
    return (
        run([sys.executable, "-m", "meshc", "render", "--spec", quickstart]),
        run([sys.executable, "-c", "pass"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    quick, bare = startup_seconds(args.repeat)
    print(
        f"meshc render quickstart: {quick * 1000:.0f} ms wall "
        f"(bare interpreter {bare * 1000:.0f} ms; goal <= 500 ms)"
    )
    for label, make, options in (
        ("splits, resilience, allow rules", generated_spec, RenderOptions()),
        (
            "all traffic features",
            lambda n: with_traffic(generated_spec(n)),
            RenderOptions({"istio-rate-limit": "envoyfilter"}),
        ),
    ):
        print(f"-- {label}")
        measure(args.repeat, make, options)


def measure(repeat: int, make: Any, options: RenderOptions) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (200, 2000):
            path = Path(tmp) / f"mesh-{n}.yaml"
            path.write_text(yaml.safe_dump(make(n), sort_keys=False))
            objects, _ = render(load_mesh(str(path)), options)

            def meshc_render(path: Path = path) -> None:
                # As `meshc render` runs it: without the cyclic collector.
                gc.disable()
                try:
                    objs, _ = render(load_mesh(str(path)), options)
                    dump_all(objs)
                finally:
                    gc.enable()

            def floor(path: Path = path, objects: list[Any] = objects) -> None:
                yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
                yaml.dump_all(objects, Dumper=yaml.CSafeDumper, sort_keys=False)

            def floor_without_gc() -> None:
                gc.disable()
                try:
                    floor()
                finally:
                    gc.enable()

            ours = best_of(repeat, meshc_render)
            base, strict = best_of(repeat, floor), best_of(repeat, floor_without_gc)
            results[n] = ours
            print(
                f"{n:>5} services, {len(objects):>5} objects: meshc {ours * 1000:7.1f} ms CPU; "
                f"floor {base * 1000:7.1f} ms ({ours / base:.2f}x); floor without the cyclic "
                f"GC {strict * 1000:7.1f} ms ({ours / strict:.2f}x); goal <= 1.5x"
            )
    print(f"growth 200 -> 2000 services: {results[2000] / results[200]:.1f}x (goal <= 11x)")


if __name__ == "__main__":
    main()
