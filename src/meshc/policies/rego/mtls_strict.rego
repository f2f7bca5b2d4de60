# METADATA
# title: mtls-strict
# description: >-
#   Nothing weakens the mutual TLS the spec asks for: no permissive or
#   disabled peer authentication, no plaintext destination rules, and no
#   unauthenticated default inbound policy.
package meshc.mtls_strict

import data.meshc.lib.k8s
import data.meshc.lib.mesh

policy_id := "mtls-strict"

violations contains mesh.violation(policy_id, finding) if {
	some finding in findings
}

# A spec that is itself PERMISSIVE (a migration) still never accepts DISABLE.
weaker_modes := {"STRICT": {"PERMISSIVE", "DISABLE"}, "PERMISSIVE": {"DISABLE"}}

peer_authentication if {
	k8s.group == "security.istio.io"
	k8s.kind == "PeerAuthentication"
}

# Anywhere, including the mesh-wide policy in the root namespace.
findings contains finding if {
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
findings contains finding if {
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

findings contains finding if {
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

findings contains finding if {
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

# Linkerd: a default inbound policy that admits unauthenticated clients.
unauthenticated_policies := {"all-unauthenticated", "cluster-unauthenticated", "audit"}

inbound_policy_key := "config.linkerd.io/default-inbound-policy"

findings contains finding if {
	k8s.writing
	mesh.provider == "linkerd"
	mesh.meshed(k8s.subject_namespace)
	some scope in inbound_policy_scopes
	value := scope.annotations[inbound_policy_key]
	value in unauthenticated_policies
	finding := {
		"path": k8s.key_path(scope.path, inbound_policy_key),
		"problem": concat("", ["admits clients without mTLS identity: ", k8s.show(value)]),
		"fix": "remove it or set it to \"all-authenticated\" or \"cluster-authenticated\"",
	}
}

inbound_policy_scopes contains {"path": "metadata.annotations", "annotations": k8s.annotations} if {
	k8s.kind == "Namespace"
}

inbound_policy_scopes contains {"path": concat("", [k8s.pod_prefix, "metadata.annotations"]), "annotations": k8s.pod_annotations}
