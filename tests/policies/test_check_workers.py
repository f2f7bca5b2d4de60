"""`meshc check` in several processes says exactly what it says in one.

Each run below is made with ``--workers 1`` and with more, and everything the
user sees must be the same: stdout, stderr and the exit code, findings and
skips in the same order, the same first error. How the files are cut into
shares and how many processes are used is tested beside it.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from meshc.cli import main
from meshc.policies import check, forked
from support.paths import REPO

SAMPLES = REPO / "tests" / "policies" / "samples"
SPEC = SAMPLES / "specs" / "istio.yaml"
APPS = REPO / "tests" / "upstream" / "argocd-example-apps"

pytestmark = pytest.mark.skipif(not forked.available(), reason="forking is used on Linux only")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def alike(
    argv: list[str], capsys: pytest.CaptureFixture[str], workers: int = 3
) -> tuple[int, str, str]:
    """The run with one process, asserted identical to the run with ``workers``."""
    one = run([*argv, "--workers", "1"], capsys)
    several = run([*argv, "--workers", str(workers)], capsys)
    assert several == one
    return one


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """Every policy sample, a GitOps repository (charts, kustomize, CI files) and a Namespace
    without the mesh's labels, in one tree."""
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLES, repo / "samples", ignore=shutil.ignore_patterns("specs"))
    shutil.copytree(APPS, repo / "apps")
    (repo / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    (repo / "unnamespaced.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec: {template: {metadata: {labels: {sidecar.istio.io/inject: 'false'}}}}\n"
    )
    return repo


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_findings_skips_and_summary_are_the_same(
    repository: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = alike(["--spec", str(SPEC), "--format", fmt, str(repository)], capsys)
    assert code == 1
    assert "skipped " in err and "without metadata.namespace" in err
    assert err.splitlines()[-1].startswith("meshc check: ")


def test_the_same_with_several_paths_one_policy_and_another_mode(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alike(
        [
            "--spec",
            str(SPEC),
            "--policy",
            "injection-required",
            "--mode",
            "warn",
            str(repository / "apps"),
            str(repository / "samples"),
            str(repository / "ns.yaml"),
        ],
        capsys,
        workers=4,
    )


def test_unparsable_yaml_late_in_the_run_is_the_same_error(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repository / "zz-broken.yaml").write_text("a: [1\n")
    code, out, err = alike(["--spec", str(SPEC), str(repository)], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("meshc check: ") and "zz-broken.yaml:2: not valid YAML" in err


def test_strict_fails_alike(repository: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = alike(["--spec", str(SPEC), "--strict", str(repository)], capsys)
    assert code == 2
    assert "--strict makes that an error" in err


def test_a_failed_evaluation_is_the_same_error(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repository / "zz-nan.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {x: .nan}\n"
    )
    code, out, err = alike(["--spec", str(SPEC), str(repository)], capsys)
    assert code == 2
    assert out == ""
    assert "is not JSON" in err.splitlines()[-1]


def test_standard_input_is_read_by_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "fork_map", lambda *_: pytest.fail("forked for stdin"))
    assert check.worker_count(None, 1000, "wasm") == min(forked.usable_cpus(), 15)
    from meshc.policies.manifests import listed_files

    assert listed_files(["-"]) is None
    assert listed_files([str(SPEC), "/no/such/file"]) is None


def test_how_many_processes() -> None:
    cpus = forked.usable_cpus()
    assert check.worker_count(None, check.FILES_PER_WORKER - 1, "wasm") == 1
    assert check.worker_count(None, 100 * check.FILES_PER_WORKER, "wasm") == cpus
    assert check.worker_count(None, 100 * check.FILES_PER_WORKER, "embedded") == cpus
    assert check.worker_count(3, 2, "wasm") == 2  # no more than files
    assert check.worker_count(4, 100, "wasm") == 4
    # An OPA server is one process's client.
    assert check.worker_count(4, 10_000, "opa") == 1


def test_shares_are_runs_in_order_of_about_equal_bytes(tmp_path: Path) -> None:
    names = []
    for i, size in enumerate([10, 10, 10, 10, 200, 10, 10, 10, 10, 10]):
        path = tmp_path / f"{i:02d}.yaml"
        path.write_text("x" * size)
        names.append(str(path))
    cut = check.shares(names, 2)
    assert [name for share in cut for name in share] == names
    assert [len(share) for share in cut] == [
        5,
        5,
    ]  # the big file's middle, byte 140 of 290, is in the first half
    assert check.shares(names, 1) == [names]
    assert [len(s) for s in check.shares(names[:3], 5)] == [1, 1, 1]  # no empty share
    assert check.shares([*names, str(tmp_path / "gone.yaml")], 2)[-1][-1].endswith("gone.yaml")


def _square_or_fail(n: int) -> int:
    if n < 0:
        raise ValueError(f"negative: {n}")
    return n * n


def test_fork_map_keeps_the_order_and_raises_the_first_failure() -> None:
    assert forked.fork_map(_square_or_fail, [1, 2, 3, 4]) == [1, 4, 9, 16]
    with pytest.raises(ValueError, match="negative: -2"):
        forked.fork_map(_square_or_fail, [1, -2, 3, -4])


def test_fork_map_stops_the_children_when_its_own_share_fails() -> None:
    # Each child says its pid and waits; this process's share reads them, then fails.
    read, write = os.pipe()

    def work(n: int) -> int:
        if n:
            os.write(write, f"{os.getpid()}\n".encode())
            time.sleep(600)
            return n
        with os.fdopen(read) as pids:
            children.extend(int(pids.readline()) for _ in range(2))
        raise KeyboardInterrupt

    children: list[int] = []
    try:
        with pytest.raises(KeyboardInterrupt):
            forked.fork_map(work, [0, 1, 2])
    finally:
        os.close(write)
    assert len(children) == 2
    for pid in children:  # stopped and reaped
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


class Unpicklable(Exception):
    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("not this one")


def test_what_a_child_cannot_send_back_is_its_traceback() -> None:
    def work(n: int) -> int:
        if n:
            raise Unpicklable("deep down")
        return n

    with pytest.raises(forked.ChildFailed, match="Unpicklable: deep down"):
        forked.fork_map(work, [0, 1])
