"""Consul routing: a service's versions, routes, timeout and retries as a ServiceResolver,
ServiceSplitters and a ServiceRouter (its discovery chain).

How each field reaches Envoy (hashicorp/consul, the commit consul-k8s v2.0.3
builds against, 7ee7c79b61f0):

- the chain starts at the service's router, else its splitter, else its
  resolver (agent/consul/discoverychain/compile.go, ``assembleChain``); a
  route's destination without a subset goes through the destination's
  splitter (``getSplitterOrResolverNode``), with a subset straight to the
  resolver's subset;
- a route's match becomes the Envoy route's match, routes in their order
  (agent/xds/routes.go, ``makeRouteMatchForDiscoveryRoute``); Envoy's regex
  matchers match the whole value, as the spec's do;
- a destination's ``requestTimeout`` becomes the route's timeout and its
  retry fields its retry policy (routes.go, ``makeUpstreamRouteForDiscoveryChain``,
  ``getRetryPolicyForDestination``). A resolver's ``requestTimeout`` would
  apply only when the chain starts at the resolver, never behind a splitter
  or router, so meshc never writes one;
- a retry policy retries only on the conditions it lists: ``numRetries``
  alone leaves Envoy's ``retry_on`` empty, which retries nothing, so meshc
  always writes the conditions;
- a splitter's weights become the weighted clusters of the route
  (``makeRouteActionForSplitter``), one cluster per resolver subset, whose
  filter selects catalog instances by the metadata meshc's webhook copies from
  the version's labels (consul.hashicorp.com/service-meta-<key>: consul-k8s
  copies no label into the catalog).

A matched route that splits across versions needs a splitter of its own, and a
service has one: its route goes to a splitter named ``<service>--<route>``, a
service name no instance registers, whose splits name the service's subsets.
"""

from __future__ import annotations

import re
from typing import Any

from ...durations import duration_seconds
from ...model import Mesh, Route, Service, StringMatch
from ...objects import Obj, metadata, new_object
from .. import Report
from .common import API, subset_filter

# The spec's retry conditions are Envoy's x-envoy-retry-on names, which Consul
# passes through (agent/structs, isValidRetryCondition). Without retryOn the
# spec retries as Istio does by default: connect-failure, refused-stream,
# unavailable, cancelled and 503 (Consul spells retriable-status-codes as
# retryOnStatusCodes).
DEFAULT_RETRY_ON = ("connect-failure", "refused-stream", "unavailable", "cancelled")
DEFAULT_RETRY_STATUS = (503,)


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


def _http_match(route: Route) -> dict[str, Any]:
    assert route.match is not None
    match: dict[str, Any] = {}
    if route.match.path is not None:
        match.update(_path_match(route.match.path))
    if route.match.headers:
        match["header"] = [_header_match(h, m) for h, m in route.match.headers]
    return match or {"pathPrefix": "/"}


def destination_settings(svc: Service, report: Report) -> dict[str, Any]:
    """The timeout and retries every route of the service carries."""
    settings: dict[str, Any] = {}
    timeout = svc.timeout
    retries = svc.retries
    # One try: its timeout is the request's (whichever ends first).
    if (
        retries is not None
        and retries.attempts == 0
        and retries.per_try_timeout is not None
        and (
            timeout is None or duration_seconds(retries.per_try_timeout) < duration_seconds(timeout)
        )
    ):
        timeout = retries.per_try_timeout
    if timeout is not None:
        settings["requestTimeout"] = timeout
    if retries is None or retries.attempts == 0:
        return settings
    if retries.per_try_timeout is not None:
        report.lossy(
            "services.retries.perTryTimeout", f"{svc.path}.retries.perTryTimeout", "not rendered"
        )
    settings["numRetries"] = retries.attempts
    settings["retryOn"] = list(retries.retry_on or DEFAULT_RETRY_ON)
    if not retries.retry_on:
        settings["retryOnStatusCodes"] = list(DEFAULT_RETRY_STATUS)
    return settings


def router(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    settings = destination_settings(svc, report)
    routes: list[dict[str, Any]] = []
    for i, route in enumerate(svc.routes):
        if route.match is None:
            continue  # the catch-all below
        if len(route.split) == 1:
            destination: dict[str, Any] = {"serviceSubset": route.split[0][0]}
        else:
            destination = {"service": split_service(svc, route, i)}
        routes.append(
            {"match": {"http": _http_match(route)}, "destination": {**destination, **settings}}
        )
    if settings:
        # Consul's own catch-all carries no timeout or retries: this one does,
        # and goes where Consul's would (the service's splitter or resolver).
        routes.append({"match": {"http": {"pathPrefix": "/"}}, "destination": dict(settings)})
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
