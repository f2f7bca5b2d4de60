"""Who may call a service: one MeshTrafficPermission on its workloads that allows the
callers the spec allows and denies every other caller explicitly.

Kuma merges every MeshTrafficPermission that selects a workload, the more
specific top-level targetRef last, and within it the more specific ``from``
last (pkg/plugins/policies/core/rules). This one selects the service's pods
by their labels (kind Dataplane): more specific than a mesh-wide allow-all,
so its ``Mesh: Deny`` decides for every caller it does not allow, and a
broader allow elsewhere does not widen it.

A caller's identity under the Mesh's builtin CA is its Dataplane's tags
(kuma:// URIs in its certificate): k8s.kuma.io/namespace names its namespace
exactly; no tag names its service account. A permission admits a caller to
every inbound of the workload: a rule limited to some of the service's ports
has no exact form, and one that names them all is a rule without ports.

The ingress gateways that route to a service are callers of it too: a builtin
gateway's proxies are identified by their kuma.io/service tag
(ingress.service_tag), which a MeshSubset names exactly.
"""

from __future__ import annotations

from typing import Any

from meshc.providers.kuma import SERVICE_TAG

from ...model import Mesh, Service
from ...objects import Obj, new_object
from .. import Report
from .common import API, policy_metadata
from .ingress import gateway_callers

NAMESPACE_TAG = "k8s.kuma.io/namespace"


def traffic_permission(mesh: Mesh, svc: Service, report: Report) -> Obj | None:
    if not svc.allow:
        return None
    froms: list[dict[str, Any]] = []
    all_ports = {p.port for p in svc.ports}
    for rule in svc.allow:
        # A rule that opens every port of the service is one without ports.
        if rule.ports and set(rule.ports) != all_ports:
            feature = (
                "services.allow.ports.namedTargetPort"
                if any(isinstance(svc.target_port(p), str) for p in rule.ports)
                else "services.allow.ports"
            )
            report.lossy(
                feature,
                f"{rule.path}.ports",
                "the rule was not rendered: its callers are denied on every port",
            )
            continue
        if rule.from_service_accounts:
            report.lossy(
                "services.allow.fromServiceAccounts",
                f"{rule.path}.fromServiceAccounts",
                "not rendered: those callers are denied",
            )
        for ns in rule.from_namespaces:
            entry = {
                "targetRef": {"kind": "MeshSubset", "tags": {NAMESPACE_TAG: ns}},
                "default": {"action": "Allow"},
            }
            if entry not in froms:
                froms.append(entry)
    for tag, ports in gateway_callers(mesh, svc.namespace, svc.name):
        if ports != all_ports:
            report.lossy(
                "ingress.gateway.identity",
                f"{svc.path}.allow",
                f"the ingress gateway {tag} is admitted on every port of the service, "
                f"not only {', '.join(map(str, sorted(ports)))}",
            )
        froms.append(
            {
                "targetRef": {"kind": "MeshSubset", "tags": {SERVICE_TAG: tag}},
                "default": {"action": "Allow"},
            }
        )
    froms.append({"targetRef": {"kind": "Mesh"}, "default": {"action": "Deny"}})
    return new_object(
        API,
        "MeshTrafficPermission",
        policy_metadata(
            mesh, "MeshTrafficPermission", svc.name, svc.namespace, f"{svc.path}.allow"
        ),
        spec={
            "targetRef": {"kind": "Dataplane", "labels": dict(svc.selector)},
            "from": froms,
        },
    )
