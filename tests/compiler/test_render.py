"""`meshc render`: stdout or a directory, byte-stable, atomic, with a drift check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from meshc.cli import main
from meshc.compiler import output
from meshc.compiler.output import KUSTOMIZATION
from support.examples import render_flags
from support.golden import GOLDEN, assert_golden
from support.paths import REPO
from support.specs import QUICKSTART, example_specs, quickstart, write_spec


def meshc(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshc", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("spec", example_specs(), ids=lambda p: p.parent.name)
def test_istio_golden(spec: Path) -> None:
    result = meshc(
        "render",
        "--spec",
        str(spec.relative_to(REPO)),
        "--provider",
        "istio",
        "--allow-lossy",
        *render_flags(spec.parent.name),
    )
    assert result.returncode == 0, result.stderr
    assert_golden(GOLDEN / spec.parent.name / "istio.yaml", result.stdout)


@pytest.mark.parametrize("spec", example_specs(), ids=lambda p: p.parent.name)
def test_istio_gateway_api_golden(spec: Path) -> None:
    result = meshc(
        "render",
        "--spec",
        str(spec.relative_to(REPO)),
        "--provider",
        "istio",
        "--istio-routing",
        "gateway-api",
        "--allow-lossy",
        *render_flags(spec.parent.name),
    )
    assert result.returncode == 0, result.stderr
    assert_golden(GOLDEN / spec.parent.name / "istio-gateway-api.yaml", result.stdout)


def test_the_quickstart_renders_for_ambient_with_one_spec_field(tmp_path: Path) -> None:
    # No --allow-lossy: what ambient cannot say exactly about the quickstart is a warning.
    data = quickstart()
    data["spec"]["dataplane"] = "ambient"
    spec = write_spec(tmp_path, data)
    result = meshc("render", "--spec", str(spec))
    assert result.returncode == 0, result.stderr
    assert "istio.io/dataplane-mode: ambient" in result.stdout
    assert "gatewayClassName: istio-waypoint" in result.stdout


def test_output_is_byte_identical_across_runs_and_hash_seeds() -> None:
    outputs = set()
    for seed in ("0", "1", "random"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "meshc",
                "render",
                "--spec",
                "examples/multi-namespace/mesh.yaml",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_namespaces_come_first_and_keys_follow_kubernetes_order() -> None:
    docs = list(yaml.safe_load_all(meshc("render", "--spec", str(QUICKSTART)).stdout))
    assert docs[0]["kind"] == "Namespace"
    for doc in docs:
        assert list(doc)[:3] == ["apiVersion", "kind", "metadata"]
    waves = [int(d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for d in docs]
    assert waves == sorted(waves)


def test_render_does_not_import_the_webhook_stack() -> None:
    probe = (
        "import sys, io, contextlib\n"
        "from meshc.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['render', '--spec', {str(QUICKSTART)!r}]) == 0\n"
        "heavy = {'flask', 'regopy', 'git', 'granian', 'prometheus_client', 'jsonpatch'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_output_directory_holds_one_file_per_object_and_a_kustomization(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert main(["render", "--spec", str(QUICKSTART), "-o", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert KUSTOMIZATION in files
    kustomization = yaml.safe_load((out / KUSTOMIZATION).read_text())
    assert sorted(kustomization["resources"]) == sorted(f for f in files if f != KUSTOMIZATION)
    assert "_cluster_namespace_mesh-demo.yaml" in files
    assert "mesh-demo_virtualservice_web.yaml" in files
    stdout_docs = list(yaml.safe_load_all(meshc("render", "--spec", str(QUICKSTART)).stdout))
    dir_docs = [yaml.safe_load((out / name).read_text()) for name in kustomization["resources"]]
    assert dir_docs == stdout_docs


def test_objects_no_longer_rendered_are_removed_and_other_files_kept(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert main(["render", "--spec", str(QUICKSTART), "-o", str(out)]) == 0
    (out / "README.md").write_text("rendered by meshc\n")
    data = quickstart()
    del data["spec"]["services"][0]["allow"]
    spec = write_spec(tmp_path, data)
    assert main(["render", "--spec", str(spec), "-o", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert "mesh-demo_authorizationpolicy_web-allow.yaml" not in names
    assert "README.md" in names


def test_check_reports_drift_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rendered"
    assert main(["render", "--spec", str(QUICKSTART), "-o", str(out)]) == 0
    assert main(["render", "--spec", str(QUICKSTART), "-o", str(out), "--check"]) == 0
    (out / "mesh-demo_virtualservice_web.yaml").write_text("edited by hand\n")
    (out / "mesh-demo_service_ghost.yaml").write_text("{}\n")
    before = {p.name: p.read_text() for p in out.iterdir()}
    capsys.readouterr()
    assert main(["render", "--spec", str(QUICKSTART), "-o", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert "changed: mesh-demo_virtualservice_web.yaml" in err
    assert "stale: mesh-demo_service_ghost.yaml" in err
    assert {p.name: p.read_text() for p in out.iterdir()} == before


def test_a_failed_render_leaves_the_previous_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert main(["render", "--spec", str(QUICKSTART), "-o", str(out)]) == 0
    before = {p.name: p.read_text() for p in out.iterdir()}
    data = quickstart()
    data["spec"]["services"][0]["routes"][0]["split"]["v2"] = 50
    assert main(["render", "--spec", str(write_spec(tmp_path, data)), "-o", str(out)]) == 2
    assert {p.name: p.read_text() for p in out.iterdir()} == before


def test_a_write_that_fails_midway_leaves_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "rendered"
    assert main(["render", "--spec", str(QUICKSTART), "-o", str(out)]) == 0
    before = {p.name: p.read_text() for p in out.iterdir()}
    files = output.render_files([])
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(output.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        output.write_dir(files, out)
    assert {p.name: p.read_text() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".rendered.new-*"))


def test_check_without_output_directory_is_a_usage_error() -> None:
    result = meshc("render", "--spec", str(QUICKSTART), "--check")
    assert result.returncode == 2
    assert "-o DIR" in result.stderr


def test_a_dash_as_output_means_standard_output_not_a_directory_named_dash(
    tmp_path: Path,
) -> None:
    plain = meshc("render", "--spec", str(QUICKSTART))
    result = meshc("render", "--spec", str(QUICKSTART), "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.stdout
    assert list(tmp_path.iterdir()) == []


def test_schema_is_a_valid_json_schema_that_accepts_every_example() -> None:
    result = meshc("schema")
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    for spec in example_specs():
        jsonschema.validate(yaml.safe_load(spec.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**yaml.safe_load(QUICKSTART.read_text()), "extra": 1}, schema)


def test_spec_from_stdin(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "meshc", "render", "--spec", "-"],
        input=QUICKSTART.read_text(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "meshc.io/source: <stdin>#spec.namespaces[0]" in result.stdout


# --- --format json (validate and render) ---------------------------------------------


def test_validate_and_render_speak_json_when_asked(tmp_path, capsys):
    spec = tmp_path / "mesh.yaml"
    quickstart = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "mesh.yaml"
    spec.write_text(quickstart.read_text())
    assert main(["validate", "-s", str(spec), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "specs": [str(spec)],
        "valid": True,
        "problems": [],
        "warnings": [],
    }
    assert main(["render", "-s", str(spec), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["kind"] == "List" and {o["kind"] for o in listed["items"]} >= {"Namespace"}
    out = tmp_path / "rendered"
    assert main(["render", "-s", str(spec), "-o", str(out), "--format", "json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["changed"] is True and "kustomization.yaml" in written["files"]
    spec.write_text(quickstart.read_text().replace("v1: 90, v2: 10", "v1: 95, v2: 10"))
    assert main(["validate", "-s", str(spec), "--format", "json"]) == 2
    problem = json.loads(capsys.readouterr().out)["problems"][0]
    assert problem["path"].endswith(".split") and "100" in problem["message"] and problem["line"]
    assert main(["render", "-s", str(spec), "-o", str(out), "--check", "--format", "json"]) == 2
    assert json.loads(capsys.readouterr().out)["problems"][0]["line"] == problem["line"]
