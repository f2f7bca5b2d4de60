"""The traffic features Consul cannot express (faults, mirrors, rate limits) or the
target does not render (telemetry): each one the spec uses is reported at its
field, with the reason its capability note gives.

Found by walking the spec's field paths (the loader records every one) against the
capability matrix's fields, so a feature added to the spec is loud here until the
target renders it.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ...capabilities import FIELDS, note
from ...capabilities_traffic import TRAFFIC_FEATURES
from ...model import Mesh
from .. import Report
from .egress import FEATURES as EGRESS

# Exact on Consul: a route with no retries carries no retry policy, and Envoy retries
# nothing without one (agent/xds/routes.go: makeUpstreamRouteForDiscoveryChain sets one
# only when the destination HasRetryFeatures).
EXACT = frozenset({"services.retries.omitted"})
# Rendered by routing.py and destination.py, which report what of them they cannot express.
RENDERED = frozenset(
    {
        "services.routes.matches",
        "services.routes.match.grpc",
        "services.routes.timeout",
        "services.routes.retries",
        "services.retries.retryOn.grpc",
        "services.routes.headers",
        "services.routes.rewrite",
        "services.routes.rewrite.prefix",
        "services.routes.redirect",
        "services.routes.redirect.statusCode",
        "services.routes.tcp",
    }
)
# Rendered by ingress.py, which reports what of them it cannot express.
INGRESS = frozenset(
    {
        "ingress",
        "ingress.listeners.tls",
        "ingress.routes.match",
        "ingress.routes.policy",
        "ingress.routes.redirect.statusCode",
        "ingress.routes.rewrite.prefix",
        "ingress.routes.serviceRoutes",
        "ingress.routes.backendProtocol",
        "ingress.gateway.identity",
    }
)
NOT_RENDERED = frozenset(TRAFFIC_FEATURES) - EXACT - RENDERED - EGRESS - INGRESS


def _feature_of(field: str, features: set[str], by_field: dict[str, set[str]]) -> str | None:
    """The feature a field of the spec reports, or None when the target judges it.

    A field whose features differ by value (``redirect.statusCode=303``) is judged by
    value where it is rendered; when none of its values is rendered, it is reported with
    the feature of the object it belongs to (the redirect is not rendered, whatever its
    code): the feature its sibling fields report, else the first of its own.
    """
    if not features <= NOT_RENDERED:
        return None
    if len(features) == 1:
        return next(iter(features))
    parent = field.rsplit(".", 1)[0] + "."
    siblings = {
        f
        for other, fs in by_field.items()
        if other.startswith(parent) and other != field and len(fs) == 1
        for f in fs
    }
    return min(features & siblings or features)


def _patterns() -> list[tuple[re.Pattern[str], str]]:
    by_field: dict[str, set[str]] = defaultdict(set)
    for field, feature in FIELDS.items():
        by_field[field.partition("=")[0]].add(feature)
    patterns = []
    for field, features in by_field.items():
        reported = _feature_of(field, features, by_field)
        if reported is not None:
            regex = re.escape(field).replace(r"\*", r"[^.\[\]]+")
            patterns.append((re.compile(regex + r"(\..*)?"), reported))
    return patterns


_PATTERNS = _patterns()
_INDEX = re.compile(r"\[\d+\]")
_ITEM = re.compile(r"(\[\d+\])+$")


def report_unrendered(mesh: Mesh, report: Report) -> None:
    """Report each traffic field the spec uses: at the field when it is the only one of
    its object with that feature, else once at the object, naming the fields."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(mesh.positions.values):
        bare = _INDEX.sub("", path)
        for pattern, feature in _PATTERNS:
            match = pattern.fullmatch(bare)
            if match is None:
                continue
            # The field itself (not what lies under it, nor an item of its list): its
            # path with the indexes of the lists it is in.
            suffix = match.group(1) or ""
            where = _ITEM.sub("", path[: len(path) - len(suffix)] if suffix else path)
            fields = found[(feature, where.rsplit(".", 1)[0])]
            if where not in fields:
                fields.append(where)
    for (feature, owner), fields in found.items():
        why = note("consul", "default", feature)
        if len(fields) == 1:
            report.lossy(feature, fields[0], why)
        else:
            names = ", ".join(f.rsplit(".", 1)[1] for f in fields)
            report.lossy(feature, owner, f"{why}: {names}")
