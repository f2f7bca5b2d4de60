# METADATA
# title: injection-required
# description: >-
#   Every pod in a meshed namespace runs the mesh's proxy, and nothing in it
#   can route traffic around that proxy.
package meshc.injection_required

import data.meshc.lib.k8s
import data.meshc.lib.mesh

# METADATA
# custom:
#   cel: {literal: true}
policy_id := "injection-required"

# METADATA
# custom:
#   cel:
#     when: $k8s.writing && $mesh.meshed($k8s.subject_namespace)
#     include: $findings
violations contains mesh.violation(policy_id, finding) if {
	k8s.writing
	mesh.meshed(k8s.subject_namespace)
	some finding in findings
}

# What only the spec's mesh knows: its opt-outs, its markers, its own
# settings that switch capture off (meshc.providers.<name>).
# METADATA
# custom:
#   cel: {include: $provider.injection_findings}
findings contains finding if {
	some finding in data.meshc.providers[mesh.provider].injection_findings
}

# METADATA
# title: host-network
# custom:
#   cel:
#     when: $k8s.pod_spec != null && $k8s.pod_spec.?hostNetwork.orValue(false) == true
#     path: $k8s.pod_prefix + 'spec.hostNetwork'
#     problem: >-
#       'the pod shares the node\'s network, where no mesh injects its proxy: true'
#     fix: "'remove hostNetwork, or run the workload in a namespace outside the mesh'"
findings contains finding if {
	k8s.pod_spec.hostNetwork == true
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.hostNetwork"]),
		"problem": "the pod shares the node's network, where no mesh injects its proxy: true",
		"fix": "remove hostNetwork, or run the workload in a namespace outside the mesh",
	}
}

# METADATA
# title: capture-annotations
# custom:
#   cel:
#     for: [[key, $bypass_annotations]]
#     when: "!$mesh.granted(key) && !(key in $provider.injector_written)"
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.annotations', key)
#     problem: "'lets traffic bypass the proxy: ' + $k8s.show($k8s.pod_annotations[key])"
#     fix: >-
#       'remove the annotation, or grant it to this workload in spec.admission.exemptions'
findings contains finding if {
	some key in bypass_annotations
	value := k8s.pod_annotations[key]
	not mesh.granted(key)
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
# METADATA
# custom:
#   cel: >-
#     $mesh.profile.capture_annotations.filter(_k, _k in $k8s.pod_annotations
#     && $bypasses($mesh.profile.capture_annotations[_k], $k8s.pod_annotations[_k]))
bypass_annotations contains key if {
	keys := mesh.profile.capture_annotations
	some key, value in object.filter(k8s.pod_annotations, keys)
	bypasses(keys[key], value)
}

# METADATA
# custom:
#   cel:
#     params: [kind, value]
#     macro: >-
#       kind == 'exclude' ? size($mesh.entries(value)) > 0
#       : (kind == 'include' ? value.trim() != '*' : false)
bypasses("exclude", value) if count(mesh.entries(value)) > 0

bypasses("include", value) if trim_space(value) != "*"

# The container rules below judge application containers: everything but the
# mesh's own, verified containers. One pass finds the containers whose own
# securityContext sets what only the mesh's containers may, and asks only
# those whether they are the mesh's own; the rules below then report each
# setting of each impostor, and on a compliant pod have nothing to look at.
# METADATA
# description: The entries of mesh.containers (field, index, container).
# custom:
#   cel: >-
#     $mesh.containers.filter(_e, has(_e.container.securityContext)
#     && $sets_proxy_only(_e.container.securityContext) && !$mesh.genuine(_e.container))
impostors contains [field, i] if {
	some field in k8s.container_fields
	some i, container in k8s.pod_spec[field]
	sets_proxy_only(container.securityContext)
	not mesh.genuine(container)
}

# One body per setting, each reading its own field.
# METADATA
# custom:
#   cel: >-
#     (has(context.runAsUser) && context.runAsUser in $proxy_uids)
#     || (has(context.runAsGroup) && context.runAsGroup in $proxy_gids)
#     || context.?capabilities.?add.orValue([]).exists(_c, @upper(_c) in $network_capabilities)
#     || context.?privileged.orValue(false) == true
sets_proxy_only(context) if proxy_uids[context.runAsUser]

sets_proxy_only(context) if proxy_gids[context.runAsGroup]

sets_proxy_only(context) if {
	some capability in context.capabilities.add
	network_capabilities[upper(capability)]
}

sets_proxy_only(context) if context.privileged == true

# METADATA
# title: container-proxy-uid
# custom:
#   cel:
#     for: [[e, $impostors]]
#     when: has(e.container.securityContext.runAsUser) && e.container.securityContext.runAsUser in $proxy_uids
#     path: $k8s.container_path(e.field, e.index) + '.securityContext.runAsUser'
#     problem: >-
#       'container ' + $k8s.show(e.container.name) + ' runs as the proxy\'s UID, whose traffic
#       bypasses the proxy: ' + @format_int(e.container.securityContext.runAsUser)
#     fix: "'run the container as any other UID'"
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

# METADATA
# title: container-proxy-gid
# custom:
#   cel:
#     for: [[e, $impostors]]
#     when: has(e.container.securityContext.runAsGroup) && e.container.securityContext.runAsGroup in $proxy_gids
#     path: $k8s.container_path(e.field, e.index) + '.securityContext.runAsGroup'
#     problem: >-
#       'container ' + $k8s.show(e.container.name) + ' runs in the proxy\'s group, whose traffic
#       bypasses the proxy: ' + @format_int(e.container.securityContext.runAsGroup)
#     fix: "'run the container in any other group'"
findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	group_id := container.securityContext.runAsGroup
	proxy_gids[group_id]
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.runAsGroup"]),
		"problem": concat("", ["container ", k8s.show(container.name), " runs in the proxy's group, whose traffic bypasses the proxy: ", format_int(group_id, 10)]),
		"fix": "run the container in any other group",
	}
}

# METADATA
# title: container-network-capability
# custom:
#   cel:
#     for:
#       - [e, $impostors]
#       - [j, capability, "e.container.securityContext.?capabilities.?add.orValue([])"]
#     when: "@upper(capability) in $network_capabilities"
#     path: >-
#       $k8s.container_path(e.field, e.index) + '.securityContext.capabilities.add[' + string(j) + ']'
#     problem: >-
#       'container ' + $k8s.show(e.container.name) + ' may rewrite the iptables rules that capture
#       its traffic, or send around them: ' + $k8s.show(capability)
#     fix: >-
#       'drop the capability: only the mesh\'s own containers may hold NET_ADMIN or NET_RAW'
findings contains finding if {
	some ref in impostors
	field := ref[0]
	i := ref[1]
	container := k8s.pod_spec[field][i]
	some j, capability in container.securityContext.capabilities.add
	network_capabilities[upper(capability)]
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.capabilities.add[", format_int(j, 10), "]"]),
		"problem": concat("", ["container ", k8s.show(container.name), " may rewrite the iptables rules that capture its traffic, or send around them: ", k8s.show(capability)]),
		"fix": "drop the capability: only the mesh's own containers may hold NET_ADMIN or NET_RAW",
	}
}

# METADATA
# title: container-privileged
# custom:
#   cel:
#     for: [[e, $impostors]]
#     when: e.container.securityContext.?privileged.orValue(false) == true
#     path: $k8s.container_path(e.field, e.index) + '.securityContext.privileged'
#     problem: >-
#       'container ' + $k8s.show(e.container.name) + ' is privileged, which includes NET_ADMIN: true'
#     fix: >-
#       'remove privileged: only the mesh\'s own containers may hold NET_ADMIN'
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
# METADATA
# title: pod-proxy-uid
# custom:
#   cel:
#     if: >-
#       $k8s.pod_spec != null && has($k8s.pod_spec.securityContext)
#       && has($k8s.pod_spec.securityContext.runAsUser)
#       && $k8s.pod_spec.securityContext.runAsUser in $proxy_uids
#     for: [[e, $mesh.containers]]
#     when: "!$own(e.container, 'runAsUser') && !$mesh.genuine(e.container)"
#     path: $k8s.pod_prefix + 'spec.securityContext.runAsUser'
#     problem: >-
#       'container ' + $k8s.show(e.container.name) + ' runs as the proxy\'s UID, whose traffic
#       bypasses the proxy: ' + @format_int($k8s.pod_spec.securityContext.runAsUser)
#     fix: "'run the container as any other UID'"
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

# METADATA
# title: pod-proxy-gid
# custom:
#   cel:
#     if: >-
#       $k8s.pod_spec != null && has($k8s.pod_spec.securityContext)
#       && has($k8s.pod_spec.securityContext.runAsGroup)
#       && $k8s.pod_spec.securityContext.runAsGroup in $proxy_gids
#     for: [[e, $mesh.containers]]
#     when: "!$own(e.container, 'runAsGroup') && !$mesh.genuine(e.container)"
#     path: $k8s.pod_prefix + 'spec.securityContext.runAsGroup'
#     problem: >-
#       'container ' + $k8s.show(e.container.name) + ' runs in the proxy\'s group, whose traffic
#       bypasses the proxy: ' + @format_int($k8s.pod_spec.securityContext.runAsGroup)
#     fix: "'run the container in any other group'"
findings contains finding if {
	group_id := k8s.pod_spec.securityContext.runAsGroup
	proxy_gids[group_id]
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
# METADATA
# custom:
#   cel: has(container.securityContext) && key in container.securityContext
own(container, key) if _ = container.securityContext[key]

# The proxy's UID, and any other UID this pod's own settings exempt from
# capture (Linkerd's config.linkerd.io/proxy-uid).
# METADATA
# custom:
#   cel: "[$mesh.profile.proxy_uid] + $provider.extra_proxy_uids"
proxy_uids contains mesh.profile.proxy_uid

proxy_uids contains user_id if some user_id in data.meshc.providers[mesh.provider].extra_proxy_uids

# Likewise the groups whose traffic the rules let through.
# METADATA
# custom:
#   cel: "$mesh.profile.proxy_gids + $provider.extra_proxy_gids"
proxy_gids contains group_id if some group_id in mesh.profile.proxy_gids

proxy_gids contains group_id if some group_id in data.meshc.providers[mesh.provider].extra_proxy_gids

# A container named as the mesh's own with another image is none of its own:
# the injector may take it for its own proxy and inject nothing.
# METADATA
# title: mesh-named-container
# custom:
#   cel:
#     for: [[entry, $mesh.containers]]
#     when: >-
#       entry.container.?name.orValue('') in $mesh.profile.mesh_containers
#       && !$mesh.genuine(entry.container)
#     path: $k8s.container_path(entry.field, entry.index) + '.image'
#     problem: >-
#       'container ' + $k8s.show(entry.container.name) + ' is named as the mesh\'s own but runs
#       another image: ' + $k8s.show(entry.container.?image.orValue(null))
#     fix: >-
#       'rename the container, or use the mesh\'s image (spec.admission.proxyImages lists them)'
findings contains finding if {
	some entry in mesh.containers
	mesh.container(entry).name in mesh.profile.mesh_containers
	not mesh.genuine(mesh.container(entry))
	finding := {
		"path": concat("", [mesh.container_path(entry), ".image"]),
		"problem": concat("", ["container ", k8s.show(mesh.container(entry).name), " is named as the mesh's own but runs another image: ", k8s.show(object.get(mesh.container(entry), "image", null))]),
		"fix": "rename the container, or use the mesh's image (spec.admission.proxyImages lists them)",
	}
}

# NET_ADMIN rewrites the pod's iptables rules; NET_RAW crafts packets the
# rules were not written for (the netadmin profile of `kubectl debug` adds both).
# METADATA
# custom:
#   cel: {literal: true}
network_capabilities := {"NET_ADMIN", "CAP_NET_ADMIN", "NET_RAW", "CAP_NET_RAW", "ALL"}

# With the host's PID namespace, a container that may enter namespaces
# (SYS_ADMIN, or SYS_PTRACE to reach a host process's) can join the node's
# network namespace, where the pod's capture rules do not apply.
# METADATA
# custom:
#   cel: {literal: true}
namespace_capabilities := {"SYS_ADMIN", "CAP_SYS_ADMIN", "SYS_PTRACE", "CAP_SYS_PTRACE", "ALL"}

# METADATA
# title: host-pid-capability
# custom:
#   cel:
#     if: $k8s.pod_spec != null && $k8s.pod_spec.?hostPID.orValue(false) == true
#     for:
#       - [e, $mesh.containers]
#       - [j, capability, "e.container.?securityContext.?capabilities.?add.orValue([])"]
#     when: "@upper(capability) in $namespace_capabilities && !$mesh.genuine(e.container)"
#     path: >-
#       $k8s.container_path(e.field, e.index) + '.securityContext.capabilities.add[' + string(j) + ']'
#     problem: >-
#       'container ' + $k8s.show(e.container.name) + ' shares the node\'s PID namespace and may
#       enter the node\'s network namespace, around the proxy: ' + $k8s.show(capability)
#     fix: "'remove hostPID, or drop the capability'"
findings contains finding if {
	k8s.pod_spec.hostPID == true
	some field in k8s.container_fields
	some i, container in k8s.pod_spec[field]
	some j, capability in container.securityContext.capabilities.add
	namespace_capabilities[upper(capability)]
	not mesh.genuine(container)
	finding := {
		"path": concat("", [k8s.container_path(field, i), ".securityContext.capabilities.add[", format_int(j, 10), "]"]),
		"problem": concat("", ["container ", k8s.show(container.name), " shares the node's PID namespace and may enter the node's network namespace, around the proxy: ", k8s.show(capability)]),
		"fix": "remove hostPID, or drop the capability",
	}
}
