"""consul-k8s's API gateway beside the config entries: its identity in the backends'
intentions, and its routes' RouteTimeoutFilter and RouteRetryFilter against the backends'
own settings.

The Gateway and its HTTPRoutes are read by the Gateway API importer (gatewayapi.py), which
keeps each rule's filters on its route; this is the inverse of the rest of
targets/consul/ingress.py and of the gateway's source in targets/consul/policy.py:

- consul-k8s registers the gateway's pods as the Consul service named like the Gateway
  (binding/registration.go, ``registrationForPod``) and writes no intention for it, so
  meshc admits that service in the intentions of every backend its routes reach: a source
  of that name is the gateway's identity, not a caller's allow rule;
- a rule's RouteTimeoutFilter is the route's timeout, or its backend's (the target writes
  the backend's timeout where the route has none); its RouteRetryFilter is the backend's
  retries, the only ones the spec's ingress routes have. A router's catch-all says the
  service's timeout and retries or its default route's own alike; a route without the
  filter tells they are the default route's, and a retry filter where the catch-all has
  none tells the service's retries.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from meshc.compiler.targets.consul.destination import DEFAULT_RETRY_ON
from meshc.compiler.targets.gatewayapi import GROUP as GATEWAY_API_GROUP
from meshc.providers.consul import CONFIG_GROUP, ROUTE_RETRY_FILTER, ROUTE_TIMEOUT_FILTER

from ..draft import Draft, Part, Source
from ..inventory import Inventory


def _backend(entry: Part, route: Part) -> tuple[str, str] | None:
    backend = route.get("backend")
    if backend is None:
        return None
    return str(backend.get("namespace") or entry["namespace"]), str(backend["service"])


@dataclass
class Gateways:
    """The Gateways an intention's source may name: the input's (and the imported entries
    among them), and the ones its HTTPRoutes name without the input defining them."""

    defined: set[str] = field(default_factory=set)
    undefined: set[str] = field(default_factory=set)
    # Consul service of an imported Gateway -> the backends its routes reach.
    reaches: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, inv: Inventory, draft: Draft) -> Gateways:
        found = cls()
        found.defined = {s.name for s in inv.kind("Gateway", GATEWAY_API_GROUP)}
        for src in inv.kind("HTTPRoute", GATEWAY_API_GROUP):
            for parent in src.spec.get("parentRefs") or []:
                if isinstance(parent, dict) and parent.get("kind", "Gateway") == "Gateway":
                    found.undefined.add(str(parent.get("name")))
        found.undefined -= found.defined
        for entry in draft.ingress.values():
            backends = {b for b in (_backend(entry, r) for r in entry["routes"]) if b is not None}
            found.reaches.setdefault(entry["name"], set()).update(backends)
        return found

    def source(self, draft: Draft, src: Source, path: str, name: str, svc: Part) -> bool:
        """Whether an allowed source ``name`` is a gateway's identity (so no caller); a
        gateway the spec cannot admit there is reported."""
        if name in self.undefined:
            draft.lose(
                src,
                path,
                f"the Consul service of Gateway {name!r}, which HTTPRoutes of the input name "
                "and the input does not define; not imported",
            )
            return True
        if name not in self.defined:
            return False
        if (svc["namespace"], svc["name"]) in self.reaches.get(name, set()):
            svc.setdefault("_gateways", set()).add(name)
        else:
            draft.lose(
                src,
                path,
                f"the Consul service of Gateway {name!r}, no imported route of which goes to "
                f"{svc['name']}: the spec admits an ingress gateway on its routes' backends "
                "only; not imported",
            )
        return True


def _to_default_route(svc: Part, key: str) -> bool:
    """Move the service's ``key`` (timeout or retries) to its default route, when the
    router's catch-all, read as the service's, can be that route's own: the target writes
    either there, and an ingress route takes the service's only. The other routes keep it
    as their own, as the service's gave it them (the router says the same)."""
    routes = svc.get("routes") or []
    default = [r for r in routes if "match" not in r and "matches" not in r]
    if len(default) != 1 or key in default[0]:
        return False
    value = svc.pop(key)
    for route in routes:
        route.setdefault(key, copy.deepcopy(value))
    return True


def _from_filter(svc: Part, retry: Source) -> None:
    """The service's retries from a RouteRetryFilter, when its router's catch-all, with
    none, can be its default route's own ``attempts: 0``: the target writes the service's
    retries on an ingress route only. The routes that took the service's none keep it."""
    spec = retry.spec
    attempts, conditions = spec.get("numRetries"), spec.get("retryOn")
    if set(spec) != {"numRetries", "retryOn"} or not isinstance(attempts, int) or attempts < 1:
        return
    routes = svc.get("routes") or []
    if len([r for r in routes if "match" not in r and "matches" not in r]) != 1:
        return
    for route in routes:
        route.setdefault("retries", {"attempts": 0})
    svc["retries"] = {"attempts": attempts, "retryOn": [str(c) for c in conditions or []]}


def _settings(draft: Draft, entry: Part, route: Part, svc: Part) -> None:
    src, path = route.pop("_at")
    timeout, retry = route.pop("_timeout_filter", None), route.pop("_retry_filter", None)
    implied = svc.get("timeout")
    if "timeout" in route and route["timeout"] == implied:
        del route["timeout"]  # the backend's, which the target writes for a route without
    elif "timeout" not in route and implied is not None and timeout is None:
        draft.lose(
            src,
            f"{path}.filters",
            f"no RouteTimeoutFilter, and the backend {svc['name']} times out after "
            f"{implied}: a spec ingress route without a timeout takes its backend's; "
            "imported so",
        )
    retries = svc.get("retries") or {}
    expected = (
        {
            "numRetries": retries["attempts"],
            "retryOn": list(retries.get("retryOn") or DEFAULT_RETRY_ON),
        }
        if retries.get("attempts")
        else None
    )
    given = retry.spec if retry is not None else None
    if given == expected:
        return
    if retry is None:
        draft.lose(
            src,
            f"{path}.filters",
            f"no RouteRetryFilter, and the backend {svc['name']} retries: a spec ingress "
            "route retries as its backend does; imported so",
        )
    else:
        draft.lose(
            retry,
            "spec",
            f"the spec's ingress routes retry as their backend {svc['name']} does "
            f"({expected or 'not at all'}); not imported",
        )


def settle_ingress(draft: Draft, inv: Inventory) -> None:
    """The filters of consul-k8s's gateway routes against their backends (once the
    services have their settings), and the gateway each backend's intentions must admit."""
    read: set[int] = set()
    unadmitted: set[tuple[str, str, str]] = set()
    entries = [e for e in draft.ingress.values() if e.pop("_consul", False)]
    # Every route to a service takes its timeout and retries: one without the filter tells
    # the router's catch-all gave them to the default route only.
    for entry in entries:
        for route in entry["routes"]:
            backend = _backend(entry, route)
            svc = draft.service(*backend) if backend is not None else None
            if svc is not None and "_timeout_filter" not in route and "timeout" in svc:
                _to_default_route(svc, "timeout")
            if svc is not None and "_retry_filter" not in route and svc.get("retries"):
                _to_default_route(svc, "retries")
            elif svc is not None and "_retry_filter" in route and not svc.get("retries"):
                _from_filter(svc, route["_retry_filter"])
    for entry in entries:
        for route in entry["routes"]:
            for key in ("_timeout_filter", "_retry_filter"):
                if key in route:
                    read.add(id(route[key]))
            backend = _backend(entry, route)
            svc = draft.service(*backend) if backend is not None else None
            if backend is None or svc is None:
                for key in ("_at", "_timeout_filter", "_retry_filter"):
                    route.pop(key, None)
                continue
            _settings(draft, entry, route, svc)
            intentions = svc.get("_intentions")
            pair = (entry["name"], *backend)
            if intentions is not None and entry["name"] not in svc.get("_gateways", set()):
                if pair in unadmitted:
                    continue
                unadmitted.add(pair)
                draft.lose(
                    intentions,
                    "spec.sources",
                    f"no source admits the Consul service of Gateway {entry['name']!r}, whose "
                    f"routes go to {svc['name']}: the spec admits an ingress gateway on its "
                    "routes' backends; imported so",
                )
    for svc in draft.services.values():
        svc.pop("_gateways", None)
        svc.pop("_intentions", None)
    for src in inv.kind(ROUTE_TIMEOUT_FILTER, CONFIG_GROUP) + inv.kind(
        ROUTE_RETRY_FILTER, CONFIG_GROUP
    ):
        if id(src) in read:
            draft.imported += 1
        else:
            draft.lose(src, "", "no imported rule of an HTTPRoute names it; not imported")
