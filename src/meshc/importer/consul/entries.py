"""Consul's config entries, by the Consul service each one is for.

Consul CE has no namespaces: a ServiceDefaults, ServiceResolver, ServiceSplitter or
ServiceRouter applies to the Consul service of its name, and a ServiceIntentions to the
service its ``spec.destination.name`` names, wherever the custom resource lives; consul-k8s
refuses a second resource of one kind for one service (api/common/configentry_webhook.go,
``ValidateConfigEntry``). So a second entry is reported, never merged, and an entry finds
its spec service by name: the one in its own namespace, else the only one of that name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..draft import Draft, Part, Source
from ..inventory import Inventory

# The kinds read per service, and what names their service.
PER_SERVICE = ("ServiceDefaults", "ServiceIntentions", "ServiceResolver", "ServiceSplitter")
ROUTER = "ServiceRouter"


def consul_name(src: Source) -> str:
    """The Consul service a config entry is for."""
    if src.kind == "ServiceIntentions":
        return str((src.spec.get("destination") or {}).get("name", ""))
    return src.name


@dataclass
class Entries:
    """The first entry of each kind for each Consul service (kind -> name -> entry)."""

    by_kind: dict[str, dict[str, Source]] = field(default_factory=dict)

    @classmethod
    def of(cls, inv: Inventory, draft: Draft, group: str) -> Entries:
        entries = cls()
        for kind in (*PER_SERVICE, ROUTER):
            seen = entries.by_kind.setdefault(kind, {})
            for src in inv.kind(kind, group):
                name = consul_name(src)
                first = seen.setdefault(name, src)
                if first is not src:
                    draft.lose(
                        src,
                        "spec.destination.name" if kind == "ServiceIntentions" else "metadata.name",
                        f"a second {kind} for the Consul service {name!r} (the first: "
                        f"{first.at()}): Consul keeps one per service, and consul-k8s refuses "
                        "the second; not merged",
                    )
        return entries

    def get(self, kind: str, name: str) -> Source | None:
        return self.by_kind.get(kind, {}).get(name)

    def named(self, kind: str) -> dict[str, Source]:
        return self.by_kind.get(kind, {})


def service_named(draft: Draft, name: str, namespace: str) -> Part | None:
    """The spec service a Consul service name is: the one in ``namespace``, else the only
    one of that name in any namespace (Consul CE names a service in no namespace)."""
    own = draft.service(namespace, name)
    if own is not None:
        return own
    found = [s for (_, n), s in draft.services.items() if n == name]
    return found[0] if len(found) == 1 else None
