package meshc.allowed_namespaces_test

import data.meshc.allowed_namespaces.violations
import data.meshc.lib.fixtures_test as t

virtual_service(namespace) := t.request("networking.istio.io", "VirtualService", namespace, {"metadata": {"name": "web"}, "spec": {}})

test_mesh_config_only_in_allowed_or_exempt_namespaces if {
	count(violations) == 1 with input as virtual_service("team-b") with data.meshc.config as t.istio
	count(violations) == 0 with input as virtual_service("mesh-demo") with data.meshc.config as t.istio
	count(violations) == 0 with input as virtual_service("istio-system") with data.meshc.config as t.istio
}

test_injection_requested_outside_allowed_namespaces if {
	v := violations with input as t.pod("team-b", {"labels": {"sidecar.istio.io/inject": "true"}}, {"containers": [t.app]})
		with data.meshc.config as t.istio
	t.paths(v) == {"metadata.labels[\"sidecar.istio.io/inject\"]"}
}

authorization(rules) := t.request("security.istio.io", "AuthorizationPolicy", "mesh-demo", {"metadata": {"name": "web"}, "spec": {"rules": rules}})

test_allow_rules_admit_only_allowed_sources if {
	rules := [
		{},
		{"from": [{"source": {"namespaces": ["mesh-demo", "*"], "principals": ["cluster.local/ns/team-b/sa/x"]}}]},
	]
	v := violations with input as authorization(rules) with data.meshc.config as t.istio
	t.paths(v) == {"spec.rules[0]", "spec.rules[1].from[0].source.namespaces[1]", "spec.rules[1].from[0].source.principals[0]"}
}

test_allowed_sources_are_admitted if {
	rules := [{"from": [{"source": {"principals": ["cluster.local/ns/mesh-demo/sa/web"]}}]}]
	count(violations) == 0 with input as authorization(rules) with data.meshc.config as t.istio
}
