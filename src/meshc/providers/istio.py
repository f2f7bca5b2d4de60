"""Istio: the facts meshc renders and enforces Istio with.

Sources: Istio's injector (pkg/kube/inject) names the containers and reads
the capture annotations; tools/istio-iptables exempts the proxy's UID and
GID (1337) from capture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .profile import Markers, Profile, RenderOption, Support

INJECTION_LABEL = "istio-injection"


@dataclass(frozen=True)
class IstioProfile(Profile):
    def namespace_markers(self, mtls: str, settings: Mapping[str, Any] | None = None) -> Markers:
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
        labels={"sidecar.istio.io/inject": "false", "istio.io/dataplane-mode": "none"},
        annotations={},
    ),
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
