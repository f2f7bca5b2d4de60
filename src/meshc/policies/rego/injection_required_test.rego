package meshc.injection_required_test

import data.meshc.injection_required.violations
import data.meshc.lib.fixtures_test as t

proxy := {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.2", "securityContext": {"runAsUser": 1337}}

test_istio_opt_out_label_is_denied if {
	v := violations with input as t.pod("mesh-demo", {"labels": {"sidecar.istio.io/inject": "false"}}, {"containers": [t.app]})
		with data.meshc.config as t.istio
	t.paths(v) == {"metadata.labels[\"sidecar.istio.io/inject\"]"}
}

test_older_releases_opt_outs_are_denied if {
	every value in ["False", "no", "0", "disabled"] {
		count(violations) == 1 with input as t.pod("mesh-demo", {"annotations": {"sidecar.istio.io/inject": value}}, {"containers": [t.app]})
			with data.meshc.config as t.istio
	}
}

test_label_wins_over_annotation if {
	count(violations) == 0 with input as t.pod("mesh-demo", {"labels": {"sidecar.istio.io/inject": "true"}, "annotations": {"sidecar.istio.io/inject": "false"}}, {"containers": [t.app]})
		with data.meshc.config as t.istio
}

test_injected_pod_is_admitted if {
	count(violations) == 0 with input as t.pod("mesh-demo", {}, {"containers": [t.app, proxy]})
		with data.meshc.config as t.istio
}

test_lookalike_proxy_is_denied if {
	lookalike := object.union(proxy, {"image": "docker.io/attacker/proxyv2:1.24.2"})
	v := violations with input as t.pod("mesh-demo", {}, {"containers": [t.app, lookalike]})
		with data.meshc.config as t.istio
	t.paths(v) == {"spec.containers[1].image", "spec.containers[1].securityContext.runAsUser"}
}

test_cni_exclusion_needs_the_real_proxy if {
	cni := {"annotations": {"traffic.sidecar.istio.io/excludeInboundPorts": "15020"}}
	count(violations) == 0 with input as t.pod("mesh-demo", cni, {"containers": [t.app, proxy]})
		with data.meshc.config as t.istio
	count(violations) == 1 with input as t.pod("mesh-demo", cni, {"containers": [t.app]})
		with data.meshc.config as t.istio
}

test_exemption_grants_annotation_to_selected_pods if {
	granted := {"labels": {"app": "legacy"}, "annotations": {"traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/8"}}
	count(violations) == 0 with input as t.pod("mesh-demo", granted, {"containers": [t.app]})
		with data.meshc.config as t.istio
}

test_host_network_and_net_admin_are_denied if {
	net_admin := object.union(t.app, {"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}})
	v := violations with input as t.pod("mesh-demo", {}, {"hostNetwork": true, "containers": [net_admin]})
		with data.meshc.config as t.istio
	t.paths(v) == {"spec.hostNetwork", "spec.containers[0].securityContext.capabilities.add[0]"}
}

test_unmeshed_namespace_is_not_judged if {
	count(violations) == 0 with input as t.pod("team-b", {}, {"hostNetwork": true, "containers": [t.app]})
		with data.meshc.config as t.istio
}

test_linkerd_opt_out_and_proxy_uid if {
	as_proxy := object.union(t.app, {"securityContext": {"runAsUser": 2102}})
	v := violations with input as t.pod("l5d-demo", {"annotations": {"linkerd.io/inject": "disabled"}}, {"containers": [as_proxy]})
		with data.meshc.config as t.linkerd
	t.paths(v) == {"metadata.annotations[\"linkerd.io/inject\"]", "spec.containers[0].securityContext.runAsUser"}
}

test_meshed_namespace_may_not_disable_injection if {
	ns := t.request("", "Namespace", "", {"metadata": {"name": "mesh-demo", "labels": {"istio-injection": "disabled"}}})
	v := violations with input as ns with data.meshc.config as t.istio
	t.paths(v) == {"metadata.labels[\"istio-injection\"]"}
}

test_proxy_group_is_denied_on_istio if {
	grouped := object.union(t.app, {"securityContext": {"runAsGroup": 1337}})
	v := violations with input as t.pod("mesh-demo", {}, {"containers": [grouped, proxy]})
		with data.meshc.config as t.istio
	t.paths(v) == {"spec.containers[0].securityContext.runAsGroup"}
	count(violations) == 0 with input as t.pod("mesh-demo", {}, {"securityContext": {"runAsGroup": 1000}, "containers": [t.app, proxy]})
		with data.meshc.config as t.istio
}

test_interception_mode_none_is_denied_and_capture_modes_admitted if {
	v := violations with input as t.pod("mesh-demo", {"annotations": {"sidecar.istio.io/interceptionMode": "NONE"}}, {"containers": [t.app, proxy]})
		with data.meshc.config as t.istio
	t.paths(v) == {"metadata.annotations[\"sidecar.istio.io/interceptionMode\"]"}
	every mode in ["REDIRECT", "TPROXY"] {
		count(violations) == 0 with input as t.pod("mesh-demo", {"annotations": {"sidecar.istio.io/interceptionMode": mode}}, {"containers": [t.app, proxy]})
			with data.meshc.config as t.istio
	}
}

test_an_interception_mode_that_is_no_string_is_denied if {
	v := violations with input as t.pod("mesh-demo", {"annotations": {"sidecar.istio.io/interceptionMode": 0}}, {"containers": [t.app, proxy]})
		with data.meshc.config as t.istio
	t.paths(v) == {"metadata.annotations[\"sidecar.istio.io/interceptionMode\"]"}
}

test_linkerd_proxy_uid_annotation_moves_the_bypass_uid if {
	custom := {"annotations": {"config.linkerd.io/proxy-uid": "3000"}}
	as_3000 := object.union(t.app, {"securityContext": {"runAsUser": 3000}})
	v := violations with input as t.pod("l5d-demo", custom, {"containers": [as_3000]})
		with data.meshc.config as t.linkerd
	t.paths(v) == {"spec.containers[0].securityContext.runAsUser"}
	count(violations) == 0 with input as t.pod("l5d-demo", {}, {"containers": [as_3000]})
		with data.meshc.config as t.linkerd
}
