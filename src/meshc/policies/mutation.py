"""What the mutating webhook does to an object, as a pure function of the spec.

The webhook (``meshc.webhook.mutate``) turns the result into an RFC 6902
patch; ``meshc check`` judges a manifest after it, as admission would
(Namespaces on any write, Pods when they are created). The
markers come from the function the renderer uses
(:func:`meshc.compiler.core.namespace_markers`), so a Namespace meshc
rendered already carries them and nothing changes: Argo CD sees no drift.

A marker is only ever added. A value written on the object is never
replaced, and when the namespace already states an injection choice (any of
the profile's ``injection_keys``: Istio's ``istio-injection`` or
``istio.io/rev``, Linkerd's ``linkerd.io/inject``), none of those is added
beside it: ``istio-injection: disabled`` stays for validation to deny with
its message, and an ``istio.io/rev`` is never joined by an
``istio-injection`` that would win over it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from meshc.providers import Markers, PodMarkers

SECTIONS = ("labels", "annotations")


@dataclass(frozen=True)
class NamespaceMutation:
    """The markers the webhook adds to each meshed Namespace."""

    # meshed namespace -> its markers
    markers: Mapping[str, Markers] = field(default_factory=lambda: MappingProxyType({}))
    # section -> the keys that state an injection choice (Profile.injection_keys)
    injection_keys: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def of(cls, mesh: Any, provider: str | None = None) -> NamespaceMutation:
        """The mutation for a loaded :class:`meshc.compiler.model.Mesh` (for ``provider``,
        default spec.provider)."""
        from meshc import providers
        from meshc.compiler.core import namespace_markers

        name = provider or mesh.provider
        return cls(
            MappingProxyType(namespace_markers(mesh, name)), providers.get(name).injection_keys
        )

    @property
    def meshed(self) -> frozenset[str]:
        return frozenset(self.markers)

    def additions(self, obj: Mapping[str, Any]) -> Markers:
        """The markers the webhook would add to Namespace ``obj`` (empty for any other)."""
        added = Markers(labels={}, annotations={})
        if obj.get("kind") != "Namespace":
            return added
        meta = obj.get("metadata") or {}
        wanted = self.markers.get(str(meta.get("name") or ""))
        if wanted is None:
            return added
        current = {section: meta.get(section) or {} for section in SECTIONS}
        chosen = any(
            key in current[section]
            for section in SECTIONS
            for key in self.injection_keys.get(section, ())
        )
        for section in SECTIONS:
            for key, value in section_of(wanted, section).items():
                if key in current[section]:
                    continue
                if chosen and key in self.injection_keys.get(section, ()):
                    continue
                section_of(added, section)[key] = value
        return added

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``obj`` as the webhook would leave it."""
        after = copy.deepcopy(dict(obj))
        added = self.additions(obj)
        if not (added["labels"] or added["annotations"]):
            return after
        meta = after.setdefault("metadata", {})
        for section in SECTIONS:
            new = section_of(added, section)
            if new:
                # `labels: null` is valid in a manifest; treat it as empty.
                meta[section] = {**(meta.get(section) or {}), **new}
        return after


def pod_markers_of(mesh: Any, provider: str | None = None) -> tuple[PodMarkers, ...]:
    """What the webhook writes on the new pods of a loaded :class:`meshc.compiler.model.Mesh`
    (``Profile.pod_markers``; none for a mesh whose injector reads the namespace)."""
    from meshc import providers

    profile = providers.get(provider or mesh.provider)
    return profile.pod_markers(mesh) if profile.mutates_pods else ()


def with_pod_markers(
    pod: Mapping[str, Any], namespace: str, markers: Sequence[PodMarkers]
) -> dict[str, Any]:
    """A copy of Pod ``pod``, created in ``namespace``, carrying the markers that apply to it.

    An annotation the pod sets itself is kept (its injection choice is the
    policies' to judge, not the webhook's to overwrite); a label's copy always
    carries the label's value, and goes when the label does.
    """
    after = copy.deepcopy(dict(pod))
    meta = after.setdefault("metadata", {})
    labels = meta.get("labels") or {}
    applying = [m for m in markers if m.applies_to(namespace, labels)]
    if not applying:
        return after
    annotations = dict(meta.get("annotations") or {})
    for marker in applying:
        for key, value in marker.annotations.items():
            annotations.setdefault(key, value)
        for label, key in marker.label_annotations.items():
            if label in labels:
                annotations[key] = labels[label]
            else:
                annotations.pop(key, None)
    if annotations != (meta.get("annotations") or {}):
        meta["annotations"] = annotations
    return after


def section_of(markers: Markers, section: str) -> dict[str, str]:
    return markers["labels"] if section == "labels" else markers["annotations"]
