"""Workloads a team runs outside the mesh on purpose (their pods opt out of injection) in a
namespace the spec meshes: each becomes an exception to injection-required naming it,
with a comment and a line on stderr saying where it came from, so the webhook admits it;
one that an exception cannot name without admitting another workload is reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from meshc.cli import main
from meshc.importer import Imported
from meshc.importer.draft import strip_origins
from meshc.importer.emit import to_yaml

Importer = Callable[..., Imported]

# provider -> (the namespace's marker, where the pod's opt-out is, the opt-out)
OPT_OUTS = {
    "istio": ("labels: {istio-injection: enabled}", "labels", 'sidecar.istio.io/inject: "false"'),
    "linkerd": (
        "annotations: {linkerd.io/inject: enabled}",
        "annotations",
        "linkerd.io/inject: disabled",
    ),
    "kuma": (
        "labels: {kuma.io/sidecar-injection: enabled}",
        "labels",
        "kuma.io/sidecar-injection: disabled",
    ),
    "consul": (
        'labels: {consul.hashicorp.com/transparent-proxy: "true"}',
        "annotations",
        'consul.hashicorp.com/connect-inject: "false"',
    ),
}


def _input(provider: str, namespace: str = "shop") -> str:
    marker, section, opt_out = OPT_OUTS[provider]
    extra = "labels: {app: legacy}" if section == "annotations" else ""
    return f"""
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  {marker}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: legacy, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: legacy}}}}
  template:
    metadata:
      {extra}
      {section}: {{app: legacy, {opt_out}}}
    spec: {{containers: [{{name: legacy, image: legacy:1}}]}}
"""


@pytest.mark.parametrize("provider", sorted(OPT_OUTS))
def test_an_opted_out_workload_becomes_an_exception_naming_it(
    imported: Importer, provider: str
) -> None:
    result = imported(_input(provider), provider=provider)
    spec = strip_origins(result.spec)["spec"]
    [exception] = spec["admission"]["exceptions"]
    key, value = OPT_OUTS[provider][2].replace('"', "").split(": ")
    assert exception["policies"] == ["injection-required"]
    assert exception["namespaces"] == ["shop"]
    assert (exception["kinds"], exception["names"]) == (
        ["Deployment", "ReplicaSet", "Pod"],
        ["legacy", "legacy-*"],
    )
    assert exception["selector"]["app"] == "legacy"
    assert f"{key}: {value}" in exception["reason"] and "in.yaml:" in exception["reason"]
    [note] = [n for n in result.notes if "runs outside the mesh" in n]
    assert note.startswith("in.yaml:") and "Deployment shop/legacy" in note
    assert "spec.admission.exceptions[0]" in note
    assert result.left == []
    # The comment above it names where it came from.
    assert "    # from in.yaml:" in to_yaml(result.spec, [])


def test_a_workload_outside_the_meshed_namespaces_needs_no_exception(
    imported: Importer,
) -> None:
    result = imported(_input("istio", namespace="batch"), provider="istio")
    assert "admission" not in result.spec["spec"]


def test_another_mesh_s_opt_out_is_not_this_one_s(imported: Importer) -> None:
    # A Linkerd opt-out means nothing to Istio's injector, which injects the pod.
    text = _input("linkerd").replace("linkerd.io/inject: enabled", "istio-injection: enabled")
    result = imported(text, provider="istio")
    assert "admission" not in result.spec["spec"]


def test_an_exception_that_would_admit_another_workload_is_reported(
    imported: Importer,
) -> None:
    # An opt-out by annotation on pods without labels: the exception could name them only
    # by name prefix, which legacy-api's pods share. (An opt-out by label is in the
    # exception's selector, which no workload that opts in has.)
    text = (
        _input("linkerd").replace("labels: {app: legacy}", "").replace("{app: legacy, ", "{")
        + """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy-api, namespace: shop}
spec:
  selector: {matchLabels: {app: legacy-api}}
  template:
    metadata: {labels: {app: legacy-api}}
    spec: {containers: [{name: api, image: api:1}]}
"""
    )
    result = imported(text, provider="linkerd")
    assert "admission" not in result.spec["spec"]
    [finding] = result.left
    assert (finding.ref, finding.field) == (
        "Deployment shop/legacy",
        'spec.template.metadata.annotations["linkerd.io/inject"]',
    )
    assert "would admit Deployment shop/legacy-api outside the mesh too" in finding.why


def test_the_spec_with_the_exception_admits_the_workload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = tmp_path / "in.yaml"
    manifests.write_text(_input("istio"), encoding="utf-8")
    spec = tmp_path / "mesh.yaml"
    assert main(["import", str(manifests), "-o", str(spec)]) == 0
    err = capsys.readouterr().err
    assert "note: " in err and "carried as spec.admission.exceptions[0]" in err
    workload = tmp_path / "legacy.yaml"
    workload.write_text(_input("istio").split("---")[-1], encoding="utf-8")
    assert main(["check", "-s", str(spec), str(workload)]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Deployment shop/legacy" in text and "[excepted by exception legacy-outside-mesh" in text
