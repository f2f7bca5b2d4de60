"""Bad input against the real HTTPS server: never a 5xx, a crash, a hang, or a bypass let through.

Hypothesis generates the requests; every example is one POST to the
server started by the session fixture. What may come back is a 4xx for a
request that cannot be reviewed, or a 200 AdmissionReview answer; for an
object a policy denies, that answer is a denial however the request is
dressed up.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from corpus import BYPASSES, LOOKALIKES, SPECS, Case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.webhook_server import WebhookServer

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
JSON_HEADERS = {"Content-Type": "application/json"}

# Any unicode the JSON encoder can carry, lone surrogates and controls included.
odd_text = st.text(st.characters(codec=None), max_size=40)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | odd_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(odd_text, children, max_size=5)
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def post(
    server: WebhookServer, session: requests.Session, body: bytes, path: str = "/validate"
) -> requests.Response:
    return session.post(
        server.url + path, data=body, headers=JSON_HEADERS, timeout=30, verify=str(server.certs.ca)
    )


def answered(r: requests.Response, uid: object = None) -> dict[str, Any] | None:
    """The AdmissionResponse of a 200, None for a 4xx; anything else fails the test."""
    assert r.status_code in (200, 400, 413), (r.status_code, r.text[:500])
    if r.status_code != 200:
        assert set(r.json()) == {"code", "reason"}
        return None
    response: dict[str, Any] = r.json()["response"]
    if uid is not None:
        assert response["uid"] == uid
    return response


def nodes(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from nodes(v, (*path, i))


def replace_at(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


cases = st.sampled_from(BYPASSES + LOOKALIKES)
bypasses = st.sampled_from(BYPASSES)


@FUZZ
@given(body=json_values)
def test_any_json_is_answered_with_a_4xx_or_a_review(servers, session, body: Any) -> None:  # type: ignore[no-untyped-def]
    for path in ("/validate", "/mutate"):
        answered(post(servers["istio"], session, json.dumps(body).encode(), path))


@FUZZ
@given(raw=st.binary(max_size=200) | odd_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_are_answered_with_a_4xx(servers, session, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    assert answered(post(servers["istio"], session, raw)) is None or raw.strip().startswith(b"{")


@FUZZ
@given(case=cases, data=st.data())
def test_a_field_of_the_wrong_type_or_missing_is_never_a_5xx(
    servers, session, case: Case, data
) -> None:  # type: ignore[no-untyped-def]
    review = json.loads(json.dumps(case.review))
    paths = [p for p, _ in nodes(review) if p]
    path = data.draw(st.sampled_from(paths))
    if data.draw(st.booleans()):
        replace_at(review, path, data.draw(json_values))
    else:
        parent = review
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
    for endpoint in ("/validate", "/mutate"):
        answered(post(servers[case.provider], session, json.dumps(review).encode(), endpoint))


@FUZZ
@given(case=bypasses, data=st.data())
def test_noise_around_a_bypass_never_gets_it_admitted(servers, session, case: Case, data) -> None:  # type: ignore[no-untyped-def]
    """Unknown fields with odd names and values, anywhere in the object, in any key order."""
    review = json.loads(json.dumps(case.review))
    obj = review["request"]["object"] or review["request"]["oldObject"]
    maps = [node for _, node in nodes(obj) if isinstance(node, dict)]
    for _ in range(data.draw(st.integers(1, 6))):
        target = data.draw(st.sampled_from(maps))
        # The prefix keeps noise from spelling a field a policy reads.
        target["x-fuzz-" + data.draw(odd_text)] = data.draw(json_values)
    seed = data.draw(st.integers(0, 2**32))
    body = json.dumps(_shuffled(review, random.Random(seed))).encode()
    response = answered(post(servers[case.provider], session, body), review["request"]["uid"])
    assert response is not None and response["allowed"] is False


@FUZZ
@given(case=cases, data=st.data())
def test_a_duplicate_key_is_refused_whichever_value_comes_first(
    servers, session, case: Case, data
) -> None:  # type: ignore[no-untyped-def]
    review = json.loads(json.dumps(case.review))
    maps = [(p, n) for p, n in nodes(review) if isinstance(n, dict) and n]
    _, target = data.draw(st.sampled_from(maps))
    key = data.draw(st.sampled_from(sorted(target)))
    other = data.draw(json_values)
    marker = "\u0000dup\u0000"
    target[marker] = other
    text = json.dumps(review)
    # Rename the marker to the existing key: the object now holds `key` twice.
    text = text.replace(json.dumps(marker), json.dumps(key), 1)
    assert answered(post(servers[case.provider], session, text.encode())) is None


def _shuffled(doc: Any, rng: random.Random) -> Any:
    if isinstance(doc, dict):
        items = list(doc.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(doc, list):
        return [_shuffled(v, rng) for v in doc]
    return doc


# -- huge and deep bodies ----------------------------------------------------------------------


def _with_blob(case: Case, blob: Any) -> bytes:
    review = json.loads(json.dumps(case.review))
    (review["request"]["object"] or review["request"]["oldObject"])["metadata"]["x-blob"] = blob
    return json.dumps(review).encode()


HOSTNET = next(c for c in BYPASSES if c.name == "istio hostNetwork")


def test_nesting_deeper_than_the_parser_survives_is_a_400(servers, session) -> None:  # type: ignore[no-untyped-def]
    for depth in (300, 5_000, 200_000):
        body = _with_blob(HOSTNET, "X").replace(b'"X"', b"[" * depth + b"]" * depth)
        assert answered(post(servers["istio"], session, body)) is None
    assert session.get(servers["istio"].url + "/healthz", verify=str(servers["istio"].certs.ca)).ok


def test_a_body_over_the_limit_is_a_413(servers, session) -> None:  # type: ignore[no-untyped-def]
    body = _with_blob(HOSTNET, "x" * (3 * 1024 * 1024))
    r = post(servers["istio"], session, body)
    assert r.status_code == 413


@pytest.mark.parametrize("engine", ["wasm", "embedded"])
def test_a_wide_body_under_the_limit_is_a_denial_in_time(start_server, certs, engine: str) -> None:  # type: ignore[no-untyped-def]
    """A wide body is denied in time: decided, or failed closed by the deadline.

    The wasm engine's parser is linear: every wide body gets its decision.
    rego-cpp's JSON parser takes minutes on one long list or wide map
    (docs/reliability.md), so with the embedded engine the deadline answers
    first, and the worker still answers other reviews meanwhile.
    """
    server = start_server(
        SPECS / "istio.yaml", certs, "--decision-timeout", "1.5", "--engine", engine, workers=1
    )
    deadline = "no decision within 1.5s"
    with requests.Session() as s:
        for blob in (["x"] * 500_000, {f"k{i}": i for i in range(150_000)}, [0.5] * 400_000):
            body = _with_blob(HOSTNET, blob)
            assert len(body) < 3 * 1024 * 1024
            started = time.monotonic()
            response = answered(post(server, s, body))
            elapsed = time.monotonic() - started
            assert response is not None and response["allowed"] is False
            message = response["status"]["message"]
            if engine == "wasm":
                assert "spec.template.spec.hostNetwork" in message
            else:
                assert deadline in message
            # In time for the API server (the chart's timeoutSeconds: 5), which is
            # what this measures; the deadline itself is 1.5 s.
            assert elapsed < 5.0
        # The worker still answers while those evaluations run on.
        small = json.dumps(next(c for c in LOOKALIKES if c.provider == "istio").review).encode()
        assert answered(post(server, s, small))["allowed"] is True  # type: ignore[index]
