"""The Flask app: ``/validate``, ``/mutate``, health and metrics.

Each admission handler reads top to bottom: guards (a bad *request* gets a
4xx with a JSON reason), then the decision (a bad *object* gets a denial),
then the one response builder. Nothing is loaded per request: the engine,
markers and metrics live in the :class:`State` built at start-up.

Admissions are nearly every request the webhook serves, and on them Flask's
own machinery (request and app contexts, URL adapter, response object,
iterator) costs more than everything the webhook does besides the policy
engine. So a ``POST`` to an admission path is answered straight from the
WSGI environ, with the same code, headers and body Flask would send; every
other request, including a wrong method on those paths, goes through Flask.

A spec reload swaps the worker's state whole (:class:`LiveState`): each
request takes the current state once, when it starts, and answers with it
to the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header
from werkzeug.wsgi import get_content_length

from meshc.webhook.decision import ALLOWED, Verdict, engine_failure
from meshc.webhook.mutate import namespace_patch, pod_patch
from meshc.webhook.response import Patch, bad_request, encode, review_body
from meshc.webhook.review import AdmissionReview, BadRequest, judged_object, parse_review
from meshc.webhook.state import LiveState, State

log = logging.getLogger("meshc.webhook")
JSON = "application/json"
# Past this many times the limit, an oversized body is not read to the end:
# the connection is closed on the sender instead.
DRAIN_LIMIT = 2

# A handler gets the review decoded once, by parse_review; the engine takes
# that dict (never the body) and encodes only the projection it evaluates.
# And the state the request began with.
Handler = Callable[[AdmissionReview, State], tuple[Verdict, Patch | None]]
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def create_app(state: State | LiveState) -> Flask:
    """The app answering with ``state``; with a LiveState, with whatever it holds when a request starts."""
    # An explicit instance path: Flask cannot find one for a package
    # installed in editable mode, and the webhook reads no instance files.
    app = Flask(__name__, instance_path=str(Path(__file__).parent))
    live = state if isinstance(state, LiveState) else LiveState(state)
    metrics = live.current.metrics  # the worker's, kept across reloads

    def read_review(environ: Environ, max_body: int) -> AdmissionReview:
        content_type = environ.get("CONTENT_TYPE")
        # As werkzeug's request.mimetype, without parsing the usual exact value.
        if content_type != JSON and parse_options_header(content_type or "")[0].lower() != JSON:
            shown = content_type or "none"
            raise BadRequest(415, f"expected Content-Type {JSON!r}, got {shown!r}")
        length = get_content_length(environ)
        stream = environ["wsgi.input"]
        if length is not None and length > max_body:
            _discard(stream, min(length, DRAIN_LIMIT * max_body))
            raise BadRequest(413, f"the body is {length} bytes, over the {max_body}-byte limit")
        # Chunked bodies have no length up front: read one byte past the limit to tell.
        body = _read(stream, max_body + 1 if length is None else length)
        if len(body) > max_body:
            _discard(stream, DRAIN_LIMIT * max_body)
            raise BadRequest(413, f"the body is over the {max_body}-byte limit")
        return parse_review(body)

    def admit(endpoint: str, handler: Handler, environ: Environ) -> tuple[int, bytes]:
        started = time.perf_counter()
        state = live.current  # this request's, to the end, whatever a reload swaps meanwhile
        try:
            review = read_review(environ, state.max_body)
        except BadRequest as exc:
            metrics.answered(endpoint, str(exc.status))
            return exc.status, encode(bad_request(exc.status, exc.reason))
        patch: Patch | None = None
        if state.engine is None:
            verdict = engine_failure("the policies are still loading", state.failure_mode)
        else:
            try:
                verdict, patch = handler(review, state)
            except Exception as exc:
                log.exception("%s failed", endpoint)
                verdict = engine_failure(f"internal error: {exc!r}", state.failure_mode)
        answer = review_body(review["request"]["uid"], verdict, patch)
        metrics.observe(endpoint, verdict)
        metrics.answered(endpoint, "200", time.perf_counter() - started)
        return 200, answer

    def validate(review: AdmissionReview, state: State) -> tuple[Verdict, Patch | None]:
        assert state.engine is not None
        if not judged_object(review["request"]):
            return ALLOWED, None  # CONNECT, or a DELETE sent without oldObject: nothing to judge
        # Within --decision-timeout whatever the engine does (webhook/deadline.py).
        return state.judge(review), None

    def mutate(review: AdmissionReview, state: State) -> tuple[Verdict, Patch | None]:
        # Mutation only adds markers; judging belongs to /validate, which the
        # API server calls after every mutating webhook has run.
        request = review["request"]
        patch = namespace_patch(request, state.mutation)
        return ALLOWED, patch or pod_patch(request, state.pod_markers)

    admissions: dict[str, tuple[str, Handler]] = {
        "/validate": ("validate", validate),
        "/mutate": ("mutate", mutate),
    }
    for path, (endpoint, handler) in admissions.items():
        # Flask keeps the routes: it answers the other methods on these paths
        # (405, OPTIONS), and a POST too when dispatched past wsgi_app below.
        app.add_url_rule(
            path,
            endpoint,
            lambda e=endpoint, h=handler: _json_response(*admit(e, h, request.environ)),
            methods=["POST"],
        )

    flask_wsgi = app.wsgi_app

    def wsgi_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            route = admissions.get(environ.get("PATH_INFO", ""))
            if route is not None:
                try:
                    status, body = admit(*route, environ)
                except Exception as exc:  # noqa: BLE001 - Flask's 500, as on any other path
                    with app.request_context(environ):
                        return app.handle_exception(exc)(environ, start_response)
                start_response(
                    _STATUS_LINES[status],
                    [("Content-Type", JSON), ("Content-Length", str(len(body)))],
                )
                # A list: granian sends it in one piece instead of iterating.
                return [body]
        return flask_wsgi(environ, start_response)

    app.wsgi_app = wsgi_app  # type: ignore[method-assign]

    @app.get("/healthz")
    def healthz() -> Response:
        return _json({"status": "ok"}, 200)

    @app.get("/readyz")
    def readyz() -> Response:
        state = live.current
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


# The status lines werkzeug writes for the codes an admission answers with.
_STATUS_LINES = {code: f"{code} {HTTP_STATUS_CODES[code].upper()}" for code in (200, 400, 413, 415)}


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
    return _json_response(status, encode(doc))


def _json_response(status: int, body: bytes) -> Response:
    return Response(body, status, mimetype=JSON)
