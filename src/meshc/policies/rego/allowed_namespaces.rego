# METADATA
# title: allowed-namespaces
# description: >-
#   The mesh stays where the spec puts it: mesh configuration and injected
#   workloads only in allowed namespaces, and ALLOW authorization only for
#   callers from them.
package meshc.allowed_namespaces

import data.meshc.lib.k8s
import data.meshc.lib.mesh

policy_id := "allowed-namespaces"

violations contains mesh.violation(policy_id, finding) if {
	some finding in findings
}

mesh_config_groups := {"networking.istio.io", "security.istio.io", "policy.linkerd.io", "split.smi-spec.io"}

route_kinds := {"HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute"}

mesh_config if k8s.group in mesh_config_groups

mesh_config if {
	k8s.group == "linkerd.io"
	k8s.kind == "ServiceProfile"
}

mesh_config if {
	k8s.group == "gateway.networking.k8s.io"
	k8s.kind in route_kinds
}

allowed_list := concat(", ", sort(mesh.config.allowed_namespaces))

findings contains finding if {
	k8s.operation == "CREATE"
	mesh_config
	not mesh.permitted(k8s.namespace)
	finding := {
		"path": "metadata.namespace",
		"problem": concat("", ["mesh configuration outside the allowed namespaces: ", k8s.show(k8s.namespace)]),
		"fix": concat("", ["create it in an allowed namespace (", allowed_list, ") or add the namespace to spec.admission.allowedNamespaces"]),
	}
}

# A workload that asks for injection outside the allowed namespaces.
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
	mesh.provider == "istio"
	setting := mesh.istio_inject_setting
	mesh.istio_injects(setting.value)
}

injection_requests contains setting if {
	mesh.provider == "linkerd"
	setting := mesh.linkerd_inject_setting
	mesh.linkerd_injects(setting.value)
}

# ALLOW authorization in the mesh (its namespaces, or mesh-wide from the root
# namespace) may only admit callers from the allowed namespaces.
authorization_in_mesh if {
	k8s.writing
	k8s.group == "security.istio.io"
	k8s.kind == "AuthorizationPolicy"
	object.get(k8s.resource.spec, "action", "ALLOW") == "ALLOW"
	in_mesh(k8s.namespace)
}

in_mesh(ns) if ns in mesh.config.meshed_namespaces

in_mesh("istio-system")

findings contains finding if {
	authorization_in_mesh
	some i, rule in k8s.resource.spec.rules
	count(object.get(rule, "from", [])) == 0
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "]"]),
		"problem": "the rule has no from, so it admits callers from every namespace",
		"fix": concat("", ["add from.source.namespaces or principals within the allowed namespaces (", allowed_list, ")"]),
	}
}

findings contains finding if {
	authorization_in_mesh
	some i, rule in k8s.resource.spec.rules
	some j, from in rule.from
	source := object.get(from, "source", {})
	count(object.get(source, "namespaces", [])) + count(object.get(source, "principals", [])) == 0
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "].from[", format_int(j, 10), "].source"]),
		"problem": concat("", ["the source names no namespace or principal, so it admits callers from every namespace: ", k8s.show_fields(source)]),
		"fix": concat("", ["add namespaces or principals within the allowed namespaces (", allowed_list, ")"]),
	}
}

findings contains finding if {
	authorization_in_mesh
	some i, rule in k8s.resource.spec.rules
	some j, from in rule.from
	some k, ns in from.source.namespaces
	not ns in mesh.config.allowed_namespaces
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "].from[", format_int(j, 10), "].source.namespaces[", format_int(k, 10), "]"]),
		"problem": concat("", ["admits callers outside the allowed namespaces: ", k8s.show(ns)]),
		"fix": concat("", ["name only allowed namespaces (", allowed_list, ")"]),
	}
}

findings contains finding if {
	authorization_in_mesh
	some i, rule in k8s.resource.spec.rules
	some j, from in rule.from
	some k, principal in from.source.principals
	not principal_allowed(principal)
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "].from[", format_int(j, 10), "].source.principals[", format_int(k, 10), "]"]),
		"problem": concat("", ["admits callers outside the allowed namespaces: ", k8s.show(principal)]),
		"fix": concat("", ["use <trust-domain>/ns/<namespace>/sa/<account> with an allowed namespace (", allowed_list, ")"]),
	}
}

# <trust-domain>/ns/<namespace>/sa/<service-account>; a wildcard or any other
# shape leaves the namespace open.
principal_allowed(principal) if {
	parts := split(principal, "/")
	count(parts) >= 3
	parts[1] == "ns"
	parts[2] in mesh.config.allowed_namespaces
}
