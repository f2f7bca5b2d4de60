# METADATA
# title: Shared fixtures of the Rego unit tests
package meshc.lib.fixtures_test

istio := {
	"provider": "istio",
	"mtls": "STRICT",
	"meshed_namespaces": ["mesh-demo"],
	"allowed_namespaces": ["mesh-demo"],
	"exempt_namespaces": ["istio-system", "kube-system", "meshc-system"],
	"modes": {},
	"exemptions": [{"namespace": "mesh-demo", "selector": {"app": "legacy"}, "annotations": ["traffic.sidecar.istio.io/excludeOutboundIPRanges"]}],
	"mesh_images": ["docker.io/istio/proxyv2"],
	"mesh_image_prefixes": ["docker.io/istio/proxyv2:", "docker.io/istio/proxyv2@"],
	"sources": {},
}

linkerd := object.union(istio, {
	"provider": "linkerd",
	"meshed_namespaces": ["l5d-demo"],
	"allowed_namespaces": ["l5d-demo"],
	"mesh_images": ["cr.l5d.io/linkerd/proxy", "cr.l5d.io/linkerd/proxy-init"],
	"mesh_image_prefixes": ["cr.l5d.io/linkerd/proxy-init:", "cr.l5d.io/linkerd/proxy-init@", "cr.l5d.io/linkerd/proxy:", "cr.l5d.io/linkerd/proxy@"],
})

request(group, kind, namespace, obj) := {"request": {
	"kind": {"group": group, "version": "v1", "kind": kind},
	"operation": "CREATE",
	"namespace": namespace,
	"object": obj,
}}

pod(namespace, metadata, spec) := request("", "Pod", namespace, {"metadata": object.union({"name": "web", "namespace": namespace}, metadata), "spec": spec})

app := {"name": "web", "image": "hashicorp/http-echo:1.0"}

paths(violations) := {v.path | some v in violations}
