"""The app's contract: a bad request gets a 4xx with a JSON reason, a bad object a denial.

The bad-request matrix runs against the real server over HTTPS; what needs a
misbehaving engine runs on the app itself with a stand-in engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from meshc.policies.engine import EngineError
from meshc.policies.violations import Violation, format_message
from meshc.webhook.app import create_app
from meshc.webhook.state import State
from support.api_server import review, workload
from support.webhook_server import WebhookServer

JSON = {"Content-Type": "application/json"}
THREE_MIB = 3 * 1024 * 1024
GOOD = json.dumps(review(workload("Pod"))).encode()


def without(field: str) -> bytes:
    doc = review(workload("Pod"))
    if field == "uid":
        del doc["request"]["uid"]
    else:
        del doc[field]
    return json.dumps(doc).encode()


BAD_REQUESTS = {
    # name: (headers, body, status)
    "no body": (JSON, b"", 400),
    "no content type": ({}, GOOD, 415),
    "form content type": ({"Content-Type": "application/x-www-form-urlencoded"}, GOOD, 415),
    "yaml content type": ({"Content-Type": "application/yaml"}, GOOD, 415),
    "undecodable JSON": (JSON, b'{"apiVersion": ', 400),
    "not UTF-8": (JSON, b'{"a": "\xff\xfe"}', 400),
    "a JSON array": (JSON, b"[]", 400),
    "no request": (JSON, without("request"), 400),
    "no uid": (JSON, without("uid"), 400),
    "another apiVersion": (
        JSON,
        GOOD.replace(b"admission.k8s.io/v1", b"admission.k8s.io/v1beta1"),
        400,
    ),
    "over the size limit": (JSON, b" " * (THREE_MIB + 1), 413),
}


class TestBadRequests:
    @pytest.mark.parametrize("path", ["/validate", "/mutate"])
    @pytest.mark.parametrize("case", list(BAD_REQUESTS))
    def test_each_bad_request_gets_its_own_4xx_with_a_json_reason(
        self, istio_server: WebhookServer, path: str, case: str
    ) -> None:
        headers, body, status = BAD_REQUESTS[case]
        r = istio_server.post(path, data=body, headers=headers, timeout=30)
        assert r.status_code == status
        assert r.headers["Content-Type"] == "application/json"
        answer = r.json()
        assert answer["code"] == status and answer["reason"]

    def test_a_chunked_body_over_the_limit_is_cut_off(self, istio_server: WebhookServer) -> None:
        def chunks() -> Iterator[bytes]:
            for _ in range(4):
                yield b" " * (1024 * 1024)

        r = istio_server.post("/validate", data=chunks(), headers=JSON, timeout=30)
        assert r.status_code == 413
        assert r.json()["code"] == 413

    def test_a_body_just_under_the_limit_is_read(self, istio_server: WebhookServer) -> None:
        doc = review(workload("Pod"))
        doc["request"]["object"]["metadata"]["annotations"]["padding"] = ""
        size = len(json.dumps(doc).encode())
        doc["request"]["object"]["metadata"]["annotations"]["padding"] = "x" * (
            THREE_MIB - size - 1024
        )
        r = istio_server.post("/validate", json=doc, timeout=30)
        assert r.status_code == 200 and r.json()["response"]["allowed"] is True

    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [
            ("GET", "/validate", 405),
            ("PUT", "/mutate", 405),
            ("POST", "/nothing-here", 404),
        ],
    )
    def test_wrong_method_or_path_answers_json_too(
        self, istio_server: WebhookServer, method: str, path: str, status: int
    ) -> None:
        r = requests.request(
            method, istio_server.url + path, verify=str(istio_server.certs.ca), timeout=30
        )
        assert r.status_code == status
        assert r.json()["code"] == status

    def test_the_server_keeps_answering_after_bad_requests(
        self, istio_server: WebhookServer
    ) -> None:
        assert istio_server.post("/validate", data=GOOD, headers=JSON).json()["response"]["allowed"]


# -- the app with a stand-in engine --------------------------------------------------------------


def violation(policy: str, mode: str, n: int = 0) -> Violation:
    return Violation(
        policy=policy,
        kind="Pod",
        namespace="mesh-demo",
        name=f"web-{n}",
        path="spec.hostNetwork",
        problem="the pod shares the node's network: true",
        fix="remove hostNetwork",
        mode=mode,
    )  # type: ignore[arg-type]


class StandIn:
    def __init__(self, answer: list[Violation] | Exception):
        self.answer = answer
        self.seen: list[Any] = []

    def evaluate(self, review: Any) -> list[Violation]:
        self.seen.append(review)
        if isinstance(self.answer, Exception):
            raise self.answer
        return list(self.answer)


def client(engine: StandIn | None, **state: Any) -> FlaskClient:
    return create_app(State(engine=engine, **state)).test_client()


def validate(c: FlaskClient) -> dict[str, Any]:
    r = c.post("/validate", data=GOOD, content_type="application/json")
    assert r.status_code == 200
    return r.get_json()["response"]  # type: ignore[no-any-return]


class TestDecisions:
    def test_the_engine_gets_the_review_the_guards_decoded(self) -> None:
        # The dict, not the body: the engine projects it and encodes only that.
        engine = StandIn([])
        validate(client(engine))
        assert engine.seen == [json.loads(GOOD)]

    def test_warn_mode_goes_to_warnings_and_audit_mode_to_audit_annotations(self) -> None:
        warned, audited = violation("mtls-strict", "warn"), violation("injection-required", "audit")
        response = validate(client(StandIn([warned, audited])))
        assert response["allowed"] is True
        assert response["warnings"] == [format_message(warned, hint=False)]
        assert response["auditAnnotations"] == {"audit-violations": format_message(audited)}
        assert "status" not in response

    def test_a_denial_lists_only_enforced_violations_and_still_warns(self) -> None:
        denied, warned = (
            violation("injection-required", "enforce"),
            violation("mtls-strict", "warn"),
        )
        response = validate(client(StandIn([warned, denied])))
        assert response["allowed"] is False
        assert response["status"] == {
            "code": 403,
            "reason": "Forbidden",
            "message": format_message(denied),
        }
        assert response["warnings"] == [format_message(warned, hint=False)]

    def test_many_warnings_stay_within_the_api_servers_limits(self) -> None:
        many = [violation("mtls-strict", "warn", n) for n in range(100)]
        warnings = validate(client(StandIn(many)))["warnings"]
        assert sum(len(w.encode()) for w in warnings) <= 4096
        assert all(len(w.encode()) <= 256 for w in warnings)
        assert warnings[-1].startswith("…and ")

    def test_an_engine_failure_denies_by_default_with_the_reason(self) -> None:
        response = validate(
            client(StandIn(EngineError("OPA at http://opa:8181 gave no decision: timed out")))
        )
        assert response["allowed"] is False
        assert response["status"]["code"] == 403
        assert response["status"]["message"] == (
            "[meshc:engine] policy engine unavailable: OPA at http://opa:8181 gave no decision: "
            "timed out; the request is denied because --failure-mode=closed"
        )

    def test_failure_mode_open_allows_with_a_warning(self) -> None:
        response = validate(client(StandIn(EngineError("timed out")), failure_mode="open"))
        assert response["allowed"] is True
        assert response["warnings"] == [
            (
                "[meshc:engine] policy engine unavailable: timed out; "
                "the request is allowed because --failure-mode=open"
            )
        ]

    def test_a_crashing_engine_is_an_engine_failure_not_a_500(self) -> None:
        response = validate(client(StandIn(RuntimeError("segfault averted"))))
        assert response["allowed"] is False
        assert "segfault averted" in response["status"]["message"]

    def test_not_ready_until_the_engine_is_loaded(self) -> None:
        c = client(None)
        assert c.get("/readyz").status_code == 503
        assert c.get("/healthz").status_code == 200
        response = validate(c)
        assert response["allowed"] is False
        assert "still loading" in response["status"]["message"]


# -- the admission fast path answers as Flask would ----------------------------------------------


def wsgi_call(wsgi: Any, path: str, body: bytes, content_type: str | None) -> tuple:  # type: ignore[type-arg]
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, method="POST", data=body, content_type=content_type)
    environ = builder.get_environ()
    if content_type is None:
        environ.pop("CONTENT_TYPE", None)
    started: list[Any] = []
    chunks = wsgi(environ, lambda status, headers, exc_info=None: started.extend([status, headers]))
    try:
        body_out = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return started[0], list(started[1]), body_out


@pytest.mark.parametrize("path", ["/validate", "/mutate"])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (GOOD, "application/json"),
        (GOOD, "Application/JSON; charset=utf-8"),
        (GOOD, None),
        (GOOD, "text/plain"),
        (b"", "application/json"),
        (b"{", "application/json"),
        (b'{"a": 1, "a": 2}', "application/json"),
        (b" " * (THREE_MIB + 1), "application/json"),
    ],
)
def test_the_fast_path_sends_what_flask_would(
    path: str, body: bytes, content_type: str | None
) -> None:
    from flask import Flask

    app = create_app(State(engine=StandIn([violation("mtls-strict", "warn")])))
    fast = wsgi_call(app.wsgi_app, path, body, content_type)
    # Flask's own dispatch, through the views registered on the same paths.
    slow = wsgi_call(lambda e, s: Flask.wsgi_app(app, e, s), path, body, content_type)
    assert fast == slow


def test_an_unexpected_error_on_the_fast_path_is_flasks_json_500(monkeypatch: Any) -> None:
    import meshc.webhook.app as app_module

    def broken(body: bytes) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "parse_review", broken)
    r = client(StandIn([])).post("/validate", data=GOOD, content_type="application/json")
    assert r.status_code == 500
    assert r.json["code"] == 500  # type: ignore[index]
