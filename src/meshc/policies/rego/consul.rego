# METADATA
# title: Consul's rules
# description: >-
#   What the policies judge that only Consul has: the connect-inject
#   annotation a pod enrols by (meshc's mutating webhook writes it), what makes
#   consul-k8s's injector skip a pod or leave transparent proxy off, the
#   injected consul-dataplane and its connect-inject init, and the config
#   entries that would let plaintext in (ServiceDefaults, ProxyDefaults, Mesh)
#   or admit callers from anywhere (ServiceIntentions). The facts (UIDs,
#   container names, capture annotations) are in the provider profile.
package meshc.providers.consul

import data.meshc.lib.k8s
import data.meshc.lib.mesh

# Sources: hashicorp/consul-k8s v2.0.3, control-plane/connect-inject:
# webhook/mesh_webhook.go (Handle, shouldInject), webhook/container_init.go,
# webhook/consul_dataplane_sidecar.go, webhook/redirect_traffic.go,
# common/common.go (TransparentProxyEnabled), constants/annotations_and_labels.go.

inject_annotation := "consul.hashicorp.com/connect-inject"

status_key := "consul.hashicorp.com/connect-inject-status"

tproxy_key := "consul.hashicorp.com/transparent-proxy"

tproxy_status_key := "consul.hashicorp.com/transparent-proxy-status"

redirect_annotation := "consul.hashicorp.com/redirect-traffic-config"

pod_annotations_path := concat("", [k8s.pod_prefix, "metadata.annotations"])

# strconv.ParseBool, which the injector reads both settings with: these are
# true, and anything else is false or an error that fails the injection.
parses_true(value) if value in {"1", "t", "T", "TRUE", "true", "True"}

# --- injection-required: what the pod asks for ----------------------------------

# shouldInject: the annotation, when present, decides; meshc's webhook adds
# "true" to a new pod that has none, so only a value of the pod's own gets here.
injection_findings contains finding if {
	value := k8s.pod_annotations[inject_annotation]
	not parses_true(value)
	finding := {
		"path": k8s.key_path(pod_annotations_path, inject_annotation),
		"problem": concat("", ["opts the pod out of Consul's sidecar injection: ", k8s.show(value)]),
		"fix": "remove it or set it to \"true\": every pod in a meshed namespace runs consul-dataplane",
	}
}

# shouldInject returns false for a pod whose status annotation is set at all:
# on a template, or a pod not yet through the injector, it is a forged
# "already injected". The injector writes it itself on the pods it injects.
injection_findings contains finding if {
	mesh.intent_only
	value := k8s.pod_annotations[status_key]
	finding := {
		"path": k8s.key_path(pod_annotations_path, status_key),
		"problem": concat("", ["tells Consul's injector the pod is injected already, so it injects nothing: ", k8s.show(value)]),
		"fix": "remove it: the injector writes it on the pods it injects",
	}
}

# TransparentProxyEnabled: the pod's annotation wins over its namespace's label.
injection_findings contains finding if {
	value := k8s.pod_annotations[tproxy_key]
	not parses_true(value)
	finding := {
		"path": k8s.key_path(pod_annotations_path, tproxy_key),
		"problem": concat("", ["turns transparent proxy off, so nothing redirects the pod's traffic through consul-dataplane: ", k8s.show(value)]),
		"fix": "remove it or set it to \"true\"",
	}
}

# meshc renders and /mutate adds the label; an UPDATE that removes or weakens
# it leaves the namespace's new pods to the chart's global default.
injection_findings contains finding if {
	k8s.kind == "Namespace"
	value := object.get(k8s.labels, tproxy_key, null)
	not parses_true(value)
	finding := {
		"path": k8s.key_path("metadata.labels", tproxy_key),
		"problem": concat("", ["does not turn transparent proxy on for the namespace's pods: ", k8s.show(value)]),
		"fix": "set it to \"true\", or remove the namespace from spec.namespaces",
	}
}

# --- the injected pod: what the cluster will run -----------------------------------
#
# A Pod under admission has been through consul-k8s's injector (meshc's
# mutating configuration sorts before it): consul-dataplane runs as a regular
# container (the default) or as a native sidecar
# (enable-consul-dataplane-as-sidecar), after consul-connect-inject-init.

sidecars := mesh.mesh_containers("consul-dataplane")

inits := mesh.mesh_containers("consul-connect-inject-init")

sidecar_runs if {
	some entry in sidecars
	mesh.long_running(entry)
}

injection_findings contains finding if {
	mesh.outcome_visible
	not sidecar_runs
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.containers"]),
		"problem": "runs without Consul's sidecar: no consul-dataplane with Consul's image, so the injector skipped the pod, was told not to inject, or was not reached",
		"fix": "remove what opts the pod out (the connect-inject annotation, a preset connect-inject-status) and create it again through the injector, after meshc's webhook",
	}
}

injection_findings contains finding if {
	mesh.outcome_visible
	sidecar_runs
	count(inits) == 0
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.initContainers"]),
		"problem": "runs consul-dataplane without consul-connect-inject-init, which registers the pod and sets up its traffic redirection",
		"fix": "create the pod again through the injector",
	}
}

# The injector writes the status annotation only when transparent proxy is
# on for the pod; the CNI plugin redirects only pods that carry it.
injection_findings contains finding if {
	mesh.outcome_visible
	sidecar_runs
	object.get(k8s.pod_annotations, tproxy_status_key, null) != "enabled"
	finding := {
		"path": k8s.key_path(pod_annotations_path, tproxy_status_key),
		"problem": concat("", ["was injected without transparent proxy, so its traffic reaches the network without consul-dataplane: ", k8s.show(object.get(k8s.pod_annotations, tproxy_status_key, null))]),
		"fix": "label the namespace consul.hashicorp.com/transparent-proxy=true (meshc renders it) and create the pod again",
	}
}

# Transparent proxy set up by the init container (CONSUL_REDIRECT_TRAFFIC_CONFIG,
# run as root with NET_ADMIN) or, with consul-cni, by the plugin from the
# redirect-traffic-config annotation (container_init.go; mesh_webhook.go,
# addRedirectTrafficConfigAnnotation).
redirects if {
	some entry in inits
	mesh.env_value(mesh.container(entry), "CONSUL_REDIRECT_TRAFFIC_CONFIG") != ""
}

redirects if k8s.pod_annotations[redirect_annotation] != ""

injection_findings contains finding if {
	mesh.outcome_visible
	sidecar_runs
	count(inits) > 0
	not redirects
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.initContainers"]),
		"problem": "nothing sets up the pod's traffic redirection: consul-connect-inject-init has no CONSUL_REDIRECT_TRAFFIC_CONFIG and the pod no redirect-traffic-config annotation for consul-cni",
		"fix": "create the pod again through the injector with transparent proxy on",
	}
}

init_command_prefix := "consul-k8s-control-plane connect-init "

injection_findings contains finding if {
	mesh.outcome_visible
	some entry in inits
	command := object.get(mesh.container(entry), "command", [])
	not injector_command(command)
	finding := {
		"path": concat("", [mesh.container_path(entry), ".command"]),
		"problem": concat("", ["consul-connect-inject-init runs another program than Consul's injector starts: ", k8s.show_fields(command)]),
		"fix": "create the pod through the injector, with no container of that name of its own",
	}
}

injector_command(command) if {
	count(command) == 3
	command[0] == "/bin/sh"
	command[1] == "-ec"
	startswith(trim_space(command[2]), init_command_prefix)
}

# The capture rules let the proxy's UID through (iptablesConfigJSON:
# ProxyUserID 5995): consul-dataplane must run as it.
injection_findings contains finding if {
	mesh.outcome_visible
	some entry in sidecars
	user := object.get(mesh.container(entry), ["securityContext", "runAsUser"], null)
	user != mesh.profile.proxy_uid
	finding := {
		"path": concat("", [mesh.container_path(entry), ".securityContext.runAsUser"]),
		"problem": concat("", ["consul-dataplane does not run as the UID the capture rules let through (", format_int(mesh.profile.proxy_uid, 10), "): ", k8s.show(user)]),
		"fix": "create the pod again through the injector",
	}
}

# The capture rules also let the init container's UID through
# (iptablesConfigJSON: ExcludeUIDs gets 5996): an app container must not run as it.
extra_proxy_uids := {5996}

extra_proxy_gids := set()

# The injector writes no capture annotation of its own.
injector_written := set()

# --- mtls-strict ------------------------------------------------------------------
#
# Consul CE has no namespaces: a config entry applies to the Consul service of
# its name whatever Kubernetes namespace the resource is in, so every one is judged.

config_object(kind) if {
	k8s.writing
	k8s.group == "consul.hashicorp.com"
	k8s.kind == kind
}

# mutualTLSMode permissive adds the filter chain that accepts plaintext on the
# service's port (consul agent/xds/listeners.go, makePermissiveFilterChain).
mtls_findings contains finding if {
	mesh.config.mtls == "STRICT"
	some kind in ["ServiceDefaults", "ProxyDefaults"]
	config_object(kind)
	mode := object.get(k8s.resource, ["spec", "mutualTLSMode"], "")
	lower(mode) == "permissive"
	finding := {
		"path": "spec.mutualTLSMode",
		"problem": concat("", ["accepts plaintext traffic where the spec requires mTLS STRICT: ", k8s.show(mode)]),
		"fix": "remove it or set it to \"strict\"",
	}
}

# The Mesh setting that lets any service be made permissive
# (consul agent/consul/state/config_entry.go, checkMutualTLSMode).
mtls_findings contains finding if {
	mesh.config.mtls == "STRICT"
	config_object("Mesh")
	object.get(k8s.resource, ["spec", "allowEnablingPermissiveMutualTLS"], false) == true
	finding := {
		"path": "spec.allowEnablingPermissiveMutualTLS",
		"problem": "lets any service accept plaintext traffic where the spec requires mTLS STRICT: true",
		"fix": "remove it or set it to false",
	}
}

# --- allowed-namespaces ---------------------------------------------------------------

injection_requests contains setting if {
	value := k8s.pod_annotations[inject_annotation]
	parses_true(value)
	setting := {"path": k8s.key_path(pod_annotations_path, inject_annotation), "value": value}
}

allowed_list := concat(", ", sort(mesh.config.allowed_namespaces))

# The services the spec declares in the allowed namespaces: on Consul CE an
# intention's source is a service name, which these are the only ones known to
# live in an allowed namespace.
allowed_services contains svc.name if {
	some svc in mesh.config.services
	svc.namespace in mesh.config.allowed_namespaces
}

allows(source) if object.get(source, "action", "") == "allow"

allows(source) if {
	some permission in object.get(source, "permissions", [])
	permission.action == "allow"
}

allowed_namespaces_findings contains finding if {
	config_object("ServiceIntentions")
	some i, source in object.get(k8s.resource, ["spec", "sources"], [])
	allows(source)
	problem := source_problem(source)
	finding := {
		"path": concat("", ["spec.sources[", format_int(i, 10), "]"]),
		"problem": concat("", ["admits callers outside the allowed namespaces: ", problem]),
		"fix": concat("", ["name a service the spec declares in an allowed namespace (", allowed_list, ")"]),
	}
}

source_problem(source) := concat("", ["a peer or sameness group, another cluster's services: ", k8s.show_fields(source)]) if {
	some key in ["peer", "samenessGroup", "partition"]
	object.get(source, key, "") != ""
} else := concat("", ["the service ", k8s.show(source.name), ", which the spec declares in no allowed namespace"]) if {
	not source.name in allowed_services
}
