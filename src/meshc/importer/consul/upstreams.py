"""Upstream limits and passive health checks: the called service's ``connectionPool`` and
``outlierDetection``, from its callers' ServiceDefaults.

Consul reads them from the caller's ``upstreamConfig.overrides`` keyed by the called
service, and the Consul target writes them in the ServiceDefaults of every caller its
intentions admit that the spec declares, or of every service when it has no allow rules
(targets/consul/policy.py, ``upstream_overrides``). So the settings are the called
service's when every such caller says the same, and a caller set other than the one the
render names is reported: the render would limit other callers than the team's entries do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..draft import Draft, Part, Source
from .entries import service_named

# Consul's names -> the spec's (the inverse of policy.py's _LIMITS and _PASSIVE).
LIMITS = {
    "maxConnections": "maxConnections",
    "maxPendingRequests": "http1MaxPendingRequests",
    "maxConcurrentRequests": "http2MaxRequests",
}
PASSIVE = {
    "maxFailures": "consecutive5xxErrors",
    "interval": "interval",
    "baseEjectionTime": "baseEjectionTime",
    "maxEjectionPercent": "maxEjectionPercent",
}
_SECTIONS = {
    "limits": ("connectionPool", LIMITS),
    "passiveHealthCheck": ("outlierDetection", PASSIVE),
}


@dataclass(frozen=True)
class Upstream:
    """One caller's settings for one called service."""

    caller: Part
    src: Source
    path: str
    called: Part
    settings: dict[str, Any]  # connectionPool / outlierDetection, in the spec's words


def read_overrides(draft: Draft, src: Source, caller: Part, raw: list[Any]) -> list[Upstream]:
    found: list[Upstream] = []
    for i, entry in enumerate(raw):
        path = f"spec.upstreamConfig.overrides[{i}]"
        called = service_named(draft, str(entry.get("name", "")), caller["namespace"])
        extra = sorted(set(entry) - {"name", *_SECTIONS})
        if called is None or extra:
            draft.lose(
                src,
                f"{path}.{extra[0]}" if called is not None else f"{path}.name",
                f"{extra[0]}: the spec's upstream settings are connection limits and "
                "passive health checks; the override is not imported"
                if called is not None
                else f"{entry.get('name')!r} is no Service of the input; not imported",
            )
            continue
        settings: dict[str, Any] = {}
        for section, (spec_field, names) in _SECTIONS.items():
            values = entry.get(section) or {}
            for key in sorted(set(values) - set(names)):
                draft.lose(src, f"{path}.{section}.{key}", "not a setting of the spec")
            part = {names[k]: v for k, v in values.items() if k in names}
            if part:
                settings[spec_field] = part
        found.append(Upstream(caller, src, path, called, settings))
    return found


def _expected_callers(draft: Draft, called: Part) -> list[Part]:
    """The callers whose ServiceDefaults the Consul target writes the settings in."""
    allow = called.get("allow")
    if not allow:
        return list(draft.services.values())
    names: list[str] = []
    for rule in allow:
        for ns in rule.get("fromNamespaces", []):
            names += [s["name"] for (n, _), s in draft.services.items() if n == ns]
        names += [a.partition("/")[2] for a in rule.get("fromServiceAccounts", [])]
    by_name = {s["name"]: s for s in draft.services.values()}
    return [by_name[n] for n in dict.fromkeys(names) if n in by_name]


def settle_upstreams(draft: Draft, upstreams: list[Upstream]) -> None:
    """The called services' settings, once their allow rules are known."""
    by_called: dict[int, list[Upstream]] = defaultdict(list)
    for u in upstreams:
        by_called[id(u.called)].append(u)
    for group in by_called.values():
        first = group[0]
        called = first.called
        for u in group[1:]:
            if u.settings != first.settings:
                draft.lose(
                    u.src,
                    u.path,
                    f"differs from {first.src.ref}'s settings for {called['name']}: the "
                    "spec's are the called service's, for every caller; imported as the first",
                )
        for key, value in first.settings.items():
            called[key] = value
        if not first.settings:
            continue
        expected = {(s["namespace"], s["name"]) for s in _expected_callers(draft, called)}
        actual = {(u.caller["namespace"], u.caller["name"]) for u in group}
        if expected != actual:
            shown = ", ".join(sorted(n for _, n in expected)) or "none"
            draft.lose(
                first.src,
                first.path,
                f"the spec's limits for {called['name']} are set by the callers its allow "
                f"rules admit, or by every service without them ({shown}), and here "
                f"{', '.join(sorted(n for _, n in actual))} set them; imported as the "
                "called service's",
            )
