"""`meshc audit` without a cluster: what it says when it cannot start."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from meshc.cli import main

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "mesh.yaml"


def test_without_the_kubernetes_client_it_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # import kubernetes -> ImportError
    assert main(["audit", "--spec", str(QUICKSTART)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "meshc audit: talking to a cluster needs the Kubernetes client: "
        "pip install 'meshc[cluster]'\n"
    )


def test_a_kubeconfig_that_does_not_exist_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert main(["audit", "--spec", str(QUICKSTART), "--kubeconfig", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"meshc audit: cannot load the cluster configuration from {missing}: ")


def test_an_invalid_spec_is_a_spec_error_before_any_cluster_is_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_text(QUICKSTART.read_text().replace("provider: istio", "provider: nope"))
    assert main(["audit", "--spec", str(spec), "--kubeconfig", str(tmp_path / "nope")]) == 2
    assert "spec.provider" in capsys.readouterr().err
