"""The chart runs the webhook alone, no webhook at all (native), or both.

With native enforcement the API server judges every request with the
admission policies `meshc render` emits (tests/policies/test_native_objects.py,
tests/e2e/test_native_admission.py); the chart then installs nothing that
serves or registers a webhook.
"""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from support.helm_chart import notes, objects, render

WEBHOOK_KINDS = {
    "Deployment",
    "Service",
    "ServiceAccount",
    "Secret",
    "PodDisruptionBudget",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}


def spec(enforcement: str | None) -> dict[str, Any]:
    admission = {"enforcement": enforcement} if enforcement else {}
    return {
        "apiVersion": "meshc.io/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "shop"},
        "spec": {"provider": "istio", "namespaces": [{"name": "shop"}], "admission": admission},
    }


def kinds(values: dict[str, Any]) -> set[str]:
    return {o["kind"] for o in objects(render(values))}


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="default"),
        pytest.param({"enforcement": "webhook"}, id="value-webhook"),
        pytest.param({"enforcement": "both"}, id="value-both"),
        pytest.param({"spec": spec("both")}, id="spec-both"),
    ],
)
def test_webhook_and_both_install_the_webhook(values: dict[str, Any]) -> None:
    assert WEBHOOK_KINDS <= kinds(values)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"enforcement": "native"}, id="value"),
        pytest.param({"spec": spec("native")}, id="spec"),
        pytest.param({"spec": spec("native"), "enforcement": "native"}, id="both-agree"),
    ],
)
def test_native_installs_no_webhook_at_all(values: dict[str, Any]) -> None:
    assert kinds(values) == set()
    assert "native enforcement" in notes(values)
    assert "No webhook runs" in notes(values)


def test_native_with_the_audit_keeps_the_spec_the_audit_reads() -> None:
    found = kinds({"enforcement": "native", "audit": {"enabled": True}})
    assert "CronJob" in found and "ConfigMap" in found
    assert not found & {
        "Deployment",
        "Service",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }


def test_a_value_that_contradicts_the_spec_fails_the_install() -> None:
    with pytest.raises(helm.HelmError, match='values.enforcement is "webhook" but the spec'):
        render({"spec": spec("native"), "enforcement": "webhook"})


def test_the_schema_refuses_an_unknown_enforcement() -> None:
    with pytest.raises(helm.HelmError, match="enforcement"):
        render({"enforcement": "sidecar"})
