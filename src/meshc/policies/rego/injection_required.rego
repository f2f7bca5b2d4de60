# METADATA
# title: injection-required
# description: >-
#   Every pod in a meshed namespace runs the mesh's proxy, and nothing in it
#   can route traffic around that proxy.
package meshc.injection_required

import data.meshc.lib.k8s
import data.meshc.lib.mesh

policy_id := "injection-required"

violations contains mesh.violation(policy_id, finding) if {
	k8s.writing
	mesh.meshed(k8s.subject_namespace)
	some finding in findings
}

# Opting out of injection, Istio.
findings contains finding if {
	mesh.provider == "istio"
	setting := mesh.istio_inject_setting
	not mesh.istio_injects(setting.value)
	finding := {
		"path": setting.path,
		"problem": concat("", ["opts the pod out of sidecar injection: ", k8s.show(setting.value)]),
		"fix": "remove it or set it to \"true\": every pod in a meshed namespace runs the sidecar",
	}
}

# Opting out of injection, Linkerd.
findings contains finding if {
	mesh.provider == "linkerd"
	setting := mesh.linkerd_inject_setting
	not mesh.linkerd_injects(setting.value)
	finding := {
		"path": setting.path,
		"problem": concat("", ["opts the pod out of proxy injection: ", k8s.show(setting.value)]),
		"fix": "remove it or set it to \"enabled\": every pod in a meshed namespace runs the proxy",
	}
}

findings contains finding if {
	k8s.pod_spec.hostNetwork == true
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.hostNetwork"]),
		"problem": "the pod shares the node's network, where no mesh injects its proxy: true",
		"fix": "remove hostNetwork, or run the workload in a namespace outside the mesh",
	}
}

# Annotations that change what the proxy's iptables rules capture, and how:
# an exclusion list skips what it names; a capture list (include) skips
# everything it leaves out, so anything narrower than "*".
capture_annotations := {
	"istio": {
		"traffic.sidecar.istio.io/excludeInboundPorts": "exclude",
		"traffic.sidecar.istio.io/excludeOutboundPorts": "exclude",
		"traffic.sidecar.istio.io/excludeOutboundIPRanges": "exclude",
		"traffic.sidecar.istio.io/excludeInterfaces": "exclude",
		"traffic.sidecar.istio.io/kubevirtInterfaces": "exclude",
		"traffic.sidecar.istio.io/includeInboundPorts": "include",
		"traffic.sidecar.istio.io/includeOutboundIPRanges": "include",
	},
	"linkerd": {
		"config.linkerd.io/skip-inbound-ports": "exclude",
		"config.linkerd.io/skip-outbound-ports": "exclude",
		"config.linkerd.io/skip-subnets": "exclude",
	},
}

# The proxy's own ports, which Istio's injector excludes itself under Istio CNI.
istio_own_ports := {"15020", "15021", "15090"}

findings contains finding if {
	some key in bypass_annotations
	value := k8s.pod_annotations[key]
	not granted(key)
	not injector_written(key, value)
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), key),
		"problem": concat("", ["lets traffic bypass the proxy: ", k8s.show(value)]),
		"fix": "remove the annotation, or grant it to this workload in spec.admission.exemptions",
	}
}

# The provider's few capture keys are picked out of the annotations in one
# builtin call, rather than every annotation (status, prometheus, ...)
# checked against them or every key looked up in turn.
bypass_annotations contains key if {
	keys := capture_annotations[mesh.provider]
	some key, value in object.filter(k8s.pod_annotations, keys)
	bypasses(keys[key], value)
}

bypasses("exclude", value) if count(entries(value)) > 0

bypasses("include", value) if trim_space(value) != "*"

entries(value) := {e | some part in split(value, ","); e := trim_space(part); e != ""}

granted(key) if {
	some exemption in mesh.config.exemptions
	exemption.namespace == k8s.namespace
	key in exemption.annotations
	every label, wanted in object.get(exemption, "selector", {}) {
		k8s.pod_labels[label] == wanted
	}
}

# Only a pod that really carries Istio's proxy may exclude the proxy's own ports.
injector_written(key, value) if {
	mesh.provider == "istio"
	key in {"traffic.sidecar.istio.io/excludeInboundPorts", "traffic.sidecar.istio.io/excludeOutboundPorts"}
	every port in entries(value) {
		port in istio_own_ports
	}
	some field in k8s.container_fields
	some container in k8s.pod_spec[field]
	container.name == "istio-proxy"
	mesh.genuine(container)
}

# The container rules below judge application containers: everything but the
# mesh's own, verified containers. One pass finds the containers whose own
# securityContext sets what only the mesh's containers may, and asks only
# those whether they are the mesh's own; the rules below then report each
# setting of each impostor, and on a compliant pod have nothing to look at.
impostors contains [field, i] if {
	some field in k8s.container_fields
	some i, container in k8s.pod_spec[field]
	sets_proxy_only(container.securityContext)
	not mesh.genuine(container)
}

# One body per setting, each reading its own field.
sets_proxy_only(context) if proxy_uids[context.runAsUser]

sets_proxy_only(context) if proxy_group(context.runAsGroup)

sets_proxy_only(context) if {
	some capability in context.capabilities.add
	net_admin_capabilities[upper(capability)]
}

sets_proxy_only(context) if context.privileged == true

# Istio's iptables rules also let the proxy's group through (--gid-owner 1337).
proxy_group(group_id) if {
	mesh.provider == "istio"
	group_id == mesh.proxy_uid.istio
}

findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	user_id := container.securityContext.runAsUser
	proxy_uids[user_id]
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.runAsUser"]),
		"problem": concat("", ["container ", k8s.show(container.name), " runs as the proxy's UID, whose traffic bypasses the proxy: ", format_int(user_id, 10)]),
		"fix": "run the container as any other UID",
	}
}

findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	group_id := container.securityContext.runAsGroup
	proxy_group(group_id)
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.runAsGroup"]),
		"problem": concat("", ["container ", k8s.show(container.name), " runs in the proxy's group, whose traffic bypasses the proxy: ", format_int(group_id, 10)]),
		"fix": "run the container in any other group",
	}
}

findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	some j, capability in container.securityContext.capabilities.add
	net_admin_capabilities[upper(capability)]
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.capabilities.add[", format_int(j, 10), "]"]),
		"problem": concat("", ["container ", k8s.show(container.name), " may rewrite the iptables rules that capture its traffic: ", k8s.show(capability)]),
		"fix": "drop the capability: only the mesh's own containers may hold NET_ADMIN",
	}
}

findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	container.securityContext.privileged == true
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.privileged"]),
		"problem": concat("", ["container ", k8s.show(container.name), " is privileged, which includes NET_ADMIN: true"]),
		"fix": "remove privileged: only the mesh's own containers may hold NET_ADMIN",
	}
}

# A container's own runAsUser/runAsGroup wins over the pod's: the pod's
# counts for the containers without one. These fail at their first line on
# almost every pod.
findings contains finding if {
	user_id := k8s.pod_spec.securityContext.runAsUser
	proxy_uids[user_id]
	some field in k8s.container_fields
	some container in k8s.pod_spec[field]
	not own(container, "runAsUser")
	not mesh.genuine(container)
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.securityContext.runAsUser"]),
		"problem": concat("", ["container ", k8s.show(container.name), " runs as the proxy's UID, whose traffic bypasses the proxy: ", format_int(user_id, 10)]),
		"fix": "run the container as any other UID",
	}
}

findings contains finding if {
	group_id := k8s.pod_spec.securityContext.runAsGroup
	proxy_group(group_id)
	some field in k8s.container_fields
	some container in k8s.pod_spec[field]
	not own(container, "runAsGroup")
	not mesh.genuine(container)
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.securityContext.runAsGroup"]),
		"problem": concat("", ["container ", k8s.show(container.name), " runs in the proxy's group, whose traffic bypasses the proxy: ", format_int(group_id, 10)]),
		"fix": "run the container in any other group",
	}
}

# Set at all, whatever the value: a container's null still overrides the pod's.
own(container, key) if _ = container.securityContext[key]

# Linkerd skips the traffic of whatever UID config.linkerd.io/proxy-uid names,
# so that UID is the proxy's too for this pod.
proxy_uids contains mesh.proxy_uid[mesh.provider]

proxy_uids contains to_number(k8s.pod_annotations["config.linkerd.io/proxy-uid"]) if {
	mesh.provider == "linkerd"
	regex.match(`^[0-9]+$`, trim_space(k8s.pod_annotations["config.linkerd.io/proxy-uid"]))
}

# Turning interception off leaves every port uncaptured; REDIRECT and TPROXY
# are the two modes that capture.
findings contains finding if {
	mesh.provider == "istio"
	value := k8s.pod_annotations["sidecar.istio.io/interceptionMode"]
	not capturing_mode(value)
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "sidecar.istio.io/interceptionMode"),
		"problem": concat("", ["turns off traffic capture, so traffic bypasses the proxy: ", k8s.show(value)]),
		"fix": "remove the annotation or set it to REDIRECT or TPROXY",
	}
}

# is_string first: what a string builtin does with a number differs between
# OPA (an error, so the whole rule is undefined) and rego-cpp (false).
capturing_mode(value) if {
	is_string(value)
	upper(trim_space(value)) in {"REDIRECT", "TPROXY"}
}

net_admin_capabilities := {"NET_ADMIN", "CAP_NET_ADMIN", "ALL"}

# A meshed namespace whose marker does not turn injection on: any value but
# the injecting ones, or none (an UPDATE that strips it). /mutate adds the
# marker before /validate runs, so only a removal or a bypassed mutation
# gets here. Istio injects on istio-injection=enabled, or on istio.io/rev
# when istio-injection is absent.
findings contains finding if {
	k8s.kind == "Namespace"
	mesh.provider == "istio"
	not istio_namespace_injects
	value := object.get(k8s.labels, "istio-injection", null)
	finding := {
		"path": k8s.key_path("metadata.labels", "istio-injection"),
		"problem": concat("", ["disables sidecar injection in a meshed namespace: ", k8s.show(value)]),
		"fix": "set it to \"enabled\", or remove the namespace from spec.namespaces",
	}
}

istio_namespace_injects if k8s.labels["istio-injection"] == "enabled"

istio_namespace_injects if {
	not "istio-injection" in object.keys(k8s.labels)
	k8s.labels["istio.io/rev"] != ""
}

findings contains finding if {
	k8s.kind == "Namespace"
	mesh.provider == "linkerd"
	value := object.get(k8s.annotations, "linkerd.io/inject", null)
	not mesh.linkerd_injects(value)
	finding := {
		"path": k8s.key_path("metadata.annotations", "linkerd.io/inject"),
		"problem": concat("", ["disables proxy injection in a meshed namespace: ", k8s.show(value)]),
		"fix": "set it to \"enabled\", or remove the namespace from spec.namespaces",
	}
}
