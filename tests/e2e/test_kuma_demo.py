"""Kuma's counter demo, as the demo deploys it and as meshc renders it, through a real API server
with Kuma's CRDs: both are accepted, so the rendered Mesh and permissions can replace the demo's."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.apply import apply_objects
from support.paths import REPO

pytestmark = pytest.mark.tools

DEMO = REPO / "tests" / "kuma-counter-demo"


def _apply(kube_client: k8s.ApiClient, objects: list[dict[str, Any]]) -> list[str]:
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    others = [o for o in objects if o["kind"] != "Namespace"]
    errors = apply_objects(kube_client, namespaces, dry_run=False)
    errors += apply_objects(kube_client, others, dry_run=True)
    return [str(e) for e in errors]


def test_the_demos_own_manifests_are_accepted(
    kube_client: k8s.ApiClient, installed_crds: list[str]
) -> None:
    demo = [d for d in yaml.safe_load_all((DEMO / "001-with-mtls.yaml").read_text()) if d]
    assert {d["kind"] for d in demo} >= {"Mesh", "MeshTrafficPermission", "Deployment"}
    assert _apply(kube_client, demo) == []


def test_meshcs_render_of_the_demo_is_accepted(
    kube_client: k8s.ApiClient, installed_crds: list[str]
) -> None:
    objects, report = render(load_mesh(str(DEMO / "mesh.yaml")), RenderOptions(), "kuma")
    # Only the warning that Kuma's default MeshRetry retries the services the spec gives
    # no retries (services.retries.omitted).
    assert [p.path for p in report.problems] == ["spec.services"]
    assert {o["kind"] for o in objects} >= {
        "Mesh",
        "Namespace",
        "Service",
        "MeshHTTPRoute",
        "MeshTimeout",
        "MeshRetry",
        "MeshCircuitBreaker",
        "MeshTrafficPermission",
    }
    assert _apply(kube_client, objects) == []
