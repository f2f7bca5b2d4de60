"""Build the model of the spec's traffic management (model_traffic) from a validated document.

:mod:`meshc.compiler.loader` calls these for routes, services and the spec's
ingress, egress and telemetry sections. Defaults that need the whole spec (the
namespace and port of a mirror or ingress backend) are resolved here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .model import Match, Retries, StringMatch
from .model_traffic import (
    DEFAULT_GATEWAY_SELECTOR,
    DEFAULT_PERCENT,
    DEFAULT_REDIRECT_CODE,
    Abort,
    Backend,
    Delay,
    EgressHost,
    EgressPort,
    Fault,
    Gateway,
    GrpcMethod,
    HeaderOps,
    Headers,
    Ingress,
    IngressRoute,
    Listener,
    Mirror,
    RateLimit,
    Redirect,
    Rewrite,
    Telemetry,
)

# (namespace, name) -> the service's raw ports, for defaults that name another service.
ServicePorts = Mapping[tuple[str, str], list[int]]


def _map(value: Any) -> MappingProxyType[str, str]:
    return MappingProxyType(dict(value or {}))


def _string_match(raw: dict[str, str]) -> StringMatch:
    ((kind, value),) = raw.items()
    return StringMatch(kind, value)


def match(raw: dict[str, Any]) -> Match:
    grpc = raw.get("grpc")
    return Match(
        headers=tuple((h, _string_match(v)) for h, v in (raw.get("headers") or {}).items()),
        path=_string_match(raw["path"]) if "path" in raw else None,
        grpc=GrpcMethod(grpc["service"], grpc.get("method")) if grpc is not None else None,
    )


def matches(raw: dict[str, Any]) -> tuple[Match, ...]:
    if "matches" in raw:
        return tuple(match(m) for m in raw["matches"])
    return (match(raw["match"]),) if "match" in raw else ()


def retries(raw: dict[str, Any] | None) -> Retries | None:
    if raw is None:
        return None
    return Retries(raw["attempts"], raw.get("perTryTimeout"), tuple(raw.get("retryOn") or ()))


def _percent(raw: dict[str, Any]) -> float:
    return float(raw.get("percent", DEFAULT_PERCENT))


def _fault(path: str, raw: dict[str, Any]) -> Fault:
    delay, abort = raw.get("delay"), raw.get("abort")
    service = (abort or {}).get("service")
    return Fault(
        path=path,
        delay=Delay(delay["fixed"], _percent(delay)) if delay is not None else None,
        abort=Abort(
            abort.get("httpStatus"),
            abort.get("grpcStatus"),
            _percent(abort),
            (service["name"], service["port"]) if service is not None else None,
        )
        if abort is not None
        else None,
    )


def _only_port(ports: ServicePorts, namespace: str, service: str) -> int | None:
    found = ports.get((namespace, service)) or []
    return found[0] if len(found) == 1 else None


def _mirror(path: str, raw: dict[str, Any], namespace: str, ports: ServicePorts) -> Mirror:
    if "service" not in raw:
        return Mirror(path, version=raw.get("to"), percent=_percent(raw))
    ns = raw.get("namespace", namespace)
    port = raw.get("port") or _only_port(ports, ns, raw["service"])
    return Mirror(path, service=raw["service"], namespace=ns, port=port, percent=_percent(raw))


def _header_ops(raw: dict[str, Any] | None) -> HeaderOps | None:
    if raw is None:
        return None
    return HeaderOps(
        set=tuple((raw.get("set") or {}).items()),
        add=tuple((raw.get("add") or {}).items()),
        remove=tuple(raw.get("remove") or ()),
    )


def _headers(path: str, raw: dict[str, Any] | None) -> Headers | None:
    if raw is None:
        return None
    return Headers(path, _header_ops(raw.get("request")), _header_ops(raw.get("response")))


def _rewrite(raw: dict[str, Any] | None) -> Rewrite | None:
    return Rewrite(raw.get("path"), raw.get("host")) if raw is not None else None


def _redirect(raw: dict[str, Any] | None) -> Redirect | None:
    if raw is None:
        return None
    return Redirect(
        raw.get("path"),
        raw.get("host"),
        raw.get("scheme"),
        raw.get("port"),
        raw.get("statusCode", DEFAULT_REDIRECT_CODE),
    )


def route_policy(
    path: str, raw: dict[str, Any], namespace: str, ports: ServicePorts
) -> dict[str, Any]:
    """The Route fields beyond its split, as keyword arguments."""
    return {
        "matches": matches(raw),
        "timeout": raw.get("timeout"),
        "retries": retries(raw.get("retries")),
        "fault": _fault(f"{path}.fault", raw["fault"]) if "fault" in raw else None,
        "mirror": _mirror(f"{path}.mirror", raw["mirror"], namespace, ports)
        if "mirror" in raw
        else None,
        "headers": _headers(f"{path}.headers", raw.get("headers")),
        "rewrite": _rewrite(raw.get("rewrite")),
        "redirect": _redirect(raw.get("redirect")),
    }


def rate_limit(path: str, raw: dict[str, Any] | None) -> RateLimit | None:
    if raw is None:
        return None
    return RateLimit(path, raw.get("requestsPerSecond"), raw.get("perCallerRequestsPerSecond"))


def _ingress_route(
    path: str, raw: dict[str, Any], namespace: str, ports: ServicePorts
) -> IngressRoute:
    backend = None
    if "backend" in raw:
        b = raw["backend"]
        ns = b.get("namespace", namespace)
        port = b.get("port") or _only_port(ports, ns, b["service"])
        backend = Backend(b["service"], ns, port or 0)
    return IngressRoute(
        path=path,
        backend=backend,
        matches=matches(raw),
        timeout=raw.get("timeout"),
        headers=_headers(f"{path}.headers", raw.get("headers")),
        rewrite=_rewrite(raw.get("rewrite")),
        redirect=_redirect(raw.get("redirect")),
    )


def ingress(raw: list[dict[str, Any]] | None, ports: ServicePorts) -> tuple[Ingress, ...]:
    found = []
    for i, entry in enumerate(raw or ()):
        path = f"spec.ingress[{i}]"
        gw = entry["gateway"]
        found.append(
            Ingress(
                path=path,
                name=entry["name"],
                namespace=entry["namespace"],
                gateway=Gateway(
                    gw["namespace"],
                    gw["serviceAccount"],
                    _map(gw.get("selector") or DEFAULT_GATEWAY_SELECTOR),
                    gw.get("className"),
                ),
                listeners=tuple(
                    Listener(
                        f"{path}.listeners[{j}]",
                        listener["name"],
                        listener["port"],
                        listener["protocol"],
                        tuple(listener["hosts"]),
                        (listener.get("tls") or {}).get("secretName"),
                    )
                    for j, listener in enumerate(entry["listeners"])
                ),
                routes=tuple(
                    _ingress_route(f"{path}.routes[{j}]", r, entry["namespace"], ports)
                    for j, r in enumerate(entry["routes"])
                ),
            )
        )
    return tuple(found)


def egress(raw: dict[str, Any] | None) -> tuple[EgressHost, ...]:
    return tuple(
        EgressHost(
            f"spec.egress.hosts[{i}]",
            h["host"],
            tuple(EgressPort(p["port"], p["protocol"]) for p in h["ports"]),
        )
        for i, h in enumerate((raw or {}).get("hosts") or ())
    )


def telemetry(raw: list[dict[str, Any]] | None) -> tuple[Telemetry, ...]:
    return tuple(
        Telemetry(
            f"spec.telemetry[{i}]",
            t["name"],
            t["namespace"],
            _map(t.get("selector")),
            float(t["tracing"]["samplingPercent"]) if "tracing" in t else None,
            t["accessLogging"]["enabled"] if "accessLogging" in t else None,
            t["metrics"]["enabled"] if "metrics" in t else None,
        )
        for i, t in enumerate(raw or ())
    )
