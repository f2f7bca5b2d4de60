"""The Istio target's traffic management beyond splits, ingress, egress, rate limits and
telemetry: what each spec field becomes, and what Istio cannot do said out loud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

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
  provider: istio
  namespaces: [{name: shop}, {name: other}]
"""
WEB = """
    - name: web
      namespace: shop
      selector: {app: web}
      ports:
        - {name: http, port: 80, targetPort: 8080}
        - {name: rpc, port: 90, targetPort: 9090, protocol: grpc}
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
"""


def istio(tmp_path: Path, body: str, **options: Any) -> tuple[dict[tuple[str, str], Obj], Report]:
    spec = write_spec(tmp_path, HEAD + body)
    objects, report = render(load_mesh(str(spec)), RenderOptions.of(**options))
    return {
        (o["kind"], f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"): o
        for o in objects
    }, report


def http_routes(objects: dict[tuple[str, str], Obj], name: str = "shop/web") -> list[Obj]:
    routes: list[Obj] = objects[("VirtualService", name)]["spec"]["http"]
    return routes


def test_a_routes_own_timeout_and_retries_replace_the_services(tmp_path: Path) -> None:
    objects, _ = istio(
        tmp_path,
        "  services:"
        + WEB
        + """
      routes:
        - match: {path: {prefix: /slow}}
          timeout: 30s
          retries: {attempts: 0}
          to: v2
        - to: v1
      timeout: 5s
      retries: {attempts: 3, retryOn: [5xx, unavailable]}
""",
    )
    slow, default = http_routes(objects)
    assert (slow["timeout"], slow["retries"]) == ("30s", {"attempts": 0})
    assert (default["timeout"], default["retries"]) == (
        "5s",
        {"attempts": 3, "retryOn": "5xx,unavailable"},
    )


def test_any_of_matches_and_grpc_methods_are_uri_matches(tmp_path: Path) -> None:
    objects, _ = istio(
        tmp_path,
        "  services:"
        + WEB
        + """
      routes:
        - matches:
            - grpc: {service: shop.v1.Cart, method: Add}
            - grpc: {service: shop.v1.Admin}
            - headers: {x-debug: {exact: "1"}}
          to: v2
        - to: v1
""",
    )
    assert http_routes(objects)[0]["match"] == [
        {"uri": {"exact": "/shop.v1.Cart/Add"}},
        {"uri": {"prefix": "/shop.v1.Admin/"}},
        {"headers": {"x-debug": {"exact": "1"}}},
    ]


def test_faults_always_say_their_percentage(tmp_path: Path) -> None:
    objects, _ = istio(
        tmp_path,
        "  services:"
        + WEB
        + """
      routes:
        - match: {headers: {end-user: {exact: jason}}}
          fault:
            delay: {fixed: 7s}
            abort: {grpcStatus: UNAVAILABLE, percent: 12.5}
          to: v1
        - to: v1
          fault:
            abort: {httpStatus: 503, percent: 0.25, service: {name: errors, port: 80}}
""",
    )
    jason, default = http_routes(objects)
    assert jason["fault"] == {
        "delay": {"fixedDelay": "7s", "percentage": {"value": 100.0}},
        "abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 12.5}},
    }
    # Istio aborts in the proxy: the Service for meshes that cannot is not used.
    assert default["fault"] == {"abort": {"httpStatus": 503, "percentage": {"value": 0.25}}}


def test_mirrors_name_a_subset_or_another_services_host_and_port(tmp_path: Path) -> None:
    objects, _ = istio(
        tmp_path,
        "  services:"
        + WEB
        + """
      routes:
        - match: {path: {prefix: /a}}
          mirror: {to: v2, percent: 5}
          to: v1
        - to: v1
          mirror: {service: shadow, namespace: other}
    - name: shadow
      namespace: other
      selector: {app: shadow}
      ports: [{name: http, port: 8000, targetPort: 8000}]
""",
    )
    a, default = http_routes(objects)
    assert (a["mirror"], a["mirrorPercentage"]) == ({"host": "web", "subset": "v2"}, {"value": 5.0})
    assert (default["mirror"], default["mirrorPercentage"]) == (
        {"host": "shadow.other.svc.cluster.local", "port": {"number": 8000}},
        {"value": 100.0},
    )


def test_headers_rewrites_and_redirects(tmp_path: Path) -> None:
    objects, _ = istio(
        tmp_path,
        "  services:"
        + WEB
        + """
      routes:
        - match: {path: {prefix: /old}}
          redirect: {path: /new, host: shop.example, scheme: https, port: 8443, statusCode: 308}
          headers: {response: {set: {x-moved: "yes"}}}
        - match: {path: {prefix: /legacy/}}
          rewrite: {path: /, host: web.internal}
          to: v1
        - to: v1
          headers:
            request: {set: {x-a: "1"}, add: {x-b: "2"}, remove: [x-c]}
      timeout: 3s
""",
    )
    old, legacy, default = http_routes(objects)
    # A redirect answers the request: no destination, timeout or retries.
    assert old == {
        "match": [{"uri": {"prefix": "/old"}}],
        "redirect": {
            "uri": "/new",
            "authority": "shop.example",
            "scheme": "https",
            "port": 8443,
            "redirectCode": 308,
        },
        "headers": {"response": {"set": {"x-moved": "yes"}}},
    }
    assert legacy["rewrite"] == {"uri": "/", "authority": "web.internal"}
    assert default["headers"] == {
        "request": {"set": {"x-a": "1"}, "add": {"x-b": "2"}, "remove": ["x-c"]}
    }


def test_tcp_ports_are_split_by_the_default_route(tmp_path: Path) -> None:
    objects, _ = istio(
        tmp_path,
        """  services:
    - name: db
      namespace: shop
      selector: {app: db}
      ports:
        - {name: sql, port: 5432, targetPort: 5432, protocol: tcp}
        - {name: http, port: 8080, targetPort: 8080}
      versions: [{name: a, labels: {v: a}}, {name: b, labels: {v: b}}]
      routes:
        - match: {path: {prefix: /admin}}
          to: b
        - split: {a: 70, b: 30}
""",
    )
    spec = objects[("VirtualService", "shop/db")]["spec"]
    assert [h.get("match") for h in spec["http"]] == [[{"uri": {"prefix": "/admin"}}], None]
    assert spec["tcp"] == [
        {
            "match": [{"port": 5432}],
            "route": [
                {
                    "destination": {"host": "db", "subset": "a", "port": {"number": 5432}},
                    "weight": 70,
                },
                {
                    "destination": {"host": "db", "subset": "b", "port": {"number": 5432}},
                    "weight": 30,
                },
            ],
        }
    ]


RATE_LIMITED = (
    "  services:"
    + WEB
    + """
      retries: {attempts: 1}
      rateLimit: {requestsPerSecond: 50}
"""
)


def test_a_rate_limit_is_refused_unless_asked_for_as_an_envoyfilter(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="--istio-rate-limit envoyfilter"):
        istio(tmp_path, RATE_LIMITED)
    objects, report = istio(tmp_path, RATE_LIMITED, allow_lossy=True)
    assert not any(kind == "EnvoyFilter" for kind, _ in objects)
    assert [w.path for w in report.warnings] == ["spec.services[0].rateLimit.requestsPerSecond"]


def test_the_envoyfilter_inserts_the_local_rate_limit_on_each_inbound_http_port(
    tmp_path: Path,
) -> None:
    objects, report = istio(tmp_path, RATE_LIMITED, istio_rate_limit="envoyfilter")
    ef = objects[("EnvoyFilter", "shop/web-rate-limit")]
    assert ef["apiVersion"] == "networking.istio.io/v1alpha3"
    assert ef["spec"]["workloadSelector"] == {"labels": {"app": "web"}}
    patches = ef["spec"]["configPatches"]
    assert [p["match"]["listener"]["portNumber"] for p in patches] == [8080, 9090]
    assert all(p["match"]["context"] == "SIDECAR_INBOUND" for p in patches)
    bucket = patches[0]["patch"]["value"]["typed_config"]["token_bucket"]
    assert bucket == {"max_tokens": 50, "tokens_per_fill": 50, "fill_interval": "1s"}
    (warning,) = report.warnings
    assert "not on waypoints" in warning.message
    assert_valid(objects.values())


def test_a_per_caller_rate_limit_is_not_supported(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        istio(
            tmp_path,
            RATE_LIMITED.replace("requestsPerSecond: 50", "perCallerRequestsPerSecond: 5"),
            istio_rate_limit="envoyfilter",
        )
    assert [p.path for p in info.value.problems] == [
        "spec.services[0].rateLimit.perCallerRequestsPerSecond"
    ]


INGRESS = (
    "  services:"
    + WEB
    + """
      routes:
        - split: {v1: 90, v2: 10}
      retries: {attempts: 2}
      allow:
        - fromNamespaces: [shop]
          ports: [80]
    - name: api
      namespace: other
      selector: {app: api}
      ports: [{name: http, port: 8000, targetPort: 8001}]
      retries: {attempts: 0}
  ingress:
    - name: edge
      namespace: shop
      gateway: {namespace: gateways, serviceAccount: edge-gw, selector: {app: edge}}
      listeners:
        - {name: http, port: 8080, protocol: HTTP, hosts: ["*"]}
        - {name: https, port: 8443, protocol: HTTPS, hosts: [shop.example],
           tls: {secretName: shop-cert}}
      routes:
        - match: {path: {prefix: /api}}
          backend: {service: api, namespace: other}
          rewrite: {path: /}
        - match: {path: {exact: /}}
          redirect: {path: /shop}
        - backend: {service: web, port: 80}
          timeout: 4s
"""
)


def test_an_ingress_is_an_istio_gateway_and_its_virtual_service(tmp_path: Path) -> None:
    objects, report = istio(tmp_path, INGRESS)
    gateway = objects[("Gateway", "shop/edge")]["spec"]
    assert gateway["selector"] == {"app": "edge"}
    assert gateway["servers"] == [
        {"port": {"number": 8080, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]},
        {
            "port": {"number": 8443, "name": "https", "protocol": "HTTPS"},
            "hosts": ["shop.example"],
            "tls": {"mode": "SIMPLE", "credentialName": "shop-cert"},
        },
    ]
    vs = objects[("VirtualService", "shop/edge")]["spec"]
    assert (vs["hosts"], vs["gateways"]) == (["*"], ["edge"])
    api, root, web = vs["http"]
    assert api["route"] == [
        {"destination": {"host": "api.other.svc.cluster.local", "port": {"number": 8000}}}
    ]
    assert api["rewrite"] == {"uri": "/"}
    assert root == {
        "match": [{"uri": {"exact": "/"}}],
        "redirect": {"uri": "/shop", "redirectCode": 301},
    }
    # The gateway follows the service's default route: its split, and its retries.
    assert web["route"] == [
        {"destination": {"host": "web", "subset": "v1", "port": {"number": 80}}, "weight": 90},
        {"destination": {"host": "web", "subset": "v2", "port": {"number": 80}}, "weight": 10},
    ]
    assert (web["timeout"], web["retries"]) == ("4s", {"attempts": 2})
    assert report.problems == []
    assert_valid(objects.values())


def test_the_services_an_ingress_routes_to_admit_the_gateway_on_those_ports(tmp_path: Path) -> None:
    objects, _ = istio(tmp_path, INGRESS)
    rules = objects[("AuthorizationPolicy", "shop/web-allow")]["spec"]["rules"]
    assert rules[-1] == {
        "from": [{"source": {"principals": ["cluster.local/ns/gateways/sa/edge-gw"]}}],
        "to": [{"operation": {"ports": ["8080"]}}],
    }


def test_ingress_to_a_service_with_matched_routes_is_approximated(tmp_path: Path) -> None:
    body = INGRESS.replace(
        "        - split: {v1: 90, v2: 10}",
        "        - {match: {path: {prefix: /b}}, to: v2}\n        - split: {v1: 90, v2: 10}",
    )
    _, report = istio(tmp_path, body)
    (warning,) = report.warnings
    assert warning.path == "spec.ingress[0].routes[2].backend"
    assert "not its other routes" in warning.message


EGRESS_AND_TELEMETRY = (
    "  services: []\n"
    + """
  egress:
    hosts:
      - host: api.example.com
        ports: [{port: 443, protocol: tls}, {port: 80, protocol: http}]
  telemetry:
    - name: defaults
      namespace: shop
      tracing: {samplingPercent: 2.5}
      accessLogging: {enabled: true}
    - name: quiet
      namespace: shop
      selector: {app: batch}
      accessLogging: {enabled: false}
      metrics: {enabled: false}
"""
)


def test_egress_is_a_service_entry_per_meshed_namespace_and_says_what_it_needs(
    tmp_path: Path,
) -> None:
    objects, report = istio(tmp_path, EGRESS_AND_TELEMETRY)
    entries = [o for (kind, _), o in objects.items() if kind == "ServiceEntry"]
    assert sorted(o["metadata"]["namespace"] for o in entries) == ["other", "shop"]
    assert entries[0]["spec"] == {
        "hosts": ["api.example.com"],
        "exportTo": ["."],
        "location": "MESH_EXTERNAL",
        "ports": [
            {"number": 443, "name": "tls-443", "protocol": "TLS"},
            {"number": 80, "name": "http-80", "protocol": "HTTP"},
        ],
        "resolution": "DNS",
    }
    (warning,) = report.warnings
    assert "REGISTRY_ONLY" in warning.message


def test_telemetry_objects_per_namespace_or_workload(tmp_path: Path) -> None:
    objects, _ = istio(tmp_path, EGRESS_AND_TELEMETRY)
    defaults = objects[("Telemetry", "shop/defaults")]
    assert defaults["apiVersion"] == "telemetry.istio.io/v1"
    assert defaults["spec"] == {
        "tracing": [{"randomSamplingPercentage": 2.5}],
        "accessLogging": [{"providers": [{"name": "envoy"}]}],
    }
    assert objects[("Telemetry", "shop/quiet")]["spec"] == {
        "selector": {"matchLabels": {"app": "batch"}},
        "accessLogging": [{"disabled": True}],
        "metrics": [{"providers": [{"name": "prometheus"}], "overrides": [{"disabled": True}]}],
    }
    older, _ = istio(tmp_path, EGRESS_AND_TELEMETRY, istio_api="v1beta1")
    assert older[("Telemetry", "shop/defaults")]["apiVersion"] == "telemetry.istio.io/v1alpha1"
    assert_valid(objects.values())
    assert_valid(older.values())


def test_services_without_retries_get_one_warning_naming_them(tmp_path: Path) -> None:
    services = "  services:" + "".join(
        WEB.replace("name: web", f"name: web{i}").replace("app: web", f"app: web{i}")
        for i in range(5)
    )
    _, report = istio(tmp_path, services)
    (warning,) = report.warnings
    assert warning.path == "spec.services"
    assert warning.message.startswith(
        "approximated on istio (virtualservice): shop/web0, shop/web1, "
        "shop/web2 and 2 more give no retries"
    )
    explicit = services.replace("      versions:", "      retries: {attempts: 0}\n      versions:")
    _, report = istio(tmp_path, explicit)
    assert report.warnings == []


def test_no_object_shares_a_node_with_another(tmp_path: Path) -> None:
    # A shared dict would be written as a YAML anchor and alias.
    from meshc.compiler.serialize import dump_all

    objects, _ = istio(tmp_path, RATE_LIMITED, istio_rate_limit="envoyfilter")
    assert "&id" not in dump_all(objects.values())


def test_every_rendered_object_of_the_ingress_validates(tmp_path: Path) -> None:
    objects, _ = istio(tmp_path, INGRESS)
    assert yaml.safe_dump(list(objects.values()))
    assert_valid(objects.values())
