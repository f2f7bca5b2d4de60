"""Istio's objects: what each kind says that the spec says too is taken, and every other
field is reported with its file:line (or carried by an override of the rendered object)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from meshc.importer import Imported

Importer = Callable[..., Imported]

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
"""
RULE = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
"""


def _left(result: object) -> list[tuple[str, str, str]]:
    return [(f.where, f.ref, f.field) for f in result.left]  # type: ignore[attr-defined]


def test_a_virtual_service_and_its_destination_rule_become_versions_and_routes(
    imported: Importer,
) -> None:
    result = imported(
        SERVICE
        + RULE
        + """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web.shop.svc.cluster.local]
  http:
  - match: [{headers: {end-user: {exact: jason}}, uri: {prefix: /api}}]
    route: [{destination: {host: web, subset: v2}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 5}}}
  - route:
    - {destination: {host: web, subset: v1}, weight: 90}
    - {destination: {host: web, subset: v2}, weight: 10}
    timeout: 3s
"""
    )
    (svc,) = result.spec["spec"]["services"]
    assert [v["name"] for v in svc["versions"]] == ["v1", "v2"]
    jason, default = svc["routes"]
    assert jason["match"] == {
        "path": {"prefix": "/api"},
        "headers": {"end-user": {"exact": "jason"}},
    }
    assert jason["to"] == "v2" and jason["fault"] == {"abort": {"httpStatus": 503, "percent": 5}}
    assert default["split"] == {"v1": 90, "v2": 10} and default["timeout"] == "3s"
    assert result.left == [] and result.spec["spec"]["provider"] == "istio"


@pytest.mark.parametrize(
    ("http", "field", "line"),
    [
        (
            "{corsPolicy: {allowOrigins: [{exact: a}]}, route: [{destination: {host: web}}]}",
            "spec.http[0].corsPolicy",
            9,
        ),
        (
            "{match: [{queryParams: {a: {exact: b}}}], route: [{destination: {host: web, subset: v1}}]}",
            "spec.http[0].match[0].queryParams",
            9,
        ),
        (
            "{route: [{destination: {host: other.example.com}}]}",
            "spec.http[0].route[0].destination.host",
            9,
        ),
        ("{directResponse: {status: 503}}", "spec.http[0].directResponse", 9),
        (
            (
                "{route: [{destination: {host: web, subset: v1}}], retries: {attempts: 2, "
                "retryRemoteLocalities: true}}"
            ),
            "spec.http[0].retries.retryRemoteLocalities",
            9,
        ),
    ],
)
def test_what_a_virtual_service_route_says_beyond_the_spec_is_reported_at_its_line(
    imported: Importer, http: str, field: str, line: int
) -> None:
    result = imported(
        SERVICE
        + RULE
        + f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web, namespace: shop}}
spec:
  hosts: [web]
  http:
  - {http}
"""
    )
    (finding,) = result.left
    assert finding.field == field
    assert finding.ref == "VirtualService shop/web"
    assert finding.where == f"in.yaml:{line + 17}"
    assert "not expressible in a Mesh spec" in finding.format()


def test_two_virtual_services_for_one_host_are_reported_not_merged(imported: Importer) -> None:
    vs = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: shop}}
spec:
  hosts: [web]
  http: [{{route: [{{destination: {{host: web, subset: {subset}}}}}]}}]
---
"""
    result = imported(
        SERVICE + RULE + vs.format(name="a", subset="v1") + vs.format(name="b", subset="v2")
    )
    (finding,) = result.left
    assert finding.ref == "VirtualService shop/b" and "second VirtualService" in finding.why
    assert result.spec["spec"]["services"][0]["routes"] == [
        {"to": "v1", "__from__": ["in.yaml:25"]}
    ]


def test_destination_rule_settings_the_spec_lacks_are_carried_by_overrides(
    imported: Importer,
) -> None:
    result = imported(
        SERVICE
        + """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool: {tcp: {maxConnections: 10, connectTimeout: 1s}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
"""
    )
    assert result.left == []
    fields = sorted(f.field for f in result.carried)
    assert fields == [
        "spec.subsets[0].trafficPolicy",
        "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
        "spec.trafficPolicy.loadBalancer",
    ]
    (override,) = result.spec["spec"]["overrides"]
    assert override["target"] == {"kind": "DestinationRule", "namespace": "shop", "name": "web"}
    assert override["merge"]["spec"]["trafficPolicy"]["loadBalancer"] == {"simple": "LEAST_REQUEST"}
    assert override["patch"] == [
        {
            "op": "add",
            "path": "/spec/subsets/0/trafficPolicy",
            "value": {"loadBalancer": {"simple": "ROUND_ROBIN"}},
        }
    ]
    svc = result.spec["spec"]["services"][0]
    assert svc["connectionPool"] == {"maxConnections": 10}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (
            "kind: PeerAuthentication\nspec: {selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}}",
            "spec.selector",
        ),
        ("kind: PeerAuthentication\nspec: {mtls: {mode: DISABLE}}", "spec.mtls.mode"),
        (
            (
                "kind: AuthorizationPolicy\nspec: {action: DENY, selector: {matchLabels: {app: web}}, "
                "rules: [{}]}"
            ),
            "spec.action",
        ),
        (
            "kind: AuthorizationPolicy\nspec: {rules: [{from: [{source: {namespaces: [a]}}]}]}",
            "spec.selector",
        ),
        (
            (
                "kind: AuthorizationPolicy\nspec: {selector: {matchLabels: {app: web}}, rules: [{from: "
                "[{source: {namespaces: [a]}}], when: [{key: request.headers, values: [x]}]}]}"
            ),
            "spec.rules[0].when",
        ),
        (
            (
                "kind: AuthorizationPolicy\nspec: {selector: {matchLabels: {app: web}}, rules: [{from: "
                "[{source: {ipBlocks: [10.0.0.0/8]}}]}]}"
            ),
            "spec.rules[0].from[0].source",
        ),
        (
            (
                "kind: AuthorizationPolicy\nspec: {selector: {matchLabels: {app: web}}, rules: [{from: "
                "[{source: {namespaces: [a]}}], to: [{operation: {methods: [GET]}}]}]}"
            ),
            "spec.rules[0].to[0].operation",
        ),
        ("kind: AuthorizationPolicy\nspec: {selector: {matchLabels: {app: web}}}", "spec.rules"),
    ],
)
def test_security_objects_the_spec_cannot_say_are_reported(
    imported: Importer, doc: str, field: str
) -> None:
    result = imported(
        SERVICE + "apiVersion: security.istio.io/v1\nmetadata: {name: p, "
        "namespace: shop}\n" + doc + "\n"
    )
    assert [f.field for f in result.left] == [field]


def test_authorization_policies_and_peer_authentication_become_allow_rules_and_mtls(
    imported: Importer,
) -> None:
    result = imported(
        SERVICE
        + """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {principals: [cluster.local/ns/shop/sa/front]}}]
    to: [{operation: {ports: ["8080"]}}]
  - from: [{source: {namespaces: [ops]}}]
"""
    )
    spec = result.spec["spec"]
    assert spec["mtls"] == "STRICT"
    allow = [{k: v for k, v in r.items() if k != "__from__"} for r in spec["services"][0]["allow"]]
    assert allow == [
        {"fromServiceAccounts": ["shop/front"], "ports": [80]},
        {"fromNamespaces": ["ops"]},
    ]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (
            (
                "kind: Gateway\nspec: {selector: {istio: ingressgateway}, servers: [{port: {number: 443, "
                "name: tls, protocol: TLS}, hosts: [a.example.com], tls: {mode: PASSTHROUGH}}]}"
            ),
            "spec.servers[0].port.protocol",
        ),
        (
            (
                "kind: ServiceEntry\nspec: {hosts: [db.internal], location: MESH_INTERNAL, ports: "
                "[{number: 5432, name: pg, protocol: TCP}]}"
            ),
            "spec.location",
        ),
        (
            (
                "kind: ServiceEntry\nspec: {hosts: [api.example.com], ports: [{number: 5432, name: pg, "
                "protocol: TCP}]}"
            ),
            "spec.ports[0].protocol",
        ),
        ("kind: Sidecar\nspec: {egress: [{hosts: ['./*']}]}", "(object)"),
        ("kind: EnvoyFilter\nspec: {}", "(object)"),
    ],
)
def test_networking_objects_the_spec_cannot_say_are_reported(
    imported: Importer, doc: str, field: str
) -> None:
    result = imported(
        SERVICE + "apiVersion: networking.istio.io/v1\nmetadata: {name: g, "
        "namespace: shop}\n" + doc + "\n"
    )
    assert field in [f.field for f in result.left]


def test_telemetry_with_another_provider_is_reported(imported: Importer) -> None:
    result = imported(
        SERVICE
        + """
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: logs, namespace: shop}
spec:
  accessLogging: [{providers: [{name: otel}]}]
  tracing: [{randomSamplingPercentage: 5}]
"""
    )
    assert [f.field for f in result.left] == ["spec.accessLogging"]
    (telemetry,) = result.spec["spec"]["telemetry"]
    assert telemetry["tracing"] == {"samplingPercent": 5}


def test_a_gateway_and_its_virtual_service_become_an_ingress_entry(imported: Importer) -> None:
    result = imported(
        SERVICE
        + """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: front, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, credentialName: shop-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [front]
  http:
  - match: [{uri: {prefix: /}}]
    route: [{destination: {host: web, port: {number: 80}}}]
"""
    )
    assert result.left == []
    (entry,) = result.spec["spec"]["ingress"]
    assert entry["gateway"]["namespace"] == "istio-system"
    assert entry["listeners"][0]["tls"] == {"secretName": "shop-cert"}
    assert entry["routes"][0]["backend"] == {"service": "web", "port": 80}
