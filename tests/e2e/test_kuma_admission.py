"""meshc's webhook enforcing a Kuma spec, registered with a real API server.

As in test_webhook_admission.py: `meshc webhook serve` on 127.0.0.1, called by
the API server through the configurations the Helm chart renders. No Kuma
control plane runs here, so a Pod is written as Kuma's injector leaves one
(tests/policies/samples/injection-required/allowed/kuma-injected-native-
sidecar.yaml, from Kuma's own injector goldens). The spec is the Kuma
samples', in a namespace of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.api_server import inject
from support.apply import apply_objects, request
from support.helm_chart import render_webhook_configurations
from support.policy_samples import SPECS
from support.webhook_server import WebhookServer, generate_certs

pytestmark = pytest.mark.tools

MESHED = "kuma-shop"
REGISTRATION_TIMEOUT = 20.0
Obj = dict[str, Any]


def namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, **({"labels": labels} if labels else {})},
    }


def pod(name: str, injected: bool = True, **security: Any) -> Obj:
    container: Obj = {"name": "web", "image": "docker.io/library/nginx:1.29"}
    if security:
        container["securityContext"] = security
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": MESHED, "labels": {"app": "web"}},
        "spec": {"containers": [container]},
    }
    return inject(obj, "kuma") if injected else obj


def mesh(mode: str) -> Obj:
    return {
        "apiVersion": "kuma.io/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "default"},
        "spec": {
            "mtls": {
                "enabledBackend": "ca-1",
                "backends": [{"name": "ca-1", "type": "builtin", "mode": mode}],
            }
        },
    }


def create(
    kube_client: k8s.ApiClient, path: str, body: Obj, dry_run: bool = True
) -> tuple[int, Obj]:
    status, answer = request(
        kube_client, "POST", path, query={"dryRun": "All"} if dry_run else None, body=body
    )
    return status, answer


def _wait_until_registered(kube_client: k8s.ApiClient) -> None:
    deadline = time.monotonic() + REGISTRATION_TIMEOUT
    while True:
        status_m, meshed = create(kube_client, "/api/v1/namespaces", namespace(MESHED))
        status_v, _ = create(kube_client, "/apis/kuma.io/v1alpha1/meshes", mesh("PERMISSIVE"))
        labels = (meshed.get("metadata") or {}).get("labels") or {}
        if (
            status_m == 201
            and labels.get("kuma.io/sidecar-injection") == "enabled"
            and status_v == 403
        ):
            return
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"the webhook was not called within {REGISTRATION_TIMEOUT:.0f}s: "
                f"{status_m} {meshed}; {status_v}"
            )
        time.sleep(0.2)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (SPECS / "kuma.yaml").read_text().replace("kuma-demo", MESHED)
    path = tmp_path_factory.mktemp("kuma-spec") / "mesh.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def webhook(
    kube_client: k8s.ApiClient,
    installed_crds: list[str],
    spec: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WebhookServer]:
    workdir = tmp_path_factory.mktemp("kuma-admission")
    certs = generate_certs(workdir / "certs")
    server = WebhookServer(spec, certs, workdir / "webhook.log").start()
    configurations: list[Obj] = []
    try:
        configurations = render_webhook_configurations(
            server.url, certs.ca.read_bytes(), extra={"spec": spec.read_text()}
        )
        assert [
            str(e)
            for e in apply_objects(
                kube_client, configurations, dry_run=False, create_namespaces=False
            )
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
        yield server
    finally:
        for config in configurations:
            request(
                kube_client,
                "DELETE",
                f"/apis/admissionregistration.k8s.io/v1/"
                f"{config['kind'].lower()}s/{config['metadata']['name']}",
            )
        server.stop()


PODS = f"/api/v1/namespaces/{MESHED}/pods"


def test_the_namespace_is_stored_with_the_injection_label(
    kube_client: k8s.ApiClient, webhook: WebhookServer
) -> None:
    status, stored = request(kube_client, "GET", f"/api/v1/namespaces/{MESHED}")
    assert status == 200
    assert stored["metadata"]["labels"]["kuma.io/sidecar-injection"] == "enabled"


def test_the_pod_kumas_injector_writes_is_admitted_and_the_same_pod_without_it_denied(
    kube_client: k8s.ApiClient, webhook: WebhookServer
) -> None:
    status, answer = create(kube_client, PODS, pod("injected"))
    assert status == 201, answer
    status, answer = create(kube_client, PODS, pod("skipped", injected=False))
    assert status == 403, answer
    assert "[meshc:injection-required]" in answer["message"]
    assert "runs without Kuma's sidecar" in answer["message"]


def test_an_app_container_as_the_sidecars_uid_is_denied(
    kube_client: k8s.ApiClient, webhook: WebhookServer
) -> None:
    status, answer = create(kube_client, PODS, pod("impostor", runAsUser=5678))
    assert status == 403, answer
    assert "runs as the proxy's UID" in answer["message"]
    status, answer = create(kube_client, PODS, pod("neighbour", runAsUser=5679))
    assert status == 201, answer


def test_the_mesh_keeps_strict_mtls(kube_client: k8s.ApiClient, webhook: WebhookServer) -> None:
    status, answer = create(kube_client, "/apis/kuma.io/v1alpha1/meshes", mesh("PERMISSIVE"))
    assert status == 403 and "[meshc:mtls-strict]" in answer["message"], answer
    status, answer = create(kube_client, "/apis/kuma.io/v1alpha1/meshes", mesh("STRICT"))
    assert status == 201, answer


def test_the_injection_label_cannot_be_turned_off(
    kube_client: k8s.ApiClient, webhook: WebhookServer
) -> None:
    path = f"/api/v1/namespaces/{MESHED}"
    # An update: /mutate never overwrites a choice written on the object; /validate
    # denies it.
    _, stored = request(kube_client, "GET", path)
    stored["metadata"]["labels"]["kuma.io/sidecar-injection"] = "disabled"
    status, answer = request(kube_client, "PUT", path, body=stored)
    assert status == 403 and "disables sidecar injection" in answer["message"], answer
    # The label removed: /mutate puts it back before /validate sees it.
    del stored["metadata"]["labels"]["kuma.io/sidecar-injection"]
    status, answer = request(kube_client, "PUT", path, body=stored)
    assert status == 200, answer
    assert answer["metadata"]["labels"]["kuma.io/sidecar-injection"] == "enabled"
    # The status subresource, which /mutate does not see: denied.
    _, stored = request(kube_client, "GET", path)
    stored["metadata"]["labels"]["kuma.io/sidecar-injection"] = "disabled"
    status, answer = request(kube_client, "PUT", f"{path}/status", body=stored)
    assert status == 403 and "disables sidecar injection" in answer["message"], answer
    assert (
        request(kube_client, "GET", path)[1]["metadata"]["labels"]["kuma.io/sidecar-injection"]
        == "enabled"
    )


def test_the_rendered_permission_cannot_be_widened_or_deleted(
    kube_client: k8s.ApiClient, webhook: WebhookServer, spec: Path
) -> None:
    objects, _ = render(load_mesh(str(spec)), RenderOptions(), "kuma")
    (permission,) = [o for o in objects if o["kind"] == "MeshTrafficPermission"]
    path = f"/apis/kuma.io/v1alpha1/namespaces/{MESHED}/meshtrafficpermissions"
    status, stored = create(kube_client, path, permission, dry_run=False)
    assert status == 201, stored
    widened = {
        **stored,
        "spec": {
            **stored["spec"],
            "from": [{"targetRef": {"kind": "Mesh"}, "default": {"action": "Allow"}}],
        },
    }
    status, answer = request(
        kube_client, "PUT", f"{path}/{permission['metadata']['name']}", body=widened
    )
    assert status == 403 and "[meshc:" in answer["message"], answer
    status, answer = request(kube_client, "DELETE", f"{path}/{permission['metadata']['name']}")
    assert status == 403 and "[meshc:managed-objects]" in answer["message"], answer
