# METADATA
# title: Policy exceptions
# description: >-
#   spec.admission.exceptions, applied to every policy's violations in one
#   place: a violation an exception matches is marked with the exception's
#   name. The engine frame (meshc.policies.engine) turns a marked violation
#   into an audit record naming the exception, unless the exception has
#   expired at the time of the evaluation.
package meshc.lib.exceptions

import data.meshc.lib.k8s
import data.meshc.lib.mesh

# The violation, with the names of the exceptions that match it (in spec
# order), or as it is. Most objects have no violation, so this costs nothing
# on them.
marked(v) := object.union(v, {"exceptions": names}) if {
	names := [e.name |
		some i
		e := mesh.config.exceptions[i]
		applies(e, v)
	]
	count(names) > 0
} else := v

applies(e, v) if {
	v.policy in e.policies
	k8s.subject_namespace in e.namespaces
	kind_matches(e)
	name_matches(e)
	selector_matches(e)
	path_matches(e, v.path)
}

kind_matches(e) if count(e.kinds) == 0

kind_matches(e) if k8s.kind in e.kinds

name_matches(e) if count(e.names) == 0

name_matches(e) if {
	some pattern in e.names
	name_match(pattern, k8s.name)
}

name_match(pattern, name) if pattern == name

# A prefix ending in "*" (a workload's pods: web-*; generated names).
name_match(pattern, name) if {
	endswith(pattern, "*")
	startswith(name, trim_suffix(pattern, "*"))
}

# The labels a selector reads: a pod's, or a workload's pod template's; an
# object without pods, its own.
selected_labels := k8s.pod_labels if {
	is_string(k8s.pod_prefix)
} else := k8s.labels

selector_matches(e) if {
	every key, value in e.selector {
		selected_labels[key] == value
	}
}

path_matches(e, _) if count(e.paths) == 0

# A path covers itself and the fields under it, written as the object's own
# (spec.template.spec.containers) or as the pod's (spec.containers).
path_matches(e, path) if {
	some p in e.paths
	within(path, p)
}

path_matches(e, path) if {
	some p in e.paths
	within(path, concat("", [k8s.pod_prefix, p]))
}

within(path, p) if path == p

within(path, p) if startswith(path, concat("", [p, "."]))

within(path, p) if startswith(path, concat("", [p, "["]))
