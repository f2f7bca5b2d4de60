"""Istio: the facts meshc renders and enforces Istio with.

Sources: Istio's injector (pkg/kube/inject) names the containers and reads
the capture annotations; tools/istio-iptables exempts the proxy's UID and
GID (1337) from capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .profile import Capability, Markers, MeshFacts, NamespaceFacts, Profile, RenderOption, Support

INJECTION_LABEL = "istio-injection"
# The revision (or revision tag) whose injector serves a namespace. Istio's
# injector webhooks (manifests/charts/istio-control/istio-discovery/templates/
# mutatingwebhook.yaml) select istio.io/rev=<rev> only where istio-injection
# is absent: when both are present istio-injection wins and the default
# revision injects (istioctl analyze reports IST0123).
REVISION_LABEL = "istio.io/rev"
# Ambient's marker: beside istio-injection it is one more injection choice
# (IST0123 counts it), and a namespace carrying it is not meshc's to relabel.
DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode"
# Ambient (istio/istio pkg/config/constants/constants.go; istio/api label/labels.gen.go,
# annotation/annotations.gen.go). Istio CNI enrolls a pod whose namespace carries
# dataplane-mode=ambient unless the pod's own label says none, the pod uses the host's
# network, or it runs a sidecar (cni/pkg/util/enablement_selector.go, Matches; the
# enablementSelectors of manifests/charts/istio-cni/values.yaml).
AMBIENT = "ambient"
DATAPLANE_NONE = "none"
USE_WAYPOINT_LABEL = "istio.io/use-waypoint"
WAYPOINT_FOR_LABEL = "istio.io/waypoint-for"
# constants.DefaultNamespaceWaypoint and WaypointGatewayClassName; the waypoint's Deployment
# and ServiceAccount take the Gateway's name (the class disables the name suffix:
# pilot/pkg/config/kube/gatewaycommon/classinfo.go, deploymentcontroller.go).
NAMESPACE_WAYPOINT = "waypoint"
WAYPOINT_CLASS = "istio-waypoint"
# Written by Istio CNI once it has redirected the pod's traffic to ztunnel (enabled), or
# partly (pending): cni/pkg/util/podutil.go, AnnotateEnrolledPod. Never there at admission.
REDIRECTION_ANNOTATION = "ambient.istio.io/redirection"
# Istio's root namespace (meshConfig.rootNamespace's default): configuration there is
# mesh-wide (a PeerAuthentication in it is every namespace's default).
ROOT_NAMESPACE = "istio-system"
# The ingress gateway Istio's default install deploys (manifests/charts/gateways/
# istio-ingress): its namespace, service account and pod labels.
DEFAULT_INGRESS_NAMESPACE = "istio-system"
DEFAULT_INGRESS_SERVICE_ACCOUNT = "istio-ingressgateway-service-account"
DEFAULT_INGRESS_SELECTOR = MappingProxyType({"istio": "ingressgateway"})
# The GatewayClass Istio's own gateway controller serves (pilot/pkg/config/kube/gateway).
GATEWAY_CLASS = "istio"
_A, _U = Support.APPROX, Support.UNSUPPORTED

# Traffic management, ingress, egress, rate limits and telemetry (docs/istio.md argues each).
_TRAFFIC: dict[str, Capability] = {
    "services.retries.omitted": (
        _A,
        (
            "Istio retries every HTTP route that sets no retry policy up to twice (connect-"
            "failure, refused-stream, unavailable, cancelled, retriable-status-codes: istio/istio "
            "pilot/pkg/networking/core/route/retry, DefaultPolicy); Linkerd retries nothing; give "
            "retries (attempts: 0 for none) to mean the same on every mesh"
        ),
    ),
    "services.rateLimit": (
        _U,
        (
            "Istio has no rate-limit API; not rendered unless --istio-rate-limit envoyfilter, "
            "which renders an EnvoyFilter inserting Envoy's local_ratelimit filter on the sidecar's "
            "inbound listener: EnvoyFilter is unsupported on waypoints (ambient) and depends on "
            "Envoy's internal configuration, which may change between Istio versions"
        ),
    ),
    "services.rateLimit.perCaller": (
        _U,
        (
            "Envoy's local rate limit keeps one token bucket per listener, not one per caller "
            "identity; not rendered"
        ),
    ),
    "ingress.routes.serviceRoutes": (
        _A,
        (
            "the gateway's VirtualService sends ingress requests by the backend service's "
            "default route (its split); the service's matched routes bind to the mesh, not the "
            "gateway, and do not apply to ingress requests"
        ),
    ),
    "egress.hosts": (
        _A,
        (
            "rendered as a ServiceEntry per meshed namespace (exportTo: .); Istio refuses "
            "other hosts only where meshConfig.outboundTrafficPolicy.mode is REGISTRY_ONLY, a "
            "mesh-wide setting meshc cannot set (the default, ALLOW_ANY, lets every host through)"
        ),
    ),
}


# --istio-routing gateway-api and ambient: HTTPRoutes whose parent is the Service (Istio
# turns each into a VirtualService: pilot/pkg/config/kube/gateway/conversion.go,
# convertHTTPRoute); docs/ambient.md argues each entry.
_RETRY_NOTE = (
    "HTTPRoute's retry field is in Gateway API's experimental channel only (GEP-1731); the "
    "standard channel's CRD has none, so it is not rendered and Istio's default retry policy "
    "applies instead (2 attempts on connect-failure, refused-stream, unavailable, cancelled "
    "and retriable-status-codes: convertHTTPRoute sets no retries without it)"
)
_GATEWAY_API: dict[str, Capability] = {
    "services.routes.order": (
        _A,
        (
            "Gateway API ranks HTTPRoute rules by match specificity (exact path, longest path, "
            "most headers) before list order; rules are rendered in spec order, so overlapping "
            "matches may resolve to another route"
        ),
    ),
    "services.retries.attempts": (_A, _RETRY_NOTE),
    "services.retries.perTryTimeout": (_A, _RETRY_NOTE),
    "services.retries.retryOn": (_A, _RETRY_NOTE),
    "services.retries.retryOn.transport": (_A, _RETRY_NOTE),
    "services.retries.retryOn.grpc": (_A, _RETRY_NOTE),
    "services.routes.retries": (_A, _RETRY_NOTE),
    "services.routes.fault.delay": (_U, "Gateway API has no fault injection filter; not rendered"),
    "services.routes.fault.abort": (_U, "Gateway API has no fault injection filter; not rendered"),
    "services.routes.rewrite": (
        _U,
        (
            "Gateway API rewrites a prefix only after a PathPrefix match, which matches whole "
            "path segments; the spec's prefix is a string prefix (rendered as a regular "
            "expression), so a path rewrite after one is not rendered"
        ),
    ),
    "services.routes.tcp": (
        _U,
        (
            "a tcp port's connections are split by a TCPRoute, which meshc does not render for "
            "Istio; not rendered"
        ),
    ),
    "durations.subMillisecond": (
        _A,
        "Gateway API durations (GEP-2257) are whole milliseconds; rounded",
    ),
}
# Ambient: ztunnel (L4) everywhere, a waypoint (Envoy) where L7 features need one.
_AMBIENT: dict[str, Capability] = {
    "services.retries.omitted": (
        _A,
        (
            "a service with a waypoint is retried by Istio's default policy like a sidecar's "
            "(2 attempts); one without a waypoint is not retried (ztunnel does not retry)"
        ),
    ),
    "services.rateLimit": (
        _U,
        (
            "Istio has no rate-limit API, and the EnvoyFilter --istio-rate-limit envoyfilter "
            "renders is not supported on waypoints; not rendered"
        ),
    ),
    "services.service.manage": (
        _U,
        (
            "the waypoint is chosen by the istio.io/use-waypoint label on the Service, and with "
            "the app's own Service meshc renders no Service to carry it; the message names the label "
            "to add"
        ),
    ),
    "telemetry.tracing": (
        _A,
        (
            "ztunnel neither traces nor logs requests: tracing and access logs apply at the "
            "waypoints only, so services without one are not traced"
        ),
    ),
    "telemetry.accessLogging": (
        _A,
        "ztunnel logs connections, not requests; request logs come from waypoints only",
    ),
    "telemetry.selector": (
        _A,
        (
            "a selector picks workloads, which are sidecars' and ztunnel's; waypoint telemetry "
            "attaches with targetRefs, so L7 telemetry of the selected workloads is not changed"
        ),
    ),
    "mtls.PERMISSIVE": (
        _A,
        (
            "ztunnel always sends mTLS (HBONE) between ambient pods; PERMISSIVE only lets "
            "plaintext from outside the mesh in, and DISABLE is not honoured for ambient pods"
        ),
    ),
}


@dataclass(frozen=True)
class IstioProfile(Profile):
    def namespace_markers(self, mesh: MeshFacts, namespace: NamespaceFacts) -> Markers:
        if namespace.dataplane == AMBIENT:
            # Never istio-injection or istio.io/rev here: the injector would add sidecars, and
            # Istio CNI skips a pod with a sidecar. A revision names the waypoints' control
            # plane instead (the istio.io/rev label of each waypoint Gateway).
            return {"labels": {DATAPLANE_MODE_LABEL: AMBIENT}, "annotations": {}}
        if namespace.revision:
            return {"labels": {REVISION_LABEL: namespace.revision}, "annotations": {}}
        return {"labels": {INJECTION_LABEL: "enabled"}, "annotations": {}}


_COMMON: dict[str, Capability] = {
    "services.allow.ports.namedTargetPort": (
        Support.UNSUPPORTED,
        (
            "AuthorizationPolicy ports are workload port numbers; a named targetPort has no "
            "number until pods exist, so the rule would match nothing"
        ),
    ),
}

PROFILE = IstioProfile(
    name="istio",
    title="Istio",
    system_namespaces=("istio-system",),
    proxy_images=("docker.io/istio/proxyv2", "gcr.io/istio-release/proxyv2", "istio/proxyv2"),
    mesh_containers=("istio-proxy", "istio-init", "istio-validation"),
    proxy_uid=1337,
    proxy_gids=(1337,),
    capture_annotations=MappingProxyType(
        {
            "traffic.sidecar.istio.io/excludeInboundPorts": "exclude",
            "traffic.sidecar.istio.io/excludeOutboundPorts": "exclude",
            "traffic.sidecar.istio.io/excludeOutboundIPRanges": "exclude",
            "traffic.sidecar.istio.io/excludeInterfaces": "exclude",
            "traffic.sidecar.istio.io/kubevirtInterfaces": "exclude",
            "traffic.sidecar.istio.io/includeInboundPorts": "include",
            "traffic.sidecar.istio.io/includeOutboundIPRanges": "include",
        }
    ),
    kinds=MappingProxyType(
        {
            "PeerAuthentication": 1,
            "AuthorizationPolicy": 1,
            "DestinationRule": 2,
            "VirtualService": 2,
            "Gateway": 2,
            "ServiceEntry": 2,
            "Telemetry": 2,
            "EnvoyFilter": 2,
            "HTTPRoute": 2,
        }
    ),
    config_groups=("networking.istio.io", "security.istio.io", "telemetry.istio.io"),
    protected_kinds=(
        ("security.istio.io", "PeerAuthentication", "peerauthentications"),
        ("security.istio.io", "AuthorizationPolicy", "authorizationpolicies"),
    ),
    pod_opt_out=Markers(
        labels={"sidecar.istio.io/inject": "false", DATAPLANE_MODE_LABEL: "none"},
        annotations={},
    ),
    # The injector reads sidecar.istio.io/inject as an annotation when the label is
    # absent (policies/rego/istio.rego, inject_setting).
    opt_out_annotations_too=("sidecar.istio.io/inject",),
    injection_keys=MappingProxyType(
        {
            "labels": (INJECTION_LABEL, REVISION_LABEL, DATAPLANE_MODE_LABEL),
        }
    ),
    revisions=True,
    dataplanes=("sidecar", AMBIENT),
    waypoint_label=USE_WAYPOINT_LABEL,
    settings_schema=MappingProxyType(
        {
            "routing": {
                "enum": ["virtualservice", "gateway-api"],
                "description": "how sidecar namespaces route (as --istio-routing; the command "
                "line wins): virtualservice (default) or gateway-api (HTTPRoutes whose parent "
                "is the Service); ambient namespaces always route with Gateway API",
            },
            "waypoints": {
                "enum": ["namespace", "service"],
                "description": "ambient: one waypoint per namespace (default), or one per "
                "service that needs one",
            },
        }
    ),
    settings_defaults=MappingProxyType({"waypoints": "namespace"}),
    render_options=(
        RenderOption(
            "routing",
            ("virtualservice", "gateway-api"),
            "how sidecar namespaces route (default: virtualservice, or spec.istio."
            "routing; gateway-api: HTTPRoutes whose parent is the Service, with a "
            "Service per version); ambient namespaces always use Gateway API",
        ),
        RenderOption(
            "api",
            ("v1", "v1beta1"),
            "Istio API version to emit (default: v1; v1beta1 for clusters older than Istio 1.22)",
        ),
        RenderOption(
            "rate-limit",
            ("refuse", "envoyfilter"),
            "how to render spec rate limits: refuse (default: Istio has no rate-limit "
            "API) or envoyfilter (an EnvoyFilter: sidecars only, not waypoints, and "
            "tied to Envoy's configuration, which may change between Istio versions)",
        ),
    ),
    capabilities=MappingProxyType(
        {
            "virtualservice": MappingProxyType({**_COMMON, **_TRAFFIC}),
            "gateway-api": MappingProxyType({**_COMMON, **_TRAFFIC, **_GATEWAY_API}),
            AMBIENT: MappingProxyType({**_COMMON, **_TRAFFIC, **_GATEWAY_API, **_AMBIENT}),
        }
    ),
)
