# METADATA
# title: Shared fixtures of the Rego unit tests
package meshc.lib.fixtures_test

istio := {
	"provider": "istio",
	"mtls": "STRICT",
	"meshed_namespaces": ["mesh-demo"],
	"allowed_namespaces": ["mesh-demo"],
	"ingress_gateways": [{"namespace": "istio-system", "service_account": "istio-ingressgateway-service-account"}],
	"exempt_namespaces": ["istio-system", "kube-system", "meshc-system"],
	"modes": {},
	"exemptions": [{"namespace": "mesh-demo", "selector": {"app": "legacy"}, "annotations": ["traffic.sidecar.istio.io/excludeOutboundIPRanges"]}],
	"profile": {
		"name": "istio",
		"mesh_containers": ["istio-init", "istio-proxy", "istio-validation"],
		"proxy_uid": 1337,
		"proxy_gids": [1337],
		"protected_kinds": [["security.istio.io", "AuthorizationPolicy"], ["security.istio.io", "PeerAuthentication"]],
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
		"groups": ["networking.istio.io", "policy.linkerd.io", "security.istio.io", "split.smi-spec.io"],
		"kinds": [["gateway.networking.k8s.io", "HTTPRoute"], ["linkerd.io", "ServiceProfile"]],
	},
	"mesh_images": ["docker.io/istio/proxyv2"],
	"mesh_image_prefixes": ["docker.io/istio/proxyv2:", "docker.io/istio/proxyv2@"],
	"sources": {},
}

linkerd := object.union(istio, {
	"provider": "linkerd",
	"profile": {
		"name": "linkerd",
		"mesh_containers": ["linkerd-init", "linkerd-network-validator", "linkerd-proxy"],
		"proxy_uid": 2102,
		"proxy_gids": [],
		"protected_kinds": [["policy.linkerd.io", "AuthorizationPolicy"], ["policy.linkerd.io", "MeshTLSAuthentication"], ["policy.linkerd.io", "Server"]],
		"spec_defaults": {"Server": {"accessPolicy": "deny", "proxyProtocol": "unknown"}},
		"capture_annotations": {
			"config.linkerd.io/skip-inbound-ports": "exclude",
			"config.linkerd.io/skip-outbound-ports": "exclude",
			"config.linkerd.io/skip-subnets": "exclude",
		},
	},
	"meshed_namespaces": ["l5d-demo"],
	"allowed_namespaces": ["l5d-demo"],
	"ingress_gateways": [{"namespace": "ingress-nginx", "service_account": "ingress-nginx"}],
	"mesh_images": ["cr.l5d.io/linkerd/proxy", "cr.l5d.io/linkerd/proxy-init"],
	"mesh_image_prefixes": ["cr.l5d.io/linkerd/proxy-init:", "cr.l5d.io/linkerd/proxy-init@", "cr.l5d.io/linkerd/proxy:", "cr.l5d.io/linkerd/proxy@"],
})

request(group, kind, namespace, obj) := {"request": {
	"kind": {"group": group, "version": "v1", "kind": kind},
	"operation": "CREATE",
	"namespace": namespace,
	"object": obj,
}}

# A Pod as `meshc check` judges it: before any injector ran (intent).
pod(namespace, metadata, spec) := {"request": object.union(admitted_pod(namespace, metadata, spec).request, {"meshc.io/offline": true})}

# A Pod as the API server sends it to a validating webhook: after injection.
admitted_pod(namespace, metadata, spec) := request("", "Pod", namespace, {"metadata": object.union({"name": "web", "namespace": namespace}, metadata), "spec": spec})

app := {"name": "web", "image": "hashicorp/http-echo:1.0"}

paths(violations) := {v.path | some v in violations}
