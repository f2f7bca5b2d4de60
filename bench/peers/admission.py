"""meshc's admission webhook beside Gatekeeper's, on the same Pod CREATE reviews and the same rule.

Run:  bench/peers/build.sh gatekeeper     # once: the pinned manager, into .bench-tools/ (never in CI)
      MESHC_TOOLS_BIN=.tools/bin .venv/bin/python bench/peers/admission.py [--connections 4 16]
          [--runs 3] [--duration 5] [--markdown] [--plot docs/admission.svg]

The rule is the one-rule set of bench/bench_peers.py, the injection opt-out:
meshc runs ``meshc webhook serve --policy injection-required`` (wasm engine,
the quickstart spec, 2 workers, as bench/bench_webhook.py); Gatekeeper its
port in bench/peers/policies/one/, the Rego and the CEL template in turn.

Gatekeeper's manager runs out of cluster against the project's own etcd and
kube-apiserver (tests/support/kube.py, from $MESHC_TOOLS_BIN), with the
webhook and the generate operations (the constraint CRDs come from the
latter), its CRDs from the release's deploy manifest, no cert rotation, and
no ValidatingAdmissionPolicy generated from the CEL template. No webhook
configuration is registered: the load generator (bench/loadgen.py) drives
each server's endpoint itself, keep-alive HTTPS connections with one request
in flight each, like the API server, on bench/reviews.py's Pod CREATEs in the
meshed namespace.

Both templates are installed; only the measured one's constraint exists
while it is measured. Before any timing counts, each server must deny a
canary (the same pod, opted out with ``sidecar.istio.io/inject: "false"``),
Gatekeeper by the measured constraint alone, and allow the reviews. Runs are
interleaved: each round times every server at every connection count. It
prints the median of the rounds (and the range of the rates); CPU is all the
server's processes' user + system time during a run, per answered review.
``--markdown`` prints the table docs/performance.md carries, ``--plot`` writes
its rates and p99s against the connections as the SVG beside it (plot.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

PEERS = Path(__file__).resolve().parent
BENCH = PEERS.parent
REPO = BENCH.parent
for path in (PEERS, BENCH, REPO / "tests"):
    sys.path.insert(0, str(path))

from peer_tools import ONE_RULE_POLICY, POLICIES, peers_bin
from plot import Line, svg

from bench_peers import machine
from bench_webhook import free_port, server_command, tree_cpu, wait_ready
from loadgen import Result, run_load
from meshc.webhook.certs import generate, write_bundle
from reviews import pod_create, pod_create_bodies
from support.apply import apply_objects, install_crds, request
from support.kube import ControlPlaneError, _spawn, _stop, _tail, running_apiserver

TOOLS_BIN = Path(os.environ.get("MESHC_TOOLS_BIN", REPO / ".tools" / "bin"))
NAMESPACE = "mesh-demo"  # where bench/reviews.py's pods live; the quickstart spec meshes it
GATEKEEPER_NAMESPACE = "gatekeeper-system"
ALLOWED = b'"allowed":true'
WARM_UP_SECONDS = 1.0
IDLE_SECONDS = 5.0
READY_SECONDS = 120.0
ENGINES = {"wasm": "wasm", "rego": "Rego", "cel": "CEL"}


class Unavailable(Exception):
    """Something the run needs is missing or did not come up; the message says what."""


# --- the servers ----------------------------------------------------------------------


@dataclass
class Server:
    """One server under load: where it listens, its process, its log."""

    name: str
    port: int
    pid: int
    path: str  # the validating endpoint
    log: Path | None = None


def gatekeeper_binary() -> tuple[Path, str]:
    """The manager bench/peers/build.sh built, and its version (from the build's stamp)."""
    binary = peers_bin() / "gatekeeper"
    stamp = peers_bin() / ".stamps" / "gatekeeper"
    if not binary.is_file() or not stamp.is_file():
        raise Unavailable(
            f"{binary} is not built: run `bench/peers/build.sh gatekeeper` "
            "(set PEERS_DIR to use another .bench-tools)"
        )
    _, version, _ = stamp.read_text().split(maxsplit=2)
    return binary, version


def deploy_manifest(version: str) -> Path:
    """The release's own install manifest, from the Go module the build downloaded."""
    module = (
        peers_bin().parent
        / "gomod"
        / "github.com"
        / "open-policy-agent"
        / f"gatekeeper/v3@{version}"
    )
    manifest = module / "deploy" / "gatekeeper.yaml"
    if not manifest.is_file():
        raise Unavailable(f"{manifest} is missing: run `bench/peers/build.sh gatekeeper`")
    return manifest


def control_plane_binaries() -> tuple[Path, Path]:
    apiserver, etcd = TOOLS_BIN / "kube-apiserver", TOOLS_BIN / "etcd"
    for binary in (apiserver, etcd):
        if not binary.is_file():
            raise Unavailable(
                f"{binary} is missing: set MESHC_TOOLS_BIN (tools/build.sh builds it)"
            )
    return apiserver, etcd


def gatekeeper_argv(binary: Path, port: int, health_port: int, certs: Path) -> list[str]:
    return [
        str(binary),
        # generate makes the constraint CRDs from the templates; without it none appear.
        "--operation=webhook",
        "--operation=generate",
        "--debug-use-fake-pod",  # out of cluster: no pod of its own to look up
        "--disable-cert-rotation",
        f"--cert-dir={certs}",  # tls.crt and tls.key
        "--host=127.0.0.1",
        f"--port={port}",
        f"--health-addr=127.0.0.1:{health_port}",
        "--metrics-addr=0",
        # No ValidatingAdmissionPolicy from the CEL template: the API server would
        # enforce the rule a second time, and nothing here goes through it anyway.
        "--default-create-vap-for-templates=false",
        "--default-create-vap-binding-for-constraints=false",
        "--shutdown-delay=0",
    ]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@contextmanager
def running_gatekeeper(binary: Path, kubeconfig: Path, certs: Path, work: Path) -> Iterator[Server]:
    port, health = free_port(), free_port()
    log = work / "gatekeeper.log"
    argv = [*gatekeeper_argv(binary, port, health, certs), f"--kubeconfig={kubeconfig}"]
    process = _spawn(argv, log)  # its own process group, stopped with it
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not _healthy(f"http://127.0.0.1:{health}/readyz"):
            if process.poll() is not None:
                raise Unavailable(
                    f"gatekeeper exited with {process.returncode}; log:\n{_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"gatekeeper not ready after {READY_SECONDS:.0f}s; log:\n{_tail(log)}"
                )
            time.sleep(0.5)
        yield Server("Gatekeeper", port, process.pid, "/v1/admit", log)
    finally:
        _stop(process)


@contextmanager
def running_meshc(certs: Path) -> Iterator[Server]:
    port = free_port()
    argv = server_command("granian", "meshc:wasm", port, certs, workers=2, threads=1)
    process = subprocess.Popen(
        [*argv, "--policy", ONE_RULE_POLICY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, certs / "ca.crt", process)
        yield Server("meshc (wasm)", port, process.pid, "/validate")
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


# --- Gatekeeper's policies --------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    """One of Gatekeeper's ports of the rule: a ConstraintTemplate and its Constraint."""

    engine: str  # rego or cel
    template: dict[str, Any]
    constraint: dict[str, Any]

    @classmethod
    def load(cls, engine: str) -> Port:
        path = POLICIES / "one" / f"gatekeeper-{engine}.yaml"
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        (template,) = (d for d in docs if d["kind"] == "ConstraintTemplate")
        (constraint,) = (d for d in docs if d["kind"] != "ConstraintTemplate")
        return cls(engine, template, constraint)

    @property
    def name(self) -> str:
        return str(self.constraint["metadata"]["name"])

    @property
    def constraint_path(self) -> str:
        group_version = self.constraint["apiVersion"]
        plural = self.constraint[
            "kind"
        ].lower()  # Gatekeeper's constraint CRDs: the lower-cased kind
        return f"/apis/{group_version}/{plural}/{self.name}"


def install_gatekeeper(api: Any, manifest: Path) -> None:
    """Its CRDs and namespace, as the release's manifest has them; nothing else of it."""
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    install_crds(api, [d for d in docs if d["kind"] == "CustomResourceDefinition"])
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in (GATEKEEPER_NAMESPACE, NAMESPACE)
    ]
    errors = apply_objects(api, namespaces, dry_run=False, create_namespaces=False)
    if errors:
        raise Unavailable("namespaces refused: " + "; ".join(map(str, errors)))


def apply_until_accepted(api: Any, objects: list[dict[str, Any]], what: str) -> None:
    """Apply ``objects``, retrying while their kind is not served yet (a constraint's CRD
    appears once Gatekeeper has read its template)."""
    deadline = time.monotonic() + READY_SECONDS
    while True:
        errors = apply_objects(api, objects, dry_run=False, create_namespaces=False)
        if not errors:
            return
        if time.monotonic() > deadline:
            raise Unavailable(f"{what} refused: " + "; ".join(map(str, errors)))
        time.sleep(1)


def delete(api: Any, path: str) -> None:
    status, data = request(api, "DELETE", path)
    if status not in (200, 202, 404):
        raise Unavailable(f"DELETE {path}: {status} {data}")


# --- the canary ---------------------------------------------------------------------------


def canary_body() -> bytes:
    """One of the bench's pods, opted out of injection: every server must deny it."""
    review = pod_create(random.Random(0))
    review["request"]["object"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
    return json.dumps(review).encode()


def judge(server: Server, ca: Path, body: bytes) -> dict[str, Any]:
    """The AdmissionReview response ``server`` gives ``body``."""
    context = ssl.create_default_context(cafile=str(ca))
    post = urllib.request.Request(
        f"https://127.0.0.1:{server.port}{server.path}",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(post, context=context, timeout=10) as answer:
        response: dict[str, Any] = json.load(answer)["response"]
    return response


def denial(server: Server, ca: Path) -> str:
    """The canary's denial message ("" while the server still allows it)."""
    response = judge(server, ca, canary_body())
    if response.get("allowed"):
        return ""
    return str((response.get("status") or {}).get("message", "")) or "(denied, no message)"


def wait_denied_by(server: Server, ca: Path, port: Port, others: list[Port]) -> str:
    """Wait until Gatekeeper denies the canary by ``port``'s constraint and no other's."""
    deadline = time.monotonic() + READY_SECONDS
    message = ""
    while time.monotonic() < deadline:
        message = denial(server, ca)
        if f"[{port.name}]" in message and not any(f"[{o.name}]" in message for o in others):
            return message
        time.sleep(1)
    raise Unavailable(
        f"Gatekeeper never denied the canary by {port.name} alone; last answer: {message!r}; "
        f"log:\n{_tail(server.log) if server.log else ''}"
    )


# --- measuring --------------------------------------------------------------------------


@dataclass
class Series:
    """Every round's run of one server (and engine) at one connection count."""

    server: str
    engine: str
    connections: int
    results: list[Result] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)  # seconds per answered review

    def median(self, value: Callable[[Result], float]) -> float:
        return statistics.median(value(r) for r in self.results)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.results)


def measure(
    server: Server, ca: Path, bodies: list[bytes], connections: int, duration: float
) -> tuple[Result, float]:
    before = tree_cpu(server.pid)
    result = run_load(
        "127.0.0.1",
        server.port,
        str(ca),
        bodies,
        path=server.path,
        connections=connections,
        duration=duration,
        processes=1,
        check=ALLOWED,
    )
    cpu = tree_cpu(server.pid) - before
    return result, cpu / max(1, len(result.latencies))


def line(s: Series) -> str:
    rates = [r.throughput for r in s.results]
    return (
        f"{s.server:13} {s.engine:5} {s.connections:>5} {s.median(lambda r: r.throughput):>7.0f} "
        f"({min(rates):.0f}–{max(rates):.0f}) {s.median(lambda r: r.percentile(50)) * 1e3:>7.2f} "
        f"{s.median(lambda r: r.percentile(99)) * 1e3:>7.2f} {s.errors:>6} "
        f"{statistics.median(s.server_cpu) * 1e3:>8.3f} "
        f"{s.median(lambda r: r.cpu / max(1, len(r.latencies))) * 1e3:>7.3f}"
    )


def report(series: list[Series], runs: int) -> None:
    print(f"\nmedian of {runs} interleaved rounds; CPU in ms per answered review")
    print(
        f"{'server':13} {'eng':5} {'conns':>5} {'req/s':>7} (range)  {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'srv cpu':>8} {'gen cpu':>7}"
    )
    for s in series:
        print(line(s))
        first = next((r.first_error for r in s.results if r.first_error), "")
        if first:
            print(f"    first error: {first}")


def versions(gatekeeper: str) -> str:
    from importlib.metadata import version

    apiserver = subprocess.run(
        [str(TOOLS_BIN / "kube-apiserver"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return "; ".join(
        [
            f"meshc {version('meshc')}",
            f"wasmtime {version('wasmtime')}",
            f"granian {version('granian')}",
            f"{platform.python_implementation()} {platform.python_version()}",
            f"Gatekeeper {gatekeeper}",
            f"kube-apiserver {apiserver[-1] if apiserver else '?'}",
        ]
    )


def caption(
    runs: int, duration: float, loads: list[tuple[float, float, float]], gatekeeper: str
) -> str:
    """When, where and with what: the line above the table, and under the plot."""
    return (
        f"Measured {date.today().isoformat()} on {machine(loads)}; {versions(gatekeeper)}; "
        f"median of {runs} interleaved rounds of {duration:g} s each (bench/peers/admission.py)."
    )


def label(s: Series) -> str:
    return s.server if s.server.startswith("meshc") else f"{s.server} {ENGINES[s.engine]}"


def plot_lines(series: list[Series]) -> list[Line]:
    """One line per server configuration, in the table's order: median rate and p99 (ms)."""
    points: dict[str, list[tuple[int, float, float]]] = {}
    for s in series:
        points.setdefault(label(s), []).append(
            (
                s.connections,
                s.median(lambda r: r.throughput),
                s.median(lambda r: r.percentile(99)) * 1e3,
            )
        )
    return [Line(name, line) for name, line in points.items()]


def markdown(series: list[Series], heading: str) -> str:
    lines = [
        heading,
        "",
        "| server | rule | connections | reviews/s (range) | p50 | p99 | server CPU / review | errors | rate / Gatekeeper's best |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in series:
        best = max(
            (
                o.median(lambda r: r.throughput)
                for o in series
                if o.server == "Gatekeeper" and o.connections == s.connections
            ),
            default=0.0,
        )
        rate = s.median(lambda r: r.throughput)
        rates = [r.throughput for r in s.results]
        meshc = s.server.startswith("meshc")
        lines.append(
            f"| {'meshc' if meshc else s.server} | "
            f"{'injection-required (wasm)' if meshc else ENGINES[s.engine]} | "
            f"{s.connections} | {rate:.0f} ({min(rates):.0f}–{max(rates):.0f}) | "
            f"{s.median(lambda r: r.percentile(50)) * 1e3:.2f} ms | "
            f"{s.median(lambda r: r.percentile(99)) * 1e3:.2f} ms | "
            f"{statistics.median(s.server_cpu) * 1e3:.2f} ms | {s.errors} | "
            f"{rate / best:.2f}x |"
            if best
            else "|"
        )
    return "\n".join(lines)


def bench(args: argparse.Namespace) -> tuple[list[Series], str]:
    binary, version = gatekeeper_binary()
    manifest = deploy_manifest(version)
    apiserver, etcd = control_plane_binaries()
    ports = [Port.load(engine) for engine in args.engines]
    bodies = pod_create_bodies()
    print(
        f"# {len(bodies)} distinct Pod CREATE reviews in {NAMESPACE}, {len(bodies[0])} bytes each; "
        f"{os.cpu_count()} CPUs; {args.duration:g}s per run; {args.runs} rounds; Gatekeeper {version}"
    )
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="meshc-admission-")))
        certs = work / "certs"
        certs.mkdir()
        write_bundle(generate("meshc-webhook", "meshc-system", ["127.0.0.1"]), certs)
        ca = certs / "ca.crt"
        try:
            kube = stack.enter_context(running_apiserver(apiserver, etcd, work / "kube"))
        except ControlPlaneError as exc:
            raise Unavailable(str(exc)) from exc
        api = stack.enter_context(kube.api_client())
        install_gatekeeper(api, manifest)
        gatekeeper = stack.enter_context(running_gatekeeper(binary, kube.kubeconfig, certs, work))
        apply_until_accepted(api, [p.template for p in ports], "ConstraintTemplates")
        print("# Gatekeeper is up, its templates installed", file=sys.stderr)

        def switch_to(port: Port) -> Callable[[], None]:
            def prepare() -> None:
                for other in ports:
                    if other is not port:
                        delete(api, other.constraint_path)
                apply_until_accepted(api, [port.constraint], f"constraint {port.name}")
                message = wait_denied_by(gatekeeper, ca, port, [o for o in ports if o is not port])
                if args.verbose:
                    print(f"# canary denied: {message}", file=sys.stderr)

            return prepare

        meshc = stack.enter_context(running_meshc(certs))
        servers = [(meshc, "wasm", lambda: None)] + [
            (gatekeeper, p.engine, switch_to(p)) for p in ports
        ]
        idle = {s.name: tree_cpu(s.pid) for s in (meshc, gatekeeper)}
        time.sleep(IDLE_SECONDS)  # what each uses with no load: its share of every run's CPU
        for s in (meshc, gatekeeper):
            used = (tree_cpu(s.pid) - idle[s.name]) / IDLE_SECONDS
            print(f"# {s.name} idle: {used:.1%} of a CPU", file=sys.stderr)
        series = {
            (server.name, engine, c): Series(server.name, engine, c)
            for server, engine, _ in servers
            for c in args.connections
        }
        for round_ in range(args.runs):
            for server, engine, prepare in servers:
                prepare()
                if not denial(server, ca):  # before any timing of this round counts
                    raise Unavailable(f"{server.name} ({engine}) allowed the canary")
                run_load(
                    "127.0.0.1",
                    server.port,
                    str(ca),
                    bodies,
                    path=server.path,
                    connections=4,
                    duration=WARM_UP_SECONDS,
                    processes=1,
                    check=ALLOWED,
                )
                for c in args.connections:
                    result, cpu = measure(server, ca, bodies, c, args.duration)
                    s = series[(server.name, engine, c)]
                    s.results.append(result)
                    s.server_cpu.append(cpu)
                    print(
                        f"# round {round_ + 1}: {server.name} {engine} {c} conns: "
                        f"{result.throughput:.0f}/s p99 {result.percentile(99) * 1e3:.2f} ms "
                        f"errors {result.errors} {result.first_error}",
                        file=sys.stderr,
                    )
    return list(series.values()), version


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument(
        "--engines", nargs="+", choices=("rego", "cel"), default=["rego", "cel"],
        help="Gatekeeper's ports to measure",
    )  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="also print the table for docs")
    parser.add_argument(
        "--plot", type=Path, metavar="FILE.svg",
        help="also write reviews/s and p99 against connections, per server, as an SVG",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="say each canary's denial")
    args = parser.parse_args()
    loads = [os.getloadavg()]
    try:
        series, version = bench(args)
    except Unavailable as exc:
        print(f"bench/peers/admission.py: {exc}", file=sys.stderr)
        return 2
    loads.append(os.getloadavg())
    report(series, args.runs)
    heading = caption(args.runs, args.duration, loads, version)
    if args.markdown:
        print()
        print(markdown(series, heading))
    if args.plot:
        written = args.plot.with_name(args.plot.name + ".tmp")
        written.write_text(svg(plot_lines(series), heading))
        written.replace(args.plot)  # whole or not at all
        print(f"# wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
