"""Ambient namespaces: ztunnel for mTLS and L4 authorization, waypoints where L7 needs them.

What needs a waypoint: anything ztunnel (an L4 proxy) cannot do — routes, splits, matches,
timeouts, retries and the DestinationRule's connection pool and outlier detection, which
only an Envoy applies. Such a service gets a waypoint (a Gateway of class istio-waypoint, per
namespace or per service: spec.istio.waypoints) and the istio.io/use-waypoint label on its
Service (istio/istio pilot/pkg/serviceregistry/ambient/waypoints.go, fetchWaypointForService:
the Service's own label, then its namespace's). The label goes on the Service, not the
namespace: a namespace label would send every service of the namespace through the
waypoint, and ztunnel would then see the waypoint's identity instead of the caller's in the
L4 rules of services that have no waypoint.

Authorization: ztunnel enforces AuthorizationPolicies that select workloads and name only
sources (principals, namespaces) and ports; an L7 attribute there makes ztunnel deny
everything the rule was meant to allow. Behind a waypoint, ztunnel sees the waypoint as the
caller, so a service with a waypoint gets its allow rules at the waypoint (targetRefs: the
Service, with Service ports: pilot/pkg/networking/core/listener_waypoint.go keys the
waypoint's chains by Service port) and, at ztunnel, a rule admitting only its waypoint (and
the ingress gateways, which send to the workload directly). Every policy is either L4 with a
selector or attached to a rendered waypoint (tests/compiler/test_istio_ambient.py proves it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshc.providers.istio import (
    NAMESPACE_WAYPOINT,
    REVISION_LABEL,
    WAYPOINT_CLASS,
    WAYPOINT_FOR_LABEL,
)

from ...model import Mesh, Service
from ...objects import SYNC_WAVE_ANNOTATION, Obj, metadata, new_object
from .. import Report, gatewayapi
from . import httproutes

HBONE_PORT = 15008
WAYPOINT_WAVE = 0


def needs_waypoint(svc: Service) -> bool:
    return bool(
        httproutes.needs_routes(svc)
        or svc.connection_pool is not None
        or svc.outlier_detection is not None
    )


@dataclass(frozen=True)
class Waypoint:
    name: str
    namespace: str
    path: str  # the spec field it is rendered for


def plan(mesh: Mesh) -> dict[tuple[str, str], Waypoint]:
    """The waypoint of each service that needs one, by (namespace, service name)."""
    per_service = mesh.settings_for("istio").get("waypoints") == "service"
    found = {}
    for svc in mesh.services:
        if mesh.dataplane_of(svc.namespace) != "ambient" or not needs_waypoint(svc):
            continue
        name = f"{svc.name}-waypoint" if per_service else NAMESPACE_WAYPOINT
        ns_path = next(ns.path for ns in mesh.namespaces if ns.name == svc.namespace)
        found[(svc.namespace, svc.name)] = Waypoint(
            name, svc.namespace, svc.path if per_service else ns_path
        )
    return found


def waypoint_objects(mesh: Mesh, waypoints: dict[tuple[str, str], Waypoint]) -> list[Obj]:
    """One Gateway per waypoint, as `istioctl waypoint generate` writes it
    (istioctl/pkg/waypoint/waypoint.go): the mesh listener on HBONE port 15008, for
    Service traffic, served by the namespace's revision when the spec names one."""
    objects = []
    seen: set[tuple[str, str]] = set()
    revisions = {ns.name: ns.revision for ns in mesh.namespaces}
    for wp in waypoints.values():
        if (wp.namespace, wp.name) in seen:
            continue
        seen.add((wp.namespace, wp.name))
        labels = {WAYPOINT_FOR_LABEL: "service"}
        revision = revisions.get(wp.namespace)
        if revision:
            labels[REVISION_LABEL] = revision
        meta = metadata(mesh, "Gateway", wp.name, wp.namespace, wp.path, labels=labels)
        # Before the Service that names it (wave 1): until the waypoint exists Istio sends the
        # Service's traffic around it, and ztunnel's rule admits only the waypoint (Istio's
        # migration order: waypoint first, then policies, then the label).
        meta["annotations"][SYNC_WAVE_ANNOTATION] = str(WAYPOINT_WAVE)
        objects.append(
            new_object(
                gatewayapi.V1,
                "Gateway",
                meta,
                spec={
                    "gatewayClassName": WAYPOINT_CLASS,
                    "listeners": [{"name": "mesh", "port": HBONE_PORT, "protocol": "HBONE"}],
                },
            )
        )
    return objects


def check_names(mesh: Mesh, waypoints: dict[tuple[str, str], Waypoint], report: Report) -> None:
    """A waypoint's Deployment and Service take its name: no spec service may have it."""
    names = {(wp.namespace, wp.name) for wp in waypoints.values()}
    for svc in mesh.services:
        if (svc.namespace, svc.name) in names:
            report.error(
                f"{svc.path}.name",
                f"the waypoint of namespace {svc.namespace!r} is named {svc.name!r}, "
                "and its Service would collide with this one; rename the service or "
                "set spec.istio.waypoints: service",
            )


def principal(mesh: Mesh, wp: Waypoint) -> str:
    return f"{mesh.trust_domain}/ns/{wp.namespace}/sa/{wp.name}"


def waypoint_policies(
    mesh: Mesh,
    svc: Service,
    wp: Waypoint,
    sec: str,
    rules: list[dict[str, Any]],
    gateway_rules: list[dict[str, Any]],
) -> list[Obj]:
    """The allow rules of a service behind a waypoint: at the waypoint (targetRefs: the
    Service), and at ztunnel only the waypoint and the ingress gateways."""
    target = {"group": "", "kind": "Service", "name": svc.name}
    at_waypoint = new_object(
        sec,
        "AuthorizationPolicy",
        metadata(
            mesh, "AuthorizationPolicy", f"{svc.name}-allow", svc.namespace, f"{svc.path}.allow"
        ),
        spec={"targetRefs": [target], "action": "ALLOW", "rules": rules},
    )
    at_ztunnel = new_object(
        sec,
        "AuthorizationPolicy",
        metadata(
            mesh, "AuthorizationPolicy", f"{svc.name}-allow-l4", svc.namespace, f"{svc.path}.allow"
        ),
        spec={
            "selector": {"matchLabels": dict(svc.selector)},
            "action": "ALLOW",
            "rules": [
                {"from": [{"source": {"principals": [principal(mesh, wp)]}}]},
                *gateway_rules,
            ],
        },
    )
    return [at_waypoint, at_ztunnel]
