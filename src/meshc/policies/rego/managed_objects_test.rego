package meshc.managed_objects_test

import data.meshc.lib.fixtures_test as t
import data.meshc.managed_objects.violations

strict := {"mtls": {"mode": "STRICT"}}

config := object.union(t.istio, {
	"mesh_name": "samples",
	"protected": {"security.istio.io/PeerAuthentication/mesh-demo/default": {"spec": strict, "source": "mesh.yaml#spec.mtls"}},
})

rendered(labels, spec) := {"metadata": {"name": "default", "namespace": "mesh-demo", "labels": labels}, "spec": spec}

managed := {"app.kubernetes.io/managed-by": "meshc", "meshc.io/mesh": "samples"}

change(operation, old, new, user) := {"request": object.union(t.request("security.istio.io", "PeerAuthentication", "mesh-demo", new).request, {
	"operation": operation,
	"oldObject": old,
	"userInfo": {"username": user},
})}

test_deleting_what_the_spec_renders_is_denied_unless_the_namespace_goes if {
	old := rendered(managed, strict)
	t.paths(violations) == {"metadata.name"} with input as change("DELETE", old, null, "alice") with data.meshc.config as config
	count(violations) == 0 with input as change("DELETE", old, null, "system:serviceaccount:kube-system:namespace-controller")
		with data.meshc.config as config
}

test_an_update_may_only_reach_the_rendered_spec if {
	old := rendered(managed, strict)
	selected := object.union(strict, {"selector": {"matchLabels": {"app": "x"}}})
	t.paths(violations) == {"spec.selector"} with input as change("UPDATE", old, rendered(managed, selected), "alice")
		with data.meshc.config as config
	count(violations) == 0 with input as change("UPDATE", rendered(managed, selected), old, "alice") with data.meshc.config as config
}

test_the_markers_stay if {
	old := rendered(managed, strict)
	unmarked := rendered({"meshc.io/mesh": "samples"}, strict)
	t.paths(violations) == {"metadata.labels[\"app.kubernetes.io/managed-by\"]"} with input as change("UPDATE", old, unmarked, "alice")
		with data.meshc.config as config
}

test_objects_the_spec_does_not_render_keep_their_spec_until_pruned if {
	old := object.union(rendered(managed, strict), {"metadata": {"name": "gone"}})
	new := object.union(old, {"spec": {"mtls": {"mode": "PERMISSIVE"}}})
	t.paths(violations) == {"spec.mtls"} with input as change("UPDATE", old, new, "alice") with data.meshc.config as config
	count(violations) == 0 with input as change("DELETE", old, null, "alice") with data.meshc.config as config
}
