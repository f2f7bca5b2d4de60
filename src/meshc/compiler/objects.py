"""What every rendered object has in common: metadata, source, order.

Renderers build objects only through :func:`metadata`, so the managed-by
label, the source annotation and the Argo CD sync wave are set in one place.
The wave of each kind comes from the provider profiles (namespaces first,
then what workloads and policies refer to, then routing); a kind no profile
declares is an error, not a guess. ``kubectl apply -f`` follows the same
order through document order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from meshc.providers import kind_wave

from .model import Mesh

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "meshc"
MESH_LABEL = "meshc.io/mesh"
SOURCE_ANNOTATION = "meshc.io/source"
SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"

Obj = dict[str, Any]


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
    meta["labels"] = dict(
        sorted({**(labels or {}), MANAGED_BY_LABEL: MANAGED_BY, MESH_LABEL: mesh.name}.items())
    )
    meta["annotations"] = dict(
        sorted(
            {
                **(annotations or {}),
                SOURCE_ANNOTATION: f"{mesh.source}#{path}",
                SYNC_WAVE_ANNOTATION: str(kind_wave(kind)),
            }.items()
        )
    )
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
