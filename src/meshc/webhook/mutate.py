"""Namespace mutation: add the mesh's injection markers, as a patch diffed from the object.

The markers come from the same function the renderer uses, so a Namespace
rendered by meshc already carries them, the diff is empty and no patch is
sent: Argo CD sees no drift, and mutating twice changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch

from meshc.providers import Markers
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


def namespace_patch(
    request: AdmissionRequest, meshed: frozenset[str], markers: Markers
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
    if name not in meshed:
        return None
    ops: list[dict[str, Any]] = jsonpatch.make_patch(obj, with_markers(obj, markers)).patch
    return ops or None
