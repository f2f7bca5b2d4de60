"""Policy violations and the one place their messages are built.

The Rego policies return structured violations; every engine turns them into
:class:`Violation` objects, and every surface (admission response, ``meshc
check`` in each output format) renders them with :func:`format_message`, so a
developer at pre-commit reads exactly what the API server would answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

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


def format_message(v: Violation) -> str:
    """``[meshc:<policy>] <Kind> <namespace>/<name>: <path>: <problem>; <fix>``"""
    text = f"[meshc:{v.policy}] {v.kind} {v.object_ref}: {v.path}: {v.problem}"
    return f"{text}; {v.fix}" if v.fix else text
