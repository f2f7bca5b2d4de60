"""The shape guard: what makes a request unreviewable, and what it lets through."""

from __future__ import annotations

import json

import pytest
from meshc.webhook.review import BadRequest, judged_object, parse_review
from support.api_server import review, workload


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_a_review_as_the_api_server_sends_it_passes() -> None:
    doc = review(workload("Deployment"))
    assert parse_review(body(doc)) == doc


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
