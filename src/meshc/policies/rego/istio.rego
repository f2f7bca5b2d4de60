# METADATA
# title: Istio's rules
# description: >-
#   What the policies judge that only Istio has: its injection opt-outs and
#   namespace label, its capture settings, PeerAuthentication,
#   DestinationRule TLS and AuthorizationPolicy sources. The facts (UIDs,
#   container names, capture annotations) are in the provider profile.
package meshc.providers.istio

import data.meshc.lib.k8s
import data.meshc.lib.mesh

# --- injection-required -------------------------------------------------------

# Istio 1.x before the exact-match change lower-cased the value and injected
# only for y/yes/true/on; anything else was an opt-out there.
injects(value) if lower(value) in {"y", "yes", "true", "on"}

# The pod's injection setting: where it is written and its value, computed
# once per request. The label wins over the deprecated annotation when both are set.
inject_setting := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.labels"]), "sidecar.istio.io/inject"), "value": v} if {
	v := k8s.pod_labels["sidecar.istio.io/inject"]
} else := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "sidecar.istio.io/inject"), "value": v} if {
	v := k8s.pod_annotations["sidecar.istio.io/inject"]
}

injection_findings contains finding if {
	setting := inject_setting
	not injects(setting.value)
	finding := {
		"path": setting.path,
		"problem": concat("", ["opts the pod out of sidecar injection: ", k8s.show(setting.value)]),
		"fix": "remove it or set it to \"true\": every pod in a meshed namespace runs the sidecar",
	}
}

# Turning interception off leaves every port uncaptured; REDIRECT and TPROXY
# are the two modes that capture.
injection_findings contains finding if {
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

# A meshed namespace whose marker does not turn injection on: any value but
# the injecting ones, or none (an UPDATE that strips it). /mutate adds the
# marker before /validate runs, so only a removal or a bypassed mutation
# gets here. Istio injects on istio-injection=enabled, or on istio.io/rev
# when istio-injection is absent.
injection_findings contains finding if {
	k8s.kind == "Namespace"
	not namespace_injects
	value := object.get(k8s.labels, "istio-injection", null)
	finding := {
		"path": k8s.key_path("metadata.labels", "istio-injection"),
		"problem": concat("", ["disables sidecar injection in a meshed namespace: ", k8s.show(value)]),
		"fix": "set it to \"enabled\", or remove the namespace from spec.namespaces",
	}
}

namespace_injects if k8s.labels["istio-injection"] == "enabled"

namespace_injects if {
	not "istio-injection" in object.keys(k8s.labels)
	k8s.labels["istio.io/rev"] != ""
}

# The proxy's own ports, which Istio's injector excludes itself under Istio CNI.
own_ports := {"15020", "15021", "15090"}

# Capture exclusions the injector wrote: only a pod that really carries
# Istio's proxy may exclude the proxy's own ports.
injector_written contains key if {
	some key in {"traffic.sidecar.istio.io/excludeInboundPorts", "traffic.sidecar.istio.io/excludeOutboundPorts"}
	every port in mesh.entries(k8s.pod_annotations[key]) {
		port in own_ports
	}
	some field in k8s.container_fields
	some container in k8s.pod_spec[field]
	container.name == "istio-proxy"
	mesh.genuine(container)
}

extra_proxy_uids := set()

# --- mtls-strict ---------------------------------------------------------------

# A spec that is itself PERMISSIVE (a migration) still never accepts DISABLE.
weaker_modes := {"STRICT": {"PERMISSIVE", "DISABLE"}, "PERMISSIVE": {"DISABLE"}}

peer_authentication if {
	k8s.group == "security.istio.io"
	k8s.kind == "PeerAuthentication"
}

# Anywhere, including the mesh-wide policy in the root namespace.
mtls_findings contains finding if {
	k8s.writing
	peer_authentication
	mode := k8s.resource.spec.mtls.mode
	mode in weaker_modes[mesh.config.mtls]
	finding := {
		"path": "spec.mtls.mode",
		"problem": concat("", ["accepts plaintext traffic where the spec requires mTLS ", mesh.config.mtls, ": ", k8s.show(mode)]),
		"fix": concat("", ["set it to ", k8s.show(mesh.config.mtls), ", or remove it to inherit the mesh-wide mode"]),
	}
}

# A port-level UNSET would inherit, but the spec asks each port to say STRICT.
mtls_findings contains finding if {
	k8s.writing
	peer_authentication
	some port, setting in k8s.resource.spec.portLevelMtls
	mode := object.get(setting, "mode", "UNSET")
	port_weaker(mode)
	finding := {
		"path": concat("", [k8s.key_path("spec.portLevelMtls", port), ".mode"]),
		"problem": concat("", ["port ", port, " does not require mTLS: ", k8s.show(mode)]),
		"fix": concat("", ["set it to ", k8s.show(mesh.config.mtls), ", or remove the port-level setting"]),
	}
}

port_weaker(mode) if {
	mesh.config.mtls == "STRICT"
	mode != "STRICT"
}

port_weaker("DISABLE")

mtls_findings contains finding if {
	k8s.operation == "DELETE"
	peer_authentication
	value := k8s.labels["app.kubernetes.io/managed-by"]
	value == "meshc"
	finding := {
		"path": k8s.key_path("metadata.labels", "app.kubernetes.io/managed-by"),
		"problem": concat("", ["deletes the mTLS policy meshc renders from the spec: ", k8s.show(value)]),
		"fix": "change spec.mtls in the Mesh spec and let meshc render the change",
	}
}

# Every traffic policy of a DestinationRule: top level, per port, per subset.
traffic_policies contains {"path": "spec.trafficPolicy", "policy": k8s.resource.spec.trafficPolicy}

traffic_policies contains {"path": concat("", ["spec.subsets[", format_int(i, 10), "].trafficPolicy"]), "policy": subset.trafficPolicy} if {
	some i, subset in k8s.resource.spec.subsets
}

tls_settings contains {"path": concat("", [tp.path, ".tls.mode"]), "mode": tp.policy.tls.mode} if {
	some tp in traffic_policies
}

tls_settings contains {"path": concat("", [tp.path, ".portLevelSettings[", format_int(i, 10), "].tls.mode"]), "mode": setting.tls.mode} if {
	some tp in traffic_policies
	some i, setting in tp.policy.portLevelSettings
}

mtls_findings contains finding if {
	k8s.writing
	k8s.group == "networking.istio.io"
	k8s.kind == "DestinationRule"
	some setting in tls_settings
	setting.mode == "DISABLE"
	finding := {
		"path": setting.path,
		"problem": concat("", ["sends plaintext to a mesh that requires mTLS: ", k8s.show(setting.mode)]),
		"fix": "remove it or set it to \"ISTIO_MUTUAL\"",
	}
}

# --- allowed-namespaces ----------------------------------------------------------

injection_requests contains setting if {
	setting := inject_setting
	injects(setting.value)
}

allowed_list := concat(", ", sort(mesh.config.allowed_namespaces))

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

allowed_namespaces_findings contains finding if {
	authorization_in_mesh
	some i, rule in k8s.resource.spec.rules
	count(object.get(rule, "from", [])) == 0
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "]"]),
		"problem": "the rule has no from, so it admits callers from every namespace",
		"fix": concat("", ["add from.source.namespaces or principals within the allowed namespaces (", allowed_list, ")"]),
	}
}

allowed_namespaces_findings contains finding if {
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

allowed_namespaces_findings contains finding if {
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

allowed_namespaces_findings contains finding if {
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
