# METADATA
# title: What the Mesh spec says
# description: >-
#   Namespaces, provider, the mesh's own containers and the structured
#   violation every policy returns, read from data.meshc.config.
package meshc.lib.mesh

import data.meshc.lib.k8s

config := data.meshc.config

provider := config.provider

# The UID the proxy runs as: iptables sends that UID's traffic around the proxy.
proxy_uid := {"istio": 1337, "linkerd": 2102}

exempt(ns) if ns in config.exempt_namespaces

# Meshed namespaces minus exempt ones: an exempt namespace is never judged.
meshed(ns) if {
	ns in config.meshed_namespaces
	not exempt(ns)
}

# Where mesh configuration and injected workloads may live.
permitted(ns) if ns in config.allowed_namespaces

permitted(ns) if exempt(ns)

# Istio 1.x before the exact-match change lower-cased the value and injected
# only for y/yes/true/on; anything else was an opt-out there.
istio_injects(value) if lower(value) in {"y", "yes", "true", "on"}

# Only these two Linkerd values inject; "disabled" and anything else do not.
linkerd_injects(value) if value in {"enabled", "ingress"}

# The pod's injection setting: where it is written and its value, computed
# once per request. The label wins over the deprecated annotation when both are set.
istio_inject_setting := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.labels"]), "sidecar.istio.io/inject"), "value": v} if {
	v := k8s.pod_labels["sidecar.istio.io/inject"]
} else := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "sidecar.istio.io/inject"), "value": v} if {
	v := k8s.pod_annotations["sidecar.istio.io/inject"]
}

linkerd_inject_setting := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "linkerd.io/inject"), "value": v} if {
	v := k8s.pod_annotations["linkerd.io/inject"]
}

# The mesh's own containers, as its injector names them (native sidecars
# included: they are init containers with the proxy's name).
mesh_container_names := {
	"istio": {"istio-proxy", "istio-init", "istio-validation"},
	"linkerd": {"linkerd-proxy", "linkerd-init", "linkerd-network-validator"},
}

# A container is the mesh's own only when both its name and its image
# repository are the mesh's: a look-alike with the right name is not.
# config.mesh_images lists every spelling of each repository and
# config.mesh_image_prefixes each with ":" (a tag) and "@" (a digest) after
# it (see data.py). startswith and not strings.any_prefix_match: OPA's Wasm
# compiler has no native any_prefix_match, and a builtin the host supplies
# costs more than this loop (docs/policies.md, "Engines").
genuine(container) if {
	mesh_container_names[provider][container.name]
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
