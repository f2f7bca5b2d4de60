"""Istio revisions through a real API server and `istioctl analyze` connected to it.

Offline (`--use-kube=false`) istioctl skips its injection analyzer, which is
the one that reports conflicting injection labels (IST0123,
NamespaceMultipleInjectionLabels: istio-injection beside istio.io/rev, where
istio-injection wins). So the rendered Namespaces are created in the API
server and istioctl analyzes the cluster: what meshc renders, and what the
webhook's mutation leaves, must never draw IST0123; a namespace carrying both
labels must (the guard that the analyzer runs at all).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from kubernetes import client as k8s

from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from meshc.policies.mutation import NamespaceMutation
from support.apply import apply_objects, request
from support.kube import KubeAPIServer
from support.paths import EXAMPLES, require_tool

pytestmark = pytest.mark.tools

Obj = dict[str, Any]
REVISIONS = EXAMPLES / "istio-revisions" / "mesh.yaml"


def analyze(kube_apiserver: KubeAPIServer, namespaces: set[str]) -> list[str]:
    """`istioctl analyze` of the whole cluster: the codes it reports on ``namespaces``."""
    istioctl = require_tool("istioctl")
    result = subprocess.run(
        [
            str(istioctl),
            "analyze",
            "--kubeconfig",
            str(kube_apiserver.kubeconfig),
            "--all-namespaces",
            "--output",
            "json",
            "--output-threshold",
            "Info",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    messages: list[Obj] = json.loads(result.stdout)
    return sorted(
        f"{m['code']} {m.get('origin', '')}"
        for m in messages
        if any(m.get("origin", "") == f"Namespace {ns}" for ns in namespaces)
    )


def as_meshed(mutation: NamespaceMutation, source: str, name: str) -> NamespaceMutation:
    """``mutation`` for a namespace ``name`` marked as the spec marks ``source``."""
    return NamespaceMutation({name: mutation.markers[source]}, mutation.injection_keys)


def stored_labels(api: k8s.ApiClient, name: str) -> dict[str, str]:
    status, stored = request(api, "GET", f"/api/v1/namespaces/{name}")
    assert status == 200, stored
    labels: dict[str, str] = stored["metadata"].get("labels") or {}
    return labels


def test_rendered_and_mutated_revision_namespaces_draw_no_conflicting_label_report(
    kube_apiserver: KubeAPIServer, kube_client: k8s.ApiClient, installed_crds: list[str]
) -> None:
    mesh = load_mesh(str(REVISIONS))
    objects, _ = render(mesh, RenderOptions())
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    assert [str(e) for e in apply_objects(kube_client, namespaces, dry_run=False)] == []
    for ns in namespaces:
        name = ns["metadata"]["name"]
        assert (
            stored_labels(kube_client, name)["istio.io/rev"]
            == ns["metadata"]["labels"]["istio.io/rev"]
        )
        assert "istio-injection" not in stored_labels(kube_client, name)

    # A namespace the team created itself, unlabelled, as the webhook's mutation leaves it
    # (named payments-own, with payments' markers); and one a team put on a revision by
    # hand, under a spec that names none (the quickstart's markers).
    own = as_meshed(NamespaceMutation.of(mesh), "payments", "payments-own").apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments-own"}}
    )
    assert own["metadata"]["labels"] == {"istio.io/rev": "1-25-0"}
    quickstart = NamespaceMutation.of(load_mesh(str(EXAMPLES / "quickstart" / "mesh.yaml")))
    kept = as_meshed(quickstart, "mesh-demo", "mesh-demo-rev").apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "mesh-demo-rev", "labels": {"istio.io/rev": "stable"}},
        }
    )
    assert kept["metadata"]["labels"] == {"istio.io/rev": "stable"}
    assert [str(e) for e in apply_objects(kube_client, [own, kept], dry_run=False)] == []

    # The guard: both labels on one namespace is what the analyzer reports.
    conflicting = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "revision-conflict",
            "labels": {"istio-injection": "enabled", "istio.io/rev": "stable"},
        },
    }
    assert [str(e) for e in apply_objects(kube_client, [conflicting], dry_run=False)] == []

    found = analyze(
        kube_apiserver, {"shop", "payments", "payments-own", "mesh-demo-rev", "revision-conflict"}
    )
    assert found == ["IST0123 Namespace revision-conflict"]
