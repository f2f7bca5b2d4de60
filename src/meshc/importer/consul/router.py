"""A ServiceRouter: the matched routes, in order, and the service's (or its default
route's) settings on the last catch-all.

The inverse of targets/consul/routing.py's ``router``:

- a spec route with several matches is one router route per match, in order, each with
  the route's destination; a route to a version is ``serviceSubset``, a route that splits
  goes to its own splitter ``<service>--<route>``. So consecutive router routes with the
  same destination are read as one route whose ``matches`` are theirs: Envoy takes the
  first route that matches, and routes that go to one place with the same settings take
  the same requests whether they are one spec route or several. Routes to one splitter
  are always one route (the target writes a splitter per route). Two routes a team wrote
  to one version with the same settings so come back as one; the render is the same;
- a match is ``pathExact`` / ``pathPrefix`` / ``pathRegex`` and ``header``, each read by
  one entry of :data:`MATCH`; on a grpc service (its chain's protocol), a ``pathExact``
  ``/<pkg.Service>/<Method>`` is that gRPC method and a ``pathPrefix`` ``/<pkg.Service>/``
  every method of that service, as the target writes ``match.grpc`` (a service name
  without a package, and any path on an http2 service, stays a path: the render is the
  same; but a ``/<name>/`` prefix without the rewrite the route's other matches have is
  the gRPC service ``name``, after which the target writes none: ``read_rewrite``);
- the last route, ``pathPrefix: /`` with no subset, is the target's catch-all: its
  destination carries the default route's settings, its own or else the service's. Its
  timeout and retries are read as the service's, and a matched route whose own differ
  keeps them (no retries: ``attempts: 0``); when a matched route has no timeout and the
  catch-all has one, that timeout can only be the default route's, and so is read. Its
  header changes are the default route's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from meshc.compiler.targets.consul.common import HTTP_PROTOCOLS

from ..draft import Draft, Part, Source, origin
from .defaults import protocol_of
from .destination import DESTINATION, HEADERS, SETTINGS, read_rewrite, settings_of
from .routing import read_splits, versions_of

# The spec's gRPC service and method names (schema_traffic's patterns), the service
# package-qualified, as the Istio importer reads a URI: /metrics/ stays a path.
_GRPC_SERVICE = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+"
_GRPC_METHOD = re.compile(rf"/({_GRPC_SERVICE})/([A-Za-z_][A-Za-z0-9_]*)")
_GRPC_PREFIX = re.compile(rf"/({_GRPC_SERVICE})/")
# The protocol whose every request is a gRPC call.
_GRPC = "grpc"
_CATCH_ALL = {"pathPrefix": "/"}


@dataclass
class Routed:
    """What a ServiceRouter says: the matched routes, and what its catch-all gives the
    service's default route (timeout, retries, header changes)."""

    routes: list[Part]
    default: Part = field(default_factory=dict)
    catch_all: str = ""  # the catch-all's path in the router, when there is one


# --- matches ------------------------------------------------------------------------------


def _unescaped(regex: str) -> str | None:
    """The literal string ``regex`` matches, when it is an escaped one (re.escape)."""
    literal = re.sub(r"\\(.)", r"\1", regex, flags=re.DOTALL)
    return literal if re.escape(literal) == regex else None


def _regex_path(value: str) -> Part:
    # The target writes an exact path or prefix not starting with / as a regex.
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


def _headers(draft: Draft, src: Source, path: str, value: Any, match: Part) -> bool:
    headers: Part = {}
    for j, h in enumerate(value or []):
        found = _header(draft, src, f"{path}[{j}]", h)
        if found is None:
            return False
        headers[str(h.get("name"))] = found
    if headers:
        match["headers"] = headers
    return True


def _path_reader(read: Callable[[str], Part]) -> MatchReader:
    def reader(draft: Draft, src: Source, path: str, value: Any, match: Part) -> bool:
        match["path"] = read(str(value))
        return True

    return reader


MatchReader = Callable[[Draft, Source, str, Any, Part], bool]
# match.http field -> its reader (True: read).
MATCH: dict[str, MatchReader] = {
    "pathExact": _path_reader(lambda v: {"exact": v}),
    "pathPrefix": _path_reader(lambda v: {"prefix": v}),
    "pathRegex": _path_reader(_regex_path),
    "header": _headers,
}


def _as_grpc(match: Part) -> Part:
    """A path match that is a gRPC method (or every method of a gRPC service)."""
    path = match.get("path") or {}
    method = _GRPC_METHOD.fullmatch(str(path.get("exact", "")))
    service = _GRPC_PREFIX.fullmatch(str(path.get("prefix", "")))
    if method is not None:
        grpc: Part = {"service": method[1], "method": method[2]}
    elif service is not None:
        grpc = {"service": service[1]}
    else:
        return match
    rest = {k: v for k, v in match.items() if k != "path"}
    return {"grpc": grpc, **rest}


def _match(draft: Draft, src: Source, path: str, raw: Any, grpc: bool) -> Part | None:
    raw = raw or {}
    for key in sorted(set(raw) - {"http"}):
        draft.lose(src, f"{path}.{key}", "not a match of the spec; the rule is not imported")
        return None
    http = raw.get("http") or {}
    match: Part = {}
    for key, value in http.items():
        reader = MATCH.get(key)
        if reader is None:
            draft.lose(
                src,
                f"{path}.http.{key}",
                "the spec matches on path and headers only; the rule is not imported",
            )
            return None
        if not reader(draft, src, f"{path}.http.{key}", value, match):
            return None
    match = _as_grpc(match) if grpc else match
    return match or {"path": {"prefix": "/"}}


# --- router -------------------------------------------------------------------------------


def _is_catch_all(route: dict[str, Any], svc: Part) -> bool:
    """The target's last route: every path, to the service's own chain, with settings."""
    dest = route.get("destination") or {}
    read = {*SETTINGS, *HEADERS}
    return (route.get("match") or {}).get("http", _CATCH_ALL) == _CATCH_ALL and (
        set(dest) <= read or (set(dest) - read == {"service"} and dest["service"] == svc["name"])
    )


def _destination(raw: Any, svc: Part) -> dict[str, Any]:
    """What a router route's destination says of the spec route it is part of: all of it,
    but the prefixRewrite of a route to a splitter (a route's own, written after some of
    its matches only)."""
    dest = dict((raw or {}).get("destination") or {})
    if "serviceSubset" not in dest and dest.get("service", svc["name"]) != svc["name"]:
        dest.pop("prefixRewrite", None)
    return dest


def _groups(raw: list[Any], svc: Part) -> list[list[int]]:
    """The indexes of consecutive routes with the same destination."""
    groups: list[list[int]] = []
    for i, r in enumerate(raw):
        if groups and _destination(raw[groups[-1][0]], svc) == _destination(r, svc):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def read_router(
    draft: Draft, src: Source, svc: Part, splitters: dict[str, Source]
) -> Routed | None:
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
    routed = Routed([])
    own: Part = {}
    if raw and _is_catch_all(raw[-1], svc):
        routed.catch_all = f"spec.routes[{len(raw) - 1}]"
        dest = raw.pop()["destination"] or {}
        own = settings_of(draft, src, f"{routed.catch_all}.destination", dest)
        for key in HEADERS:
            DESTINATION[key](
                draft, src, f"{routed.catch_all}.destination.{key}", dest.get(key), routed.default
            )
    found: list[tuple[Part, Part]] = []
    for group in _groups(raw, svc):
        read = _route(draft, src, group, raw, svc, splitters, len(found))
        if read is not None:
            found.append(read)
    if "timeout" in own and not all("timeout" in settings for _, settings in found):
        # A matched route without a timeout takes the service's: there is none, and the
        # catch-all's is the default route's own.
        routed.default["timeout"] = own.pop("timeout")
    svc.update(own)
    for route, settings in found:
        for key in ("timeout", "retries"):
            if settings.get(key) != own.get(key):
                route[key] = settings.get(key, {"attempts": 0})
        routed.routes.append(route)
    draft.imported += 1
    return routed


def _target(
    draft: Draft,
    src: Source,
    dpath: str,
    dest: dict[str, Any],
    svc: Part,
    splitters: dict[str, Source],
    route: Part,
    index: int,
) -> bool:
    """Where the route goes: ``to`` a version, or the ``split`` of its own splitter."""
    target = str(dest.pop("service", svc["name"]))
    subset = dest.pop("serviceSubset", None)
    if target == svc["name"] and subset in versions_of(svc):
        route["to"] = str(subset)
        return True
    if target in splitters and target.startswith(f"{svc['name']}--") and subset is None:
        slug = target.removeprefix(f"{svc['name']}--")
        if not read_splits(draft, splitters.pop(target), svc, route):
            return False
        if slug != f"route-{index}":  # the target's slug of a route without a name
            route["name"] = slug
        return True
    draft.lose(
        src,
        dpath,
        f"the spec's routes go to versions of {svc['name']} (its resolver's subsets) "
        "or the splitter of the route; the rule is not imported",
    )
    return False


def _route(
    draft: Draft,
    src: Source,
    group: list[int],
    raw: list[Any],
    svc: Part,
    splitters: dict[str, Source],
    index: int,
) -> tuple[Part, Part] | None:
    """The spec route of consecutive router routes to one destination, and its timeout
    and retries (compared with the service's by the caller)."""
    route: Part = {}
    matches: list[Part] = []
    grpc = protocol_of(svc) == _GRPC
    for i in group:
        origin(route, src, f"spec.routes[{i}]")
        match = _match(draft, src, f"spec.routes[{i}].match", raw[i].get("match"), grpc)
        if match is None:
            return None
        matches.append(match)
    if len(matches) == 1:
        route["match"] = matches[0]
    else:
        route["matches"] = matches
    dpath = f"spec.routes[{group[0]}].destination"
    dest = dict(raw[group[0]].get("destination") or {})
    if not _target(draft, src, dpath, dest, svc, splitters, route, index):
        return None
    settings = settings_of(draft, src, dpath, {k: dest.pop(k) for k in SETTINGS if k in dest})
    rewrites = [(raw[i].get("destination") or {}).get("prefixRewrite") for i in group]
    dest.pop("prefixRewrite", None)
    paths = [f"spec.routes[{i}].destination.prefixRewrite" for i in group]
    if not read_rewrite(draft, src, paths, rewrites, route, grpc):
        return None
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
    return route, settings
