"""Core Kubernetes objects every target renders: meshed Namespaces and Services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshc import providers
from meshc.providers import Markers

from .model import Mesh, Service
from .objects import Obj, metadata, new_object

SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"
# A Namespace holds every workload in it: a sync never prunes one that left
# the spec, and deleting the Application leaves it in place (Argo CD's
# resource-level sync options, docs/user-guide/sync-options.md).
NAMESPACE_SYNC_OPTIONS = "Prune=false,Delete=false"


def sync_options(annotations: Mapping[str, str]) -> str:
    """A rendered Namespace's sync options: the spec's own (spec.namespaces[].annotations),
    then Prune=false and Delete=false (validation refuses a spec that sets either)."""
    given = [o.strip() for o in annotations.get(SYNC_OPTIONS_ANNOTATION, "").split(",")]
    return ",".join([*(o for o in given if o), NAMESPACE_SYNC_OPTIONS])


def namespace_markers(mesh: Mesh, provider: str | None = None) -> dict[str, Markers]:
    """Each meshed namespace's injection markers for ``provider`` (default: spec.provider),
    rendered or not: what the renderer writes and the mutating webhook adds."""
    profile = providers.get(provider or mesh.provider)
    return {ns.name: profile.namespace_markers(mesh, ns) for ns in mesh.namespaces}


def namespace_objects(mesh: Mesh, provider: str | None = None) -> list[Obj]:
    """The meshed Namespaces meshc owns (``manage`` true), marked for ``provider`` (default:
    spec.provider; a target rendered through --provider passes its own name)."""
    markers = namespace_markers(mesh, provider)
    return [
        new_object(
            "v1",
            "Namespace",
            metadata(
                mesh,
                "Namespace",
                ns.name,
                None,
                ns.path,
                labels={**ns.labels, **markers[ns.name]["labels"]},
                annotations={
                    **ns.annotations,
                    **markers[ns.name]["annotations"],
                    SYNC_OPTIONS_ANNOTATION: sync_options(ns.annotations),
                },
            ),
        )
        for ns in mesh.namespaces
        if ns.manage
    ]


def service_object(
    mesh: Mesh,
    svc: Service,
    name: str | None = None,
    selector: dict[str, str] | None = None,
    path: str | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    """A core Service for ``svc`` (or one of its versions, with another name and selector)."""
    ports: list[dict[str, Any]] = []
    for p in svc.ports:
        port: dict[str, Any] = {"name": p.name, "port": p.port, "targetPort": p.target_port}
        if p.protocol != "http":
            port["appProtocol"] = {"http2": "kubernetes.io/h2c", "grpc": "kubernetes.io/h2c"}.get(
                p.protocol, p.protocol
            )
        ports.append(port)
    return new_object(
        "v1",
        "Service",
        metadata(
            mesh,
            "Service",
            name or svc.name,
            svc.namespace,
            path or svc.path,
            labels=labels,
            annotations=annotations,
        ),
        spec={"selector": dict(selector or svc.selector), "ports": ports},
    )
