"""AdmissionReview ``admission.k8s.io/v1`` as the kube-apiserver sends and reads it.

The names are Kubernetes' own (camelCase) so a field can be looked up in the
API reference as written. ``parse_review`` is the guard between "the request
is bad" (:class:`BadRequest`, answered with a 4xx) and "the object is bad"
(a denial inside a well-formed response).
"""

from __future__ import annotations

import json
import math
from itertools import accumulate
from typing import Any, Literal, NotRequired, TypedDict, cast

from meshc.policies import json_text
from meshc.policies.admission import OFFLINE
from meshc.policies.json_text import JSONDocument

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
OPERATIONS: frozenset[str] = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
# Kubernetes objects nest a few dozen levels; rego-cpp parses input
# recursively and crashes the worker a few thousand levels down.
MAX_DEPTH = 256


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
    review = decode(body)
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
    operation = request.get("operation")
    # isinstance first: an unhashable value (a list) would make `in` raise.
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise BadRequest(
            400,
            f"request.operation must be one of {sorted(OPERATIONS)}, got {request.get('operation')!r}",
        )
    for field in ("object", "oldObject"):
        if request.get(field) is not None and not isinstance(request[field], dict):
            raise BadRequest(400, f"request.{field} must be an object or null")
    # The policies tell kinds apart by request.kind alone: without it no rule
    # would match and the object would pass unjudged.
    kind = request.get("kind")
    if not isinstance(kind, dict) or not all(
        isinstance(kind.get(part), str) for part in ("group", "version", "kind")
    ):
        raise BadRequest(400, "request.kind must be an object with string group, version and kind")
    # Only `meshc check` may judge a Pod as not yet injected (policies/admission.py).
    request.pop(OFFLINE, None)
    return cast(AdmissionReview, review)


def decode(body: bytes) -> Any:
    """The body as JSON the way every engine will read it, or :class:`BadRequest`.

    Stricter than ``json.loads``, because whatever it lets through must mean
    one thing to every engine: UTF-8 only (RFC 8259; ``json.loads`` would
    also guess UTF-16/32), no duplicate keys (Python keeps the last, Go and
    rego-cpp the first: an object judged as one value and stored as another),
    no NaN or Infinity, no number past a double's range (Python reads 1e400
    as infinity, which no engine's input can carry), and nesting no deeper
    than :data:`MAX_DEPTH`, where rego-cpp's recursive parser would exhaust
    the C stack and kill the worker. The API server's own encoder never
    produces any of these.

    An object comes back as a :class:`JSONDocument`, which the engines may
    write back to text with orjson.
    """
    doc = json_text.loads(body, _strict)
    if _nests_deeper_than(body, MAX_DEPTH):
        raise BadRequest(400, f"the body nests deeper than {MAX_DEPTH} levels")
    return JSONDocument(doc) if isinstance(doc, dict) else doc


def _strict(body: bytes) -> Any:
    """The standard library's reading of ``body`` under :func:`decode`'s rules, or :class:`BadRequest`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"the body is not valid JSON, which is UTF-8: {exc}") from None
    try:
        if text.startswith("\ufeff"):
            # What json.loads says; the shared decoder below skips that check.
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except RecursionError:
        raise BadRequest(400, f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text} is past the range of a double")
    return number


# Built once: json.loads with hooks builds a decoder (and its C scanner) per call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite
)

# For bytes.translate: arrays and objects alike become "(" ... ")", string
# delimiters stay, everything else goes.
_PARENS = bytes.maketrans(b"[{]}", b"(())")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_NESTING = [0] * 256
_NESTING[ord("(")], _NESTING[ord(")")] = 1, -1
# Innermost levels dropped with one C pass each before counting the rest one by one.
_PEELED = 8


def _nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the arrays and objects of ``body``, JSON that decoded, nest past ``limit``.

    Read from the text, not the decoded tree: a walk of the tree costs a
    Python step per value (as much as the decoding itself, or more, for a pod with
    managed fields), this is a few C passes over the bytes. Never recursive,
    so the check cannot be made to fail by what it guards against.

    Exact for valid JSON, which is all it is given: outside strings there is
    no quote or backslash, so once the escapes are gone (``\\\\`` pairs first,
    then ``\\"``; what is left of each backslash starts an escape of some other
    character) every quote is a string delimiter, and the brackets outside
    string delimiters are exactly the arrays and objects. In UTF-8 these
    ASCII bytes never occur inside a multi-byte character.
    """
    marks = body.translate(_PARENS, _NOT_STRUCTURE)
    if marks.count(b"(") <= limit:
        # Fewer brackets than levels, even counting those inside strings: a
        # typical review ends here.
        return False
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
        marks = body.translate(_PARENS, _NOT_STRUCTURE)
    # Two adjacent delimiters enclose no bracket, whether a string (opening,
    # closing) or what lies between two (closing, opening): dropping both
    # keeps the rest paired and moves no bracket in or out of a string.
    marks = marks.replace(b'""', b"")
    if b'"' in marks:  # brackets inside strings: keep every other stretch
        marks = b"".join(marks.split(b'"')[::2])
    # Each pass drops every innermost array and object: what is left nests
    # exactly one level less.
    for _ in range(min(_PEELED, limit)):
        marks = marks.replace(b"()", b"")
    limit -= min(_PEELED, limit)
    if marks.count(b"(") <= limit:
        return False
    return max(accumulate(map(_NESTING.__getitem__, marks))) > limit


def judged_object(request: AdmissionRequest) -> dict[str, Any]:
    """The object a decision is about: the old one for DELETE (``object`` is null then)."""
    if request["operation"] == "DELETE":
        return request.get("oldObject") or {}
    return request.get("object") or {}
