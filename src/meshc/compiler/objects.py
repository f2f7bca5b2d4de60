"""What every rendered object has in common: metadata, source, order.

Renderers build objects only through :func:`metadata`, so the managed-by
label, the source annotation and the Argo CD sync wave are set in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .model import Mesh

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "meshc"
MESH_LABEL = "meshc.io/mesh"
SOURCE_ANNOTATION = "meshc.io/source"
SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"

# Apply order: namespaces, then workload-facing objects and security policy,
# then routing that refers to them. Argo CD follows the same order through
# sync waves; `kubectl apply -f` follows it through document order.
_KIND_ORDER: dict[str, int] = {
    "Namespace": 0,
    "Service": 1,
    "PeerAuthentication": 1,
    "Server": 1,
    "MeshTLSAuthentication": 1,
    "AuthorizationPolicy": 1,
    "DestinationRule": 2,
    "ServiceProfile": 2,
    "VirtualService": 2,
    "TrafficSplit": 2,
    "HTTPRoute": 2,
}

Obj = dict[str, Any]


def kind_wave(kind: str) -> int:
    return _KIND_ORDER.get(kind, 3)


def metadata(
    mesh: Mesh,
    kind: str,
    name: str,
    namespace: str | None,
    path: str,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(sorted({**(labels or {}), MANAGED_BY_LABEL: MANAGED_BY,
                                  MESH_LABEL: mesh.name}.items()))
    meta["annotations"] = dict(sorted({
        **(annotations or {}),
        SOURCE_ANNOTATION: f"{mesh.source}#{path}",
        SYNC_WAVE_ANNOTATION: str(kind_wave(kind)),
    }.items()))
    return meta


def new_object(api_version: str, kind: str, meta: Obj, **body: Any) -> Obj:
    # Kubernetes' conventional key order: apiVersion, kind, metadata, then the body.
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def sort_objects(objects: Iterable[Obj]) -> list[Obj]:
    return sorted(
        objects,
        key=lambda o: (
            kind_wave(o["kind"]),
            o["kind"],
            o["metadata"].get("namespace", ""),
            o["metadata"]["name"],
        ),
    )


def object_ref(obj: Obj) -> str:
    ns = obj["metadata"].get("namespace")
    name = obj["metadata"]["name"]
    return f"{obj['kind']} {ns}/{name}" if ns else f"{obj['kind']} {name}"
