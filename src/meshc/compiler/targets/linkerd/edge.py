"""Traffic at the mesh's edge on Linkerd: spec.ingress as a Gateway API Gateway with its
HTTPRoute, spec.egress as EgressNetworks with routes for the allowed hosts, and
spec.telemetry's access logs as a namespace annotation.

Linkerd has no ingress of its own: a Gateway API implementation (the spec's
gateway class, e.g. an ingress controller whose pods are meshed) serves the
Gateway, and the Gateway API CRDs it reads on a Linkerd cluster are the ones
Linkerd bundles (v1.1.1), so the ingress routes use only what those accept.

Egress follows Linkerd's egress documentation: an EgressNetwork in a
namespace catches its pods' traffic to addresses outside the cluster
(trafficPolicy Deny refuses it), and a route whose parent and backend are that
EgressNetwork lets the named host through: an HTTPRoute for plain HTTP, a
TLSRoute (matched on SNI) for TLS. Linkerd reads TLSRoute as
gateway.networking.k8s.io/v1alpha2 (policy-controller/k8s/api/src/lib.rs pins it).
"""

from __future__ import annotations

from typing import Any

from ...model import Mesh, Service
from ...model_traffic import Ingress, IngressRoute
from ...objects import Obj, metadata, new_object
from .. import Report, gatewayapi

POLICY_API = "policy.linkerd.io"
EGRESS_NETWORK = "egress"
TLS_ROUTE = f"{gatewayapi.GROUP}/v1alpha2"
ACCESS_LOG = "config.linkerd.io/access-log"


# --- ingress ----------------------------------------------------------------------------


def _service(mesh: Mesh, namespace: str, name: str) -> Service:
    return next(s for s in mesh.services if (s.namespace, s.name) == (namespace, name))


def _rule(mesh: Mesh, entry: Ingress, route: IngressRoute, report: Report) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if route.matches:
        rule["matches"] = [gatewayapi.http_match(m) for m in route.matches]
    filters: list[dict[str, Any]] = []
    if route.headers is not None:
        filters += gatewayapi.header_filters(route.headers)
    if route.rewrite is not None:
        rewrite = gatewayapi.rewrite_filter(
            route.rewrite,
            route.matches,
            f"{route.path}.rewrite",
            gatewayapi.V1_1,
            report,
            prefix_feature="ingress.routes.rewrite.prefix",
        )
        if rewrite is not None:
            filters.append(rewrite)
    if route.redirect is not None:
        filters.append(
            gatewayapi.redirect_filter(
                route.redirect,
                f"{route.path}.redirect",
                gatewayapi.V1_1,
                report,
                feature="ingress.routes.redirect.statusCode",
            )
        )
    if filters:
        rule["filters"] = filters
    if route.backend is None:
        return rule
    backend = route.backend
    svc = _service(mesh, backend.namespace, backend.service)
    if svc.routes:
        report.lossy(
            "ingress.routes.serviceRoutes",
            f"{route.path}.backend",
            f"the routes of {svc.path} apply only if the gateway's pods are meshed and "
            "send to the Service address",
        )
    rule["backendRefs"] = [
        gatewayapi.backend_ref(
            svc.name,
            backend.port,
            namespace=svc.namespace if svc.namespace != entry.namespace else None,
        )
    ]
    if route.timeout is not None:
        rule["timeouts"] = {
            "request": gatewayapi.duration(route.timeout, f"{route.path}.timeout", report)
        }
    return rule


def ingress_objects(mesh: Mesh, report: Report) -> list[Obj]:
    objects: list[Obj] = []
    for entry in mesh.ingress:
        if entry.gateway.class_name is None:
            report.error(
                f"{entry.path}.gateway",
                "a Gateway API Gateway needs gateway.className "
                "(the GatewayClass of the ingress controller that serves it)",
            )
            continue
        objects.append(
            new_object(
                gatewayapi.V1,
                "Gateway",
                metadata(mesh, "Gateway", entry.name, entry.namespace, entry.path),
                spec={
                    "gatewayClassName": entry.gateway.class_name,
                    "listeners": gatewayapi.listener_objects(entry.listeners),
                },
            )
        )
        spec: dict[str, Any] = {
            "parentRefs": [{"group": gatewayapi.GROUP, "kind": "Gateway", "name": entry.name}]
        }
        hosts = gatewayapi.hostnames(entry.listeners)
        if hosts:
            spec["hostnames"] = hosts
        spec["rules"] = [_rule(mesh, entry, r, report) for r in entry.routes]
        objects.append(
            new_object(
                gatewayapi.V1,
                "HTTPRoute",
                metadata(mesh, "HTTPRoute", entry.name, entry.namespace, f"{entry.path}.routes"),
                spec=spec,
            )
        )
        objects += gatewayapi.reference_grants(mesh, entry)
    return objects


# --- egress -----------------------------------------------------------------------------


def _egress_ref(port: int) -> dict[str, Any]:
    return {"group": POLICY_API, "kind": "EgressNetwork", "name": EGRESS_NETWORK, "port": port}


def egress_objects(mesh: Mesh) -> list[Obj]:
    if not mesh.egress:
        return []
    objects: list[Obj] = []
    for ns in mesh.namespaces:
        objects.append(
            new_object(
                f"{POLICY_API}/v1alpha1",
                "EgressNetwork",
                metadata(mesh, "EgressNetwork", EGRESS_NETWORK, ns.name, "spec.egress"),
                spec={"trafficPolicy": "Deny"},
            )
        )
        for entry in mesh.egress:
            for p in entry.ports:
                api, kind = (
                    (gatewayapi.V1, "HTTPRoute")
                    if p.protocol == "http"
                    else (TLS_ROUTE, "TLSRoute")
                )
                objects.append(
                    new_object(
                        api,
                        kind,
                        metadata(mesh, kind, f"egress-{entry.host}-{p.port}", ns.name, entry.path),
                        spec={
                            "parentRefs": [_egress_ref(p.port)],
                            "hostnames": [entry.host],
                            "rules": [{"backendRefs": [_egress_ref(p.port)]}],
                        },
                    )
                )
    return objects


# --- telemetry --------------------------------------------------------------------------


def access_log_namespaces(mesh: Mesh, report: Report) -> set[str]:
    """The namespaces whose proxies write an access log; report what Linkerd cannot set."""
    found = set()
    for t in mesh.telemetry:
        if t.sampling_percent is not None:
            report.lossy("telemetry.tracing", f"{t.path}.tracing", "not rendered")
        if t.metrics is not None:
            report.lossy("telemetry.metrics", f"{t.path}.metrics", "not rendered")
        if t.selector:
            if t.access_logging is not None:
                report.lossy(
                    "telemetry.selector",
                    f"{t.path}.accessLogging",
                    "not rendered for the workloads of selector",
                )
            continue
        if t.access_logging:
            found.add(t.namespace)
    return found


def with_access_logs(namespace: Obj) -> Obj:
    """A rendered Namespace whose pods' proxies log every request (as JSON); the proxy
    injector copies config.linkerd.io annotations from the namespace to its pods."""
    meta = namespace["metadata"]
    meta["annotations"] = dict(sorted({**meta["annotations"], ACCESS_LOG: "json"}.items()))
    return namespace
