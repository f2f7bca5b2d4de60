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
	setting := mesh.istio_inject_setting(k8s.pod.metadata, k8s.pod.prefix)
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
	setting := mesh.linkerd_inject_setting(k8s.pod.metadata, k8s.pod.prefix)
	not mesh.linkerd_injects(setting.value)
	finding := {
		"path": setting.path,
		"problem": concat("", ["opts the pod out of proxy injection: ", k8s.show(setting.value)]),
		"fix": "remove it or set it to \"enabled\": every pod in a meshed namespace runs the proxy",
	}
}

findings contains finding if {
	k8s.pod.spec.hostNetwork == true
	finding := {
		"path": concat("", [k8s.pod.prefix, "spec.hostNetwork"]),
		"problem": "the pod shares the node's network, where no mesh injects its proxy: true",
		"fix": "remove hostNetwork, or run the workload in a namespace outside the mesh",
	}
}

# Annotations that make the proxy's iptables rules skip some traffic.
exclude_annotations := {
	"istio": {
		"traffic.sidecar.istio.io/excludeInboundPorts",
		"traffic.sidecar.istio.io/excludeOutboundPorts",
		"traffic.sidecar.istio.io/excludeOutboundIPRanges",
		"traffic.sidecar.istio.io/excludeInterfaces",
		"traffic.sidecar.istio.io/kubevirtInterfaces",
	},
	"linkerd": {
		"config.linkerd.io/skip-inbound-ports",
		"config.linkerd.io/skip-outbound-ports",
		"config.linkerd.io/skip-subnets",
	},
}

# Capture lists: anything narrower than "*" leaves the rest uncaptured.
include_annotations := {
	"istio": {
		"traffic.sidecar.istio.io/includeInboundPorts",
		"traffic.sidecar.istio.io/includeOutboundIPRanges",
	},
	"linkerd": set(),
}

# The proxy's own ports, which Istio's injector excludes itself under Istio CNI.
istio_own_ports := {"15020", "15021", "15090"}

findings contains finding if {
	some key, value in k8s.pod_annotations
	bypasses(key, value)
	not granted(key)
	not injector_written(key, value)
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod.prefix, "metadata.annotations"]), key),
		"problem": concat("", ["lets traffic bypass the proxy: ", k8s.show(value)]),
		"fix": "remove the annotation, or grant it to this workload in spec.admission.exemptions",
	}
}

bypasses(key, value) if {
	key in exclude_annotations[mesh.provider]
	count(entries(value)) > 0
}

bypasses(key, value) if {
	key in include_annotations[mesh.provider]
	trim_space(value) != "*"
}

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
	some entry in k8s.containers
	entry.container.name == "istio-proxy"
	mesh.genuine(entry.container)
}

# Application containers: everything but the mesh's own, verified containers.
app_containers contains entry if {
	some entry in k8s.containers
	not mesh.genuine(entry.container)
}

findings contains finding if {
	some entry in app_containers
	uid := run_as_user(entry)
	uid.value == mesh.proxy_uid[mesh.provider]
	finding := {
		"path": uid.path,
		"problem": concat("", ["container ", k8s.show(entry.container.name), " runs as the proxy's UID, whose traffic bypasses the proxy: ", format_int(uid.value, 10)]),
		"fix": "run the container as any other UID",
	}
}

# The container's own runAsUser wins over the pod's.
run_as_user(entry) := {"path": concat("", [k8s.container_path(entry), ".securityContext.runAsUser"]), "value": uid} if {
	uid := entry.container.securityContext.runAsUser
} else := {"path": concat("", [k8s.pod.prefix, "spec.securityContext.runAsUser"]), "value": uid} if {
	uid := k8s.pod.spec.securityContext.runAsUser
}

findings contains finding if {
	some entry in app_containers
	some i, capability in entry.container.securityContext.capabilities.add
	upper(capability) in {"NET_ADMIN", "CAP_NET_ADMIN", "ALL"}
	finding := {
		"path": concat("", [k8s.container_path(entry), ".securityContext.capabilities.add[", format_int(i, 10), "]"]),
		"problem": concat("", ["container ", k8s.show(entry.container.name), " may rewrite the iptables rules that capture its traffic: ", k8s.show(capability)]),
		"fix": "drop the capability: only the mesh's own containers may hold NET_ADMIN",
	}
}

findings contains finding if {
	some entry in app_containers
	entry.container.securityContext.privileged == true
	finding := {
		"path": concat("", [k8s.container_path(entry), ".securityContext.privileged"]),
		"problem": concat("", ["container ", k8s.show(entry.container.name), " is privileged, which includes NET_ADMIN: true"]),
		"fix": "remove privileged: only the mesh's own containers may hold NET_ADMIN",
	}
}

# A meshed namespace that turns injection off.
findings contains finding if {
	k8s.kind == "Namespace"
	mesh.provider == "istio"
	value := k8s.labels["istio-injection"]
	value == "disabled"
	finding := {
		"path": k8s.key_path("metadata.labels", "istio-injection"),
		"problem": concat("", ["disables sidecar injection in a meshed namespace: ", k8s.show(value)]),
		"fix": "set it to \"enabled\", or remove the namespace from spec.namespaces",
	}
}

findings contains finding if {
	k8s.kind == "Namespace"
	mesh.provider == "linkerd"
	value := k8s.annotations["linkerd.io/inject"]
	value == "disabled"
	finding := {
		"path": k8s.key_path("metadata.annotations", "linkerd.io/inject"),
		"problem": concat("", ["disables proxy injection in a meshed namespace: ", k8s.show(value)]),
		"fix": "set it to \"enabled\", or remove the namespace from spec.namespaces",
	}
}
