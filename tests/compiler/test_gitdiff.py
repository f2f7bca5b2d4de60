"""`meshc diff` and `meshc render --ref`: renders read from git history, compared object by object."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from meshc.cli import main
from meshc.compiler.objdiff import diff_objects, field_changes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUICKSTART = (EXAMPLES / "quickstart" / "mesh.yaml").read_text()
API_SERVICE = """\
    - name: api
      namespace: mesh-demo
      selector: {app: api}
      ports:
        - {name: http, port: 8080, targetPort: 8080}
      timeout: 2s
"""
AUTHOR = git.Actor("Test", "test@example.com")


class History:
    """A throwaway repository to which each test commits versions of mesh.yaml."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = git.Repo.init(root)

    def commit(self, text: str | None, path: str = "mesh.yaml") -> str:
        file = self.root / path
        if text is None:
            self.repo.index.remove([path], working_tree=True)
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text)
            self.repo.index.add([path])
        return self.repo.index.commit("change", author=AUTHOR, committer=AUTHOR).hexsha


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(tmp_path)
    yield h
    h.repo.close()


def diff(history: History, *args: str) -> int:
    return main(["diff", "--repo", str(history.root), *args])


def test_a_weight_change_is_listed_as_field_changes_of_one_object(history, capsys):
    history.commit(QUICKSTART)
    history.commit(QUICKSTART.replace("split: {v1: 90, v2: 10}", "split: {v1: 80, v2: 20}"))

    assert diff(history) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "mesh.yaml HEAD~1..HEAD: 0 added, 1 changed, 0 removed",
        "warning: traffic: weight moved: mesh-demo/web route 1: v1 90%, v2 10% -> v1 80%, v2 20%",
        "~ VirtualService mesh-demo/web (networking.istio.io/v1)",
        "    spec.http[0].route[0].weight: 90 -> 80",
        "    spec.http[0].route[1].weight: 10 -> 20",
    ]


def test_an_edit_that_renders_the_same_is_no_difference_even_though_the_revision_differs(
    history, capsys
):
    # Every object's source annotation names its revision; that alone is not a change.
    first = history.commit(QUICKSTART)
    history.commit("# routing owned by the web team\n" + QUICKSTART)

    assert diff(history, first, "HEAD") == 0
    assert capsys.readouterr().out == f"mesh.yaml {first}..HEAD: 0 added, 0 changed, 0 removed\n"


def test_objects_a_new_service_brings_are_added_and_those_it_drops_are_removed(history, capsys):
    history.commit(QUICKSTART)
    history.commit(QUICKSTART + API_SERVICE)

    assert diff(history) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "+ VirtualService mesh-demo/api (networking.istio.io/v1)" in lines
    assert not [line for line in lines if line.startswith(("~ ", "- "))]

    assert diff(history, "HEAD", "HEAD~1") == 1
    lines = capsys.readouterr().out.splitlines()
    assert "- VirtualService mesh-demo/api (networking.istio.io/v1)" in lines
    assert not [line for line in lines if line.startswith(("~ ", "+ "))]


def test_a_spec_added_by_the_change_makes_every_object_new(history, capsys):
    history.commit("# the GitOps repository, before meshc\n", path="README.md")
    history.commit(QUICKSTART)

    assert diff(history) == 1
    captured = capsys.readouterr()
    assert "mesh.yaml does not exist at HEAD~1" in captured.err
    assert captured.out.startswith("mesh.yaml HEAD~1..HEAD: ")
    assert "+ Namespace mesh-demo (v1)" in captured.out.splitlines()
    assert "~ " not in captured.out and "\n- " not in captured.out


def test_the_spec_path_is_taken_from_the_repository_root(history, capsys):
    history.commit(QUICKSTART, path="clusters/prod/mesh.yaml")
    history.commit(QUICKSTART.replace("timeout: 3s", "timeout: 4s"), path="clusters/prod/mesh.yaml")

    assert diff(history, "--spec", "clusters/prod/mesh.yaml") == 1
    assert '    spec.http[0].timeout: "3s" -> "4s"' in capsys.readouterr().out.splitlines()

    assert diff(history) == 2
    assert "mesh.yaml exists at neither HEAD~1 nor HEAD" in capsys.readouterr().err


def test_render_options_apply_to_both_revisions(history, capsys):
    linkerd = (EXAMPLES / "linkerd-quickstart" / "mesh.yaml").read_text()
    history.commit(linkerd)
    history.commit(linkerd.replace("split: {v1: 90, v2: 10}", "split: {v1: 50, v2: 50}"))

    assert diff(history, "--linkerd-routing", "smi") == 1
    out = capsys.readouterr().out
    assert "~ TrafficSplit l5d-demo/web-split (split.smi-spec.io/v1alpha2)" in out
    assert "HTTPRoute" not in out


def test_a_spec_that_is_invalid_at_one_revision_is_an_error_naming_that_revision(history, capsys):
    history.commit(QUICKSTART.replace("mtls: STRICT", "mtls: SOMETIMES"))
    history.commit(QUICKSTART)

    assert diff(history) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "mesh.yaml@HEAD~1:7:9: spec.mtls:" in captured.err
    assert "meshc diff: the spec at HEAD~1 does not render" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-branch"], "meshc diff: unknown git revision 'no-such-branch'"),
        (["HEAD~5"], "meshc diff: unknown git revision 'HEAD~5'"),
    ],
)
def test_an_unknown_revision_is_a_usage_error(history, capsys, args, message):
    history.commit(QUICKSTART)
    history.commit(QUICKSTART)

    assert diff(history, *args) == 2
    assert capsys.readouterr().err.strip() == message


def test_a_directory_outside_git_is_a_usage_error(tmp_path, capsys):
    assert main(["diff", "--repo", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"meshc diff: {tmp_path}: not inside a git repository"


def test_render_ref_renders_the_committed_spec_not_the_working_tree(history, capsys):
    history.commit(QUICKSTART)
    (history.root / "mesh.yaml").write_text(QUICKSTART.replace("timeout: 3s", "timeout: 9s"))

    assert main(["render", "--spec", str(history.root / "mesh.yaml"), "--ref", "HEAD"]) == 0
    out = capsys.readouterr().out
    assert "timeout: 3s" in out and "9s" not in out
    assert "meshc.io/source: mesh.yaml@HEAD#spec.namespaces[0]" in out


def test_render_ref_names_an_unknown_revision(history, capsys):
    history.commit(QUICKSTART)

    assert main(["render", "--spec", str(history.root / "mesh.yaml"), "--ref", "v9"]) == 2
    err = capsys.readouterr().err
    assert "--ref v9: unknown git revision 'v9'" in err
    assert "Traceback" not in err


def test_field_paths_index_lists_and_bracket_keys_that_contain_dots():
    old = {
        "metadata": {"annotations": {"argocd.argoproj.io/sync-wave": "1"}},
        "spec": {"http": [{"route": [{"weight": 90}, {"weight": 10}]}]},
    }
    new = {
        "metadata": {"annotations": {"argocd.argoproj.io/sync-wave": "2"}},
        "spec": {"http": [{"route": [{"weight": 100}]}], "tls": []},
    }

    assert [c.format() for c in field_changes(old, new)] == [
        'metadata.annotations["argocd.argoproj.io/sync-wave"]: "1" -> "2"',
        "spec.http[0].route[0].weight: 90 -> 100",
        'spec.http[0].route[1]: removed {"weight": 10}',
        "spec.tls: added []",
    ]


def test_values_that_python_considers_equal_but_yaml_does_not_are_changes():
    assert [c.format() for c in field_changes({"a": 1, "b": 1}, {"a": True, "b": 1.0})] == [
        "a: 1 -> true",
        "b: 1 -> 1.0",
    ]


def test_objects_are_matched_by_group_kind_namespace_and_name_not_by_version():
    def obj(api_version: str, kind: str = "VirtualService") -> dict:
        return {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": "web", "namespace": "shop"},
        }

    bumped = diff_objects([obj("networking.istio.io/v1beta1")], [obj("networking.istio.io/v1")])
    assert not bumped.added and not bumped.removed
    assert [c.format() for _, changes in bumped.changed for c in changes] == [
        'apiVersion: "networking.istio.io/v1beta1" -> "networking.istio.io/v1"'
    ]

    regrouped = diff_objects(
        [obj("gateway.networking.k8s.io/v1", "HTTPRoute")],
        [obj("policy.linkerd.io/v1beta3", "HTTPRoute")],
    )
    assert len(regrouped.added) == 1 and len(regrouped.removed) == 1 and not regrouped.changed


def test_moving_a_namespace_to_ambient_shows_exactly_what_changes(history, capsys):
    # Istio's migration guide: the waypoint, the routes as HTTPRoutes, the policies
    # re-attached, then the namespace label.
    history.commit(QUICKSTART)
    history.commit(QUICKSTART.replace("  mtls: STRICT\n", "  mtls: STRICT\n  dataplane: ambient\n"))

    assert diff(history, "--format", "json") == 1
    report = json.loads(capsys.readouterr().out)
    named = {(o["kind"], o["name"]) for o in report["added"]}
    assert named == {
        ("Gateway", "waypoint"),
        ("HTTPRoute", "web-http"),
        ("Service", "web-v1"),
        ("Service", "web-v2"),
        ("DestinationRule", "web-v1"),
        ("DestinationRule", "web-v2"),
        ("AuthorizationPolicy", "web-allow-l4"),
    }
    assert {(o["kind"], o["name"]) for o in report["removed"]} == {("VirtualService", "web")}
    changed = {(o["kind"], o["name"]): o["changes"] for o in report["changed"]}
    assert set(changed) == {
        ("Namespace", "mesh-demo"),
        ("AuthorizationPolicy", "web-allow"),
        ("Service", "web"),
    }
    assert {"path": "metadata.labels.istio-injection", "old": "enabled"} in changed[
        ("Namespace", "mesh-demo")
    ]
    assert {"path": 'metadata.labels["istio.io/dataplane-mode"]', "new": "ambient"} in changed[
        ("Namespace", "mesh-demo")
    ]
    assert any(
        c["path"] == "spec.targetRefs" for c in changed[("AuthorizationPolicy", "web-allow")]
    )
