"""The engine interface the webhook codes against: modes, decisions, threads, errors."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from meshc.policies.engine import EngineError, PolicyEngine, create_engine, decide
from meshc.policies.violations import format_message
from policy_reviews import istio_proxy, pod, review

BAD_POD = pod(labels={"sidecar.istio.io/inject": "false"}, hostNetwork=True)


def test_violations_take_their_mode_from_the_spec(istio_data: dict[str, Any]) -> None:
    modes = {"injection-required": "warn", "mtls-strict": "audit", "allowed-namespaces": "enforce"}
    engine = create_engine("embedded", {**istio_data, "modes": modes})
    found = engine.evaluate(review(BAD_POD))
    assert {v.mode for v in found} == {"warn"}
    decision = decide(found)
    assert decision.allowed and decision.warnings == tuple(found) and not decision.audits


def test_decide_splits_by_mode(istio_engine: PolicyEngine) -> None:
    found = istio_engine.evaluate(review(BAD_POD))
    decision = decide(found)
    assert not decision.allowed
    assert decision.denials == tuple(sorted(found)) and len(found) == 2


def test_a_review_as_json_text_or_bytes_gets_the_same_answer(istio_engine: PolicyEngine) -> None:
    as_dict = istio_engine.evaluate(review(BAD_POD))
    text = json.dumps(review(BAD_POD))
    assert istio_engine.evaluate(text) == istio_engine.evaluate(text.encode()) == as_dict


def test_concurrent_evaluations_from_many_threads_agree(istio_engine: PolicyEngine) -> None:
    # Alternate a clean and a bad pod so a shared, racing input would show.
    clean = review(pod(containers=[{"name": "web", "image": "x"}, istio_proxy()]))
    bad = review(BAD_POD)
    expected = {0: [], 1: [format_message(v) for v in istio_engine.evaluate(bad)]}

    def run(i: int) -> tuple[int, list[str]]:
        return i % 2, [format_message(v) for v in istio_engine.evaluate(bad if i % 2 else clean)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(2000)))
    assert all(messages == expected[parity] for parity, messages in results)


def test_an_unknown_engine_is_a_clear_error(istio_data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown policy engine 'rego'"):
        create_engine("rego", istio_data)  # type: ignore[arg-type]


def test_an_unreachable_opa_is_an_engine_error_not_an_allow(istio_data: dict[str, Any]) -> None:
    engine = create_engine("opa", istio_data, opa_url="http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(EngineError, match="gave no decision"):
        engine.evaluate(review(BAD_POD))


def test_input_that_is_not_json_is_an_engine_error(istio_engine: PolicyEngine) -> None:
    with pytest.raises(EngineError):
        istio_engine.evaluate("{not json")
