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
  and so does a Pod being created, for a mesh whose injector reads the pod's
  own annotations (Consul: :func:`~meshc.policies.mutation.with_pod_markers`);
  each addition is a notice: admission would admit it, but git should hold
  what runs. A workload's pod template is judged as written, as the webhook
  judges it: the markers reach its pods when they are created.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from meshc.providers import Markers, PodMarkers

from .admission import Operation, admission_review, cluster_scoped
from .manifests import Manifest
from .mutation import NamespaceMutation, pod_markers_of, section_of, with_pod_markers
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
    pod_markers: tuple[PodMarkers, ...] = ()  # what /mutate writes on a new Pod

    @classmethod
    def of(cls, mesh: Any, namespace: str | None = None) -> OfflineAdmission:
        """For a loaded :class:`meshc.compiler.model.Mesh`."""
        return cls(
            NamespaceMutation.of(mesh),
            frozenset(mesh.admission.exempt_namespaces),
            frozenset({"kube-system", mesh.admission.webhook_namespace}),
            namespace,
            pod_markers_of(mesh),
        )

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
        namespace = (
            str(meta.get("name") or "")
            if kind == "Namespace"
            else ""
            if scoped
            else str(meta.get("namespace") or self.default_namespace)
        )
        defaulted = not scoped and not meta.get("namespace")
        exempt = self.config_exempt if mesh_configuration(obj) else self.exempt
        if namespace in exempt:
            return Prepared(None, exempt=namespace, defaulted=defaulted)
        notices: tuple[Violation, ...] = ()
        if operation != "DELETE" and kind == "Namespace":
            added = self.mutation.additions(obj)
            if added["labels"] or added["annotations"]:
                obj = self.mutation.apply(obj)
                notices = tuple(_notices("Namespace", "", namespace, added))
        elif (
            operation == "CREATE"
            and kind == "Pod"
            and obj.get("apiVersion") == "v1"
            and self.pod_markers
        ):
            marked = with_pod_markers(obj, namespace, self.pod_markers)
            if marked != obj:
                notices = tuple(_pod_notices(namespace, str(meta.get("name") or ""), obj, marked))
                obj = marked
        review = admission_review(obj, operation, uid=uid, default_namespace=self.default_namespace)
        return Prepared(review, notices, defaulted=defaulted)


def _pod_notices(
    namespace: str, name: str, before: dict[str, Any], after: dict[str, Any]
) -> Iterable[Violation]:
    """The annotations the pod markers add, change (a copied label's value) or remove (the
    copy of a label the pod lacks)."""
    old = (before.get("metadata") or {}).get("annotations") or {}
    new = (after.get("metadata") or {}).get("annotations") or {}
    yield from _notices(
        "Pod",
        namespace,
        name,
        Markers(labels={}, annotations={k: v for k, v in new.items() if old.get(k) != v}),
    )
    for key in sorted(set(old) - set(new)):
        yield Violation(
            policy=MUTATION,
            kind="Pod",
            namespace=namespace,
            name=name,
            path=f'metadata.annotations["{key}"]',
            problem="the webhook removes it at admission: it copies a label the pod does not carry",
            fix="remove it from the manifest, so that git holds what runs",
            mode="audit",
        )


def _notices(kind: str, namespace: str, name: str, added: Any) -> Iterable[Violation]:
    for section in ("labels", "annotations"):
        for key, value in section_of(added, section).items():
            yield Violation(
                policy=MUTATION,
                kind=kind,
                namespace=namespace,
                name=name,
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

    return (
        frozenset(providers.mesh_config_groups()),
        frozenset((group, kind) for group, kind, _ in providers.mesh_config_kinds()),
    )
