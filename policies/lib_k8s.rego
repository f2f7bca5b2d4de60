# METADATA
# title: The object under admission review
# description: >-
#   Identity, namespace and pod template of the object in an AdmissionReview
#   request, whatever its kind, so that each policy reads one shape.
package meshc.lib.k8s

operation := input.request.operation

# Rules about what an object looks like judge writes only: deleting a bad
# object must never be blocked by the rule it breaks.
writing if operation in {"CREATE", "UPDATE"}

# A DELETE request carries the object only in oldObject.
resource := input.request.oldObject if operation == "DELETE"

else := input.request.object

kind := input.request.kind.kind

group := input.request.kind.group

metadata := object.get(resource, "metadata", {})

name := object.get(metadata, "name", object.get(input.request, "name", ""))

namespace := object.get(input.request, "namespace", object.get(metadata, "namespace", ""))

# The namespace a rule is about: a Namespace object speaks for itself.
subject_namespace := name if kind == "Namespace"

else := namespace

labels := object.get(metadata, "labels", {})

annotations := object.get(metadata, "annotations", {})

# Where each workload kind keeps the pod it creates.
template_prefixes := {
	"/Pod": "",
	"/ReplicationController": "spec.template.",
	"apps/Deployment": "spec.template.",
	"apps/StatefulSet": "spec.template.",
	"apps/DaemonSet": "spec.template.",
	"apps/ReplicaSet": "spec.template.",
	"batch/Job": "spec.template.",
	"batch/CronJob": "spec.jobTemplate.spec.template.",
}

# The pod (or pod template) of the object: its field-path prefix, metadata
# and spec. Direct references, not object.get with a path: rego-cpp copies
# less and this runs on every request.
pod := {"prefix": prefix, "metadata": object.get(template, "metadata", {}), "spec": object.get(template, "spec", {})} if {
	prefix := template_prefixes[concat("/", [group, kind])]
	template := pod_template(prefix)
}

pod_template(prefix) := resource if prefix == ""

pod_template(prefix) := resource.spec.template if prefix == "spec.template."

pod_template(prefix) := resource.spec.jobTemplate.spec.template if prefix == "spec.jobTemplate.spec.template."

pod_labels := object.get(pod.metadata, "labels", {})

pod_annotations := object.get(pod.metadata, "annotations", {})

# Every container of the pod with its field path; init and ephemeral
# containers run in the same network namespace, so they count too.
containers contains {"field": field, "index": i, "container": c} if {
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some i, c in object.get(pod.spec, field, [])
}

# The field path of a container entry, built only for the ones reported.
container_path(entry) := concat("", [pod.prefix, "spec.", entry.field, "[", format_int(entry.index, 10), "]"])

# A value as the message shows it: strings quoted, anything else as JSON.
# Messages are built with concat, never sprintf: rego-cpp's sprintf
# mis-encodes arguments that contain quotes, and both engines must agree.
show(value) := concat("", ["\"", value, "\""]) if is_string(value)

else := json.marshal(value)

# A field path segment for a map key that may contain dots or slashes.
key_path(prefix, key) := concat("", [prefix, "[\"", key, "\"]"])
