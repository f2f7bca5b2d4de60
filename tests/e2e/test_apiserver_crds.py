"""The upstream CRDs install into a real API server, which then judges manifests.

This is the reference the offline schema validation answers to: what the API
server accepts or refuses here is what a cluster with these CRDs would do.
"""

from __future__ import annotations

import copy
import json
import subprocess
from typing import Any

import pytest
from kubernetes import client as k8s

from support import apply, seed
from support.apply import (
    CRD_PATH,
    apply_objects,
    established_crds,
    request,
    upstream_crds,
)
from support.kube import KubeAPIServer
from support.paths import CRDS

pytestmark = pytest.mark.tools


def seed_object(kind: str, name: str, namespace: str) -> dict[str, Any]:
    return copy.deepcopy(seed.seed_object(kind, name, namespace))


def renamed(obj: dict[str, Any], name: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"]["name"] = name
    return obj


def test_every_upstream_crd_is_established(
    kube_client: k8s.ApiClient, installed_crds: list[str]
) -> None:
    expected = {crd["metadata"]["name"] for crd in upstream_crds(CRDS)}

    assert sorted(installed_crds) == sorted(expected)
    assert established_crds(kube_client, expected) == expected


def test_gateway_api_crds_come_from_the_standard_channel(
    kube_client: k8s.ApiClient, installed_crds: list[str]
) -> None:
    # The same names are defined by the experimental channel and by Linkerd's
    # bundled copy (v1.1.1); a cluster must end up with the standard v1.6.1 ones.
    for name in (
        "httproutes.gateway.networking.k8s.io",
        "grpcroutes.gateway.networking.k8s.io",
        "tcproutes.gateway.networking.k8s.io",
        "tlsroutes.gateway.networking.k8s.io",
    ):
        status, crd = request(kube_client, "GET", f"{CRD_PATH}/{name}")
        assert status == 200, crd
        annotations = crd["metadata"]["annotations"]
        assert annotations["gateway.networking.k8s.io/channel"] == "standard", name
        assert annotations["gateway.networking.k8s.io/bundle-version"] == "v1.6.1", name


def test_seed_manifests_are_accepted(kube_client: k8s.ApiClient, installed_crds: list[str]) -> None:
    objects = [copy.deepcopy(o) for o in seed.seed_objects()]
    kinds = {o["kind"] for o in objects}
    assert {"DestinationRule", "VirtualService", "TrafficSplit", "AuthorizationPolicy"} <= kinds

    assert apply_objects(kube_client, objects, dry_run=True) == []


def test_a_dry_run_stores_nothing(kube_client: k8s.ApiClient, installed_crds: list[str]) -> None:
    split = renamed(seed_object("TrafficSplit", "web-split", "l5d-demo"), "dry-run-only")

    assert apply_objects(kube_client, [split], dry_run=True) == []

    status, _ = request(
        kube_client,
        "GET",
        "/apis/split.smi-spec.io/v1alpha2/namespaces/l5d-demo/trafficsplits/dry-run-only",
    )
    assert status == 404


def kubectl_json(server: KubeAPIServer, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(server.kubeconfig), *args, "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_applied_objects_are_stored_updated_and_readable_with_kubectl(
    kube_apiserver: KubeAPIServer, kube_client: k8s.ApiClient, installed_crds: list[str]
) -> None:
    rule = renamed(seed_object("DestinationRule", "web", "mesh-demo"), "stored-rule")
    assert apply_objects(kube_client, [rule], dry_run=False) == []

    # The object exists now, so this goes through server-side apply.
    rule["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] = 7
    assert apply_objects(kube_client, [rule], dry_run=False) == []

    stored = kubectl_json(
        kube_apiserver,
        "get",
        "destinationrules.networking.istio.io",
        "-n",
        "mesh-demo",
        "stored-rule",
    )
    assert stored["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 7
    assert stored["spec"]["subsets"] == rule["spec"]["subsets"]


def test_an_unknown_field_in_an_http_route_is_rejected(
    kube_client: k8s.ApiClient, installed_crds: list[str]
) -> None:
    service = renamed(seed_object("VirtualService", "web", "mesh-demo"), "unknown-field")
    service["spec"]["http"][0]["retryPolicy"] = {"attempts": 2}

    (error,) = apply_objects(kube_client, [service], dry_run=True)

    assert error.ref == "VirtualService/mesh-demo/unknown-field"
    assert error.status == 400, error
    assert 'unknown field "spec.http[0].retryPolicy"' in error.message


def test_a_wrongly_typed_weight_is_rejected(
    kube_client: k8s.ApiClient, installed_crds: list[str]
) -> None:
    service = renamed(seed_object("VirtualService", "web", "mesh-demo"), "bad-weight")
    service["spec"]["http"][0]["route"][0]["weight"] = "ninety"

    (error,) = apply_objects(kube_client, [service], dry_run=True)

    assert error.status == 422, error
    assert error.reason == "Invalid"
    assert any("spec.http[0].route[0].weight" in cause for cause in error.causes), error.causes


def test_one_refusal_does_not_hide_the_others(
    kube_client: k8s.ApiClient, installed_crds: list[str]
) -> None:
    good = renamed(seed_object("VirtualService", "web", "mesh-demo"), "good")
    bad = renamed(seed_object("VirtualService", "web", "mesh-demo"), "bad")
    bad["spec"]["hosts"] = "web"  # a string where the schema wants a list

    errors = apply_objects(kube_client, [bad, good, renamed(bad, "worse")], dry_run=True)

    assert [e.ref for e in errors] == [
        "VirtualService/mesh-demo/bad",
        "VirtualService/mesh-demo/worse",
    ]


def test_a_kind_the_server_does_not_serve_is_reported_without_a_request(
    kube_client: k8s.ApiClient, installed_crds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apply, "DISCOVERY_GRACE_SECONDS", 0.0)
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}

    (error,) = apply_objects(kube_client, [unknown], dry_run=True)

    assert (error.ref, error.status, error.reason) == ("Widget/w", 0, "NoKind")
