"""The Istio target: Namespaces, Services, DestinationRules, VirtualServices,
PeerAuthentications and AuthorizationPolicies; for ingress a Gateway and its VirtualService
(ingress.py), for egress ServiceEntries, for telemetry Telemetry objects, and, when asked,
EnvoyFilters for rate limits (extras.py)."""

from __future__ import annotations

from typing import Any, ClassVar

from meshc.providers import CLUSTER_DOMAIN, Profile
from meshc.providers.istio import AMBIENT, PROFILE, USE_WAYPOINT_LABEL

from ...core import namespace_objects, service_object
from ...model import AllowRule, Mesh, Service
from ...model_traffic import Gateway
from ...objects import Obj, metadata, new_object
from .. import RenderOptions, Report
from . import ambient, extras, httproutes, ingress, routing


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
        policy["connectionPool"] = {
            **({"tcp": tcp} if tcp else {}),
            **({"http": http} if http else {}),
        }
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


def _allow_rule(
    mesh: Mesh, svc: Service, rule: AllowRule, report: Report, at_waypoint: bool = False
) -> dict[str, Any]:
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
    if at_waypoint:
        # A waypoint matches the Service port (listener_waypoint.go: chains per Service port).
        if rule.ports:
            out["to"] = [{"operation": {"ports": [str(p) for p in dict.fromkeys(rule.ports)]}}]
        return out
    # Istio matches AuthorizationPolicy ports against the port the workload
    # listens on, after the Service has translated port to targetPort; a
    # Service port here would match nothing (see docs/istio.md).
    target_ports = [svc.target_port(p) for p in rule.ports]
    if any(isinstance(t, str) for t in target_ports):
        report.lossy(
            "services.allow.ports.namedTargetPort",
            f"{rule.path}.ports",
            "the rule was rendered for all ports of the workload",
        )
    elif target_ports:
        out["to"] = [{"operation": {"ports": [str(t) for t in dict.fromkeys(target_ports)]}}]
    return out


def _destination_rules(mesh: Mesh, svc: Service, net: str, gateway_api: bool) -> list[Obj]:
    """The service's DestinationRule (its subsets serve the VirtualServices of sidecar
    namespaces and of the ingress gateways); with HTTPRoutes, which send each version to its
    own Service, the traffic policy again for each version's host."""
    policy = _traffic_policy(svc)
    objects = []
    if svc.versions or policy:
        spec: dict[str, Any] = {"host": f"{svc.fqdn_suffix}.{CLUSTER_DOMAIN}"}
        if policy:
            spec["trafficPolicy"] = policy
        if svc.versions:
            spec["subsets"] = [{"name": v.name, "labels": dict(v.labels)} for v in svc.versions]
        objects.append(
            new_object(
                net,
                "DestinationRule",
                metadata(mesh, "DestinationRule", svc.name, svc.namespace, svc.path),
                spec=spec,
            )
        )
    if gateway_api and policy:
        for i, v in enumerate(svc.versions):
            name = httproutes.version_service(svc, v.name)
            objects.append(
                new_object(
                    net,
                    "DestinationRule",
                    metadata(
                        mesh, "DestinationRule", name, svc.namespace, f"{svc.path}.versions[{i}]"
                    ),
                    spec={
                        "host": f"{name}.{svc.namespace}.svc.{CLUSTER_DOMAIN}",
                        "trafficPolicy": policy,
                    },
                )
            )
    return objects


def _check_version_names(mesh: Mesh, report: Report) -> None:
    taken = {(s.namespace, s.name): s.path for s in mesh.services}
    for svc in mesh.services:
        for i, version in enumerate(svc.versions):
            other = taken.get((svc.namespace, httproutes.version_service(svc, version.name)))
            if other is not None:
                report.error(
                    f"{svc.path}.versions[{i}].name",
                    f"the Service of version {version.name!r} would be named "
                    f"{httproutes.version_service(svc, version.name)!r}, which {other} "
                    "already is",
                )


class IstioTarget:
    profile: ClassVar[Profile] = PROFILE

    def render(self, mesh: Mesh, options: RenderOptions, report: Report) -> list[Obj]:
        api = options.option(PROFILE.name, "api")
        routing_mode = options.option(PROFILE.name, "routing", mesh.settings_for(PROFILE.name))
        net = f"networking.istio.io/{api}"
        sec = f"security.istio.io/{api}"
        objects = namespace_objects(mesh, PROFILE.name)
        waypoints = ambient.plan(mesh)
        ambient.check_names(mesh, waypoints, report)
        gateway_api_anywhere = routing_mode == "gateway-api" or any(
            ns.dataplane == AMBIENT for ns in mesh.namespaces
        )
        if gateway_api_anywhere:
            _check_version_names(mesh, report)
        objects += ambient.waypoint_objects(mesh, waypoints)
        for ns in mesh.namespaces:
            objects.append(
                new_object(
                    sec,
                    "PeerAuthentication",
                    metadata(mesh, "PeerAuthentication", "default", ns.name, "spec.mtls"),
                    spec={"mtls": {"mode": mesh.mtls}},
                )
            )
            if ns.dataplane == AMBIENT and mesh.mtls == "PERMISSIVE":
                with report.dataplane(AMBIENT):
                    report.lossy(
                        "mtls.PERMISSIVE",
                        "spec.mtls",
                        f"namespace {ns.name!r}: ztunnel sends mTLS between ambient pods "
                        "whatever the mode; PERMISSIVE only admits plaintext from "
                        "outside the mesh",
                    )
        for svc in mesh.services:
            dataplane = mesh.dataplane_of(svc.namespace)
            with report.dataplane(dataplane):
                objects += self._service(
                    mesh,
                    svc,
                    options,
                    report,
                    net,
                    sec,
                    dataplane == AMBIENT or routing_mode == "gateway-api",
                    waypoints.get((svc.namespace, svc.name)),
                )
        # What is reported for the whole mesh is judged by ambient's column when every
        # namespace is in ambient, else by the routing mode's.
        everywhere = (
            AMBIENT if all(ns.dataplane == AMBIENT for ns in mesh.namespaces) else "sidecar"
        )
        with report.dataplane(everywhere):
            objects += ingress.ingress_objects(mesh, net, report)
            objects += extras.egress_objects(mesh, net)
            extras.report_egress(mesh, report)
            objects += extras.telemetry_objects(mesh, api)
            routing.report_default_retries(
                mesh,
                report,
                lambda s: (
                    not (
                        mesh.dataplane_of(s.namespace) == AMBIENT
                        and (s.namespace, s.name) not in waypoints
                    )
                ),
            )
        self._report_telemetry(mesh, report)
        return objects

    def _service(
        self,
        mesh: Mesh,
        svc: Service,
        options: RenderOptions,
        report: Report,
        net: str,
        sec: str,
        gateway_api: bool,
        waypoint: ambient.Waypoint | None,
    ) -> list[Obj]:
        objects: list[Obj] = []
        labels = {USE_WAYPOINT_LABEL: waypoint.name} if waypoint is not None else None
        if svc.manage_service:  # else the app's own Service (service.manage: false)
            objects.append(service_object(mesh, svc, labels=labels))
        elif waypoint is not None:
            report.lossy(
                "services.service.manage",
                f"{svc.path}.service.manage",
                f"the service needs waypoint {waypoint.name!r}: label your own Service "
                f"{svc.namespace}/{svc.name} {USE_WAYPOINT_LABEL}: {waypoint.name}",
            )
        objects += _destination_rules(mesh, svc, net, gateway_api)
        if gateway_api:
            for i, version in enumerate(svc.versions):
                objects.append(
                    service_object(
                        mesh,
                        svc,
                        name=httproutes.version_service(svc, version.name),
                        selector={**svc.selector, **version.labels},
                        path=f"{svc.path}.versions[{i}]",
                    )
                )
            objects += httproutes.http_routes(mesh, svc, report)
            httproutes.report_tcp_split(svc, report)
        else:
            vs_spec = routing.virtual_service_spec(svc)
            if vs_spec is not None:
                objects.append(
                    new_object(
                        net,
                        "VirtualService",
                        metadata(mesh, "VirtualService", svc.name, svc.namespace, svc.path),
                        spec=vs_spec,
                    )
                )
        gateways = ingress.gateway_rules(mesh, svc, lambda g: _principal(mesh, g))
        if svc.allow and waypoint is not None:
            rules = [_allow_rule(mesh, svc, r, report, at_waypoint=True) for r in svc.allow]
            objects += ambient.waypoint_policies(mesh, svc, waypoint, sec, rules, gateways)
        elif svc.allow:
            objects.append(
                new_object(
                    sec,
                    "AuthorizationPolicy",
                    metadata(
                        mesh,
                        "AuthorizationPolicy",
                        f"{svc.name}-allow",
                        svc.namespace,
                        f"{svc.path}.allow",
                    ),
                    spec={
                        "selector": {"matchLabels": dict(svc.selector)},
                        "action": "ALLOW",
                        "rules": [_allow_rule(mesh, svc, r, report) for r in svc.allow] + gateways,
                    },
                )
            )
        if mesh.dataplane_of(svc.namespace) == AMBIENT:
            if svc.rate_limit is not None and svc.rate_limit.requests_per_second is not None:
                report.lossy(
                    "services.rateLimit", f"{svc.rate_limit.path}.requestsPerSecond", "not rendered"
                )
            if (
                svc.rate_limit is not None
                and svc.rate_limit.per_caller_requests_per_second is not None
            ):
                report.lossy(
                    "services.rateLimit.perCaller",
                    f"{svc.rate_limit.path}.perCallerRequestsPerSecond",
                    "not rendered",
                )
        else:
            objects += extras.rate_limit_objects(
                mesh, svc, options.option(PROFILE.name, "rate-limit"), report
            )
        return objects

    def _report_telemetry(self, mesh: Mesh, report: Report) -> None:
        with report.dataplane(AMBIENT):
            for t in mesh.telemetry:
                if mesh.dataplane_of(t.namespace) != AMBIENT:
                    continue
                if t.sampling_percent is not None:
                    report.lossy(
                        "telemetry.tracing",
                        f"{t.path}.tracing.samplingPercent",
                        "applies at waypoints only",
                    )
                if t.access_logging is not None:
                    report.lossy(
                        "telemetry.accessLogging",
                        f"{t.path}.accessLogging",
                        "request logs come from waypoints only",
                    )
                if t.selector:
                    report.lossy(
                        "telemetry.selector",
                        f"{t.path}.selector",
                        "waypoints' telemetry is not selected by it",
                    )


TARGET = IstioTarget()
