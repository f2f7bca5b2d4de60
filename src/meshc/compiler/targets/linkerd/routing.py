"""Linkerd routing: a service's routes as a Gateway API HTTPRoute (GAMMA) or an SMI
TrafficSplit, and, in SMI mode, its retries and timeout as a ServiceProfile.

Both send a version's share of the traffic to that version's own Service
(``web-v1``), as the Linkerd quickstart does; :mod:`meshc.compiler.targets.linkerd`
renders those Services.
"""

from __future__ import annotations

import re
from typing import Any

from meshc.providers import CLUSTER_DOMAIN

from ...model import Mesh, Route, Service, StringMatch
from ...objects import Obj, metadata, new_object
from .. import Report

GATEWAY_API = "gateway.networking.k8s.io/v1"
SMI_SPLIT = "split.smi-spec.io/v1alpha2"
SERVICE_PROFILE = "linkerd.io/v1alpha2"


def version_service(svc: Service, version: str) -> str:
    return f"{svc.name}-{version}"


def _routable_ports(svc: Service) -> list[Any]:
    # HTTPRoutes and TrafficSplits steer requests; an opaque TCP port has none to steer.
    return [p for p in svc.ports if p.protocol != "tcp"]


# --- Gateway API --------------------------------------------------------------------------


def _anchored(regex: str) -> str:
    # The spec's regexes match the whole value (RE2, as Istio does); Gateway API leaves
    # partial or whole matching to the implementation, so make it whole either way.
    return f"^(?:{regex})$"


def _path_match(m: StringMatch) -> dict[str, str]:
    if m.kind == "exact":
        return {"type": "Exact", "value": m.value}
    if m.kind == "prefix" and m.value == "/":
        return {"type": "PathPrefix", "value": "/"}
    if m.kind == "prefix":
        # Gateway API's PathPrefix matches whole path segments (/api does not match /apis);
        # the spec's prefix is a string prefix, which a regex says exactly.
        return {"type": "RegularExpression", "value": f"^{re.escape(m.value)}.*"}
    return {"type": "RegularExpression", "value": _anchored(m.value)}


def _header_match(name: str, m: StringMatch) -> dict[str, str]:
    if m.kind == "exact":
        return {"name": name, "type": "Exact", "value": m.value}
    value = f"^{re.escape(m.value)}.*" if m.kind == "prefix" else _anchored(m.value)
    return {"name": name, "type": "RegularExpression", "value": value}


def _rule(svc: Service, route: Route, port: int) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if route.match is not None:
        match: dict[str, Any] = {}
        if route.match.path is not None:
            match["path"] = _path_match(route.match.path)
        if route.match.headers:
            match["headers"] = [_header_match(h, m) for h, m in route.match.headers]
        rule["matches"] = [match]
    rule["backendRefs"] = [
        {"group": "", "kind": "Service", "name": version_service(svc, version), "port": port,
         "weight": weight}
        for version, weight in route.split
    ]
    return rule


def http_routes(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    if not svc.routes:
        return []
    for route in svc.routes:
        if route.name:
            report.lossy("services.routes.name", f"{route.path}.name",
                         f"route name {route.name!r} was not rendered")
    matched = [r for r in svc.routes if r.match is not None]
    if len(matched) > 1:
        report.lossy("services.routes.order", f"{svc.path}.routes",
                     "the HTTPRoute lists the rules in spec order, and Linkerd ranks them by "
                     "match specificity first")
    ports = _routable_ports(svc)
    return [
        new_object(
            GATEWAY_API, "HTTPRoute",
            metadata(mesh, "HTTPRoute", f"{svc.name}-{p.name}", svc.namespace, f"{svc.path}.routes"),
            spec={
                # GAMMA: a Service parent makes this route apply to requests meshed clients
                # send to that Service port.
                "parentRefs": [{"group": "", "kind": "Service", "name": svc.name, "port": p.port}],
                "rules": [_rule(svc, r, p.port) for r in svc.routes],
            },
        )
        for p in ports
    ]


# --- SMI ----------------------------------------------------------------------------------


def traffic_split(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    if not svc.routes:
        return []
    default = svc.routes[-1]  # validation puts the route without match last
    for route in svc.routes:
        if route.name:
            report.lossy("services.routes.name", f"{route.path}.name",
                         f"route name {route.name!r} was not rendered")
        if route.match is None:
            continue
        for header, m in route.match.headers:
            feature = "services.routes.match.headers" + (".regex" if m.kind == "regex" else "")
            report.lossy(feature, f"{route.path}.match.headers.{header}",
                         f"not rendered; those requests follow the split of {default.path}")
        if route.match.path is not None:
            feature = "services.routes.match.path" + (".regex" if route.match.path.kind == "regex" else "")
            report.lossy(feature, f"{route.path}.match.path",
                         f"not rendered; those requests follow the split of {default.path}")
    return [new_object(
        SMI_SPLIT, "TrafficSplit",
        metadata(mesh, "TrafficSplit", f"{svc.name}-split", svc.namespace, f"{svc.path}.routes"),
        spec={
            "service": svc.name,
            "backends": [{"service": version_service(svc, v), "weight": w} for v, w in default.split],
        },
    )]


def service_profile(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    retries = svc.retries if svc.retries is not None and svc.retries.attempts > 0 else None
    if svc.timeout is None and retries is None:
        return []
    route: dict[str, Any] = {"name": "all", "condition": {"pathRegex": ".*"}}
    if svc.timeout is not None:
        route["timeout"] = svc.timeout  # a Go duration, as the spec writes it
    spec: dict[str, Any] = {"routes": [route]}
    if retries is not None:
        route["isRetryable"] = True
        spec["retryBudget"] = {"retryRatio": float(retries.attempts), "minRetriesPerSecond": 10,
                               "ttl": "10s"}
        path = f"{svc.path}.retries"
        report.lossy("services.retries.attempts", f"{path}.attempts",
                     f"rendered as retryBudget.retryRatio {float(retries.attempts)} on a "
                     "retryable catch-all route")
        if retries.per_try_timeout is not None:
            report.lossy("services.retries.perTryTimeout", f"{path}.perTryTimeout", "not rendered")
        classes = []
        for i, condition in enumerate(retries.retry_on or ("5xx",)):
            if condition in TRANSPORT_CONDITIONS:
                report.lossy("services.retries.retryOn.transport", f"{path}.retryOn[{i}]",
                             f"{condition!r} was not rendered")
                continue
            low, high = _FAILURE_STATUS[condition]
            classes.append({"condition": {"status": {"min": low, "max": high}}, "isFailure": True})
            if condition == "gateway-error":
                report.lossy("services.retries.retryOn", f"{path}.retryOn[{i}]",
                             "rendered as failures 502-504, but Linkerd retries every 5xx")
            elif condition == "retriable-4xx":
                report.lossy("services.retries.retryOn", f"{path}.retryOn[{i}]",
                             "rendered by classifying 409 as a failure, which the success rate "
                             "counts too")
        if classes:
            # A retryable route retries the responses classified as failures.
            route["responseClasses"] = classes
    elif svc.retries is not None and svc.retries.per_try_timeout is not None:
        report.lossy("services.retries.perTryTimeout", f"{svc.path}.retries.perTryTimeout",
                     "not rendered")
    # Linkerd finds a ServiceProfile by the fully qualified name of its Service.
    name = f"{svc.fqdn_suffix}.{CLUSTER_DOMAIN}"
    return [new_object(
        SERVICE_PROFILE, "ServiceProfile",
        metadata(mesh, "ServiceProfile", name, svc.namespace, svc.path), spec=spec,
    )]


TRANSPORT_CONDITIONS = ("reset", "connect-failure", "refused-stream")
# Response statuses a ServiceProfile classifies as failures for each spec condition.
_FAILURE_STATUS = {"5xx": (500, 599), "gateway-error": (502, 504), "retriable-4xx": (409, 409)}
