# METADATA
# title: managed-objects
# description: >-
#   The security objects meshc renders change only with the spec: an UPDATE
#   may make one exactly what the spec renders and nothing else, and a DELETE
#   is admitted once the spec no longer renders it.
package meshc.managed_objects

import data.meshc.lib.k8s
import data.meshc.lib.mesh

# METADATA
# custom:
#   cel: {literal: true}
policy_id := "managed-objects"

# METADATA
# custom:
#   cel: {include: $findings}
violations contains mesh.violation(policy_id, finding) if {
	some finding in findings
}

# METADATA
# custom:
#   cel: {literal: true}
managed_label := "app.kubernetes.io/managed-by"

# METADATA
# custom:
#   cel: {literal: true}
mesh_label := "meshc.io/mesh"

# METADATA
# custom:
#   cel: "oldObject != null ? dyn(oldObject).?metadata.?labels.orValue({}) : {}"
old_labels := object.get(input.request.oldObject, ["metadata", "labels"], {})

# An object of a kind the profile protects, rendered by meshc for this mesh,
# as it was before the request.
# METADATA
# custom:
#   cel: >-
#     [$k8s.group, $k8s.kind] in $mesh.profile.protected_kinds
#     && $old_labels[?$managed_label].orValue('') == 'meshc'
#     && $old_labels[?$mesh_label].orValue('') == $mesh.config.mesh_name
managed if {
	[k8s.group, k8s.kind] in mesh.profile.protected_kinds
	old_labels[managed_label] == "meshc"
	old_labels[mesh_label] == mesh.config.mesh_name
}

# METADATA
# custom:
#   cel: $k8s.group + '/' + $k8s.kind + '/' + $k8s.namespace + '/' + $k8s.name
key := concat("/", [k8s.group, k8s.kind, k8s.namespace, k8s.name])

# The namespace controller deletes everything in a namespace being deleted.
# METADATA
# custom:
#   cel: request.userInfo.?username.orValue('') == 'system:serviceaccount:kube-system:namespace-controller'
namespace_controller if input.request.userInfo.username == "system:serviceaccount:kube-system:namespace-controller"

# METADATA
# title: delete-rendered
# custom:
#   cel:
#     if: $k8s.operation == 'DELETE' && $managed && !$namespace_controller
#     for: [[rendered, "@get($mesh.config.protected, $key)"]]
#     path: "'metadata.name'"
#     problem: >-
#       'deletes a security object the spec renders (' + rendered.source + '): ' + $k8s.show($k8s.name)
#     fix: >-
#       'change the Mesh spec and let meshc render the change; an object the spec no longer
#       renders may be deleted'
findings contains finding if {
	k8s.operation == "DELETE"
	managed
	rendered := mesh.config.protected[key]
	not namespace_controller
	finding := {
		"path": "metadata.name",
		"problem": concat("", ["deletes a security object the spec renders (", rendered.source, "): ", k8s.show(k8s.name)]),
		"fix": "change the Mesh spec and let meshc render the change; an object the spec no longer renders may be deleted",
	}
}

# METADATA
# title: marking-label-changed
# custom:
#   cel:
#     if: $k8s.operation == 'UPDATE' && $managed
#     for: [[label, "[$managed_label, $mesh_label]"]]
#     when: $k8s.labels[?label].orValue(null) != $old_labels[label]
#     path: $k8s.key_path('metadata.labels', label)
#     problem: >-
#       'changes a label that marks a security object meshc renders: '
#       + $k8s.show($k8s.labels[?label].orValue(null))
#     fix: "'keep the label; change the Mesh spec and let meshc render the change'"
findings contains finding if {
	k8s.operation == "UPDATE"
	managed
	some label in [managed_label, mesh_label]
	value := object.get(k8s.labels, label, null)
	value != old_labels[label]
	finding := {
		"path": k8s.key_path("metadata.labels", label),
		"problem": concat("", ["changes a label that marks a security object meshc renders: ", k8s.show(value)]),
		"fix": "keep the label; change the Mesh spec and let meshc render the change",
	}
}

# The spec it may have: what the spec renders, or, for an object the spec no
# longer renders (about to be pruned), the spec it had.
# METADATA
# custom:
#   cel: >-
#     $key in $mesh.config.protected ? $mesh.config.protected[$key].spec
#     : (oldObject != null ? dyn(oldObject).?spec.orValue({}) : {})
wanted := spec if {
	spec := mesh.config.protected[key].spec
} else := object.get(input.request.oldObject, "spec", {})

# METADATA
# title: spec-changed
# custom:
#   cel:
#     if: $k8s.operation == 'UPDATE' && $managed
#     for: [[field, "$k8s.resource.?spec.orValue({}).map(_f, _f) + $wanted.map(_f, _f)"]]
#     when: $k8s.resource.?spec.orValue({})[?field].orValue(null) != $wanted[?field].orValue(null)
#     path: "'spec.' + field"
#     problem: >-
#       'changes a security object away from what the spec renders: '
#       + $k8s.show_fields($k8s.resource.?spec.orValue({})[?field].orValue(null))
#     fix: "'change the Mesh spec and let meshc render the change'"
findings contains finding if {
	k8s.operation == "UPDATE"
	managed
	spec := object.get(k8s.resource, "spec", {})
	some field, _ in object.union(spec, wanted)
	value := object.get(spec, field, null)
	value != object.get(wanted, field, null)
	finding := {
		"path": concat("", ["spec.", field]),
		"problem": concat("", ["changes a security object away from what the spec renders: ", k8s.show_fields(value)]),
		"fix": "change the Mesh spec and let meshc render the change",
	}
}
