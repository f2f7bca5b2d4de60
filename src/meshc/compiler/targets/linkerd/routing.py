"""Linkerd routing: a service's routes as a Gateway API HTTPRoute (GAMMA) or an SMI
TrafficSplit, and, in SMI mode, its retries and timeout as a ServiceProfile.

Both send a version's share of the traffic to that version's own Service
(``web-v1``), as the Linkerd quickstart does; :mod:`meshc.compiler.targets.linkerd`
renders those Services.
"""

from __future__ import annotations

from typing import Any

from meshc.providers import CLUSTER_DOMAIN

from ...model import Mesh, Retries, Route, Service
from ...objects import Obj, metadata, new_object
from .. import Report, gatewayapi
from .resilience import TRANSPORT_CONDITIONS, retry_timeout_annotations

GATEWAY_API = "gateway.networking.k8s.io/v1"
SMI_SPLIT = "split.smi-spec.io/v1alpha2"
SERVICE_PROFILE = "linkerd.io/v1alpha2"


def version_service(svc: Service, version: str) -> str:
    return f"{svc.name}-{version}"


def _routable_ports(svc: Service) -> list[Any]:
    # HTTPRoutes and TrafficSplits steer requests; an opaque TCP port has none to steer.
    return [p for p in svc.ports if p.protocol != "tcp"]


# --- Gateway API --------------------------------------------------------------------------

# What Linkerd's policy controller accepts in an HTTPRoute it routes with: its bundled
# Gateway API (v1.1.1) and the filters convert_gateway_filter knows
# (policy-controller/k8s/index/src/outbound/index/http.rs); it refuses RequestMirror and
# URLRewrite, and refusing one filter drops the whole route.
LINKERD = gatewayapi.Dialect(
    "linkerd", mirror=False, mirror_percent=False, url_rewrite=False, redirect_codes=(301, 302)
)


def _fault(svc: Service, route: Route, report: Report) -> tuple[str, int, float] | None:
    """The abort backend (Service, port, percent) of a route's fault, reporting the rest."""
    fault = route.fault
    if fault is None:
        return None
    if fault.delay is not None:
        report.lossy("services.routes.fault.delay", f"{fault.path}.delay", "not rendered")
    abort = fault.abort
    if abort is None:
        return None
    if abort.service is None:
        report.lossy(
            "services.routes.fault.abort",
            f"{fault.path}.abort",
            "not rendered: give abort.service to send the share to a Service that "
            "answers with the error",
        )
        return None
    name, port = abort.service
    report.warning(
        f"{fault.path}.abort",
        f"{abort.percent:g}% of the route's requests go to Service {name!r} "
        "(Linkerd's fault injection is a weighted backend); it must answer with "
        "the error itself, and retries and failure accrual see its responses",
    )
    return name, port, abort.percent


def _rule(svc: Service, route: Route, port: int, report: Report) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if route.matches:
        rule["matches"] = [gatewayapi.http_match(m) for m in route.matches]
    if route.mirror is not None:
        report.lossy("services.routes.mirror", route.mirror.path, "not rendered")
    filters = gatewayapi.route_filters(route, LINKERD, report, None)
    if filters:
        rule["filters"] = filters
    if route.redirect is not None:
        return rule
    abort = _fault(svc, route, report)
    refs = [gatewayapi.backend_ref(version_service(svc, v), port) for v, _ in route.split]
    if abort is not None:
        refs.append(gatewayapi.backend_ref(abort[0], abort[1]))
    names = [str(i) for i in range(len(refs))]
    weights = gatewayapi.weighted(
        tuple(zip(names, (w for _, w in route.split), strict=False)),
        (names[-1], abort[2]) if abort is not None else None,
    )
    for ref, (_, weight) in zip(refs, weights, strict=True):
        ref["weight"] = weight
    rule["backendRefs"] = refs
    return rule


def _own_policy(svc: Service, route: Route, report: Report) -> dict[str, str] | None:
    """The annotations of a route with its own timeout or retries (None: it has neither)."""
    if route.timeout is None and route.retries is None:
        return None
    if (
        route.retries is not None
        and route.retries.attempts == 0
        and svc.retries is not None
        and svc.retries.attempts > 0
    ):
        report.lossy(
            "services.routes.retries",
            f"{route.path}.retries.attempts",
            "the service's retries apply to this route",
        )
    timeout = (
        (route.timeout, f"{route.path}.timeout")
        if route.timeout is not None
        else (svc.timeout, f"{svc.path}.timeout")
        if svc.timeout is not None
        else None
    )
    retries = (
        (route.retries, f"{route.path}.retries")
        if route.retries is not None
        else (svc.retries, f"{svc.path}.retries")
        if svc.retries is not None
        else None
    )
    return retry_timeout_annotations(timeout, retries, report)


def _parent(svc: Service, port: int) -> list[dict[str, Any]]:
    # GAMMA: a Service parent makes the route apply to requests meshed clients send to
    # that Service port.
    return [{"group": "", "kind": "Service", "name": svc.name, "port": port}]


def _route_name(route: Route, index: int) -> str:
    return route.name or f"r{index}"


def http_routes(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    if not svc.routes:
        return []
    for route in svc.routes:
        if route.name:
            report.lossy(
                "services.routes.name",
                f"{route.path}.name",
                f"route name {route.name!r} was not rendered",
            )
    matched = [r for r in svc.routes if r.matches]
    if len(matched) > 1:
        report.lossy(
            "services.routes.order",
            f"{svc.path}.routes",
            "the HTTPRoute lists the rules in spec order, and Linkerd ranks them by "
            "match specificity first",
        )
    policies = {i: _own_policy(svc, r, report) for i, r in enumerate(svc.routes)}
    objects: list[Obj] = []
    for p in _routable_ports(svc):
        shared = [r for i, r in enumerate(svc.routes) if policies[i] is None]
        if shared:
            objects.append(
                new_object(
                    GATEWAY_API,
                    "HTTPRoute",
                    metadata(
                        mesh,
                        "HTTPRoute",
                        f"{svc.name}-{p.name}",
                        svc.namespace,
                        f"{svc.path}.routes",
                    ),
                    spec={
                        "parentRefs": _parent(svc, p.port),
                        "rules": [_rule(svc, r, p.port, report) for r in shared],
                    },
                )
            )
        for i, route in enumerate(svc.routes):
            annotations = policies[i]
            if annotations is None:
                continue
            objects.append(
                new_object(
                    GATEWAY_API,
                    "HTTPRoute",
                    metadata(
                        mesh,
                        "HTTPRoute",
                        f"{svc.name}-{p.name}-{_route_name(route, i)}",
                        svc.namespace,
                        route.path,
                        annotations=annotations,
                    ),
                    spec={
                        "parentRefs": _parent(svc, p.port),
                        "rules": [_rule(svc, route, p.port, report)],
                    },
                )
            )
    return objects


def tcp_routes(svc: Service, report: Report) -> None:
    """Opaque TCP ports: the split of their connections is not rendered (see the matrix)."""
    tcp = [p for p in svc.ports if p.protocol == "tcp"]
    default = next((r for r in svc.routes if not r.matches), None)
    if tcp and default is not None and default.split:
        report.lossy(
            "services.routes.tcp",
            default.path,
            f"the connections to port {', '.join(str(p.port) for p in tcp)} were not split",
        )


# --- SMI ----------------------------------------------------------------------------------


def _match_paths(route: Route) -> list[tuple[str, Any]]:
    if len(route.matches) == 1 and route.match is not None:
        return [(f"{route.path}.match", route.match)]
    return [(f"{route.path}.matches[{i}]", m) for i, m in enumerate(route.matches)]


# A route's traffic management a TrafficSplit has no place for: (feature, field).
_NOT_IN_SPLIT = (
    ("services.routes.timeout", "timeout"),
    ("services.routes.retries", "retries"),
    ("services.routes.mirror", "mirror"),
    ("services.routes.headers", "headers"),
    ("services.routes.rewrite", "rewrite"),
    ("services.routes.redirect", "redirect"),
)


def _smi_route(route: Route, default: Route, report: Report) -> None:
    """Report what a TrafficSplit cannot express of one route."""
    follows = f"not rendered; those requests follow the split of {default.path}"
    if len(route.matches) > 1:
        report.lossy("services.routes.matches", f"{route.path}.matches", follows)
    for mpath, m in _match_paths(route) if len(route.matches) == 1 else []:
        for header, sm in m.headers:
            feature = "services.routes.match.headers" + (".regex" if sm.kind == "regex" else "")
            report.lossy(feature, f"{mpath}.headers.{header}", follows)
        if m.path is not None:
            feature = "services.routes.match.path" + (".regex" if m.path.kind == "regex" else "")
            report.lossy(feature, f"{mpath}.path", follows)
        if m.grpc is not None:
            report.lossy("services.routes.match.grpc", f"{mpath}.grpc", follows)
    for feature, field in _NOT_IN_SPLIT:
        if getattr(route, field) is not None:
            report.lossy(feature, f"{route.path}.{field}", "not rendered")
    if route.fault is not None:
        if route.fault.delay is not None:
            report.lossy("services.routes.fault.delay", f"{route.fault.path}.delay", "not rendered")
        if route.fault.abort is not None:
            report.lossy("services.routes.fault.abort", f"{route.fault.path}.abort", "not rendered")


def traffic_split(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    if not svc.routes:
        return []
    default = svc.routes[-1]  # validation puts the route without match last
    for route in svc.routes:
        if route.name:
            report.lossy(
                "services.routes.name",
                f"{route.path}.name",
                f"route name {route.name!r} was not rendered",
            )
        _smi_route(route, default, report)
    if not default.split:
        return []  # a redirect, reported above
    return [
        new_object(
            SMI_SPLIT,
            "TrafficSplit",
            metadata(
                mesh, "TrafficSplit", f"{svc.name}-split", svc.namespace, f"{svc.path}.routes"
            ),
            spec={
                "service": svc.name,
                "backends": [
                    {"service": version_service(svc, v), "weight": w} for v, w in default.split
                ],
            },
        )
    ]


def _response_classes(retries: Retries, path: str, report: Report) -> list[dict[str, Any]]:
    """The failure classes a retryable route retries, for the spec's status conditions."""
    classes = []
    for i, condition in enumerate(retries.retry_on or ("5xx",)):
        if condition in TRANSPORT_CONDITIONS:
            report.lossy(
                "services.retries.retryOn.transport",
                f"{path}.retryOn[{i}]",
                f"{condition!r} was not rendered",
            )
            continue
        if condition not in _FAILURE_STATUS:
            report.lossy(
                "services.retries.retryOn.grpc",
                f"{path}.retryOn[{i}]",
                f"{condition!r} was not rendered",
            )
            continue
        low, high = _FAILURE_STATUS[condition]
        classes.append({"condition": {"status": {"min": low, "max": high}}, "isFailure": True})
        if condition == "gateway-error":
            report.lossy(
                "services.retries.retryOn",
                f"{path}.retryOn[{i}]",
                "rendered as failures 502-504, but Linkerd retries every 5xx",
            )
        elif condition == "retriable-4xx":
            report.lossy(
                "services.retries.retryOn",
                f"{path}.retryOn[{i}]",
                "rendered by classifying 409 as a failure, which the success rate counts too",
            )
    return classes


def service_profile(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    retries = svc.retries if svc.retries is not None and svc.retries.attempts > 0 else None
    path = f"{svc.path}.retries"
    classes = _response_classes(retries, path, report) if retries is not None else []
    if retries is not None and not classes:
        # A retryable route without classes would retry every 5xx, which the spec did not ask.
        report.lossy(
            "services.retries.retryOn.transport"
            if set(retries.retry_on) & set(TRANSPORT_CONDITIONS)
            else "services.retries.retryOn.grpc",
            f"{path}.retryOn",
            "no retries were rendered: none of the conditions is an HTTP response status",
        )
        retries = None
    if svc.timeout is None and retries is None:
        return []
    route: dict[str, Any] = {"name": "all", "condition": {"pathRegex": ".*"}}
    if svc.timeout is not None:
        route["timeout"] = svc.timeout  # a Go duration, as the spec writes it
    spec: dict[str, Any] = {"routes": [route]}
    if retries is not None:
        route["isRetryable"] = True
        spec["retryBudget"] = {
            "retryRatio": float(retries.attempts),
            "minRetriesPerSecond": 10,
            "ttl": "10s",
        }
        report.lossy(
            "services.retries.attempts",
            f"{path}.attempts",
            f"rendered as retryBudget.retryRatio {float(retries.attempts)} on a "
            "retryable catch-all route",
        )
        if retries.per_try_timeout is not None:
            report.lossy("services.retries.perTryTimeout", f"{path}.perTryTimeout", "not rendered")
        # A retryable route retries the responses classified as failures.
        route["responseClasses"] = classes
    elif svc.retries is not None and svc.retries.per_try_timeout is not None:
        report.lossy("services.retries.perTryTimeout", f"{path}.perTryTimeout", "not rendered")
    # Linkerd finds a ServiceProfile by the fully qualified name of its Service.
    name = f"{svc.fqdn_suffix}.{CLUSTER_DOMAIN}"
    return [
        new_object(
            SERVICE_PROFILE,
            "ServiceProfile",
            metadata(mesh, "ServiceProfile", name, svc.namespace, svc.path),
            spec=spec,
        )
    ]


# Response statuses a ServiceProfile classifies as failures for each spec condition.
_FAILURE_STATUS = {"5xx": (500, 599), "gateway-error": (502, 504), "retriable-4xx": (409, 409)}
