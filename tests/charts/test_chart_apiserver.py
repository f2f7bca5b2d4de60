"""The rendered chart against a real kube-apiserver: accepted as is, and TLS kept across upgrades.

cert-manager's CRDs are not installed in the test API server, so its Issuer
and Certificate are left out here (test_chart_tls checks them structurally).
"""

from __future__ import annotations

import base64
import copy
import time
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from cryptography import x509
from kubernetes import client as k8s

from support.apply import apply_objects
from support.helm_chart import CHART, CI_VALUES, ci_values, objects, render
from support.kube import KubeAPIServer

pytestmark = pytest.mark.tools

CERT_MANAGER_KINDS = {"Issuer", "Certificate"}


@pytest.mark.parametrize(
    "values_file",
    [None, *CI_VALUES],
    ids=lambda p: p.name.removesuffix("-values.yaml") if p else "defaults",
)
def test_the_api_server_accepts_every_rendered_object(
    kube_client: k8s.ApiClient, values_file: Path | None
) -> None:
    values = ci_values(values_file) if values_file else None
    rendered = [o for o in objects(render(values)) if o["kind"] not in CERT_MANAGER_KINDS]
    assert {o["kind"] for o in rendered} >= {
        "Deployment",
        "Service",
        "ServiceAccount",
        "ConfigMap",
        "PodDisruptionBudget",
        "ValidatingWebhookConfiguration",
    }
    # A dry run: the server validates and admits everything but registers no
    # webhook, so the service-backed configurations never block other requests.
    assert [str(e) for e in apply_objects(kube_client, rendered, dry_run=True)] == []


def _cluster_render(server: KubeAPIServer, namespace: str) -> dict[str, Any]:
    """Render as `helm upgrade` does: `lookup` sees the live cluster."""
    with (
        helm.Config(kubeconfig_path=server.kubeconfig, namespace=namespace) as config,
        helm.Chart.load(CHART) as chart,
    ):
        manifests = config.render(chart, None, name="meshc", namespace=namespace, is_upgrade=True)
    docs = [
        d
        for path, text in manifests.items()
        if not path.endswith("NOTES.txt")
        for d in yaml.safe_load_all(text)
        if d
    ]
    return {d["kind"]: d for d in docs}


def _certs(pem_b64: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(base64.b64decode(pem_b64))


def test_an_upgrade_keeps_the_certificate_until_it_nears_expiry(
    kube_apiserver: KubeAPIServer, kube_client: k8s.ApiClient
) -> None:
    namespace = "meshc-tls-upgrade"
    first = _cluster_render(kube_apiserver, namespace)
    assert apply_objects(kube_client, [first["Secret"]], dry_run=False) == []

    again = _cluster_render(kube_apiserver, namespace)
    assert again["Secret"]["data"] == first["Secret"]["data"]
    hook = again["ValidatingWebhookConfiguration"]["webhooks"][0]
    assert hook["clientConfig"]["caBundle"] == first["Secret"]["data"]["ca.crt"]

    # Within renewBeforeDays of the recorded expiry: the next upgrade renews.
    expiring = copy.deepcopy(first["Secret"])
    expiring["metadata"]["annotations"]["meshc.io/not-after"] = str(int(time.time()) + 86400)
    assert apply_objects(kube_client, [expiring], dry_run=False) == []
    renewed = _cluster_render(kube_apiserver, namespace)
    assert renewed["Secret"]["data"]["tls.crt"] != first["Secret"]["data"]["tls.crt"]
    old_ca = _certs(first["Secret"]["data"]["ca.crt"])[0]
    new_ca = _certs(renewed["Secret"]["data"]["ca.crt"])[0]
    trusted = _certs(
        renewed["ValidatingWebhookConfiguration"]["webhooks"][0]["clientConfig"]["caBundle"]
    )
    # Pods still serving the old certificate stay trusted until they roll.
    assert trusted == [new_ca, old_ca]
