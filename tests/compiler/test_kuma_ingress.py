"""spec.ingress on Kuma: the builtin gateway (MeshGatewayInstance, MeshGateway, and
MeshHTTPRoutes in kuma-system), what it admits, and what is loud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, Report, render
from support.kuma_gateway import check_gateway_rules, is_gateway_object
from support.schemas import assert_valid
from support.specs import quickstart, write_spec

Obj = dict[str, Any]


def spec(tmp_path: Path, *, web_ports: list[Obj] | None = None, **entry: Any) -> Path:
    """The quickstart on Kuma with one ingress to web (every key of ``entry`` replaces the
    entry's)."""
    data = quickstart()
    data["spec"]["provider"] = "kuma"
    web = data["spec"]["services"][0]
    for key in ("routes", "versions", "timeout", "retries", "connectionPool", "outlierDetection"):
        web.pop(key, None)
    web["retries"] = {"attempts": 0}
    web["allow"] = [{"fromNamespaces": ["mesh-demo"]}]
    if web_ports is not None:
        web["ports"] = web_ports
    data["spec"]["ingress"] = [
        {
            "name": "edge",
            "namespace": "mesh-demo",
            "gateway": {"namespace": "edge-system", "serviceAccount": "edge-gw"},
            "listeners": [{"name": "web", "port": 8080, "protocol": "HTTP", "hosts": ["*"]}],
            "routes": [{"backend": {"service": "web"}}],
            **entry,
        }
    ]
    return write_spec(tmp_path, data)


def kuma(path: Path, *, lossy: bool = False) -> tuple[list[Obj], Report]:
    return render(load_mesh(str(path)), RenderOptions.of(allow_lossy=lossy), "kuma")


def only(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def gateway_objects(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["apiVersion"].startswith("kuma.io/") and is_gateway_object(o)]


def test_an_ingress_is_a_gateway_instance_a_mesh_gateway_and_its_routes(tmp_path: Path) -> None:
    objects, report = kuma(spec(tmp_path))
    assert [p for p in report.problems if p.path.startswith("spec.ingress")] == []
    (instance,) = only(objects, "MeshGatewayInstance")
    assert instance["metadata"]["namespace"] == "edge-system"
    assert instance["metadata"]["name"] == "edge"
    assert instance["metadata"]["labels"]["kuma.io/mesh"] == "default"
    assert instance["spec"] == {
        "replicas": 1,
        "serviceType": "LoadBalancer",
        "podTemplate": {"spec": {"serviceAccountName": "edge-gw"}},
    }
    (gateway,) = only(objects, "MeshGateway")
    assert gateway["metadata"]["name"] == "edge-mesh-demo"
    assert gateway["mesh"] == "default"
    # kuma-cp gives the instance's proxies <name>_<namespace>_svc (util.ServiceTag).
    assert gateway["spec"]["selectors"] == [{"match": {"kuma.io/service": "edge_edge-system_svc"}}]
    assert gateway["spec"]["conf"]["listeners"] == [
        {"port": 8080, "protocol": "HTTP", "hostname": "*", "tags": {"meshc.io/listener": "web"}}
    ]
    (route,) = [
        o for o in only(objects, "MeshHTTPRoute") if o["metadata"]["namespace"] == "kuma-system"
    ]
    assert route["spec"] == {
        "targetRef": {"kind": "MeshGateway", "name": "edge-mesh-demo"},
        "to": [
            {
                "targetRef": {"kind": "Mesh"},
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "default": {
                            "backendRefs": [
                                {
                                    "kind": "MeshService",
                                    "name": "web",
                                    "namespace": "mesh-demo",
                                    "port": 80,
                                }
                            ]
                        },
                    }
                ],
            }
        ],
    }
    for obj in gateway_objects(objects):
        check_gateway_rules(obj, objects)
    assert_valid(objects)


def test_the_backends_permission_admits_the_gateways_service_tag_before_the_deny(
    tmp_path: Path,
) -> None:
    objects, _ = kuma(spec(tmp_path))
    (permission,) = only(objects, "MeshTrafficPermission")
    assert [f["targetRef"] for f in permission["spec"]["from"]] == [
        {"kind": "MeshSubset", "tags": {"k8s.kuma.io/namespace": "mesh-demo"}},
        {"kind": "MeshSubset", "tags": {"kuma.io/service": "edge_edge-system_svc"}},
        {"kind": "Mesh"},
    ]
    assert [f["default"]["action"] for f in permission["spec"]["from"]] == [
        "Allow",
        "Allow",
        "Deny",
    ]


def test_a_gateway_routing_to_some_ports_only_is_admitted_on_every_port_with_a_warning(
    tmp_path: Path,
) -> None:
    ports = [
        {"name": "http", "port": 80, "targetPort": 5678},
        {"name": "admin", "port": 81, "targetPort": 5679},
    ]
    routes = [{"backend": {"service": "web", "port": 80}}]
    _, report = kuma(spec(tmp_path, web_ports=ports, routes=routes))
    (problem,) = [p for p in report.problems if p.path == "spec.services[0].allow"]
    assert problem.level == "warning"
    assert "edge_edge-system_svc" in problem.message and "every port" in problem.message


def test_each_host_of_a_listener_is_a_kuma_listener_of_its_own(tmp_path: Path) -> None:
    listeners = [
        {"name": "web", "port": 8080, "protocol": "HTTP", "hosts": ["a.example", "b.example"]}
    ]
    objects, _ = kuma(spec(tmp_path, listeners=listeners))
    (gateway,) = only(objects, "MeshGateway")
    assert [
        (x["port"], x["hostname"], x["tags"]) for x in gateway["spec"]["conf"]["listeners"]
    ] == [
        (8080, "a.example", {"meshc.io/listener": "web"}),
        (8080, "b.example", {"meshc.io/listener": "web"}),
    ]


def test_a_route_with_a_timeout_has_a_route_and_a_mesh_timeout_of_its_own(tmp_path: Path) -> None:
    routes = [
        {"match": {"path": {"exact": "/slow"}}, "backend": {"service": "web"}, "timeout": "30s"},
        {"backend": {"service": "web"}},
    ]
    objects, _ = kuma(spec(tmp_path, routes=routes))
    names = sorted(
        o["metadata"]["name"]
        for o in only(objects, "MeshHTTPRoute")
        if o["metadata"]["namespace"] == "kuma-system"
    )
    assert names == ["edge-mesh-demo", "edge-mesh-demo-route-0"]
    (timeout,) = only(objects, "MeshTimeout")
    assert timeout["metadata"]["namespace"] == "kuma-system"
    assert timeout["spec"] == {
        "targetRef": {"kind": "MeshHTTPRoute", "name": "edge-mesh-demo-route-0"},
        "to": [{"targetRef": {"kind": "Mesh"}, "default": {"http": {"requestTimeout": "30s"}}}],
    }
    for obj in gateway_objects(objects):
        check_gateway_rules(obj, objects)


def test_header_changes_rewrites_and_redirects_are_mesh_http_route_filters(
    tmp_path: Path,
) -> None:
    routes = [
        {
            "match": {"path": {"exact": "/old"}},
            "redirect": {"path": "/new", "statusCode": 308},
        },
        {
            "backend": {"service": "web"},
            "headers": {"request": {"set": {"X-Edge": "yes"}}},
            "rewrite": {"host": "web.internal"},
        },
    ]
    objects, report = kuma(spec(tmp_path, routes=routes))
    (route,) = [
        o for o in only(objects, "MeshHTTPRoute") if o["metadata"]["namespace"] == "kuma-system"
    ]
    redirect, rewrite = route["spec"]["to"][0]["rules"]
    assert redirect["default"] == {
        "filters": [
            {
                "type": "RequestRedirect",
                "requestRedirect": {
                    "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"},
                    "statusCode": 308,
                },
            }
        ]
    }
    assert [f["type"] for f in rewrite["default"]["filters"]] == [
        "RequestHeaderModifier",
        "URLRewrite",
    ]
    assert rewrite["default"]["filters"][0]["requestHeaderModifier"] == {
        "set": [{"name": "x-edge", "value": "yes"}]
    }
    # Overlapping rules: Kuma orders them by specificity, which is reported.
    (order,) = [p for p in report.problems if p.path == "spec.ingress[0].routes"]
    assert order.level == "warning"
    assert_valid(objects)


def test_a_tls_listener_is_an_error_without_allow_lossy_since_kuma_reads_its_own_secrets(
    tmp_path: Path,
) -> None:
    listeners = [
        {
            "name": "secure",
            "port": 8443,
            "protocol": "HTTPS",
            "hosts": ["edge.example"],
            "tls": {"secretName": "edge-cert"},
        }
    ]
    path = spec(tmp_path, listeners=listeners)
    with pytest.raises(SpecError) as caught:
        kuma(path)
    (error,) = [p for p in caught.value.problems if "tls" in p.path]
    assert error.path == "spec.ingress[0].listeners[0].tls.secretName"
    assert "system.kuma.io/secret" in error.message and "--allow-lossy" in error.message
    objects, report = kuma(path, lossy=True)
    (warning,) = [p for p in report.problems if "tls" in p.path]
    assert warning.level == "warning"
    (gateway,) = only(objects, "MeshGateway")
    assert gateway["spec"]["conf"]["listeners"][0]["tls"] == {
        "mode": "TERMINATE",
        "certificates": [{"secret": "edge-cert"}],
    }


def test_another_mesh_is_named_on_the_gateways_objects(tmp_path: Path) -> None:
    path = spec(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "  provider: kuma\n", "  provider: kuma\n  kuma: {mesh: payments}\n"
        ),
        encoding="utf-8",
    )
    objects, _ = kuma(path)
    (gateway,) = only(objects, "MeshGateway")
    assert gateway["mesh"] == "payments"
    for obj in gateway_objects(objects):
        assert obj["metadata"]["labels"]["kuma.io/mesh"] == "payments", obj["kind"]


def test_the_gateways_namespace_is_not_made_a_meshed_namespace(tmp_path: Path) -> None:
    # kuma-cp reads the Mesh from the MeshGatewayInstance's own label and builds the
    # gateway's Dataplane from its pods' kuma.io/gateway annotation: no namespace label.
    objects, _ = kuma(spec(tmp_path))
    assert [o["metadata"]["name"] for o in only(objects, "Namespace")] == ["mesh-demo"]
