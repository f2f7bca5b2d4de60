"""Kuma's configuration: the Mesh (mTLS mode, the spec's ``kuma.mesh``), the namespaces'
``kuma.io/mesh`` label, and the policies of group kuma.io that name a service's
MeshServices: MeshHTTPRoute (matches, filters, weighted backends), MeshTCPRoute,
MeshTimeout, MeshRetry, MeshCircuitBreaker (per service, or per route through the
route's own MeshHTTPRoute), MeshFaultInjection and MeshRateLimit (on the service's
pods), MeshTrafficPermission (who may call) and MeshPassthrough (egress); the builtin
gateway (MeshGateway, MeshGatewayInstance, and the MeshHTTPRoutes and MeshTimeouts that
target it) is spec.ingress (kuma_gateway.py).

The inverse of :mod:`meshc.compiler.targets.kuma`: a version is a Service
``<service>-<version>`` selecting a subset of the service's pods (read by
:func:`meshc.importer.linkerd.versions` for every mesh), a string prefix Kuma got as a
regular expression (``/static.*``) is a prefix again, and a route with its own timeout
or retries is the MeshHTTPRoute ``<service>-<route name>`` (``route-<index>`` when the
route has no name) that its MeshTimeout and MeshRetry name.
"""

from __future__ import annotations

import re
from typing import Any

from meshc.compiler.targets.kuma.common import API
from meshc.compiler.targets.kuma.permissions import NAMESPACE_TAG
from meshc.compiler.targets.kuma.resilience import GRPC_RETRY_ON, RETRY_ON
from meshc.compiler.targets.kuma.telemetry import PROMETHEUS_PATH, PROMETHEUS_PORT, STDOUT
from meshc.providers.kuma import DEFAULT_MESH, MESH_LABEL, PROFILE, SERVICE_TAG

from .draft import Draft, Part, Source, origin
from .gatewayapi import filters as gateway_filters
from .gatewayapi import settle_backends
from .inventory import Inventory

NAME = PROFILE.name
GROUP = API.partition("/")[0]
_HTTP_RETRY = {v: k for k, v in RETRY_ON.items()}
_GRPC_RETRY = {v: k for k, v in GRPC_RETRY_ON.items()}
# A string prefix as the Kuma target writes it: the escaped prefix, then .* (routing.py).
_PREFIX_REGEX = re.compile(r"^((?:\\.|[^\\.*+?()\[\]{}|^$])*)\.\*$")
_STRING = {"Exact": "exact", "Prefix": "prefix", "RegularExpression": "regex"}
_READ = {
    "Mesh",
    "MeshHTTPRoute",
    "MeshTCPRoute",
    "MeshTimeout",
    "MeshRetry",
    "MeshCircuitBreaker",
    "MeshFaultInjection",
    "MeshRateLimit",
    "MeshTrafficPermission",
    "MeshPassthrough",
    "MeshAccessLog",
    "MeshMetric",
    "MeshGateway",
    "MeshGatewayInstance",
}
_CONNECTION_LIMITS = {
    "maxConnections": "maxConnections",
    "maxPendingRequests": "http1MaxPendingRequests",
    "maxRequests": "http2MaxRequests",
}
_OUTLIER = ("interval", "baseEjectionTime", "maxEjectionPercent")
_SECONDS = {"s": 1, "m": 60, "h": 3600}


# --- the Mesh and the namespaces ------------------------------------------------------------


def _mesh(draft: Draft, src: Source) -> None:
    labels = src.meta.get("labels") or {}
    if labels.get("meshc.io/mesh") and not draft.name:
        draft.name = str(labels["meshc.io/mesh"])
    if src.name != DEFAULT_MESH:
        draft.settings.setdefault(NAME, {})["mesh"] = src.name
    spec = src.spec
    mtls = spec.get("mtls") or {}
    backends = mtls.get("backends") or []
    enabled = [b for b in backends if b.get("name") == mtls.get("enabledBackend")]
    if not enabled:
        draft.lose(
            src,
            "spec.mtls",
            "mTLS is off: the spec's mesh always encrypts (STRICT or "
            "PERMISSIVE); imported as PERMISSIVE",
        )
        draft.mtls.append(("PERMISSIVE", "", src.at()))
    else:
        backend = enabled[0]
        draft.mtls.append((str(backend.get("mode", "PERMISSIVE")), "", src.at()))
        if (
            backend.get("type") != "builtin"
            or set(backend) - {"name", "type", "mode"}
            or len(backends) != 1
        ):
            draft.lose(
                src,
                "spec.mtls.backends",
                "the spec's Mesh has Kuma's builtin CA alone; not imported",
            )
    for key in sorted(set(spec) - {"mtls", "meshServices"}):
        draft.lose(src, f"spec.{key}", "not a spec setting; not imported")
    if (spec.get("meshServices") or {}).get("mode") != "Exclusive":
        draft.lose(
            src,
            "spec.meshServices",
            "meshc's Mesh routes to the MeshServices Kuma derives from Services (mode Exclusive)",
        )
    draft.imported += 1


def _namespaces(draft: Draft) -> None:
    for ns, part in draft.namespaces.items():
        labels = part.get("labels") or {}
        name = labels.pop(MESH_LABEL, None)
        if name is None:
            continue
        if not labels:
            part.pop("labels", None)
        chosen = draft.settings.setdefault(NAME, {}).setdefault("mesh", name)
        if chosen != name:
            draft.findings.append(
                _ns_finding(
                    part["__from__"][0],
                    ns,
                    f"{MESH_LABEL}={name}",
                    f"the spec's namespaces join one Kuma Mesh ({chosen})",
                )
            )
    if draft.settings.get(NAME, {}).get("mesh") == DEFAULT_MESH:
        del draft.settings[NAME]["mesh"]


def _ns_finding(where: str, ns: str, path: str, why: str) -> Any:
    from .draft import Finding

    return Finding(where, f"Namespace {ns}", path, why)


# --- which service a policy is for -------------------------------------------------------


def _service(draft: Draft, ns: str, name: str) -> tuple[Part | None, str | None]:
    """The spec service (and version) whose MeshService ``name`` is."""
    svc = draft.service(ns, name)
    if svc is not None:
        return svc, None
    for (n, _), part in draft.services.items():
        if n != ns:
            continue
        for v in part.get("versions", []):
            if f"{part['name']}-{v['name']}" == name:
                return part, str(v["name"])
    return None, None


def _by_selector(draft: Draft, src: Source) -> Part | None:
    """The service whose pods a policy's Dataplane targetRef selects."""
    ref = src.spec.get("targetRef") or {}
    labels = {str(k): str(v) for k, v in (ref.get("labels") or {}).items()}
    ns = draft.namespace_of(src)
    if ref.get("kind") != "Dataplane" or not labels or set(ref) - {"kind", "labels"}:
        draft.lose(
            src,
            "spec.targetRef",
            "the spec's inbound policies are a service's: a "
            "Dataplane targetRef selecting its pods by labels; not imported",
        )
        return None
    candidates = [s for (n, _), s in draft.services.items() if n == ns and s["selector"] == labels]
    svc = next(
        (s for s in candidates if s["name"] == src.name), candidates[0] if candidates else None
    )
    if svc is None:
        draft.lose(src, "spec.targetRef.labels", "selects no Service's pods exactly; not imported")
    return svc


def _services_of(draft: Draft, src: Source) -> dict[str, tuple[Part, list[tuple[str, Any]]]]:
    """A producer policy's ``spec.to`` entries, by service: (service, [(path, default)]),
    the service's own entry first."""
    out: dict[str, tuple[Part, list[tuple[str, Any]]]] = {}
    order: dict[int, list[str]] = {}
    ns = draft.namespace_of(src)
    if src.spec.get("targetRef") not in (None, {"kind": "Mesh"}):
        draft.lose(
            src,
            "spec.targetRef",
            "the spec's policies apply to every caller of a "
            "service (a producer policy without a top-level targetRef); not imported",
        )
        return out
    for i, to in enumerate(src.spec.get("to") or []):
        ref = to.get("targetRef") or {}
        path = f"spec.to[{i}]"
        if ref.get("kind") == "MeshHTTPRoute":
            continue  # a route's own policy (see _route_policies)
        svc, _ = _service(draft, str(ref.get("namespace") or ns), str(ref.get("name")))
        if ref.get("kind") != "MeshService" or svc is None:
            draft.lose(
                src,
                f"{path}.targetRef",
                f"a {ref.get('kind')} {ref.get('name')}: the "
                "spec's policies are for the MeshServices of its services; not imported",
            )
            continue
        entries = out.setdefault(svc["name"] + "/" + svc["namespace"], (svc, []))[1]
        if ref.get("name") == svc["name"]:
            entries.insert(0, (path, to.get("default")))
        else:
            entries.append((path, to.get("default")))
            order.setdefault(id(svc), []).append(str(ref.get("name")))
    for svc, _ in out.values():
        _order_versions(svc, order.get(id(svc), []))
    return out


def _order_versions(svc: Part, names: list[str]) -> None:
    """The service's versions in the order a policy names their MeshServices (the Kuma
    target names them in the spec's order)."""
    versions = svc.get("versions") or []
    rank = {name: i for i, name in enumerate(names)}
    if len(names) == len(versions) and all(f"{svc['name']}-{v['name']}" in rank for v in versions):
        versions.sort(key=lambda v: rank[f"{svc['name']}-{v['name']}"])


def _one_conf(draft: Draft, src: Source, entries: list[tuple[str, Any]]) -> Any:
    """The conf every MeshService of a service gets (the spec's policies are per service)."""
    path, conf = entries[0]
    for other, value in entries[1:]:
        if value != conf:
            draft.lose(
                src,
                f"{other}.default",
                f"differs from {path}.default: the spec's "
                "policy is one for the service and its versions; imported as the first",
            )
    return conf


# --- routes ------------------------------------------------------------------------------


def _string(
    draft: Draft, src: Source, path: str, m: dict[str, Any], kinds: dict[str, str]
) -> list[Part] | None:
    kind, value = str(m.get("type", "")), str(m.get("value", ""))
    if kind == "PathPrefix" and "PathPrefix" in kinds:
        if value in ("", "/"):
            return [{"prefix": "/"}]
        base = value.rstrip("/")  # whole path segments
        return [{"exact": base}, {"prefix": base + "/"}]
    if kind == "RegularExpression":
        prefix = _PREFIX_REGEX.match(value)
        if prefix is not None and "PathPrefix" in kinds:
            return [{"prefix": re.sub(r"\\(.)", r"\1", prefix.group(1))}]
        return [{"regex": value}]
    if kind in kinds:
        return [{kinds[kind]: value}]
    draft.lose(
        src,
        path,
        f"a {kind} match: the spec matches exactly, by prefix or by regex; "
        "the rule is not imported",
    )
    return None


def _grpc(sm: Part) -> Part | None:
    kind, value = next(iter(sm.items()))
    parts = value.split("/")
    if len(parts) != 3 or not parts[1] or "." not in parts[1]:
        return None
    if kind == "exact" and parts[2]:
        return {"service": parts[1], "method": parts[2]}
    if kind == "prefix" and not parts[2]:
        return {"service": parts[1]}
    return None


def _matches(draft: Draft, src: Source, path: str, raw: list[Any], grpc: bool) -> list[Part] | None:
    out: list[Part] = []
    for i, m in enumerate(raw):
        mpath = f"{path}.matches[{i}]"
        for key in sorted(set(m) - {"path", "headers"}):
            draft.lose(
                src,
                f"{mpath}.{key}",
                "the spec matches on path and headers only; the rule is not imported",
            )
            return None
        headers: Part = {}
        for j, h in enumerate(m.get("headers") or []):
            found = _string(draft, src, f"{mpath}.headers[{j}]", h, _STRING)
            if found is None:
                return None
            headers[str(h.get("name"))] = found[0]
        paths: list[Part | None] = [None]
        if m.get("path"):
            found = _string(
                draft, src, f"{mpath}.path", m["path"], {"Exact": "exact", "PathPrefix": "prefix"}
            )
            if found is None:
                return None
            paths = list(found)
        for sm in paths:
            part: Part = {}
            method = _grpc(sm) if grpc and sm is not None else None
            if method is not None:
                part["grpc"] = method
            elif sm is not None and sm != {"prefix": "/"}:
                part["path"] = sm
            if headers:
                part["headers"] = headers
            out.append(part)
    return [] if any(not p for p in out) else out


def _mirror(draft: Draft, src: Source, path: str, f: dict[str, Any], svc: Part) -> Part | None:
    raw = f.get("requestMirror") or {}
    ref = raw.get("backendRef") or {}
    owner, version = _service(
        draft, str(ref.get("namespace") or svc["namespace"]), str(ref.get("name"))
    )
    if ref.get("kind", "MeshService") != "MeshService" or owner is None:
        draft.lose(
            src,
            f"{path}.requestMirror.backendRef",
            "mirrors to a service of the spec "
            "or a version of the route's own; the rule is not imported",
        )
        return None
    mirror: Part
    if owner is svc and version is not None:
        mirror = {"to": version}
    else:
        mirror = {"service": owner["name"]}
        if owner["namespace"] != svc["namespace"]:
            mirror["namespace"] = owner["namespace"]
        if "port" in ref:
            mirror["port"] = ref["port"]
    if "percentage" in raw:
        percent = float(str(raw["percentage"]))
        mirror["percent"] = int(percent) if percent.is_integer() else percent
    return mirror


def _rule(draft: Draft, src: Source, path: str, rule: dict[str, Any], svc: Part) -> Part | None:
    route: Part = {}
    origin(route, src, path)
    grpc = all(p.get("protocol") == "grpc" for p in svc["ports"])
    found = _matches(draft, src, path, rule.get("matches") or [], grpc)
    if found is None:
        return None
    if len(found) == 1:
        route["match"] = found[0]
    elif found:
        route["matches"] = found
    default = rule.get("default") or {}
    for key in sorted(set(default) - {"filters", "backendRefs"}):
        draft.lose(src, f"{path}.default.{key}", "not a spec setting; the rule is not imported")
        return None
    others = []
    for i, f in enumerate(default.get("filters") or []):
        if isinstance(f, dict) and f.get("type") == "RequestMirror":
            mirror = _mirror(draft, src, f"{path}.default.filters[{i}]", f, svc)
            if mirror is None:
                return None
            route["mirror"] = mirror
        else:
            others.append(f)
    if not gateway_filters(draft, src, f"{path}.default", others, route):
        return None
    if "redirect" in route:
        return route
    split: dict[str, int] = {}
    refs = default.get("backendRefs") or []
    for j, ref in enumerate(refs):
        owner, version = _service(
            draft, str(ref.get("namespace") or svc["namespace"]), str(ref.get("name"))
        )
        if owner is svc and version is None and len(refs) == 1:
            route["_whole"] = True
            continue
        if owner is not svc or version is None or ref.get("kind") != "MeshService":
            draft.lose(
                src,
                f"{path}.default.backendRefs[{j}]",
                f"{ref.get('name')!r} is no "
                f"version of {svc['name']} (a version is a Service {svc['name']}-"
                "<version> selecting a subset of its pods); the rule is imported without "
                "this backend",
            )
            continue
        split[version] = int(ref.get("weight", 1))
    return settle_backends(draft, src, f"{path}.default.backendRefs", route, split)


def _http_route(
    draft: Draft, src: Source, found: dict[tuple[str, str], list[tuple[Source, list[Part]]]]
) -> None:
    ns = draft.namespace_of(src)
    if src.spec.get("targetRef") not in (None, {"kind": "Mesh"}):
        draft.lose(
            src,
            "spec.targetRef",
            "the spec's routes apply to every caller of a "
            "service (a producer route without a top-level targetRef); not imported",
        )
        return
    to = src.spec.get("to") or []
    first: tuple[Part, list[Any]] | None = None
    for i, entry in enumerate(to):
        ref = entry.get("targetRef") or {}
        svc = draft.service(str(ref.get("namespace") or ns), str(ref.get("name")))
        if ref.get("kind") != "MeshService" or svc is None:
            draft.lose(
                src,
                f"spec.to[{i}].targetRef",
                f"a {ref.get('kind')} {ref.get('name')} "
                "that is no Service of the input; not imported",
            )
            return
        rules = entry.get("rules") or []
        if first is None:
            first = (svc, rules)
        elif svc is not first[0] or _portless(rules) != _portless(first[1]):
            draft.lose(
                src,
                f"spec.to[{i}]",
                "the spec's routes are the same on every port of "
                "one service; imported as spec.to[0]",
            )
    if first is None:
        draft.lose(src, "spec.to", "routes nothing; not imported")
        return
    svc, rules = first
    routes = [
        r
        for i, rule in enumerate(rules)
        if (r := _rule(draft, src, f"spec.to[0].rules[{i}]", rule, svc)) is not None
    ]
    found.setdefault((svc["namespace"], svc["name"]), []).append((src, routes))


def _portless(value: Any) -> Any:
    """``value`` without its ports: a rule names the backends' port it routes to."""
    if isinstance(value, dict):
        return {k: _portless(v) for k, v in value.items() if k != "port"}
    if isinstance(value, list):
        return [_portless(v) for v in value]
    return value


def _place(
    draft: Draft,
    svc: Part,
    found: list[tuple[Source, list[Part]]],
    route_conf: dict[tuple[str, str], Part],
) -> None:
    """The service's routes: the shared MeshHTTPRoute's in order, and each route with its
    own policy (its own MeshHTTPRoute) back at its index (``route-<index>``), or before the
    default route when it has a name."""
    shared: list[Part] = []
    placed: list[tuple[int | None, Part]] = []
    for src, routes in found:
        own = route_conf.get((svc["namespace"], src.name))
        for route in routes:
            route.update(own or {})
        if own and src.name.startswith(f"{svc['name']}-") and len(routes) == 1:
            name = src.name.removeprefix(f"{svc['name']}-")
            index = int(name[6:]) if re.fullmatch(r"route-\d+", name) else None
            if index is None:
                routes[0]["name"] = name
            placed.append((index, routes[0]))
        else:
            shared += routes
    ordered = list(shared)
    for index, route in sorted(placed, key=lambda p: (p[0] is None, p[0] or 0)):
        if index is None:
            at = next(
                (i for i, r in enumerate(ordered) if "match" not in r and "matches" not in r),
                len(ordered),
            )
        else:
            at = min(index, len(ordered))
        ordered.insert(at, route)
    whole = [r for r in ordered if r.pop("_whole", False)]
    if whole:
        if len(ordered) == 1:
            for key in ("timeout", "retries"):
                if key in whole[0]:
                    svc[key] = whole[0][key]
            ordered = []
        else:
            draft.lose(
                found[0][0],
                "spec.to[0].rules",
                "a rule to the whole service beside others needs versions; not imported",
            )
            return
    if ordered:
        svc["routes"] = ordered
    draft.imported += len(found)


def _tcp_route(draft: Draft, src: Source) -> None:
    services = _services_of(draft, src)
    for svc, entries in services.values():
        if not entries:
            continue
        path, _ = entries[0]
        rules = (src.spec.get("to") or [{}])[int(path[8:-1])].get("rules") or []
        refs = (rules[0].get("default") or {}).get("backendRefs") or [] if len(rules) == 1 else []
        split: dict[str, int] = {}
        for ref in refs:
            owner, version = _service(draft, svc["namespace"], str(ref.get("name")))
            if owner is svc and version is not None:
                split[version] = int(ref.get("weight", 1))
        if not split or len(split) != len(refs):
            draft.lose(
                src,
                f"{path}.rules",
                "the spec splits a tcp port's connections among "
                "the service's versions, as its default route does; not imported",
            )
            continue
        route: Part = {"to": next(iter(split))} if len(split) == 1 else {"split": split}
        origin(route, src, f"{path}.rules[0]")
        default = next(
            (r for r in svc.get("routes", []) if "match" not in r and "matches" not in r), None
        )
        if default is None and not svc.get("routes"):
            svc["routes"] = [route]
        elif default is None or {k: default.get(k) for k in ("to", "split")} != {
            k: route.get(k) for k in ("to", "split")
        }:
            draft.lose(
                src,
                f"{path}.rules",
                "the spec's tcp ports follow the split of the "
                "default HTTP route, and this one differs; not imported",
            )
            continue
        draft.imported += 1


# --- timeouts, retries, circuit breakers -------------------------------------------------


def _timeout(draft: Draft, src: Source, path: str, conf: Any) -> str | None:
    http = (conf or {}).get("http") or {}
    for key in sorted(set(conf or {}) - {"http"}):
        draft.lose(src, f"{path}.default.{key}", "the spec's timeout is an HTTP request's")
    for key in sorted(set(http) - {"requestTimeout"}):
        draft.lose(
            src,
            f"{path}.default.http.{key}",
            "the spec's timeout is the whole request's (requestTimeout)",
        )
    return str(http["requestTimeout"]) if "requestTimeout" in http else None


def _retries(draft: Draft, src: Source, path: str, conf: Any) -> Part | None:
    conf = conf or {}
    http, grpc = conf.get("http"), conf.get("grpc")
    for key in sorted(set(conf) - {"http", "grpc"}):
        draft.lose(src, f"{path}.default.{key}", "the spec retries HTTP and gRPC requests")
    base = grpc if grpc is not None and (http is None or http == {"numRetries": 0}) else http
    if base is None:
        return None
    retries: Part = {"attempts": int(base.get("numRetries", 0))}
    if "perTryTimeout" in base:
        retries["perTryTimeout"] = str(base["perTryTimeout"])
    retry_on: list[str] = []
    for key, table, value in (("http", _HTTP_RETRY, http), ("grpc", _GRPC_RETRY, grpc)):
        if value is None or (key == "http" and value == {"numRetries": 0} and grpc is not None):
            continue
        for extra in sorted(set(value) - {"numRetries", "perTryTimeout", "retryOn"}):
            draft.lose(src, f"{path}.default.{key}.{extra}", "not a spec setting")
        for i, c in enumerate(value.get("retryOn") or []):
            if c not in table:
                draft.lose(
                    src,
                    f"{path}.default.{key}.retryOn[{i}]",
                    f"{c}: not one of the spec's retry conditions",
                )
            elif table[c] not in retry_on:
                retry_on.append(table[c])
    if retry_on:
        retries["retryOn"] = retry_on
    return retries


def _circuit_breaker(draft: Draft, src: Source, path: str, conf: Any, svc: Part) -> None:
    conf = conf or {}
    for key in sorted(set(conf) - {"connectionLimits", "outlierDetection"}):
        draft.lose(src, f"{path}.default.{key}", "not a spec setting")
    limits = conf.get("connectionLimits") or {}
    pool = {_CONNECTION_LIMITS[k]: v for k, v in limits.items() if k in _CONNECTION_LIMITS}
    for key in sorted(set(limits) - set(_CONNECTION_LIMITS)):
        draft.lose(src, f"{path}.default.connectionLimits.{key}", "not a spec setting")
    if pool:
        svc["connectionPool"] = pool
    detection = conf.get("outlierDetection")
    if detection is None:
        return
    if detection.get("disabled"):
        return
    outlier: Part = {k: detection[k] for k in _OUTLIER if k in detection}
    detectors = detection.get("detectors") or {}
    total = (detectors.get("totalFailures") or {}).get("consecutive")
    if total is not None:
        outlier["consecutive5xxErrors"] = total
    for key in sorted(set(detectors) - {"totalFailures"}):
        draft.lose(
            src,
            f"{path}.default.outlierDetection.detectors.{key}",
            "the spec ejects on consecutive failures (totalFailures) only",
        )
    for key in sorted(set(detection) - {"disabled", "detectors", *_OUTLIER}):
        draft.lose(src, f"{path}.default.outlierDetection.{key}", "not a spec setting")
    svc["outlierDetection"] = outlier


def _service_policy(draft: Draft, src: Source) -> None:
    for svc, entries in _services_of(draft, src).values():
        if not entries:
            continue
        conf = _one_conf(draft, src, entries)
        path = entries[0][0]
        if src.kind == "MeshTimeout":
            timeout = _timeout(draft, src, path, conf)
            if timeout is not None:
                svc["timeout"] = timeout
        elif src.kind == "MeshRetry":
            retries = _retries(draft, src, path, conf)
            if retries is not None:
                svc["retries"] = retries
        else:
            _circuit_breaker(draft, src, path, conf, svc)
        draft.imported += 1


def _route_policies(draft: Draft, inv: Inventory) -> dict[tuple[str, str], Part]:
    """The timeouts and retries MeshTimeouts and MeshRetries give one MeshHTTPRoute."""
    out: dict[tuple[str, str], Part] = {}
    for src in [*inv.kind("MeshTimeout", GROUP), *inv.kind("MeshRetry", GROUP)]:
        with draft.guard(src):
            for i, to in enumerate(src.spec.get("to") or []):
                ref = to.get("targetRef") or {}
                if ref.get("kind") != "MeshHTTPRoute":
                    continue
                key = (str(ref.get("namespace") or draft.namespace_of(src)), str(ref.get("name")))
                path = f"spec.to[{i}]"
                own = out.setdefault(key, {})
                if src.kind == "MeshTimeout":
                    timeout = _timeout(draft, src, path, to.get("default"))
                    if timeout is not None:
                        own["timeout"] = timeout
                else:
                    retries = _retries(draft, src, path, to.get("default"))
                    if retries is not None:
                        own["retries"] = retries
    return out


# --- inbound policies: faults, rate limits, who may call ---------------------------------


def _conf(draft: Draft, src: Source) -> Any:
    rules = src.spec.get("rules") or []
    for key in sorted(set(src.spec) - {"targetRef", "rules"}):
        draft.lose(
            src,
            f"spec.{key}",
            "the spec's inbound policies are the same for every caller; not imported",
        )
    if len(rules) != 1 or set(rules[0]) - {"default"}:
        draft.lose(
            src,
            "spec.rules",
            "the spec's inbound policies are one conf for every caller; not imported",
        )
        return None
    return rules[0].get("default") or {}


def _percent(value: Any) -> int | float:
    number = float(str(value))
    return int(number) if number.is_integer() else number


def _fault(draft: Draft, src: Source) -> None:
    svc = _by_selector(draft, src)
    conf = _conf(draft, src) if svc is not None else None
    if svc is None or conf is None:
        return
    http = conf.get("http") or []
    routes = svc.get("routes") or []
    if len(http) != 1 or set(conf) - {"http"} or set(http[0]) - {"delay", "abort"}:
        draft.lose(
            src,
            "spec.rules[0].default",
            "the spec's fault is one delay and one abort over HTTP; not imported",
        )
        return
    if len(routes) != 1 or "match" in routes[0] or "matches" in routes[0]:
        draft.lose(
            src,
            "spec.targetRef",
            f"the spec's fault is a route's, and {svc['name']} "
            "has not one route taking every request; not imported",
        )
        return
    fault: Part = {}
    raw = http[0]
    if "delay" in raw:
        fault["delay"] = {"fixed": str(raw["delay"]["value"])}
        if "percentage" in raw["delay"]:
            fault["delay"]["percent"] = _percent(raw["delay"]["percentage"])
    if "abort" in raw:
        fault["abort"] = {"httpStatus": int(raw["abort"]["httpStatus"])}
        if "percentage" in raw["abort"]:
            fault["abort"]["percent"] = _percent(raw["abort"]["percentage"])
    routes[0]["fault"] = fault
    draft.imported += 1


def _seconds(interval: str) -> int | None:
    m = re.fullmatch(r"(\d+)([smh])", interval)
    return int(m[1]) * _SECONDS[m[2]] if m else None


def _rate_limit(draft: Draft, src: Source) -> None:
    svc = _by_selector(draft, src)
    conf = _conf(draft, src) if svc is not None else None
    if svc is None or conf is None:
        return
    local = conf.get("local") or {}
    http = local.get("http") or {}
    rate = http.get("requestRate") or {}
    seconds = _seconds(str(rate.get("interval", "")))
    if (
        set(conf) - {"local"}
        or set(local) - {"http"}
        or set(http) - {"requestRate"}
        or seconds is None
        or int(rate.get("num", 0)) % seconds
    ):
        draft.lose(
            src,
            "spec.rules[0].default",
            "the spec's rate limit is a number of HTTP "
            "requests per second (no TCP limit, no answer of its own); not imported",
        )
        return
    svc["rateLimit"] = {"requestsPerSecond": int(rate["num"]) // seconds}
    draft.imported += 1


def _gateway_tag(ref: Any, entry: Any) -> str | None:
    """The kuma.io/service a MeshSubset Allow names alone (an ingress gateway's)."""
    tags = ref.get("tags") or {}
    allow = (entry.get("default") or {}).get("action") == "Allow"
    if ref.get("kind") == "MeshSubset" and set(tags) == {SERVICE_TAG} and allow:
        return str(tags[SERVICE_TAG])
    return None


def _permission(draft: Draft, src: Source, gateways: dict[str, set[tuple[str, str]]]) -> None:
    svc = _by_selector(draft, src)
    if svc is None:
        return
    froms = src.spec.get("from") or []
    namespaces: list[str] = []
    denied = False
    for i, entry in enumerate(froms):
        ref = entry.get("targetRef") or {}
        action = (entry.get("default") or {}).get("action")
        path = f"spec.from[{i}]"
        tag = _gateway_tag(ref, entry)
        if ref == {"kind": "Mesh"} and action == "Deny" and i == len(froms) - 1:
            denied = True
        elif tag is not None and (svc["namespace"], svc["name"]) in gateways.get(tag, set()):
            continue  # the ingress gateway that routes here (spec.ingress says so)
        elif (
            ref.get("kind") == "MeshSubset"
            and set(ref.get("tags") or {}) == {NAMESPACE_TAG}
            and action == "Allow"
        ):
            ns = str(ref["tags"][NAMESPACE_TAG])
            if ns not in namespaces:
                namespaces.append(ns)
        else:
            draft.lose(
                src,
                path,
                "the spec allows callers by namespace and denies the others "
                "(a MeshSubset of the namespace tag, Allow; then Mesh, Deny); not imported",
            )
    if not denied:
        draft.lose(
            src,
            "spec.from",
            "the spec's allow rules deny every caller they do not "
            "name (a last Mesh entry with Deny); not imported",
        )
        return
    if not namespaces:
        draft.lose(
            src,
            "spec.from",
            "admits no caller: the spec's allow rules name callers "
            "(Kuma renders a rule of service accounts alone so); not imported",
        )
        return
    rule: Part = {"fromNamespaces": namespaces}
    origin(rule, src)
    svc["allow"] = [rule]
    draft.imported += 1


def _passthrough(draft: Draft, src: Source) -> None:
    default = src.spec.get("default") or {}
    if (
        src.spec.get("targetRef") not in (None, {"kind": "Mesh"})
        or default.get("passthroughMode") != "Matched"
    ):
        draft.lose(
            src,
            "spec.default.passthroughMode",
            "the spec's egress lets out the hosts "
            "it names and no other (Matched, for every workload of the namespace); "
            "not imported",
        )
        return
    for i, match in enumerate(default.get("appendMatch") or []):
        if match.get("type") != "Domain" or match.get("protocol") not in ("http", "tls"):
            draft.lose(
                src,
                f"spec.default.appendMatch[{i}]",
                "the spec's egress names hosts by domain, over HTTP or TLS; not imported",
            )
            continue
        host = str(match["value"])
        existing = draft.egress.setdefault(host, {"host": host, "ports": []})
        origin(existing, src, f"spec.default.appendMatch[{i}]")
        port = {"port": match.get("port"), "protocol": match["protocol"]}
        if port not in existing["ports"]:
            existing["ports"].append(port)
    draft.imported += 1


# --- telemetry ------------------------------------------------------------------------------
#
# The Kuma target writes an entry's access logs as two MeshAccessLogs, <name>-inbound
# (rules) and <name>-outbound (to: Mesh), and its metrics as a MeshMetric <name>
# (targets/kuma/telemetry.py); each names the pods of its namespace, or those a
# Dataplane targetRef selects.


def _telemetry_entry(draft: Draft, src: Source, name: str) -> Part | None:
    ref = src.spec.get("targetRef")
    if ref not in (None, {"kind": "Mesh"}) and (
        not isinstance(ref, dict)
        or ref.get("kind") != "Dataplane"
        or set(ref) != {"kind", "labels"}
    ):
        draft.lose(
            src,
            "spec.targetRef",
            "the spec's telemetry names a namespace's pods, or "
            "those with some labels; not imported",
        )
        return None
    ns = draft.namespace_of(src)
    part = draft.telemetry.setdefault((ns, name), {"name": name, "namespace": ns})
    if isinstance(ref, dict) and ref.get("labels"):
        labels = {str(k): str(v) for k, v in ref["labels"].items()}
        if part.setdefault("selector", labels) != labels:
            draft.lose(
                src,
                "spec.targetRef.labels",
                "selects other pods than the entry's other policies; not imported",
            )
            return None
    origin(part, src)
    return part


def _backends_on(draft: Draft, src: Source, path: str, conf: Any, on: list[Any]) -> bool | None:
    backends = conf.get("backends") if isinstance(conf, dict) else None
    if isinstance(conf, dict) and set(conf) == {"backends"} and backends in ([], on):
        return bool(backends)
    draft.lose(
        src,
        path,
        "the spec turns telemetry on (the sidecar's own output) or off "
        "(no backends); other backends and settings are not imported",
    )
    return None


def _access_log(draft: Draft, src: Source) -> None:
    name, _, direction = src.name.rpartition("-")
    spec = {k: v for k, v in src.spec.items() if k != "targetRef"}
    on = [{"type": "File", "file": {"path": STDOUT}}]
    if direction == "inbound" and set(spec) == {"rules"} and len(spec["rules"]) == 1:
        conf, path = spec["rules"][0].get("default"), "spec.rules[0].default"
    elif (
        direction == "outbound"
        and set(spec) == {"to"}
        and len(spec["to"]) == 1
        and spec["to"][0].get("targetRef") == {"kind": "Mesh"}
    ):
        conf, path = spec["to"][0].get("default"), "spec.to[0].default"
    else:
        draft.lose(
            src,
            "spec",
            "the spec's access logging is a pair of MeshAccessLogs "
            "<name>-inbound (rules) and <name>-outbound (to: Mesh); not imported",
        )
        return
    enabled = _backends_on(draft, src, path, conf, on)
    part = _telemetry_entry(draft, src, name) if enabled is not None else None
    if part is None:
        return
    if part.setdefault("accessLogging", {"enabled": enabled}) != {"enabled": enabled}:
        draft.lose(src, path, "its inbound and outbound logs disagree; the first read is kept")
    draft.imported += 1


def _metric(draft: Draft, src: Source) -> None:
    spec = {k: v for k, v in src.spec.items() if k != "targetRef"}
    on = [{"type": "Prometheus", "prometheus": {"port": PROMETHEUS_PORT, "path": PROMETHEUS_PATH}}]
    if set(spec) != {"default"}:
        draft.lose(src, "spec", "the spec's metrics are one MeshMetric default; not imported")
        return
    enabled = _backends_on(draft, src, "spec.default", spec["default"], on)
    part = _telemetry_entry(draft, src, src.name) if enabled is not None else None
    if part is None:
        return
    part["metrics"] = {"enabled": enabled}
    draft.imported += 1


# --- all of it ---------------------------------------------------------------------------


def import_kuma(inv: Inventory, draft: Draft) -> None:
    mine = [s for s in inv.sources if s.group == GROUP]
    if mine or any(p.get("_marker") and p["_marker"][0] == NAME for p in draft.namespaces.values()):
        draft.provider_votes[NAME] += len(mine) or 1
    for src in inv.kind("Mesh", GROUP):
        with draft.guard(src):
            _mesh(draft, src)
    _namespaces(draft)
    # kuma_gateway reads this module's match and timeout readers, so it is imported here.
    from .kuma_gateway import import_gateways

    gateways = import_gateways(inv, draft)
    route_conf = _route_policies(draft, inv)
    found: dict[tuple[str, str], list[tuple[Source, list[Part]]]] = {}
    for src in inv.kind("MeshHTTPRoute", GROUP):
        if (src.spec.get("targetRef") or {}).get("kind") == "MeshGateway":
            continue  # an ingress route (kuma_gateway)
        with draft.guard(src):
            _http_route(draft, src, found)
    for key, routes in found.items():
        svc = draft.services[key]
        if "_vs" in svc or "routes" in svc:
            draft.lose(
                routes[0][0],
                "",
                f"{key[0]}/{key[1]} has routes of another mesh already; not merged",
            )
            continue
        with draft.guard(routes[0][0]):
            _place(draft, svc, routes, route_conf)
    readers = {
        "MeshTCPRoute": _tcp_route,
        "MeshTimeout": _service_policy,
        "MeshRetry": _service_policy,
        "MeshCircuitBreaker": _service_policy,
        "MeshFaultInjection": _fault,
        "MeshRateLimit": _rate_limit,
        "MeshTrafficPermission": lambda d, s: _permission(d, s, gateways),
        "MeshPassthrough": _passthrough,
        "MeshAccessLog": _access_log,
        "MeshMetric": _metric,
    }
    for kind, reader in readers.items():
        for src in inv.kind(kind, GROUP):
            if kind == "MeshTimeout" and (src.spec.get("targetRef") or {}).get("kind") == (
                "MeshHTTPRoute"
            ):
                continue  # an ingress route's timeout (kuma_gateway)
            with draft.guard(src):
                reader(draft, src)
    for src in mine:
        if src.kind not in _READ:
            draft.lose(
                src,
                "",
                f"meshc import does not read {src.kind} objects: the spec has no equivalent",
            )
