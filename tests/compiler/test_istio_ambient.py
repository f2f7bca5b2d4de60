"""Istio's ambient data plane (spec.dataplane) and Gateway API routing (--istio-routing).

Ambient: namespaces labelled istio.io/dataplane-mode=ambient, never istio-injection; a
waypoint (Gateway, class istio-waypoint) only where L7 features need one, named by the
Service's istio.io/use-waypoint label; every AuthorizationPolicy either L4-only with a
selector (ztunnel) or attached to a Service whose rendered waypoint enforces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.examples import EXAMPLE_NAMES, Target, render_example
from support.schemas import assert_valid
from support.specs import quickstart, write_spec

Obj = dict[str, Any]
AMBIENT = Target("istio", "ambient")
GATEWAY_API = Target("istio", "gateway-api")
# What ztunnel can enforce of an AuthorizationPolicy rule (istio/ztunnel src/rbac.rs reads
# source principals, namespaces and IP blocks, and destination ports and IPs); anything
# else is L7, and ztunnel denies what such a rule would allow.
L4_SOURCE = {
    "principals",
    "notPrincipals",
    "namespaces",
    "notNamespaces",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
}
L4_OPERATION = {"ports", "notPorts"}


def by_key(objects: list[Obj]) -> dict[tuple[str, str, str], Obj]:
    return {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects
    }


def render_data(tmp_path: Path, data: dict[str, Any], **options: str) -> list[Obj]:
    objects, _ = render(
        load_mesh(str(write_spec(tmp_path, data))), RenderOptions.of(allow_lossy=True, **options)
    )
    return objects


def ambient_quickstart() -> dict[str, Any]:
    data = quickstart()
    data["spec"]["dataplane"] = "ambient"
    return data


# --- namespaces -------------------------------------------------------------------------


def test_an_ambient_namespace_is_enrolled_and_never_labelled_for_injection(tmp_path: Path) -> None:
    ns = by_key(render_data(tmp_path, ambient_quickstart()))[("Namespace", "", "mesh-demo")]
    labels = ns["metadata"]["labels"]
    assert labels["istio.io/dataplane-mode"] == "ambient"
    assert "istio-injection" not in labels
    assert "istio.io/rev" not in labels


def test_namespaces_migrate_one_at_a_time(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"]["namespaces"] = [{"name": "mesh-demo", "dataplane": "ambient"}, {"name": "old"}]
    data["spec"]["admission"]["allowedNamespaces"] = ["mesh-demo", "old"]
    svc = data["spec"]["services"][0]
    data["spec"]["services"].append({**svc, "namespace": "old"})
    objects = by_key(render_data(tmp_path, data))
    assert objects[("Namespace", "", "old")]["metadata"]["labels"]["istio-injection"] == "enabled"
    assert ("VirtualService", "old", "web") in objects
    assert ("VirtualService", "mesh-demo", "web") not in objects
    assert ("HTTPRoute", "mesh-demo", "web-http") in objects
    assert ("Gateway", "mesh-demo", "waypoint") in objects
    assert ("Gateway", "old", "waypoint") not in objects


def test_a_revision_names_the_waypoints_control_plane_not_the_namespaces(tmp_path: Path) -> None:
    data = ambient_quickstart()
    data["spec"]["revision"] = "canary"
    objects = by_key(render_data(tmp_path, data))
    assert "istio.io/rev" not in objects[("Namespace", "", "mesh-demo")]["metadata"]["labels"]
    waypoint = objects[("Gateway", "mesh-demo", "waypoint")]
    assert waypoint["metadata"]["labels"]["istio.io/rev"] == "canary"


# --- waypoints --------------------------------------------------------------------------


def test_the_waypoint_is_istioctls_and_comes_before_the_service_that_uses_it(
    tmp_path: Path,
) -> None:
    objects = by_key(render_data(tmp_path, ambient_quickstart()))
    waypoint = objects[("Gateway", "mesh-demo", "waypoint")]
    assert waypoint["spec"] == {
        "gatewayClassName": "istio-waypoint",
        "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}],
    }
    assert waypoint["metadata"]["labels"]["istio.io/waypoint-for"] == "service"
    service = objects[("Service", "mesh-demo", "web")]
    assert service["metadata"]["labels"]["istio.io/use-waypoint"] == "waypoint"
    wave = "argocd.argoproj.io/sync-wave"
    assert int(waypoint["metadata"]["annotations"][wave]) < int(
        service["metadata"]["annotations"][wave]
    )


def test_a_service_with_only_l4_rules_gets_no_waypoint(tmp_path: Path) -> None:
    data = ambient_quickstart()
    svc = data["spec"]["services"][0]
    for key in ("versions", "routes", "timeout", "retries", "connectionPool", "outlierDetection"):
        svc.pop(key)
    objects = by_key(render_data(tmp_path, data))
    assert not [k for k in objects if k[0] == "Gateway"]
    assert (
        "istio.io/use-waypoint"
        not in objects[("Service", "mesh-demo", "web")]["metadata"]["labels"]
    )
    policy = objects[("AuthorizationPolicy", "mesh-demo", "web-allow")]
    assert policy["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    # ztunnel sees the workload port, as a sidecar does.
    assert policy["spec"]["rules"][0]["to"] == [{"operation": {"ports": ["5678"]}}]


@pytest.mark.parametrize(
    "feature",
    [
        {"timeout": "1s"},
        {"retries": {"attempts": 1}},
        {"connectionPool": {"maxConnections": 5}},
        {"outlierDetection": {"consecutive5xxErrors": 3}},
    ],
)
def test_each_l7_feature_alone_brings_a_waypoint(tmp_path: Path, feature: dict[str, Any]) -> None:
    data = ambient_quickstart()
    svc = data["spec"]["services"][0]
    for key in ("versions", "routes", "timeout", "retries", "connectionPool", "outlierDetection"):
        svc.pop(key)
    svc.update(feature)
    assert ("Gateway", "mesh-demo", "waypoint") in by_key(render_data(tmp_path, data))


def test_one_waypoint_per_service_when_the_spec_asks(tmp_path: Path) -> None:
    data = ambient_quickstart()
    data["spec"]["istio"] = {"waypoints": "service"}
    objects = by_key(render_data(tmp_path, data))
    assert ("Gateway", "mesh-demo", "web-waypoint") in objects
    assert ("Gateway", "mesh-demo", "waypoint") not in objects
    service = objects[("Service", "mesh-demo", "web")]
    assert service["metadata"]["labels"]["istio.io/use-waypoint"] == "web-waypoint"
    l4 = objects[("AuthorizationPolicy", "mesh-demo", "web-allow-l4")]
    assert l4["spec"]["rules"][0]["from"][0]["source"]["principals"] == [
        "cluster.local/ns/mesh-demo/sa/web-waypoint"
    ]


def test_allow_rules_move_to_the_waypoint_and_ztunnel_admits_only_the_waypoint(
    tmp_path: Path,
) -> None:
    objects = by_key(render_data(tmp_path, ambient_quickstart()))
    at_waypoint = objects[("AuthorizationPolicy", "mesh-demo", "web-allow")]["spec"]
    assert at_waypoint["targetRefs"] == [{"group": "", "kind": "Service", "name": "web"}]
    assert "selector" not in at_waypoint
    # The waypoint matches the Service port, not the workload's.
    assert at_waypoint["rules"] == [
        {
            "from": [{"source": {"namespaces": ["mesh-demo"]}}],
            "to": [{"operation": {"ports": ["80"]}}],
        }
    ]
    at_ztunnel = objects[("AuthorizationPolicy", "mesh-demo", "web-allow-l4")]["spec"]
    assert at_ztunnel == {
        "selector": {"matchLabels": {"app": "web"}},
        "action": "ALLOW",
        "rules": [
            {"from": [{"source": {"principals": ["cluster.local/ns/mesh-demo/sa/waypoint"]}}]}
        ],
    }


def _l4_only(rule: Obj) -> bool:
    return (
        all(set(f.get("source", {})) <= L4_SOURCE for f in rule.get("from", []))
        and all(set(t.get("operation", {})) <= L4_OPERATION for t in rule.get("to", []))
        and not rule.get("when")
    )


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_policy_is_l4_with_a_selector_or_attached_to_a_rendered_waypoint(name: str) -> None:
    objects = render_example(name, AMBIENT)
    keyed = by_key(objects)
    waypoints = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects
        if o["kind"] == "Gateway" and o["spec"].get("gatewayClassName") == "istio-waypoint"
    }
    for policy in (o for o in objects if o["kind"] == "AuthorizationPolicy"):
        spec, ns = policy["spec"], policy["metadata"]["namespace"]
        if "targetRefs" in spec:
            assert "selector" not in spec
            for ref in spec["targetRefs"]:
                assert (ref["group"], ref["kind"]) == ("", "Service"), policy
                service = keyed[("Service", ns, ref["name"])]
                waypoint = service["metadata"]["labels"]["istio.io/use-waypoint"]
                assert (ns, waypoint) in waypoints, f"{policy['metadata']['name']}: no waypoint"
        else:
            assert spec["selector"]["matchLabels"], policy
            assert all(_l4_only(r) for r in spec["rules"]), policy


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
@pytest.mark.parametrize("target", [AMBIENT, GATEWAY_API], ids=lambda t: t.id)
def test_every_example_validates_against_the_upstream_crds(name: str, target: Target) -> None:
    assert_valid(render_example(name, target), gateway_channel="standard")


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_no_virtual_service_routes_the_mesh_in_ambient(name: str) -> None:
    # An HTTPRoute wins over a VirtualService for the same service; meshc renders one API.
    for obj in render_example(name, AMBIENT):
        if obj["kind"] == "VirtualService":
            assert obj["spec"].get("gateways") and "mesh" not in obj["spec"]["gateways"], obj


# --- lossless or loud -------------------------------------------------------------------


def test_a_rate_limit_is_refused_in_ambient_even_when_envoyfilters_are_asked(
    tmp_path: Path,
) -> None:
    data = ambient_quickstart()
    data["spec"]["services"][0]["rateLimit"] = {"requestsPerSecond": 10}
    spec = write_spec(tmp_path, data)
    with pytest.raises(SpecError) as raised:
        render(load_mesh(str(spec)), RenderOptions.of(istio_rate_limit="envoyfilter"))
    [problem] = [p for p in raised.value.problems if p.level == "error"]
    assert problem.path == "spec.services[0].rateLimit.requestsPerSecond"
    assert "not supported on istio (ambient)" in problem.message
    assert problem.line > 0 and problem.column > 0


def test_the_apps_own_service_behind_a_waypoint_is_an_error_naming_the_label(
    tmp_path: Path,
) -> None:
    data = ambient_quickstart()
    data["spec"]["services"][0]["service"] = {"manage": False}
    with pytest.raises(SpecError) as raised:
        render(load_mesh(str(write_spec(tmp_path, data))), RenderOptions())
    assert any("istio.io/use-waypoint: waypoint" in p.message for p in raised.value.problems)


def test_a_service_named_like_the_waypoint_is_an_error(tmp_path: Path) -> None:
    data = ambient_quickstart()
    other = {**data["spec"]["services"][0], "name": "waypoint"}
    for key in ("versions", "routes"):
        other.pop(key)
    data["spec"]["services"].append(other)
    with pytest.raises(SpecError, match="waypoint of namespace 'mesh-demo' is named"):
        render(load_mesh(str(write_spec(tmp_path, data))), RenderOptions(allow_lossy=True))


@pytest.mark.parametrize("field", ["spec.dataplane", "spec.namespaces[0].dataplane"])
@pytest.mark.parametrize("provider", ["linkerd", "kuma"])
def test_ambient_is_a_spec_error_on_other_meshes_with_its_position(
    tmp_path: Path, field: str, provider: str
) -> None:
    data = quickstart()
    data["spec"]["provider"] = provider
    if field == "spec.dataplane":
        data["spec"]["dataplane"] = "ambient"
    else:
        data["spec"]["namespaces"][0]["dataplane"] = "ambient"
    spec = write_spec(tmp_path, data)
    with pytest.raises(SpecError) as raised:
        load_mesh(str(spec))
    [problem] = [p for p in raised.value.problems if p.path == field]
    assert "has no ambient data plane" in problem.message
    line = next(
        i for i, text in enumerate(spec.read_text().splitlines(), 1) if "dataplane:" in text
    )
    assert (problem.file, problem.line) == (str(spec), line)
    assert problem.column > 0


def test_sidecar_is_accepted_on_every_mesh(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"]["provider"] = "linkerd"
    data["spec"]["dataplane"] = "sidecar"
    assert load_mesh(str(write_spec(tmp_path, data))).dataplane == "sidecar"


def test_an_ambient_spec_rendered_for_linkerd_is_loud(tmp_path: Path) -> None:
    mesh = load_mesh(str(write_spec(tmp_path, ambient_quickstart())))
    with pytest.raises(SpecError) as raised:
        render(mesh, RenderOptions(), "linkerd")
    assert any(
        p.path == "spec.dataplane" and "no ambient data plane" in p.message
        for p in raised.value.problems
    )


# --- Gateway API routing on sidecars ----------------------------------------------------


def test_gateway_api_routing_renders_httproutes_and_a_service_per_version(tmp_path: Path) -> None:
    objects = by_key(render_data(tmp_path, quickstart(), istio_routing="gateway-api"))
    assert not [k for k in objects if k[0] == "VirtualService"]
    route = objects[("HTTPRoute", "mesh-demo", "web-http")]["spec"]
    assert route["parentRefs"] == [{"group": "", "kind": "Service", "name": "web", "port": 80}]
    assert [(b["name"], b["weight"]) for b in route["rules"][0]["backendRefs"]] == [
        ("web-v1", 90),
        ("web-v2", 10),
    ]
    assert route["rules"][0]["timeouts"] == {"request": "3s"}
    assert objects[("Service", "mesh-demo", "web-v1")]["spec"]["selector"] == {
        "app": "web",
        "version": "v1",
    }
    # The traffic policy follows each version's Service (an HTTPRoute has no subsets).
    assert (
        objects[("DestinationRule", "mesh-demo", "web-v1")]["spec"]["host"]
        == "web-v1.mesh-demo.svc.cluster.local"
    )
    # Sidecars stay: injection as before, and no waypoint.
    assert (
        objects[("Namespace", "", "mesh-demo")]["metadata"]["labels"]["istio-injection"]
        == "enabled"
    )
    assert not [k for k in objects if k[0] == "Gateway"]


def test_the_spec_chooses_gateway_api_routing_and_the_command_line_wins(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"]["istio"] = {"routing": "gateway-api"}
    kinds = {k[0] for k in by_key(render_data(tmp_path, data))}
    assert "HTTPRoute" in kinds and "VirtualService" not in kinds
    kinds = {k[0] for k in by_key(render_data(tmp_path, data, istio_routing="virtualservice"))}
    assert "VirtualService" in kinds and "HTTPRoute" not in kinds


def test_retries_in_gateway_api_mode_are_warned_about_not_dropped_silently(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, quickstart())
    _, report = render(load_mesh(str(spec)), RenderOptions.of(istio_routing="gateway-api"))
    paths = {p.path for p in report.warnings}
    assert {"spec.services[0].retries.attempts", "spec.services[0].retries.perTryTimeout"} <= paths


def test_fault_injection_is_refused_with_gateway_api_routing(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"]["services"][0]["routes"] = [
        {"split": {"v1": 100}, "fault": {"delay": {"fixed": "1s", "percent": 10}}}
    ]
    with pytest.raises(SpecError, match="not supported on istio \\(gateway-api\\)"):
        render(
            load_mesh(str(write_spec(tmp_path, data))),
            RenderOptions.of(istio_routing="gateway-api"),
        )
