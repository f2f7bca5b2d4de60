package meshc.kuma_test

import data.meshc.lib.fixtures_test as t
import data.meshc.main.violations

kuma := object.union(t.istio, {
	"provider": "kuma",
	"profile": {
		"name": "kuma",
		"mesh_containers": ["kuma-gateway", "kuma-init", "kuma-sidecar", "kuma-validation"],
		"proxy_uid": 5678,
		"proxy_gids": [],
		"protected_kinds": [["kuma.io", "MeshTrafficPermission"]],
		"spec_defaults": {},
		"capture_annotations": {
			"traffic.kuma.io/exclude-inbound-ips": "exclude",
			"traffic.kuma.io/exclude-inbound-ports": "exclude",
			"traffic.kuma.io/exclude-outbound-ips": "exclude",
			"traffic.kuma.io/exclude-outbound-ports": "exclude",
			"traffic.kuma.io/exclude-outbound-ports-for-uids": "exclude",
		},
	},
	"meshed_namespaces": ["kuma-demo"],
	"allowed_namespaces": ["kuma-demo"],
	"exemptions": [],
	"settings": {"mesh": "default"},
	"mesh_images": ["docker.io/kumahq/kuma-dp", "docker.io/kumahq/kuma-init"],
	"mesh_image_prefixes": ["docker.io/kumahq/kuma-dp:", "docker.io/kumahq/kuma-dp@", "docker.io/kumahq/kuma-init:", "docker.io/kumahq/kuma-init@"],
})

sidecar := {
	"name": "kuma-sidecar", "image": "docker.io/kumahq/kuma-dp:2.14.3", "restartPolicy": "Always",
	"securityContext": {"runAsUser": 5678, "runAsGroup": 5678},
}

init := {
	"name": "kuma-init", "image": "docker.io/kumahq/kuma-init:2.14.3",
	"command": ["/usr/bin/kumactl", "install", "transparent-proxy"],
	"args": ["--exclude-inbound-ports=9902,9000", "--verbose"],
	"securityContext": {"runAsUser": 0, "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
}

injected(init_containers) := t.admitted_pod("kuma-demo", {"labels": {"app": "web", "kuma.io/mesh": "default"}}, {"initContainers": init_containers, "containers": [t.app]})

test_the_injected_pod_is_admitted if {
	count(violations) == 0 with input as injected([init, sidecar]) with data.meshc.config as kuma
}

test_a_pod_without_its_native_sidecar_is_denied if {
	classic := t.admitted_pod("kuma-demo", {}, {"initContainers": [init], "containers": [sidecar, t.app]})
	every review in [injected([init]), classic] {
		v := violations with input as review with data.meshc.config as kuma
		"spec.initContainers" in t.paths(v)
	}
}

test_the_injection_label_opts_in_and_out if {
	count(violations) == 0 with input as t.pod("kuma-demo", {"labels": {"kuma.io/sidecar-injection": "enabled"}}, {"containers": [t.app]})
		with data.meshc.config as kuma
	v := violations with input as t.pod("kuma-demo", {"labels": {"kuma.io/sidecar-injection": "disabled"}}, {"containers": [t.app]})
		with data.meshc.config as kuma
	t.paths(v) == {"metadata.labels[\"kuma.io/sidecar-injection\"]"}
}

test_a_workload_stays_in_the_specs_mesh if {
	count(violations) == 0 with input as t.pod("kuma-demo", {"labels": {"kuma.io/mesh": "default"}}, {"containers": [t.app]})
		with data.meshc.config as kuma
	v := violations with input as t.pod("kuma-demo", {"annotations": {"kuma.io/mesh": "shadow"}}, {"containers": [t.app]})
		with data.meshc.config as kuma
	t.paths(v) == {"metadata.annotations[\"kuma.io/mesh\"]"}
}

namespace(labels) := t.request("", "Namespace", "", {"metadata": {"name": "kuma-demo", "labels": labels}})

test_a_meshed_namespace_keeps_its_label_and_mesh if {
	count(violations) == 0 with input as namespace({"kuma.io/sidecar-injection": "enabled"}) with data.meshc.config as kuma
	v1 := violations with input as namespace({}) with data.meshc.config as kuma
	t.paths(v1) == {"metadata.labels[\"kuma.io/sidecar-injection\"]"}
	v2 := violations with input as namespace({"kuma.io/sidecar-injection": "enabled", "kuma.io/mesh": "shadow"}) with data.meshc.config as kuma
	t.paths(v2) == {"metadata.labels[\"kuma.io/mesh\"]"}
	other := object.union(kuma, {"settings": {"mesh": "payments"}})
	v3 := violations with input as namespace({"kuma.io/sidecar-injection": "enabled"}) with data.meshc.config as other
	t.paths(v3) == {"metadata.labels[\"kuma.io/mesh\"]"}
}

mesh(name, backend) := t.request("kuma.io", "Mesh", "", {"metadata": {"name": name}, "spec": {"mtls": {"enabledBackend": "ca-1", "backends": [backend]}}})

test_the_specs_mesh_keeps_strict_mtls if {
	every backend in [{"name": "ca-1", "type": "builtin", "mode": "STRICT"}, {"name": "ca-1", "type": "builtin"}] {
		count(violations) == 0 with input as mesh("default", backend) with data.meshc.config as kuma
	}
	v := violations with input as mesh("default", {"name": "ca-1", "type": "builtin", "mode": "PERMISSIVE"}) with data.meshc.config as kuma
	t.paths(v) == {"spec.mtls.backends[0].mode"}
	count(violations) == 0 with input as mesh("sandbox", {"name": "ca-1", "type": "builtin", "mode": "PERMISSIVE"}) with data.meshc.config as kuma
}

permission(action) := t.request("kuma.io", "MeshTrafficPermission", "kuma-demo", {"metadata": {"name": "open"}, "spec": {"targetRef": {"kind": "Mesh"}, "from": [{"targetRef": {"kind": "Mesh"}, "default": {"action": action}}]}})

test_a_permission_admits_only_allowed_namespaces if {
	count(violations) == 0 with input as permission("Deny") with data.meshc.config as kuma
	v := violations with input as permission("Allow") with data.meshc.config as kuma
	t.paths(v) == {"spec.from[0].targetRef"}
}

# --- the builtin gateway (spec.ingress) ----------------------------------------

with_gateway := object.union(kuma, {"ingress_gateways": [{"namespace": "kuma-demo", "service_account": "edge-gw", "names": ["edge"]}]})

# kuma-cp runs it as the proxy (containers/factory.go, NewContainer).
gateway_container := {
	"name": "kuma-gateway", "image": "docker.io/kumahq/kuma-dp:2.14.3", "args": ["run", "--log-level=info"],
	"securityContext": {
		"runAsUser": 5678, "runAsGroup": 5678, "allowPrivilegeEscalation": false,
		"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
	},
}

# The pod kuma-cp's MeshGatewayInstance controller writes (createOrUpdateDeployment).
gateway_pod(labels, containers) := t.admitted_pod(
	"kuma-demo",
	{
		"labels": object.union({"app": "edge", "kuma.io/sidecar-injection": "disabled", "kuma.io/mesh": "default"}, labels),
		"annotations": {"kuma.io/gateway": "builtin", "kuma.io/tags": "{\"kuma.io/service\":\"edge_kuma-demo_svc\"}"},
	},
	{"containers": containers, "serviceAccountName": "edge-gw"},
)

test_a_builtin_gateway_pod_the_spec_renders_is_admitted_in_a_meshed_namespace if {
	count(violations) == 0 with input as gateway_pod({}, [gateway_container]) with data.meshc.config as with_gateway
}

test_a_gateway_look_alike_is_judged_as_any_pod if {
	# No spec ingress names it, it runs more than the gateway, its image is not Kuma's,
	# or it is another Mesh's.
	looks := [
		[kuma, gateway_pod({}, [gateway_container])],
		[with_gateway, gateway_pod({"app": "other"}, [gateway_container])],
		[with_gateway, gateway_pod({}, [gateway_container, t.app])],
		[with_gateway, gateway_pod({}, [object.union(gateway_container, {"image": "example.com/kuma-dp:2.14.3"})])],
		[with_gateway, gateway_pod({"kuma.io/mesh": "shadow"}, [gateway_container])],
	]
	every pair in looks {
		v := violations with input as pair[1] with data.meshc.config as pair[0]
		"metadata.annotations[\"kuma.io/gateway\"]" in t.paths(v)
	}
}

test_the_gateway_container_on_any_other_pod_is_denied if {
	# kuma-gateway runs as the proxy: an application pod must not bring one, even
	# Kuma's genuine image, and a gateway pod whose app is not an ingress of the spec
	# is reported at the container too.
	v := violations with input as t.admitted_pod("kuma-demo", {}, {"containers": [t.app, gateway_container]}) with data.meshc.config as with_gateway
	"spec.containers[1].name" in t.paths(v)
	w := violations with input as gateway_pod({"app": "other"}, [gateway_container]) with data.meshc.config as with_gateway
	"spec.containers[0].name" in t.paths(w)
}

gateway_permission(tag) := t.request("kuma.io", "MeshTrafficPermission", "kuma-demo", {"metadata": {"name": "web"}, "spec": {
	"targetRef": {"kind": "Dataplane", "labels": {"app": "web"}},
	"from": [
		{"targetRef": {"kind": "MeshSubset", "tags": {"kuma.io/service": tag}}, "default": {"action": "Allow"}},
		{"targetRef": {"kind": "Mesh"}, "default": {"action": "Deny"}},
	],
}})

test_a_permission_may_admit_a_declared_gateway_by_its_service_tag if {
	count(violations) == 0 with input as gateway_permission("edge_kuma-demo_svc") with data.meshc.config as with_gateway
	every tag in ["other_kuma-demo_svc", "edge_elsewhere_svc"] {
		v := violations with input as gateway_permission(tag) with data.meshc.config as with_gateway
		t.paths(v) == {"spec.from[0].targetRef"}
	}
}
