"""The capability matrix: how exactly each target expresses each spec feature.

The features are the spec's; each provider profile holds its own column
(``Profile.capabilities``). This is the contract behind "lossless or loud": a
target may only approximate or drop a feature its column lists as such, and
must report it through :meth:`meshc.compiler.targets.Report.lossy` when a spec
uses it. ``meshc capabilities`` prints the matrix for the docs.
"""

from __future__ import annotations

from meshc import providers
from meshc.providers import Capability, Support

from .capabilities_traffic import ONLY_FOR, TRAFFIC_FEATURES, TRAFFIC_FIELDS

__all__ = [
    "FEATURES",
    "FIELDS",
    "NOT_TARGET_FIELDS",
    "ONLY_FOR",
    "Support",
    "columns",
    "note",
    "support",
]


# feature id -> what it is. Ids follow the spec's field paths.
FEATURES: dict[str, str] = {
    "namespaces": "meshed namespaces with sidecar injection on",
    "namespaces.labels": "extra namespace labels",
    "namespaces.annotations": "extra namespace annotations",
    "mtls.STRICT": "mTLS required for all inbound traffic",
    "mtls.PERMISSIVE": "mTLS preferred, plaintext accepted",
    "trustDomain": "the trust domain in caller identities",
    "services.ports": "the Service and its ports",
    "services.ports.additional": "a second and further port of a service",
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
    **TRAFFIC_FEATURES,
    # fitting an existing installation
    "revision": "the control-plane revision (or revision tag) whose injector serves the namespaces",
    "dataplane.ambient": "namespaces in an ambient data plane: a node proxy (Istio's ztunnel) "
    "for mTLS and L4 authorization, waypoints where L7 features need them",
    "namespaces.manage": "namespaces whose Namespace object the team owns (not rendered)",
    "services.service.manage": "use the app's own Service; meshc renders only the mesh objects",
    "overrides": "per-object patches (spec.overrides) applied after rendering: each patched "
    "object is annotated meshc.io/overridden and named in the render output",
}


def support(target: str, mode: str, feature: str) -> Support:
    return _cell(target, mode, feature)[0]


def note(target: str, mode: str, feature: str) -> str:
    return _cell(target, mode, feature)[1]


def columns() -> list[tuple[str, str]]:
    """(target, routing mode) of every column, from the provider profiles."""
    return [(p.name, mode) for p in providers.all_profiles() for mode in p.columns()]


def _cell(target: str, mode: str, feature: str) -> Capability:
    if feature not in FEATURES:
        raise KeyError(f"unknown feature {feature!r}: add it to FEATURES")
    column = providers.get(target).capabilities.get(mode, {})
    return column.get(feature, (Support.EXACT, ""))


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
    **{
        f"spec.services.{f}": "services.ports"
        for f in (
            "name",
            "namespace",
            "selector.*",
            "ports.name",
            "ports.port",
            "ports.targetPort",
            "ports.protocol",
        )
    },
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
    **{
        f"spec.services.retries.retryOn={v}": "services.retries.retryOn"
        for v in ("5xx", "gateway-error", "retriable-4xx")
    },
    **{
        f"spec.services.retries.retryOn={v}": "services.retries.retryOn.transport"
        for v in ("reset", "connect-failure", "refused-stream")
    },
    **{
        f"spec.services.connectionPool.{f}": f"services.connectionPool.{f}"
        for f in (
            "maxConnections",
            "http1MaxPendingRequests",
            "http2MaxRequests",
            "maxRequestsPerConnection",
        )
    },
    **{
        f"spec.services.outlierDetection.{f}": f"services.outlierDetection.{f}"
        for f in ("consecutive5xxErrors", "interval", "baseEjectionTime", "maxEjectionPercent")
    },
    "spec.services.allow.fromNamespaces": "services.allow.fromNamespaces",
    "spec.services.allow.fromServiceAccounts": "services.allow.fromServiceAccounts",
    "spec.services.allow.ports": "services.allow.ports",
    **TRAFFIC_FIELDS,
    # fitting an existing installation
    "spec.revision": "revision",
    "spec.namespaces.revision": "revision",
    "spec.dataplane=sidecar": "namespaces",
    "spec.dataplane=ambient": "dataplane.ambient",
    "spec.namespaces.dataplane=sidecar": "namespaces",
    "spec.namespaces.dataplane=ambient": "dataplane.ambient",
    "spec.namespaces.manage": "namespaces.manage",
    "spec.services.service.manage": "services.service.manage",
}

# Spec fields no target renders, and who reads them instead (a prefix covers its subfields).
NOT_TARGET_FIELDS: dict[str, str] = {
    "apiVersion": "identifies the document",
    "kind": "identifies the document",
    "metadata": "the spec document's own metadata (its name labels every object)",
    "spec.provider": "chooses the target",
    "spec.admission": "read by the admission webhook and its chart",
    **{
        f"spec.{p.name}": f"settings of the {p.title} target and its admission rules alone"
        for p in providers.all_profiles()
        if p.settings_schema
    },
    "spec.overrides": "applied to every target's output alike (feature `overrides`)",
}
