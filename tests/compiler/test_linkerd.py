"""The Linkerd target: the seed's Linkerd quickstart, in both routing modes, lossless or loud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.serialize import dump_all
from meshc.compiler.targets import RenderOptions, Report, render
from meshc.compiler.targets.linkerd.edge import TLS_ROUTE
from support.golden import GOLDEN, assert_golden
from support.paths import EXAMPLES, REPO
from support.schemas import assert_valid, validate
from support.seed import seed_object
from support.specs import example_specs, quickstart, write_spec

MODES = ("gateway-api", "smi")
L5D = EXAMPLES / "linkerd-quickstart" / "mesh.yaml"


def linkerd(
    spec: Path | str,
    mode: str = "gateway-api",
    *,
    lossy: bool = False,
) -> tuple[list[dict[str, Any]], Report]:
    return render(
        load_mesh(str(spec)), RenderOptions.of(linkerd_routing=mode, allow_lossy=lossy), "linkerd"
    )


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, got {len(matches)}"
    return matches[0]


def kinds(objects: list[dict[str, Any]]) -> set[str]:
    return {o["kind"] for o in objects}


def spec_with(tmp_path: Path, **service: Any) -> Path:
    data = quickstart()
    data["spec"]["provider"] = "linkerd"
    svc = data["spec"]["services"][0]
    for key in ("timeout", "retries", "connectionPool", "outlierDetection", "allow"):
        svc.pop(key, None)
    svc.update(service)
    return write_spec(tmp_path, data)


# --- the seed's quickstart --------------------------------------------------------------


def test_smi_mode_reproduces_the_seeds_traffic_split() -> None:
    objects, report = linkerd(L5D, "smi")
    split, seed = (
        find(objects, "TrafficSplit", "web-split"),
        seed_object("TrafficSplit", "web-split"),
    )
    assert split["apiVersion"] == seed["apiVersion"] == "split.smi-spec.io/v1alpha2"
    assert split["metadata"]["namespace"] == seed["metadata"]["namespace"]
    assert split["spec"] == seed["spec"]
    assert report.problems == []


@pytest.mark.parametrize("mode", MODES)
def test_the_apex_service_is_the_seeds_and_each_version_has_its_own(mode: str) -> None:
    objects, _ = linkerd(L5D, mode)
    assert find(objects, "Service", "web")["spec"] == seed_object("Service", "web")["spec"]
    for version in ("v1", "v2"):
        spec = find(objects, "Service", f"web-{version}")["spec"]
        assert spec["selector"] == {"app": "web", "version": version}
        assert spec["ports"] == seed_object("Service", "web")["spec"]["ports"]


def test_the_meshed_namespace_is_annotated_for_injection_and_strict_inbound_policy() -> None:
    objects, _ = linkerd(L5D)
    annotations = find(objects, "Namespace", "l5d-demo")["metadata"]["annotations"]
    assert annotations["linkerd.io/inject"] == "enabled"
    assert annotations["config.linkerd.io/default-inbound-policy"] == "all-authenticated"


def test_permissive_mtls_keeps_linkerds_default_inbound_policy(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"].update(provider="linkerd", mtls="PERMISSIVE")
    objects, _ = linkerd(write_spec(tmp_path, data), lossy=True)
    annotations = find(objects, "Namespace", "mesh-demo")["metadata"]["annotations"]
    assert "config.linkerd.io/default-inbound-policy" not in annotations


def test_gateway_api_is_the_default_routing_mode() -> None:
    objects, _ = render(load_mesh(str(L5D)), RenderOptions())
    assert "HTTPRoute" in kinds(objects) and "TrafficSplit" not in kinds(objects)


def test_gateway_api_mode_splits_with_a_gamma_httproute_on_the_apex_service() -> None:
    objects, _ = linkerd(L5D)
    route = find(objects, "HTTPRoute", "web-http")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [
        {"group": "", "kind": "Service", "name": "web", "port": 80}
    ]
    (rule,) = route["spec"]["rules"]
    assert [(b["name"], b["port"], b["weight"]) for b in rule["backendRefs"]] == [
        ("web-v1", 80, 90),
        ("web-v2", 80, 10),
    ]


# --- every example, both modes: valid and golden ------------------------------------------


def _render_example(spec: Path, mode: str) -> tuple[list[dict[str, Any]], str]:
    """Render as a user would; a spec the mode cannot express exactly is rendered with
    --allow-lossy, and the golden records that and every problem."""
    relative = str(spec.relative_to(REPO))
    mesh = load_mesh(str(spec), source=relative)
    options = RenderOptions.of(linkerd_routing=mode)
    header = ""
    try:
        objects, report = render(mesh, options, "linkerd")
    except SpecError as exc:
        header = "# fails without --allow-lossy:\n" + "".join(
            f"#   {p.format()}\n" for p in exc.problems
        )
        objects, report = render(
            mesh, RenderOptions.of(linkerd_routing=mode, allow_lossy=True), "linkerd"
        )
    header += "".join(f"# {p.format()}\n" for p in report.warnings if not header)
    return objects, header + dump_all(objects)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("spec", example_specs(), ids=lambda p: p.parent.name)
def test_example_golden(spec: Path, mode: str) -> None:
    _, text = _render_example(spec, mode)
    assert_golden(GOLDEN / spec.parent.name / f"linkerd-{mode}.yaml", text)


@pytest.mark.parametrize("channel", ["standard", "linkerd"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("spec", example_specs(), ids=lambda p: p.parent.name)
def test_every_object_validates_against_the_upstream_crds(
    spec: Path, mode: str, channel: str
) -> None:
    objects, _ = _render_example(spec, mode)
    if channel == "standard":
        # Linkerd reads TLSRoute only as v1alpha2 (policy-controller/k8s/api/src/lib.rs pins
        # it), which the standard channel has not served since v1.5: there, Linkerd's TLS
        # egress cannot work whatever is rendered. Every other object fits both channels.
        objects = [o for o in objects if o["apiVersion"] != TLS_ROUTE]
    assert_valid(objects, gateway_channel=channel)


def test_tls_egress_routes_are_the_v1alpha2_tlsroutes_linkerd_reads() -> None:
    objects, _ = _render_example(EXAMPLES / "bookinfo" / "mesh.yaml", "gateway-api")
    (route,) = [o for o in objects if o["kind"] == "TLSRoute"]
    assert route["apiVersion"] == TLS_ROUTE == "gateway.networking.k8s.io/v1alpha2"
    assert validate(route, gateway_channel="linkerd") == []
    (error,) = validate(route, gateway_channel="standard")
    assert "is not served by the TLSRoute CRD" in error


def test_the_linkerd_quickstart_renders_exactly_in_both_modes() -> None:
    for mode in MODES:
        _, report = linkerd(L5D, mode)
        assert report.problems == [], mode


# --- A/B matches ----------------------------------------------------------------------------


def ab_spec(tmp_path: Path) -> Path:
    return spec_with(
        tmp_path,
        routes=[
            {
                "name": "beta",
                "match": {"headers": {"x-beta": {"exact": "1"}, "x-group": {"prefix": "a.b"}}},
                "to": "v2",
            },
            {"match": {"path": {"prefix": "/api"}}, "to": "v2"},
            {
                "match": {"path": {"regex": "/v[0-9]+/.*"}, "headers": {"x-r": {"regex": "x|y"}}},
                "to": "v2",
            },
            {"split": {"v1": 90, "v2": 10}},
        ],
    )


def test_header_and_path_matches_keep_the_specs_string_semantics(tmp_path: Path) -> None:
    objects, report = linkerd(ab_spec(tmp_path))
    rules = find(objects, "HTTPRoute", "web-http")["spec"]["rules"]
    assert rules[0]["matches"] == [
        {
            "headers": [
                {"name": "x-beta", "type": "Exact", "value": "1"},
                # Prefixes are string prefixes, and regexes match the whole value, as on Istio.
                {"name": "x-group", "type": "RegularExpression", "value": r"^a\.b.*"},
            ]
        }
    ]
    assert rules[1]["matches"] == [{"path": {"type": "RegularExpression", "value": "^/api.*"}}]
    assert rules[2]["matches"] == [
        {
            "path": {"type": "RegularExpression", "value": "^(?:/v[0-9]+/.*)$"},
            "headers": [{"name": "x-r", "type": "RegularExpression", "value": "^(?:x|y)$"}],
        }
    ]
    assert "matches" not in rules[3]
    assert_valid(objects, gateway_channel="linkerd")
    assert_valid(objects)
    paths = {p.path for p in report.warnings}
    assert paths == {"spec.services[0].routes[0].name", "spec.services[0].routes"}


def test_matches_are_an_error_in_smi_mode_unless_lossy(tmp_path: Path) -> None:
    spec = ab_spec(tmp_path)
    with pytest.raises(SpecError) as exc:
        linkerd(spec, "smi")
    errors = {p.path for p in exc.value.problems if p.level == "error"}
    assert errors == {
        "spec.services[0].routes[0].match.headers.x-beta",
        "spec.services[0].routes[0].match.headers.x-group",
        "spec.services[0].routes[1].match.path",
        "spec.services[0].routes[2].match.path",
        "spec.services[0].routes[2].match.headers.x-r",
    }
    objects, report = linkerd(spec, "smi", lossy=True)
    backends = find(objects, "TrafficSplit", "web-split")["spec"]["backends"]
    assert backends == [{"service": "web-v1", "weight": 90}, {"service": "web-v2", "weight": 10}]
    assert all(
        "follow the split of spec.services[0].routes[3]" in p.message
        for p in report.warnings
        if ".match." in p.path
    )


# --- retries, timeouts, circuit breaking ---------------------------------------------------


def annotations_of(objects: list[dict[str, Any]], name: str = "web") -> dict[str, str]:
    meta: dict[str, str] = find(objects, "Service", name)["metadata"]["annotations"]
    return {k: v for k, v in meta.items() if "linkerd.io/" in k}


def test_retries_and_timeouts_are_linkerd_annotations_on_the_apex_service(tmp_path: Path) -> None:
    spec = spec_with(
        tmp_path,
        timeout="1m30s",
        retries={
            "attempts": 3,
            "perTryTimeout": "1.5s",
            "retryOn": ["gateway-error", "retriable-4xx", "5xx"],
        },
    )
    objects, report = linkerd(spec)
    assert annotations_of(objects) == {
        "timeout.linkerd.io/request": "90s",  # one number and one unit, as Linkerd parses them
        "retry.linkerd.io/http": "gateway-error,409,5xx",
        "retry.linkerd.io/limit": "3",
        "retry.linkerd.io/timeout": "1500ms",
    }
    assert annotations_of(objects, "web-v1") == {}
    assert report.problems == []


def test_retry_on_defaults_to_5xx(tmp_path: Path) -> None:
    objects, _ = linkerd(spec_with(tmp_path, retries={"attempts": 1}))
    assert annotations_of(objects) == {
        "retry.linkerd.io/http": "5xx",
        "retry.linkerd.io/limit": "1",
    }


def test_zero_attempts_render_no_retry_because_linkerd_reads_limit_0_as_unset(
    tmp_path: Path,
) -> None:
    objects, _ = linkerd(spec_with(tmp_path, retries={"attempts": 0, "perTryTimeout": "2s"}))
    assert annotations_of(objects) == {"timeout.linkerd.io/response": "2s"}


def test_connection_failure_retries_are_unsupported(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, retries={"attempts": 2, "retryOn": ["5xx", "reset"]})
    with pytest.raises(SpecError, match=r"retryOn\[1\]: not supported on linkerd"):
        linkerd(spec)
    objects, _ = linkerd(spec, lossy=True)
    assert annotations_of(objects)["retry.linkerd.io/http"] == "5xx"


def test_a_sub_millisecond_duration_is_rounded_loudly(tmp_path: Path) -> None:
    objects, report = linkerd(spec_with(tmp_path, timeout="2500us"))
    assert annotations_of(objects) == {"timeout.linkerd.io/request": "3ms"}
    assert [p.path for p in report.warnings] == ["spec.services[0].timeout"]


def test_outlier_detection_becomes_consecutive_failure_accrual(tmp_path: Path) -> None:
    spec = spec_with(
        tmp_path,
        outlierDetection={"consecutive5xxErrors": 4, "baseEjectionTime": "45s", "interval": "5s"},
    )
    objects, report = linkerd(spec)
    assert annotations_of(objects) == {
        "balancer.linkerd.io/failure-accrual": "consecutive",
        "balancer.linkerd.io/failure-accrual-consecutive-max-failures": "4",
        "balancer.linkerd.io/failure-accrual-consecutive-min-penalty": "45s",
    }
    assert {p.path: p.level for p in report.problems} == {
        "spec.services[0].outlierDetection.baseEjectionTime": "warning",
        "spec.services[0].outlierDetection.interval": "warning",
    }


def test_max_ejection_percent_and_connection_limits_are_errors(tmp_path: Path) -> None:
    spec = spec_with(
        tmp_path,
        outlierDetection={"maxEjectionPercent": 50},
        connectionPool={"maxConnections": 10, "http2MaxRequests": 5},
    )
    with pytest.raises(SpecError) as exc:
        linkerd(spec)
    assert {p.path for p in exc.value.problems} == {
        "spec.services[0].outlierDetection.maxEjectionPercent",
        "spec.services[0].connectionPool.maxConnections",
        "spec.services[0].connectionPool.http2MaxRequests",
    }


def test_smi_mode_puts_timeout_and_budgeted_retries_in_a_service_profile(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, timeout="3s", retries={"attempts": 2})
    objects, report = linkerd(spec, "smi")
    profile = find(objects, "ServiceProfile", "web.mesh-demo.svc.cluster.local")
    assert profile["spec"] == {
        "routes": [
            {
                "name": "all",
                "condition": {"pathRegex": ".*"},
                "timeout": "3s",
                "isRetryable": True,
                # the spec's default condition, 5xx, spelled out
                "responseClasses": [
                    {"condition": {"status": {"min": 500, "max": 599}}, "isFailure": True}
                ],
            }
        ],
        "retryBudget": {"retryRatio": 2.0, "minRetriesPerSecond": 10, "ttl": "10s"},
    }
    assert annotations_of(objects) == {}
    (warning,) = report.problems
    assert warning.level == "warning" and warning.path == "spec.services[0].retries.attempts"
    assert "retryBudget.retryRatio 2.0" in warning.message


def test_smi_mode_cannot_circuit_break_a_split_service(tmp_path: Path) -> None:
    # linkerd-smi turns the TrafficSplit into a ServiceProfile, and Linkerd ignores
    # failure accrual on a Service that has one.
    spec = spec_with(tmp_path, outlierDetection={"consecutive5xxErrors": 4})
    with pytest.raises(SpecError, match="consecutive5xxErrors: not supported on linkerd .smi."):
        linkerd(spec, "smi")
    data = quickstart()
    data["spec"]["provider"] = "linkerd"
    svc = data["spec"]["services"][0]
    svc.clear()
    svc.update(
        name="api",
        namespace="mesh-demo",
        selector={"app": "api"},
        ports=[{"name": "http", "port": 80, "targetPort": 80}],
        outlierDetection={"consecutive5xxErrors": 4},
    )
    objects, report = linkerd(write_spec(tmp_path, data), "smi")
    assert annotations_of(objects, "api")["balancer.linkerd.io/failure-accrual"] == "consecutive"
    assert report.problems == []


# --- authorization -----------------------------------------------------------------------


def test_allow_rules_become_servers_with_mesh_tls_authorization(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"].update(provider="linkerd", trustDomain="corp.example")
    data["spec"]["admission"]["allowedNamespaces"] = ["mesh-demo", "ops"]
    svc = data["spec"]["services"][0]
    svc["ports"] = [
        {"name": "http", "port": 80, "targetPort": "web"},
        {"name": "admin", "port": 9000, "targetPort": 9000, "protocol": "grpc"},
    ]
    svc["allow"] = [
        {"fromNamespaces": ["mesh-demo"], "ports": [80]},
        {"fromServiceAccounts": ["ops/admin"]},
    ]
    objects, report = linkerd(write_spec(tmp_path, data), lossy=True)
    http, admin = find(objects, "Server", "web-http"), find(objects, "Server", "web-admin")
    assert http["spec"] == {
        "podSelector": {"matchLabels": {"app": "web"}},
        "port": "web",
        "accessPolicy": "deny",
    }
    assert admin["spec"]["port"] == 9000 and admin["spec"]["proxyProtocol"] == "gRPC"
    assert find(objects, "MeshTLSAuthentication", "web-http")["spec"]["identities"] == [
        "*.mesh-demo.serviceaccount.identity.linkerd.corp.example",
        "admin.ops.serviceaccount.identity.linkerd.corp.example",
    ]
    # The namespace rule is limited to port 80, so the admin port admits the service account only.
    assert find(objects, "MeshTLSAuthentication", "web-admin")["spec"]["identities"] == [
        "admin.ops.serviceaccount.identity.linkerd.corp.example",
    ]
    policy = find(objects, "AuthorizationPolicy", "web-admin")["spec"]
    assert policy["targetRef"] == {
        "group": "policy.linkerd.io",
        "kind": "Server",
        "name": "web-admin",
    }
    assert policy["requiredAuthenticationRefs"] == [
        {"group": "policy.linkerd.io", "kind": "MeshTLSAuthentication", "name": "web-admin"}
    ]
    # A named targetPort needs no number on Linkerd: Server.port takes the name.
    assert not any(
        "namedTargetPort" in p.message or p.path.endswith(".ports") for p in report.problems
    )


def test_a_port_no_rule_opens_gets_a_server_and_no_policy(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"]["provider"] = "linkerd"
    svc = data["spec"]["services"][0]
    svc["ports"].append({"name": "metrics", "port": 9090, "targetPort": 9090})
    objects, _ = linkerd(write_spec(tmp_path, data), lossy=True)
    find(objects, "Server", "web-metrics")
    policy = {"AuthorizationPolicy", "MeshTLSAuthentication"}
    assert not [
        o for o in objects if o["metadata"]["name"] == "web-metrics" and o["kind"] in policy
    ]
    assert find(objects, "AuthorizationPolicy", "web-http")


def test_a_version_service_may_not_shadow_a_declared_service(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"]["provider"] = "linkerd"
    web = data["spec"]["services"][0]
    data["spec"]["services"].append({**web, "name": "web-v1", "versions": [], "routes": []})
    with pytest.raises(SpecError, match="versions.0..name: the Service of version 'v1' would be"):
        linkerd(write_spec(tmp_path, data), lossy=True)


def test_provider_override_marks_namespaces_for_linkerd() -> None:
    objects, _ = linkerd(EXAMPLES / "quickstart" / "mesh.yaml", lossy=True)  # spec.provider: istio
    meta = find(objects, "Namespace", "mesh-demo")["metadata"]
    assert meta["annotations"]["linkerd.io/inject"] == "enabled"
    assert "istio-injection" not in meta["labels"]


def test_spec_provider_linkerd_selects_this_target() -> None:
    objects, report = render(load_mesh(str(L5D)), RenderOptions())
    assert report.target == "linkerd"
    assert "linkerd.io/inject" in find(objects, "Namespace", "l5d-demo")["metadata"]["annotations"]
