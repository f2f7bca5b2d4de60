"""The JSON Schema of the Mesh spec (``meshc schema`` prints it).

The schema owns the structure: field names, types, enums, ranges, name
syntax. Rules that relate fields to each other (weights, version references,
duplicates) live in :mod:`meshc.compiler.validate`.
"""

from __future__ import annotations

from typing import Any

from meshc import providers

from . import schema_traffic as traffic
from .model import DATAPLANES, DEFAULT_TRUST_DOMAIN, DEFAULT_WEBHOOK_NAMESPACE
from .schema_base import ANNOTATIONS as _ANNOTATIONS
from .schema_base import DNS1123_LABEL, LABEL_KEY, LABEL_VALUE
from .schema_base import LABELS as _LABELS
from .schema_base import PORT as _PORT
from .schema_base import duration as _duration
from .schema_base import integer as _int
from .schema_base import name as _name
from .schema_base import names as _names
from .schema_base import obj as _obj
from .schema_base import string as _str

__all__ = [
    "API_VERSION",
    "DNS1123_LABEL",
    "KIND",
    "LABEL_KEY",
    "LABEL_VALUE",
    "MESH_SCHEMA",
    "MTLS_MODES",
    "POLICY_IDS",
    "POLICY_MODES",
]

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

# --- fitting an existing installation: control-plane revisions, namespaces owned elsewhere --

_REVISION = _name(
    "the Istio control-plane revision or revision tag whose injector serves the "
    "meshed namespaces (istio.io/rev); Istio only"
)
_PATCH_OPERATION = {
    "type": "object",
    "required": ["op", "path"],
    "properties": {
        "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
        "path": _str("a JSON pointer into the object, e.g. /spec/http/0/mirror"),
        "from": _str("the JSON pointer move and copy take from"),
        "value": {"description": "what add, replace and test use"},
    },
    "additionalProperties": False,
}
_OVERRIDE = _obj(
    {
        "target": _obj(
            {
                "kind": _str("the kind of the rendered object", pattern=r"^[A-Z][A-Za-z0-9]*$"),
                "namespace": _name("its namespace (none for a Namespace)"),
                "name": _str("its name", minLength=1, maxLength=253),
            },
            required=("kind", "name"),
            description="the rendered object to patch",
        ),
        "provider": {
            "enum": list(providers.names()),
            "description": "the render it patches (default: spec.provider)",
        },
        "patch": {
            "type": "array",
            "minItems": 1,
            "items": _PATCH_OPERATION,
            "description": "an RFC 6902 JSON patch",
        },
        "merge": {"type": "object", "description": "an RFC 7386 JSON merge patch (null removes)"},
        "reason": _str("why the spec cannot say it yet"),
    },
    required=("target",),
    description="a patch of one rendered object, for what the spec cannot say yet",
)
_DATAPLANE_CHOICES = list(DATAPLANES)
_SPEC_INSTALL_FIELDS: dict[str, Any] = {
    "revision": _REVISION,
    "dataplane": {
        "enum": _DATAPLANE_CHOICES,
        "description": "how the meshed namespaces' pods join the mesh: sidecar (a proxy "
        "injected into each pod; default) or ambient (Istio's node proxy, ztunnel, and "
        "waypoints where L7 features need them); Istio only",
    },
    "overrides": {
        "type": "array",
        "items": _OVERRIDE,
        "description": "per-object patches, applied after rendering and reported as overridden",
    },
}
_NAMESPACE_INSTALL_FIELDS: dict[str, Any] = {
    "revision": _name(
        "this namespace's Istio revision (istio.io/rev), overriding spec.revision, "
        "so namespaces can move to a new control plane one at a time"
    ),
    "dataplane": {
        "enum": _DATAPLANE_CHOICES,
        "description": "this namespace's data plane, overriding spec.dataplane, so "
        "namespaces can move to ambient one at a time; Istio only",
    },
    "manage": {
        "type": "boolean",
        "description": "false: the Namespace object is the team's own "
        "(meshc renders none; the webhook still adds the injection markers). Default true",
    },
}
_EXCEPTION = _obj(
    {
        "name": _name("the exception's name (reviews and audit logs cite it)"),
        "policies": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": list(POLICY_IDS)},
            "description": "the policies whose findings it lifts",
        },
        "namespaces": {
            **_names(
                "the namespaces of the objects it applies to (a Namespace object: its own name)"
            ),
            "minItems": 1,
        },
        "kinds": {
            "type": "array",
            "items": _str("a kind, e.g. Job", pattern=r"^[A-Z][A-Za-z0-9]*$"),
            "description": "the kinds it applies to (default: every kind); a workload's "
            "Pods are kind Pod",
        },
        "names": {
            "type": "array",
            "items": _str("a name, or a prefix ending in *", pattern=r"^[a-z0-9][-a-z0-9.]*\*?$"),
            "description": "the objects' names or name prefixes (default: every name)",
        },
        "selector": {
            **_LABELS,
            "description": "labels of the pods it applies to (a workload's "
            "pod template labels; an object without pods: its own labels)",
        },
        "paths": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "description": "the field paths of the findings it lifts, as messages name them "
            "(a pod's fields without a workload's spec.template. prefix); a path covers "
            "the fields under it (default: every finding of the policies)",
        },
        "reason": _str("why the exception exists (shown in reviews and audit logs)", minLength=1),
        "expires": {
            "description": "when it stops applying: a date (00:00 UTC) or an RFC 3339 "
            "time; `meshc validate` warns two weeks before"
        },
    },
    required=("name", "policies", "namespaces", "reason"),
    description="findings of some policies that do not apply to some objects "
    "(Kyverno's PolicyException)",
)
_ADMISSION_INSTALL_FIELDS: dict[str, Any] = {
    "exceptions": {
        "type": "array",
        "items": _EXCEPTION,
        "description": "per-object exceptions to the policies",
    },
}
_SERVICE_INSTALL_FIELDS: dict[str, Any] = {
    "service": _obj(
        {
            "manage": {
                "type": "boolean",
                "description": "false: use the app's own Service of this "
                "name; meshc renders only the mesh objects. Default true",
            }
        },
        description="the core Service meshc renders for this service",
    ),
}


_ROUTE = _obj(
    {
        "name": _name("a name for the route (used in rendered route names)"),
        "match": traffic.MATCH,
        "matches": traffic.MATCHES,
        "split": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": DNS1123_LABEL},
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100},
            "description": "version name -> weight in percent; weights sum to 100 "
            "(canary 90/10, blue/green 100/0)",
        },
        "to": _name(
            "send every request of this route to one version (A/B); same as split {V: 100}"
        ),
        **traffic.ROUTE_POLICY,
    },
    description="one routing rule: a match (optional), where its requests go, and what happens "
    "to them on the way",
)

_SERVICE = _obj(
    {
        "name": _name("the Service name"),
        "namespace": _name("a namespace listed in spec.namespaces"),
        "selector": {
            **_LABELS,
            "minProperties": 1,
            "description": "labels of all the service's pods",
        },
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
                    "labels": {
                        **_LABELS,
                        "minProperties": 1,
                        "description": "labels of this version's pods",
                    },
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
        "retries": traffic.RETRIES,
        "connectionPool": _obj(
            {
                "maxConnections": _int("TCP connections to a destination host", 1),
                "http1MaxPendingRequests": _int(
                    "requests queued while waiting for a connection", 1
                ),
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
        "rateLimit": traffic.RATE_LIMIT,
        **_SERVICE_INSTALL_FIELDS,
    },
    required=("name", "namespace", "selector", "ports"),
)

_ADMISSION = _obj(
    {
        "allowedNamespaces": _names(
            "namespaces where mesh workloads and configuration may live (default: spec.namespaces)"
        ),
        "exemptNamespaces": _names(
            "namespaces whose workloads and Namespace objects the "
            "webhook never judges (default: "
            + ", ".join(providers.default_exempt_namespaces())
            + ", and webhookNamespace); mesh configuration is judged in "
            "every namespace but kube-system and webhookNamespace"
        ),
        "enforcement": {
            "enum": list(ENFORCEMENTS),
            "description": "who enforces the policies: the admission webhook (default), the API "
            "server itself through ValidatingAdmissionPolicy and MutatingAdmissionPolicy objects "
            "meshc renders (native), or both",
        },
        "kubernetesVersion": _str(
            "the oldest Kubernetes release the native admission policies must run on, such as "
            "1.34 (default 1.36; meshc render --kube-version overrides)",
            pattern=KUBERNETES_VERSION,
        ),
        "webhookNamespace": _name(
            f"the namespace the webhook runs in (default {DEFAULT_WEBHOOK_NAMESPACE})"
        ),
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
            {
                p: {"type": "array", "items": {"type": "string", "minLength": 1}}
                for p in providers.names()
            },
            description="image repositories recognised as the mesh's own proxy and init containers",
        ),
        **_ADMISSION_INSTALL_FIELDS,
    },
)


def _provider_settings() -> dict[str, Any]:
    """spec.<provider>: the settings of one mesh alone, from its profile."""
    return {
        p.name: _obj(
            dict(p.settings_schema),
            description=f"settings read only when spec.provider is {p.name}",
        )
        for p in providers.all_profiles()
        if p.settings_schema
    }


MESH_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://meshc.io/schemas/mesh-v1alpha1.json",
    "title": "meshc Mesh",
    # Nodes used in several places, defined once (schema_traffic.ref).
    "$defs": traffic.DEFS,
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
                                **_NAMESPACE_INSTALL_FIELDS,
                            },
                            required=("name",),
                        ),
                        "description": "the meshed namespaces (sidecar injection on)",
                    },
                    "admission": _ADMISSION,
                    "services": {"type": "array", "items": _SERVICE},
                    **_provider_settings(),
                    "ingress": traffic.INGRESS,
                    "egress": traffic.EGRESS,
                    "telemetry": traffic.TELEMETRY,
                    **_SPEC_INSTALL_FIELDS,
                },
                required=("provider", "namespaces"),
            ),
        },
        required=("apiVersion", "kind", "metadata", "spec"),
    ),
}
