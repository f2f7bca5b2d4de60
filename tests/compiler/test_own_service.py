"""spec.services[].service.manage: false — the app's own Service, meshc's mesh objects."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import render
from support.examples import ISTIO, TARGETS, Target
from support.specs import quickstart


def mesh(**service: Any) -> Any:
    data = quickstart()
    data["spec"]["services"][0].update(service)
    return load_mesh("mesh.yaml", text=yaml.safe_dump(data))


def kinds(target: Target, allow_lossy: bool = True, **service: Any) -> set[tuple[str, str]]:
    objects, _ = render(mesh(**service), target.options(allow_lossy), target.provider)
    return {(o["kind"], o["metadata"]["name"]) for o in objects}


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.id)
def test_without_the_service_the_mesh_objects_are_still_rendered(target: Target) -> None:
    managed = kinds(target)
    own = kinds(target, service={"manage": False})
    assert ("Service", "web") in managed
    assert managed - own == {("Service", "web")}


def test_istio_renders_routing_for_the_apps_own_service_exactly() -> None:
    own = kinds(ISTIO, allow_lossy=False, service={"manage": False})
    assert {
        ("VirtualService", "web"),
        ("DestinationRule", "web"),
        ("AuthorizationPolicy", "web-allow"),
    } <= own


def test_on_linkerd_the_annotations_the_own_service_needs_are_named() -> None:
    target = next(t for t in TARGETS if t.id == "linkerd-gateway-api")
    data = quickstart()
    data["spec"]["services"][0]["service"] = {"manage": False}
    for key in ("connectionPool", "outlierDetection", "retries"):
        data["spec"]["services"][0].pop(key)
    with pytest.raises(SpecError) as info:
        render(load_mesh("mesh.yaml", text=yaml.safe_dump(data)), target.options(False), "linkerd")
    (problem,) = info.value.problems
    assert problem.path == "spec.services[0].timeout"
    assert problem.message == (
        "not supported on linkerd (gateway-api): not rendered: with service.manage false, add "
        "these annotations to your own Service mesh-demo/web: timeout.linkerd.io/request: '3s'; "
        "pass --allow-lossy to render without it"
    )


def test_service_manage_must_be_a_boolean() -> None:
    with pytest.raises(
        SpecError, match=r"spec.services\[0\].service.manage: must be true or false"
    ):
        mesh(service={"manage": "no"})
