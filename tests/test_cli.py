"""The ``meshc`` command's way out: a command registered ``exit_hard`` (``meshc check``)
ends its process without freeing what it built, and says exactly what it says when
:func:`meshc.cli.main` runs it in process; every other command exits as Python does."""

from __future__ import annotations

import gc
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from meshc.cli import main
from meshc.policies import check
from support.paths import REPO

SAMPLES = REPO / "tests" / "policies" / "samples"
SPEC = SAMPLES / "specs" / "istio.yaml"
# The command as the console script runs it, with an exit handler that says whether
# the interpreter's own exit ran.
COMMAND = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('exit handlers ran', file=sys.stderr))\n"
    "from meshc.cli import run\n"
    "sys.argv[0] = 'meshc'\n"
    "run()\n"
)


def meshc(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-c", COMMAND, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("workers", ["1", "3"])
def test_check_says_what_it_says_in_process_and_skips_the_interpreter_exit(
    workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", "--spec", str(SPEC), "--format", "json", "--workers", workers, str(SAMPLES)]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 1, captured.err  # the samples hold violations
    done = meshc(*argv)
    assert (done.returncode, done.stdout, done.stderr) == (code, captured.out, captured.err)
    assert "exit handlers ran" not in done.stderr


def test_check_in_process_leaves_the_collector_on_and_keeps_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert gc.isenabled()
    main(["check", "--spec", str(SPEC), "--workers", "3", str(SAMPLES)])
    capsys.readouterr()
    assert gc.isenabled()
    assert check._LEFT_TO_EXIT == []


def test_check_into_a_pipe_closed_early_ends_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        f"{sys.executable} -c {shlex.quote(COMMAND)} check --spec {SPEC} --format json {SAMPLES} "
        "| head -c 1",
        shell=True,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout == "["
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr


def test_other_commands_exit_as_python_does() -> None:
    done = meshc("render", "--spec", str(REPO / "examples" / "quickstart" / "mesh.yaml"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("apiVersion:") or "kind:" in done.stdout
    assert "exit handlers ran" in done.stderr


def test_a_usage_error_of_check_is_exit_2_and_says_why() -> None:
    done = meshc("check", "--spec", str(SPEC), "--policy", "no-such-policy", str(SAMPLES))
    assert done.returncode == 2
    assert "unknown policy 'no-such-policy'" in done.stderr
