"""Gateway API objects built from the spec, for every target that routes with them.

A shared builder, not a target: Linkerd's mesh routes (GAMMA), the Gateway
API ingress of Linkerd, and an Istio Gateway API mode all build HTTPRoute
rules, Gateways and ReferenceGrants here. What one implementation (with the
CRDs it bundles) accepts differs, so each passes a :class:`Dialect`; a field
the dialect lacks is reported through the target's capability column, never
rendered into an object the implementation would reject.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..durations import duration_seconds
from ..model import Match, Mesh, Route, StringMatch
from ..model_traffic import HeaderOps, Headers, Ingress, Listener, Redirect, Rewrite
from ..objects import Obj, metadata, new_object
from . import Report

GROUP = "gateway.networking.k8s.io"
V1 = f"{GROUP}/v1"
# ReferenceGrant is served as v1beta1 by every release that has it (v1 only since v1.5).
REFERENCE_GRANT = f"{GROUP}/v1beta1"


@dataclass(frozen=True)
class Dialect:
    """What one Gateway API implementation accepts and acts on."""

    name: str
    # The RequestMirror filter, and its percent (Gateway API v1.2).
    mirror: bool
    mirror_percent: bool
    # The URLRewrite filter.
    url_rewrite: bool
    # The statuses RequestRedirect accepts (v1.1: 301 and 302; v1.2 adds 303, 307, 308).
    redirect_codes: tuple[int, ...]


# Gateway API v1.1.1, the CRDs Linkerd bundles, as read by a gateway class that implements
# the extended filters (an ingress controller).
V1_1 = Dialect(
    "gateway-api-v1.1",
    mirror=True,
    mirror_percent=False,
    url_rewrite=True,
    redirect_codes=(301, 302),
)


# --- durations --------------------------------------------------------------------------


_UNITS = (("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1))


def duration(value: str, path: str, report: Report) -> str:
    """A spec duration as Gateway API writes one (GEP-2257: up to four whole-number parts of
    h, m, s, ms), exact to the millisecond; less is rounded and reported."""
    exact_ms = duration_seconds(value) * 1000
    millis = max(1, math.floor(exact_ms + 0.5))
    if abs(exact_ms - millis) > 1e-6:
        report.lossy("durations.subMillisecond", path, f"{value!r} was rendered as {millis}ms")
    parts = []
    for unit, size in _UNITS:
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# --- matches ----------------------------------------------------------------------------


def _anchored(regex: str) -> str:
    # The spec's regexes match the whole value (RE2, as Istio does); Gateway API leaves
    # partial or whole matching to the implementation, so make it whole either way.
    return f"^(?:{regex})$"


def path_match(m: StringMatch) -> dict[str, str]:
    if m.kind == "exact":
        return {"type": "Exact", "value": m.value}
    if m.kind == "prefix" and m.value == "/":
        return {"type": "PathPrefix", "value": "/"}
    if m.kind == "prefix":
        # Gateway API's PathPrefix matches whole path segments (/api does not match /apis);
        # the spec's prefix is a string prefix, which a regex says exactly.
        return {"type": "RegularExpression", "value": f"^{re.escape(m.value)}.*"}
    return {"type": "RegularExpression", "value": _anchored(m.value)}


def header_match(name: str, m: StringMatch) -> dict[str, str]:
    if m.kind == "exact":
        return {"name": name, "type": "Exact", "value": m.value}
    value = f"^{re.escape(m.value)}.*" if m.kind == "prefix" else _anchored(m.value)
    return {"name": name, "type": "RegularExpression", "value": value}


def http_match(m: Match) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m.path is not None:
        out["path"] = path_match(m.path)
    elif m.grpc is not None:
        # A gRPC call is an HTTP/2 request for /<package.Service>/<Method>.
        kind = "exact" if m.grpc.method else "prefix"
        out["path"] = path_match(StringMatch(kind, m.grpc.path))
    if m.headers:
        out["headers"] = [header_match(h, s) for h, s in m.headers]
    return out


# --- filters ----------------------------------------------------------------------------


def _header_modifier(ops: HeaderOps, lower: bool) -> dict[str, Any]:
    def name(key: str) -> str:
        return key.lower() if lower else key

    out: dict[str, Any] = {}
    if ops.set:
        out["set"] = [{"name": name(k), "value": v} for k, v in ops.set]
    if ops.add:
        out["add"] = [{"name": name(k), "value": v} for k, v in ops.add]
    if ops.remove:
        out["remove"] = [name(k) for k in ops.remove]
    return out


def header_filters(h: Headers, *, lower_names: bool = False) -> list[dict[str, Any]]:
    """The header modifier filters of ``h``; ``lower_names`` for a dialect whose header
    names must be lower case (Kuma's HeaderName pattern; HTTP's are case-insensitive)."""
    out = []
    if h.request is not None:
        out.append(
            {
                "type": "RequestHeaderModifier",
                "requestHeaderModifier": _header_modifier(h.request, lower_names),
            }
        )
    if h.response is not None:
        out.append(
            {
                "type": "ResponseHeaderModifier",
                "responseHeaderModifier": _header_modifier(h.response, lower_names),
            }
        )
    return out


def redirect_filter(
    r: Redirect,
    path: str,
    dialect: Dialect,
    report: Report,
    feature: str = "services.routes.redirect.statusCode",
) -> dict[str, Any]:
    redirect: dict[str, Any] = {}
    if r.scheme is not None:
        redirect["scheme"] = r.scheme
    if r.host is not None:
        redirect["hostname"] = r.host
    if r.path is not None:
        redirect["path"] = {"type": "ReplaceFullPath", "replaceFullPath": r.path}
    if r.port is not None:
        redirect["port"] = r.port
    if r.status_code in dialect.redirect_codes:
        redirect["statusCode"] = r.status_code
    else:
        fallback = (
            dialect.redirect_codes[0] if r.status_code in (301, 308) else dialect.redirect_codes[-1]
        )
        redirect["statusCode"] = fallback
        report.lossy(feature, f"{path}.statusCode", f"{r.status_code} was rendered as {fallback}")
    return {"type": "RequestRedirect", "requestRedirect": redirect}


def rewrite_filter(
    r: Rewrite,
    matches: tuple[Match, ...],
    path: str,
    dialect: Dialect,
    report: Report,
    prefix_feature: str = "services.routes.rewrite",
) -> dict[str, Any] | None:
    if not dialect.url_rewrite:
        report.lossy("services.routes.rewrite", path, "not rendered")
        return None
    rewrite: dict[str, Any] = {}
    if r.host is not None:
        rewrite["hostname"] = r.host
    if r.path is not None:
        prefixes = [m.path for m in matches if m.path is not None and m.path.kind == "prefix"]
        if not prefixes:
            rewrite["path"] = {"type": "ReplaceFullPath", "replaceFullPath": r.path}
        elif len(matches) == 1 and prefixes[0].value == "/":
            rewrite["path"] = {"type": "ReplacePrefixMatch", "replacePrefixMatch": r.path}
        else:
            # ReplacePrefixMatch needs one PathPrefix match, which matches whole segments;
            # the spec's prefix is a string prefix (rendered as a regex).
            report.lossy(
                prefix_feature,
                f"{path}.path",
                "the path rewrite after a string prefix match was not rendered",
            )
    return {"type": "URLRewrite", "urlRewrite": rewrite} if rewrite else None


def backend_ref(
    name: str, port: int, weight: int | None = None, namespace: str | None = None
) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": name}
    if namespace is not None:
        ref["namespace"] = namespace
    ref["port"] = port
    if weight is not None:
        ref["weight"] = weight
    return ref


def route_filters(
    route: Route, dialect: Dialect, report: Report, mirror_backend: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The filters of one HTTPRoute rule: header changes, rewrite, mirror, redirect."""
    out: list[dict[str, Any]] = []
    if route.headers is not None:
        out += header_filters(route.headers)
    if route.rewrite is not None:
        rewrite = rewrite_filter(
            route.rewrite, route.matches, f"{route.path}.rewrite", dialect, report
        )
        if rewrite is not None:
            out.append(rewrite)
    if route.mirror is not None and mirror_backend is not None:
        mirror = mirror_filter(
            mirror_backend, route.mirror.percent, f"{route.path}.mirror", dialect, report
        )
        if mirror is not None:
            out.append(mirror)
    if route.redirect is not None:
        out.append(redirect_filter(route.redirect, f"{route.path}.redirect", dialect, report))
    return out


def mirror_filter(
    backend: dict[str, Any], percent: float, path: str, dialect: Dialect, report: Report
) -> dict[str, Any] | None:
    if not dialect.mirror:
        report.lossy("services.routes.mirror", path, "not rendered")
        return None
    mirror: dict[str, Any] = {"backendRef": {k: v for k, v in backend.items() if k != "weight"}}
    if percent != 100:
        if not dialect.mirror_percent:
            report.lossy(
                "services.routes.mirror",
                f"{path}.percent",
                f"every request is mirrored, not {percent:g}%",
            )
        elif float(percent).is_integer():
            mirror["percent"] = int(percent)
        else:
            mirror["fraction"] = {"numerator": round(percent * 100), "denominator": 10000}
    return {"type": "RequestMirror", "requestMirror": mirror}


def weighted(
    split: tuple[tuple[str, int], ...],
    extra: tuple[str, float] | None,
) -> list[tuple[str, int]]:
    """Backends and integer weights: the split, with ``extra`` = (backend, percent) taking
    that share of every request and the split the rest, in lowest terms."""
    if extra is None:
        return list(split)
    name, percent = extra
    share = round(percent * 100)  # hundredths of a percent, 0-10000
    weights = [(v, w * (10000 - share)) for v, w in split] + [(name, 100 * share)]
    divisor = math.gcd(*(w for _, w in weights)) or 1
    return [(v, w // divisor) for v, w in weights]


# --- ingress: Gateway, HTTPRoute with a Gateway parent, ReferenceGrant --------------------


def listener_objects(listeners: tuple[Listener, ...]) -> list[dict[str, Any]]:
    """Gateway listeners: one per host (a Gateway API listener has one hostname; none for *)."""
    out = []
    for listener in listeners:
        hosts = listener.hosts
        for i, host in enumerate(hosts):
            entry: dict[str, Any] = {
                "name": listener.name if len(hosts) == 1 else f"{listener.name}-{i}",
            }
            if host != "*":
                entry["hostname"] = host
            entry["port"] = listener.port
            entry["protocol"] = listener.protocol
            if listener.tls_secret is not None:
                entry["tls"] = {
                    "mode": "Terminate",
                    "certificateRefs": [
                        {"group": "", "kind": "Secret", "name": listener.tls_secret}
                    ],
                }
            entry["allowedRoutes"] = {"namespaces": {"from": "Same"}}
            out.append(entry)
    return out


def hostnames(listeners: tuple[Listener, ...]) -> list[str]:
    """An HTTPRoute's hostnames: every listener host, or none when a listener takes any (*)."""
    hosts = [h for listener in listeners for h in listener.hosts]
    return [] if "*" in hosts else list(dict.fromkeys(hosts))


def reference_grants(mesh: Mesh, entry: Ingress) -> list[Obj]:
    """The ReferenceGrants a cross-namespace backend of ``entry``'s routes needs: its
    namespace's consent to the HTTPRoutes in the gateway's namespace. A redirect names no
    backend, so it needs none."""
    by_namespace: dict[str, list[str]] = {}
    for route in entry.routes:
        b = route.backend
        if b is not None and route.redirect is None and b.namespace != entry.namespace:
            names = by_namespace.setdefault(b.namespace, [])
            if b.service not in names:
                names.append(b.service)
    return [
        new_object(
            REFERENCE_GRANT,
            "ReferenceGrant",
            metadata(
                mesh,
                "ReferenceGrant",
                f"{entry.name}-{entry.namespace}",
                namespace,
                f"{entry.path}.routes",
            ),
            spec={
                "from": [{"group": GROUP, "kind": "HTTPRoute", "namespace": entry.namespace}],
                "to": [{"group": "", "kind": "Service", "name": name} for name in names],
            },
        )
        for namespace, names in by_namespace.items()
    ]
