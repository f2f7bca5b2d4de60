"""The capability matrix's rows for traffic management beyond splits, ingress, egress,
rate limits and telemetry (schema_traffic.py); :mod:`meshc.compiler.capabilities` merges them.
"""

from __future__ import annotations

from .schema_traffic import GRPC_RETRY_CONDITIONS

# feature id -> what it is.
TRAFFIC_FEATURES: dict[str, str] = {
    "services.routes.matches": "a route taking requests that fit any of several matches",
    "services.routes.match.grpc": "route by gRPC service and method",
    "services.routes.timeout": "a request timeout per route",
    "services.routes.retries": "retries per route (attempts, perTryTimeout, retryOn)",
    "services.retries.retryOn.grpc": "gRPC statuses that trigger a retry (cancelled, "
    "deadline-exceeded, internal, resource-exhausted, unavailable)",
    "services.retries.omitted": "a service that gives no retries is not retried",
    "services.routes.fault.delay": "delay a share of a route's requests (fault injection)",
    "services.routes.fault.abort": "answer a share of a route's requests with an HTTP or gRPC "
    "error (fault injection)",
    "services.routes.mirror": "mirror a share of a route's requests to a version or service",
    "services.routes.headers": "set, add and remove request and response headers",
    "services.routes.rewrite": "rewrite the path or host before sending the request on",
    "services.routes.rewrite.prefix": "a path rewrite after a prefix match (the matched "
    "prefix is replaced)",
    "services.routes.redirect": "answer with a redirect (301 or 302)",
    "services.routes.redirect.statusCode": "redirects with status 303, 307 or 308",
    "services.routes.tcp": "split a tcp port's connections across versions",
    "services.rateLimit": "a local rate limit: requests per second each pod accepts",
    "services.rateLimit.perCaller": "a local rate limit per caller identity",
    "ingress": "a gateway for traffic entering the mesh: listeners, hosts, routes to services",
    "ingress.listeners.tls": "HTTPS listeners terminating TLS with a Secret's certificate",
    "ingress.routes.match": "ingress routes by path, header or gRPC method",
    "ingress.routes.policy": "timeouts, header changes, rewrites and redirects on ingress routes",
    "ingress.routes.redirect.statusCode": "ingress redirects with status 303, 307 or 308",
    "ingress.routes.rewrite.prefix": "a path rewrite after a prefix match on an ingress route",
    "ingress.routes.serviceRoutes": "ingress requests follow the backend service's own routes",
    "ingress.routes.backendProtocol": "ingress routes to a grpc or http2 backend, over HTTP/2",
    "ingress.gateway.identity": "the services an ingress routes to admit the gateway's identity",
    "egress.hosts": "external hosts meshed workloads may reach; other hosts are refused",
    "egress.hosts.tls": "external hosts reached over TLS the workload starts (HTTPS)",
    "telemetry": "telemetry settings for a namespace",
    "telemetry.tracing": "the share of requests traced",
    "telemetry.accessLogging": "access logs on or off",
    "telemetry.metrics": "request metrics on or off",
    "telemetry.selector": "telemetry settings for some workloads of a namespace",
}

_ROUTE = "spec.services.routes"
_INGRESS_ROUTE = "spec.ingress.routes"

# Schema field -> feature (see capabilities.FIELDS).
TRAFFIC_FIELDS: dict[str, str] = {
    **{
        f"{_ROUTE}.matches.{f}": "services.routes.matches"
        for f in (
            "headers.*.exact",
            "headers.*.prefix",
            "headers.*.regex",
            "path.exact",
            "path.prefix",
            "path.regex",
            "grpc.service",
            "grpc.method",
        )
    },
    f"{_ROUTE}.match.grpc.service": "services.routes.match.grpc",
    f"{_ROUTE}.match.grpc.method": "services.routes.match.grpc",
    f"{_ROUTE}.timeout": "services.routes.timeout",
    f"{_ROUTE}.retries.attempts": "services.routes.retries",
    f"{_ROUTE}.retries.perTryTimeout": "services.routes.retries",
    # A route's retry conditions are the service's features: the same conditions, the same
    # support.
    **{
        f"{_ROUTE}.retries.retryOn={v}": "services.retries.retryOn"
        for v in ("5xx", "gateway-error", "retriable-4xx")
    },
    **{
        f"{_ROUTE}.retries.retryOn={v}": "services.retries.retryOn.transport"
        for v in ("reset", "connect-failure", "refused-stream")
    },
    **{
        f"{prefix}.retries.retryOn={v}": "services.retries.retryOn.grpc"
        for prefix in ("spec.services", _ROUTE)
        for v in GRPC_RETRY_CONDITIONS
    },
    f"{_ROUTE}.fault.delay.fixed": "services.routes.fault.delay",
    f"{_ROUTE}.fault.delay.percent": "services.routes.fault.delay",
    **{
        f"{_ROUTE}.fault.abort.{f}": "services.routes.fault.abort"
        for f in ("httpStatus", "grpcStatus", "percent", "service.name", "service.port")
    },
    **{
        f"{_ROUTE}.mirror.{f}": "services.routes.mirror"
        for f in ("to", "service", "namespace", "port", "percent")
    },
    **{
        f"{_ROUTE}.headers.{side}.{op}": "services.routes.headers"
        for side in ("request", "response")
        for op in ("set.*", "add.*", "remove")
    },
    f"{_ROUTE}.rewrite.path": "services.routes.rewrite",
    f"{_ROUTE}.rewrite.host": "services.routes.rewrite",
    **{
        f"{_ROUTE}.redirect.{f}": "services.routes.redirect"
        for f in ("path", "host", "scheme", "port")
    },
    f"{_ROUTE}.redirect.statusCode=301": "services.routes.redirect",
    f"{_ROUTE}.redirect.statusCode=302": "services.routes.redirect",
    **{
        f"{_ROUTE}.redirect.statusCode={code}": "services.routes.redirect.statusCode"
        for code in (303, 307, 308)
    },
    "spec.services.rateLimit.requestsPerSecond": "services.rateLimit",
    "spec.services.rateLimit.perCallerRequestsPerSecond": "services.rateLimit.perCaller",
    **{
        f"spec.ingress.{f}": "ingress"
        for f in (
            "name",
            "namespace",
            "listeners.name",
            "listeners.port",
            "listeners.protocol=HTTP",
            "listeners.protocol=HTTPS",
            "listeners.hosts",
            "routes.backend.service",
            "routes.backend.namespace",
            "routes.backend.port",
            "gateway.selector.*",
            "gateway.className",
        )
    },
    "spec.ingress.gateway.namespace": "ingress.gateway.identity",
    "spec.ingress.gateway.serviceAccount": "ingress.gateway.identity",
    "spec.ingress.listeners.tls.secretName": "ingress.listeners.tls",
    **{
        f"{_INGRESS_ROUTE}.{kind}.{f}": "ingress.routes.match"
        for kind in ("match", "matches")
        for f in (
            "headers.*.exact",
            "headers.*.prefix",
            "headers.*.regex",
            "path.exact",
            "path.prefix",
            "path.regex",
            "grpc.service",
            "grpc.method",
        )
    },
    f"{_INGRESS_ROUTE}.timeout": "ingress.routes.policy",
    **{
        f"{_INGRESS_ROUTE}.headers.{side}.{op}": "ingress.routes.policy"
        for side in ("request", "response")
        for op in ("set.*", "add.*", "remove")
    },
    f"{_INGRESS_ROUTE}.rewrite.path": "ingress.routes.policy",
    f"{_INGRESS_ROUTE}.rewrite.host": "ingress.routes.policy",
    **{
        f"{_INGRESS_ROUTE}.redirect.{f}": "ingress.routes.policy"
        for f in ("path", "host", "scheme", "port", "statusCode=301", "statusCode=302")
    },
    **{
        f"{_INGRESS_ROUTE}.redirect.statusCode={code}": "ingress.routes.redirect.statusCode"
        for code in (303, 307, 308)
    },
    "spec.egress.hosts.host": "egress.hosts",
    "spec.egress.hosts.ports.port": "egress.hosts",
    "spec.egress.hosts.ports.protocol=http": "egress.hosts",
    "spec.egress.hosts.ports.protocol=tls": "egress.hosts.tls",
    "spec.telemetry.name": "telemetry",
    "spec.telemetry.namespace": "telemetry",
    "spec.telemetry.selector.*": "telemetry.selector",
    "spec.telemetry.tracing.samplingPercent": "telemetry.tracing",
    "spec.telemetry.accessLogging.enabled": "telemetry.accessLogging",
    "spec.telemetry.metrics.enabled": "telemetry.metrics",
}

# Fields only some targets read, and why the others may ignore them: the test that
# walks the schema does not ask the other targets to render or report them.
ONLY_FOR: dict[str, tuple[tuple[str, ...], str]] = {
    f"{_ROUTE}.fault.abort.service": (
        ("linkerd",),
        (
            "where meshes that cannot abort in the proxy send the aborted share; "
            "Istio aborts in the proxy"
        ),
    ),
    "spec.ingress.gateway.selector": (
        ("istio",),
        "the labels of Istio's gateway pods, which an Istio Gateway selects",
    ),
    "spec.ingress.gateway.className": (
        ("linkerd", "consul"),
        "the GatewayClass of a Gateway API Gateway",
    ),
    "spec.telemetry.name": (
        ("istio",),
        (
            "names Istio's Telemetry object; Linkerd's settings are namespace "
            "annotations, which need no name"
        ),
    ),
}
