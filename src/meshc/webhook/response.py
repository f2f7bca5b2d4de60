"""The one place AdmissionReview responses (and bad-request answers) are built.

Pure functions: a verdict (and maybe a patch) in, the JSON the API server
reads out, so every endpoint answers in the same shape.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from meshc.policies import json_text
from meshc.policies.violations import format_message
from meshc.webhook.decision import ALLOWED, Verdict
from meshc.webhook.review import API_VERSION, KIND, AdmissionResponse, AdmissionReview

DENIED_CODE = 403
# Stored by the API server in its audit log as "<webhook name>/audit-violations".
AUDIT_ANNOTATION = "audit-violations"

Patch = list[dict[str, Any]]


def admission_review(uid: str, verdict: Verdict, patch: Patch | None = None) -> AdmissionReview:
    response: AdmissionResponse = {"uid": uid, "allowed": verdict.allowed}
    if not verdict.allowed:
        response["status"] = {
            "code": DENIED_CODE,
            "reason": "Forbidden",
            "message": verdict.message,
        }
    warnings = verdict.warnings
    if warnings:
        response["warnings"] = warnings
    if verdict.decision.audits:
        response["auditAnnotations"] = {
            AUDIT_ANNOTATION: "\n".join(format_message(v) for v in verdict.decision.audits)
        }
    if patch:
        response["patch"] = base64.b64encode(encode(patch)).decode("ascii")
        response["patchType"] = "JSONPatch"
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}


def review_body(uid: str, verdict: Verdict, patch: Patch | None = None) -> bytes:
    """:func:`admission_review` encoded: the body of every admission answer."""
    if patch or not _plain_allow(verdict):
        return encode(admission_review(uid, verdict, patch))
    # Nearly every answer is a bare allow, the same bytes but for the uid.
    return _ALLOW_HEAD + encode(uid) + _ALLOW_TAIL


def _plain_allow(verdict: Verdict) -> bool:
    found = verdict.decision
    return not (
        verdict.engine_error or verdict.notices or found.denials or found.warnings or found.audits
    )


def bad_request(status: int, reason: str) -> dict[str, Any]:
    """The JSON body of a 4xx: the request, not the object, is at fault."""
    return {"code": status, "reason": reason}


def encode(doc: Any) -> bytes:
    # Finite: an answer's own values are strings, booleans and integers, and
    # a patch's come from the review, whose decoder refuses NaN and infinities.
    return json_text.dumps(doc, _stdlib_encode, finite=True)


def _stdlib_encode(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _allow_template() -> tuple[bytes, bytes]:
    # Cut from what admission_review encodes, so the two cannot drift apart.
    marker = "\x00uid\x00"
    head, _, tail = encode(admission_review(marker, ALLOWED)).partition(encode(marker))
    return head, tail


_ALLOW_HEAD, _ALLOW_TAIL = _allow_template()
