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
        [
            sys.executable,
            "-m",
            "meshc",
            "render",
            "--spec",
            str(spec),
            "--provider",
            "istio",
            *render_flags(name),
        ],
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
        [
            str(istioctl),
            "analyze",
            "--use-kube=false",
            "--all-namespaces",
            "--output",
            "json",
            "--output-threshold",
            "Info",
            *map(str, files),
        ],
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


def meshc_render_mode(name: str, mode: str, tmp_path: Path) -> str:
    """What `meshc render --provider istio` prints for an example in ``mode``: gateway-api
    (--istio-routing) or ambient (the spec with spec.dataplane: ambient)."""
    spec = EXAMPLES / name / "mesh.yaml"
    flags = [*render_flags(name), "--allow-lossy"]
    if mode == "gateway-api":
        flags += ["--istio-routing", "gateway-api"]
    else:
        data = yaml.safe_load(spec.read_text())
        data["spec"]["provider"] = "istio"  # as --provider istio renders it
        data["spec"]["dataplane"] = "ambient"
        for ns in data["spec"]["namespaces"]:
            ns.pop("dataplane", None)
        spec = tmp_path / "mesh.yaml"
        spec.write_text(yaml.safe_dump(data, sort_keys=False))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "meshc",
            "render",
            "--spec",
            str(spec),
            "--provider",
            "istio",
            *flags,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# An EnvoyFilter is rendered only for sidecars (--istio-rate-limit envoyfilter); ambient
# refuses the rate limit instead.
EXPECTED_GATEWAY_API = {"traffic-policies": ["Warning [IST0133] EnvoyFilter shop/web-rate-limit"]}


@pytest.mark.parametrize("mode", ["gateway-api", "ambient"])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_the_gateway_api_and_ambient_output_has_no_errors_or_warnings(
    name: str, mode: str, tmp_path: Path
) -> None:
    path = tmp_path / "istio.yaml"
    path.write_text(meshc_render_mode(name, mode, tmp_path))
    kinds = {d["kind"] for d in yaml.safe_load_all(path.read_text()) if d}
    assert {"PeerAuthentication", "Namespace"} <= kinds
    expected = EXPECTED_GATEWAY_API.get(name, []) if mode == "gateway-api" else []
    findings = blocking(analyze(path))
    assert [f.split(": ")[0] for f in findings] == expected, findings


def test_the_analyzer_does_report_a_waypoint_policy_that_also_selects_workloads(
    tmp_path: Path,
) -> None:
    # The guard on the ambient test above: each policy at a waypoint, given a
    # selector too (a policy ztunnel would then enforce as well), is an error analyze
    # reports. (A missing waypoint it cannot see offline: the analyzers that read
    # Services and Gateways' status need a cluster.)
    docs = [
        d
        for d in yaml.safe_load_all(meshc_render_mode("bookinfo-ambient", "ambient", tmp_path))
        if d
    ]
    for doc in docs:
        if doc["kind"] == "AuthorizationPolicy" and "targetRefs" in doc["spec"]:
            doc["spec"]["selector"] = {"matchLabels": {"app": doc["spec"]["targetRefs"][0]["name"]}}
    path = tmp_path / "istio.yaml"
    path.write_text(yaml.safe_dump_all(docs))

    findings = blocking(analyze(path))

    assert findings and all(
        f.startswith("Error [IST0106] AuthorizationPolicy ") for f in findings
    ), findings
    assert "only one of targetRefs or workloadSelector" in findings[0]
