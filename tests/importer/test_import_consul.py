"""Consul's config entries written by hand, and consul-k8s's own static-server sample: the
Mesh and ServiceDefaults give the mTLS mode and protocols, intentions the allow rules,
resolver, splitter and router the versions and routes; what the spec cannot say is
reported with its place, fields of a rendered entry are carried by overrides, and entries
that conflict are reported, never merged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.cli import main
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from meshc.importer import Imported
from meshc.importer.draft import strip_origins
from meshc.importer.emit import to_yaml

Importer = Callable[..., Imported]
STATIC = Path(__file__).parents[1] / "upstream" / "consul-static"

BASE = """
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {consul.hashicorp.com/transparent-proxy: "true", team: cart}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: Mesh
metadata: {name: mesh, namespace: shop}
spec: {allowEnablingPermissiveMutualTLS: true}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: front, namespace: shop}
spec:
  selector: {app: front}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-v2, namespace: shop}
spec:
  selector: {matchLabels: {app: web, app.kubernetes.io/version: v2}}
  template:
    metadata: {labels: {app: web, app.kubernetes.io/version: v2}}
    spec: {containers: [{name: web, image: web:2}]}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceDefaults
metadata: {name: web, namespace: shop}
spec:
  protocol: http
  mutualTLSMode: permissive
  transparentProxy: {dialedDirectly: true}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceDefaults
metadata: {name: front, namespace: shop}
spec:
  protocol: http
  mutualTLSMode: strict
  upstreamConfig:
    overrides:
    - name: web
      limits: {maxConnections: 100, maxConcurrentRequests: 50}
      passiveHealthCheck: {maxFailures: 5, interval: 10s}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceIntentions
metadata: {name: front-to-web, namespace: shop}
spec:
  destination: {name: web}
  sources:
  - {name: front, action: allow}
  - {name: "*", action: deny}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceResolver
metadata: {name: web, namespace: shop}
spec:
  subsets:
    v1: {filter: 'Service.Meta["app_kubernetes_io_version"] == "v1"'}
    v2: {filter: 'Service.Meta["app_kubernetes_io_version"] == "v2"'}
"""

ROUTES = """
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceSplitter
metadata: {name: web, namespace: shop}
spec:
  splits:
  - {weight: 90, serviceSubset: v1}
  - {weight: 10, serviceSubset: v2}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceSplitter
metadata: {name: web--beta, namespace: shop}
spec:
  splits:
  - {weight: 50, service: web, serviceSubset: v1}
  - {weight: 50, service: web, serviceSubset: v2}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceRouter
metadata: {name: web, namespace: shop}
spec:
  routes:
  - match: {http: {header: [{name: x-beta, exact: "1"}]}}
    destination: {service: web--beta, requestTimeout: 5s, numRetries: 2, retryOn: [5xx]}
  - match: {http: {pathPrefix: /api/}}
    destination:
      serviceSubset: v2
      requestTimeout: 1s
      numRetries: 2
      retryOn: [5xx]
      prefixRewrite: /
      requestHeaders: {set: {x-route: api}}
      responseHeaders: {remove: [server]}
  - match: {http: {pathRegex: 'static\\.css'}}
    destination: {serviceSubset: v1, requestTimeout: 5s, numRetries: 2, retryOn: [5xx]}
  - match: {http: {pathPrefix: /}}
    destination: {requestTimeout: 5s, numRetries: 2, retryOn: [5xx]}
"""


def _spec(result: Imported) -> dict[str, Any]:
    spec: dict[str, Any] = strip_origins(result.spec)["spec"]
    return spec


def _service(result: Imported, name: str) -> dict[str, Any]:
    return next(s for s in _spec(result)["services"] if s["name"] == name)


def _findings(result: Imported) -> list[tuple[str, str]]:
    return sorted((f.ref, f.field) for f in result.left)


def test_the_mesh_service_defaults_and_intentions_give_mode_protocols_limits_and_callers(
    imported: Importer,
) -> None:
    result = imported(BASE)
    spec = _spec(result)
    assert (spec["provider"], spec["mtls"]) == ("consul", "PERMISSIVE")
    # The transparent-proxy label is the Consul marker the target writes, not a label.
    assert spec["namespaces"] == [{"name": "shop", "labels": {"team": "cart"}}]
    web = _service(result, "web")
    # The catalog key is the workload's pod label it was copied from.
    assert web["versions"] == [
        {"name": "v1", "labels": {"app.kubernetes.io/version": "v1"}},
        {"name": "v2", "labels": {"app.kubernetes.io/version": "v2"}},
    ]
    assert web["allow"] == [{"fromServiceAccounts": ["shop/front"]}]
    assert web["connectionPool"] == {"maxConnections": 100, "http2MaxRequests": 50}
    assert web["outlierDetection"] == {"consecutive5xxErrors": 5, "interval": "10s"}
    # front keeps its strict mode, web its transparent-proxy setting, by overrides of the
    # ServiceDefaults meshc renders for them.
    merges = {(o["target"]["kind"], o["target"]["name"]): o["merge"] for o in spec["overrides"]}
    assert merges == {
        ("ServiceDefaults", "web"): {"spec": {"transparentProxy": {"dialedDirectly": True}}},
        ("ServiceDefaults", "front"): {"spec": {"mutualTLSMode": "strict"}},
    }
    assert result.left == []
    assert [f.carried for f in result.carried] == ["spec.overrides[0]", "spec.overrides[1]"]


def test_splitters_and_the_router_become_the_routes_with_their_own_settings(
    imported: Importer,
) -> None:
    result = imported(BASE + ROUTES)
    web = _service(result, "web")
    assert (web["timeout"], web["retries"]) == ("5s", {"attempts": 2, "retryOn": ["5xx"]})
    assert web["routes"] == [
        # The route's splitter web--beta names it.
        {
            "match": {"headers": {"x-beta": {"exact": "1"}}},
            "split": {"v1": 50, "v2": 50},
            "name": "beta",
        },
        {
            "match": {"path": {"prefix": "/api/"}},
            "to": "v2",
            "timeout": "1s",
            "rewrite": {"path": "/"},
            "headers": {"request": {"set": {"x-route": "api"}}, "response": {"remove": ["server"]}},
        },
        # An escaped regex not starting with / is the exact path the target writes so.
        {"match": {"path": {"exact": "static.css"}}, "to": "v1"},
        {"split": {"v1": 90, "v2": 10}},
    ]
    assert result.left == []


def test_what_the_spec_cannot_say_is_reported_with_its_place(imported: Importer) -> None:
    result = imported(
        BASE
        + """
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceRouter
metadata: {name: web, namespace: shop}
spec:
  routes:
  - match: {http: {pathPrefix: /admin, methods: [POST]}}
    destination: {serviceSubset: v2}
  - match: {http: {pathPrefix: /other}}
    destination: {service: billing}
  - match: {http: {pathPrefix: /v1}}
    destination: {serviceSubset: v1, idleTimeout: 30s}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ProxyDefaults
metadata: {name: global, namespace: shop}
spec:
  config: {protocol: http, envoy_prometheus_bind_addr: "0.0.0.0:9102"}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceIntentions
metadata: {name: front, namespace: shop}
spec:
  destination: {name: front}
  sources:
  - name: web
    permissions:
    - {action: allow, http: {pathPrefix: /public}}
  - {name: "*", action: deny}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: IngressGateway
metadata: {name: ingress-gateway, namespace: shop}
spec: {}
"""
    )
    assert _findings(result) == [
        ("IngressGateway shop/ingress-gateway", "(object)"),
        ("ProxyDefaults shop/global", "spec.config.envoy_prometheus_bind_addr"),
        ("ServiceIntentions shop/front", "spec.sources"),
        ("ServiceIntentions shop/front", "spec.sources[0].permissions"),
        ("ServiceRouter shop/web", "spec.routes[0].match.http.methods"),
        ("ServiceRouter shop/web", "spec.routes[1].destination"),
        ("ServiceRouter shop/web", "spec.routes[2].destination.idleTimeout"),
    ]
    assert "routes" not in _service(result, "web")
    lines = [f.format() for f in result.left]
    assert all(line.startswith("in.yaml:") for line in lines)
    assert any(
        "ServiceRouter shop/web: spec.routes[0].match.http.methods: not expressible in a "
        "Mesh spec: the spec matches on path and headers only" in line
        for line in lines
    )


def test_entries_that_conflict_are_reported_and_the_first_is_kept(imported: Importer) -> None:
    result = imported(
        BASE
        + ROUTES
        + """
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceIntentions
metadata: {name: everyone-to-web, namespace: shop}
spec:
  destination: {name: web}
  sources: [{name: "*", action: allow}]
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {consul.hashicorp.com/transparent-proxy: "true"}}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceRouter
metadata: {name: web, namespace: other}
spec:
  routes:
  - match: {http: {pathPrefix: /}}
    destination: {serviceSubset: v1}
"""
    )
    assert _findings(result) == [
        ("ServiceIntentions shop/everyone-to-web", "spec.destination.name"),
        ("ServiceRouter other/web", "metadata.name"),
    ]
    web = _service(result, "web")
    assert web["allow"] == [{"fromServiceAccounts": ["shop/front"]}]
    assert len(web["routes"]) == 4
    second = next(f for f in result.left if f.ref == "ServiceRouter other/web")
    assert "a second ServiceRouter for the Consul service 'web' (the first: in.yaml:" in second.why


def test_a_permissive_service_the_mesh_does_not_allow_is_reported(imported: Importer) -> None:
    result = imported(BASE.replace("spec: {allowEnablingPermissiveMutualTLS: true}", "spec: {}"))
    assert _spec(result)["mtls"] == "STRICT"
    assert _findings(result) == [("ServiceDefaults shop/web", "spec.mutualTLSMode")]


def test_consul_k8s_static_server_sample_imports_its_intention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mesh.yaml"
    assert main(["import", str(STATIC), "-n", "static", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    spec = yaml.safe_load(out.read_text())["spec"]
    assert (spec["provider"], spec["mtls"]) == ("consul", "STRICT")
    server = next(s for s in spec["services"] if s["name"] == "static-server")
    assert server["allow"] == [{"fromServiceAccounts": ["static/static-client"]}]
    # No ServiceDefaults names a protocol: Consul proxies both services as tcp.
    assert {s["ports"][0].get("protocol") for s in spec["services"]} == {"tcp"}
    assert "no ServiceDefaults names its protocol, so Consul proxies it as tcp" in err
    # The intention has no '*' deny: the cluster's default policy decides for the others,
    # where the spec denies them. Loud, and the only thing left.
    intention = STATIC / "intention" / "intention.yaml"
    assert (
        f"{intention}:11: ServiceIntentions static/client-to-server: spec.sources: not "
        "expressible in a Mesh spec: no source '*' denies the callers it does not name"
    ) in err
    assert err.rstrip().endswith("1 left out")
    objects, _ = render(load_mesh(str(out)), RenderOptions.of(allow_lossy=True), "consul")
    intentions = [o for o in objects if o["kind"] == "ServiceIntentions"]
    assert [o["spec"] for o in intentions] == [
        {
            "destination": {"name": "static-server"},
            "sources": [
                {"name": "static-client", "action": "allow"},
                {"name": "*", "action": "deny"},
            ],
        }
    ]


def test_a_render_read_back_keeps_the_mesh_name_and_its_first_namespace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = Path(__file__).parents[2] / "examples" / "multi-namespace" / "mesh.yaml"
    rendered = tmp_path / "render"
    assert (
        main(
            [
                "render",
                "-s",
                str(example),
                "--provider",
                "consul",
                "--allow-lossy",
                "-o",
                str(rendered),
            ]
        )
        == 0
    )
    capsys.readouterr()
    spec_path = tmp_path / "mesh.yaml"
    main(["import", str(rendered), "-o", str(spec_path)])
    imported_spec = yaml.safe_load(spec_path.read_text())
    original = yaml.safe_load(example.read_text())
    assert imported_spec["metadata"]["name"] == original["metadata"]["name"]
    # Consul's Mesh entry is rendered in the spec's first namespace.
    assert (
        imported_spec["spec"]["namespaces"][0]["name"] == original["spec"]["namespaces"][0]["name"]
    )


def test_the_import_writes_a_spec_that_loads(imported: Importer, tmp_path: Path) -> None:
    result = imported(BASE + ROUTES)
    path = tmp_path / "mesh.yaml"
    path.write_text(to_yaml(result.spec, ["imported"]), encoding="utf-8")
    mesh = load_mesh(str(path))
    assert [s.name for s in mesh.services] == ["front", "web"]


GRPC_SERVICE = """
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  selector: {app: cart}
  ports: [{name: grpc, port: 9090, targetPort: 9090}]
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceDefaults
metadata: {name: cart, namespace: shop}
spec: {protocol: grpc}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceResolver
metadata: {name: cart, namespace: shop}
spec:
  subsets:
    v1: {filter: 'Service.Meta["version"] == "v1"'}
    v2: {filter: 'Service.Meta["version"] == "v2"'}
"""


def test_consecutive_routes_to_one_destination_are_one_route_with_several_matches(
    imported: Importer,
) -> None:
    # The target writes a route of several matches as one router route per match, each
    # with the route's destination; two routes a team wrote to one version with the same
    # settings take the same requests either way, and come back as one.
    result = imported(
        BASE
        + """
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceRouter
metadata: {name: web, namespace: shop}
spec:
  routes:
  - match: {http: {pathPrefix: /a/}}
    destination: {serviceSubset: v2, requestTimeout: 2s}
  - match: {http: {header: [{name: x-beta, exact: "1"}]}}
    destination: {serviceSubset: v2, requestTimeout: 2s}
  - match: {http: {pathPrefix: /b/}}
    destination: {serviceSubset: v2, requestTimeout: 3s}
"""
    )
    assert _service(result, "web")["routes"] == [
        {
            "matches": [{"path": {"prefix": "/a/"}}, {"headers": {"x-beta": {"exact": "1"}}}],
            "to": "v2",
            "timeout": "2s",
        },
        {"match": {"path": {"prefix": "/b/"}}, "to": "v2", "timeout": "3s"},
    ]
    assert result.left == []


def test_grpc_paths_on_a_grpc_service_are_its_methods(imported: Importer) -> None:
    result = imported(
        BASE
        + GRPC_SERVICE
        + """
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceRouter
metadata: {name: cart, namespace: shop}
spec:
  routes:
  - match: {http: {pathExact: /shop.v1.Cart/Get}}
    destination: {serviceSubset: v2, numRetries: 2, retryOn: [unavailable]}
  - match: {http: {pathPrefix: /shop.v1.Cart/}}
    destination: {serviceSubset: v1, retryOn: [cancelled]}
  - match: {http: {pathPrefix: /metrics/}}
    destination: {serviceSubset: v1}
"""
    )
    assert _service(result, "cart")["routes"] == [
        {
            "match": {"grpc": {"service": "shop.v1.Cart", "method": "Get"}},
            "to": "v2",
            "retries": {"attempts": 2, "retryOn": ["unavailable"]},
        },
        # retryOn without numRetries: Envoy's num_retries defaults to 1.
        {
            "match": {"grpc": {"service": "shop.v1.Cart"}},
            "to": "v1",
            "retries": {"attempts": 1, "retryOn": ["cancelled"]},
        },
        {"match": {"path": {"prefix": "/metrics/"}}, "to": "v1"},
    ]
    assert result.left == []


def test_the_catch_all_gives_the_default_route_its_header_changes_and_timeout(
    imported: Importer,
) -> None:
    # A matched route without a timeout takes the service's: so the catch-all's timeout is
    # the default route's own. Envoy's %% is the literal % the target escaped.
    result = imported(
        BASE
        + """
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceSplitter
metadata: {name: web, namespace: shop}
spec:
  splits: [{weight: 100, serviceSubset: v1}]
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceRouter
metadata: {name: web, namespace: shop}
spec:
  routes:
  - match: {http: {pathPrefix: /a/}}
    destination: {serviceSubset: v2, numRetries: 2, retryOn: [5xx]}
  - match: {http: {pathPrefix: /}}
    destination:
      requestTimeout: 4s
      requestHeaders: {add: {x-share: 50%%}}
      responseHeaders: {set: {x-from: '%UPSTREAM_HOST%'}, remove: [server]}
"""
    )
    web = _service(result, "web")
    assert "timeout" not in web and "retries" not in web
    assert web["routes"] == [
        {
            "match": {"path": {"prefix": "/a/"}},
            "to": "v2",
            "retries": {"attempts": 2, "retryOn": ["5xx"]},
        },
        {
            "to": "v1",
            "timeout": "4s",
            "headers": {"request": {"add": {"x-share": "50%"}}, "response": {"remove": ["server"]}},
        },
    ]
    # A value with a command of Envoy's formatter is no literal the spec could set.
    assert _findings(result) == [
        ("ServiceRouter shop/web", "spec.routes[1].destination.responseHeaders.set.x-from")
    ]


EGRESS = """
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceDefaults
metadata: {name: stripe, namespace: shop}
spec:
  protocol: tcp
  destination: {addresses: [api.stripe.com], port: 443}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceDefaults
metadata: {name: httpbin, namespace: shop}
spec:
  protocol: http
  destination: {addresses: [httpbin.org, 10.0.0.1], port: 80}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceIntentions
metadata: {name: stripe, namespace: shop}
spec:
  destination: {name: stripe}
  sources: [{name: front, action: allow}, {name: web, action: allow}, {name: "*", action: deny}]
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceIntentions
metadata: {name: httpbin, namespace: shop}
spec:
  destination: {name: httpbin}
  sources: [{name: front, action: allow}, {name: "*", action: deny}]
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: TerminatingGateway
metadata: {name: terminating-gateway, namespace: shop}
spec:
  services: [{name: stripe}]
"""


def test_destinations_behind_the_terminating_gateway_are_the_egress_hosts(
    imported: Importer,
) -> None:
    result = imported(
        BASE.replace(
            "spec: {allowEnablingPermissiveMutualTLS: true}",
            "spec: {allowEnablingPermissiveMutualTLS: true, "
            "transparentProxy: {meshDestinationsOnly: true}}",
        )
        + EGRESS
    )
    assert _spec(result)["egress"] == {
        "hosts": [
            {"host": "api.stripe.com", "ports": [{"port": 443, "protocol": "tls"}]},
            {"host": "httpbin.org", "ports": [{"port": 80, "protocol": "http"}]},
        ]
    }
    # The spec's hosts are DNS names, reached by every declared service through the gateway.
    assert _findings(result) == [
        ("ServiceDefaults shop/httpbin", "(object)"),
        ("ServiceDefaults shop/httpbin", "spec.destination.addresses[1]"),
        ("ServiceIntentions shop/httpbin", "spec.sources"),
    ]
    why = {f.field: f.why for f in result.left}
    assert "no terminating gateway lists this destination" in why["(object)"]
    assert "admit every service it declares (front, web)" in why["spec.sources"]


def test_destinations_without_mesh_destinations_only_are_reported(imported: Importer) -> None:
    # Other hosts stay reachable, and the spec's egress refuses them.
    result = imported(BASE + EGRESS)
    assert ("Mesh shop/mesh", "spec.transparentProxy.meshDestinationsOnly") in _findings(result)
    assert "egress" in _spec(result)


# --- ingress: consul-k8s's API gateway ----------------------------------------------------

_RULES = """\
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: ExtensionRef
      extensionRef: {group: consul.hashicorp.com, kind: RouteTimeoutFilter, name: edge-0}
    - type: ExtensionRef
      extensionRef: {group: consul.hashicorp.com, kind: RouteRetryFilter, name: edge-0}
    backendRefs: [{group: "", kind: Service, name: web, port: 80}]
"""
# What the Consul target renders for an ingress whose listeners have different hosts: a
# route per listener with the same rules, the second listener's several hosts its route's.
GATEWAY = (
    """
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  gatewayClassName: consul
  listeners:
  - {name: http, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
  - name: https
    port: 8443
    protocol: HTTPS
    tls: {mode: Terminate, certificateRefs: [{group: "", kind: Secret, name: edge-tls}]}
    allowedRoutes: {namespaces: {from: Same}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: edge-http, namespace: shop}
spec:
  parentRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge, sectionName: http}]
"""
    + _RULES
    + """---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: edge-https, namespace: shop}
spec:
  parentRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge, sectionName: https}]
  hostnames: [shop.example.com, www.shop.example.com]
"""
    + _RULES
    + """---
apiVersion: consul.hashicorp.com/v1alpha1
kind: RouteTimeoutFilter
metadata: {name: edge-0, namespace: shop}
spec: {requestTimeout: 9s}
---
apiVersion: consul.hashicorp.com/v1alpha1
kind: RouteRetryFilter
metadata: {name: edge-0, namespace: shop}
spec: {numRetries: 2, retryOn: [5xx]}
"""
)


def _with_gateway_source(text: str, name: str = "edge") -> str:
    """``text`` with the gateway's Consul service among web's callers, as the target
    admits it."""
    return text.replace(
        "  - {name: front, action: allow}\n",
        "  - {name: front, action: allow}\n" + f"  - {{name: {name}, action: allow}}\n",
    )


def test_consul_k8s_gateway_routes_per_listener_are_one_ingress_entry(imported: Importer) -> None:
    result = imported(_with_gateway_source(BASE + ROUTES + GATEWAY))
    (entry,) = _spec(result)["ingress"]
    # consul-k8s runs the gateway as the service account named like it, in its namespace.
    assert entry["gateway"] == {"namespace": "shop", "serviceAccount": "edge"}
    # A listener without a hostname has its route's hostnames.
    assert [(listener["name"], listener["hosts"]) for listener in entry["listeners"]] == [
        ("http", ["*"]),
        ("https", ["shop.example.com", "www.shop.example.com"]),
    ]
    # A PathPrefix is Envoy's string prefix on Consul; the retries are web's own (its router's
    # catch-all), and the timeout the route's, as it differs from web's 5s.
    assert entry["routes"] == [
        {
            "match": {"path": {"prefix": "/api"}},
            "backend": {"service": "web", "port": 80},
            "timeout": "9s",
        }
    ]
    # The gateway's source is its identity, not a caller.
    assert _service(result, "web")["allow"] == [{"fromServiceAccounts": ["shop/front"]}]
    assert not [n for n in result.notes if "edge" in n]
    assert not [f for f in result.left if "edge" in f.ref or f.ref.startswith("Route")]


def test_a_timeout_filter_of_the_backends_timeout_is_not_the_routes_own(
    imported: Importer,
) -> None:
    text = _with_gateway_source(BASE + ROUTES + GATEWAY).replace(
        "requestTimeout: 9s", "requestTimeout: 5s"
    )
    (entry,) = _spec(imported(text))["ingress"]
    assert "timeout" not in entry["routes"][0]


def test_a_retry_filter_other_than_the_backends_retries_is_reported(imported: Importer) -> None:
    text = _with_gateway_source(BASE + ROUTES + GATEWAY).replace(
        "spec: {numRetries: 2", "spec: {numRetries: 4"
    )
    result = imported(text)
    assert ("RouteRetryFilter shop/edge-0", "spec") in _findings(result)
    why = next(f.why for f in result.left if f.ref == "RouteRetryFilter shop/edge-0")
    assert "retry as their backend web does" in why


def test_intentions_that_do_not_admit_the_gateway_of_a_backend_are_reported(
    imported: Importer,
) -> None:
    result = imported(BASE + ROUTES + GATEWAY)
    assert ("ServiceIntentions shop/front-to-web", "spec.sources") in _findings(result)


def test_a_gateway_source_the_spec_cannot_admit_is_reported(imported: Importer) -> None:
    # A Gateway HTTPRoutes name but the input does not define, and a defined Gateway whose
    # routes do not reach web.
    undefined = GATEWAY.replace("name: edge, sectionName", "name: outer, sectionName")
    result = imported(_with_gateway_source(BASE + ROUTES + undefined, "outer"))
    assert ("ServiceIntentions shop/front-to-web", "spec.sources[1]") in _findings(result)
    assert "which HTTPRoutes of the input name" in next(
        f.why for f in result.left if f.field == "spec.sources[1]"
    )
    elsewhere = GATEWAY.replace("name: web, port: 80", "name: front, port: 80")
    result = imported(_with_gateway_source(BASE + ROUTES + elsewhere))
    assert "no imported route of which goes to web" in next(
        f.why for f in result.left if f.field == "spec.sources[1]"
    )
    assert _service(result, "web")["allow"] == [{"fromServiceAccounts": ["shop/front"]}]


def test_per_listener_routes_with_different_rules_are_not_merged(imported: Importer) -> None:
    text = BASE + ROUTES + GATEWAY.replace("/api}}]", "/other}}]", 1)
    result = imported(_with_gateway_source(text))
    assert ("HTTPRoute shop/edge-https", "(object)") in _findings(result)


def test_a_grpc_service_match_beside_a_rewrite_comes_back_as_the_service(
    tmp_path: Path, imported: Importer
) -> None:
    # The target writes the route's rewrite after its gRPC method, not after every method
    # of the service Ping (the prefix /Ping/), both to the route's own splitter: the prefix
    # without the rewrite reads back as that service.
    route = {
        "matches": [
            {"grpc": {"service": "shop.v1.Cart", "method": "Get"}},
            {"grpc": {"service": "Ping"}},
        ],
        "split": {"v1": 30, "v2": 70},
        "rewrite": {"path": "/"},
    }
    spec = {
        "apiVersion": "meshc.io/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "gen"},
        "spec": {
            "provider": "consul",
            "mtls": "STRICT",
            "namespaces": [{"name": "shop"}],
            "services": [
                {
                    "name": "web",
                    "namespace": "shop",
                    "selector": {"app": "web"},
                    "ports": [{"name": "grpc", "port": 80, "targetPort": 8080, "protocol": "grpc"}],
                    "versions": [
                        {"name": "v1", "labels": {"version": "v1"}},
                        {"name": "v2", "labels": {"version": "v2"}},
                    ],
                    "routes": [route, {"to": "v1"}],
                }
            ],
        },
    }
    path = tmp_path / "mesh.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    objects, _ = render(load_mesh(str(path)), RenderOptions.of(allow_lossy=True), "consul")
    result = imported(yaml.safe_dump_all(objects), provider="consul")
    assert _findings(result) == []
    assert _service(result, "web")["routes"][0] == route
