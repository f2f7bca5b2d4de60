# METADATA
# title: Linkerd's rules
# description: >-
#   What the policies judge that only Linkerd has: its injection opt-outs
#   and namespace annotation, its proxy-UID override and its default inbound
#   policy. The facts (UIDs, container names, capture annotations) are in the
#   provider profile.
package meshc.providers.linkerd

import data.meshc.lib.k8s
import data.meshc.lib.mesh

# --- injection-required -------------------------------------------------------

# Only these two values inject; "disabled" and anything else do not.
injects(value) if value in {"enabled", "ingress"}

inject_setting := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "linkerd.io/inject"), "value": v} if {
	v := k8s.pod_annotations["linkerd.io/inject"]
}

injection_findings contains finding if {
	setting := inject_setting
	not injects(setting.value)
	finding := {
		"path": setting.path,
		"problem": concat("", ["opts the pod out of proxy injection: ", k8s.show(setting.value)]),
		"fix": "remove it or set it to \"enabled\": every pod in a meshed namespace runs the proxy",
	}
}

injection_findings contains finding if {
	k8s.kind == "Namespace"
	value := object.get(k8s.annotations, "linkerd.io/inject", null)
	not injects(value)
	finding := {
		"path": k8s.key_path("metadata.annotations", "linkerd.io/inject"),
		"problem": concat("", ["disables proxy injection in a meshed namespace: ", k8s.show(value)]),
		"fix": "set it to \"enabled\", or remove the namespace from spec.namespaces",
	}
}

injector_written := set()

# Linkerd skips the traffic of whatever UID config.linkerd.io/proxy-uid names,
# so that UID is the proxy's too for this pod.
extra_proxy_uids contains to_number(value) if {
	value := k8s.pod_annotations["config.linkerd.io/proxy-uid"]
	regex.match(`^[0-9]+$`, trim_space(value))
}

# --- mtls-strict ---------------------------------------------------------------

# A default inbound policy that admits unauthenticated clients.
unauthenticated_policies := {"all-unauthenticated", "cluster-unauthenticated", "audit"}

inbound_policy_key := "config.linkerd.io/default-inbound-policy"

mtls_findings contains finding if {
	k8s.writing
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

# --- allowed-namespaces ----------------------------------------------------------

injection_requests contains setting if {
	setting := inject_setting
	injects(setting.value)
}

allowed_namespaces_findings := set()
