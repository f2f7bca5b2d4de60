"""Istio's configuration: DestinationRule, VirtualService, PeerAuthentication,
AuthorizationPolicy, Gateway (with the VirtualServices bound to it), ServiceEntry and
Telemetry, each read the way Istio reads it (istio/api networking/v1alpha3, security/v1beta1,
telemetry/v1alpha1) and turned back into what the spec says.

The inverse of :mod:`meshc.compiler.targets.istio`: what that target writes for a spec
comes back as the same spec; whatever else Istio's objects say is reported, field by
field, and where the rendered object has a place for it, carried by an override.
"""

from __future__ import annotations

import re
from typing import Any

from meshc.compiler.targets.gatewayapi import GROUP as GATEWAY_API_GROUP
from meshc.compiler.targets.istio.ambient import HBONE_PORT
from meshc.compiler.targets.istio.extras import ACCESS_LOG_PROVIDER, METRICS_PROVIDER
from meshc.providers import CLUSTER_DOMAIN
from meshc.providers.istio import (
    AMBIENT,
    DEFAULT_INGRESS_NAMESPACE,
    DEFAULT_INGRESS_SELECTOR,
    DEFAULT_INGRESS_SERVICE_ACCOUNT,
    GATEWAY_CLASS,
    NAMESPACE_WAYPOINT,
    PROFILE,
    REVISION_LABEL,
    ROOT_NAMESPACE,
    USE_WAYPOINT_LABEL,
    WAYPOINT_CLASS,
    WAYPOINT_FOR_LABEL,
)

from .draft import Draft, Part, Source, origin
from .inventory import Inventory, pod_labels, pod_spec

NAME = PROFILE.name
NET, SEC, TEL = PROFILE.config_groups
_MATCH_KEYS = {"uri", "headers", "name"}
_HTTP_KEYS = {
    "name",
    "match",
    "route",
    "timeout",
    "retries",
    "fault",
    "mirror",
    "mirrorPercentage",
    "mirrorPercent",
    "mirror_percent",
    "headers",
    "rewrite",
    "redirect",
}
_STRING_KINDS = ("exact", "prefix", "regex")
_PRINCIPAL = re.compile(r"^(?P<td>[^/]+)/ns/(?P<ns>[^/]+)/sa/(?P<sa>[^/]+)$")
_EGRESS_PROTOCOLS = {"HTTP": "http", "TLS": "tls", "HTTPS": "tls"}


def service_of(draft: Draft, host: str, namespace: str) -> Part | None:
    """The spec service a host names, read as Istio reads a short name: in ``namespace``."""
    host = host.removesuffix(f".svc.{CLUSTER_DOMAIN}").removesuffix(".svc")
    name, _, ns = host.partition(".")
    return draft.service(ns or namespace, name) if "." not in ns else None


# --- DestinationRule ----------------------------------------------------------------------


def destination_rule(draft: Draft, src: Source) -> None:
    ns = draft.namespace_of(src)
    spec = src.spec
    svc = service_of(draft, str(spec.get("host", "")), ns)
    if svc is None:
        found = _version_host(draft, str(spec.get("host", "")), ns)
        if found is not None:
            found[0].setdefault("_version_drs", []).append((src, found[1]))
            return
        draft.lose(
            src, "spec.host", f"{spec.get('host')!r} is no Service of the input; not imported"
        )
        return
    if "_dr" in svc:
        draft.lose(
            src,
            "",
            f"a second DestinationRule for {svc['namespace']}/{svc['name']} "
            f"(the first: {svc['_dr']}); not merged",
        )
        return
    svc["_dr"] = src.at()
    draft.imported += 1
    for i, subset in enumerate(spec.get("subsets") or []):
        labels = subset.get("labels") if isinstance(subset, dict) else None
        if not isinstance(labels, dict) or not subset.get("name"):
            draft.lose(src, f"spec.subsets[{i}]", "a subset without name or labels; not imported")
            continue
        version = origin(
            {"name": str(subset["name"]), "labels": {str(k): str(v) for k, v in labels.items()}},
            src,
            f"spec.subsets[{i}]",
        )
        known = next((v for v in svc.get("versions", []) if v["name"] == version["name"]), None)
        if known is None:
            svc.setdefault("versions", []).append(version)
        elif known["labels"] != version["labels"]:
            draft.lose(
                src,
                f"spec.subsets[{i}].labels",
                f"version {version['name']!r} of "
                f"{svc['namespace']}/{svc['name']} is a Service with other labels "
                f"({known['__from__'][0]}); not imported",
            )
            continue
        else:
            origin(known, src, f"spec.subsets[{i}]")  # its per-version Service says the same
        if subset.get("trafficPolicy"):
            _carry(
                draft,
                src,
                f"spec.subsets[{i}].trafficPolicy",
                "a version's own traffic "
                "policy; the spec's connection pool and outlier detection are the service's",
                "DestinationRule",
                svc,
                {
                    "op": "add",
                    "path": f"/spec/subsets/{i}/trafficPolicy",
                    "value": subset["trafficPolicy"],
                },
            )
    # The subsets' order is the spec's (version Services, read first, come in name order).
    order = [str(s.get("name")) for s in spec.get("subsets") or [] if isinstance(s, dict)]
    if svc.get("versions"):
        svc["versions"].sort(
            key=lambda v: order.index(v["name"]) if v["name"] in order else len(order)
        )
    policy = spec.get("trafficPolicy") or {}
    svc["_policy"] = policy
    if isinstance(policy, dict):
        _traffic_policy(draft, src, svc, policy)
    for key in ("exportTo", "workloadSelector"):
        if key in spec:
            draft.lose(
                src,
                f"spec.{key}",
                "the spec's DestinationRules apply to every namespace and workload; not imported",
            )


def _version_host(draft: Draft, host: str, ns: str) -> tuple[Part, str] | None:
    """(service, version) of a host that is a version's own Service (``reviews-v1``), which
    the Gateway API routing renders with the service's traffic policy."""
    host = host.removesuffix(f".svc.{CLUSTER_DOMAIN}").removesuffix(".svc")
    name, _, host_ns = host.partition(".")
    for svc in draft.services.values():
        if svc["namespace"] != (host_ns or ns):
            continue
        for v in svc.get("versions", []):
            if f"{svc['name']}-{v['name']}" == name:
                return svc, str(v["name"])
    return None


def version_rules(draft: Draft) -> None:
    """A version Service's DestinationRule repeats its service's traffic policy (what
    targets/istio renders with HTTPRoutes); any other is reported."""
    for svc in draft.services.values():
        for src, version in svc.pop("_version_drs", []):
            expected = {
                "host": f"{svc['name']}-{version}.{svc['namespace']}.svc.{CLUSTER_DOMAIN}",
                "trafficPolicy": svc.get("_policy"),
            }
            if src.spec == expected and expected["trafficPolicy"]:
                draft.imported += 1
            else:
                draft.lose(
                    src,
                    "spec",
                    f"the DestinationRule of version {version!r}'s Service "
                    "says other than its service's traffic policy; not imported",
                )


def _traffic_policy(draft: Draft, src: Source, svc: Part, policy: dict[str, Any]) -> None:
    pool = policy.get("connectionPool") or {}
    tcp, http = pool.get("tcp") or {}, pool.get("http") or {}
    taken: dict[str, Any] = {}
    if "maxConnections" in tcp:
        taken["maxConnections"] = tcp["maxConnections"]
    for key in ("http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection"):
        if key in http:
            taken[key] = http[key]
    if taken:
        svc["connectionPool"] = taken
    for section, fields, known in (
        ("tcp", tcp, {"maxConnections"}),
        ("http", http, {"http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection"}),
    ):
        for key in sorted(set(fields) - known):
            _carry(
                draft,
                src,
                f"spec.trafficPolicy.connectionPool.{section}.{key}",
                "the spec's connection pool has no such limit",
                "DestinationRule",
                svc,
                merge={
                    "spec": {"trafficPolicy": {"connectionPool": {section: {key: fields[key]}}}}
                },
            )
    outlier = dict(policy.get("outlierDetection") or {})
    if "consecutiveErrors" in outlier and "consecutive5xxErrors" not in outlier:
        outlier["consecutive5xxErrors"] = outlier.pop("consecutiveErrors")  # the deprecated name
    outlier_keys = ("consecutive5xxErrors", "interval", "baseEjectionTime", "maxEjectionPercent")
    taken = {k: outlier[k] for k in outlier_keys if k in outlier}
    if taken:
        svc["outlierDetection"] = taken
    for key in sorted(set(outlier) - set(outlier_keys)):
        _carry(
            draft,
            src,
            f"spec.trafficPolicy.outlierDetection.{key}",
            "the spec's outlier detection has no such setting",
            "DestinationRule",
            svc,
            merge={"spec": {"trafficPolicy": {"outlierDetection": {key: outlier[key]}}}},
        )
    tls = policy.get("tls")
    if isinstance(tls, dict) and tls != {"mode": "ISTIO_MUTUAL"}:
        _carry(
            draft,
            src,
            "spec.trafficPolicy.tls",
            "the spec's mTLS is the mesh's (Istio "
            "mutual TLS); other TLS origination is not a spec setting",
            "DestinationRule",
            svc,
            merge={"spec": {"trafficPolicy": {"tls": tls}}},
        )
    for key in sorted(set(policy) - {"connectionPool", "outlierDetection", "tls"}):
        _carry(
            draft,
            src,
            f"spec.trafficPolicy.{key}",
            "not a spec setting",
            "DestinationRule",
            svc,
            merge={"spec": {"trafficPolicy": {key: policy[key]}}},
        )


def _carry(
    draft: Draft,
    src: Source,
    path: str,
    why: str,
    kind: str,
    svc: Part,
    op: dict[str, Any] | None = None,
    merge: dict[str, Any] | None = None,
) -> None:
    """Report ``path``, carried by an override of the object meshc renders for ``svc``."""
    svc.setdefault("_carry", []).append((src, path, why, kind, op, merge))


# --- VirtualService -----------------------------------------------------------------------


def _string_match(value: Any) -> dict[str, str] | None:
    if isinstance(value, dict) and len(value) == 1:
        kind, text = next(iter(value.items()))
        if kind in _STRING_KINDS and isinstance(text, str):
            return {kind: text}
    return None


def _match(draft: Draft, src: Source, path: str, m: dict[str, Any], grpc: bool) -> Part | None:
    out: Part = {}
    for key in sorted(set(m) - _MATCH_KEYS):
        draft.lose(
            src,
            f"{path}.{key}",
            "the spec matches on path and headers only; the route is not imported",
        )
        return None
    if "uri" in m:
        uri = _string_match(m["uri"])
        if uri is None:
            draft.lose(src, f"{path}.uri", "not an exact, prefix or regex match")
            return None
        out["path"] = uri
        method = _grpc_method(uri) if grpc else None
        if method is not None:
            out = {"grpc": method}
    if m.get("headers"):
        headers = {}
        for name, value in m["headers"].items():
            sm = _string_match(value)
            if sm is None:
                draft.lose(src, f"{path}.headers.{name}", "not an exact, prefix or regex match")
                return None
            headers[str(name)] = sm
        out["headers"] = headers
    return out


def _grpc_method(uri: dict[str, str]) -> dict[str, str] | None:
    """A gRPC method (exact /pkg.Service/Method) or service (prefix /pkg.Service/)."""
    kind, value = next(iter(uri.items()))
    parts = value.split("/")
    if kind == "exact" and len(parts) == 3 and parts[1] and parts[2] and "." in parts[1]:
        return {"service": parts[1], "method": parts[2]}
    if kind == "prefix" and len(parts) == 3 and parts[1] and not parts[2] and "." in parts[1]:
        return {"service": parts[1]}
    return None


def _percent(holder: dict[str, Any], new: str, old: str) -> float | None:
    if isinstance(holder.get(new), dict) and "value" in holder[new]:
        return float(holder[new]["value"])
    if old in holder:
        return float(holder[old])
    return None


def retries(value: dict[str, Any]) -> Part:
    out: Part = {"attempts": int(value.get("attempts", 0))}
    if value.get("perTryTimeout"):
        out["perTryTimeout"] = str(value["perTryTimeout"])
    if value.get("retryOn"):
        out["retryOn"] = [c.strip() for c in str(value["retryOn"]).split(",") if c.strip()]
    return out


def _fault(draft: Draft, src: Source, path: str, value: dict[str, Any]) -> Part | None:
    out: Part = {}
    delay = value.get("delay")
    if isinstance(delay, dict):
        if "fixedDelay" not in delay:
            draft.lose(src, f"{path}.delay", "only a fixed delay is a spec fault; not imported")
        else:
            d: Part = {"fixed": str(delay["fixedDelay"])}
            pct = _percent(delay, "percentage", "percent")
            # Without a percentage Istio delays no request (TranslateFault).
            d["percent"] = _round(pct if pct is not None else 0.0)
            out["delay"] = d
    abort = value.get("abort")
    if isinstance(abort, dict):
        a: Part = {}
        if "httpStatus" in abort:
            a["httpStatus"] = int(abort["httpStatus"])
        elif "grpcStatus" in abort:
            a["grpcStatus"] = str(abort["grpcStatus"])
        else:
            draft.lose(src, f"{path}.abort", "an abort without an HTTP or gRPC status")
            return out or None
        pct = _percent(abort, "percentage", "percent")
        a["percent"] = _round(pct if pct is not None else 0.0)
        out["abort"] = a
    return out or None


def _round(value: float) -> float | int:
    rounded = round(value, 2)
    return int(rounded) if rounded == int(rounded) else rounded


def _header_ops(value: Any) -> Part:
    out: Part = {}
    if isinstance(value, dict):
        for key in ("set", "add"):
            if value.get(key):
                out[key] = {str(k): str(v) for k, v in value[key].items()}
        if value.get("remove"):
            out["remove"] = [str(v) for v in value["remove"]]
    return out


def headers(value: dict[str, Any]) -> Part:
    out: Part = {}
    for side in ("request", "response"):
        ops = _header_ops(value.get(side))
        if ops:
            out[side] = ops
    return out


def _rewrite(draft: Draft, src: Source, path: str, value: dict[str, Any]) -> Part | None:
    out: Part = {}
    if "uri" in value:
        out["path"] = str(value["uri"])
    if "authority" in value:
        out["host"] = str(value["authority"])
    for key in sorted(set(value) - {"uri", "authority"}):
        draft.lose(src, f"{path}.{key}", "the spec rewrites a path or a host only")
    return out or None


def _redirect(draft: Draft, src: Source, path: str, value: dict[str, Any]) -> Part:
    out: Part = {}
    for key, spec_key in (
        ("uri", "path"),
        ("authority", "host"),
        ("scheme", "scheme"),
        ("port", "port"),
    ):
        if key in value:
            out[spec_key] = value[key]
    out["statusCode"] = int(value.get("redirectCode", 301))
    for key in sorted(set(value) - {"uri", "authority", "scheme", "port", "redirectCode"}):
        draft.lose(src, f"{path}.{key}", "the spec redirects to a path, host, scheme or port")
    return out


class _Skip(Exception):
    pass


def _destinations(
    draft: Draft, src: Source, path: str, routes: list[Any], svc: Part, ns: str
) -> list[tuple[str | None, int]]:
    """(subset, weight) of each destination; _Skip when one is another service's."""
    found = []
    for j, dest in enumerate(routes):
        d = dest.get("destination", {}) if isinstance(dest, dict) else {}
        target = service_of(draft, str(d.get("host", "")), ns)
        if target is not svc:
            draft.lose(
                src,
                f"{path}.route[{j}].destination.host",
                f"{d.get('host')!r}: a spec route sends to versions of its own service "
                "only; the route is not imported",
            )
            raise _Skip
        port = (d.get("port") or {}).get("number")
        if port is not None and port not in [p["port"] for p in svc["ports"]]:
            draft.lose(
                src,
                f"{path}.route[{j}].destination.port",
                f"{port} is no port of the Service; not imported",
            )
        for key in sorted(set(dest) - {"destination", "weight"}):
            draft.lose(
                src,
                f"{path}.route[{j}].{key}",
                "a destination's own header changes are not a spec setting; not imported",
            )
        weight = dest.get("weight")
        found.append(
            (
                d.get("subset"),
                int(weight) if weight is not None else (100 if len(routes) == 1 else 0),
            )
        )
    return found


def _http_route(
    draft: Draft, src: Source, path: str, http: dict[str, Any], svc: Part, ns: str, grpc: bool
) -> Part | None:
    route: Part = {}
    origin(route, src, path)
    for key in sorted(set(http) - _HTTP_KEYS):
        draft.lose(
            src,
            f"{path}.{key}",
            {
                "corsPolicy": "the spec has no CORS policy",
                "directResponse": "the spec has no direct response",
                "delegate": "the spec has no delegated routes",
            }.get(key, "not a spec setting")
            + "; the route is not imported",
        )
        return None
    if http.get("name"):
        route["name"] = str(http["name"])
    matches = []
    for i, m in enumerate(http.get("match") or []):
        found = _match(draft, src, f"{path}.match[{i}]", m if isinstance(m, dict) else {}, grpc)
        if found is None:
            return None
        if found:
            matches.append(found)
    if len(matches) == 1:
        route["match"] = matches[0]
    elif matches:
        route["matches"] = matches
    if isinstance(http.get("redirect"), dict):
        route["redirect"] = _redirect(draft, src, f"{path}.redirect", http["redirect"])
    else:
        try:
            split = _destinations(draft, src, path, http.get("route") or [], svc, ns)
        except _Skip:
            return None
        if any(subset is None for subset, _ in split):
            if len(split) != 1 or matches or "_versions_only" in svc:
                draft.lose(
                    src,
                    f"{path}.route",
                    "a spec route sends to versions (subsets); a "
                    "destination without a subset is the service's catch-all route",
                )
                return None
            route["_whole"] = True
        elif len(split) == 1:
            route["to"] = split[0][0]
        else:
            route["split"] = {str(s): w for s, w in split}
        if isinstance(http.get("fault"), dict):
            fault = _fault(draft, src, f"{path}.fault", http["fault"])
            if fault:
                route["fault"] = fault
        if isinstance(http.get("mirror"), dict):
            mirror = _mirror(draft, src, path, http, svc, ns)
            if mirror:
                route["mirror"] = mirror
        if isinstance(http.get("rewrite"), dict):
            rewrite = _rewrite(draft, src, f"{path}.rewrite", http["rewrite"])
            if rewrite:
                route["rewrite"] = rewrite
    if isinstance(http.get("headers"), dict):
        h = headers(http["headers"])
        if h:
            route["headers"] = h
    if http.get("timeout"):
        route["timeout"] = str(http["timeout"])
    if isinstance(http.get("retries"), dict):
        extra = set(http["retries"]) - {"attempts", "perTryTimeout", "retryOn"}
        for key in sorted(extra):
            draft.lose(
                src,
                f"{path}.retries.{key}",
                "the spec's retries have attempts, a per-try timeout and conditions only",
            )
        route["retries"] = retries(http["retries"])
    return route


def _mirror(
    draft: Draft, src: Source, path: str, http: dict[str, Any], svc: Part, ns: str
) -> Part | None:
    m = http["mirror"]
    out: Part = {}
    target = service_of(draft, str(m.get("host", "")), ns)
    if target is svc and m.get("subset"):
        out["to"] = str(m["subset"])
    elif target is not None and target is not svc and not m.get("subset"):
        out["service"] = target["name"]
        if target["namespace"] != svc["namespace"]:
            out["namespace"] = target["namespace"]
        port = (m.get("port") or {}).get("number")
        if port is not None:
            out["port"] = port
    else:
        draft.lose(
            src,
            f"{path}.mirror",
            "a mirror goes to a version of the service or to "
            "another service of the input; not imported",
        )
        return None
    pct = _percent(http, "mirrorPercentage", "mirrorPercent")
    if pct is None and "mirror_percent" in http:
        pct = float(http["mirror_percent"])
    out["percent"] = _round(pct if pct is not None else 100.0)
    return out


def _tcp(
    draft: Draft, src: Source, i: int, tcp: dict[str, Any], svc: Part, ns: str
) -> dict[str, int] | None:
    path = f"spec.tcp[{i}]"
    ports = [m.get("port") for m in tcp.get("match") or [] if isinstance(m, dict)]
    if not ports or None in ports or any(set(m) - {"port"} for m in tcp.get("match") or []):
        draft.lose(src, f"{path}.match", "the spec splits an opaque TCP port by its number only")
        return None
    try:
        split = _destinations(draft, src, path, tcp.get("route") or [], svc, ns)
    except _Skip:
        return None
    if any(s is None for s, _ in split):
        draft.lose(src, f"{path}.route", "a TCP split goes to versions (subsets)")
        return None
    for port in svc["ports"]:
        if port["port"] in ports:
            port["protocol"] = "tcp"
    return {str(s): w for s, w in split}


def virtual_service(draft: Draft, src: Source) -> None:
    ns = draft.namespace_of(src)
    spec = src.spec
    gateways = [g for g in spec.get("gateways") or [] if g != "mesh"]
    if gateways:
        return  # bound to a gateway: ingress(), once every Gateway is known
    for key in ("exportTo",):
        if key in spec:
            draft.lose(src, f"spec.{key}", "the spec's routes apply in every namespace")
    for key in ("tls",):
        if spec.get(key):
            draft.lose(
                src,
                f"spec.{key}",
                "the spec routes HTTP and opaque TCP, not TLS by SNI; not imported",
            )
    hosts = [str(h) for h in spec.get("hosts") or []]
    for j, host in enumerate(hosts):
        svc = service_of(draft, host, ns)
        if svc is None:
            draft.lose(
                src,
                f"spec.hosts[{j}]",
                f"{host!r} is no Service of the input (an "
                "external host, a wildcard or a Service not given); its routes are not "
                "imported",
            )
            continue
        if "_vs" in svc:
            draft.lose(
                src,
                f"spec.hosts[{j}]",
                f"a second VirtualService for "
                f"{svc['namespace']}/{svc['name']} (the first: {svc['_vs']}); its routes "
                "are not merged",
            )
            continue
        svc["_vs"] = src.at()
        grpc = all(p.get("protocol") == "grpc" for p in svc["ports"])
        routes = []
        for i, http in enumerate(spec.get("http") or []):
            route = _http_route(draft, src, f"spec.http[{i}]", http, svc, ns, grpc)
            if route is not None:
                routes.append(route)
        tcp_split = None
        for i, tcp in enumerate(spec.get("tcp") or []):
            split = _tcp(draft, src, i, tcp, svc, ns)
            if split is not None and tcp_split not in (None, split):
                draft.lose(src, f"spec.tcp[{i}]", "the spec splits every opaque port alike")
            elif split is not None:
                tcp_split = split
        _settle_routes(draft, src, svc, routes, tcp_split)
        draft.imported += 1


def _settle_routes(
    draft: Draft, src: Source, svc: Part, routes: list[Part], tcp_split: dict[str, int] | None
) -> None:
    """Routes as the spec writes them: a timeout or retries every route shares belong to
    the service, and a lone catch-all to the whole service is no route at all."""
    forwarding = [r for r in routes if "redirect" not in r]
    for key in ("timeout", "retries"):
        values = [r.get(key) for r in forwarding]
        if forwarding and values[0] is not None and all(v == values[0] for v in values):
            svc[key] = values[0]
            for r in forwarding:
                del r[key]
    whole = [r for r in routes if r.pop("_whole", False)]
    if whole and (len(routes) > 1 or set(whole[0]) - {"__from__"}):
        draft.lose(
            src,
            "spec.http",
            "a catch-all route to the whole service beside other "
            "routes or with its own traffic policy needs versions; not imported",
        )
        return
    if whole:
        routes = []
    if tcp_split is not None:
        default = next((r for r in routes if "match" not in r and "matches" not in r), None)
        split = (
            default.get("split") or ({default["to"]: 100} if "to" in default else None)
            if default is not None
            else None
        )
        if default is None:
            routes.append(
                {"split": tcp_split} if len(tcp_split) > 1 else {"to": next(iter(tcp_split))}
            )
        elif split != tcp_split:
            draft.lose(
                src,
                "spec.tcp",
                "the spec splits opaque ports as the default route; "
                "this split differs and is not imported",
            )
    if routes:
        svc["routes"] = routes


# --- security -----------------------------------------------------------------------------


def peer_authentication(draft: Draft, src: Source) -> None:
    spec = src.spec
    ns = draft.namespace_of(src)
    mode = (spec.get("mtls") or {}).get("mode", "UNSET")
    for key in ("selector", "portLevelMtls"):
        if spec.get(key):
            draft.lose(
                src,
                f"spec.{key}",
                "the spec's mTLS mode is the whole mesh's; a "
                "workload's or port's own mode is not imported",
            )
            return
    if mode not in ("STRICT", "PERMISSIVE"):
        draft.lose(src, "spec.mtls.mode", f"{mode}: the spec's mTLS is STRICT or PERMISSIVE")
        return
    draft.mtls.append((mode, "" if ns == ROOT_NAMESPACE else ns, src.at("spec.mtls.mode")))
    draft.imported += 1


def _principal(draft: Draft, text: str) -> str | None:
    m = _PRINCIPAL.match(text)
    if m is None:
        return None
    if draft.trust_domain is None:
        draft.trust_domain = m["td"]
    return None if m["td"] != draft.trust_domain else f"{m['ns']}/{m['sa']}"


def _selected(draft: Draft, ns: str, labels: dict[str, str]) -> list[Part]:
    return [s for (n, _), s in draft.services.items() if n == ns and s["selector"] == labels]


def authorization_policy(draft: Draft, src: Source, gateway_principals: set[str]) -> None:
    spec = src.spec
    ns = draft.namespace_of(src)
    if spec.get("action", "ALLOW") != "ALLOW":
        draft.lose(
            src, "spec.action", f"{spec['action']}: the spec's rules allow callers; not imported"
        )
        return
    for key in sorted(set(spec) - {"selector", "action", "rules", "targetRefs"}):
        draft.lose(src, f"spec.{key}", "not a spec setting; not imported")
        return
    labels = {
        str(k): str(v) for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items()
    }
    at_waypoint = "targetRefs" in spec
    if at_waypoint:
        targets = _target_service(draft, src, ns, labels)
        if targets is None:
            return
    else:
        targets = _selected(draft, ns, labels) if labels else []
    if not targets:
        draft.lose(
            src,
            "spec.selector",
            "the spec allows callers per service: this policy selects no Service's pods exactly"
            if labels
            else "a namespace-wide policy: the spec allows callers per service",
        )
        return
    if not spec.get("rules"):
        draft.lose(
            src,
            "spec.rules",
            "a policy without rules denies every request; the spec allows callers",
        )
        return
    allow = []
    for i, rule in enumerate(spec["rules"]):
        found = _rule(
            draft, src, f"spec.rules[{i}]", rule, targets[0], gateway_principals, at_waypoint
        )
        if found is not None and found:
            allow.append(found)
    for svc in targets:
        svc.setdefault("allow", []).extend(allow)
        svc["_allow_from"] = src.at()
    draft.imported += 1


def _target_service(
    draft: Draft, src: Source, ns: str, labels: dict[str, str]
) -> list[Part] | None:
    """The Service a waypoint's policy is attached to (targetRefs), as meshc attaches the
    allow rules of a service behind a waypoint (targets/istio/ambient.py)."""
    refs = src.spec.get("targetRefs") or []
    ref = refs[0] if len(refs) == 1 and isinstance(refs[0], dict) else {}
    svc = (
        draft.service(ns, str(ref.get("name")))
        if ref.get("kind") == "Service" and ref.get("group", "") == "" and not ref.get("namespace")
        else None
    )
    if labels or svc is None:
        draft.lose(
            src,
            "spec.targetRefs",
            "the spec's allow rules at a waypoint are attached "
            "to one Service of the input (and no selector); not imported",
        )
        return None
    svc["_allow_at_waypoint"] = src
    return [svc]


def _is_waypoint(draft: Draft, principal: str) -> bool:
    """Whether ``principal`` is a waypoint's: meshc's ztunnel rule admitting it."""
    m = _PRINCIPAL.match(principal)
    return m is not None and (m["ns"], m["sa"]) in draft.waypoints


def _rule(
    draft: Draft,
    src: Source,
    path: str,
    rule: dict[str, Any],
    svc: Part,
    gateway_principals: set[str],
    at_waypoint: bool = False,
) -> Part | None:
    for key in sorted(set(rule) - {"from", "to"}):
        draft.lose(
            src,
            f"{path}.{key}",
            "the spec allows callers by namespace or service account (and port); not imported",
        )
        return None
    if not rule.get("from"):
        draft.lose(src, path, "a rule without sources allows every caller; the spec names them")
        return None
    out: Part = {}
    origin(out, src, path)
    namespaces: list[str] = []
    accounts: list[str] = []
    gateway_only = True
    for j, entry in enumerate(rule["from"]):
        source = entry.get("source", {}) if isinstance(entry, dict) else {}
        keys = set(source)
        if keys - {"namespaces", "principals"} or len(keys) != 1:
            draft.lose(
                src,
                f"{path}.from[{j}].source",
                "a source is namespaces or principals "
                "alone in the spec (" + ", ".join(sorted(keys)) + "); not imported",
            )
            return None
        if "namespaces" in source:
            namespaces += [str(n) for n in source["namespaces"]]
            gateway_only = False
        for k, principal in enumerate(source.get("principals") or []):
            if principal in gateway_principals:
                continue
            if _is_waypoint(draft, str(principal)):
                svc["_admits_waypoint"] = src  # meshc's ztunnel rule behind a waypoint
                continue
            gateway_only = False
            account = _principal(draft, str(principal))
            if account is None:
                draft.lose(
                    src,
                    f"{path}.from[{j}].source.principals[{k}]",
                    f"{principal!r} is no service account of trust domain "
                    f"{draft.trust_domain}; not imported",
                )
                return None
            accounts.append(account)
    if gateway_only:
        return {}  # the rule meshc writes for an ingress gateway that routes here
    if namespaces:
        out["fromNamespaces"] = namespaces
    if accounts:
        out["fromServiceAccounts"] = accounts
    ports = []
    for j, to in enumerate(rule.get("to") or []):
        op = to.get("operation", {}) if isinstance(to, dict) else {}
        if set(op) - {"ports"}:
            draft.lose(
                src,
                f"{path}.to[{j}].operation",
                "the spec allows callers to ports "
                "only (" + ", ".join(sorted(set(op) - {"ports"})) + "); not imported",
            )
            return None
        # A waypoint matches Service ports, a workload's policy target ports.
        key = "port" if at_waypoint else "targetPort"
        for port in op.get("ports") or []:
            found = [p["port"] for p in svc["ports"] if str(p[key]) == str(port)]
            if not found:
                draft.lose(
                    src,
                    f"{path}.to[{j}].operation.ports",
                    f"{port} is no "
                    f"{'port' if at_waypoint else 'target port'} of the Service; not "
                    "imported",
                )
                return None
            ports += found
    if ports:
        out["ports"] = list(dict.fromkeys(ports))
    return out


# --- ingress ------------------------------------------------------------------------------


def _gateway_identity(inv: Inventory, ns: str, selector: dict[str, str]) -> tuple[str, str] | None:
    """(namespace, service account) of the workload whose pods the Gateway selects."""
    for w in inv.workloads():
        labels = pod_labels(w)
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            account = pod_spec(w).get("serviceAccountName") or "default"
            return w.namespace or ns, str(account)
    if selector == dict(DEFAULT_INGRESS_SELECTOR):
        return DEFAULT_INGRESS_NAMESPACE, DEFAULT_INGRESS_SERVICE_ACCOUNT
    return None


def gateway(inv: Inventory, draft: Draft, src: Source) -> Part | None:
    ns = draft.namespace_of(src)
    spec = src.spec
    selector = {str(k): str(v) for k, v in (spec.get("selector") or {}).items()}
    identity = _gateway_identity(inv, ns, selector)
    if identity is None:
        draft.lose(
            src,
            "spec.selector",
            "no workload of the input has these labels, so the "
            "gateway's namespace and service account are unknown; not imported",
        )
        return None
    entry: Part = {
        "name": src.name,
        "namespace": ns,
        "gateway": {
            "namespace": identity[0],
            "serviceAccount": identity[1],
            "selector": selector,
            # Istio's class: the same gateway, rendered as Gateway API.
            "className": GATEWAY_CLASS,
        },
        "listeners": [],
        "routes": [],
    }
    origin(entry, src)
    for i, server in enumerate(spec.get("servers") or []):
        path = f"spec.servers[{i}]"
        port = server.get("port") or {}
        protocol = str(port.get("protocol", "")).upper()
        if protocol not in ("HTTP", "HTTPS"):
            draft.lose(
                src,
                f"{path}.port.protocol",
                f"{protocol}: the spec's listeners are HTTP or HTTPS; not imported",
            )
            continue
        hosts = [str(h) for h in server.get("hosts") or []]
        if any("/" in h for h in hosts):
            draft.lose(
                src,
                f"{path}.hosts",
                "a host bound to a namespace (ns/host); the listener is not imported",
            )
            continue
        listener: Part = {
            "name": str(port.get("name") or f"{protocol.lower()}-{port.get('number')}"),
            "port": port.get("number"),
            "protocol": protocol,
            "hosts": hosts,
        }
        tls = server.get("tls")
        if protocol == "HTTPS":
            if (
                not isinstance(tls, dict)
                or tls.get("mode", "SIMPLE") != "SIMPLE"
                or not tls.get("credentialName")
                or set(tls) - {"mode", "credentialName"}
            ):
                draft.lose(
                    src,
                    f"{path}.tls",
                    "the spec's HTTPS listeners terminate TLS with "
                    "one certificate Secret (SIMPLE, credentialName); not imported",
                )
                continue
            listener["tls"] = {"secretName": str(tls["credentialName"])}
        elif isinstance(tls, dict) and tls:
            draft.lose(
                src, f"{path}.tls", "TLS settings of an HTTP listener (httpsRedirect); not imported"
            )
        entry["listeners"].append(listener)
    return entry


def ingress(inv: Inventory, draft: Draft) -> None:
    gateways: dict[tuple[str, str], tuple[Source, Part | None]] = {}
    for src in inv.kind("Gateway", NET):
        with draft.guard(src):
            gateways[(draft.namespace_of(src), src.name)] = (src, gateway(inv, draft, src))
    bound: set[tuple[str, str]] = set()
    for src in inv.kind("VirtualService", NET):
        names = [g for g in src.spec.get("gateways") or [] if g != "mesh"]
        if not names:
            continue
        ns = draft.namespace_of(src)
        if len(names) > 1 or len(src.spec.get("gateways") or []) > 1:
            draft.lose(
                src,
                "spec.gateways",
                "the spec's ingress routes belong to one gateway "
                "and not to the mesh too; not imported",
            )
            continue
        gns, _, gname = names[0].rpartition("/")
        key = (gns or ns, gname)
        found = gateways.get(key)
        if found is None or found[1] is None:
            draft.lose(
                src,
                "spec.gateways",
                f"Gateway {key[0]}/{key[1]} is not in the input "
                "(or was not imported); not imported",
            )
            continue
        if key in bound:
            draft.lose(
                src, "", f"a second VirtualService bound to Gateway {key[0]}/{key[1]}; not merged"
            )
            continue
        bound.add(key)
        entry = found[1]
        if src.name != entry["name"]:
            draft.notes.append(
                f"{src.at()}: {src.ref}: renders as VirtualService "
                f"{ns}/{entry['name']} (named after its Gateway)"
            )
        if ns != entry["namespace"]:
            draft.lose(
                src,
                "metadata.namespace",
                "the spec puts the ingress routes beside their Gateway; not imported",
            )
            continue
        with draft.guard(src):
            for i, http in enumerate(src.spec.get("http") or []):
                route = _ingress_route(draft, src, f"spec.http[{i}]", http, ns)
                if route is not None:
                    entry["routes"].append(route)
        origin(entry, src)
        draft.imported += 1
    for key, (src, found_entry) in gateways.items():
        if found_entry is None:
            continue
        if key not in bound or not found_entry["routes"]:
            draft.lose(src, "", "a Gateway without routes the spec can say; not imported")
            continue
        draft.ingress[key] = found_entry
        draft.imported += 1


def _ingress_route(
    draft: Draft, src: Source, path: str, http: dict[str, Any], ns: str
) -> Part | None:
    route: Part = {}
    origin(route, src, path)
    for key in sorted(
        set(http)
        - {"match", "route", "timeout", "retries", "headers", "rewrite", "redirect", "name"}
    ):
        draft.lose(src, f"{path}.{key}", "not a spec setting of an ingress route; not imported")
        return None
    matches = []
    for i, m in enumerate(http.get("match") or []):
        found = _match(draft, src, f"{path}.match[{i}]", m, False)
        if found is None:
            return None
        if found:
            matches.append(found)
    if len(matches) == 1:
        route["match"] = matches[0]
    elif matches:
        route["matches"] = matches
    if isinstance(http.get("headers"), dict):
        h = headers(http["headers"])
        if h:
            route["headers"] = h
    if isinstance(http.get("redirect"), dict):
        route["redirect"] = _redirect(draft, src, f"{path}.redirect", http["redirect"])
        return route
    dests = http.get("route") or []
    hosts = {
        service_of(draft, str((d.get("destination") or {}).get("host", "")), ns) is not None
        and id(service_of(draft, str((d.get("destination") or {}).get("host", "")), ns))
        for d in dests
    }
    if len(dests) == 0 or len(hosts) != 1 or False in hosts:
        draft.lose(
            src, f"{path}.route", "an ingress route goes to one Service of the input; not imported"
        )
        return None
    d = dests[0]["destination"]
    svc = service_of(draft, str(d.get("host")), ns)
    assert svc is not None
    port = (d.get("port") or {}).get("number")
    if port is None:
        port = svc["ports"][0]["port"] if len(svc["ports"]) == 1 else None
    if port is None:
        draft.lose(
            src,
            f"{path}.route[0].destination.port",
            "the Service has several ports and the route names none; not imported",
        )
        return None
    backend: Part = {"service": svc["name"], "port": port}
    if svc["namespace"] != ns:
        backend["namespace"] = svc["namespace"]
    route["backend"] = backend
    route["_split"] = [
        (
            str((x.get("destination") or {}).get("subset"))
            if (x.get("destination") or {}).get("subset")
            else None,
            int(x.get("weight", 100 if len(dests) == 1 else 0)),
        )
        for x in dests
    ]
    route["_svc"] = svc
    route["_src"] = src
    route["_path"] = path
    if isinstance(http.get("rewrite"), dict):
        rewrite = _rewrite(draft, src, f"{path}.rewrite", http["rewrite"])
        if rewrite:
            route["rewrite"] = rewrite
    if http.get("timeout"):
        route["timeout"] = str(http["timeout"])
    if isinstance(http.get("retries"), dict):
        route["_retries"] = retries(http["retries"])
    return route


def settle_ingress(draft: Draft) -> None:
    """Once services have their routes: an ingress route follows its backend's default
    split, timeout and retries (targets/istio/ingress.py); what differs is reported."""
    for entry in draft.ingress.values():
        for route in entry["routes"]:
            svc = route.pop("_svc", None)
            src, path = route.pop("_src", None), route.pop("_path", "")
            split, own_retries = route.pop("_split", None), route.pop("_retries", None)
            if svc is None or src is None:
                continue
            default = next(
                (r for r in svc.get("routes", []) if "match" not in r and "matches" not in r), None
            )
            expected = (
                [(v, w) for v, w in default["split"].items()]
                if default and "split" in default
                else [(default["to"], 100)]
                if default and "to" in default
                else [(None, 100)]
            )
            if split != expected and not (
                len(split) == 1 and len(expected) == 1 and split[0][0] == expected[0][0]
            ):
                draft.lose(
                    src,
                    f"{path}.route",
                    "the spec's ingress routes send as the backend's "
                    "default route does (its split); this split differs and is not "
                    "imported",
                )
            if route.get("timeout") is not None and route["timeout"] == svc.get("timeout"):
                del route["timeout"]
            if svc.get("retries") is None and own_retries is not None and "_bare_route" in svc:
                # An HTTPRoute that says nothing is meshc's render of a service with retries
                # (Istio's HTTPRoutes carry none); the ingress route says which.
                svc["retries"] = own_retries
            if own_retries != svc.get("retries"):
                draft.lose(
                    src,
                    f"{path}.retries",
                    "the spec's ingress routes retry as their "
                    "backend service does; these retries differ and are not imported",
                )


def gateway_principals(draft: Draft) -> set[str]:
    """The principals meshc admits an ingress gateway by, in its routes' services' policies."""
    td = draft.trust_domain or "cluster.local"
    return {
        f"{td}/ns/{e['gateway']['namespace']}/sa/{e['gateway']['serviceAccount']}"
        for e in draft.ingress.values()
    }


# --- ambient: waypoints ---------------------------------------------------------------------

_WAYPOINT_LISTENERS = [{"name": "mesh", "port": HBONE_PORT, "protocol": "HBONE"}]


def waypoint(draft: Draft, src: Source) -> None:
    """A Gateway of class istio-waypoint as meshc renders it (targets/istio/ambient.py,
    waypoint_objects): derived from the spec, which says which services need one."""
    ns = draft.namespace_of(src)
    labels = {str(k): str(v) for k, v in (src.meta.get("labels") or {}).items()}
    if (
        src.spec != {"gatewayClassName": WAYPOINT_CLASS, "listeners": _WAYPOINT_LISTENERS}
        or labels.get(WAYPOINT_FOR_LABEL) != "service"
    ):
        draft.lose(
            src,
            "spec",
            "a waypoint other than meshc's (for Services, one HBONE "
            "listener on port 15008): the spec gives each service that needs L7 one of "
            "its own shape; not imported",
        )
        return
    draft.waypoints[(ns, src.name)] = src
    revision = labels.get(REVISION_LABEL)
    part = draft.namespaces.get(ns)
    if revision and part is not None and part.get("revision", revision) == revision:
        part["revision"] = revision  # an ambient namespace's revision names its waypoints'
    draft.imported += 1


def _needs_waypoint(svc: Part) -> bool:
    """As targets/istio/ambient.py, needs_waypoint: L7 traffic settings of an HTTP port."""
    http = any(p.get("protocol", "http") != "tcp" for p in svc["ports"])
    return bool(
        http
        and (svc.get("routes") or svc.get("timeout") or "retries" in svc)
        or svc.get("connectionPool")
        or svc.get("outlierDetection")
    )


def settle_waypoints(draft: Draft) -> str | None:
    """Each Service's istio.io/use-waypoint label against meshc's waypoints; the
    spec.istio.waypoints setting they say (None: the default, one per namespace)."""
    modes: set[str] = set()
    used: set[tuple[str, str]] = set()
    for svc in draft.services.values():
        found = svc.pop("_waypoint", None)
        policies = (svc.pop("_allow_at_waypoint", None), svc.pop("_admits_waypoint", None))
        why = _waypoint_kept(draft, svc, found, modes)
        if found is None and policies != (None, None):
            why = "the Service uses no waypoint"
        if why is None:
            if found is not None:
                used.add((svc["namespace"], found[1]))
            continue
        if found is not None:
            draft.lose(found[0], f"metadata.labels.{USE_WAYPOINT_LABEL}", f"{why}; not imported")
        at_waypoint, at_ztunnel = policies
        if at_waypoint is not None:
            draft.lose(
                at_waypoint,
                "spec.targetRefs",
                "allow rules at the waypoint of a service "
                "that (in the spec) has none: imported as its allow rules, which render "
                "at ztunnel",
            )
        if at_ztunnel is not None:
            draft.lose(
                at_ztunnel,
                "spec.rules",
                "a rule admitting the waypoint of a service "
                "that (in the spec) has none; not imported",
            )
    for key, src in draft.waypoints.items():
        if key not in used:
            draft.lose(
                src,
                "",
                "a waypoint no service of the spec needs (meshc renders one "
                "for the services with L7 traffic settings); not imported",
            )
    return "service" if modes == {"service"} else None


def _waypoint_kept(
    draft: Draft, svc: Part, found: tuple[Source, str] | None, modes: set[str]
) -> str | None:
    """None when the service's waypoint (if any) is the one the spec renders; else why not
    (``modes`` gathers the spec.istio.waypoints setting each kept one says)."""
    if found is None:
        return None
    name = found[1]
    ns = svc["namespace"]
    ambient = (draft.namespaces.get(ns) or {}).get("_dataplane") == AMBIENT
    mode = (
        "namespace"
        if name == NAMESPACE_WAYPOINT
        else "service"
        if name == f"{svc['name']}-waypoint"
        else None
    )
    if not ambient or mode is None or (ns, name) not in draft.waypoints:
        return (
            f"{name!r}: the spec gives a service of an ambient namespace meshc's own "
            f"waypoint (named {NAMESPACE_WAYPOINT!r} or <service>-waypoint, in the input)"
        )
    if not _needs_waypoint(svc):
        return (
            "the spec gives a waypoint only to a service with L7 traffic settings (routes, "
            "timeout, retries, connection pool, outlier detection)"
        )
    if modes and mode not in modes:
        return "the spec's waypoints are all per namespace or all per service"
    modes.add(mode)
    return None


# --- egress and telemetry -----------------------------------------------------------------


def service_entry(draft: Draft, src: Source) -> None:
    spec = src.spec
    if spec.get("location", "MESH_EXTERNAL") != "MESH_EXTERNAL":
        draft.lose(
            src,
            "spec.location",
            "a ServiceEntry inside the mesh; the spec's egress is external hosts only",
        )
        return
    for key in sorted(set(spec) - {"hosts", "location", "ports", "resolution", "exportTo"}):
        draft.lose(
            src,
            f"spec.{key}",
            "the spec's egress hosts are resolved by DNS and named by host only; not imported",
        )
        return
    if spec.get("resolution", "NONE") not in ("DNS", "NONE"):
        draft.lose(
            src,
            "spec.resolution",
            f"{spec['resolution']}: the spec's egress hosts are resolved by DNS",
        )
    ports = []
    for i, port in enumerate(spec.get("ports") or []):
        protocol = _EGRESS_PROTOCOLS.get(str(port.get("protocol", "")).upper())
        if protocol is None:
            draft.lose(
                src,
                f"spec.ports[{i}].protocol",
                f"{port.get('protocol')}: the spec's egress ports are HTTP or TLS; not imported",
            )
            continue
        ports.append({"port": port.get("number"), "protocol": protocol})
    if not ports:
        return
    for j, host in enumerate(spec.get("hosts") or []):
        if str(host).startswith("*"):
            draft.lose(src, f"spec.hosts[{j}]", "a wildcard host; the spec names hosts")
            continue
        existing = draft.egress.get(str(host))
        if existing is not None:
            if existing["ports"] != ports:
                draft.lose(
                    src,
                    f"spec.hosts[{j}]",
                    f"{host} with other ports than {existing['__from__'][0]}; not merged",
                )
            origin(existing, src)
            continue
        draft.egress[str(host)] = origin({"host": str(host), "ports": ports}, src)
    draft.imported += 1


def telemetry(draft: Draft, src: Source) -> None:
    spec = src.spec
    ns = draft.namespace_of(src)
    part: Part = {"name": src.name, "namespace": ns}
    origin(part, src)
    for key in sorted(set(spec) - {"selector", "tracing", "accessLogging", "metrics"}):
        draft.lose(src, f"spec.{key}", "not a spec telemetry setting; not imported")
        return
    labels = (spec.get("selector") or {}).get("matchLabels")
    if labels:
        part["selector"] = {str(k): str(v) for k, v in labels.items()}
    tracing = spec.get("tracing") or []
    if tracing:
        t = tracing[0]
        if len(tracing) > 1 or set(t) - {"randomSamplingPercentage"}:
            draft.lose(
                src,
                "spec.tracing",
                "the spec sets a sampling percentage only (no providers, tags or match)",
            )
        if "randomSamplingPercentage" in t:
            part["tracing"] = {"samplingPercent": _round(float(t["randomSamplingPercentage"]))}
    logs = spec.get("accessLogging") or []
    if logs:
        entry = logs[0]
        if entry == {"disabled": True}:
            part["accessLogging"] = {"enabled": False}
        elif entry == {"providers": [{"name": ACCESS_LOG_PROVIDER}]} or entry == {
            "providers": [{"name": ACCESS_LOG_PROVIDER}],
            "disabled": False,
        }:
            part["accessLogging"] = {"enabled": True}
        else:
            draft.lose(
                src,
                "spec.accessLogging",
                f"the spec turns the {ACCESS_LOG_PROVIDER} "
                "access log on or off (no other providers or filters)",
            )
        if len(logs) > 1:
            draft.lose(src, "spec.accessLogging[1]", "one access-log setting per object")
    metrics = spec.get("metrics") or []
    if metrics:
        entry = metrics[0]
        overrides = entry.get("overrides") or []
        if (
            entry.get("providers") == [{"name": METRICS_PROVIDER}]
            and len(overrides) == 1
            and set(overrides[0]) == {"disabled"}
            and len(metrics) == 1
        ):
            part["metrics"] = {"enabled": not overrides[0]["disabled"]}
        else:
            draft.lose(
                src,
                "spec.metrics",
                f"the spec turns the {METRICS_PROVIDER} metrics on "
                "or off (no other providers, tags or match)",
            )
    if len(part) > 3 or "selector" in part and len(part) > 4:
        draft.telemetry[(ns, src.name)] = part
        draft.imported += 1


def import_istio(inv: Inventory, draft: Draft) -> None:
    """Every Istio object of the input, in the order one needs another."""
    mine = [s for s in inv.sources if s.group in PROFILE.config_groups]
    if mine:
        draft.provider_votes[NAME] += len(mine)
    for src in inv.kind("Gateway", GATEWAY_API_GROUP):
        if src.spec.get("gatewayClassName") == WAYPOINT_CLASS:
            draft.provider_votes[NAME] += 1
            with draft.guard(src):
                waypoint(draft, src)
    for src in inv.kind("DestinationRule", NET):
        with draft.guard(src):
            destination_rule(draft, src)
    version_rules(draft)
    for src in inv.kind("VirtualService", NET):
        with draft.guard(src):
            virtual_service(draft, src)
    ingress(inv, draft)
    for src in inv.kind("PeerAuthentication", SEC):
        with draft.guard(src):
            peer_authentication(draft, src)
    principals = gateway_principals(draft)
    for src in inv.kind("AuthorizationPolicy", SEC):
        with draft.guard(src):
            authorization_policy(draft, src, principals)
    for src in inv.kind("ServiceEntry", NET):
        with draft.guard(src):
            service_entry(draft, src)
    for src in inv.kind("Telemetry", TEL):
        with draft.guard(src):
            telemetry(draft, src)
    known = {
        "DestinationRule",
        "VirtualService",
        "Gateway",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "ServiceEntry",
        "Telemetry",
    }
    for src in mine:
        if src.kind not in known:
            draft.lose(
                src,
                "",
                f"meshc import does not read {src.kind} objects: the spec has no equivalent",
            )
