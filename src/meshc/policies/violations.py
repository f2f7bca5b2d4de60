"""Policy violations and the one place their messages are built.

The Rego policies return structured violations; every engine turns them into
:class:`Violation` objects, and every surface (admission response, ``meshc
check`` in each output format) renders them with :func:`format_message`, so a
developer at pre-commit reads exactly what the API server would answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from meshc.compiler.schema import POLICY_IDS

Mode = Literal["enforce", "warn", "audit"]
MODES: tuple[Mode, ...] = ("enforce", "warn", "audit")


@dataclass(frozen=True, order=True)
class Violation:
    policy: str  # policy id, e.g. "injection-required"
    kind: str  # the offending object's kind
    namespace: str  # "" for cluster-scoped objects
    name: str
    path: str  # field path inside the object, e.g. "spec.template.metadata.labels"
    problem: str  # what is wrong, ending with the offending value
    fix: str  # how to fix it
    source: str = ""  # where in the Mesh spec the rule comes from
    mode: Mode = "enforce"
    # The exception (spec.admission.exceptions) that lifted it: its name, where it is,
    # until when and why; the violation is then admitted and recorded (mode audit).
    exception: str = ""

    @classmethod
    def from_rego(cls, raw: dict[str, Any], mode: Mode) -> Violation:
        return cls(
            policy=str(raw["policy"]),
            kind=str(raw.get("kind", "")),
            namespace=str(raw.get("namespace", "")),
            name=str(raw.get("name", "")),
            path=str(raw.get("path", "")),
            problem=str(raw["problem"]),
            fix=str(raw.get("fix", "")),
            source=str(raw.get("source", "")),
            mode=mode,
        )

    @property
    def object_ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


EXCEPTION_HINT = "; or, to admit it, add to spec.admission.exceptions: "


def format_message(v: Violation, *, hint: bool = True) -> str:
    """``[meshc:<policy>] <Kind> <namespace>/<name>: <path>: <problem>; <fix>``, then either
    the exception that lifted it, or (``hint``) the spec snippet of an exception that would.

    Admission warnings leave the snippet out (``hint=False``): the API server cuts each
    warning at 256 bytes, and ``meshc check`` prints it whole."""
    text = f"[meshc:{v.policy}] {v.kind} {v.object_ref}: {v.path}: {v.problem}"
    if v.fix:
        text = f"{text}; {v.fix}"
    if v.exception:
        return f"{text} [excepted by {v.exception}]"
    if hint and v.policy in POLICY_IDS:
        return f"{text}{EXCEPTION_HINT}{exception_snippet(v)}"
    return text


# A workload kind, and the kinds of what it creates: an exception for it covers its pods.
_CREATES = {
    "Deployment": ("ReplicaSet", "Pod"),
    "CronJob": ("Job", "Pod"),
    "StatefulSet": ("Pod",),
    "DaemonSet": ("Pod",),
    "ReplicaSet": ("Pod",),
    "Job": ("Pod",),
    "ReplicationController": ("Pod",),
}
_TEMPLATE_PREFIXES = ("spec.jobTemplate.spec.template.", "spec.template.")


def exception_scope(kind: str, name: str) -> tuple[list[str], list[str]]:
    """The kinds and names an exception for one object lists: a workload with what it
    creates (by name prefix), a pod known only by its generateName by that prefix."""
    created = _CREATES.get(kind, ())
    if created:
        return [kind, *created], [name, f"{name}-*"]  # the workload, and what it creates
    if name.endswith("-"):
        return [kind], [f"{name}*"]
    return [kind], [name]


def exception_snippet(v: Violation) -> str:
    """The exception (flow YAML) that would lift this finding on this object.

    On a workload it covers the pods it creates too (by name prefix), which
    admission judges by what they run: for injection-required without a
    path, since a pod's own findings are on other fields.
    """
    name = v.name
    created = _CREATES.get(v.kind, ())
    kinds, patterns = exception_scope(v.kind, name)
    names = "[" + ", ".join(f"'{p}'" if "*" in p else p for p in patterns) + "]"
    path = v.path
    for prefix in _TEMPLATE_PREFIXES:
        if created and path.startswith(prefix):
            path = path.removeprefix(prefix)
    slug = re.sub(r"[^a-z0-9]+", "-", f"{name or v.kind.lower()}-{v.policy}".lower()).strip("-")
    namespace = v.namespace or (name if v.kind == "Namespace" else "")
    fields = [
        f"name: {slug[:63].rstrip('-')}",
        f"policies: [{v.policy}]",
        f"namespaces: [{namespace}]",
        f"kinds: [{', '.join(kinds)}]",
        f"names: {names}",
    ]
    if path and not (created and v.policy == "injection-required"):
        fields.append("paths: ['" + path.replace("'", "''") + "']")
    fields.append("reason: <why>")
    return "{" + ", ".join(fields) + "}"
