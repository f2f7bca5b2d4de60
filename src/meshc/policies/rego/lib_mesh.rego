# METADATA
# title: What the Mesh spec says
# description: >-
#   Namespaces, provider, the provider profile's facts, the mesh's own
#   containers and the structured violation every policy returns, read from
#   data.meshc.config.
package meshc.lib.mesh

import data.meshc.lib.k8s

config := data.meshc.config

provider := config.provider

# The provider profile's facts (meshc.providers.<name>.policy_facts()).
profile := config.profile

exempt(ns) if ns in config.exempt_namespaces

# Meshed namespaces minus exempt ones: an exempt namespace is never judged.
meshed(ns) if {
	ns in config.meshed_namespaces
	not exempt(ns)
}

# Where mesh configuration and injected workloads may live.
permitted(ns) if ns in config.allowed_namespaces

permitted(ns) if exempt(ns)

# A container is the mesh's own only when both its name and its image
# repository are the mesh's: a look-alike with the right name is not.
# config.mesh_images lists every spelling of each repository and
# config.mesh_image_prefixes each with ":" (a tag) and "@" (a digest) after
# it (see data.py). startswith and not strings.any_prefix_match: OPA's Wasm
# compiler has no native any_prefix_match, and a builtin the host supplies
# costs more than this loop (docs/policies.md, "Engines").
genuine(container) if {
	container.name in profile.mesh_containers
	mesh_image(container.image)
}

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
entries(value) := {e | some part in split(value, ","); e := trim_space(part); e != ""}
