"""data.meshc.config, compiled from the Mesh spec."""

from __future__ import annotations

from dataclasses import replace

import pytest

from meshc.compiler.loader import load_mesh
from meshc.compiler.model import Mesh
from meshc.policies.data import policy_data
from meshc.providers.kuma import POLICY_KINDS as KUMA_POLICY_KINDS
from support.paths import EXAMPLES


def test_the_quickstart_spec_compiles_to_the_documented_shape() -> None:
    spec = str(EXAMPLES / "quickstart" / "mesh.yaml")
    assert policy_data(load_mesh(spec)) == {
        "provider": "istio",
        "profile": {
            "name": "istio",
            "mesh_containers": ["istio-init", "istio-proxy", "istio-validation"],
            "proxy_uid": 1337,
            "proxy_gids": [1337],
            "protected_kinds": [
                ["security.istio.io", "AuthorizationPolicy"],
                ["security.istio.io", "PeerAuthentication"],
            ],
            "spec_defaults": {},
            "capture_annotations": {
                "traffic.sidecar.istio.io/excludeInboundPorts": "exclude",
                "traffic.sidecar.istio.io/excludeInterfaces": "exclude",
                "traffic.sidecar.istio.io/excludeOutboundIPRanges": "exclude",
                "traffic.sidecar.istio.io/excludeOutboundPorts": "exclude",
                "traffic.sidecar.istio.io/includeInboundPorts": "include",
                "traffic.sidecar.istio.io/includeOutboundIPRanges": "include",
                "traffic.sidecar.istio.io/kubevirtInterfaces": "exclude",
            },
        },
        "mesh_config": {
            "groups": [
                "auth.consul.hashicorp.com",
                "consul.hashicorp.com",
                "networking.istio.io",
                "policy.linkerd.io",
                "security.istio.io",
                "split.smi-spec.io",
                "telemetry.istio.io",
            ],
            "kinds": [
                ["gateway.networking.k8s.io", "GRPCRoute"],
                ["gateway.networking.k8s.io", "HTTPRoute"],
                ["gateway.networking.k8s.io", "TCPRoute"],
                ["gateway.networking.k8s.io", "TLSRoute"],
                ["gateway.networking.k8s.io", "UDPRoute"],
                *(["kuma.io", kind] for kind in sorted(KUMA_POLICY_KINDS)),
                ["linkerd.io", "ServiceProfile"],
            ],
        },
        "mtls": "STRICT",
        "meshed_namespaces": ["mesh-demo"],
        "allowed_namespaces": ["mesh-demo"],
        "ingress_gateways": [],
        "exempt_namespaces": sorted(
            [
                "kube-system",
                "kube-public",
                "kube-node-lease",
                "consul",
                "istio-system",
                "kuma-system",
                "linkerd",
                "linkerd-viz",
                "meshc-system",
            ]
        ),
        "modes": {
            "injection-required": "enforce",
            "mtls-strict": "enforce",
            "allowed-namespaces": "enforce",
            "managed-objects": "enforce",
        },
        "exemptions": [],
        "mesh_images": [
            "docker.io/istio/proxyv2",
            "gcr.io/istio-release/proxyv2",
            "index.docker.io/istio/proxyv2",
            "istio/proxyv2",
        ],
        "mesh_image_prefixes": [
            "docker.io/istio/proxyv2:",
            "docker.io/istio/proxyv2@",
            "gcr.io/istio-release/proxyv2:",
            "gcr.io/istio-release/proxyv2@",
            "index.docker.io/istio/proxyv2:",
            "index.docker.io/istio/proxyv2@",
            "istio/proxyv2:",
            "istio/proxyv2@",
        ],
        "sources": {
            "injection-required": "examples/quickstart/mesh.yaml:spec.namespaces",
            "mtls-strict": "examples/quickstart/mesh.yaml:spec.mtls",
            "allowed-namespaces": "examples/quickstart/mesh.yaml:spec.admission.allowedNamespaces",
            "managed-objects": "examples/quickstart/mesh.yaml:spec",
        },
        "mesh_name": "quickstart",
        "settings": {"waypoints": "namespace"},
        "protected": {
            "security.istio.io/AuthorizationPolicy/mesh-demo/web-allow": {
                "source": "examples/quickstart/mesh.yaml#spec.services[0].allow",
                "spec": {
                    "action": "ALLOW",
                    "rules": [
                        {
                            "from": [{"source": {"namespaces": ["mesh-demo"]}}],
                            "to": [{"operation": {"ports": ["5678"]}}],
                        }
                    ],
                    "selector": {"matchLabels": {"app": "web"}},
                },
            },
            "security.istio.io/PeerAuthentication/mesh-demo/default": {
                "source": "examples/quickstart/mesh.yaml#spec.mtls",
                "spec": {"mtls": {"mode": "STRICT"}},
            },
        },
        "namespace_markers": {
            "mesh-demo": {"labels": {"istio-injection": "enabled"}, "annotations": {}},
        },
        "exceptions": [],
        "egress_hosts": [],
        "waypoints": {},
        "services": [{"name": "web", "namespace": "mesh-demo", "selector": {"app": "web"}}],
    }


LINKERD = """
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: data}
spec:
  provider: linkerd
  namespaces: [{name: b}, {name: a}]
  admission:
    allowedNamespaces: [a]
    proxyImages:
      linkerd: [cr.l5d.io/linkerd/proxy]
      istio: [x/proxyv2]
"""


def _mesh(admission: str = "") -> Mesh:
    return load_mesh("mesh.yaml", text=LINKERD + admission)


def test_missing_modes_default_to_enforce_and_only_the_providers_images_count() -> None:
    data = policy_data(_mesh("    policies: {mtls-strict: audit}\n"))
    assert data["modes"] == {
        "injection-required": "enforce",
        "mtls-strict": "audit",
        "allowed-namespaces": "enforce",
        "managed-objects": "enforce",
    }
    assert data["mesh_images"] == ["cr.l5d.io/linkerd/proxy"]  # another registry: one spelling
    assert data["meshed_namespaces"] == ["a", "b"]


def test_exemptions_keep_namespace_selector_and_annotations() -> None:
    exemption = (
        "    exemptions:\n"
        "      - {namespace: a, selector: {app: legacy}, annotations: [config.linkerd.io/skip-subnets], reason: r}\n"
    )
    assert policy_data(_mesh(exemption))["exemptions"] == [
        {
            "namespace": "a",
            "selector": {"app": "legacy"},
            "annotations": ["config.linkerd.io/skip-subnets"],
        }
    ]


def test_an_unknown_mode_is_refused() -> None:
    mesh = _mesh()
    broken = replace(mesh, admission=replace(mesh.admission, policies={"mtls-strict": "deny"}))
    with pytest.raises(ValueError, match="'deny'"):
        policy_data(broken)


def test_the_security_objects_the_spec_renders_are_pinned_with_the_crd_defaults() -> None:
    spec = (
        LINKERD
        + """  services:
    - name: web
      namespace: a
      selector: {app: web}
      ports: [{name: http, port: 80, targetPort: 8080}]
      allow: [{fromNamespaces: [a]}]
"""
    )
    protected = policy_data(load_mesh("mesh.yaml", text=spec))["protected"]
    assert sorted(protected) == [
        "policy.linkerd.io/AuthorizationPolicy/a/web-http",
        "policy.linkerd.io/MeshTLSAuthentication/a/web-http",
        "policy.linkerd.io/Server/a/web-http",
    ]
    server = protected["policy.linkerd.io/Server/a/web-http"]
    assert server["spec"]["proxyProtocol"] == "unknown"  # filled in by the API server
    assert server["source"] == "mesh.yaml#spec.services[0].allow"


def test_image_spellings_cover_docker_hubs_implicit_registry_and_library() -> None:
    from meshc.policies.data import image_spellings

    assert image_spellings(["nginx", "localhost:5000/proxy"]) == [
        "docker.io/library/nginx",
        "index.docker.io/library/nginx",
        "library/nginx",
        "localhost:5000/proxy",
        "nginx",
    ]


def test_the_ingress_gateways_are_the_identities_spec_ingress_declares() -> None:
    data = policy_data(load_mesh(str(EXAMPLES / "bookinfo" / "mesh.yaml")))
    assert data["ingress_gateways"] == [
        {
            "namespace": "istio-system",
            "service_account": "istio-ingressgateway-service-account",
            "names": ["bookinfo-gateway"],
        }
    ]
    assert "istio-system" not in data["allowed_namespaces"]
