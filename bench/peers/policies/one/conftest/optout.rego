# The injection opt-out on workload templates, for conftest (OPA, Rego v1):
# the port of meshc's Istio opt-out rule (src/meshc/policies/rego/istio.rego,
# inject_setting). The label wins over the deprecated annotation; only a
# value whose lower case is y/yes/true/on injects.
package main

meshed := {"mesh-demo"}

template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

template := input.spec.template if {
	input.kind in template_kinds
} else := input.spec.jobTemplate.spec.template if {
	input.kind == "CronJob"
}

setting := {"where": "labels", "value": v} if {
	v := template.metadata.labels["sidecar.istio.io/inject"]
} else := {"where": "annotations", "value": v} if {
	v := template.metadata.annotations["sidecar.istio.io/inject"]
}

deny contains msg if {
	object.get(input.metadata, "namespace", "default") in meshed
	not lower(setting.value) in {"y", "yes", "true", "on"}
	msg := sprintf("opt-out: %s %s/%s: pod template %s[\"sidecar.istio.io/inject\"] opts out of sidecar injection: %q", [input.kind, input.metadata.namespace, input.metadata.name, setting.where, setting.value])
}
