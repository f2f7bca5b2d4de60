"""Admission latency the native policies add, against the webhook's, through one kube-apiserver.

One API server (and etcd) from the e2e harness; the Istio sample spec
(tests/policies/samples/specs/istio.yaml). The same requests are sent, one at
a time over one keep-alive connection, as dry runs (nothing is stored), with
nothing registered, with the webhook only (`meshc webhook serve`, the wasm
engine, registered through the chart's configurations), with the native
policies only (the ValidatingAdmissionPolicy and MutatingAdmissionPolicy
objects meshc renders), and with both. Configurations take turns, round
after round, so a busy machine slows each alike.

Requests: the Pod Istio's injector leaves (admitted: every rule runs to the
end), a Deployment (admitted), and a Deployment that opts out of injection
(denied). Reported per request kind and configuration: the client's median,
p90 and p99 in ms, what each adds to the median with nothing registered, and
the CPU each request costs the API server and the webhook's processes
together (from /proc), which a busy machine disturbs far less than latency.

    MESHC_TOOLS_BIN=... .venv/bin/python bench/bench_native.py --requests 200 --rounds 3
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))

from meshc.compiler.loader import load_mesh
from meshc.policies.native.objects import native_admission
from meshc.policies.native.versions import LATEST
from support.admission_parity import Cluster
from support.helm_chart import render_webhook_configurations
from support.kube import running_apiserver
from support.paths import require_tool
from support.webhook_server import WebhookServer, generate_certs

SPEC = REPO / "tests" / "policies" / "samples" / "specs" / "istio.yaml"
POD = (
    REPO
    / "tests"
    / "policies"
    / "samples"
    / "injection-required"
    / "allowed"
    / ("istio-injected-native-sidecar.yaml")
)
NS = "mesh-demo"
CONFIGS = ("none", "webhook", "native", "both")
Obj = dict[str, Any]


def requests_to_send() -> dict[str, tuple[str, Obj]]:
    pod = yaml.safe_load(POD.read_text())["request"]["object"]
    for key in ("uid", "creationTimestamp", "managedFields", "resourceVersion"):
        pod["metadata"].pop(key, None)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    opted_out = copy.deepcopy(deployment)
    opted_out["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
    return {
        "injected Pod (admitted)": (f"/api/v1/namespaces/{NS}/pods", pod),
        "Deployment (admitted)": (f"/apis/apps/v1/namespaces/{NS}/deployments", deployment),
        "Deployment opting out (denied)": (f"/apis/apps/v1/namespaces/{NS}/deployments", opted_out),
    }


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds used so far by ``pids`` and every process below them (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


def apiserver_pid(workdir: Path) -> int:
    """The kube-apiserver serving from ``workdir``."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                cmdline
                and cmdline[0].endswith(b"kube-apiserver")
                and f"--cert-dir={workdir}".encode() in cmdline
            ):
                return int(proc.name)
    raise SystemExit("no kube-apiserver process found")


def path_of(obj: Obj) -> str:
    kind = obj["kind"].lower()
    plural = kind[:-1] + "ies" if kind.endswith("policy") else kind + "s"
    return f"/apis/{obj['apiVersion']}/{plural}/{obj['metadata']['name']}"


def wait_admission(cluster: Cluster, denied: bool) -> None:
    _, probe = requests_to_send()["Deployment opting out (denied)"]
    deadline = time.monotonic() + 60
    while (
        cluster.call(
            "POST", f"/apis/apps/v1/namespaces/{NS}/deployments", probe, query={"dryRun": "All"}
        ).status_code
        == 403
    ) != denied:
        if time.monotonic() > deadline:
            raise SystemExit("admission did not settle within 60 s")
        time.sleep(0.2)
    time.sleep(2)  # every policy and configuration picked up, not only the probe's


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=200, help="per kind, configuration and round"
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    apiserver, etcd = require_tool("kube-apiserver"), require_tool("etcd")
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_apiserver(apiserver, etcd, Path(tmp) / "kube") as server,
    ):
        cluster = Cluster(server)
        cluster.ensure(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": NS, "labels": {"istio-injection": "enabled"}},
            }
        )
        cluster.ensure(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": NS},
            }
        )
        certs = generate_certs(Path(tmp) / "certs")
        webhook = WebhookServer(SPEC, certs, Path(tmp) / "webhook.log").start()
        configurations = render_webhook_configurations(
            webhook.url, certs.ca.read_bytes(), extra={"spec": SPEC.read_text()}
        )
        native = native_admission(load_mesh(str(SPEC)), LATEST, allow_webhook_rules=False).objects
        installs = {
            "none": [],
            "webhook": configurations,
            "native": native,
            "both": configurations + native,
        }
        latencies: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        assert webhook.process is not None
        pids = [apiserver_pid(Path(tmp) / "kube"), webhook.process.pid]
        try:
            for round_ in range(args.rounds):
                for config in CONFIGS:
                    for obj in installs[config]:
                        r = cluster.call("POST", path_of(obj).rsplit("/", 1)[0], obj)
                        assert r.status_code == 201, r.text
                    wait_admission(cluster, denied=config != "none")
                    for kind, (path, body) in requests_to_send().items():
                        for _ in range(10):  # warm the connection and the compiled policies
                            cluster.call("POST", path, body, query={"dryRun": "All"})
                        times = latencies.setdefault((kind, config), [])
                        before = cpu_seconds(pids)
                        for _ in range(args.requests):
                            start = time.perf_counter()
                            cluster.call("POST", path, body, query={"dryRun": "All"})
                            times.append(time.perf_counter() - start)
                        cpu.setdefault((kind, config), []).append(
                            (cpu_seconds(pids) - before) / args.requests
                        )
                    for obj in installs[config]:
                        cluster.call("DELETE", path_of(obj))
                    wait_admission(cluster, denied=False)
                print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr)
        finally:
            webhook.stop()
    print(
        f"{args.requests} requests x {args.rounds} rounds per kind and configuration; ms; "
        "cpu: the API server's and the webhook's CPU per request, median of the rounds"
    )
    print(
        f"{'request':32} {'config':8} {'median':>7} {'p90':>7} {'p99':>7} {'added':>7} "
        f"{'cpu':>6} {'added':>7}"
    )
    for kind in requests_to_send():
        base = statistics.median(latencies[(kind, "none")])
        base_cpu = statistics.median(cpu[(kind, "none")])
        for config in CONFIGS:
            times = sorted(latencies[(kind, config)])
            median = statistics.median(times)
            p90, p99 = times[int(len(times) * 0.9)], times[int(len(times) * 0.99)]
            used = statistics.median(cpu[(kind, config)])
            print(
                f"{kind:32} {config:8} {median * 1e3:7.2f} {p90 * 1e3:7.2f} {p99 * 1e3:7.2f} "
                f"{(median - base) * 1e3:+7.2f} {used * 1e3:6.2f} {(used - base_cpu) * 1e3:+7.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
