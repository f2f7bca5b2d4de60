"""Linkerd: the facts meshc renders and enforces Linkerd with.

Sources: Linkerd's proxy injector (controller/proxy-injector, pkg/inject)
names the containers and reads the config.linkerd.io annotations; its
proxy-init exempts the proxy's UID (2102) from capture. The capability notes
are argued in docs/linkerd.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .profile import (
    Capability,
    Markers,
    MeshFacts,
    NamespaceFacts,
    Profile,
    RenderOption,
    Support,
)

INJECT_ANNOTATION = "linkerd.io/inject"
INBOUND_POLICY_ANNOTATION = "config.linkerd.io/default-inbound-policy"
# STRICT on Linkerd: only meshed, mTLS-authenticated clients may connect;
# Linkerd's own default, all-unauthenticated, also accepts plaintext from
# unmeshed pods. cluster-authenticated requires mTLS too but also limits
# sources to the cluster networks, which turns away multicluster gateways;
# mTLS is the property STRICT promises, so all-authenticated is the match.
STRICT_INBOUND_POLICY = "all-authenticated"


@dataclass(frozen=True)
class LinkerdProfile(Profile):
    def namespace_markers(self, mesh: MeshFacts, namespace: NamespaceFacts) -> Markers:
        annotations = {INJECT_ANNOTATION: "enabled"}
        if mesh.mtls == "STRICT":
            annotations[INBOUND_POLICY_ANNOTATION] = STRICT_INBOUND_POLICY
        return {"labels": {}, "annotations": annotations}


_A, _U = Support.APPROX, Support.UNSUPPORTED
_NOT_RENDERED = "; not rendered"
_SP_IGNORES_ACCRUAL = (
    "Linkerd ignores failure-accrual annotations on a Service that has a ServiceProfile, and smi "
    "mode has one for every service with routes (linkerd-smi writes the split into it) or with "
    "retries or a timeout; rendered only for services with neither"
)

# Both Linkerd routing modes (see docs/linkerd.md for the reasoning behind each entry).
_LINKERD: dict[str, Capability] = {
    "services.retries.retryOn.transport": (
        _U,
        "Linkerd retries on HTTP response statuses only" + _NOT_RENDERED,
    ),
    "services.connectionPool.maxConnections": (
        _U,
        "Linkerd has no per-service connection limit" + _NOT_RENDERED,
    ),
    "services.connectionPool.http1MaxPendingRequests": (
        _U,
        "Linkerd has no per-service limit on queued requests" + _NOT_RENDERED,
    ),
    "services.connectionPool.http2MaxRequests": (
        _U,
        "Linkerd has no limit on concurrent requests (HTTPLocalRateLimitPolicy limits the "
        "request rate, which is not the same)" + _NOT_RENDERED,
    ),
    "services.connectionPool.maxRequestsPerConnection": (
        _A,
        "Linkerd balances each request, not each connection, across endpoints over reused "
        "proxy-to-proxy connections, which is what the cap is for" + _NOT_RENDERED,
    ),
    "services.outlierDetection.interval": (
        _A,
        "Linkerd has no ejection sweep: an endpoint trips as soon as the consecutive "
        "failures happen" + _NOT_RENDERED,
    ),
    "services.outlierDetection.baseEjectionTime": (
        _A,
        (
            "rendered as balancer.linkerd.io/failure-accrual-consecutive-min-penalty; later "
            "probes back off exponentially up to the max-penalty (default 1m) instead of ejecting "
            "for baseEjectionTime times the number of ejections"
        ),
    ),
    "services.outlierDetection.maxEjectionPercent": (
        _U,
        "Linkerd has no cap on unavailable endpoints: all endpoints may trip at once"
        + _NOT_RENDERED,
    ),
    "services.service.manage": (
        _U,
        (
            "Linkerd reads retries, timeouts and failure accrual from annotations on the Service; "
            "with the app's own Service meshc renders none to carry them, and the message lists the "
            "annotations to add to it"
        ),
    ),
    "dataplane.ambient": (
        _U,
        (
            "Linkerd has no ambient data plane (Istio's ztunnel and waypoints); the namespaces are "
            "rendered with linkerd.io/inject: enabled"
        ),
    ),
    "revision": (
        _U,
        (
            "Linkerd has no control-plane revisions a namespace names; the namespaces are "
            "rendered with linkerd.io/inject: enabled"
        ),
    ),
    "durations.subMillisecond": (
        _A,
        (
            "Linkerd's duration annotations take a whole number of ms, s, m or h; rounded to "
            "the nearest millisecond"
        ),
    ),
}
_LINKERD_GATEWAY_API: dict[str, Capability] = {
    "services.routes.name": (
        _A,
        "Linkerd's bundled Gateway API (v1.1.1) has no rule names; the name only labels "
        "the route" + _NOT_RENDERED,
    ),
    "services.routes.order": (
        _A,
        (
            "Gateway API ranks HTTPRoute rules by match specificity (exact path, longest path, "
            "most headers) before list order; rules are rendered in spec order, so overlapping "
            "matches may resolve to another route"
        ),
    ),
}
_NO_MATCH_IN_SPLIT = (
    "TrafficSplit cannot match requests; only the default route's split is rendered and "
    "requests this route would take follow it"
)
_LINKERD_SMI: dict[str, Capability] = {
    "services.routes.name": (
        _A,
        "a TrafficSplit has no routes to name; the name only labels the route" + _NOT_RENDERED,
    ),
    "services.routes.match.headers": (_U, _NO_MATCH_IN_SPLIT),
    "services.routes.match.headers.regex": (_U, _NO_MATCH_IN_SPLIT),
    "services.routes.match.path": (_U, _NO_MATCH_IN_SPLIT),
    "services.routes.match.path.regex": (_U, _NO_MATCH_IN_SPLIT),
    "services.retries.attempts": (
        _A,
        (
            "ServiceProfile retries are budget-based: rendered isRetryable on a catch-all "
            "route and retryBudget.retryRatio N (retries add at most N times the request volume; "
            "minRetriesPerSecond 10, ttl 10s), so one request may be retried more or fewer times"
        ),
    ),
    "services.retries.perTryTimeout": (
        _U,
        "ServiceProfile has no per-try timeout, only a route timeout for all tries" + _NOT_RENDERED,
    ),
    "services.retries.retryOn": (
        _A,
        (
            "a retryable ServiceProfile route retries the responses its responseClasses mark "
            "as failures, and every 5xx is one: gateway-error widens to 5xx, and retriable-4xx "
            "marks 409 a failure, which lowers the success rate too"
        ),
    ),
    "services.outlierDetection.consecutive5xxErrors": (_U, _SP_IGNORES_ACCRUAL),
    "services.outlierDetection.baseEjectionTime": (_U, _SP_IGNORES_ACCRUAL),
}


# Traffic management, ingress, egress, rate limits and telemetry, in both routing modes
# (docs/linkerd.md argues each).
_NOT_IN_POLICY_CONTROLLER = (
    "Linkerd's policy controller refuses the {} filter (policy-controller/k8s/index/src/"
    "outbound/index/http.rs, convert_gateway_filter) and with it the whole route; not rendered"
)
_TRAFFIC: dict[str, Capability] = {
    "services.retries.retryOn.grpc": (
        _U,
        (
            "Linkerd applies retry.linkerd.io/grpc to GRPCRoutes only, and meshc routes a gRPC "
            "port with HTTPRoutes (gRPC methods are HTTP/2 paths)" + _NOT_RENDERED
        ),
    ),
    "services.routes.fault.delay": (_U, "Linkerd's proxy cannot delay requests" + _NOT_RENDERED),
    "services.routes.fault.abort": (
        _U,
        (
            "Linkerd's proxy cannot abort requests; not rendered unless abort.service names a "
            "Service that answers with the error: then that share of the route's requests is sent "
            "to it as a weighted backend (Linkerd's documented fault injection), with a warning: "
            "retries and failure accrual see those errors, unlike a proxy's abort"
        ),
    ),
    "services.routes.mirror": (_U, _NOT_IN_POLICY_CONTROLLER.format("RequestMirror")),
    "services.routes.rewrite": (_U, _NOT_IN_POLICY_CONTROLLER.format("URLRewrite")),
    "services.routes.tcp": (
        _U,
        (
            "Linkerd splits opaque TCP with TCPRoute gateway.networking.k8s.io/v1alpha2, a "
            "version the standard channel's TCPRoute (v1) is not served as; meshc renders only "
            "Gateway API objects both accept" + _NOT_RENDERED
        ),
    ),
    "ingress.routes.serviceRoutes": (
        _A,
        (
            "the ingress controller's proxy applies the backend service's HTTPRoutes only when "
            "the controller is meshed and sends to the Service address (not straight to its "
            "endpoints, which many controllers do by default)"
        ),
    ),
    "ingress.routes.redirect.statusCode": (
        _A,
        (
            "the HTTPRoute CRD Linkerd bundles (Gateway API v1.1.1) accepts 301 and 302 only: "
            "308 is rendered as 301, 303 and 307 as 302, which let a client change the method"
        ),
    ),
    "ingress.routes.rewrite.prefix": (
        _U,
        (
            "Gateway API rewrites a prefix only after a PathPrefix match, which matches whole "
            "path segments; the spec's prefix is a string prefix (rendered as a regular "
            "expression)" + _NOT_RENDERED
        ),
    ),
    "telemetry.tracing": (
        _U,
        (
            "Linkerd's proxy follows the sampling decision of the incoming trace context and "
            "has no sampling rate of its own" + _NOT_RENDERED
        ),
    ),
    "telemetry.metrics": (
        _U,
        "Linkerd's proxy always serves its metrics; there is no switch" + _NOT_RENDERED,
    ),
    "telemetry.selector": (
        _U,
        (
            "Linkerd reads per-workload proxy settings from pod annotations, and meshc renders "
            "no workloads; give the namespace alone" + _NOT_RENDERED
        ),
    ),
}
_TRAFFIC_GATEWAY_API: dict[str, Capability] = {
    "services.routes.redirect.statusCode": (
        _A,
        (
            "Linkerd's bundled Gateway API (v1.1.1) accepts 301 and 302 only: 308 is rendered "
            "as 301, 303 and 307 as 302, which let a client change the method"
        ),
    ),
    "services.routes.retries": (
        _A,
        (
            "a route without retries (attempts: 0) under a service with retries is retried as "
            "the service says: Linkerd reads a retry limit of 0 as unset"
        ),
    ),
}
_NOT_IN_TRAFFIC_SPLIT = "a TrafficSplit splits whole services, with no routes" + _NOT_RENDERED
_TRAFFIC_SMI: dict[str, Capability] = {
    feature: (_U, _NOT_IN_TRAFFIC_SPLIT)
    for feature in (
        "services.routes.matches",
        "services.routes.match.grpc",
        "services.routes.timeout",
        "services.routes.retries",
        "services.routes.headers",
        "services.routes.redirect",
        "services.routes.redirect.statusCode",
    )
}


PROFILE = LinkerdProfile(
    name="linkerd",
    title="Linkerd",
    system_namespaces=("linkerd", "linkerd-viz"),
    proxy_images=("cr.l5d.io/linkerd/proxy", "cr.l5d.io/linkerd/proxy-init"),
    mesh_containers=("linkerd-proxy", "linkerd-init", "linkerd-network-validator"),
    proxy_uid=2102,
    proxy_gids=(),
    capture_annotations=MappingProxyType(
        {
            "config.linkerd.io/skip-inbound-ports": "exclude",
            "config.linkerd.io/skip-outbound-ports": "exclude",
            "config.linkerd.io/skip-subnets": "exclude",
        }
    ),
    kinds=MappingProxyType(
        {
            "Server": 1,
            "MeshTLSAuthentication": 1,
            "AuthorizationPolicy": 1,
            "ServiceProfile": 2,
            "TrafficSplit": 2,
            "HTTPRoute": 2,
            "HTTPLocalRateLimitPolicy": 2,
            "EgressNetwork": 1,
            "TLSRoute": 2,
            "Gateway": 2,
            "ReferenceGrant": 1,
        }
    ),
    config_groups=("policy.linkerd.io", "split.smi-spec.io"),
    config_kinds=(("linkerd.io", "ServiceProfile", "serviceprofiles"),),
    pod_opt_out=Markers(labels={}, annotations={INJECT_ANNOTATION: "disabled"}),
    injection_keys=MappingProxyType({"annotations": (INJECT_ANNOTATION,)}),
    protected_kinds=(
        ("policy.linkerd.io", "Server", "servers"),
        ("policy.linkerd.io", "AuthorizationPolicy", "authorizationpolicies"),
        ("policy.linkerd.io", "MeshTLSAuthentication", "meshtlsauthentications"),
    ),
    # charts/linkerd-crds/templates/policy/server.yaml (v1beta3): both defaulted.
    spec_defaults=MappingProxyType(
        {
            "Server": MappingProxyType({"accessPolicy": "deny", "proxyProtocol": "unknown"}),
        }
    ),
    render_options=(
        RenderOption(
            "routing",
            ("gateway-api", "smi"),
            "Linkerd routing API (default: gateway-api; smi for clusters running linkerd-smi)",
        ),
    ),
    capabilities=MappingProxyType(
        {
            "gateway-api": MappingProxyType(
                {**_LINKERD, **_LINKERD_GATEWAY_API, **_TRAFFIC, **_TRAFFIC_GATEWAY_API}
            ),
            "smi": MappingProxyType({**_LINKERD, **_LINKERD_SMI, **_TRAFFIC, **_TRAFFIC_SMI}),
        }
    ),
)
