"""The ceiling: the same server answering every AdmissionReview "allowed".

It decodes the request and echoes the uid like the real webhook but judges
nothing, so the difference between the two runs is meshc's own work.
"""

from __future__ import annotations

import json

from flask import Flask, Response, request


def create() -> Flask:
    app = Flask("constant-allow")

    @app.post("/validate")
    def validate() -> Response:
        review = json.loads(request.get_data())
        body = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], "allowed": True},
        }
        return Response(json.dumps(body, separators=(",", ":")), 200, mimetype="application/json")

    @app.get("/readyz")
    def readyz() -> Response:
        return Response('{"status":"ready"}', 200, mimetype="application/json")

    return app
