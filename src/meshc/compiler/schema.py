"""The JSON Schema of the Mesh spec (``meshc schema`` prints it).

The schema owns the structure: field names, types, enums, ranges, name
syntax. Rules that relate fields to each other (weights, version references,
duplicates) live in :mod:`meshc.compiler.validate`.
"""

from __future__ import annotations

from typing import Any

from meshc import providers

from .durations import DURATION
from .model import DEFAULT_TRUST_DOMAIN, DEFAULT_WEBHOOK_NAMESPACE

API_VERSION = "meshc.io/v1alpha1"
KIND = "Mesh"
MTLS_MODES = ("STRICT", "PERMISSIVE")
POLICY_IDS = ("injection-required", "mtls-strict", "allowed-namespaces", "managed-objects")
POLICY_MODES = ("enforce", "warn", "audit")
# Who enforces the policies: the admission webhook, the API server itself
# (ValidatingAdmissionPolicy and MutatingAdmissionPolicy objects meshc renders),
# or both. docs/native.md.
ENFORCEMENTS = ("webhook", "native", "both")
KUBERNETES_VERSION = r"^v?1\.[0-9]+(\.[0-9]+)?$"
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Label keys: optional DNS-subdomain prefix, then a name segment.
LABEL_KEY = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"


def _obj(
    properties: dict[str, Any], required: tuple[str, ...] = (), description: str = ""
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def _str(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _int(description: str, minimum: int = 0, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum, "description": description}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _name(description: str) -> dict[str, Any]:
    return _str(description, pattern=DNS1123_LABEL, maxLength=63)


def _names(description: str) -> dict[str, Any]:
    return {"type": "array", "items": _name("a namespace name"), "description": description}


def _duration(description: str) -> dict[str, Any]:
    return _str(description + " (a Go duration such as 500ms, 3s, 1m30s)", pattern=DURATION)


_LABELS = {
    "type": "object",
    "propertyNames": {"pattern": LABEL_KEY, "maxLength": 317},
    "additionalProperties": {"type": "string", "pattern": LABEL_VALUE, "maxLength": 63},
}
_ANNOTATIONS = {
    "type": "object",
    "propertyNames": {"pattern": LABEL_KEY, "maxLength": 317},
    "additionalProperties": {"type": "string"},
}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}

_STRING_MATCH = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
    "description": "exactly one of exact, prefix or regex (RE2)",
    "properties": {
        "exact": {"type": "string"},
        "prefix": {"type": "string"},
        "regex": {"type": "string"},
    },
}

_ROUTE = _obj(
    {
        "name": _name("a name for the route (used in rendered route names)"),
        "match": _obj(
            {
                "headers": {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": r"^[A-Za-z0-9!#\$%&'*+.^_`|~-]+$"},
                    "additionalProperties": _STRING_MATCH,
                    "description": "request header name -> how its value must match",
                },
                "path": {**_STRING_MATCH, "description": "how the request path must match"},
            },
            description="requests this route takes; a route without match is the default route "
            "and comes last",
        ),
        "split": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": DNS1123_LABEL},
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100},
            "description": "version name -> weight in percent; weights sum to 100 "
            "(canary 90/10, blue/green 100/0)",
        },
        "to": _name("send every request of this route to one version (A/B); same as split {V: 100}"),
    },
    description="one routing rule: a match (optional) and where its requests go",
)

_SERVICE = _obj(
    {
        "name": _name("the Service name"),
        "namespace": _name("a namespace listed in spec.namespaces"),
        "selector": {**_LABELS, "minProperties": 1, "description": "labels of all the service's pods"},
        "ports": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "name": _name("the port name (Istio reads the protocol from it)"),
                    "port": {**_PORT, "description": "the Service port clients call"},
                    "targetPort": {
                        "description": "the container port (a number, or a named container port)",
                        "oneOf": [_PORT, _name("a named container port")],
                    },
                    "protocol": {
                        "enum": ["http", "http2", "grpc", "tcp"],
                        "description": "application protocol (default http)",
                    },
                },
                required=("name", "port", "targetPort"),
            ),
        },
        "versions": {
            "type": "array",
            "items": _obj(
                {
                    "name": _name("the version name routes refer to"),
                    "labels": {**_LABELS, "minProperties": 1, "description": "labels of this version's pods"},
                },
                required=("name", "labels"),
            ),
        },
        "routes": {
            "type": "array",
            "items": _ROUTE,
            "description": "routing rules in order; the first that matches wins",
        },
        "timeout": _duration("overall request timeout"),
        "retries": _obj(
            {
                "attempts": _int("retries after the first try", 0, 20),
                "perTryTimeout": _duration("timeout of each try"),
                "retryOn": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "refused-stream"]},
                    "description": "conditions that trigger a retry (Istio retryOn; Linkerd retries 5xx)",
                },
            },
            required=("attempts",),
        ),
        "connectionPool": _obj(
            {
                "maxConnections": _int("TCP connections to a destination host", 1),
                "http1MaxPendingRequests": _int("requests queued while waiting for a connection", 1),
                "http2MaxRequests": _int("concurrent requests to a destination", 1),
                "maxRequestsPerConnection": _int("requests per connection (0: unlimited)"),
            },
            description="limits that protect the service from overload",
        ),
        "outlierDetection": _obj(
            {
                "consecutive5xxErrors": _int("5xx responses before a host is ejected", 1),
                "interval": _duration("time between ejection sweeps"),
                "baseEjectionTime": _duration("minimum ejection time"),
                "maxEjectionPercent": _int("most hosts ejected at once, percent", 0, 100),
            },
            description="circuit breaking: eject hosts that keep failing",
        ),
        "allow": {
            "type": "array",
            "items": _obj(
                {
                    "fromNamespaces": _names("caller namespaces (each must be allowed)"),
                    "fromServiceAccounts": {
                        "type": "array",
                        "items": _str(
                            "NAMESPACE/SERVICEACCOUNT",
                            pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                        ),
                    },
                    "ports": {
                        "type": "array",
                        "items": {**_PORT, "description": "a Service port of this service"},
                        "description": "Service ports the rule opens (default: all)",
                    },
                },
            ),
            "description": "who may call the service; without allow rules any meshed caller may",
        },
    },
    required=("name", "namespace", "selector", "ports"),
)

_ADMISSION = _obj(
    {
        "allowedNamespaces": _names("namespaces where mesh workloads and configuration may live "
                                    "(default: spec.namespaces)"),
        "exemptNamespaces": _names("namespaces the webhook never judges (default: "
                                   + ", ".join(providers.default_exempt_namespaces())
                                   + ", and webhookNamespace)"),
        "enforcement": {
            "enum": list(ENFORCEMENTS),
            "description": "who enforces the policies: the admission webhook (default), the API "
            "server itself through ValidatingAdmissionPolicy and MutatingAdmissionPolicy objects "
            "meshc renders (native), or both",
        },
        "kubernetesVersion": _str(
            "the oldest Kubernetes release the native admission policies must run on, such as "
            "1.34 (default 1.36; meshc render --kube-version overrides)", pattern=KUBERNETES_VERSION),
        "webhookNamespace": _name(f"the namespace the webhook runs in (default "
                                  f"{DEFAULT_WEBHOOK_NAMESPACE})"),
        "policies": {
            "type": "object",
            "additionalProperties": False,
            "properties": {pid: {"enum": list(POLICY_MODES)} for pid in POLICY_IDS},
            "description": "mode of each policy: enforce (deny), warn, or audit (default enforce)",
        },
        "exemptions": {
            "type": "array",
            "items": _obj(
                {
                    "namespace": _name("where the exemption applies"),
                    "selector": {**_LABELS, "description": "pods it applies to (default: all)"},
                    "annotations": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "pattern": LABEL_KEY},
                        "description": "traffic-capture annotations these pods may carry",
                    },
                    "reason": _str("why the exemption exists (shown in reviews)", minLength=1),
                },
                required=("namespace", "annotations", "reason"),
            ),
        },
        "proxyImages": _obj(
            {p: {"type": "array", "items": {"type": "string", "minLength": 1}} for p in providers.names()},
            description="image repositories recognised as the mesh's own proxy and init containers",
        ),
    },
)

def _provider_settings() -> dict[str, Any]:
    """spec.<provider>: the settings of one mesh alone, from its profile."""
    return {
        p.name: _obj(dict(p.settings_schema),
                     description=f"settings read only when spec.provider is {p.name}")
        for p in providers.all_profiles() if p.settings_schema
    }


MESH_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://meshc.io/schemas/mesh-v1alpha1.json",
    "title": "meshc Mesh",
    **_obj(
        {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "metadata": _obj(
                {"name": _name("the mesh name"), "labels": _LABELS, "annotations": _ANNOTATIONS},
                required=("name",),
            ),
            "spec": _obj(
                {
                    "provider": {"enum": list(providers.names()), "description": "the target mesh"},
                    "mtls": {"enum": list(MTLS_MODES), "description": "mTLS mode (default STRICT)"},
                    "trustDomain": _str(f"SPIFFE trust domain (default {DEFAULT_TRUST_DOMAIN})"),
                    "namespaces": {
                        "type": "array",
                        "minItems": 1,
                        "items": _obj(
                            {
                                "name": _name("namespace name"),
                                "labels": _LABELS,
                                "annotations": _ANNOTATIONS,
                            },
                            required=("name",),
                        ),
                        "description": "the meshed namespaces (sidecar injection on)",
                    },
                    "admission": _ADMISSION,
                    "services": {"type": "array", "items": _SERVICE},
                    **_provider_settings(),
                },
                required=("provider", "namespaces"),
            ),
        },
        required=("apiVersion", "kind", "metadata", "spec"),
    ),
}
