"""The hooks in .pre-commit-hooks.yaml, run by the real `pre-commit try-repo` in GitOps repositories.

Each scenario is a user's repository with a commit staged. `try-repo` installs
meshc from a git copy of this project into a fresh virtualenv every time it
runs (it ignores PRE_COMMIT_HOME), which takes tens of seconds; the scenarios
are therefore started together once per session and each test reads its result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import chdir
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from meshc.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = (ROOT / "examples" / "quickstart" / "mesh.yaml").read_text()
# What `pip install` of the hook repository needs: the package and its metadata.
PACKAGE_FILES = ["pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "src"]
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-v1
  namespace: mesh-demo
spec:
  selector:
    matchLabels: {app: web, version: v1}
  template:
    metadata:
      labels: {app: web, version: v1}
      annotations: {}
    spec:
      containers:
        - name: web
          image: hashicorp/http-echo:1.0
"""
OPTED_OUT = DEPLOYMENT.replace("annotations: {}", 'annotations: {sidecar.istio.io/inject: "false"}')
NEW_SERVICE = """\
    - name: api
      namespace: mesh-demo
      selector: {app: api}
      ports:
        - {name: http, port: 8080, targetPort: 8080}
      timeout: 2s
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=_git_env()
    ).stdout


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return env | {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": os.environ.get("HOME", "/"),
    }


def hook_repository(dest: Path) -> Path:
    """This project as a committed git repository, whatever the state of the working tree."""
    dest.mkdir()
    for name in PACKAGE_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "meshc")
    return dest


def gitops_repository(path: Path) -> Path:
    """A user's repository as committed: the spec, its rendered output, a workload."""
    path.mkdir()
    git(path, "init", "-q")
    (path / "mesh.yaml").write_text(QUICKSTART)
    render(path)
    (path / "manifests").mkdir()
    (path / "manifests" / "web.yaml").write_text(DEPLOYMENT)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def render(repo: Path, *options: str) -> int:
    # From the repository root, as the hook runs: the spec path is part of the
    # source annotation of every rendered object.
    with chdir(repo):
        return main(["render", "--spec", "mesh.yaml", "-o", "rendered", *options])


def stage(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", *files)


def reviewed_change(repo: Path) -> None:
    """A routing change committed with its re-rendered output and a workload update."""
    stage(
        repo,
        {
            "mesh.yaml": QUICKSTART.replace("split: {v1: 90, v2: 10}", "split: {v1: 80, v2: 20}"),
            "manifests/web.yaml": DEPLOYMENT.replace("v1", "v2"),
        },
    )
    assert render(repo) == 0
    git(repo, "add", "rendered")


# A real Helm chart (argoproj/argocd-example-apps, tests/upstream/SOURCES.md).
UPSTREAM_CHART = ROOT / "tests" / "upstream" / "argocd-example-apps" / "helm-guestbook"


def stage_tree(repo: Path, source: Path, into: str) -> None:
    shutil.copytree(source, repo / into)
    git(repo, "add", into)


@dataclass
class Run:
    repo: Path
    returncode: int
    output: str


# Scenario name -> (hook id or None for every hook, the change staged for commit).
SCENARIOS: dict[str, tuple[str | None, Callable[[Path], None]]] = {
    "clean": (None, reviewed_change),
    "bad-spec": (
        "meshc-validate",
        lambda r: stage(r, {"mesh.yaml": QUICKSTART.replace("mtls: STRICT", "mtls: SOMETIMES")}),
    ),
    "stale": (
        "meshc-render",
        lambda r: stage(
            r,
            {
                "mesh.yaml": QUICKSTART.replace(
                    "split: {v1: 90, v2: 10}", "split: {v1: 80, v2: 20}"
                )
                + NEW_SERVICE
            },
        ),
    ),
    "opted-out": ("meshc-check", lambda r: stage(r, {"manifests/web.yaml": OPTED_OUT})),
    "helm-chart": ("meshc-check", lambda r: stage_tree(r, UPSTREAM_CHART, "charts/guestbook")),
}


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("pre-commit")
    hooks = hook_repository(base / "meshc")
    env = _git_env() | {
        "PRE_COMMIT_HOME": str(base / "home"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PRE_COMMIT_COLOR": "never",
    }
    started = {}
    for name, (hook, change) in SCENARIOS.items():
        repo = gitops_repository(base / name)
        change(repo)
        # --verbose: a passing hook's output (what meshc check skipped) is shown too.
        cmd = [
            sys.executable,
            "-m",
            "pre_commit",
            "try-repo",
            "--verbose",
            str(hooks),
            *([hook] if hook else []),
        ]
        started[name] = (
            repo,
            subprocess.Popen(
                cmd, cwd=repo, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            ),
        )
    results = {}
    try:
        for name, (repo, proc) in started.items():
            output, _ = proc.communicate(timeout=900)
            results[name] = Run(repo, proc.returncode, output)
    finally:
        for _, proc in started.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    yield results


def test_the_hooks_file_is_a_list_of_hooks_meant_for_users_to_install(tmp_path):
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["meshc-validate", "meshc-render", "meshc-check"]
    # Users get meshc from the hook repository itself, not from their PATH.
    assert {h["language"] for h in hooks} == {"python"}
    assert all(h["entry"].startswith("meshc ") for h in hooks)


def test_a_clean_commit_passes_every_hook(runs):
    run = runs["clean"]
    assert run.returncode == 0, run.output
    for name in ("meshc validate", "meshc render", "meshc check"):
        assert any(
            line.startswith(name) and line.endswith("Passed") for line in run.output.splitlines()
        ), run.output


def test_a_bad_spec_fails_with_its_file_line_and_column(runs):
    run = runs["bad-spec"]
    assert run.returncode == 1, run.output
    assert "mesh.yaml:7:9: spec.mtls: 'SOMETIMES' is not one of STRICT, PERMISSIVE" in run.output
    assert "Traceback" not in run.output


def test_a_stale_rendered_directory_fails_and_is_rewritten_like_a_formatter_would(runs):
    run = runs["stale"]
    assert run.returncode == 1, run.output
    assert "meshc render" in run.output and "Failed" in run.output
    # Rewritten in place: the next `git add rendered && git commit` goes through.
    rendered = run.repo / "rendered"
    assert "weight: 80" in (rendered / "mesh-demo_virtualservice_web.yaml").read_text()
    # A new object is a new, untracked file; the hook's exit code reports it, not git's diff.
    assert (rendered / "mesh-demo_virtualservice_api.yaml").is_file()
    assert render(run.repo, "--check") == 0


def test_a_manifest_the_webhook_would_deny_fails_the_check_hook_naming_file_and_line(runs):
    run = runs["opted-out"]
    assert run.returncode == 1, run.output
    # The line of the annotation that opts out.
    assert (
        "manifests/web.yaml:12: [meshc:injection-required] Deployment mesh-demo/web-v1"
        in run.output
    )


def test_a_committed_helm_chart_is_skipped_with_its_reason_and_the_hook_passes(runs):
    # Before, the chart's Chart.yaml aborted the hook with exit 2 and checked nothing.
    run = runs["helm-chart"]
    assert run.returncode == 0, run.output
    assert "skipped charts/guestbook/Chart.yaml: the metadata of the Helm chart" in run.output
    assert "skipped charts/guestbook/templates/deployment.yaml: a template of the Helm chart" in (
        run.output
    )
