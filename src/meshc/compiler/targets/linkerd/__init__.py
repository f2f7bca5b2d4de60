"""The Linkerd target: meshed Namespaces, apex and per-version Services, routing through
a Gateway API HTTPRoute (default) or an SMI TrafficSplit, and Linkerd authorization policy.

Retries, timeouts and circuit breaking are annotations on the apex Service, the
object every client addresses: HTTPRoutes whose parent is that Service inherit
them, and they apply to a service with no routes too. In SMI mode retries and
timeouts move to a ServiceProfile, because Linkerd ignores the annotations of a
Service that has one, and linkerd-smi gives every split Service one.
"""

from __future__ import annotations

from typing import ClassVar

from meshc.providers import Profile
from meshc.providers.linkerd import PROFILE

from ...core import namespace_objects, service_object
from ...model import Mesh, Service
from ...objects import Obj
from .. import RenderOptions, Report
from .durations import linkerd_duration
from .edge import access_log_namespaces, egress_objects, ingress_objects, with_access_logs
from .policy import policy_objects
from .resilience import retry_timeout_annotations
from .routing import http_routes, service_profile, tcp_routes, traffic_split, version_service

ACCRUAL = "balancer.linkerd.io/failure-accrual"


def _retry_timeout_annotations(svc: Service, report: Report) -> dict[str, str]:
    return retry_timeout_annotations(
        (svc.timeout, f"{svc.path}.timeout") if svc.timeout is not None else None,
        (svc.retries, f"{svc.path}.retries") if svc.retries is not None else None,
        report,
    )


def _accrual_annotations(svc: Service, has_profile: bool, report: Report) -> dict[str, str]:
    out = svc.outlier_detection
    if out is None:
        return {}
    path = f"{svc.path}.outlierDetection"
    if out.interval is not None:
        report.lossy("services.outlierDetection.interval", f"{path}.interval", "not rendered")
    if out.max_ejection_percent is not None:
        report.lossy(
            "services.outlierDetection.maxEjectionPercent",
            f"{path}.maxEjectionPercent",
            "not rendered",
        )
    if has_profile:
        for feature, field, value in (
            ("consecutive5xxErrors", "consecutive5xxErrors", out.consecutive_5xx_errors),
            ("baseEjectionTime", "baseEjectionTime", out.base_ejection_time),
        ):
            if value is not None:
                report.lossy(
                    f"services.outlierDetection.{feature}",
                    f"{path}.{field}",
                    "not rendered: the service has a ServiceProfile",
                )
        return {}
    annotations = {ACCRUAL: "consecutive"}
    if out.consecutive_5xx_errors is not None:
        annotations[f"{ACCRUAL}-consecutive-max-failures"] = str(out.consecutive_5xx_errors)
    if out.base_ejection_time is not None:
        penalty = linkerd_duration(out.base_ejection_time, f"{path}.baseEjectionTime", report)
        annotations[f"{ACCRUAL}-consecutive-min-penalty"] = penalty
        report.lossy(
            "services.outlierDetection.baseEjectionTime",
            f"{path}.baseEjectionTime",
            f"rendered as {ACCRUAL}-consecutive-min-penalty: {penalty}",
        )
    return annotations


def _connection_pool(svc: Service, report: Report) -> None:
    pool = svc.connection_pool
    if pool is None:
        return
    for field, value in (
        ("maxConnections", pool.max_connections),
        ("http1MaxPendingRequests", pool.http1_max_pending_requests),
        ("http2MaxRequests", pool.http2_max_requests),
        ("maxRequestsPerConnection", pool.max_requests_per_connection),
    ):
        if value is not None:
            report.lossy(
                f"services.connectionPool.{field}",
                f"{svc.path}.connectionPool.{field}",
                "not rendered",
            )


def _check_names(mesh: Mesh, report: Report) -> None:
    taken = {(s.namespace, s.name): s.path for s in mesh.services}
    for svc in mesh.services:
        for i, version in enumerate(svc.versions):
            other = taken.get((svc.namespace, version_service(svc, version.name)))
            if other is not None:
                report.error(
                    f"{svc.path}.versions[{i}].name",
                    f"the Service of version {version.name!r} would be named "
                    f"{version_service(svc, version.name)!r}, which {other} already is",
                )


def _unmanaged_annotations(svc: Service, annotations: dict[str, str], report: Report) -> None:
    """service.manage: false leaves no rendered Service to carry what Linkerd reads from it."""
    listed = ", ".join(f"{k}: {v!r}" for k, v in sorted(annotations.items()))
    fields = [
        f
        for f, v in (
            ("timeout", svc.timeout),
            ("retries", svc.retries),
            ("outlierDetection", svc.outlier_detection),
        )
        if v is not None
    ]
    for name in fields:
        report.lossy(
            "services.service.manage",
            f"{svc.path}.{name}",
            f"not rendered: with service.manage false, add these annotations to your "
            f"own Service {svc.namespace}/{svc.name}: {listed}",
        )


class LinkerdTarget:
    profile: ClassVar[Profile] = PROFILE

    def render(self, mesh: Mesh, options: RenderOptions, report: Report) -> list[Obj]:
        smi = options.option(PROFILE.name, "routing") == "smi"
        _check_names(mesh, report)
        logged = access_log_namespaces(mesh, report)
        objects = [
            with_access_logs(ns) if ns["metadata"]["name"] in logged else ns
            for ns in namespace_objects(mesh, PROFILE.name)
        ]
        for svc in mesh.services:
            _connection_pool(svc, report)
            if smi:
                profile = service_profile(mesh, svc, report)
                routing = traffic_split(mesh, svc, report)
                # linkerd-smi writes each TrafficSplit into a ServiceProfile of the apex Service.
                annotations = _accrual_annotations(svc, bool(profile or routing), report)
                objects += profile + routing
            else:
                annotations = _retry_timeout_annotations(svc, report)
                annotations.update(_accrual_annotations(svc, False, report))
                objects += http_routes(mesh, svc, report)
            tcp_routes(svc, report)
            if svc.manage_service:
                objects.append(service_object(mesh, svc, annotations=annotations))
            elif annotations:
                _unmanaged_annotations(svc, annotations, report)
            for i, version in enumerate(svc.versions):
                objects.append(
                    service_object(
                        mesh,
                        svc,
                        name=version_service(svc, version.name),
                        selector={**svc.selector, **version.labels},
                        path=f"{svc.path}.versions[{i}]",
                    )
                )
            objects += policy_objects(mesh, svc)
        objects += ingress_objects(mesh, report)
        objects += egress_objects(mesh)
        return objects


TARGET = LinkerdTarget()
