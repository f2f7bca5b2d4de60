"""Admission in Istio ambient namespaces: enrollment instead of a sidecar.

The samples spec (tests/policies/samples/specs/istio.yaml) puts mesh-ambient in
ambient, with a waypoint for its service shop and an external host. What
enrolls a pod is what Istio CNI's enablement selector reads (the namespace
label, the pod's dataplane-mode label, hostNetwork, a sidecar); the outcome
(ambient.istio.io/redirection) is written after admission, so no rule reads it.
"""

from __future__ import annotations

from typing import Any

import pytest
from policy_reviews import istio_proxy, pod, review

from meshc.compiler.loader import load_mesh
from meshc.policies.admission import admission_review
from meshc.policies.engine import create_engine
from meshc.policies.mutation import NamespaceMutation
from meshc.providers.istio import REDIRECTION_ANNOTATION
from support.policy_samples import SPECS

AMBIENT = "mesh-ambient"
ENGINES = ("embedded", "wasm")


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest, istio_data: dict[str, Any]) -> Any:
    return create_engine(request.param, istio_data)


def findings(engine: Any, obj: dict[str, Any], operation: str = "CREATE") -> list[tuple[str, str]]:
    return sorted((v.policy, v.path) for v in engine.evaluate(review(obj, operation)))


def namespace(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": AMBIENT, "labels": labels},
    }


def service(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": AMBIENT, "labels": labels},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


def test_a_plain_pod_in_an_ambient_namespace_is_admitted_without_a_sidecar(engine: Any) -> None:
    # The sidecar rules (no istio-proxy, no capture) do not apply: ztunnel captures it.
    assert findings(engine, pod(namespace=AMBIENT)) == []


def test_the_redirection_annotation_is_never_required(engine: Any) -> None:
    # CNI writes it through pods/status after the pod exists; its absence proves nothing yet.
    assert findings(engine, pod(namespace=AMBIENT), "UPDATE") == []
    assert (
        findings(
            engine,
            pod(namespace=AMBIENT, annotations={REDIRECTION_ANNOTATION: "enabled"}),
            "UPDATE",
        )
        == []
    )


@pytest.mark.parametrize(
    ("labels", "annotations", "spec", "path"),
    [
        ({"istio.io/dataplane-mode": "none"}, {}, {}, 'metadata.labels["istio.io/dataplane-mode"]'),
        ({"sidecar.istio.io/inject": "true"}, {}, {}, 'metadata.labels["sidecar.istio.io/inject"]'),
        ({"istio.io/rev": "canary"}, {}, {}, 'metadata.labels["istio.io/rev"]'),
        ({"istio.io/use-waypoint": "none"}, {}, {}, 'metadata.labels["istio.io/use-waypoint"]'),
        (
            {},
            {"ambient.istio.io/bypass-inbound-capture": "true"},
            {},
            'metadata.annotations["ambient.istio.io/bypass-inbound-capture"]',
        ),
        (
            {},
            {"ambient.istio.io/bypass-inbound-capture": "T"},
            {},
            'metadata.annotations["ambient.istio.io/bypass-inbound-capture"]',
        ),
        (
            {},
            {"ambient.istio.io/dns-capture": "0"},
            {},
            'metadata.annotations["ambient.istio.io/dns-capture"]',
        ),
        (
            {},
            {"sidecar.istio.io/status": "{}"},
            {},
            'metadata.annotations["sidecar.istio.io/status"]',
        ),
        ({}, {}, {"hostNetwork": True}, "spec.hostNetwork"),
    ],
)
def test_every_opt_out_of_ambient_is_denied(
    engine: Any,
    labels: dict[str, str],
    annotations: dict[str, str],
    spec: dict[str, Any],
    path: str,
) -> None:
    obj = pod(namespace=AMBIENT, labels=labels, annotations=annotations, **spec)
    assert ("injection-required", path) in findings(engine, obj)


@pytest.mark.parametrize(
    ("labels", "annotations"),
    [
        ({"istio.io/dataplane-mode": "ambient"}, {}),
        ({"istio.io/dataplane-mode": "None"}, {}),  # CNI's NotIn [none] is case-sensitive
        ({"sidecar.istio.io/inject": "false"}, {}),
        ({"istio.io/use-waypoint": "waypoint"}, {}),
        ({}, {"ambient.istio.io/bypass-inbound-capture": "false"}),
        ({}, {"ambient.istio.io/bypass-inbound-capture": "yes"}),  # ParseBool: not a boolean
        ({}, {"ambient.istio.io/dns-capture": "true"}),
    ],
)
def test_compliant_look_alikes_are_admitted(
    engine: Any, labels: dict[str, str], annotations: dict[str, str]
) -> None:
    assert findings(engine, pod(namespace=AMBIENT, labels=labels, annotations=annotations)) == []


def test_a_running_sidecar_is_denied_in_ambient_but_required_elsewhere(engine: Any) -> None:
    injected = {"sidecar.istio.io/status": "{}"}
    ambient = pod(namespace=AMBIENT, annotations=injected, containers=[istio_proxy()])
    assert findings(engine, ambient)
    # As the API server sends it (after the injectors): a sidecar namespace needs the proxy.
    online = engine.evaluate(admission_review(pod(), "CREATE", offline=False))
    assert ("injection-required", "spec.containers") in {(v.policy, v.path) for v in online}


@pytest.mark.parametrize(
    ("labels", "path"),
    [
        ({}, 'metadata.labels["istio.io/dataplane-mode"]'),
        ({"istio.io/dataplane-mode": "none"}, 'metadata.labels["istio.io/dataplane-mode"]'),
        (
            {"istio.io/dataplane-mode": "ambient", "istio-injection": "enabled"},
            'metadata.labels["istio-injection"]',
        ),
        (
            {"istio.io/dataplane-mode": "ambient", "istio.io/rev": "canary"},
            'metadata.labels["istio.io/rev"]',
        ),
        (
            {"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "none"},
            'metadata.labels["istio.io/use-waypoint"]',
        ),
    ],
)
@pytest.mark.parametrize("operation", ["CREATE", "UPDATE"])
def test_a_namespace_leaving_ambient_or_its_waypoint_is_denied(
    engine: Any, labels: dict[str, str], path: str, operation: str
) -> None:
    assert ("injection-required", path) in findings(engine, namespace(labels), operation)


def test_the_ambient_namespace_as_rendered_is_admitted(engine: Any) -> None:
    assert findings(engine, namespace({"istio.io/dataplane-mode": "ambient"})) == []


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"istio.io/use-waypoint": "none"},
        {"istio.io/use-waypoint": "other"},
        {"istio.io/use-waypoint": "waypoint", "istio.io/use-waypoint-namespace": "elsewhere"},
    ],
)
def test_a_service_that_skips_its_spec_waypoint_is_denied(
    engine: Any, labels: dict[str, str]
) -> None:
    assert findings(engine, service("shop", labels))


def test_the_service_on_its_waypoint_and_services_outside_the_spec_are_admitted(
    engine: Any,
) -> None:
    assert findings(engine, service("shop", {"istio.io/use-waypoint": "waypoint"})) == []
    assert findings(engine, service("batch", {"istio.io/use-waypoint": "none"})) == []


def test_the_mutating_webhook_adds_the_ambient_label_and_never_istio_injection() -> None:
    mutation = NamespaceMutation.of(load_mesh(str(SPECS / "istio.yaml")))
    added = mutation.additions({"kind": "Namespace", "metadata": {"name": AMBIENT}})
    assert added == {"labels": {"istio.io/dataplane-mode": "ambient"}, "annotations": {}}
    # A namespace that already states a choice is never relabelled (validation judges it).
    chosen = {
        "kind": "Namespace",
        "metadata": {"name": AMBIENT, "labels": {"istio-injection": "enabled"}},
    }
    assert mutation.additions(chosen) == {"labels": {}, "annotations": {}}
