"""Installing from the docs alone: one version names the package, the chart, its image and
what the examples pin; the chart packages as Helm packages it; NOTES.txt says what the
Deployment runs and how to verify it."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from support.helm_chart import CHART, CI_VALUES, ci_values, notes, render
from support.paths import EXAMPLES, REPO

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
VALUE_SETS = [None, *(ci_values(p) for p in CI_VALUES), {"server": {"engine": "embedded"}}]


def deployment(values: dict[str, Any] | None) -> dict[str, Any]:
    (found,) = render(values)["templates/webhook-deployment.yaml"]
    return found


def test_the_package_the_chart_and_the_examples_name_one_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == VERSION
    precommit = yaml.safe_load((EXAMPLES / "gitops" / ".pre-commit-config.yaml").read_text())
    assert precommit["repos"][0]["rev"] == f"v{VERSION}"
    # The release workflow refuses a tag that names another version.
    check = REPO / "tools" / "release-check.sh"
    right = subprocess.run(["bash", str(check), f"v{VERSION}"], capture_output=True, check=False)
    assert right.returncode == 0
    wrong = subprocess.run(
        ["bash", str(check), "v99.0.0"], capture_output=True, text=True, check=False
    )
    assert wrong.returncode == 1 and "pyproject.toml version is" in wrong.stderr


def test_the_image_the_chart_runs_is_the_one_the_release_publishes() -> None:
    (container,) = [
        c
        for c in deployment(None)["spec"]["template"]["spec"]["containers"]
        if c["name"] == "webhook"
    ]
    assert container["image"] == f"ghcr.io/meshc/meshc:{VERSION}"
    release = (REPO / ".github" / "workflows" / "release.yml").read_text()
    assert 'image="ghcr.io/${OWNER,,}/meshc:${GITHUB_REF_NAME#v}"' in release
    assert (
        'helm push "dist/meshc-${GITHUB_REF_NAME#v}.tgz" "oci://ghcr.io/${OWNER,,}/charts"'
        in release
    )


def test_helm_package_makes_the_archive_the_release_pushes_and_it_installs(tmp_path: Path) -> None:
    archive = Path(helm.package(CHART, destination=tmp_path))
    assert archive.name == f"meshc-{VERSION}.tgz"
    with helm.Chart.load_archive(archive.read_bytes()) as chart:
        assert chart.version == VERSION
        manifests = chart.render({}, name="meshc", namespace="meshc-system", is_install=True)
    kinds = {
        d["kind"]
        for text in manifests.values()
        if not text.lstrip().startswith("meshc ")
        for d in yaml.safe_load_all(text)
        if d
    }
    assert {"Deployment", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} <= kinds
    assert any(path.endswith("NOTES.txt") for path in manifests)


@pytest.mark.parametrize(
    "values", VALUE_SETS, ids=lambda v: "default" if v is None else str(sorted(v))[:40]
)
def test_notes_say_the_engine_and_image_the_deployment_runs(values: dict[str, Any] | None) -> None:
    text = notes(values)
    (container,) = [
        c
        for c in deployment(values)["spec"]["template"]["spec"]["containers"]
        if c["name"] == "webhook"
    ]
    (engine,) = [
        a.removeprefix("--engine=") for a in container["args"] if a.startswith("--engine=")
    ]
    assert f"Policy engine: {engine}," in text and f"(--engine={engine})" in text
    assert "embedded" not in text or engine == "embedded"
    assert f"image {container['image']}." in text


def test_notes_give_a_denied_test_pod_and_the_metrics_to_watch() -> None:
    spec = (EXAMPLES / "quickstart" / "mesh.yaml").read_text()
    text = notes({"spec": spec})
    assert (
        "kubectl run meshc-verify -n mesh-demo --image=busybox --restart=Never "
        "--dry-run=server --labels=sidecar.istio.io/inject=false -- true"
    ) in text
    assert (
        'expected: admission webhook "validate.meshc.io" denied the request: '
        "[meshc:injection-required] Pod mesh-demo/meshc-verify: ..."
    ) in text
    for metric in (
        "meshc_webhook_admissions_total",
        "meshc_webhook_policy_violations_total",
        "meshc_webhook_request_duration_seconds",
        "meshc_config_reload_failures_total",
    ):
        assert metric in text
    linkerd = notes({"spec": (EXAMPLES / "linkerd-quickstart" / "mesh.yaml").read_text()})
    assert "--annotations=linkerd.io/inject=disabled" in linkerd
