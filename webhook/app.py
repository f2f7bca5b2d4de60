"""The Flask app: ``/validate``, ``/mutate``, health and metrics.

Each admission handler reads top to bottom: guards (a bad *request* gets a
4xx with a JSON reason), then the decision (a bad *object* gets a denial),
then the one response builder. Nothing is loaded per request: the engine,
markers and metrics live in the :class:`State` built at start-up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from meshc.webhook.decision import ALLOWED, Verdict, engine_failure
from meshc.webhook.mutate import namespace_patch
from meshc.webhook.response import Patch, admission_review, bad_request, encode
from meshc.webhook.review import AdmissionReview, BadRequest, judged_object, parse_review
from meshc.webhook.state import State
from werkzeug.exceptions import HTTPException

log = logging.getLogger("meshc.webhook")
JSON = "application/json"
# Past this many times the limit, an oversized body is not read to the end:
# the connection is closed on the sender instead.
DRAIN_LIMIT = 2

# A handler gets the review decoded once, by parse_review; the engine takes
# that dict (never the body) and encodes only the projection it evaluates.
Handler = Callable[[AdmissionReview], tuple[Verdict, Patch | None]]


def create_app(state: State) -> Flask:
    # An explicit instance path: Flask cannot find one for a package
    # installed in editable mode, and the webhook reads no instance files.
    app = Flask(__name__, instance_path=str(Path(__file__).parent))
    metrics = state.metrics

    def read_review() -> AdmissionReview:
        if request.mimetype != JSON:
            shown = request.content_type or "none"
            raise BadRequest(415, f"expected Content-Type {JSON!r}, got {shown!r}")
        length = request.content_length
        stream = request.environ["wsgi.input"]
        if length is not None and length > state.max_body:
            _discard(stream, min(length, DRAIN_LIMIT * state.max_body))
            raise BadRequest(
                413, f"the body is {length} bytes, over the {state.max_body}-byte limit"
            )
        # Chunked bodies have no length up front: read one byte past the limit to tell.
        body = _read(stream, state.max_body + 1 if length is None else length)
        if len(body) > state.max_body:
            _discard(stream, DRAIN_LIMIT * state.max_body)
            raise BadRequest(413, f"the body is over the {state.max_body}-byte limit")
        return parse_review(body)

    def admit(endpoint: str, handler: Handler) -> Response:
        started = time.perf_counter()
        try:
            review = read_review()
        except BadRequest as exc:
            metrics.requests.labels(endpoint, str(exc.status)).inc()
            return _json(bad_request(exc.status, exc.reason), exc.status)
        patch: Patch | None = None
        if state.engine is None:
            verdict = engine_failure("the policies are still loading", state.failure_mode)
        else:
            try:
                verdict, patch = handler(review)
            except Exception as exc:
                log.exception("%s failed", endpoint)
                verdict = engine_failure(f"internal error: {exc!r}", state.failure_mode)
        answer = admission_review(review["request"]["uid"], verdict, patch)
        metrics.observe(endpoint, verdict)
        metrics.requests.labels(endpoint, "200").inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return _json(answer, 200)

    def validate(review: AdmissionReview) -> tuple[Verdict, Patch | None]:
        assert state.engine is not None
        if not judged_object(review["request"]):
            return ALLOWED, None  # CONNECT, or a DELETE sent without oldObject: nothing to judge
        # Within --decision-timeout whatever the engine does (webhook/deadline.py).
        return state.judge(review), None

    def mutate(review: AdmissionReview) -> tuple[Verdict, Patch | None]:
        # Mutation only adds markers; judging belongs to /validate, which the
        # API server calls after every mutating webhook has run.
        return ALLOWED, namespace_patch(review["request"], state.meshed, state.markers)

    app.add_url_rule("/validate", "validate", lambda: admit("validate", validate), methods=["POST"])
    app.add_url_rule("/mutate", "mutate", lambda: admit("mutate", mutate), methods=["POST"])

    @app.get("/healthz")
    def healthz() -> Response:
        return _json({"status": "ok"}, 200)

    @app.get("/readyz")
    def readyz() -> Response:
        if state.ready:
            # Still ready on a spec reload that failed (the last good spec is
            # served), but saying so.
            return _json({"status": "ready", **state.config_status()}, 200)
        return _json({"status": "loading"}, 503)

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(metrics.exposition(), 200, mimetype="text/plain; version=0.0.4")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        # 404/405 and friends in the same JSON shape as the guards' answers.
        code = exc.code or 400
        return _json(bad_request(code, exc.description or exc.name), code)

    return app


def _read(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes: a WSGI stream may return less than asked before its end."""
    parts: list[bytes] = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            break
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def _discard(stream: Any, size: int) -> None:
    """Read and drop an oversized body, so the client sees the 413 instead of a reset.

    Answering before the client has sent everything makes the server close
    mid-upload; reading (never keeping) a bounded amount avoids that.
    """
    while size > 0:
        chunk = stream.read(min(size, 64 * 1024))
        if not chunk:
            return
        size -= len(chunk)


def _json(doc: Any, status: int) -> Response:
    return Response(encode(doc), status, mimetype=JSON)
