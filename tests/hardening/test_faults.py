"""Faults injected into a running webhook: the engine, the policies, the spec, the process.

Each fault has one expected outcome: a decision (fail closed, saying why)
well within the webhook timeout, a server that will not serve without its
policies, a reload that keeps the last good spec, a drain that loses
nothing.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus import SPECS

from meshc.policies.wasm_bundle import OPA_ENV
from support.api_server import review, workload
from support.fake_opa import FakeOpa
from support.paths import require_tool
from support.webhook_server import Certs, WebhookServer, free_port, wait_until

POLICIES = Path(__file__).resolve().parents[2] / "src" / "meshc" / "policies" / "rego"


def pod_review(namespace: str = "mesh-demo", host_network: bool = False) -> dict:  # type: ignore[type-arg]
    obj = workload("Pod", namespace=namespace)
    obj["spec"]["hostNetwork"] = host_network
    return review(obj)


def validate(server: WebhookServer, doc: dict, timeout: float = 30) -> dict:  # type: ignore[type-arg]
    r = server.post("/validate", json=doc, timeout=timeout)
    assert r.status_code == 200, r.text
    return r.json()["response"]  # type: ignore[no-any-return]


@pytest.fixture
def slow_opa() -> Iterator[FakeOpa]:
    opa = FakeOpa(delay=30)
    yield opa
    opa.close()


# The chart's timeoutSeconds: what the API server waits for an answer. The
# timing assertions below measure exactly that the answer comes in time, and
# the message says which timeout gave it, so their upper bound is this and
# not something a busy machine may miss.
API_SERVER_TIMEOUT = 5.0


def timed_denial(server: WebhookServer) -> tuple[str, float]:
    started = time.monotonic()
    response = validate(server, pod_review())
    elapsed = time.monotonic() - started
    assert response["allowed"] is False
    return response["status"]["message"], elapsed


class TestEngineFaults:
    def test_an_unreachable_opa_is_a_closed_denial_at_once(
        self, start_server, certs: Certs
    ) -> None:  # type: ignore[no-untyped-def]
        closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        # Timeouts far past the API server's: an answer within it came at once.
        server = start_server(
            SPECS / "istio.yaml",
            certs,
            *("--engine", "opa", "--opa-url", closed),
            *("--opa-timeout", "20", "--decision-timeout", "30"),
        )
        message, elapsed = timed_denial(server)
        assert message.startswith(
            f"[meshc:engine] policy engine unavailable: OPA at {closed} gave no decision"
        )
        assert message.endswith("the request is denied because --failure-mode=closed")
        assert elapsed < API_SERVER_TIMEOUT

    def test_a_slow_opa_is_a_closed_denial_at_the_opa_timeout(
        self, start_server, certs, slow_opa
    ) -> None:  # type: ignore[no-untyped-def]
        server = start_server(
            SPECS / "istio.yaml",
            certs,
            "--engine",
            "opa",
            "--opa-url",
            slow_opa.url,
            "--opa-timeout",
            "1",
        )
        message, elapsed = timed_denial(server)
        # At --opa-timeout: the message is the OPA client's timeout, not the
        # decision deadline's (4 s), and the OPA would answer after 30 s.
        assert "gave no decision" in message and "timed out" in message.lower()
        assert 1.0 <= elapsed < API_SERVER_TIMEOUT

    def test_an_opa_slower_than_its_own_timeout_still_meets_the_decision_deadline(  # type: ignore[no-untyped-def]
        self, start_server, certs, slow_opa
    ) -> None:
        server = start_server(
            SPECS / "istio.yaml",
            certs,
            "--engine",
            "opa",
            "--opa-url",
            slow_opa.url,
            "--opa-timeout",
            "20",
            "--decision-timeout",
            "1.5",
        )
        message, elapsed = timed_denial(server)
        assert "no decision within 1.5s (--decision-timeout)" in message
        assert 1.5 <= elapsed < API_SERVER_TIMEOUT


def serve_command(spec: Path, certs: Certs, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "meshc",
        "webhook",
        "serve",
        "--spec",
        str(spec),
        "--cert",
        str(certs.cert),
        "--key",
        str(certs.key),
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
        *extra,
    ]


def broken_policies(tmp_path: Path, edit: str) -> Path:
    out = tmp_path / "policies"
    out.mkdir()
    for rego in POLICIES.glob("*.rego"):
        shutil.copy(rego, out / rego.name)
    if edit == "syntax error":
        path = out / "mtls_strict.rego"
        path.write_text(path.read_text() + "\nfindings contains finding if {\n\tfinding := \n")
    elif edit == "no entry point":
        (out / "main.rego").unlink()
    return out


SLOW_RULE = """
violations contains {"policy": "slow", "problem": "never"} if {
	input.request.object.metadata.labels.slow == "yes"
	some i in numbers.range(1, 5000)
	some j in numbers.range(1, 5000)
	i < j
	j < i
}
"""


class TestPolicyFaults:
    @pytest.mark.parametrize("engine", ["embedded", pytest.param("wasm", marks=pytest.mark.tools)])
    @pytest.mark.parametrize("edit", ["syntax error", "no entry point"])
    def test_broken_policies_keep_the_webhook_from_serving(
        self, tmp_path: Path, certs: Certs, edit: str, engine: str
    ) -> None:
        env = dict(os.environ)
        if engine == "wasm":
            # Rego other than the shipped build's goes to OPA's compiler, which must refuse it.
            env[OPA_ENV] = str(require_tool("opa"))
        cmd = serve_command(
            SPECS / "istio.yaml",
            certs,
            "--engine",
            engine,
            "--policies",
            str(broken_policies(tmp_path, edit)),
        )
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=300, check=False, env=env
        )
        # It never listened: no allow-all, no 200 from /readyz, a reason.
        assert done.returncode == 2
        assert "the policy engine cannot start: the policies " in done.stderr
        if engine == "wasm":
            # Refused by OPA's compiler, not for want of one.
            assert "cannot start: the policies do not compile: " in done.stderr

    @pytest.mark.tools
    def test_a_wasm_evaluation_past_the_deadline_is_stopped_and_the_worker_answers_at_once(
        self, tmp_path: Path, start_server, certs, monkeypatch: pytest.MonkeyPatch
    ) -> None:  # type: ignore[no-untyped-def]
        monkeypatch.setenv(OPA_ENV, str(require_tool("opa")))
        policies = broken_policies(tmp_path, "copy")
        main = policies / "main.rego"
        # 25 million steps for a pod labelled slow: far past the deadline, and
        # past the memory cap after about a second (OPA's Wasm heap is only
        # reset between evaluations).
        main.write_text(main.read_text() + SLOW_RULE)
        server = start_server(
            SPECS / "istio.yaml",
            certs,
            "--policies",
            str(policies),
            "--decision-timeout",
            "0.3",
            workers=1,
        )
        slow = pod_review()
        slow["request"]["object"]["metadata"]["labels"] = {"slow": "yes"}
        started = time.monotonic()
        response = validate(server, slow)
        elapsed = time.monotonic() - started
        assert response["allowed"] is False
        # Stopped by the deadline: left to run, the evaluation would have ended
        # at the memory cap, with another message.
        assert "no decision within 0.3s (--decision-timeout)" in response["status"]["message"]
        assert 0.3 <= elapsed < API_SERVER_TIMEOUT
        # The wasm engine evaluates on the request's own thread, so the answer
        # above means that thread was free again: the worker's one thread
        # answers the next review.
        assert validate(server, pod_review())["allowed"] is True

    def test_the_policies_flag_serves_the_directory_it_names(
        self, tmp_path: Path, start_server, certs
    ) -> None:  # type: ignore[no-untyped-def]
        server = start_server(
            SPECS / "istio.yaml", certs, "--policies", str(broken_policies(tmp_path, "copy"))
        )
        assert validate(server, pod_review(host_network=True))["allowed"] is False
        assert validate(server, pod_review())["allowed"] is True


SPEC = """apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {{name: reload}}
spec:
  provider: istio
  namespaces:
{namespaces}
"""


def write_spec(path: Path, *namespaces: str, extra: str = "") -> None:
    text = SPEC.format(namespaces="".join(f"    - name: {n}\n" for n in namespaces)) + extra
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


class TestSpecReload:
    def test_a_spec_that_stops_validating_leaves_the_last_good_one_serving(  # type: ignore[no-untyped-def]
        self, tmp_path: Path, start_server, certs
    ) -> None:
        spec = tmp_path / "mesh.yaml"
        write_spec(spec, "mesh-demo")
        server = start_server(spec, certs)
        team_b = pod_review("team-b", host_network=True)
        assert validate(server, team_b)["allowed"] is True  # team-b is not meshed yet

        write_spec(spec, "mesh-demo", "team-b")
        wait_until(
            lambda: validate(server, pod_review("team-b", host_network=True))["allowed"] is False,
            90,
        )

        write_spec(spec, "mesh-demo", extra="  mtls: SOMETIMES\n")
        wait_until(lambda: server.get("/readyz").json().get("spec_errors"), 90)
        ready = server.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["config"] == "the last good spec: the spec on disk does not load"
        assert (
            f"{spec}:9:9: spec.mtls: 'SOMETIMES' is not one of STRICT, PERMISSIVE"
            in ready.json()["spec_errors"]
        )
        assert "meshc_config_reload_failures_total 1.0" in server.get("/metrics").text
        assert "spec.mtls" in server.output()
        # Both workers still judge with the last good spec, team-b meshed.
        for _ in range(6):
            assert validate(server, pod_review("team-b", host_network=True))["allowed"] is False
        assert server.process is not None and server.process.poll() is None

        write_spec(spec, "mesh-demo")
        wait_until(
            lambda: validate(server, pod_review("team-b", host_network=True))["allowed"] is True,
            90,
        )
        assert server.get("/readyz").json() == {"status": "ready"}


class TestDrain:
    def test_sigterm_under_load_loses_no_request(self, start_server, certs) -> None:  # type: ignore[no-untyped-def]
        """Keep-alive clients, as the API server is, send until the server is gone.

        A request is lost when it was written on an open connection and got
        no answer. Connections the server refuses or closes before a request
        is written are not lost requests: a client sends those elsewhere.
        """
        server = start_server(SPECS / "istio.yaml", certs)
        ctx = ssl.create_default_context(cafile=str(certs.ca))
        body = json.dumps(pod_review())
        outcomes: list[str] = []
        stop = threading.Event()

        def client() -> None:
            conn: http.client.HTTPSConnection | None = None
            while not stop.is_set():
                if conn is None:
                    conn = http.client.HTTPSConnection(
                        "127.0.0.1", server.port, context=ctx, timeout=30
                    )
                outcome = exchange(conn)
                outcomes.append(outcome)
                if outcome != "answered":
                    conn.close()
                    conn = None
                    time.sleep(0.05)
            if conn is not None:
                conn.close()

        def exchange(conn: http.client.HTTPSConnection) -> str:
            if conn.sock is None:
                try:
                    conn.connect()
                except OSError:
                    return "not connected"
            try:
                conn.request("POST", "/validate", body, {"Content-Type": "application/json"})
            except OSError:
                return "closed before the request"
            try:
                r = conn.getresponse()
                answer = r.read()
            except http.client.RemoteDisconnected:
                # Closed idle between two requests, as HTTP/1.1 lets a server
                # do; nothing was read, and clients resend.
                return "closed idle"
            except (OSError, http.client.HTTPException):
                return "lost"
            if r.status != 200 or json.loads(answer)["response"]["allowed"] is not True:
                return f"HTTP {r.status}"
            return "answered"

        clients = [threading.Thread(target=client) for _ in range(8)]
        for t in clients:
            t.start()
        # Under load first: however long a busy machine takes to get there.
        wait_until(lambda: outcomes.count("answered") > 50, 60, "50 reviews answered")
        server.terminate()
        assert server.process is not None
        code = server.process.wait(60)
        stop.set()
        for t in clients:
            t.join(60)
        assert code == 0
        assert outcomes.count("lost") == 0, sorted(set(outcomes))
        assert not [o for o in outcomes if o.startswith("HTTP")]
