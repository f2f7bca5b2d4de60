"""Gateway API: HTTPRoute and GRPCRoute (a Service parent: the mesh's routes, as GAMMA
and Linkerd read them; a Gateway parent: ingress routes), Gateway (an ingress entry),
and, on Linkerd, routes to its EgressNetwork (egress hosts).

The inverse of :mod:`meshc.compiler.targets.gatewayapi` and the Linkerd target: a
string prefix meshc wrote as a regular expression (``^/static.*``) is a prefix again,
and a PathPrefix (whole path segments) is the exact path or the prefix ending in ``/``.

consul-k8s's API gateway (the inverse of targets/consul/ingress.py) reads a Gateway the
same way, with what it adds: a PathPrefix is Envoy's string ``prefix`` there (consul-k8s
``translateHTTPMatch``, Consul ``makeRouteMatchForDiscoveryRoute``), so the spec's prefix
as written; a rule's timeout and retries are its own RouteTimeoutFilter and
RouteRetryFilter, named by ExtensionRef filters (``translateHTTPFilters``), read here and
compared with the backend's settings by the Consul importer (consul/gateway.py); the
Gateway's pods run in its namespace as the service account named like it; a listener
with several hosts has no hostname, and the HTTPRoute's hostnames are its hosts; and
listeners with different hosts have one HTTPRoute each, the same rules bound to the
listener by ``sectionName``, which are one spec entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from meshc.compiler.targets.gatewayapi import GROUP
from meshc.compiler.targets.linkerd.resilience import RETRY, TIMEOUT
from meshc.providers.consul import CONFIG_GROUP as CONSUL_GROUP
from meshc.providers.consul import GATEWAY_CLASS as CONSUL_CLASS
from meshc.providers.consul import ROUTE_RETRY_FILTER, ROUTE_TIMEOUT_FILTER
from meshc.providers.istio import WAYPOINT_CLASS
from meshc.providers.linkerd import PROFILE as LINKERD

from .draft import FROM, Draft, Finding, Part, Source, origin
from .inventory import Inventory

POLICY_GROUP = LINKERD.config_groups[0]  # policy.linkerd.io
ROUTE_GROUPS = (GROUP, POLICY_GROUP)
_PREFIX_REGEX = re.compile(r"^\^((?:\\.|[^\\.*+?()\[\]{}|^$])*)\.\*$")
_ANCHORED = re.compile(r"^\^\(\?:(.*)\)\$$")
_RULE_KEYS = {"matches", "filters", "backendRefs", "timeouts", "name"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _string(kind: str, value: str, string_prefix: bool = False) -> list[dict[str, str]] | None:
    """The spec's string matches for a Gateway API path or header match (``string_prefix``:
    a PathPrefix is a string prefix, as on consul-k8s's gateway)."""
    if kind == "Exact":
        return [{"exact": value}]
    if kind == "PathPrefix":
        if value in ("", "/"):
            return [{"prefix": "/"}]
        if string_prefix:
            return [{"prefix": value}]
        base = value.rstrip("/")
        return [{"exact": base}, {"prefix": base + "/"}]
    if kind == "RegularExpression":
        prefix = _PREFIX_REGEX.match(value)
        if prefix is not None:
            return [{"prefix": _unescape(prefix.group(1))}]
        anchored = _ANCHORED.match(value)
        return [{"regex": anchored.group(1) if anchored else value}]
    return None


def matches(
    draft: Draft,
    src: Source,
    path: str,
    raw: list[Any],
    grpc: bool = False,
    string_prefix: bool = False,
) -> list[Part] | None:
    out: list[Part] = []
    for i, m in enumerate(raw):
        mpath = f"{path}.matches[{i}]"
        m = m if isinstance(m, dict) else {}
        extra = set(m) - ({"method", "headers"} if grpc else {"path", "headers"})
        if extra:
            draft.lose(
                src,
                f"{mpath}.{min(extra)}",
                "the spec matches on path and headers only; the rule is not imported",
            )
            return None
        headers: Part = {}
        for j, h in enumerate(m.get("headers") or []):
            found = _string(str(h.get("type", "Exact")), str(h.get("value", "")))
            if found is None or len(found) != 1:
                draft.lose(src, f"{mpath}.headers[{j}]", "not an exact or regex match")
                return None
            headers[str(h.get("name"))] = found[0]
        if grpc:
            method = m.get("method") or {}
            if (
                set(method) - {"service", "method", "type"}
                or method.get("type", "Exact") != "Exact"
            ):
                draft.lose(src, f"{mpath}.method", "the spec matches a gRPC method exactly")
                return None
            part: Part = (
                {"grpc": {k: str(method[k]) for k in ("service", "method") if k in method}}
                if method.get("service")
                else {}
            )
            if headers:
                part["headers"] = headers
            out.append(part)
            continue
        paths: list[dict[str, str] | None] = [None]
        if isinstance(m.get("path"), dict):
            p = m["path"]
            found = _string(
                str(p.get("type", "PathPrefix")), str(p.get("value", "/")), string_prefix
            )
            if found is None:
                draft.lose(src, f"{mpath}.path", "not an exact, prefix or regex match")
                return None
            paths = list(found)
        for sm in paths:
            part = {}
            if sm is not None and sm != {"prefix": "/"}:
                part["path"] = sm
            if headers:
                part["headers"] = headers
            out.append(part)
    return [p for p in out if p] if all(out) else []


def _ops(value: Any) -> Part:
    out: Part = {}
    if isinstance(value, dict):
        for key in ("set", "add"):
            if value.get(key):
                out[key] = {str(h["name"]): str(h["value"]) for h in value[key]}
        if value.get("remove"):
            out["remove"] = [str(v) for v in value["remove"]]
    return out


def _mirror(
    draft: Draft, src: Source, path: str, value: dict[str, Any], svc: Part | None
) -> Part | None:
    """A RequestMirror: to a version's own Service, or to another Service (with its port)."""
    ref = value.get("backendRef") or {}
    if svc is None or ref.get("kind", "Service") != "Service" or ref.get("group", "") != "":
        draft.lose(
            src,
            path,
            "a mesh route mirrors to a version or another Service; the rule is not imported",
        )
        return None
    name, ns = str(ref.get("name", "")), str(ref.get("namespace") or svc["namespace"])
    version = _version_of(draft, svc, name) if ns == svc["namespace"] else None
    out: Part = {}
    if version is not None:
        out["to"] = version
    else:
        out["service"] = name
        if ns != svc["namespace"]:
            out["namespace"] = ns
        if ref.get("port") is not None:
            out["port"] = ref["port"]
    fraction = value.get("fraction")
    if isinstance(fraction, dict):
        percent = float(fraction["numerator"]) * 100 / float(fraction.get("denominator", 100))
        out["percent"] = int(percent) if percent.is_integer() else round(percent, 2)
    else:
        out["percent"] = int(value.get("percent", 100))
    return out


# An ExtensionRef filter's reader: (filter path, extensionRef, route) -> True when read.
Extension = Callable[[str, dict[str, Any], Part], bool]


def filters(
    draft: Draft,
    src: Source,
    path: str,
    raw: list[Any],
    route: Part,
    svc: Part | None = None,
    extension: Extension | None = None,
) -> bool:
    """The rule's filters into ``route``; False when one is none the spec has. A mirror
    is a mesh route's only (``svc``: the route's service); an ExtensionRef is read by
    ``extension`` where the gateway has filters of its own."""
    for i, f in enumerate(raw):
        kind = f.get("type") if isinstance(f, dict) else None
        fpath = f"{path}.filters[{i}]"
        if kind == "RequestHeaderModifier":
            route.setdefault("headers", {})["request"] = _ops(f.get("requestHeaderModifier"))
        elif kind == "ResponseHeaderModifier":
            route.setdefault("headers", {})["response"] = _ops(f.get("responseHeaderModifier"))
        elif kind == "RequestRedirect":
            r = f.get("requestRedirect") or {}
            out: Part = {}
            p = r.get("path") or {}
            if p and p.get("type") != "ReplaceFullPath":
                draft.lose(
                    src,
                    f"{fpath}.requestRedirect.path",
                    "the spec's redirect replaces the whole path",
                )
                return False
            if p:
                out["path"] = str(p["replaceFullPath"])
            for key, spec_key in (("hostname", "host"), ("scheme", "scheme"), ("port", "port")):
                if key in r:
                    out[spec_key] = r[key]
            out["statusCode"] = int(r.get("statusCode", 302))
            route["redirect"] = out
        elif kind == "URLRewrite":
            r = f.get("urlRewrite") or {}
            out = {}
            if "hostname" in r:
                out["host"] = str(r["hostname"])
            p = r.get("path") or {}
            if p.get("type") == "ReplaceFullPath":
                out["path"] = str(p["replaceFullPath"])
            elif p.get("type") == "ReplacePrefixMatch":
                out["path"] = str(p["replacePrefixMatch"])
            route["rewrite"] = out
        elif kind == "RequestMirror" and svc is not None and "mirror" not in route:
            mirror = _mirror(
                draft, src, f"{fpath}.requestMirror", f.get("requestMirror") or {}, svc
            )
            if mirror is None:
                return False
            route["mirror"] = mirror
        elif kind == "ExtensionRef" and extension is not None:
            if not extension(fpath, f.get("extensionRef") or {}, route):
                return False
        else:
            draft.lose(src, fpath, f"a {kind} filter: not a spec setting; the rule is not imported")
            return False
    return True


def _timeouts(draft: Draft, src: Source, path: str, rule: dict[str, Any], route: Part) -> None:
    timeouts = rule.get("timeouts") or {}
    if "request" in timeouts:
        route["timeout"] = str(timeouts["request"])
    if "backendRequest" in timeouts:
        draft.lose(
            src,
            f"{path}.timeouts.backendRequest",
            "the spec has a request timeout and a per-try timeout with retries only",
        )


def annotation_policy(annotations: dict[str, str]) -> tuple[str | None, Part | None, list[str]]:
    """(timeout, retries, keys read) of Linkerd's retry and timeout annotations."""
    used = []
    timeout = annotations.get(f"{TIMEOUT}/request")
    if timeout is not None:
        used.append(f"{TIMEOUT}/request")
    retries: Part | None = None
    limit = annotations.get(f"{RETRY}/limit")
    http = annotations.get(f"{RETRY}/http")
    if limit is not None or http is not None:
        statuses = {"5xx": "5xx", "gateway-error": "gateway-error", "409": "retriable-4xx"}
        conditions = [statuses.get(c.strip()) for c in (http or "5xx").split(",")]
        if None not in conditions and (limit or "1").isdigit():
            retries = {"attempts": int(limit or "1"), "retryOn": conditions}
            used += [k for k in (f"{RETRY}/limit", f"{RETRY}/http") if k in annotations]
            if f"{RETRY}/timeout" in annotations:
                retries["perTryTimeout"] = annotations[f"{RETRY}/timeout"]
                used.append(f"{RETRY}/timeout")
    elif f"{TIMEOUT}/response" in annotations:
        retries = {"attempts": 0, "perTryTimeout": annotations[f"{TIMEOUT}/response"]}
        used.append(f"{TIMEOUT}/response")
    return timeout, retries, used


# --- mesh routes (a Service parent) -----------------------------------------------------


def _version_of(draft: Draft, svc: Part, name: str) -> str | None:
    for v in svc.get("versions", []):
        if f"{svc['name']}-{v['name']}" == name:
            return str(v["name"])
    return None


def _mesh_rule(
    draft: Draft, src: Source, path: str, rule: dict[str, Any], svc: Part, grpc: bool
) -> Part | None:
    route: Part = {}
    origin(route, src, path)
    for key in sorted(set(rule) - _RULE_KEYS):
        draft.lose(src, f"{path}.{key}", "not a spec setting; the rule is not imported")
        return None
    found = matches(draft, src, path, rule.get("matches") or [], grpc)
    if found is None:
        return None
    if len(found) == 1:
        route["match"] = found[0]
    elif found:
        route["matches"] = found
    if rule.get("name"):
        route["name"] = str(rule["name"])
    if not filters(draft, src, path, rule.get("filters") or [], route, svc):
        return None
    _timeouts(draft, src, path, rule, route)
    if "redirect" in route:
        return route
    split: dict[str, int] = {}
    for j, ref in enumerate(rule.get("backendRefs") or []):
        name = str(ref.get("name", ""))
        version = _version_of(draft, svc, name)
        if name == svc["name"] and len(rule["backendRefs"]) == 1:
            route["_whole"] = True
            continue
        if version is None or ref.get("namespace", svc["namespace"]) != svc["namespace"]:
            draft.lose(
                src,
                f"{path}.backendRefs[{j}]",
                f"{name!r} is no version of "
                f"{svc['name']} (a version is a Service {svc['name']}-<version> selecting "
                "a subset of its pods; a fault's Service is not named by the route); "
                "the rule is imported without this backend",
            )
            continue
        split[version] = int(ref.get("weight", 1))
    return settle_backends(draft, src, f"{path}.backendRefs", route, split)


def settle_backends(
    draft: Draft, src: Source, path: str, route: Part, split: dict[str, int]
) -> Part | None:
    """``route`` sending to the versions its backends name (``split``, version -> weight),
    as the spec says it: one version is ``to``, several a ``split`` in percent; a rule
    sending to the whole service (``_whole``) needs neither. None, reported at ``path``,
    for a rule without backends."""
    if len(split) == 1 and "_whole" not in route:
        route["to"] = next(iter(split))
    elif split:
        total = sum(split.values())
        route["split"] = (
            {v: round(w * 100 / total) for v, w in split.items()} if total != 100 else split
        )
    elif "_whole" not in route:
        draft.lose(src, path, "a rule without backends; not imported")
        return None
    return route


def mesh_route(
    draft: Draft,
    src: Source,
    parent: dict[str, Any],
    grpc: bool,
    routes_of: dict[tuple[str, str], list[tuple[Source, list[Part]]]],
) -> None:
    ns = str(parent.get("namespace") or draft.namespace_of(src))
    svc = draft.service(ns, str(parent.get("name")))
    if svc is None:
        draft.lose(
            src,
            "spec.parentRefs",
            f"Service {ns}/{parent.get('name')} is not in the input; not imported",
        )
        return
    svc["_routed"] = True  # by an HTTPRoute (Istio: the gateway-api routing, see finish)
    annotations = {str(k): str(v) for k, v in (src.meta.get("annotations") or {}).items()}
    timeout, retries, _ = annotation_policy(annotations)
    routes = []
    for i, rule in enumerate(src.spec.get("rules") or []):
        route = _mesh_rule(draft, src, f"spec.rules[{i}]", rule, svc, grpc)
        if route is None:
            continue
        if timeout is not None and "timeout" not in route:
            route["timeout"] = timeout
        if retries is not None:
            route["retries"] = dict(retries)
        routes.append(route)
    routes_of.setdefault((ns, svc["name"]), []).append((src, routes))


def _place(draft: Draft, svc: Part, found: list[tuple[Source, list[Part]]]) -> None:
    """One service's routes from its HTTPRoutes: a route per port says the same, and a
    route with its own policy (named <service>-<port>-r<index>) goes back to its index."""
    by_port: dict[str, list[tuple[Source, list[Part]]]] = {}
    for src, routes in found:
        parent: dict[str, Any] = next(
            (p for p in src.spec.get("parentRefs") or [] if p.get("kind") == "Service"), {}
        )
        port = parent.get("port")
        by_port.setdefault(str(port), []).append((src, routes))
    first = next(iter(by_port.values()))
    shared: list[Part] = []
    placed: list[tuple[int | None, Part]] = []
    for src, routes in first:
        suffix = src.name.removeprefix(f"{svc['name']}-")
        own = "-" in suffix and any("timeout" in r or "retries" in r for r in routes)
        if own and len(routes) == 1:
            name = suffix.split("-", 1)[1]
            index = int(name[1:]) if re.fullmatch(r"r\d+", name) else None
            if index is None:
                routes[0]["name"] = name
            placed.append((index, routes[0]))
        else:
            shared += routes
    ordered = list(shared)
    for index, route in sorted(placed, key=lambda p: (p[0] is None, p[0] or 0)):
        at = index if index is not None and index <= len(ordered) else len(ordered)
        if index is None:
            default = next(
                (i for i, r in enumerate(ordered) if "match" not in r and "matches" not in r),
                len(ordered),
            )
            at = default
        ordered.insert(at, route)
    whole = [r for r in ordered if r.pop("_whole", False)]
    if whole:
        if len(ordered) == 1:
            for key in ("timeout", "retries"):
                if key in whole[0]:
                    svc[key] = whole[0][key]
            if not {"timeout", "retries"} & set(whole[0]):
                svc["_bare_route"] = first[0][0]  # see finish.settle
            ordered = []
        else:
            draft.lose(
                first[0][0],
                "spec.rules",
                "a rule to the whole service beside others needs versions; not imported",
            )
            return
    if ordered:
        svc["routes"] = ordered
    draft.imported += len(found)


# --- ingress (a Gateway parent) -----------------------------------------------------------


def gateway(draft: Draft, src: Source, consul: bool = False) -> Part | None:
    """An ingress entry of a Gateway (``consul``: consul-k8s's API gateway's)."""
    ns = draft.namespace_of(src)
    spec = src.spec
    entry: Part = {"name": src.name, "namespace": ns, "gateway": {}, "listeners": [], "routes": []}
    origin(entry, src)
    if spec.get("gatewayClassName"):
        entry["gateway"]["className"] = str(spec["gatewayClassName"])
    if consul:
        _consul_gateway(src, entry)
    for i, listener in enumerate(spec.get("listeners") or []):
        path = f"spec.listeners[{i}]"
        protocol = str(listener.get("protocol", ""))
        if protocol not in ("HTTP", "HTTPS"):
            draft.lose(
                src,
                f"{path}.protocol",
                f"{protocol}: the spec's listeners are HTTP or HTTPS; not imported",
            )
            continue
        part: Part = {
            "name": str(listener.get("name")),
            "port": listener.get("port"),
            "protocol": protocol,
            "hosts": [str(listener["hostname"])] if listener.get("hostname") else ["*"],
        }
        if consul and not listener.get("hostname"):
            part["_open"] = True  # its hosts are its HTTPRoute's hostnames (_consul_hosts)
        tls = listener.get("tls")
        if protocol == "HTTPS":
            refs = (tls or {}).get("certificateRefs") or []
            if (tls or {}).get("mode", "Terminate") != "Terminate" or len(refs) != 1:
                draft.lose(
                    src,
                    f"{path}.tls",
                    "the spec's HTTPS listeners terminate TLS with "
                    "one certificate Secret; not imported",
                )
                continue
            part["tls"] = {"secretName": str(refs[0]["name"])}
        allowed = listener.get("allowedRoutes")
        if allowed not in (None, {"namespaces": {"from": "Same"}}):
            draft.lose(
                src,
                f"{path}.allowedRoutes",
                "the spec's ingress routes are the Gateway's own namespace's",
            )
        entry["listeners"].append(part)
    return entry


def ingress_route(
    draft: Draft, src: Source, entry: Part, grpc: bool = False, inv: Inventory | None = None
) -> None:
    ns = draft.namespace_of(src)
    consul = inv is not None and "_consul" in entry
    extension = _consul_extension(draft, inv, src) if consul and inv is not None else None
    for i, rule in enumerate(src.spec.get("rules") or []):
        path = f"spec.rules[{i}]"
        route: Part = {}
        origin(route, src, path)
        found = matches(draft, src, path, rule.get("matches") or [], grpc, string_prefix=consul)
        if found is None:
            continue
        if rule.get("matches") == [{"path": {"type": "PathPrefix", "value": "/"}}]:
            found = [{"path": {"prefix": "/"}}]  # an ingress route may say so (a mesh route not)
        if len(found) == 1:
            route["match"] = found[0]
        elif found:
            route["matches"] = found
        if not filters(draft, src, path, rule.get("filters") or [], route, extension=extension):
            continue
        if consul:
            route["_at"] = (src, path)
            if rule.get("timeouts"):
                draft.lose(
                    src,
                    f"{path}.timeouts",
                    "consul-k8s does not read an HTTPRoute's timeouts (a rule's timeout is its "
                    "RouteTimeoutFilter: translateHTTPRouteRule); not imported",
                )
        else:
            _timeouts(draft, src, path, rule, route)
        if "redirect" not in route:
            refs = rule.get("backendRefs") or []
            if len(refs) != 1 or refs[0].get("kind", "Service") != "Service":
                draft.lose(
                    src, f"{path}.backendRefs", "an ingress route goes to one Service; not imported"
                )
                continue
            ref = refs[0]
            backend: Part = {"service": str(ref["name"]), "port": ref.get("port")}
            if ref.get("namespace") and ref["namespace"] != ns:
                backend["namespace"] = str(ref["namespace"])
            svc = draft.service(str(ref.get("namespace") or ns), str(ref["name"]))
            if svc is None:
                draft.lose(
                    src,
                    f"{path}.backendRefs[0]",
                    f"Service {ref['name']} is not in the input; not imported",
                )
                continue
            route["backend"] = backend
        entry["routes"].append(route)
    origin(entry, src)
    draft.imported += 1


def egress_route(draft: Draft, src: Source, parent: dict[str, Any]) -> None:
    protocol = "tls" if src.kind == "TLSRoute" else "http"
    for j, host in enumerate(src.spec.get("hostnames") or []):
        port = {"port": parent.get("port"), "protocol": protocol}
        existing = draft.egress.setdefault(str(host), {"host": str(host), "ports": []})
        origin(existing, src, f"spec.hostnames[{j}]")
        if port not in existing["ports"]:
            existing["ports"].append(port)
    draft.imported += 1


def import_gateway_api(inv: Inventory, draft: Draft) -> None:
    gateways: dict[tuple[str, str], Part] = {}
    beside_consul = any(s.group == CONSUL_GROUP for s in inv.sources)
    for src in inv.kind("Gateway", GROUP):
        if src.spec.get("gatewayClassName") == WAYPOINT_CLASS:
            continue  # Istio's waypoint: meshc's own, read by istio.waypoints
        with draft.guard(src):
            consul = beside_consul or src.spec.get("gatewayClassName") == CONSUL_CLASS
            entry = gateway(draft, src, consul)
            if entry is not None:
                gateways[(draft.namespace_of(src), src.name)] = entry
    routes_of: dict[tuple[str, str], list[tuple[Source, list[Part]]]] = {}
    kinds = [
        (s, s.kind == "GRPCRoute")
        for s in inv.sources
        if s.kind in ("HTTPRoute", "GRPCRoute", "TLSRoute") and s.group in ROUTE_GROUPS
    ]
    for src, grpc in kinds:
        with draft.guard(src):
            _route(draft, src, grpc, gateways, routes_of, inv)
    for key, found in routes_of.items():
        svc = draft.services[key]
        if "_vs" in svc:
            draft.lose(
                found[0][0],
                "",
                f"{key[0]}/{key[1]} has a VirtualService too ({svc['_vs']}); not merged",
            )
            continue
        with draft.guard(found[0][0]):
            _place(draft, svc, found)
    for key, entry in gateways.items():
        if "_consul" in entry:
            _consul_hosts(draft, entry)
        if entry["routes"]:
            draft.ingress[key] = entry
            draft.imported += 1
        else:
            draft.findings.append(_no_routes(entry, key))


def _route(
    draft: Draft,
    src: Source,
    grpc: bool,
    gateways: dict[tuple[str, str], Part],
    routes_of: dict[tuple[str, str], list[tuple[Source, list[Part]]]],
    inv: Inventory,
) -> None:
    parents = src.spec.get("parentRefs") or []
    if len(parents) != 1:
        draft.lose(
            src,
            "spec.parentRefs",
            "a route with one parent (a Service, a Gateway or "
            "an EgressNetwork) is what the spec says; not imported",
        )
        return
    parent = parents[0]
    kind = parent.get("kind", "Gateway")
    if kind == "Service" and src.kind != "TLSRoute":
        mesh_route(draft, src, parent, grpc, routes_of)
    elif kind == "Gateway" and src.kind != "TLSRoute":
        key = (str(parent.get("namespace") or draft.namespace_of(src)), str(parent.get("name")))
        if key not in gateways:
            draft.lose(
                src,
                "spec.parentRefs[0]",
                f"Gateway {key[0]}/{key[1]} is not in the input; not imported",
            )
            return
        if "_consul" in gateways[key]:
            _consul_route(draft, src, grpc, gateways[key], parent, inv)
            return
        if gateways[key]["routes"]:
            draft.lose(src, "", f"a second route of Gateway {key[0]}/{key[1]}; not merged")
            return
        ingress_route(draft, src, gateways[key], grpc)
    elif kind == "EgressNetwork":
        egress_route(draft, src, parent)
    else:
        draft.lose(src, "spec.parentRefs[0]", f"a {src.kind} of a {kind}; not imported")


def _no_routes(entry: Part, key: tuple[str, str]) -> Finding:
    return Finding(
        entry[FROM][0],
        f"Gateway {key[0]}/{key[1]}",
        "(object)",
        "a Gateway without routes the spec can say; not imported",
    )


# --- consul-k8s's API gateway -------------------------------------------------------------


def _consul_gateway(src: Source, entry: Part) -> None:
    """consul-k8s runs a Gateway's pods in its namespace as the service account named like
    it (gatekeeper/serviceaccount.go) and registers them as the Consul service of its name
    (binding/registration.go, ``registrationForPod``); its class is the target's default."""
    entry["_consul"] = True
    entry["_gateway_src"] = src
    entry["_hosts"] = {}
    gw = entry["gateway"]
    if gw.get("className") == CONSUL_CLASS:
        del gw["className"]
    gw["namespace"], gw["serviceAccount"] = entry["namespace"], entry["name"]


def _consul_extension(draft: Draft, inv: Inventory, src: Source) -> Extension:
    """The reader of consul-k8s's RouteTimeoutFilter and RouteRetryFilter named by a rule
    of ``src``: the timeout is the route's; the filters are kept on the route for the
    Consul importer, which compares them with the backend's settings (consul/gateway.py)."""
    ns = draft.namespace_of(src)

    def read(fpath: str, ref: dict[str, Any], route: Part) -> bool:
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if ref.get("group") != CONSUL_GROUP or kind not in (
            ROUTE_TIMEOUT_FILTER,
            ROUTE_RETRY_FILTER,
        ):
            draft.lose(
                src,
                fpath,
                f"a {kind} filter: the spec's ingress routes have a timeout and their "
                "backend's retries of consul-k8s's filters only; the rule is not imported",
            )
            return False
        found = next(
            (
                f
                for f in inv.kind(kind, CONSUL_GROUP)
                if f.name == name and draft.namespace_of(f) == ns
            ),
            None,
        )
        if found is None:
            draft.lose(
                src,
                f"{fpath}.extensionRef",
                f"{kind} {ns}/{name} is not in the input, and consul-k8s binds no route "
                "whose filters are missing (externalRefsOnRouteAllExist); the rule is not "
                "imported",
            )
            return False
        if kind == ROUTE_RETRY_FILTER:
            route["_retry_filter"] = found
            return True
        for key in sorted(set(found.spec) - {"requestTimeout"}):
            draft.lose(
                found,
                f"spec.{key}",
                "the spec's ingress routes have a request timeout only; imported without it",
            )
        if found.spec.get("requestTimeout") is not None:
            route["timeout"] = str(found.spec["requestTimeout"])
        route["_timeout_filter"] = found
        return True

    return read


def _consul_route(
    draft: Draft, src: Source, grpc: bool, entry: Part, parent: dict[str, Any], inv: Inventory
) -> None:
    """An HTTPRoute of consul-k8s's gateway: the entry's routes, or, where listeners have
    different hosts, one of the routes per listener (``sectionName``) with the same rules."""
    section = parent.get("sectionName")
    hosts = [str(h) for h in src.spec.get("hostnames") or []]
    bound: dict[str | None, list[str]] = entry["_hosts"]
    rules = src.spec.get("rules") or []
    if not bound:
        bound[None if section is None else str(section)] = hosts
        entry["_rules"] = rules
        ingress_route(draft, src, entry, grpc, inv)
        return
    if section is None or None in bound or str(section) in bound or rules != entry["_rules"]:
        draft.lose(
            src,
            "",
            f"a second route of Gateway {entry['namespace']}/{entry['name']} that is not one "
            "per listener with the same rules (how meshc renders listeners of different "
            "hosts); not merged",
        )
        return
    bound[str(section)] = hosts
    draft.imported += 1


def _consul_hosts(draft: Draft, entry: Part) -> None:
    """A listener without a hostname has the hosts of the HTTPRoute bound to it (consul-k8s
    admits a route's hostnames on a listener without one: ``FilteredHostnames``)."""
    bound: dict[str | None, list[str]] = entry.pop("_hosts")
    entry.pop("_rules", None)
    src: Source = entry.pop("_gateway_src")
    names = [str(raw.get("name")) for raw in src.spec.get("listeners") or []]
    for listener in entry["listeners"]:
        hosts = bound.get(listener["name"], bound.get(None))
        if listener.pop("_open", False) and hosts:
            listener["hosts"] = hosts
        if bound and hosts is None:
            draft.lose(
                src,
                f"spec.listeners[{names.index(listener['name'])}]",
                "no HTTPRoute is bound to this listener, and the spec's ingress routes "
                "are every listener's; imported with them",
            )
