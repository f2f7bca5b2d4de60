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

# An UPDATE of an object that is being deleted (a finalizer removed, say) is
# never blocked: blocking it would leave the object stuck in deletion.
deleting if {
	operation == "UPDATE"
	object.get(input.request.object, ["metadata", "deletionTimestamp"], null) != null
}

group := input.request.kind.group

metadata := object.get(resource, "metadata", {})

# A pod a controller creates may reach admission with only its generateName
# (kubernetes/kubernetes#76680): that prefix is the best name a message has.
name := n if {
	n := metadata.name
	n != ""
} else := n if {
	n := input.request.name
	n != ""
} else := object.get(metadata, "generateName", "")

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
# and spec, each one rule computed once per request. Objects without a pod
# leave them undefined, so every rule about pods falls out at its first line.
# Plain references, never a set or object built around the spec: rego-cpp
# copies (and serialises, to compare) whatever goes into a collection.
pod_prefix := template_prefixes[concat("/", [group, kind])]

pod_template := resource if {
	pod_prefix == ""
} else := resource.spec.template if {
	pod_prefix == "spec.template."
} else := resource.spec.jobTemplate.spec.template if {
	pod_prefix == "spec.jobTemplate.spec.template."
}

pod_metadata := object.get(pod_template, "metadata", {})

# A pod without a spec has nothing to judge: undefined, like an object without a pod.
pod_spec := pod_template.spec

pod_labels := object.get(pod_metadata, "labels", {})

pod_annotations := object.get(pod_metadata, "annotations", {})

# The fields holding the pod's containers; init and ephemeral containers run
# in the same network namespace, so they count too. Iterate them as
#   some field in k8s.container_fields
#   some i, container in object.get(k8s.pod_spec, field, [])
container_fields := ["initContainers", "containers", "ephemeralContainers"]

# The field path of a container, built only for the ones reported.
container_path(field, i) := concat("", [pod_prefix, "spec.", field, "[", format_int(i, 10), "]"])

# A value as the message shows it: strings quoted, other scalars as JSON,
# integers past int32 and collections by their type (OPA's Wasm format_int
# aborts past int32). Messages are built with concat, never sprintf
# (rego-cpp's sprintf mis-encodes arguments that contain quotes), and never
# with json.marshal or yaml.marshal, whose output differs between engines
# (key order, number spelling): every engine must give the same message.
show(value) := concat("", ["\"", value, "\""]) if {
	is_string(value)
} else := "null" if {
	is_null(value)
} else := "true" if {
	value == true
} else := "false" if {
	value == false
} else := format_int(value, 10) if {
	is_number(value)
	abs(value) < 2147483648
	value == round(value)
} else := {"number": "a number", "array": "an array", "object": "an object", "set": "a set"}[type_name(value)]

# The fields an object sets, for a message: {ipBlocks, notPorts}.
show_fields(value) := concat("", ["{", concat(", ", sort(object.keys(value))), "}"]) if {
	is_object(value)
} else := show(value)

# A field path segment for a map key that may contain dots or slashes.
key_path(prefix, key) := concat("", [prefix, "[\"", key, "\"]"])
