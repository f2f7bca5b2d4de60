"""Istio's bookinfo, as upstream wrote it, imported: each traffic-management task's files
(its platform manifests, then the task's networking files applied in order) become a spec
whose Istio rendering is semantically the upstream objects, and whose Linkerd rendering
reports what differs; the whole networking directory imports, with every object the spec
cannot say reported. The upstream files and their provenance are under
tests/compiler/upstream/bookinfo (README.md); "semantically" is defined in
tests/compiler/test_bookinfo_tasks.py.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from meshc.importer import Imported, import_manifests
from meshc.importer.emit import to_yaml
from meshc.policies.manifests import Manifest, load_manifests, scan_manifests

TESTS = Path(__file__).parent.parent
_spec = importlib.util.spec_from_file_location(
    "bookinfo_tasks", TESTS / "compiler" / "test_bookinfo_tasks.py"
)
assert _spec is not None and _spec.loader is not None
tasks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tasks)
UPSTREAM: Path = tasks.UPSTREAM
Obj = dict[str, Any]


def applied(files: tuple[str, ...], platform: str) -> list[Manifest]:
    """The objects after ``kubectl apply`` of the platform file then ``files`` in order: a
    later object replaces an earlier one of the same kind and name."""
    state: dict[tuple[str, str, str], Manifest] = {}
    for name in (platform, *files):
        for m in load_manifests([str(UPSTREAM / f"{name}.yaml")]):
            meta = m.obj["metadata"]
            state[(m.obj["kind"], meta.get("namespace", ""), meta["name"])] = m
    return list(state.values())


def imported(task: str) -> tuple[Imported, Any]:
    _, files, namespace = tasks.TASKS[task]
    platform = {"circuit breaking": "httpbin", "mirroring": "mirroring"}.get(task, "bookinfo")
    result = import_manifests(applied(files, platform), namespace=namespace)
    return result, result.spec


def load(spec: Obj, tmp_path: Path) -> Any:
    path = tmp_path / "mesh.yaml"
    path.write_text(to_yaml(spec, []), encoding="utf-8")
    return load_mesh(str(path))


@pytest.mark.parametrize("task", tasks.TASKS)
def test_each_task_imports_and_renders_back_to_the_upstream_objects(
    task: str, tmp_path: Path
) -> None:
    _, files, namespace = tasks.TASKS[task]
    result, spec = imported(task)
    mesh = load(spec, tmp_path)
    objects, _ = render(mesh, RenderOptions.of(allow_lossy=True), "istio")
    ours = {
        (o["kind"], o["metadata"]["name"]): tasks.semantic(o, namespace)
        for o in objects
        if o["kind"] in tasks.NETWORKING
    }
    theirs = {
        key: {**tasks.semantic(o, namespace), "name": key[1]}
        for key, o in tasks.upstream_state(files).items()
    }
    assert sorted(ours) == sorted(theirs)
    for key, obj in theirs.items():
        assert ours[key] == obj, key
    assert result.left == [], [f.format() for f in result.left]


@pytest.mark.parametrize("task", tasks.TASKS)
def test_each_task_renders_to_linkerd_with_every_difference_reported(
    task: str, tmp_path: Path
) -> None:
    _, spec = imported(task)
    mesh = load(spec, tmp_path)
    _, report = render(mesh, RenderOptions.of(allow_lossy=True), "linkerd")
    # The hand-written spec of the task reports the same fields on Linkerd.
    assert {
        p.path.split(".", 2)[-1] for p in report.problems if p.path.startswith("spec.services")
    } >= {p.split(".", 2)[-1] for p in tasks.LINKERD_REPORTS[task]}


def test_the_services_and_versions_come_from_the_platform_and_destination_rules() -> None:
    _, spec = imported("traffic shifting")
    services = {s["name"]: s for s in spec["spec"]["services"]}
    assert sorted(services) == ["details", "productpage", "ratings", "reviews"]
    assert [v["name"] for v in services["reviews"]["versions"]] == ["v1", "v2", "v3"]
    assert services["reviews"]["routes"][0]["split"] == {"v1": 50, "v3": 50}
    assert spec["spec"]["mtls"] == "PERMISSIVE"  # no PeerAuthentication: Istio's default


def test_the_whole_networking_directory_reports_what_conflicts_and_what_the_spec_cannot_say() -> (
    None
):
    scan = scan_manifests([str(UPSTREAM)])
    started = time.perf_counter()
    result = import_manifests(scan.manifests, namespace="bookinfo")
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    messages = [f.format() for f in result.left]
    # Several files route reviews: the first VirtualService is taken, the others reported.
    assert any("a second VirtualService for bookinfo/reviews" in m for m in messages)
    for finding in result.left:
        file, _, line = finding.where.rpartition(":")
        assert Path(file).is_file() and int(line) >= 1
    yaml.safe_load(to_yaml(result.spec, []))
