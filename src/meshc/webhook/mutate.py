"""Mutation: add the mesh's markers to Namespaces and, for a mesh that enrols pods by their
own annotations, to new Pods; each change a patch diffed from the object.

The namespace markers come from the same function the renderer uses, so a
Namespace rendered by meshc already carries them, the diff is empty and no
patch is sent: Argo CD sees no drift, and mutating twice changes nothing. The
pod markers are the profile's (``Profile.pod_markers``): annotations added
where the pod has none of its own, and label values copied into annotations.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import jsonpatch

from meshc.providers import Markers, PodMarkers
from meshc.webhook.response import Patch
from meshc.webhook.review import AdmissionRequest


def with_markers(obj: dict[str, Any], markers: Markers) -> dict[str, Any]:
    """A copy of ``obj`` whose metadata carries ``markers`` (added or overwritten)."""
    after = copy.deepcopy(obj)
    meta = after.setdefault("metadata", {})
    wanted: Mapping[str, str]
    for section, wanted in (("labels", markers["labels"]), ("annotations", markers["annotations"])):
        if not wanted:
            continue
        # `labels: null` is valid in a manifest; treat it as empty.
        current = meta.get(section) or {}
        meta[section] = {**current, **wanted}
    return after


def _kind(request: AdmissionRequest) -> str | None:
    kind = request.get("kind") or {}
    return str(kind.get("kind")) if kind.get("group", "") == "" else None


def namespace_patch(
    request: AdmissionRequest, meshed: frozenset[str], markers: Markers
) -> Patch | None:
    """The RFC 6902 patch for this request, or None when nothing is to change."""
    if request.get("operation") not in ("CREATE", "UPDATE"):
        return None
    if _kind(request) != "Namespace":
        return None
    obj = request.get("object")
    if not obj:
        return None
    name = (obj.get("metadata") or {}).get("name") or request.get("name", "")
    if name not in meshed:
        return None
    ops: Patch = jsonpatch.make_patch(obj, with_markers(obj, markers)).patch
    return ops or None


def with_pod_markers(pod: dict[str, Any], namespace: str,
                     markers: Sequence[PodMarkers]) -> dict[str, Any]:
    """A copy of ``pod`` carrying the markers that apply to it.

    An annotation the pod sets itself is kept (its injection choice is the
    policies' to judge, not the webhook's to overwrite); a label's copy always
    carries the label's value, and goes when the label does.
    """
    after = copy.deepcopy(pod)
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


def pod_patch(request: AdmissionRequest, markers: Sequence[PodMarkers]) -> Patch | None:
    """The RFC 6902 patch for a Pod being created, or None when nothing is to change."""
    if not markers or request.get("operation") != "CREATE" or request.get("subResource"):
        return None
    if _kind(request) != "Pod":
        return None
    pod = request.get("object")
    if not pod:
        return None
    namespace = request.get("namespace") or (pod.get("metadata") or {}).get("namespace", "")
    ops: Patch = jsonpatch.make_patch(pod, with_pod_markers(pod, namespace, markers)).patch
    return ops or None
