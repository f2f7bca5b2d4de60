"""The meshed Namespaces meshc renders: Istio revisions, Argo CD's sync options, and
namespaces the team owns elsewhere."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from meshc.compiler.core import NAMESPACE_SYNC_OPTIONS, SYNC_OPTIONS_ANNOTATION
from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.examples import ISTIO, TARGETS, Target
from support.paths import EXAMPLES
from support.specs import quickstart

Obj = dict[str, Any]


def spec(**edits: Any) -> dict[str, Any]:
    data = quickstart()
    data["spec"]["namespaces"] = [{"name": "mesh-demo"}, {"name": "payments"}]
    data["spec"]["admission"]["allowedNamespaces"] = ["mesh-demo", "payments"]
    for key, value in edits.items():
        if key == "payments":
            data["spec"]["namespaces"][1].update(value)
        else:
            data["spec"][key] = value
    return data


def rendered(data: dict[str, Any], target: Target = ISTIO) -> dict[tuple[str, str], Obj]:
    mesh = load_mesh("mesh.yaml", text=yaml.safe_dump(data))
    objects, _ = render(mesh, target.options(allow_lossy=True), target.provider)
    return {
        (o["kind"], o["metadata"].get("namespace") or o["metadata"]["name"]): o
        for o in objects
        if o["kind"] in ("Namespace", "PeerAuthentication")
    }


def labels(obj: Obj) -> dict[str, str]:
    return {
        k: v for k, v in obj["metadata"]["labels"].items() if not k.startswith(("app.", "meshc."))
    }


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_mesh("mesh.yaml", text=yaml.safe_dump(data, sort_keys=False))
    return [f"{p.path}: {p.message}" for p in info.value.problems]


# --- Istio revisions ------------------------------------------------------------------


def test_without_a_revision_namespaces_are_labelled_istio_injection() -> None:
    found = rendered(spec())
    assert labels(found[("Namespace", "payments")]) == {"istio-injection": "enabled"}


def test_a_spec_revision_labels_every_namespace_istio_io_rev_and_never_istio_injection() -> None:
    found = rendered(spec(revision="1-24-3"))
    for ns in ("mesh-demo", "payments"):
        assert labels(found[("Namespace", ns)]) == {"istio.io/rev": "1-24-3"}


def test_a_namespace_revision_overrides_the_specs_so_namespaces_move_one_at_a_time() -> None:
    found = rendered(spec(revision="1-24-3", payments={"revision": "1-25-0"}))
    assert labels(found[("Namespace", "mesh-demo")]) == {"istio.io/rev": "1-24-3"}
    assert labels(found[("Namespace", "payments")]) == {"istio.io/rev": "1-25-0"}
    # Only payments on a revision: the other namespace stays on the default one.
    found = rendered(spec(payments={"revision": "canary"}))
    assert labels(found[("Namespace", "mesh-demo")]) == {"istio-injection": "enabled"}
    assert labels(found[("Namespace", "payments")]) == {"istio.io/rev": "canary"}


@pytest.mark.parametrize("where", ["spec", "namespace"])
def test_a_revision_is_a_spec_error_on_linkerd(where: str) -> None:
    data = spec(provider="linkerd")
    if where == "spec":
        data["spec"]["revision"] = "canary"
        path = "spec.revision"
    else:
        data["spec"]["namespaces"][1]["revision"] = "canary"
        path = "spec.namespaces[1].revision"
    assert problems(data) == [
        (
            f"{path}: Linkerd has no control-plane revisions (this is "
            "Istio's istio.io/rev); remove it"
        )
    ]


def test_an_istio_spec_with_a_revision_rendered_for_linkerd_is_loud() -> None:
    mesh = load_mesh("mesh.yaml", text=yaml.safe_dump(spec(revision="canary")))
    linkerd = next(t for t in TARGETS if t.provider == "linkerd")
    with pytest.raises(SpecError, match=r"spec.revision: not supported on linkerd .*revisions"):
        render(mesh, linkerd.options(allow_lossy=False), "linkerd")


@pytest.mark.parametrize("label", ["istio-injection", "istio.io/rev", "istio.io/dataplane-mode"])
def test_a_namespace_label_that_would_contradict_the_markers_is_a_spec_error(label: str) -> None:
    # Rendered beside istio.io/rev, istio-injection would win (istioctl analyze IST0123).
    found = problems(spec(revision="canary", payments={"labels": {label: "enabled"}}))
    assert found == [
        (
            f"spec.namespaces[1].labels.{label}: {label!r} is one of the injection "
            "markers meshc sets from the spec (istio.io/rev: canary); remove it (choose "
            "the control plane with spec.revision or this namespace's revision)"
        )
    ]


def test_revision_names_are_dns_labels() -> None:
    assert problems(spec(revision="Canary_1")) == [
        (
            "spec.revision: 'Canary_1' is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit)"
        )
    ]


# --- Argo CD: a namespace that leaves the spec is never deleted ------------------------


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.id)
def test_rendered_namespaces_are_never_pruned_or_deleted_by_argo_cd(target: Target) -> None:
    for (kind, _), obj in rendered(spec(), target).items():
        if kind == "Namespace":
            assert (
                obj["metadata"]["annotations"][SYNC_OPTIONS_ANNOTATION]
                == "Prune=false,Delete=false"
            )
    assert NAMESPACE_SYNC_OPTIONS == "Prune=false,Delete=false"


def test_a_namespaces_own_sync_options_are_kept_before_meshcs() -> None:
    found = rendered(
        spec(payments={"annotations": {SYNC_OPTIONS_ANNOTATION: "ServerSideApply=true"}})
    )
    assert found[("Namespace", "payments")]["metadata"]["annotations"][SYNC_OPTIONS_ANNOTATION] == (
        "ServerSideApply=true,Prune=false,Delete=false"
    )


def test_a_spec_that_would_let_argo_cd_delete_a_namespace_is_refused() -> None:
    found = problems(spec(payments={"annotations": {SYNC_OPTIONS_ANNOTATION: "Prune=true"}}))
    assert found == [
        (
            f"spec.namespaces[1].annotations.{SYNC_OPTIONS_ANNOTATION}: 'Prune=true': "
            "meshc renders every Namespace with Prune=false,Delete=false, so that no sync "
            "deletes a namespace and its workloads; remove it"
        )
    ]


# --- namespaces the team owns ---------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.id)
def test_an_unmanaged_namespace_is_not_rendered_but_still_meshed(target: Target) -> None:
    data = spec(payments={"manage": False})
    data["spec"]["services"][0]["namespace"] = "payments"
    found = rendered(data, target)
    assert ("Namespace", "payments") not in found
    assert ("Namespace", "mesh-demo") in found
    mesh = load_mesh("mesh.yaml", text=yaml.safe_dump(data))
    assert "payments" in mesh.meshed_namespaces
    if target.provider == "istio":
        assert ("PeerAuthentication", "payments") in found


def test_the_revisions_example_moves_one_namespace_to_the_canary_control_plane() -> None:
    mesh = load_mesh(str(EXAMPLES / "istio-revisions" / "mesh.yaml"))
    objects, _ = render(mesh, RenderOptions())
    revisions = {
        o["metadata"]["name"]: o["metadata"]["labels"].get("istio.io/rev")
        for o in objects
        if o["kind"] == "Namespace"
    }
    assert revisions == {"shop": "1-24-3", "payments": "1-25-0"}
