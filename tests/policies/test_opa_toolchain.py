"""The policies under the real OPA: unit tests, formatting and strict checks."""

from __future__ import annotations

import subprocess

import pytest

from support.paths import REPO, require_tool

pytestmark = pytest.mark.tools
POLICIES = str(REPO / "src" / "meshc" / "policies" / "rego")


def opa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(require_tool("opa")), *args], check=False, capture_output=True, text=True, timeout=300
    )


def test_rego_unit_tests_pass() -> None:
    result = opa("test", POLICIES, "--ignore", "samples")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS:" in result.stdout


def test_policies_are_opa_fmt_clean() -> None:
    result = opa("fmt", "--list", POLICIES)
    assert (result.returncode, result.stdout) == (0, "")


def test_policies_pass_opa_check_strict() -> None:
    result = opa("check", "--strict", POLICIES, "--ignore", "samples")
    assert result.returncode == 0, result.stdout + result.stderr
