"""The spec schema's traffic management beyond splits: per-route policy, fault injection,
mirroring, header manipulation, rewrites and redirects, gRPC matches, rate limits, and the
spec sections for ingress, egress and telemetry.

:mod:`meshc.compiler.schema` plugs these nodes into the Mesh schema; the rules
that relate them to other fields live in :mod:`meshc.compiler.validate_traffic`.
"""

from __future__ import annotations

from typing import Any

from .schema_base import (
    DNS1123_SUBDOMAIN,
    HEADER_NAME,
    LABELS,
    PORT,
    STRING_MATCH,
    duration,
    integer,
    name,
    obj,
    string,
)

# Response statuses and connection failures that trigger an HTTP retry (Istio's retryOn).
HTTP_RETRY_CONDITIONS = (
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
)
# gRPC statuses that trigger a retry, as Istio's retryOn and Linkerd's retry.linkerd.io/grpc
# spell them.
GRPC_RETRY_CONDITIONS = (
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
)
# The gRPC status codes by name (google.golang.org/grpc/codes), as Istio's abort.grpcStatus takes them.
GRPC_STATUSES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)
REDIRECT_CODES = (301, 302, 303, 307, 308)
LISTENER_PROTOCOLS = ("HTTP", "HTTPS")
EGRESS_PROTOCOLS = ("http", "tls")
# A gRPC service name: a protobuf package-qualified name.
_GRPC_SERVICE = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_GRPC_METHOD = r"^[A-Za-z_][A-Za-z0-9_]*$"
_HOST = string("a host name (DNS-1123 subdomain)", pattern=DNS1123_SUBDOMAIN, maxLength=253)


def _percent(description: str) -> dict[str, Any]:
    return {
        "type": "number",
        "minimum": 0,
        "maximum": 100,
        "description": description + " (0-100, at most two decimals; default 100)",
    }


_MATCH_PROPERTIES = {
    "headers": {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": HEADER_NAME},
        "additionalProperties": STRING_MATCH,
        "description": "request header name -> how its value must match",
    },
    "path": {**STRING_MATCH, "description": "how the request path must match"},
    "grpc": obj(
        {
            "service": string(
                "the package-qualified gRPC service, e.g. helloworld.Greeter", pattern=_GRPC_SERVICE
            ),
            "method": string(
                "the method (default: every method of the service)", pattern=_GRPC_METHOD
            ),
        },
        required=("service",),
        description="a gRPC method: the request path /<service>/<method>",
    ),
}


def ref(name: str, description: str = "") -> dict[str, Any]:
    """A node defined once in the schema's $defs (fastjsonschema then generates its check once)."""
    node = {"$ref": f"#/$defs/{name}"}
    return {**node, "description": description} if description else node


MATCH = ref(
    "match",
    "requests this route takes (all conditions must hold); a route without "
    "match is the default route and comes last",
)
MATCHES = {
    "type": "array",
    "minItems": 1,
    "items": ref("match"),
    "description": "requests this route takes: those that fit any of these matches (give match "
    "or matches)",
}

_RETRIES = obj(
    {
        "attempts": integer("retries after the first try (0: never retry)", 0, 20),
        "perTryTimeout": duration("timeout of each try"),
        "retryOn": {
            "type": "array",
            "items": {"type": "string", "enum": [*HTTP_RETRY_CONDITIONS, *GRPC_RETRY_CONDITIONS]},
            "description": "conditions that trigger a retry: HTTP statuses and connection "
            "failures, or gRPC statuses (default: 5xx)",
        },
    },
    required=("attempts",),
)
RETRIES = ref("retries")

_HEADER_VALUES = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"pattern": HEADER_NAME},
    "additionalProperties": {"type": "string", "minLength": 1},
}
_HEADER_OPS = obj(
    {
        "set": {**_HEADER_VALUES, "description": "header -> value, replacing any value it has"},
        "add": {**_HEADER_VALUES, "description": "header -> value, added to any values it has"},
        "remove": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": HEADER_NAME},
            "description": "headers to remove",
        },
    },
)

ROUTE_POLICY: dict[str, Any] = {
    "timeout": duration("request timeout of this route (default: the service's timeout)"),
    "retries": ref("retries", "retries of this route (default: the service's retries)"),
    "fault": obj(
        {
            "delay": obj(
                {
                    "fixed": duration("how long to delay each request"),
                    "percent": _percent("the share of requests delayed"),
                },
                required=("fixed",),
            ),
            "abort": obj(
                {
                    "httpStatus": integer("the HTTP status to answer with", 200, 599),
                    "grpcStatus": {
                        "enum": list(GRPC_STATUSES),
                        "description": "the gRPC status to answer with",
                    },
                    "percent": _percent("the share of requests aborted"),
                    "service": obj(
                        {
                            "name": name(
                                "a Service of this namespace that answers every "
                                "request with the status"
                            ),
                            "port": {**PORT, "description": "its port"},
                        },
                        required=("name", "port"),
                        description="where meshes that cannot abort in the proxy (Linkerd) "
                        "send the aborted share; without it they refuse the abort",
                    ),
                },
                description="answer a share of requests with an error instead of sending them "
                "on (exactly one of httpStatus or grpcStatus)",
            ),
        },
        description="fault injection: delay or abort requests of this route",
    ),
    "mirror": obj(
        {
            "to": name("mirror to this version of the service"),
            "service": name("or to another service of the spec"),
            "namespace": name("that service's namespace (default: this service's)"),
            "port": {**PORT, "description": "the port of that service (default: its only port)"},
            "percent": _percent("the share of requests mirrored"),
        },
        description="send a copy of each request (the copy's response is dropped): to a "
        "version (to) or another service",
    ),
    "headers": obj(
        {
            "request": ref("headerOps", "changes to the request's headers"),
            "response": ref("headerOps", "changes to the response's headers"),
        },
        description="header manipulation",
    ),
    "rewrite": ref("rewrite", "rewrite the request before it is sent on"),
    "redirect": ref(
        "redirect",
        "answer with a redirect instead of sending the request on (a "
        "route with redirect has no split or to)",
    ),
}

_REWRITE = obj(
    {
        "path": string(
            "replace the matched path prefix (a prefix match), or the whole "
            "path (any other match), with this",
            pattern=r"^/",
        ),
        "host": {**_HOST, "description": "replace the Host (authority) header with this"},
    },
    description="rewrite the request before it is sent on",
)
_REDIRECT = obj(
    {
        "path": string("the path to redirect to (replaces the whole path)", pattern=r"^/"),
        "host": {**_HOST, "description": "the host to redirect to"},
        "scheme": {"enum": ["http", "https"], "description": "the scheme to redirect to"},
        "port": {**PORT, "description": "the port to redirect to"},
        "statusCode": {
            "enum": list(REDIRECT_CODES),
            "description": "the redirect status (default 301)",
        },
    },
    description="answer with a redirect instead of sending the request on (a route with "
    "redirect has no split or to)",
)

DEFS: dict[str, Any] = {
    "match": obj(_MATCH_PROPERTIES),
    "retries": _RETRIES,
    "headerOps": _HEADER_OPS,
    "rewrite": _REWRITE,
    "redirect": _REDIRECT,
}

RATE_LIMIT = obj(
    {
        "requestsPerSecond": integer(
            "requests per second each pod of the service accepts on "
            "each port, from all callers together",
            1,
        ),
        "perCallerRequestsPerSecond": integer(
            "requests per second each pod accepts from any one caller identity", 1
        ),
    },
    description="a local rate limit, enforced by each pod's proxy; excess requests get 429",
)

_INGRESS_ROUTE = obj(
    {
        "match": MATCH,
        "matches": MATCHES,
        "backend": obj(
            {
                "service": name("a service of the spec"),
                "namespace": name("its namespace (default: the ingress namespace)"),
                "port": {**PORT, "description": "its port (default: its only port)"},
            },
            required=("service",),
            description="the service the route sends its requests to",
        ),
        "timeout": ROUTE_POLICY["timeout"],
        "headers": ROUTE_POLICY["headers"],
        "rewrite": ROUTE_POLICY["rewrite"],
        "redirect": ROUTE_POLICY["redirect"],
    },
    description="one routing rule for requests entering through the gateway; the first that "
    "matches wins",
)

INGRESS = {
    "type": "array",
    "items": obj(
        {
            "name": name("names the gateway configuration and its routes"),
            "namespace": name("a meshed namespace where the gateway configuration lives"),
            "gateway": obj(
                {
                    "namespace": name("the namespace the gateway's pods run in"),
                    "serviceAccount": string(
                        "the gateway pods' service account (their mesh identity)",
                        pattern=DNS1123_SUBDOMAIN,
                        maxLength=253,
                    ),
                    "selector": {
                        **LABELS,
                        "minProperties": 1,
                        "description": "labels of the gateway's pods (Istio's Gateway "
                        "selector; default istio: ingressgateway)",
                    },
                    "className": string(
                        "the GatewayClass of a Gateway API gateway",
                        pattern=DNS1123_SUBDOMAIN,
                        maxLength=253,
                    ),
                },
                required=("namespace", "serviceAccount"),
                description="the ingress gateway's pods: their identity (callers of the "
                "services it routes to) and how the mesh finds them",
            ),
            "listeners": {
                "type": "array",
                "minItems": 1,
                "items": obj(
                    {
                        "name": name("the listener name"),
                        "port": {**PORT, "description": "the port the gateway listens on"},
                        "protocol": {
                            "enum": list(LISTENER_PROTOCOLS),
                            "description": "HTTP, or HTTPS (TLS terminated at the gateway)",
                        },
                        "hosts": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "string",
                                "maxLength": 253,
                                "pattern": r"^(\*|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                                r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$",
                            },
                            "description": "host names the listener accepts (* for any, "
                            "*.example.com for a subdomain)",
                        },
                        "tls": obj(
                            {"secretName": name("the Secret holding the certificate and key")},
                            required=("secretName",),
                            description="the server certificate (HTTPS only)",
                        ),
                    },
                    required=("name", "port", "protocol", "hosts"),
                ),
            },
            "routes": {"type": "array", "minItems": 1, "items": _INGRESS_ROUTE},
        },
        required=("name", "namespace", "gateway", "listeners", "routes"),
    ),
    "description": "traffic entering the mesh through an ingress gateway",
}

EGRESS = obj(
    {
        "hosts": {
            "type": "array",
            "minItems": 1,
            "items": obj(
                {
                    "host": _HOST,
                    "ports": {
                        "type": "array",
                        "minItems": 1,
                        "items": obj(
                            {
                                "port": PORT,
                                "protocol": {
                                    "enum": list(EGRESS_PROTOCOLS),
                                    "description": "http (plain HTTP) or tls "
                                    "(TLS the workload starts itself, e.g. HTTPS)",
                                },
                            },
                            required=("port", "protocol"),
                        ),
                    },
                },
                required=("host", "ports"),
            ),
            "description": "the external hosts meshed workloads may reach",
        },
    },
    required=("hosts",),
    description="traffic leaving the mesh",
)

TELEMETRY = {
    "type": "array",
    "items": obj(
        {
            "name": name("names the telemetry configuration"),
            "namespace": name("a meshed namespace"),
            "selector": {
                **LABELS,
                "minProperties": 1,
                "description": "labels of the workloads it applies to (default: "
                "the whole namespace)",
            },
            "tracing": obj(
                {"samplingPercent": _percent("the share of requests traced")},
                required=("samplingPercent",),
            ),
            "accessLogging": obj(
                {"enabled": {"type": "boolean", "description": "write an access log"}},
                required=("enabled",),
            ),
            "metrics": obj(
                {"enabled": {"type": "boolean", "description": "export request metrics"}},
                required=("enabled",),
            ),
        },
        required=("name", "namespace"),
    ),
    "description": "tracing, access logging and metrics, per namespace or workload",
}
