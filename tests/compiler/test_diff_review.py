"""Reviews of a mesh change: `meshc diff --format markdown|json`, the working tree, the warnings,
and the content diff of `meshc render --check`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from meshc.cli import main
from support.paths import EXAMPLES, REPO

QUICKSTART = (EXAMPLES / "quickstart" / "mesh.yaml").read_text()
WEIGHT = ("split: {v1: 90, v2: 10}", "split: {v1: 80, v2: 20}")
ALLOW = (
    "        - fromNamespaces: [mesh-demo]\n          ports: [80]\n",
    "        - fromServiceAccounts: [mesh-demo/frontend]\n          ports: [80]\n",
)
AUTHOR = git.Actor("Test", "test@example.com")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A repository with the quickstart committed; tests edit the working tree."""
    r = git.Repo.init(tmp_path)
    (tmp_path / "mesh.yaml").write_text(QUICKSTART)
    r.index.add(["mesh.yaml"])
    r.index.commit("quickstart", author=AUTHOR, committer=AUTHOR)
    yield tmp_path
    r.close()


def edit(repo: Path, *changes: tuple[str, str]) -> None:
    text = QUICKSTART
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    (repo / "mesh.yaml").write_text(text)


def diff(repo: Path, *args: str) -> int:
    return main(["diff", "--repo", str(repo), *args])


def documented(example: str) -> str:
    doc = (REPO / "docs" / "review.md").read_text()
    found = re.search(rf"<!-- example: {example} -->\n````markdown\n(.*?)````\n", doc, re.DOTALL)
    assert found, example
    return found.group(1)


@pytest.mark.parametrize(("example", "change"), [("weight", WEIGHT), ("allow", ALLOW)])
def test_the_markdown_of_a_change_reads_as_the_docs_show_it(
    repo: Path, example: str, change: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    edit(repo, change)
    assert diff(repo, "HEAD", "--format", "markdown") == 1
    assert capsys.readouterr().out == documented(example)


def test_one_revision_compares_it_with_the_working_tree(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert diff(repo, "HEAD") == 0
    assert (
        capsys.readouterr().out == "mesh.yaml HEAD..working tree: 0 added, 0 changed, 0 removed\n"
    )
    edit(repo, WEIGHT)
    assert diff(repo, "HEAD") == 1
    assert "~ VirtualService mesh-demo/web" in capsys.readouterr().out


def test_security_warnings_come_first(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, WEIGHT, ALLOW, ("mtls: STRICT", "mtls: PERMISSIVE"))
    assert diff(repo, "HEAD", "--format", "json") == 1
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert [w["category"] for w in warnings] == ["security", "security", "security", "traffic"]
    assert warnings[2]["message"] == "mTLS: STRICT -> PERMISSIVE"
    assert warnings[3]["message"] == (
        "weight moved: mesh-demo/web route 1: v1 90%, v2 10% -> v1 80%, v2 20%"
    )


def test_a_namespace_removed_is_a_destructive_warning(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "mesh.yaml").write_text(QUICKSTART.replace("mesh-demo", "shop"))
    assert diff(repo, "HEAD", "--format", "json") == 1
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    destructive = [w["message"] for w in warnings if w["category"] == "destructive"]
    namespace, service = destructive
    assert namespace.startswith("Namespace mesh-demo is no longer rendered.\n")
    assert "Prune=false,Delete=false" in namespace  # what stays in the cluster
    assert "Pruned with it: AuthorizationPolicy mesh-demo/web-allow" in namespace
    assert service == "Service mesh-demo/web removed"


def test_the_json_names_each_changed_field_with_its_old_and_new_value(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(repo, ALLOW)
    assert diff(repo, "HEAD", "--format", "json") == 1
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {"added": 0, "changed": 1, "removed": 0}
    (changed,) = document["changed"]
    assert changed["kind"] == "AuthorizationPolicy" and changed["name"] == "web-allow"
    assert changed["changes"] == [
        {"path": "spec.rules[0].from[0].source.namespaces", "old": ["mesh-demo"]},
        {"path": "spec.rules[0].from[0].source.principals",
         "new": ["cluster.local/ns/mesh-demo/sa/frontend"]},
    ]  # fmt: skip
    assert {(e["change"], e["from"], e["to"]) for e in document["edges"]} == {
        ("added", "frontend", "web"), ("removed", "mesh-demo/*", "web"),
    }  # fmt: skip


def test_render_check_prints_the_content_of_what_drifted(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, out = str(repo / "mesh.yaml"), repo / "rendered"
    assert main(["render", "--spec", spec, "-o", str(out)]) == 0
    edit(repo, ALLOW)
    capsys.readouterr()
    assert main(["render", "--spec", spec, "-o", str(out), "--check"]) == 1
    printed, err = capsys.readouterr()
    name = "mesh-demo_authorizationpolicy_web-allow.yaml"
    assert printed.splitlines()[:3] == [
        f"--- {out / name}", f"+++ {out / name} (rendered)", "@@ -17,8 +17,8 @@",
    ]  # fmt: skip
    assert "-        - mesh-demo\n" in printed
    assert "+        - cluster.local/ns/mesh-demo/sa/frontend\n" in printed
    assert f"{out}: changed: {name}" in err
    assert "\033[" not in printed  # not a terminal: no colour
