"""spec.ingress as Kuma's builtin gateway (kumahq/kuma v2.14.3): a MeshGatewayInstance
that runs the gateway's proxies, the MeshGateway that gives them listeners, and
MeshHTTPRoutes that target the MeshGateway.

- The MeshGatewayInstance lives where the gateway's pods run (the spec's gateway
  namespace) and is named after the entry: kuma-cp's controller creates a Deployment
  and a Service of that name there, pods that run as the spec's service account,
  and gives their proxies the kuma.io/service ``<name>_<namespace>_svc``
  (pkg/plugins/runtime/k8s/controllers/gateway_instance_controller.go). Its
  kuma.io/mesh label names the Mesh: kuma-cp reads the object's label before its
  namespace's (util.MeshOfByLabelOrAnnotation), so the namespace needs neither that
  label nor the injection label: the gateway's pods carry no sidecar and their
  Dataplane is built from the kuma.io/gateway annotation (pod_controller.go,
  reconcileBuiltinGatewayDataplane).
- The MeshGateway is cluster-scoped, ``<name>-<namespace>``, and selects those
  proxies by their kuma.io/service. Each listener host is a Kuma listener of its
  own: Kuma's listener has one hostname, and listeners that share a port must differ
  in it (pkg/core/resources/apis/mesh/gateway_validator.go). A listener's tag
  ``meshc.io/listener`` keeps the spec's listener name (a listener has no name; the
  routes carry no tags, so every listener takes them: sortRulesToHosts).
- Kuma accepts a MeshHTTPRoute (and a MeshTimeout) whose top-level targetRef is a
  MeshGateway or names such a route only in its system namespace
  (meshhttproute/api/v1alpha1/validation.go, validateTop: kind MeshGateway is
  supported for the system role alone), so the routes live in kuma-system. A route
  with its own timeout gets a MeshHTTPRoute of its own and a MeshTimeout naming it:
  Kuma gives that MeshTimeout's conf to the Envoy routes of the named MeshHTTPRoute's
  rules (core/rules/rules.go, buildToListWithRoutes; meshtimeout's applyToGateway).
"""

from __future__ import annotations

from typing import Any

from meshc.providers.kuma import MESH_LABEL, SERVICE_TAG, SYSTEM_NAMESPACE, gateway_service_tag

from ...model import Mesh
from ...model_traffic import Ingress, IngressRoute, Listener
from ...objects import Obj, metadata, new_object
from .. import Report, gatewayapi
from .common import API, kuma_mesh, policy_metadata
from .routing import KUMA, header_filters, rule_matches

# The tag that keeps a spec listener's name on its Kuma listeners.
LISTENER_TAG = "meshc.io/listener"
# A listener host that takes every host name: Kuma's wildcard hostname.
ANY_HOST = "*"
SERVICE_TYPE = "LoadBalancer"
REPLICAS = 1


def gateway_name(entry: Ingress) -> str:
    """The MeshGateway (cluster-scoped) and the routes of ``entry``."""
    return f"{entry.name}-{entry.namespace}"


def route_name(entry: Ingress, index: int) -> str:
    """The MeshHTTPRoute and MeshTimeout of a route with its own timeout."""
    return f"{gateway_name(entry)}-route-{index}"


def service_tag(entry: Ingress) -> str:
    return gateway_service_tag(entry.name, entry.gateway.namespace)


def _instance(mesh: Mesh, entry: Ingress) -> Obj:
    return new_object(
        API,
        "MeshGatewayInstance",
        policy_metadata(
            mesh,
            "MeshGatewayInstance",
            entry.name,
            entry.gateway.namespace,
            f"{entry.path}.gateway",
        ),
        spec={
            "replicas": REPLICAS,
            "serviceType": SERVICE_TYPE,
            "podTemplate": {"spec": {"serviceAccountName": entry.gateway.service_account}},
        },
    )


def _listener(listener: Listener, host: str, report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {
        "port": listener.port,
        "protocol": listener.protocol,
        "hostname": host,
        "tags": {LISTENER_TAG: listener.name},
    }
    if listener.tls_secret is not None:
        report.lossy(
            "ingress.listeners.tls",
            f"{listener.path}.tls.secretName",
            f"rendered as the Kuma Secret {listener.tls_secret!r}: Kuma's gateway reads "
            f"certificates from a Secret of type system.kuma.io/secret in {SYSTEM_NAMESPACE} "
            "(its value the PEM certificate chain, then the key), not from a "
            "kubernetes.io/tls Secret; create it, or kuma-cp builds no configuration for "
            "the gateway",
        )
        out["tls"] = {"mode": "TERMINATE", "certificates": [{"secret": listener.tls_secret}]}
    return out


def _gateway(mesh: Mesh, entry: Ingress, report: Report) -> Obj:
    obj = new_object(
        API,
        "MeshGateway",
        metadata(
            mesh,
            "MeshGateway",
            gateway_name(entry),
            None,
            entry.path,
            labels={MESH_LABEL: kuma_mesh(mesh)},
        ),
        spec={
            "selectors": [{"match": {SERVICE_TAG: service_tag(entry)}}],
            "conf": {
                "listeners": [
                    _listener(listener, host, report)
                    for listener in entry.listeners
                    for host in listener.hosts
                ]
            },
        },
    )
    # A cluster-scoped Kuma resource names its Mesh in a field of its own (the CRD's `mesh`);
    # the label is the one Kuma's defaulting webhook adds (labels.Compute).
    return {**{k: obj[k] for k in ("apiVersion", "kind")}, "mesh": kuma_mesh(mesh), **obj}


def _filters(route: IngressRoute, report: Report) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if route.headers is not None:
        out += header_filters(route.headers)
    if route.rewrite is not None:
        rewrite = gatewayapi.rewrite_filter(
            route.rewrite,
            route.matches,
            f"{route.path}.rewrite",
            KUMA,
            report,
            prefix_feature="ingress.routes.rewrite.prefix",
        )
        if rewrite is not None:
            out.append(rewrite)
    if route.redirect is not None:
        out.append(
            gatewayapi.redirect_filter(
                route.redirect,
                f"{route.path}.redirect",
                KUMA,
                report,
                feature="ingress.routes.redirect.statusCode",
            )
        )
    return out


def _rule(mesh: Mesh, route: IngressRoute, report: Report) -> dict[str, Any]:
    default: dict[str, Any] = {}
    filters = _filters(route, report)
    if filters:
        default["filters"] = filters
    backend = route.backend
    if route.redirect is None and backend is not None:
        svc = next(
            s
            for s in mesh.services
            if (s.namespace, s.name) == (backend.namespace, backend.service)
        )
        if svc.routes:
            report.lossy(
                "ingress.routes.serviceRoutes",
                f"{route.path}.backend",
                f"ingress requests go to every pod of {svc.path}, not by its routes: the "
                "gateway's routes are the MeshHTTPRoutes that target its MeshGateway",
            )
        # The route lives in kuma-system: the MeshService is named with its namespace.
        default["backendRefs"] = [
            {
                "kind": "MeshService",
                "name": backend.service,
                "namespace": backend.namespace,
                "port": backend.port,
            }
        ]
    return {"matches": rule_matches(route.matches), "default": default}


def _route(
    mesh: Mesh, entry: Ingress, name: str, path: str, routes: list[IngressRoute], report: Report
) -> Obj:
    return new_object(
        API,
        "MeshHTTPRoute",
        policy_metadata(mesh, "MeshHTTPRoute", name, SYSTEM_NAMESPACE, path),
        spec={
            "targetRef": {"kind": "MeshGateway", "name": gateway_name(entry)},
            "to": [
                {
                    "targetRef": {"kind": "Mesh"},
                    "rules": [_rule(mesh, r, report) for r in routes],
                }
            ],
        },
    )


def _timeout(mesh: Mesh, name: str, route: IngressRoute) -> Obj:
    # http.requestTimeout is Envoy's route timeout: the whole request.
    return new_object(
        API,
        "MeshTimeout",
        policy_metadata(mesh, "MeshTimeout", name, SYSTEM_NAMESPACE, f"{route.path}.timeout"),
        spec={
            "targetRef": {"kind": "MeshHTTPRoute", "name": name},
            "to": [
                {
                    "targetRef": {"kind": "Mesh"},
                    "default": {"http": {"requestTimeout": route.timeout}},
                }
            ],
        },
    )


def _report_order(entry: Ingress, report: Report) -> None:
    if len(entry.routes) > 1 and any(r.matches for r in entry.routes):
        report.lossy(
            "ingress.routes.match",
            f"{entry.path}.routes",
            "rules are rendered in spec order; Kuma's gateway orders them by specificity",
        )


def ingress_objects(mesh: Mesh, report: Report) -> list[Obj]:
    objects: list[Obj] = []
    for entry in mesh.ingress:
        _report_order(entry, report)
        objects += [_gateway(mesh, entry, report), _instance(mesh, entry)]
        shared = [r for r in entry.routes if r.timeout is None]
        if shared:
            objects.append(
                _route(mesh, entry, gateway_name(entry), f"{entry.path}.routes", shared, report)
            )
        for i, route in enumerate(entry.routes):
            if route.timeout is not None:
                name = route_name(entry, i)
                objects.append(_route(mesh, entry, name, route.path, [route], report))
                objects.append(_timeout(mesh, name, route))
    return objects


def gateway_callers(mesh: Mesh, namespace: str, name: str) -> list[tuple[str, set[int]]]:
    """The kuma.io/service of each ingress gateway that routes to service ``namespace/name``,
    with the Service ports its routes reach, in spec order."""
    found: dict[str, set[int]] = {}
    for entry in mesh.ingress:
        for route in entry.routes:
            b = route.backend
            if b is not None and (b.namespace, b.service) == (namespace, name):
                found.setdefault(service_tag(entry), set()).add(b.port)
    return list(found.items())
