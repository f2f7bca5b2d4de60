"""meshc's webhook marking Consul pods, registered with a real API server.

As in test_kuma_admission.py: `meshc webhook serve` on 127.0.0.1, called by the
API server through the configurations the Helm chart renders for a Consul spec:
the mutating one named so that it sorts before consul-k8s's injector
(``0-meshc``), with its pod entry ``mutate-pods.meshc.io``. consul-k8s enrols a
pod only by its own annotations (docs/consul.md, "Enrolment"), so what matters
is what the API server stores: the pod as meshc's /mutate left it.

No Consul injector runs here, so a Pod is sent as consul-k8s v2.0.3's injector
leaves one (tests/policies/samples/injection-required/allowed/consul-injected-
native-sidecar.yaml) without what meshc's webhook writes: the annotations it
must add itself. The validating webhook judges the result, as on a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from meshc.providers.consul import (
    INJECT_ANNOTATION,
    INJECTOR_WEBHOOK,
    KUBERNETES_SERVICE_ANNOTATION,
    META_ANNOTATION_PREFIX,
    SERVICE_PORT_ANNOTATION,
    TRANSPARENT_PROXY,
)
from support.api_server import inject
from support.apply import apply_objects, request
from support.helm_chart import render_webhook_configurations
from support.webhook_server import WebhookServer, generate_certs

pytestmark = pytest.mark.tools

MESHED = "consul-shop"
REGISTRATION_TIMEOUT = 20.0
PODS = f"/api/v1/namespaces/{MESHED}/pods"
SPEC = f"""\
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {{name: consul-shop}}
spec:
  provider: consul
  namespaces: [{{name: {MESHED}}}]
  services:
    - name: web
      namespace: {MESHED}
      selector: {{app: web}}
      ports: [{{name: http, port: 80, targetPort: 8080, protocol: http}}]
      versions:
        - {{name: v1, labels: {{version: v1}}}}
        - {{name: v2, labels: {{version: v2}}}}
"""
Obj = dict[str, Any]


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def meshcs_own(key: str) -> bool:
    """An annotation meshc's webhook writes, not consul-k8s's injector."""
    return key.startswith(META_ANNOTATION_PREFIX) or key in (
        INJECT_ANNOTATION,
        KUBERNETES_SERVICE_ANNOTATION,
        SERVICE_PORT_ANNOTATION,
    )


def pod(name: str, labels: dict[str, str]) -> Obj:
    """A pod as consul-k8s's injector leaves it, without meshc's annotations."""
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": MESHED, "labels": dict(labels)},
        "spec": {"containers": [{"name": "web", "image": "docker.io/hashicorp/http-echo:1.0"}]},
    }
    inject(obj, "consul")
    meta = obj["metadata"]
    meta["labels"] = {**{k: v for k, v in meta["labels"].items() if k != "version"}, **labels}
    meta["annotations"] = {k: v for k, v in meta["annotations"].items() if not meshcs_own(k)}
    return obj


def mesh_entry(permissive: bool) -> Obj:
    return {
        "apiVersion": "consul.hashicorp.com/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "mesh"},
        "spec": {"allowEnablingPermissiveMutualTLS": permissive},
    }


def create(
    kube_client: k8s.ApiClient, path: str, body: Obj, dry_run: bool = True
) -> tuple[int, Obj]:
    return request(
        kube_client, "POST", path, query={"dryRun": "All"} if dry_run else None, body=body
    )


def _wait_until_registered(kube_client: k8s.ApiClient) -> None:
    deadline = time.monotonic() + REGISTRATION_TIMEOUT
    while True:
        status_m, meshed = create(kube_client, "/api/v1/namespaces", namespace(MESHED))
        status_v, _ = create(
            kube_client,
            # In default, which exists before the meshed namespace is created.
            "/apis/consul.hashicorp.com/v1alpha1/namespaces/default/meshes",
            mesh_entry(permissive=True),
        )
        labels = (meshed.get("metadata") or {}).get("labels") or {}
        if status_m == 201 and labels.get(TRANSPARENT_PROXY) == "true" and status_v == 403:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"the webhook was not called within {REGISTRATION_TIMEOUT:.0f}s: "
                f"{status_m} {meshed}; {status_v}"
            )
        time.sleep(0.2)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("consul-spec") / "mesh.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def webhook(
    kube_client: k8s.ApiClient,
    installed_crds: list[str],
    spec: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[Obj]]:
    workdir = tmp_path_factory.mktemp("consul-admission")
    certs = generate_certs(workdir / "certs")
    server = WebhookServer(spec, certs, workdir / "webhook.log").start()
    registered: list[Obj] = []
    try:
        registered = render_webhook_configurations(
            server.url, certs.ca.read_bytes(), extra={"spec": SPEC}
        )
        assert [
            str(e)
            for e in apply_objects(kube_client, registered, dry_run=False, create_namespaces=False)
        ] == []
        _wait_until_registered(kube_client)
        status, stored = create(kube_client, "/api/v1/namespaces", namespace(MESHED), dry_run=False)
        assert status == 201, stored
        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": MESHED},
        }
        assert apply_objects(kube_client, [account], dry_run=False) == []
        yield registered
    finally:
        for config in registered:
            request(
                kube_client,
                "DELETE",
                f"/apis/admissionregistration.k8s.io/v1/"
                f"{config['kind'].lower()}s/{config['metadata']['name']}",
            )
        server.stop()


def test_the_pod_entry_is_in_the_configuration_that_sorts_before_consuls_injector(
    webhook: list[Obj],
) -> None:
    (mutating,) = [c for c in webhook if c["kind"] == "MutatingWebhookConfiguration"]
    assert mutating["metadata"]["name"] == "0-meshc"
    assert mutating["metadata"]["name"] < INJECTOR_WEBHOOK
    (entry,) = [w for w in mutating["webhooks"] if w["name"] == "mutate-pods.meshc.io"]
    assert entry["rules"][0]["resources"] == ["pods"]
    assert entry["namespaceSelector"]["matchExpressions"][0]["values"] == [MESHED]


def test_a_pod_of_a_version_is_stored_enrolled_with_its_version_in_catalog_metadata(
    kube_client: k8s.ApiClient, webhook: list[Obj]
) -> None:
    sent = pod("web-v2", {"app": "web", "version": "v2"})
    assert not any(meshcs_own(k) for k in sent["metadata"]["annotations"])
    status, answer = create(kube_client, PODS, sent, dry_run=False)
    assert status == 201, answer
    status, stored = request(kube_client, "GET", f"{PODS}/web-v2")
    assert status == 200, stored
    annotations = stored["metadata"]["annotations"]
    assert {k: v for k, v in annotations.items() if meshcs_own(k)} == {
        INJECT_ANNOTATION: "true",
        KUBERNETES_SERVICE_ANNOTATION: "web",
        SERVICE_PORT_ANNOTATION: "8080",
        # The version label's value, under the catalog metadata key the resolver's
        # subset filters on (Service.Meta["version"]).
        f"{META_ANNOTATION_PREFIX}version": "v2",
    }
    # The injector's own annotations are kept as sent.
    assert annotations["consul.hashicorp.com/transparent-proxy-status"] == "enabled"


def test_a_pod_no_service_selects_is_only_enrolled(
    kube_client: k8s.ApiClient, webhook: list[Obj]
) -> None:
    status, answer = create(kube_client, PODS, pod("batch", {"app": "batch", "version": "v2"}))
    assert status == 201, answer
    annotations = answer["metadata"]["annotations"]
    assert {k: v for k, v in annotations.items() if meshcs_own(k)} == {INJECT_ANNOTATION: "true"}


def test_a_pods_own_opt_out_is_kept_and_denied(
    kube_client: k8s.ApiClient, webhook: list[Obj]
) -> None:
    # /mutate never overwrites a value the pod gives; /validate judges it.
    opted_out = pod("opted-out", {"app": "web", "version": "v1"})
    opted_out["metadata"]["annotations"][INJECT_ANNOTATION] = "false"
    status, answer = create(kube_client, PODS, opted_out)
    assert status == 403, answer
    assert "[meshc:injection-required]" in answer["message"]
    assert "opts the pod out of Consul's sidecar injection" in answer["message"]
