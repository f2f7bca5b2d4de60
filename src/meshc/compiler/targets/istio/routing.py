"""A service's routes as a VirtualService: matches, weighted subsets, and what happens to
the requests on the way (timeouts, retries, fault injection, mirroring, header changes,
rewrites, redirects); opaque TCP ports as weighted ``tcp`` routes.

Every field maps one to one onto istio/api networking/v1alpha3/virtual_service.proto;
where Istio's translation matters it is cited (istio/istio pilot/pkg/networking/core/route).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meshc.providers import CLUSTER_DOMAIN

from ...model import Match, Mesh, Retries, Route, Service
from ...model_traffic import Fault, HeaderOps, Headers, Mirror, Redirect, Rewrite
from .. import Report, gives_no_retries, report_retried_by_default


def host(mesh_namespace: str, name: str, namespace: str) -> str:
    """How a VirtualService in ``mesh_namespace`` names a service: short in its own namespace."""
    return name if namespace == mesh_namespace else f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"


def match(m: Match) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m.headers:
        out["headers"] = {h: {s.kind: s.value} for h, s in m.headers}
    if m.path is not None:
        out["uri"] = {m.path.kind: m.path.value}
    elif m.grpc is not None:
        # A gRPC call is an HTTP/2 POST to /<package.Service>/<Method>.
        out["uri"] = {"exact" if m.grpc.method else "prefix": m.grpc.path}
    return out


def retries(r: Retries) -> dict[str, Any]:
    out: dict[str, Any] = {"attempts": r.attempts}
    if r.per_try_timeout:
        out["perTryTimeout"] = r.per_try_timeout
    if r.retry_on:
        out["retryOn"] = ",".join(r.retry_on)
    return out


def _percentage(value: float) -> dict[str, float]:
    return {"value": value}


def fault(f: Fault) -> dict[str, Any]:
    # Percentages are always written: without one Istio delays no request
    # (TranslateFault falls back to the deprecated integer percent, 0).
    out: dict[str, Any] = {}
    if f.delay is not None:
        out["delay"] = {"fixedDelay": f.delay.fixed, "percentage": _percentage(f.delay.percent)}
    if f.abort is not None:
        abort: dict[str, Any] = {}
        if f.abort.http_status is not None:
            abort["httpStatus"] = f.abort.http_status
        else:
            abort["grpcStatus"] = f.abort.grpc_status
        abort["percentage"] = _percentage(f.abort.percent)
        out["abort"] = abort
    return out


def mirror(svc: Service, m: Mirror) -> dict[str, Any]:
    if m.version is not None:
        return {"host": svc.name, "subset": m.version}
    assert m.service is not None and m.namespace is not None
    out: dict[str, Any] = {"host": host(svc.namespace, m.service, m.namespace)}
    if m.port is not None:
        out["port"] = {"number": m.port}
    return out


def _header_ops(ops: HeaderOps) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ops.set:
        out["set"] = dict(ops.set)
    if ops.add:
        out["add"] = dict(ops.add)
    if ops.remove:
        out["remove"] = list(ops.remove)
    return out


def headers(h: Headers) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if h.request is not None:
        out["request"] = _header_ops(h.request)
    if h.response is not None:
        out["response"] = _header_ops(h.response)
    return out


def rewrite(r: Rewrite) -> dict[str, str]:
    # HTTPRewrite.uri replaces the matched prefix after a prefix match and the whole
    # path otherwise, which is the spec's meaning.
    out = {}
    if r.path is not None:
        out["uri"] = r.path
    if r.host is not None:
        out["authority"] = r.host
    return out


def redirect(r: Redirect) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.path is not None:
        out["uri"] = r.path
    if r.host is not None:
        out["authority"] = r.host
    if r.scheme is not None:
        out["scheme"] = r.scheme
    if r.port is not None:
        out["port"] = r.port
    out["redirectCode"] = r.status_code
    return out


def destinations(svc: Service, route: Route | None) -> list[dict[str, Any]]:
    if route is None:
        return [{"destination": {"host": svc.name}}]
    return [
        {"destination": {"host": svc.name, "subset": version}, "weight": weight}
        for version, weight in route.split
    ]


def http_route(svc: Service, route: Route | None) -> dict[str, Any]:
    """One ``http`` entry: the route (None: the service's catch-all) with the service's
    timeout and retries unless the route has its own."""
    http: dict[str, Any] = {}
    if route is not None and route.name:
        http["name"] = route.name
    if route is not None and route.matches:
        http["match"] = [match(m) for m in route.matches]
    if route is not None and route.redirect is not None:
        http["redirect"] = redirect(route.redirect)
        if route.headers is not None:
            http["headers"] = headers(route.headers)
        return http
    http["route"] = destinations(svc, route)
    if route is not None:
        if route.fault is not None:
            http["fault"] = fault(route.fault)
        if route.mirror is not None:
            http["mirror"] = mirror(svc, route.mirror)
            http["mirrorPercentage"] = _percentage(route.mirror.percent)
        if route.headers is not None:
            http["headers"] = headers(route.headers)
        if route.rewrite is not None:
            http["rewrite"] = rewrite(route.rewrite)
    timeout = (route.timeout if route is not None else None) or svc.timeout
    if timeout:
        http["timeout"] = timeout
    policy = (route.retries if route is not None else None) or svc.retries
    if policy is not None:
        http["retries"] = retries(policy)
    return http


def _has_http_ports(svc: Service) -> bool:
    return any(p.protocol != "tcp" for p in svc.ports)


def tcp_routes(svc: Service) -> list[dict[str, Any]]:
    """Weighted ``tcp`` routes for the opaque ports: the default route's split (a connection
    carries no request for another route to match)."""
    default = next((r for r in svc.routes if not r.matches), None)
    if default is None:
        return []
    return [
        {
            "match": [{"port": p.port}],
            "route": [
                {
                    "destination": {
                        "host": svc.name,
                        "subset": version,
                        "port": {"number": p.port},
                    },
                    "weight": weight,
                }
                for version, weight in default.split
            ],
        }
        for p in svc.ports
        if p.protocol == "tcp"
    ]


def virtual_service_spec(svc: Service) -> dict[str, Any] | None:
    """The spec of the service's VirtualService, or None when it needs none."""
    http_needed = _has_http_ports(svc) and (svc.routes or svc.timeout or svc.retries is not None)
    tcp = tcp_routes(svc)
    if not http_needed and not tcp:
        return None
    spec: dict[str, Any] = {"hosts": [svc.name]}
    if http_needed:
        routes: list[Route | None] = list(svc.routes) or [None]
        spec["http"] = [http_route(svc, r) for r in routes]
    if tcp:
        spec["tcp"] = tcp
    return spec


# Istio's default retry policy (pilot/pkg/networking/core/route/retry/retry.go: DefaultPolicy),
# applied to every HTTP route that sets none.
DEFAULT_RETRIES = (
    "up to 2 retries on connect-failure, refused-stream, unavailable, cancelled "
    "and retriable-status-codes"
)


def report_default_retries(
    mesh: Mesh, report: Report, retried: Callable[[Service], bool] = lambda _: True
) -> None:
    """One warning for the services whose requests Istio retries though the spec gives no
    retries: on Linkerd the same spec retries nothing. ``retried``: whether an Envoy
    (sidecar or waypoint) carries the service's requests at all."""
    report_retried_by_default(
        report,
        [s for s in mesh.services if _has_http_ports(s) and retried(s) and gives_no_retries(s)],
        "Istio's default",
        DEFAULT_RETRIES,
    )
