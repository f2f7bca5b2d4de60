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
        _A, ("Istio retries every HTTP route that sets no retry policy up to twice (connect-"
        "failure, refused-stream, unavailable, cancelled, retriable-status-codes: istio/istio "
        "pilot/pkg/networking/core/route/retry, DefaultPolicy); Linkerd retries nothing; give "
        "retries (attempts: 0 for none) to mean the same on every mesh")),
    "services.rateLimit": (
        _U, ("Istio has no rate-limit API; not rendered unless --istio-rate-limit envoyfilter, "
        "which renders an EnvoyFilter inserting Envoy's local_ratelimit filter on the sidecar's "
        "inbound listener: EnvoyFilter is unsupported on waypoints (ambient) and depends on "
        "Envoy's internal configuration, which may change between Istio versions")),
    "services.rateLimit.perCaller": (
        _U, ("Envoy's local rate limit keeps one token bucket per listener, not one per caller "
        "identity; not rendered")),
    "ingress.routes.serviceRoutes": (
        _A, ("the gateway's VirtualService sends ingress requests by the backend service's "
        "default route (its split); the service's matched routes bind to the mesh, not the "
        "gateway, and do not apply to ingress requests")),
    "egress.hosts": (
        _A, ("rendered as a ServiceEntry per meshed namespace (exportTo: .); Istio refuses "
        "other hosts only where meshConfig.outboundTrafficPolicy.mode is REGISTRY_ONLY, a "
        "mesh-wide setting meshc cannot set (the default, ALLOW_ANY, lets every host through)")),
}


@dataclass(frozen=True)
class IstioProfile(Profile):
    def namespace_markers(self, mesh: MeshFacts, namespace: NamespaceFacts) -> Markers:
        if namespace.revision:
            return {"labels": {REVISION_LABEL: namespace.revision}, "annotations": {}}
        return {"labels": {INJECTION_LABEL: "enabled"}, "annotations": {}}


PROFILE = IstioProfile(
    name="istio",
    title="Istio",
    system_namespaces=("istio-system",),
    proxy_images=("docker.io/istio/proxyv2", "gcr.io/istio-release/proxyv2", "istio/proxyv2"),
    mesh_containers=("istio-proxy", "istio-init", "istio-validation"),
    proxy_uid=1337,
    proxy_gids=(1337,),
    capture_annotations=MappingProxyType({
        "traffic.sidecar.istio.io/excludeInboundPorts": "exclude",
        "traffic.sidecar.istio.io/excludeOutboundPorts": "exclude",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": "exclude",
        "traffic.sidecar.istio.io/excludeInterfaces": "exclude",
        "traffic.sidecar.istio.io/kubevirtInterfaces": "exclude",
        "traffic.sidecar.istio.io/includeInboundPorts": "include",
        "traffic.sidecar.istio.io/includeOutboundIPRanges": "include",
    }),
    kinds=MappingProxyType({
        "PeerAuthentication": 1,
        "AuthorizationPolicy": 1,
        "DestinationRule": 2,
        "VirtualService": 2,
        "Gateway": 2,
        "ServiceEntry": 2,
        "Telemetry": 2,
        "EnvoyFilter": 2,
    }),
    config_groups=("networking.istio.io", "security.istio.io", "telemetry.istio.io"),
    protected_kinds=(
        ("security.istio.io", "PeerAuthentication", "peerauthentications"),
        ("security.istio.io", "AuthorizationPolicy", "authorizationpolicies"),
    ),
    pod_opt_out=Markers(
        labels={"sidecar.istio.io/inject": "false", DATAPLANE_MODE_LABEL: "none"},
        annotations={},
    ),
    injection_keys=MappingProxyType({
        "labels": (INJECTION_LABEL, REVISION_LABEL, DATAPLANE_MODE_LABEL),
    }),
    revisions=True,
    render_options=(
        RenderOption("api", ("v1", "v1beta1"),
                     "Istio API version to emit (default: v1; v1beta1 for clusters older than "
                     "Istio 1.22)"),
        RenderOption("rate-limit", ("refuse", "envoyfilter"),
                     "how to render spec rate limits: refuse (default: Istio has no rate-limit "
                     "API) or envoyfilter (an EnvoyFilter: sidecars only, not waypoints, and "
                     "tied to Envoy's configuration, which may change between Istio versions)"),
    ),
    capabilities=MappingProxyType({
        "default": MappingProxyType({
            "services.allow.ports.namedTargetPort": (
                Support.UNSUPPORTED,
                ("AuthorizationPolicy ports are workload port numbers; a named targetPort has no "
                "number until pods exist, so the rule would match nothing"),
            ),
            **_TRAFFIC,
        }),
    }),
)
