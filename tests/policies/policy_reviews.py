"""Builders for the AdmissionReviews the policy tests send."""

from __future__ import annotations

from typing import Any

from meshc.policies.admission import admission_review

PROXY_IMAGE = "docker.io/istio/proxyv2:1.24.2"


def pod(
    *,
    namespace: str = "mesh-demo",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "containers": containers or [{"name": "web", "image": "hashicorp/http-echo:1.0"}],
        **spec,
    }
    if init_containers:
        body["initContainers"] = init_containers
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": body,
    }


def istio_proxy(image: str = PROXY_IMAGE) -> dict[str, Any]:
    return {"name": "istio-proxy", "image": image, "securityContext": {"runAsUser": 1337}}


def review(obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    return admission_review(obj, operation)  # type: ignore[arg-type]
