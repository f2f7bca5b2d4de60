"""The Linkerd target's traffic management beyond splits, ingress, egress, rate limits and
telemetry: what each spec field becomes on Linkerd, and what it cannot do said out loud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, Report, render
from support.schemas import assert_valid
from support.specs import write_spec

Obj = dict[str, Any]

HEAD = """
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: shop}
spec:
  provider: linkerd
  mtls: STRICT
  namespaces: [{name: shop}, {name: other}]
"""
WEB = """
    - name: web
      namespace: shop
      selector: {app: web}
      ports:
        - {name: http, port: 80, targetPort: 8080}
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
"""


def linkerd(
    tmp_path: Path, body: str, mode: str = "gateway-api", *, lossy: bool = False
) -> tuple[dict[tuple[str, str], Obj], Report]:
    spec = write_spec(tmp_path, HEAD + body)
    objects, report = render(
        load_mesh(str(spec)), RenderOptions.of(linkerd_routing=mode, allow_lossy=lossy)
    )
    assert_valid(objects, gateway_channel="linkerd")
    return {
        (o["kind"], f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"): o
        for o in objects
    }, report


def refused(tmp_path: Path, body: str, mode: str = "gateway-api") -> list[str]:
    with pytest.raises(SpecError) as info:
        linkerd(tmp_path, body, mode)
    return [p.path for p in info.value.problems if p.level == "error"]


def test_a_route_with_its_own_policy_gets_an_httproute_carrying_it(tmp_path: Path) -> None:
    objects, report = linkerd(
        tmp_path,
        "  services:"
        + WEB
        + """
      routes:
        - name: slow
          match: {path: {prefix: /slow}}
          retries: {attempts: 4, perTryTimeout: 1500ms}
          to: v2
        - to: v1
      timeout: 5s
      retries: {attempts: 1}
""",
    )
    shared = objects[("HTTPRoute", "shop/web-http")]
    assert [r.get("matches") for r in shared["spec"]["rules"]] == [None]
    own = objects[("HTTPRoute", "shop/web-http-slow")]
    # The route's retries, and the service's timeout it inherits: Linkerd takes a route's
    # timeouts and retries as a whole from the route once it sets any.
    annotations = own["metadata"]["annotations"]
    assert {k: v for k, v in annotations.items() if "linkerd.io" in k} == {
        "retry.linkerd.io/http": "5xx",
        "retry.linkerd.io/limit": "4",
        "retry.linkerd.io/timeout": "1500ms",
        "timeout.linkerd.io/request": "5s",
    }
    assert own["spec"]["rules"][0]["matches"] == [
        {"path": {"type": "RegularExpression", "value": "^/slow.*"}}
    ]
    service = objects[("Service", "shop/web")]["metadata"]["annotations"]
    assert service["retry.linkerd.io/limit"] == "1"
    assert [p.path for p in report.problems] == ["spec.services[0].routes[0].name"]


def test_a_route_cannot_turn_off_its_services_retries(tmp_path: Path) -> None:
    _, report = linkerd(
        tmp_path,
        "  services:"
        + WEB
        + """
      routes:
        - {match: {path: {prefix: /pay}}, retries: {attempts: 0}, to: v1}
        - to: v1
      retries: {attempts: 2}
""",
    )
    (warning,) = report.warnings
    assert warning.path == "spec.services[0].routes[0].retries.attempts"


def test_headers_and_redirects_are_filters(tmp_path: Path) -> None:
    objects, report = linkerd(
        tmp_path,
        "  services:"
        + WEB
        + """
      routes:
        - match: {path: {prefix: /shop.Cart/}}
          redirect: {host: cart.example, statusCode: 308}
        - to: v1
          headers:
            request: {set: {x-a: "1"}, add: {x-b: "2"}, remove: [x-c]}
            response: {remove: [server]}
      retries: {attempts: 0}
""",
    )
    redirect, default = objects[("HTTPRoute", "shop/web-http")]["spec"]["rules"]
    assert redirect == {
        "matches": [{"path": {"type": "RegularExpression", "value": "^/shop\\.Cart/.*"}}],
        "filters": [
            {
                "type": "RequestRedirect",
                "requestRedirect": {"hostname": "cart.example", "statusCode": 301},
            }
        ],
    }
    assert default["filters"] == [
        {
            "type": "RequestHeaderModifier",
            "requestHeaderModifier": {
                "set": [{"name": "x-a", "value": "1"}],
                "add": [{"name": "x-b", "value": "2"}],
                "remove": ["x-c"],
            },
        },
        {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"remove": ["server"]}},
    ]
    (warning,) = report.warnings
    assert warning.path == "spec.services[0].routes[0].redirect.statusCode"
    assert "308 was rendered as 301" in warning.message


def test_an_abort_needs_a_service_that_answers_with_the_error(tmp_path: Path) -> None:
    body = (
        "  services:"
        + WEB
        + """
      routes:
        - to: v1
          fault: {abort: {httpStatus: 503, percent: 12.5}}
"""
    )
    assert refused(tmp_path, body) == ["spec.services[0].routes[0].fault.abort"]
    objects, report = linkerd(
        tmp_path,
        body.replace("percent: 12.5}", "percent: 12.5, service: {name: errors, port: 8080}}"),
    )
    (rule,) = objects[("HTTPRoute", "shop/web-http")]["spec"]["rules"]
    assert [(b["name"], b["port"], b["weight"]) for b in rule["backendRefs"]] == [
        ("web-v1", 80, 7),
        ("errors", 8080, 1),
    ]
    (warning,) = report.warnings
    assert warning.path == "spec.services[0].routes[0].fault.abort"


def test_an_abort_shares_the_split_in_proportion(tmp_path: Path) -> None:
    objects, _ = linkerd(
        tmp_path,
        "  services:"
        + WEB
        + """
      routes:
        - split: {v1: 75, v2: 25}
          fault: {abort: {httpStatus: 500, percent: 20, service: {name: errors, port: 80}}}
""",
    )
    (rule,) = objects[("HTTPRoute", "shop/web-http")]["spec"]["rules"]
    weights = [b["weight"] for b in rule["backendRefs"]]
    assert [w / sum(weights) for w in weights] == [0.6, 0.2, 0.2]


@pytest.mark.parametrize(
    ("route", "path"),
    [
        ("{to: v1, fault: {delay: {fixed: 1s}}}", "spec.services[0].routes[0].fault.delay"),
        ("{to: v1, mirror: {to: v2}}", "spec.services[0].routes[0].mirror"),
        ("{to: v1, rewrite: {path: /x}}", "spec.services[0].routes[0].rewrite"),
        (
            "{to: v1, retries: {attempts: 2, retryOn: [unavailable]}}",
            "spec.services[0].routes[0].retries.retryOn[0]",
        ),
    ],
)
def test_what_linkerds_proxy_cannot_do_is_refused(tmp_path: Path, route: str, path: str) -> None:
    body = (
        "  services:"
        + WEB.replace("port: 80, targetPort: 8080}", "port: 80, targetPort: 8080, protocol: http2}")
        + f"      routes:\n        - {route}\n"
    )
    assert path in refused(tmp_path, body)


def test_smi_mode_refuses_every_route_feature(tmp_path: Path) -> None:
    body = (
        "  services:"
        + WEB
        + """
      routes:
        - match: {path: {prefix: /a}}
          timeout: 1s
          headers: {request: {set: {x-a: "1"}}}
          to: v2
        - matches: [{path: {prefix: /b}}, {path: {prefix: /c}}]
          redirect: {path: /d}
        - to: v1
"""
    )
    assert refused(tmp_path, body, "smi") == [
        "spec.services[0].routes[0].match.path",
        "spec.services[0].routes[0].timeout",
        "spec.services[0].routes[0].headers",
        "spec.services[0].routes[1].matches",
        "spec.services[0].routes[1].redirect",
    ]


def test_a_tcp_split_is_refused(tmp_path: Path) -> None:
    assert refused(
        tmp_path,
        """  services:
    - name: db
      namespace: shop
      selector: {app: db}
      ports: [{name: sql, port: 5432, targetPort: 5432, protocol: tcp}]
      versions: [{name: a, labels: {v: a}}, {name: b, labels: {v: b}}]
      routes: [{split: {a: 50, b: 50}}]
""",
    ) == ["spec.services[0].routes[0]"]


@pytest.mark.parametrize(
    ("mtls", "access"), [("STRICT", "all-authenticated"), ("PERMISSIVE", "all-unauthenticated")]
)
def test_a_rate_limit_targets_servers_that_keep_the_namespaces_access(
    tmp_path: Path, mtls: str, access: str
) -> None:
    spec = write_spec(
        tmp_path,
        HEAD.replace("mtls: STRICT", f"mtls: {mtls}")
        + "  services:"
        + WEB
        + "      rateLimit: {requestsPerSecond: 100, "
        "perCallerRequestsPerSecond: 10}\n",
    )
    objects, report = render(load_mesh(str(spec)), RenderOptions.of())
    by_kind = {o["kind"]: o for o in objects}
    assert by_kind["Server"]["spec"]["accessPolicy"] == access
    assert by_kind["HTTPLocalRateLimitPolicy"]["spec"] == {
        "targetRef": {"group": "policy.linkerd.io", "kind": "Server", "name": "web-http"},
        "total": {"requestsPerSecond": 100},
        "identity": {"requestsPerSecond": 10},
    }
    assert "AuthorizationPolicy" not in by_kind
    assert report.problems == []
    assert_valid(objects, gateway_channel="linkerd")


def test_a_rate_limited_service_with_allow_rules_keeps_its_deny_servers(tmp_path: Path) -> None:
    objects, _ = linkerd(
        tmp_path,
        "  services:"
        + WEB
        + """
      allow: [{fromNamespaces: [shop]}]
      rateLimit: {requestsPerSecond: 5}
""",
    )
    assert objects[("Server", "shop/web-http")]["spec"]["accessPolicy"] == "deny"
    assert ("HTTPLocalRateLimitPolicy", "shop/web-http") in objects
    assert ("AuthorizationPolicy", "shop/web-http") in objects


INGRESS = (
    "  services:"
    + WEB
    + """
      allow:
        - fromNamespaces: [shop]
    - name: api
      namespace: other
      selector: {app: api}
      ports: [{name: http, port: 8000, targetPort: 8001}]
  ingress:
    - name: edge
      namespace: shop
      gateway: {namespace: ingress, serviceAccount: envoy-edge, className: envoy}
      listeners:
        - {name: http, port: 80, protocol: HTTP, hosts: [shop.example, www.shop.example]}
        - {name: https, port: 443, protocol: HTTPS, hosts: [shop.example],
           tls: {secretName: shop-cert}}
      routes:
        - match: {path: {prefix: /api}}
          backend: {service: api, namespace: other}
          timeout: 1500ms
        - backend: {service: web}
"""
)


def test_an_ingress_is_a_gateway_api_gateway_with_its_httproute(tmp_path: Path) -> None:
    objects, report = linkerd(tmp_path, INGRESS)
    gateway = objects[("Gateway", "shop/edge")]["spec"]
    assert gateway["gatewayClassName"] == "envoy"
    assert [(x["name"], x.get("hostname"), x["port"]) for x in gateway["listeners"]] == [
        ("http-0", "shop.example", 80),
        ("http-1", "www.shop.example", 80),
        ("https", "shop.example", 443),
    ]
    assert gateway["listeners"][2]["tls"] == {
        "mode": "Terminate",
        "certificateRefs": [{"group": "", "kind": "Secret", "name": "shop-cert"}],
    }
    route = objects[("HTTPRoute", "shop/edge")]["spec"]
    assert route["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge"}
    ]
    assert route["hostnames"] == ["shop.example", "www.shop.example"]
    api, web = route["rules"]
    assert api["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "api", "namespace": "other", "port": 8000}
    ]
    assert api["timeouts"] == {"request": "1s500ms"}
    assert web["backendRefs"] == [{"group": "", "kind": "Service", "name": "web", "port": 80}]
    grant = objects[("ReferenceGrant", "other/edge-shop")]["spec"]
    assert grant == {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "shop"}],
        "to": [{"group": "", "kind": "Service", "name": "api"}],
    }
    assert report.problems == []


def test_the_gateways_identity_joins_the_callers_of_the_ports_it_reaches(tmp_path: Path) -> None:
    objects, _ = linkerd(tmp_path, INGRESS)
    identities = objects[("MeshTLSAuthentication", "shop/web-http")]["spec"]["identities"]
    assert identities == [
        "*.shop.serviceaccount.identity.linkerd.cluster.local",
        "envoy-edge.ingress.serviceaccount.identity.linkerd.cluster.local",
    ]


def test_a_gateway_api_ingress_needs_a_gateway_class(tmp_path: Path) -> None:
    assert refused(tmp_path, INGRESS.replace(", className: envoy", "")) == [
        "spec.ingress[0].gateway"
    ]


def test_egress_is_an_egress_network_that_denies_and_routes_that_let_hosts_through(
    tmp_path: Path,
) -> None:
    objects, report = linkerd(
        tmp_path,
        """  services: []
  egress:
    hosts:
      - host: api.example.com
        ports: [{port: 443, protocol: tls}, {port: 80, protocol: http}]
""",
    )
    assert objects[("EgressNetwork", "shop/egress")]["spec"] == {"trafficPolicy": "Deny"}
    tls = objects[("TLSRoute", "shop/egress-api.example.com-443")]
    assert tls["apiVersion"] == "gateway.networking.k8s.io/v1alpha2"
    ref = {"group": "policy.linkerd.io", "kind": "EgressNetwork", "name": "egress", "port": 443}
    assert tls["spec"] == {
        "parentRefs": [ref],
        "hostnames": ["api.example.com"],
        "rules": [{"backendRefs": [ref]}],
    }
    assert ("HTTPRoute", "other/egress-api.example.com-80") in objects
    assert report.problems == []


def test_access_logs_are_a_namespace_annotation_and_the_rest_is_refused(tmp_path: Path) -> None:
    body = """  services: []
  telemetry:
    - {name: logs, namespace: shop, accessLogging: {enabled: true}}
"""
    objects, _ = linkerd(tmp_path, body)
    annotations = objects[("Namespace", "/shop")]["metadata"]["annotations"]
    assert annotations["config.linkerd.io/access-log"] == "json"
    assert (
        "config.linkerd.io/access-log"
        not in objects[("Namespace", "/other")]["metadata"]["annotations"]
    )
    assert refused(
        tmp_path,
        body
        + """    - name: batch
      namespace: other
      selector: {app: batch}
      accessLogging: {enabled: true}
      tracing: {samplingPercent: 1}
      metrics: {enabled: false}
""",
    ) == [
        "spec.telemetry[1].accessLogging",
        "spec.telemetry[1].tracing",
        "spec.telemetry[1].metrics",
    ]
