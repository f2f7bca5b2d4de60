"""The webhook as the API server meets it: HTTPS, AdmissionReview in, AdmissionReview out."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from typing import Any

import jsonpatch
import pytest

from support.api_server import (
    TEMPLATE_PATH,
    WORKLOAD_KINDS,
    linkerd_policy_server,
    namespace,
    peer_authentication,
    review,
    workload,
)
from support.webhook_server import WebhookServer

PRIVILEGED = {"securityContext": {"privileged": True}}


def admit(server: WebhookServer, path: str, doc: dict[str, Any]) -> dict[str, Any]:
    r = server.post(path, json=doc)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    assert answer["response"]["uid"] == doc["request"]["uid"]
    return answer["response"]  # type: ignore[no-any-return]


def template_prefix(kind: str) -> str:
    return "".join(f"{p}." for p in TEMPLATE_PATH[kind])


def patched(obj: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    assert response["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(response["patch"]))
    return jsonpatch.apply_patch(obj, ops)  # type: ignore[no-any-return]


class TestValidate:
    @pytest.mark.parametrize("kind", WORKLOAD_KINDS)
    def test_a_compliant_workload_of_every_kind_is_allowed(
        self, istio_server: WebhookServer, kind: str
    ) -> None:
        response = admit(istio_server, "/validate", review(workload(kind)))
        assert response["allowed"] is True
        assert "status" not in response and "warnings" not in response

    @pytest.mark.parametrize("kind", WORKLOAD_KINDS)
    def test_a_violation_in_the_pod_template_of_every_kind_is_denied_with_its_path(
        self, istio_server: WebhookServer, kind: str
    ) -> None:
        response = admit(istio_server, "/validate", review(workload(kind, **PRIVILEGED)))
        assert response["allowed"] is False
        assert response["status"]["code"] == 403
        path = f"{template_prefix(kind)}spec.containers[0].securityContext.privileged"
        assert response["status"]["message"].startswith(
            f'[meshc:injection-required] {kind} mesh-demo/web: {path}: container "web" is privileged'
        )

    def test_every_violation_is_listed_one_per_line(self, istio_server: WebhookServer) -> None:
        obj = workload(
            "Deployment",
            pod_annotations={"sidecar.istio.io/inject": "false"},
            securityContext={"privileged": True, "runAsUser": 1337},
        )
        message = admit(istio_server, "/validate", review(obj))["status"]["message"]
        lines = message.split("\n")
        assert len(lines) == 3
        assert all(
            line.startswith("[meshc:injection-required] Deployment mesh-demo/web: ")
            for line in lines
        )
        assert lines == sorted(lines)

    def test_update_is_judged_on_the_new_object(self, istio_server: WebhookServer) -> None:
        good, bad = workload("Deployment"), workload("Deployment", **PRIVILEGED)
        assert admit(istio_server, "/validate", review(bad, "UPDATE", old=good))["allowed"] is False
        assert admit(istio_server, "/validate", review(good, "UPDATE", old=bad))["allowed"] is True

    def test_delete_is_judged_on_the_old_object(self, istio_server: WebhookServer) -> None:
        managed = review(peer_authentication("STRICT", managed="quickstart"), "DELETE")
        assert managed["request"]["object"] is None
        response = admit(istio_server, "/validate", managed)
        assert response["allowed"] is False
        assert "deletes a security object the spec renders" in response["status"]["message"]
        # Removing a bad object is never blocked by the rule it breaks.
        assert admit(istio_server, "/validate", review(workload("Pod", **PRIVILEGED), "DELETE"))[
            "allowed"
        ]

    @pytest.mark.parametrize("operation", ["CREATE", "UPDATE", "DELETE"])
    def test_dry_run_gets_the_same_decision(
        self, istio_server: WebhookServer, operation: str
    ) -> None:
        obj = peer_authentication("PERMISSIVE", managed="quickstart")
        real = admit(istio_server, "/validate", review(obj, operation, uid="u1"))
        dry = admit(istio_server, "/validate", review(obj, operation, dry_run=True, uid="u1"))
        assert dry == real

    def test_istio_policy_objects_are_judged(self, istio_server: WebhookServer) -> None:
        response = admit(istio_server, "/validate", review(peer_authentication("PERMISSIVE")))
        assert response["allowed"] is False
        assert response["status"]["message"] == (
            "[meshc:mtls-strict] PeerAuthentication mesh-demo/default: spec.mtls.mode: accepts "
            'plaintext traffic where the spec requires mTLS STRICT: "PERMISSIVE"; set it to '
            '"STRICT", or remove it to inherit the mesh-wide mode; or, to admit it, add to '
            "spec.admission.exceptions: {name: default-mtls-strict, policies: [mtls-strict], "
            "namespaces: [mesh-demo], kinds: [PeerAuthentication], names: [default], "
            "paths: ['spec.mtls.mode'], reason: <why>}"
        )
        assert (
            admit(istio_server, "/validate", review(peer_authentication("STRICT")))["allowed"]
            is True
        )

    def test_a_meshed_namespace_that_disables_injection_is_denied(
        self, istio_server: WebhookServer
    ) -> None:
        ns = namespace("mesh-demo", labels={"istio-injection": "disabled"})
        response = admit(istio_server, "/validate", review(ns))
        assert response["allowed"] is False
        assert response["status"]["message"].startswith(
            "[meshc:injection-required] Namespace mesh-demo: "
        )

    def test_linkerd_objects_are_judged_by_the_linkerd_rules(
        self, linkerd_server: WebhookServer
    ) -> None:
        ns = namespace(
            "mesh-demo",
            # linkerd.io/inject as /mutate adds it before /validate runs.
            annotations={
                "linkerd.io/inject": "enabled",
                "config.linkerd.io/default-inbound-policy": "all-unauthenticated",
            },
        )
        response = admit(linkerd_server, "/validate", review(ns))
        assert response["allowed"] is False
        assert response["status"]["message"].startswith("[meshc:mtls-strict] Namespace mesh-demo: ")
        opted_out = workload("Deployment", pod_annotations={"linkerd.io/inject": "disabled"})
        assert admit(linkerd_server, "/validate", review(opted_out))["allowed"] is False
        assert (
            admit(linkerd_server, "/validate", review(linkerd_policy_server()))["allowed"] is True
        )

    def test_connect_has_nothing_to_judge(self, istio_server: WebhookServer) -> None:
        doc = review(workload("Pod"))
        doc["request"]["operation"] = "CONNECT"
        doc["request"]["object"] = {"apiVersion": "v1", "kind": "PodExecOptions", "command": ["sh"]}
        assert admit(istio_server, "/validate", doc)["allowed"] is True


class TestMutate:
    def test_a_meshed_namespace_gets_the_istio_label(self, istio_server: WebhookServer) -> None:
        ns = namespace("mesh-demo")
        response = admit(istio_server, "/mutate", review(ns))
        assert response["allowed"] is True
        after = patched(ns, response)
        assert after["metadata"]["labels"] == {
            "kubernetes.io/metadata.name": "mesh-demo",
            "istio-injection": "enabled",
        }

    def test_a_meshed_namespace_gets_the_linkerd_annotations(
        self, linkerd_server: WebhookServer
    ) -> None:
        ns = namespace("mesh-demo", annotations={"team": "web"})
        after = patched(ns, admit(linkerd_server, "/mutate", review(ns)))
        assert after["metadata"]["annotations"] == {
            "team": "web",
            "linkerd.io/inject": "enabled",
            "config.linkerd.io/default-inbound-policy": "all-authenticated",
        }

    def test_a_marker_set_to_something_else_is_left_for_validation_to_deny(
        self, istio_server: WebhookServer
    ) -> None:
        ns = namespace("mesh-demo", labels={"istio-injection": "disabled"})
        doc = review(ns, "UPDATE")
        assert admit(istio_server, "/mutate", doc) == {
            "uid": doc["request"]["uid"],
            "allowed": True,
        }
        assert admit(istio_server, "/validate", doc)["allowed"] is False

    def test_mutation_is_idempotent(
        self, istio_server: WebhookServer, linkerd_server: WebhookServer
    ) -> None:
        for server in (istio_server, linkerd_server):
            ns = namespace("mesh-demo")
            once = patched(ns, admit(server, "/mutate", review(ns)))
            again = admit(server, "/mutate", review(once, "UPDATE"))
            assert again == {"uid": again["uid"], "allowed": True}

    def test_nothing_outside_the_mesh_or_beyond_namespaces_is_patched(
        self, istio_server: WebhookServer
    ) -> None:
        for doc in (
            review(namespace("default")),
            review(workload("Deployment")),
            review(namespace("mesh-demo"), "DELETE"),
        ):
            response = admit(istio_server, "/mutate", doc)
            assert response == {"uid": doc["request"]["uid"], "allowed": True}


class TestTransport:
    def test_tls_1_2_and_1_3_are_served(self, istio_server: WebhookServer) -> None:
        # granian's own minimum is TLS 1.3; API servers built with older Go
        # settings and many proxies still speak 1.2.
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = ssl.create_default_context(cafile=str(istio_server.certs.ca))
            ctx.minimum_version = ctx.maximum_version = version
            conn = http.client.HTTPSConnection(
                "127.0.0.1", istio_server.port, context=ctx, timeout=30
            )
            conn.request("GET", "/healthz")
            assert conn.getresponse().status == 200
            assert (
                conn.sock is not None
                and conn.sock.version()
                == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
            )
            conn.close()

    def test_one_connection_carries_many_reviews(self, istio_server: WebhookServer) -> None:
        ctx = ssl.create_default_context(cafile=str(istio_server.certs.ca))
        conn = http.client.HTTPSConnection("127.0.0.1", istio_server.port, context=ctx, timeout=30)
        sockets = set()
        for _ in range(20):
            body = json.dumps(review(workload("Pod")))
            conn.request("POST", "/validate", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == 200 and json.loads(r.read())["response"]["allowed"] is True
            assert r.getheader("Connection", "keep-alive").lower() != "close"
            sockets.add(id(conn.sock))
        assert len(sockets) == 1  # http.client reconnects silently; the socket tells
        conn.close()


class TestOperations:
    def test_health_and_readiness(self, istio_server: WebhookServer) -> None:
        assert istio_server.get("/healthz").json() == {"status": "ok"}
        assert istio_server.get("/readyz").json() == {"status": "ready"}

    def test_metrics_count_requests_decisions_by_policy_and_latency(
        self, istio_server: WebhookServer
    ) -> None:
        admit(istio_server, "/validate", review(peer_authentication("DISABLE")))
        text = istio_server.get("/metrics").text
        assert 'meshc_webhook_policy_violations_total{policy="mtls-strict",result="denied"}' in text
        assert 'meshc_webhook_admissions_total{endpoint="validate",result="denied"}' in text
        assert 'meshc_webhook_requests_total{code="200",endpoint="validate"}' in text
        assert (
            'meshc_webhook_request_duration_seconds_bucket{endpoint="validate",le="0.005"}' in text
        )

    def test_metrics_add_up_every_worker(self, istio_server: WebhookServer) -> None:
        def count() -> float:
            for line in istio_server.get("/metrics").text.splitlines():
                if line.startswith('meshc_webhook_requests_total{code="200",endpoint="mutate"}'):
                    return float(line.split()[-1])
            return 0.0

        before = count()
        # New connections each time, so both workers answer some of them.
        for _ in range(30):
            admit(istio_server, "/mutate", review(namespace("default")))
        assert count() == before + 30
