"""The Kuma target (Kuma 2.14): the Mesh, meshed Namespaces, Services (one per version
too), MeshHTTPRoute, MeshTCPRoute, MeshTimeout, MeshRetry, MeshCircuitBreaker,
MeshFaultInjection, MeshRateLimit, MeshTrafficPermission, MeshPassthrough, MeshAccessLog,
MeshMetric, and for ingress the builtin gateway (MeshGateway, MeshGatewayInstance and
MeshHTTPRoutes in kuma-system: ingress.py).

Every policy but the Mesh lives in its service's namespace and names the
service's MeshServices in ``spec.to`` (a producer policy: it applies to every
client in the mesh calling the service, as Istio's host-keyed objects do).
Kuma derives one MeshService from each Service (``meshServices.mode:
Exclusive`` on the Mesh); a version's traffic goes to the MeshService of that
version's own Service (``web-v1``), the form Kuma 2.14 recommends since
MeshServiceSubset (tag-based subsets) is deprecated and leaves in 3.0.

Kuma also creates mesh-wide default policies (mesh-timeout-all-*,
mesh-retry-all-*, mesh-circuit-breaker-all-*, targetRef Mesh) when it creates
a Mesh, in kuma-system. Kuma merges the policies that select a destination
field by field, system policies before producer ones and a Mesh entry before a
MeshService one (pkg/plugins/policies/core/rules/outbound/sort.go): meshc's
producer policies name a MeshService, so every field they set decides, and a
field the spec leaves unset keeps the default's value (docs/kuma.md lists them).
"""

from __future__ import annotations

from typing import ClassVar

from meshc.providers import Profile
from meshc.providers.kuma import PROFILE

from ...core import namespace_objects, service_object
from ...model import DEFAULT_TRUST_DOMAIN, Mesh, Service
from ...objects import SOURCE_ANNOTATION, Obj, metadata, new_object
from .. import RenderOptions, Report
from .common import API, kuma_mesh, version_service
from .egress import egress_objects
from .inbound import fault_injection, rate_limit
from .ingress import ingress_objects
from .permissions import traffic_permission
from .resilience import circuit_breaker, report_default_retries, retry, route_policies, timeout
from .routing import http_routes, tcp_route
from .telemetry import telemetry_objects

# Service port appProtocol -> what Kuma reads: a MeshService port without one is
# tcp (pkg/plugins/runtime/k8s/controllers/meshservice_controller.go), and Kuma
# names its protocols http, http2, grpc and tcp.
APP_PROTOCOL = {"http": "http", "http2": "http2", "grpc": "grpc", "tcp": "tcp"}


def _mesh_object(mesh: Mesh) -> Obj:
    backend = "ca-1"
    return new_object(
        API,
        "Mesh",
        metadata(mesh, "Mesh", kuma_mesh(mesh), None, "spec.mtls"),
        spec={
            "mtls": {
                "enabledBackend": backend,
                "backends": [{"name": backend, "type": "builtin", "mode": mesh.mtls}],
            },
            "meshServices": {"mode": "Exclusive"},
        },
    )


def _with_app_protocols(service: Obj, svc: Service) -> Obj:
    protocols = {p.name: APP_PROTOCOL[p.protocol] for p in svc.ports}
    for port in service["spec"]["ports"]:
        port["appProtocol"] = protocols[port["name"]]
    return service


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


def _check_unique(objects: list[Obj], report: Report) -> None:
    """A route's own MeshHTTPRoute is named after its service and route: it may meet
    another object's name."""
    seen: dict[tuple[str, str | None, str], str] = {}
    for obj in objects:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace"), meta["name"])
        source = meta.get("annotations", {}).get(SOURCE_ANNOTATION, "")
        if key in seen:
            report.error(
                source.split("#", 1)[-1] or "spec",
                f"{obj['kind']} {meta['name']!r} would be rendered twice "
                f"(also for {seen[key]}); rename the route or the service",
            )
        else:
            seen[key] = source


def _service_objects(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    objects = []
    if svc.manage_service:
        objects.append(_with_app_protocols(service_object(mesh, svc), svc))
    else:
        # Kuma learns a port's protocol from the Service's appProtocol; with the app's
        # own Service, that Service must carry it.
        wanted = ", ".join(f"{p.name}: {APP_PROTOCOL[p.protocol]}" for p in svc.ports)
        report.lossy(
            "services.service.manage",
            f"{svc.path}.service.manage",
            f"set appProtocol on the ports of your own Service {svc.namespace}/"
            f"{svc.name} ({wanted}): Kuma routes by the protocol it names",
        )
    for i, version in enumerate(svc.versions):
        objects.append(
            _with_app_protocols(
                service_object(
                    mesh,
                    svc,
                    name=version_service(svc, version.name),
                    selector={**svc.selector, **version.labels},
                    path=f"{svc.path}.versions[{i}]",
                ),
                svc,
            )
        )
    return objects


class KumaTarget:
    profile: ClassVar[Profile] = PROFILE

    def render(self, mesh: Mesh, options: RenderOptions, report: Report) -> list[Obj]:
        _check_names(mesh, report)
        if mesh.trust_domain != DEFAULT_TRUST_DOMAIN:
            report.lossy("trustDomain", "spec.trustDomain", "not rendered")
        objects: list[Obj] = [_mesh_object(mesh), *namespace_objects(mesh, PROFILE.name)]
        report_default_retries(mesh, report)
        for svc in mesh.services:
            objects += _service_objects(mesh, svc, report)
            objects += http_routes(mesh, svc, report)
            objects += route_policies(mesh, svc, report)
            parts: list[Obj | None] = [
                tcp_route(mesh, svc),
                timeout(mesh, svc),
                retry(mesh, svc, report),
                circuit_breaker(mesh, svc, report),
                fault_injection(mesh, svc, report),
                rate_limit(mesh, svc, report),
                traffic_permission(mesh, svc, report),
            ]
            objects += [o for o in parts if o is not None]
        objects += egress_objects(mesh)
        objects += telemetry_objects(mesh, report)
        objects += ingress_objects(mesh, report)
        _check_unique(objects, report)
        return objects


TARGET = KumaTarget()
