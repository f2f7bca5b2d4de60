"""``meshc check`` and the webhook answer alike: same decision, same messages, for every sample.

Each policy sample is judged twice: offline by ``meshc check --format json``
and at admission by a running webhook (over HTTPS) given the AdmissionReview
``meshc check`` itself builds. Any drift between the two paths fails here.

One difference is by design (docs/policies.md, "Outcome and intent"): a Pod
manifest is judged offline by what it asks for, before any injector ran, and
at admission by what it will run, after injection. So a Pod written as a
plain manifest is left out here; Pods as AdmissionReviews (what an API server
sends after injection) are in, and tests/policies/test_outcome.py covers both.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from meshc import providers
from meshc.cli import main as meshc
from meshc.policies.admission import admission_review
from meshc.policies.manifests import load_manifests
from meshc.policies.violations import EXCEPTION_HINT
from meshc.webhook.decision import fit_warnings
from support.paths import REPO
from support.webhook_server import Certs, WebhookServer

SAMPLES = REPO / "tests" / "policies" / "samples"
SPECS = {p.stem: p for p in (SAMPLES / "specs").glob("*.yaml")}


def _pod_manifest(path: Path) -> bool:
    (manifest,) = load_manifests([str(path)])
    return bool(manifest.obj.get("kind") == "Pod")


SAMPLE_FILES = sorted(
    p
    for p in SAMPLES.rglob("*.yaml")
    if p.parent.name in ("allowed", "denied") and not _pod_manifest(p)
)


def provider_of(sample: Path) -> str:
    return sample.name.partition("-")[0]


@pytest.fixture(scope="module")
def warn_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Istio samples' spec with every policy in warn mode."""
    text = (
        SPECS["istio"]
        .read_text()
        .replace(
            "  admission:\n",
            "  admission:\n    policies:\n"
            "      injection-required: warn\n      mtls-strict: warn\n      allowed-namespaces: warn\n"
            "      managed-objects: warn\n",
            1,
        )
    )
    path = tmp_path_factory.mktemp("warn") / "mesh.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def servers(start_server, certs: Certs, warn_spec: Path) -> dict[str, tuple[Path, WebhookServer]]:  # type: ignore[no-untyped-def]
    return {
        **{p: (SPECS[p], start_server(SPECS[p], certs, workers=1)) for p in providers.names()},
        "istio-warn": (warn_spec, start_server(warn_spec, certs, workers=1)),
    }


def check(
    spec: Path, sample: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, Any]]]:
    capsys.readouterr()
    code = meshc(["check", "--no-conflicts", "--spec", str(spec), "--format", "json", str(sample)])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    return code, json.loads(out)


def admit(server: WebhookServer, sample: Path) -> dict[str, Any]:
    """As an API server admits: /mutate, its patch applied, then /validate."""
    (manifest,) = load_manifests([str(sample)])
    doc = (
        manifest.obj
        if manifest.is_review
        else admission_review(manifest.obj, "CREATE", uid="parity")
    )
    r = server.post("/mutate", json=doc)
    assert r.status_code == 200, r.text
    patch = r.json()["response"].get("patch")
    if patch:
        request = doc["request"]
        patched = jsonpatch.apply_patch(request["object"], json.loads(base64.b64decode(patch)))
        doc = {**doc, "request": {**request, "object": patched}}
    r = server.post("/validate", json=doc)
    assert r.status_code == 200, r.text
    return r.json()["response"]  # type: ignore[no-any-return]


def test_there_are_samples_of_both_outcomes() -> None:
    assert {p.parent.name for p in SAMPLE_FILES} == {"allowed", "denied"}
    assert len(SAMPLE_FILES) > 20


@pytest.mark.parametrize(
    "sample", SAMPLE_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.stem}"
)
def test_the_webhook_decides_and_words_it_as_meshc_check(
    servers: dict[str, tuple[Path, WebhookServer]], sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, server = servers[provider_of(sample)]
    code, rows = check(spec, sample, capsys)
    response = admit(server, sample)

    assert response["allowed"] is (code == 0)
    assert response["allowed"] is (sample.parent.name == "allowed")
    denials = [row["message"] for row in rows if row["mode"] == "enforce"]
    assert response.get("status", {}).get("message", "") == "\n".join(denials)


@pytest.mark.parametrize(
    "sample", [p for p in SAMPLE_FILES if provider_of(p) == "istio"], ids=lambda p: p.stem
)
def test_warn_mode_findings_are_the_webhooks_warnings(
    servers: dict[str, tuple[Path, WebhookServer]], sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, server = servers["istio-warn"]
    code, rows = check(spec, sample, capsys)
    response = admit(server, sample)

    assert code == 0 and response["allowed"] is True
    # Warnings leave out the exception snippet meshc check prints (the 256-byte limit).
    warned = [row["message"].partition(EXCEPTION_HINT)[0] for row in rows if row["mode"] == "warn"]
    # The same texts, cut only where the API server would cut them itself.
    assert response.get("warnings", []) == fit_warnings(warned)
    assert bool(warned) is (sample.parent.name == "denied")
