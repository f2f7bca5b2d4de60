"""The rules across fields of the spec's traffic management (schema_traffic.py).

Called by :mod:`meshc.compiler.validate` with its collector, on the raw
document; like the rest of validation they tolerate broken input (skipping
what they cannot read) and report every problem they find.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from .durations import DURATION, duration_seconds
from .errors import join_path
from .schema_traffic import GRPC_RETRY_CONDITIONS

# Every mesh can express a percentage to a hundredth (Gateway API weights and Istio's
# fractional percent, scaled): more decimals would be rounded somewhere.
_DECIMALS = 2
# Route fields that make no sense beside a redirect, which answers the request itself.
_NOT_WITH_REDIRECT = ("split", "to", "timeout", "retries", "fault", "mirror", "rewrite")
# Route fields that act on HTTP requests: a tcp-only service cannot use them.
_HTTP_ROUTE_FIELDS = (
    "match",
    "matches",
    "timeout",
    "retries",
    "fault",
    "mirror",
    "headers",
    "rewrite",
    "redirect",
)
_GRPC_PROTOCOLS = ("grpc", "http2")


class Collector(Protocol):
    def add(self, path: str, message: str, *, key: bool = False) -> None: ...


def _items(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_duration(c: Collector, path: str, value: Any) -> None:
    if isinstance(value, str) and re.match(DURATION, value) and duration_seconds(value) < 0.001:
        c.add(path, f"{value!r} is shorter than 1ms, the shortest duration the meshes accept")


def _check_percent(c: Collector, path: str, value: Any) -> None:
    if _number(value) and abs(round(value, _DECIMALS) - value) > 1e-9:
        c.add(
            path,
            f"{value!r} has more than {_DECIMALS} decimals; every mesh can express a "
            "hundredth of a percent, not less",
        )


def has_match(route: dict[str, Any]) -> bool:
    return "match" in route or "matches" in route


def _suggest(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _matches(route: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, match) of a route's match or matches."""
    if isinstance(route.get("match"), dict):
        return [("match", route["match"])]
    return [(f"matches[{i}]", m) for i, m in _items(route.get("matches"))]


def _check_match_fields(c: Collector, rpath: str, route: dict[str, Any]) -> None:
    if "match" in route and "matches" in route:
        c.add(join_path(rpath, "matches"), "give match or matches, not both", key=True)
    for mpath, m in _matches(route):
        if not m:
            c.add(
                join_path(rpath, mpath),
                "an empty match takes every request; leave it out to make the default route",
            )
        if "path" in m and "grpc" in m:
            c.add(
                join_path(join_path(rpath, mpath), "grpc"),
                "a gRPC method is a request path: give path or grpc, not both",
                key=True,
            )


def _check_policy_fields(c: Collector, rpath: str, route: dict[str, Any]) -> None:
    """Timeout, retries, fault, rewrite and header changes of a service or ingress route."""
    _check_duration(c, join_path(rpath, "timeout"), route.get("timeout"))
    retries = _dict(route.get("retries"))
    _check_duration(
        c, join_path(join_path(rpath, "retries"), "perTryTimeout"), retries.get("perTryTimeout")
    )
    rewrite = route.get("rewrite")
    if isinstance(rewrite, dict) and not rewrite:
        c.add(join_path(rpath, "rewrite"), "give path, host or both")
    redirect = route.get("redirect")
    if isinstance(redirect, dict):
        if not any(k in redirect for k in ("path", "host", "scheme", "port")):
            c.add(
                join_path(rpath, "redirect"),
                "give path, host, scheme or port: a redirect to the same URL loops",
            )
        for key in _NOT_WITH_REDIRECT:
            if key in route:
                c.add(
                    join_path(rpath, key),
                    "a redirect route answers the request itself; "
                    f"{key} has no effect beside redirect",
                    key=True,
                )
    headers = _dict(route.get("headers"))
    for side in ("request", "response"):
        ops = headers.get(side)
        if isinstance(ops, dict) and not ops:
            c.add(join_path(join_path(rpath, "headers"), side), "give set, add or remove")


def _check_fault(c: Collector, rpath: str, fault: Any) -> None:
    if not isinstance(fault, dict):
        return
    fpath = join_path(rpath, "fault")
    if not fault:
        c.add(fpath, "give delay, abort or both")
    delay = _dict(fault.get("delay"))
    _check_duration(c, join_path(join_path(fpath, "delay"), "fixed"), delay.get("fixed"))
    _check_percent(c, join_path(join_path(fpath, "delay"), "percent"), delay.get("percent"))
    abort = fault.get("abort")
    if isinstance(abort, dict):
        apath = join_path(fpath, "abort")
        statuses = [k for k in ("httpStatus", "grpcStatus") if k in abort]
        if len(statuses) != 1:
            c.add(apath, "give exactly one of httpStatus or grpcStatus")
        _check_percent(c, join_path(apath, "percent"), abort.get("percent"))


def _service_ports(svc: dict[str, Any]) -> list[Any]:
    return [p.get("port") for _, p in _items(svc.get("ports"))]


def _check_target_port(
    c: Collector, path: str, raw: dict[str, Any], target: dict[str, Any], what: str
) -> None:
    """A port named beside another service exists, or that service has exactly one."""
    ports = [p for p in _service_ports(target) if isinstance(p, int)]
    port = raw.get("port")
    if port is None and len(ports) > 1:
        c.add(path, f"{what} has ports {', '.join(map(str, ports))}: give port")
    elif isinstance(port, int) and port not in ports:
        c.add(
            join_path(path, "port"),
            f"port {port} is not a port of {what} ({', '.join(map(str, ports))})",
        )


def _check_mirror(
    c: Collector,
    rpath: str,
    mirror: Any,
    svc: dict[str, Any],
    versions: set[Any],
    find: Callable[[Any, Any], dict[str, Any] | None],
) -> None:
    if not isinstance(mirror, dict):
        return
    mpath = join_path(rpath, "mirror")
    _check_percent(c, join_path(mpath, "percent"), mirror.get("percent"))
    targets = [k for k in ("to", "service") if k in mirror]
    if len(targets) != 1:
        c.add(mpath, "give exactly one of to (a version) or service")
        return
    if "to" in mirror:
        for key in ("namespace", "port"):
            if key in mirror:
                c.add(join_path(mpath, key), f"{key} goes with service, not with to", key=True)
        to = mirror["to"]
        if isinstance(to, str) and to not in versions:
            c.add(
                join_path(mpath, "to"),
                f"names version {to!r}, which is not declared in versions{_suggest(to, versions)}",
            )
        return
    name, ns = mirror.get("service"), mirror.get("namespace", svc.get("namespace"))
    if not isinstance(name, str) or not isinstance(ns, str):
        return
    if (name, ns) == (svc.get("name"), svc.get("namespace")):
        c.add(
            join_path(mpath, "service"),
            "mirrors the service to itself; give to (a version) to mirror to one of its versions",
        )
        return
    target = find(ns, name)
    if target is None:
        c.add(join_path(mpath, "service"), f"{ns}/{name} is not a service of the spec")
        return
    _check_target_port(c, mpath, mirror, target, f"{ns}/{name}")


def _protocols(svc: dict[str, Any]) -> list[Any]:
    return [p.get("protocol", "http") for _, p in _items(svc.get("ports"))]


def _retry_conditions(retries: Any) -> list[str]:
    return [r for r in _dict(retries).get("retryOn") or [] if isinstance(r, str)]


def _check_grpc(c: Collector, base: str, svc: dict[str, Any]) -> None:
    """gRPC matches and retry conditions need a port that speaks HTTP/2."""
    if any(p in _GRPC_PROTOCOLS for p in _protocols(svc)):
        return
    uses: list[tuple[str, str]] = []
    for i, route in _items(svc.get("routes")):
        rpath = join_path(join_path(base, "routes"), i)
        uses += [
            (join_path(join_path(rpath, mpath), "grpc"), "matches a gRPC method")
            for mpath, m in _matches(route)
            if "grpc" in m
        ]
        if set(_retry_conditions(route.get("retries"))) & set(GRPC_RETRY_CONDITIONS):
            uses.append(
                (join_path(join_path(rpath, "retries"), "retryOn"), "retries on gRPC statuses")
            )
    if set(_retry_conditions(svc.get("retries"))) & set(GRPC_RETRY_CONDITIONS):
        uses.append((join_path(join_path(base, "retries"), "retryOn"), "retries on gRPC statuses"))
    for path, what in uses:
        c.add(path, f"{what}, but no port of this service has protocol grpc or http2")


def _check_tcp(c: Collector, base: str, svc: dict[str, Any]) -> None:
    """A service whose ports are all opaque TCP can split connections, nothing more."""
    protocols = _protocols(svc)
    if not protocols or any(p != "tcp" for p in protocols):
        return
    for i, route in _items(svc.get("routes")):
        rpath = join_path(join_path(base, "routes"), i)
        for key in _HTTP_ROUTE_FIELDS:
            if key in route:
                c.add(
                    join_path(rpath, key),
                    "acts on HTTP requests, but every port of this "
                    "service has protocol tcp; a tcp route can only split connections",
                    key=True,
                )
    if "rateLimit" in svc:
        c.add(
            join_path(base, "rateLimit"),
            "limits HTTP requests, but every port of this service has protocol tcp",
            key=True,
        )


def check_service(
    c: Collector, base: str, svc: dict[str, Any], find: Callable[[Any, Any], dict[str, Any] | None]
) -> None:
    """Routes' traffic management, gRPC and TCP use, and the rate limit of one service."""
    versions = {v["name"] for _, v in _items(svc.get("versions")) if isinstance(v.get("name"), str)}
    for i, route in _items(svc.get("routes")):
        rpath = join_path(join_path(base, "routes"), i)
        _check_match_fields(c, rpath, route)
        _check_policy_fields(c, rpath, route)
        _check_fault(c, rpath, route.get("fault"))
        _check_mirror(c, rpath, route.get("mirror"), svc, versions, find)
    _check_grpc(c, base, svc)
    _check_tcp(c, base, svc)
    limit = svc.get("rateLimit")
    if isinstance(limit, dict) and not limit:
        c.add(
            join_path(base, "rateLimit"),
            "give requestsPerSecond, perCallerRequestsPerSecond or both",
        )


def route_has_destination(route: dict[str, Any]) -> bool:
    return "split" in route or "to" in route or "redirect" in route


# --- ingress, egress, telemetry -------------------------------------------------------------


def _duplicates(
    c: Collector, base: str, items: Any, key: Callable[[dict[str, Any]], Any], what: str, field: str
) -> None:
    seen: dict[Any, int] = {}
    for i, item in _items(items):
        value = key(item)
        if value is None or isinstance(value, (dict, list)):
            continue
        if value in seen:
            c.add(
                join_path(join_path(base, i), field),
                f"duplicate {what} {value!r} (first at {base}[{seen[value]}])",
            )
        else:
            seen[value] = i


def _strings(*values: Any) -> tuple[str, ...] | None:
    return values if all(isinstance(v, str) for v in values) else None


def _check_ingress_route(
    c: Collector,
    rpath: str,
    route: dict[str, Any],
    namespace: Any,
    find: Callable[[Any, Any], dict[str, Any] | None],
) -> None:
    _check_match_fields(c, rpath, route)
    _check_policy_fields(c, rpath, route)
    backend = route.get("backend")
    if "redirect" in route and "backend" in route:
        c.add(
            join_path(rpath, "backend"),
            "a redirect route answers the request itself; give redirect or backend, not both",
            key=True,
        )
    elif "redirect" not in route and "backend" not in route:
        c.add(rpath, "a route needs a backend (a service) or a redirect")
    if not isinstance(backend, dict):
        return
    name, ns = backend.get("service"), backend.get("namespace", namespace)
    if not isinstance(name, str) or not isinstance(ns, str):
        return
    target = find(ns, name)
    if target is None:
        c.add(
            join_path(join_path(rpath, "backend"), "service"),
            f"{ns}/{name} is not a service of the spec",
        )
        return
    _check_target_port(c, join_path(rpath, "backend"), backend, target, f"{ns}/{name}")
    ports = list(_items(target.get("ports")))
    port = backend.get("port", ports[0][1].get("port") if len(ports) == 1 else None)
    for _, p in ports:
        if p.get("port") == port and p.get("protocol") == "tcp":
            c.add(
                join_path(rpath, "backend"),
                f"port {port} of {ns}/{name} has protocol tcp; an "
                "ingress route sends HTTP requests",
            )


def _check_ingress(
    c: Collector,
    spec: dict[str, Any],
    meshed: list[str],
    find: Callable[[Any, Any], dict[str, Any] | None],
) -> None:
    entries = spec.get("ingress")
    _duplicates(
        c,
        "spec.ingress",
        entries,
        lambda e: _strings(e.get("namespace"), e.get("name")),
        "ingress",
        "name",
    )
    for i, entry in _items(entries):
        base = f"spec.ingress[{i}]"
        ns = entry.get("namespace")
        if isinstance(ns, str) and meshed and ns not in meshed:
            c.add(
                join_path(base, "namespace"),
                f"{ns!r} is not a meshed namespace (declare it "
                f"in spec.namespaces){_suggest(ns, meshed)}",
            )
        listeners = entry.get("listeners")
        lbase = join_path(base, "listeners")
        _duplicates(c, lbase, listeners, lambda x: x.get("name"), "listener name", "name")
        _duplicates(c, lbase, listeners, lambda x: x.get("port"), "listener port", "port")
        for j, listener in _items(listeners):
            lpath = join_path(lbase, j)
            tls, protocol = "tls" in listener, listener.get("protocol")
            if protocol == "HTTPS" and not tls:
                c.add(lpath, "an HTTPS listener needs tls.secretName (its certificate)")
            elif protocol == "HTTP" and tls:
                c.add(
                    join_path(lpath, "tls"),
                    "an HTTP listener does not terminate TLS; use protocol HTTPS",
                    key=True,
                )
        routes = list(_items(entry.get("routes")))
        rbase = join_path(base, "routes")
        for n, (j, route) in enumerate(routes):
            rpath = join_path(rbase, j)
            _check_ingress_route(c, rpath, route, ns, find)
            if not has_match(route) and n != len(routes) - 1:
                c.add(
                    rpath, "a route without match takes every request, so it must be the last route"
                )


def _check_egress(c: Collector, spec: dict[str, Any]) -> None:
    hosts = _dict(spec.get("egress")).get("hosts")
    _duplicates(c, "spec.egress.hosts", hosts, lambda h: h.get("host"), "host", "host")
    for i, host in _items(hosts):
        _duplicates(
            c,
            f"spec.egress.hosts[{i}].ports",
            host.get("ports"),
            lambda p: p.get("port"),
            "port",
            "port",
        )


def _check_telemetry(c: Collector, spec: dict[str, Any], meshed: list[str]) -> None:
    entries = spec.get("telemetry")
    _duplicates(
        c,
        "spec.telemetry",
        entries,
        lambda t: _strings(t.get("namespace"), t.get("name")),
        "telemetry",
        "name",
    )
    _duplicates(
        c,
        "spec.telemetry",
        entries,
        lambda t: None if "selector" in t else t.get("namespace"),
        "namespace-wide telemetry for namespace",
        "namespace",
    )
    for i, entry in _items(entries):
        base = f"spec.telemetry[{i}]"
        ns = entry.get("namespace")
        if isinstance(ns, str) and meshed and ns not in meshed:
            c.add(
                join_path(base, "namespace"),
                f"{ns!r} is not a meshed namespace (declare it "
                f"in spec.namespaces){_suggest(ns, meshed)}",
            )
        if not any(k in entry for k in ("tracing", "accessLogging", "metrics")):
            c.add(base, "give tracing, accessLogging or metrics")
        _check_percent(
            c,
            join_path(join_path(base, "tracing"), "samplingPercent"),
            _dict(entry.get("tracing")).get("samplingPercent"),
        )


def gateway_identities(spec: dict[str, Any]) -> set[str]:
    """NAMESPACE/SERVICEACCOUNT of every ingress gateway the spec declares."""
    found = set()
    for _, entry in _items(spec.get("ingress")):
        gw = _dict(entry.get("gateway"))
        ident = _strings(gw.get("namespace"), gw.get("serviceAccount"))
        if ident is not None:
            found.add("/".join(ident))
    return found


class SpecIndex:
    """What the per-service rules look up across the spec, computed once per document."""

    def __init__(self, spec: dict[str, Any]):
        self._services: dict[tuple[str, ...], dict[str, Any]] = {}
        for _, svc in _items(spec.get("services")):
            ident = _strings(svc.get("namespace"), svc.get("name"))
            if ident is not None:
                self._services.setdefault(ident, svc)
        self.gateways = gateway_identities(spec)

    def find(self, namespace: Any, name: Any) -> dict[str, Any] | None:
        ident = _strings(namespace, name)
        return self._services.get(ident) if ident is not None else None


def check_spec(c: Collector, spec: dict[str, Any], meshed: list[str], index: SpecIndex) -> None:
    """The spec's ingress, egress and telemetry sections."""
    _check_ingress(c, spec, meshed, index.find)
    _check_egress(c, spec)
    _check_telemetry(c, spec, meshed)
