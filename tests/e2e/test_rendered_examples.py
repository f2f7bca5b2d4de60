"""What meshc renders from every example is accepted by a real API server with the upstream CRDs.

An offline JSON-schema check cannot run the CRDs' CEL rules (x-kubernetes-validations),
defaulting, or the built-in kinds' own validation; the API server runs all of
them. Namespaces are created for real (namespaced objects need them); every
other object is created with dryRun=All: validated and admitted in full, but
not stored, so the examples never collide with each other or with other tests.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s

from meshc.compiler.errors import SpecError
from support import apply
from support.apply import CRD_PATH, apply_objects, request
from support.examples import (
    EXAMPLE_NAMES,
    NEEDS_ALLOW_LOSSY,
    TARGETS,
    Target,
    example_mesh,
    render_example,
)

pytestmark = pytest.mark.tools

CASES = [
    pytest.param(name, target, id=f"{name}-{target.id}")
    for name in EXAMPLE_NAMES
    for target in TARGETS
]

# The kinds each target must have rendered, so an empty render cannot pass.
ROUTING_KINDS = {
    "istio": {"Namespace", "Service", "DestinationRule", "VirtualService", "PeerAuthentication"},
    "istio-gateway-api": {"Namespace", "Service", "HTTPRoute", "PeerAuthentication"},
    "istio-ambient": {"Namespace", "Service", "PeerAuthentication"},
    "linkerd-gateway-api": {"Namespace", "Service", "HTTPRoute", "Server"},
    "linkerd-smi": {"Namespace", "Service", "TrafficSplit", "Server"},
    "kuma": {"Mesh", "Namespace", "Service", "MeshHTTPRoute"},
    "consul": {"Mesh", "Namespace", "Service", "ServiceDefaults"},
}

# The kinds an example's spec.ingress adds, where a target renders a gateway of its own.
INGRESS_KINDS = {"kuma": {"MeshGateway", "MeshGatewayInstance"}}


def test_there_are_examples_to_render() -> None:
    assert {"quickstart", "linkerd-quickstart", "multi-namespace"} <= set(EXAMPLE_NAMES)


@pytest.mark.parametrize(("name", "target"), CASES)
def test_a_render_needs_allow_lossy_exactly_where_recorded(name: str, target: Target) -> None:
    needs = (name, target.provider, target.routing) in NEEDS_ALLOW_LOSSY
    if needs:
        with pytest.raises(SpecError, match="pass --allow-lossy"):
            render_example(name, target, allow_lossy=False)
    else:
        assert render_example(name, target, allow_lossy=False)


# Linkerd reads TLSRoute only as v1alpha2 (policy-controller/k8s/api/src/lib.rs), which the
# standard channel stopped serving in v1.5: a standard-channel cluster has no such kind, and
# Linkerd's TLS egress cannot work there whatever is rendered.
LINKERD_ONLY = "gateway.networking.k8s.io/v1alpha2"


def _accepted(client: k8s.ApiClient, objects: list[dict[str, Any]]) -> list[str]:
    """What the server refuses: Namespaces are created, everything else dry-run."""
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    others = [o for o in objects if o["kind"] != "Namespace"]
    errors = apply_objects(client, namespaces, dry_run=False)
    errors += apply_objects(client, others, dry_run=True)
    return [str(e) for e in errors]


@pytest.mark.parametrize(("name", "target"), CASES)
def test_every_rendered_object_is_accepted(
    kube_client: k8s.ApiClient,
    installed_crds: list[str],
    name: str,
    target: Target,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = render_example(name, target)
    assert {o["kind"] for o in objects} >= ROUTING_KINDS[target.id]
    if example_mesh(name).ingress:
        assert {o["kind"] for o in objects} >= INGRESS_KINDS.get(target.id, set())
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    linkerd_only = [o for o in objects if o["apiVersion"] == LINKERD_ONLY]
    assert not linkerd_only or target.provider == "linkerd"

    assert _accepted(kube_client, [o for o in objects if o not in linkerd_only]) == []
    monkeypatch.setattr(apply, "DISCOVERY_GRACE_SECONDS", 0.0)
    refused = apply_objects(kube_client, linkerd_only, dry_run=True)
    assert [(e.status, e.reason) for e in refused] == [(0, "NoKind")] * len(linkerd_only)

    # The Namespaces were stored with the provider's injection markers.
    for namespace in namespaces:
        status, stored = request(
            kube_client, "GET", f"/api/v1/namespaces/{namespace['metadata']['name']}"
        )
        assert status == 200, stored
        assert _markers(stored) >= _markers(namespace)


@pytest.mark.parametrize(("name", "target"), [c for c in CASES if "linkerd" in c.id])
def test_every_linkerd_object_is_accepted_where_linkerds_crds_are_installed(
    linkerd_kube_client: k8s.ApiClient, name: str, target: Target
) -> None:
    status, crd = request(
        linkerd_kube_client, "GET", f"{CRD_PATH}/httproutes.gateway.networking.k8s.io"
    )
    assert (status, crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"]) == (
        200,
        "v1.1.1",
    )
    objects = render_example(name, target)
    assert _accepted(linkerd_kube_client, objects) == []


def _markers(namespace: dict[str, Any]) -> set[tuple[str, str]]:
    meta = namespace["metadata"]
    return {*(meta.get("labels") or {}).items(), *(meta.get("annotations") or {}).items()}
