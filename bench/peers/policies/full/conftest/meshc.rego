# meshc's workload rules for an Istio mesh, for conftest (OPA, Rego v1): the
# ports of the rules bench/peers/README.md lists, judged on workload pod
# templates in the meshed namespace. Facts from src/meshc/providers/istio.py
# (proxy UID/GID 1337, mesh containers and their images, capture annotations).
package main

meshed := {"mesh-demo"}

template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

template := input.spec.template if {
	input.kind in template_kinds
} else := input.spec.jobTemplate.spec.template if {
	input.kind == "CronJob"
}

labels := object.get(template, ["metadata", "labels"], {})

annotations := object.get(template, ["metadata", "annotations"], {})

pod := object.get(template, "spec", {})

containers := array.concat(object.get(pod, "containers", []), object.get(pod, "initContainers", []))

proxy_uid := 1337

mesh_containers := {"istio-proxy", "istio-init", "istio-validation"}

proxy_images := ["docker.io/istio/proxyv2", "gcr.io/istio-release/proxyv2", "istio/proxyv2"]

# The mesh's own containers: a mesh container name and a genuine image.
genuine(c) if {
	c.name in mesh_containers
	some prefix in proxy_images
	startswith(c.image, prefix)
}

app_containers contains c if {
	some c in containers
	not genuine(c)
}

capture_annotations := {
	"traffic.sidecar.istio.io/excludeInboundPorts": "exclude",
	"traffic.sidecar.istio.io/excludeOutboundPorts": "exclude",
	"traffic.sidecar.istio.io/excludeOutboundIPRanges": "exclude",
	"traffic.sidecar.istio.io/excludeInterfaces": "exclude",
	"traffic.sidecar.istio.io/kubevirtInterfaces": "exclude",
	"traffic.sidecar.istio.io/includeInboundPorts": "include",
	"traffic.sidecar.istio.io/includeOutboundIPRanges": "include",
}

bypasses("exclude", value) if {
	some entry in split(value, ",")
	trim_space(entry) != ""
}

bypasses("include", value) if trim_space(value) != "*"

capability(name) := trim_prefix(upper(name), "CAP_")

added(c) := {capability(n) | some n in object.get(c, ["securityContext", "capabilities", "add"], [])}

setting := {"where": "labels", "value": v} if {
	v := labels["sidecar.istio.io/inject"]
} else := {"where": "annotations", "value": v} if {
	v := annotations["sidecar.istio.io/inject"]
}

found contains ["opt-out", sprintf("pod template %s[\"sidecar.istio.io/inject\"] opts out of sidecar injection: %q", [setting.where, setting.value])] if {
	not lower(setting.value) in {"y", "yes", "true", "on"}
}

found contains ["interception-mode", "the pod's traffic is not captured: interceptionMode NONE"] if {
	upper(annotations["sidecar.istio.io/interceptionMode"]) == "NONE"
}

found contains ["host-network", "the pod shares the node's network"] if pod.hostNetwork == true

found contains ["capture-annotation", sprintf("%s lets traffic bypass the proxy: %q", [key, value])] if {
	some key, value in annotations
	bypasses(capture_annotations[key], value)
}

found contains ["proxy-uid", sprintf("container %s runs as the proxy's UID", [c.name])] if {
	some c in app_containers
	c.securityContext.runAsUser == proxy_uid
}

found contains ["proxy-gid", sprintf("container %s runs as the proxy's GID", [c.name])] if {
	some c in app_containers
	c.securityContext.runAsGroup == proxy_uid
}

found contains ["pod-proxy-uid", sprintf("container %s inherits the proxy's UID from the pod", [c.name])] if {
	pod.securityContext.runAsUser == proxy_uid
	some c in app_containers
	not "runAsUser" in object.keys(object.get(c, "securityContext", {}))
}

found contains ["net-capability", sprintf("container %s may rewrite the pod's traffic rules", [c.name])] if {
	some c in app_containers
	some cap in {"NET_ADMIN", "NET_RAW"}
	cap in added(c)
}

found contains ["privileged", sprintf("container %s is privileged", [c.name])] if {
	some c in app_containers
	c.securityContext.privileged == true
}

found contains ["mesh-container-image", sprintf("container %s is not the mesh's image: %q", [c.name, c.image])] if {
	some c in app_containers
	c.name in mesh_containers
}

found contains ["host-pid-capability", sprintf("container %s may enter the proxy from the node's PID namespace", [c.name])] if {
	pod.hostPID == true
	some c in app_containers
	some cap in {"SYS_PTRACE", "SYS_ADMIN"}
	cap in added(c)
}

found contains ["tls-mode", sprintf("the tlsMode label says the pod has no proxy: %q", [labels["security.istio.io/tlsMode"]])] if {
	labels["security.istio.io/tlsMode"] != "istio"
}

deny contains msg if {
	object.get(input.metadata, "namespace", "default") in meshed
	some [rule, why] in found
	msg := sprintf("%s: %s %s/%s: %s", [rule, input.kind, input.metadata.namespace, input.metadata.name, why])
}
