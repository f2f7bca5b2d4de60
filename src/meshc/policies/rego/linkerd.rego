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
# METADATA
# custom:
#   cel: dyn(value) in ['enabled', 'ingress']
injects(value) if value in {"enabled", "ingress"}

# METADATA
# description: A list of none or one setting (Rego leaves it undefined).
# custom:
#   cel: >-
#     'linkerd.io/inject' in $k8s.pod_annotations
#     ? [{'path': dyn($k8s.key_path($k8s.pod_prefix + 'metadata.annotations', 'linkerd.io/inject')),
#     'value': dyn($k8s.pod_annotations['linkerd.io/inject'])}] : []
inject_setting := {"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "linkerd.io/inject"), "value": v} if {
	v := k8s.pod_annotations["linkerd.io/inject"]
}

# METADATA
# title: opt-out
# custom:
#   cel:
#     for: [[setting, $inject_setting]]
#     when: "!$injects(setting.value)"
#     path: setting.path
#     problem: "'opts the pod out of proxy injection: ' + $k8s.show(setting.value)"
#     fix: >-
#       'remove it or set it to "enabled": every pod in a meshed namespace runs the proxy'
injection_findings contains finding if {
	setting := inject_setting
	not injects(setting.value)
	finding := {
		"path": setting.path,
		"problem": concat("", ["opts the pod out of proxy injection: ", k8s.show(setting.value)]),
		"fix": "remove it or set it to \"enabled\": every pod in a meshed namespace runs the proxy",
	}
}

# METADATA
# title: namespace-marker
# custom:
#   cel:
#     when: >-
#       $k8s.kind == 'Namespace' && !$injects($k8s.annotations[?'linkerd.io/inject'].orValue(null))
#     path: $k8s.key_path('metadata.annotations', 'linkerd.io/inject')
#     problem: >-
#       'disables proxy injection in a meshed namespace: '
#       + $k8s.show($k8s.annotations[?'linkerd.io/inject'].orValue(null))
#     fix: "'set it to \"enabled\", or remove the namespace from spec.namespaces'"
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

# METADATA
# custom:
#   cel: "[]"
injector_written := set()

# --- the injected pod: what the cluster will run -------------------------------
#
# Sources: linkerd/linkerd2 pkg/inject and charts/partials (the proxy and
# proxy-init templates), linkerd/linkerd2-proxy-init (the capture flags).
# Linkerd's injector fails open (webhookFailurePolicy: Ignore), so a pod it
# never saw reaches this webhook too.

# METADATA
# custom:
#   cel: $mesh.mesh_containers('linkerd-proxy')
proxies := mesh.mesh_containers("linkerd-proxy")

# METADATA
# custom:
#   cel: $mesh.mesh_containers('linkerd-init')
inits := mesh.mesh_containers("linkerd-init")

# METADATA
# custom:
#   cel: $mesh.mesh_containers('linkerd-network-validator')
validators := mesh.mesh_containers("linkerd-network-validator")

# METADATA
# custom:
#   cel: $proxies.exists(_e, $mesh.long_running(_e))
proxy_runs if {
	some entry in proxies
	mesh.long_running(entry)
}

# What the rules below judge as it will run: a Pod at admission, and any pod
# (or template) that already carries Linkerd's proxy, such as the output of
# `linkerd inject --manual`: the injector leaves a pod with a proxy as it is.
# METADATA
# custom:
#   cel: $mesh.outcome_visible || ($mesh.intent_only && size($proxies) > 0)
judged_as_run if mesh.outcome_visible

judged_as_run if {
	mesh.intent_only
	count(proxies) > 0
}

# METADATA
# title: no-proxy
# custom:
#   cel:
#     when: $judged_as_run && !$proxy_runs
#     path: $k8s.pod_prefix + 'spec.containers'
#     problem: >-
#       'runs without Linkerd\'s proxy: no linkerd-proxy container (or native sidecar) with
#       Linkerd\'s image, so the injector skipped the pod, was told not to inject, or was not
#       reached (it fails open)'
#     fix: >-
#       'remove what opts the pod out of injection (linkerd.io/inject, the injector\'s excluded
#       labels, a preset linkerd-proxy) and create it again through the injector'
injection_findings contains finding if {
	judged_as_run
	not proxy_runs
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.containers"]),
		"problem": "runs without Linkerd's proxy: no linkerd-proxy container (or native sidecar) with Linkerd's image, so the injector skipped the pod, was told not to inject, or was not reached (it fails open)",
		"fix": "remove what opts the pod out of injection (linkerd.io/inject, the injector's excluded labels, a preset linkerd-proxy) and create it again through the injector",
	}
}

# METADATA
# title: no-capture
# custom:
#   cel:
#     when: $judged_as_run && $proxy_runs && size($inits) + size($validators) == 0
#     path: $k8s.pod_prefix + 'spec.initContainers'
#     problem: >-
#       'runs Linkerd\'s proxy with nothing capturing its traffic: no linkerd-init or
#       linkerd-network-validator (Linkerd CNI) container'
#     fix: "'create the pod again through the injector'"
injection_findings contains finding if {
	judged_as_run
	proxy_runs
	count(inits) + count(validators) == 0
	finding := {
		"path": concat("", [k8s.pod_prefix, "spec.initContainers"]),
		"problem": "runs Linkerd's proxy with nothing capturing its traffic: no linkerd-init or linkerd-network-validator (Linkerd CNI) container",
		"fix": "create the pod again through the injector",
	}
}

# The flags of linkerd2-proxy-init (linkerd2-proxy-init proxy-init/cmd/root.go):
# name -> whether it takes a value.
# METADATA
# custom:
#   cel: {literal: true}
init_flag_spellings := {
	"--incoming-proxy-port": true,
	"--outgoing-proxy-port": true,
	"--proxy-uid": true,
	"--proxy-gid": true,
	"--inbound-ports-to-ignore": true,
	"--outbound-ports-to-ignore": true,
	"--subnets-to-ignore": true,
	"--firewall-bin-path": true,
	"--firewall-save-bin-path": true,
	"--iptables-mode": true,
	"--log-level": true,
	"--log-format": true,
	"--ipv6": false,
	"--timeout": true,
}

# In CEL, [name, name, takes a value]: what $mesh.flag_pairs reads.
# METADATA
# custom:
#   cel: "$init_flag_spellings.map(_n, [dyn(_n), dyn(_n), dyn($init_flag_spellings[_n])])"
init_flags := {name: {"name": name, "value": takes} | some name, takes in init_flag_spellings}

# Each linkerd-init's flags, parsed once per review.
parsed_init_flags[path] := mesh.flags(init_args(entry), init_flags) if {
	some entry in inits
	path := init_path(entry)
}

# METADATA
# description: A list of none or one value (Rego leaves it undefined without the flag).
# custom:
#   cel: >-
#     [$mesh.flag_pairs($init_args(entry), $init_flags).filter(_p, _p[0] == name)]
#     .map(_v, size(_v) > 0 ? [_v[size(_v) - 1][1]] : [])[0]
init_flag(entry, name) := parsed_init_flags[init_path(entry)][name]

# Ports the injector leaves out of capture by default (the proxy's admin and
# control ports; linkerd-control-plane values proxyInit.ignore*Ports).
# METADATA
# custom:
#   cel: {literal: true}
ignored_by_default := {
	"inbound": {"4190", "4191", "4567", "4568"},
	"outbound": {"4567", "4568"},
}

# METADATA
# custom:
#   cel: entry.container.?args.orValue([])
init_args(entry) := object.get(mesh.container(entry), "args", [])

# METADATA
# custom:
#   cel: $k8s.container_path(entry.field, entry.index) + '.args'
init_path(entry) := concat("", [mesh.container_path(entry), ".args"])

# METADATA
# title: ports-left-out
# custom:
#   cel:
#     if: $judged_as_run
#     for:
#       - [entry, $inits]
#       - [direction, "['inbound', 'outbound']"]
#       - [value, "$init_flag(entry, '--' + direction + '-ports-to-ignore')"]
#       - [port, $mesh.entries(value)]
#     when: >-
#       !(port in $ignored_by_default[direction])
#       && !$mesh.granted('config.linkerd.io/skip-' + direction + '-ports')
#     path: $init_path(entry)
#     problem: >-
#       'linkerd-init leaves an ' + direction + ' port uncaptured that is not the proxy\'s own: '
#       + $k8s.show(port)
#     fix: >-
#       'remove config.linkerd.io/skip-' + direction + '-ports (on the pod or its namespace), or
#       grant it in spec.admission.exemptions'
injection_findings contains finding if {
	judged_as_run
	some entry in inits
	some direction, allowed in ignored_by_default
	flag := concat("", ["--", direction, "-ports-to-ignore"])
	some port in mesh.entries(init_flag(entry, flag))
	not port in allowed
	not mesh.granted(concat("", ["config.linkerd.io/skip-", direction, "-ports"]))
	finding := {
		"path": init_path(entry),
		"problem": concat("", ["linkerd-init leaves an ", direction, " port uncaptured that is not the proxy's own: ", k8s.show(port)]),
		"fix": concat("", ["remove config.linkerd.io/skip-", direction, "-ports (on the pod or its namespace), or grant it in spec.admission.exemptions"]),
	}
}

# METADATA
# title: subnets-left-out
# custom:
#   cel:
#     if: $judged_as_run
#     for:
#       - [entry, $inits]
#       - [value, "$init_flag(entry, '--subnets-to-ignore')"]
#     when: >-
#       size($mesh.entries(value)) > 0 && !$mesh.granted('config.linkerd.io/skip-subnets')
#     path: $init_path(entry)
#     problem: "'linkerd-init lets traffic from these subnets around the proxy: ' + $k8s.show(value)"
#     fix: >-
#       'remove config.linkerd.io/skip-subnets (on the pod or its namespace), or grant it in
#       spec.admission.exemptions'
injection_findings contains finding if {
	judged_as_run
	some entry in inits
	value := init_flag(entry, "--subnets-to-ignore")
	count(mesh.entries(value)) > 0
	not mesh.granted("config.linkerd.io/skip-subnets")
	finding := {
		"path": init_path(entry),
		"problem": concat("", ["linkerd-init lets traffic from these subnets around the proxy: ", k8s.show(value)]),
		"fix": "remove config.linkerd.io/skip-subnets (on the pod or its namespace), or grant it in spec.admission.exemptions",
	}
}

# METADATA
# title: proxy-ports
# custom:
#   cel:
#     if: $judged_as_run
#     for:
#       - [entry, $inits]
#       - [flag, "['--incoming-proxy-port', '--outgoing-proxy-port']"]
#       - [value, "$init_flag(entry, flag)"]
#     when: "value != {'--incoming-proxy-port': '4143', '--outgoing-proxy-port': '4140'}[flag]"
#     path: $init_path(entry)
#     problem: >-
#       'linkerd-init sends captured traffic to another port than the proxy listens on: ' + flag
#       + ' ' + $k8s.show(value)
#     fix: >-
#       'leave ' + flag + ' ' + {'--incoming-proxy-port': '4143', '--outgoing-proxy-port': '4140'}[flag]
#       + ' as the injector writes it'
injection_findings contains finding if {
	judged_as_run
	some entry in inits
	some flag, wanted in {"--incoming-proxy-port": "4143", "--outgoing-proxy-port": "4140"}
	value := init_flag(entry, flag)
	value != wanted
	finding := {
		"path": init_path(entry),
		"problem": concat("", ["linkerd-init sends captured traffic to another port than the proxy listens on: ", flag, " ", k8s.show(value)]),
		"fix": concat("", ["leave ", flag, " ", wanted, " as the injector writes it"]),
	}
}

# METADATA
# title: unknown-init-flag
# custom:
#   cel:
#     if: $judged_as_run
#     for:
#       - [entry, $inits]
#       - [flag, "$mesh.unknown_flags($init_args(entry), $init_flags)"]
#     path: $init_path(entry)
#     problem: >-
#       'linkerd-init runs with an argument Linkerd\'s injector never writes: ' + $k8s.show(flag)
#     fix: "'create the pod through the injector, with no linkerd-init of its own'"
injection_findings contains finding if {
	judged_as_run
	some entry in inits
	some unknown in mesh.unknown_flags(init_args(entry), init_flags)
	finding := {
		"path": init_path(entry),
		"problem": concat("", ["linkerd-init runs with an argument Linkerd's injector never writes: ", k8s.show(unknown)]),
		"fix": "create the pod through the injector, with no linkerd-init of its own",
	}
}

# The init runs from the proxy image (edge-25.11.3 and later, with this
# command) or the proxy-init image (no command).
# METADATA
# custom:
#   cel: {literal: true}
init_commands := {"/usr/lib/linkerd/linkerd2-proxy-init", "/usr/lib/linkerd/linkerd2-network-validator"}

# METADATA
# title: init-program
# custom:
#   cel:
#     if: $judged_as_run
#     for: [[entry, $inits + $validators]]
#     when: >-
#       size(entry.container.?command.orValue([])) > 0
#       && !$allowed_command(entry.container.command)
#     path: $k8s.container_path(entry.field, entry.index) + '.command'
#     problem: >-
#       entry.container.name + ' runs another program than Linkerd\'s injector starts: '
#       + $k8s.show(entry.container.command[0])
#     fix: "'create the pod through the injector'"
injection_findings contains finding if {
	judged_as_run
	some entry in array.concat(inits, validators)
	some i, part in mesh.container(entry).command
	not allowed_command(mesh.container(entry).command)
	i == 0
	finding := {
		"path": concat("", [mesh.container_path(entry), ".command"]),
		"problem": concat("", [mesh.container(entry).name, " runs another program than Linkerd's injector starts: ", k8s.show(part)]),
		"fix": "create the pod through the injector",
	}
}

# METADATA
# custom:
#   cel: size(command) == 1 && command[0] in $init_commands
allowed_command(command) if {
	count(command) == 1
	command[0] in init_commands
}

# The proxy's UID and GID are what the capture rules let through
# (--proxy-uid, --proxy-gid): the proxy must run as them, nothing else may.
# METADATA
# custom:
#   cel: >-
#     $inits.filter(_e, $init_flag(_e, '--proxy-uid')
#     .exists(_v, _v.matches('^[0-9]+$')))
#     .map(_e, @to_number($init_flag(_e, '--proxy-uid')[0]))
init_uids contains to_number(value) if {
	some entry in inits
	value := init_flag(entry, "--proxy-uid")
	mesh.digits(value)
}

# METADATA
# description: >-
#   to_number of an annotation with blanks around its digits fails in OPA's
#   Wasm runtime (the webhook's engine), so only digits alone count.
# custom:
#   cel: >-
#     $inits.filter(_e, $init_flag(_e, '--proxy-gid')
#     .exists(_v, _v.matches('^[0-9]+$')))
#     .map(_e, @to_number($init_flag(_e, '--proxy-gid')[0]))
#     + @get($k8s.pod_annotations, 'config.linkerd.io/proxy-gid')
#     .filter(_v, _v.matches('^[0-9]+$')).map(_v, @to_number(_v))
extra_proxy_gids contains to_number(value) if {
	some entry in inits
	value := init_flag(entry, "--proxy-gid")
	mesh.digits(value)
}

# config.linkerd.io/proxy-gid: on the pod before injection, in the init's
# arguments after, and read by Linkerd CNI from the pod at sandbox creation.
extra_proxy_gids contains to_number(value) if {
	value := k8s.pod_annotations["config.linkerd.io/proxy-gid"]
	mesh.digits(trim_space(value))
}

# METADATA
# title: proxy-uid
# custom:
#   cel:
#     if: $judged_as_run
#     for:
#       - [entry, $proxies]
#       - [proxy_user, $init_uids]
#     when: entry.container.?securityContext.?runAsUser.orValue(null) != proxy_user
#     path: $k8s.container_path(entry.field, entry.index) + '.securityContext.runAsUser'
#     problem: >-
#       'linkerd-proxy does not run as the UID the capture rules let through ('
#       + @format_int(proxy_user) + '): '
#       + $k8s.show(entry.container.?securityContext.?runAsUser.orValue(null))
#     fix: >-
#       'remove config.linkerd.io/proxy-uid or the override that moves the proxy\'s user'
injection_findings contains finding if {
	judged_as_run
	some entry in proxies
	user := object.get(mesh.container(entry), ["securityContext", "runAsUser"], null)
	some proxy_user in init_uids
	user != proxy_user
	finding := {
		"path": concat("", [mesh.container_path(entry), ".securityContext.runAsUser"]),
		"problem": concat("", ["linkerd-proxy does not run as the UID the capture rules let through (", format_int(proxy_user, 10), "): ", k8s.show(user)]),
		"fix": "remove config.linkerd.io/proxy-uid or the override that moves the proxy's user",
	}
}

# The proxy's own inbound default (LINKERD2_PROXY_INBOUND_DEFAULT_POLICY,
# from config.linkerd.io/default-inbound-policy): the last definition wins,
# so config.linkerd.io/proxy-additional-env can override it.
# METADATA
# title: proxy-inbound-policy
# custom:
#   cel:
#     if: $judged_as_run && $mesh.meshed($k8s.namespace)
#     for:
#       - [entry, $proxies]
#       - [value, "$mesh.env_value(entry.container, 'LINKERD2_PROXY_INBOUND_DEFAULT_POLICY')"]
#     when: value in $unauthenticated_policies
#     path: $k8s.container_path(entry.field, entry.index) + '.env'
#     problem: >-
#       'linkerd-proxy admits clients without mTLS identity: LINKERD2_PROXY_INBOUND_DEFAULT_POLICY='
#       + $k8s.show(value)
#     fix: >-
#       'remove what sets it (config.linkerd.io/default-inbound-policy, proxy-additional-env); the
#       namespace\'s all-authenticated applies'
mtls_findings contains finding if {
	judged_as_run
	mesh.meshed(k8s.namespace)
	some entry in proxies
	value := mesh.env_value(mesh.container(entry), "LINKERD2_PROXY_INBOUND_DEFAULT_POLICY")
	value in unauthenticated_policies
	finding := {
		"path": concat("", [mesh.container_path(entry), ".env"]),
		"problem": concat("", ["linkerd-proxy admits clients without mTLS identity: LINKERD2_PROXY_INBOUND_DEFAULT_POLICY=", k8s.show(value)]),
		"fix": "remove what sets it (config.linkerd.io/default-inbound-policy, proxy-additional-env); the namespace's all-authenticated applies",
	}
}

# --- intent: what makes the injector skip or weaken a pod not yet injected -----

# The injector's webhook never sees pods with these labels (its objectSelector).
# METADATA
# title: injector-excluded-label
# custom:
#   cel:
#     for:
#       - [label, "['linkerd.io/control-plane-component', 'linkerd.io/cni-resource']"]
#       - [value, "@get($k8s.pod_labels, label)"]
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.labels', label)
#     problem: >-
#       'keeps the pod from Linkerd\'s injector, whose webhook skips pods with this label: '
#       + $k8s.show(value)
#     fix: "'remove the label: only Linkerd\\'s own components carry it'"
injection_findings contains finding if {
	some label in ["linkerd.io/control-plane-component", "linkerd.io/cni-resource"]
	value := k8s.pod_labels[label]
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.labels"]), label),
		"problem": concat("", ["keeps the pod from Linkerd's injector, whose webhook skips pods with this label: ", k8s.show(value)]),
		"fix": "remove the label: only Linkerd's own components carry it",
	}
}

# A container named or imaged like a sidecar makes the injector think the pod
# has one already (pkg/healthcheck/sidecar.go, HasExistingSidecars).
# METADATA
# custom:
#   cel: {literal: true}
sidecar_names := {"linkerd-proxy", "linkerd-init", "istio-proxy", "istio-init"}

# METADATA
# custom:
#   cel: {literal: true}
sidecar_image_prefixes := {"cr.l5d.io/linkerd/proxy:", "cr.l5d.io/linkerd/proxy-init:", "gcr.io/istio-release/proxyv2:", "gcr.io/istio-release/proxy_init:"}

# METADATA
# title: looks-injected
# custom:
#   cel:
#     if: $mesh.intent_only && !$judged_as_run
#     for: [[entry, $mesh.containers]]
#     when: $looks_injected(entry.container)
#     path: $k8s.container_path(entry.field, entry.index)
#     problem: >-
#       'makes Linkerd\'s injector think the pod has its sidecar already, so it injects none: '
#       + $k8s.show(entry.container.name)
#     fix: "'remove the container: the injector adds Linkerd\\'s own'"
injection_findings contains finding if {
	mesh.intent_only
	not judged_as_run
	some entry in mesh.containers
	looks_injected(mesh.container(entry))
	finding := {
		"path": mesh.container_path(entry),
		"problem": concat("", ["makes Linkerd's injector think the pod has its sidecar already, so it injects none: ", k8s.show(mesh.container(entry).name)]),
		"fix": "remove the container: the injector adds Linkerd's own",
	}
}

# METADATA
# custom:
#   cel: >-
#     container.?name.orValue('') in $sidecar_names
#     || $sidecar_image_prefixes.exists(_p, container.?image.orValue('').startsWith(_p))
looks_injected(container) if container.name in sidecar_names

looks_injected(container) if {
	some prefix in sidecar_image_prefixes
	startswith(object.get(container, "image", ""), prefix)
}

# METADATA
# title: proxy-settings-redefined
# custom:
#   cel:
#     if: $mesh.intent_only
#     for: [[value, "@get($k8s.pod_annotations, 'config.linkerd.io/proxy-additional-env')"]]
#     when: value.contains('LINKERD2_PROXY_')
#     path: >-
#       $k8s.key_path($k8s.pod_prefix + 'metadata.annotations', 'config.linkerd.io/proxy-additional-env')
#     problem: >-
#       'redefines the proxy\'s own settings, which the last definition overrides: an environment
#       with LINKERD2_PROXY_ variables'
#     fix: "'remove the LINKERD2_PROXY_ variables from it'"
injection_findings contains finding if {
	mesh.intent_only
	value := k8s.pod_annotations["config.linkerd.io/proxy-additional-env"]
	contains(value, "LINKERD2_PROXY_")
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), "config.linkerd.io/proxy-additional-env"),
		"problem": "redefines the proxy's own settings, which the last definition overrides: an environment with LINKERD2_PROXY_ variables",
		"fix": "remove the LINKERD2_PROXY_ variables from it",
	}
}

# METADATA
# title: proxy-image-replaced
# custom:
#   cel:
#     if: $mesh.intent_only
#     for:
#       - [key, "['config.linkerd.io/proxy-image', 'config.linkerd.io/init-image']"]
#       - [value, "@get($k8s.pod_annotations, key)"]
#     when: "!$mesh.mesh_image(value)"
#     path: $k8s.key_path($k8s.pod_prefix + 'metadata.annotations', key)
#     problem: "'replaces Linkerd\\'s proxy image: ' + $k8s.show(value)"
#     fix: "'remove it, or name one of spec.admission.proxyImages'"
injection_findings contains finding if {
	mesh.intent_only
	some key in ["config.linkerd.io/proxy-image", "config.linkerd.io/init-image"]
	value := k8s.pod_annotations[key]
	not mesh.mesh_image(value)
	finding := {
		"path": k8s.key_path(concat("", [k8s.pod_prefix, "metadata.annotations"]), key),
		"problem": concat("", ["replaces Linkerd's proxy image: ", k8s.show(value)]),
		"fix": "remove it, or name one of spec.admission.proxyImages",
	}
}

# A meshed namespace the injector's webhook never hears from (its namespaceSelector).
# METADATA
# title: namespace-injector-off
# custom:
#   cel:
#     if: $k8s.kind == 'Namespace'
#     for: [[value, "@get($k8s.labels, 'config.linkerd.io/admission-webhooks')"]]
#     when: value == 'disabled'
#     path: $k8s.key_path('metadata.labels', 'config.linkerd.io/admission-webhooks')
#     problem: "'keeps Linkerd\\'s injector out of a meshed namespace: ' + $k8s.show(value)"
#     fix: "'remove the label, or remove the namespace from spec.namespaces'"
injection_findings contains finding if {
	k8s.kind == "Namespace"
	value := k8s.labels["config.linkerd.io/admission-webhooks"]
	value == "disabled"
	finding := {
		"path": k8s.key_path("metadata.labels", "config.linkerd.io/admission-webhooks"),
		"problem": concat("", ["keeps Linkerd's injector out of a meshed namespace: ", k8s.show(value)]),
		"fix": "remove the label, or remove the namespace from spec.namespaces",
	}
}

# Linkerd copies a namespace's config.linkerd.io annotations onto its pods,
# and Linkerd CNI reads them from the namespace when a pod starts.
# METADATA
# title: namespace-capture-annotations
# custom:
#   cel:
#     if: $k8s.kind == 'Namespace'
#     for:
#       - [key, $mesh.profile.capture_annotations]
#       - [value, "@get($k8s.annotations, key)"]
#     when: >-
#       $mesh.profile.capture_annotations[key] == 'exclude' && size($mesh.entries(value)) > 0
#       && !$namespace_granted(key)
#     path: $k8s.key_path('metadata.annotations', key)
#     problem: >-
#       'lets the traffic of every pod in the namespace bypass the proxy: ' + $k8s.show(value)
#     fix: >-
#       'remove the annotation, or grant it to the namespace\'s pods in spec.admission.exemptions
#       (no selector)'
injection_findings contains finding if {
	k8s.kind == "Namespace"
	some key, kind in mesh.profile.capture_annotations
	value := k8s.annotations[key]
	kind == "exclude"
	count(mesh.entries(value)) > 0
	not namespace_granted(key)
	finding := {
		"path": k8s.key_path("metadata.annotations", key),
		"problem": concat("", ["lets the traffic of every pod in the namespace bypass the proxy: ", k8s.show(value)]),
		"fix": "remove the annotation, or grant it to the namespace's pods in spec.admission.exemptions (no selector)",
	}
}

# METADATA
# custom:
#   cel: >-
#     $mesh.config.exemptions.exists(_x, _x.namespace == $k8s.name && key in _x.annotations
#     && size(_x.selector) == 0)
namespace_granted(key) if {
	some exemption in mesh.config.exemptions
	exemption.namespace == k8s.name
	key in exemption.annotations
	count(object.get(exemption, "selector", {})) == 0
}

# Linkerd skips the traffic of whatever UID config.linkerd.io/proxy-uid names,
# so that UID is the proxy's too for this pod.
# METADATA
# description: >-
#   to_number of an annotation with blanks around its digits fails in OPA's
#   Wasm runtime (the webhook's engine), so only digits alone count.
# custom:
#   cel: >-
#     @get($k8s.pod_annotations, 'config.linkerd.io/proxy-uid')
#     .filter(_v, _v.matches('^[0-9]+$')).map(_v, @to_number(_v)) + $init_uids
extra_proxy_uids contains to_number(value) if {
	value := k8s.pod_annotations["config.linkerd.io/proxy-uid"]
	mesh.digits(trim_space(value))
}

extra_proxy_uids contains user_id if some user_id in init_uids

# --- mtls-strict ---------------------------------------------------------------

# A default inbound policy that admits unauthenticated clients.
# METADATA
# custom:
#   cel: {literal: true}
unauthenticated_policies := {"all-unauthenticated", "cluster-unauthenticated", "audit"}

# METADATA
# custom:
#   cel: {literal: true}
inbound_policy_key := "config.linkerd.io/default-inbound-policy"

# METADATA
# title: inbound-policy
# custom:
#   cel:
#     if: $k8s.writing && $mesh.meshed($k8s.subject_namespace)
#     for:
#       - [scope, $inbound_policy_scopes]
#       - [value, "@get(scope.annotations, $inbound_policy_key)"]
#     when: value in $unauthenticated_policies
#     path: $k8s.key_path(scope.path, $inbound_policy_key)
#     problem: "'admits clients without mTLS identity: ' + $k8s.show(value)"
#     fix: "'remove it or set it to \"all-authenticated\" or \"cluster-authenticated\"'"
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

# METADATA
# custom:
#   cel: >-
#     ($k8s.kind == 'Namespace'
#     ? [{'path': dyn('metadata.annotations'), 'annotations': dyn($k8s.annotations)}] : [])
#     + ($k8s.pod_template != null
#     ? [{'path': dyn($k8s.pod_prefix + 'metadata.annotations'),
#     'annotations': dyn($k8s.pod_annotations)}] : [])
inbound_policy_scopes contains {"path": "metadata.annotations", "annotations": k8s.annotations} if {
	k8s.kind == "Namespace"
}

inbound_policy_scopes contains {"path": concat("", [k8s.pod_prefix, "metadata.annotations"]), "annotations": k8s.pod_annotations}

# Linkerd's authorization objects, in the mesh: the same promise as the
# namespace annotation, object by object.
# METADATA
# custom:
#   cel: >-
#     $k8s.writing && $k8s.group == 'policy.linkerd.io' && $k8s.kind == kind
#     && $mesh.meshed($k8s.namespace)
policy_object(kind) if {
	k8s.writing
	k8s.group == "policy.linkerd.io"
	k8s.kind == kind
	mesh.meshed(k8s.namespace)
}

# A Server's own default for traffic no policy authorizes.
# METADATA
# title: server-access-policy
# custom:
#   cel:
#     if: $policy_object('Server')
#     for: [[value, "@opt($k8s.resource.?spec.?accessPolicy)"]]
#     when: value in $unauthenticated_policies
#     path: "'spec.accessPolicy'"
#     problem: "'admits clients without mTLS identity on the port: ' + $k8s.show(value)"
#     fix: "'remove it (the default denies) or set it to \"all-authenticated\" or \"deny\"'"
mtls_findings contains finding if {
	policy_object("Server")
	value := k8s.resource.spec.accessPolicy
	value in unauthenticated_policies
	finding := {
		"path": "spec.accessPolicy",
		"problem": concat("", ["admits clients without mTLS identity on the port: ", k8s.show(value)]),
		"fix": "remove it (the default denies) or set it to \"all-authenticated\" or \"deny\"",
	}
}

# METADATA
# title: server-authorization-unauthenticated
# custom:
#   cel:
#     when: >-
#       $policy_object('ServerAuthorization')
#       && $k8s.resource.?spec.?client.?unauthenticated.orValue(false) == true
#     path: "'spec.client.unauthenticated'"
#     problem: "'authorizes clients without mTLS identity: true'"
#     fix: "'authorize meshTLS identities or service accounts instead'"
mtls_findings contains finding if {
	policy_object("ServerAuthorization")
	k8s.resource.spec.client.unauthenticated == true
	finding := {
		"path": "spec.client.unauthenticated",
		"problem": "authorizes clients without mTLS identity: true",
		"fix": "authorize meshTLS identities or service accounts instead",
	}
}

# METADATA
# title: server-authorization-unauthenticated-tls
# custom:
#   cel:
#     when: >-
#       $policy_object('ServerAuthorization')
#       && $k8s.resource.?spec.?client.?meshTLS.?unauthenticatedTLS.orValue(false) == true
#     path: "'spec.client.meshTLS.unauthenticatedTLS'"
#     problem: "'authorizes TLS clients without a mesh identity: true'"
#     fix: "'authorize meshTLS identities or service accounts instead'"
mtls_findings contains finding if {
	policy_object("ServerAuthorization")
	k8s.resource.spec.client.meshTLS.unauthenticatedTLS == true
	finding := {
		"path": "spec.client.meshTLS.unauthenticatedTLS",
		"problem": "authorizes TLS clients without a mesh identity: true",
		"fix": "authorize meshTLS identities or service accounts instead",
	}
}

# An AuthorizationPolicy is satisfied when every authentication it requires
# is: with none, or with networks only, a client without mTLS identity is
# authorized.
# METADATA
# custom:
#   cel: {literal: true}
identity_kinds := {"MeshTLSAuthentication", "ServiceAccount"}

# METADATA
# title: authorization-without-identity
# custom:
#   cel:
#     if: $policy_object('AuthorizationPolicy') && has($k8s.resource.spec)
#     for: [[refs, "[$k8s.resource.spec.?requiredAuthenticationRefs.orValue([])]"]]
#     when: size(refs.filter(_r, _r.?kind.orValue('') in $identity_kinds)) == 0
#     path: "'spec.requiredAuthenticationRefs'"
#     problem: >-
#       'requires no mTLS identity, so clients without one are authorized: '
#       + $k8s.show_fields([refs.filter(_r, has(_r.kind)).map(_r, _r.kind)].map(_ks,
#       _ks.transformList(_i, _k, _ks.indexOf(_k) == _i, _k).transformMapEntry(_j, _k, {_k: true}))[0])
#     fix: "'require a MeshTLSAuthentication or a ServiceAccount'"
mtls_findings contains finding if {
	policy_object("AuthorizationPolicy")
	refs := object.get(k8s.resource.spec, "requiredAuthenticationRefs", [])
	count([ref | some ref in refs; object.get(ref, "kind", "") in identity_kinds]) == 0
	finding := {
		"path": "spec.requiredAuthenticationRefs",
		"problem": concat("", ["requires no mTLS identity, so clients without one are authorized: ", k8s.show_fields({ref.kind: true | some ref in refs})]),
		"fix": "require a MeshTLSAuthentication or a ServiceAccount",
	}
}

# --- allowed-namespaces ----------------------------------------------------------

# METADATA
# custom:
#   cel: $inject_setting.filter(_s, $injects(_s.value))
injection_requests contains setting if {
	setting := inject_setting
	injects(setting.value)
}

# METADATA
# custom:
#   cel: $mesh.config.allowed_namespaces.join(', ')
allowed_list := concat(", ", sort(mesh.config.allowed_namespaces))

# <account>.<namespace>.serviceaccount.identity.linkerd.<trust domain>, the
# account possibly "*"; anything else ("*", a foreign trust domain) is not
# limited to a namespace.
# METADATA
# custom:
#   cel: >-
#     [identity.split('.')].map(_p, size(_p) > 5 && _p[2] == 'serviceaccount'
#     && _p[3] == 'identity' && _p[4] == 'linkerd'
#     && (_p[1] in $mesh.config.allowed_namespaces
#         || $mesh.config.ingress_gateways.exists(_g,
#            _g.service_account == _p[0] && _g.namespace == _p[1])))[0]
identity_allowed(identity) if {
	parts := split(identity, ".")
	count(parts) > 5
	parts[2] == "serviceaccount"
	parts[3] == "identity"
	parts[4] == "linkerd"
	parts[1] in mesh.config.allowed_namespaces
}

# An ingress gateway the spec declares (spec.ingress[].gateway): its own
# service account, and no other account of its namespace.
identity_allowed(identity) if {
	parts := split(identity, ".")
	count(parts) > 5
	parts[2] == "serviceaccount"
	parts[3] == "identity"
	parts[4] == "linkerd"
	some gateway in mesh.config.ingress_gateways
	parts[0] == gateway.service_account
	parts[1] == gateway.namespace
}

# METADATA
# custom:
#   cel: {literal: true}
gateway_fix := "; an ingress gateway is admitted by its identity once spec.ingress[].gateway declares it, without allowing its namespace"

# METADATA
# title: meshtls-identity
# custom:
#   cel:
#     if: $policy_object('MeshTLSAuthentication')
#     for: [[i, identity, "$k8s.resource.?spec.?identities.orValue([])"]]
#     when: "!$identity_allowed(identity)"
#     path: "'spec.identities[' + string(i) + ']'"
#     problem: "'authenticates callers outside the allowed namespaces: ' + $k8s.show(identity)"
#     fix: >-
#       'use <account or *>.<namespace>.serviceaccount.identity.linkerd.<trust domain> with an
#       allowed namespace (' + $allowed_list + ')' + $gateway_fix
allowed_namespaces_findings contains finding if {
	policy_object("MeshTLSAuthentication")
	some i, identity in k8s.resource.spec.identities
	not identity_allowed(identity)
	finding := {
		"path": concat("", ["spec.identities[", format_int(i, 10), "]"]),
		"problem": concat("", ["authenticates callers outside the allowed namespaces: ", k8s.show(identity)]),
		"fix": concat("", ["use <account or *>.<namespace>.serviceaccount.identity.linkerd.<trust domain> with an allowed namespace (", allowed_list, ")", gateway_fix]),
	}
}

# METADATA
# title: meshtls-identity-ref
# custom:
#   cel:
#     if: $policy_object('MeshTLSAuthentication')
#     for: [[i, ref, "$k8s.resource.?spec.?identityRefs.orValue([])"]]
#     when: "!$ref_allowed(ref)"
#     path: "'spec.identityRefs[' + string(i) + ']'"
#     problem: "'authenticates callers outside the allowed namespaces: ' + $k8s.show_fields(ref)"
#     fix: >-
#       'name a ServiceAccount or Namespace within the allowed namespaces (' + $allowed_list + ')'
allowed_namespaces_findings contains finding if {
	policy_object("MeshTLSAuthentication")
	some i, ref in k8s.resource.spec.identityRefs
	not ref_allowed(ref)
	finding := {
		"path": concat("", ["spec.identityRefs[", format_int(i, 10), "]"]),
		"problem": concat("", ["authenticates callers outside the allowed namespaces: ", k8s.show_fields(ref)]),
		"fix": concat("", ["name a ServiceAccount or Namespace within the allowed namespaces (", allowed_list, ")"]),
	}
}

# METADATA
# custom:
#   cel: >-
#     (ref.?kind.orValue('') == 'ServiceAccount'
#     && ref.?namespace.orValue($k8s.namespace) in $mesh.config.allowed_namespaces
#     && ref.?name.orValue('*') != '*')
#     || (ref.?kind.orValue('') == 'Namespace' && has(ref.name)
#     && ref.name in $mesh.config.allowed_namespaces)
ref_allowed(ref) if {
	ref.kind == "ServiceAccount"
	object.get(ref, "namespace", k8s.namespace) in mesh.config.allowed_namespaces
	object.get(ref, "name", "*") != "*"
}

ref_allowed(ref) if {
	ref.kind == "Namespace"
	ref.name in mesh.config.allowed_namespaces
}

# METADATA
# title: server-authorization-identity
# custom:
#   cel:
#     if: $policy_object('ServerAuthorization')
#     for: [[i, identity, "$k8s.resource.?spec.?client.?meshTLS.?identities.orValue([])"]]
#     when: "!$identity_allowed(identity)"
#     path: "'spec.client.meshTLS.identities[' + string(i) + ']'"
#     problem: "'authorizes callers outside the allowed namespaces: ' + $k8s.show(identity)"
#     fix: >-
#       'use <account or *>.<namespace>.serviceaccount.identity.linkerd.<trust domain> with an
#       allowed namespace (' + $allowed_list + ')' + $gateway_fix
allowed_namespaces_findings contains finding if {
	policy_object("ServerAuthorization")
	some i, identity in k8s.resource.spec.client.meshTLS.identities
	not identity_allowed(identity)
	finding := {
		"path": concat("", ["spec.client.meshTLS.identities[", format_int(i, 10), "]"]),
		"problem": concat("", ["authorizes callers outside the allowed namespaces: ", k8s.show(identity)]),
		"fix": concat("", ["use <account or *>.<namespace>.serviceaccount.identity.linkerd.<trust domain> with an allowed namespace (", allowed_list, ")", gateway_fix]),
	}
}

# METADATA
# title: server-authorization-service-account
# custom:
#   cel:
#     if: $policy_object('ServerAuthorization')
#     for: [[i, account, "$k8s.resource.?spec.?client.?meshTLS.?serviceAccounts.orValue([])"]]
#     when: "!(account.?namespace.orValue($k8s.namespace) in $mesh.config.allowed_namespaces)"
#     path: "'spec.client.meshTLS.serviceAccounts[' + string(i) + '].namespace'"
#     problem: >-
#       'authorizes callers outside the allowed namespaces: '
#       + $k8s.show(account.?namespace.orValue($k8s.namespace))
#     fix: "'name service accounts within the allowed namespaces (' + $allowed_list + ')'"
allowed_namespaces_findings contains finding if {
	policy_object("ServerAuthorization")
	some i, account in k8s.resource.spec.client.meshTLS.serviceAccounts
	not object.get(account, "namespace", k8s.namespace) in mesh.config.allowed_namespaces
	finding := {
		"path": concat("", ["spec.client.meshTLS.serviceAccounts[", format_int(i, 10), "].namespace"]),
		"problem": concat("", ["authorizes callers outside the allowed namespaces: ", k8s.show(object.get(account, "namespace", k8s.namespace))]),
		"fix": concat("", ["name service accounts within the allowed namespaces (", allowed_list, ")"]),
	}
}
