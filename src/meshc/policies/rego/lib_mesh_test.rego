package meshc.lib.mesh_test

import data.meshc.lib.fixtures_test as fixtures
import data.meshc.lib.k8s
import data.meshc.lib.mesh
import data.meshc.providers.istio

test_a_mesh_container_is_genuine_with_its_image_bare_tagged_or_pinned if {
	every image in ["docker.io/istio/proxyv2", "docker.io/istio/proxyv2:1.24.2", "docker.io/istio/proxyv2@sha256:abc"] {
		mesh.genuine({"name": "istio-proxy", "image": image}) with data.meshc.config as fixtures.istio
	}
}

test_a_registry_with_a_port_is_part_of_the_repository if {
	local := object.union(fixtures.istio, {
		"mesh_images": ["localhost:5000/proxyv2"],
		"mesh_image_prefixes": ["localhost:5000/proxyv2:", "localhost:5000/proxyv2@"],
	})
	mesh.genuine({"name": "istio-proxy", "image": "localhost:5000/proxyv2:1"}) with data.meshc.config as local
	not mesh.genuine({"name": "istio-proxy", "image": "localhost:5001/proxyv2:1"}) with data.meshc.config as local
}

test_a_look_alike_image_or_name_is_not_genuine if {
	every image in ["docker.io/istio/proxyv2-debug:1.24.2", "evil.io/docker.io/istio/proxyv2:1", "docker.io/istio/proxyv2x", "docker.io/istio", "istio/proxyv2:1.24.2"] {
		not mesh.genuine({"name": "istio-proxy", "image": image}) with data.meshc.config as fixtures.istio
	}
	not mesh.genuine({"name": "web", "image": "docker.io/istio/proxyv2:1.24.2"}) with data.meshc.config as fixtures.istio
	not mesh.genuine({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.2"}) with data.meshc.config as fixtures.linkerd
}

test_show_is_total_and_never_marshals_a_collection if {
	k8s.show("a\"b") == "\"a\"b\""
	k8s.show(null) == "null"
	k8s.show(true) == "true"
	k8s.show(false) == "false"
	k8s.show(1337) == "1337"
	k8s.show(1.5) == "a number"
	k8s.show([1]) == "an array"
	k8s.show({"a": [1]}) == "an object"
	k8s.show_fields({"ipBlocks": ["10.0.0.0/8"], "notPorts": []}) == "{ipBlocks, notPorts}"
	k8s.show_fields("x") == "\"x\""
}

test_istio_injects_reads_like_every_supported_release if {
	every value in ["true", "True", "y", "yes", "on"] {
		istio.injects(value)
	}
	every value in ["false", "no", "", "1"] {
		not istio.injects(value)
	}
}
