"""Mutation: add the mesh's markers, as a patch diffed from the object.

What a Namespace gets is :class:`meshc.policies.mutation.NamespaceMutation`'s
(the same function ``meshc check`` judges manifests after): only markers the
Namespace lacks, never a value written on it. A Namespace meshc rendered
already carries them, the diff is empty and no patch is sent: Argo CD sees
no drift, and mutating twice changes nothing. A new Pod gets the profile's
pod markers (``Profile.pod_markers``, for a mesh whose injector reads the
pod's own annotations): annotations added where the pod has none of its
own, and label values copied into annotations
(:func:`meshc.policies.mutation.with_pod_markers`, which ``meshc check``
applies too).
"""

from __future__ import annotations

from collections.abc import Sequence

import jsonpatch

from meshc.policies.mutation import NamespaceMutation, with_pod_markers
from meshc.providers import PodMarkers
from meshc.webhook.response import Patch
from meshc.webhook.review import AdmissionRequest


def _kind(request: AdmissionRequest) -> str | None:
    kind = request.get("kind") or {}
    return str(kind.get("kind")) if kind.get("group", "") == "" else None


def namespace_patch(request: AdmissionRequest, mutation: NamespaceMutation) -> Patch | None:
    """The RFC 6902 patch for this request, or None when nothing is to change."""
    if request.get("operation") not in ("CREATE", "UPDATE"):
        return None
    if _kind(request) != "Namespace":
        return None
    obj = request.get("object")
    if not obj:
        return None
    name = (obj.get("metadata") or {}).get("name") or request.get("name", "")
    if name not in mutation.meshed:
        return None
    # Judged as a Namespace of this name whatever the object omits.
    obj = {**obj, "kind": "Namespace", "metadata": {**(obj.get("metadata") or {}), "name": name}}
    ops: Patch = jsonpatch.make_patch(obj, mutation.apply(obj)).patch
    return ops or None


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
