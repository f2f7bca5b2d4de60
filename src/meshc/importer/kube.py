"""Namespaces and Services: the spec's namespaces and services, before any mesh object
adds routes, versions or policy to them.

A Namespace's injection markers (from every provider profile) say it is meshed and, on
Istio, which revision injects it; meshc's own labels and annotations (a render read
back) are dropped; every other label and annotation stays on the spec's namespace. A
Service becomes a spec service with its selector and ports; what the spec does not say
about a Service (its type, its own labels) is carried by an override of the rendered
Service.
"""

from __future__ import annotations

from typing import Any

from meshc import providers
from meshc.compiler.core import NAMESPACE_SYNC_OPTIONS, SYNC_OPTIONS_ANNOTATION
from meshc.compiler.objects import (
    MANAGED_BY_LABEL,
    MESH_LABEL,
    SOURCE_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
)
from meshc.compiler.targets.kuma import APP_PROTOCOL as KUMA_APP_PROTOCOL
from meshc.providers.istio import AMBIENT, DATAPLANE_MODE_LABEL, REVISION_LABEL, USE_WAYPOINT_LABEL

from .draft import Draft, Part, Source, origin
from .inventory import Inventory

MESHC_LABELS = (MANAGED_BY_LABEL, MESH_LABEL)
MESHC_ANNOTATIONS = (SOURCE_ANNOTATION, SYNC_WAVE_ANNOTATION, "meshc.io/overridden")
# appProtocol values meshc writes for the spec's protocols (compiler/core.py, service_object;
# the Kuma target's own, which Kuma reads).
_APP_PROTOCOLS = {
    "kubernetes.io/h2c": "http2",
    "http": "http",
    "tcp": "tcp",
    "kubernetes.io/ws": "http",
    "grpc": "grpc",
    **{kuma: spec for spec, kuma in KUMA_APP_PROTOCOL.items()},
}
_NAME_PREFIXES = (("grpc", "grpc"), ("http2", "http2"), ("tcp", "tcp"), ("http", "http"))
# Service fields the spec says (or that the API server sets) and need no override.
_SERVICE_FIELDS = {
    "selector",
    "ports",
    "clusterIP",
    "clusterIPs",
    "ipFamilies",
    "ipFamilyPolicy",
    "internalTrafficPolicy",
    "sessionAffinity",
}
_DEFAULTS = {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"}


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def injection(src: Source) -> tuple[str, str] | None:
    """(provider, marker) of the first profile whose injection keys the Namespace carries."""
    for profile in providers.all_profiles():
        for where, keys in profile.injection_keys.items():
            values = _strings(src.meta.get(where))
            for key in keys:
                if key in values:
                    return profile.name, f"{key}={values[key]}"
    return None


def namespaces(inv: Inventory, draft: Draft) -> None:
    marker_keys = {
        (where, key)
        for p in providers.all_profiles()
        for where, keys in p.injection_keys.items()
        for key in keys
    }
    for src in inv.kind("Namespace", ""):
        with draft.guard(src):
            _namespace(draft, src, marker_keys)


def _namespace(draft: Draft, src: Source, marker_keys: set[tuple[str, str]]) -> None:
    labels = _strings(src.meta.get("labels"))
    annotations = _strings(src.meta.get("annotations"))
    if labels.get(MESH_LABEL) and not draft.name:
        draft.name = labels[MESH_LABEL]
    part: Part = {"name": src.name}
    origin(part, src)
    marker = injection(src)
    part["_marker"] = marker
    if labels.get(REVISION_LABEL):
        part["revision"] = labels[REVISION_LABEL]
    if labels.get(DATAPLANE_MODE_LABEL) == AMBIENT:
        part["_dataplane"] = AMBIENT  # spec.dataplane or its own: finish.settle decides
    kept_labels = {
        k: v
        for k, v in labels.items()
        if k not in MESHC_LABELS and ("labels", k) not in marker_keys
    }
    kept = {
        k: v
        for k, v in annotations.items()
        if k not in MESHC_ANNOTATIONS and ("annotations", k) not in marker_keys
    }
    options = [
        o.strip()
        for o in kept.pop(SYNC_OPTIONS_ANNOTATION, "").split(",")
        if o.strip() and o.strip() not in NAMESPACE_SYNC_OPTIONS.split(",")
    ]
    if options:
        kept[SYNC_OPTIONS_ANNOTATION] = ",".join(options)
    if kept_labels:
        part["labels"] = kept_labels
    if kept:
        part["annotations"] = kept
    draft.namespaces[src.name] = part
    draft.imported += 1


def in_scope(draft: Draft, namespace: str, mesh_namespaces: set[str]) -> bool:
    """A namespace's Services are imported unless its Namespace object is given without an
    injection marker and no mesh object lives there."""
    part = draft.namespaces.get(namespace)
    return part is None or part.get("_marker") is not None or namespace in mesh_namespaces


def _protocol(port: dict[str, Any]) -> str | None:
    app = port.get("appProtocol")
    name = str(port.get("name", ""))
    if isinstance(app, str):
        found = _APP_PROTOCOLS.get(app)
        if found == "http2" and name.startswith("grpc"):
            return "grpc"
        return found
    for prefix, protocol in _NAME_PREFIXES:
        if name == prefix or name.startswith(prefix + "-"):
            return protocol
    return "http"


def services(inv: Inventory, draft: Draft, mesh_namespaces: set[str]) -> None:
    for src in inv.kind("Service", ""):
        namespace = draft.namespace_of(src)
        if not in_scope(draft, namespace, mesh_namespaces):
            draft.notes.append(
                f"{src.at()}: {src.ref}: not imported: Namespace {namespace} is "
                "not meshed (no injection marker) and holds no mesh object"
            )
            continue
        with draft.guard(src):
            _service(draft, src, namespace)


def _service(draft: Draft, src: Source, namespace: str) -> None:
    spec = src.spec
    selector = _strings(spec.get("selector"))
    if not selector:
        draft.lose(
            src,
            "spec.selector",
            "a Service without a selector (its endpoints are "
            "managed by hand, or it is an ExternalName): the spec's services select "
            "pods; not imported",
        )
        return
    part: Part = {"name": src.name, "namespace": namespace, "selector": selector, "ports": []}
    origin(part, src)
    extra_ports = False
    for i, raw in enumerate(spec.get("ports") or []):
        if not isinstance(raw, dict) or not isinstance(raw.get("port"), int):
            draft.lose(src, f"spec.ports[{i}]", "a port without a number; not imported")
            continue
        if str(raw.get("protocol", "TCP")) != "TCP":
            draft.lose(
                src,
                f"spec.ports[{i}].protocol",
                f"{raw['protocol']}: the spec's "
                "ports are TCP (HTTP, HTTP/2, gRPC or opaque); not imported",
            )
            continue
        protocol = _protocol(raw)
        port: Part = {
            "name": str(raw.get("name") or f"port-{raw['port']}"),
            "port": raw["port"],
            "targetPort": raw.get("targetPort", raw["port"]),
        }
        if protocol is None:
            protocol = "tcp"
            extra_ports = True
        if protocol != "http":
            port["protocol"] = protocol
        if set(raw) - {"name", "port", "targetPort", "protocol", "appProtocol"} or (
            not raw.get("name")
        ):
            extra_ports = True
        part["ports"].append(port)
    if not part["ports"]:
        draft.lose(src, "spec.ports", "a Service without a TCP port; not imported")
        return
    merge: dict[str, Any] = {}
    extra = {
        k: v
        for k, v in spec.items()
        if k not in _SERVICE_FIELDS
        and _DEFAULTS.get(k) != v
        and k != "type"
        or (k == "type" and v != "ClusterIP")
    }
    if spec.get("clusterIP") == "None":
        extra["clusterIP"] = "None"
    if extra_ports:
        extra["ports"] = spec.get("ports")
    if extra:
        merge["spec"] = extra
    labels = {k: v for k, v in _strings(src.meta.get("labels")).items() if k not in MESHC_LABELS}
    if USE_WAYPOINT_LABEL in labels:
        # The waypoint Istio sends the Service's traffic through: meshc's own (see
        # istio.waypoints), read there.
        part["_waypoint"] = (src, labels.pop(USE_WAYPOINT_LABEL))
    if labels:
        merge.setdefault("metadata", {})["labels"] = labels
    annotations = {
        k: v for k, v in _strings(src.meta.get("annotations")).items() if k not in MESHC_ANNOTATIONS
    }
    if annotations:
        part["_annotations"] = annotations  # the mesh importers take theirs first
    part["_merge"] = (src, merge)
    draft.services[(namespace, src.name)] = part
    draft.imported += 1
