"""Namespace mutation: markers merged in, as a diffed patch, and none when nothing changes."""

from __future__ import annotations

import jsonpatch

from meshc.providers import get as provider_profile
from meshc.webhook.mutate import namespace_patch, with_markers
from support.api_server import namespace, review, workload

ISTIO = provider_profile("istio").namespace_markers("STRICT")
LINKERD = provider_profile("linkerd").namespace_markers("STRICT")
MESHED = frozenset({"mesh-demo"})


def test_markers_are_added_beside_existing_ones() -> None:
    ns = namespace("mesh-demo", annotations={"owner": "team-web"})
    ops = namespace_patch(review(ns)["request"], MESHED, LINKERD)
    assert ops is not None
    after = jsonpatch.apply_patch(ns, ops)
    assert after["metadata"]["annotations"] == {"owner": "team-web", **LINKERD["annotations"]}
    assert after["metadata"]["labels"] == ns["metadata"]["labels"]


def test_a_namespace_without_labels_or_with_null_labels_gets_them() -> None:
    for meta in ({"name": "mesh-demo"}, {"name": "mesh-demo", "labels": None}):
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
        ops = namespace_patch(review(ns)["request"], MESHED, ISTIO)
        assert ops is not None
        assert jsonpatch.apply_patch(ns, ops)["metadata"]["labels"] == {
            "istio-injection": "enabled"
        }


def test_keys_with_slashes_are_escaped_in_the_patch_path() -> None:
    ns = namespace("mesh-demo", annotations={"a": "b"})
    ops = namespace_patch(review(ns)["request"], MESHED, LINKERD)
    assert ops is not None
    assert {op["path"] for op in ops} >= {"/metadata/annotations/linkerd.io~1inject"}


def test_a_namespace_that_already_carries_the_markers_gets_no_patch() -> None:
    for markers in (ISTIO, LINKERD):
        rendered = with_markers(namespace("mesh-demo"), markers)
        assert namespace_patch(review(rendered)["request"], MESHED, markers) is None


def test_only_meshed_namespaces_on_create_or_update_are_patched() -> None:
    assert namespace_patch(review(namespace("default"))["request"], MESHED, ISTIO) is None
    assert (
        namespace_patch(review(namespace("mesh-demo"), "DELETE")["request"], MESHED, ISTIO) is None
    )
    assert namespace_patch(review(workload("Pod"))["request"], MESHED, ISTIO) is None
    assert (
        namespace_patch(review(namespace("mesh-demo"), "UPDATE")["request"], MESHED, ISTIO)
        is not None
    )


def test_the_object_in_the_request_is_left_untouched() -> None:
    request = review(namespace("mesh-demo"))["request"]
    before = repr(request)
    namespace_patch(request, MESHED, ISTIO)
    assert repr(request) == before
