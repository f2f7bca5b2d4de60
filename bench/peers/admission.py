"""meshc's admission webhook beside Gatekeeper's and Kyverno's, on the same Pod CREATE reviews and the same rules.

Run:  bench/peers/build.sh gatekeeper kyverno   # once: the pinned servers, into .bench-tools/ (never in CI)
      MESHC_TOOLS_BIN=.tools/bin .venv/bin/python bench/peers/admission.py [--connections 4 16]
          [--runs 3] [--duration 5] [--rule-sets one full] [--markdown] [--plot docs/admission.svg]

The rule sets are bench/bench_peers.py's. "one" is the injection opt-out:
meshc runs ``meshc webhook serve --policy injection-required``; "full" is
meshc's every rule (no ``--policy``) against each peer's port of the workload
rules. meshc serves with the wasm engine, the quickstart spec and 2 workers,
as in bench/bench_webhook.py. The peers run their ports in
bench/peers/policies/<rule set>/: Gatekeeper's Rego and CEL templates,
Kyverno's ClusterPolicy and ValidatingPolicy, each in turn. A port that is
missing, or a peer that is not built, is left out with a line on stderr.

Each rule set gets a control plane of its own: the project's etcd and
kube-apiserver (tests/support/kube.py, from $MESHC_TOOLS_BIN), with both
peers running out of cluster against it. No webhook configuration points the
API server at the servers: the load generator (bench/loadgen.py) drives each
validating endpoint itself over keep-alive HTTPS connections, one request in
flight each as the API server sends them, on bench/reviews.py's Pod CREATEs
in the meshed namespace.

Gatekeeper's manager runs with the webhook and generate operations (generate
makes the constraint CRDs), its CRDs from the release's deploy manifest, no
cert rotation, and no ValidatingAdmissionPolicy generated from a CEL
template. Kyverno's admission controller runs in its documented local mode
(``--serverIP``, ``--kubeconfig``: its DEVELOPMENT.md) with the arguments and
environment of the release install manifest's admission-controller Deployment
(the module's config/install-latest-testing.yaml) and everything else in that
manifest except the Deployments. It writes its own CA and serving certificate
(for the ``--serverIP`` address) into Secrets, which the load generator then
trusts. kyverno_argv says what is changed from the manifest and why.

Gatekeeper's templates are installed once; only the measured port's
constraints, or Kyverno policies, exist while it is measured. Before any
timing counts, each server must deny a canary (the same pod, opted out with
``sidecar.istio.io/inject: "false"``; the opt-out is in both rule sets), a
peer by the measured port's own objects, and allow a review. Runs are
interleaved: each round times every server at every connection count. It
prints the median of the rounds (and the range of the rates); CPU is all the
server's processes' user + system time during a run, per answered review.
``--markdown`` prints the table docs/performance.md carries, ``--plot`` writes
its rates and p99s against the connections as the SVG beside it, a row of
panels per rule set (plot.py), ``--json`` the rows and the table for
bench/peers/compare.py.
"""

from __future__ import annotations

import argparse
import base64
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
from plot import Line, figures_svg

from bench_peers import machine
from bench_webhook import free_port, server_command, tree_cpu
from loadgen import Result, run_load
from meshc.webhook.certs import generate, write_bundle
from reviews import pod_create, pod_create_bodies
from support.apply import apply_objects, delete_object, install_crds, request
from support.kube import (
    ControlPlaneError,
    KubeAPIServer,
    _spawn,
    _stop,
    _tail,
    _wait_until,
    running_apiserver,
)

TOOLS_BIN = Path(os.environ.get("MESHC_TOOLS_BIN", REPO / ".tools" / "bin"))
NAMESPACE = "mesh-demo"  # where bench/reviews.py's pods live; the quickstart spec meshes it
GATEKEEPER_NAMESPACE = "gatekeeper-system"
RULE_SETS = ("one", "full")
ALLOWED = b'"allowed":true'
WARM_UP_SECONDS = 1.0
IDLE_SECONDS = 5.0
READY_SECONDS = 120.0


class Unavailable(Exception):
    """Something the run needs is missing or did not come up; the message says what."""


# --- what is compared ---------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """One peer configuration: its port's file, the endpoint the API server would call
    for it, and how its denial names one of the port's objects."""

    server: str  # Gatekeeper or Kyverno
    name: str
    file: str  # under bench/peers/policies/<rule set>/
    path: Callable[[list[str]], str]  # the port's object names -> validating endpoint
    mark: Callable[[str], str]  # an object's name -> what its denial message carries


ENGINES = {
    "rego": Engine("Gatekeeper", "Rego", "gatekeeper-rego.yaml", lambda _: "/v1/admit", "[{}]".format),
    "cel": Engine("Gatekeeper", "CEL", "gatekeeper-cel.yaml", lambda _: "/v1/admit", "[{}]".format),
    # The webhook Kyverno registers for policies that fail closed (the default):
    # pkg/controllers/webhook webhookNameAndPath; the handler takes every
    # ClusterPolicy matching the request. Denials list "<policy>:" then its rules
    # (pkg/webhooks/utils GetBlockedMessages).
    "clusterpolicy": Engine(
        "Kyverno", "ClusterPolicy", "kyverno-clusterpolicy.yaml",
        lambda _: "/validate/fail", "\n{}:\n".format,
    ),
    # /vpol/<name>/<name>...: the handler evaluates the ValidatingPolicies the path
    # names (pkg/webhooks/resource/vpol ValidateClustered); the webhook controller
    # gives policies without their own match conditions one webhook naming them
    # all, and those with one webhook each (buildWebhookRules): here one call
    # judges them all. Denials: "Policy <name> failed: ...".
    "validatingpolicy": Engine(
        "Kyverno", "ValidatingPolicy", "kyverno-validatingpolicy.yaml",
        lambda names: "/vpol/" + "/".join(sorted(names)), "Policy {} failed".format,
    ),
}  # fmt: skip
PEER_BINARIES = {"Gatekeeper": "gatekeeper", "Kyverno": "kyverno"}  # bench/peers/build.sh's names


def meshc_policy(rule_set: str) -> list[str]:
    """meshc's arguments for ``rule_set``: the one policy, or every rule."""
    return ["--policy", ONE_RULE_POLICY] if rule_set == "one" else []


@dataclass(frozen=True)
class Port:
    """One peer's port of a rule set: Gatekeeper's ConstraintTemplates, installed once,
    and the objects that exist only while the port is measured (its constraints, or
    Kyverno's policies). A full port may hold several of each."""

    engine: str
    installed: tuple[dict[str, Any], ...]
    measured: tuple[dict[str, Any], ...]

    @classmethod
    def load(cls, engine: str, rule_set: str) -> Port:
        path = POLICIES / rule_set / ENGINES[engine].file
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        return cls(
            engine,
            tuple(d for d in docs if d["kind"] == "ConstraintTemplate"),
            tuple(d for d in docs if d["kind"] != "ConstraintTemplate"),
        )

    @property
    def server(self) -> str:
        return ENGINES[self.engine].server

    @property
    def names(self) -> list[str]:
        return [str(m["metadata"]["name"]) for m in self.measured]

    @property
    def path(self) -> str:
        return ENGINES[self.engine].path(self.names)

    def denies(self, message: str) -> bool:
        """Whether a denial ``message`` names one of this port's objects."""
        return any(ENGINES[self.engine].mark(name) in message for name in self.names)


def ports(rule_set: str, engines: list[str]) -> list[Port]:
    """The ports of ``rule_set`` that exist and whose server is built; the others are
    left out with a line on stderr."""
    found = []
    for engine in engines:
        facts = ENGINES[engine]
        why = ""
        if not (peers_bin() / PEER_BINARIES[facts.server]).is_file():
            why = f"{PEER_BINARIES[facts.server]} is not built (bench/peers/build.sh)"
        elif not (POLICIES / rule_set / facts.file).is_file():
            why = f"no port of the {rule_set!r} rule set ({(POLICIES / rule_set / facts.file).relative_to(REPO)})"
        if why:
            print(f"[{rule_set}] {facts.server} {facts.name}: left out: {why}", file=sys.stderr)
        else:
            found.append(Port.load(engine, rule_set))
    return found


# --- the servers ----------------------------------------------------------------------


@dataclass
class Server:
    """One server under load: where it listens, its process, the CA its certificate
    chains to, its log."""

    name: str
    port: int
    pid: int
    ca: Path
    log: Path | None = None


def stamped(binary: str) -> tuple[Path, str]:
    """A server bench/peers/build.sh built, and its version (from the build's stamp)."""
    path = peers_bin() / binary
    stamp = peers_bin() / ".stamps" / binary
    if not path.is_file() or not stamp.is_file():
        raise Unavailable(
            f"{path} is not built: run `bench/peers/build.sh {binary}` "
            "(set PEERS_DIR to use another .bench-tools)"
        )
    _, version, _ = stamp.read_text().split(maxsplit=2)
    return path, version


def release_manifest(binary: str, version: str) -> Path:
    """The release's own install manifest, from the module source the build used."""
    if binary == "gatekeeper":
        module = peers_bin().parent / "gomod" / "github.com" / "open-policy-agent"
        manifest = module / f"gatekeeper/v3@{version}" / "deploy" / "gatekeeper.yaml"
    else:  # bench/peers/build.sh's kyverno_source
        manifest = (
            peers_bin().parent
            / "src"
            / f"kyverno-{version}"
            / "config"
            / "install-latest-testing.yaml"
        )
    if not manifest.is_file():
        raise Unavailable(f"{manifest} is missing: run `bench/peers/build.sh {binary}`")
    return manifest


def manifest_docs(manifest: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(manifest.read_text()) if d]


def control_plane_binaries() -> tuple[Path, Path]:
    apiserver, etcd = TOOLS_BIN / "kube-apiserver", TOOLS_BIN / "etcd"
    for binary in (apiserver, etcd):
        if not binary.is_file():
            raise Unavailable(
                f"{binary} is missing: set MESHC_TOOLS_BIN (tools/build.sh builds it)"
            )
    return apiserver, etcd


def _healthy(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], name: str, log: Path
) -> None:
    """The tests' wait for a server (tests/support/kube.py), failing as this script fails."""
    try:
        _wait_until(ready, process, log, name, READY_SECONDS)
    except ControlPlaneError as exc:
        raise Unavailable(str(exc)) from exc


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


@contextmanager
def running_gatekeeper(binary: Path, kubeconfig: Path, certs: Path, work: Path) -> Iterator[Server]:
    port, health = free_port(), free_port()
    log = work / "gatekeeper.log"
    argv = [*gatekeeper_argv(binary, port, health, certs), f"--kubeconfig={kubeconfig}"]
    process = _spawn(argv, log)  # its own process group, stopped with it
    try:
        wait_until(
            lambda: _healthy(f"http://127.0.0.1:{health}/readyz"), process, "gatekeeper", log
        )
        yield Server("Gatekeeper", port, process.pid, certs / "ca.crt", log)
    finally:
        _stop(process)


def kyverno_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The admission controller's container in the release install manifest."""
    (deployment,) = (
        d for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "kyverno-admission-controller"
    )  # fmt: skip
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def kyverno_argv(
    binary: Path, manifest_args: list[str], port: int, metrics_port: int, kubeconfig: Path
) -> list[str]:
    """The release's arguments, with what running out of cluster changes put last."""
    changed = {
        # Its documented local mode: webhook URLs and the serving certificate's
        # IP SAN name this address (pkg/tls generateTLS, pkg/controllers/webhook
        # newClientConfig), and readiness skips the Deployment it has none of.
        "--serverIP": f"127.0.0.1:{port}",
        "--kubeconfig": str(kubeconfig),
        "--webhookServerHost": "127.0.0.1",
        "--webhookServerPort": str(port),
        "--metricsHost": "127.0.0.1",
        "--metricsPort": str(metrics_port),
        "--controllerRuntimeMetricsAddress": "0",
        # Each allowed review would write an EphemeralReport through the API
        # server for the reports controller to merge; none runs here, and past
        # --maxAdmissionReports (1000) it stops writing them anyway.
        "--admissionReports": "false",
        # As for Gatekeeper: the API server would enforce the rule a second time.
        "--generateValidatingAdmissionPolicy": "false",
        "--disableLogColor": "true",  # its log is a file, tailed into error messages
    }
    kept = [a for a in manifest_args if a.split("=", 1)[0] not in changed]
    return [str(binary), *kept, *(f"{flag}={value}" for flag, value in changed.items())]


def kyverno_env(container: dict[str, Any], work: Path) -> dict[str, str]:
    """The release's environment; what the pod's downward API would fill in, filled in."""
    env = dict(os.environ)
    downward = {"metadata.namespace": "kyverno", "metadata.name": "kyverno-admission-controller"}
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            env[var["name"]] = downward[var["valueFrom"]["fieldRef"]["fieldPath"]]
    env["TUF_ROOT"] = str(work / "sigstore")  # the image's /.sigstore is not writable here
    return env


def _flag(args: list[str], name: str) -> str:
    (value,) = (a.split("=", 1)[1] for a in args if a.startswith(f"{name}="))
    return value


def install_kyverno(api: Any, docs: list[dict[str, Any]]) -> None:
    """Everything in its install manifest but the Deployments (it runs here instead)."""
    install_crds(api, [d for d in docs if d["kind"] == "CustomResourceDefinition"])
    rest = [d for d in docs if d["kind"] not in ("CustomResourceDefinition", "Deployment")]
    for objects in (
        [d for d in rest if d["kind"] == "Namespace"],
        [d for d in rest if d["kind"] != "Namespace"],
    ):
        errors = apply_objects(api, objects, dry_run=False, create_namespaces=False)
        if errors:
            raise Unavailable("Kyverno's install manifest refused: " + "; ".join(map(str, errors)))


@contextmanager
def running_kyverno(
    binary: Path, docs: list[dict[str, Any]], api: Any, kube: KubeAPIServer, work: Path
) -> Iterator[Server]:
    container = kyverno_container(docs)
    port = free_port()
    argv = kyverno_argv(binary, container["args"], port, free_port(), kube.kubeconfig)
    env = kyverno_env(container, work)
    secret = (
        f"/api/v1/namespaces/{env['KYVERNO_NAMESPACE']}/secrets/{_flag(argv, '--caSecretName')}"
    )
    ca = work / "kyverno-ca.crt"
    log = work / "kyverno.log"
    process = _spawn(argv, log, env)  # its own process group, stopped with it

    def ready() -> bool:
        # Its certificate manager writes the CA Secret (data tls.crt: pkg/tls
        # ReadRootCASecret) once it leads; the server answers TLS only after that.
        status, data = request(api, "GET", secret)
        if status != 200:
            return False
        ca.write_bytes(base64.b64decode(data["data"]["tls.crt"]))
        context = ssl.create_default_context(cafile=str(ca))
        return _healthy(f"https://127.0.0.1:{port}/health/readiness", context)

    try:
        wait_until(ready, process, "kyverno", log)
        yield Server("Kyverno", port, process.pid, ca, log)
    finally:
        _stop(process)


@contextmanager
def running_meshc(certs: Path, rule_set: str) -> Iterator[Server]:
    port = free_port()
    argv = server_command("granian", "meshc:wasm", port, certs, workers=2, threads=1)
    log = certs.parent / f"meshc-{rule_set}.log"
    # Its own process group, as the peers': the supervisor and its workers stop as one.
    process = _spawn([*argv, *meshc_policy(rule_set)], log)
    try:
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        wait_until(
            lambda: _healthy(f"https://127.0.0.1:{port}/readyz", context), process, "meshc", log
        )
        yield Server("meshc (wasm)", port, process.pid, certs / "ca.crt", log)
    finally:
        _stop(process)


# --- the peers' objects ---------------------------------------------------------------------


def install_gatekeeper(api: Any, docs: list[dict[str, Any]]) -> None:
    """Its CRDs and namespace, as the release's manifest has them; nothing else of it."""
    install_crds(api, [d for d in docs if d["kind"] == "CustomResourceDefinition"])
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": GATEKEEPER_NAMESPACE},
    }
    errors = apply_objects(api, [namespace], dry_run=False, create_namespaces=False)
    if errors:
        raise Unavailable("namespace refused: " + "; ".join(map(str, errors)))


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


def delete(api: Any, obj: dict[str, Any]) -> None:
    status, data = delete_object(api, obj)  # 404: gone, with its kind (a constraint's template)
    if status not in (200, 202, 404):
        raise Unavailable(f"DELETE {obj['kind']} {obj['metadata']['name']}: {status} {data}")


# --- the canary ---------------------------------------------------------------------------


def canary_body() -> bytes:
    """One of the bench's pods, opted out of injection: every server must deny it."""
    review = pod_create(random.Random(0))
    review["request"]["object"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
    return json.dumps(review).encode()


def judge(server: Server, path: str, body: bytes) -> dict[str, Any]:
    """The AdmissionReview response ``server`` gives ``body``."""
    context = ssl.create_default_context(cafile=str(server.ca))
    post = urllib.request.Request(
        f"https://127.0.0.1:{server.port}{path}",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(post, context=context, timeout=10) as answer:
        response: dict[str, Any] = json.load(answer)["response"]
    return response


def denial(server: Server, path: str) -> str:
    """The canary's denial message ("" while the server still allows it)."""
    response = judge(server, path, canary_body())
    if response.get("allowed"):
        return ""
    return str((response.get("status") or {}).get("message", "")) or "(denied, no message)"


def wait_denied_by(server: Server, port: Port, others: list[Port]) -> str:
    """Wait until the peer denies the canary by one of ``port``'s objects and by none of
    the others' (their objects were just deleted; the peer may not have seen it yet)."""
    deadline = time.monotonic() + READY_SECONDS
    message = ""
    while time.monotonic() < deadline:
        message = denial(server, port.path)
        if port.denies(message) and not any(o.denies(message) for o in others):
            return message
        time.sleep(1)
    raise Unavailable(
        f"{server.name} never denied the canary by {', '.join(port.names)} alone; "
        f"last answer: {message!r}; log:\n{_tail(server.log) if server.log else ''}"
    )


# --- measuring --------------------------------------------------------------------------


@dataclass
class Series:
    """Every round's run of one server configuration at one connection count."""

    server: str
    engine: str  # wasm for meshc, else a key of ENGINES
    connections: int
    results: list[Result] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)  # seconds per answered review
    rule_set: str = "one"

    def median(self, value: Callable[[Result], float]) -> float:
        return statistics.median(value(r) for r in self.results)

    @property
    def rate(self) -> float:
        return self.median(lambda r: r.throughput)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.results)

    @property
    def meshc(self) -> bool:
        return self.server.startswith("meshc")


def measure(
    server: Server, path: str, bodies: list[bytes], connections: int, duration: float
) -> tuple[Result, float]:
    before = tree_cpu(server.pid)
    result = run_load(
        "127.0.0.1",
        server.port,
        str(server.ca),
        bodies,
        path=path,
        connections=connections,
        duration=duration,
        processes=1,
        check=ALLOWED,
    )
    cpu = tree_cpu(server.pid) - before
    return result, cpu / max(1, len(result.latencies))


def label(s: Series) -> str:
    return s.server if s.meshc else f"{s.server} {ENGINES[s.engine].name}"


def policy(s: Series) -> str:
    """What the server runs, as the table's column says it."""
    if s.meshc:
        return f"{ONE_RULE_POLICY} (wasm)" if s.rule_set == "one" else "every rule (wasm)"
    return ENGINES[s.engine].name


def ratio(s: Series, series: list[Series]) -> str:
    """``s``'s rate over the best peer configuration's, same rule set and connections."""
    best = max(
        (
            o.rate
            for o in series
            if not o.meshc and o.rule_set == s.rule_set and o.connections == s.connections
        ),
        default=0.0,
    )
    return f"{s.rate / best:.2f}x" if best else "–"


def line(s: Series, series: list[Series]) -> str:
    rates = [r.throughput for r in s.results]
    return (
        f"{s.rule_set:4} {label(s):24} {s.connections:>5} {s.rate:>7.0f} "
        f"({min(rates):.0f}–{max(rates):.0f}) {s.median(lambda r: r.percentile(50)) * 1e3:>7.2f} "
        f"{s.median(lambda r: r.percentile(99)) * 1e3:>7.2f} {s.errors:>6} "
        f"{statistics.median(s.server_cpu) * 1e3:>8.3f} "
        f"{s.median(lambda r: r.cpu / max(1, len(r.latencies))) * 1e3:>7.3f} {ratio(s, series):>6}"
    )


def report(series: list[Series], runs: int) -> None:
    print(f"\nmedian of {runs} interleaved rounds; CPU in ms per answered review")
    print(
        f"{'set':4} {'server':24} {'conns':>5} {'req/s':>7} (range)  {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'srv cpu':>8} {'gen cpu':>7} {'/ best peer':>6}"
    )
    for s in series:
        print(line(s, series))
        first = next((r.first_error for r in s.results if r.first_error), "")
        if first:
            print(f"    first error: {first}")


def versions(peers: dict[str, str]) -> str:
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
            *(f"{name} {v}" for name, v in sorted(peers.items())),
            f"kube-apiserver {apiserver[-1] if apiserver else '?'}",
        ]
    )


def caption(
    runs: int, duration: float, loads: list[tuple[float, float, float]], peers: dict[str, str]
) -> str:
    """When, where and with what: the line above the table, and under the plot."""
    return (
        f"Measured {date.today().isoformat()} on {machine(loads)}; {versions(peers)}; "
        f"median of {runs} interleaved rounds of {duration:g} s each (bench/peers/admission.py)."
    )


def plot_lines(series: list[Series]) -> list[Line]:
    """One line per server configuration, in the table's order: median rate and p99 (ms)."""
    points: dict[str, list[tuple[int, float, float]]] = {}
    for s in series:
        points.setdefault(label(s), []).append(
            (s.connections, s.rate, s.median(lambda r: r.percentile(99)) * 1e3)
        )
    return [Line(name, line) for name, line in points.items()]


def markdown(series: list[Series], heading: str) -> str:
    lines = [
        heading,
        "",
        "| rule set | server | policy | connections | reviews/s (range) | p50 | p99 | server CPU / review | errors | rate / best peer's |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in series:
        rates = [r.throughput for r in s.results]
        lines.append(
            f"| {s.rule_set} | {'meshc' if s.meshc else s.server} | {policy(s)} | "
            f"{s.connections} | {s.rate:.0f} ({min(rates):.0f}–{max(rates):.0f}) | "
            f"{s.median(lambda r: r.percentile(50)) * 1e3:.2f} ms | "
            f"{s.median(lambda r: r.percentile(99)) * 1e3:.2f} ms | "
            f"{statistics.median(s.server_cpu) * 1e3:.2f} ms | {s.errors} | {ratio(s, series)} |"
        )
    return "\n".join(lines)


@dataclass
class Measured:
    """One server configuration in a round: its server, endpoint, and what makes it the
    one in force (a peer's port replacing the last one's objects)."""

    server: Server
    engine: str
    path: str
    prepare: Callable[[], None]


def bench_rule_set(rule_set: str, args: argparse.Namespace, peers: dict[str, str]) -> list[Series]:
    """Every round of ``rule_set``'s configurations, on a control plane of their own;
    ``peers`` gets the version of each peer that ran."""
    chosen = ports(rule_set, args.engines)
    if not chosen:
        raise Unavailable(f"[{rule_set}] no peer to compare meshc with (see above)")
    binaries = {p.server: stamped(PEER_BINARIES[p.server]) for p in chosen}
    manifests = {
        server: manifest_docs(release_manifest(PEER_BINARIES[server], version))
        for server, (_, version) in binaries.items()
    }
    apiserver, etcd = control_plane_binaries()
    bodies = pod_create_bodies()
    print(
        f"# [{rule_set}] {len(bodies)} distinct Pod CREATE reviews in {NAMESPACE}, "
        f"{len(bodies[0])} bytes each; {os.cpu_count()} CPUs; {args.duration:g}s per run; "
        f"{args.runs} rounds; "
        + ", ".join(f"{server} {version}" for server, (_, version) in binaries.items()),
        file=sys.stderr,
    )
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="meshc-admission-")))
        certs = work / "certs"
        certs.mkdir()
        write_bundle(generate("meshc-webhook", "meshc-system", ["127.0.0.1"]), certs)
        try:
            kube = stack.enter_context(running_apiserver(apiserver, etcd, work / "kube"))
        except ControlPlaneError as exc:
            raise Unavailable(str(exc)) from exc
        api = stack.enter_context(kube.api_client())
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        if errors := apply_objects(api, [namespace], dry_run=False, create_namespaces=False):
            raise Unavailable("namespace refused: " + "; ".join(map(str, errors)))
        servers: dict[str, Server] = {}
        if "Gatekeeper" in binaries:
            install_gatekeeper(api, manifests["Gatekeeper"])
            servers["Gatekeeper"] = stack.enter_context(
                running_gatekeeper(binaries["Gatekeeper"][0], kube.kubeconfig, certs, work)
            )
            templates = [t for p in chosen for t in p.installed]
            apply_until_accepted(api, templates, "ConstraintTemplates")
        if "Kyverno" in binaries:
            install_kyverno(api, manifests["Kyverno"])
            servers["Kyverno"] = stack.enter_context(
                running_kyverno(binaries["Kyverno"][0], manifests["Kyverno"], api, kube, work)
            )
        print(f"# [{rule_set}] {', '.join(servers)} up", file=sys.stderr)
        peers.update({server: version for server, (_, version) in binaries.items()})

        def switch_to(port: Port) -> Callable[[], None]:
            others = [o for o in chosen if o is not port and o.server == port.server]

            def prepare() -> None:
                for other in others:
                    for obj in other.measured:
                        delete(api, obj)
                apply_until_accepted(api, list(port.measured), ", ".join(port.names))
                message = wait_denied_by(servers[port.server], port, others)
                if args.verbose:
                    print(f"# canary denied: {message}", file=sys.stderr)

            return prepare

        meshc = stack.enter_context(running_meshc(certs, rule_set))
        measured = [Measured(meshc, "wasm", "/validate", lambda: None)] + [
            Measured(servers[p.server], p.engine, p.path, switch_to(p)) for p in chosen
        ]
        everyone = [meshc, *servers.values()]
        idle = {server.name: tree_cpu(server.pid) for server in everyone}
        time.sleep(IDLE_SECONDS)  # what each uses with no load: its share of every run's CPU
        for server in everyone:
            used = (tree_cpu(server.pid) - idle[server.name]) / IDLE_SECONDS
            print(f"# [{rule_set}] {server.name} idle: {used:.1%} of a CPU", file=sys.stderr)
        series = {
            (m.engine, c): Series(m.server.name, m.engine, c, rule_set=rule_set)
            for m in measured
            for c in args.connections
        }
        for round_ in range(args.runs):
            for m in measured:
                m.prepare()
                # Before any timing of this round counts: the canary denied, a review allowed.
                if not denial(m.server, m.path):
                    raise Unavailable(
                        f"[{rule_set}] {m.server.name} ({m.engine}) allowed the canary"
                    )
                answer = judge(m.server, m.path, bodies[0])
                if not answer.get("allowed"):
                    raise Unavailable(
                        f"[{rule_set}] {m.server.name} ({m.engine}) denied a review: "
                        f"{(answer.get('status') or {}).get('message', '')}"
                    )
                run_load(
                    "127.0.0.1",
                    m.server.port,
                    str(m.server.ca),
                    bodies,
                    path=m.path,
                    connections=4,
                    duration=WARM_UP_SECONDS,
                    processes=1,
                    check=ALLOWED,
                )
                for c in args.connections:
                    result, cpu = measure(m.server, m.path, bodies, c, args.duration)
                    s = series[(m.engine, c)]
                    s.results.append(result)
                    s.server_cpu.append(cpu)
                    print(
                        f"# [{rule_set}] round {round_ + 1}: {label(s)} {c} conns: "
                        f"{result.throughput:.0f}/s p99 {result.percentile(99) * 1e3:.2f} ms "
                        f"errors {result.errors} {result.first_error}",
                        file=sys.stderr,
                    )
    return list(series.values())


def rows(series: list[Series]) -> list[dict[str, Any]]:
    """The medians as bench/peers/compare.py reads them (``--json``): seconds, reviews/s."""
    return [
        {
            "rule_set": s.rule_set,
            "server": "meshc" if s.meshc else s.server,
            "config": "wasm" if s.meshc else ENGINES[s.engine].name,
            "connections": s.connections,
            "rate": s.rate,
            "rates": [r.throughput for r in s.results],
            "p50": s.median(lambda r: r.percentile(50)),
            "p99": s.median(lambda r: r.percentile(99)),
            "server_cpu": statistics.median(s.server_cpu),
            "errors": s.errors,
        }
        for s in series
    ]


def write_whole(path: Path, text: str) -> None:
    written = path.with_name(path.name + ".tmp")
    written.write_text(text)
    written.replace(path)  # whole or not at all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument(
        "--rule-sets", nargs="+", choices=RULE_SETS, default=list(RULE_SETS),
        help="one: the injection opt-out; full: every ported rule",
    )  # fmt: skip
    parser.add_argument(
        "--engines", nargs="+", choices=list(ENGINES), default=list(ENGINES),
        help="the peers' ports to measure",
    )  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="also print the table for docs")
    parser.add_argument(
        "--plot", type=Path, metavar="FILE.svg",
        help="also write reviews/s and p99 against connections, per server and rule set, as an SVG",
    )  # fmt: skip
    parser.add_argument(
        "--json", type=Path, metavar="FILE",
        help="also write the rows and the table as JSON (bench/peers/compare.py reads it)",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="say each canary's denial")
    args = parser.parse_args()
    loads = [os.getloadavg()]
    peers: dict[str, str] = {}
    try:
        series = [s for rule_set in args.rule_sets for s in bench_rule_set(rule_set, args, peers)]
    except Unavailable as exc:
        print(f"bench/peers/admission.py: {exc}", file=sys.stderr)
        return 2
    loads.append(os.getloadavg())
    report(series, args.runs)
    heading = caption(args.runs, args.duration, loads, peers)
    table = markdown(series, heading)
    if args.markdown:
        print()
        print(table)
    if args.json:
        write_whole(
            args.json, json.dumps({"rows": rows(series), "markdown": table}, indent=1) + "\n"
        )
    if args.plot:
        figures = [
            (rule_set, plot_lines([s for s in series if s.rule_set == rule_set]))
            for rule_set in args.rule_sets
        ]
        write_whole(args.plot, figures_svg(figures, heading))
        print(f"# wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
