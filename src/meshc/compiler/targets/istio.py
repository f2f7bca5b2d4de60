"""The Istio target: Namespaces, Services, DestinationRules, VirtualServices,
PeerAuthentications and AuthorizationPolicies."""

from __future__ import annotations

from typing import Any, ClassVar

from meshc.providers import CLUSTER_DOMAIN, Profile
from meshc.providers.istio import PROFILE

from ..core import namespace_objects, service_object
from ..model import AllowRule, Mesh, Route, Service
from ..objects import Obj, metadata, new_object
from . import RenderOptions, Report


def _traffic_policy(svc: Service) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    pool = svc.connection_pool
    if pool is not None:
        tcp = {"maxConnections": pool.max_connections} if pool.max_connections is not None else {}
        http = {
            key: value
            for key, value in (
                ("http1MaxPendingRequests", pool.http1_max_pending_requests),
                ("http2MaxRequests", pool.http2_max_requests),
                ("maxRequestsPerConnection", pool.max_requests_per_connection),
            )
            if value is not None
        }
        policy["connectionPool"] = {**({"tcp": tcp} if tcp else {}), **({"http": http} if http else {})}
    out = svc.outlier_detection
    if out is not None:
        policy["outlierDetection"] = {
            key: value
            for key, value in (
                ("consecutive5xxErrors", out.consecutive_5xx_errors),
                ("interval", out.interval),
                ("baseEjectionTime", out.base_ejection_time),
                ("maxEjectionPercent", out.max_ejection_percent),
            )
            if value is not None
        }
    return policy


def _http_route(svc: Service, route: Route | None) -> dict[str, Any]:
    http: dict[str, Any] = {}
    if route is not None and route.name:
        http["name"] = route.name
    if route is not None and route.match is not None:
        match: dict[str, Any] = {}
        if route.match.headers:
            match["headers"] = {h: {m.kind: m.value} for h, m in route.match.headers}
        if route.match.path is not None:
            match["uri"] = {route.match.path.kind: route.match.path.value}
        http["match"] = [match]
    if route is None:
        http["route"] = [{"destination": {"host": svc.name}}]
    else:
        http["route"] = [
            {"destination": {"host": svc.name, "subset": version}, "weight": weight}
            for version, weight in route.split
        ]
    if svc.timeout:
        http["timeout"] = svc.timeout
    if svc.retries is not None:
        retries: dict[str, Any] = {"attempts": svc.retries.attempts}
        if svc.retries.per_try_timeout:
            retries["perTryTimeout"] = svc.retries.per_try_timeout
        if svc.retries.retry_on:
            retries["retryOn"] = ",".join(svc.retries.retry_on)
        http["retries"] = retries
    return http


def _allow_rule(mesh: Mesh, svc: Service, rule: AllowRule, report: Report) -> dict[str, Any]:
    sources: list[dict[str, Any]] = []
    if rule.from_namespaces:
        sources.append({"source": {"namespaces": list(rule.from_namespaces)}})
    if rule.from_service_accounts:
        principals = [
            f"{mesh.trust_domain}/ns/{ns}/sa/{sa}"
            for ns, _, sa in (a.partition("/") for a in rule.from_service_accounts)
        ]
        sources.append({"source": {"principals": principals}})
    out: dict[str, Any] = {"from": sources}
    # Istio matches AuthorizationPolicy ports against the port the workload
    # listens on, after the Service has translated port to targetPort; a
    # Service port here would match nothing (see docs/istio.md).
    target_ports = [svc.target_port(p) for p in rule.ports]
    if any(isinstance(t, str) for t in target_ports):
        report.lossy("services.allow.ports.namedTargetPort", f"{rule.path}.ports",
                     "the rule was rendered for all ports of the workload")
    elif target_ports:
        out["to"] = [{"operation": {"ports": [str(t) for t in dict.fromkeys(target_ports)]}}]
    return out


class IstioTarget:
    profile: ClassVar[Profile] = PROFILE

    def render(self, mesh: Mesh, options: RenderOptions, report: Report) -> list[Obj]:
        api = options.option(PROFILE.name, "api")
        net = f"networking.istio.io/{api}"
        sec = f"security.istio.io/{api}"
        objects = namespace_objects(mesh, PROFILE.name)
        for ns in mesh.namespaces:
            objects.append(new_object(
                sec, "PeerAuthentication",
                metadata(mesh, "PeerAuthentication", "default", ns.name, "spec.mtls"),
                spec={"mtls": {"mode": mesh.mtls}},
            ))
        for svc in mesh.services:
            if svc.manage_service:  # else the app's own Service (service.manage: false)
                objects.append(service_object(mesh, svc))
            policy = _traffic_policy(svc)
            if svc.versions or policy:
                spec: dict[str, Any] = {"host": f"{svc.fqdn_suffix}.{CLUSTER_DOMAIN}"}
                if policy:
                    spec["trafficPolicy"] = policy
                if svc.versions:
                    spec["subsets"] = [{"name": v.name, "labels": dict(v.labels)} for v in svc.versions]
                objects.append(new_object(
                    net, "DestinationRule",
                    metadata(mesh, "DestinationRule", svc.name, svc.namespace, svc.path), spec=spec,
                ))
            if svc.routes or svc.timeout or svc.retries is not None:
                routes: list[Route | None] = list(svc.routes) or [None]
                objects.append(new_object(
                    net, "VirtualService",
                    metadata(mesh, "VirtualService", svc.name, svc.namespace, svc.path),
                    spec={"hosts": [svc.name], "http": [_http_route(svc, r) for r in routes]},
                ))
            if svc.allow:
                objects.append(new_object(
                    sec, "AuthorizationPolicy",
                    metadata(mesh, "AuthorizationPolicy", f"{svc.name}-allow", svc.namespace,
                             f"{svc.path}.allow"),
                    spec={
                        "selector": {"matchLabels": dict(svc.selector)},
                        "action": "ALLOW",
                        "rules": [_allow_rule(mesh, svc, r, report) for r in svc.allow],
                    },
                ))
        return objects


TARGET = IstioTarget()
