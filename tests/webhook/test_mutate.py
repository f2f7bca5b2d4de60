"""Namespace mutation: missing markers added as a diffed patch; a choice written on the
namespace is never replaced; none when nothing changes."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest
import yaml

from meshc.compiler.loader import load_mesh
from meshc.policies.mutation import NamespaceMutation
from meshc.webhook.mutate import namespace_patch
from support.api_server import namespace, review, workload

SPEC = """\
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: demo}
spec:
  provider: PROVIDER
  namespaces:
    - name: mesh-demo
"""


def mutation(provider: str = "istio", **extra: Any) -> NamespaceMutation:
    data = yaml.safe_load(SPEC.replace("PROVIDER", provider))
    for key, value in extra.items():
        if key == "namespace":
            data["spec"]["namespaces"][0].update(value)
        else:
            data["spec"][key] = value
    return NamespaceMutation.of(load_mesh("mesh.yaml", text=yaml.safe_dump(data)))


ISTIO = mutation("istio")
LINKERD = mutation("linkerd")
CANARY = mutation("istio", revision="canary")


def patched(
    ns: dict[str, Any], m: NamespaceMutation, operation: str = "CREATE"
) -> dict[str, Any] | None:
    ops = namespace_patch(review(ns, operation)["request"], m)
    if ops is None:
        return None
    result: dict[str, Any] = jsonpatch.apply_patch(ns, ops)
    return result


def labels(ns: dict[str, Any] | None) -> dict[str, str]:
    assert ns is not None
    found = dict(ns["metadata"].get("labels") or {})
    found.pop("kubernetes.io/metadata.name", None)
    return found


def test_markers_are_added_beside_existing_ones() -> None:
    ns = namespace("mesh-demo", annotations={"owner": "team-web"})
    after = patched(ns, LINKERD)
    assert after is not None
    assert after["metadata"]["annotations"] == {
        "owner": "team-web",
        **LINKERD.markers["mesh-demo"]["annotations"],
    }
    assert after["metadata"]["labels"] == ns["metadata"]["labels"]


def test_a_namespace_without_labels_or_with_null_labels_gets_them() -> None:
    for meta in ({"name": "mesh-demo"}, {"name": "mesh-demo", "labels": None}):
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
        after = patched(ns, ISTIO)
        assert after is not None and after["metadata"]["labels"] == {"istio-injection": "enabled"}


def test_keys_with_slashes_are_escaped_in_the_patch_path() -> None:
    ns = namespace("mesh-demo", annotations={"a": "b"})
    ops = namespace_patch(review(ns)["request"], LINKERD)
    assert ops is not None
    assert {op["path"] for op in ops} >= {"/metadata/annotations/linkerd.io~1inject"}


def test_a_namespace_that_already_carries_the_markers_gets_no_patch() -> None:
    for m in (ISTIO, LINKERD, CANARY):
        rendered = m.apply(namespace("mesh-demo"))
        assert rendered != namespace("mesh-demo")
        assert namespace_patch(review(rendered)["request"], m) is None


def test_only_meshed_namespaces_on_create_or_update_are_patched() -> None:
    assert namespace_patch(review(namespace("default"))["request"], ISTIO) is None
    assert namespace_patch(review(namespace("mesh-demo"), "DELETE")["request"], ISTIO) is None
    assert namespace_patch(review(workload("Pod"))["request"], ISTIO) is None
    assert namespace_patch(review(namespace("mesh-demo"), "UPDATE")["request"], ISTIO) is not None


def test_the_object_in_the_request_is_left_untouched() -> None:
    request = review(namespace("mesh-demo"))["request"]
    before = repr(request)
    namespace_patch(request, ISTIO)
    assert repr(request) == before


# --- a choice written on the namespace is never replaced ------------------------------


@pytest.mark.parametrize("value", ["disabled", "", "Enabled"])
def test_an_explicit_istio_injection_value_is_left_for_validation_to_judge(value: str) -> None:
    # It used to be overwritten with "enabled", hiding the opt-out instead of denying it.
    assert patched(namespace("mesh-demo", {"istio-injection": value}), ISTIO) is None


def test_an_explicit_linkerd_inject_value_is_kept_and_only_the_missing_policy_is_added() -> None:
    after = patched(namespace("mesh-demo", annotations={"linkerd.io/inject": "disabled"}), LINKERD)
    assert after is not None
    assert after["metadata"]["annotations"] == {
        "linkerd.io/inject": "disabled",
        "config.linkerd.io/default-inbound-policy": "all-authenticated",
    }


def test_without_a_revision_in_the_spec_a_namespace_on_a_revision_keeps_it() -> None:
    # istio-injection beside istio.io/rev would win and move the namespace off its revision.
    for revision in ("1-24-0", "prod-stable", ""):
        assert patched(namespace("mesh-demo", {"istio.io/rev": revision}), ISTIO) is None


def test_with_a_revision_the_webhook_adds_istio_io_rev_and_never_istio_injection() -> None:
    assert labels(patched(namespace("mesh-demo"), CANARY)) == {"istio.io/rev": "canary"}
    # A namespace on another revision, or on the default one, is not silently moved:
    # validation denies it and says why.
    assert patched(namespace("mesh-demo", {"istio.io/rev": "stable"}), CANARY) is None
    assert patched(namespace("mesh-demo", {"istio-injection": "enabled"}), CANARY) is None


def test_a_namespace_revision_overrides_the_specs() -> None:
    m = mutation("istio", revision="stable", namespace={"revision": "canary"})
    assert labels(patched(namespace("mesh-demo"), m)) == {"istio.io/rev": "canary"}


def test_an_unmanaged_namespace_is_still_marked() -> None:
    m = mutation("istio", namespace={"manage": False})
    assert labels(patched(namespace("mesh-demo"), m)) == {"istio-injection": "enabled"}
