"""Istio's ambient data plane and Gateway API routing, read back: the dataplane-mode label is
spec.dataplane (or a namespace's own), meshc's waypoints and use-waypoint labels are derived
from the spec (spec.istio.waypoints says their shape), the allow rules at a waypoint and
ztunnel's rule admitting it are the service's allow rules, and HTTPRoutes on Service parents
in a sidecar namespace are spec.istio.routing: gateway-api."""

from __future__ import annotations

from collections.abc import Callable

from meshc.importer import Imported
from meshc.importer.draft import strip_origins

Importer = Callable[..., Imported]

NAMESPACES = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: pay, labels: {istio-injection: enabled}}
---
"""
WEB = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {istio.io/use-waypoint: WAYPOINT}}
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
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-http, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
  - name: canary
    backendRefs:
    - {group: "", kind: Service, name: web-v1, port: 80, weight: 90}
    - {group: "", kind: Service, name: web-v2, port: 80, weight: 10}
    timeouts: {request: 2s}
---
"""
WAYPOINT = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: NAME, namespace: shop, labels: {istio.io/waypoint-for: service}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
"""
POLICIES = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-allow, namespace: shop}
spec:
  targetRefs: [{group: "", kind: Service, name: web}]
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/pay/sa/checkout]}}]
    to: [{operation: {ports: ["80"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-allow-l4, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/shop/sa/WAYPOINT]}}]
---
"""


def _ambient(waypoint: str) -> str:
    return (
        NAMESPACES
        + WEB.replace("WAYPOINT", waypoint)
        + WAYPOINT.replace("NAME", waypoint)
        + POLICIES.replace("WAYPOINT", waypoint)
    )


def _fields(result: Imported) -> list[tuple[str, str]]:
    return [(f.ref, f.field) for f in result.left]


def test_an_ambient_namespace_with_its_waypoint_is_the_spec_that_renders_them(
    imported: Importer,
) -> None:
    result = imported(_ambient("waypoint"))
    spec = strip_origins(result.spec)["spec"]
    assert result.left == []
    # One namespace of each: ambient on the tie, the other its own.
    assert spec["dataplane"] == "ambient"
    assert spec["namespaces"] == [{"name": "pay", "dataplane": "sidecar"}, {"name": "shop"}]
    (web,) = spec["services"]
    assert [v["name"] for v in web["versions"]] == ["v1", "v2"]
    assert web["routes"] == [{"name": "canary", "split": {"v1": 90, "v2": 10}, "timeout": "2s"}]
    # The waypoint's rule is the service's (on the Service port); ztunnel's admits the waypoint.
    assert web["allow"] == [{"fromServiceAccounts": ["pay/checkout"], "ports": [80]}]
    # An ambient namespace routes with HTTPRoutes whatever the setting; the waypoint is derived.
    assert "istio" not in spec
    assert "overrides" not in spec


def test_a_waypoint_per_service_is_spec_istio_waypoints_service(imported: Importer) -> None:
    result = imported(_ambient("web-waypoint"))
    assert result.left == []
    assert strip_origins(result.spec)["spec"]["istio"] == {"waypoints": "service"}


def test_a_waypoint_the_spec_would_not_render_is_reported(imported: Importer) -> None:
    # A waypoint of another name, and a service with nothing that needs L7 behind it.
    result = imported(_ambient("edge"))
    assert ("Service shop/web", "metadata.labels.istio.io/use-waypoint") in _fields(result)
    assert ("AuthorizationPolicy shop/web-allow", "spec.targetRefs") in _fields(result)
    assert ("AuthorizationPolicy shop/web-allow-l4", "spec.rules") in _fields(result)
    assert ("Gateway shop/edge", "(object)") in _fields(result)
    bare = imported(
        NAMESPACES
        + WEB.replace("WAYPOINT", "waypoint").split("apiVersion: gateway.networking.k8s.io/v1")[0]
        + WAYPOINT.replace("NAME", "waypoint")
    )
    assert ("Service shop/web", "metadata.labels.istio.io/use-waypoint") in _fields(bare)


def test_a_waypoint_of_another_shape_is_not_taken_for_meshcs(imported: Importer) -> None:
    result = imported(
        _ambient("waypoint").replace(
            "protocol: HBONE}", "protocol: HBONE}, {name: extra, port: 80, protocol: HTTP}"
        )
    )
    assert ("Gateway shop/waypoint", "spec") in _fields(result)
    assert ("Service shop/web", "metadata.labels.istio.io/use-waypoint") in _fields(result)


def test_httproutes_in_a_sidecar_namespace_are_the_gateway_api_routing(imported: Importer) -> None:
    sidecar = NAMESPACES.replace("istio.io/dataplane-mode: ambient", "istio-injection: enabled")
    web = WEB.replace("labels: {istio.io/use-waypoint: WAYPOINT}", "labels: {}")
    result = imported(sidecar + web, provider="istio")
    spec = strip_origins(result.spec)["spec"]
    assert result.left == []
    assert "dataplane" not in spec
    assert spec["istio"] == {"routing": "gateway-api"}


def test_a_version_services_destination_rule_repeating_the_policy_is_taken(
    imported: Importer,
) -> None:
    policy = "  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 5}}\n"
    rules = "".join(
        f"""
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}, namespace: shop}}
spec:
  host: {host}
{policy if other is None else other}---
"""
        for name, host, other in (
            ("web", "web.shop.svc.cluster.local", None),
            ("web-v1", "web-v1.shop.svc.cluster.local", None),
            (
                "web-v2",
                "web-v2.shop.svc.cluster.local",
                "  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 9}}\n",
            ),
        )
    )
    result = imported(
        NAMESPACES + WEB.replace("labels: {istio.io/use-waypoint: WAYPOINT}", "labels: {}") + rules
    )
    (web,) = strip_origins(result.spec)["spec"]["services"]
    assert web["outlierDetection"] == {"consecutive5xxErrors": 5}
    # web-v1 says the service's policy again (as meshc renders it); web-v2 says another.
    assert _fields(result) == [("DestinationRule shop/web-v2", "spec")]


def test_an_ambient_namespace_on_another_mesh_is_reported(imported: Importer) -> None:
    result = imported(
        NAMESPACES + WEB.replace("labels: {istio.io/use-waypoint: WAYPOINT}", "labels: {}"),
        provider="linkerd",
    )
    assert ("Namespace shop", "metadata.labels") in _fields(result)
    assert "dataplane" not in strip_origins(result.spec)["spec"]


def test_version_services_beside_a_virtual_service_keep_the_virtualservice_routing(
    imported: Importer,
) -> None:
    sidecar = NAMESPACES.replace("istio.io/dataplane-mode: ambient", "istio-injection: enabled")
    web = WEB.replace("labels: {istio.io/use-waypoint: WAYPOINT}", "labels: {}").split(
        "apiVersion: gateway.networking.k8s.io/v1"
    )[0]
    result = imported(
        sidecar
        + web
        + """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: web, subset: v1}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
""",
        provider="istio",
    )
    assert result.left == []
    assert "istio" not in strip_origins(result.spec)["spec"]
