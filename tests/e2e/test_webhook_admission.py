"""meshc's webhook, registered with a real API server, as a kubectl user meets it.

`meshc webhook serve` runs on 127.0.0.1 with a certificate from `meshc certs
generate`; the API server calls it through the ValidatingWebhookConfiguration
and MutatingWebhookConfiguration rendered from the Helm chart's own templates
(webhook.url and webhook.caBundle set), with the chart's failurePolicy and
timeoutSeconds. The spec is the quickstart's, moved to namespaces of its own
so that nothing else in the session's API server is affected.

No mesh injector runs in this API server (it has no istiod), so a Pod is
written as Istio's injector leaves one (tests/policies/samples/injection-
required/allowed/istio-injected-native-sidecar.yaml, from Istio's own golden
files): the validating webhook sees what it would see after injection. The
same Pod without its proxy, and every write path that could add a way
around it, is denied.
"""

from __future__ import annotations

import base64
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from prometheus_client.parser import text_string_to_metric_families

from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.api_server import inject
from support.apply import apply_objects, object_ref, request
from support.helm_chart import notes, render_webhook_configurations
from support.kube import KubeAPIServer
from support.webhook_server import QUICKSTART, WebhookServer, generate_certs

pytestmark = pytest.mark.tools

MESHED = "storefront"  # the quickstart's mesh-demo
ELSEWHERE = "side-project"  # neither meshed nor allowed nor exempt
VALIDATING = "validate.meshc.io"
# Mesh configuration has its own entry (judged in the exempt namespaces too).
VALIDATING_CONFIG = "validate-config.meshc.io"
KUBECTL = "/usr/bin/kubectl"
REGISTRATION_TIMEOUT = 20.0

Obj = dict[str, Any]


@dataclass(frozen=True)
class Admission:
    server: KubeAPIServer
    webhook: WebhookServer
    spec: Path
    configurations: list[Obj]


def kubectl(
    server: KubeAPIServer, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(server.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def kubectl_apply(server: KubeAPIServer, *objects: Obj) -> subprocess.CompletedProcess[str]:
    return kubectl(server, "apply", "-f", "-", stdin=yaml.safe_dump_all(objects, sort_keys=False))


def kubectl_get(server: KubeAPIServer, obj: Obj) -> subprocess.CompletedProcess[str]:
    resource = {"Namespace": "namespace", "Pod": "pod", "Deployment": "deployment.apps"}.get(
        obj["kind"], f"{obj['kind'].lower()}s.{obj['apiVersion'].split('/')[0]}"
    )
    namespace = obj["metadata"].get("namespace")
    return kubectl(
        server,
        "get",
        resource,
        obj["metadata"]["name"],
        *(["-n", namespace] if namespace else []),
        "-o",
        "yaml",
    )


def webhook_requests(webhook: WebhookServer) -> float:
    """Every request the webhook has answered on /validate and /mutate, from its /metrics."""
    text = webhook.get("/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "meshc_webhook_requests_total"
    )


# --- the objects ----------------------------------------------------------------------


def namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def pod(name: str, ns: str, labels: dict[str, str] | None = None, injected: bool = True) -> Obj:
    """A Pod as Istio's injector leaves it (``injected``), or as written."""
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name, **(labels or {})}},
        "spec": {"containers": [{"name": "web", "image": "hashicorp/http-echo:1.0"}]},
    }
    return inject(obj, "istio") if injected else obj


def deployment(name: str, ns: str, annotations: dict[str, str] | None = None) -> Obj:
    template_meta: Obj = {"labels": {"app": name}}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": template_meta,
                "spec": {"containers": [{"name": "web", "image": "hashicorp/http-echo:1.0"}]},
            },
        },
    }


def peer_authentication(name: str, ns: str, mode: str) -> Obj:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"mtls": {"mode": mode}},
    }


def destination_rule(name: str, ns: str, tls_mode: str) -> Obj:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "host": f"web.{ns}.svc.cluster.local",
            "trafficPolicy": {"tls": {"mode": tls_mode}},
        },
    }


def virtual_service(name: str, ns: str) -> Obj:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web"}}]}]},
    }


def default_service_account(ns: str) -> Obj:
    # The ServiceAccount admission plugin refuses Pods until "default" exists;
    # without a controller manager nobody else creates it.
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": ns},
    }


# --- the registered webhook -----------------------------------------------------------


def _wait_until_registered(kube_client: k8s.ApiClient) -> None:
    """The API server picks configurations up asynchronously: wait until both answer."""
    # Dry runs: /mutate labels the meshed namespace, /validate denies mesh
    # configuration in "default" (neither allowed nor exempt).
    deadline = time.monotonic() + REGISTRATION_TIMEOUT
    while True:
        status_m, meshed = request(
            kube_client,
            "POST",
            "/api/v1/namespaces",
            query={"dryRun": "All"},
            body=namespace(MESHED),
        )
        status_v, denied = request(
            kube_client,
            "POST",
            "/apis/networking.istio.io/v1/namespaces/default/virtualservices",
            query={"dryRun": "All"},
            body=virtual_service("registration-probe", "default"),
        )
        labels = (meshed.get("metadata") or {}).get("labels") or {}
        if status_m == 201 and labels.get("istio-injection") == "enabled" and status_v == 403:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"the webhook was not called within {REGISTRATION_TIMEOUT:.0f}s: "
                f"{status_m} {meshed}; {status_v} {denied}"
            )
        time.sleep(0.2)


@pytest.fixture(scope="module")
def admission(
    kube_apiserver: KubeAPIServer,
    kube_client: k8s.ApiClient,
    installed_crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Admission]:
    workdir = tmp_path_factory.mktemp("admission")
    spec_text = QUICKSTART.read_text().replace("mesh-demo", MESHED)
    assert f"name: {MESHED}" in spec_text
    spec = workdir / "mesh.yaml"
    spec.write_text(spec_text)

    certs = generate_certs(workdir / "certs")
    webhook = WebhookServer(spec, certs, workdir / "webhook.log").start()
    configurations: list[Obj] = []
    try:
        # values.spec is what the chart serves too: its exempt namespaces
        # become the configurations' namespaceSelector.
        configurations = render_webhook_configurations(
            webhook.url, certs.ca.read_bytes(), extra={"spec": spec_text}
        )
        assert [c["kind"] for c in configurations] == [
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
        ]
        errors = apply_objects(kube_client, configurations, dry_run=False, create_namespaces=False)
        assert [str(e) for e in errors] == []
        _wait_until_registered(kube_client)
        yield Admission(kube_apiserver, webhook, spec, configurations)
    finally:
        # Unregister before the server stops: the validating webhook fails
        # closed and would otherwise block the rest of the session.
        for config in configurations:
            request(
                kube_client,
                "DELETE",
                f"/apis/admissionregistration.k8s.io/v1/{config['kind'].lower()}s/{config['metadata']['name']}",
            )
        webhook.stop()


@pytest.fixture(scope="module")
def meshed_namespace(admission: Admission, kube_client: k8s.ApiClient) -> Obj:
    """The spec's meshed namespace, created with kubectl and no labels; as stored."""
    created = kubectl_apply(admission.server, namespace(MESHED))
    assert created.returncode == 0, created.stderr
    assert apply_objects(kube_client, [default_service_account(MESHED)], dry_run=False) == []
    stored: Obj = yaml.safe_load(kubectl_get(admission.server, namespace(MESHED)).stdout)
    return stored


@pytest.fixture(scope="module")
def unmeshed_namespace(admission: Admission, kube_client: k8s.ApiClient) -> Obj:
    created = kubectl_apply(admission.server, namespace(ELSEWHERE))
    assert created.returncode == 0, created.stderr
    stored: Obj = yaml.safe_load(kubectl_get(admission.server, namespace(ELSEWHERE)).stdout)
    return stored


# --- the configurations -----------------------------------------------------------------


def test_the_registered_configurations_call_the_local_webhook_with_its_ca(
    admission: Admission,
) -> None:
    validating, mutating = admission.configurations
    ca = admission.webhook.certs.ca.read_bytes()

    for config, path in ((validating, "/validate"), (mutating, "/mutate")):
        for hook in config["webhooks"]:
            assert (
                hook["clientConfig"]["url"] == f"https://127.0.0.1:{admission.webhook.port}{path}"
            )
            assert base64.b64decode(hook["clientConfig"]["caBundle"]) == ca
    # As the chart renders them: validation fails closed, mutation open.
    assert {h["failurePolicy"] for h in validating["webhooks"]} == {"Fail"}
    assert {h["failurePolicy"] for h in mutating["webhooks"]} == {"Ignore"}
    assert {h["timeoutSeconds"] for h in validating["webhooks"] + mutating["webhooks"]} == {5}


# --- mutation ---------------------------------------------------------------------------


def test_creating_the_meshed_namespace_adds_the_injection_label(meshed_namespace: Obj) -> None:
    assert meshed_namespace["metadata"]["labels"]["istio-injection"] == "enabled"


def test_a_namespace_outside_the_mesh_is_created_as_written(unmeshed_namespace: Obj) -> None:
    assert "istio-injection" not in unmeshed_namespace["metadata"].get("labels", {})


# --- denials, as kubectl prints them ------------------------------------------------------

DENIED = [
    pytest.param(
        pod("opted-out", MESHED, {"sidecar.istio.io/inject": "false"}, injected=False),
        f'[meshc:injection-required] Pod {MESHED}/opted-out: metadata.labels["sidecar.istio.io/inject"]: '
        'opts the pod out of sidecar injection: "false"',
        id="pod-opting-out-of-injection",
    ),
    pytest.param(
        pod("no-proxy", MESHED, injected=False),
        f"[meshc:injection-required] Pod {MESHED}/no-proxy: spec.containers: runs without "
        "Istio's proxy",
        id="pod-the-injector-never-reached",
    ),
    pytest.param(
        deployment("opted-out", MESHED, {"sidecar.istio.io/inject": "false"}),
        f"[meshc:injection-required] Deployment {MESHED}/opted-out: "
        'spec.template.metadata.annotations["sidecar.istio.io/inject"]: '
        'opts the pod out of sidecar injection: "false"',
        id="deployment-opting-out-of-injection",
    ),
    pytest.param(
        peer_authentication("permissive", MESHED, "PERMISSIVE"),
        f"[meshc:mtls-strict] PeerAuthentication {MESHED}/permissive: spec.mtls.mode: "
        'accepts plaintext traffic where the spec requires mTLS STRICT: "PERMISSIVE"',
        id="permissive-peer-authentication",
    ),
    pytest.param(
        destination_rule("plaintext", MESHED, "DISABLE"),
        f"[meshc:mtls-strict] DestinationRule {MESHED}/plaintext: spec.trafficPolicy.tls.mode: "
        f'sends plaintext to "web.{MESHED}.svc.cluster.local", a service inside the mesh, which '
        'requires mTLS: "DISABLE"',
        id="destination-rule-disabling-tls",
    ),
    pytest.param(
        virtual_service("web", ELSEWHERE),
        f"[meshc:allowed-namespaces] VirtualService {ELSEWHERE}/web: metadata.namespace: "
        f'mesh configuration outside the allowed namespaces: "{ELSEWHERE}"',
        id="mesh-configuration-outside-the-allowed-namespaces",
    ),
]


@pytest.mark.parametrize(("obj", "message"), DENIED)
def test_a_violation_is_denied_with_meshcs_message(
    admission: Admission, meshed_namespace: Obj, unmeshed_namespace: Obj, obj: Obj, message: str
) -> None:
    result = kubectl_apply(admission.server, obj)

    assert result.returncode != 0, result.stdout
    entry = (
        VALIDATING
        if obj["apiVersion"].partition("/")[0] in ("v1", "apps", "batch")
        else VALIDATING_CONFIG
    )
    assert f'admission webhook "{entry}" denied the request: {message}' in result.stderr
    # ... and nothing was stored.
    gone = kubectl_get(admission.server, obj)
    assert gone.returncode != 0 and "NotFound" in gone.stderr, gone.stdout


# --- what is admitted ---------------------------------------------------------------------


def test_compliant_workloads_and_strict_mtls_are_admitted(
    admission: Admission, meshed_namespace: Obj
) -> None:
    objects = [
        pod("plain", MESHED),  # as the injector leaves it: a native sidecar and istio-init
        pod("opted-in", MESHED, {"sidecar.istio.io/inject": "true"}),
        deployment("web-v3", MESHED),
        peer_authentication("strict", MESHED, "STRICT"),
        destination_rule("mutual", MESHED, "ISTIO_MUTUAL"),
    ]

    result = kubectl_apply(admission.server, *objects)

    assert result.returncode == 0, result.stderr
    for obj in objects:
        assert kubectl_get(admission.server, obj).returncode == 0, object_ref(obj)


def test_the_rendered_spec_is_admitted_by_the_webhook_enforcing_it(
    admission: Admission, meshed_namespace: Obj
) -> None:
    objects, _ = render(load_mesh(str(admission.spec)), RenderOptions())
    assert {o["kind"] for o in objects} >= {
        "Namespace",
        "PeerAuthentication",
        "AuthorizationPolicy",
    }

    result = kubectl_apply(admission.server, *objects)

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(objects), result.stdout


# --- what never reaches the webhook -----------------------------------------------------------


def test_nothing_in_kube_system_reaches_the_webhook(
    admission: Admission, meshed_namespace: Obj
) -> None:
    # What the policies would deny anywhere in the mesh.
    violations = [
        pod("opted-out", "kube-system", {"sidecar.istio.io/inject": "false"}, injected=False),
        deployment("opted-out", "kube-system", {"sidecar.istio.io/inject": "false"}),
        peer_authentication("permissive", "kube-system", "PERMISSIVE"),
        destination_rule("plaintext", "kube-system", "DISABLE"),
    ]
    assert kubectl_apply(admission.server, default_service_account("kube-system")).returncode == 0
    before = webhook_requests(admission.webhook)

    result = kubectl_apply(admission.server, *violations)

    assert result.returncode == 0, result.stderr
    assert webhook_requests(admission.webhook) == before
    # The counter does count the API server's calls: one denied meshed object moves it.
    kubectl_apply(admission.server, peer_authentication("permissive", MESHED, "PERMISSIVE"))
    assert webhook_requests(admission.webhook) > before


# --- every write path: subresources, updates and deletes ------------------------------------


def ephemeral(name: str, security: Obj) -> Obj:
    """What `kubectl debug POD --image busybox --profile P` adds (a strategic merge patch)."""
    return {
        "spec": {
            "ephemeralContainers": [
                {
                    "name": name,
                    "image": "busybox:1.36",
                    "targetContainerName": "web",
                    "stdin": True,
                    "tty": True,
                    "securityContext": security,
                }
            ]
        }
    }


@pytest.fixture(scope="module")
def debugged_pod(admission: Admission, meshed_namespace: Obj) -> str:
    created = kubectl_apply(admission.server, pod("debugged", MESHED))
    assert created.returncode == 0, created.stderr
    return f"/api/v1/namespaces/{MESHED}/pods/debugged/ephemeralcontainers"


@pytest.mark.parametrize(
    ("name", "security", "message"),
    [
        (
            "netadmin",
            {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
            "may rewrite the iptables rules that capture its traffic",
        ),
        ("as-proxy", {"runAsUser": 1337}, "runs as the proxy's UID"),
    ],
)
def test_a_debug_container_that_could_go_around_the_proxy_is_denied(
    kube_client: k8s.ApiClient, debugged_pod: str, name: str, security: Obj, message: str
) -> None:
    status, body = request(
        kube_client,
        "PATCH",
        debugged_pod,
        body=ephemeral(name, security),
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 403, body.get("message")
    assert (
        f'admission webhook "{VALIDATING}" denied the request: [meshc:injection-required]'
        in (body["message"])
    )
    assert message in body["message"]


def test_a_restricted_debug_container_is_admitted(
    kube_client: k8s.ApiClient, debugged_pod: str
) -> None:
    restricted = {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    status, body = request(
        kube_client,
        "PATCH",
        debugged_pod,
        body=ephemeral("restricted", restricted),
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 200, body.get("message")
    assert [c["name"] for c in body["spec"]["ephemeralContainers"]] == ["restricted"]


@pytest.mark.parametrize("subresource", ["status", "finalize"])
def test_injection_cannot_be_turned_off_through_a_namespace_subresource(
    kube_client: k8s.ApiClient, meshed_namespace: Obj, subresource: str
) -> None:
    path = f"/api/v1/namespaces/{MESHED}"
    status, stored = request(kube_client, "GET", path)
    assert status == 200
    stored["metadata"]["labels"]["istio-injection"] = "disabled"
    status, body = request(kube_client, "PUT", f"{path}/{subresource}", body=stored)
    assert status == 403, body.get("message")
    assert "[meshc:injection-required] Namespace" in body["message"]
    assert (
        request(kube_client, "GET", path)[1]["metadata"]["labels"]["istio-injection"] == "enabled"
    )


def test_the_rendered_security_objects_cannot_be_deleted_or_loosened(
    admission: Admission, kube_client: k8s.ApiClient, meshed_namespace: Obj
) -> None:
    objects, _ = render(load_mesh(str(admission.spec)), RenderOptions())
    assert kubectl_apply(admission.server, *objects).returncode == 0
    security = [o for o in objects if o["kind"] in ("PeerAuthentication", "AuthorizationPolicy")]
    assert len(security) == 2
    for obj in security:
        deleted = kubectl(
            admission.server,
            "delete",
            f"{obj['kind'].lower()}.security.istio.io",
            obj["metadata"]["name"],
            "-n",
            MESHED,
        )
        assert deleted.returncode != 0, deleted.stdout
        assert "[meshc:managed-objects]" in deleted.stderr
        assert "deletes a security object the spec renders" in deleted.stderr
    # A selector makes the namespace-wide STRICT policy match nothing.
    (strict,) = [o for o in security if o["kind"] == "PeerAuthentication"]
    narrowed = yaml.safe_load(yaml.safe_dump(strict))
    narrowed["spec"]["selector"] = {"matchLabels": {"app": "nothing"}}
    result = kubectl_apply(admission.server, narrowed)
    assert result.returncode != 0 and "[meshc:managed-objects]" in result.stderr
    # Argo CD's tracking annotation, and the same spec again, are what a sync writes.
    tracked = yaml.safe_load(yaml.safe_dump(strict))
    tracked["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] = (
        f"mesh:security.istio.io/PeerAuthentication:{MESHED}/default"
    )
    result = kubectl_apply(admission.server, tracked)
    assert result.returncode == 0, result.stderr


# --- the chart's "Verify it works" --------------------------------------------------------


def test_the_verification_the_charts_notes_give_is_denied_by_the_real_api_server(
    admission: Admission, meshed_namespace: Obj
) -> None:
    # NOTES.txt, rendered for this spec, says which command to run and what it answers.
    text = notes({"spec": admission.spec.read_text()})
    (command,) = [
        line.strip() for line in text.splitlines() if line.strip().startswith("kubectl run")
    ]
    (expected,) = [
        line.strip().removeprefix("expected: ").removesuffix(" ...")
        for line in text.splitlines()
        if line.strip().startswith("expected: ")
    ]
    argv = shlex.split(command)
    assert argv[:2] == ["kubectl", "run"] and "--dry-run=server" in argv
    result = kubectl(admission.server, *argv[1:])
    assert result.returncode != 0, result.stdout
    assert expected in result.stderr
    # ... and the metrics the notes name are the ones the webhook serves.
    metrics = admission.webhook.get("/metrics").text
    for name in re.findall(r"^\s+(meshc_webhook_\w+)", text, re.MULTILINE):
        assert name.removesuffix("_total") in metrics, name
    assert 'meshc_webhook_admissions_total{endpoint="validate",result="denied"}' in metrics
