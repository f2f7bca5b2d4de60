"""What every Kuma object shares: the API version, the Mesh a policy belongs to, and
the MeshServices a service's traffic reaches."""

from __future__ import annotations

from typing import Any

from meshc.providers.kuma import MESH_LABEL, PROFILE

from ...model import Mesh, Service
from ...objects import Obj, metadata

API = "kuma.io/v1alpha1"


def kuma_mesh(mesh: Mesh) -> str:
    name: str = mesh.settings_for(PROFILE.name)["mesh"]
    return name


def policy_metadata(mesh: Mesh, kind: str, name: str, namespace: str, path: str) -> Obj:
    """A policy belongs to the Mesh its kuma.io/mesh label names (default when absent)."""
    return metadata(mesh, kind, name, namespace, path, labels={MESH_LABEL: kuma_mesh(mesh)})


def version_service(svc: Service, version: str) -> str:
    """The Service (and so the MeshService) of one version of ``svc``."""
    return f"{svc.name}-{version}"


def mesh_service(name: str, section: str | None = None) -> dict[str, Any]:
    # No namespace: the policy's own, which makes the policy a producer policy.
    ref: dict[str, Any] = {"kind": "MeshService", "name": name}
    if section is not None:
        ref["sectionName"] = section
    return ref


def destinations(svc: Service) -> list[dict[str, Any]]:
    """The MeshServices whose clusters carry the service's traffic: the service's own,
    which clients address, and each version's, which its routes send requests to."""
    names = [svc.name, *(version_service(svc, v.name) for v in svc.versions)]
    return [mesh_service(name) for name in names]
