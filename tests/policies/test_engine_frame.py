"""The frame every engine is built on: input, answer, violations, and one kind of failure.

Each engine supplies only ``raw`` (the entry point's value for a projected
input); :class:`EngineFrame` does the rest the same way for all of them. So
whatever an engine's runtime does wrong (answers something that is not a
list of violations, answers nothing, raises) reaches a caller as an
:class:`EngineError`, in every engine: the webhook's failure mode and
``meshc check``'s exit 2 depend on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regopy
import wasmtime
from policy_reviews import pod, review

from meshc.policies import wasm_engine
from meshc.policies.engine import (
    ENGINE_NAMES,
    UNDEFINED,
    EngineError,
    EngineFrame,
    create_engine,
    policy_input,
)
from meshc.policies.json_text import JSONDocument
from meshc.policies.modules import POLICIES_ENV
from meshc.policies.wasm_bundle import OPA_ENV
from support.fake_opa import FakeOpa
from support.paths import require_tool
from support.real_opa import opa_server

BAD_POD = pod(labels={"sidecar.istio.io/inject": "false"}, hostNetwork=True)


@pytest.fixture(scope="module")
def fake_opa() -> Iterator[FakeOpa]:
    opa = FakeOpa()
    yield opa
    opa.close()


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def engine(
    request: pytest.FixtureRequest, istio_data: dict[str, Any], fake_opa: FakeOpa
) -> EngineFrame:
    """Each engine; the OPA server engine asks a stand-in that finds nothing."""
    made = create_engine(request.param, istio_data, opa_url=fake_opa.url)
    assert isinstance(made, EngineFrame)
    return made


def test_every_engine_evaluates_the_projected_review_through_its_raw_answer(
    engine: EngineFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    answer = [{"policy": "injection-required", "problem": "p", "kind": "Pod", "name": "web"}]

    def raw(document: Any) -> Any:
        seen.append(document)
        return answer

    monkeypatch.setattr(engine, "raw", raw)
    found = engine.evaluate(review(BAD_POD))
    assert seen == [policy_input(review(BAD_POD))]
    assert [(v.policy, v.problem, v.mode) for v in found] == [
        ("injection-required", "p", "enforce")
    ]


def test_a_decoded_review_stays_one_through_the_projection_and_a_dict_stays_a_dict() -> None:
    # Only a JSONDocument's input may be written by orjson (policies/json_text.py).
    projected = policy_input(JSONDocument(review(BAD_POD)))
    assert type(projected) is JSONDocument
    assert projected == policy_input(review(BAD_POD))
    assert type(policy_input(review(BAD_POD))) is dict
    assert type(policy_input(json.dumps(review(BAD_POD)))) is dict


def test_every_engine_reads_each_policy_mode_from_the_data(
    istio_data: dict[str, Any], fake_opa: FakeOpa
) -> None:
    modes = {"injection-required": "warn", "mtls-strict": "audit"}
    for name in ENGINE_NAMES:
        made = create_engine(name, {**istio_data, "modes": modes}, opa_url=fake_opa.url)
        assert isinstance(made, EngineFrame) and made.modes == modes


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"not": "a list"}, "the policies answered dict, expected a list of violations"),
        ("text", "the policies answered str"),
        (None, "the policies answered NoneType"),
        ([{"kind": "Pod"}], "malformed violation: KeyError"),
        ([{"policy": "p"}], "malformed violation: KeyError"),
        (["not an object"], "malformed violation"),
        ([7], "malformed violation"),
    ],
    ids=["object", "string", "null", "no policy", "no problem", "a string", "a number"],
)
def test_a_malformed_answer_is_an_engine_error_in_every_engine(
    engine: EngineFrame, monkeypatch: pytest.MonkeyPatch, answer: Any, message: str
) -> None:
    monkeypatch.setattr(engine, "raw", lambda document: answer)
    with pytest.raises(EngineError, match=message):
        engine.evaluate(review(BAD_POD))


def test_no_answer_is_an_engine_error_in_every_engine(
    engine: EngineFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "raw", lambda document: UNDEFINED)
    with pytest.raises(EngineError) as caught:
        engine.evaluate(review(BAD_POD))
    assert str(caught.value) == engine.undefined
    assert "meshc/main/violations" in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [RuntimeError("broken\n  a second line"), KeyError("missing"), ValueError(), OSError(5, "EIO")],
    ids=["RuntimeError", "KeyError", "a bare ValueError", "OSError"],
)
def test_a_raising_engine_is_an_engine_error_in_every_engine(
    engine: EngineFrame, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def raw(document: Any) -> Any:
        raise error

    monkeypatch.setattr(engine, "raw", raw)
    with pytest.raises(EngineError) as caught:
        engine.evaluate(review(BAD_POD))
    # One line, saying what failed; the error itself is kept as the cause.
    text = str(caught.value)
    assert text.startswith(f"{engine.failure}: ") and "\n" not in text
    assert text != f"{engine.failure}: "
    assert caught.value.__cause__ is error


def test_an_engine_error_from_an_engine_is_raised_as_it_is(
    engine: EngineFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = EngineError("the engine's own words")

    def raw(document: Any) -> Any:
        raise error

    monkeypatch.setattr(engine, "raw", raw)
    with pytest.raises(EngineError) as caught:
        engine.evaluate(review(BAD_POD))
    assert caught.value is error


def test_input_that_is_not_json_never_reaches_an_engine(
    engine: EngineFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "raw", lambda document: pytest.fail("raw was called"))
    with pytest.raises(EngineError, match="the AdmissionReview is not JSON"):
        engine.evaluate(b"{not json")


# -- each engine's own runtime failing --------------------------------------------------------


def test_the_embedded_engine_reports_rego_cpp_failing(
    istio_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine("embedded", istio_data)
    expected = engine.evaluate(review(BAD_POD))

    def broken(*args: Any) -> Any:
        raise regopy.RegoError("rego-cpp is broken")

    with monkeypatch.context() as mp:
        mp.setattr(regopy.Interpreter, "query_bundle_entrypoint", broken)
        with pytest.raises(EngineError, match="^policy evaluation failed: rego-cpp is broken$"):
            engine.evaluate(review(BAD_POD))
    assert engine.evaluate(review(BAD_POD)) == expected


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"not json", "^policy evaluation failed: "),
        (b'[{"result": {"a": 1}}]', "answered dict, expected a list"),
        (b'[{"result": [{"kind": "Pod"}]}]', "malformed violation"),
        (b"[]", "^the policies gave no answer for meshc/main/violations$"),
        (b'{"result": []}', "^the policies gave no answer"),
    ],
    ids=["not JSON", "an object", "a violation without policy", "undefined", "not OPA's shape"],
)
def test_the_wasm_engine_reports_a_bad_answer_and_starts_the_next_review_afresh(
    istio_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch, answer: bytes, message: str
) -> None:
    engine = create_engine("wasm", istio_data)
    expected = engine.evaluate(review(BAD_POD))
    with monkeypatch.context() as mp:
        mp.setattr(wasm_engine._Instance, "_string", lambda self, address: answer)
        with pytest.raises(EngineError, match=message):
            engine.evaluate(review(BAD_POD))
    assert engine.evaluate(review(BAD_POD)) == expected


def test_the_wasm_engine_reports_wasmtime_failing_and_drops_the_instance(
    istio_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine("wasm", istio_data)
    expected = engine.evaluate(review(BAD_POD))
    before = engine._instance()  # type: ignore[attr-defined]

    def broken(self: Any, text: bytes) -> Any:
        raise wasmtime.WasmtimeError("wasmtime is broken\nbacktrace")

    with monkeypatch.context() as mp:
        mp.setattr(wasm_engine._Instance, "evaluate", broken)
        with pytest.raises(EngineError, match="^policy evaluation failed: wasmtime is broken$"):
            engine.evaluate(review(BAD_POD))
    assert engine.evaluate(review(BAD_POD)) == expected
    assert engine._instance() is not before  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, b'{"result": {"a": 1}}', "the policies answered dict"),
        (200, b'{"result": [{"kind": "Pod"}]}', "malformed violation"),
        (200, b"{}", "has no meshc/main/violations: are the meshc policies loaded"),
        (200, b"[]", "are the meshc policies loaded"),
        (200, b"not json", "gave no decision: "),
        (500, b'{"code": "internal_error"}', "gave no decision: 500 Server Error"),
    ],
    ids=[
        "an object",
        "a violation without policy",
        "undefined",
        "not an object",
        "not JSON",
        "500",
    ],
)
def test_the_opa_server_engine_reports_a_bad_answer(
    istio_data: dict[str, Any], status: int, body: bytes, message: str
) -> None:
    opa = FakeOpa(body=body, status=status)
    try:
        engine = create_engine("opa", istio_data, opa_url=opa.url)
        with pytest.raises(EngineError, match=message):
            engine.evaluate(review(BAD_POD))
    finally:
        opa.close()


# -- the same malformed policies in every engine ----------------------------------------------

MALFORMED = {
    "a violation without a problem": 'violations contains {"policy": "p", "kind": "Pod"} if true\n',
    "an object": 'violations := {"policy": "p"}\n',
    "a string": 'violations := "none"\n',
}


@pytest.mark.tools
@pytest.mark.parametrize("policy", sorted(MALFORMED))
def test_policies_answering_something_malformed_are_an_engine_error_in_every_engine(
    policy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, istio_data: dict[str, Any]
) -> None:
    (tmp_path / "main.rego").write_text("package meshc.main\n\n" + MALFORMED[policy])
    monkeypatch.setenv(POLICIES_ENV, str(tmp_path))
    opa = require_tool("opa")
    monkeypatch.setenv(OPA_ENV, str(opa))  # the wasm engine compiles Rego it was not shipped
    with opa_server(opa) as url:
        for name in ENGINE_NAMES:
            engine = create_engine(name, istio_data, opa_url=url, publish=True)
            with pytest.raises(EngineError, match="malformed violation|expected a list"):
                engine.evaluate(review(BAD_POD))
