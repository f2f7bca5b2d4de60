"""Kuma: the facts meshc renders and enforces Kuma 2.14 with.

Sources (kumahq/kuma at v2.14.3): the injector
(pkg/plugins/runtime/k8s/webhooks/injector: injector.go, precheck.go) names
the containers (pkg/plugins/runtime/k8s/util/names.go), reads the
``kuma.io/sidecar-injection`` label of the pod, then of its namespace, and
skips pods with its exception labels or a ``kuma-sidecar`` of their own;
the transparent proxy (kumactl install transparent-proxy, pkg/transparentproxy)
exempts the sidecar's UID, 5678 (--kuma-dp-user), from capture by
``--uid-owner`` only, so no group is exempt. The pod annotations it reads are
in pkg/plugins/runtime/k8s/metadata/annotations.go. The capability notes are
argued in docs/kuma.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .profile import Capability, Markers, MeshFacts, NamespaceFacts, Profile, Support

INJECTION_LABEL = "kuma.io/sidecar-injection"
MESH_LABEL = "kuma.io/mesh"
# The Mesh a workload joins when neither it nor its namespace names one
# (pkg/plugins/runtime/k8s/util MeshOfByLabelOrAnnotation: model.DefaultMesh).
DEFAULT_MESH = "default"
# kuma-cp's system namespace: its policies apply mesh-wide.
SYSTEM_NAMESPACE = "kuma-system"
# The tag that names a data plane proxy's service: its identity under the Mesh's
# builtin CA (mesh_proto.ServiceTag).
SERVICE_TAG = "kuma.io/service"


def gateway_service_tag(name: str, namespace: str) -> str:
    """The kuma.io/service of the proxies a MeshGatewayInstance ``namespace/name`` runs:
    the instance's tags may not set it (the validating webhook forbids it), so kuma-cp
    derives it (gatewayInstanceTags: util.ServiceTag, ``<name>_<namespace>_svc``)."""
    return f"{name}_{namespace}_svc"


# The policy kinds of Kuma 2.14 (group kuma.io), namespaced, with their
# resources (deployments/charts/kuma/crds). The group also holds what kuma-cp
# writes for itself (Dataplanes, insights, the MeshServices it derives from
# Services), which is no configuration and is not judged.
POLICY_KINDS = MappingProxyType(
    {
        "MeshAccessLog": "meshaccesslogs",
        "MeshCircuitBreaker": "meshcircuitbreakers",
        "MeshExternalService": "meshexternalservices",
        "MeshFaultInjection": "meshfaultinjections",
        "MeshHealthCheck": "meshhealthchecks",
        "MeshHTTPRoute": "meshhttproutes",
        "MeshLoadBalancingStrategy": "meshloadbalancingstrategies",
        "MeshMetric": "meshmetrics",
        "MeshPassthrough": "meshpassthroughs",
        "MeshProxyPatch": "meshproxypatches",
        "MeshRateLimit": "meshratelimits",
        "MeshRetry": "meshretries",
        "MeshTCPRoute": "meshtcproutes",
        "MeshTimeout": "meshtimeouts",
        "MeshTLS": "meshtlses",
        "MeshTrace": "meshtraces",
        "MeshTrafficPermission": "meshtrafficpermissions",
    }
)


@dataclass(frozen=True)
class KumaProfile(Profile):
    def namespace_markers(self, mesh: MeshFacts, namespace: NamespaceFacts) -> Markers:
        # Kuma 2.11 and later require the injection label on every namespace
        # of the mesh (UPGRADE.md, "Namespaces that are part of the mesh");
        # a Mesh other than default is named by the namespace's kuma.io/mesh label.
        labels = {INJECTION_LABEL: "enabled"}
        name = mesh.settings_for(self.name)["mesh"]
        if name != DEFAULT_MESH:
            labels[MESH_LABEL] = name
        return {"labels": labels, "annotations": {}}


_A, _U = Support.APPROX, Support.UNSUPPORTED
_NOT_RENDERED = "; not rendered"

_NO_TRACING = (
    "a MeshTrace must name its backend (a Zipkin, Datadog or OpenTelemetry "
    "collector: api/v1alpha1/validator.go, validateDefault) and the spec names none; "
    "an empty backend list would turn off a broader MeshTrace's tracing, since Kuma "
    "merges the lists by replacing them" + _NOT_RENDERED
)

_KUMA: dict[str, Capability] = {
    "services.service.manage": (
        _A,
        (
            "Kuma learns each port's protocol from the Service's appProtocol, which meshc "
            "renders on its own Services; with the app's own Service, the message lists the "
            "appProtocol values to set on it"
        ),
    ),
    "dataplane.ambient": (
        _U,
        (
            "Kuma has no ambient data plane (Istio's ztunnel and waypoints); the namespaces are "
            "rendered with kuma.io/sidecar-injection: enabled"
        ),
    ),
    "revision": (
        _U,
        (
            "Kuma has no control-plane revisions a namespace names; the namespaces are "
            "rendered with kuma.io/sidecar-injection: enabled"
        ),
    ),
    "trustDomain": (
        _A,
        (
            "the Mesh's builtin CA issues identities of its own (spiffe://<mesh>/<service>), "
            "and permissions match callers by their namespace tag, which no trust domain "
            "qualifies" + _NOT_RENDERED
        ),
    ),
    "services.routes.name": (
        _A,
        "MeshHTTPRoute rules have no names; the name only labels the route" + _NOT_RENDERED,
    ),
    "services.routes.order": (
        _A,
        (
            "Kuma orders MeshHTTPRoute rules by match specificity (exact path, longest "
            "prefix, most headers) before list order, as Gateway API does; rules are rendered in "
            "spec order, so overlapping matches may resolve to another route"
        ),
    ),
    "services.connectionPool.maxRequestsPerConnection": (
        _U,
        "MeshCircuitBreaker has no per-connection request limit" + _NOT_RENDERED,
    ),
    "services.allow.ports": (
        _U,
        (
            "MeshTrafficPermission admits a caller to every inbound of the workload, not to "
            "one port; the rule is not rendered, so its callers are denied on every port"
        ),
    ),
    "services.allow.ports.namedTargetPort": (
        _U,
        (
            "MeshTrafficPermission admits a caller to every inbound of the workload, not to "
            "one port; the rule is not rendered, so its callers are denied on every port"
        ),
    ),
    "services.allow.fromServiceAccounts": (
        _U,
        (
            "with the Mesh's builtin CA a caller's identity is its kuma.io/service and "
            "tags, which do not name its service account; the rule is not rendered, so those "
            "callers are denied"
        ),
    ),
    "services.retries.attempts": (
        _A,
        (
            "MeshRetry configures ports of protocol http and grpc (plugin/xds/configurer.go, "
            "GetRouteRetryConfig): http2 ports are not retried"
        ),
    ),
    "services.retries.retryOn": (
        _A,
        (
            "MeshRetry's grpc.retryOn takes gRPC statuses only: the HTTP conditions are "
            "rendered for HTTP ports, not for gRPC ports, which retry on the spec's gRPC statuses "
            "or, when it gives none, on Kuma's default conditions"
        ),
    ),
    "services.retries.retryOn.transport": (
        _A,
        (
            "MeshRetry's grpc.retryOn takes gRPC statuses only: connection failures are "
            "rendered for HTTP ports, not for gRPC ports (which retry on the spec's gRPC statuses "
            "or, when it gives none, on Kuma's default conditions)"
        ),
    ),
    "services.retries.retryOn.grpc": (
        _A,
        (
            "MeshRetry's http.retryOn takes no gRPC status: the statuses are rendered for "
            "gRPC ports only; HTTP ports retry on the spec's HTTP conditions (none: not retried)"
        ),
    ),
    "services.retries.omitted": (
        _A,
        (
            "Kuma creates a mesh-wide MeshRetry with every Mesh (mesh-retry-all-*: 5 HTTP "
            "retries on gateway-error, connect-failure and refused-stream; gRPC and TCP too), so a "
            "service without retries is retried; give retries (attempts: 0 for none) to mean the "
            "same on every mesh"
        ),
    ),
    "services.routes.rewrite.prefix": (
        _U,
        (
            "MeshHTTPRoute's ReplacePrefixMatch needs PathPrefix matches, which match whole "
            "path segments, while the spec's prefix is a string prefix (rendered as a regular "
            "expression); the path rewrite after a prefix match other than / is not rendered"
        ),
    ),
    "services.routes.fault.delay": (
        _U,
        (
            "MeshFaultInjection acts on a service's inbound traffic (every request its pods "
            "receive), not on one route: rendered for a service whose one route takes every "
            "request; a fault on a route beside others is not rendered"
        ),
    ),
    "services.routes.fault.abort": (
        _U,
        (
            "MeshFaultInjection acts on a service's inbound traffic (every request its pods "
            "receive), not on one route, and answers with an HTTP status: rendered for a service "
            "whose one route takes every request; a fault on a route beside others, and a "
            "grpcStatus, are not rendered"
        ),
    ),
    "services.rateLimit.perCaller": (
        _U,
        (
            "MeshRateLimit's local limit keeps one bucket per inbound for every caller; a "
            "rule per caller needs the callers named in advance; not rendered"
        ),
    ),
    # Ingress: Kuma's builtin gateway (docs/kuma.md, "Ingress").
    "ingress.listeners.tls": (
        _U,
        (
            "Kuma's builtin gateway reads a listener's certificate from a Kuma Secret (type "
            "system.kuma.io/secret in kuma-system, its value the PEM chain and key: kuma-cp's "
            "DataSource loader), not from a kubernetes.io/tls Secret; the listener is rendered "
            "naming a Kuma Secret of the spec's secretName, which must be created from the "
            "certificate, or kuma-cp builds no configuration for the gateway"
        ),
    ),
    "ingress.routes.match": (
        _A,
        (
            "Kuma's gateway orders the routes of a listener by match specificity (exact path, "
            "longest prefix, most headers) before their order; routes are rendered in spec "
            "order, so overlapping matches may resolve to another route"
        ),
    ),
    "ingress.routes.rewrite.prefix": (
        _U,
        (
            "MeshHTTPRoute's ReplacePrefixMatch needs PathPrefix matches, which match whole "
            "path segments, while the spec's prefix is a string prefix (rendered as a regular "
            "expression); the path rewrite after a prefix match other than / is not rendered"
        ),
    ),
    "ingress.routes.serviceRoutes": (
        _A,
        (
            "the gateway sends to the backend's own MeshService, every pod of the service: a "
            "service's MeshHTTPRoutes (its split and matched routes) configure its callers' "
            "sidecars, and the gateway takes its routes only from the MeshHTTPRoutes that "
            "target its MeshGateway"
        ),
    ),
    "ingress.gateway.identity": (
        _A,
        (
            "the backend's MeshTrafficPermission admits the gateway by its kuma.io/service "
            "tag (<name>_<gateway namespace>_svc, what kuma-cp gives a MeshGatewayInstance's "
            "proxies) on every port of the backend's pods, not only the ports its routes reach"
        ),
    ),
    "telemetry.tracing": (_U, _NO_TRACING),
    "telemetry.accessLogging": (
        _A,
        (
            "on is exact: MeshAccessLogs with a File backend on /dev/stdout for the inbound "
            "(rules) and outbound (to) traffic; off renders them with no backends, which turns "
            "off the outbound logs of broader MeshAccessLogs but not their inbound logs: Kuma "
            "writes every inbound rule that selects a proxy (plugin/xds/rules.go, "
            "BuildAccessLogBuildersFromRules). Kuma creates no MeshAccessLog of its own"
        ),
    ),
}


PROFILE = KumaProfile(
    name="kuma",
    title="Kuma",
    system_namespaces=(SYSTEM_NAMESPACE,),
    # kuma-validation runs from the kuma-init image (injector.go, NewValidationContainer).
    proxy_images=("docker.io/kumahq/kuma-dp", "docker.io/kumahq/kuma-init"),
    # kuma-gateway is the builtin gateway's one container, which kuma-cp runs as the
    # proxy's UID (runtime/k8s/containers/factory.go, NewContainer): the shared rules
    # take it for the mesh's own, and kuma.rego admits it only on a gateway the spec
    # renders (builtin_gateway).
    mesh_containers=("kuma-sidecar", "kuma-init", "kuma-validation", "kuma-gateway"),
    # The namespace label by which a namespace says whether Kuma injects
    # (a value written on it is judged, never overwritten).
    injection_keys=MappingProxyType({"labels": (INJECTION_LABEL,)}),
    proxy_uid=5678,
    proxy_gids=(),
    capture_annotations=MappingProxyType(
        {
            "traffic.kuma.io/exclude-inbound-ports": "exclude",
            "traffic.kuma.io/exclude-outbound-ports": "exclude",
            "traffic.kuma.io/exclude-inbound-ips": "exclude",
            "traffic.kuma.io/exclude-outbound-ips": "exclude",
            "traffic.kuma.io/exclude-outbound-ports-for-uids": "exclude",
        }
    ),
    kinds=MappingProxyType(
        {
            "Mesh": 0,
            "MeshTrafficPermission": 1,
            "MeshTimeout": 2,
            "MeshRetry": 2,
            "MeshCircuitBreaker": 2,
            "MeshHTTPRoute": 2,
            "MeshTCPRoute": 2,
            "MeshFaultInjection": 2,
            "MeshRateLimit": 2,
            "MeshPassthrough": 2,
            "MeshAccessLog": 2,
            "MeshMetric": 2,
            # The builtin gateway: its MeshGateway before the MeshGatewayInstance, whose
            # controller creates the gateway's Service only once a MeshGateway selects it.
            "MeshGateway": 1,
            "MeshGatewayInstance": 2,
        }
    ),
    config_groups=(),
    config_kinds=tuple(("kuma.io", kind, resource) for kind, resource in POLICY_KINDS.items()),
    cluster_config_kinds=(("kuma.io", "Mesh", "meshes"),),
    protected_kinds=(("kuma.io", "MeshTrafficPermission", "meshtrafficpermissions"),),
    pod_opt_out=Markers(labels={INJECTION_LABEL: "disabled"}, annotations={}),
    settings_schema=MappingProxyType(
        {
            "mesh": {
                "type": "string",
                "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                "maxLength": 63,
                "description": f"the Kuma Mesh the namespaces join (default {DEFAULT_MESH}); "
                f"another mesh is named by the namespaces' {MESH_LABEL} label",
            },
        }
    ),
    settings_defaults=MappingProxyType({"mesh": DEFAULT_MESH}),
    capabilities=MappingProxyType({"default": MappingProxyType(_KUMA)}),
)
