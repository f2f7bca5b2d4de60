"""GitHub workflows and the meshc composite action: schema-valid, pinned, least privilege, working scripts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import chdir
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pre_commit.clientlib import load_config

from meshc.cli import main
from support.paths import EXAMPLES, REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml")) + sorted(
    (EXAMPLES / "gitops" / ".github" / "workflows").glob("*.yml")
)
ACTION_DIR = REPO / ".github" / "actions" / "meshc"
ACTION = ACTION_DIR / "action.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
# The example workflow is a template: users put the commit of the meshc release they use here.
MESHC_PLACEHOLDER = "meshc/meshc/.github/actions/meshc@MESHC_RELEASE_COMMIT_SHA"
QUICKSTART = EXAMPLES / "quickstart" / "mesh.yaml"
# meshc beside the test's Python, ahead of anything else on PATH.
PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"


def vendored_schema(name: str) -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath(name).read_text(encoding="utf-8"))
    return schema


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as true; GitHub reads it as "on".
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_of(path: Path) -> list[dict[str, Any]]:
    data = load(path)
    if "runs" in data:
        steps: list[dict[str, Any]] = data["runs"]["steps"]
        return steps
    return [step for job in data["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_workflow_is_valid_for_the_github_workflow_schema(path):
    jsonschema.validate(load(path), vendored_schema("github-workflows.json"))


def test_the_action_is_valid_for_the_github_action_schema():
    jsonschema.validate(load(ACTION), vendored_schema("github-actions.json"))


def test_the_schema_check_catches_a_broken_workflow():
    broken = {"on": "push", "jobs": {"build": {"runs-on": "ubuntu-24.04", "step": []}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, vendored_schema("github-workflows.json"))


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: str(p.relative_to(REPO)))
def test_every_action_used_is_pinned_to_a_commit_with_its_version_in_a_comment(path):
    lines = path.read_text().splitlines()
    for step in steps_of(path):
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        line = next(line for line in lines if f"uses: {uses}" in line)
        if uses == MESHC_PLACEHOLDER:
            assert path.is_relative_to(EXAMPLES)
        else:
            assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a commit SHA"
        assert re.search(r"# v\S+$", line), f"{path.name}: {line.strip()} names no version"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(REPO)))
def test_workflows_grant_nothing_by_default_and_each_job_only_what_it_needs(path):
    data = load(path)
    assert data["permissions"] == {}
    assert "concurrency" in data
    for name, job in data["jobs"].items():
        grants = job["permissions"]
        assert isinstance(grants, dict), f"{name}: {grants!r} is not a per-scope grant"
        writes = {scope for scope, level in grants.items() if level == "write"}
        if "upload-sarif" in json.dumps(job) and "actions/meshc" in json.dumps(job):
            # The SARIF upload, and the meshc action's review comment on pull requests.
            assert writes == {"security-events", "pull-requests"}, name
        elif "upload-sarif" in json.dumps(job):
            assert writes == {"security-events"}, name
        elif name == "publish":
            assert writes == {"contents"}, name
        elif name == "release":
            assert writes == {"contents", "packages"}, name
        else:
            assert not writes, name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(REPO)))
def test_checkouts_leave_no_credentials_behind(path):
    checkouts = [s for s in steps_of(path) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


def test_ci_lints_type_checks_and_runs_the_projects_ci_entry_point_on_push_and_pull_request():
    ci = load(REPO / ".github" / "workflows" / "ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    runs = [s.get("run", "") for s in steps_of(REPO / ".github" / "workflows" / "ci.yml")]
    for command in ("ruff check", "ruff format --check", "lint-imports", "mypy", "bash .ci/run"):
        assert any(run.startswith(command) for run in runs), command
    assert (REPO / ".ci" / "run").is_file()


def test_the_action_passes_inputs_to_scripts_through_the_environment_only():
    # An expression inside `run:` is pasted into the script before bash parses it.
    for step in steps_of(ACTION):
        assert "${{" not in step.get("run", ""), step.get("name")


def test_the_action_installs_meshc_from_its_own_checkout():
    # `$GITHUB_ACTION_PATH/../../..` is this repository's root: the pyproject that builds meshc.
    install = next(s["run"] for s in steps_of(ACTION) if s.get("name") == "Install meshc")
    assert '"$GITHUB_ACTION_PATH/../../.."' in install
    assert (ACTION_DIR / ".." / ".." / ".." / "pyproject.toml").resolve() == REPO / "pyproject.toml"


def test_the_problem_matcher_turns_spec_errors_and_warnings_into_annotations(tmp_path):
    (matcher,) = json.loads((ACTION_DIR / "meshc-matcher.json").read_text())["problemMatcher"]
    (pattern,) = matcher["pattern"]
    regexp = re.compile(pattern["regexp"])
    spec = tmp_path / "mesh.yaml"
    spec.write_text(QUICKSTART.read_text().replace("mtls: STRICT", "mtls: SOMETIMES"))
    result = subprocess.run(
        ["meshc", "validate", "--spec", "mesh.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": PATH},
        check=False,
    )
    assert result.returncode == 2
    match = regexp.match(result.stderr.splitlines()[0])
    assert match
    fields = {key: match.group(pattern[key]) for key in ("file", "line", "column", "severity")}
    assert fields == {"file": "mesh.yaml", "line": "7", "column": "9", "severity": None}
    assert match.group(pattern["message"]).startswith("spec.mtls: 'SOMETIMES' is not one of")

    warning = regexp.match("mesh.yaml:25:49: warning: spec.x: approximated on linkerd (smi)")
    assert warning and warning.group(pattern["severity"]) == "warning"
    # `meshc check --format github` annotates by itself; the matcher must not double it.
    assert not regexp.match("::error file=apps/web.yaml,line=1::[meshc:injection-required] x")
    # What meshc check says on stderr besides its findings is no annotation either.
    assert not regexp.match(
        "skipped apps/ci.yml:3: not a Kubernetes object (no apiVersion or kind)"
    )
    assert not regexp.match("meshc check: 3 objects checked in 2 files; no findings; admitted")


def rendered_repository(path: Path) -> Path:
    path.mkdir()
    shutil.copy(QUICKSTART, path / "mesh.yaml")
    with chdir(path):
        assert main(["render", "--spec", "mesh.yaml", "-o", "rendered"]) == 0
    return path


def drift(repo: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": PATH, "SPEC": "mesh.yaml", "OUTPUT": "rendered/"}
    return subprocess.run(
        ["bash", str(ACTION_DIR / "drift.sh")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_drift_gate_passes_when_the_committed_output_is_current(tmp_path):
    result = drift(rendered_repository(tmp_path / "repo"))
    assert result.returncode == 0, result.stdout
    assert "::error" not in result.stdout


def test_the_drift_gate_annotates_each_file_that_drifted(tmp_path):
    repo = rendered_repository(tmp_path / "repo")
    (repo / "rendered" / "mesh-demo_destinationrule_web.yaml").unlink()
    (repo / "rendered" / "mesh-demo_service_web.yaml").write_text("# edited by hand\n")
    (repo / "rendered" / "mesh-demo_service_old.yaml").write_text("# from an older render\n")

    result = drift(repo)
    assert result.returncode == 1
    annotations = sorted(line for line in result.stdout.splitlines() if line.startswith("::"))

    def annotation(name: str, what: str) -> str:
        return (
            f"::error file=rendered/{name},title=meshc drift::rendered/{name} {what}: "
            "run `meshc render --spec mesh.yaml -o rendered/` and commit the result"
        )

    assert annotations == [
        annotation(
            "mesh-demo_destinationrule_web.yaml", "is rendered from mesh.yaml but not committed"
        ),
        annotation("mesh-demo_service_old.yaml", "is no longer rendered from mesh.yaml"),
        annotation("mesh-demo_service_web.yaml", "differs from what mesh.yaml renders"),
    ]


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def publish(rendered: Path, remote: Path, sha: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {
        "MESHC_PUBLISH_REMOTE": str(remote),
        "GITHUB_REPOSITORY": "example/gitops",
        "GITHUB_SHA": sha,
    }
    return subprocess.run(
        ["bash", str(ACTION_DIR / "publish.sh"), str(rendered), "rendered"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_publishing_makes_the_rendered_directory_the_whole_tree_of_the_branch(tmp_path):
    rendered = rendered_repository(tmp_path / "repo") / "rendered"
    remote = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(remote))

    first = publish(rendered, remote, "a" * 40)
    assert first.returncode == 0, first.stderr
    files = git("--git-dir", str(remote), "ls-tree", "--name-only", "rendered").splitlines()
    assert files == sorted(p.name for p in rendered.iterdir())
    assert (
        git("--git-dir", str(remote), "log", "--format=%s", "rendered")
        == f"Rendered by meshc from example/gitops@{'a' * 40}"
    )

    again = publish(rendered, remote, "b" * 40)
    assert again.returncode == 0 and "already up to date" in again.stdout
    assert git("--git-dir", str(remote), "rev-list", "--count", "rendered") == "1"

    (rendered / "mesh-demo_service_web.yaml").unlink()
    changed = publish(rendered, remote, "c" * 40)
    assert changed.returncode == 0, changed.stderr
    assert git("--git-dir", str(remote), "rev-list", "--count", "rendered") == "2"
    assert "mesh-demo_service_web.yaml" not in git(
        "--git-dir", str(remote), "ls-tree", "--name-only", "rendered"
    )


def test_publishing_to_an_unreachable_remote_fails(tmp_path):
    rendered = rendered_repository(tmp_path / "repo") / "rendered"
    result = publish(rendered, tmp_path / "missing.git", "a" * 40)
    assert result.returncode != 0


def test_the_example_pre_commit_configuration_uses_hooks_this_repository_defines():
    config = load_config(str(EXAMPLES / "gitops" / ".pre-commit-config.yaml"))
    defined = {hook["id"] for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    (repo,) = config["repos"]
    assert {hook["id"] for hook in repo["hooks"]} <= defined


# --- the review comment -------------------------------------------------------------


class _FakeGitHub:
    """The three GitHub REST calls comment.py makes, on 127.0.0.1, with its comments in memory."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.comments: list[dict[str, object]] = [{"id": 7, "body": "LGTM"}]
        self.calls: list[tuple[str, str]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, object]:
                return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def do_GET(self) -> None:
                fake.calls.append(("GET", self.path))
                assert self.headers["Authorization"] == "Bearer secret"
                self._answer(200, fake.comments)

            def do_POST(self) -> None:
                fake.calls.append(("POST", self.path))
                comment = {"id": 100 + len(fake.comments), "body": self._body()["body"]}
                fake.comments.append(comment)
                self._answer(201, comment)

            def do_PATCH(self) -> None:
                fake.calls.append(("PATCH", self.path))
                number = int(self.path.rsplit("/", 1)[1])
                comment = next(c for c in fake.comments if c["id"] == number)
                comment["body"] = self._body()["body"]
                self._answer(200, comment)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _comment(api: _FakeGitHub, body: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "GITHUB_TOKEN": "secret", "GITHUB_API_URL": api.url,
           "GITHUB_REPOSITORY": "shop/gitops", "PR_NUMBER": "12"}  # fmt: skip
    return subprocess.run([sys.executable, str(ACTION_DIR / "comment.py"), str(body)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_the_review_comment_is_posted_once_and_then_updated_in_place(tmp_path):
    api = _FakeGitHub()
    try:
        body = tmp_path / "review.md"
        body.write_text("<!-- meshc-diff: mesh.yaml -->\n### meshc diff\n\n"
                        "0 added, 1 changed, 0 removed; 1 warning\n")  # fmt: skip
        first = _comment(api, body)
        assert first.returncode == 0, first.stderr
        body.write_text(body.read_text().replace("1 changed", "2 changed"))
        second = _comment(api, body)
        assert second.returncode == 0, second.stderr
    finally:
        api.close()
    assert [c for c in api.calls if c[0] != "GET"] == [
        ("POST", "/repos/shop/gitops/issues/12/comments"),
        ("PATCH", "/repos/shop/gitops/issues/comments/101"),
    ]
    assert [c["body"] for c in api.comments][1].startswith("<!-- meshc-diff: mesh.yaml -->")
    assert "2 changed" in str(api.comments[1]["body"]) and len(api.comments) == 2


def test_a_review_with_no_change_posts_no_new_comment(tmp_path):
    api = _FakeGitHub()
    try:
        body = tmp_path / "review.md"
        body.write_text("<!-- meshc-diff: mesh.yaml -->\n### meshc diff\n\n"
                        "0 added, 0 changed, 0 removed; 0 warnings\n")  # fmt: skip
        result = _comment(api, body)
    finally:
        api.close()
    assert result.returncode == 0 and result.stdout == "no change to review; no comment posted\n"
    assert [c for c in api.calls if c[0] != "GET"] == []


def test_the_review_step_comments_only_on_pull_requests_and_reads_inputs_from_the_environment():
    step = next(s for s in steps_of(ACTION) if s.get("name") == "Review comment")
    assert "github.event_name == 'pull_request'" in step["if"]
    assert 'meshc diff "$BASE_SHA" HEAD --spec "$SPEC" --format markdown' in step["run"]
    assert step["env"]["GITHUB_TOKEN"] == "${{ inputs.comment-token }}"
