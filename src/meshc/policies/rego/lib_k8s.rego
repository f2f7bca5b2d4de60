# METADATA
# title: The object under admission review
# description: >-
#   Identity, namespace and pod template of the object in an AdmissionReview
#   request, whatever its kind, so that each policy reads one shape.
package meshc.lib.k8s

# METADATA
# custom:
#   cel: request.operation
operation := input.request.operation

# Rules about what an object looks like judge writes only: deleting a bad
# object must never be blocked by the rule it breaks.
# METADATA
# custom:
#   cel: request.operation == 'CREATE' || request.operation == 'UPDATE'
writing if operation in {"CREATE", "UPDATE"}

# A DELETE request carries the object only in oldObject.
# METADATA
# description: >-
#   The generator gives this variable's twin, for the object before an UPDATE
#   through a subresource, dyn(oldObject).
# custom:
#   cel: "dyn(request.operation == 'DELETE' ? oldObject : object)"
resource := input.request.oldObject if operation == "DELETE"

else := input.request.object

# METADATA
# custom:
#   cel: request.kind.kind
kind := input.request.kind.kind

# An UPDATE of an object that is being deleted (a finalizer removed, say) is
# never blocked: blocking it would leave the object stuck in deletion.
# METADATA
# custom:
#   cel: >-
#     request.operation == 'UPDATE' && object != null
#     && dyn(object).?metadata.?deletionTimestamp.orValue(null) != null
deleting if {
	operation == "UPDATE"
	object.get(input.request.object, ["metadata", "deletionTimestamp"], null) != null
}

# METADATA
# custom:
#   cel: request.kind.group
group := input.request.kind.group

# METADATA
# custom:
#   cel: "$resource.?metadata.orValue({})"
metadata := object.get(resource, "metadata", {})

# A pod a controller creates may reach admission with only its generateName
# (kubernetes/kubernetes#76680): that prefix is the best name a message has.
# METADATA
# custom:
#   cel: >-
#     $metadata.?name.orValue('') != '' ? $metadata.name
#     : (request.?name.orValue('') != '' ? request.name : $metadata.?generateName.orValue(''))
name := n if {
	n := metadata.name
	n != ""
} else := n if {
	n := input.request.name
	n != ""
} else := object.get(metadata, "generateName", "")

# METADATA
# custom:
#   cel: >-
#     request.?namespace.orValue('') != '' ? request.namespace
#     : $metadata.?namespace.orValue('')
namespace := object.get(input.request, "namespace", object.get(metadata, "namespace", ""))

# The namespace a rule is about: a Namespace object speaks for itself.
# METADATA
# custom:
#   cel: "$kind == 'Namespace' ? $name : $namespace"
subject_namespace := name if kind == "Namespace"

else := namespace

# METADATA
# custom:
#   cel: "$metadata.?labels.orValue({})"
labels := object.get(metadata, "labels", {})

# METADATA
# custom:
#   cel: "$metadata.?annotations.orValue({})"
annotations := object.get(metadata, "annotations", {})

# Where each workload kind keeps the pod it creates.
# METADATA
# custom:
#   cel: {literal: true}
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
# METADATA
# description: null for an object without a pod (Rego leaves it undefined).
# custom:
#   cel: "dyn(dyn($template_prefixes)[?($group + '/' + $kind)].orValue(null))"
pod_prefix := template_prefixes[concat("/", [group, kind])]

# METADATA
# description: null for an object without a pod or pod template.
# custom:
#   cel: >-
#     $pod_prefix == '' ? $resource
#     : ($pod_prefix == 'spec.template.' ? $resource.?spec.?template.orValue(null)
#     : ($pod_prefix == 'spec.jobTemplate.spec.template.'
#     ? $resource.?spec.?jobTemplate.?spec.?template.orValue(null) : null))
pod_template := resource if {
	pod_prefix == ""
} else := resource.spec.template if {
	pod_prefix == "spec.template."
} else := resource.spec.jobTemplate.spec.template if {
	pod_prefix == "spec.jobTemplate.spec.template."
}

# METADATA
# custom:
#   cel: "$pod_template != null ? $pod_template.?metadata.orValue({}) : {}"
pod_metadata := object.get(pod_template, "metadata", {})

# A pod without a spec has nothing to judge: undefined, like an object without a pod.
# METADATA
# description: null for an object without a pod spec.
# custom:
#   cel: "$pod_template != null ? $pod_template.?spec.orValue(null) : null"
pod_spec := pod_template.spec

# METADATA
# custom:
#   cel: "$pod_metadata.?labels.orValue({})"
pod_labels := object.get(pod_metadata, "labels", {})

# METADATA
# custom:
#   cel: "$pod_metadata.?annotations.orValue({})"
pod_annotations := object.get(pod_metadata, "annotations", {})

# The fields holding the pod's containers; init and ephemeral containers run
# in the same network namespace, so they count too. Iterate them as
#   some field in k8s.container_fields
#   some i, container in object.get(k8s.pod_spec, field, [])
# METADATA
# custom:
#   cel: {literal: true}
container_fields := ["initContainers", "containers", "ephemeralContainers"]

# The field path of a container, built only for the ones reported.
# METADATA
# custom:
#   cel: "$pod_prefix + 'spec.' + field + '[' + string(i) + ']'"
container_path(field, i) := concat("", [pod_prefix, "spec.", field, "[", format_int(i, 10), "]"])

# A value as the message shows it: strings quoted, other scalars as JSON,
# integers past int32 and collections by their type (OPA's Wasm format_int
# aborts past int32). Messages are built with concat, never sprintf
# (rego-cpp's sprintf mis-encodes arguments that contain quotes), and never
# with json.marshal or yaml.marshal, whose output differs between engines
# (key order, number spelling): every engine must give the same message.
# METADATA
# custom:
#   cel: >-
#     [dyn(value)].map(_v, type(_v) == string ? '"' + _v + '"'
#     : (_v == null ? 'null'
#     : (type(_v) == bool ? (_v ? 'true' : 'false')
#     : ((type(_v) == int && _v > -2147483648 && _v < 2147483648) ? string(_v)
#     : ((type(_v) == uint && _v < 2147483648u) ? string(_v)
#     : ((type(_v) == double && _v > -2147483648.0 && _v < 2147483648.0
#     && double(int(_v)) == _v) ? string(int(_v))
#     : (type(_v) == list ? 'an array' : (type(_v) == map ? 'an object' : 'a number'))))))))[0]
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
# METADATA
# description: >-
#   The keys are sorted by rank (how many keys are less than each), as CEL
#   before Kubernetes 1.35 has no sort.
# custom:
#   cel: >-
#     [dyn(value)].map(_v, type(_v) == map
#     ? '{' + [_v.map(_k, _k)].map(_ks, _ks.transformList(_p, _unused,
#     _ks.filter(_k, _ks.filter(_x, _x < _k).size() == _p)[0]))[0].join(', ') + '}'
#     : $show(_v))[0]
show_fields(value) := concat("", ["{", concat(", ", sort(object.keys(value))), "}"]) if {
	is_object(value)
} else := show(value)

# A field path segment for a map key that may contain dots or slashes.
# METADATA
# custom:
#   cel: "prefix + '[\"' + key + '\"]'"
key_path(prefix, key) := concat("", [prefix, "[\"", key, "\"]"])
