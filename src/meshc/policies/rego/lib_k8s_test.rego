package meshc.lib.k8s_test

import data.meshc.lib.k8s

review(request_name, metadata) := {"request": {
	"kind": {"group": "", "version": "v1", "kind": "Pod"},
	"operation": "CREATE",
	"namespace": "mesh-demo",
	"name": request_name,
	"object": {"metadata": metadata},
}}

test_the_object_names_itself if {
	k8s.name == "web-1" with input as review("web-2", {"name": "web-1", "generateName": "web-"})
}

test_the_request_names_an_object_without_a_name if {
	k8s.name == "web-2" with input as review("web-2", {"name": "", "generateName": "web-"})
}

test_a_pod_known_only_by_its_generate_name_is_named_by_it if {
	k8s.name == "web-7d9c8f6b5-" with input as review("", {"generateName": "web-7d9c8f6b5-"})
}

test_an_object_without_any_name_has_an_empty_one if {
	k8s.name == "" with input as review("", {})
}

test_integers_are_shown_up_to_int32_and_as_a_number_past_it if {
	k8s.show(2147483647) == "2147483647"
	k8s.show(-2147483647) == "-2147483647"
	k8s.show(-2147483648) == "a number"
	k8s.show(2147483648) == "a number"
	k8s.show(1.5) == "a number"
	k8s.show("1") == "\"1\""
}
