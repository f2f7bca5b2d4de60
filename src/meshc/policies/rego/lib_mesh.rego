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

# Every container of the pod as where it is: [field, index]. References, not
# the containers themselves: a collection built around the spec costs a copy
# and a comparison of everything in it (see lib_k8s).
# In CEL a reference is {field, index, container}: a list of maps costs no copy there.
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
containers contains [field, i] if {
	some field in k8s.container_fields
	some i, _ in k8s.pod_spec[field]
}

container(ref) := k8s.pod_spec[ref[0]][ref[1]]

container_path(ref) := k8s.container_path(ref[0], ref[1])

# A native sidecar: an init container that keeps running beside the app.
# METADATA
# custom:
#   cel: >-
#     ref.field == 'initContainers' && ref.container.?restartPolicy.orValue('') == 'Always'
native_sidecar(ref) if {
	ref[0] == "initContainers"
	container(ref).restartPolicy == "Always"
}

# A container that runs beside the app for the pod's life: a regular
# container or a native sidecar.
# METADATA
# custom:
#   cel: ref.field == 'containers' || $native_sidecar(ref)
long_running(ref) if ref[0] == "containers"

long_running(ref) if native_sidecar(ref)

# The pod's genuine mesh containers, asked once per review, and those named `name`.
genuine_containers contains ref if {
	some ref in containers
	genuine(container(ref))
}

# METADATA
# custom:
#   cel: >-
#     $containers.filter(_e, _e.container.?name.orValue('') == name && $genuine(_e.container))
mesh_containers(name) := [ref |
	some ref in genuine_containers
	container(ref).name == name
]

# Digits only, at least one: what regex.match(`^[0-9]+$`, value) says.
# OPA's Wasm runtime compiles a regex at every call (a twentieth of a Pod's
# evaluation went to this one); trimming the digits away compiles nothing.
# METADATA
# custom:
#   cel: type(value) == string && value.matches('^[0-9]+$')
digits(value) if {
	is_string(value)
	value != ""
	trim_left(value, "0123456789") == ""
}

# A command line's flags, parsed once: canonical name -> the last value given
# (what the program uses; "true" for a flag that takes none). `known` maps
# each spelling of a flag to {"name": canonical, "value": takes a value}.
# (Comprehensions bind indexes with `some i; x := xs[i]`: rego-cpp refuses
# `some i, x in` inside one.)
flags(args, known) := {name: value |
	pairs := flag_pairs(args, known)
	some i
	name := pairs[i][0]
	value := pairs[i][1]
	not given_later(pairs, i, name)
}

# Each flag of a command line as [canonical name, value], in order. In CEL
# `known` is a list of [canonical name, other spelling, takes a value].
# METADATA
# custom:
#   cel: >-
#     args.transformList(_i, _a,
#     _a.startsWith('-') && known.exists(_k, _a.split('=')[0] in [_k[0], _k[1]]),
#     known.filter(_k, _a.split('=')[0] in [_k[0], _k[1]]).map(_k, [dyn(_k[0]),
#     dyn(_a.contains('=') ? _a.substring(size(_a.split('=')[0]) + 1)
#     : _k[2] == true ? (_i + 1 < size(args) ? args[_i + 1] : '') : 'true')])[0])
flag_pairs(args, known) := [pair |
	some i
	arg := args[i]
	startswith(arg, "-")
	pair := flag_pair(args, i, arg, known)
]

flag_pair(args, i, arg, known) := [known[arg].name, args[i + 1]] if {
	known[arg].value == true
	i + 1 < count(args)
} else := [known[arg].name, "true"] if {
	known[arg].value == false
} else := [known[name].name, substring(arg, count(name) + 1, -1)] if {
	name := split(arg, "=")[0]
	known[name]
}

given_later(pairs, i, name) if {
	some j
	pairs[j][0] == name
	j > i
}

# Every value a command line gives flag `names` ("--name value" or
# "--name=value"), in order: for a flag that accumulates (a list), each
# counts; for one that does not, the last.
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

# The flags of a command line that are not among `known`, as written.
# METADATA
# custom:
#   cel: >-
#     args.transformList(_i, _a,
#     _a.startsWith('-') && !known.exists(_k, _a.split('=')[0] in [_k[0], _k[1]])
#     && !(_i > 0 && known.exists(_k, args[_i - 1] in [_k[0], _k[1]] && _k[2] == true)),
#     _a)
unknown_flags(args, known) := {arg |
	some i
	arg := args[i]
	startswith(arg, "-")
	not known[arg]
	not known[split(arg, "=")[0]]
	not value_of_previous(args, i, known)
}

value_of_previous(args, i, known) if {
	i > 0
	known[args[i - 1]].value == true
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
