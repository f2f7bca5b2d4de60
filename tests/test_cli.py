"""The ``meshc`` command's way out: a command registered ``exit_hard`` (``meshc check``)
ends its process without freeing what it built, and says exactly what it says when
:func:`meshc.cli.main` runs it in process; every other command exits as Python does."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

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


# The command's output is its own checkout's, whatever meshc is installed.
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def command(*argv: str) -> list[str]:
    return [sys.executable, "-c", COMMAND, *argv]


def meshc(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*argv), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120, check=False
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


def test_check_into_a_pipe_closed_early_ends_without_a_traceback() -> None:
    # The samples' findings in JSON are over 100 kB, more than a pipe holds: the
    # command is still writing when the reader goes.
    argv = command("check", "--spec", str(SPEC), "--format", "json", str(SAMPLES))
    pipe = subprocess.PIPE
    with subprocess.Popen(argv, cwd=REPO, env=ENV, stdout=pipe, stderr=pipe, text=True) as done:
        assert done.stdout is not None and done.stderr is not None
        first = done.stdout.read(1)
        done.stdout.close()
        stderr = done.stderr.read()
        done.wait(timeout=120)
    assert first == "["
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


def test_check_whose_reader_is_gone_before_its_output_is_flushed_exits_as_main_does() -> None:
    # One finding (1 kB) stays in the output buffer until the command flushes it on its
    # way out, where the reader is found gone: the same exit as when a write finds it
    # gone (meshc.cli.main: a reader that stops reading is not an error).
    denied = SAMPLES / "injection-required" / "denied" / "istio-ambient-host-network.yaml"
    argv = command("check", "--spec", str(SPEC), "--format", "json", str(denied))
    buffered = {name: value for name, value in ENV.items() if name != "PYTHONUNBUFFERED"}
    pipe = subprocess.PIPE
    with subprocess.Popen(
        argv, cwd=REPO, env=buffered, stdout=pipe, stderr=pipe, text=True
    ) as done:
        assert done.stdout is not None and done.stderr is not None
        done.stdout.close()
        stderr = done.stderr.read()
        code = done.wait(timeout=120)
    assert code == 0
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


def test_other_commands_exit_as_python_does() -> None:
    done = meshc("render", "--spec", str(REPO / "examples" / "quickstart" / "mesh.yaml"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("apiVersion:") or "kind:" in done.stdout
    assert "exit handlers ran" in done.stderr


def test_a_usage_error_of_check_is_exit_2_and_says_why() -> None:
    done = meshc("check", "--spec", str(SPEC), "--policy", "no-such-policy", str(SAMPLES))
    assert done.returncode == 2
    assert "unknown policy 'no-such-policy'" in done.stderr
