package meshc.lib.mesh_test

import data.meshc.lib.mesh

test_images_match_by_repository_with_tag_or_digest if {
	mesh.image_in("docker.io/istio/proxyv2:1.24.2", "docker.io/istio/proxyv2")
	mesh.image_in("docker.io/istio/proxyv2@sha256:abc", "docker.io/istio/proxyv2")
	mesh.image_in("localhost:5000/proxyv2:1", "localhost:5000/proxyv2")
	not mesh.image_in("docker.io/istio/proxyv2-debug:1.24.2", "docker.io/istio/proxyv2")
	not mesh.image_in("evil.io/docker.io/istio/proxyv2:1", "docker.io/istio/proxyv2")
}

test_istio_injects_reads_like_every_supported_release if {
	every value in ["true", "True", "y", "yes", "on"] {
		mesh.istio_injects(value)
	}
	every value in ["false", "no", "", "1"] {
		not mesh.istio_injects(value)
	}
}
