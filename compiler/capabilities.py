"""The capability matrix: how exactly each target expresses each spec feature.

This table is the contract behind "lossless or loud": a target may only
approximate or drop a feature that is listed here as such, and must report it
through :meth:`meshc.compiler.targets.Report.lossy` when a spec uses it.
``meshc capabilities`` prints the matrix for the docs.
"""

from __future__ import annotations

from enum import Enum


class Support(Enum):
    EXACT = "exact"
    APPROX = "approximated"
    UNSUPPORTED = "unsupported"


# feature id -> what it is. Ids follow the spec's field paths.
FEATURES: dict[str, str] = {
    "namespaces": "meshed namespaces with sidecar injection on",
    "namespaces.labels": "extra namespace labels",
    "namespaces.annotations": "extra namespace annotations",
    "mtls.STRICT": "mTLS required for all inbound traffic",
    "mtls.PERMISSIVE": "mTLS preferred, plaintext accepted",
    "services.ports": "the Service and its ports",
    "services.versions": "per-version subsets of a service",
    "services.routes.split": "weighted split across versions (canary, blue/green)",
    "services.routes.match.headers": "route by request header (A/B)",
    "services.routes.match.headers.regex": "route by a header regex",
    "services.routes.match.path": "route by request path (exact, prefix)",
    "services.routes.match.path.regex": "route by a path regex",
    "services.timeout": "overall request timeout",
    "services.retries.attempts": "number of retries",
    "services.retries.perTryTimeout": "timeout of each try",
    "services.retries.retryOn": "conditions that trigger a retry",
    "services.connectionPool.maxConnections": "TCP connection limit",
    "services.connectionPool.http1MaxPendingRequests": "pending request queue limit",
    "services.connectionPool.http2MaxRequests": "concurrent request limit",
    "services.connectionPool.maxRequestsPerConnection": "requests per connection",
    "services.outlierDetection.consecutive5xxErrors": "eject a host after N consecutive 5xx",
    "services.outlierDetection.interval": "ejection sweep interval",
    "services.outlierDetection.baseEjectionTime": "minimum ejection time",
    "services.outlierDetection.maxEjectionPercent": "most hosts ejected at once",
    "services.allow.fromNamespaces": "allow callers by namespace",
    "services.allow.fromServiceAccounts": "allow callers by service account",
    "services.allow.ports": "limit an allow rule to Service ports",
    "services.allow.ports.namedTargetPort": "allow-rule ports whose targetPort is a named port",
}

# (target, routing mode) -> feature -> (support, what is rendered instead).
# Features absent from a column are exact.
MATRIX: dict[tuple[str, str], dict[str, tuple[Support, str]]] = {
    ("istio", "default"): {
        "services.allow.ports.namedTargetPort": (
            Support.UNSUPPORTED,
            "AuthorizationPolicy ports are workload port numbers; a named targetPort has no "
            "number until pods exist, so the rule would match nothing",
        ),
    },
}


def support(target: str, mode: str, feature: str) -> Support:
    if feature not in FEATURES:
        raise KeyError(f"unknown feature {feature!r}: add it to FEATURES")
    return MATRIX.get((target, mode), {}).get(feature, (Support.EXACT, ""))[0]


def columns() -> list[tuple[str, str]]:
    return list(MATRIX)


def note(target: str, mode: str, feature: str) -> str:
    return MATRIX.get((target, mode), {}).get(feature, (Support.EXACT, ""))[1]
