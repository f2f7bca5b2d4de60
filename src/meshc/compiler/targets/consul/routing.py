"""Consul routing: a service's versions and routes as a ServiceResolver, ServiceSplitters
and a ServiceRouter (its discovery chain).

How each field reaches Envoy (hashicorp/consul, the commit consul-k8s v2.0.3
builds against, 7ee7c79b61f0):

- the chain starts at the service's router, else its splitter, else its
  resolver (agent/consul/discoverychain/compile.go, ``assembleChain``); a
  route's destination without a subset goes through the destination's
  splitter (``getSplitterOrResolverNode``), with a subset straight to the
  resolver's subset;
- each ServiceRouter route becomes one Envoy route, in order, and Envoy takes
  the first that matches (agent/xds/routes.go, ``makeUpstreamRouteForDiscoveryChain``,
  ``makeRouteMatchForDiscoveryRoute``): a spec route with several matches is
  one ServiceRouter route per match, all with its destination, so the first
  spec route with a fitting match takes the request. Envoy's regex matchers
  match the whole value, as the spec's do;
- a gRPC method is its HTTP/2 request path, ``/<package.Service>/<Method>``
  (``pathExact``; every method of a service: ``pathPrefix`` ``/<package.Service>/``),
  on a chain whose protocol is grpc or http2;
- the destination's timeout, retries and header changes: destination.py;
  ``prefixRewrite`` is Envoy's ``prefix_rewrite``, which replaces what the
  route's path matched: after ``pathPrefix`` the prefix, after ``pathExact`` the
  whole path, the spec's two meanings of ``rewrite.path``; Consul accepts it
  beside no other match (agent/structs/config_entry_routing.go,
  ``ServiceRouterConfigEntry.Validate``);
- a splitter's weights become the weighted clusters of the route
  (``makeRouteActionForSplitter``), one cluster per resolver subset, whose
  filter selects catalog instances by the metadata meshc's webhook copies from
  the version's labels (consul.hashicorp.com/service-meta-<key>: consul-k8s
  copies no label into the catalog).

A resolver's ``requestTimeout`` would apply only when the chain starts at the
resolver, never behind a splitter or router, so meshc never writes one: the
router's catch-all route carries the default route's timeout instead.

A matched route that splits across versions needs a splitter of its own, and a
service has one: its route goes to a splitter named ``<service>--<route>``, a
service name no instance registers, whose splits name the service's subsets
(its chain's protocol is the service's: compile.go records the protocol of the
router's service and of each resolver target, never of a splitter's name).

Redirects have no ServiceRouter field: a redirect route is left out and reported
here; faults, mirrors and rate limits are reported by unsupported.py.
"""

from __future__ import annotations

import re
from typing import Any

from ...model import Match, Mesh, Route, Service, StringMatch
from ...objects import Obj, metadata, new_object
from .. import Report
from .common import API, protocol, subset_filter
from .destination import destination_settings

# The protocols whose chain carries gRPC: HTTP/2 to the service.
GRPC_PROTOCOLS = ("grpc", "http2")


def route_slug(route: Route, index: int) -> str:
    return route.name or f"route-{index}"


def split_service(svc: Service, route: Route, index: int) -> str:
    """The splitter a matched route that splits across versions goes to."""
    return f"{svc.name}--{route_slug(route, index)}"


def split_services(svc: Service) -> list[str]:
    return [
        split_service(svc, r, i)
        for i, r in enumerate(svc.routes)
        if r.match is not None and len(r.split) > 1
    ]


def resolver(mesh: Mesh, svc: Service) -> list[Obj]:
    if not svc.versions:
        return []
    return [
        new_object(
            API,
            "ServiceResolver",
            metadata(mesh, "ServiceResolver", svc.name, svc.namespace, f"{svc.path}.versions"),
            spec={"subsets": {v.name: {"filter": subset_filter(v)} for v in svc.versions}},
        )
    ]


def _splits(route: Route, service: str | None = None) -> list[dict[str, Any]]:
    return [
        {"weight": weight, **({"service": service} if service else {}), "serviceSubset": version}
        for version, weight in route.split
    ]


def splitters(mesh: Mesh, svc: Service) -> list[Obj]:
    objects: list[Obj] = []
    for i, route in enumerate(svc.routes):
        if not route.split:
            continue  # a redirect, which Consul cannot express (reported by router)
        if route.match is None:
            # The default route: the service's own splitter, which requests no
            # matched route takes reach through the router's catch-all.
            objects.append(
                new_object(
                    API,
                    "ServiceSplitter",
                    metadata(mesh, "ServiceSplitter", svc.name, svc.namespace, route.path),
                    spec={"splits": _splits(route)},
                )
            )
        elif len(route.split) > 1:
            name = split_service(svc, route, i)
            objects.append(
                new_object(
                    API,
                    "ServiceSplitter",
                    metadata(mesh, "ServiceSplitter", name, svc.namespace, route.path),
                    spec={"splits": _splits(route, svc.name)},
                )
            )
    return objects


def _path_match(m: StringMatch) -> dict[str, str]:
    # Consul refuses an exact or prefix path that does not start with "/"; such a
    # path is the same match as a regex (RE2, matching the whole path).
    if m.kind == "exact" and m.value.startswith("/"):
        return {"pathExact": m.value}
    if m.kind == "exact":
        return {"pathRegex": re.escape(m.value)}
    if m.kind == "prefix" and m.value.startswith("/"):
        return {"pathPrefix": m.value}
    if m.kind == "prefix" and m.value == "":
        return {}  # every path: Consul's default match
    if m.kind == "prefix":
        return {"pathRegex": re.escape(m.value) + ".*"}
    return {"pathRegex": m.value or "^$"}


def _header_match(name: str, m: StringMatch) -> dict[str, Any]:
    # makeRouteMatchForDiscoveryRoute skips a header whose exact, prefix and
    # regex are all empty, and Consul refuses one with none set: an empty exact
    # value is the regex of the empty string, an empty prefix any value at all.
    if m.value == "" and m.kind == "prefix":
        return {"name": name, "present": True}
    if m.value == "":
        return {"name": name, "regex": "^$"}
    return {"name": name, m.kind: m.value}


def http_match(m: Match) -> dict[str, Any]:
    """A spec match as a ServiceRouter route's ``match.http``."""
    match: dict[str, Any] = {}
    if m.path is not None:
        match.update(_path_match(m.path))
    if m.grpc is not None:
        match["pathExact" if m.grpc.method else "pathPrefix"] = m.grpc.path
    if m.headers:
        match["header"] = [_header_match(h, s) for h, s in m.headers]
    return match or {"pathPrefix": "/"}


def _rewritable(m: Match) -> bool:
    """Whether prefixRewrite replaces what the spec's rewrite.path replaces: the matched
    prefix after a path prefix (rendered as pathPrefix), the whole path after an exact path
    (pathExact; a gRPC method is one)."""
    if m.grpc is not None:
        return m.grpc.method is not None
    path = m.path
    return path is not None and path.kind in ("exact", "prefix") and path.value.startswith("/")


def _rewrite_path(route: Route, m: Match, report: Report) -> dict[str, str]:
    rewrite = route.rewrite
    if rewrite is None or rewrite.path is None:
        return {}
    if _rewritable(m):
        return {"prefixRewrite": rewrite.path}
    # After any other match the spec replaces the whole path, and prefixRewrite would
    # replace only what a pathPrefix matched (Consul refuses it beside no path at all).
    report.lossy(
        "services.routes.rewrite",
        f"{route.path}.rewrite.path",
        "not rendered for a match without a path prefix or exact path: Consul's only path "
        "rewrite, prefixRewrite, replaces the matched prefix, not the whole path",
    )
    return {}


def _match_path(mesh: Mesh, route: Route, index: int) -> str:
    """The spec path of a route's match: ``match``, or an item of ``matches``."""
    if f"{route.path}.match" in mesh.positions.values:
        return f"{route.path}.match"
    return f"{route.path}.matches[{index}]"


def _check_grpc(mesh: Mesh, svc: Service, report: Report) -> None:
    if protocol(svc) in GRPC_PROTOCOLS:
        return
    for route in svc.routes:
        for j, m in enumerate(route.matches):
            if m.grpc is not None:
                report.error(
                    f"{_match_path(mesh, route, j)}.grpc",
                    f"Consul gives a service the protocol of its first port ({protocol(svc)} "
                    "here), the one consul-k8s registers, and gRPC calls reach it only on a "
                    "grpc or http2 chain: make the gRPC port the first",
                )


def _report_redirect(mesh: Mesh, route: Route, report: Report) -> None:
    """A redirect route is not rendered: its redirect, and each condition of its matches."""
    why = (
        "a ServiceRouter route always forwards to its destination (ServiceRouteDestination "
        "has no redirect), so the requests this route takes go on to the next route that fits"
    )
    report.lossy("services.routes.redirect", f"{route.path}.redirect", f"not rendered: {why}")
    for j, m in enumerate(route.matches):
        where = _match_path(mesh, route, j)
        conditions = [f"{where}.headers.{name}" for name, _ in m.headers]
        conditions += [f"{where}.path"] if m.path is not None else []
        conditions += [f"{where}.grpc"] if m.grpc is not None else []
        for condition in conditions:
            report.lossy(
                "services.routes.redirect",
                condition,
                "not rendered: the route is a redirect, which Consul cannot express",
            )


def router(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    _check_grpc(mesh, svc, report)
    routes: list[dict[str, Any]] = []
    default: Route | None = None
    for i, route in enumerate(svc.routes):
        if route.redirect is not None:
            _report_redirect(mesh, route, report)
            continue
        if route.rewrite is not None and route.rewrite.host is not None:
            report.lossy(
                "services.routes.rewrite",
                f"{route.path}.rewrite.host",
                "not rendered: a ServiceRouter destination has no host rewrite, and Envoy "
                "refuses a route that sets the host header",
            )
        if route.match is None:
            default = route
            continue  # the catch-all below
        if len(route.split) == 1:
            target: dict[str, Any] = {"serviceSubset": route.split[0][0]}
        else:
            target = {"service": split_service(svc, route, i)}
        settings = destination_settings(svc, route, report)
        for m in route.matches:
            routes.append(
                {
                    "match": {"http": http_match(m)},
                    "destination": {**target, **_rewrite_path(route, m, report), **_copy(settings)},
                }
            )
    if default is not None and default.rewrite is not None and default.rewrite.path is not None:
        report.lossy(
            "services.routes.rewrite",
            f"{default.path}.rewrite.path",
            "not rendered on the default route: Consul's only path rewrite, prefixRewrite, "
            "replaces the matched prefix (here /), not the whole path",
        )
    settings = destination_settings(svc, default, report)
    if settings:
        # Consul's own catch-all carries no timeout, retries or header changes: this one
        # does, and goes where Consul's would (the service's splitter or resolver).
        routes.append({"match": {"http": {"pathPrefix": "/"}}, "destination": settings})
    if not routes:
        return []
    return [
        new_object(
            API,
            "ServiceRouter",
            metadata(mesh, "ServiceRouter", svc.name, svc.namespace, svc.path),
            spec={"routes": routes},
        )
    ]


def _copy(settings: dict[str, Any]) -> dict[str, Any]:
    """Each route its own lists and maps (the YAML shows no anchors between routes)."""
    return {
        k: list(v) if isinstance(v, list) else (_copy(v) if isinstance(v, dict) else v)
        for k, v in settings.items()
    }
