"""A service's routes as MeshHTTPRoutes whose rules send weighted shares of the requests
to the MeshServices of the versions' own Services, and its tcp ports' split as a
MeshTCPRoute.

Kuma 2.14 recommends backendRefs of kind MeshService with a port (the
MeshServices Kuma derives from Services); MeshServiceSubset, which selects
endpoints of one service by tags, is deprecated and is removed in Kuma 3.0.
Sources: pkg/plugins/policies/meshhttproute/api/v1alpha1 (meshhttproute.go,
validation.go) and xds/filters at v2.14.3.

The routes go into one MeshHTTPRoute, except a route with its own timeout or
retries, which gets a MeshHTTPRoute of its own for its MeshTimeout and
MeshRetry to name (``to[].targetRef.kind: MeshHTTPRoute``): Kuma names each
Envoy route after the MeshHTTPRoute that contributed its rule and looks up a
policy for that route before the one for its service
(pkg/plugins/policies/core/rules/outbound/context.go, ResourceContext.Conf),
so the route's own replaces the service's, as the spec says. Kuma merges the
rules of every MeshHTTPRoute that names a MeshService and orders them by
specificity, so splitting them across objects changes no order.
"""

from __future__ import annotations

import re
from typing import Any

from ...model import Match, Mesh, Port, Route, Service, StringMatch
from ...model_traffic import Headers, Mirror
from ...objects import Obj, new_object
from .. import Report, gatewayapi
from .common import API, mesh_service, policy_metadata, version_service

# MeshHTTPRoute's filters as Kuma 2.14 turns them into Envoy's (xds/filters): every
# redirect status (requestredirect.go), URL rewrites, mirrors with a decimal percentage.
KUMA = gatewayapi.Dialect(
    "kuma",
    mirror=True,
    mirror_percent=True,
    url_rewrite=True,
    redirect_codes=(301, 302, 303, 307, 308),
)


def _path_match(m: StringMatch) -> dict[str, str]:
    if m.kind == "exact":
        return {"type": "Exact", "value": m.value}
    if m.kind == "prefix" and m.value == "/":
        return {"type": "PathPrefix", "value": "/"}
    if m.kind == "prefix":
        # Kuma's PathPrefix matches whole path segments (/api does not match /apis);
        # the spec's prefix is a string prefix, which a regex says exactly. Envoy's
        # safe_regex matches the whole path.
        return {"type": "RegularExpression", "value": f"{re.escape(m.value)}.*"}
    return {"type": "RegularExpression", "value": m.value}


def _header_match(name: str, m: StringMatch) -> dict[str, str]:
    kind = {"exact": "Exact", "prefix": "Prefix", "regex": "RegularExpression"}[m.kind]
    return {"type": kind, "name": name, "value": m.value}


def _match(m: Match) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m.path is not None:
        out["path"] = _path_match(m.path)
    elif m.grpc is not None:
        # A gRPC call is an HTTP/2 request for /<package.Service>/<Method>.
        kind = "exact" if m.grpc.method else "prefix"
        out["path"] = _path_match(StringMatch(kind, m.grpc.path))
    if m.headers:
        out["headers"] = [_header_match(h, s) for h, s in m.headers]
    return out


def rule_matches(matches: tuple[Match, ...]) -> list[dict[str, Any]]:
    # Kuma takes a request that fits any of a rule's matches. The default route:
    # Kuma's rules need a match; every path starts with /.
    return [_match(m) for m in matches] or [{"path": {"type": "PathPrefix", "value": "/"}}]


# --- filters ----------------------------------------------------------------------------


def header_filters(h: Headers) -> list[dict[str, Any]]:
    # Kuma's header names are lower case (HeaderName's pattern); HTTP's are case-insensitive.
    return gatewayapi.header_filters(h, lower_names=True)


def percentage(percent: float) -> int | str:
    """A percentage as Kuma's IntOrString fields take it: an integer, or a decimal string
    (common_api.NewDecimalFromIntOrString)."""
    return int(percent) if float(percent).is_integer() else f"{percent:g}"


def _mirror_filter(svc: Service, mirror: Mirror, port: Port) -> dict[str, Any]:
    ref: dict[str, Any]
    if mirror.version is not None:
        ref = {
            "kind": "MeshService",
            "name": version_service(svc, mirror.version),
            "port": port.port,
        }
    else:
        ref = {"kind": "MeshService", "name": mirror.service}
        if mirror.namespace != svc.namespace:
            ref["namespace"] = mirror.namespace
        ref["port"] = mirror.port
    out: dict[str, Any] = {"backendRef": ref}
    if mirror.percent != 100:
        # RequestMirror.percentage becomes the mirror policy's runtime fraction
        # (xds/filters/requestmirror.go); without it every request is mirrored.
        out["percentage"] = percentage(mirror.percent)
    return {"type": "RequestMirror", "requestMirror": out}


def _filters(svc: Service, route: Route, port: Port, report: Report) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if route.headers is not None:
        out += header_filters(route.headers)
    if route.rewrite is not None:
        # ReplaceFullPath is Envoy's regex_rewrite of .* (xds/filters/urlrewrite.go);
        # ReplacePrefixMatch needs PathPrefix matches only (validation.go), which the
        # builder writes after a match on / alone.
        rewrite = gatewayapi.rewrite_filter(
            route.rewrite,
            route.matches,
            f"{route.path}.rewrite",
            KUMA,
            report,
            prefix_feature="services.routes.rewrite.prefix",
        )
        if rewrite is not None:
            out.append(rewrite)
    if route.mirror is not None:
        out.append(_mirror_filter(svc, route.mirror, port))
    if route.redirect is not None:
        out.append(
            gatewayapi.redirect_filter(route.redirect, f"{route.path}.redirect", KUMA, report)
        )
    return out


def _rule(svc: Service, route: Route, port: Port, report: Report) -> dict[str, Any]:
    default: dict[str, Any] = {}
    filters = _filters(svc, route, port, report)
    if filters:
        default["filters"] = filters
    if route.redirect is None:
        # A redirect answers the request itself: its rule has no backends
        # (the redirect replaces Envoy's route action, requestredirect.go).
        default["backendRefs"] = [
            {
                "kind": "MeshService",
                "name": version_service(svc, version),
                "port": port.port,
                "weight": weight,
            }
            for version, weight in route.split
        ]
    return {"matches": rule_matches(route.matches), "default": default}


def has_own_policy(route: Route) -> bool:
    return route.timeout is not None or route.retries is not None


def route_name(svc: Service, route: Route, index: int) -> str:
    """The MeshHTTPRoute of a route with its own timeout or retries."""
    return f"{svc.name}-{route.name or f'route-{index}'}"


def _http_ports(svc: Service) -> list[Port]:
    # MeshHTTPRoute steers HTTP requests; an opaque TCP port has none to steer.
    return [p for p in svc.ports if p.protocol != "tcp"]


def _route_object(
    mesh: Mesh, svc: Service, name: str, path: str, routes: list[Route], report: Report
) -> Obj:
    several = len(svc.ports) > 1
    to = [
        {
            "targetRef": mesh_service(svc.name, p.name if several else None),
            "rules": [_rule(svc, route, p, report) for route in routes],
        }
        for p in _http_ports(svc)
    ]
    return new_object(
        API,
        "MeshHTTPRoute",
        policy_metadata(mesh, "MeshHTTPRoute", name, svc.namespace, path),
        spec={"to": to},
    )


def http_routes(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    if not svc.routes or not _http_ports(svc):
        return []
    for route in svc.routes:
        if route.name:
            report.lossy(
                "services.routes.name", f"{route.path}.name", f"{route.name!r} is not rendered"
            )
    if any(r.matches for r in svc.routes):
        report.lossy(
            "services.routes.order",
            f"{svc.path}.routes",
            "rules are rendered in spec order; Kuma orders them by specificity",
        )
    shared = [r for r in svc.routes if not has_own_policy(r)]
    objects = []
    if shared:
        objects.append(_route_object(mesh, svc, svc.name, f"{svc.path}.routes", shared, report))
    for i, route in enumerate(svc.routes):
        if has_own_policy(route):
            objects.append(
                _route_object(mesh, svc, route_name(svc, route, i), route.path, [route], report)
            )
    return objects


def tcp_route(mesh: Mesh, svc: Service) -> Obj | None:
    """The tcp ports' connections split as the default route splits requests (validation
    lets a tcp port follow only the default route's split)."""
    tcp = [p for p in svc.ports if p.protocol == "tcp"]
    default = next((r for r in svc.routes if not r.matches), None)
    if not tcp or default is None or not default.split:
        return None
    several = len(svc.ports) > 1
    to = [
        {
            "targetRef": mesh_service(svc.name, p.name if several else None),
            "rules": [
                {
                    "default": {
                        "backendRefs": [
                            {
                                "kind": "MeshService",
                                "name": version_service(svc, version),
                                "port": p.port,
                                "weight": weight,
                            }
                            for version, weight in default.split
                        ]
                    }
                }
            ],
        }
        for p in tcp
    ]
    return new_object(
        API,
        "MeshTCPRoute",
        policy_metadata(mesh, "MeshTCPRoute", svc.name, svc.namespace, default.path),
        spec={"to": to},
    )
