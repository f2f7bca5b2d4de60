"""Core Kubernetes objects every target renders: meshed Namespaces and Services."""

from __future__ import annotations

from typing import Any

from meshc import providers

from .model import Mesh, Service
from .objects import Obj, metadata, new_object


def namespace_objects(mesh: Mesh, provider: str | None = None) -> list[Obj]:
    """The meshed Namespaces, marked for ``provider`` (default: spec.provider; a target
    rendered through --provider passes its own name)."""
    name = provider or mesh.provider
    markers = providers.get(name).namespace_markers(mesh.mtls, mesh.settings_for(name))
    return [
        new_object(
            "v1",
            "Namespace",
            metadata(
                mesh, "Namespace", ns.name, None, ns.path,
                labels={**ns.labels, **markers["labels"]},
                annotations={**ns.annotations, **markers["annotations"]},
            ),
        )
        for ns in mesh.namespaces
    ]


def service_object(mesh: Mesh, svc: Service, name: str | None = None,
                   selector: dict[str, str] | None = None, path: str | None = None,
                   annotations: dict[str, str] | None = None) -> Obj:
    """A core Service for ``svc`` (or one of its versions, with another name and selector)."""
    ports: list[dict[str, Any]] = []
    for p in svc.ports:
        port: dict[str, Any] = {"name": p.name, "port": p.port, "targetPort": p.target_port}
        if p.protocol != "http":
            port["appProtocol"] = {"http2": "kubernetes.io/h2c", "grpc": "kubernetes.io/h2c"}.get(
                p.protocol, p.protocol)
        ports.append(port)
    return new_object(
        "v1",
        "Service",
        metadata(mesh, "Service", name or svc.name, svc.namespace, path or svc.path,
                 annotations=annotations),
        spec={"selector": dict(selector or svc.selector), "ports": ports},
    )
