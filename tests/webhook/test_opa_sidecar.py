"""The webhook with a sidecar OPA: an empty `opa run --server` that the webhook fills."""

from __future__ import annotations

import pytest

from support.api_server import review, workload
from support.paths import require_tool
from support.real_opa import opa_server
from support.webhook_server import QUICKSTART, Certs

pytestmark = pytest.mark.tools


def test_an_empty_opa_gets_the_policies_from_the_webhook_and_judges(
    start_server,
    certs: Certs,  # type: ignore[no-untyped-def]
) -> None:
    opa = require_tool("opa")
    with opa_server(opa) as url:
        server = start_server(
            QUICKSTART, certs, "--engine", "opa", "--opa-url", url, "--opa-publish"
        )
        opting_out = workload("Pod")
        opting_out["metadata"].setdefault("labels", {})["sidecar.istio.io/inject"] = "false"
        denied = server.post("/validate", json=review(opting_out), timeout=30).json()["response"]
        assert denied["allowed"] is False
        assert denied["status"]["message"].startswith("[meshc:injection-required] Pod mesh-demo/")
        allowed = server.post("/validate", json=review(workload("Pod")), timeout=30).json()
        assert allowed["response"]["allowed"] is True


def test_an_opa_without_the_policies_denies_every_review_never_allows(
    start_server,
    certs: Certs,  # type: ignore[no-untyped-def]
) -> None:
    opa = require_tool("opa")
    with opa_server(opa) as url:
        server = start_server(QUICKSTART, certs, "--engine", "opa", "--opa-url", url)
        response = server.post("/validate", json=review(workload("Pod")), timeout=30).json()
    assert response["response"]["allowed"] is False
    message = response["response"]["status"]["message"]
    assert message.startswith("[meshc:engine] policy engine unavailable: ")
    assert "are the meshc policies loaded?" in message
