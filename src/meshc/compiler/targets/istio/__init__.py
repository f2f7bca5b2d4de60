"""The Istio target: Namespaces, Services, DestinationRules, VirtualServices,
PeerAuthentications and AuthorizationPolicies; for ingress a Gateway and its VirtualService
(ingress.py), for egress ServiceEntries, for telemetry Telemetry objects, and, when asked,
EnvoyFilters for rate limits (extras.py)."""

from __future__ import annotations

from typing import Any, ClassVar

from meshc.providers import CLUSTER_DOMAIN, Profile
from meshc.providers.istio import PROFILE

from ...core import namespace_objects, service_object
from ...model import AllowRule, Mesh, Service
from ...model_traffic import Gateway
from ...objects import Obj, metadata, new_object
from .. import RenderOptions, Report
from . import extras, ingress, routing


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


def _principal(mesh: Mesh, gateway: Gateway) -> str:
    return f"{mesh.trust_domain}/ns/{gateway.namespace}/sa/{gateway.service_account}"


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
            vs_spec = routing.virtual_service_spec(svc)
            if vs_spec is not None:
                objects.append(new_object(
                    net, "VirtualService",
                    metadata(mesh, "VirtualService", svc.name, svc.namespace, svc.path),
                    spec=vs_spec,
                ))
            if svc.allow:
                objects.append(new_object(
                    sec, "AuthorizationPolicy",
                    metadata(mesh, "AuthorizationPolicy", f"{svc.name}-allow", svc.namespace,
                             f"{svc.path}.allow"),
                    spec={
                        "selector": {"matchLabels": dict(svc.selector)},
                        "action": "ALLOW",
                        "rules": [_allow_rule(mesh, svc, r, report) for r in svc.allow]
                        + ingress.gateway_rules(mesh, svc, lambda g: _principal(mesh, g)),
                    },
                ))
            objects += extras.rate_limit_objects(mesh, svc, options.option(PROFILE.name,
                                                                           "rate-limit"), report)
        objects += ingress.ingress_objects(mesh, net, report)
        objects += extras.egress_objects(mesh, net)
        extras.report_egress(mesh, report)
        objects += extras.telemetry_objects(mesh, api)
        routing.report_default_retries(mesh, report)
        return objects


TARGET = IstioTarget()
