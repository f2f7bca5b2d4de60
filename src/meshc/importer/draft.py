"""The Mesh spec under construction, and what could not go into it.

Every part of the draft is a plain dict in the spec's own spelling; a part that came
from a manifest carries the places it came from under :data:`FROM` (``file:line``),
which :mod:`meshc.importer.emit` writes as a comment and drops from the data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from meshc.policies.manifests import Manifest

FROM = "__from__"
Part = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    """One imported object or field the spec cannot express."""

    where: str  # file:line
    ref: str  # "VirtualService ns/name"
    field: str
    why: str
    # The spec.overrides entry that carries it, so the render stays equivalent ("" when none).
    carried: str = ""

    def format(self) -> str:
        text = f"{self.where}: {self.ref}: {self.field}: not expressible in a Mesh spec: {self.why}"
        return f"{text}; carried by {self.carried}" if self.carried else text


@dataclass(frozen=True)
class Source:
    """An input object, with the helpers every importer uses to cite it."""

    manifest: Manifest

    @property
    def obj(self) -> dict[str, Any]:
        return self.manifest.obj

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def group(self) -> str:
        return str(self.obj.get("apiVersion", "")).rpartition("/")[0]

    @property
    def meta(self) -> dict[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace") or "")

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.obj.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def ref(self) -> str:
        return (
            f"{self.kind} {self.namespace}/{self.name}"
            if self.namespace
            else f"{self.kind} {self.name}"
        )

    def at(self, path: str = "") -> str:
        if not self.manifest.line:  # read from a cluster: the file names the object
            return self.manifest.file
        line = self.manifest.line_of(path) if path else self.manifest.line
        return f"{self.manifest.file}:{line}"


@dataclass
class Draft:
    """The spec being built: each section keyed by what identifies its entries."""

    default_namespace: str
    name: str = ""
    provider_votes: Counter[str] = field(default_factory=Counter)
    namespaces: dict[str, Part] = field(default_factory=dict)
    services: dict[tuple[str, str], Part] = field(default_factory=dict)
    ingress: dict[tuple[str, str], Part] = field(default_factory=dict)
    egress: dict[str, Part] = field(default_factory=dict)
    telemetry: dict[tuple[str, str], Part] = field(default_factory=dict)
    overrides: list[Part] = field(default_factory=list)
    mtls: list[tuple[str, str, str]] = field(default_factory=list)  # (mode, namespace, where)
    trust_domain: str | None = None
    revision: str | None = None
    # Istio's waypoints (meshc's own Gateways of class istio-waypoint), by (namespace, name).
    waypoints: dict[tuple[str, str], Source] = field(default_factory=dict)
    # The namespace the spec lists first, where the target renders a mesh-wide object
    # (Consul's Mesh entry), when one was read; the others follow sorted.
    first_namespace: str = ""
    # spec.<provider>: the settings of one mesh (spec.kuma.mesh).
    settings: dict[str, Part] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The objects taken exactly, and the ones left aside (counted for the summary).
    imported: int = 0
    claimed: set[int] = field(default_factory=set)  # ids of version Services and the like

    # Objects of the right kind whose fields have the wrong shape (bad input: exit 2).
    malformed: list[str] = field(default_factory=list)

    @contextmanager
    def guard(self, src: Source) -> Iterator[None]:
        """Read ``src``; a field of the wrong type makes it malformed, never a traceback."""
        try:
            yield
        except (TypeError, AttributeError, ValueError, KeyError, IndexError) as exc:
            self.malformed.append(
                f"{src.at()}: {src.ref}: malformed: a field has the wrong "
                f"type or value ({type(exc).__name__}: {exc})"
            )

    def namespace_of(self, src: Source) -> str:
        return src.namespace or self.default_namespace

    def lose(self, src: Source, path: str, why: str, carried: str = "") -> None:
        self.findings.append(
            Finding(src.at(path), _ref(src, self), path or "(object)", why, carried)
        )

    def service(self, namespace: str, name: str) -> Part | None:
        return self.services.get((namespace, name))

    def override(
        self,
        src: Source,
        kind: str,
        namespace: str,
        name: str,
        provider: str,
        *,
        merge: dict[str, Any] | None = None,
        patch: list[dict[str, Any]] | None = None,
        reason: str = "",
    ) -> str:
        """Add (or extend) the override of one rendered object; its spec path."""
        for i, existing in enumerate(self.overrides):
            target = existing["target"]
            if (target["kind"], target.get("namespace"), target["name"]) == (kind, namespace, name):
                if merge is not None:
                    existing["merge"] = _merged(existing.get("merge", {}), merge)
                if patch is not None:
                    existing.setdefault("patch", []).extend(patch)
                existing[FROM].append(src.at())
                return f"spec.overrides[{i}]"
        entry: Part = {
            "target": {"kind": kind, "namespace": namespace, "name": name},
            "provider": provider,
            FROM: [src.at()],
            "reason": reason or f"imported from {src.ref}",
        }
        if merge is not None:
            entry["merge"] = merge
        if patch is not None:
            entry["patch"] = list(patch)
        self.overrides.append(entry)
        return f"spec.overrides[{len(self.overrides) - 1}]"


def _ref(src: Source, draft: Draft) -> str:
    return (
        f"{src.kind} {draft.namespace_of(src)}/{src.name}"
        if src.kind != "Namespace"
        else f"Namespace {src.name}"
    )


def _merged(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def origin(part: Part, src: Source, path: str = "") -> Part:
    """``part`` marked as coming from ``src`` (at ``path``)."""
    where = src.at(path)
    places = part.setdefault(FROM, [])
    if where not in places:
        places.append(where)
    return part


def strip_origins(value: Any) -> Any:
    """``value`` without the :data:`FROM` marks (the spec as data)."""
    if isinstance(value, dict):
        return {k: strip_origins(v) for k, v in value.items() if k != FROM}
    if isinstance(value, list):
        return [strip_origins(v) for v in value]
    return value
