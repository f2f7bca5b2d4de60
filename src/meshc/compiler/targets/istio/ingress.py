"""spec.ingress as an Istio Gateway and the VirtualService bound to it (Istio's
ingress-control task and the bookinfo gateway: samples/bookinfo/networking/bookinfo-gateway.yaml).

The Gateway selects the gateway's pods by label; the VirtualService names the
Gateway in ``gateways``, so it applies to the gateway's proxy only, never to
sidecars. Requests go to the backend service the way its own default route
would send them (its split, timeout and retries): the service's
VirtualService binds to the mesh, so the gateway would otherwise ignore it.
"""

from __future__ import annotations

from typing import Any

from ...model import Mesh, Service
from ...model_traffic import Ingress, IngressRoute, gateway_callers
from ...objects import Obj, metadata, new_object
from .. import Report
from . import routing


def _server(listener: Any) -> dict[str, Any]:
    server: dict[str, Any] = {
        "port": {"number": listener.port, "name": listener.name, "protocol": listener.protocol},
        "hosts": list(listener.hosts),
    }
    if listener.tls_secret is not None:
        # credentialName: a Secret in the namespace of the gateway's pods.
        server["tls"] = {"mode": "SIMPLE", "credentialName": listener.tls_secret}
    return server


def _service(mesh: Mesh, namespace: str, name: str) -> Service:
    return next(s for s in mesh.services if (s.namespace, s.name) == (namespace, name))


def _destinations(
    entry: Ingress, route: IngressRoute, svc: Service, report: Report, subsets: bool
) -> list[dict[str, Any]]:
    assert route.backend is not None
    host = routing.host(entry.namespace, svc.name, svc.namespace)
    port = {"number": route.backend.port}
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
            f"ingress requests follow the default route of {svc.path} (its split), "
            "not its other routes or the default route's own policy",
        )
    if default is None or not default.split:
        return [{"destination": {"host": host, "port": port}}]
    if not subsets:
        # With HTTPRoutes each version is its own Service (httproutes.version_service).
        return [
            {
                "destination": {
                    "host": routing.host(entry.namespace, f"{svc.name}-{version}", svc.namespace),
                    "port": port,
                },
                "weight": weight,
            }
            for version, weight in default.split
        ]
    return [
        {"destination": {"host": host, "subset": version, "port": port}, "weight": weight}
        for version, weight in default.split
    ]


def _http(
    mesh: Mesh, entry: Ingress, route: IngressRoute, report: Report, subsets: bool
) -> dict[str, Any]:
    http: dict[str, Any] = {}
    if route.matches:
        http["match"] = [routing.match(m) for m in route.matches]
    if route.redirect is not None:
        http["redirect"] = routing.redirect(route.redirect)
        if route.headers is not None:
            http["headers"] = routing.headers(route.headers)
        return http
    assert route.backend is not None
    svc = _service(mesh, route.backend.namespace, route.backend.service)
    http["route"] = _destinations(entry, route, svc, report, subsets)
    if route.headers is not None:
        http["headers"] = routing.headers(route.headers)
    if route.rewrite is not None:
        http["rewrite"] = routing.rewrite(route.rewrite)
    timeout = route.timeout or svc.timeout
    if timeout:
        http["timeout"] = timeout
    if svc.retries is not None:
        http["retries"] = routing.retries(svc.retries)
    return http


def ingress_objects(mesh: Mesh, net: str, report: Report, subsets: bool = True) -> list[Obj]:
    """``subsets``: versions are DestinationRule subsets (else each is its own Service)."""
    objects: list[Obj] = []
    for entry in mesh.ingress:
        objects.append(
            new_object(
                net,
                "Gateway",
                metadata(mesh, "Gateway", entry.name, entry.namespace, entry.path),
                spec={
                    "selector": dict(entry.gateway.selector),
                    "servers": [_server(listener) for listener in entry.listeners],
                },
            )
        )
        objects.append(
            new_object(
                net,
                "VirtualService",
                metadata(
                    mesh, "VirtualService", entry.name, entry.namespace, f"{entry.path}.routes"
                ),
                # "*" already takes every host, and Istio refuses it beside others.
                spec={
                    "hosts": ["*"] if "*" in entry.hosts else list(entry.hosts),
                    "gateways": [entry.name],
                    "http": [_http(mesh, entry, r, report, subsets) for r in entry.routes],
                },
            )
        )
    return objects


def gateway_rules(mesh: Mesh, svc: Service, principal: Any) -> list[dict[str, Any]]:
    """AuthorizationPolicy rules admitting the ingress gateways that route to ``svc``, on the
    workload ports their routes reach (``principal`` spells a gateway's identity)."""
    rules = []
    for gateway, ports, _ in gateway_callers(mesh.ingress, svc.namespace, svc.name):
        rule: dict[str, Any] = {"from": [{"source": {"principals": [principal(gateway)]}}]}
        targets = [svc.target_port(p) for p in ports]
        if all(isinstance(t, int) for t in targets):
            rule["to"] = [{"operation": {"ports": [str(t) for t in dict.fromkeys(targets)]}}]
        rules.append(rule)
    return rules
