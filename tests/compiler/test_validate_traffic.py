"""Traffic management, ingress, egress, rate limits and telemetry in a spec: every rule
across fields, with the field's line and column, all problems at once."""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshc.compiler.capabilities import columns
from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.specs import write_spec

BASE = yaml.safe_load("""
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: shop}
spec:
  provider: istio
  namespaces: [{name: shop}, {name: front}]
  services:
    - name: web
      namespace: shop
      selector: {app: web}
      ports:
        - {name: http, port: 80, targetPort: 8080}
        - {name: rpc, port: 90, targetPort: 9090, protocol: grpc}
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
      routes:
        - match: {path: {prefix: /a}}
          to: v2
        - to: v1
    - name: other
      namespace: shop
      selector: {app: other}
      ports:
        - {name: http, port: 8000, targetPort: 8000}
        - {name: admin, port: 8001, targetPort: 8001}
    - name: cache
      namespace: shop
      selector: {app: cache}
      ports: [{name: redis, port: 6379, targetPort: 6379, protocol: tcp}]
      versions: [{name: a, labels: {track: a}}, {name: b, labels: {track: b}}]
  ingress:
    - name: edge
      namespace: shop
      gateway: {namespace: istio-system, serviceAccount: ingress}
      listeners: [{name: http, port: 80, protocol: HTTP, hosts: ["*"]}]
      routes:
        - backend: {service: web, port: 80}
  egress:
    hosts:
      - host: api.example.com
        ports: [{port: 443, protocol: tls}]
  telemetry:
    - {name: logs, namespace: shop, accessLogging: {enabled: true}}
""")


def problems(tmp_path: Path, edit: Callable[[dict[str, Any]], Any]) -> list[str]:
    data = copy.deepcopy(BASE)
    edit(data)
    spec = write_spec(tmp_path, data)
    with pytest.raises(SpecError) as info:
        load_mesh(str(spec))
    return [p.format().replace(str(spec), "mesh.yaml") for p in info.value.problems]


def web(d: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = d["spec"]["services"][0]
    return result


def route(d: dict[str, Any], i: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = web(d)["routes"][i]
    return result


def ingress_route(d: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = d["spec"]["ingress"][0]["routes"][0]
    return result


def test_the_base_spec_is_valid(tmp_path: Path) -> None:
    mesh = load_mesh(str(write_spec(tmp_path, BASE)))
    backend = mesh.ingress[0].routes[0].backend
    assert backend is not None and (backend.namespace, backend.port) == ("shop", 80)
    assert mesh.egress[0].host == "api.example.com"


def test_an_ingress_backend_with_one_port_needs_none(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    web(data)["ports"].pop(1)
    ingress_route(data)["backend"] = {"service": "web", "namespace": "shop"}
    backend = load_mesh(str(write_spec(tmp_path, data))).ingress[0].routes[0].backend
    assert backend is not None and backend.port == 80


RULES: list[tuple[Callable[[dict[str, Any]], Any], str, str]] = [
    (
        lambda d: route(d).update(matches=[{"path": {"exact": "/b"}}]),
        "spec.services[0].routes[0].matches",
        "give match or matches, not both",
    ),
    (
        lambda d: route(d).update(match={}),
        "spec.services[0].routes[0].match",
        "an empty match takes every request",
    ),
    (
        lambda d: route(d)["match"].update(grpc={"service": "a.B"}),
        "spec.services[0].routes[0].match.grpc",
        "give path or grpc, not both",
    ),
    (
        lambda d: route(d).update(redirect={"path": "/x"}),
        "spec.services[0].routes[0].to",
        "to has no effect beside redirect",
    ),
    (
        lambda d: (route(d).pop("to"), route(d).update(redirect={"statusCode": 302})),
        "spec.services[0].routes[0].redirect",
        "give path, host, scheme or port",
    ),
    (
        lambda d: route(d).pop("to"),
        "spec.services[0].routes[0]",
        ("a route needs split (weights per version), to (one version) or redirect"),
    ),
    (
        lambda d: route(d).update(fault={}),
        "spec.services[0].routes[0].fault",
        "give delay, abort or both",
    ),
    (
        lambda d: route(d).update(fault={"abort": {"httpStatus": 500, "grpcStatus": "INTERNAL"}}),
        "spec.services[0].routes[0].fault.abort",
        "give exactly one of httpStatus or grpcStatus",
    ),
    (
        lambda d: route(d).update(fault={"abort": {"httpStatus": 500, "percent": 0.125}}),
        "spec.services[0].routes[0].fault.abort.percent",
        "0.125 has more than 2 decimals",
    ),
    (
        lambda d: route(d).update(fault={"delay": {"fixed": "100us"}}),
        "spec.services[0].routes[0].fault.delay.fixed",
        "shorter than 1ms",
    ),
    (
        lambda d: route(d).update(timeout="10us"),
        "spec.services[0].routes[0].timeout",
        "shorter than 1ms",
    ),
    (
        lambda d: route(d).update(mirror={"to": "v1", "service": "other"}),
        "spec.services[0].routes[0].mirror",
        "give exactly one of to (a version) or service",
    ),
    (
        lambda d: route(d).update(mirror={"to": "v3"}),
        "spec.services[0].routes[0].mirror.to",
        "names version 'v3', which is not declared in versions",
    ),
    (
        lambda d: route(d).update(mirror={"to": "v2", "port": 80}),
        "spec.services[0].routes[0].mirror.port",
        "port goes with service, not with to",
    ),
    (
        lambda d: route(d).update(mirror={"service": "ghost"}),
        "spec.services[0].routes[0].mirror.service",
        "shop/ghost is not a service of the spec",
    ),
    (
        lambda d: route(d).update(mirror={"service": "web"}),
        "spec.services[0].routes[0].mirror.service",
        "mirrors the service to itself",
    ),
    (
        lambda d: route(d).update(mirror={"service": "other"}),
        "spec.services[0].routes[0].mirror",
        "shop/other has ports 8000, 8001: give port",
    ),
    (
        lambda d: route(d).update(mirror={"service": "other", "port": 80}),
        "spec.services[0].routes[0].mirror.port",
        "port 80 is not a port of shop/other",
    ),
    (
        lambda d: (web(d)["ports"].pop(1), route(d).update(match={"grpc": {"service": "a.B"}})),
        "spec.services[0].routes[0].match.grpc",
        ("matches a gRPC method, but no port of this service has protocol grpc or http2"),
    ),
    (
        lambda d: (
            web(d)["ports"].pop(1),
            web(d).update(retries={"attempts": 1, "retryOn": ["unavailable"]}),
        ),
        "spec.services[0].retries.retryOn",
        "retries on gRPC statuses, but no port",
    ),
    (
        lambda d: d["spec"]["services"][2].update(
            routes=[{"match": {"path": {"exact": "/"}}, "to": "a"}, {"to": "b"}]
        ),
        "spec.services[2].routes[0].match",
        "a tcp route can only split connections",
    ),
    (
        lambda d: d["spec"]["services"][2].update(rateLimit={"requestsPerSecond": 5}),
        "spec.services[2].rateLimit",
        ("limits HTTP requests, but every port of this service has protocol tcp"),
    ),
    (
        lambda d: web(d).update(rateLimit={}),
        "spec.services[0].rateLimit",
        "give requestsPerSecond, perCallerRequestsPerSecond or both",
    ),
    (
        lambda d: d["spec"]["ingress"][0].update(namespace="back"),
        "spec.ingress[0].namespace",
        "'back' is not a meshed namespace",
    ),
    (
        lambda d: d["spec"]["ingress"][0]["listeners"][0].update(protocol="HTTPS"),
        "spec.ingress[0].listeners[0]",
        "an HTTPS listener needs tls.secretName",
    ),
    (
        lambda d: d["spec"]["ingress"][0]["listeners"][0].update(tls={"secretName": "cert"}),
        "spec.ingress[0].listeners[0].tls",
        "an HTTP listener does not terminate TLS",
    ),
    (
        lambda d: d["spec"]["ingress"][0]["listeners"].append(
            {"name": "http", "port": 80, "protocol": "HTTP", "hosts": ["a.example"]}
        ),
        "spec.ingress[0].listeners[1].port",
        "duplicate listener port 80",
    ),
    (
        lambda d: ingress_route(d)["backend"].update(service="ghost"),
        "spec.ingress[0].routes[0].backend.service",
        "shop/ghost is not a service of the spec",
    ),
    (
        lambda d: (
            ingress_route(d)["backend"].update(service="other", port=None)
            or ingress_route(d)["backend"].pop("port")
        ),
        "spec.ingress[0].routes[0].backend",
        "shop/other has ports 8000, 8001: give port",
    ),
    (
        lambda d: ingress_route(d).update(backend={"service": "cache"}),
        "spec.ingress[0].routes[0].backend",
        "port 6379 of shop/cache has protocol tcp",
    ),
    (
        lambda d: ingress_route(d).update(redirect={"path": "/x"}),
        "spec.ingress[0].routes[0].backend",
        "give redirect or backend, not both",
    ),
    (
        lambda d: ingress_route(d).pop("backend"),
        "spec.ingress[0].routes[0]",
        "a route needs a backend (a service) or a redirect",
    ),
    (
        lambda d: d["spec"]["ingress"][0]["routes"].append(
            {"backend": {"service": "web", "port": 90}}
        ),
        "spec.ingress[0].routes[0]",
        ("a route without match takes every request, so it must be the last route"),
    ),
    (
        lambda d: d["spec"]["egress"]["hosts"].append(
            copy.deepcopy(d["spec"]["egress"]["hosts"][0])
        ),
        "spec.egress.hosts[1].host",
        "duplicate host 'api.example.com'",
    ),
    (
        lambda d: d["spec"]["telemetry"][0].update(namespace="back"),
        "spec.telemetry[0].namespace",
        "'back' is not a meshed namespace",
    ),
    (
        lambda d: d["spec"]["telemetry"].append(
            {"name": "more", "namespace": "shop", "metrics": {"enabled": False}}
        ),
        "spec.telemetry[1].namespace",
        "duplicate namespace-wide telemetry for namespace 'shop'",
    ),
    (
        lambda d: d["spec"]["telemetry"][0].pop("accessLogging"),
        "spec.telemetry[0]",
        "give tracing, accessLogging or metrics",
    ),
    (
        lambda d: d["spec"]["telemetry"][0].update(tracing={"samplingPercent": 1.001}),
        "spec.telemetry[0].tracing.samplingPercent",
        "1.001 has more than 2 decimals",
    ),
    (
        lambda d: route(d).update(fault={"abort": {"grpcStatus": "BROKEN"}}),
        "spec.services[0].routes[0].fault.abort.grpcStatus",
        "'BROKEN' is not one of OK, CANCELLED",
    ),
    (
        lambda d: route(d).update(mirror={"to": "v2", "share": 5}),
        "spec.services[0].routes[0].mirror.share",
        "unknown field 'share'",
    ),
]


@pytest.mark.parametrize(
    ("edit", "path", "message"), RULES, ids=[f"{i}:{r[1]}" for i, r in enumerate(RULES)]
)
def test_rule(
    tmp_path: Path, edit: Callable[[dict[str, Any]], Any], path: str, message: str
) -> None:
    found = problems(tmp_path, edit)
    assert [f for f in found if f" {path}: " in f and message in f], found


def test_an_ingress_gateways_identity_needs_no_allowed_namespace(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    web(data)["allow"] = [{"fromServiceAccounts": ["istio-system/ingress"]}]
    load_mesh(str(write_spec(tmp_path, data)))  # no problem: the gateway is declared


def test_an_undeclared_gateways_namespace_points_to_spec_ingress(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        lambda d: web(d).update(
            allow=[
                {"fromNamespaces": ["istio-system"]},
                {"fromServiceAccounts": ["istio-system/other-gateway"]},
            ]
        ),
    )
    assert len(found) == 2
    assert all("declare it in spec.ingress[].gateway instead" in f for f in found), found


def test_every_problem_is_reported_at_once_with_its_line_and_column(tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        apiVersion: meshc.io/v1alpha1
        kind: Mesh
        metadata: {name: shop}
        spec:
          provider: istio
          namespaces: [{name: shop}]
          services:
            - name: web
              namespace: shop
              selector: {app: web}
              ports: [{name: http, port: 80, targetPort: 8080}]
              versions: [{name: v1, labels: {version: v1}}]
              routes:
                - match: {path: {exact: /x}}
                  redirect: {statusCode: 301}
                  mirror: {to: v9}
                - to: v1
                  fault: {delay: {fixed: 1s, percent: 0.333}}
          egress:
            hosts:
              - {host: a.example, ports: [{port: 1, protocol: http}, {port: 1, protocol: tls}]}
        """)
    spec = write_spec(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_mesh(str(spec))
    assert [p.format().replace(str(spec), "mesh.yaml") for p in info.value.problems] == [
        (
            "mesh.yaml:15:21: spec.services[0].routes[0].redirect: give path, host, scheme or port: "
            "a redirect to the same URL loops"
        ),
        (
            "mesh.yaml:16:11: spec.services[0].routes[0].mirror: a redirect route answers the request "
            "itself; mirror has no effect beside redirect"
        ),
        (
            "mesh.yaml:16:24: spec.services[0].routes[0].mirror.to: names version 'v9', which is not "
            "declared in versions"
        ),
        (
            "mesh.yaml:18:47: spec.services[0].routes[1].fault.delay.percent: 0.333 has more than 2 "
            "decimals; every mesh can express a hundredth of a percent, not less"
        ),
        (
            "mesh.yaml:21:69: spec.egress.hosts[0].ports[1].port: duplicate port 1 (first at "
            "spec.egress.hosts[0].ports[0])"
        ),
    ]


# --- broken input ---------------------------------------------------------------------------
EXAMPLE = yaml.safe_load(
    (Path(__file__).parents[2] / "examples" / "traffic-policies" / "mesh.yaml").read_text(
        encoding="utf-8"
    )
)
EXAMPLE["spec"].update(
    copy.deepcopy({k: BASE["spec"][k] for k in ("ingress", "egress", "telemetry")})
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


PATHS = [p for p in _paths(EXAMPLE) if p]
JUNK = st.sampled_from([None, 0, -1, 1.5, "", "x", True, [], [1], {}, {"a": 1}, [{}], {"x": []}])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS), JUNK), min_size=1, max_size=3))
def test_any_value_anywhere_is_a_problem_with_a_position_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[tuple[Any, ...], Any]]
) -> None:
    data = copy.deepcopy(EXAMPLE)
    for path, junk in edits:
        node: Any = data
        for part in path[:-1]:
            if (
                isinstance(node, dict)
                and part in node
                or isinstance(node, list)
                and isinstance(part, int)
                and part < len(node)
            ):
                node = node[part]
            else:
                break
        else:
            if isinstance(node, (dict, list)):
                try:
                    node[path[-1]] = copy.deepcopy(junk)
                except (IndexError, TypeError):
                    pass
    spec = write_spec(tmp_path_factory.mktemp("junk"), data)
    try:
        mesh = load_mesh(str(spec))
    except SpecError as exc:
        assert exc.problems
        assert all(p.file == str(spec) for p in exc.problems)
        return
    # What validation admits, every target renders or refuses with problems.
    for target, mode in columns():
        choices = {f"{target}-routing": mode} if mode != "default" else {}
        try:
            render(mesh, RenderOptions(choices, allow_lossy=True), target)
        except SpecError as exc:
            assert exc.problems
