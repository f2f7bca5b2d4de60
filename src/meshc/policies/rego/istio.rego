# METADATA
# title: Istio's rules
# description: >-
#   What the policies judge that only Istio has: its injection opt-outs and
#   namespace label, its capture settings, PeerAuthentication,
#   DestinationRule TLS and AuthorizationPolicy sources. The facts (UIDs,
#   container names, capture annotations) are in the provider profile.
package meshc.providers.istio

import data.meshc.lib.k8s
import data.meshc.lib.mesh

# --- injection-required -------------------------------------------------------

# A namespace the spec puts in Istio's ambient data plane is judged by what
# enrolls a pod there (ambient_findings); every other meshed namespace by its
# sidecar (sidecar_findings).
# METADATA
# custom:
#   cel:
#     include: $sidecar_findings
#     when: "!$ambient"
injection_findings contains finding if {
	not ambient
	some finding in sidecar_findings
}

# The native policies leave an ambient mesh's injection-required policy to the
# webhook (meshc.policies.native.objects refuses it): this form only keeps an
# object in an ambient namespace from being admitted unjudged.
# METADATA
# title: ambient
# custom:
#   cel:
#     when: $ambient
#     path: "'metadata.namespace'"
#     problem: "'is in an ambient namespace, which only meshc\\'s webhook judges'"
#     fix: "'enforce an ambient mesh with spec.admission.enforcement webhook'"
injection_findings contains finding if {
	ambient
	some finding in ambient_findings
}

# METADATA
# custom:
#   cel: {literal: true}
dataplane_label := "istio.io/dataplane-mode"

# METADATA
# custom:
#   cel: >-
#     $mesh.config.namespace_markers[?$k8s.subject_namespace].?labels[?$dataplane_label].orValue('') == 'ambient'
ambient if object.get(mesh.config, ["namespace_markers", k8s.subject_namespace, "labels", dataplane_label], "") == "ambient"

# Istio 1.x before the exact-match change lower-cased the value and injected
# only for y/yes/true/on; anything else was an opt-out there.
# METADATA
# custom:
#   cel: "@lower(value) in ['y', 'yes', 'true', 'on']"
injects(value) if lower(value) in {"y", "yes", "true", "on"}

# The pod's injection setting: where it is written and its value, computed
# once per request. The label wins over the deprecated annotation when both are set.
# METADATA
# description: A list of none or one setting (Rego leaves it undefined).
# custom:
#   cel: >-
#     'sidecar.istio.io/inject' in $k8s.pod_labels
#     ? [{'path': dyn($k8s.key_path($k8s.pod_prefix + 'metadata.labels', 'sidecar.istio.io/inject')),
#     'value': dyn($k8s.pod_labels['sidecar.istio.io/inject'])}]
#     : ('sidecar.istio.io/inject' in $k8s.pod_annotations
#     ? [{'path': dyn($k8s.key_path($k8s.pod_prefix + 'metadata.annotations', 'sidecar.istio.io/inject')),
#     'value': dyn($k8s.pod_annotations['sidecar.istio.io/inject'])}] : [])
inject_setting := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.labels"]), "sidecar.istio.io/inject"), "value": v} if {
	v := k8s.pod_labels["sidecar.istio.io/inject"]
} else := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "sidecar.istio.io/inject"), "value": v} if {
	v := k8s.pod_annotations["sidecar.istio.io/inject"]
}

# METADATA
# title: opt-out
# custom:
#   cel:
#     for: [[setting, $inject_setting]]
#     when: "!$injects(setting.value)"
#     path: setting.path
#     problem: "'opts the pod out of sidecar injection: ' + $k8s.show(setting.value)"
#     fix: >-
#       'remove it or set it to "true": every pod in a meshed namespace runs the sidecar'
sidecar_findings contains finding if {
	setting := inject_setting
	not injects(setting.value)
	finding := {
		"path": setting.path,
		"problem": concat("", ["opts the pod out of sidecar injection: ", k8s.show(setting.value)]),
		"fix": "remove it or set it to \"true\": every pod in a meshed namespace runs the sidecar",
	}
}

# Turning interception off leaves every port uncaptured; REDIRECT and TPROXY
# are the two modes that capture.
# METADATA
# title: interception-mode
# custom:
#   cel:
#     for: [[value, "@get($k8s.pod_annotations, 'sidecar.istio.io/interceptionMode')"]]
#     when: "!$capturing_mode(value)"
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.annotations', 'sidecar.istio.io/interceptionMode')
#     problem: "'turns off traffic capture, so traffic bypasses the proxy: ' + $k8s.show(value)"
#     fix: "'remove the annotation or set it to REDIRECT or TPROXY'"
sidecar_findings contains finding if {
	value := k8s.pod_annotations["sidecar.istio.io/interceptionMode"]
	not capturing_mode(value)
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "sidecar.istio.io/interceptionMode"),
		"problem": concat("", ["turns off traffic capture, so traffic bypasses the proxy: ", k8s.show(value)]),
		"fix": "remove the annotation or set it to REDIRECT or TPROXY",
	}
}

# is_string first: what a string builtin does with a number differs between
# OPA (an error, so the whole rule is undefined) and rego-cpp (false).
# METADATA
# custom:
#   cel: type(value) == string && @upper(value.trim()) in ['REDIRECT', 'TPROXY']
capturing_mode(value) if {
	is_string(value)
	upper(trim_space(value)) in {"REDIRECT", "TPROXY"}
}

# A meshed namespace whose markers do not turn injection on. Istio's
# injector webhooks (manifests/charts/istio-control/istio-discovery/
# templates/mutatingwebhook.yaml) select istio-injection=enabled, or
# istio.io/rev=<revision or tag> where istio-injection is absent: with both,
# istio-injection wins. /mutate adds a missing marker before /validate runs
# and never replaces one written on the namespace, so what gets here is a
# value someone wrote, a removal, or a bypassed mutation.
# METADATA
# custom:
#   cel: {literal: true}
injection_label := "istio-injection"

# METADATA
# custom:
#   cel: {literal: true}
revision_label := "istio.io/rev"

# METADATA
# custom:
#   cel: >-
#     $k8s.labels[?$injection_label].orValue('') == 'enabled'
#     || (!($injection_label in $k8s.labels) && $k8s.labels[?$revision_label].orValue('') != '')
namespace_injects if k8s.labels[injection_label] == "enabled"

namespace_injects if {
	not injection_label in object.keys(k8s.labels)
	k8s.labels[revision_label] != ""
}

# The revision the spec gives this namespace ("" for Istio's default).
# METADATA
# custom:
#   cel: >-
#     $mesh.config.namespace_markers[?$k8s.subject_namespace].?labels[?$revision_label].orValue('')
spec_revision := object.get(mesh.config, ["namespace_markers", k8s.subject_namespace, "labels", revision_label], "")

# METADATA
# custom:
#   cel: >-
#     $spec_revision == '' ? 'set it to "enabled", or remove the namespace from spec.namespaces'
#     : 'remove it and label the namespace istio.io/rev=' + $spec_revision + ' (the spec\'s revision)'
namespace_fix := "set it to \"enabled\", or remove the namespace from spec.namespaces" if {
	spec_revision == ""
} else := concat("", ["remove it and label the namespace istio.io/rev=", spec_revision, " (the spec's revision)"])

# METADATA
# title: namespace-marker
# custom:
#   cel:
#     when: $k8s.kind == 'Namespace' && !$namespace_injects && !$empty_revision
#     path: $k8s.key_path('metadata.labels', $injection_label)
#     problem: >-
#       'disables sidecar injection in a meshed namespace: '
#       + $k8s.show($k8s.labels[?$injection_label].orValue(null))
#     fix: $namespace_fix
sidecar_findings contains finding if {
	k8s.kind == "Namespace"
	not namespace_injects
	not empty_revision
	value := object.get(k8s.labels, injection_label, null)
	finding := {
		"path": k8s.key_path("metadata.labels", injection_label),
		"problem": concat("", ["disables sidecar injection in a meshed namespace: ", k8s.show(value)]),
		"fix": namespace_fix,
	}
}

# METADATA
# custom:
#   cel: >-
#     !($injection_label in $k8s.labels) && $k8s.labels[?$revision_label].orValue('-') == ''
empty_revision if {
	not injection_label in object.keys(k8s.labels)
	k8s.labels[revision_label] == ""
}

# METADATA
# title: namespace-empty-revision
# custom:
#   cel:
#     when: $k8s.kind == 'Namespace' && $empty_revision
#     path: $k8s.key_path('metadata.labels', $revision_label)
#     problem: "'names no control plane, so no injector serves the namespace: \"\"'"
#     fix: $revision_fix
sidecar_findings contains finding if {
	k8s.kind == "Namespace"
	empty_revision
	finding := {
		"path": k8s.key_path("metadata.labels", revision_label),
		"problem": "names no control plane, so no injector serves the namespace: \"\"",
		"fix": revision_fix,
	}
}

# METADATA
# custom:
#   cel: >-
#     $spec_revision == '' ? 'remove it (meshc then adds istio-injection=enabled), or name a revision'
#     : 'set it to ' + $k8s.show($spec_revision) + ' (the spec\'s revision)'
revision_fix := "remove it (meshc then adds istio-injection=enabled), or name a revision" if {
	spec_revision == ""
} else := concat("", ["set it to ", k8s.show(spec_revision), " (the spec's revision)"])

# The spec names a revision: istio-injection beside it wins and leaves the
# namespace on the default revision.
# METADATA
# title: namespace-injection-beside-revision
# custom:
#   cel:
#     when: >-
#       $k8s.kind == 'Namespace' && $namespace_injects && $spec_revision != ''
#       && $injection_label in $k8s.labels
#     path: $k8s.key_path('metadata.labels', $injection_label)
#     problem: >-
#       'wins over istio.io/rev, so Istio\'s default revision injects the namespace instead of the
#       spec\'s revision ' + $k8s.show($spec_revision) + ': ' + $k8s.show($k8s.labels[$injection_label])
#     fix: "'remove istio-injection and label the namespace istio.io/rev=' + $spec_revision"
sidecar_findings contains finding if {
	k8s.kind == "Namespace"
	namespace_injects
	spec_revision != ""
	value := k8s.labels[injection_label]
	finding := {
		"path": k8s.key_path("metadata.labels", injection_label),
		"problem": concat("", ["wins over istio.io/rev, so Istio's default revision injects the namespace instead of the spec's revision ", k8s.show(spec_revision), ": ", k8s.show(value)]),
		"fix": concat("", ["remove istio-injection and label the namespace istio.io/rev=", spec_revision]),
	}
}

# METADATA
# title: namespace-other-revision
# custom:
#   cel:
#     when: >-
#       $k8s.kind == 'Namespace' && $namespace_injects && $spec_revision != ''
#       && !($injection_label in $k8s.labels) && $revision_label in $k8s.labels
#       && $k8s.labels[$revision_label] != $spec_revision
#     path: $k8s.key_path('metadata.labels', $revision_label)
#     problem: >-
#       'injects with another control plane than the spec\'s revision ' + $k8s.show($spec_revision)
#       + ': ' + $k8s.show($k8s.labels[$revision_label])
#     fix: >-
#       'set it to ' + $k8s.show($spec_revision) + ', or change the namespace\'s revision in the spec'
sidecar_findings contains finding if {
	k8s.kind == "Namespace"
	namespace_injects
	spec_revision != ""
	not injection_label in object.keys(k8s.labels)
	value := k8s.labels[revision_label]
	value != spec_revision
	finding := {
		"path": k8s.key_path("metadata.labels", revision_label),
		"problem": concat("", ["injects with another control plane than the spec's revision ", k8s.show(spec_revision), ": ", k8s.show(value)]),
		"fix": concat("", ["set it to ", k8s.show(spec_revision), ", or change the namespace's revision in the spec"]),
	}
}

# No revision in the spec, and both markers: istio-injection wins, and the
# revision the namespace names is silently ignored (istioctl analyze IST0123).
# METADATA
# title: namespace-revision-ignored
# custom:
#   cel:
#     when: >-
#       $k8s.kind == 'Namespace' && $spec_revision == ''
#       && $k8s.labels[?$injection_label].orValue('') == 'enabled' && $revision_label in $k8s.labels
#     path: $k8s.key_path('metadata.labels', $revision_label)
#     problem: >-
#       'is ignored: istio-injection is also set and wins, so Istio\'s default revision injects the
#       namespace (istioctl analyze IST0123): ' + $k8s.show($k8s.labels[$revision_label])
#     fix: >-
#       'remove one of the two labels: istio.io/rev to stay on the default revision, istio-injection
#       to inject with this revision'
sidecar_findings contains finding if {
	k8s.kind == "Namespace"
	spec_revision == ""
	k8s.labels[injection_label] == "enabled"
	value := k8s.labels[revision_label]
	finding := {
		"path": k8s.key_path("metadata.labels", revision_label),
		"problem": concat("", ["is ignored: istio-injection is also set and wins, so Istio's default revision injects the namespace (istioctl analyze IST0123): ", k8s.show(value)]),
		"fix": "remove one of the two labels: istio.io/rev to stay on the default revision, istio-injection to inject with this revision",
	}
}

# The proxy's own ports, which Istio's injector excludes itself under Istio CNI.
# METADATA
# custom:
#   cel: {literal: true}
own_ports := {"15020", "15021", "15090"}

# Capture exclusions the injector wrote: only a pod that really carries
# Istio's proxy may exclude the proxy's own ports.
# METADATA
# custom:
#   cel: >-
#     ['traffic.sidecar.istio.io/excludeInboundPorts', 'traffic.sidecar.istio.io/excludeOutboundPorts']
#     .filter(_k, $mesh.entries($k8s.pod_annotations[?_k].orValue('')).all(_p, _p in $own_ports)
#     && $mesh.containers.exists(_e, _e.container.?name.orValue('') == 'istio-proxy'
#     && $mesh.genuine(_e.container)))
injector_written contains key if {
	some key in {"traffic.sidecar.istio.io/excludeInboundPorts", "traffic.sidecar.istio.io/excludeOutboundPorts"}
	every port in mesh.entries(k8s.pod_annotations[key]) {
		port in own_ports
	}
	some field in k8s.container_fields
	some container in k8s.pod_spec[field]
	container.name == "istio-proxy"
	mesh.genuine(container)
}

# --- the injected pod: what the cluster will run -------------------------------
#
# Validating webhooks run after every mutating one, so a Pod here has been
# through Istio's injector (if it ran): these rules judge what it wrote, not
# what asked for it. Sources: istio/istio pkg/kube/inject (the injector and
# its template, manifests/charts/istio-control/istio-discovery/files/
# injection-template.yaml) and tools/istio-iptables (the capture flags).

# METADATA
# custom:
#   cel: $mesh.mesh_containers('istio-proxy')
proxies := mesh.mesh_containers("istio-proxy")

# METADATA
# custom:
#   cel: $mesh.mesh_containers('istio-init') + $mesh.mesh_containers('istio-validation')
capturers := array.concat(mesh.mesh_containers("istio-init"), mesh.mesh_containers("istio-validation"))

# METADATA
# title: no-proxy
# custom:
#   cel:
#     when: $mesh.outcome_visible && !$proxy_runs
#     path: $k8s.pod_prefix + 'spec.containers'
#     problem: >-
#       'runs without Istio\'s proxy: no istio-proxy container (or native sidecar) with Istio\'s
#       image, so the injector skipped the pod, was told not to inject, or was bypassed'
#     fix: >-
#       'remove what opts the pod out of injection (sidecar.istio.io/inject,
#       inject.istio.io/templates, a preset istio-proxy) and create it again through the injector'
sidecar_findings contains finding if {
	mesh.outcome_visible
	not proxy_runs
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.containers"]),
		"problem": "runs without Istio's proxy: no istio-proxy container (or native sidecar) with Istio's image, so the injector skipped the pod, was told not to inject, or was bypassed",
		"fix": "remove what opts the pod out of injection (sidecar.istio.io/inject, inject.istio.io/templates, a preset istio-proxy) and create it again through the injector",
	}
}

# METADATA
# custom:
#   cel: $proxies.exists(_e, $mesh.long_running(_e))
proxy_runs if {
	some entry in proxies
	mesh.long_running(entry)
}

# METADATA
# title: no-capture
# custom:
#   cel:
#     when: $mesh.outcome_visible && $proxy_runs && size($capturers) == 0
#     path: $k8s.pod_prefix + 'spec.initContainers'
#     problem: >-
#       'runs Istio\'s proxy with nothing capturing its traffic: no istio-init or
#       istio-validation (Istio CNI) container, so traffic goes around the proxy'
#     fix: >-
#       'remove sidecar.istio.io/interceptionMode: NONE or a template without capture
#       (inject.istio.io/templates), and create the pod again'
sidecar_findings contains finding if {
	mesh.outcome_visible
	proxy_runs
	count(capturers) == 0
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.initContainers"]),
		"problem": "runs Istio's proxy with nothing capturing its traffic: no istio-init or istio-validation (Istio CNI) container, so traffic goes around the proxy",
		"fix": "remove sidecar.istio.io/interceptionMode: NONE or a template without capture (inject.istio.io/templates), and create the pod again",
	}
}

# The flags of istio-iptables (tools/istio-iptables/pkg/cmd/root.go), each
# spelling -> its short name and whether it takes a value.
# METADATA
# custom:
#   cel: {literal: true}
flag_spellings := [
	["-p", "--envoy-port", true],
	["-z", "--inbound-capture-port", true],
	["-u", "--proxy-uid", true],
	["-g", "--proxy-gid", true],
	["-m", "--istio-inbound-interception-mode", true],
	["-i", "--istio-service-cidr", true],
	["-x", "--istio-service-exclude-cidr", true],
	["-b", "--istio-inbound-ports", true],
	["-d", "--istio-local-exclude-ports", true],
	["-o", "--istio-local-outbound-ports-exclude", true],
	["-q", "--istio-include-outbound-ports", true],
	["-k", "--kube-virt-interfaces", true],
	["-c", "--istio-exclude-interfaces", true],
	["-n", "--dry-run", false],
	["--log_output_level", "--log_output_level", true],
	["--log_as_json", "--log_as_json", false],
	["--native-nftables", "--native-nftables", false],
	["--force-apply", "--force-apply", false],
	["--run-validation", "--run-validation", false],
	["--skip-rule-apply", "--skip-rule-apply", false],
	["--cleanup-only", "--cleanup-only", false],
	["--redirect-dns", "--redirect-dns", false],
	["--capture-all-dns", "--capture-all-dns", false],
	["--drop-invalid", "--drop-invalid", false],
]

# In CEL, the spellings as they are: what $mesh.flag_pairs reads.
# METADATA
# custom:
#   cel: $flag_spellings
iptables_flags := {spelling: {"name": f[0], "value": f[2]} |
	some f in flag_spellings
	some spelling in [f[0], f[1]]
}

# Each capture container's flags, parsed once per review.
capture_flags[path] := mesh.flags(capture_args(entry), iptables_flags) if {
	some entry in capturers
	path := capture_path(entry)
}

# The command line the injector writes (injection-template.yaml, istio-init):
# a capture container that has it exactly, but for the proxy's UID, the log
# level and the flags that change nothing captured, needs no flag-by-flag
# reading (the rules below are guarded by it; nearly every pod has it).
canonical_head := ["istio-iptables", "-p", "15001", "-z", "15006", "-u"]

canonical_middle := ["-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020"]

harmless_tail := {"--log_as_json", "--native-nftables", "--force-apply"}

# Held by container reference, not by path: read_flags asks for every flag
# rule, and building a path (strings, a formatted index) each time was a
# quarter of a Pod's evaluation in Wasm.
canonical_capture contains entry if {
	some entry in capturers
	args := capture_args(entry)
	array.slice(args, 0, 6) == canonical_head
	mesh.digits(args[6])
	array.slice(args, 7, 17) == canonical_middle
	every i, arg in array.slice(args, 17, count(args)) {
		canonical_tail(entry, i + 17, arg)
	}
	validates_if_validation(entry, args)
}

validates_if_validation(entry, _) if mesh.container(entry).name != "istio-validation"

validates_if_validation(_, args) if "--run-validation" in args

canonical_tail(_, _, arg) if startswith(arg, "--log_output_level=")

canonical_tail(_, _, arg) if arg in harmless_tail

# Istio CNI's validation container, and only it, adds these two.
canonical_tail(entry, _, arg) if {
	arg in {"--run-validation", "--skip-rule-apply"}
	mesh.container(entry).name == "istio-validation"
}

read_flags(entry) if not entry in canonical_capture

# METADATA
# description: A list of none or one value (Rego leaves it undefined without the flag).
# custom:
#   cel: >-
#     [$mesh.flag_pairs($capture_args(entry), $iptables_flags).filter(_p, _p[0] == name)]
#     .map(_v, size(_v) > 0 ? [_v[size(_v) - 1][1]] : [])[0]
flag(entry, name) := capture_flags[capture_path(entry)][name]

# What each capture setting must be, unless the spec grants the annotation
# the injector turns into it: [flag names, allowed value test, annotation].
# METADATA
# custom:
#   cel: {literal: true}
capture_settings := [
	{"flag": "-i", "wanted": "*", "annotation": "traffic.sidecar.istio.io/includeOutboundIPRanges", "what": "outbound IP ranges captured"},
	{"flag": "-b", "wanted": "*", "annotation": "traffic.sidecar.istio.io/includeInboundPorts", "what": "inbound ports captured"},
	{"flag": "-x", "wanted": "", "annotation": "traffic.sidecar.istio.io/excludeOutboundIPRanges", "what": "outbound IP ranges left out"},
	{"flag": "-o", "wanted": "", "annotation": "traffic.sidecar.istio.io/excludeOutboundPorts", "what": "outbound ports left out"},
	{"flag": "-c", "wanted": "", "annotation": "traffic.sidecar.istio.io/excludeInterfaces", "what": "interfaces left out"},
	{"flag": "-k", "wanted": "", "annotation": "traffic.sidecar.istio.io/kubevirtInterfaces", "what": "interfaces rerouted around the proxy"},
]

# METADATA
# custom:
#   cel: entry.container.?args.orValue([])
capture_args(entry) := object.get(mesh.container(entry), "args", [])

# METADATA
# custom:
#   cel: $k8s.container_path(entry.field, entry.index) + '.args'
capture_path(entry) := concat("", [mesh.container_path(entry), ".args"])

# METADATA
# title: capture-flags
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for:
#       - [entry, $capturers]
#       - [setting, $capture_settings]
#       - [value, "$flag(entry, setting.flag)"]
#     when: value != setting.wanted && !$mesh.granted(setting.annotation)
#     path: $capture_path(entry)
#     problem: >-
#       entry.container.name + ' captures less than the spec requires (' + setting.what + '): '
#       + setting.flag + ' ' + $k8s.show(value)
#     fix: >-
#       'remove ' + setting.annotation + ' (or what overrides ' + entry.container.name
#       + '), or grant it in spec.admission.exemptions'
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	read_flags(entry)
	some setting in capture_settings
	value := flag(entry, setting.flag)
	value != setting.wanted
	not mesh.granted(setting.annotation)
	finding := {
		"path": capture_path(entry),
		"problem": concat("", [mesh.container(entry).name, " captures less than the spec requires (", setting.what, "): ", setting.flag, " ", k8s.show(value)]),
		"fix": concat("", ["remove ", setting.annotation, " (or what overrides ", mesh.container(entry).name, "), or grant it in spec.admission.exemptions"]),
	}
}

# METADATA
# title: inbound-ports-left-out
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for:
#       - [entry, $capturers]
#       - [value, "$flag(entry, '-d')"]
#       - [port, $mesh.entries(value)]
#     when: >-
#       !(port in $own_ports) && !$mesh.granted('traffic.sidecar.istio.io/excludeInboundPorts')
#     path: $capture_path(entry)
#     problem: >-
#       entry.container.name + ' leaves an inbound port uncaptured that is not the proxy\'s own: '
#       + $k8s.show(port)
#     fix: >-
#       'remove traffic.sidecar.istio.io/excludeInboundPorts or a moved
#       status.sidecar.istio.io/port, or grant it in spec.admission.exemptions'
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	read_flags(entry)
	value := flag(entry, "-d")
	some port in mesh.entries(value)
	not port in own_ports
	not mesh.granted("traffic.sidecar.istio.io/excludeInboundPorts")
	finding := {
		"path": capture_path(entry),
		"problem": concat("", [mesh.container(entry).name, " leaves an inbound port uncaptured that is not the proxy's own: ", k8s.show(port)]),
		"fix": "remove traffic.sidecar.istio.io/excludeInboundPorts or a moved status.sidecar.istio.io/port, or grant it in spec.admission.exemptions",
	}
}

# METADATA
# title: proxy-ports
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for:
#       - [entry, $capturers]
#       - [flag, "['-p', '-z']"]
#       - [value, "$flag(entry, flag)"]
#     when: "value != {'-p': '15001', '-z': '15006'}[flag]"
#     path: $capture_path(entry)
#     problem: >-
#       entry.container.name + ' sends captured traffic to another port than the proxy listens on: '
#       + flag + ' ' + $k8s.show(value)
#     fix: >-
#       'leave ' + flag + ' ' + {'-p': '15001', '-z': '15006'}[flag] + ' as the injector writes it'
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	read_flags(entry)
	some name, wanted in {"-p": "15001", "-z": "15006"}
	value := flag(entry, name)
	value != wanted
	finding := {
		"path": capture_path(entry),
		"problem": concat("", [mesh.container(entry).name, " sends captured traffic to another port than the proxy listens on: ", name, " ", k8s.show(value)]),
		"fix": concat("", ["leave ", name, " ", wanted, " as the injector writes it"]),
	}
}

# METADATA
# title: capture-mode
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for:
#       - [entry, $capturers]
#       - [value, "$flag(entry, '-m')"]
#     when: "!$capturing_mode(value)"
#     path: $capture_path(entry)
#     problem: "entry.container.name + ' does not capture inbound traffic: -m ' + $k8s.show(value)"
#     fix: "'remove the interception mode override (REDIRECT and TPROXY capture)'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	read_flags(entry)
	value := flag(entry, "-m")
	not capturing_mode(value)
	finding := {
		"path": capture_path(entry),
		"problem": concat("", [mesh.container(entry).name, " does not capture inbound traffic: -m ", k8s.show(value)]),
		"fix": "remove the interception mode override (REDIRECT and TPROXY capture)",
	}
}

# METADATA
# title: unknown-capture-flag
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for:
#       - [entry, $capturers]
#       - [flag, "$mesh.unknown_flags($capture_args(entry), $iptables_flags)"]
#     path: $capture_path(entry)
#     problem: >-
#       entry.container.name + ' runs with an argument Istio\'s injector never writes: '
#       + $k8s.show(flag)
#     fix: "'remove the pod\\'s own ' + entry.container.name + ' container or proxy.istio.io/overrides'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	read_flags(entry)
	some unknown in mesh.unknown_flags(capture_args(entry), iptables_flags)
	finding := {
		"path": capture_path(entry),
		"problem": concat("", [mesh.container(entry).name, " runs with an argument Istio's injector never writes: ", k8s.show(unknown)]),
		"fix": concat("", ["remove the pod's own ", mesh.container(entry).name, " container or proxy.istio.io/overrides"]),
	}
}

# istio-init must really apply the rules; Istio CNI's istio-validation must
# really validate what the CNI plugin applied.
# METADATA
# custom:
#   cel: {literal: true}
not_applying := {
	"istio-init": ["--skip-rule-apply", "--run-validation", "-n", "--cleanup-only"],
	"istio-validation": ["-n", "--cleanup-only"],
}

# METADATA
# title: capture-rules-not-applied
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for:
#       - [entry, $capturers]
#       - [option, "$not_applying[?entry.container.?name.orValue('')].orValue([])"]
#     when: $flag(entry, option).exists(_v, _v != 'false')
#     path: $capture_path(entry)
#     problem: >-
#       entry.container.name + ' does not set up or check the capture rules: ' + $k8s.show(option)
#     fix: "'remove the pod\\'s own ' + entry.container.name + ' container or proxy.istio.io/overrides'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	read_flags(entry)
	name := mesh.container(entry).name
	some option in not_applying[name]
	flag(entry, option) != "false"
	finding := {
		"path": capture_path(entry),
		"problem": concat("", [name, " does not set up or check the capture rules: ", k8s.show(option)]),
		"fix": concat("", ["remove the pod's own ", name, " container or proxy.istio.io/overrides"]),
	}
}

# METADATA
# title: capture-rules-not-validated
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for: [[entry, "$mesh.mesh_containers('istio-validation')"]]
#     when: size($flag(entry, '--run-validation')) == 0
#     path: $capture_path(entry)
#     problem: >-
#       'istio-validation does not check the capture rules Istio CNI set up: no --run-validation'
#     fix: "'remove the pod\\'s own istio-validation container or proxy.istio.io/overrides'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in mesh.mesh_containers("istio-validation")
	read_flags(entry)
	not flag(entry, "--run-validation")
	finding := {
		"path": capture_path(entry),
		"problem": "istio-validation does not check the capture rules Istio CNI set up: no --run-validation",
		"fix": "remove the pod's own istio-validation container or proxy.istio.io/overrides",
	}
}

# METADATA
# title: capture-program-args
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for: [[entry, $capturers]]
#     when: size($capture_args(entry)) > 0 && $capture_args(entry)[0] != 'istio-iptables'
#     path: $capture_path(entry) + '[0]'
#     problem: >-
#       entry.container.name + ' does not run istio-iptables: ' + $k8s.show($capture_args(entry)[0])
#     fix: "'remove the pod\\'s own ' + entry.container.name + ' container or proxy.istio.io/overrides'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	read_flags(entry)
	mesh.container(entry).args[0] != "istio-iptables"
	finding := {
		"path": concat("", [capture_path(entry), "[0]"]),
		"problem": concat("", [mesh.container(entry).name, " does not run istio-iptables: ", k8s.show(mesh.container(entry).args[0])]),
		"fix": concat("", ["remove the pod's own ", mesh.container(entry).name, " container or proxy.istio.io/overrides"]),
	}
}

# METADATA
# title: capture-program-command
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for: [[entry, $capturers]]
#     when: has(entry.container.command)
#     path: $k8s.container_path(entry.field, entry.index) + '.command'
#     problem: >-
#       entry.container.name + ' runs another program than Istio\'s injector starts: '
#       + $k8s.show_fields(entry.container.command)
#     fix: "'remove the pod\\'s own ' + entry.container.name + ' container or proxy.istio.io/overrides'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	command := mesh.container(entry).command
	finding := {
		"path": concat("", [mesh.container_path(entry), ".command"]),
		"problem": concat("", [mesh.container(entry).name, " runs another program than Istio's injector starts: ", k8s.show_fields(command)]),
		"fix": concat("", ["remove the pod's own ", mesh.container(entry).name, " container or proxy.istio.io/overrides"]),
	}
}

# Environment istio-iptables reads for any flag not given as an argument
# (pkg/flag BindEnv; tools/istio-iptables/pkg/constants): each changes or
# disables what is captured.
# METADATA
# custom:
#   cel: {literal: true}
iptables_env := {
	"DRY_RUN", "SKIP_RULE_APPLY", "CLEANUP_ONLY", "PROXY_UID", "PROXY_GID",
	"ISTIO_SERVICE_CIDR", "ISTIO_SERVICE_EXCLUDE_CIDR", "ISTIO_INBOUND_PORTS",
	"ISTIO_LOCAL_EXCLUDE_PORTS", "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE", "ISTIO_EXCLUDE_INTERFACES",
	"KUBE_VIRT_INTERFACES", "ISTIO_OUTBOUND_OWNER_GROUPS", "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE",
	"ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR", "INBOUND_INTERCEPTION_MODE", "ENVOY_PORT",
	"INBOUND_CAPTURE_PORT", "ISTIO_META_DNS_CAPTURE",
}

# METADATA
# title: capture-environment
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for:
#       - [entry, $capturers]
#       - [i, env, "entry.container.?env.orValue([])"]
#     when: env.?name.orValue('') in $iptables_env
#     path: $k8s.container_path(entry.field, entry.index) + '.env[' + string(i) + ']'
#     problem: >-
#       entry.container.name + ' gets capture settings from its environment: ' + $k8s.show(env.name)
#     fix: "'remove proxyMetadata from proxy.istio.io/config (or the ProxyConfig) that sets it'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in capturers
	some i, env in object.get(mesh.container(entry), "env", [])
	env.name in iptables_env
	finding := {
		"path": concat("", [mesh.container_path(entry), ".env[", format_int(i, 10), "]"]),
		"problem": concat("", [mesh.container(entry).name, " gets capture settings from its environment: ", k8s.show(env.name)]),
		"fix": "remove proxyMetadata from proxy.istio.io/config (or the ProxyConfig) that sets it",
	}
}

# The proxy's UID is what the capture rules let through (-u, and -g, which
# defaults to -u): the proxy must run as it, and nothing else may.
# METADATA
# custom:
#   cel: >-
#     $capturers.filter(_e, $capture_user(_e).exists(_v, _v.matches('^[0-9]+$')))
#     .map(_e, @to_number($capture_user(_e)[0]))
init_uids contains to_number(value) if {
	some entry in capturers
	value := capture_user(entry)
	mesh.digits(value)
}

# METADATA
# description: A list of none or one value.
# custom:
#   cel: $flag(entry, '-u')
capture_user(entry) := capture_args(entry)[6] if {
	not read_flags(entry)
} else := flag(entry, "-u")

# -g defaults to -u (tools/common/config: ProxyGID falls back to ProxyUID).
# METADATA
# custom:
#   cel: >-
#     $capturers.filter(_e, $capture_group(_e).exists(_v, _v.matches('^[0-9]+$')))
#     .map(_e, @to_number($capture_group(_e)[0]))
init_gids contains to_number(value) if {
	some entry in capturers
	value := capture_group(entry)
	mesh.digits(value)
}

# METADATA
# description: A list of none or one value (none without -u, as in Rego).
# custom:
#   cel: >-
#     [$flag(entry, '-u')].map(_u, size(_u) == 0 ? _u
#     : [$flag(entry, '-g')].map(_g, size(_g) > 0 ? _g : _u)[0])[0]
capture_group(entry) := capture_args(entry)[6] if {
	not read_flags(entry)
} else := object.get(capture_flags[capture_path(entry)], "-g", flag(entry, "-u"))

# METADATA
# custom:
#   cel: $init_uids
extra_proxy_uids := init_uids

# METADATA
# custom:
#   cel: $init_gids
extra_proxy_gids := init_gids

# METADATA
# title: proxy-uid
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for:
#       - [entry, $proxies]
#       - [proxy_user, $init_uids]
#     when: >-
#       entry.container.?securityContext.?runAsUser.orValue(null) != 0
#       && entry.container.?securityContext.?runAsUser.orValue(null) != proxy_user
#     path: $k8s.container_path(entry.field, entry.index) + '.securityContext.runAsUser'
#     problem: >-
#       'istio-proxy does not run as the UID the capture rules let through ('
#       + @format_int(proxy_user) + '): '
#       + $k8s.show(entry.container.?securityContext.?runAsUser.orValue(null))
#     fix: "'remove the pod\\'s own istio-proxy securityContext override'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in proxies
	user := object.get(mesh.container(entry), ["securityContext", "runAsUser"], null)
	user != 0 # TPROXY: the proxy runs as root and is let through by its group
	some proxy_user in init_uids
	user != proxy_user
	finding := {
		"path": concat("", [mesh.container_path(entry), ".securityContext.runAsUser"]),
		"problem": concat("", ["istio-proxy does not run as the UID the capture rules let through (", format_int(proxy_user, 10), "): ", k8s.show(user)]),
		"fix": "remove the pod's own istio-proxy securityContext override",
	}
}

# METADATA
# title: proxy-disabled
# custom:
#   cel:
#     if: $mesh.outcome_visible
#     for:
#       - [entry, $proxies]
#       - [name, "['DISABLE_ENVOY', 'ISTIO_META_INTERCEPTION_MODE']"]
#       - [value, "$mesh.env_value(entry.container, name)"]
#     when: >-
#       @upper(value) in {'DISABLE_ENVOY': ['TRUE', '1'], 'ISTIO_META_INTERCEPTION_MODE': ['NONE']}[name]
#     path: $k8s.container_path(entry.field, entry.index) + '.env'
#     problem: "'istio-proxy is told not to proxy: ' + name + '=' + $k8s.show(value)"
#     fix: "'remove the override that sets it'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	some entry in proxies
	some name, values in {"DISABLE_ENVOY": {"TRUE", "1"}, "ISTIO_META_INTERCEPTION_MODE": {"NONE"}}
	value := mesh.env_value(mesh.container(entry), name)
	upper(value) in values
	finding := {
		"path": concat("", [mesh.container_path(entry), ".env"]),
		"problem": concat("", ["istio-proxy is told not to proxy: ", name, "=", k8s.show(value)]),
		"fix": "remove the override that sets it",
	}
}

# Istio's CNI plugin and the status annotation: the CNI sets up capture only
# for pods the injector marked (cni/pkg/plugin/plugin.go, doAddRun).
# METADATA
# title: no-injection-status
# custom:
#   cel:
#     when: >-
#       $mesh.outcome_visible && $proxy_runs && !('sidecar.istio.io/status' in $k8s.pod_annotations)
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.annotations', 'sidecar.istio.io/status')
#     problem: >-
#       'carries istio-proxy without the status Istio\'s injector writes: the proxy was not
#       injected by Istio, and Istio CNI sets up no capture for it: null'
#     fix: "'create the pod through Istio\\'s injector instead of writing istio-proxy into it'"
sidecar_findings contains finding if {
	mesh.outcome_visible
	proxy_runs
	not k8s.pod_annotations["sidecar.istio.io/status"]
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "sidecar.istio.io/status"),
		"problem": "carries istio-proxy without the status Istio's injector writes: the proxy was not injected by Istio, and Istio CNI sets up no capture for it: null",
		"fix": "create the pod through Istio's injector instead of writing istio-proxy into it",
	}
}

# Peers send plaintext to a pod whose tlsMode label says it has no proxy.
# METADATA
# title: tls-mode-label
# custom:
#   cel:
#     for: [[value, "@get($k8s.pod_labels, 'security.istio.io/tlsMode')"]]
#     when: value != 'istio'
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.labels', 'security.istio.io/tlsMode')
#     problem: "'tells the pod\\'s peers to send it plaintext: ' + $k8s.show(value)"
#     fix: "'remove the label: the injector sets it to \"istio\"'"
sidecar_findings contains finding if {
	value := k8s.pod_labels["security.istio.io/tlsMode"]
	value != "istio"
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.labels"]), "security.istio.io/tlsMode"),
		"problem": concat("", ["tells the pod's peers to send it plaintext: ", k8s.show(value)]),
		"fix": "remove the label: the injector sets it to \"istio\"",
	}
}

# --- intent: what makes the injector skip or weaken a pod not yet injected -----

# METADATA
# title: templates-without-capture
# custom:
#   cel:
#     if: $mesh.intent_only
#     for: [[value, "@get($k8s.pod_annotations, 'inject.istio.io/templates')"]]
#     when: "!('sidecar' in $mesh.entries(value))"
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.annotations', 'inject.istio.io/templates')
#     problem: "'injects templates without the sidecar\\'s traffic capture: ' + $k8s.show(value)"
#     fix: "'remove it, or include the sidecar template'"
sidecar_findings contains finding if {
	mesh.intent_only
	value := k8s.pod_annotations["inject.istio.io/templates"]
	not "sidecar" in mesh.entries(value)
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "inject.istio.io/templates"),
		"problem": concat("", ["injects templates without the sidecar's traffic capture: ", k8s.show(value)]),
		"fix": "remove it, or include the sidecar template",
	}
}

# METADATA
# title: proxy-config
# custom:
#   cel:
#     for: [[value, "@get($k8s.pod_annotations, 'proxy.istio.io/config')"]]
#     when: $weakening_proxy_config(value)
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.annotations', 'proxy.istio.io/config')
#     problem: >-
#       'sets the proxy\'s interception mode or capture settings (interceptionMode,
#       proxyMetadata): an object'
#     fix: "'remove interceptionMode and the capture variables of proxyMetadata from it'"
sidecar_findings contains finding if {
	value := k8s.pod_annotations["proxy.istio.io/config"]
	weakening_proxy_config(value)
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "proxy.istio.io/config"),
		"problem": "sets the proxy's interception mode or capture settings (interceptionMode, proxyMetadata): an object",
		"fix": "remove interceptionMode and the capture variables of proxyMetadata from it",
	}
}

# METADATA
# custom:
#   cel: >-
#     value.matches(r"""interceptionMode["']?\s*:\s*["']?NONE""")
#     || $iptables_env.exists(_n, value.contains(_n))
weakening_proxy_config(value) if regex.match(`interceptionMode["']?\s*:\s*["']?NONE`, value)

weakening_proxy_config(value) if {
	some name in iptables_env
	contains(value, name)
}

# METADATA
# title: status-port
# custom:
#   cel:
#     if: $mesh.intent_only
#     for: [[value, "@get($k8s.pod_annotations, 'status.sidecar.istio.io/port')"]]
#     when: "!(value in ['15020', '0'])"
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.annotations', 'status.sidecar.istio.io/port')
#     problem: >-
#       'moves the proxy\'s status port, which the capture rules leave out, onto another port: '
#       + $k8s.show(value)
#     fix: "'remove it (15020 is the proxy\\'s own)'"
sidecar_findings contains finding if {
	mesh.intent_only
	value := k8s.pod_annotations["status.sidecar.istio.io/port"]
	not value in {"15020", "0"}
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "status.sidecar.istio.io/port"),
		"problem": concat("", ["moves the proxy's status port, which the capture rules leave out, onto another port: ", k8s.show(value)]),
		"fix": "remove it (15020 is the proxy's own)",
	}
}

# METADATA
# title: proxy-replaced
# custom:
#   cel:
#     if: $mesh.intent_only
#     for:
#       - [key, "['sidecar.istio.io/proxyImage', 'proxy.istio.io/overrides', 'sidecar.istio.io/bootstrapOverride']"]
#       - [value, "@get($k8s.pod_annotations, key)"]
#     when: "!$genuine_image_setting(key, value)"
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.annotations', key)
#     problem: "'replaces part of the proxy Istio injects: ' + $k8s.show(value)"
#     fix: "'remove it'"
sidecar_findings contains finding if {
	some key in ["sidecar.istio.io/proxyImage", "proxy.istio.io/overrides", "sidecar.istio.io/bootstrapOverride"]
	mesh.intent_only
	value := k8s.pod_annotations[key]
	not genuine_image_setting(key, value)
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), key),
		"problem": concat("", ["replaces part of the proxy Istio injects: ", k8s.show(value)]),
		"fix": "remove it",
	}
}

# METADATA
# custom:
#   cel:
#     params: [key, value]
#     macro: key == 'sidecar.istio.io/proxyImage' && $mesh.mesh_image(value)
genuine_image_setting("sidecar.istio.io/proxyImage", value) if mesh.mesh_image(value)

# A manifest `istioctl kube-inject` wrote: the injector strips what it
# injected (it carries its status) and injects anew (stripPod).
# METADATA
# custom:
#   cel: "'sidecar.istio.io/status' in $k8s.pod_annotations"
reinjected if k8s.pod_annotations["sidecar.istio.io/status"]

# A pod's own istio-init or istio-validation is merged over the injected one
# (its args replace the injector's), and its own istio-proxy's user moves the
# UID the capture rules let through.
# METADATA
# title: capture-overridden
# custom:
#   cel:
#     if: $mesh.intent_only && !$reinjected
#     for:
#       - [entry, $mesh.containers]
#       - [key, "['args', 'command', 'env']"]
#     when: entry.container.?name.orValue('') in ['istio-init', 'istio-validation'] && key in entry.container
#     path: $k8s.container_path(entry.field, entry.index) + '.' + key
#     problem: "'overrides how ' + entry.container.name + ' sets up the capture rules: ' + key"
#     fix: "'remove the pod\\'s own ' + entry.container.name + ' container'"
sidecar_findings contains finding if {
	mesh.intent_only
	not reinjected
	some entry in mesh.containers
	mesh.container(entry).name in {"istio-init", "istio-validation"}
	some key in ["args", "command", "env"]
	_ = mesh.container(entry)[key]
	finding := {
		"path": concat("", [mesh.container_path(entry), ".", key]),
		"problem": concat("", ["overrides how ", mesh.container(entry).name, " sets up the capture rules: ", key]),
		"fix": concat("", ["remove the pod's own ", mesh.container(entry).name, " container"]),
	}
}

# METADATA
# title: proxy-user-overridden
# custom:
#   cel:
#     if: $mesh.intent_only && !$reinjected
#     for:
#       - [entry, $mesh.containers]
#       - [key, "['runAsUser', 'runAsGroup']"]
#     when: >-
#       entry.container.?name.orValue('') == 'istio-proxy'
#       && has(entry.container.securityContext) && key in entry.container.securityContext
#       && entry.container.securityContext[key] != $mesh.profile.proxy_uid
#     path: $k8s.container_path(entry.field, entry.index) + '.securityContext.' + key
#     problem: >-
#       'moves the UID or GID the capture rules let through, away from the proxy\'s own: '
#       + $k8s.show(entry.container.securityContext[key])
#     fix: "'remove it from the pod\\'s own istio-proxy container'"
sidecar_findings contains finding if {
	mesh.intent_only
	not reinjected
	some entry in mesh.containers
	mesh.container(entry).name == "istio-proxy"
	some key in ["runAsUser", "runAsGroup"]
	value := mesh.container(entry).securityContext[key]
	value != mesh.profile.proxy_uid
	finding := {
		"path": concat("", [mesh.container_path(entry), ".securityContext.", key]),
		"problem": concat("", ["moves the UID or GID the capture rules let through, away from the proxy's own: ", k8s.show(value)]),
		"fix": "remove it from the pod's own istio-proxy container",
	}
}

# --- injection-required in ambient namespaces -----------------------------------
#
# Ambient has no sidecar to verify: a pod is enrolled when Istio CNI redirects
# its traffic to ztunnel, which it does for every pod of a namespace labelled
# istio.io/dataplane-mode=ambient unless the pod's own label says none, the
# pod uses the node's network, or it runs a sidecar (istio/istio
# cni/pkg/util/enablement_selector.go, Matches; the enablementSelectors of
# manifests/charts/istio-cni/values.yaml). CNI records the outcome in the
# ambient.istio.io/redirection annotation only after the pod is created
# (cni/pkg/util/podutil.go, AnnotateEnrolledPod, through pods/status), so
# admission judges what decides enrollment, never the outcome itself.

# METADATA
# title: ambient-1
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	k8s.kind == "Namespace"
	value := object.get(k8s.labels, dataplane_label, null)
	value != "ambient"
	finding := {
		"path": k8s.key_path("metadata.labels", dataplane_label),
		"problem": concat("", ["takes an ambient namespace out of ztunnel's capture: ", k8s.show(value)]),
		"fix": "set it to \"ambient\", or move the namespace to sidecar in the spec (spec.namespaces[].dataplane)",
	}
}

# The injectors' namespace selectors: a pod there gets a sidecar, and CNI does
# not enroll a pod that has one.
# METADATA
# title: ambient-2
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	k8s.kind == "Namespace"
	some key in [injection_label, revision_label]
	value := k8s.labels[key]
	sidecar_marker(key, value)
	finding := {
		"path": k8s.key_path("metadata.labels", key),
		"problem": concat("", ["makes Istio inject sidecars in an ambient namespace, and ztunnel does not capture a pod with a sidecar: ", k8s.show(value)]),
		"fix": "remove it: the spec puts this namespace in ambient",
	}
}

sidecar_marker(key, value) if {
	key == injection_label
	value == "enabled"
}

sidecar_marker(key, value) if {
	key == revision_label
	value != ""
}

pod_label_path(key) := k8s.key_path(concat("", [k8s.pod_prefix, "metadata.labels"]), key)

pod_annotation_path(key) := k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), key)

# METADATA
# title: ambient-3
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	k8s.pod_labels[dataplane_label] == "none"
	finding := {
		"path": pod_label_path(dataplane_label),
		"problem": "opts the pod out of ambient, so ztunnel does not capture its traffic: \"none\"",
		"fix": "remove the label, or lift the finding for this workload in spec.admission.exceptions",
	}
}

# A pod that asks for a sidecar, or has one: CNI skips it (podHasSidecar).
# METADATA
# title: ambient-4
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	setting := inject_setting
	injects(setting.value)
	finding := {
		"path": setting.path,
		"problem": concat("", ["asks for a sidecar in an ambient namespace, and ztunnel does not capture a pod with a sidecar: ", k8s.show(setting.value)]),
		"fix": "remove it, or allow this workload a sidecar in spec.admission.exceptions",
	}
}

# METADATA
# title: ambient-5
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	value := k8s.pod_labels[revision_label]
	value != ""
	finding := {
		"path": pod_label_path(revision_label),
		"problem": concat("", ["asks a revision's injector for a sidecar in an ambient namespace, and ztunnel does not capture a pod with a sidecar: ", k8s.show(value)]),
		"fix": "remove it, or allow this workload a sidecar in spec.admission.exceptions",
	}
}

# METADATA
# title: ambient-6
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	k8s.pod_annotations["sidecar.istio.io/status"]
	finding := {
		"path": pod_annotation_path("sidecar.istio.io/status"),
		"problem": "runs Istio's sidecar in an ambient namespace, so ztunnel does not capture the pod",
		"fix": "create the pod without a sidecar, or allow this workload one in spec.admission.exceptions",
	}
}

# Go's strconv.ParseBool, which util.CheckBooleanAnnotation reads them with.
parse_true := {"1", "t", "T", "TRUE", "true", "True"}

parse_false := {"0", "f", "F", "FALSE", "false", "False"}

# Inbound traffic bypasses ztunnel ("ingress mode": cni/pkg/nodeagent/net.go,
# getPodLevelTrafficOverrides).
# METADATA
# title: ambient-7
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	value := k8s.pod_annotations["ambient.istio.io/bypass-inbound-capture"]
	value in parse_true
	not mesh.granted("ambient.istio.io/bypass-inbound-capture")
	finding := {
		"path": pod_annotation_path("ambient.istio.io/bypass-inbound-capture"),
		"problem": concat("", ["lets inbound traffic bypass ztunnel: ", k8s.show(value)]),
		"fix": "remove the annotation, or grant it to this workload in spec.admission.exemptions",
	}
}

# The spec's external hosts are ServiceEntries, which ambient pods resolve
# through ztunnel's DNS proxy.
# METADATA
# title: ambient-8
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	count(object.get(mesh.config, "egress_hosts", [])) > 0
	value := k8s.pod_annotations["ambient.istio.io/dns-capture"]
	value in parse_false
	not mesh.granted("ambient.istio.io/dns-capture")
	finding := {
		"path": pod_annotation_path("ambient.istio.io/dns-capture"),
		"problem": concat("", ["turns off ztunnel's DNS capture, which the spec's external hosts (spec.egress) rely on: ", k8s.show(value)]),
		"fix": "remove the annotation, or grant it to this workload in spec.admission.exemptions",
	}
}

# The waypoints the spec needs (rendered Service -> waypoint), by namespace.
spec_waypoints := object.get(mesh.config, ["waypoints", k8s.subject_namespace], {})

use_waypoint_label := "istio.io/use-waypoint"

# "none" opts an object out of every waypoint
# (pilot/pkg/serviceregistry/ambient/waypoints.go, GetUseWaypoint).
# METADATA
# title: ambient-9
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	count(spec_waypoints) > 0
	k8s.pod_labels[use_waypoint_label] == "none"
	finding := {
		"path": pod_label_path(use_waypoint_label),
		"problem": "skips the waypoint the spec's L7 features and rules need: \"none\"",
		"fix": "remove the label",
	}
}

# METADATA
# title: ambient-10
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	k8s.kind == "Namespace"
	count(spec_waypoints) > 0
	k8s.labels[use_waypoint_label] == "none"
	finding := {
		"path": k8s.key_path("metadata.labels", use_waypoint_label),
		"problem": "skips the waypoint the spec's L7 features and rules need: \"none\"",
		"fix": "remove the label",
	}
}

# METADATA
# title: ambient-11
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	k8s.group == ""
	k8s.kind == "Service"
	wanted := spec_waypoints[k8s.name]
	value := object.get(k8s.labels, use_waypoint_label, null)
	value != wanted
	finding := {
		"path": k8s.key_path("metadata.labels", use_waypoint_label),
		"problem": concat("", ["sends the service's traffic around its waypoint ", k8s.show(wanted), ", which the spec's L7 features and rules need: ", k8s.show(value)]),
		"fix": concat("", ["set it to ", k8s.show(wanted)]),
	}
}

# METADATA
# title: ambient-12
# custom:
#   cel:
#     unsupported: ambient enrollment is judged by the webhook only
ambient_findings contains finding if {
	k8s.group == ""
	k8s.kind == "Service"
	spec_waypoints[k8s.name]
	value := k8s.labels["istio.io/use-waypoint-namespace"]
	value != k8s.namespace
	finding := {
		"path": k8s.key_path("metadata.labels", "istio.io/use-waypoint-namespace"),
		"problem": concat("", ["sends the service's traffic to a waypoint in another namespace than the spec's: ", k8s.show(value)]),
		"fix": "remove the label",
	}
}

# --- mtls-strict ---------------------------------------------------------------

# A spec that is itself PERMISSIVE (a migration) still never accepts DISABLE.
# METADATA
# custom:
#   cel: {literal: true}
weaker_modes := {"STRICT": {"PERMISSIVE", "DISABLE"}, "PERMISSIVE": {"DISABLE"}}

# METADATA
# custom:
#   cel: $k8s.group == 'security.istio.io' && $k8s.kind == 'PeerAuthentication'
peer_authentication if {
	k8s.group == "security.istio.io"
	k8s.kind == "PeerAuthentication"
}

# Anywhere, including the mesh-wide policy in the root namespace.
# METADATA
# title: peer-authentication-mode
# custom:
#   cel:
#     if: $k8s.writing && $peer_authentication
#     for: [[mode, "@opt($k8s.resource.?spec.?mtls.?mode)"]]
#     when: mode in $weaker_modes[$mesh.config.mtls]
#     path: "'spec.mtls.mode'"
#     problem: >-
#       'accepts plaintext traffic where the spec requires mTLS ' + $mesh.config.mtls + ': '
#       + $k8s.show(mode)
#     fix: >-
#       'set it to ' + $k8s.show($mesh.config.mtls) + ', or remove it to inherit the mesh-wide mode'
mtls_findings contains finding if {
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
# METADATA
# title: peer-authentication-port
# custom:
#   cel:
#     if: $k8s.writing && $peer_authentication
#     for: [[port, setting, "$k8s.resource.?spec.?portLevelMtls.orValue({})"]]
#     when: $port_weaker(setting.?mode.orValue('UNSET'))
#     path: $k8s.key_path('spec.portLevelMtls', port) + '.mode'
#     problem: >-
#       'port ' + port + ' does not require mTLS: ' + $k8s.show(setting.?mode.orValue('UNSET'))
#     fix: >-
#       'set it to ' + $k8s.show($mesh.config.mtls) + ', or remove the port-level setting'
mtls_findings contains finding if {
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

# METADATA
# custom:
#   cel: ($mesh.config.mtls == 'STRICT' && mode != 'STRICT') || mode == 'DISABLE'
port_weaker(mode) if {
	mesh.config.mtls == "STRICT"
	mode != "STRICT"
}

port_weaker("DISABLE")

# Every traffic policy of a DestinationRule: top level, per port, per subset.
# METADATA
# custom:
#   cel: >-
#     @opt($k8s.resource.?spec.?trafficPolicy)
#     .map(_p, {'path': dyn('spec.trafficPolicy'), 'policy': dyn(_p)})
#     + $k8s.resource.?spec.?subsets.orValue([]).transformList(_i, _s, has(_s.trafficPolicy),
#     {'path': dyn('spec.subsets[' + string(_i) + '].trafficPolicy'), 'policy': dyn(_s.trafficPolicy)})
traffic_policies contains {"path": "spec.trafficPolicy", "policy": k8s.resource.spec.trafficPolicy}

traffic_policies contains {"path": concat("", ["spec.subsets[", format_int(i, 10), "].trafficPolicy"]), "policy": subset.trafficPolicy} if {
	some i, subset in k8s.resource.spec.subsets
}

# METADATA
# description: The TLS settings of one traffic policy.
# custom:
#   cel:
#     params: [tp]
#     macro: >-
#       @opt(tp.policy.?tls.?mode).map(_m, {'path': dyn(tp.path + '.tls.mode'), 'mode': dyn(_m)})
#       + tp.policy.?portLevelSettings.orValue([]).transformList(_i, _s, _s.?tls.?mode.hasValue(),
#       {'path': dyn(tp.path + '.portLevelSettings[' + string(_i) + '].tls.mode'),
#       'mode': dyn(_s.tls.mode)})
tls_settings contains {"path": concat("", [tp.path, ".tls.mode"]), "mode": tp.policy.tls.mode} if {
	some tp in traffic_policies
}

tls_settings contains {"path": concat("", [tp.path, ".portLevelSettings[", format_int(i, 10), "].tls.mode"]), "mode": setting.tls.mode} if {
	some tp in traffic_policies
	some i, setting in tp.policy.portLevelSettings
}

# DISABLE is plaintext to the host; only a host inside the mesh (a cluster
# service of a meshed namespace, or a wildcard that takes them in) requires
# mTLS. A database or API outside the mesh is reached as it speaks.
# METADATA
# title: destination-rule-tls
# custom:
#   cel:
#     if: $k8s.writing && $k8s.group == 'networking.istio.io' && $k8s.kind == 'DestinationRule'
#     for:
#       - [host, "$k8s.resource.?spec.?host.hasValue() ? [$k8s.resource.spec.host] : []"]
#       - [tp, $traffic_policies]
#       - [setting, $tls_settings(tp)]
#     when: setting.mode == 'DISABLE' && $host_in_mesh(host)
#     path: setting.path
#     problem: >-
#       'sends plaintext to ' + $k8s.show(host) + ', a service inside the mesh, which requires mTLS: '
#       + $k8s.show(setting.mode)
#     fix: "'remove it or set it to \"ISTIO_MUTUAL\"'"
mtls_findings contains finding if {
	k8s.writing
	k8s.group == "networking.istio.io"
	k8s.kind == "DestinationRule"
	host := k8s.resource.spec.host
	host_in_mesh(host)
	some setting in tls_settings
	setting.mode == "DISABLE"
	finding := {
		"path": setting.path,
		"problem": concat("", ["sends plaintext to ", k8s.show(host), ", a service inside the mesh, which requires mTLS: ", k8s.show(setting.mode)]),
		"fix": "remove it or set it to \"ISTIO_MUTUAL\"",
	}
}

# A host of a meshed namespace: <svc>.<ns>.svc[.<domain>], *.<ns>.svc..., <svc>.<ns>
# for a namespace the spec knows, or a short name in the rule's own namespace.
# METADATA
# custom:
#   cel: >-
#     type(host) == string && ($host_namespace(host).exists(_n, $mesh.meshed(_n))
#     || (!host.contains('.') && host != '*' && $mesh.meshed($k8s.namespace))
#     || host == '*'
#     || host in ['*.svc', '*.svc.cluster.local', '*.cluster.local', '*.local'])
host_in_mesh(host) if mesh.meshed(host_namespace(host))

host_in_mesh(host) if {
	is_string(host)
	not contains(host, ".")
	host != "*"
	mesh.meshed(k8s.namespace)
}

# Wildcards that take in every namespace's services.
host_in_mesh("*")

host_in_mesh(host) if {
	is_string(host)
	startswith(host, "*.")
	every_namespace_suffix(substring(host, 2, -1))
}

every_namespace_suffix(suffix) if suffix in {"svc", "svc.cluster.local", "cluster.local", "local"}

# --- allowed-namespaces ----------------------------------------------------------

# METADATA
# custom:
#   cel: >-
#     $inject_setting.filter(_s, $injects(_s.value))
#     + ($k8s.pod_labels[?$revision_label].orValue('') != ''
#       ? dyn([{'path': $k8s.key_path($k8s.pod_prefix + 'metadata.labels', $revision_label),
#               'value': string($k8s.pod_labels[$revision_label])}])
#       : [])
injection_requests contains setting if {
	setting := inject_setting
	injects(setting.value)
}

# A pod labelled with a revision is injected by that revision's injector in a
# namespace without injection labels (the revision webhooks' object selector).
injection_requests contains setting if {
	value := k8s.pod_labels[revision_label]
	value != ""
	setting := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.labels"]), revision_label), "value": value}
}

# METADATA
# custom:
#   cel: $mesh.config.allowed_namespaces.join(', ')
allowed_list := concat(", ", sort(mesh.config.allowed_namespaces))

# ALLOW authorization in the mesh (its namespaces, or mesh-wide from the root
# namespace) may only admit callers from the allowed namespaces.
# METADATA
# custom:
#   cel: >-
#     $k8s.writing && $k8s.group == 'security.istio.io' && $k8s.kind == 'AuthorizationPolicy'
#     && has($k8s.resource.spec) && $k8s.resource.spec.?action.orValue('ALLOW') == 'ALLOW'
#     && $in_mesh($k8s.namespace)
authorization_in_mesh if {
	k8s.writing
	k8s.group == "security.istio.io"
	k8s.kind == "AuthorizationPolicy"
	object.get(k8s.resource.spec, "action", "ALLOW") == "ALLOW"
	in_mesh(k8s.namespace)
}

# METADATA
# custom:
#   cel: ns in $mesh.config.meshed_namespaces || ns == 'istio-system'
in_mesh(ns) if ns in mesh.config.meshed_namespaces

in_mesh("istio-system")

# METADATA
# title: authorization-rule-without-from
# custom:
#   cel:
#     if: $authorization_in_mesh
#     for: [[i, rule, "$k8s.resource.spec.?rules.orValue([])"]]
#     when: size(rule.?from.orValue([])) == 0
#     path: "'spec.rules[' + string(i) + ']'"
#     problem: "'the rule has no from, so it admits callers from every namespace'"
#     fix: >-
#       'add from.source.namespaces or principals within the allowed namespaces ('
#       + $allowed_list + ')'
allowed_namespaces_findings contains finding if {
	authorization_in_mesh
	some i, rule in k8s.resource.spec.rules
	count(object.get(rule, "from", [])) == 0
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "]"]),
		"problem": "the rule has no from, so it admits callers from every namespace",
		"fix": concat("", ["add from.source.namespaces or principals within the allowed namespaces (", allowed_list, ")"]),
	}
}

# METADATA
# title: authorization-source-open
# custom:
#   cel:
#     if: $authorization_in_mesh
#     for:
#       - [i, rule, "$k8s.resource.spec.?rules.orValue([])"]
#       - [j, from, "rule.?from.orValue([])"]
#     when: >-
#       size(from.?source.?namespaces.orValue([])) + size(from.?source.?principals.orValue([])) == 0
#     path: "'spec.rules[' + string(i) + '].from[' + string(j) + '].source'"
#     problem: >-
#       'the source names no namespace or principal, so it admits callers from every namespace: '
#       + $k8s.show_fields(from.?source.orValue({}))
#     fix: >-
#       'add namespaces or principals within the allowed namespaces (' + $allowed_list + ')'
allowed_namespaces_findings contains finding if {
	authorization_in_mesh
	some i, rule in k8s.resource.spec.rules
	some j, from in rule.from
	source := object.get(from, "source", {})
	count(object.get(source, "namespaces", [])) + count(object.get(source, "principals", [])) == 0
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "].from[", format_int(j, 10), "].source"]),
		"problem": concat("", ["the source names no namespace or principal, so it admits callers from every namespace: ", k8s.show_fields(source)]),
		"fix": concat("", ["add namespaces or principals within the allowed namespaces (", allowed_list, ")"]),
	}
}

# METADATA
# title: authorization-source-namespace
# custom:
#   cel:
#     if: $authorization_in_mesh
#     for:
#       - [i, rule, "$k8s.resource.spec.?rules.orValue([])"]
#       - [j, from, "rule.?from.orValue([])"]
#       - [k, ns, "from.?source.?namespaces.orValue([])"]
#     when: "!(ns in $mesh.config.allowed_namespaces)"
#     path: >-
#       'spec.rules[' + string(i) + '].from[' + string(j) + '].source.namespaces[' + string(k) + ']'
#     problem: "'admits callers outside the allowed namespaces: ' + $k8s.show(ns)"
#     fix: "'name only allowed namespaces (' + $allowed_list + ')' + $gateway_fix"
allowed_namespaces_findings contains finding if {
	authorization_in_mesh
	some i, rule in k8s.resource.spec.rules
	some j, from in rule.from
	some k, ns in from.source.namespaces
	not ns in mesh.config.allowed_namespaces
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "].from[", format_int(j, 10), "].source.namespaces[", format_int(k, 10), "]"]),
		"problem": concat("", ["admits callers outside the allowed namespaces: ", k8s.show(ns)]),
		"fix": concat("", ["name only allowed namespaces (", allowed_list, ")", gateway_fix]),
	}
}

# METADATA
# title: authorization-source-principal
# custom:
#   cel:
#     if: $authorization_in_mesh
#     for:
#       - [i, rule, "$k8s.resource.spec.?rules.orValue([])"]
#       - [j, from, "rule.?from.orValue([])"]
#       - [k, principal, "from.?source.?principals.orValue([])"]
#     when: "!$principal_allowed(principal)"
#     path: >-
#       'spec.rules[' + string(i) + '].from[' + string(j) + '].source.principals[' + string(k) + ']'
#     problem: "'admits callers outside the allowed namespaces: ' + $k8s.show(principal)"
#     fix: >-
#       'use <trust-domain>/ns/<namespace>/sa/<account> with an allowed namespace ('
#       + $allowed_list + ')' + $gateway_fix
allowed_namespaces_findings contains finding if {
	authorization_in_mesh
	some i, rule in k8s.resource.spec.rules
	some j, from in rule.from
	some k, principal in from.source.principals
	not principal_allowed(principal)
	finding := {
		"path": concat("", ["spec.rules[", format_int(i, 10), "].from[", format_int(j, 10), "].source.principals[", format_int(k, 10), "]"]),
		"problem": concat("", ["admits callers outside the allowed namespaces: ", k8s.show(principal)]),
		"fix": concat("", ["use <trust-domain>/ns/<namespace>/sa/<account> with an allowed namespace (", allowed_list, ")", gateway_fix]),
	}
}

# <trust-domain>/ns/<namespace>/sa/<service-account>; a wildcard or any other
# shape leaves the namespace open.
# METADATA
# custom:
#   cel: >-
#     [principal.split('/')].map(_p, size(_p) >= 3 && _p[1] == 'ns'
#     && (_p[2] in $mesh.config.allowed_namespaces
#         || (size(_p) == 5 && _p[3] == 'sa' && $mesh.config.ingress_gateways.exists(_g,
#             _g.namespace == _p[2] && _g.service_account == _p[4]))))[0]
principal_allowed(principal) if {
	parts := split(principal, "/")
	count(parts) >= 3
	parts[1] == "ns"
	parts[2] in mesh.config.allowed_namespaces
}

# An ingress gateway the spec declares (spec.ingress[].gateway): its own
# service account, and no other account of its namespace.
principal_allowed(principal) if {
	parts := split(principal, "/")
	count(parts) == 5
	parts[1] == "ns"
	parts[3] == "sa"
	some gateway in mesh.config.ingress_gateways
	parts[2] == gateway.namespace
	parts[4] == gateway.service_account
}

# METADATA
# custom:
#   cel: {literal: true}
gateway_fix := "; an ingress gateway is admitted by its principal once spec.ingress[].gateway declares it, without allowing its namespace"

# Routing for another namespace's service: a VirtualService or ServiceEntry
# whose host is a service of namespace B, written in namespace A and exported
# beyond A (Istio's default exportTo is "*"), changes how clients in every
# namespace it is exported to reach B.
# METADATA
# custom:
#   cel: {literal: true}
routing_kinds := {"VirtualService", "ServiceEntry"}

# METADATA
# title: routing-for-another-namespace
# custom:
#   cel:
#     if: >-
#       $k8s.writing && $k8s.group == 'networking.istio.io' && $k8s.kind in $routing_kinds
#       && !$gateway_only && $exported_beyond_own_namespace
#     for:
#       - [i, host, "$k8s.resource.?spec.?hosts.orValue([])"]
#       - [owner, $host_namespace(host)]
#     when: owner != $k8s.namespace
#     path: "'spec.hosts[' + string(i) + ']'"
#     problem: >-
#       'routes traffic for a service of another namespace, for clients beyond this one: '
#       + $k8s.show(host)
#     fix: >-
#       'set spec.exportTo to [".\"] to route only this namespace\'s clients, or '
#       + $write_elsewhere(owner)
allowed_namespaces_findings contains finding if {
	k8s.writing
	k8s.group == "networking.istio.io"
	k8s.kind in routing_kinds
	not gateway_only
	exported_beyond_own_namespace
	some i, host in k8s.resource.spec.hosts
	owner := host_namespace(host)
	owner != k8s.namespace
	finding := {
		"path": concat("", ["spec.hosts[", format_int(i, 10), "]"]),
		"problem": concat("", ["routes traffic for a service of another namespace, for clients beyond this one: ", k8s.show(host)]),
		"fix": concat("", ["set spec.exportTo to [\".\"] to route only this namespace's clients, or ", write_elsewhere(owner)]),
	}
}

write_elsewhere("*") := "name only this namespace's services in spec.hosts"

# METADATA
# custom:
#   cel: >-
#     owner == '*' ? 'name only this namespace\'s services in spec.hosts'
#     : 'write it in ' + $k8s.show(owner)
write_elsewhere(owner) := concat("", ["write it in ", k8s.show(owner)]) if owner != "*"

# METADATA
# custom:
#   cel: >-
#     !$k8s.resource.?spec.?exportTo.hasValue()
#     || $k8s.resource.spec.exportTo.exists(_t, _t != '.' && _t != $k8s.namespace)
exported_beyond_own_namespace if not k8s.resource.spec.exportTo

# A VirtualService bound to gateways only (spec.gateways without "mesh") routes
# the requests those gateways receive, never a sidecar's
# (networking/v1alpha3/virtual_service.proto, gateways): no namespace's
# clients reach another's service through it (an ingress's VirtualService).
# A ServiceEntry has no gateways and always applies.
# METADATA
# custom:
#   cel: >-
#     $k8s.kind == 'VirtualService' && $k8s.resource.?spec.?gateways.orValue([]).size() > 0
#     && !('mesh' in $k8s.resource.?spec.?gateways.orValue([]))
gateway_only if {
	k8s.kind == "VirtualService"
	gateways := object.get(k8s.resource.spec, "gateways", [])
	count(gateways) > 0
	not "mesh" in gateways
}

exported_beyond_own_namespace if {
	some target in k8s.resource.spec.exportTo
	not target in {".", k8s.namespace}
}

# The namespace a host names: <svc>.<ns>.svc[.<domain>], *.<ns>.svc[.<domain>],
# <svc>.<ns> for a namespace the spec knows, and "*" (every host) as the
# namespace "*". A short name is the object's own namespace; an external
# host names none.
# METADATA
# description: A list of none or one namespace (Rego leaves it undefined).
# custom:
#   cel: >-
#     [host.split('.')].map(_p, (size(_p) >= 3 && _p[2] == 'svc') ? [_p[1]]
#     : ((size(_p) == 2 && _p[1] in $known_namespaces) ? [_p[1]]
#     : (host == '*' ? ['*'] : [])))[0]
host_namespace(host) := parts[1] if {
	parts := split(host, ".")
	count(parts) >= 3
	parts[2] == "svc"
} else := parts[1] if {
	parts := split(host, ".")
	count(parts) == 2
	parts[1] in known_namespaces
} else := "*" if {
	host == "*"
}

# METADATA
# custom:
#   cel: >-
#     $mesh.config.meshed_namespaces + $mesh.config.allowed_namespaces
#     + $mesh.config.exempt_namespaces
known_namespaces := {ns | some list in [mesh.config.meshed_namespaces, mesh.config.allowed_namespaces, mesh.config.exempt_namespaces]; some ns in list}
