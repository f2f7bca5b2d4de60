"""The server's life: engine failures, drain on SIGTERM, certificate rotation.

The supervisor's parts (socket steering, TLS snapshots) and its fallback to
granian's own respawn are tested in test_supervisor.py; spec reloads, which
replace no worker, in test_spec_reload.py.
"""

from __future__ import annotations

import http.client
import json
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support.api_server import review, workload
from support.fake_opa import FakeOpa
from support.webhook_server import (
    QUICKSTART,
    Certs,
    WebhookServer,
    files_of,
    presented_ca,
    secret_volume,
    wait_until,
)


@pytest.fixture(scope="module")
def opa() -> Iterator[FakeOpa]:
    server = FakeOpa()
    yield server
    server.close()


def opa_args(opa: FakeOpa, timeout: float, *extra: str) -> tuple[str, ...]:
    return ("--engine", "opa", "--opa-url", opa.url, "--opa-timeout", str(timeout), *extra)


def validate(server: WebhookServer, timeout: float = 30) -> dict:  # type: ignore[type-arg]
    r = server.post("/validate", json=review(workload("Pod")), timeout=timeout)
    assert r.status_code == 200
    return r.json()["response"]  # type: ignore[no-any-return]


class TestEngineFailure:
    def test_an_engine_that_times_out_denies_with_a_clear_message(
        self,
        start_server,
        certs: Certs,
        opa: FakeOpa,  # type: ignore[no-untyped-def]
    ) -> None:
        server = start_server(QUICKSTART, certs, *opa_args(opa, 0.3))
        opa.delay = 1.0
        try:
            response = validate(server)
        finally:
            opa.delay = 0.0
        assert response["allowed"] is False
        message = response["status"]["message"]
        assert message.startswith(
            f"[meshc:engine] policy engine unavailable: OPA at {opa.url} gave no decision: "
        )
        assert message.endswith("; the request is denied because --failure-mode=closed")
        assert validate(server)["allowed"] is True  # and it recovers with the engine

    def test_failure_mode_open_admits_with_a_warning(
        self,
        start_server,
        certs: Certs,
        opa: FakeOpa,  # type: ignore[no-untyped-def]
    ) -> None:
        server = start_server(QUICKSTART, certs, *opa_args(opa, 0.3, "--failure-mode", "open"))
        opa.delay = 1.0
        try:
            response = validate(server)
        finally:
            opa.delay = 0.0
        assert response["allowed"] is True
        assert response["warnings"][0].endswith(
            "the request is allowed because --failure-mode=open"
        )


class TestDrain:
    # SIGTERM alone, and SIGTERM while a reload (SIGHUP, what the certificate
    # watcher sends) has new workers starting or old ones retiring.
    @pytest.mark.parametrize("reload_first", [None, 0.3, 1.2], ids=["idle", "starting", "retiring"])
    def test_sigterm_lets_in_flight_reviews_finish(
        self,
        start_server,
        certs: Certs,
        opa: FakeOpa,
        reload_first: float | None,  # type: ignore[no-untyped-def]
    ) -> None:
        server = start_server(QUICKSTART, certs, *opa_args(opa, 10))
        # Still waiting when SIGTERM comes; should a busy machine get there
        # later, the reviews are answered all the same: the test passes
        # either way, only the phase of the reload it hits may differ.
        opa.delay = 1.5 + (reload_first or 0.0)
        answers: list[dict] = []  # type: ignore[type-arg]
        errors: list[Exception] = []

        def call() -> None:
            try:
                answers.append(validate(server, timeout=60))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        try:
            seen = opa.requests
            callers = [threading.Thread(target=call) for _ in range(3)]
            for t in callers:
                t.start()
            deadline = time.monotonic() + 30
            while opa.requests < seen + 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert opa.requests == seen + 3, "the reviews never reached the engine"
            if reload_first is not None:
                assert server.process is not None
                server.process.send_signal(signal.SIGHUP)
                time.sleep(reload_first)
            server.terminate()  # while all three wait on the engine
            for t in callers:
                t.join(60)
        finally:
            opa.delay = 0.0
        assert errors == []
        assert [a["allowed"] for a in answers] == [True, True, True]
        assert server.stop() == 0
        with pytest.raises(requests.ConnectionError):
            server.get("/healthz", timeout=10)

    def test_more_sigterms_while_it_exits_still_end_it_cleanly(
        self,
        start_server,
        certs: Certs,  # type: ignore[no-untyped-def]
    ) -> None:
        # A supervisor that repeats SIGTERM (a test's stop(), a shell's
        # Ctrl-C pressed twice) must not find Python's default handler, which
        # the interpreter puts back as it finalizes, and end on the signal.
        server = start_server(QUICKSTART, certs)
        assert validate(server)["allowed"] is True
        assert server.process is not None
        deadline = time.monotonic() + 60
        while server.process.poll() is None and time.monotonic() < deadline:
            server.terminate()
            time.sleep(0.002)  # what is measured: a signal at every stage of the exit
        assert server.process.wait(30) == 0


# -- certificate rotation ---------------------------------------------------------------------


class Load:
    """Reviews sent without pause while certificates rotate, as two kinds of client.

    New-connection clients open a connection (so a handshake) per review;
    keep-alive clients reuse theirs as the API server does, through urllib3,
    which drops a pooled connection the server has closed and honours
    ``Connection: close``. Every failure is kept, with what it was.
    """

    def __init__(self, server: WebhookServer, ca_file: Path, new: int = 3, keep_alive: int = 3):
        self.port = server.port
        self.ca_file = ca_file
        self.body = json.dumps(review(workload("Pod")))
        self.answered = {"new": 0, "keep-alive": 0}
        self.told_to_close = 0
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._new) for _ in range(new)]
        self.threads += [threading.Thread(target=self._keep_alive) for _ in range(keep_alive)]
        for t in self.threads:
            t.start()

    def _new(self) -> None:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        while not self.stopping.is_set():
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
            try:
                try:
                    conn.connect()
                except (OSError, ssl.SSLError) as exc:
                    self.failures.append(f"new connection: handshake failed: {exc!r}")
                    continue
                try:
                    conn.request(
                        "POST", "/validate", self.body, {"Content-Type": "application/json"}
                    )
                    r = conn.getresponse()
                    answer = r.read()
                except (OSError, http.client.HTTPException) as exc:
                    self.failures.append(f"new connection: closed before answering: {exc!r}")
                    continue
                self._check("new", r.status, answer)
            finally:
                conn.close()

    def _keep_alive(self) -> None:
        with requests.Session() as session:
            while not self.stopping.is_set():
                try:
                    r = session.post(
                        f"https://127.0.0.1:{self.port}/validate",
                        data=self.body,
                        headers={"Content-Type": "application/json"},
                        verify=str(self.ca_file),
                        timeout=30,
                    )
                except requests.RequestException as exc:
                    self.failures.append(f"keep-alive: {exc!r}")
                    continue
                if r.headers.get("Connection", "").lower() == "close":
                    self.told_to_close += 1
                self._check("keep-alive", r.status_code, r.content)

    def _check(self, kind: str, status: int, answer: bytes) -> None:
        if status == 200 and b'"allowed":true' in answer:
            self.answered[kind] += 1
        else:
            self.failures.append(f"{kind}: HTTP {status}: {answer[:200]!r}")

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(30)


class TestCertificateRotation:
    ROTATIONS = 6

    def test_rotations_under_load_fail_no_handshake_and_no_request(
        self,
        start_server,
        tmp_path: Path,  # type: ignore[no-untyped-def]
    ) -> None:
        """Each rotation, kubelet-style, while both kinds of client send reviews without pause.

        Nothing may fail: not a handshake, not a connection closed before its
        answer, not a request on a kept-alive connection. After each rotation
        the new certificate is what a new connection gets.
        """
        volume = tmp_path / "secret"
        volume.mkdir()
        bundles = [files_of("meshc-webhook") for _ in range(self.ROTATIONS + 1)]
        cas = []
        for version, (_, ca) in enumerate(bundles):
            cas.append(tmp_path / f"ca-v{version}.crt")
            cas[-1].write_bytes(ca)
        # The clients trust every CA, as during a CA roll.
        trust = tmp_path / "ca.crt"
        trust.write_bytes(b"".join(ca for _, ca in bundles))
        secret_volume(volume, "v0", bundles[0][0])
        server = start_server(QUICKSTART, Certs(volume), workers=2)
        server.certs = Certs(tmp_path)

        load = Load(server, trust)
        try:
            for version in range(1, self.ROTATIONS + 1):
                before = dict(load.answered)
                secret_volume(volume, f"v{version}", bundles[version][0])
                wait_until(
                    lambda v=version: presented_ca(server.port, cas[v]),  # type: ignore[misc]
                    90,
                    f"rotation {version}: the new certificate served",
                )
                during = {kind: n - before[kind] for kind, n in load.answered.items()}
                assert all(during.values()), f"rotation {version} was not under load: {during}"
            # The last rotation's old workers retire under load too.
            time.sleep(3)
        finally:
            load.stop()
        assert load.failures == [], f"{len(load.failures)} failed: {load.failures[:10]}"
        assert load.told_to_close > 0  # the keep-alive clients were moved off retiring workers
        assert all(presented_ca(server.port, cas[-1]) for _ in range(10))
        assert not presented_ca(server.port, cas[0])
        assert "did not start" not in server.output()
        assert validate(server)["allowed"] is True
