# METADATA
# title: allowed-namespaces
# description: >-
#   The mesh stays where the spec puts it: mesh configuration and injected
#   workloads only in allowed namespaces, and ALLOW authorization only for
#   callers from them.
package meshc.allowed_namespaces

import data.meshc.lib.k8s
import data.meshc.lib.mesh

# METADATA
# custom:
#   cel: {literal: true}
policy_id := "allowed-namespaces"

# METADATA
# custom:
#   cel: {include: $findings}
violations contains mesh.violation(policy_id, finding) if {
	some finding in findings
}

# Mesh configuration of every mesh the profiles know: whole API groups, and
# single kinds in groups shared with others (Gateway API routes).
# METADATA
# custom:
#   cel: >-
#     $k8s.group in $mesh.config.mesh_config.groups
#     || [$k8s.group, $k8s.kind] in $mesh.config.mesh_config.kinds
mesh_config if k8s.group in mesh.config.mesh_config.groups

mesh_config if [k8s.group, k8s.kind] in mesh.config.mesh_config.kinds

# METADATA
# custom:
#   cel: $mesh.config.allowed_namespaces.join(', ')
allowed_list := concat(", ", sort(mesh.config.allowed_namespaces))

# CREATE and UPDATE: an object that predates the webhook is retargeted by an
# UPDATE as much as by a new one (an object being deleted is never blocked).
# METADATA
# title: mesh-configuration-elsewhere
# custom:
#   cel:
#     when: $k8s.writing && $mesh_config && !$mesh.permitted($k8s.namespace)
#     path: "'metadata.namespace'"
#     problem: "'mesh configuration outside the allowed namespaces: ' + $k8s.show($k8s.namespace)"
#     fix: >-
#       'create it in an allowed namespace (' + $allowed_list + ') or add the namespace to
#       spec.admission.allowedNamespaces'
findings contains finding if {
	k8s.writing
	mesh_config
	not mesh.permitted(k8s.namespace)
	finding := {
		"path": "metadata.namespace",
		"problem": concat("", ["mesh configuration outside the allowed namespaces: ", k8s.show(k8s.namespace)]),
		"fix": concat("", ["create it in an allowed namespace (", allowed_list, ") or add the namespace to spec.admission.allowedNamespaces"]),
	}
}

# A workload that asks for injection outside the allowed namespaces.
# METADATA
# title: injection-requested-elsewhere
# custom:
#   cel:
#     if: $k8s.writing && !$mesh.permitted($k8s.namespace)
#     for: [[setting, $provider.injection_requests]]
#     path: setting.path
#     problem: >-
#       'asks for proxy injection outside the allowed namespaces: ' + $k8s.show(setting.value)
#     fix: >-
#       'remove it, or add ' + $k8s.show($k8s.namespace) + ' to spec.admission.allowedNamespaces'
findings contains finding if {
	k8s.writing
	not mesh.permitted(k8s.namespace)
	some setting in injection_requests
	finding := {
		"path": setting.path,
		"problem": concat("", ["asks for proxy injection outside the allowed namespaces: ", k8s.show(setting.value)]),
		"fix": concat("", ["remove it, or add ", k8s.show(k8s.namespace), " to spec.admission.allowedNamespaces"]),
	}
}

injection_requests contains setting if {
	some setting in data.meshc.providers[mesh.provider].injection_requests
}

# Each mesh's authorization objects admit callers only from the allowed
# namespaces (meshc.providers.<name>).
# METADATA
# custom:
#   cel: {include: $provider.allowed_namespaces_findings}
findings contains finding if {
	some finding in data.meshc.providers[mesh.provider].allowed_namespaces_findings
}
