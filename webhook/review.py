"""AdmissionReview ``admission.k8s.io/v1`` as the kube-apiserver sends and reads it.

The names are Kubernetes' own (camelCase) so a field can be looked up in the
API reference as written. ``parse_review`` is the guard between "the request
is bad" (:class:`BadRequest`, answered with a 4xx) and "the object is bad"
(a denial inside a well-formed response).
"""

from __future__ import annotations

import json
from typing import Any, Literal, NotRequired, TypedDict, cast

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
OPERATIONS: frozenset[str] = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})


class GroupVersionKind(TypedDict):
    group: str
    version: str
    kind: str


class GroupVersionResource(TypedDict):
    group: str
    version: str
    resource: str


class UserInfo(TypedDict, total=False):
    username: str
    uid: str
    groups: list[str]
    extra: dict[str, list[str]]


class AdmissionRequest(TypedDict):
    uid: str
    kind: GroupVersionKind
    resource: GroupVersionResource
    operation: Operation
    userInfo: UserInfo
    subResource: NotRequired[str]
    requestKind: NotRequired[GroupVersionKind]
    requestResource: NotRequired[GroupVersionResource]
    requestSubResource: NotRequired[str]
    name: NotRequired[str]
    namespace: NotRequired[str]
    object: NotRequired[dict[str, Any] | None]
    oldObject: NotRequired[dict[str, Any] | None]
    dryRun: NotRequired[bool]
    options: NotRequired[dict[str, Any] | None]


class Status(TypedDict, total=False):
    code: int
    message: str
    reason: str


class AdmissionResponse(TypedDict):
    uid: str
    allowed: bool
    status: NotRequired[Status]
    patch: NotRequired[str]
    patchType: NotRequired[Literal["JSONPatch"]]
    warnings: NotRequired[list[str]]
    auditAnnotations: NotRequired[dict[str, str]]


class AdmissionReview(TypedDict):
    apiVersion: str
    kind: str
    request: NotRequired[AdmissionRequest]
    response: NotRequired[AdmissionResponse]


class BadRequest(Exception):
    """The request cannot be reviewed at all; ``status`` is the HTTP code to answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_review(body: bytes) -> AdmissionReview:
    """Decode and shape-check a request body; the only checks the handlers rely on."""
    if not body:
        raise BadRequest(400, "the request has no body: expected an AdmissionReview")
    try:
        review = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(review, dict):
        raise BadRequest(
            400, f"expected an AdmissionReview object, got JSON {type(review).__name__}"
        )
    if review.get("apiVersion") != API_VERSION or review.get("kind") != KIND:
        got = f"{review.get('apiVersion')!r}/{review.get('kind')!r}"
        raise BadRequest(400, f"expected apiVersion {API_VERSION!r} kind {KIND!r}, got {got}")
    request = review.get("request")
    if not isinstance(request, dict):
        raise BadRequest(400, "the AdmissionReview has no 'request' object")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadRequest(400, "the AdmissionReview request has no 'uid'")
    if request.get("operation") not in OPERATIONS:
        raise BadRequest(
            400,
            f"request.operation must be one of {sorted(OPERATIONS)}, got {request.get('operation')!r}",
        )
    for field in ("object", "oldObject"):
        if request.get(field) is not None and not isinstance(request[field], dict):
            raise BadRequest(400, f"request.{field} must be an object or null")
    return cast(AdmissionReview, review)


def judged_object(request: AdmissionRequest) -> dict[str, Any]:
    """The object a decision is about: the old one for DELETE (``object`` is null then)."""
    if request["operation"] == "DELETE":
        return request.get("oldObject") or {}
    return request.get("object") or {}
