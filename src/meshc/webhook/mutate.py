"""Namespace mutation: add the mesh's injection markers, as a patch diffed from the object.

What is added is :class:`meshc.policies.mutation.NamespaceMutation`'s (the
same function ``meshc check`` judges manifests after): only markers the
Namespace lacks, never a value written on it. A Namespace meshc rendered
already carries them, the diff is empty and no patch is sent: Argo CD sees
no drift, and mutating twice changes nothing.
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from meshc.policies.mutation import NamespaceMutation
from meshc.webhook.review import AdmissionRequest


def namespace_patch(
    request: AdmissionRequest, mutation: NamespaceMutation
) -> list[dict[str, Any]] | None:
    """The RFC 6902 patch for this request, or None when nothing is to change."""
    if request.get("operation") not in ("CREATE", "UPDATE"):
        return None
    kind = request.get("kind") or {}
    if kind.get("kind") != "Namespace" or kind.get("group", "") != "":
        return None
    obj = request.get("object")
    if not obj:
        return None
    name = (obj.get("metadata") or {}).get("name") or request.get("name", "")
    if name not in mutation.meshed:
        return None
    # Judged as a Namespace of this name whatever the object omits.
    obj = {**obj, "kind": "Namespace", "metadata": {**(obj.get("metadata") or {}), "name": name}}
    ops: list[dict[str, Any]] = jsonpatch.make_patch(obj, mutation.apply(obj)).patch
    return ops or None
