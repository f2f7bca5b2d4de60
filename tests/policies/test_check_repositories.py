"""`meshc check` over real repositories: upstream material copied under tests/upstream
(provenance in tests/upstream/SOURCES.md), mixed as a GitOps repository mixes it.

What is not a Kubernetes object is skipped with one line each, everything else is
judged as admission would judge it, and every run ends with a summary line.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import helm_python as helm
import pytest

from meshc.cli import main
from meshc.policies.manifests import SUFFIXES, listed_files
from support.paths import REPO
from support.specs import write_spec

UPSTREAM = REPO / "tests" / "upstream"
APPS = UPSTREAM / "argocd-example-apps"
BOOKINFO = UPSTREAM / "bookinfo"
SPEC = """\
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: apps}
spec:
  provider: istio
  namespaces:
    - {name: guestbook, manage: false}   # the guestbook team's own Namespace manifest
    - {name: bookinfo}
"""


def check(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


@pytest.fixture
def spec(tmp_path: Path) -> str:
    return str(write_spec(tmp_path, SPEC))


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """argocd-example-apps with this project's own CI files and pre-commit config beside it."""
    repo = tmp_path / "gitops"
    shutil.copytree(APPS, repo)
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(REPO / ".github" / "workflows" / "ci.yml", repo / ".github" / "workflows")
    shutil.copy(REPO / "examples" / "gitops" / ".pre-commit-config.yaml", repo)
    return repo


def test_a_gitops_repository_is_checked_and_what_is_not_an_object_is_skipped_with_why(
    spec: str, repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, the first Chart.yaml aborted the run with exit 2 and nothing was checked.
    code, out, err = check("--spec", spec, str(repository), capsys=capsys)
    assert (code, out) == (0, "")
    skipped = dict(
        line.removeprefix(f"skipped {repository}/").split(": ", 1)
        for line in err
        if line.startswith("skipped ")
    )
    # Every file of each Helm chart, with the command that checks what it renders.
    for chart in ("apps", "blue-green", "helm-dependency", "helm-guestbook"):
        files = [k for k in skipped if k.startswith(f"{chart}/")]
        assert files, chart
        assert all("Helm chart" in skipped[f] and "helm template" in skipped[f] for f in files)
    assert skipped["helm-guestbook/templates/deployment.yaml"].startswith(
        "a template of the Helm chart"
    )
    assert skipped["helm-guestbook/values.yaml"].startswith("values of the Helm chart")
    # kustomize's build files, with the command that checks the build.
    for build in (
        "kustomize-guestbook/kustomization.yaml",
        "sock-shop/kustomization.yaml",
        "pre-post-sync/kustomization.yaml",
    ):
        assert skipped[build].startswith("kustomize's build file"), build
        assert "kubectl kustomize" in skipped[build]
    # CI files and tool configuration.
    assert (
        skipped[".github/workflows/ci.yml:1"] == "not a Kubernetes object (no apiVersion or kind)"
    )
    assert skipped[".pre-commit-config.yaml:3"] == "not a Kubernetes object (no apiVersion or kind)"
    # The plain manifests are judged: guestbook, sock-shop's base, hooks, sync waves.
    summary = err[-1]
    assert summary.startswith("meshc check: 47 objects checked in 37 files; ")
    assert f"{len(skipped)} skipped ({len(skipped)} whole files)" in summary
    assert summary.endswith("; no findings; admitted")
    # Said once, not silently: where objects without a namespace were judged.
    assert any(
        "without metadata.namespace" in line and "judged in namespace 'default'" in line
        for line in err
    )


def test_strict_makes_a_skip_an_error(
    spec: str, repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = check("--spec", spec, "--strict", str(repository), capsys=capsys)
    assert (code, out) == (2, "")
    assert any("--strict makes that an error" in line for line in err)


def test_the_chart_skipped_is_checked_as_its_skip_line_says(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `helm template CHART | meshc check -`, with Helm's own engine.
    with helm.Chart.load(APPS / "helm-guestbook") as chart:
        manifests = chart.render({}, name="guestbook", namespace="guestbook", is_install=True)
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(
        "\n---\n".join(t for p, t in manifests.items() if not p.endswith("NOTES.txt"))
    )
    code, out, err = check("--spec", spec, "--namespace", "guestbook", str(rendered), capsys=capsys)
    assert (code, out) == (0, "")
    assert err == ["meshc check: 2 objects checked in 1 file; no findings; admitted"]


def test_an_opt_out_in_a_real_manifest_is_found_on_its_line(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = (APPS / "guestbook" / "guestbook-ui-deployment.yaml").read_text()
    edited = deployment.replace(
        "      labels:\n        app: guestbook-ui\n",
        '      labels:\n        app: guestbook-ui\n        sidecar.istio.io/inject: "false"\n',
        1,
    )
    assert edited != deployment
    path = tmp_path / "deployment.yaml"
    path.write_text(edited)
    code, out, err = check("--spec", spec, "-n", "guestbook", str(path), capsys=capsys)
    line = edited.splitlines().index('        sidecar.istio.io/inject: "false"') + 1
    assert code == 1
    assert out.startswith(
        f"{path}:{line}: [meshc:injection-required] Deployment guestbook/guestbook-ui: "
    )
    assert err[-1] == (
        "meshc check: 1 object checked in 1 file; 1 finding: injection-required 1; denied"
    )


@pytest.mark.parametrize("path", ["missing-dir", ""])
def test_a_missing_or_empty_path_is_an_error_not_a_silent_green(
    spec: str, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = check("--spec", spec, path, capsys=capsys)
    assert (code, out) == (2, "")


def test_a_directory_without_manifests_is_an_error(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("# nothing to apply\n")
    code, _, err = check("--spec", spec, str(empty), capsys=capsys)
    assert code == 2
    assert err == [f"meshc check: {empty}: no YAML or JSON files in this directory"]


def test_a_clean_run_prints_its_summary_too(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(
        "--spec", spec, "-n", "guestbook", str(APPS / "guestbook"), capsys=capsys
    )
    assert (code, out) == (0, "")
    assert err == ["meshc check: 2 objects checked in 2 files; no findings; admitted"]


# --- admission, literally -------------------------------------------------------------


def test_a_meshed_namespace_manifest_is_judged_after_the_webhooks_mutation_with_a_notice(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = tmp_path / "namespace.yaml"
    ns.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: guestbook\n")
    code, out, err = check("--spec", spec, str(ns), capsys=capsys)
    # Admitted (the webhook adds the label), and the manifest is told what it lacks.
    assert code == 0
    assert out == (
        f'{ns}:3: notice: [meshc:mutation] Namespace guestbook: metadata.labels["istio-injection"]: '
        'the webhook adds it at admission: "enabled"; write it into the manifest, so that git '
        "holds what runs\n"
    )
    assert err[-1].endswith("1 finding: mutation 1; admitted")


def test_a_namespace_manifest_for_a_namespace_meshc_renders_is_a_conflict(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = tmp_path / "namespace.yaml"
    ns.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n"
        "  labels: {istio-injection: enabled}\n"
    )
    code, out, _ = check("--spec", spec, str(ns), capsys=capsys)
    assert code == 1
    assert out == (
        f"{ns}:4: [meshc:spec-conflict] Namespace bookinfo: metadata.name: is an object meshc "
        f"renders from the spec (Namespace bookinfo from {spec}#spec.namespaces[1], {spec}:8): "
        "two sources of one object overwrite each other on every sync; remove this manifest and "
        "let the spec render it, or keep it and set manage: false on the spec's namespace\n"
    )


def test_an_explicit_opt_out_on_a_namespace_is_denied_not_hidden_by_mutation(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = tmp_path / "namespace.yaml"
    ns.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: guestbook\n"
        "  labels:\n    istio-injection: disabled\n"
    )
    code, out, _ = check("--spec", spec, str(ns), capsys=capsys)
    assert code == 1
    assert out.startswith(
        f"{ns}:6: [meshc:injection-required] Namespace guestbook: "
        'metadata.labels["istio-injection"]: disables sidecar injection'
    )


def test_workloads_in_exempt_namespaces_are_not_judged_but_mesh_wide_policy_there_is(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The chart never sends kube-system or istio-system workloads; it does send mesh
    # configuration from istio-system, Istio's root namespace.
    manifests = tmp_path / "system.yaml"
    manifests.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dns, namespace: kube-system}\n"
        "spec:\n  selector: {matchLabels: {app: dns}}\n  template:\n"
        "    metadata: {labels: {app: dns, sidecar.istio.io/inject: 'false'}}\n"
        "    spec: {hostNetwork: true, containers: [{name: dns, image: dns}]}\n"
        "---\n"
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: default, namespace: istio-system}\nspec:\n  mtls: {mode: DISABLE}\n"
    )
    code, out, err = check("--spec", spec, str(manifests), capsys=capsys)
    assert code == 1
    assert out.startswith(
        f"{manifests}:14: [meshc:mtls-strict] PeerAuthentication istio-system/default"
    )
    assert len(out.splitlines()) == 1
    assert "1 in exempt namespaces not judged (kube-system)" in err[-1]


def test_objects_without_a_namespace_are_judged_where_namespace_places_them(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opted_out = tmp_path / "pod-template.yaml"
    opted_out.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web, sidecar.istio.io/inject: 'false'}}\n"
        "    spec: {containers: [{name: web, image: web}]}\n"
    )
    code, _, err = check("--spec", spec, str(opted_out), capsys=capsys)
    assert code == 0  # in default, which is not meshed
    assert any("judged in namespace 'default'" in line for line in err)
    code, out, err = check(
        "--spec", spec, "--namespace", "guestbook", str(opted_out), capsys=capsys
    )
    assert code == 1 and "Deployment guestbook/web" in out
    assert not any("judged in namespace" in line for line in err)


def test_a_directory_is_listed_in_pathlib_s_order_without_git_and_symlinked_directories(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo"
    for name in ("a-b.yaml", "a/b.yaml", "a/c/d.yml", "B.json", "z.txt", ".git/x.yaml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}\n")
    (root / "linked-dir").symlink_to(root / "a", target_is_directory=True)
    (root / "linked.yaml").symlink_to(root / "a-b.yaml")
    (root / "dangling.yaml").symlink_to(root / "gone.yaml")
    os.mkfifo(root / "pipe.yaml")
    by_pathlib = [
        str(f)
        for f in sorted(root.rglob("*"))
        if f.is_file() and f.suffix in SUFFIXES and ".git" not in f.relative_to(root).parts
    ]
    assert listed_files([str(root)]) == by_pathlib
    assert [Path(f).relative_to(root).as_posix() for f in by_pathlib] == [
        "B.json", "a/b.yaml", "a/c/d.yml", "a-b.yaml", "linked.yaml",
    ]  # fmt: skip
