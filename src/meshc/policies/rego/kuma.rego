# METADATA
# title: Kuma's rules
# description: >-
#   What the policies judge that only Kuma has: its injection label and
#   exceptions, the Mesh a workload joins, the injected native sidecar and its
#   transparent-proxy init, the Mesh's mTLS backend, MeshTLS modes and
#   MeshTrafficPermission callers. The facts (UIDs, container names, capture
#   annotations) are in the provider profile; the Mesh's name in the spec's
#   settings (spec.kuma.mesh).
package meshc.providers.kuma

import data.meshc.lib.k8s
import data.meshc.lib.mesh

# Sources: kumahq/kuma v2.14.3, pkg/plugins/runtime/k8s/webhooks/injector
# (injector.go, precheck.go), pkg/plugins/runtime/k8s/metadata,
# pkg/transparentproxy/kubernetes (the init's flags), app/kumactl/cmd/install
# (the flags kumactl install transparent-proxy knows).

injection_label := "kuma.io/sidecar-injection"

mesh_label := "kuma.io/mesh"

kuma_mesh := mesh.config.settings.mesh

pod_annotations_path := concat("", [k8s.pod_prefix, "metadata.annotations"])

pod_labels_path := concat("", [k8s.pod_prefix, "metadata.labels"])

# --- injection-required -------------------------------------------------------

# Every finding below but on a builtin gateway's pods, which kuma-cp writes whole.
injection_findings contains finding if {
	some finding in pod_findings
	not builtin_gateway
}

# A builtin gateway the spec renders (spec.ingress, a MeshGatewayInstance named
# after the entry in the gateway's namespace): kuma-cp's controller writes its
# Deployment (gateway_instance_controller.go, createOrUpdateDeployment) with the
# pod label app: <instance> and kuma.io/sidecar-injection: disabled (no injector
# runs), the annotation kuma.io/gateway: builtin, and one container, kuma-gateway
# (util.KumaGatewayContainerName), of Kuma's kuma-dp image; its Dataplane is built
# from that annotation (pod_controller.go, reconcileBuiltinGatewayDataplane). A pod
# with anything else, or of another Mesh, is judged as any pod.
builtin_gateway if {
	k8s.pod_annotations["kuma.io/gateway"] == "builtin"
	some gateway in mesh.config.ingress_gateways
	gateway.namespace == k8s.subject_namespace
	k8s.pod_labels.app in gateway.names
	object.get(k8s.pod_labels, mesh_label, kuma_mesh) == kuma_mesh
	[container] := object.get(k8s.pod_spec, "containers", [])
	container.name == "kuma-gateway"
	mesh.mesh_image(container.image)
	count(object.get(k8s.pod_spec, "initContainers", [])) == 0
	count(object.get(k8s.pod_spec, "ephemeralContainers", [])) == 0
}

# metadata.Annotations.GetEnabled: these inject; disabled, false and no do
# not, and any other value fails the injection.
injects(value) if value in {"enabled", "true", "yes"}

inject_setting := {"path": k8s.key_path(pod_labels_path, injection_label), "value": v} if {
	v := k8s.pod_labels[injection_label]
}

pod_findings contains finding if {
	setting := inject_setting
	not injects(setting.value)
	finding := {
		"path": setting.path,
		"problem": concat("", ["opts the pod out of sidecar injection: ", k8s.show(setting.value)]),
		"fix": "remove it or set it to \"enabled\": every pod in a meshed namespace runs the sidecar",
	}
}

# Kuma 2.11 and later inject only in namespaces that carry the label; /mutate
# adds it, so only an UPDATE that removes or weakens it gets here.
pod_findings contains finding if {
	k8s.kind == "Namespace"
	value := object.get(k8s.labels, injection_label, null)
	not injects(value)
	finding := {
		"path": k8s.key_path("metadata.labels", injection_label),
		"problem": concat("", ["disables sidecar injection in a meshed namespace: ", k8s.show(value)]),
		"fix": "set it to \"enabled\", or remove the namespace from spec.namespaces",
	}
}

# The Mesh an object names (util.MeshOfByLabelOrAnnotation): its kuma.io/mesh
# label, else its deprecated kuma.io/mesh annotation; a pod without either
# takes its namespace's, and a namespace without either the default Mesh.
declared_mesh(labels, annotations) := {"path": "labels", "value": labels[mesh_label]} if {
	labels[mesh_label] != ""
} else := {"path": "annotations", "value": annotations[mesh_label]} if {
	annotations[mesh_label] != ""
}

namespace_mesh := declared if {
	declared := declared_mesh(k8s.labels, k8s.annotations)
} else := {"path": "labels", "value": "default"}

pod_findings contains finding if {
	k8s.kind == "Namespace"
	declared := namespace_mesh
	declared.value != kuma_mesh
	finding := {
		"path": k8s.key_path(concat("", ["metadata.", declared.path]), mesh_label),
		"problem": concat("", ["puts the namespace's workloads in another Kuma mesh than the spec's (", kuma_mesh, "): ", k8s.show(declared.value)]),
		"fix": concat("", ["remove it, or set the label to ", k8s.show(kuma_mesh)]),
	}
}

pod_findings contains finding if {
	declared := declared_mesh(k8s.pod_labels, k8s.pod_annotations)
	declared.value != kuma_mesh
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.", declared.path]), mesh_label),
		"problem": concat("", ["moves the workload to another Kuma mesh than the spec's (", kuma_mesh, "): ", k8s.show(declared.value)]),
		"fix": "remove it: the pod joins its namespace's mesh",
	}
}

# The injector's exceptions (kuma-cp.defaults.yaml,
# runtime.kubernetes.injector.exceptions.labels): any value skips the pod.
exception_labels := {"openshift.io/build.name", "openshift.io/deployer-pod-for.name"}

pod_findings contains finding if {
	some label in exception_labels
	value := k8s.pod_labels[label]
	finding := {
		"path": k8s.key_path(pod_labels_path, label),
		"problem": concat("", ["keeps the pod from Kuma's injector, which makes an exception of pods with this label: ", k8s.show(value)]),
		"fix": "remove the label: only OpenShift's build and deployer pods carry it",
	}
}

# A provided gateway: the init does not redirect inbound traffic
# (NewPodRedirectFromAnnotations: RedirectInbound false).
pod_findings contains finding if {
	value := k8s.pod_annotations["kuma.io/gateway"]
	value in {"enabled", "true", "yes", "builtin"}
	not mesh.granted("kuma.io/gateway")
	finding := {
		"path": k8s.key_path(pod_annotations_path, "kuma.io/gateway"),
		"problem": concat("", ["marks the pod a gateway, whose inbound traffic is not captured: ", k8s.show(value)]),
		"fix": "remove it, or grant kuma.io/gateway to the gateway's pods in spec.admission.exemptions",
	}
}

# The builtin gateway's container runs as the proxy, so its traffic is never
# captured: the shared rules take a genuine one for the mesh's own (the profile's
# mesh_containers), and only a gateway the spec renders may run it.
pod_findings contains finding if {
	some ref in mesh.mesh_containers("kuma-gateway")
	finding := {
		"path": concat("", [mesh.container_path(ref), ".name"]),
		"problem": "container \"kuma-gateway\" is the builtin gateway's, which runs as the proxy and whose traffic is not captured, on a pod that is no gateway the spec renders",
		"fix": "rename the container; a gateway's pods are kuma-cp's, declared in spec.ingress",
	}
}

# A transparent-proxy configuration of the pod's own choosing.
pod_findings contains finding if {
	some key in ["traffic.kuma.io/transparent-proxy-configmap-name", "traffic.kuma.io/transparent-proxy-config"]
	value := k8s.pod_annotations[key]
	not mesh.granted(key)
	not injector_config(key)
	finding := {
		"path": k8s.key_path(pod_annotations_path, key),
		"problem": concat("", ["replaces the transparent proxy's configuration, which decides what is captured: ", k8s.show(value)]),
		"fix": "remove it, or grant it in spec.admission.exemptions",
	}
}

# The injector writes the configuration it built (ConfigMap mode) onto the pod it injected.
injector_config("traffic.kuma.io/transparent-proxy-config") if mesh.outcome_visible

# --- the injected pod: what the cluster will run -------------------------------
#
# A Pod under admission has been through Kuma's injector: it runs kuma-sidecar
# as a native sidecar (an init container with restartPolicy Always, Kuma 2.14's
# default), and kuma-init (or, under Kuma CNI, kuma-validation) before it.

sidecars := mesh.mesh_containers("kuma-sidecar")

inits := mesh.mesh_containers("kuma-init")

validators := mesh.mesh_containers("kuma-validation")

sidecar_runs if {
	some entry in sidecars
	mesh.native_sidecar(entry)
}

pod_findings contains finding if {
	mesh.outcome_visible
	not sidecar_runs
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.initContainers"]),
		"problem": sidecar_problem,
		"fix": "remove what opts the pod out of injection (the kuma.io/sidecar-injection label, an exception label, a kuma-sidecar of its own) and create it again through the injector",
	}
}

sidecar_problem := "runs Kuma's sidecar as a regular container, not as a native sidecar (an init container with restartPolicy Always)" if {
	some entry in sidecars
	entry[0] == "containers"
} else := "runs without Kuma's sidecar: no kuma-sidecar native sidecar with Kuma's image, so the injector skipped the pod, was told not to inject, or was not reached"

pod_findings contains finding if {
	mesh.outcome_visible
	sidecar_runs
	count(inits) + count(validators) == 0
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.initContainers"]),
		"problem": "runs Kuma's sidecar with nothing capturing its traffic: no kuma-init or kuma-validation (Kuma CNI) container",
		"fix": "create the pod again through the injector",
	}
}

commands := {
	"kuma-init": ["/usr/bin/kumactl", "install", "transparent-proxy"],
	"kuma-validation": ["/usr/bin/kumactl", "install", "transparent-proxy-validator"],
}

capturers := array.concat(inits, validators)

pod_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	object.get(mesh.container(entry), "command", null) != commands[mesh.container(entry).name]
	finding := {
		"path": concat("", [mesh.container_path(entry), ".command"]),
		"problem": concat("", [mesh.container(entry).name, " runs another program than Kuma's injector starts: ", k8s.show_fields(object.get(mesh.container(entry), "command", null))]),
		"fix": "create the pod through the injector, with no container of that name of its own",
	}
}

# The flags the injector writes (PodRedirect.AsKumactlCommandLine, and the
# configuration files of NewInitContainer / NewValidationContainer): name ->
# whether it takes a value.
init_flag_spellings := {
	"--kuma-dp-user": true,
	"--kuma-dp-uid": true,
	"--ip-family-mode": true,
	"--redirect-outbound-port": true,
	"--exclude-outbound-ports": true,
	"--exclude-outbound-ips": true,
	"--exclude-outbound-ports-for-uids": true,
	"--redirect-inbound": false,
	"--redirect-inbound-port": true,
	"--exclude-inbound-ports": true,
	"--exclude-inbound-ips": true,
	"--redirect-all-dns-traffic": false,
	"--redirect-dns-port": true,
	"--ebpf-enabled": false,
	"--ebpf-bpffs-path": true,
	"--ebpf-cgroup-path": true,
	"--ebpf-tc-attach-iface": true,
	"--ebpf-programs-source-path": true,
	"--ebpf-instance-ip": true,
	"--drop-invalid-packets": false,
	"--iptables-logs": false,
	"--verbose": false,
	"--config": true,
}

validator_flag_spellings := {
	"--config-file": true,
	"--ip-family-mode": true,
	"--validation-server-port": true,
	"--transparent-proxy-config": true,
}

# In the shape mesh.flags and mesh.unknown_flags read: spelling -> {name, value}.
init_flags := {name: {"name": name, "value": takes} | some name, takes in init_flag_spellings}

validator_flags := {name: {"name": name, "value": takes} | some name, takes in validator_flag_spellings}

known_flags := {"kuma-init": init_flags, "kuma-validation": validator_flags}

args_of(entry) := object.get(mesh.container(entry), "args", [])

args_path(entry) := concat("", [mesh.container_path(entry), ".args"])

pod_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	some flag in mesh.unknown_flags(args_of(entry), known_flags[mesh.container(entry).name])
	finding := {
		"path": args_path(entry),
		"problem": concat("", [mesh.container(entry).name, " runs with an argument Kuma's injector never writes: ", k8s.show(flag)]),
		"fix": "create the pod through the injector, with no container of that name of its own",
	}
}

# The configuration files the injector mounts (injector.go, flagConfigBase and friends).
config_files := {
	"/tmp/transparent-proxy/base/config.yaml",
	"/tmp/transparent-proxy/custom/config.yaml",
}

pod_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	some value in mesh.flag_values(args_of(entry), ["--config", "--transparent-proxy-config"])
	not value in config_files
	finding := {
		"path": args_path(entry),
		"problem": concat("", [mesh.container(entry).name, " reads its capture settings from a file the injector does not mount: ", k8s.show(value)]),
		"fix": "create the pod through the injector",
	}
}

pod_findings contains finding if {
	mesh.outcome_visible
	some entry in inits
	value := mesh.last_flag(args_of(entry), ["--redirect-inbound"])
	lower(value) in {"false", "0", "f"}
	not mesh.granted("kuma.io/gateway")
	finding := {
		"path": args_path(entry),
		"problem": concat("", ["kuma-init does not capture inbound traffic: --redirect-inbound=", value]),
		"fix": "remove kuma.io/gateway from the pod (or grant it), and create it again through the injector",
	}
}

# The proxy's own inbound ports, left out of capture: the readiness reporter
# (9902, when Envoy's admin API is a Unix socket, kuma-cp's default) and the
# application probe proxy (9000).
own_ports := {"9902", "9000"}

pod_findings contains finding if {
	mesh.outcome_visible
	some entry in inits
	some value in mesh.flag_values(args_of(entry), ["--exclude-inbound-ports"])
	some port in mesh.entries(value)
	not port in own_ports
	not mesh.granted("traffic.kuma.io/exclude-inbound-ports")
	finding := {
		"path": args_path(entry),
		"problem": concat("", ["kuma-init leaves an inbound port uncaptured that is not the sidecar's own: ", k8s.show(port)]),
		"fix": "remove traffic.kuma.io/exclude-inbound-ports or a moved kuma.io/application-probe-proxy-port, or grant it in spec.admission.exemptions",
	}
}

exclusions := {
	"--exclude-outbound-ports": "traffic.kuma.io/exclude-outbound-ports",
	"--exclude-outbound-ips": "traffic.kuma.io/exclude-outbound-ips",
	"--exclude-inbound-ips": "traffic.kuma.io/exclude-inbound-ips",
	"--exclude-outbound-ports-for-uids": "traffic.kuma.io/exclude-outbound-ports-for-uids",
}

pod_findings contains finding if {
	mesh.outcome_visible
	some entry in inits
	some flag, annotation in exclusions
	some value in mesh.flag_values(args_of(entry), [flag])
	count(mesh.entries(value)) > 0
	not mesh.granted(annotation)
	finding := {
		"path": args_path(entry),
		"problem": concat("", ["kuma-init leaves traffic uncaptured: ", flag, "=", value]),
		"fix": concat("", ["remove ", annotation, ", or grant it in spec.admission.exemptions"]),
	}
}

# The sidecar listens where the injector's annotations say; captured traffic
# must be sent there.
redirect_ports := {
	"--redirect-outbound-port": {"annotation": "kuma.io/transparent-proxying-outbound-port", "default": "15001"},
	"--redirect-inbound-port": {"annotation": "kuma.io/transparent-proxying-inbound-port", "default": "15006"},
}

pod_findings contains finding if {
	mesh.outcome_visible
	some entry in inits
	some flag, port in redirect_ports
	value := mesh.last_flag(args_of(entry), [flag])
	value != object.get(k8s.pod_annotations, port.annotation, port.default)
	finding := {
		"path": args_path(entry),
		"problem": concat("", ["kuma-init sends captured traffic to another port than the sidecar listens on: ", flag, "=", value]),
		"fix": "create the pod again through the injector",
	}
}

# kumactl also reads its settings from KUMA_ variables.
pod_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	some i, env in object.get(mesh.container(entry), "env", [])
	startswith(env.name, "KUMA_")
	finding := {
		"path": concat("", [mesh.container_path(entry), ".env[", format_int(i, 10), "]"]),
		"problem": concat("", [mesh.container(entry).name, " gets settings from its environment: ", k8s.show(env.name)]),
		"fix": "remove the ContainerPatch that adds it (kuma.io/container-patches)",
	}
}

# Kuma CNI sets up capture for pods the injector marked, reading their annotations.
pod_findings contains finding if {
	mesh.outcome_visible
	sidecar_runs
	count(validators) > 0
	object.get(k8s.pod_annotations, "kuma.io/sidecar-injected", null) != "true"
	finding := {
		"path": k8s.key_path(pod_annotations_path, "kuma.io/sidecar-injected"),
		"problem": concat("", ["carries kuma-sidecar without the mark Kuma's injector writes, so Kuma CNI sets up no capture for it: ", k8s.show(object.get(k8s.pod_annotations, "kuma.io/sidecar-injected", null))]),
		"fix": "create the pod through Kuma's injector instead of writing kuma-sidecar into it",
	}
}

# The UID the capture rules let through (--kuma-dp-user, default 5678): the
# sidecar runs as it, and nothing else may.
init_uids contains to_number(value) if {
	some entry in inits
	value := mesh.last_flag(args_of(entry), ["--kuma-dp-user", "--kuma-dp-uid"])
	mesh.digits(value)
}

exempt_uids := init_uids if {
	count(init_uids) > 0
} else := {mesh.profile.proxy_uid}

pod_findings contains finding if {
	mesh.outcome_visible
	count(inits) > 0
	some entry in sidecars
	user := object.get(mesh.container(entry), ["securityContext", "runAsUser"], null)
	some exempt_uid in exempt_uids
	user != exempt_uid
	finding := {
		"path": concat("", [mesh.container_path(entry), ".securityContext.runAsUser"]),
		"problem": concat("", ["kuma-sidecar does not run as the UID the capture rules let through (", format_int(exempt_uid, 10), "): ", k8s.show(user)]),
		"fix": "remove the ContainerPatch (kuma.io/container-patches) that moves the sidecar's user",
	}
}

extra_proxy_uids := init_uids

extra_proxy_gids := set()

# The readiness port the injector excludes itself (NewAnnotations, with
# Envoy's admin API on a Unix socket): only on a pod that really carries
# Kuma's sidecar.
injector_written contains key if {
	key := "traffic.kuma.io/exclude-inbound-ports"
	every port in mesh.entries(k8s.pod_annotations[key]) {
		port == "9902"
	}
	count(sidecars) > 0
}

# --- intent: what makes the injector skip or weaken a pod not yet injected -----

# The injector skips a pod that has a kuma-sidecar already (precheck.go, needToInject).
pod_findings contains finding if {
	mesh.intent_only
	some entry in mesh.containers
	mesh.container(entry).name == "kuma-sidecar"
	finding := {
		"path": mesh.container_path(entry),
		"problem": concat("", ["makes Kuma's injector think the pod has its sidecar already, so it injects none: ", k8s.show(mesh.container(entry).name)]),
		"fix": "remove the container: the injector adds Kuma's own",
	}
}

pod_findings contains finding if {
	mesh.intent_only
	value := k8s.pod_annotations["kuma.io/application-probe-proxy-port"]
	not value in {"9000", "0"}
	finding := {
		"path": k8s.key_path(pod_annotations_path, "kuma.io/application-probe-proxy-port"),
		"problem": concat("", ["moves the probe proxy's port, which the capture rules leave out, onto another port: ", k8s.show(value)]),
		"fix": "remove it (9000 is the sidecar's own)",
	}
}

pod_findings contains finding if {
	mesh.intent_only
	value := k8s.pod_annotations["kuma.io/container-patches"]
	not mesh.granted("kuma.io/container-patches")
	finding := {
		"path": k8s.key_path(pod_annotations_path, "kuma.io/container-patches"),
		"problem": concat("", ["patches the sidecar and init containers Kuma injects: ", k8s.show(value)]),
		"fix": "remove it, or grant it in spec.admission.exemptions",
	}
}

# --- mtls-strict ---------------------------------------------------------------

# The spec's Mesh: mTLS on, with its enabled backend in the spec's mode
# (CertificateAuthorityBackend.mode: STRICT, proto3's zero, when absent).
mesh_object if {
	k8s.writing
	k8s.group == "kuma.io"
	k8s.kind == "Mesh"
	k8s.name == kuma_mesh
}

mtls_findings contains finding if {
	mesh_object
	object.get(k8s.resource, ["spec", "mtls", "enabledBackend"], "") == ""
	finding := {
		"path": "spec.mtls.enabledBackend",
		"problem": concat("", ["turns mTLS off for the mesh the spec requires mTLS ", mesh.config.mtls, " in: ", k8s.show(object.get(k8s.resource, ["spec", "mtls", "enabledBackend"], null))]),
		"fix": "enable a certificate authority backend (meshc renders a builtin one)",
	}
}

weaker_modes := {"STRICT": {"PERMISSIVE", 1}, "PERMISSIVE": set()}

mtls_findings contains finding if {
	mesh_object
	enabled := k8s.resource.spec.mtls.enabledBackend
	some i, backend in k8s.resource.spec.mtls.backends
	backend.name == enabled
	mode := object.get(backend, "mode", "STRICT")
	mode in weaker_modes[mesh.config.mtls]
	finding := {
		"path": concat("", ["spec.mtls.backends[", format_int(i, 10), "].mode"]),
		"problem": concat("", ["accepts plaintext traffic where the spec requires mTLS ", mesh.config.mtls, ": ", k8s.show(mode)]),
		"fix": "remove it or set it to \"STRICT\"",
	}
}

# MeshTLS anywhere in the mesh: its namespaces, or mesh-wide from kuma-system.
in_mesh(ns) if ns in mesh.config.meshed_namespaces

in_mesh("kuma-system")

policy_object(kind) if {
	k8s.writing
	k8s.group == "kuma.io"
	k8s.kind == kind
	in_mesh(k8s.namespace)
}

mesh_tls_modes contains {"path": concat("", ["spec.", field, "[", format_int(i, 10), "].default.mode"]), "mode": item["default"].mode} if {
	policy_object("MeshTLS")
	some field in ["from", "rules"]
	some i, item in k8s.resource.spec[field]
}

mtls_findings contains finding if {
	mesh.config.mtls == "STRICT"
	some setting in mesh_tls_modes
	setting.mode == "Permissive"
	finding := {
		"path": setting.path,
		"problem": concat("", ["accepts plaintext traffic where the spec requires mTLS STRICT: ", k8s.show(setting.mode)]),
		"fix": "remove it or set it to \"Strict\"",
	}
}

# --- allowed-namespaces ----------------------------------------------------------

injection_requests contains setting if {
	setting := inject_setting
	injects(setting.value)
}

allowed_list := concat(", ", sort(mesh.config.allowed_namespaces))

admitting := {"Allow", "AllowWithShadowDeny"}

namespace_tag := "k8s.kuma.io/namespace"

# The namespace a `from` targetRef limits its callers to, when it does.
from_namespace(ref) := ref.tags[namespace_tag] if ref.kind in {"MeshSubset", "MeshServiceSubset"}

# A MeshService's kuma.io/service on Kubernetes: <name>_<namespace>_svc_<port>.
from_namespace(ref) := parts[1] if {
	ref.kind == "MeshService"
	parts := split(ref.name, "_")
	count(parts) >= 3
	parts[2] == "svc"
}

allowed_namespaces_findings contains finding if {
	policy_object("MeshTrafficPermission")
	some i, item in k8s.resource.spec.from
	item["default"].action in admitting
	not from_allowed(item.targetRef)
	finding := {
		"path": concat("", ["spec.from[", format_int(i, 10), "].targetRef"]),
		"problem": concat("", ["admits callers outside the allowed namespaces: ", k8s.show_fields(item.targetRef)]),
		"fix": concat("", ["name a MeshSubset with ", namespace_tag, " of an allowed namespace (", allowed_list, ")"]),
	}
}

from_allowed(ref) if {
	ns := from_namespace(ref)
	ns in mesh.config.allowed_namespaces
}

# An ingress gateway the spec declares, by the kuma.io/service kuma-cp gives the
# proxies of the MeshGatewayInstance meshc renders for it, <name>_<namespace>_svc
# (providers/kuma.py, gateway_service_tag): that gateway and nothing else of its
# namespace.
from_allowed(ref) if {
	ref.kind == "MeshSubset"
	object.keys(ref.tags) == {"kuma.io/service"}
	some gateway in mesh.config.ingress_gateways
	some name in gateway.names
	ref.tags["kuma.io/service"] == concat("_", [name, gateway.namespace, "svc"])
}

# spiffe://<trust domain>/ns/<namespace>/sa/<account>, MeshIdentity's default.
spiffe_allowed(match) if {
	parts := split(match.value, "/")
	count(parts) >= 5
	parts[0] == "spiffe:"
	parts[3] == "ns"
	parts[4] in mesh.config.allowed_namespaces
	match.type != "Prefix"
}

spiffe_allowed(match) if {
	match.type == "Prefix"
	parts := split(match.value, "/")
	count(parts) >= 6
	parts[0] == "spiffe:"
	parts[3] == "ns"
	parts[4] in mesh.config.allowed_namespaces
}

allowed_namespaces_findings contains finding if {
	policy_object("MeshTrafficPermission")
	some i, rule in k8s.resource.spec.rules
	some field in ["allow", "allowWithShadowDeny"]
	some j, match in rule["default"][field]
	not spiffe_allowed(object.get(match, "spiffeID", {"type": "", "value": ""}))
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "].default.", field, "[", format_int(j, 10), "]"]),
		"problem": concat("", ["admits callers outside the allowed namespaces: ", k8s.show_fields(match)]),
		"fix": concat("", ["match spiffe://<trust domain>/ns/<namespace>/... with an allowed namespace (", allowed_list, ")"]),
	}
}
