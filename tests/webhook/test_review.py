"""The shape guard: what makes a request unreviewable, and what it lets through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshc.policies.json_text import JSONDocument
from meshc.webhook.review import BadRequest, _nests_deeper_than, judged_object, parse_review
from support.api_server import review, workload


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_a_review_as_the_api_server_sends_it_passes() -> None:
    doc = review(workload("Deployment"))
    decoded = parse_review(body(doc))
    assert decoded == doc
    # Decoded from JSON: its input may be written by orjson (policies/json_text.py).
    assert type(decoded) is JSONDocument


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "no body"),
        (b"{", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b'"AdmissionReview"', "got JSON str"),
        (
            body(
                {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}
            ),
            "expected apiVersion",
        ),
        (body({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}), "no 'request'"),
        (
            body({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": []}),
            "no 'request'",
        ),
        (
            body(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {"uid": ""},
                }
            ),
            "no 'uid'",
        ),
        (
            body(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {"uid": "u", "operation": "PATCH"},
                }
            ),
            "request.operation",
        ),
        (
            body(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {"uid": "u", "operation": "CREATE", "object": "Pod"},
                }
            ),
            "request.object",
        ),
    ],
)
def test_each_unreviewable_request_is_a_400_naming_the_problem(raw: bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_review(raw)
    assert caught.value.status == 400
    assert reason in caught.value.reason


def test_delete_is_about_the_old_object_and_everything_else_the_new() -> None:
    delete = review(workload("Pod"), "DELETE")["request"]
    assert judged_object(delete) is delete["oldObject"]
    update = review(workload("Pod"), "UPDATE", old=workload("Pod", name="old"))["request"]
    assert judged_object(update) is update["object"]
    assert judged_object({**update, "object": None}) == {}


def test_the_strictness_checks_each_refuse_their_input() -> None:
    good = body(review(workload("Pod")))
    for raw, reason in (
        (good.replace(b'{"apiVersion"', b'{"kind": "x", "apiVersion"', 1), "duplicate key 'kind'"),
        (good.replace(b'"kind": "AdmissionReview"', b'"kind": NaN', 1), "NaN is not a JSON"),
        (good.replace(b'"kind": "AdmissionReview"', b'"kind": -1e400', 1), "past the range"),
        (b"\xef\xbb\xbf" + good, "Unexpected UTF-8 BOM"),
        (good.decode().encode("utf-16"), "which is UTF-8"),
        (b"[" * 257 + b"]" * 257, "nests deeper than 256"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper than 256"),
    ):
        with pytest.raises(BadRequest) as caught:
            parse_review(raw)
        assert caught.value.status == 400
        assert reason in caught.value.reason
    # 256 levels is the limit, not past it: the shape check is what refuses this one.
    with pytest.raises(BadRequest, match="got JSON list"):
        parse_review(b"[" * 256 + b"]" * 256)


def depth(doc: object) -> int:
    if isinstance(doc, dict):
        return 1 + max(map(depth, doc.values()), default=0)
    if isinstance(doc, list):
        return 1 + max(map(depth, doc), default=0)
    return 0


# Strings full of what the nesting check must see through: brackets, quotes, escapes.
tricky_text = st.text(st.sampled_from('[]{}"\\/:,é\u2028\x00 ab'), max_size=12)
json_docs = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4)
    ),
    max_leaves=40,
)


@given(json_docs, st.integers(0, 12), st.booleans())
def test_the_nesting_check_reads_the_depth_of_the_decoded_document(
    doc: object, limit: int, ascii_only: bool
) -> None:
    raw = json.dumps(doc, ensure_ascii=ascii_only).encode()
    assert _nests_deeper_than(raw, limit) == (depth(doc) > limit)


@pytest.mark.parametrize(
    "shape",
    [
        lambda d: b"[" * d + b"]" * d,
        lambda d: b'{"a":' * d + b'"[{"' + b"}" * d,
        lambda d: b"[" + b",".join([b"[" * d + b"]" * d] * 3) + b"]",
    ],
)
def test_the_nesting_limit_is_exact_at_every_depth_around_it(shape: Any) -> None:
    for d in range(1, 300):
        assert _nests_deeper_than(shape(d), 256) == (depth(json.loads(shape(d))) > 256)
