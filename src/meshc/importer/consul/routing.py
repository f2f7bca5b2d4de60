"""A service's discovery chain: its ServiceResolver's subsets as ``versions``, its
ServiceSplitter as the default route, its ServiceRouter as the routes before it, with
the timeout and retries the router's destinations carry.

The inverse of targets/consul/routing.py:

- a subset's filter is ``Service.Meta["<key>"] == "<value>"`` per version label, joined
  by ``and``; the key is the label with what Consul's metadata keys refuse replaced by
  ``_`` (:func:`meshc.providers.consul.service_meta_key`), so a key is the pod label of
  the service's workloads that becomes it, else the key itself;
- the service's own splitter is the default route; a matched route that splits goes to
  the splitter ``<service>--<route>``, whose name carries the route's name (or
  ``route-<index>``);
- the service's timeout and retries are on every destination and on a last catch-all
  ``pathPrefix: /`` route with no service or subset; a destination whose settings differ
  is a route with a timeout or retries of its own;
- a path the target wrote as a regular expression (an exact or prefix path not starting
  with ``/``) is that exact path or prefix again.

Each destination and match field is read by one entry of :data:`DESTINATION` or
:data:`MATCH`; a route of several matches is several router routes to one destination,
kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from meshc.compiler.schema_traffic import GRPC_RETRY_CONDITIONS, HTTP_RETRY_CONDITIONS
from meshc.compiler.targets.consul.common import HTTP_PROTOCOLS
from meshc.compiler.targets.consul.routing import DEFAULT_RETRY_ON, DEFAULT_RETRY_STATUS
from meshc.providers.consul import service_meta_key

from ..draft import Draft, Part, Source, origin
from ..inventory import Inventory, pod_labels
from .defaults import protocol_of

_META = re.compile(r'Service\.Meta\["([A-Za-z0-9_-]+)"\] == "([^"\\]*)"')
_CONDITIONS = frozenset((*HTTP_RETRY_CONDITIONS, *GRPC_RETRY_CONDITIONS))
SETTINGS = (
    "requestTimeout",
    "numRetries",
    "retryOn",
    "retryOnStatusCodes",
    "retryOnConnectFailure",
)
_SUBSET_FIELDS = {"filter"}
_RESOLVER_READ = {"subsets", "defaultSubset"}


# --- versions --------------------------------------------------------------------------------


def _label(inv: Inventory, draft: Draft, svc: Part, key: str) -> str:
    """The pod label of the service's workloads whose catalog key is ``key``."""
    for w in inv.workloads():
        if draft.namespace_of(w) != svc["namespace"]:
            continue
        labels = pod_labels(w)
        if not all(labels.get(k) == v for k, v in svc["selector"].items()):
            continue
        for label in labels:
            if service_meta_key(label) == key:
                return label
    return key


def _filter_labels(filter_: str) -> list[tuple[str, str]] | None:
    parts = filter_.split(" and ")
    found = [_META.fullmatch(p.strip()) for p in parts]
    if not all(found):
        return None
    return [(m[1], m[2]) for m in found if m is not None]


def read_resolver(draft: Draft, inv: Inventory, src: Source, svc: Part) -> Part | None:
    """The versions of ``svc`` (its resolver's subsets); the default route a
    ``defaultSubset`` makes, for a service without a splitter of its own."""
    spec = src.spec
    if svc.get("versions"):
        draft.lose(
            src, "spec.subsets", f"{svc['name']} has versions of another mesh already; not merged"
        )
        return None
    versions: list[Part] = []
    for name, subset in (spec.get("subsets") or {}).items():
        path = f"spec.subsets.{name}"
        pairs = _filter_labels(str((subset or {}).get("filter", "")))
        extra = sorted(set(subset or {}) - _SUBSET_FIELDS)
        if pairs is None or not pairs or extra:
            draft.lose(
                src,
                f"{path}.{extra[0]}" if extra else f"{path}.filter",
                "a version is the instances whose catalog metadata holds its labels: a "
                'filter of Service.Meta["<key>"] == "<value>" joined by "and", and no other '
                "field; not imported",
            )
            continue
        labels = {_label(inv, draft, svc, k): v for k, v in pairs}
        version: Part = {"name": str(name), "labels": labels}
        origin(version, src, path)
        versions.append(version)
    if versions:
        svc["versions"] = versions
    carried = {k: v for k, v in spec.items() if k not in _RESOLVER_READ}
    if carried and versions:
        at = draft.override(
            src,
            "ServiceResolver",
            svc["namespace"],
            svc["name"],
            "consul",
            merge={"spec": carried},
            reason=f"imported from {src.ref}: fields of the ServiceResolver the spec does not say",
        )
        for key in carried:
            draft.lose(src, f"spec.{key}", "not a setting of the spec", at)
    elif carried:
        for key in carried:
            draft.lose(
                src,
                f"spec.{key}",
                "not a setting of the spec, and meshc renders a ServiceResolver for a "
                "service with versions only; not imported",
            )
    draft.imported += 1
    default = spec.get("defaultSubset")
    if default is None:
        return None
    if not any(v["name"] == default for v in versions):
        draft.lose(src, "spec.defaultSubset", f"{default!r} is no subset read; not imported")
        return None
    route: Part = {"to": str(default)}
    return origin(route, src, "spec.defaultSubset")


# --- splits ----------------------------------------------------------------------------------


def _versions(svc: Part) -> set[str]:
    return {str(v["name"]) for v in svc.get("versions", [])}


def read_splits(draft: Draft, src: Source, svc: Part, route: Part) -> bool:
    """A splitter's splits into ``route`` (``to`` or ``split``); False when the spec
    cannot say them."""
    splits = src.spec.get("splits") or []
    for key in sorted(set(src.spec) - {"splits"}):
        draft.lose(src, f"spec.{key}", "not a setting of the spec's splits; not imported")
    weights: dict[str, float] = {}
    for i, split in enumerate(splits):
        path = f"spec.splits[{i}]"
        subset = split.get("serviceSubset")
        extra = sorted(set(split) - {"weight", "service", "serviceSubset"})
        if extra:
            draft.lose(
                src,
                f"{path}.{extra[0]}",
                "the spec's splits send a share of requests to a version and change "
                "nothing else; the split is not imported",
            )
            return False
        if split.get("service", svc["name"]) != svc["name"] or subset not in _versions(svc):
            draft.lose(
                src,
                path,
                f"the spec's splits go to the versions of {svc['name']} (its resolver's "
                "subsets); the splitter is not imported",
            )
            return False
        weights[str(subset)] = weights.get(str(subset), 0) + float(split.get("weight", 0))
    if not weights:
        draft.lose(src, "spec.splits", "splits nothing; not imported")
        return False
    rounded = {v: round(w) for v, w in weights.items()}
    if any(rounded[v] != w for v, w in weights.items()) or sum(rounded.values()) != 100:
        draft.lose(
            src,
            "spec.splits",
            "the spec's weights are whole percents summing to 100; imported rounded",
        )
    if len(rounded) == 1:
        route["to"] = next(iter(rounded))
    else:
        route["split"] = rounded
    origin(route, src)
    draft.imported += 1
    return True


# --- router: destinations ---------------------------------------------------------------------


def _unescaped(regex: str) -> str | None:
    """The literal string ``regex`` matches, when it is an escaped one (re.escape)."""
    literal = re.sub(r"\\(.)", r"\1", regex, flags=re.DOTALL)
    return literal if re.escape(literal) == regex else None


def _retries(draft: Draft, src: Source, path: str, dest: dict[str, Any]) -> Part | None:
    attempts = int(dest.get("numRetries") or 0)
    if not attempts:
        return None
    retry_on = [str(c) for c in dest.get("retryOn") or []]
    codes = [int(c) for c in dest.get("retryOnStatusCodes") or []]
    if dest.get("retryOnConnectFailure") and "connect-failure" not in retry_on:
        retry_on.append("connect-failure")
    if retry_on == list(DEFAULT_RETRY_ON) and codes == list(DEFAULT_RETRY_STATUS):
        return {"attempts": attempts}  # the spec's default conditions, as the target writes them
    if codes:
        draft.lose(
            src,
            f"{path}.retryOnStatusCodes",
            "the spec's retry conditions name no status codes; imported without them",
        )
    unknown = [c for c in retry_on if c not in _CONDITIONS]
    for c in unknown:
        draft.lose(src, f"{path}.retryOn", f"{c}: not one of the spec's retry conditions")
    conditions = [c for c in retry_on if c in _CONDITIONS]
    if not conditions:
        draft.lose(
            src,
            f"{path}.numRetries",
            "no condition to retry on, so Envoy retries nothing; imported without retries",
        )
        return None
    return {"attempts": attempts, "retryOn": conditions}


def settings_of(draft: Draft, src: Source, path: str, dest: dict[str, Any]) -> Part:
    """A destination's timeout and retries, in the spec's words."""
    out: Part = {}
    if "requestTimeout" in dest:
        out["timeout"] = str(dest["requestTimeout"])
    retries = _retries(draft, src, path, dest)
    if retries is not None:
        out["retries"] = retries
    return out


def _headers(draft: Draft, src: Source, path: str, value: Any, route: Part, which: str) -> bool:
    ops = {k: v for k, v in (value or {}).items() if v}
    for key in sorted(set(ops) - {"add", "set", "remove"}):
        draft.lose(
            src, f"{path}.{key}", "not a header change of the spec; the rule is not imported"
        )
        return False
    if ops:
        route.setdefault("headers", {})[which] = ops
    return True


def _prefix_rewrite(draft: Draft, src: Source, path: str, value: Any, route: Part) -> bool:
    match = route.get("match", {}).get("path") or {}
    if "regex" in match or not match:
        draft.lose(
            src,
            path,
            "the spec rewrites the matched prefix of a prefix or exact path match; "
            "the rule is not imported",
        )
        return False
    route["rewrite"] = {"path": str(value)}
    return True


# destination field -> its reader (True: read); the subset, service and settings are read
# by read_router itself.
Destination = Callable[[Draft, Source, str, Any, Part], bool]
DESTINATION: dict[str, Destination] = {
    "requestHeaders": lambda d, s, p, v, r: _headers(d, s, p, v, r, "request"),
    "responseHeaders": lambda d, s, p, v, r: _headers(d, s, p, v, r, "response"),
    "prefixRewrite": _prefix_rewrite,
}


# --- router: matches ---------------------------------------------------------------------------


def _path(value: str, kind: str) -> Part:
    if kind == "pathExact":
        return {"exact": value}
    if kind == "pathPrefix":
        return {"prefix": value}
    literal = _unescaped(value)
    if literal is not None and not literal.startswith("/"):
        return {"exact": literal}
    if value.endswith(".*"):
        literal = _unescaped(value[:-2])
        if literal is not None and not literal.startswith("/"):
            return {"prefix": literal}
    return {"regex": value}


def _header(draft: Draft, src: Source, path: str, h: dict[str, Any]) -> Part | None:
    kinds = {k: v for k, v in h.items() if k != "name"}
    if kinds == {"present": True}:
        return {"prefix": ""}
    if kinds == {"regex": "^$"}:
        return {"exact": ""}
    if len(kinds) == 1 and next(iter(kinds)) in ("exact", "prefix", "regex"):
        kind, value = next(iter(kinds.items()))
        return {kind: str(value)}
    draft.lose(
        src,
        path,
        "the spec matches a header exactly, by prefix or by regex (suffix, "
        "absence and inverted matches it has not); the rule is not imported",
    )
    return None


def _match(draft: Draft, src: Source, path: str, raw: Any) -> Part | None:
    raw = raw or {}
    for key in sorted(set(raw) - {"http"}):
        draft.lose(src, f"{path}.{key}", "not a match of the spec; the rule is not imported")
        return None
    http = raw.get("http") or {}
    match: Part = {}
    for key in sorted(set(http) - {"pathExact", "pathPrefix", "pathRegex", "header"}):
        draft.lose(
            src,
            f"{path}.http.{key}",
            "the spec matches on path and headers only; the rule is not imported",
        )
        return None
    for kind in ("pathExact", "pathPrefix", "pathRegex"):
        if kind in http:
            match["path"] = _path(str(http[kind]), kind)
    headers: Part = {}
    for j, h in enumerate(http.get("header") or []):
        found = _header(draft, src, f"{path}.http.header[{j}]", h)
        if found is None:
            return None
        headers[str(h.get("name"))] = found
    if headers:
        match["headers"] = headers
    return match or {"path": {"prefix": "/"}}


# --- router ------------------------------------------------------------------------------------


def _is_catch_all(route: dict[str, Any], svc: Part) -> bool:
    """The target's last route: every path, to the service's own chain, with its settings."""
    dest = route.get("destination") or {}
    return (route.get("match") or {}).get("http", {"pathPrefix": "/"}) == {"pathPrefix": "/"} and (
        set(dest) <= set(SETTINGS)
        or (set(dest) - set(SETTINGS) == {"service"} and dest["service"] == svc["name"])
    )


def read_router(
    draft: Draft, src: Source, svc: Part, splitters: dict[str, Source]
) -> list[Part] | None:
    """The matched routes (in order); the service's own timeout and retries into ``svc``.
    ``splitters``: the splitters by name, of which a route's own ``<service>--<route>``."""
    if protocol_of(svc) not in HTTP_PROTOCOLS:
        draft.lose(
            src,
            "",
            f"{svc['name']} speaks tcp, whose discovery chain has no router (Consul refuses "
            "it); not imported",
        )
        return None
    for key in sorted(set(src.spec) - {"routes"}):
        draft.lose(src, f"spec.{key}", "not a setting of the spec's routes; not imported")
    raw = list(src.spec.get("routes") or [])
    own: Part = {}
    if raw and _is_catch_all(raw[-1], svc):
        i = len(raw) - 1
        own = settings_of(
            draft, src, f"spec.routes[{i}].destination", raw.pop()["destination"] or {}
        )
        svc.update(own)
    routes: list[Part] = []
    for i, r in enumerate(raw):
        route = _route(draft, src, f"spec.routes[{i}]", r, svc, own, splitters, len(routes))
        if route is not None:
            routes.append(route)
    draft.imported += 1
    return routes


def _route(
    draft: Draft,
    src: Source,
    path: str,
    raw: dict[str, Any],
    svc: Part,
    own: Part,
    splitters: dict[str, Source],
    index: int,
) -> Part | None:
    route: Part = {}
    origin(route, src, path)
    match = _match(draft, src, f"{path}.match", raw.get("match"))
    if match is None:
        return None
    route["match"] = match
    dest = dict(raw.get("destination") or {})
    dpath = f"{path}.destination"
    target = str(dest.pop("service", svc["name"]))
    subset = dest.pop("serviceSubset", None)
    if target == svc["name"] and subset in _versions(svc):
        route["to"] = str(subset)
    elif target in splitters and target.startswith(f"{svc['name']}--") and subset is None:
        slug = target.removeprefix(f"{svc['name']}--")
        if not read_splits(draft, splitters.pop(target), svc, route):
            return None
        if slug != f"route-{index}":  # the target's slug of a route without a name
            route["name"] = slug
    else:
        draft.lose(
            src,
            dpath,
            f"the spec's routes go to versions of {svc['name']} (its resolver's subsets) "
            "or the splitter of the route; the rule is not imported",
        )
        return None
    settings = settings_of(draft, src, dpath, {k: dest.pop(k) for k in SETTINGS if k in dest})
    for key in ("timeout", "retries"):
        if settings.get(key) != own.get(key):
            if key in settings:
                route[key] = settings[key]
            elif key == "retries":
                route["retries"] = {"attempts": 0}
            else:
                draft.lose(
                    src,
                    f"{dpath}.requestTimeout",
                    "no timeout on this route, and the service has one: the spec's route "
                    "takes the service's; imported so",
                )
    for key, value in dest.items():
        reader = DESTINATION.get(key)
        if reader is None:
            draft.lose(
                src,
                f"{dpath}.{key}",
                "not a setting of the spec's routes; the rule is not imported",
            )
            return None
        if not reader(draft, src, f"{dpath}.{key}", value, route):
            return None
    return route
