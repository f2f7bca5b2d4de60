"""The traffic features (routes beyond matches and splits, rate limits, ingress, egress,
telemetry) the Consul target does not render: each one the spec uses is reported at its field.

Found by walking the spec's field paths (the loader records every one) against the
capability matrix's fields, so a feature added to the spec is loud here until the
target renders it.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ...capabilities import FIELDS
from ...capabilities_traffic import TRAFFIC_FEATURES
from ...model import Mesh
from ...schema_traffic import GRPC_RETRY_CONDITIONS
from .. import Report

# Exact on Consul: a route with no retries carries no retry policy, and Envoy retries
# nothing without one (agent/xds/routes.go, getRetryPolicyForDestination returns nil).
EXACT = frozenset({"services.retries.omitted"})
NOT_RENDERED = frozenset(TRAFFIC_FEATURES) - EXACT


def _patterns() -> list[tuple[re.Pattern[str], str]]:
    by_field: dict[str, set[str]] = defaultdict(set)
    for field, feature in FIELDS.items():
        by_field[field.partition("=")[0]].add(feature)
    patterns = []
    for field, features in by_field.items():
        # A field whose features differ by value (retryOn=..., statusCode=...) is judged
        # by value where it is rendered, not here.
        if len(features) == 1 and (feature := next(iter(features))) in NOT_RENDERED:
            regex = re.escape(field).replace(r"\*", r"[^.\[\]]+")
            patterns.append((re.compile(regex + r"(\..*)?"), feature))
    return patterns


_PATTERNS = _patterns()
_INDEX = re.compile(r"\[\d+\]")
_GRPC = frozenset(GRPC_RETRY_CONDITIONS)


def report_unrendered(mesh: Mesh, report: Report) -> None:
    """Report each traffic feature the spec uses once per object that uses it."""
    seen: set[tuple[str, str]] = set()
    for path in sorted(mesh.positions.values):
        bare = _INDEX.sub("", path)
        for pattern, feature in _PATTERNS:
            match = pattern.fullmatch(bare)
            if match is None:
                continue
            # The field itself (not what lies under it): its path with indexes kept.
            suffix = match.group(1) or ""
            where = path[: len(path) - len(suffix)] if suffix else path
            owner = where.rsplit(".", 1)[0]
            if (feature, owner) not in seen:
                seen.add((feature, owner))
                report.lossy(feature, where, "not rendered by the Consul target")
    for svc in mesh.services:
        retries = [(svc.path, svc.retries)] + [(r.path, r.retries) for r in svc.routes
                                               if getattr(r, "retries", None) is not None]
        for path, policy in retries:
            grpc = sorted(set(getattr(policy, "retry_on", ()) or ()) & _GRPC)
            if grpc:
                report.lossy("services.retries.retryOn.grpc", f"{path}.retries.retryOn",
                             "not rendered by the Consul target: " + ", ".join(grpc))
