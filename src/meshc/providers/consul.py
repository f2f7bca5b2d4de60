"""Consul: the facts meshc renders and enforces Consul with (consul-k8s v2.0.3, Consul CE).

Sources (hashicorp/consul-k8s at v2.0.3, control-plane/connect-inject): the
injector (webhook/mesh_webhook.go) injects a pod only when its
``consul.hashicorp.com/connect-inject`` annotation says so (``connectInject.default``
is false in the chart) and never reads a namespace label for that; it names
the init container ``consul-connect-inject-init`` (webhook/container_init.go)
and the sidecar ``consul-dataplane`` (webhook/consul_dataplane_sidecar.go),
which runs as UID 5995; the capture rules (webhook/redirect_traffic.go,
``iptablesConfigJSON``) let that UID's traffic through and also the init
container's, 5996, and no group. A namespace's
``consul.hashicorp.com/transparent-proxy`` label sets transparent proxy for
its pods (common/common.go, ``TransparentProxyEnabled``). The endpoints
controller (controllers/endpoints/endpoints_controller.go,
``createServiceRegistrations``) registers a pod under its Kubernetes Service's
name, copies no pod label into the catalog, only the pod's
``consul.hashicorp.com/service-meta-<key>`` annotations, and on Consul CE
registers one port. The capability notes are argued in docs/consul.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .profile import (
    Capability,
    Markers,
    MeshFacts,
    NamespaceFacts,
    PodMarkers,
    Profile,
    StoredAs,
    Support,
)

INJECT_ANNOTATION = "consul.hashicorp.com/connect-inject"
TRANSPARENT_PROXY = "consul.hashicorp.com/transparent-proxy"
KUBERNETES_SERVICE_ANNOTATION = "consul.hashicorp.com/kubernetes-service"
SERVICE_PORT_ANNOTATION = "consul.hashicorp.com/connect-service-port"
# consul.hashicorp.com/service-meta-<key>: <value> becomes Service.Meta[<key>] in the catalog.
META_ANNOTATION_PREFIX = "consul.hashicorp.com/service-meta-"
# The name segment of an annotation key is at most 63 characters (Kubernetes),
# and the prefix takes 13 of them.
MAX_META_KEY = 63 - len("service-meta-")
# Consul's metadata keys: ^[a-zA-Z0-9_-]+$, and none may start with consul-
# (agent/structs/structs.go, validateMetaPair and MetaKeyReservedPrefix).
_META_KEY_CHARACTER = re.compile(r"[^A-Za-z0-9_-]")
RESERVED_META_PREFIX = "consul-"
# The chart's default release makes the injector's MutatingWebhookConfiguration
# "{{ consul.fullname }}-connect-injector" (charts/consul/templates/
# connect-inject-mutatingwebhookconfiguration.yaml): consul-connect-injector.
INJECTOR_WEBHOOK = "consul-connect-injector"
# The GatewayClass of consul-k8s's API gateway: the chart's gateway-resources job creates it
# (charts/consul/templates/gateway-resources-job.yaml, -gateway-class-name=consul).
GATEWAY_CLASS = "consul"
# consul-k8s's own HTTPRoute filters, named by an ExtensionRef of its config group: a
# route's request timeout and retries (control-plane/api-gateway/common/translation.go,
# translateHTTPFilters; api/v1alpha1/routetimeoutfilter_types.go, routeretryfilter_types.go).
ROUTE_TIMEOUT_FILTER = "RouteTimeoutFilter"
ROUTE_RETRY_FILTER = "RouteRetryFilter"


CONFIG_GROUP = "consul.hashicorp.com"
# The fields that name the config entry a custom resource is written as, by kind, the
# first one set: its ConsulName() (control-plane/api/v1alpha1/*_types.go). ServiceIntentions
# are keyed by their destination, a TerminatingGateway by spec.deployment.gatewayName when
# set; the other kinds meshc renders by metadata.name.
_NAME = ("metadata", "name")
CONFIG_ENTRY_NAME: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType(
    {
        "Mesh": (_NAME,),
        "ProxyDefaults": (_NAME,),
        "ServiceDefaults": (_NAME,),
        "ServiceIntentions": (("spec", "destination", "name"),),
        "ServiceResolver": (_NAME,),
        "ServiceRouter": (_NAME,),
        "ServiceSplitter": (_NAME,),
        "TerminatingGateway": (("spec", "deployment", "gatewayName"), _NAME),
    }
)


def _field(obj: Mapping[str, Any], path: tuple[str, ...]) -> str | None:
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) and value else None


def service_meta_key(label: str) -> str:
    """The catalog metadata key a pod label's value is copied into.

    The label key with every character Consul does not accept in a metadata
    key replaced by ``_`` (``app.kubernetes.io/version`` ->
    ``app_kubernetes_io_version``); check it with :func:`meta_key_problem`.
    """
    return _META_KEY_CHARACTER.sub("_", label)


def meta_key_problem(label: str) -> str | None:
    """Why a label's value cannot be copied into the catalog, or None when it can."""
    key = service_meta_key(label)
    if len(key) > MAX_META_KEY:
        return (
            f"label {label!r} becomes the catalog metadata key {key!r}, longer than the "
            f"{MAX_META_KEY} characters an annotation {META_ANNOTATION_PREFIX}<key> allows"
        )
    if key.lower().startswith(RESERVED_META_PREFIX):
        return (
            f"label {label!r} becomes the catalog metadata key {key!r}, and Consul reserves "
            f"keys starting with {RESERVED_META_PREFIX!r}"
        )
    return None


def meta_annotation(label: str) -> str:
    return META_ANNOTATION_PREFIX + service_meta_key(label)


@dataclass(frozen=True)
class ConsulProfile(Profile):
    def namespace_markers(self, mesh: MeshFacts, namespace: NamespaceFacts) -> Markers:
        # consul-k8s injects by pod annotation only (pod_markers); the label
        # pins transparent proxy on for the namespace's pods whatever the
        # chart's connectInject.transparentProxy.defaultEnabled says.
        return {"labels": {TRANSPARENT_PROXY: "true"}, "annotations": {}}

    def stored_as(self, obj: Mapping[str, Any]) -> StoredAs | None:
        # consul-k8s writes a custom resource as the config entry (ConsulKind(),
        # ConsulName()) in the one Consul namespace of Consul CE, whatever the
        # resource's Kubernetes namespace (controllers/configentries/
        # configentry_controller.go, ReconcileEntry), and its webhooks refuse to create
        # a second resource of a kind with that name (api/common/configentry_webhook.go,
        # ValidateConfigEntry; for ServiceIntentions, serviceintentions_webhook.go).
        kind = str(obj.get("kind"))
        if str(obj.get("apiVersion", "")).rpartition("/")[0] != CONFIG_GROUP:
            return None
        named = [(f, v) for f in CONFIG_ENTRY_NAME.get(kind, ()) if (v := _field(obj, f))]
        if not named:
            return None
        fields, value = named[0]
        why = (
            f"Consul keeps one {kind} config entry of a name, whatever the Kubernetes "
            "namespace: consul-k8s's webhook refuses to create whichever resource comes "
            "second, and without the webhook the two overwrite each other's entry"
        )
        return StoredAs(f"{kind} {value}", ".".join(fields), why)

    def pod_markers(self, mesh: MeshFacts) -> tuple[PodMarkers, ...]:
        markers = [
            PodMarkers(
                namespace=ns,
                selector={},
                annotations={INJECT_ANNOTATION: "true"},
                source="spec.namespaces",
            )
            for ns in mesh.meshed_namespaces
        ]
        for svc in mesh.services:
            labels = dict.fromkeys(key for version in svc.versions for key in version.labels)
            markers.append(
                PodMarkers(
                    namespace=svc.namespace,
                    selector=dict(svc.selector),
                    annotations={
                        # Register the pod under this Service only, and its first
                        # port as the service's (Consul CE registers one).
                        KUBERNETES_SERVICE_ANNOTATION: svc.name,
                        SERVICE_PORT_ANNOTATION: str(svc.ports[0].target_port),
                    },
                    label_annotations={
                        label: meta_annotation(label)
                        for label in labels
                        if meta_key_problem(label) is None
                    },
                    source=svc.path,
                )
            )
        return tuple(markers)


_A, _U = Support.APPROX, Support.UNSUPPORTED
_NOT_RENDERED = "; not rendered"
_CALLERS = (
    "Consul reads upstream limits and passive health checks from each caller's ServiceDefaults "
    "(upstreamConfig.overrides), not from the called service's; rendered for the callers the "
    "spec declares, which is exact only when the service's allow rules admit no other caller: "
    "any other service calls it without them"
)

# The traffic features the Consul target does not render yet (compiler/targets/consul/
# unsupported.py reports each one a spec uses).
_TRAFFIC_NOT_RENDERED = (
    "telemetry",
    "telemetry.tracing",
    "telemetry.accessLogging",
    "telemetry.metrics",
    "telemetry.selector",
)

# Consul configures its proxies' access logs in ProxyDefaults, one config entry named
# "global" for every proxy of the datacenter (consul-k8s control-plane/api/v1alpha1/
# proxydefaults_webhook.go, Handle, refuses any other name; ServiceDefaults has no access
# logs), and metrics
# and tracing through that entry's opaque Envoy config (envoy_prometheus_bind_addr,
# envoy_tracing_json) or the chart's pod annotations: nothing scopes them to a
# namespace or a workload.
_GLOBAL_ONLY = (
    "Consul sets its proxies' telemetry in ProxyDefaults, one entry named global for every "
    "proxy of the datacenter (consul-k8s proxydefaults_webhook.go refuses any other name), not per namespace or workload"
)
_NO_TELEMETRY = {
    "telemetry": _GLOBAL_ONLY,
    "telemetry.accessLogging": _GLOBAL_ONLY + " (ServiceDefaults has no access logs)",
    "telemetry.metrics": (
        _GLOBAL_ONLY + ": metrics are the global entry's envoy_prometheus_bind_addr or "
        "consul-k8s's connectInject.metrics settings"
    ),
    "telemetry.tracing": (
        _GLOBAL_ONLY + ", and tracing there is an Envoy tracing configuration naming a "
        "collector cluster (envoy_tracing_json, envoy_extra_static_clusters_json), which the "
        "spec does not name"
    ),
    "telemetry.selector": _GLOBAL_ONLY,
}

# What a ServiceRouter cannot say (hashicorp/consul agent/xds/routes.go,
# makeUpstreamRouteForDiscoveryChain, writes an Envoy route from a destination's service,
# subset, prefixRewrite, timeouts, retries and header changes, and nothing else);
# docs/consul.md argues each.
_NO_ROUTE_ACTION = (
    "a ServiceRouter route always forwards to its destination: ServiceRouteDestination has "
    "no redirect, and Consul writes no Envoy redirect for a service's routes "
    "(routes.go, makeUpstreamRouteForDiscoveryChain); the route is not rendered, so its "
    "requests take the next route that fits"
)
_ROUTING: dict[str, Capability] = {
    "services.routes.fault.delay": (
        _U,
        (
            "Consul's config entries have no fault injection: a ServiceRouter destination sets "
            "only the Envoy route's cluster, prefix rewrite, timeouts, retries and headers "
            "(routes.go, makeUpstreamRouteForDiscoveryChain), and Consul adds Envoy's fault "
            "filter to no listener" + _NOT_RENDERED
        ),
    ),
    "services.routes.fault.abort": (
        _U,
        (
            "Consul's config entries have no fault injection: a ServiceRouter destination sets "
            "only the Envoy route's cluster, prefix rewrite, timeouts, retries and headers "
            "(routes.go, makeUpstreamRouteForDiscoveryChain), and Consul adds Envoy's fault "
            "filter to no listener" + _NOT_RENDERED
        ),
    ),
    "services.routes.mirror": (
        _U,
        (
            "a ServiceRouter route sends each request to one destination: Consul sets no "
            "request_mirror_policies on a service's Envoy routes (routes.go, "
            "makeUpstreamRouteForDiscoveryChain)" + _NOT_RENDERED
        ),
    ),
    "services.routes.headers": (
        _U,
        (
            "rendered exactly as the destination's requestHeaders and responseHeaders (add "
            "appends, set overwrites: routes.go, makeHeadersValueOptions), except a change of "
            "host or a :-prefixed header, which Envoy refuses in a route (header_parser.cc, "
            "HeaderParser::configure), rejecting the service's whole route configuration; that "
            "change is not rendered"
        ),
    ),
    "services.routes.rewrite": (
        _U,
        (
            "a ServiceRouter destination's only rewrite is prefixRewrite, Envoy's "
            "prefix_rewrite, which Consul accepts only beside pathPrefix or pathExact "
            "(ServiceRouterConfigEntry.Validate): rendered after a path prefix, an exact path "
            "or a gRPC method; after any other match (headers alone, a regex, a whole gRPC "
            "service, the default route) the spec replaces the whole path and prefixRewrite "
            "only the matched prefix, so it is not rendered there; and there is no host "
            "rewrite (no field, and Envoy refuses a route that sets host), so rewrite.host is "
            "not rendered"
        ),
    ),
    "services.routes.redirect": (_U, _NO_ROUTE_ACTION),
    "services.routes.redirect.statusCode": (_U, _NO_ROUTE_ACTION),
    "services.routes.tcp": (
        _U,
        (
            "a tcp service's discovery chain takes no ServiceSplitter or ServiceRouter: Consul "
            "refuses them unless the protocol is http, http2 or grpc (discoverychain "
            "compile.go, enableAdvancedRoutingForProtocol), and its resolver has no weights; "
            "not rendered, so connections reach every version"
        ),
    ),
    "services.rateLimit": (
        _U,
        (
            "ServiceDefaults rateLimits.instanceLevel is a Consul Enterprise feature: Consul "
            "CE refuses a ServiceDefaults that has it (agent/structs/config_entry_ce.go, "
            "validateRatelimit), so the service's protocol and mTLS mode would not be written "
            "either" + _NOT_RENDERED
        ),
    ),
    "services.rateLimit.perCaller": (
        _U,
        (
            "Consul's only rate limit, ServiceDefaults rateLimits.instanceLevel (Consul "
            "Enterprise; Consul CE refuses it: agent/structs/config_entry_ce.go, "
            "validateRatelimit), is one token bucket for all callers of an instance, with no "
            "bucket per caller" + _NOT_RENDERED
        ),
    ),
}

# consul-k8s's API gateway (control-plane/api-gateway, common/translation.go); docs/consul.md
# argues each.
_NO_REDIRECT = (
    "consul-k8s translates no RequestRedirect and drops an HTTPRoute rule without backends "
    "(translateHTTPRouteRule)"
)
_INGRESS: dict[str, Capability] = {
    "ingress.routes.match": (
        _A,
        (
            "Consul ranks an ingress's matches by path length, then number of headers, before "
            "spec order (discoverychain gateway.go, consolidateHTTPRoutes, compareHTTPRules); "
            "reported where that sends a request another route would take first"
        ),
    ),
    "ingress.routes.policy": (
        _U,
        (
            "timeouts (a RouteTimeoutFilter), header changes and a path rewrite after a prefix "
            "match are rendered; "
            + _NO_REDIRECT
            + ", and keeps a URLRewrite only when it replaces a path prefix "
            "(translateHTTPFilters): redirects, host rewrites and whole-path rewrites are not "
            "rendered, nor a change of the host header, which Envoy refuses in a route"
        ),
    ),
    "ingress.routes.redirect.statusCode": (_U, _NO_REDIRECT + "; not rendered"),
    "ingress.routes.serviceRoutes": (
        _A,
        (
            "the gateway's discovery chain goes through the backend's own splitter (Consul "
            "discoverychain gateway.go, Synthesize), so ingress requests follow the split of "
            "its default route, and its timeout and retries are rendered as the ingress "
            "route's RouteTimeoutFilter and RouteRetryFilter; its other routes do not apply"
        ),
    ),
    "ingress.routes.backendProtocol": (
        _U,
        (
            "consul-k8s's gateway speaks HTTP/1.1 to every backend: Consul gives its "
            "upstreams protocol http (proxycfg api_gateway.go, handleRouteConfigUpdate), so "
            "a grpc or http2 backend's cluster has no HTTP/2 options (xds clusters.go, "
            "makeUpstreamClustersForDiscoveryChain); gRPC's status trailers do not survive "
            "HTTP/1.1, and an http2 service's requests arrive as HTTP/1.1"
        ),
    ),
    "ingress.gateway.identity": (
        _A,
        (
            "the services' intentions admit the gateway's Consul service, the Gateway's name "
            "(consul-k8s registers the gateway's pods under it: registrationForPod) and "
            "consul-k8s runs those pods in the Gateway's namespace as the service account of "
            "the Gateway's name, whatever gateway.namespace and gateway.serviceAccount say; "
            "another gateway class registers no such service"
        ),
    ),
}

_CONSUL: dict[str, Capability] = {
    "dataplane.ambient": (
        _U,
        (
            "Consul has no ambient data plane (Istio's ztunnel and waypoints); pods are "
            "enrolled by connect-inject with a consul-dataplane sidecar"
        ),
    ),
    **{feature: (_U, _NO_TELEMETRY[feature]) for feature in _TRAFFIC_NOT_RENDERED},
    **_ROUTING,
    **_INGRESS,
    "revision": (
        _U,
        (
            "Consul has no control-plane revisions a namespace names; pods are enrolled by "
            "their consul.hashicorp.com/connect-inject annotation, which meshc's webhook adds"
        ),
    ),
    "trustDomain": (
        _A,
        (
            "Consul's CA issues identities in a trust domain of its own (<cluster id>.consul), "
            "and intentions name services, which no trust domain qualifies" + _NOT_RENDERED
        ),
    ),
    "egress.hosts": (
        _A,
        (
            "each host and port is a ServiceDefaults destination reached through the terminating "
            "gateway, which must be deployed (consul-k8s Helm terminatingGateways.enabled, its "
            "default gateway terminating-gateway, which the rendered TerminatingGateway "
            "configures); the Mesh's transparentProxy.meshDestinationsOnly refuses other hosts, "
            "and the Mesh is one for the cluster, so it refuses them to every transparent proxy "
            "Consul configures, not only the meshed namespaces'; the hosts' intentions name "
            "services (Consul CE has no namespaces): the services the spec declares reach them, "
            "other workloads of the meshed namespaces do not"
        ),
    ),
    "services.ports.additional": (
        _U,
        (
            "consul-k8s registers one port per service on Consul CE and the sidecar delivers "
            "every inbound connection to it: mesh traffic to another port of the service reaches "
            "the first port's targetPort; the Service keeps the ports"
        ),
    ),
    "services.routes.name": (
        _A,
        "ServiceRouter routes have no names; the name only labels the route" + _NOT_RENDERED,
    ),
    "services.retries.perTryTimeout": (
        _U,
        "a ServiceRouter destination has no per-try timeout, only requestTimeout, Envoy's "
        "route timeout over all tries (getRetryPolicyForDestination sets no per_try_timeout)"
        + _NOT_RENDERED,
    ),
    "services.connectionPool.maxConnections": (_U, _CALLERS),
    "services.connectionPool.http1MaxPendingRequests": (_U, _CALLERS),
    "services.connectionPool.http2MaxRequests": (_U, _CALLERS),
    "services.connectionPool.maxRequestsPerConnection": (
        _U,
        "Consul's upstream limits have no limit on requests per connection" + _NOT_RENDERED,
    ),
    "services.outlierDetection.consecutive5xxErrors": (_U, _CALLERS),
    "services.outlierDetection.interval": (_U, _CALLERS),
    "services.outlierDetection.baseEjectionTime": (_U, _CALLERS),
    "services.outlierDetection.maxEjectionPercent": (_U, _CALLERS),
    "services.allow.fromNamespaces": (
        _U,
        (
            "Consul CE has no namespaces and intentions name services: a namespace is "
            "rendered as the services the spec declares in it, so any other caller from it is "
            "denied"
        ),
    ),
    "services.allow.fromServiceAccounts": (
        _A,
        (
            "an intention names a Consul service, not a service account: rendered as the "
            "service named like the account, which only Consul's ACLs tie to the account "
            "(consul-k8s then requires the two names to match), and Consul CE service names "
            "are the same in every namespace"
        ),
    ),
    "services.allow.ports": (
        _U,
        (
            "an intention admits a caller to the whole service, not to one of its ports; the "
            "rule is not rendered, so its callers are denied"
        ),
    ),
}


PROFILE = ConsulProfile(
    name="consul",
    title="Consul",
    system_namespaces=("consul",),
    proxy_images=("hashicorp/consul-dataplane", "hashicorp/consul-k8s-control-plane"),
    mesh_containers=("consul-dataplane", "consul-connect-inject-init"),
    proxy_uid=5995,
    proxy_gids=(),
    capture_annotations=MappingProxyType(
        {
            "consul.hashicorp.com/transparent-proxy-exclude-inbound-ports": "exclude",
            "consul.hashicorp.com/transparent-proxy-exclude-outbound-ports": "exclude",
            "consul.hashicorp.com/transparent-proxy-exclude-outbound-cidrs": "exclude",
            "consul.hashicorp.com/transparent-proxy-exclude-uids": "exclude",
        }
    ),
    kinds=MappingProxyType(
        {
            # The mesh settings first: Consul refuses a permissive ServiceDefaults
            # while the Mesh does not allow it; ServiceDefaults (the protocol) before
            # the routing that needs an HTTP protocol.
            "Mesh": 0,
            "ServiceDefaults": 1,
            "ServiceIntentions": 1,
            "ServiceResolver": 2,
            "ServiceSplitter": 2,
            "ServiceRouter": 2,
            # Lists the egress destinations, whose ServiceDefaults come first.
            "TerminatingGateway": 2,
            # The ingress: the filters an HTTPRoute names and the grants its backends
            # need, before it.
            "RouteTimeoutFilter": 1,
            "RouteRetryFilter": 1,
            "ReferenceGrant": 1,
            "Gateway": 2,
            "HTTPRoute": 2,
        }
    ),
    config_groups=("consul.hashicorp.com", "auth.consul.hashicorp.com"),
    protected_kinds=(
        ("consul.hashicorp.com", "ServiceDefaults", "servicedefaults"),
        ("consul.hashicorp.com", "ServiceIntentions", "serviceintentions"),
        ("consul.hashicorp.com", "Mesh", "meshes"),
    ),
    pod_opt_out=Markers(labels={}, annotations={INJECT_ANNOTATION: "false"}),
    mutates_pods=True,
    injector_webhooks=(INJECTOR_WEBHOOK,),
    capabilities=MappingProxyType({"default": MappingProxyType(_CONSUL)}),
)
