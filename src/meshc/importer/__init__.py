"""``meshc import``: the mesh configuration a team already has, as one Mesh spec.

:func:`import_manifests` reads Kubernetes objects (Namespaces, Services, workloads and
each mesh's configuration) and builds the spec that renders them back: ``kube`` takes
the namespaces and services, then one module per source mesh (``istio``, ``gatewayapi``,
``linkerd``, ``kuma``, ``consul``) adds what its objects say, and :mod:`.finish` settles the draft into the
spec. Whatever the spec cannot say is a :class:`~.draft.Finding` (file:line, object,
field, why), carried by ``spec.overrides`` where the rendered object has a place for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meshc.policies.manifests import Manifest

from .draft import Draft, Finding


@dataclass
class Imported:
    """The spec (with its origin marks, see :mod:`.emit`) and what was left or noted."""

    spec: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    imported: int = 0  # objects taken exactly (or with overrides)
    malformed: list[str] = field(default_factory=list)  # bad input: file:line and why

    @property
    def left(self) -> list[Finding]:
        return [f for f in self.findings if not f.carried]

    @property
    def carried(self) -> list[Finding]:
        return [f for f in self.findings if f.carried]


def import_manifests(
    manifests: Sequence[Manifest],
    *,
    namespace: str = "default",
    name: str | None = None,
    provider: str | None = None,
) -> Imported:
    """The Mesh spec of ``manifests``; objects without a namespace are in ``namespace``."""
    from . import consul, finish, gatewayapi, istio, kube, kuma, linkerd
    from .inventory import Inventory

    inv = Inventory.of(manifests)
    draft = Draft(default_namespace=namespace, name=name or "")
    kube.namespaces(inv, draft)
    consul.mark_namespaces(draft)
    mesh_namespaces = {
        draft.namespace_of(s)
        for s in inv.sources
        if s.group in finish.mesh_groups() and s.kind != "Namespace"
    }
    kube.services(inv, draft, mesh_namespaces)
    linkerd.versions(inv, draft)
    istio.import_istio(inv, draft)
    gatewayapi.import_gateway_api(inv, draft)
    linkerd.import_linkerd(inv, draft)
    kuma.import_kuma(inv, draft)
    consul.import_consul(inv, draft)
    spec = finish.settle(inv, draft, provider)
    return Imported(spec, draft.findings, draft.notes, draft.imported, draft.malformed)
