"""The OPA server engine against a real `opa run --server` on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from policy_reviews import pod, review

from meshc import providers
from meshc.policies.check import evaluate
from meshc.policies.engine import EngineError, create_engine
from meshc.policies.manifests import load_manifests
from meshc.policies.opa_server import write_bundle
from meshc.policies.violations import format_message
from support.paths import require_tool
from support.policy_samples import sample_files, spec_for
from support.real_opa import opa_server

pytestmark = pytest.mark.tools

BAD_POD = pod(labels={"sidecar.istio.io/inject": "false"})


def test_a_bundle_served_by_opa_gives_the_embedded_answer(
    tmp_path: Path, istio_data: dict[str, Any]
) -> None:
    bundle = write_bundle(tmp_path / "bundle", istio_data)
    with opa_server(require_tool("opa"), "--bundle", str(bundle)) as url:
        engine = create_engine("opa", istio_data, opa_url=url)
        assert engine.evaluate(review(BAD_POD)) == create_engine("embedded", istio_data).evaluate(
            review(BAD_POD)
        )


def test_policies_published_over_the_rest_api(istio_data: dict[str, Any]) -> None:
    with opa_server(require_tool("opa")) as url:
        unloaded = create_engine("opa", istio_data, opa_url=url)
        with pytest.raises(EngineError, match="are the meshc policies loaded"):
            unloaded.evaluate(review(BAD_POD))
        engine = create_engine("opa", istio_data, opa_url=url, publish=True)
        assert [v.path for v in engine.evaluate(review(BAD_POD))] == [
            'metadata.labels["sidecar.istio.io/inject"]'
        ]


@pytest.mark.parametrize("provider", providers.names())
def test_both_engines_decide_the_sample_corpus_identically(
    provider: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    data: dict[str, Any] = request.getfixturevalue(f"{provider}_data")
    # Every sample, judged against this provider's mesh, as every operation.
    samples = [str(p) for p in sample_files() if spec_for(p).stem == provider]
    manifests = load_manifests(samples)
    bundle = write_bundle(tmp_path / "bundle", data)
    with opa_server(require_tool("opa"), "--bundle", str(bundle)) as url:
        opa = create_engine("opa", data, opa_url=url)
        embedded = create_engine("embedded", data)
        for operation in ("CREATE", "UPDATE", "DELETE"):
            by_opa = [format_message(f.violation) for f in evaluate(opa, manifests, operation)]
            by_embedded = [
                format_message(f.violation) for f in evaluate(embedded, manifests, operation)
            ]
            assert by_opa == by_embedded
            if operation == "CREATE":
                assert len(by_opa) >= len([m for m in samples if "/denied/" in m])
