# METADATA
# title: injection-required
# description: >-
#   Every pod in a meshed namespace runs the mesh's proxy, and nothing in it
#   can route traffic around that proxy.
package meshc.injection_required

import data.meshc.lib.k8s
import data.meshc.lib.mesh

policy_id := "injection-required"

violations contains mesh.violation(policy_id, finding) if {
	k8s.writing
	mesh.meshed(k8s.subject_namespace)
	some finding in findings
}

# What only the spec's mesh knows: its opt-outs, its markers, its own
# settings that switch capture off (meshc.providers.<name>).
findings contains finding if {
	some finding in data.meshc.providers[mesh.provider].injection_findings
}

findings contains finding if {
	k8s.pod_spec.hostNetwork == true
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.hostNetwork"]),
		"problem": "the pod shares the node's network, where no mesh injects its proxy: true",
		"fix": "remove hostNetwork, or run the workload in a namespace outside the mesh",
	}
}

findings contains finding if {
	some key in bypass_annotations
	value := k8s.pod_annotations[key]
	not granted(key)
	not key in data.meshc.providers[mesh.provider].injector_written
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), key),
		"problem": concat("", ["lets traffic bypass the proxy: ", k8s.show(value)]),
		"fix": "remove the annotation, or grant it to this workload in spec.admission.exemptions",
	}
}

# The profile's capture annotations: an exclusion list skips what it names;
# a capture list (include) skips everything it leaves out, so anything
# narrower than "*". The few keys are picked out of the annotations in one
# builtin call, rather than every annotation (status, prometheus, ...)
# checked against them or every key looked up in turn.
bypass_annotations contains key if {
	keys := mesh.profile.capture_annotations
	some key, value in object.filter(k8s.pod_annotations, keys)
	bypasses(keys[key], value)
}

bypasses("exclude", value) if count(mesh.entries(value)) > 0

bypasses("include", value) if trim_space(value) != "*"

granted(key) if {
	some exemption in mesh.config.exemptions
	exemption.namespace == k8s.namespace
	key in exemption.annotations
	every label, wanted in object.get(exemption, "selector", {}) {
		k8s.pod_labels[label] == wanted
	}
}

# The container rules below judge application containers: everything but the
# mesh's own, verified containers. One pass finds the containers whose own
# securityContext sets what only the mesh's containers may, and asks only
# those whether they are the mesh's own; the rules below then report each
# setting of each impostor, and on a compliant pod have nothing to look at.
impostors contains [field, i] if {
	some field in k8s.container_fields
	some i, container in k8s.pod_spec[field]
	sets_proxy_only(container.securityContext)
	not mesh.genuine(container)
}

# One body per setting, each reading its own field.
sets_proxy_only(context) if proxy_uids[context.runAsUser]

sets_proxy_only(context) if context.runAsGroup in mesh.profile.proxy_gids

sets_proxy_only(context) if {
	some capability in context.capabilities.add
	net_admin_capabilities[upper(capability)]
}

sets_proxy_only(context) if context.privileged == true

findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	user_id := container.securityContext.runAsUser
	proxy_uids[user_id]
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.runAsUser"]),
		"problem": concat("", ["container ", k8s.show(container.name), " runs as the proxy's UID, whose traffic bypasses the proxy: ", format_int(user_id, 10)]),
		"fix": "run the container as any other UID",
	}
}

findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	group_id := container.securityContext.runAsGroup
	group_id in mesh.profile.proxy_gids
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.runAsGroup"]),
		"problem": concat("", ["container ", k8s.show(container.name), " runs in the proxy's group, whose traffic bypasses the proxy: ", format_int(group_id, 10)]),
		"fix": "run the container in any other group",
	}
}

findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	some j, capability in container.securityContext.capabilities.add
	net_admin_capabilities[upper(capability)]
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.capabilities.add[", format_int(j, 10), "]"]),
		"problem": concat("", ["container ", k8s.show(container.name), " may rewrite the iptables rules that capture its traffic: ", k8s.show(capability)]),
		"fix": "drop the capability: only the mesh's own containers may hold NET_ADMIN",
	}
}

findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	container.securityContext.privileged == true
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.privileged"]),
		"problem": concat("", ["container ", k8s.show(container.name), " is privileged, which includes NET_ADMIN: true"]),
		"fix": "remove privileged: only the mesh's own containers may hold NET_ADMIN",
	}
}

# A container's own runAsUser/runAsGroup wins over the pod's: the pod's
# counts for the containers without one. These fail at their first line on
# almost every pod.
findings contains finding if {
	user_id := k8s.pod_spec.securityContext.runAsUser
	proxy_uids[user_id]
	some field in k8s.container_fields
	some container in k8s.pod_spec[field]
	not own(container, "runAsUser")
	not mesh.genuine(container)
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.securityContext.runAsUser"]),
		"problem": concat("", ["container ", k8s.show(container.name), " runs as the proxy's UID, whose traffic bypasses the proxy: ", format_int(user_id, 10)]),
		"fix": "run the container as any other UID",
	}
}

findings contains finding if {
	group_id := k8s.pod_spec.securityContext.runAsGroup
	group_id in mesh.profile.proxy_gids
	some field in k8s.container_fields
	some container in k8s.pod_spec[field]
	not own(container, "runAsGroup")
	not mesh.genuine(container)
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.securityContext.runAsGroup"]),
		"problem": concat("", ["container ", k8s.show(container.name), " runs in the proxy's group, whose traffic bypasses the proxy: ", format_int(group_id, 10)]),
		"fix": "run the container in any other group",
	}
}

# Set at all, whatever the value: a container's null still overrides the pod's.
own(container, key) if _ = container.securityContext[key]

# The proxy's UID, and any other UID this pod's own settings exempt from
# capture (Linkerd's config.linkerd.io/proxy-uid).
proxy_uids contains mesh.profile.proxy_uid

proxy_uids contains user_id if some user_id in data.meshc.providers[mesh.provider].extra_proxy_uids

net_admin_capabilities := {"NET_ADMIN", "CAP_NET_ADMIN", "ALL"}
