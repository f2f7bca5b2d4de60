"""`meshc completion`: scripts generated from meshc's own parser, tried in the shells themselves."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from meshc.cli import build_parser, main
from meshc.completion import describe


def script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


def bash_complete(script_text: str, *words: str) -> list[str]:
    """What bash offers for ``words`` (the last one being completed), with the script sourced."""
    program = (
        script_text
        + 'COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _meshc\n'
        + 'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(["bash", "-c", program, "bash", "meshc", *words],
                            capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    return sorted(line for line in result.stdout.splitlines() if line)


def test_bash_completes_subcommands_options_and_their_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = script("bash", capsys)
    assert "audit" in bash_complete(text, "")
    assert bash_complete(text, "au") == ["audit"]
    assert bash_complete(text, "audit", "--report-api", "") == ["openreports", "wgpolicyk8s"]
    assert bash_complete(text, "graph", "--format", "") == ["dot", "mermaid", "svg"]
    assert bash_complete(text, "diff", "--format", "") == ["json", "markdown", "text"]
    assert bash_complete(text, "webhook", "serve", "--eng") == ["--engine"]
    assert bash_complete(text, "completion", "") == ["bash", "fish", "zsh"]


def test_every_subcommand_and_option_of_the_parser_is_in_the_scripts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = describe(build_parser())
    bash, fish = script("bash", capsys), script("fish", capsys)
    for name, command in root.subcommands.items():
        assert f" -a {name} " in fish
        for option in command.options:
            for flag in option.flags:
                assert flag in bash, (name, flag)
                long = flag[2:] if flag.startswith("--") else None
                assert long is None or f"-l {long}" in fish, (name, flag)


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_the_script_parses_in_its_shell(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed")
    text = script(shell, capsys)
    result = subprocess.run([binary, "-n"], input=text, capture_output=True, text=True,
                            timeout=30, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
