"""`istioctl analyze` finds nothing wrong with what meshc renders for Istio.

istioctl is the pinned build from tools/build.sh. It runs offline
(`--use-kube=false`) on exactly what `meshc render --provider istio` prints,
with `--all-namespaces`: without it, analyze reports only on the `default`
namespace and says "No validation issues" about anything else (meshc renders
into the spec's namespaces, so the flag is what makes the check real).

No error and no warning is allowed.

No workloads are supplied as context, on purpose: with --use-kube=false
istioctl skips every analyzer that reads Kubernetes resources (Services,
Pods, Namespaces: virtualservice.DestinationHostAnalyzer,
destinationrule.SubsetSelectPodAnalyzer, service.PortNameAnalyzer,
injection.Analyzer, auth.AuthorizationPoliciesAnalyzer, ...; `analyze -v`
lists them), so Deployments or Pods beside meshc's output change nothing.
What runs is the schema validation of every Istio kind and the analyzers
that relate Istio objects to each other, such as a VirtualService's
destinations to the DestinationRule's subsets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.examples import EXAMPLE_NAMES, render_flags
from support.paths import EXAMPLES, REPO, require_tool

pytestmark = pytest.mark.tools

Obj = dict[str, Any]
BLOCKING = {"Error", "Warning"}
# The one finding allowed: IST0133 says of every EnvoyFilter what meshc's own warning says
# when --istio-rate-limit envoyfilter renders one (internal details that may change).
EXPECTED = {"traffic-policies": ["Warning [IST0133] EnvoyFilter shop/web-rate-limit"]}


def meshc_render_istio(name: str) -> str:
    """What `meshc render examples/<name>/mesh.yaml --provider istio` prints."""
    spec = (EXAMPLES / name / "mesh.yaml").relative_to(REPO)
    result = subprocess.run(
        [sys.executable, "-m", "meshc", "render", "--spec", str(spec), "--provider", "istio",
         *render_flags(name)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def analyze(*files: Path) -> list[Obj]:
    """Every message `istioctl analyze` prints about ``files``, as its JSON output."""
    istioctl = require_tool("istioctl")
    result = subprocess.run(
        [str(istioctl), "analyze", "--use-kube=false", "--all-namespaces", "--output", "json",
         "--output-threshold", "Info", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # With --output json the exit code does not reflect findings; the list does.
    assert result.returncode == 0, result.stderr
    messages: list[Obj] = json.loads(result.stdout)
    return messages


def blocking(messages: list[Obj]) -> list[str]:
    return [
        f"{m['level']} [{m['code']}] {m.get('origin', '')}: {m['message']}"
        for m in messages
        if m["level"] in BLOCKING
    ]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_meshcs_istio_output_has_no_errors_or_warnings(name: str, tmp_path: Path) -> None:
    path = tmp_path / "istio.yaml"
    path.write_text(meshc_render_istio(name))
    kinds = {d["kind"] for d in yaml.safe_load_all(path.read_text()) if d}
    assert {"DestinationRule", "VirtualService", "PeerAuthentication"} <= kinds

    findings = blocking(analyze(path))
    assert [f.split(": ")[0] for f in findings] == EXPECTED.get(name, []), findings


def test_the_analyzer_does_report_what_is_wrong_in_meshcs_namespaces(tmp_path: Path) -> None:
    # The guard on the test above: a route to a subset no DestinationRule
    # defines, in the quickstart's namespace, is an error analyze reports
    # (it would not be without --all-namespaces).
    broken = meshc_render_istio("quickstart").replace("subset: v2", "subset: v3")
    assert "subset: v3" in broken
    path = tmp_path / "istio.yaml"
    path.write_text(broken)

    findings = blocking(analyze(path))

    assert len(findings) == 1, findings
    assert findings[0].startswith("Error [IST0101] VirtualService mesh-demo/web:"), findings
    assert "web+v3" in findings[0]
