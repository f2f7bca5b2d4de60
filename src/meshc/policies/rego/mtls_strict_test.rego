package meshc.mtls_strict_test

import data.meshc.lib.fixtures_test as t
import data.meshc.mtls_strict.violations

peer_authentication(spec) := t.request("security.istio.io", "PeerAuthentication", "istio-system", {"metadata": {"name": "default"}, "spec": spec})

test_permissive_and_disable_are_denied if {
	every mode in ["PERMISSIVE", "DISABLE"] {
		v := violations with input as peer_authentication({"mtls": {"mode": mode}}) with data.meshc.config as t.istio
		t.paths(v) == {"spec.mtls.mode"}
	}
}

test_strict_is_admitted if {
	count(violations) == 0 with input as peer_authentication({"mtls": {"mode": "STRICT"}, "portLevelMtls": {"80": {"mode": "STRICT"}}})
		with data.meshc.config as t.istio
}

test_port_level_must_be_strict if {
	v := violations with input as peer_authentication({"portLevelMtls": {"80": {"mode": "UNSET"}}}) with data.meshc.config as t.istio
	t.paths(v) == {"spec.portLevelMtls[\"80\"].mode"}
}

test_destination_rule_disable_to_a_host_in_the_mesh_is_denied_at_every_level if {
	off := {"tls": {"mode": "DISABLE"}}
	spec := {"host": "web", "trafficPolicy": object.union(off, {"portLevelSettings": [off]}), "subsets": [{"name": "v1", "trafficPolicy": off}]}
	v := violations with input as t.request("networking.istio.io", "DestinationRule", "mesh-demo", {"metadata": {"name": "web"}, "spec": spec})
		with data.meshc.config as t.istio
	t.paths(v) == {"spec.trafficPolicy.tls.mode", "spec.trafficPolicy.portLevelSettings[0].tls.mode", "spec.subsets[0].trafficPolicy.tls.mode"}
}

test_destination_rule_disable_to_a_host_outside_the_mesh_is_admitted if {
	spec := {"host": "db.example.com", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}
	count(violations) == 0 with input as t.request("networking.istio.io", "DestinationRule", "mesh-demo", {"metadata": {"name": "db"}, "spec": spec})
		with data.meshc.config as t.istio
}

test_linkerd_unauthenticated_default_policy_is_denied if {
	v := violations with input as t.pod("l5d-demo", {"annotations": {"config.linkerd.io/default-inbound-policy": "all-unauthenticated"}}, {"containers": [t.app]})
		with data.meshc.config as t.linkerd
	count(v) == 1
}
