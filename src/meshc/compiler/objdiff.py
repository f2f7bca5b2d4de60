"""Compare two renders object by object and field by field.

A text diff of YAML shows moved lines and re-indented blocks; reviewers of a
GitOps change want to know which Kubernetes objects appear, disappear, or
change, and which fields of them. Objects are matched by what identifies them
in a cluster (API group, kind, namespace, name), so an apiVersion bump is a
change of one field, not a removal plus an addition.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .objects import Obj, object_ref

Key = tuple[str, str, str, str]  # (group, kind, namespace, name)

_ABSENT: Any = object()


def object_key(obj: Obj) -> Key:
    group = obj["apiVersion"].rpartition("/")[0] if "/" in obj["apiVersion"] else ""
    meta = obj["metadata"]
    return (group, obj["kind"], meta.get("namespace", ""), meta["name"])


@dataclass(frozen=True)
class FieldChange:
    path: str  # e.g. "spec.http[0].route[1].weight"
    old: Any  # _ABSENT when the field was added
    new: Any  # _ABSENT when the field was removed

    def format(self) -> str:
        if self.old is _ABSENT:
            return f"{self.path}: added {_show(self.new)}"
        if self.new is _ABSENT:
            return f"{self.path}: removed {_show(self.old)}"
        return f"{self.path}: {_show(self.old)} -> {_show(self.new)}"


@dataclass
class ObjectDiff:
    added: list[Obj] = field(default_factory=list)
    removed: list[Obj] = field(default_factory=list)
    changed: list[tuple[Obj, list[FieldChange]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"

    def lines(self) -> list[str]:
        """One line per object (``+`` added, ``~`` changed, ``-`` removed), changes indented."""
        out = [f"+ {_label(obj)}" for obj in self.added]
        for obj, changes in self.changed:
            out.append(f"~ {_label(obj)}")
            out += [f"    {change.format()}" for change in changes]
        out += [f"- {_label(obj)}" for obj in self.removed]
        return out


def diff_objects(old: Iterable[Obj], new: Iterable[Obj]) -> ObjectDiff:
    before = {object_key(o): o for o in old}
    after = {object_key(o): o for o in new}
    result = ObjectDiff()
    for key, obj in after.items():
        if key not in before:
            result.added.append(obj)
        else:
            changes = field_changes(before[key], obj)
            if changes:
                result.changed.append((obj, changes))
    result.removed = [obj for key, obj in before.items() if key not in after]
    return result


def field_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Leaf-level differences; a value whose type changed is reported whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[FieldChange] = []
        for key in [*old, *(k for k in new if k not in old)]:
            sub = _join(path, str(key))
            if key not in new:
                changes.append(FieldChange(sub, old[key], _ABSENT))
            elif key not in old:
                changes.append(FieldChange(sub, _ABSENT, new[key]))
            else:
                changes += field_changes(old[key], new[key], sub)
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for i in range(max(len(old), len(new))):
            sub = f"{path}[{i}]"
            if i >= len(new):
                changes.append(FieldChange(sub, old[i], _ABSENT))
            elif i >= len(old):
                changes.append(FieldChange(sub, _ABSENT, new[i]))
            else:
                changes += field_changes(old[i], new[i], sub)
        return changes
    # 1 == 1.0 == True in Python; in a manifest they are different values.
    if type(old) is not type(new) or old != new:
        return [FieldChange(path, old, new)]
    return []


def _join(path: str, key: str) -> str:
    # Keys such as annotation names contain dots; bracket them so the path stays readable.
    if "." in key or "/" in key:
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _label(obj: Obj) -> str:
    return f"{object_ref(obj)} ({obj['apiVersion']})"
