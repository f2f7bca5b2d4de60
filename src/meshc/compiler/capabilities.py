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
    "trustDomain": "the trust domain in caller identities",
    "services.ports": "the Service and its ports",
    "services.versions": "per-version subsets of a service",
    "services.routes.name": "a name for the route",
    "services.routes.split": "weighted split across versions (canary, blue/green)",
    "services.routes.match.headers": "route by request header (A/B)",
    "services.routes.match.headers.regex": "route by a header regex",
    "services.routes.match.path": "route by request path (exact, prefix)",
    "services.routes.match.path.regex": "route by a path regex",
    "services.routes.order": "the first route whose match fits takes the request",
    "services.timeout": "overall request timeout",
    "services.retries.attempts": "number of retries",
    "services.retries.perTryTimeout": "timeout of each try",
    "services.retries.retryOn": "response statuses that trigger a retry (5xx, gateway-error, "
    "retriable-4xx)",
    "services.retries.retryOn.transport": "connection failures that trigger a retry (reset, "
    "connect-failure, refused-stream)",
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
    "durations.subMillisecond": "durations with a fraction of a millisecond",
}

_A, _U = Support.APPROX, Support.UNSUPPORTED
_NOT_RENDERED = "; not rendered"
_SP_IGNORES_ACCRUAL = (
    "Linkerd ignores failure-accrual annotations on a Service that has a ServiceProfile, and smi "
    "mode has one for every service with routes (linkerd-smi writes the split into it) or with "
    "retries or a timeout; rendered only for services with neither"
)

# Both Linkerd routing modes (see docs/linkerd.md for the reasoning behind each entry).
_LINKERD: dict[str, tuple[Support, str]] = {
    "services.retries.retryOn.transport": (
        _U, "Linkerd retries on HTTP response statuses only" + _NOT_RENDERED),
    "services.connectionPool.maxConnections": (
        _U, "Linkerd has no per-service connection limit" + _NOT_RENDERED),
    "services.connectionPool.http1MaxPendingRequests": (
        _U, "Linkerd has no per-service limit on queued requests" + _NOT_RENDERED),
    "services.connectionPool.http2MaxRequests": (
        _U, "Linkerd has no limit on concurrent requests (HTTPLocalRateLimitPolicy limits the "
        "request rate, which is not the same)" + _NOT_RENDERED),
    "services.connectionPool.maxRequestsPerConnection": (
        _A, "Linkerd balances each request, not each connection, across endpoints over reused "
        "proxy-to-proxy connections, which is what the cap is for" + _NOT_RENDERED),
    "services.outlierDetection.interval": (
        _A, "Linkerd has no ejection sweep: an endpoint trips as soon as the consecutive "
        "failures happen" + _NOT_RENDERED),
    "services.outlierDetection.baseEjectionTime": (
        _A, ("rendered as balancer.linkerd.io/failure-accrual-consecutive-min-penalty; later "
        "probes back off exponentially up to the max-penalty (default 1m) instead of ejecting "
        "for baseEjectionTime times the number of ejections")),
    "services.outlierDetection.maxEjectionPercent": (
        _U, "Linkerd has no cap on unavailable endpoints: all endpoints may trip at once"
        + _NOT_RENDERED),
    "durations.subMillisecond": (
        _A, ("Linkerd's duration annotations take a whole number of ms, s, m or h; rounded to "
        "the nearest millisecond")),
}
_LINKERD_GATEWAY_API: dict[str, tuple[Support, str]] = {
    "services.routes.name": (
        _A, "Linkerd's bundled Gateway API (v1.1.1) has no rule names; the name only labels "
        "the route" + _NOT_RENDERED),
    "services.routes.order": (
        _A, ("Gateway API ranks HTTPRoute rules by match specificity (exact path, longest path, "
        "most headers) before list order; rules are rendered in spec order, so overlapping "
        "matches may resolve to another route")),
}
_NO_MATCH_IN_SPLIT = (
    "TrafficSplit cannot match requests; only the default route's split is rendered and "
    "requests this route would take follow it"
)
_LINKERD_SMI: dict[str, tuple[Support, str]] = {
    "services.routes.name": (
        _A, "a TrafficSplit has no routes to name; the name only labels the route" + _NOT_RENDERED),
    "services.routes.match.headers": (_U, _NO_MATCH_IN_SPLIT),
    "services.routes.match.headers.regex": (_U, _NO_MATCH_IN_SPLIT),
    "services.routes.match.path": (_U, _NO_MATCH_IN_SPLIT),
    "services.routes.match.path.regex": (_U, _NO_MATCH_IN_SPLIT),
    "services.retries.attempts": (
        _A, ("ServiceProfile retries are budget-based: rendered isRetryable on a catch-all "
        "route and retryBudget.retryRatio N (retries add at most N times the request volume; "
        "minRetriesPerSecond 10, ttl 10s), so one request may be retried more or fewer times")),
    "services.retries.perTryTimeout": (
        _U, "ServiceProfile has no per-try timeout, only a route timeout for all tries"
        + _NOT_RENDERED),
    "services.retries.retryOn": (
        _A, ("a retryable ServiceProfile route retries the responses its responseClasses mark "
        "as failures, and every 5xx is one: gateway-error widens to 5xx, and retriable-4xx "
        "marks 409 a failure, which lowers the success rate too")),
    "services.outlierDetection.consecutive5xxErrors": (_U, _SP_IGNORES_ACCRUAL),
    "services.outlierDetection.baseEjectionTime": (_U, _SP_IGNORES_ACCRUAL),
}

# (target, routing mode) -> feature -> (support, what is rendered instead).
# Features absent from a column are exact.
MATRIX: dict[tuple[str, str], dict[str, tuple[Support, str]]] = {
    ("istio", "default"): {
        "services.allow.ports.namedTargetPort": (
            Support.UNSUPPORTED,
            ("AuthorizationPolicy ports are workload port numbers; a named targetPort has no "
            "number until pods exist, so the rule would match nothing"),
        ),
    },
    ("linkerd", "gateway-api"): {**_LINKERD, **_LINKERD_GATEWAY_API},
    ("linkerd", "smi"): {**_LINKERD, **_LINKERD_SMI},
}


def support(target: str, mode: str, feature: str) -> Support:
    if feature not in FEATURES:
        raise KeyError(f"unknown feature {feature!r}: add it to FEATURES")
    return MATRIX.get((target, mode), {}).get(feature, (Support.EXACT, ""))[0]


def columns() -> list[tuple[str, str]]:
    return list(MATRIX)


def note(target: str, mode: str, feature: str) -> str:
    return MATRIX.get((target, mode), {}).get(feature, (Support.EXACT, ""))[1]


# Every field of the spec schema (list indexes dropped, map keys as `*`) and the feature it
# belongs to; `field=value` where the value decides. The test that walks the schema fails on
# a field listed neither here nor in NOT_TARGET_FIELDS.
FIELDS: dict[str, str] = {
    "spec.mtls=STRICT": "mtls.STRICT",
    "spec.mtls=PERMISSIVE": "mtls.PERMISSIVE",
    "spec.trustDomain": "trustDomain",
    "spec.namespaces.name": "namespaces",
    "spec.namespaces.labels.*": "namespaces.labels",
    "spec.namespaces.annotations.*": "namespaces.annotations",
    **{f"spec.services.{f}": "services.ports" for f in (
        "name", "namespace", "selector.*", "ports.name", "ports.port", "ports.targetPort",
        "ports.protocol")},
    "spec.services.versions.name": "services.versions",
    "spec.services.versions.labels.*": "services.versions",
    "spec.services.routes.name": "services.routes.name",
    "spec.services.routes.split.*": "services.routes.split",
    "spec.services.routes.to": "services.routes.split",
    "spec.services.routes.match.headers.*.exact": "services.routes.match.headers",
    "spec.services.routes.match.headers.*.prefix": "services.routes.match.headers",
    "spec.services.routes.match.headers.*.regex": "services.routes.match.headers.regex",
    "spec.services.routes.match.path.exact": "services.routes.match.path",
    "spec.services.routes.match.path.prefix": "services.routes.match.path",
    "spec.services.routes.match.path.regex": "services.routes.match.path.regex",
    "spec.services.timeout": "services.timeout",
    "spec.services.retries.attempts": "services.retries.attempts",
    "spec.services.retries.perTryTimeout": "services.retries.perTryTimeout",
    **{f"spec.services.retries.retryOn={v}": "services.retries.retryOn"
       for v in ("5xx", "gateway-error", "retriable-4xx")},
    **{f"spec.services.retries.retryOn={v}": "services.retries.retryOn.transport"
       for v in ("reset", "connect-failure", "refused-stream")},
    **{f"spec.services.connectionPool.{f}": f"services.connectionPool.{f}" for f in (
        "maxConnections", "http1MaxPendingRequests", "http2MaxRequests",
        "maxRequestsPerConnection")},
    **{f"spec.services.outlierDetection.{f}": f"services.outlierDetection.{f}" for f in (
        "consecutive5xxErrors", "interval", "baseEjectionTime", "maxEjectionPercent")},
    "spec.services.allow.fromNamespaces": "services.allow.fromNamespaces",
    "spec.services.allow.fromServiceAccounts": "services.allow.fromServiceAccounts",
    "spec.services.allow.ports": "services.allow.ports",
}

# Spec fields no target renders, and who reads them instead (a prefix covers its subfields).
NOT_TARGET_FIELDS: dict[str, str] = {
    "apiVersion": "identifies the document",
    "kind": "identifies the document",
    "metadata": "the spec document's own metadata (its name labels every object)",
    "spec.provider": "chooses the target",
    "spec.admission": "read by the admission webhook and its chart",
}
