"""meshc audit reports a native admission policy or binding that is missing or binds otherwise.

Admission never guards admission policies and their bindings (the API server
exempts its own admission configuration), so the audit is what notices one
deleted, or a Deny binding turned into Warn.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from meshc.audit.native import KINDS, native_problems
from meshc.compiler.loader import load_mesh
from meshc.compiler.model import Mesh
from meshc.policies.native.render import admission_objects


class FakeCluster:
    """The rendered admission objects as an API server would return them, by path."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.stored = {self.path(o): copy.deepcopy(o) for o in objects}

    @staticmethod
    def path(obj: dict[str, Any]) -> str:
        return f"/apis/{obj['apiVersion']}/{KINDS[obj['kind']]}/{obj['metadata']['name']}"

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        if path not in self.stored:
            return 404, {"message": "not found"}
        return 200, self.stored[path]


def mesh(tmp_path: Path, enforcement: str) -> Mesh:
    path = tmp_path / "mesh.yaml"
    path.write_text(
        "apiVersion: meshc.io/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\n"
        "spec:\n  provider: istio\n  namespaces: [{name: shop}]\n"
        f"  admission:\n    enforcement: {enforcement}\n"
    )
    return load_mesh(str(path))


@pytest.mark.parametrize("enforcement", ["native", "both"])
def test_every_rendered_object_in_place_is_no_problem(tmp_path: Path, enforcement: str) -> None:
    spec = mesh(tmp_path, enforcement)
    objects, _ = admission_objects(spec)
    assert native_problems(FakeCluster(objects), spec) == []


def test_a_missing_binding_is_reported_by_name(tmp_path: Path) -> None:
    spec = mesh(tmp_path, "native")
    objects, _ = admission_objects(spec)
    kept = [o for o in objects if o["kind"] != "ValidatingAdmissionPolicyBinding"]
    assert native_problems(FakeCluster(kept), spec) == [
        (
            "ValidatingAdmissionPolicyBinding meshc-shop-enforce is missing: "
            "the API server does not enforce it"
        )
    ]


def test_a_binding_that_no_longer_denies_is_reported(tmp_path: Path) -> None:
    spec = mesh(tmp_path, "native")
    objects, _ = admission_objects(spec)
    cluster = FakeCluster(objects)
    binding = next(o for o in objects if o["kind"] == "ValidatingAdmissionPolicyBinding")
    cluster.stored[cluster.path(binding)]["spec"]["validationActions"] = ["Warn"]
    assert native_problems(cluster, spec) == [
        (
            "ValidatingAdmissionPolicyBinding meshc-shop-enforce has validationActions ['Warn'], "
            "not ['Deny']"
        )
    ]


def test_the_webhook_alone_asks_the_cluster_nothing(tmp_path: Path) -> None:
    class Refusing:
        def get(self, path: str) -> tuple[int, dict[str, Any]]:
            raise AssertionError(path)

    assert native_problems(Refusing(), mesh(tmp_path, "webhook")) == []
