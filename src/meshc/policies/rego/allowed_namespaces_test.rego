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

test_a_declared_ingress_gateway_is_admitted_by_its_principal_alone if {
	gateway := "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
	count(violations) == 0 with input as authorization([{"from": [{"source": {"principals": [gateway]}}]}])
		with data.meshc.config as t.istio

	# Another account of the gateway's namespace, or the namespace itself, is not the gateway.
	others := [{"from": [{"source": {"principals": ["cluster.local/ns/istio-system/sa/other"], "namespaces": ["istio-system"]}}]}]
	v := violations with input as authorization(others) with data.meshc.config as t.istio
	t.paths(v) == {"spec.rules[0].from[0].source.principals[0]", "spec.rules[0].from[0].source.namespaces[0]"}
	every violation in v {
		contains(violation.fix, "spec.ingress[].gateway declares it")
	}
}

gateway_service(gateways) := t.request("networking.istio.io", "VirtualService", "mesh-demo", {"metadata": {"name": "edge"}, "spec": {"hosts": ["*"], "gateways": gateways}})

test_a_virtual_service_bound_to_gateways_only_routes_no_sidecars_traffic if {
	count(violations) == 0 with input as gateway_service(["edge"]) with data.meshc.config as t.istio

	# Bound to the mesh too, it routes every host for every namespace's sidecars.
	v := violations with input as gateway_service(["edge", "mesh"]) with data.meshc.config as t.istio
	t.paths(v) == {"spec.hosts[0]"}
	v2 := violations with input as gateway_service([]) with data.meshc.config as t.istio
	t.paths(v2) == {"spec.hosts[0]"}
}

meshtls(identities) := t.request("policy.linkerd.io", "MeshTLSAuthentication", "l5d-demo", {"metadata": {"name": "web-http"}, "spec": {"identities": identities}})

test_a_declared_ingress_gateway_is_admitted_by_its_linkerd_identity_alone if {
	gateway := "ingress-nginx.ingress-nginx.serviceaccount.identity.linkerd.cluster.local"
	count(violations) == 0 with input as meshtls([gateway]) with data.meshc.config as t.linkerd
	v := violations with input as meshtls(["*.ingress-nginx.serviceaccount.identity.linkerd.cluster.local"])
		with data.meshc.config as t.linkerd
	t.paths(v) == {"spec.identities[0]"}
}
