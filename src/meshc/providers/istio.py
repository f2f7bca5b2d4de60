"""Istio: the facts meshc renders and enforces Istio with.

Sources: Istio's injector (pkg/kube/inject) names the containers and reads
the capture annotations; tools/istio-iptables exempts the proxy's UID and
GID (1337) from capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .profile import Markers, MeshFacts, NamespaceFacts, Profile, RenderOption, Support

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
    }),
    config_groups=("networking.istio.io", "security.istio.io"),
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
    ),
    capabilities=MappingProxyType({
        "default": MappingProxyType({
            "services.allow.ports.namedTargetPort": (
                Support.UNSUPPORTED,
                ("AuthorizationPolicy ports are workload port numbers; a named targetPort has no "
                "number until pods exist, so the rule would match nothing"),
            ),
        }),
    }),
)
