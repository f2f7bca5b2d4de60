"""meshc's webhook, registered with a real API server, for a namespace in Istio ambient.

The spec is the quickstart's with `spec.dataplane: ambient`, in a namespace of its
own. The API server calls `meshc webhook serve` through the chart's own
configurations: creating the namespace adds `istio.io/dataplane-mode: ambient` (never
istio-injection), a plain pod is admitted without a sidecar (ztunnel captures it),
and every way out of ztunnel's capture or around the waypoint is denied.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.apply import apply_objects, request
from support.helm_chart import render_webhook_configurations
from support.kube import KubeAPIServer
from support.webhook_server import QUICKSTART, WebhookServer, generate_certs

pytestmark = pytest.mark.tools

AMBIENT = "ambient-shop"
REGISTRATION_TIMEOUT = 20.0
Obj = dict[str, Any]


def namespace(labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": AMBIENT, **({"labels": labels} if labels else {})},
    }


def pod(
    name: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": AMBIENT,
            "labels": {"app": name, **(labels or {})},
            "annotations": annotations or {},
        },
        "spec": {"containers": [{"name": "web", "image": "hashicorp/http-echo:1.0"}], **spec},
    }


def create(client: k8s.ApiClient, obj: Obj, path: str, dry_run: bool = True) -> tuple[int, Obj]:
    status, body = request(
        client, "POST", path, query={"dryRun": "All"} if dry_run else None, body=obj
    )
    return status, body


def _wait_until_registered(client: k8s.ApiClient) -> None:
    deadline = time.monotonic() + REGISTRATION_TIMEOUT
    while True:
        status, body = create(client, namespace(), "/api/v1/namespaces")
        labels = (body.get("metadata") or {}).get("labels") or {}
        if status == 201 and labels.get("istio.io/dataplane-mode") == "ambient":
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"the webhook was not called: {status} {body}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def ambient(
    kube_apiserver: KubeAPIServer,
    kube_client: k8s.ApiClient,
    installed_crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    workdir = tmp_path_factory.mktemp("ambient-admission")
    data = yaml.safe_load(QUICKSTART.read_text().replace("mesh-demo", AMBIENT))
    data["spec"]["dataplane"] = "ambient"
    spec_text = yaml.safe_dump(data, sort_keys=False)
    spec = workdir / "mesh.yaml"
    spec.write_text(spec_text)
    certs = generate_certs(workdir / "certs")
    webhook = WebhookServer(spec, certs, workdir / "webhook.log").start()
    configurations: list[Obj] = []
    try:
        configurations = render_webhook_configurations(
            webhook.url, certs.ca.read_bytes(), extra={"spec": spec_text}
        )
        errors = apply_objects(kube_client, configurations, dry_run=False, create_namespaces=False)
        assert [str(e) for e in errors] == []
        _wait_until_registered(kube_client)
        status, _ = create(kube_client, namespace(), "/api/v1/namespaces", dry_run=False)
        assert status == 201
        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": AMBIENT},
        }
        assert apply_objects(kube_client, [account], dry_run=False) == []
        yield spec
    finally:
        for config in configurations:
            request(
                kube_client,
                "DELETE",
                f"/apis/admissionregistration.k8s.io/v1/"
                f"{config['kind'].lower()}s/{config['metadata']['name']}",
            )
        webhook.stop()


PODS = f"/api/v1/namespaces/{AMBIENT}/pods"


def test_the_namespace_is_enrolled_in_ambient_and_never_labelled_for_injection(
    ambient: Path, kube_client: k8s.ApiClient
) -> None:
    status, stored = request(kube_client, "GET", f"/api/v1/namespaces/{AMBIENT}")
    assert status == 200
    assert stored["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
    assert "istio-injection" not in stored["metadata"]["labels"]


def test_a_plain_pod_is_admitted_without_a_sidecar(
    ambient: Path, kube_client: k8s.ApiClient
) -> None:
    status, body = create(kube_client, pod("plain"), PODS)
    assert status == 201, body


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (pod("opt-out", labels={"istio.io/dataplane-mode": "none"}), "istio.io/dataplane-mode"),
        (
            pod("bypass", annotations={"ambient.istio.io/bypass-inbound-capture": "true"}),
            "ambient.istio.io/bypass-inbound-capture",
        ),
        (pod("skip", labels={"istio.io/use-waypoint": "none"}), "istio.io/use-waypoint"),
        (pod("sidecar", labels={"sidecar.istio.io/inject": "true"}), "sidecar.istio.io/inject"),
        (pod("host", hostNetwork=True), "spec.hostNetwork"),
    ],
    ids=["opt-out", "bypass-inbound", "skip-waypoint", "sidecar", "host-network"],
)
def test_every_way_out_of_ztunnel_is_denied_with_meshcs_message(
    ambient: Path, kube_client: k8s.ApiClient, obj: Obj, field: str
) -> None:
    status, body = create(kube_client, obj, PODS)
    assert status == 403, body
    assert "injection-required" in body["message"] and field in body["message"]


def test_leaving_ambient_is_denied(ambient: Path, kube_client: k8s.ApiClient) -> None:
    status, body = request(
        kube_client,
        "PATCH",
        f"/api/v1/namespaces/{AMBIENT}",
        query={"dryRun": "All"},
        body={"metadata": {"labels": {"istio.io/dataplane-mode": "none"}}},
        content_type="application/merge-patch+json",
    )
    assert status == 403, body
    assert "istio.io/dataplane-mode" in body["message"]


def test_the_rendered_objects_are_admitted(ambient: Path, kube_client: k8s.ApiClient) -> None:
    objects, _ = render(load_mesh(str(ambient)), RenderOptions(allow_lossy=True))
    assert {"Gateway", "HTTPRoute", "AuthorizationPolicy"} <= {o["kind"] for o in objects}
    others = [o for o in objects if o["kind"] != "Namespace"]
    assert [str(e) for e in apply_objects(kube_client, others, dry_run=True)] == []


def test_the_rendered_service_without_its_waypoint_label_is_denied(
    ambient: Path, kube_client: k8s.ApiClient
) -> None:
    objects, _ = render(load_mesh(str(ambient)), RenderOptions(allow_lossy=True))
    service = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "web")
    del service["metadata"]["labels"]["istio.io/use-waypoint"]
    status, body = create(kube_client, service, f"/api/v1/namespaces/{AMBIENT}/services")
    assert status == 403, body
    assert "istio.io/use-waypoint" in body["message"]
