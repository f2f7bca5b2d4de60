"""spec.ingress on Consul: consul-k8s's API gateway, a Gateway API Gateway of class ``consul``
with its HTTPRoute (hashicorp/consul-k8s v2.0.3, control-plane/api-gateway).

How each field reaches Envoy (consul-k8s common/translation.go, then hashicorp/consul
agent/consul/discoverychain/gateway_httproute.go and agent/xds/routes.go at the commit
consul-k8s builds against):

- a listener becomes an APIGateway listener (``toAPIGatewayListener``): its hostname,
  port and protocol (HTTPS is http with TLS); a certificateRef to a Secret in the
  Gateway's namespace becomes a file-system certificate from its ``tls.crt`` and
  ``tls.key`` (``ToFileSystemCertificate``). consul-k8s accepts one listener per port
  (binding/validation.go, ``validateListeners``: a second one on a port is refused), so a
  listener with several hosts is one listener without a hostname, and the HTTPRoute's
  hostnames select the hosts (Consul's virtual hosts are the route's hostnames a
  listener admits: ``FilteredHostnames``);
- each rule's matches (``translateHTTPMatch``) become routes of the gateway's own
  ServiceRouter (``httpRouteToDiscoveryChain``): PathPrefix is ``pathPrefix``, Envoy's
  ``prefix`` (``makeRouteMatchForDiscoveryRoute``), a string prefix like the spec's, so a
  prefix is rendered as PathPrefix (the shared builder's regex is for implementations
  that match whole segments); regexes are Envoy's ``safe_regex``, which matches the
  whole value;
- rules are ranked by path length, then number of headers, before list order
  (discoverychain/gateway.go, ``consolidateHTTPRoutes`` and ``compareHTTPRules``): when
  that reorders matches that can take the same request, it is reported;
- header changes are the destination's request and response headers (``add`` appends,
  ``set`` overwrites: ``makeHeadersValueOptions``); a URLRewrite replacing a path prefix
  is ``prefixRewrite``, Envoy's ``prefix_rewrite``; a timeout and retries are consul-k8s's
  own filters, RouteTimeoutFilter and RouteRetryFilter, named by an ExtensionRef
  (``translateHTTPFilters``); the standard HTTPRoute ``timeouts`` field is not read;
- a backendRef to a Service is the Consul service its pods register under
  (``fetchServicesForEndpoints``, ``serviceName``: the Service's name, as meshc's pod
  markers register it), with no port: the gateway reaches the one port consul-k8s
  registers. The gateway's chain goes through the service's own splitter (Synthesize,
  ``targetForResolverNode``), not its router. The gateway speaks HTTP/1.1 to every
  backend: Consul gives the upstreams of its HTTP listeners protocol http
  (agent/proxycfg/api_gateway.go, ``handleRouteConfigUpdate``), so a grpc or http2
  backend's cluster has no HTTP/2 options (agent/xds/clusters.go,
  ``makeUpstreamClustersForDiscoveryChain``): a route to one is reported.

Not translated: RequestRedirect (a rule without backends is dropped:
``translateHTTPRouteRule``), a URLRewrite that replaces the whole path or sets the
hostname (``translateHTTPFilters`` keeps only ReplacePrefixMatch), a per-try timeout (the
retry filter has none). Each is reported where the spec uses it.

consul-k8s writes no intentions for a gateway: it registers the gateway's pods as the
Consul service named like the Gateway (binding/registration.go, ``registrationForPod``),
which every backend's intentions must admit (policy.py).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from meshc.providers.consul import GATEWAY_CLASS, ROUTE_RETRY_FILTER, ROUTE_TIMEOUT_FILTER

from ...model import Match, Mesh, Service, StringMatch
from ...model_traffic import HeaderOps, Headers, Ingress, IngressRoute, Listener
from ...objects import Obj, metadata, new_object
from .. import Report, gatewayapi
from .common import API, protocol
from .destination import destination_settings, literal, unmodifiable

_FILTER_GROUP = API.partition("/")[0]
# consul-k8s's gateway takes no listener on Envoy's admin port (validateListeners).
_ADMIN_PORT = 20000
# The Consul protocols spoken over HTTP/2, which the gateway does not speak to a backend.
_HTTP2 = ("grpc", "http2")
# What Gateway API's CRD accepts as an Exact or PathPrefix value (its CEL rules on
# HTTPPathMatch); another prefix is matched by a regex, which cannot be rewritten.
_PATH_CHARS = re.compile(r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$")
_PATH_FORBIDDEN = ("//", "/./", "/../", "%2f", "%2F", "#")


def gateway_names(mesh: Mesh, svc: Service) -> list[str]:
    """The Consul services of the gateways whose routes reach ``svc``: their Gateways' names."""
    return [
        entry.name
        for entry in mesh.ingress
        if any(
            r.backend is not None
            and (r.backend.namespace, r.backend.service) == (svc.namespace, svc.name)
            for r in entry.routes
        )
    ]


def _service(mesh: Mesh, namespace: str, name: str) -> Service:
    return next(s for s in mesh.services if (s.namespace, s.name) == (namespace, name))


def _class_name(entry: Ingress) -> str:
    return entry.gateway.class_name or GATEWAY_CLASS


# --- matches ----------------------------------------------------------------------------


def _prefix_path(value: str) -> bool:
    return (
        value.startswith("/")
        and _PATH_CHARS.match(value) is not None
        and not any(bad in value for bad in _PATH_FORBIDDEN)
        and not value.endswith(("/..", "/."))
    )


def _match(m: Match) -> dict[str, Any]:
    out = gatewayapi.http_match(m)
    path = m.path
    if path is None and m.grpc is not None and not m.grpc.method:
        path = StringMatch("prefix", m.grpc.path)
    if path is not None and path.kind == "prefix" and _prefix_path(path.value):
        out["path"] = {"type": "PathPrefix", "value": path.value}
    return out


def _rank(match: dict[str, Any]) -> tuple[int, int]:
    """Consul's precedence of a match (compareHTTPRules): its path's length, then its
    headers; no path is the CRD's default, PathPrefix /."""
    return (len(match.get("path", {}).get("value", "/")), len(match.get("headers", [])))


def _path_of(match: dict[str, Any]) -> tuple[str, str]:
    path = match.get("path", {"type": "PathPrefix", "value": "/"})
    return path["type"], path["value"]


def _may_overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether one request can fit both matches (False only when their paths tell apart)."""
    (kind_a, value_a), (kind_b, value_b) = _path_of(a), _path_of(b)
    if "RegularExpression" in (kind_a, kind_b):
        return True
    if kind_a == kind_b == "Exact":
        return value_a == value_b
    if kind_a == "Exact":
        return value_a.startswith(value_b)
    if kind_b == "Exact":
        return value_b.startswith(value_a)
    return value_a.startswith(value_b) or value_b.startswith(value_a)


def _check_order(
    entry: Ingress, rules: list[tuple[IngressRoute, dict[str, Any]]], report: Report
) -> None:
    flat = [
        (i, m)
        for i, (_, rule) in enumerate(rules)
        for m in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
    ]
    for x, (i, a) in enumerate(flat):
        for j, b in flat[x + 1 :]:
            if i != j and _rank(b) > _rank(a) and _may_overlap(a, b):
                report.lossy(
                    "ingress.routes.match",
                    f"{rules[j][0].path}",
                    f"Consul ranks ingress matches by path length, then number of headers, "
                    f"before spec order: requests {rules[i][0].path} would take go to this "
                    "route when both fit",
                )
                return


# --- filters ----------------------------------------------------------------------------


def _ops(ops: HeaderOps | None, path: str, report: Report) -> HeaderOps | None:
    """The header changes Envoy accepts on a route, values as literals (%% for %)."""
    if ops is None:
        return None
    kept: dict[str, tuple[tuple[str, str], ...]] = {}
    for key, pairs in (("set", ops.set), ("add", ops.add)):
        for name, _ in pairs:
            if unmodifiable(name):
                report.lossy(
                    "ingress.routes.policy",
                    f"{path}.{key}.{name}",
                    f"not rendered: Envoy refuses a route that changes {name}, and with it "
                    "the gateway listener's whole route configuration",
                )
        kept[key] = tuple((n, literal(v)) for n, v in pairs if not unmodifiable(n))
    remove = tuple(n for n in ops.remove if not unmodifiable(n))
    if len(remove) < len(ops.remove):
        report.lossy(
            "ingress.routes.policy",
            f"{path}.remove",
            "not rendered: Envoy refuses a route that removes "
            + ", ".join(n for n in ops.remove if unmodifiable(n)),
        )
    if not (kept["set"] or kept["add"] or remove):
        return None
    return HeaderOps(set=kept["set"], add=kept["add"], remove=remove)


def _header_filters(route: IngressRoute, report: Report) -> list[dict[str, Any]]:
    h = route.headers
    if h is None:
        return []
    kept = Headers(
        h.path,
        _ops(h.request, f"{h.path}.request", report),
        _ops(h.response, f"{h.path}.response", report),
    )
    return gatewayapi.header_filters(kept)


def _rewrite(
    route: IngressRoute, match: dict[str, Any] | None, report: Report
) -> list[dict[str, Any]]:
    rewrite = route.rewrite
    if rewrite is None:
        return []
    if rewrite.host is not None:
        report.lossy(
            "ingress.routes.policy",
            f"{route.path}.rewrite.host",
            "not rendered: consul-k8s translates a URLRewrite's path prefix only "
            "(translateHTTPFilters), and Consul's route destination has no host rewrite",
        )
    if rewrite.path is None:
        return []
    if match is not None and _path_of(match)[0] == "PathPrefix" and "path" in match:
        return [
            {
                "type": "URLRewrite",
                "urlRewrite": {
                    "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": rewrite.path}
                },
            }
        ]
    report.lossy(
        "ingress.routes.policy",
        f"{route.path}.rewrite.path",
        "not rendered for a match without a path prefix: the spec replaces the whole path "
        "there, and consul-k8s drops a URLRewrite that replaces the full path "
        "(translateHTTPFilters keeps ReplacePrefixMatch only)",
    )
    return []


def _extension(kind: str, name: str) -> dict[str, Any]:
    return {
        "type": "ExtensionRef",
        "extensionRef": {"group": _FILTER_GROUP, "kind": kind, "name": name},
    }


def _policy_objects(
    mesh: Mesh, entry: Ingress, route: IngressRoute, index: int, svc: Service, report: Report
) -> tuple[list[Obj], list[dict[str, Any]]]:
    """The RouteTimeoutFilter and RouteRetryFilter of a route (its timeout, else the backend
    service's; the service's retries, as its own default route would retry) and the
    filters that name them."""
    settings = destination_settings(svc, None, report)
    timeout = route.timeout or settings.get("requestTimeout")
    name = f"{entry.name}-{index}"
    objects: list[Obj] = []
    filters: list[dict[str, Any]] = []
    if timeout is not None:
        objects.append(
            new_object(
                API,
                ROUTE_TIMEOUT_FILTER,
                metadata(mesh, ROUTE_TIMEOUT_FILTER, name, entry.namespace, route.path),
                spec={"requestTimeout": timeout},
            )
        )
        filters.append(_extension(ROUTE_TIMEOUT_FILTER, name))
    if "numRetries" in settings:
        objects.append(
            new_object(
                API,
                ROUTE_RETRY_FILTER,
                metadata(mesh, ROUTE_RETRY_FILTER, name, entry.namespace, f"{svc.path}.retries"),
                spec={"numRetries": settings["numRetries"], "retryOn": settings["retryOn"]},
            )
        )
        filters.append(_extension(ROUTE_RETRY_FILTER, name))
    return objects, filters


# --- rules ------------------------------------------------------------------------------


def _match_path(mesh: Mesh, route: IngressRoute, index: int) -> str:
    """The spec path of a route's match: ``match``, or an item of ``matches``."""
    if f"{route.path}.match" in mesh.positions.values:
        return f"{route.path}.match"
    return f"{route.path}.matches[{index}]"


def _report_redirect(mesh: Mesh, route: IngressRoute, report: Report) -> None:
    """A redirect route is not rendered: its redirect, and each condition of its matches."""
    assert route.redirect is not None
    report.lossy(
        "ingress.routes.policy",
        f"{route.path}.redirect",
        "not rendered: consul-k8s translates no RequestRedirect and drops a rule without "
        "backends (translateHTTPRouteRule), so the requests this route takes go on to the "
        "next route that fits",
    )
    for j, m in enumerate(route.matches):
        where = _match_path(mesh, route, j)
        conditions = [f"{where}.headers.{name}" for name, _ in m.headers]
        conditions += [f"{where}.path"] if m.path is not None else []
        conditions += [f"{where}.grpc"] if m.grpc is not None else []
        for condition in conditions:
            report.lossy(
                "ingress.routes.policy",
                condition,
                "not rendered: the route is a redirect, which consul-k8s does not translate",
            )
    if route.redirect.status_code not in (301, 302):
        report.lossy(
            "ingress.routes.redirect.statusCode",
            f"{route.path}.redirect.statusCode",
            "not rendered: the redirect is not",
        )


def _check_backend(mesh: Mesh, route: IngressRoute, svc: Service, report: Report) -> None:
    assert route.backend is not None
    speaks = protocol(svc)
    if speaks in _HTTP2:
        # The gateway's upstream is forced to http (proxycfg/api_gateway.go,
        # handleRouteConfigUpdate: Config {"protocol": "http"}; the synthesized chain's
        # ServiceDefaults say http too: discoverychain/gateway_httproute.go), so
        # finalizeUpstreamConfig keeps http and makeUpstreamClustersForDiscoveryChain
        # (xds/clusters.go) sets no HTTP/2 options on the backend's cluster.
        report.lossy(
            "ingress.routes.backendProtocol",
            f"{route.path}.backend",
            f"{svc.name} speaks {speaks}, and consul-k8s's gateway speaks HTTP/1.1 to it "
            "(Consul gives the gateway's upstreams protocol http): "
            + (
                "a gRPC call's status is an HTTP/2 trailer, which does not survive HTTP/1.1"
                if speaks == "grpc"
                else "its requests arrive as HTTP/1.1, without what only HTTP/2 carries"
            ),
        )
    first = svc.ports[0]
    if route.backend.port != first.port:
        report.lossy(
            "services.ports.additional",
            f"{route.path}.backend.port",
            f"the gateway sends to the one port consul-k8s registers for {svc.name}: "
            f"requests reach targetPort {first.target_port}, not port {route.backend.port}'s",
        )
    default = next((r for r in svc.routes if not r.matches), None)
    others = [r for r in svc.routes if r is not default]
    if others or (
        default is not None
        and any(
            getattr(default, f) is not None
            for f in ("fault", "mirror", "headers", "rewrite", "redirect", "timeout", "retries")
        )
    ):
        report.lossy(
            "ingress.routes.serviceRoutes",
            f"{route.path}.backend",
            f"ingress requests follow the split of {svc.path}'s default route and its "
            "timeout and retries, not its other routes or the default route's own policy",
        )


def _rules(
    mesh: Mesh, entry: Ingress, report: Report
) -> tuple[list[tuple[IngressRoute, dict[str, Any]]], list[Obj]]:
    rules: list[tuple[IngressRoute, dict[str, Any]]] = []
    objects: list[Obj] = []
    for index, route in enumerate(entry.routes):
        if route.redirect is not None or route.backend is None:
            _report_redirect(mesh, route, report)
            continue
        backend = route.backend
        svc = _service(mesh, backend.namespace, backend.service)
        _check_backend(mesh, route, svc, report)
        filters, policy = _policy_objects(mesh, entry, route, index, svc, report)
        objects += filters
        matches = [_match(m) for m in route.matches]
        # A path rewrite is per match (ReplacePrefixMatch takes exactly one PathPrefix
        # match): one rule each, which is how Consul flattens them anyway.
        groups: list[list[dict[str, Any]]] = (
            [[m] for m in matches] if route.rewrite is not None and len(matches) > 1 else [matches]
        )
        for group in groups:
            rule: dict[str, Any] = {}
            if group:
                rule["matches"] = group
            chosen = _header_filters(route, report) + _rewrite(
                route, group[0] if len(group) == 1 else None, report
            )
            chosen += [dict(f) for f in policy]
            if chosen:
                rule["filters"] = chosen
            rule["backendRefs"] = [
                gatewayapi.backend_ref(
                    svc.name,
                    backend.port,
                    namespace=svc.namespace if svc.namespace != entry.namespace else None,
                )
            ]
            rules.append((route, rule))
    return rules, objects


# --- listeners and routes -----------------------------------------------------------------


def _listener(listener: Listener) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": listener.name}
    if len(listener.hosts) == 1 and listener.hosts[0] != "*":
        entry["hostname"] = listener.hosts[0]
    entry["port"] = listener.port
    entry["protocol"] = listener.protocol
    if listener.tls_secret is not None:
        entry["tls"] = {
            "mode": "Terminate",
            "certificateRefs": [{"group": "", "kind": "Secret", "name": listener.tls_secret}],
        }
    entry["allowedRoutes"] = {"namespaces": {"from": "Same"}}
    return entry


def _check_listeners(entry: Ingress, report: Report) -> None:
    # Two listeners on one port the spec's validation refuses already.
    for listener in entry.listeners:
        if listener.port == _ADMIN_PORT:
            report.error(
                f"{listener.path}.port",
                f"consul-k8s refuses a gateway listener on port {_ADMIN_PORT}, its Envoy's "
                "admin port (validateListeners)",
            )


def _check_identity(entry: Ingress, report: Report) -> None:
    gw = entry.gateway
    if _class_name(entry) != GATEWAY_CLASS:
        report.lossy(
            "ingress.gateway.identity",
            f"{entry.path}.gateway.className",
            f"the services' intentions admit the Consul service {entry.name!r}, which only "
            f"consul-k8s's gateway class {GATEWAY_CLASS!r} registers for this Gateway",
        )
    for field, value, expected in (
        ("namespace", gw.namespace, entry.namespace),
        ("serviceAccount", gw.service_account, entry.name),
    ):
        if value != expected:
            report.lossy(
                "ingress.gateway.identity",
                f"{entry.path}.gateway.{field}",
                f"consul-k8s runs the gateway's pods in the Gateway's namespace "
                f"{entry.namespace!r} as service account {entry.name!r}, and the services' "
                f"intentions admit its Consul service {entry.name!r}",
            )


def _parent(entry: Ingress, listener: Listener | None) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": gatewayapi.GROUP, "kind": "Gateway", "name": entry.name}
    if listener is not None:
        ref["sectionName"] = listener.name
    return ref


def _http_route(
    mesh: Mesh,
    entry: Ingress,
    name: str,
    listener: Listener | None,
    hosts: tuple[str, ...],
    rules: list[dict[str, Any]],
) -> Obj:
    spec: dict[str, Any] = {"parentRefs": [_parent(entry, listener)]}
    if "*" not in hosts:
        spec["hostnames"] = list(hosts)
    spec["rules"] = rules
    return new_object(
        gatewayapi.V1,
        "HTTPRoute",
        metadata(mesh, "HTTPRoute", name, entry.namespace, f"{entry.path}.routes"),
        spec=spec,
    )


def ingress_objects(mesh: Mesh, report: Report) -> list[Obj]:
    objects: list[Obj] = []
    for entry in mesh.ingress:
        _check_identity(entry, report)
        _check_listeners(entry, report)
        objects.append(
            new_object(
                gatewayapi.V1,
                "Gateway",
                metadata(mesh, "Gateway", entry.name, entry.namespace, entry.path),
                spec={
                    "gatewayClassName": _class_name(entry),
                    "listeners": [_listener(listener) for listener in entry.listeners],
                },
            )
        )
        rules, filters = _rules(mesh, entry, report)
        _check_order(entry, rules, report)
        objects += filters
        host_sets = {frozenset(listener.hosts) for listener in entry.listeners}
        if rules and len(host_sets) == 1:
            objects.append(
                _http_route(mesh, entry, entry.name, None, entry.hosts, [r for _, r in rules])
            )
        elif rules:
            # Listeners with different hosts: a route each, bound to its listener alone, so
            # no listener takes another's hosts.
            for listener in entry.listeners:
                objects.append(
                    _http_route(
                        mesh,
                        entry,
                        f"{entry.name}-{listener.name}",
                        listener,
                        listener.hosts,
                        [copy.deepcopy(r) for _, r in rules],
                    )
                )
        objects += gatewayapi.reference_grants(mesh, entry)
    return objects
