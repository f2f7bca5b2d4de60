"""The Consul target (consul-k8s v2.0.3, Consul CE): the Mesh settings, meshed Namespaces,
Services, and per service its ServiceDefaults, ServiceIntentions, ServiceResolver,
ServiceSplitters and ServiceRouter; the egress destinations and their TerminatingGateway
(egress.py); the ingress as a Gateway API Gateway of consul-k8s's API gateway with its
HTTPRoute (ingress.py).

Consul CE has no namespaces: a config entry applies to the Consul service of
its name wherever the custom resource lives, and consul-k8s refuses a second
resource of the same kind and name in another namespace
(api/common/configentry_webhook.go, ``ValidateConfigEntry``). So two services
of one name are an error, and every entry lives in its service's namespace.

Every field's path into Envoy is cited where it is rendered (routing.py,
policy.py, and below); docs/consul.md lists them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from meshc.providers import Profile
from meshc.providers.consul import PROFILE, meta_key_problem, service_meta_key

from ...core import namespace_objects, service_object
from ...model import DEFAULT_TRUST_DOMAIN, Mesh, Service
from ...objects import Obj, metadata, new_object
from .. import RenderOptions, Report
from .common import API, HTTP_PROTOCOLS, protocol
from .egress import egress_objects, mesh_settings, name_clashes
from .ingress import ingress_objects
from .policy import service_intentions, upstream_overrides
from .routing import resolver, router, split_services, splitters
from .unsupported import report_unrendered

# The Mesh config entry is a singleton: consul-k8s admits one Mesh resource, named mesh
# (api/v1alpha1/mesh_webhook.go).
MESH_NAME = "mesh"


def _mesh_object(mesh: Mesh) -> Obj:
    # allowEnablingPermissiveMutualTLS false: Consul refuses to change any
    # ServiceDefaults or ProxyDefaults to mutualTLSMode permissive
    # (agent/consul/state/config_entry.go, checkMutualTLSMode).
    return new_object(
        API,
        "Mesh",
        metadata(mesh, "Mesh", MESH_NAME, mesh.namespaces[0].name, "spec.mtls"),
        spec={"allowEnablingPermissiveMutualTLS": mesh.mtls == "PERMISSIVE", **mesh_settings(mesh)},
    )


def _service_defaults(mesh: Mesh, svc: Service, overrides: list[dict[str, Any]]) -> Obj:
    # protocol: the discovery chain's protocol (agent/consul/discoverychain,
    # recordServiceProtocol); tcp, the default, refuses routers and splitters.
    # mutualTLSMode strict: without the permissive filter chain that accepts
    # plaintext on the service port (agent/xds/listeners.go,
    # makePermissiveFilterChain), whatever ProxyDefaults says
    # (agent/configentry/resolve.go: a service's mode wins over proxy-defaults').
    spec: dict[str, Any] = {
        "protocol": protocol(svc),
        "mutualTLSMode": "permissive" if mesh.mtls == "PERMISSIVE" else "strict",
    }
    if overrides:
        spec["upstreamConfig"] = {"overrides": overrides}
    return new_object(
        API,
        "ServiceDefaults",
        metadata(mesh, "ServiceDefaults", svc.name, svc.namespace, svc.path),
        spec=spec,
    )


def _check(mesh: Mesh, report: Report) -> None:
    names: dict[str, str] = {}
    for svc in mesh.services:
        other = names.setdefault(svc.name, svc.path)
        if other != svc.path:
            report.error(
                f"{svc.path}.name",
                f"Consul CE has no namespaces: {svc.name!r} is the Consul service "
                f"{other} declares, and consul-k8s refuses a second config entry of "
                "that name",
            )
    for svc in mesh.services:
        for name in split_services(svc):
            if name in names:
                report.error(
                    f"{svc.path}.routes",
                    f"the splitter of a route would be named {name!r}, the service "
                    f"{names[name]} declares",
                )
        for i, version in enumerate(svc.versions):
            keys: dict[str, str] = {}
            for label in version.labels:
                problem = meta_key_problem(label)
                if problem is not None:
                    report.error(f"{svc.path}.versions[{i}].labels", problem)
                key = service_meta_key(label)
                if keys.setdefault(key, label) != label:
                    report.error(
                        f"{svc.path}.versions[{i}].labels",
                        f"labels {keys[key]!r} and {label!r} would share the catalog "
                        f"metadata key {key!r}",
                    )
        if protocol(svc) not in HTTP_PROTOCOLS and svc.routes:
            # A tcp chain takes no router or splitter (discoverychain compile.go,
            # enableAdvancedRoutingForProtocol): its connections go to the resolver.
            report.lossy(
                "services.routes.tcp",
                f"{svc.path}.routes",
                "not rendered: a tcp service's chain has no router or splitter",
            )
        elif protocol(svc) not in HTTP_PROTOCOLS and (svc.timeout or svc.retries):
            report.error(
                f"{svc.path}.ports[0].protocol",
                "Consul gives a service the protocol of its first port, the one "
                "consul-k8s registers, and routes, timeouts and retries need http, "
                "http2 or grpc there",
            )


def _report_lossy(mesh: Mesh, svc: Service, report: Report) -> None:
    first = svc.ports[0]
    for i, port in enumerate(svc.ports[1:], start=1):
        report.lossy(
            "services.ports.additional",
            f"{svc.path}.ports[{i}]",
            f"port {port.port} is not registered in Consul: mesh traffic to it reaches "
            f"targetPort {first.target_port}",
        )
    for route in svc.routes:
        if route.name:
            report.lossy(
                "services.routes.name",
                f"{route.path}.name",
                f"route name {route.name!r} was not rendered",
            )


class ConsulTarget:
    profile: ClassVar[Profile] = PROFILE

    def render(self, mesh: Mesh, options: RenderOptions, report: Report) -> list[Obj]:
        _check(mesh, report)
        name_clashes(mesh, report)
        report_unrendered(mesh, report)
        if mesh.trust_domain != DEFAULT_TRUST_DOMAIN:
            report.lossy("trustDomain", "spec.trustDomain", "not rendered")
        overrides = upstream_overrides(mesh, report)
        objects: list[Obj] = [_mesh_object(mesh), *namespace_objects(mesh, PROFILE.name)]
        for svc in mesh.services:
            _report_lossy(mesh, svc, report)
            if svc.manage_service:
                # Else the app's own Service (service.manage: false): consul-k8s reads
                # nothing from a Service but its name, selector and ports (the endpoints
                # controller registers its pods, named by the pod markers' annotations,
                # which meshc derives from the spec's selector and first port), and the
                # protocol comes from ServiceDefaults, so the same entries are exact.
                objects.append(service_object(mesh, svc))
            objects.append(
                _service_defaults(mesh, svc, overrides.get((svc.namespace, svc.name), []))
            )
            objects += service_intentions(mesh, svc, report)
            objects += resolver(mesh, svc)
            if protocol(svc) in HTTP_PROTOCOLS:
                objects += splitters(mesh, svc)
                objects += router(mesh, svc, report)
        objects += egress_objects(mesh, report)
        objects += ingress_objects(mesh, report)
        return objects


TARGET = ConsulTarget()
