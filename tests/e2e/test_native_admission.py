"""The native admission policies decide as the webhook does, through a real API server.

For each sample mesh (tests/policies/samples/specs: Istio in mesh-demo,
Linkerd in l5d-demo) every admission fixture the webhook is tested with
(support/admission_parity.py: the policy samples, the bypass corpus, the
injected pods and what weakens them; CREATE, UPDATE, DELETE, subresources;
as each fixture's user) is sent to the session's kube-apiserver three times,
as a dry run: with only the webhook registered (the chart's configurations,
pointing at `meshc webhook serve`), with only the native policies meshc
renders (ValidatingAdmissionPolicy and MutatingAdmissionPolicy, no webhook),
and with both. Each must be allowed or denied alike, and every finding the
API server reports from a native policy must be one the webhook reports, word
for word. The API server validates every object first: a request it refuses
itself is counted apart, and refused alike.

The policies are type-checked by kube-controller-manager's own status
controller (tools/kube/vap-status-controller), which writes
status.typeChecking: no warnings.
"""

from __future__ import annotations

import collections
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from meshc.compiler.loader import load_mesh
from meshc.policies.mutation import NamespaceMutation
from meshc.policies.native.objects import native_admission
from meshc.policies.native.versions import LATEST
from support.admission_parity import Case, Cluster, Outcome, all_cases, rounds
from support.helm_chart import render_webhook_configurations
from support.kube import KubeAPIServer
from support.paths import require_tool
from support.policy_samples import SPECS
from support.webhook_server import WebhookServer, generate_certs

pytestmark = pytest.mark.tools

PROVIDERS = ("istio", "linkerd")
MODES = ("webhook", "native", "both")
MESHED = {"istio": "mesh-demo", "linkerd": "l5d-demo"}
REGISTRATION_TIMEOUT = 60.0
# The controller type-checks every variable against each kind the policy matches:
# minutes on a loaded 2-core machine. Not a figure, a bound on waiting.
TYPE_CHECK_TIMEOUT = 600.0

Obj = dict[str, Any]


@dataclass
class Results:
    """Per provider: each case's outcome in each mode, and the native policies' status."""

    outcomes: dict[str, dict[str, dict[str, Outcome]]] = field(default_factory=dict)
    cases: dict[str, list[Case]] = field(default_factory=dict)
    type_checking: dict[str, dict[str, Any]] = field(default_factory=dict)


def _admission_path(obj: Obj) -> str:
    kind = obj["kind"].lower()
    plural = kind[:-1] + "ies" if kind.endswith("policy") else kind + "s"
    return f"/apis/{obj['apiVersion']}/{plural}/{obj['metadata']['name']}"


def _managed_probe(provider: str) -> Obj:
    """A security object marked as this spec's: changing its mark is what managed-objects denies."""
    ns = MESHED[provider]
    meta = {
        "name": "probe-managed",
        "namespace": ns,
        "labels": {"app.kubernetes.io/managed-by": "meshc", "meshc.io/mesh": "samples"},
    }
    if provider == "istio":
        return {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": meta,
            "spec": {"mtls": {"mode": "STRICT"}},
        }
    return {
        "apiVersion": "policy.linkerd.io/v1beta3",
        "kind": "Server",
        "metadata": meta,
        "spec": {"podSelector": {}, "port": 80},
    }


def _probes(provider: str) -> dict[str, tuple[str, str, Obj]]:
    """Per validating policy, a dry run only it denies: (method, path, body)."""
    ns = MESHED[provider]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe", "namespace": ns},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
    }
    if provider == "istio":
        weak: tuple[str, str, Obj] = (
            "POST",
            f"/apis/security.istio.io/v1/namespaces/{ns}/peerauthentications",
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "probe", "namespace": ns},
                "spec": {"mtls": {"mode": "PERMISSIVE"}},
            },
        )
    else:
        weak = (
            "POST",
            f"/apis/policy.linkerd.io/v1beta3/namespaces/{ns}/servers",
            {
                "apiVersion": "policy.linkerd.io/v1beta3",
                "kind": "Server",
                "metadata": {"name": "probe", "namespace": ns},
                "spec": {"podSelector": {}, "port": 80, "accessPolicy": "all-unauthenticated"},
            },
        )
    managed = _managed_probe(provider)
    plural = "peerauthentications" if provider == "istio" else "servers"
    return {
        "allowed-namespaces": (
            "POST",
            "/apis/networking.istio.io/v1/namespaces/default/virtualservices",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "probe", "namespace": "default"},
                "spec": {"hosts": ["web"]},
            },
        ),
        "injection-required": ("POST", f"/api/v1/namespaces/{ns}/pods", pod),
        "mtls-strict": weak,
        "managed-objects": (
            "PATCH",
            f"/apis/{managed['apiVersion']}/namespaces/{ns}/{plural}/probe-managed",
            {"metadata": {"labels": {"meshc.io/mesh": "another"}}},
        ),
    }


def _probe(cluster: Cluster, provider: str) -> tuple[frozenset[str], bool]:
    """(the policies that deny their probe, whether namespace mutation is on), by dry runs."""
    denying = frozenset(
        policy
        for policy, (method, path, body) in _probes(provider).items()
        if f"[meshc:{policy}]"
        in cluster.call(
            method,
            path,
            body,
            query={"dryRun": "All"},
            content_type="application/merge-patch+json"
            if method == "PATCH"
            else "application/json",
        ).text
    )
    ns = MESHED[provider]
    current = cluster.call("GET", f"/api/v1/namespaces/{ns}").json()
    bare = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns, "resourceVersion": current["metadata"]["resourceVersion"]},
    }
    updated = cluster.call("PUT", f"/api/v1/namespaces/{ns}", bare, query={"dryRun": "All"}).json()
    markers = NamespaceMutation.of(load_mesh(str(SPECS / f"{provider}.yaml"))).markers[ns]
    meta = updated.get("metadata") or {}
    marked = all(
        (meta.get(section) or {}).get(k) == v
        for section in ("labels", "annotations")
        for k, v in markers[section].items()
    )  # type: ignore[literal-required]
    return denying, marked


def _wait(cluster: Cluster, provider: str, on: bool) -> None:
    """Until every probe is denied and namespaces are marked (on), or neither (off)."""
    want = (frozenset(_probes(provider)) if on else frozenset(), on)
    deadline = time.monotonic() + REGISTRATION_TIMEOUT
    while (found := _probe(cluster, provider)) != want:
        assert time.monotonic() < deadline, f"admission is {found}, not {want}"
        time.sleep(0.3)


def _until_admitted(cluster: Cluster, obj: Obj) -> None:
    """Until a dry run of creating ``obj`` passes admission (201, or 409 for one that is
    there): the previous provider's policies are deleted, and its probes admitted, but the
    API server's admission policy plugin may still hold a policy it has not yet dropped
    for another kind of object, seen on a loaded machine as a denied first store."""
    meta = obj["metadata"]
    collection = cluster.path(obj["apiVersion"], obj["kind"], meta.get("namespace", ""))
    deadline = time.monotonic() + REGISTRATION_TIMEOUT
    while (r := cluster.call("POST", collection, obj, query={"dryRun": "All"})).status_code not in (
        201,
        409,
    ):
        assert time.monotonic() < deadline, (
            f"{obj['kind']} {meta['name']}: {r.status_code} {r.text}"
        )
        time.sleep(0.3)


def _sidecar_only(spec: Path, workdir: Path) -> Path:
    """The sample spec with its ambient namespaces in the sidecar data plane: the native
    policies leave ambient enrollment to the webhook (refused under native), so parity is
    compared on a spec both enforce whole, the ambient samples judged as sidecar ones."""
    text = (
        "\n".join(
            line for line in spec.read_text().splitlines() if line.strip() != "dataplane: ambient"
        )
        + "\n"
    )
    path = workdir / spec.name
    path.write_text(text)
    return path


@dataclass
class Admission:
    """Installs and removes one mode's admission for one provider."""

    cluster: Cluster
    provider: str
    webhook: WebhookServer
    spec_text: str
    installed: list[Obj] = field(default_factory=list)

    def configurations(self) -> list[Obj]:
        return render_webhook_configurations(
            self.webhook.url, self.webhook.certs.ca.read_bytes(), extra={"spec": self.spec_text}
        )

    def native_objects(self) -> list[Obj]:
        result = native_admission(
            load_mesh(str(self.webhook.spec), text=self.spec_text),
            LATEST,
            allow_webhook_rules=False,
        )
        assert result.refused == []
        return result.objects

    def install(self, mode: str) -> None:
        objects = []
        if mode in ("webhook", "both"):
            objects += self.configurations()
        if mode in ("native", "both"):
            objects += self.native_objects()
        for obj in objects:
            collection = _admission_path(obj).rsplit("/", 1)[0]
            r = self.cluster.call("POST", collection, obj)
            assert r.status_code == 201, f"{obj['kind']} {obj['metadata']['name']}: {r.text}"
        self.installed = objects
        _wait(self.cluster, self.provider, True)

    def remove(self) -> None:
        for obj in self.installed:
            self.cluster.call("DELETE", _admission_path(obj))
        self.installed = []
        _wait(self.cluster, self.provider, False)


def _type_checking(cluster: Cluster, objects: list[Obj]) -> dict[str, Any]:
    """Each ValidatingAdmissionPolicy's status.typeChecking, once the controller has written it."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + TYPE_CHECK_TIMEOUT
    for obj in objects:
        if obj["kind"] != "ValidatingAdmissionPolicy":
            continue
        while True:
            stored = cluster.call("GET", _admission_path(obj)).json()
            status = stored.get("status") or {}
            if (
                status.get("observedGeneration") == stored["metadata"]["generation"]
                and "typeChecking" in status
            ):
                found[obj["metadata"]["name"]] = status["typeChecking"]
                break
            assert time.monotonic() < deadline, (
                f"no status.typeChecking for {obj['metadata']['name']}"
            )
            time.sleep(0.3)
    return found


@pytest.fixture(scope="module")
def status_controller(
    kube_apiserver: KubeAPIServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """kube-controller-manager's ValidatingAdmissionPolicy status controller, for this module."""
    binary = require_tool("vap-status-controller")
    log = tmp_path_factory.mktemp("vap-status") / "controller.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary), "--kubeconfig", str(kube_apiserver.kubeconfig)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            # Its informers may still be retrying a stopped API server.
            process.kill()
            process.wait(30)


@pytest.fixture(scope="module")
def results(
    kube_apiserver: KubeAPIServer,
    installed_crds: list[str],
    status_controller: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Results]:
    cluster = Cluster(kube_apiserver)
    workdir = tmp_path_factory.mktemp("native-parity")
    certs = generate_certs(workdir / "certs")
    found = Results()
    cases = all_cases()
    for provider in PROVIDERS:
        mine = [c for c in cases if c.provider == provider]
        found.cases[provider] = mine
        spec = _sidecar_only(SPECS / f"{provider}.yaml", workdir)
        webhook = WebhookServer(spec, certs, workdir / f"{provider}-webhook.log").start()
        admission = Admission(cluster, provider, webhook, spec.read_text())
        outcomes: dict[str, dict[str, Outcome]] = {mode: {} for mode in MODES}
        try:
            cluster.ensure(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MESHED[provider]}}
            )
            _until_admitted(cluster, _managed_probe(provider))
            cluster.replace(_managed_probe(provider))
            for members in rounds(mine):
                cluster.prepare(members, {c.user for c in members})
                for mode in MODES:
                    admission.install(mode)
                    try:
                        if mode == "native" and provider not in found.type_checking:
                            found.type_checking[provider] = _type_checking(
                                cluster, admission.installed
                            )
                        for case in members:
                            outcomes[mode][case.id] = cluster.send(case)
                    finally:
                        admission.remove()
        finally:
            webhook.stop()
        found.outcomes[provider] = outcomes
    yield found


def _summary(results: Results, provider: str) -> str:
    webhook = results.outcomes[provider]["webhook"]
    counts = collections.Counter(o.verdict for o in webhook.values())
    return ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_native_policies_type_check_without_warnings(results: Results, provider: str) -> None:
    checked = results.type_checking[provider]
    # Every policy of the sample specs is enforced: one ValidatingAdmissionPolicy holds them.
    assert list(checked) == ["meshc-samples-enforce"]
    assert {name: t for name, t in checked.items() if t.get("expressionWarnings")} == {}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("mode", ["native", "both"])
def test_every_fixture_is_decided_as_the_webhook_decides_it(
    results: Results, provider: str, mode: str
) -> None:
    webhook, other = results.outcomes[provider]["webhook"], results.outcomes[provider][mode]
    differ = {
        case_id: (webhook[case_id], other[case_id])
        for case_id in webhook
        if (webhook[case_id].verdict, webhook[case_id].status)
        != (other[case_id].verdict, other[case_id].status)
    }
    assert differ == {}, _summary(results, provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_native_denial_names_findings_the_webhook_names(results: Results, provider: str) -> None:
    webhook, native = results.outcomes[provider]["webhook"], results.outcomes[provider]["native"]
    unknown = {}
    for case_id, outcome in native.items():
        if outcome.verdict == "denied":
            assert outcome.findings, (case_id, outcome.message)
            extra = [line for line in outcome.findings if line not in webhook[case_id].findings]
            if extra:
                unknown[case_id] = (extra, webhook[case_id].findings)
    assert unknown == {}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_corpus_reaches_admission(results: Results, provider: str) -> None:
    """The requests are admission's to decide: denied and allowed both, and nothing
    refused for any other reason than the API server's own validation."""
    webhook = results.outcomes[provider]["webhook"]
    verdicts = collections.Counter(o.verdict for o in webhook.values())
    assert verdicts["denied"] > 100 and verdicts["allowed"] > 50, verdicts
    errors = {case_id: o for case_id, o in webhook.items() if o.verdict == "error"}
    assert errors == {}
    kinds = {(c.operation, c.subresource) for c in results.cases[provider]}
    assert {("CREATE", ""), ("UPDATE", ""), ("DELETE", "")} <= kinds


def test_invalid_requests_are_only_what_the_api_server_itself_refuses(results: Results) -> None:
    """A fixture the API server refuses before admission is reported, not counted as parity."""
    refused = sorted(
        case_id
        for provider in PROVIDERS
        for case_id, o in results.outcomes[provider]["webhook"].items()
        if o.verdict == "invalid"
    )
    # A Pod's spec and a Job's pod template are immutable: an UPDATE that adds
    # hostNetwork to them is a request only `meshc check` sees.
    assert refused == [
        "bypass:istio Job UPDATE to hostNetwork",
        "bypass:istio Pod UPDATE to hostNetwork",
    ]
    for provider in PROVIDERS:
        for mode in ("native", "both"):
            assert sorted(
                case_id
                for case_id, o in results.outcomes[provider][mode].items()
                if o.verdict == "invalid"
            ) == [c for c in refused if provider in c]


# --- MutatingAdmissionPolicy: the markers /mutate adds -----------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_meshed_namespace_created_without_its_marker_gets_it_from_the_api_server(
    kube_apiserver: KubeAPIServer, tmp_path: Path, provider: str
) -> None:
    namespace = f"native-markers-{provider}"
    spec = tmp_path / "mesh.yaml"
    spec.write_text(
        "apiVersion: meshc.io/v1alpha1\nkind: Mesh\nmetadata: {name: markers}\n"
        f"spec:\n  provider: {provider}\n  namespaces: [{{name: {namespace}}}]\n"
        "  admission: {enforcement: native}\n"
    )
    result = native_admission(load_mesh(str(spec)), LATEST, allow_webhook_rules=False)
    mutating = [o for o in result.objects if o["kind"].startswith("MutatingAdmissionPolicy")]
    assert [o["apiVersion"] for o in mutating] == ["admissionregistration.k8s.io/v1"] * 2
    cluster = Cluster(kube_apiserver)
    mutation = NamespaceMutation.of(load_mesh(str(spec)))
    markers = mutation.markers[namespace]
    bare = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}

    def marked(obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        return all(
            (meta.get(section) or {}).get(k) == v
            for section in ("labels", "annotations")
            for k, v in markers[section].items()
        )  # type: ignore[literal-required]

    for obj in mutating:
        r = cluster.call("POST", _admission_path(obj).rsplit("/", 1)[0], obj)
        assert r.status_code == 201, r.text
    try:
        deadline = time.monotonic() + REGISTRATION_TIMEOUT
        while not marked(
            cluster.call("POST", "/api/v1/namespaces", bare, query={"dryRun": "All"}).json()
        ):
            assert time.monotonic() < deadline, (
                "the MutatingAdmissionPolicy never marked a namespace"
            )
            time.sleep(0.3)
        created = cluster.call("POST", "/api/v1/namespaces", bare)
        assert created.status_code == 201, created.text
        assert marked(created.json())
        # An update that strips the marker gets it back, as from the webhook's /mutate.
        stored = created.json()
        stripped = {**stored, "metadata": {**stored["metadata"], "labels": {}, "annotations": {}}}
        updated = cluster.call("PUT", f"/api/v1/namespaces/{namespace}", stripped)
        assert updated.status_code == 200, updated.text
        assert marked(updated.json())
        # A namespace outside the mesh is left as written.
        other = cluster.call(
            "POST",
            "/api/v1/namespaces",
            {**bare, "metadata": {"name": f"{namespace}-not"}},
            query={"dryRun": "All"},
        )
        assert other.status_code == 201 and not marked(other.json())
        # A namespace that states an injection choice keeps it, and gets no
        # injection marker beside it (NamespaceMutation.additions).
        section, keys = next(iter(mutation.injection_keys.items()))
        choice = {
            **bare,
            "metadata": {"name": f"{namespace}-choice", section: {keys[-1]: "chosen"}},
        }
        kept = cluster.call("POST", "/api/v1/namespaces", choice, query={"dryRun": "All"})
        assert kept.status_code == 201, kept.text
        kept_meta = kept.json()["metadata"]
        assert kept_meta[section][keys[-1]] == "chosen"
        assert not [k for k in keys[:-1] if k in (kept_meta.get(section) or {})]
        added = mutation.additions(choice)
        for sec in ("labels", "annotations"):
            for k, v in added[sec].items():  # type: ignore[literal-required]
                assert (kept_meta.get(sec) or {}).get(k) == v
    finally:
        for obj in mutating:
            cluster.call("DELETE", _admission_path(obj))
