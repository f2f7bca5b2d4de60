"""The input objects, sorted by what they are, with the lookups every importer needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from meshc.compiler.objects import MANAGED_BY, MANAGED_BY_LABEL
from meshc.policies.manifests import Manifest

from .draft import Source

# Kinds whose pod template (or own pod spec) holds the pods' labels.
WORKLOADS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "Pod",
    "Rollout",
)


@dataclass
class Inventory:
    sources: list[Source] = field(default_factory=list)

    @classmethod
    def of(cls, manifests: Iterable[Manifest]) -> Inventory:
        return cls([Source(m) for m in manifests])

    def kind(self, kind: str, *groups: str) -> list[Source]:
        """The objects of ``kind`` in any of ``groups`` (every group when none is given)."""
        return [s for s in self.sources if s.kind == kind and (not groups or s.group in groups)]

    def workloads(self) -> list[Source]:
        return [
            s
            for s in self.sources
            if s.kind in WORKLOADS and s.group in ("", "apps", "batch", "argoproj.io")
        ]


def pod_labels(src: Source) -> dict[str, str]:
    """The labels of a workload's pods."""
    return pod_metadata(src, "labels")


def pod_metadata(src: Source, section: str) -> dict[str, str]:
    """The labels or annotations (``section``) of a workload's pods."""
    spec = src.spec
    if src.kind == "Pod":
        found = src.meta.get(section)
    else:
        template = (
            spec.get("jobTemplate", {}).get("spec", {}).get("template")
            if src.kind == "CronJob"
            else spec.get("template")
        )
        found = (
            (template or {}).get("metadata", {}).get(section)
            if isinstance(template, dict)
            else None
        )
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def pod_prefix(src: Source) -> str:
    """Where a workload's pod template is (``spec.template.``), as violations write it."""
    if src.kind == "Pod":
        return ""
    return "spec.jobTemplate.spec.template." if src.kind == "CronJob" else "spec.template."


def pod_spec(src: Source) -> dict[str, object]:
    if src.kind == "Pod":
        return src.spec
    template = (
        src.spec.get("jobTemplate", {}).get("spec", {}).get("template")
        if src.kind == "CronJob"
        else src.spec.get("template")
    )
    spec = (template or {}).get("spec") if isinstance(template, dict) else None
    return spec if isinstance(spec, dict) else {}


def rendered_by_meshc(src: Source) -> bool:
    labels = src.meta.get("labels")
    return isinstance(labels, dict) and labels.get(MANAGED_BY_LABEL) == MANAGED_BY
