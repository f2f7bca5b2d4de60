"""The Kuma target (Kuma 2.14): every example and Kuma's own demo, lossless or loud."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.cli import main as meshc
from meshc.compiler.errors import Problem, SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.serialize import dump_all
from meshc.compiler.targets import RenderOptions, Report, render
from meshc.policies.mutation import NamespaceMutation
from meshc.webhook.mutate import namespace_patch
from support.golden import GOLDEN, assert_golden
from support.kuma_gateway import check_gateway_rules, is_gateway_object
from support.paths import REPO
from support.schemas import assert_valid
from support.specs import example_specs, quickstart, write_spec

DEMO = REPO / "tests" / "kuma-counter-demo"


def kuma(spec: Path | str, *, lossy: bool = False) -> tuple[list[dict[str, Any]], Report]:
    return render(load_mesh(str(spec)), RenderOptions.of(allow_lossy=lossy), "kuma")


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, got {len(matches)}"
    return matches[0]


def spec_with(tmp_path: Path, mesh: dict[str, Any] | None = None, **service: Any) -> Path:
    data = quickstart()
    data["spec"]["provider"] = "kuma"
    data["spec"].update(mesh or {})
    svc = data["spec"]["services"][0]
    for key in ("timeout", "retries", "connectionPool", "outlierDetection", "allow"):
        svc.pop(key, None)
    svc.update(service)
    return write_spec(tmp_path, data)


def problems(report: Report | SpecError) -> list[Problem]:
    """What a render reports beyond the warning every spec with a service without retries
    gets (Kuma's default MeshRetry retries it: test_a_service_without_retries_is_...)."""
    return [p for p in report.problems if p.path != "spec.services"]


def to_names(policy: dict[str, Any]) -> list[str]:
    return [t["targetRef"]["name"] for t in policy["spec"]["to"]]


# --- the Mesh and its namespaces -----------------------------------------------------------


def test_the_mesh_is_default_with_a_builtin_ca_in_the_specs_mode(tmp_path: Path) -> None:
    objects, _ = kuma(spec_with(tmp_path))
    mesh = find(objects, "Mesh", "default")
    assert "namespace" not in mesh["metadata"]
    assert mesh["spec"] == {
        "mtls": {
            "enabledBackend": "ca-1",
            "backends": [{"name": "ca-1", "type": "builtin", "mode": "STRICT"}],
        },
        "meshServices": {"mode": "Exclusive"},
    }
    permissive, _ = kuma(spec_with(tmp_path, {"mtls": "PERMISSIVE"}))
    assert (
        find(permissive, "Mesh", "default")["spec"]["mtls"]["backends"][0]["mode"] == "PERMISSIVE"
    )


def test_every_meshed_namespace_carries_the_injection_label(tmp_path: Path) -> None:
    objects, _ = kuma(spec_with(tmp_path))
    labels = find(objects, "Namespace", "mesh-demo")["metadata"]["labels"]
    assert labels["kuma.io/sidecar-injection"] == "enabled"
    assert "kuma.io/mesh" not in labels


def test_another_mesh_is_named_on_namespaces_and_policies(tmp_path: Path) -> None:
    objects, _ = kuma(spec_with(tmp_path, {"kuma": {"mesh": "payments"}}, timeout="3s"))
    assert find(objects, "Mesh", "payments")
    assert (
        find(objects, "Namespace", "mesh-demo")["metadata"]["labels"]["kuma.io/mesh"] == "payments"
    )
    for obj in objects:
        if obj["kind"].startswith("Mesh") and obj["kind"] != "Mesh":
            assert obj["metadata"]["labels"]["kuma.io/mesh"] == "payments", obj["kind"]


def test_the_mesh_name_must_be_a_dns_label(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"spec\.kuma\.mesh"):
        load_mesh(str(spec_with(tmp_path, {"kuma": {"mesh": "Not_A_Name"}})))


def test_the_mutating_webhook_adds_the_namespaces_labels(tmp_path: Path) -> None:
    mesh = load_mesh(str(spec_with(tmp_path, {"kuma": {"mesh": "payments"}})))
    (meshed,) = mesh.meshed_namespaces
    request = {
        "operation": "CREATE",
        "kind": {"group": "", "version": "v1", "kind": "Namespace"},
        "object": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": meshed}},
    }
    patch = namespace_patch(request, NamespaceMutation.of(mesh))  # type: ignore[arg-type]
    assert patch == [
        {
            "op": "add",
            "path": "/metadata/labels",
            "value": {"kuma.io/sidecar-injection": "enabled", "kuma.io/mesh": "payments"},
        }
    ]


def test_services_tell_kuma_their_protocol(tmp_path: Path) -> None:
    # A MeshService port without appProtocol is tcp, where HTTP policies do nothing.
    ports = [
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "grpc", "port": 9090, "targetPort": 9090, "protocol": "grpc"},
        {"name": "db", "port": 5432, "targetPort": 5432, "protocol": "tcp"},
    ]
    objects, _ = kuma(spec_with(tmp_path, ports=ports))
    service = find(objects, "Service", "web")
    assert [p["appProtocol"] for p in service["spec"]["ports"]] == ["http", "grpc", "tcp"]


# --- routing --------------------------------------------------------------------------------


def test_a_split_sends_each_versions_share_to_its_own_meshservice(tmp_path: Path) -> None:
    objects, report = kuma(spec_with(tmp_path))
    route = find(objects, "MeshHTTPRoute", "web")
    assert "targetRef" not in route["spec"]  # every client in the mesh
    (to,) = route["spec"]["to"]
    assert to["targetRef"] == {"kind": "MeshService", "name": "web"}
    (rule,) = to["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["default"]["backendRefs"] == [
        {"kind": "MeshService", "name": "web-v1", "port": 80, "weight": 90},
        {"kind": "MeshService", "name": "web-v2", "port": 80, "weight": 10},
    ]
    for version in ("v1", "v2"):
        assert find(objects, "Service", f"web-{version}")["spec"]["selector"] == {
            "app": "web",
            "version": version,
        }
    assert problems(report) == []


def test_matches_keep_the_specs_string_semantics(tmp_path: Path) -> None:
    routes = [
        {
            "match": {"path": {"prefix": "/api"}, "headers": {"x-user": {"prefix": "beta-"}}},
            "to": "v2",
        },
        {
            "match": {
                "path": {"regex": "/v[0-9]+/.*"},
                "headers": {"x-id": {"regex": "[a-f0-9]+"}},
            },
            "to": "v2",
        },
        {"match": {"path": {"exact": "/health"}}, "to": "v1"},
        {"split": {"v1": 90, "v2": 10}},
    ]
    objects, report = kuma(spec_with(tmp_path, routes=routes))
    rules = find(objects, "MeshHTTPRoute", "web")["spec"]["to"][0]["rules"]
    assert rules[0]["matches"] == [
        {
            # Kuma's PathPrefix is segment-wise; the spec's prefix is a string prefix.
            "path": {"type": "RegularExpression", "value": "/api.*"},
            "headers": [{"type": "Prefix", "name": "x-user", "value": "beta-"}],
        }
    ]
    assert rules[1]["matches"] == [
        {
            "path": {"type": "RegularExpression", "value": "/v[0-9]+/.*"},
            "headers": [{"type": "RegularExpression", "name": "x-id", "value": "[a-f0-9]+"}],
        }
    ]
    assert rules[2]["matches"] == [{"path": {"type": "Exact", "value": "/health"}}]
    # Kuma orders rules by specificity: said, as a warning.
    assert [p.path for p in problems(report)] == ["spec.services[0].routes"]


def test_a_service_with_several_ports_routes_each_by_its_section(tmp_path: Path) -> None:
    ports = [
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "admin", "port": 8081, "targetPort": 8081},
        {"name": "db", "port": 5432, "targetPort": 5432, "protocol": "tcp"},
    ]
    objects, _ = kuma(spec_with(tmp_path, ports=ports))
    to = find(objects, "MeshHTTPRoute", "web")["spec"]["to"]
    assert [t["targetRef"] for t in to] == [
        {"kind": "MeshService", "name": "web", "sectionName": "http"},
        {"kind": "MeshService", "name": "web", "sectionName": "admin"},
    ]
    assert {b["port"] for b in to[1]["rules"][0]["default"]["backendRefs"]} == {8081}


# --- timeouts, retries, circuit breaking -----------------------------------------------------


def test_resilience_policies_name_every_meshservice_that_carries_the_traffic(
    tmp_path: Path,
) -> None:
    objects, _ = kuma(
        spec_with(
            tmp_path,
            timeout="4s",
            retries={"attempts": 2, "perTryTimeout": "1s"},
            connectionPool={"maxConnections": 10},
            outlierDetection={"consecutive5xxErrors": 3},
        )
    )
    for kind in ("MeshTimeout", "MeshRetry", "MeshCircuitBreaker"):
        assert to_names(find(objects, kind, "web")) == ["web", "web-v1", "web-v2"], kind
    assert find(objects, "MeshTimeout", "web")["spec"]["to"][0]["default"] == {
        "http": {"requestTimeout": "4s"}
    }
    assert find(objects, "MeshRetry", "web")["spec"]["to"][0]["default"] == {
        "http": {"numRetries": 2, "perTryTimeout": "1s", "retryOn": ["5XX"]}
    }


def test_retry_conditions_are_envoys_of_the_same_name(tmp_path: Path) -> None:
    retry_on = [
        "5xx",
        "gateway-error",
        "reset",
        "connect-failure",
        "retriable-4xx",
        "refused-stream",
    ]
    objects, report = kuma(spec_with(tmp_path, retries={"attempts": 1, "retryOn": retry_on}))
    http = find(objects, "MeshRetry", "web")["spec"]["to"][0]["default"]["http"]
    assert http["retryOn"] == [
        "5XX",
        "GatewayError",
        "Reset",
        "ConnectFailure",
        "Retriable4xx",
        "RefusedStream",
    ]
    assert report.problems == []


def test_grpc_ports_retry_on_kumas_grpc_conditions_with_a_warning(tmp_path: Path) -> None:
    ports = [{"name": "grpc", "port": 9090, "targetPort": 9090, "protocol": "grpc"}]
    objects, report = kuma(
        spec_with(tmp_path, ports=ports, retries={"attempts": 3, "retryOn": ["5xx"]})
    )
    default = find(objects, "MeshRetry", "web")["spec"]["to"][0]["default"]
    assert default == {"grpc": {"numRetries": 3}}
    assert [p.path for p in report.warnings] == ["spec.services[0].retries.retryOn[0]"]


def test_outlier_detection_counts_consecutive_5xx_with_the_total_failures_detector(
    tmp_path: Path,
) -> None:
    objects, _ = kuma(
        spec_with(
            tmp_path,
            outlierDetection={
                "consecutive5xxErrors": 4,
                "interval": "10s",
                "baseEjectionTime": "1m",
                "maxEjectionPercent": 50,
            },
        )
    )
    conf = find(objects, "MeshCircuitBreaker", "web")["spec"]["to"][1]["default"]
    assert conf == {
        "outlierDetection": {
            "disabled": False,
            "interval": "10s",
            "baseEjectionTime": "1m",
            "maxEjectionPercent": 50,
            "detectors": {"totalFailures": {"consecutive": 4}},
        }
    }


def test_max_requests_per_connection_is_loud(tmp_path: Path) -> None:
    pool = {
        "maxConnections": 10,
        "http1MaxPendingRequests": 5,
        "http2MaxRequests": 20,
        "maxRequestsPerConnection": 1,
    }
    spec = spec_with(tmp_path, connectionPool=pool)
    with pytest.raises(SpecError, match="maxRequestsPerConnection: not supported on kuma"):
        kuma(spec)
    objects, report = kuma(spec, lossy=True)
    assert find(objects, "MeshCircuitBreaker", "web")["spec"]["to"][0]["default"] == {
        "connectionLimits": {"maxConnections": 10, "maxPendingRequests": 5, "maxRequests": 20}
    }
    assert [p.level for p in problems(report)] == ["warning"]


# Kuma's mesh-wide defaults as kuma-cp 2.14.3 creates them with every Mesh
# (pkg/defaults/mesh: meshretry.go, meshtimeout.go, meshcircuitbreaker.go), and
# its merge: the confs of every policy that selects a destination, least
# specific targetRef first (pkg/plugins/policies/core/rules/sort), applied as
# JSON merge patches, each field overriding the one before (rules/merge, Confs).
KUMA_DEFAULTS = {
    "MeshRetry": {
        "tcp": {"maxConnectAttempt": 5},
        "http": {
            "numRetries": 5,
            "perTryTimeout": "16s",
            "backOff": {"baseInterval": "25ms", "maxInterval": "250ms"},
        },
        "grpc": {
            "numRetries": 5,
            "perTryTimeout": "16s",
            "backOff": {"baseInterval": "25ms", "maxInterval": "250ms"},
        },
    },
    "MeshTimeout": {
        "connectionTimeout": "5s",
        "idleTimeout": "1h0m0s",
        "http": {"requestTimeout": "15s", "streamIdleTimeout": "30m0s"},
    },
    "MeshCircuitBreaker": {
        "connectionLimits": {
            "maxConnections": 1024,
            "maxPendingRequests": 1024,
            "maxRequests": 1024,
            "maxRetries": 3,
        },
    },
}


def merged(less_specific: dict[str, Any], more_specific: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(less_specific)
    for key, value in more_specific.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def test_meshcs_policies_are_more_specific_than_kumas_defaults_and_decide(tmp_path: Path) -> None:
    objects, _ = kuma(
        spec_with(
            tmp_path,
            timeout="4s",
            retries={"attempts": 1, "perTryTimeout": "2s"},
            connectionPool={"maxConnections": 10, "http2MaxRequests": 20},
        )
    )
    wanted = {
        "MeshTimeout": {"http": {"requestTimeout": "4s"}},
        "MeshRetry": {"http": {"numRetries": 1, "perTryTimeout": "2s", "retryOn": ["5XX"]}},
        "MeshCircuitBreaker": {"connectionLimits": {"maxConnections": 10, "maxRequests": 20}},
    }
    for kind, fields in wanted.items():
        for to in find(objects, kind, "web")["spec"]["to"]:
            # The defaults select kind Mesh; meshc's a MeshService, which Kuma applies after.
            assert to["targetRef"]["kind"] == "MeshService"
            effective = merged(KUMA_DEFAULTS[kind], to["default"])
            assert merged(effective, fields) == effective, (kind, effective)
    # What the spec leaves unset keeps Kuma's default (docs/kuma.md lists them).
    retry = merged(
        KUMA_DEFAULTS["MeshRetry"], find(objects, "MeshRetry", "web")["spec"]["to"][0]["default"]
    )
    assert retry["http"]["backOff"] == {"baseInterval": "25ms", "maxInterval": "250ms"}
    breaker = merged(
        KUMA_DEFAULTS["MeshCircuitBreaker"],
        find(objects, "MeshCircuitBreaker", "web")["spec"]["to"][0]["default"],
    )
    assert breaker["connectionLimits"]["maxPendingRequests"] == 1024


# --- traffic management: matches, filters, per-route policy, faults, rate limits, TCP ----------


GRPC_PORT = [{"name": "grpc", "port": 9090, "targetPort": 9090, "protocol": "grpc"}]


def test_a_route_takes_any_of_its_matches_and_grpc_methods_are_paths(tmp_path: Path) -> None:
    routes = [
        {
            "matches": [
                {"grpc": {"service": "shop.v1.Cart", "method": "Add"}},
                {"grpc": {"service": "shop.v1.Admin"}},
                {"headers": {"x-beta": {"exact": "1"}}},
            ],
            "to": "v2",
        },
        {"split": {"v1": 90, "v2": 10}},
    ]
    objects, _ = kuma(spec_with(tmp_path, ports=GRPC_PORT, routes=routes))
    rule = find(objects, "MeshHTTPRoute", "web")["spec"]["to"][0]["rules"][0]
    assert rule["matches"] == [
        {"path": {"type": "Exact", "value": "/shop.v1.Cart/Add"}},
        # Every method of the service: a string prefix, as a regex.
        {"path": {"type": "RegularExpression", "value": r"/shop\.v1\.Admin/.*"}},
        {"headers": [{"type": "Exact", "name": "x-beta", "value": "1"}]},
    ]


def test_header_changes_rewrites_redirects_and_mirrors_are_route_filters(tmp_path: Path) -> None:
    routes = [
        {
            "match": {"path": {"exact": "/old"}},
            "redirect": {
                "path": "/new",
                "host": "shop.example",
                "scheme": "https",
                "port": 443,
                "statusCode": 308,
            },
        },
        {
            "match": {"path": {"exact": "/api"}},
            "rewrite": {"path": "/v2/api", "host": "api.internal"},
            "to": "v2",
        },
        {
            "to": "v1",
            "mirror": {"to": "v2", "percent": 12.5},
            "headers": {
                "request": {
                    "set": {"X-Route": "main"},
                    "add": {"x-via": "kuma"},
                    "remove": ["x-debug"],
                },
                "response": {"remove": ["server"]},
            },
        },
    ]
    objects, report = kuma(spec_with(tmp_path, routes=routes))
    redirect, rewrite, main = find(objects, "MeshHTTPRoute", "web")["spec"]["to"][0]["rules"]
    # Every redirect status is Kuma's (xds/filters/requestredirect.go); no backends.
    assert redirect["default"] == {
        "filters": [
            {
                "type": "RequestRedirect",
                "requestRedirect": {
                    "scheme": "https",
                    "hostname": "shop.example",
                    "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"},
                    "port": 443,
                    "statusCode": 308,
                },
            }
        ]
    }
    assert rewrite["default"]["filters"] == [
        {
            "type": "URLRewrite",
            "urlRewrite": {
                "hostname": "api.internal",
                "path": {"type": "ReplaceFullPath", "replaceFullPath": "/v2/api"},
            },
        }
    ]
    assert main["default"]["filters"] == [
        {
            "type": "RequestHeaderModifier",
            "requestHeaderModifier": {
                "set": [{"name": "x-route", "value": "main"}],
                "add": [{"name": "x-via", "value": "kuma"}],
                "remove": ["x-debug"],
            },
        },
        {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"remove": ["server"]}},
        {
            "type": "RequestMirror",
            "requestMirror": {
                "backendRef": {"kind": "MeshService", "name": "web-v2", "port": 80},
                "percentage": "12.5",
            },
        },
    ]
    assert main["default"]["backendRefs"] == [
        {"kind": "MeshService", "name": "web-v1", "port": 80, "weight": 100}
    ]
    assert [p.path for p in problems(report)] == ["spec.services[0].routes"]  # the order
    assert_valid(objects)


def test_a_mirror_to_another_service_names_its_namespace_and_port(tmp_path: Path) -> None:
    data = yaml.safe_load(spec_with(tmp_path).read_text())
    data["spec"]["namespaces"].append({"name": "audit"})
    data["spec"]["services"].append(
        {
            "name": "recorder",
            "namespace": "audit",
            "selector": {"app": "recorder"},
            "ports": [{"name": "http", "port": 8080, "targetPort": 8080}],
            "retries": {"attempts": 0},
        }
    )
    data["spec"]["services"][0]["routes"] = [
        {"to": "v1", "mirror": {"service": "recorder", "namespace": "audit", "port": 8080}}
    ]
    objects, _ = kuma(write_spec(tmp_path, data))
    (rule,) = find(objects, "MeshHTTPRoute", "web")["spec"]["to"][0]["rules"]
    assert rule["default"]["filters"] == [
        {
            "type": "RequestMirror",
            "requestMirror": {
                "backendRef": {
                    "kind": "MeshService",
                    "name": "recorder",
                    "namespace": "audit",
                    "port": 8080,
                }
            },
        }
    ]


def test_a_path_rewrite_after_a_string_prefix_is_loud(tmp_path: Path) -> None:
    routes = [
        {"match": {"path": {"prefix": "/legacy/"}}, "rewrite": {"path": "/"}, "to": "v1"},
        {"split": {"v1": 90, "v2": 10}},
    ]
    spec = spec_with(tmp_path, routes=routes)
    with pytest.raises(SpecError, match=r"routes\[0\]\.rewrite\.path: not supported on kuma"):
        kuma(spec)
    objects, _ = kuma(spec, lossy=True)
    assert (
        "filters"
        not in find(objects, "MeshHTTPRoute", "web")["spec"]["to"][0]["rules"][0]["default"]
    )
    # After a match on / the prefix is replaced exactly.
    objects, report = kuma(
        spec_with(
            tmp_path,
            routes=[
                {"match": {"path": {"prefix": "/"}}, "rewrite": {"path": "/app/"}, "to": "v1"},
                {"split": {"v1": 90, "v2": 10}},
            ],
        )
    )
    assert find(objects, "MeshHTTPRoute", "web")["spec"]["to"][0]["rules"][0]["default"][
        "filters"
    ] == [
        {
            "type": "URLRewrite",
            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/app/"}},
        }
    ]
    assert report.errors == []


def test_a_routes_own_timeout_and_retries_name_its_own_meshhttproute(tmp_path: Path) -> None:
    routes = [
        {
            "name": "checkout",
            "match": {"path": {"exact": "/checkout"}},
            "to": "v2",
            "timeout": "2s",
            "retries": {"attempts": 0},
        },
        {"match": {"path": {"exact": "/cart"}}, "to": "v1", "timeout": "1s"},
        {"split": {"v1": 90, "v2": 10}},
    ]
    objects, _ = kuma(
        spec_with(
            tmp_path, routes=routes, timeout="10s", retries={"attempts": 2, "retryOn": ["5xx"]}
        )
    )
    shared = find(objects, "MeshHTTPRoute", "web")["spec"]["to"][0]["rules"]
    assert [r["matches"] for r in shared] == [[{"path": {"type": "PathPrefix", "value": "/"}}]]
    (checkout,) = find(objects, "MeshHTTPRoute", "web-checkout")["spec"]["to"][0]["rules"]
    assert checkout["matches"] == [{"path": {"type": "Exact", "value": "/checkout"}}]
    assert find(objects, "MeshHTTPRoute", "web-route-1")
    ref = {"kind": "MeshHTTPRoute", "name": "web-checkout"}
    assert find(objects, "MeshTimeout", "web-checkout")["spec"] == {
        "to": [{"targetRef": ref, "default": {"http": {"requestTimeout": "2s"}}}]
    }
    # attempts: 0 is no retries for this route, whatever the service's.
    assert find(objects, "MeshRetry", "web-checkout")["spec"] == {
        "to": [{"targetRef": ref, "default": {"http": {"numRetries": 0, "retryOn": ["5XX"]}}}]
    }
    # The route without retries of its own keeps the service's: no MeshRetry names it.
    assert not [
        o for o in objects if o["kind"] == "MeshRetry" and o["metadata"]["name"] == "web-route-1"
    ]
    assert find(objects, "MeshTimeout", "web-route-1")["spec"]["to"][0]["default"] == {
        "http": {"requestTimeout": "1s"}
    }
    assert_valid(objects)


def test_a_route_name_that_meets_another_objects_name_is_an_error(tmp_path: Path) -> None:
    data = yaml.safe_load(spec_with(tmp_path).read_text())
    data["spec"]["services"][0]["routes"] = [
        {"name": "v1", "match": {"path": {"exact": "/a"}}, "to": "v1", "timeout": "1s"},
        {"split": {"v1": 90, "v2": 10}},
    ]
    data["spec"]["services"].append(
        {
            "name": "web-v1x",
            "namespace": "mesh-demo",
            "selector": {"app": "x"},
            "ports": [{"name": "http", "port": 80, "targetPort": 80}],
            "retries": {"attempts": 0},
            "routes": [{"to": "a", "timeout": "1s"}],
            "versions": [{"name": "a", "labels": {"v": "a"}}],
        }
    )
    data["spec"]["services"][0]["routes"][0]["name"] = "v1x-route-0"
    with pytest.raises(SpecError, match="MeshHTTPRoute 'web-v1x-route-0' would be rendered twice"):
        kuma(write_spec(tmp_path, data))


def test_grpc_statuses_retry_grpc_ports_and_http_conditions_http_ports(tmp_path: Path) -> None:
    ports = [{"name": "http", "port": 80, "targetPort": 8080}, *GRPC_PORT]
    objects, report = kuma(
        spec_with(
            tmp_path,
            ports=ports,
            retries={
                "attempts": 3,
                "retryOn": ["5xx", "reset", "unavailable", "deadline-exceeded"],
            },
        )
    )
    default = find(objects, "MeshRetry", "web")["spec"]["to"][0]["default"]
    assert default == {
        "http": {"numRetries": 3, "retryOn": ["5XX", "Reset"]},
        "grpc": {"numRetries": 3, "retryOn": ["Unavailable", "DeadlineExceeded"]},
    }
    assert {(p.path, p.level) for p in problems(report)} == {
        (f"spec.services[0].retries.retryOn[{i}]", "warning") for i in range(4)
    }
    # A gRPC-only service retrying on gRPC statuses is exact.
    objects, report = kuma(
        spec_with(
            tmp_path,
            ports=GRPC_PORT,
            retries={"attempts": 1, "retryOn": ["cancelled", "internal", "resource-exhausted"]},
        )
    )
    assert find(objects, "MeshRetry", "web")["spec"]["to"][0]["default"] == {
        "grpc": {"numRetries": 1, "retryOn": ["Canceled", "Internal", "ResourceExhausted"]}
    }
    assert problems(report) == []


def test_http_ports_of_a_service_retrying_on_grpc_statuses_only_are_not_retried(
    tmp_path: Path,
) -> None:
    ports = [{"name": "http", "port": 80, "targetPort": 8080}, *GRPC_PORT]
    objects, report = kuma(
        spec_with(tmp_path, ports=ports, retries={"attempts": 2, "retryOn": ["unavailable"]})
    )
    # Without retryOn Kuma would retry HTTP ports on its default conditions.
    assert find(objects, "MeshRetry", "web")["spec"]["to"][0]["default"] == {
        "http": {"numRetries": 0},
        "grpc": {"numRetries": 2, "retryOn": ["Unavailable"]},
    }
    assert [p.path for p in problems(report)] == ["spec.services[0].retries.retryOn[0]"]


def test_http2_ports_are_not_retried_by_meshretry_and_say_so(tmp_path: Path) -> None:
    ports = [{"name": "h2", "port": 80, "targetPort": 8080, "protocol": "http2"}]
    objects, report = kuma(spec_with(tmp_path, ports=ports, retries={"attempts": 2}))
    assert not [o for o in objects if o["kind"] == "MeshRetry"]
    assert [(p.path, p.level) for p in problems(report)] == [
        ("spec.services[0].retries.attempts", "warning")
    ]


def test_a_service_without_retries_is_retried_by_kumas_default_with_a_warning(
    tmp_path: Path,
) -> None:
    _, report = kuma(spec_with(tmp_path))
    (warning,) = report.problems
    assert warning.path == "spec.services" and warning.level == "warning"
    assert "mesh-demo/web give no retries" in warning.message
    _, report = kuma(spec_with(tmp_path, retries={"attempts": 0}))
    assert report.problems == []


def test_a_fault_on_the_services_only_route_is_a_meshfaultinjection(tmp_path: Path) -> None:
    routes = [
        {
            "split": {"v1": 90, "v2": 10},
            "fault": {
                "delay": {"fixed": "2s", "percent": 10},
                "abort": {"httpStatus": 503, "percent": 0.5},
            },
        }
    ]
    objects, report = kuma(spec_with(tmp_path, routes=routes))
    assert find(objects, "MeshFaultInjection", "web")["spec"] == {
        "targetRef": {"kind": "Dataplane", "labels": {"app": "web"}},
        "rules": [
            {
                "default": {
                    "http": [
                        {
                            "delay": {"value": "2s", "percentage": 10},
                            "abort": {"httpStatus": 503, "percentage": "0.5"},
                        }
                    ]
                }
            }
        ],
    }
    assert problems(report) == []
    assert_valid(objects)


def test_a_fault_on_one_route_of_several_and_a_grpc_abort_are_loud(tmp_path: Path) -> None:
    routes = [
        {
            "match": {"headers": {"x-chaos": {"exact": "on"}}},
            "to": "v2",
            "fault": {"delay": {"fixed": "1s"}, "abort": {"httpStatus": 500}},
        },
        {"split": {"v1": 90, "v2": 10}},
    ]
    spec = spec_with(tmp_path, routes=routes)
    with pytest.raises(SpecError) as raised:
        kuma(spec)
    assert [p.path for p in raised.value.problems if p.level == "error"] == [
        "spec.services[0].routes[0].fault.delay",
        "spec.services[0].routes[0].fault.abort",
    ]
    objects, _ = kuma(spec, lossy=True)
    assert not [o for o in objects if o["kind"] == "MeshFaultInjection"]
    grpc = [{"to": "v1", "fault": {"abort": {"grpcStatus": "UNAVAILABLE", "percent": 5}}}]
    with pytest.raises(SpecError, match=r"fault\.abort\.grpcStatus: not supported on kuma"):
        kuma(spec_with(tmp_path, ports=GRPC_PORT, routes=grpc))


def test_a_rate_limit_is_a_local_meshratelimit_on_the_services_pods(tmp_path: Path) -> None:
    objects, report = kuma(spec_with(tmp_path, rateLimit={"requestsPerSecond": 100}))
    assert find(objects, "MeshRateLimit", "web")["spec"] == {
        "targetRef": {"kind": "Dataplane", "labels": {"app": "web"}},
        "rules": [
            {"default": {"local": {"http": {"requestRate": {"num": 100, "interval": "1s"}}}}}
        ],
    }
    assert problems(report) == []
    spec = spec_with(
        tmp_path, rateLimit={"requestsPerSecond": 100, "perCallerRequestsPerSecond": 5}
    )
    with pytest.raises(SpecError, match="perCallerRequestsPerSecond: not supported on kuma"):
        kuma(spec)


def test_a_tcp_ports_connections_are_split_by_a_meshtcproute(tmp_path: Path) -> None:
    ports = [
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "redis", "port": 6379, "targetPort": 6379, "protocol": "tcp"},
    ]
    objects, report = kuma(spec_with(tmp_path, ports=ports))
    assert find(objects, "MeshTCPRoute", "web")["spec"] == {
        "to": [
            {
                "targetRef": {"kind": "MeshService", "name": "web", "sectionName": "redis"},
                "rules": [
                    {
                        "default": {
                            "backendRefs": [
                                {
                                    "kind": "MeshService",
                                    "name": "web-v1",
                                    "port": 6379,
                                    "weight": 90,
                                },
                                {
                                    "kind": "MeshService",
                                    "name": "web-v2",
                                    "port": 6379,
                                    "weight": 10,
                                },
                            ]
                        }
                    }
                ],
            }
        ]
    }
    assert [
        t["targetRef"]["sectionName"] for t in find(objects, "MeshHTTPRoute", "web")["spec"]["to"]
    ] == ["http"]
    assert problems(report) == []
    assert_valid(objects)


def test_egress_is_a_meshpassthrough_per_meshed_namespace_letting_only_the_hosts_out(
    tmp_path: Path,
) -> None:
    egress = {
        "hosts": [
            {
                "host": "api.example.com",
                "ports": [{"port": 443, "protocol": "tls"}, {"port": 80, "protocol": "http"}],
            },
            {"host": "storage.example", "ports": [{"port": 443, "protocol": "tls"}]},
        ]
    }
    objects, report = kuma(spec_with(tmp_path, {"egress": egress}))
    passthrough = find(objects, "MeshPassthrough", "egress")
    assert passthrough["metadata"]["namespace"] == "mesh-demo"
    assert passthrough["spec"] == {
        # No `to`: a workload-owner policy, for the proxies of its namespace only.
        "targetRef": {"kind": "Mesh"},
        "default": {
            "passthroughMode": "Matched",
            "appendMatch": [
                # http first: Kuma refuses http on a port an earlier match gave tls.
                {"type": "Domain", "value": "api.example.com", "port": 80, "protocol": "http"},
                {"type": "Domain", "value": "api.example.com", "port": 443, "protocol": "tls"},
                {"type": "Domain", "value": "storage.example", "port": 443, "protocol": "tls"},
            ],
        },
    }
    assert problems(report) == []
    assert_valid(objects)


def test_an_http_ingress_renders_and_reports_only_that_the_backends_split_is_not_followed(
    tmp_path: Path,
) -> None:
    # The builtin gateway (tests/compiler/test_kuma_ingress.py) sends to web's own
    # MeshService, not by web's split.
    mesh = {
        "ingress": [
            {
                "name": "edge",
                "namespace": "mesh-demo",
                "gateway": {"namespace": "gateways", "serviceAccount": "gw"},
                "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP", "hosts": ["*"]}],
                "routes": [{"backend": {"service": "web", "port": 80}}],
            }
        ],
    }
    objects, report = kuma(spec_with(tmp_path, mesh, retries={"attempts": 0}))
    assert [(p.path, p.level) for p in problems(report)] == [
        ("spec.ingress[0].routes[0].backend", "warning")
    ]
    assert {o["kind"] for o in objects} >= {"MeshGateway", "MeshGatewayInstance"}


# --- telemetry ------------------------------------------------------------------------------


def telemetry(
    tmp_path: Path, *entries: dict[str, Any], lossy: bool = False
) -> tuple[list[dict[str, Any]], Report]:
    return kuma(
        spec_with(tmp_path, {"telemetry": list(entries)}, retries={"attempts": 0}), lossy=lossy
    )


def test_access_logs_on_write_inbound_and_outbound_traffic_to_the_sidecars_stdout(
    tmp_path: Path,
) -> None:
    objects, report = telemetry(
        tmp_path, {"name": "logs", "namespace": "mesh-demo", "accessLogging": {"enabled": True}}
    )
    stdout = {"backends": [{"type": "File", "file": {"path": "/dev/stdout"}}]}
    inbound = find(objects, "MeshAccessLog", "logs-inbound")
    outbound = find(objects, "MeshAccessLog", "logs-outbound")
    # No top-level targetRef: a policy in a workload namespace selects that namespace's
    # proxies only (workload-owner and consumer roles).
    assert inbound["metadata"]["namespace"] == outbound["metadata"]["namespace"] == "mesh-demo"
    assert inbound["spec"] == {"rules": [{"default": stdout}]}
    assert outbound["spec"] == {"to": [{"targetRef": {"kind": "Mesh"}, "default": stdout}]}
    assert report.problems == []
    assert_valid(objects)


def test_access_logs_off_silence_outbound_logs_and_warn_that_inbound_ones_add_up(
    tmp_path: Path,
) -> None:
    entry = {
        "name": "quiet",
        "namespace": "mesh-demo",
        "selector": {"app": "web"},
        "accessLogging": {"enabled": False},
    }
    objects, report = telemetry(tmp_path, entry)  # approximated: a warning
    assert [p.path for p in report.problems] == ["spec.telemetry[0].accessLogging.enabled"]
    selected = {"kind": "Dataplane", "labels": {"app": "web"}}
    assert find(objects, "MeshAccessLog", "quiet-inbound")["spec"] == {
        "targetRef": selected,
        "rules": [{"default": {"backends": []}}],
    }
    assert find(objects, "MeshAccessLog", "quiet-outbound")["spec"] == {
        "targetRef": selected,
        "to": [{"targetRef": {"kind": "Mesh"}, "default": {"backends": []}}],
    }
    assert_valid(objects)


def test_metrics_are_served_to_prometheus_or_switched_off(tmp_path: Path) -> None:
    objects, report = telemetry(
        tmp_path,
        {"name": "on", "namespace": "mesh-demo", "metrics": {"enabled": True}},
        {
            "name": "off",
            "namespace": "mesh-demo",
            "selector": {"app": "web"},
            "metrics": {"enabled": False},
        },
    )
    assert find(objects, "MeshMetric", "on")["spec"] == {
        "default": {
            "backends": [{"type": "Prometheus", "prometheus": {"port": 5670, "path": "/metrics"}}]
        }
    }
    assert find(objects, "MeshMetric", "off")["spec"] == {
        "targetRef": {"kind": "Dataplane", "labels": {"app": "web"}},
        "default": {"backends": []},
    }
    assert report.problems == []
    assert_valid(objects)


def test_tracing_is_loud_since_a_meshtrace_must_name_its_collector(tmp_path: Path) -> None:
    entry = {"name": "traces", "namespace": "mesh-demo", "tracing": {"samplingPercent": 10}}
    with pytest.raises(SpecError) as raised:
        telemetry(tmp_path, entry)
    assert [p.path for p in raised.value.problems] == ["spec.telemetry[0].tracing.samplingPercent"]
    objects, _ = telemetry(tmp_path, entry, lossy=True)
    assert not [o for o in objects if o["kind"] == "MeshTrace"]


# --- who may call whom ----------------------------------------------------------------------


def test_allowed_callers_are_allowed_and_every_other_denied_explicitly(tmp_path: Path) -> None:
    objects, report = kuma(
        spec_with(
            tmp_path,
            allow=[
                {"fromNamespaces": ["mesh-demo"]},
                {"fromNamespaces": ["mesh-demo"], "ports": [80]},
            ],
        )
    )
    permission = find(objects, "MeshTrafficPermission", "web")
    assert permission["spec"] == {
        "targetRef": {"kind": "Dataplane", "labels": {"app": "web"}},
        "from": [
            {
                "targetRef": {"kind": "MeshSubset", "tags": {"k8s.kuma.io/namespace": "mesh-demo"}},
                "default": {"action": "Allow"},
            },
            {"targetRef": {"kind": "Mesh"}, "default": {"action": "Deny"}},
        ],
    }
    assert problems(report) == []  # a rule naming every port of the service names them all


def test_a_rule_for_some_ports_and_a_service_account_rule_are_loud_and_fail_closed(
    tmp_path: Path,
) -> None:
    ports = [
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "admin", "port": 8081, "targetPort": 8081},
    ]
    spec = spec_with(
        tmp_path,
        ports=ports,
        allow=[
            {"fromNamespaces": ["mesh-demo"], "ports": [80]},
            {"fromServiceAccounts": ["mesh-demo/worker"]},
        ],
    )
    with pytest.raises(SpecError) as raised:
        kuma(spec)
    assert [p.path for p in problems(raised.value)] == [
        "spec.services[0].allow[0].ports",
        "spec.services[0].allow[1].fromServiceAccounts",
    ]
    objects, report = kuma(spec, lossy=True)
    assert find(objects, "MeshTrafficPermission", "web")["spec"]["from"] == [
        {"targetRef": {"kind": "Mesh"}, "default": {"action": "Deny"}}
    ]
    assert {p.level for p in report.problems} == {"warning"}


# --- every example: lossless or loud, valid, golden -------------------------------------------


def _render_example(spec: Path) -> tuple[list[dict[str, Any]], str]:
    relative = str(spec.relative_to(REPO))
    mesh = load_mesh(str(spec), source=relative)
    header = ""
    try:
        objects, report = render(mesh, RenderOptions(), "kuma")
    except SpecError as exc:
        header = "# fails without --allow-lossy:\n" + "".join(
            f"#   {p.format()}\n" for p in exc.problems
        )
        objects, report = render(mesh, RenderOptions(allow_lossy=True), "kuma")
    header += "".join(f"# {p.format()}\n" for p in report.warnings if not header)
    return objects, header + dump_all(objects)


@pytest.mark.parametrize("spec", example_specs(), ids=lambda p: p.parent.name)
def test_example_golden(spec: Path) -> None:
    _, text = _render_example(spec)
    assert_golden(GOLDEN / spec.parent.name / "kuma.yaml", text)


@pytest.mark.parametrize(
    "spec", [*example_specs(), DEMO / "mesh.yaml"], ids=lambda p: p.parent.name
)
def test_every_object_validates_against_kumas_crds(spec: Path) -> None:
    objects, _ = _render_example(spec)
    assert {o["kind"] for o in objects} >= {"Mesh", "Namespace", "Service"}
    assert_valid(objects)


# --- Kuma's own demo -------------------------------------------------------------------------


def demo_manifests() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEMO / "001-with-mtls.yaml").read_text()) if d]


def test_the_demo_renders_exactly_as_the_demo_deploys_it() -> None:
    objects, report = kuma(DEMO / "mesh.yaml")
    assert problems(report) == []
    demo = {(d["kind"], d["metadata"]["name"]): d for d in demo_manifests()}
    # The demo's Services: the apex and one per version, HTTP for Kuma.
    for name in ("demo-app", "demo-app-v1", "demo-app-v2", "kv"):
        rendered, theirs = find(objects, "Service", name)["spec"], demo[("Service", name)]["spec"]
        assert rendered["selector"] == theirs["selector"]
        assert [(p["port"], p["targetPort"], p["appProtocol"]) for p in rendered["ports"]] == [
            (p["port"], p["targetPort"], p["appProtocol"]) for p in theirs["ports"]
        ]
    # The demo's Mesh, its mode (STRICT, the backend's default) written out.
    theirs = copy.deepcopy(demo[("Mesh", "default")]["spec"])
    theirs["mtls"]["backends"][0]["mode"] = "STRICT"
    assert find(objects, "Mesh", "default")["spec"] == theirs
    # kv's permission selects the demo's kv pods, as the demo's own does.
    assert (
        find(objects, "MeshTrafficPermission", "kv")["spec"]["targetRef"]
        == demo[("MeshTrafficPermission", "kv")]["spec"]["targetRef"]
    )
    assert (
        find(objects, "Namespace", "kuma-demo")["metadata"]["labels"]["kuma.io/sidecar-injection"]
        == "enabled"
    )


def test_the_demos_manifests_and_the_render_pass_meshc_check(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The demo's own workloads beside the render: the objects the spec renders are
    # the render's (both in one repository would be a spec-conflict finding).
    objects = kuma(DEMO / "mesh.yaml")[0]
    ours = {identity(o) for o in objects}
    workloads = [d for d in demo_manifests() if identity(d) not in ours]
    assert {d["kind"] for d in workloads} >= {"Deployment"}
    (tmp_path / "workloads.yaml").write_text(dump_all(workloads))
    (tmp_path / "rendered.yaml").write_text(dump_all(objects))
    spec = str(DEMO / "mesh.yaml")
    assert (
        meshc(
            [
                "check",
                "--spec",
                spec,
                str(tmp_path / "workloads.yaml"),
                str(tmp_path / "rendered.yaml"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == ""


def identity(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace", ""), meta["name"]


def test_the_demos_manifests_validate_against_kumas_crds() -> None:
    assert_valid(demo_manifests())


# --- what Kuma's own validators require ---------------------------------------------------
#
# kuma-cp's validating webhook runs each policy's validate() (pkg/plugins/policies/*/api/
# v1alpha1/validator.go, pkg/core/resources/apis/mesh/validators.go ValidateTargetRef at
# v2.14.3), which the CRD schema does not. Kuma's Go module cannot be fetched here, so its
# rules for what meshc renders are stated below and checked on every example.

TO_KINDS = {
    "MeshHTTPRoute": {"MeshService"},
    "MeshTCPRoute": {"MeshService"},
    "MeshTimeout": {"MeshService", "MeshHTTPRoute"},
    "MeshRetry": {"MeshService", "MeshHTTPRoute"},
    "MeshCircuitBreaker": {"MeshService"},
}
# Inbound policies: the service's pods, one rule for every caller (validator.go of each).
RULES_KINDS = {"MeshFaultInjection", "MeshRateLimit"}
# A Domain match: http or tls, one protocol among http, http2 and grpc per port, no value twice
# on one port and protocol (meshpassthrough validator.go).
PASSTHROUGH_PROTOCOLS = {"http", "tls"}
HTTP_RETRY_ON = {"5XX", "GatewayError", "Reset", "Retriable4xx", "ConnectFailure", "RefusedStream"}
GRPC_RETRY_ON = {"Canceled", "DeadlineExceeded", "Internal", "ResourceExhausted", "Unavailable"}


def _check_ref(ref: dict[str, Any], kinds: set[str]) -> None:
    assert ref["kind"] in kinds, ref
    assert ref.get("name"), f"name or labels must be set when kind is {ref['kind']}"
    assert not {"mesh", "tags", "proxyTypes"} & set(ref), ref
    if ref["kind"] == "MeshHTTPRoute":
        assert "sectionName" not in ref


def _check_mesh_service_ref(ref: dict[str, Any]) -> None:
    _check_ref(ref, {"MeshService"})


def _check_header_modifier(modifier: dict[str, Any]) -> None:
    assert {"set", "add", "remove"} & set(modifier), "must have at least one of set, add, remove"
    names = [h["name"] for h in modifier.get("set", []) + modifier.get("add", [])]
    names += modifier.get("remove", [])
    assert len(names) == len(set(names)), "duplicate header name"


def _check_filters(rule: dict[str, Any]) -> None:
    all_prefix = all(m.get("path", {}).get("type") == "PathPrefix" for m in rule["matches"])
    for f in rule["default"].get("filters", []):
        kind = f["type"]
        if kind in ("RequestHeaderModifier", "ResponseHeaderModifier"):
            _check_header_modifier(f[kind[0].lower() + kind[1:]])
        if kind in ("RequestRedirect", "URLRewrite"):
            conf = f["requestRedirect" if kind == "RequestRedirect" else "urlRewrite"]
            if "replacePrefixMatch" in conf.get("path", {}):
                assert all_prefix, "can only appear if all matches match a path prefix"
            assert not conf.get("hostToBackendHostname"), "can only be set with MeshGateway"
        if kind == "RequestMirror":
            _check_ref(f["requestMirror"]["backendRef"], {"MeshService"})


def _check_kuma_rules(obj: dict[str, Any]) -> None:
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind in TO_KINDS:
        assert spec["to"], f"{kind}: at least one of 'from', 'to' or 'rules' has to be defined"
        for to in spec["to"]:
            _check_ref(to["targetRef"], TO_KINDS[kind])
    if kind in RULES_KINDS:
        assert "from" not in spec and "to" not in spec, "'to' and 'from' must be empty"
        assert spec["targetRef"]["kind"] == "Dataplane" and spec["targetRef"]["labels"]
        assert [set(rule) for rule in spec["rules"]] == [{"default"}]  # no matches: every caller
    if kind == "MeshHTTPRoute":
        for to in spec["to"]:
            assert "hostnames" not in to  # only with a MeshGateway
            for rule in to["rules"]:
                assert rule["matches"], "a rule has at least one match"
                for match in rule["matches"]:
                    path = match.get("path")
                    if path and path["type"] in ("Exact", "PathPrefix"):
                        assert path["value"].startswith("/"), "must be an absolute path"
                    if path and path["type"] == "PathPrefix" and path["value"] != "/":
                        assert not path["value"].endswith("/"), "does not need a trailing slash"
                _check_filters(rule)
                for backend in rule["default"].get("backendRefs", []):
                    _check_mesh_service_ref(backend)
                    assert backend["weight"] >= 0 and 1 <= backend["port"] <= 65535
    if kind == "MeshTCPRoute":
        for to in spec["to"]:
            for rule in to["rules"]:
                for backend in rule["default"]["backendRefs"]:
                    _check_mesh_service_ref(backend)
    if kind == "MeshRetry":
        for to in spec["to"]:
            conf = to["default"]
            assert {"http", "grpc", "tcp"} & set(conf)
            assert set(conf.get("http", {}).get("retryOn", [])) <= HTTP_RETRY_ON
            assert set(conf.get("grpc", {}).get("retryOn", [])) <= GRPC_RETRY_ON
    if kind == "MeshCircuitBreaker":
        for to in spec["to"]:
            conf = to["default"]
            assert {"connectionLimits", "outlierDetection"} & set(conf)
            assert all(v > 0 for v in conf.get("connectionLimits", {}).values())
            detection = conf.get("outlierDetection")
            if detection is not None:
                assert detection["detectors"], "detectors must be defined"
                assert detection["detectors"]["totalFailures"]["consecutive"] > 0
                assert 0 <= detection.get("maxEjectionPercent", 0) <= 100
    if kind == "MeshTimeout":
        for to in spec["to"]:
            assert to["default"]["http"], (
                "at least one timeout in this section should be configured"
            )
    if kind == "MeshFaultInjection":
        for rule in spec["rules"]:
            for fault in rule["default"]["http"]:
                if "abort" in fault:
                    assert 100 <= fault["abort"]["httpStatus"] <= 599
                for part in ("abort", "delay"):
                    if part in fault:
                        assert 0 <= float(fault[part]["percentage"]) <= 100
    if kind == "MeshRateLimit":
        for rule in spec["rules"]:
            rate = rule["default"]["local"]["http"]["requestRate"]
            assert rate["num"] > 0 and rate["interval"] == "1s"
    if kind == "MeshPassthrough":
        assert spec["targetRef"] == {"kind": "Mesh"}
        seen: dict[int, str] = {}
        keys = set()
        for match in spec["default"]["appendMatch"]:
            assert match["type"] == "Domain" and match["protocol"] in PASSTHROUGH_PROTOCOLS
            if match["protocol"] == "http":
                assert seen.setdefault(match["port"], "http") == "http", "one protocol per port"
            seen.setdefault(match["port"], match["protocol"])
            key = (match["port"], match["protocol"], match["value"])
            assert key not in keys, "value is already defined for this port and protocol"
            keys.add(key)
    if kind == "MeshTrafficPermission":
        assert not ("from" in spec and "rules" in spec), (
            "'from' must be empty when 'rules' is defined"
        )
        assert spec["targetRef"]["kind"] == "Dataplane" and spec["targetRef"]["labels"]
        assert not {"name", "namespace", "sectionName"} & set(spec["targetRef"])
        for entry in spec["from"]:
            assert entry["default"]["action"] in ("Allow", "Deny"), "action must be defined"
            ref = entry["targetRef"]
            assert ref["kind"] in ("Mesh", "MeshSubset")
            if ref["kind"] == "Mesh":
                assert set(ref) == {"kind"}
            else:
                assert set(ref) == {"kind", "tags"} and ref["tags"]
                # A tag value: alphanumerics, dots, dashes and underscores (ValidateTags).
                assert all(re.fullmatch(r"[a-zA-Z0-9.\-_:]+", v) for v in ref["tags"].values())


@pytest.mark.parametrize(
    "spec", [*example_specs(), DEMO / "mesh.yaml"], ids=lambda p: p.parent.name
)
def test_every_policy_keeps_the_rules_kumas_validators_enforce(spec: Path) -> None:
    objects, _ = _render_example(spec)
    for obj in objects:
        if not obj["apiVersion"].startswith("kuma.io/") or obj["kind"] == "Mesh":
            continue
        if is_gateway_object(obj):
            check_gateway_rules(obj, objects)
            continue
        _check_kuma_rules(obj)
        # A policy in a workload namespace, of the spec's Mesh.
        assert obj["metadata"]["namespace"] != "kuma-system"
        assert obj["metadata"]["labels"]["kuma.io/mesh"] == "default"
