"""Hand-written manifests that collide with what the spec renders (``meshc check --spec``).

A team that adopts meshc already has Services, Namespaces and some routing
in its repository. Two kinds of collision are reported, each as a finding
that names both places, the manifest's line and the spec field the rendered
object comes from (its ``meshc.io/source``):

- the same object: a manifest of the kind, namespace and name of an object
  meshc renders. Two sources of one object overwrite each other on every
  sync (and Argo CD reports a shared resource);
- the same key: an object the mesh's control plane stores under another key
  than its kind, namespace and name (``Profile.stored_as``), stored as one meshc
  renders. Consul CE keeps one config entry per kind and name, whatever the
  Kubernetes namespace, and a ServiceIntentions is its destination's;
- the same host: routing (a VirtualService applied to meshed clients, an
  HTTPRoute or GRPCRoute whose parent is a Service, a TrafficSplit) for a
  service the spec routes, or a DestinationRule whose subsets or top-level
  traffic policy meet the one meshc renders. Istio does not merge two
  VirtualServices for one host (``istioctl analyze`` IST0109), and merges
  DestinationRules only by keeping the older rule's subset of a name and its
  traffic policy (pilot/pkg/model/destination_rule.go, mergeDestinationRule).

meshc's own output (labelled ``app.kubernetes.io/managed-by: meshc`` for
this mesh) is never a collision: CI checks the rendered directory too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from meshc import providers

from .admission import cluster_scoped
from .manifests import Manifest
from .report import Finding
from .violations import Violation

POLICY = "spec-conflict"
CLUSTER_DOMAIN_SUFFIX = ".svc.cluster.local"
ROUTES = {
    ("networking.istio.io", "VirtualService"),
    ("gateway.networking.k8s.io", "HTTPRoute"),
    ("gateway.networking.k8s.io", "GRPCRoute"),
    ("split.smi-spec.io", "TrafficSplit"),
}
DESTINATIONS = {("networking.istio.io", "DestinationRule")}

Obj = dict[str, Any]


@dataclass(frozen=True)
class Routed:
    """A service (namespace, name) an object routes or sets a destination policy for."""

    family: str  # "routes" | "destinations"
    service: tuple[str, str]
    path: str  # the field of the object that names it


def find_conflicts(
    mesh: Any,
    rendered: Sequence[Obj],
    manifests: Sequence[Manifest],
    default_namespace: str = "default",
) -> list[Finding]:
    """Every collision between ``manifests`` and ``rendered`` (the spec's objects)."""
    known = set(mesh.meshed_namespaces) | set(mesh.admission.allowed_namespaces)
    by_identity = {_identity(o, ""): o for o in rendered}
    profile = providers.get(mesh.provider)
    by_key: dict[str, Obj] = {}
    for obj in rendered:
        stored = profile.stored_as(obj)
        if stored is not None:
            by_key.setdefault(stored.key, obj)
    by_service: dict[tuple[str, tuple[str, str]], list[Obj]] = {}
    for obj in rendered:
        for routed in routed_services(obj, str(obj["metadata"].get("namespace", "")), known):
            by_service.setdefault((routed.family, routed.service), []).append(obj)
    findings: list[Finding] = []
    for m in manifests:
        if m.is_review or _meshcs_own(m.obj, mesh.name):
            continue
        obj = m.obj
        namespace = (
            ""
            if cluster_scoped(str(obj.get("kind")))
            else str((obj.get("metadata") or {}).get("namespace") or default_namespace)
        )
        same = by_identity.get(_identity(obj, namespace))
        if same is not None:
            findings.append(
                _finding(
                    m,
                    obj,
                    namespace,
                    "metadata.name",
                    f"is an object meshc renders from the spec ({_where(mesh, same)}): "
                    "two sources of one object overwrite each other on every sync",
                    _identity_fix(same),
                    same,
                )
            )
            continue
        stored = profile.stored_as(obj)
        other = by_key.get(stored.key) if stored is not None else None
        if stored is not None and other is not None:
            findings.append(
                _finding(
                    m,
                    obj,
                    namespace,
                    stored.path,
                    f"is stored as {stored.key}, as an object meshc renders from the spec is "
                    f"({_where(mesh, other)}): {stored.why}",
                    _identity_fix(other),
                    other,
                )
            )
            continue
        for routed in routed_services(obj, namespace, known):
            for other in by_service.get((routed.family, routed.service), []):
                if routed.family == "destinations" and not _subsets_meet(obj, other):
                    continue
                findings.append(
                    _finding(
                        m,
                        obj,
                        namespace,
                        routed.path,
                        _host_problem(routed, other, mesh),
                        _host_fix(routed, other),
                        other,
                    )
                )
    return findings


def _meshcs_own(obj: Obj, mesh_name: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(
        labels.get("app.kubernetes.io/managed-by") == "meshc"
        and labels.get("meshc.io/mesh") == mesh_name
    )


def _identity(obj: Obj, namespace: str) -> tuple[str, str, str, str]:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    meta = obj.get("metadata") or {}
    return (
        group,
        str(obj.get("kind")),
        namespace or str(meta.get("namespace", "")),
        str(meta.get("name", "")),
    )


def _where(mesh: Any, obj: Obj) -> str:
    """``Kind ns/name from mesh.yaml#spec.services[0], mesh.yaml:12``."""
    meta = obj["metadata"]
    source = str((meta.get("annotations") or {}).get("meshc.io/source", ""))
    ref = (
        f"{obj['kind']} {meta['namespace']}/{meta['name']}"
        if meta.get("namespace")
        else f"{obj['kind']} {meta['name']}"
    )
    spec_file, _, path = source.partition("#")
    line, _ = mesh.locate(path) if path else (0, 0)
    return f"{ref} from {source}, {spec_file}:{line}" if line else f"{ref} from {source}"


def _identity_fix(rendered: Obj) -> str:
    if rendered["kind"] == "Service":
        return (
            "remove this manifest and let the spec render it, or keep it and set "
            "service: {manage: false} on the spec's service"
        )
    if rendered["kind"] == "Namespace":
        return "remove this manifest and let the spec render it, or keep it and set manage: false on the spec's namespace"
    return "remove this manifest and express it in the spec (or as a spec.overrides patch)"


def _host_problem(routed: Routed, rendered: Obj, mesh: Any) -> str:
    service = f"{routed.service[1]}.{routed.service[0]}"
    if routed.family == "routes":
        why = (
            (
                "Istio does not merge two routes for one host: one of them is ignored (istioctl "
                "analyze IST0109)"
            )
            if rendered["kind"] == "VirtualService"
            or rendered["apiVersion"].startswith("networking.istio.io")
            else "two routes for one Service: the mesh applies one of them"
        )
        return f"routes {service}, which the spec routes too ({_where(mesh, rendered)}): {why}"
    return (
        f"sets subsets or a traffic policy for {service}, as the spec does ({_where(mesh, rendered)}): "
        "Istio keeps the older rule's subset of a name and its traffic policy, and drops the other"
    )


def _host_fix(routed: Routed, rendered: Obj) -> str:
    return (
        (
            "remove it and express its routing in the spec's service, or take the service's routes "
            "out of the spec"
        )
        if routed.family == "routes"
        else ("remove it and express its subsets and traffic policy in the spec's service")
    )


def _finding(
    m: Manifest, obj: Obj, namespace: str, path: str, problem: str, fix: str, rendered: Obj
) -> Finding:
    meta = obj.get("metadata") or {}
    source = str((rendered["metadata"].get("annotations") or {}).get("meshc.io/source", ""))
    violation = Violation(
        POLICY,
        str(obj.get("kind")),
        namespace,
        str(meta.get("name", "")),
        path,
        problem,
        fix,
        source=source,
    )
    return Finding(m.file, m.line_of(path), violation)


def _subsets_meet(obj: Obj, rendered: Obj) -> bool:
    mine, theirs = obj.get("spec") or {}, rendered.get("spec") or {}
    names = {s.get("name") for s in theirs.get("subsets") or [] if isinstance(s, dict)}
    if any(isinstance(s, dict) and s.get("name") in names for s in mine.get("subsets") or []):
        return True
    return bool(mine.get("trafficPolicy")) and bool(theirs.get("trafficPolicy"))


# --- what a routing object names ----------------------------------------------------------


def routed_services(obj: Obj, namespace: str, known: set[str]) -> Iterator[Routed]:
    """The services ``obj`` routes (or sets destination policy for), each with its field."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = str(obj.get("kind"))
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    if (group, kind) == ("networking.istio.io", "VirtualService"):
        gateways = spec.get("gateways") or []
        if gateways and "mesh" not in gateways:
            return  # applies to gateways only, not to meshed clients
        for i, host in enumerate(spec.get("hosts") or []):
            service = host_service(str(host), namespace, known)
            if service is not None:
                yield Routed("routes", service, f"spec.hosts[{i}]")
    elif (group, kind) in DESTINATIONS:
        service = host_service(str(spec.get("host", "")), namespace, known)
        if service is not None:
            yield Routed("destinations", service, "spec.host")
    elif (group, kind) in ROUTES and kind != "TrafficSplit":
        for i, ref in enumerate(spec.get("parentRefs") or []):
            if (
                isinstance(ref, dict)
                and ref.get("kind") == "Service"
                and ref.get("group", "") in ("", "core")
            ):
                yield Routed(
                    "routes",
                    (str(ref.get("namespace") or namespace), str(ref.get("name"))),
                    f"spec.parentRefs[{i}]",
                )
    elif kind == "TrafficSplit" and spec.get("service"):
        service = host_service(str(spec["service"]), namespace, known)
        if service is not None:
            yield Routed("routes", service, "spec.service")


def host_service(host: str, namespace: str, known: set[str]) -> tuple[str, str] | None:
    """(namespace, name) of the cluster Service a host names, or None (external, wildcard)."""
    if "*" in host or not host:
        return None
    name = host.removesuffix(".cluster.local") if host.endswith(CLUSTER_DOMAIN_SUFFIX) else host
    parts = name.split(".")
    if len(parts) == 1:
        return (namespace, parts[0])
    if len(parts) == 2 and parts[1] in known:
        return (parts[1], parts[0])
    if len(parts) == 3 and parts[2] == "svc":
        return (parts[1], parts[0])
    return None
