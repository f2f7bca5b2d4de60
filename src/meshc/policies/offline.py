"""Admission, offline: what ``meshc check`` does to a manifest before the policies judge it.

``meshc check`` judges an object as the webhook would judge it once the API
server sent it, so it first does what admission does:

- the object is placed in a namespace: its own, else ``--namespace`` (as
  ``kubectl apply -n`` would), else ``default``, and the run says so;
- workloads and Namespaces in an exempt namespace are not judged, and mesh
  configuration in kube-system or the webhook's namespace: the chart's
  ``namespaceSelector`` of each entry never sends them to the webhook (mesh
  configuration is sent from every other namespace, Istio's root namespace
  istio-system among them, where mesh-wide policies live);
- a meshed Namespace gets what ``/mutate`` would add
  (:class:`~meshc.policies.mutation.NamespaceMutation`) before it is judged,
  and each addition is a notice: admission would admit it, but git should
  hold what runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .admission import Operation, admission_review, cluster_scoped
from .manifests import Manifest
from .mutation import NamespaceMutation, section_of
from .violations import Violation

# The policy id of a notice that the webhook's mutation changes a manifest.
MUTATION = "mutation"


@dataclass(frozen=True)
class Prepared:
    """One manifest as the webhook would receive it, or why it would not."""

    review: dict[str, Any] | None  # None: never sent to the webhook
    notices: tuple[Violation, ...] = ()
    exempt: str = ""  # the exempt namespace that kept it from the webhook
    defaulted: bool = False  # placed in the default namespace, the manifest naming none


@dataclass(frozen=True)
class OfflineAdmission:
    mutation: NamespaceMutation = field(default_factory=NamespaceMutation)
    exempt: frozenset[str] = frozenset()  # for workloads and Namespaces
    config_exempt: frozenset[str] = frozenset({"kube-system"})  # for mesh configuration
    namespace: str | None = None  # --namespace: where an object without one is placed

    @classmethod
    def of(cls, mesh: Any, namespace: str | None = None) -> OfflineAdmission:
        """For a loaded :class:`meshc.compiler.model.Mesh`."""
        return cls(NamespaceMutation.of(mesh), frozenset(mesh.admission.exempt_namespaces),
                   frozenset({"kube-system", mesh.admission.webhook_namespace}), namespace)

    @property
    def default_namespace(self) -> str:
        return self.namespace or "default"

    def prepare(self, manifest: Manifest, operation: Operation, uid: str) -> Prepared:
        if manifest.is_review:
            return Prepared(manifest.obj)
        obj = manifest.obj
        kind = str(obj.get("kind"))
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        scoped = cluster_scoped(kind)
        namespace = (str(meta.get("name") or "") if kind == "Namespace"
                     else "" if scoped else str(meta.get("namespace") or self.default_namespace))
        defaulted = not scoped and not meta.get("namespace")
        exempt = self.config_exempt if mesh_configuration(obj) else self.exempt
        if namespace in exempt:
            return Prepared(None, exempt=namespace, defaulted=defaulted)
        notices: tuple[Violation, ...] = ()
        if operation != "DELETE" and kind == "Namespace":
            added = self.mutation.additions(obj)
            if added["labels"] or added["annotations"]:
                obj = self.mutation.apply(obj)
                notices = tuple(_notices(namespace, added))
        review = admission_review(obj, operation, uid=uid, default_namespace=self.default_namespace)
        return Prepared(review, notices, defaulted=defaulted)


def _notices(name: str, added: Any) -> Iterable[Violation]:
    for section in ("labels", "annotations"):
        for key, value in section_of(added, section).items():
            yield Violation(
                policy=MUTATION, kind="Namespace", namespace="", name=name,
                path=f'metadata.{section}["{key}"]',
                problem=f'the webhook adds it at admission: "{value}"',
                fix="write it into the manifest, so that git holds what runs",
                mode="audit",
            )


def mesh_configuration(obj: dict[str, Any]) -> bool:
    """Whether ``obj`` is mesh configuration of any mesh (the chart's validate-config entry)."""
    groups, kinds = _mesh_configuration()
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group in groups or (group, str(obj.get("kind"))) in kinds


@functools.cache
def _mesh_configuration() -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """The groups, and the (group, kind) pairs, that are mesh configuration of any mesh."""
    from meshc import providers

    return (frozenset(providers.mesh_config_groups()),
            frozenset((group, kind) for group, kind, _ in providers.mesh_config_kinds()))
