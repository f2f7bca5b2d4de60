"""A change that drops a Namespace from the render is said loudly, by `meshc diff` and by
`meshc render --check`, with what happens in the cluster and what to do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from meshc.cli import main
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from meshc.compiler.unmesh import namespace_removals
from support.paths import EXAMPLES

TWO = (
    (EXAMPLES / "quickstart" / "mesh.yaml")
    .read_text()
    .replace(
        "  namespaces:\n    - name: mesh-demo\n",
        "  namespaces:\n    - name: mesh-demo\n    - name: payments\n",
    )
    .replace("allowedNamespaces: [mesh-demo]", "allowedNamespaces: [mesh-demo, payments]")
)
ONE = (EXAMPLES / "quickstart" / "mesh.yaml").read_text()
UNMANAGED = TWO.replace("    - name: payments\n", "    - name: payments\n      manage: false\n")
AUTHOR = git.Actor("Test", "test@example.com")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[git.Repo]:
    r = git.Repo.init(tmp_path)
    yield r
    r.close()


def commit(repo: git.Repo, text: str) -> None:
    (Path(repo.working_dir) / "mesh.yaml").write_text(text)
    repo.index.add(["mesh.yaml"])
    repo.index.commit("change", author=AUTHOR, committer=AUTHOR)


def test_diff_warns_that_the_namespace_stays_with_its_workloads_and_says_what_to_do(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(repo, TWO)
    commit(repo, ONE)
    assert main(["diff", "--repo", repo.working_dir, "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [(o["kind"], o["name"]) for o in document["removed"]] == [
        ("Namespace", "payments"),
        ("PeerAuthentication", "default"),
    ]
    (warning,) = [w["message"] for w in document["warnings"] if w["category"] == "destructive"]
    assert warning.splitlines() == [
        "Namespace payments is no longer rendered.",
        (
            "  In the cluster: Argo CD does not delete it (it was rendered with "
            "argocd.argoproj.io/sync-options: Prune=false,Delete=false); the namespace and every "
            "workload in it stay, and the Application shows it OutOfSync (requires pruning) until "
            "another Application or you take it over."
        ),
        "  Pruned with it: PeerAuthentication payments/default.",
        (
            "  It keeps its injection markers (istio-injection=enabled) and new pods there are still "
            "injected, but the webhook no longer judges it. To take it out of the mesh, remove them "
            "(kubectl label namespace payments istio-injection-) and restart its workloads; to keep "
            "it meshed as the team's own Namespace, list it with manage: false; to delete it with "
            "everything in it, kubectl delete namespace payments."
        ),
    ]


def test_diff_to_manage_false_says_the_teams_manifest_owns_it_now(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(repo, TWO)
    commit(repo, UNMANAGED)
    assert main(["diff", "--repo", repo.working_dir, "--format", "json"]) == 1
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    (warning,) = [w["message"] for w in warnings if w["category"] == "destructive"]
    assert "The spec still meshes it with manage: false" in warning
    assert "Pruned with it" not in warning  # its PeerAuthentication is still rendered
    assert "To take it out of the mesh" not in warning


def test_diff_without_a_removed_namespace_says_nothing(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(repo, ONE)
    commit(repo, ONE.replace("{v1: 90, v2: 10}", "{v1: 80, v2: 20}"))
    assert main(["diff", "--repo", repo.working_dir, "--format", "json"]) == 1
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert [w for w in warnings if w["category"] == "destructive"] == []


def test_render_check_warns_about_a_committed_namespace_no_longer_rendered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_text(TWO)
    out = tmp_path / "rendered"
    assert main(["render", "--spec", str(spec), "-o", str(out)]) == 0
    spec.write_text(ONE)
    capsys.readouterr()
    assert main(["render", "--spec", str(spec), "-o", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert f"{out}: stale: _cluster_namespace_payments.yaml (no longer rendered)" in err
    assert "warning: Namespace payments is no longer rendered." in err
    assert "Argo CD does not delete it" in err


def test_a_namespace_rendered_before_the_sync_options_is_a_deletion_warning() -> None:
    objects, _ = render(load_mesh("mesh.yaml", text=TWO), RenderOptions())
    old = [
        o for o in objects if o["metadata"].get("namespace", o["metadata"]["name"]) == "payments"
    ]
    for o in old:
        o["metadata"]["annotations"].pop("argocd.argoproj.io/sync-options", None)
    (warning,) = namespace_removals(old, load_mesh("mesh.yaml", text=ONE))
    assert "an Argo CD sync that prunes DELETES the namespace and every workload in it" in warning
