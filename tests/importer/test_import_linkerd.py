"""Linkerd's objects (and Gateway API routes, which Linkerd routes with): Linkerd's own
emojivoto policy sample imported and rendered back admits the same callers on the same
ports, and every field the spec cannot say is reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from meshc.importer import Imported

Importer = Callable[..., Imported]
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from meshc.importer import import_manifests
from meshc.importer.emit import to_yaml
from meshc.policies.manifests import load_manifests

EMOJIVOTO = Path(__file__).parents[1] / "upstream" / "linkerd-emojivoto"
NAMESPACE = "linkerd-stat-authz-test"  # where Linkerd's policy test applies the sample
IDENTITY = "{}.{}.serviceaccount.identity.linkerd.cluster.local"


def _callers(objects: list[dict], servers: list[dict]) -> dict[tuple[str, str], set[str]]:
    """Server (pod selector app, port) -> the identities admitted to it."""
    found: dict[tuple[str, str], set[str]] = {}
    by_name = {s["metadata"]["name"]: s for s in servers}
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] == "ServerAuthorization":
            server = by_name[spec["server"]["name"]]
            tls = spec["client"].get("meshTLS", {})
            who = set(tls.get("identities", [])) | {
                IDENTITY.format(a["name"], a.get("namespace", NAMESPACE))
                for a in tls.get("serviceAccounts", [])
            }
        elif obj["kind"] == "AuthorizationPolicy":
            server = by_name[spec["targetRef"]["name"]]
            (ref,) = spec["requiredAuthenticationRefs"]
            mta = next(
                o
                for o in objects
                if o["kind"] == "MeshTLSAuthentication" and o["metadata"]["name"] == ref["name"]
            )
            who = set(mta["spec"]["identities"])
        else:
            continue
        key = (server["spec"]["podSelector"]["matchLabels"]["app"], str(server["spec"]["port"]))
        found[key] = who
    return found


def test_emojivoto_policy_imports_and_renders_back_admitting_the_same_callers(
    tmp_path: Path,
) -> None:
    manifests = load_manifests([str(EMOJIVOTO)])
    result = import_manifests(manifests, namespace=NAMESPACE)
    # web-public admits unauthenticated clients from any network: not a spec rule; the
    # prometheus ports have no Server (the namespace's default policy), and the spec's
    # allow rules refuse the ports they do not name.
    assert sorted((f.ref, f.field) for f in result.left) == [
        (f"Server {NAMESPACE}/emoji-grpc", "spec.port"),
        (f"Server {NAMESPACE}/voting-grpc", "spec.port"),
        (f"ServerAuthorization {NAMESPACE}/web-public", "spec.client.networks"),
    ]
    assert all("8801" in f.why for f in result.left if f.field == "spec.port")
    assert result.spec["spec"]["provider"] == "linkerd"
    path = tmp_path / "mesh.yaml"
    path.write_text(to_yaml(result.spec, []), encoding="utf-8")
    objects, _ = render(load_mesh(str(path)), RenderOptions.of(), "linkerd")
    upstream = [m.obj for m in manifests]
    theirs = _callers(upstream, [o for o in upstream if o["kind"] == "Server"])
    ours = _callers(objects, [o for o in objects if o["kind"] == "Server"])
    # The Servers name the pods' port by name (grpc: 8080); meshc by number.
    assert {k: v for k, v in ours.items() if k[1] == "8080"} == {
        ("emoji-svc", "8080"): theirs[("emoji-svc", "grpc")],
        ("voting-svc", "8080"): theirs[("voting-svc", "grpc")],
    }
    protocols = {
        o["metadata"]["name"]: o["spec"].get("proxyProtocol")
        for o in objects
        if o["kind"] == "Server"
    }
    assert protocols == {
        "emoji-svc-grpc": "gRPC",
        "voting-svc-grpc": "gRPC",
        "emoji-svc-prom": None,
        "voting-svc-prom": None,
    }


def test_emojivoto_renders_to_istio_with_its_callers_as_authorization_policies(
    tmp_path: Path,
) -> None:
    result = import_manifests(load_manifests([str(EMOJIVOTO)]), namespace=NAMESPACE)
    path = tmp_path / "mesh.yaml"
    path.write_text(to_yaml(result.spec, []), encoding="utf-8")
    objects, _ = render(load_mesh(str(path)), RenderOptions.of(allow_lossy=True), "istio")
    policies = {
        o["metadata"]["name"]: o["spec"]["rules"]
        for o in objects
        if o["kind"] == "AuthorizationPolicy"
    }
    assert policies["voting-svc-allow"] == [
        {
            "from": [{"source": {"principals": [f"cluster.local/ns/{NAMESPACE}/sa/web"]}}],
            "to": [{"operation": {"ports": ["8080"]}}],
        }
    ]


SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, annotations: {retry.linkerd.io/http: 5xx,
  retry.linkerd.io/limit: "2", timeout.linkerd.io/request: 3s, team: blue}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-v1, namespace: shop}
spec:
  selector: {app: web, version: v1}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-v2, namespace: shop}
spec:
  selector: {app: web, version: v2}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
"""


def test_annotations_and_version_services_become_the_services_policy_and_versions(
    imported: Importer,
) -> None:
    result = imported(
        SERVICES
        + """
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: web, namespace: shop}
spec:
  service: web
  backends: [{service: web-v1, weight: 900}, {service: web-v2, weight: 100}]
"""
    )
    (svc,) = result.spec["spec"]["services"]
    assert svc["timeout"] == "3s"
    assert svc["retries"] == {"attempts": 2, "retryOn": ["5xx"]}
    assert [(v["name"], v["labels"]) for v in svc["versions"]] == [
        ("v1", {"version": "v1"}),
        ("v2", {"version": "v2"}),
    ]
    assert svc["routes"][0]["split"] == {"v1": 900, "v2": 100}
    # The annotation meshc has no field for is carried by an override of the Service.
    assert [f.field for f in result.carried] == ["metadata.annotations"]
    assert result.spec["spec"]["overrides"][0]["merge"] == {
        "metadata": {"annotations": {"team": "blue"}}
    }


def test_an_http_route_of_the_service_becomes_its_routes(imported: Importer) -> None:
    result = imported(
        SERVICES
        + """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: x-user, value: qa}]}]
    backendRefs: [{name: web-v2, port: 80}]
  - backendRefs: [{name: web-v1, port: 80, weight: 80}, {name: web-v2, port: 80, weight: 20}]
---
apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: web-grpc, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: web-v1, port: 80}]
  rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: x}}}]}]
"""
    )
    svc = result.spec["spec"]["services"][0]
    qa, default = svc["routes"]
    # PathPrefix matches whole segments: the path itself, or below it.
    assert qa["matches"] == [
        {"path": {"exact": "/api"}, "headers": {"x-user": {"exact": "qa"}}},
        {"path": {"prefix": "/api/"}, "headers": {"x-user": {"exact": "qa"}}},
    ]
    assert default["split"] == {"v1": 80, "v2": 20}
    # web-v1 is a version of web, not a service: its route has no Service to belong to.
    assert [f.field for f in result.left] == ["spec.parentRefs"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (
            (
                "kind: Server\nspec: {podSelector: {matchLabels: {app: web}}, port: 8080, "
                "accessPolicy: deny}"
            ),
            "spec.accessPolicy",
        ),
        (
            (
                "kind: Server\nspec: {podSelector: {matchExpressions: [{key: app, operator: Exists}]}, "
                "port: 8080}"
            ),
            "spec.podSelector",
        ),
        ("kind: MeshTLSAuthentication\nspec: {identities: ['*']}", "(object)"),
        ("kind: NetworkAuthentication\nspec: {networks: [{cidr: 0.0.0.0/0}]}", "(object)"),
    ],
)
def test_policy_objects_the_spec_cannot_say_are_reported(
    imported: Importer, doc: str, field: str
) -> None:
    result = imported(
        SERVICES + "apiVersion: policy.linkerd.io/v1beta3\nmetadata: {name: p, "
        "namespace: shop}\n" + doc + "\n"
    )
    assert field in [f.field for f in result.left]


def test_a_service_profile_with_its_own_routes_is_reported_route_by_route(
    imported: Importer,
) -> None:
    result = imported(
        SERVICES
        + """
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.shop.svc.cluster.local, namespace: shop}
spec:
  routes:
  - name: all
    condition: {pathRegex: .*}
    timeout: 2s
  - name: books
    condition: {method: GET, pathRegex: '/books/[^/]*'}
    isRetryable: true
"""
    )
    assert [f.field for f in result.left] == ["spec.routes[1]"]
    assert result.spec["spec"]["services"][0]["timeout"] == "2s"


def test_the_namespace_markers_give_the_mesh_mtls_and_access_log(imported: Importer) -> None:
    result = imported(
        SERVICES
        + """
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations: {linkerd.io/inject: enabled, config.linkerd.io/default-inbound-policy:
    all-authenticated, config.linkerd.io/access-log: json, owner: team-blue}
"""
    )
    spec = result.spec["spec"]
    assert (spec["provider"], spec["mtls"]) == ("linkerd", "STRICT")
    assert spec["namespaces"][0]["annotations"] == {"owner": "team-blue"}
    assert spec["telemetry"][0]["accessLogging"] == {"enabled": True}


def test_a_gateway_api_gateway_and_its_route_become_an_ingress_entry(imported: Importer) -> None:
    result = imported(
        SERVICES
        + """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: front, namespace: shop}
spec:
  gatewayClassName: envoy
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: front, namespace: shop}
spec:
  parentRefs: [{name: front}]
  rules:
  - matches: [{method: {service: shop.v1.Cart, method: Get}}]
    backendRefs: [{name: web, port: 80}]
"""
    )
    (entry,) = result.spec["spec"]["ingress"]
    assert entry["gateway"]["className"] == "envoy"
    assert entry["routes"][0]["match"] == {"grpc": {"service": "shop.v1.Cart", "method": "Get"}}
    # No workload of the input runs the gateway: its service account is assumed, and said.
    assert any("service account is not in the input" in n for n in result.notes)
