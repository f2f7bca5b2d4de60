"""The engine interface the webhook codes against: modes, decisions, threads, errors.

What holds for one in-process engine holds for both: each such test runs on
the embedded and the wasm engine.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from policy_reviews import istio_proxy, pod, review

from meshc.policies.engine import EngineError, PolicyEngine, create_engine, decide
from meshc.policies.violations import format_message

BAD_POD = pod(labels={"sidecar.istio.io/inject": "false"}, hostNetwork=True)


@pytest.fixture(scope="module", params=["embedded", "wasm"])
def kind(request: pytest.FixtureRequest) -> str:
    """Each in-process engine in turn."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def engine(kind: str, istio_data: dict[str, Any]) -> PolicyEngine:
    return create_engine(kind, istio_data)


def test_violations_take_their_mode_from_the_spec(kind: str, istio_data: dict[str, Any]) -> None:
    modes = {"injection-required": "warn", "mtls-strict": "audit", "allowed-namespaces": "enforce"}
    engine = create_engine(kind, {**istio_data, "modes": modes})
    found = engine.evaluate(review(BAD_POD))
    assert {v.mode for v in found} == {"warn"}
    decision = decide(found)
    assert decision.allowed and decision.warnings == tuple(found) and not decision.audits


def test_decide_splits_by_mode(engine: PolicyEngine) -> None:
    found = engine.evaluate(review(BAD_POD))
    decision = decide(found)
    assert not decision.allowed
    assert decision.denials == tuple(sorted(found)) and len(found) == 2


def test_a_review_as_json_text_or_bytes_gets_the_same_answer(engine: PolicyEngine) -> None:
    as_dict = engine.evaluate(review(BAD_POD))
    text = json.dumps(review(BAD_POD))
    assert engine.evaluate(text) == engine.evaluate(text.encode()) == as_dict


def test_concurrent_evaluations_from_many_threads_agree(engine: PolicyEngine) -> None:
    # Alternate a clean and a bad pod so a shared, racing input would show.
    clean = review(pod(containers=[{"name": "web", "image": "x"}, istio_proxy()]))
    bad = review(BAD_POD)
    expected = {0: [], 1: [format_message(v) for v in engine.evaluate(bad)]}
    assert expected[1], "the bad pod must be denied, or agreeing proves nothing"

    def run(i: int) -> tuple[int, list[str]]:
        return i % 2, [format_message(v) for v in engine.evaluate(bad if i % 2 else clean)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(2000)))
    assert all(messages == expected[parity] for parity, messages in results)


def test_an_unknown_engine_is_a_clear_error(istio_data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown policy engine 'rego'"):
        create_engine("rego", istio_data)


def test_an_unreachable_opa_is_an_engine_error_not_an_allow(istio_data: dict[str, Any]) -> None:
    engine = create_engine("opa", istio_data, opa_url="http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(EngineError, match="gave no decision"):
        engine.evaluate(review(BAD_POD))


def test_input_that_is_not_json_is_an_engine_error(engine: PolicyEngine) -> None:
    with pytest.raises(EngineError):
        engine.evaluate("{not json")


def test_a_review_nested_deeper_than_json_can_encode_is_an_engine_error(
    engine: PolicyEngine,
) -> None:
    # The webhook refuses such a body first (400 past 256 levels); `meshc check`
    # hands the engine what the YAML held.
    deep: object = "leaf"
    for _ in range(5000):
        deep = [deep]
    opting_out = review(pod(labels={"sidecar.istio.io/inject": "false"}))
    opting_out["request"]["object"]["metadata"]["annotations"] = {"deep": deep}
    with pytest.raises(EngineError, match="not JSON: maximum recursion depth"):
        engine.evaluate(opting_out)
    assert engine.evaluate(review(BAD_POD))


def test_a_review_that_contains_itself_is_an_engine_error_that_says_so(
    engine: PolicyEngine,
) -> None:
    # A YAML alias inside its own anchor (`&r [a, *r]`) reads as a list holding itself.
    cyclic: list[object] = ["a"]
    cyclic.append(cyclic)
    opting_out = review(pod(labels={"sidecar.istio.io/inject": "false"}))
    opting_out["request"]["object"]["metadata"]["annotations"] = {"cyclic": cyclic}
    with pytest.raises(EngineError, match="not JSON: Circular reference detected"):
        engine.evaluate(opting_out)
    assert engine.evaluate(review(BAD_POD))


@pytest.mark.parametrize(
    "number",
    [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308],
    ids=["subnormal", "least normal", "greatest"],
)
def test_a_number_at_an_end_of_the_float_range_is_judged_or_an_engine_error(
    engine: PolicyEngine, number: float
) -> None:
    # The opt-out's value is shown in the message, rounded first (lib_k8s.rego, show).
    opting_out = review(pod(labels={"sidecar.istio.io/inject": number}))
    try:
        found = engine.evaluate(opting_out)
    except EngineError:
        return
    assert [v.path for v in found] == ['metadata.labels["sidecar.istio.io/inject"]']
