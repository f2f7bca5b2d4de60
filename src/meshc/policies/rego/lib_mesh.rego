# METADATA
# title: What the Mesh spec says
# description: >-
#   Namespaces, provider, the provider profile's facts, the mesh's own
#   containers and the structured violation every policy returns, read from
#   data.meshc.config.
package meshc.lib.mesh

import data.meshc.lib.k8s

# METADATA
# custom:
#   cel: {data: true}
config := data.meshc.config

provider := config.provider

# The provider profile's facts (meshc.providers.<name>.policy_facts()).
# METADATA
# custom:
#   cel: $config.profile
profile := config.profile

# METADATA
# custom:
#   cel: ns in $config.exempt_namespaces
exempt(ns) if ns in config.exempt_namespaces

# Meshed namespaces minus exempt ones: an exempt namespace is never judged.
# METADATA
# custom:
#   cel: ns in $config.meshed_namespaces && !$exempt(ns)
meshed(ns) if {
	ns in config.meshed_namespaces
	not exempt(ns)
}

# Where mesh configuration and injected workloads may live.
# METADATA
# custom:
#   cel: ns in $config.allowed_namespaces || $exempt(ns)
permitted(ns) if ns in config.allowed_namespaces

permitted(ns) if exempt(ns)

# A container is the mesh's own only when both its name and its image
# repository are the mesh's: a look-alike with the right name is not.
# config.mesh_images lists every spelling of each repository and
# config.mesh_image_prefixes each with ":" (a tag) and "@" (a digest) after
# it (see data.py). startswith and not strings.any_prefix_match: OPA's Wasm
# compiler has no native any_prefix_match, and a builtin the host supplies
# costs more than this loop (docs/policies.md, "Engines").
# METADATA
# custom:
#   cel: >-
#     container.?name.orValue('') in $profile.mesh_containers
#     && $mesh_image(container.?image.orValue(null))
genuine(container) if {
	container.name in profile.mesh_containers
	mesh_image(container.image)
}

# METADATA
# custom:
#   cel: >-
#     image != null && (image in $config.mesh_images
#     || $config.mesh_image_prefixes.exists(_p, image.startsWith(_p)))
mesh_image(image) if {
	some prefix in config.mesh_image_prefixes
	startswith(image, prefix)
}

mesh_image(image) if image in config.mesh_images

# The structured violation of a finding on the object under review.
violation(policy_id, finding) := {
	"policy": policy_id,
	"kind": k8s.kind,
	"namespace": k8s.namespace,
	"name": k8s.name,
	"path": finding.path,
	"problem": finding.problem,
	"fix": finding.fix,
	"source": object.get(config, ["sources", policy_id], ""),
}

# The entries of a comma-separated annotation value.
# METADATA
# custom:
#   cel: "value.split(',').map(_e, _e.trim()).filter(_e, _e != '')"
entries(value) := {e | some part in split(value, ","); e := trim_space(part); e != ""}

# --- outcome and intent -------------------------------------------------------------

# A Pod under admission review has been through every mutating webhook, the
# mesh's injector among them: what it runs is visible, and the rules judge
# that. A pod template, or a Pod judged offline by `meshc check` (before any
# injector ran), shows only what asks the injector for something.
# METADATA
# description: An admission request never carries meshc check's offline mark.
# custom:
#   cel: $k8s.pod_prefix == ''
outcome_visible if {
	k8s.pod_prefix == ""
	not offline
}

# METADATA
# custom:
#   cel: $k8s.pod_spec != null && !$outcome_visible
intent_only if {
	k8s.pod_spec
	not outcome_visible
}

# Set by `meshc check` on the reviews it builds; the API server never sends it.
offline if input.request["meshc.io/offline"] == true

# An annotation the spec grants this pod (spec.admission.exemptions).
# METADATA
# custom:
#   cel: >-
#     $config.exemptions.exists(_x, _x.namespace == $k8s.namespace && key in _x.annotations
#     && _x.selector.all(_l, $k8s.pod_labels[?_l].orValue(null) == _x.selector[_l]))
granted(key) if {
	some exemption in config.exemptions
	exemption.namespace == k8s.namespace
	key in exemption.annotations
	every label, wanted in object.get(exemption, "selector", {}) {
		k8s.pod_labels[label] == wanted
	}
}

# --- the containers of a pod, and their command lines ----------------------------

# Every container of the pod with where it is: {field, index, container}.
# METADATA
# custom:
#   cel: >-
#     $k8s.pod_spec == null ? [] :
#     $k8s.pod_spec.?initContainers.orValue([]).transformList(_i, _c,
#     {'field': dyn('initContainers'), 'index': dyn(_i), 'container': dyn(_c)})
#     + $k8s.pod_spec.?containers.orValue([]).transformList(_i, _c,
#     {'field': dyn('containers'), 'index': dyn(_i), 'container': dyn(_c)})
#     + $k8s.pod_spec.?ephemeralContainers.orValue([]).transformList(_i, _c,
#     {'field': dyn('ephemeralContainers'), 'index': dyn(_i), 'container': dyn(_c)})
containers contains {"field": field, "index": i, "container": c} if {
	some field in k8s.container_fields
	some i, c in k8s.pod_spec[field]
}

# A native sidecar: an init container that keeps running beside the app.
# METADATA
# custom:
#   cel: >-
#     entry.field == 'initContainers' && entry.container.?restartPolicy.orValue('') == 'Always'
native_sidecar(entry) if {
	entry.field == "initContainers"
	entry.container.restartPolicy == "Always"
}

# A container that runs beside the app for the pod's life: a regular
# container or a native sidecar.
# METADATA
# custom:
#   cel: entry.field == 'containers' || $native_sidecar(entry)
long_running(entry) if entry.field == "containers"

long_running(entry) if native_sidecar(entry)

# The pod's genuine mesh containers named `name`: the mesh's name and image.
# METADATA
# custom:
#   cel: >-
#     $containers.filter(_e, _e.container.?name.orValue('') == name && $genuine(_e.container))
mesh_containers(name) := [entry |
	some entry in containers
	entry.container.name == name
	genuine(entry.container)
]

# The values a command line gives flag `names` ("--name value" or
# "--name=value"), in order; the last one is what the program uses.
# (Comprehensions bind the index with `some i; args[i]`: rego-cpp refuses
# `some i, x in` inside one.)
# METADATA
# custom:
#   cel: >-
#     args.transformList(_i, _a,
#     _a in names || names.exists(_n, _a.startsWith(_n + '=')),
#     _a in names
#     ? ((_i + 1 < size(args) && !args[_i + 1].startsWith('-')) ? args[_i + 1] : '')
#     : _a.substring(names.filter(_n, _a.startsWith(_n + '='))[0].size() + 1))
flag_values(args, names) := [value |
	some i
	arg := args[i]
	value := flag_value(args, i, arg, names)
]

flag_value(args, i, arg, names) := args[i + 1] if {
	arg in names
	i + 1 < count(args)
	not startswith(args[i + 1], "-")
} else := "" if {
	arg in names
} else := value if {
	some name in names
	startswith(arg, concat("", [name, "="]))
	value := substring(arg, count(name) + 1, -1)
}

# METADATA
# description: A list of none or one value (Rego leaves it undefined without the flag).
# custom:
#   cel: >-
#     [$flag_values(args, names)].map(_v, size(_v) > 0 ? [_v[size(_v) - 1]] : [])[0]
last_flag(args, names) := values[count(values) - 1] if {
	values := flag_values(args, names)
	count(values) > 0
}

# The flags of a command line that are not among `known` (name -> takes a
# value), as written.
# METADATA
# custom:
#   cel: >-
#     args.transformList(_i, _a,
#     _a.startsWith('-') && !(_a in known || known.exists(_n, _a.startsWith(_n + '=')))
#     && !(_i > 0 && known[?args[_i - 1]].orValue(false) == true),
#     _a)
unknown_flags(args, known) := {arg |
	some i
	arg := args[i]
	startswith(arg, "-")
	not flag_known(arg, known)
	not value_of_previous(args, i, known)
}

flag_known(arg, known) if _ = known[arg]

flag_known(arg, known) if {
	some name, _ in known
	startswith(arg, concat("", [name, "="]))
}

value_of_previous(args, i, known) if {
	i > 0
	known[args[i - 1]] == true
}

# The last value of an environment variable (Kubernetes keeps the last of
# duplicate names).
# METADATA
# description: A list of none or one value (Rego leaves it undefined without the variable).
# custom:
#   cel: >-
#     [container.?env.orValue([]).filter(_e, _e.?name.orValue('') == name && has(_e.value))
#     .map(_e, _e.value)].map(_v, size(_v) > 0 ? [_v[size(_v) - 1]] : [])[0]
env_value(container, name) := values[count(values) - 1] if {
	values := [e.value | some e in object.get(container, "env", []); e.name == name]
	count(values) > 0
}
