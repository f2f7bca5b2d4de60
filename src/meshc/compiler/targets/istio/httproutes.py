"""A service's routes as Gateway API HTTPRoutes whose parent is the Service (GAMMA), for
``--istio-routing gateway-api`` and for ambient namespaces, where a waypoint applies them.

Istio turns each rule into a VirtualService route (istio/istio
pilot/pkg/config/kube/gateway/conversion.go, convertHTTPRoute): the rule's name, matches,
header filters, URLRewrite, RequestRedirect, RequestMirror (with its percent or fraction) and
timeouts.request carry over one to one. An HTTPRoute has no subsets, so each version is sent
to its own Service (``web-v1``), as Istio's Gateway API traffic-shifting task does; the
DestinationRule's traffic policy is repeated for those hosts. If an HTTPRoute and a
VirtualService both cover a service, the HTTPRoute wins, so this mode renders no
VirtualService for the mesh.
"""

from __future__ import annotations

from typing import Any

from ...model import Mesh, Route, Service
from ...objects import Obj, metadata, new_object
from .. import Report, gatewayapi

# Gateway API v1.6 standard channel as Istio reads it: every redirect status, mirror percents.
ISTIO = gatewayapi.Dialect(
    "istio",
    mirror=True,
    mirror_percent=True,
    url_rewrite=True,
    redirect_codes=(301, 302, 303, 307, 308),
)


def version_service(svc: Service, version: str) -> str:
    return f"{svc.name}-{version}"


def _http_ports(svc: Service) -> list[Any]:
    return [p for p in svc.ports if p.protocol != "tcp"]


def needs_routes(svc: Service) -> bool:
    """Whether the service has anything an HTTPRoute says (routes, a timeout, retries)."""
    return bool(_http_ports(svc)) and bool(svc.routes or svc.timeout or svc.retries is not None)


def _mirror_backend(svc: Service, route: Route, port: int) -> dict[str, Any] | None:
    m = route.mirror
    if m is None:
        return None
    if m.version is not None:
        return gatewayapi.backend_ref(version_service(svc, m.version), port)
    assert m.service is not None and m.namespace is not None
    return gatewayapi.backend_ref(
        m.service, m.port or port, namespace=m.namespace if m.namespace != svc.namespace else None
    )


def _report_retries(svc: Service, route: Route | None, report: Report) -> None:
    if route is not None and route.retries is not None:
        report.lossy(
            "services.routes.retries",
            f"{route.path}.retries",
            "not rendered; Istio's default retry policy applies",
        )


def _rule(svc: Service, route: Route | None, port: int, report: Report) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if route is not None and route.name:
        rule["name"] = route.name
    if route is not None and route.matches:
        rule["matches"] = [gatewayapi.http_match(m) for m in route.matches]
    if route is not None:
        filters = gatewayapi.route_filters(route, ISTIO, report, _mirror_backend(svc, route, port))
        if filters:
            rule["filters"] = filters
        if route.fault is not None:
            if route.fault.delay is not None:
                report.lossy(
                    "services.routes.fault.delay", f"{route.fault.path}.delay", "not rendered"
                )
            if route.fault.abort is not None:
                report.lossy(
                    "services.routes.fault.abort", f"{route.fault.path}.abort", "not rendered"
                )
        _report_retries(svc, route, report)
        if route.redirect is not None:
            return rule
    if route is None or not route.split:
        rule["backendRefs"] = [gatewayapi.backend_ref(svc.name, port)]
    else:
        rule["backendRefs"] = [
            gatewayapi.backend_ref(version_service(svc, v), port, w) for v, w in route.split
        ]
    timeout = (route.timeout if route is not None else None) or svc.timeout
    if timeout:
        path = (
            f"{route.path}.timeout"
            if route is not None and route.timeout
            else f"{svc.path}.timeout"
        )
        rule["timeouts"] = {"request": gatewayapi.duration(timeout, path, report)}
    return rule


def _report_service_retries(svc: Service, report: Report) -> None:
    r = svc.retries
    if r is None:
        return
    path = f"{svc.path}.retries"
    report.lossy(
        "services.retries.attempts",
        f"{path}.attempts",
        "not rendered; Istio's default retry policy applies",
    )
    if r.per_try_timeout is not None:
        report.lossy("services.retries.perTryTimeout", f"{path}.perTryTimeout", "not rendered")
    if r.retry_on:
        report.lossy("services.retries.retryOn", f"{path}.retryOn", "not rendered")


def http_routes(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    """One HTTPRoute per HTTP port of the service, parent the Service on that port."""
    if not needs_routes(svc):
        return []
    _report_service_retries(svc, report)
    routes: list[Route | None] = list(svc.routes) or [None]
    objects = []
    for p in _http_ports(svc):
        objects.append(
            new_object(
                gatewayapi.V1,
                "HTTPRoute",
                metadata(
                    mesh,
                    "HTTPRoute",
                    f"{svc.name}-{p.name}",
                    svc.namespace,
                    f"{svc.path}.routes" if svc.routes else svc.path,
                ),
                spec={
                    "parentRefs": [
                        {"group": "", "kind": "Service", "name": svc.name, "port": p.port}
                    ],
                    "rules": [_rule(svc, r, p.port, report) for r in routes],
                },
            )
        )
    return objects


def report_tcp_split(svc: Service, report: Report) -> None:
    """Opaque TCP ports: the split of their connections is not rendered (see the matrix)."""
    tcp = [p for p in svc.ports if p.protocol == "tcp"]
    default = next((r for r in svc.routes if not r.matches), None)
    if tcp and default is not None and len(default.split) > 1:
        report.lossy(
            "services.routes.tcp",
            default.path,
            f"the connections to port {', '.join(str(p.port) for p in tcp)} were not split",
        )
