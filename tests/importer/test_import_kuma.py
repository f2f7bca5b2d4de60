"""Kuma's objects written by hand: the Mesh and its namespaces, routes with filters and
per-route policies, the service's timeouts, retries and circuit breaker, faults, rate
limits, permissions and egress become the spec's fields; what the spec cannot say is
reported with its place."""

from __future__ import annotations

from collections.abc import Callable

from meshc.importer import Imported
from meshc.importer.draft import strip_origins

Importer = Callable[..., Imported]

BASE = """
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {kuma.io/sidecar-injection: enabled, kuma.io/mesh: payments}
---
apiVersion: kuma.io/v1alpha1
kind: Mesh
metadata: {name: payments}
spec:
  mtls:
    enabledBackend: ca-1
    backends: [{name: ca-1, type: builtin, mode: PERMISSIVE}]
  meshServices: {mode: Exclusive}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080, appProtocol: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-v1, namespace: shop}
spec:
  selector: {app: web, version: v1}
  ports: [{name: http, port: 80, targetPort: 8080, appProtocol: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-v2, namespace: shop}
spec:
  selector: {app: web, version: v2}
  ports: [{name: http, port: 80, targetPort: 8080, appProtocol: http}]
"""


def _service(result: Imported, name: str = "web") -> dict:
    spec = strip_origins(result.spec)["spec"]
    return next(s for s in spec["services"] if s["name"] == name)


def test_the_mesh_and_its_namespaces_give_the_provider_mode_and_kuma_mesh(
    imported: Importer,
) -> None:
    result = imported(BASE)
    spec = strip_origins(result.spec)["spec"]
    assert (spec["provider"], spec["mtls"], spec["kuma"]) == (
        "kuma",
        "PERMISSIVE",
        {"mesh": "payments"},
    )
    assert spec["namespaces"] == [{"name": "shop"}]  # both Kuma labels are the spec's
    assert [v["name"] for v in _service(result)["versions"]] == ["v1", "v2"]
    assert result.left == []


def test_routes_with_filters_and_their_own_policies_become_the_services_routes(
    imported: Importer,
) -> None:
    result = imported(
        BASE
        + """
---
apiVersion: kuma.io/v1alpha1
kind: MeshHTTPRoute
metadata: {name: web, namespace: shop}
spec:
  to:
  - targetRef: {kind: MeshService, name: web}
    rules:
    - matches: [{path: {type: RegularExpression, value: /api\\-old.*}}]
      default:
        filters:
        - type: RequestRedirect
          requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /api}, statusCode: 301}
    - matches: [{path: {type: PathPrefix, value: /}}]
      default:
        filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: x-route, value: main}]}
        - type: RequestMirror
          requestMirror: {backendRef: {kind: MeshService, name: web-v2, port: 80}, percentage: 10}
        backendRefs:
        - {kind: MeshService, name: web-v1, port: 80, weight: 90}
        - {kind: MeshService, name: web-v2, port: 80, weight: 10}
---
apiVersion: kuma.io/v1alpha1
kind: MeshHTTPRoute
metadata: {name: web-beta, namespace: shop}
spec:
  to:
  - targetRef: {kind: MeshService, name: web}
    rules:
    - matches: [{headers: [{type: Exact, name: x-beta, value: "1"}]}]
      default:
        backendRefs: [{kind: MeshService, name: web-v2, port: 80, weight: 100}]
---
apiVersion: kuma.io/v1alpha1
kind: MeshTimeout
metadata: {name: web-beta, namespace: shop}
spec:
  to:
  - targetRef: {kind: MeshHTTPRoute, name: web-beta}
    default: {http: {requestTimeout: 2s}}
"""
    )
    assert _service(result)["routes"] == [
        {
            "match": {"path": {"prefix": "/api-old"}},
            "redirect": {"path": "/api", "statusCode": 301},
        },
        {
            "match": {"headers": {"x-beta": {"exact": "1"}}},
            "to": "v2",
            "timeout": "2s",
            "name": "beta",
        },
        {
            "headers": {"request": {"set": {"x-route": "main"}}},
            "mirror": {"to": "v2", "percent": 10},
            "split": {"v1": 90, "v2": 10},
        },
    ]
    assert result.left == []


def test_the_services_timeouts_retries_circuit_breaker_limit_and_permission(
    imported: Importer,
) -> None:
    result = imported(
        BASE
        + """
---
apiVersion: kuma.io/v1alpha1
kind: MeshRetry
metadata: {name: web, namespace: shop}
spec:
  to:
  - targetRef: {kind: MeshService, name: web}
    default: {http: {numRetries: 2, perTryTimeout: 1s, retryOn: [5XX, ConnectFailure]}}
---
apiVersion: kuma.io/v1alpha1
kind: MeshCircuitBreaker
metadata: {name: web, namespace: shop}
spec:
  to:
  - targetRef: {kind: MeshService, name: web}
    default:
      connectionLimits: {maxConnections: 10}
      outlierDetection:
        disabled: false
        interval: 5s
        detectors: {totalFailures: {consecutive: 3}}
---
apiVersion: kuma.io/v1alpha1
kind: MeshRateLimit
metadata: {name: web, namespace: shop}
spec:
  targetRef: {kind: Dataplane, labels: {app: web}}
  rules: [{default: {local: {http: {requestRate: {num: 600, interval: 1m}}}}}]
---
apiVersion: kuma.io/v1alpha1
kind: MeshTrafficPermission
metadata: {name: web, namespace: shop}
spec:
  targetRef: {kind: Dataplane, labels: {app: web}}
  from:
  - targetRef: {kind: MeshSubset, tags: {k8s.kuma.io/namespace: shop}}
    default: {action: Allow}
  - targetRef: {kind: Mesh}
    default: {action: Deny}
---
apiVersion: kuma.io/v1alpha1
kind: MeshPassthrough
metadata: {name: egress, namespace: shop}
spec:
  targetRef: {kind: Mesh}
  default:
    passthroughMode: Matched
    appendMatch: [{type: Domain, value: api.example.com, port: 443, protocol: tls}]
"""
    )
    svc = _service(result)
    assert svc["retries"] == {
        "attempts": 2,
        "perTryTimeout": "1s",
        "retryOn": ["5xx", "connect-failure"],
    }
    assert svc["connectionPool"] == {"maxConnections": 10}
    assert svc["outlierDetection"] == {"interval": "5s", "consecutive5xxErrors": 3}
    assert svc["rateLimit"] == {"requestsPerSecond": 10}
    assert svc["allow"] == [{"fromNamespaces": ["shop"]}]
    assert strip_origins(result.spec)["spec"]["egress"] == {
        "hosts": [{"host": "api.example.com", "ports": [{"port": 443, "protocol": "tls"}]}]
    }
    assert result.left == []


def test_what_the_spec_cannot_say_is_reported_with_its_place(imported: Importer) -> None:
    result = imported(
        BASE
        + """
---
apiVersion: kuma.io/v1alpha1
kind: MeshTrafficPermission
metadata: {name: web, namespace: shop}
spec:
  targetRef: {kind: Dataplane, labels: {app: web}}
  from:
  - targetRef: {kind: MeshSubset, tags: {kuma.io/zone: east}}
    default: {action: Allow}
  - targetRef: {kind: Mesh}
    default: {action: Deny}
---
apiVersion: kuma.io/v1alpha1
kind: MeshRetry
metadata: {name: web, namespace: shop}
spec:
  to:
  - targetRef: {kind: MeshService, name: web}
    default: {http: {numRetries: 2, retryOn: ["503"]}, tcp: {maxConnectAttempt: 3}}
---
apiVersion: kuma.io/v1alpha1
kind: MeshHTTPRoute
metadata: {name: web, namespace: shop}
spec:
  targetRef: {kind: MeshSubset, tags: {app: frontend}}
  to: []
---
apiVersion: kuma.io/v1alpha1
kind: MeshHealthCheck
metadata: {name: web, namespace: shop}
spec: {}
"""
    )
    assert sorted((f.ref, f.field) for f in result.left) == [
        ("MeshHTTPRoute shop/web", "spec.targetRef"),
        ("MeshHealthCheck shop/web", "(object)"),
        ("MeshRetry shop/web", "spec.to[0].default.http.retryOn[0]"),
        ("MeshRetry shop/web", "spec.to[0].default.tcp"),
        ("MeshTrafficPermission shop/web", "spec.from"),
        ("MeshTrafficPermission shop/web", "spec.from[0]"),
    ]
    assert all(f.where.startswith("in.yaml:") for f in result.left)


def test_access_logs_and_metrics_become_the_namespaces_telemetry(imported: Importer) -> None:
    result = imported(
        BASE
        + """
---
apiVersion: kuma.io/v1alpha1
kind: MeshAccessLog
metadata: {name: web-logs-inbound, namespace: shop}
spec:
  targetRef: {kind: Dataplane, labels: {app: web}}
  rules: [{default: {backends: [{type: File, file: {path: /dev/stdout}}]}}]
---
apiVersion: kuma.io/v1alpha1
kind: MeshAccessLog
metadata: {name: web-logs-outbound, namespace: shop}
spec:
  targetRef: {kind: Dataplane, labels: {app: web}}
  to: [{targetRef: {kind: Mesh}, default: {backends: [{type: File, file: {path: /dev/stdout}}]}}]
---
apiVersion: kuma.io/v1alpha1
kind: MeshMetric
metadata: {name: quiet, namespace: shop}
spec:
  default: {backends: []}
---
apiVersion: kuma.io/v1alpha1
kind: MeshMetric
metadata: {name: otel, namespace: shop}
spec:
  default: {backends: [{type: OpenTelemetry, openTelemetry: {endpoint: "collector:4317"}}]}
"""
    )
    telemetry = strip_origins(result.spec)["spec"]["telemetry"]
    assert telemetry == [
        {"name": "quiet", "namespace": "shop", "metrics": {"enabled": False}},
        {
            "name": "web-logs",
            "namespace": "shop",
            "selector": {"app": "web"},
            "accessLogging": {"enabled": True},
        },
    ]
    assert [(f.ref, f.field) for f in result.left] == [("MeshMetric shop/otel", "spec.default")]


GATEWAY = """
---
apiVersion: kuma.io/v1alpha1
kind: MeshGatewayInstance
metadata: {name: edge, namespace: gateways, labels: {kuma.io/mesh: payments}}
spec:
  replicas: 1
  serviceType: LoadBalancer
  podTemplate: {spec: {serviceAccountName: edge-gw}}
---
apiVersion: kuma.io/v1alpha1
kind: MeshGateway
mesh: payments
metadata: {name: edge-shop}
spec:
  selectors: [{match: {kuma.io/service: edge_gateways_svc}}]
  conf:
    listeners:
    - {port: 8080, protocol: HTTP, hostname: a.example, tags: {meshc.io/listener: web}}
    - {port: 8080, protocol: HTTP, hostname: b.example, tags: {meshc.io/listener: web}}
    - port: 8443
      protocol: HTTPS
      hostname: a.example
      tags: {meshc.io/listener: secure}
      tls: {mode: TERMINATE, certificates: [{secret: edge-cert}]}
---
apiVersion: kuma.io/v1alpha1
kind: MeshHTTPRoute
metadata: {name: edge-shop, namespace: kuma-system}
spec:
  targetRef: {kind: MeshGateway, name: edge-shop}
  to:
  - targetRef: {kind: Mesh}
    rules:
    - matches: [{path: {type: Exact, value: /old}}]
      default:
        filters:
        - type: RequestRedirect
          requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /new}, statusCode: 301}
    - matches: [{path: {type: PathPrefix, value: /}}]
      default:
        backendRefs: [{kind: MeshService, name: web, namespace: shop, port: 80}]
---
apiVersion: kuma.io/v1alpha1
kind: MeshHTTPRoute
metadata: {name: edge-shop-route-0, namespace: kuma-system}
spec:
  targetRef: {kind: MeshGateway, name: edge-shop}
  to:
  - targetRef: {kind: Mesh}
    rules:
    - matches: [{path: {type: Exact, value: /slow}}]
      default:
        backendRefs: [{kind: MeshService, name: web, namespace: shop, port: 80}]
---
apiVersion: kuma.io/v1alpha1
kind: MeshTimeout
metadata: {name: edge-shop-route-0, namespace: kuma-system}
spec:
  targetRef: {kind: MeshHTTPRoute, name: edge-shop-route-0}
  to:
  - targetRef: {kind: Mesh}
    default: {http: {requestTimeout: 30s}}
"""


def test_the_builtin_gateway_becomes_the_ingress_and_admits_the_gateway(
    imported: Importer,
) -> None:
    result = imported(
        BASE
        + GATEWAY
        + """
---
apiVersion: kuma.io/v1alpha1
kind: MeshTrafficPermission
metadata: {name: web, namespace: shop}
spec:
  targetRef: {kind: Dataplane, labels: {app: web}}
  from:
  - targetRef: {kind: MeshSubset, tags: {k8s.kuma.io/namespace: shop}}
    default: {action: Allow}
  - targetRef: {kind: MeshSubset, tags: {kuma.io/service: edge_gateways_svc}}
    default: {action: Allow}
  - targetRef: {kind: Mesh}
    default: {action: Deny}
"""
    )
    assert result.left == []
    spec = strip_origins(result.spec)["spec"]
    assert spec["ingress"] == [
        {
            "name": "edge",
            "namespace": "shop",
            "gateway": {"namespace": "gateways", "serviceAccount": "edge-gw"},
            "listeners": [
                {
                    "name": "web",
                    "hosts": ["a.example", "b.example"],
                    "port": 8080,
                    "protocol": "HTTP",
                },
                {
                    "name": "secure",
                    "hosts": ["a.example"],
                    "port": 8443,
                    "protocol": "HTTPS",
                    "tls": {"secretName": "edge-cert"},
                },
            ],
            "routes": [
                {
                    "match": {"path": {"exact": "/slow"}},
                    "backend": {"service": "web", "port": 80},
                    "timeout": "30s",
                },
                {
                    "match": {"path": {"exact": "/old"}},
                    "redirect": {"path": "/new", "statusCode": 301},
                },
                {"backend": {"service": "web", "port": 80}},
            ],
        }
    ]
    # The gateway's own Allow is the ingress's; the namespace's is the allow rule.
    assert _service(result)["allow"] == [{"fromNamespaces": ["shop"]}]


def test_a_permission_for_a_gateway_that_routes_elsewhere_is_reported(imported: Importer) -> None:
    result = imported(
        BASE
        + """
---
apiVersion: kuma.io/v1alpha1
kind: MeshTrafficPermission
metadata: {name: web, namespace: shop}
spec:
  targetRef: {kind: Dataplane, labels: {app: web}}
  from:
  - targetRef: {kind: MeshSubset, tags: {kuma.io/service: edge_gateways_svc}}
    default: {action: Allow}
  - targetRef: {kind: Mesh}
    default: {action: Deny}
"""
    )
    assert sorted((f.ref, f.field) for f in result.left) == [
        ("MeshTrafficPermission shop/web", "spec.from"),
        ("MeshTrafficPermission shop/web", "spec.from[0]"),
    ]
