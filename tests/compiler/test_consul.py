"""The Consul target (consul-k8s v2.0.3, Consul CE): every example, lossless or loud."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.serialize import dump_all
from meshc.compiler.targets import RenderOptions, Report, render
from meshc.policies.mutation import with_pod_markers
from meshc.providers.consul import PROFILE
from support.golden import GOLDEN, assert_golden
from support.schemas import assert_valid
from support.specs import example_specs, quickstart, write_spec


def consul(spec: Path | str, *, lossy: bool = False) -> tuple[list[dict[str, Any]], Report]:
    return render(load_mesh(str(spec)), RenderOptions.of(allow_lossy=lossy), "consul")


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, got {len(matches)}"
    return matches[0]


def spec_with(tmp_path: Path, mesh: dict[str, Any] | None = None, **service: Any) -> Path:
    data = quickstart()
    data["spec"]["provider"] = "consul"
    data["spec"].update(mesh or {})
    svc = data["spec"]["services"][0]
    for key in ("timeout", "retries", "connectionPool", "outlierDetection", "allow"):
        svc.pop(key, None)
    svc.update(service)
    return write_spec(tmp_path, data)


# --- mTLS and enrolment ------------------------------------------------------------------


def test_the_mesh_refuses_permissive_and_every_service_is_strict(tmp_path: Path) -> None:
    objects, _ = consul(spec_with(tmp_path))
    assert find(objects, "Mesh", "mesh")["spec"] == {"allowEnablingPermissiveMutualTLS": False}
    assert find(objects, "ServiceDefaults", "web")["spec"]["mutualTLSMode"] == "strict"
    permissive, _ = consul(spec_with(tmp_path, {"mtls": "PERMISSIVE"}))
    assert find(permissive, "Mesh", "mesh")["spec"] == {"allowEnablingPermissiveMutualTLS": True}
    assert find(permissive, "ServiceDefaults", "web")["spec"]["mutualTLSMode"] == "permissive"


def test_namespaces_turn_transparent_proxy_on_and_pods_are_enrolled_by_annotation(
    tmp_path: Path,
) -> None:
    objects, _ = consul(spec_with(tmp_path))
    labels = find(objects, "Namespace", "mesh-demo")["metadata"]["labels"]
    assert labels["consul.hashicorp.com/transparent-proxy"] == "true"
    pod = {"metadata": {"labels": {"app": "web", "version": "v2"}}, "spec": {}}
    marked = with_pod_markers(
        pod, "mesh-demo", PROFILE.pod_markers(load_mesh(str(spec_with(tmp_path))))
    )
    assert marked["metadata"]["annotations"] == {
        "consul.hashicorp.com/connect-inject": "true",
        "consul.hashicorp.com/kubernetes-service": "web",
        "consul.hashicorp.com/connect-service-port": "5678",
        "consul.hashicorp.com/service-meta-version": "v2",
    }


def test_a_pods_own_injection_choice_is_kept_for_the_policies_to_judge(tmp_path: Path) -> None:
    markers = PROFILE.pod_markers(load_mesh(str(spec_with(tmp_path))))
    pod = {
        "metadata": {
            "labels": {"app": "web"},
            "annotations": {"consul.hashicorp.com/connect-inject": "false"},
        }
    }
    marked = with_pod_markers(pod, "mesh-demo", markers)
    assert marked["metadata"]["annotations"]["consul.hashicorp.com/connect-inject"] == "false"
    elsewhere = with_pod_markers({"metadata": {"labels": {"app": "web"}}}, "tools", markers)
    assert "annotations" not in elsewhere["metadata"]


# A subset filter as the subsets write it: Service.Meta["k"] == "v" and ...
_TERM = re.compile(r'Service\.Meta\["([^"]+)"\] == "([^"]*)"')


def selects(filter_: str, meta: dict[str, str]) -> bool:
    terms = filter_.split(" and ")
    assert all(_TERM.fullmatch(t) for t in terms), filter_
    return all(meta.get(m[1]) == m[2] for m in (_TERM.fullmatch(t) for t in terms) if m)


@pytest.mark.parametrize("spec", example_specs(), ids=lambda p: p.parent.name)
def test_each_subset_selects_exactly_the_pods_of_its_version_once_marked(spec: Path) -> None:
    mesh = load_mesh(str(spec))
    objects, _ = render(mesh, RenderOptions.of(allow_lossy=True), "consul")
    markers = PROFILE.pod_markers(mesh)
    for svc in mesh.services:
        if not svc.versions:
            continue
        subsets = find(objects, "ServiceResolver", svc.name)["spec"]["subsets"]
        for version in svc.versions:
            pod = {"metadata": {"labels": {**svc.selector, **version.labels}}}
            annotations = with_pod_markers(pod, svc.namespace, markers)["metadata"]["annotations"]
            # consul-k8s copies service-meta-<key> annotations into Service.Meta, and no label.
            meta = {
                k.removeprefix("consul.hashicorp.com/service-meta-"): v
                for k, v in annotations.items()
                if k.startswith("consul.hashicorp.com/service-meta-")
            }
            chosen = {name for name, s in subsets.items() if selects(s["filter"], meta)}
            assert chosen == {version.name}, (svc.name, version.name, chosen)


# --- routing -------------------------------------------------------------------------------


def test_retries_always_name_their_conditions_and_no_resolver_carries_a_timeout(
    tmp_path: Path,
) -> None:
    objects, _ = consul(spec_with(tmp_path, timeout="3s", retries={"attempts": 2}))
    (route,) = find(objects, "ServiceRouter", "web")["spec"]["routes"]
    assert route["destination"]["numRetries"] == 2
    # numRetries alone leaves Envoy's retry_on empty: a retry policy that retries nothing.
    # Without retryOn the spec retries on 5xx.
    assert route["destination"]["retryOn"] == ["5xx"]
    assert "retryOnStatusCodes" not in route["destination"]
    assert route["destination"]["requestTimeout"] == "3s"
    assert "requestTimeout" not in find(objects, "ServiceResolver", "web")["spec"]


def test_a_per_try_timeout_is_an_error_without_allow_lossy(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, retries={"attempts": 2, "perTryTimeout": "1s"})
    with pytest.raises(SpecError, match="perTryTimeout"):
        consul(spec)
    _, report = consul(spec, lossy=True)
    assert any("perTryTimeout" in w.format() for w in report.warnings)


def routes_of(objects: list[dict[str, Any]], name: str = "web") -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = find(objects, "ServiceRouter", name)["spec"]["routes"]
    return routes


def problems(report: Report) -> str:
    return "\n".join(p.format() for p in report.problems)


def assert_loud(spec: Path, field: str, why: str) -> Report:
    """An error naming the field without --allow-lossy, a warning with it."""
    with pytest.raises(SpecError) as raised:
        consul(spec)
    errors = [p.format() for p in raised.value.problems if p.path == field]
    assert errors and all(why in e for e in errors), raised.value.problems
    _, report = consul(spec, lossy=True)
    assert [w for w in report.warnings if w.path == field and why in w.message], problems(report)
    return report


def test_a_route_with_several_matches_is_one_router_route_per_match_in_order(
    tmp_path: Path,
) -> None:
    spec = spec_with(
        tmp_path,
        routes=[
            {
                "matches": [
                    {"path": {"prefix": "/beta"}},
                    {"headers": {"x-beta": {"exact": "1"}}},
                ],
                "to": "v2",
            },
            {"match": {"path": {"exact": "/old"}}, "split": {"v1": 50, "v2": 50}},
            {"to": "v1"},
        ],
    )
    objects, report = consul(spec)
    assert report.problems == []
    assert [(r["match"]["http"], r["destination"]) for r in routes_of(objects)] == [
        ({"pathPrefix": "/beta"}, {"serviceSubset": "v2"}),
        ({"header": [{"name": "x-beta", "exact": "1"}]}, {"serviceSubset": "v2"}),
        ({"pathExact": "/old"}, {"service": "web--route-1"}),
    ]
    splits = find(objects, "ServiceSplitter", "web--route-1")["spec"]["splits"]
    assert splits == [
        {"weight": 50, "service": "web", "serviceSubset": "v1"},
        {"weight": 50, "service": "web", "serviceSubset": "v2"},
    ]


def grpc_ports(first: str = "grpc") -> list[dict[str, Any]]:
    return [{"name": "rpc", "port": 9090, "targetPort": 9090, "protocol": first}]


def test_a_grpc_method_is_its_http2_path_on_a_grpc_chain(tmp_path: Path) -> None:
    spec = spec_with(
        tmp_path,
        ports=grpc_ports(),
        routes=[
            {"match": {"grpc": {"service": "shop.v1.Cart", "method": "Add"}}, "to": "v2"},
            {"match": {"grpc": {"service": "shop.v1.Admin"}}, "to": "v2"},
            {"to": "v1"},
        ],
    )
    objects, _ = consul(spec)
    assert find(objects, "ServiceDefaults", "web")["spec"]["protocol"] == "grpc"
    assert [r["match"]["http"] for r in routes_of(objects)] == [
        {"pathExact": "/shop.v1.Cart/Add"},
        {"pathPrefix": "/shop.v1.Admin/"},
    ]


def test_a_grpc_match_where_consul_registers_an_http_port_is_an_error(tmp_path: Path) -> None:
    http_first = [
        {"name": "http", "port": 80, "targetPort": 8080},
        *grpc_ports(),
    ]
    spec = spec_with(
        tmp_path,
        ports=http_first,
        routes=[{"match": {"grpc": {"service": "shop.v1.Cart"}}, "to": "v2"}, {"to": "v1"}],
    )
    with pytest.raises(SpecError, match=r"routes\[0\]\.match\.grpc: Consul gives a service"):
        consul(spec, lossy=True)


def test_a_routes_timeout_and_retries_replace_the_services_for_that_route_only(
    tmp_path: Path,
) -> None:
    spec = spec_with(
        tmp_path,
        timeout="10s",
        retries={"attempts": 2, "retryOn": ["5xx"]},
        routes=[
            {
                "match": {"path": {"prefix": "/pay"}},
                "to": "v2",
                "timeout": "2s",
                "retries": {"attempts": 4, "retryOn": ["gateway-error", "reset"]},
            },
            {"match": {"path": {"prefix": "/once"}}, "to": "v2", "retries": {"attempts": 0}},
            {"to": "v1"},
        ],
    )
    objects, report = consul(spec)
    assert report.problems == []
    pay, once, rest = (r["destination"] for r in routes_of(objects))
    assert pay == {
        "serviceSubset": "v2",
        "requestTimeout": "2s",
        "numRetries": 4,
        "retryOn": ["gateway-error", "reset"],
    }
    # attempts 0: no retry field at all (retryOn alone would make Envoy retry once).
    assert once == {"serviceSubset": "v2", "requestTimeout": "10s"}
    assert rest == {"requestTimeout": "10s", "numRetries": 2, "retryOn": ["5xx"]}


def test_grpc_statuses_are_consul_retry_conditions(tmp_path: Path) -> None:
    spec = spec_with(
        tmp_path,
        ports=grpc_ports(),
        retries={"attempts": 1, "retryOn": ["unavailable", "resource-exhausted"]},
        routes=[
            {
                "match": {"grpc": {"service": "shop.v1.Cart"}},
                "to": "v2",
                "retries": {"attempts": 3, "retryOn": ["cancelled", "deadline-exceeded"]},
            },
            {"to": "v1"},
        ],
    )
    objects, report = consul(spec)
    assert report.problems == []
    cart, rest = (r["destination"] for r in routes_of(objects))
    assert cart["retryOn"] == ["cancelled", "deadline-exceeded"]
    assert rest["retryOn"] == ["unavailable", "resource-exhausted"]


def test_a_per_try_timeout_of_a_route_is_loud(tmp_path: Path) -> None:
    spec = spec_with(
        tmp_path,
        routes=[
            {
                "match": {"path": {"prefix": "/pay"}},
                "to": "v2",
                "retries": {"attempts": 2, "perTryTimeout": "1s"},
            },
            {"to": "v1"},
        ],
    )
    assert_loud(spec, "spec.services[0].routes[0].retries.perTryTimeout", "one timeout")


def test_header_changes_are_the_destinations_request_and_response_headers(
    tmp_path: Path,
) -> None:
    spec = spec_with(
        tmp_path,
        routes=[
            {
                "match": {"path": {"prefix": "/a"}},
                "to": "v2",
                "headers": {
                    "request": {"set": {"x-route": "a"}, "add": {"x-tag": "100%"}},
                    "response": {"remove": ["server"]},
                },
            },
            {"to": "v1", "headers": {"request": {"set": {"x-route": "default"}}}},
        ],
    )
    objects, report = consul(spec)
    assert report.problems == []
    a, default = routes_of(objects)
    # set overwrites and add appends in Envoy (routes.go, makeHeadersValueOptions); % is
    # escaped so that Envoy reads the value as a literal, not as a command.
    assert a["destination"]["requestHeaders"] == {
        "add": {"x-tag": "100%%"},
        "set": {"x-route": "a"},
    }
    assert a["destination"]["responseHeaders"] == {"remove": ["server"]}
    # The default route's changes ride on the router's catch-all, to the service's splitter.
    assert default == {
        "match": {"http": {"pathPrefix": "/"}},
        "destination": {"requestHeaders": {"set": {"x-route": "default"}}},
    }


def test_a_change_of_the_host_header_is_loud(tmp_path: Path) -> None:
    spec = spec_with(
        tmp_path,
        routes=[
            {"to": "v1", "headers": {"request": {"set": {"Host": "a.example", "x-a": "1"}}}},
        ],
    )
    assert_loud(spec, "spec.services[0].routes[0].headers.request.set.Host", "Envoy refuses")
    objects, _ = consul(spec, lossy=True)
    assert routes_of(objects)[0]["destination"] == {"requestHeaders": {"set": {"x-a": "1"}}}


def test_a_path_rewrite_after_a_prefix_or_an_exact_path_is_a_prefix_rewrite(
    tmp_path: Path,
) -> None:
    spec = spec_with(
        tmp_path,
        ports=grpc_ports("http2"),
        routes=[
            {
                "matches": [
                    {"path": {"prefix": "/legacy/"}},
                    {"path": {"exact": "/old"}},
                    {"grpc": {"service": "shop.v1.Cart", "method": "Add"}},
                ],
                "to": "v1",
                "rewrite": {"path": "/v2/"},
            },
            {"to": "v2"},
        ],
    )
    objects, report = consul(spec)
    assert report.problems == []
    assert [r["destination"]["prefixRewrite"] for r in routes_of(objects)] == ["/v2/"] * 3


@pytest.mark.parametrize(
    "match",
    [
        {"headers": {"x-old": {"exact": "1"}}},
        {"path": {"regex": "/old/[0-9]+"}},
        {"grpc": {"service": "shop.v1.Cart"}},
        {"path": {"prefix": ""}},
        {"path": {"exact": "old"}},
    ],
    ids=["headers", "regex", "grpc-service", "empty-prefix", "relative-exact"],
)
def test_a_path_rewrite_after_any_other_match_is_loud(
    tmp_path: Path, match: dict[str, Any]
) -> None:
    # The spec replaces the whole path there; prefixRewrite replaces only a matched prefix.
    spec = spec_with(
        tmp_path,
        ports=grpc_ports("http2"),
        routes=[{"match": match, "to": "v1", "rewrite": {"path": "/new"}}, {"to": "v2"}],
    )
    assert_loud(spec, "spec.services[0].routes[0].rewrite.path", "prefixRewrite")
    objects, _ = consul(spec, lossy=True)
    assert "prefixRewrite" not in routes_of(objects)[0]["destination"]


def test_a_path_rewrite_on_the_default_route_and_a_host_rewrite_are_loud(
    tmp_path: Path,
) -> None:
    spec = spec_with(tmp_path, routes=[{"to": "v1", "rewrite": {"path": "/new"}}])
    assert_loud(spec, "spec.services[0].routes[0].rewrite.path", "prefixRewrite")
    spec = spec_with(
        tmp_path,
        routes=[
            {"match": {"path": {"prefix": "/a"}}, "to": "v1", "rewrite": {"host": "a.example"}},
            {"to": "v2"},
        ],
    )
    assert_loud(spec, "spec.services[0].routes[0].rewrite.host", "no host rewrite")


def test_a_rate_limit_is_loud_because_consul_ce_refuses_it(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, rateLimit={"requestsPerSecond": 100})
    assert_loud(spec, "spec.services[0].rateLimit.requestsPerSecond", "validateRatelimit")
    objects, _ = consul(spec, lossy=True)
    assert "rateLimits" not in find(objects, "ServiceDefaults", "web")["spec"]
    per_caller = spec_with(tmp_path, rateLimit={"perCallerRequestsPerSecond": 10})
    assert_loud(
        per_caller,
        "spec.services[0].rateLimit.perCallerRequestsPerSecond",
        "no bucket per caller",
    )


def test_a_redirect_route_is_loud_and_left_out(tmp_path: Path) -> None:
    spec = spec_with(
        tmp_path,
        routes=[
            {"match": {"path": {"prefix": "/old"}}, "redirect": {"path": "/new"}},
            {"match": {"path": {"prefix": "/beta"}}, "to": "v2"},
            {"to": "v1"},
        ],
    )
    assert_loud(spec, "spec.services[0].routes[0].redirect", "has no redirect")
    objects, _ = consul(spec, lossy=True)
    assert [r["match"]["http"] for r in routes_of(objects)] == [{"pathPrefix": "/beta"}]
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceSplitter"} == {"web"}


@pytest.mark.parametrize(
    ("route", "field", "why"),
    [
        ({"fault": {"delay": {"fixed": "5s"}}}, "fault.delay.fixed", "no fault injection"),
        ({"fault": {"abort": {"httpStatus": 503}}}, "fault.abort.httpStatus", "no fault"),
        ({"mirror": {"to": "v2", "percent": 5}}, "mirror", "request_mirror_policies"),
    ],
    ids=["delay", "abort", "mirror"],
)
def test_faults_and_mirrors_are_loud(
    tmp_path: Path, route: dict[str, Any], field: str, why: str
) -> None:
    spec = spec_with(tmp_path, routes=[{"to": "v1", **route}])
    assert_loud(spec, f"spec.services[0].routes[0].{field}", why)


def test_limits_go_into_the_callers_service_defaults(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"]["provider"] = "consul"
    web = data["spec"]["services"][0]
    for key in ("timeout", "retries", "outlierDetection"):
        web.pop(key, None)
    web["connectionPool"] = {"maxConnections": 10}
    web["allow"] = [{"fromServiceAccounts": ["mesh-demo/client"]}]
    data["spec"]["services"].append(
        {
            "name": "client",
            "namespace": "mesh-demo",
            "selector": {"app": "client"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "http"}],
        }
    )
    objects, _ = consul(write_spec(tmp_path, data), lossy=True)
    client = find(objects, "ServiceDefaults", "client")["spec"]
    assert client["upstreamConfig"]["overrides"] == [
        {"name": "web", "limits": {"maxConnections": 10}}
    ]
    assert "upstreamConfig" not in find(objects, "ServiceDefaults", "web")["spec"]
    intentions = find(objects, "ServiceIntentions", "web")["spec"]["sources"]
    assert intentions == [{"name": "client", "action": "allow"}, {"name": "*", "action": "deny"}]


def test_two_services_of_one_name_are_an_error(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"]["provider"] = "consul"
    data["spec"]["namespaces"].append({"name": "other"})
    other = dict(data["spec"]["services"][0], namespace="other")
    for key in ("allow", "connectionPool", "outlierDetection"):
        other.pop(key, None)
    data["spec"]["services"].append(other)
    with pytest.raises(SpecError, match="Consul CE has no namespaces"):
        consul(write_spec(tmp_path, data), lossy=True)


# --- every example ---------------------------------------------------------------------------


def _render_example(spec: Path) -> tuple[list[dict[str, Any]], str]:
    mesh = load_mesh(str(spec))
    header = ""
    try:
        objects, report = render(mesh, RenderOptions(), "consul")
    except SpecError as exc:
        header = "# fails without --allow-lossy:\n" + "".join(
            f"#   {p.format()}\n" for p in exc.problems
        )
        objects, report = render(mesh, RenderOptions(allow_lossy=True), "consul")
    header += "".join(f"# {p.format()}\n" for p in report.warnings if not header)
    return objects, header + dump_all(objects)


@pytest.mark.parametrize("spec", example_specs(), ids=lambda p: p.parent.name)
def test_example_golden(spec: Path) -> None:
    _, text = _render_example(spec)
    assert_golden(GOLDEN / spec.parent.name / "consul.yaml", text)


@pytest.mark.parametrize("spec", example_specs(), ids=lambda p: p.parent.name)
def test_every_object_validates_against_consuls_crds(spec: Path) -> None:
    objects, _ = _render_example(spec)
    assert {o["kind"] for o in objects} >= {"Mesh", "Namespace", "Service", "ServiceDefaults"}
    assert_valid(objects)


# --- egress ------------------------------------------------------------------------------

EGRESS = {
    "egress": {
        "hosts": [
            {"host": "api.stripe.com", "ports": [{"port": 443, "protocol": "tls"}]},
            {"host": "httpbin.org", "ports": [{"port": 80, "protocol": "http"}]},
        ]
    }
}


def test_each_egress_host_and_port_is_a_destination_behind_the_terminating_gateway(
    tmp_path: Path,
) -> None:
    objects, report = consul(spec_with(tmp_path, EGRESS))
    # tls: a tcp destination, which the caller's listener matches by SNI and port; http:
    # an http one, matched by port and Host header.
    assert find(objects, "ServiceDefaults", "egress-api.stripe.com-443")["spec"] == {
        "protocol": "tcp",
        "destination": {"addresses": ["api.stripe.com"], "port": 443},
    }
    assert find(objects, "ServiceDefaults", "egress-httpbin.org-80")["spec"] == {
        "protocol": "http",
        "destination": {"addresses": ["httpbin.org"], "port": 80},
    }
    # The gateway the chart deploys lists every destination: their only endpoints.
    assert find(objects, "TerminatingGateway", "terminating-gateway")["spec"] == {
        "services": [{"name": "egress-api.stripe.com-443"}, {"name": "egress-httpbin.org-80"}]
    }
    # No other host: the outbound listener loses its catch-all to the original destination.
    assert find(objects, "Mesh", "mesh")["spec"] == {
        "allowEnablingPermissiveMutualTLS": False,
        "transparentProxy": {"meshDestinationsOnly": True},
    }
    (warning,) = [p for p in report.warnings if p.path == "spec.egress"]
    assert "terminating-gateway" in warning.message and "approximated" in warning.message
    assert_valid(objects)


def test_a_destination_is_reached_only_by_the_services_its_intentions_allow(
    tmp_path: Path,
) -> None:
    # A transparent proxy gets an upstream for a destination only when intentions allow its
    # service there (IntentionTopology over destinations); under a default-allow cluster
    # the explicit deny keeps every other service out.
    objects, _ = consul(spec_with(tmp_path, EGRESS))
    declared = sorted(s["name"] for s in quickstart()["spec"]["services"])
    for name in ("egress-api.stripe.com-443", "egress-httpbin.org-80"):
        assert find(objects, "ServiceIntentions", name)["spec"] == {
            "destination": {"name": name},
            "sources": [{"name": s, "action": "allow"} for s in declared]
            + [{"name": "*", "action": "deny"}],
        }


def test_without_egress_the_mesh_lets_traffic_leave_as_before(tmp_path: Path) -> None:
    objects, _ = consul(spec_with(tmp_path))
    assert "transparentProxy" not in find(objects, "Mesh", "mesh")["spec"]
    assert not [o for o in objects if o["kind"] == "TerminatingGateway"]


def test_a_destination_named_like_a_declared_service_is_an_error(tmp_path: Path) -> None:
    data = quickstart()
    data["spec"]["provider"] = "consul"
    data["spec"]["services"][0]["name"] = "egress-api-443"
    data["spec"]["egress"] = {
        "hosts": [{"host": "api", "ports": [{"port": 443, "protocol": "tls"}]}]
    }
    with pytest.raises(SpecError) as exc:
        consul(write_spec(tmp_path, data), lossy=True)
    assert any(
        p.path == "spec.egress.hosts[0].host" and "'egress-api-443'" in p.message
        for p in exc.value.problems
    )


# --- ingress: consul-k8s's API gateway ---------------------------------------------------


def ingress_spec(
    tmp_path: Path, *routes: dict[str, Any], service: dict[str, Any] | None = None, **entry: Any
) -> Path:
    """The quickstart's web service (with ``service``'s fields) behind an ingress of the
    given routes (each sent to web unless it is a redirect)."""
    ingress = {
        "name": "edge",
        "namespace": "mesh-demo",
        "gateway": {"namespace": "mesh-demo", "serviceAccount": "edge"},
        "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP", "hosts": ["*"]}],
        "routes": [
            r if "redirect" in r else {"backend": {"service": "web", "port": 80}, **r}
            for r in routes or ({},)
        ],
        **entry,
    }
    return spec_with(
        tmp_path,
        {"ingress": [ingress]},
        allow=[{"fromNamespaces": ["mesh-demo"]}],
        **(service or {}),
    )


def test_an_ingress_is_a_consul_gateway_whose_route_sends_to_the_service(tmp_path: Path) -> None:
    objects, report = consul(
        ingress_spec(tmp_path, {"match": {"path": {"prefix": "/api"}}}), lossy=True
    )
    assert not [p for p in report.problems if "ingress" in p.path]
    gateway = find(objects, "Gateway", "edge")
    assert gateway["spec"]["gatewayClassName"] == "consul"
    assert gateway["spec"]["listeners"] == [
        {
            "name": "http",
            "port": 8080,
            "protocol": "HTTP",
            "allowedRoutes": {"namespaces": {"from": "Same"}},
        }
    ]
    (rule,) = find(objects, "HTTPRoute", "edge")["spec"]["rules"]
    # Consul's PathPrefix is Envoy's string prefix, the spec's meaning: no regex needed.
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"}}]
    assert rule["backendRefs"] == [{"group": "", "kind": "Service", "name": "web", "port": 80}]
    assert_valid(objects)


def test_the_services_an_ingress_routes_to_admit_the_gateways_consul_service(
    tmp_path: Path,
) -> None:
    objects, _ = consul(ingress_spec(tmp_path), lossy=True)
    sources = find(objects, "ServiceIntentions", "web")["spec"]["sources"]
    assert {"name": "edge", "action": "allow"} in sources
    assert sources[-1] == {"name": "*", "action": "deny"}


def test_a_gateway_identity_consul_k8s_does_not_use_is_reported(tmp_path: Path) -> None:
    spec = ingress_spec(
        tmp_path, gateway={"namespace": "gateways", "serviceAccount": "edge", "className": "other"}
    )
    _, report = consul(spec, lossy=True)
    warned = {p.path for p in report.problems if p.level == "warning"}
    assert {"spec.ingress[0].gateway.namespace", "spec.ingress[0].gateway.className"} <= warned


def test_timeouts_and_retries_are_consul_k8s_route_filters(tmp_path: Path) -> None:
    retries = {"attempts": 2, "perTryTimeout": "1s"}
    spec = ingress_spec(tmp_path, {"timeout": "7s"}, service={"retries": retries})
    objects, report = consul(spec, lossy=True)
    (rule,) = find(objects, "HTTPRoute", "edge")["spec"]["rules"]
    refs = [f["extensionRef"] for f in rule["filters"]]
    assert refs == [
        {"group": "consul.hashicorp.com", "kind": "RouteTimeoutFilter", "name": "edge-0"},
        {"group": "consul.hashicorp.com", "kind": "RouteRetryFilter", "name": "edge-0"},
    ]
    assert find(objects, "RouteTimeoutFilter", "edge-0")["spec"] == {"requestTimeout": "7s"}
    # The service's own retries, as its default route would retry.
    assert find(objects, "RouteRetryFilter", "edge-0")["spec"] == {
        "numRetries": 2,
        "retryOn": ["5xx"],
    }
    assert "spec.services[0].retries.perTryTimeout" in {p.path for p in report.problems}
    assert_valid(objects)


def test_a_path_rewrite_after_each_prefix_match_is_its_own_rule(tmp_path: Path) -> None:
    route = {
        "matches": [{"path": {"prefix": "/a"}}, {"path": {"prefix": "/b"}}],
        "rewrite": {"path": "/v2"},
    }
    objects, _ = consul(ingress_spec(tmp_path, route), lossy=True)
    rules = find(objects, "HTTPRoute", "edge")["spec"]["rules"]
    assert [r["matches"] for r in rules] == [
        [{"path": {"type": "PathPrefix", "value": "/a"}}],
        [{"path": {"type": "PathPrefix", "value": "/b"}}],
    ]
    for rule in rules:
        assert rule["filters"][0] == {
            "type": "URLRewrite",
            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}},
        }
    assert_valid(objects)


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ({"match": {"path": {"exact": "/old"}}, "redirect": {"path": "/new"}}, "redirect"),
        ({"match": {"path": {"exact": "/a"}}, "rewrite": {"path": "/b"}}, "rewrite.path"),
        ({"rewrite": {"host": "internal.example"}}, "rewrite.host"),
    ],
    ids=["redirect", "whole-path-rewrite", "host-rewrite"],
)
def test_what_consul_k8s_does_not_translate_is_an_error_without_allow_lossy(
    tmp_path: Path, route: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as raised:
        consul(ingress_spec(tmp_path, route))
    assert f"spec.ingress[0].routes[0].{field}" in str(raised.value)
    objects, report = consul(ingress_spec(tmp_path, route), lossy=True)
    assert f"spec.ingress[0].routes[0].{field}" in {p.path for p in report.problems}
    assert_valid(objects)


def test_a_change_of_the_host_header_at_the_gateway_is_loud(tmp_path: Path) -> None:
    route = {"headers": {"request": {"set": {"host": "x", "x-a": "50%"}}}}
    objects, report = consul(ingress_spec(tmp_path, route), lossy=True)
    (rule,) = find(objects, "HTTPRoute", "edge")["spec"]["rules"]
    assert rule["filters"][0]["requestHeaderModifier"] == {
        "set": [{"name": "x-a", "value": "50%%"}]
    }
    assert "spec.ingress[0].routes[0].headers.request.set.host" in {p.path for p in report.problems}


def test_listeners_with_different_hosts_get_a_route_each(tmp_path: Path) -> None:
    listeners = [
        {"name": "web", "port": 8080, "protocol": "HTTP", "hosts": ["a.example", "b.example"]},
        {"name": "api", "port": 8081, "protocol": "HTTP", "hosts": ["api.example"]},
    ]
    objects, _ = consul(ingress_spec(tmp_path, listeners=listeners), lossy=True)
    gateway = find(objects, "Gateway", "edge")["spec"]["listeners"]
    # One listener a port (consul-k8s refuses a second): several hosts are the route's.
    assert [listener.get("hostname") for listener in gateway] == [None, "api.example"]
    web = find(objects, "HTTPRoute", "edge-web")["spec"]
    assert web["parentRefs"][0]["sectionName"] == "web"
    assert web["hostnames"] == ["a.example", "b.example"]
    assert find(objects, "HTTPRoute", "edge-api")["spec"]["hostnames"] == ["api.example"]
    assert_valid(objects)


def test_a_listener_on_envoys_admin_port_is_an_error(tmp_path: Path) -> None:
    listeners = [{"name": "a", "port": 20000, "protocol": "HTTP", "hosts": ["*"]}]
    with pytest.raises(SpecError, match="admin port"):
        consul(ingress_spec(tmp_path, listeners=listeners), lossy=True)


def test_overlapping_matches_consul_would_reorder_are_reported(tmp_path: Path) -> None:
    routes = (
        {"match": {"path": {"prefix": "/a"}}},
        {"match": {"path": {"prefix": "/a/long"}}},
        {"match": {"path": {"prefix": "/b/longer-still"}}},
    )
    _, report = consul(ingress_spec(tmp_path, *routes), lossy=True)
    # /a/long would take /a's requests first; /b/longer-still shares none of them.
    assert [p.path for p in report.problems if "routes" in p.path] == ["spec.ingress[0].routes[1]"]


@pytest.mark.parametrize("speaks", ["grpc", "http2"])
def test_an_ingress_route_to_a_service_spoken_over_http2_is_an_error_without_allow_lossy(
    tmp_path: Path, speaks: str
) -> None:
    # Consul gives the gateway's upstreams protocol http, so it speaks HTTP/1.1 to them.
    route = {"backend": {"service": "web", "port": 9090}}
    spec = ingress_spec(tmp_path, route, service={"ports": grpc_ports(speaks)})
    with pytest.raises(SpecError, match=r"routes\[0\]\.backend: not supported on consul"):
        consul(spec)
    objects, report = consul(spec, lossy=True)
    (problem,) = [p for p in report.problems if p.path == "spec.ingress[0].routes[0].backend"]
    assert problem.level == "warning"
    assert f"web speaks {speaks}" in problem.message
    assert find(objects, "HTTPRoute", "edge")["spec"]["rules"][0]["backendRefs"][0]["port"] == 9090


def test_an_ingress_route_to_an_http_service_is_not_reported_for_its_protocol(
    tmp_path: Path,
) -> None:
    _, report = consul(ingress_spec(tmp_path), lossy=True)
    assert "spec.ingress[0].routes[0].backend" not in {p.path for p in report.problems}
