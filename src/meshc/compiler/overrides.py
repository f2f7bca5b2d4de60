"""spec.overrides: per-object patches for what the spec cannot say yet.

Each override names one rendered object (kind, namespace, name) and carries
an RFC 6902 JSON patch (``patch``) or an RFC 7386 JSON merge patch
(``merge``). It is applied after the target rendered, to that target's
objects only (``provider``, default spec.provider), and never silently:

- a patched object carries ``meshc.io/overridden: <spec>#spec.overrides[i]``
  and ``meshc render`` prints a line naming it (a warning-level note);
- an override that targets nothing, or whose patch does not apply (a path
  that is not there, a failed ``test``), or that would change what
  identifies the object, is a spec error naming the override;
- an override for another provider's render (``meshc render --provider``)
  is not applied, and the render says so.

The patched objects are what the policies' data (managed-objects) and every
later step see, so an override of a security object is the spec's, not drift.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any, Protocol

from .model import Mesh, Override
from .objects import Obj, object_ref

OVERRIDDEN_ANNOTATION = "meshc.io/overridden"


class _Report(Protocol):
    def error(self, path: str, message: str) -> None: ...

    def note(self, path: str, message: str) -> None: ...


def apply_overrides(mesh: Mesh, objects: list[Obj], report: _Report, provider: str) -> list[Obj]:
    """``objects`` with every override for ``provider`` applied (module docstring)."""
    if not mesh.overrides:
        return objects
    import jsonpatch  # only a spec with overrides pays for it

    index = {_key(o): i for i, o in enumerate(objects)}
    result = list(objects)
    for override in mesh.overrides:
        if (override.provider or mesh.provider) != provider:
            report.note(
                f"{override.path}.provider",
                f"not applied: it patches the {override.provider or mesh.provider} "
                f"render, and this is {provider}'s",
            )
            continue
        key = (override.kind, override.namespace or "", override.name)
        at = index.get(key)
        if at is None:
            report.error(f"{override.path}.target", _nothing_targeted(override, objects, provider))
            continue
        before = result[at]
        try:
            after = _patched(before, override)
        except (
            jsonpatch.JsonPatchException,
            jsonpatch.JsonPointerException,
            TypeError,
            ValueError,
        ) as exc:
            report.error(
                f"{override.path}.{'patch' if override.patch is not None else 'merge'}",
                f"does not apply to {object_ref(before)}: {exc}",
            )
            continue
        if _key(after) != key or after.get("apiVersion") != before.get("apiVersion"):
            report.error(
                override.path,
                f"changes what identifies {object_ref(before)} (apiVersion, "
                "kind, namespace or name); an override may change anything else",
            )
            continue
        annotations = after.setdefault("metadata", {}).setdefault("annotations", {}) or {}
        source = f"{mesh.source}#{override.path}"
        previous = annotations.get(OVERRIDDEN_ANNOTATION)
        annotations[OVERRIDDEN_ANNOTATION] = f"{previous},{source}" if previous else source
        after["metadata"]["annotations"] = dict(sorted(annotations.items()))
        result[at] = after
        how = (
            f"{len(override.patch)} JSON patch operation{'s' if len(override.patch) != 1 else ''}"
            if override.patch is not None
            else "a JSON merge patch"
        )
        report.note(override.path, f"overridden: {object_ref(before)} ({how})")
    return result


def _key(obj: Obj) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace", "")), str(meta.get("name")))


def _patched(obj: Obj, override: Override) -> Obj:
    if override.patch is not None:
        import jsonpatch

        patched: Obj = jsonpatch.apply_patch(copy.deepcopy(obj), list(override.patch))
        return patched
    merged = merge_patch(copy.deepcopy(obj), override.merge)
    if not isinstance(merged, dict):
        raise TypeError("a merge patch must be a mapping")
    return merged


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a mapping merges key by key (null removes), anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _nothing_targeted(override: Override, objects: list[Obj], provider: str) -> str:
    wanted = (
        f"{override.kind} {override.namespace}/{override.name}"
        if override.namespace
        else f"{override.kind} {override.name}"
    )
    rendered = [object_ref(o) for o in objects]
    close = difflib.get_close_matches(wanted, rendered, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"targets {wanted}, which the {provider} render does not contain{hint}"
