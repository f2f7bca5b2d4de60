"""The server's life: engine failures, drain on SIGTERM, certificate rotation."""

from __future__ import annotations

import http.client
import json
import mmap
import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from meshc.atomicfile import write_atomic
from meshc.webhook.serve import PortGroup, TlsSnapshots, close_when_retiring, queued
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


# -- replacing workers by generation: the parts ----------------------------------------------


def arrivals(group: PortGroup, socks: list[socket.socket], connections: int = 40) -> list[int]:
    """Open ``connections`` to the port; how many each of ``socks`` got (and accepted)."""
    clients = [socket.create_connection(("127.0.0.1", group.port), 10) for _ in range(connections)]
    # Loopback hands a connection over in a softirq, which a busy machine may
    # run a little later: wait for all of them to be queued somewhere.
    deadline = time.monotonic() + 10
    while sum(queued(sock) for sock in socks) < connections and time.monotonic() < deadline:
        time.sleep(0.01)
    counts = [queued(sock) for sock in socks]
    for sock in socks:
        sock.setblocking(False)
        for _ in range(queued(sock)):
            sock.accept()[0].close()
    for client in clients:
        client.close()
    assert sum(counts) == connections, "a connection went to a socket not listed"
    return counts


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_new_connections_only_reach_the_generation_steered_to(workers: int) -> None:
    """What a reload does to the port's socket group, on real sockets: no connection strays."""
    group = PortGroup("127.0.0.1", 0, 128)
    try:
        old = [group.open() for _ in range(workers)]
        group.steer(old)
        new = [group.open() for _ in range(workers)]
        assert arrivals(group, old + new)[workers:] == [0] * workers  # the new ones start
        group.steer(new)
        counts = arrivals(group, old + new)
        assert counts[:workers] == [0] * workers and all(counts[workers:])
        for n, sock in enumerate(old):  # the old ones retire, one close at a time
            group.close(sock, keep=new)
            assert arrivals(group, old[n + 1 :] + new)[: workers - n - 1] == [0] * (workers - n - 1)
        group.steer(new)
        assert all(arrivals(group, new))
    finally:
        group.close_all()


def test_a_retiring_generation_answers_http1_with_connection_close() -> None:
    retiring = mmap.mmap(-1, 1)
    sent: list[list[tuple[str, str]]] = []

    def app(environ: dict[str, str], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def call(protocol: str) -> list[tuple[str, str]]:
        close_when_retiring(app, retiring)(
            {"SERVER_PROTOCOL": protocol}, lambda status, headers, exc=None: sent.append(headers)
        )
        return sent[-1]

    assert call("HTTP/1.1") == [("Content-Type", "text/plain")]
    retiring[0] = 1
    assert call("HTTP/1.1") == [("Content-Type", "text/plain"), ("Connection", "close")]
    assert call("HTTP/1") == [("Content-Type", "text/plain"), ("Connection", "close")]
    assert call("HTTP/2") == [("Content-Type", "text/plain")]  # GOAWAY does it there


def test_workers_load_a_checked_copy_that_outlives_the_secret_version(tmp_path: Path) -> None:
    """The kubelet deletes the previous version: a worker starting later still finds its pair."""
    volume = tmp_path / "secret"
    volume.mkdir()
    first, _ = files_of("meshc-webhook")
    second, _ = files_of("meshc-webhook")
    secret_volume(volume, "v1", first)
    snapshots = TlsSnapshots(volume / "tls.crt", volume / "tls.key", tmp_path / "tls")
    cert, key = snapshots.first()
    secret_volume(volume, "v2", second)  # removes ..v1
    assert cert.read_bytes() == first["tls.crt"] and key.read_bytes() == first["tls.key"]
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert snapshots.take()[0].read_bytes() == second["tls.crt"]
    # A pair that does not load together (mid-rotation, one file replaced)
    # is refused, and the copy in use stays.
    in_use = snapshots.take()
    write_atomic(volume / "..data" / "tls.key", first["tls.key"], 0o600)
    with pytest.raises(ssl.SSLError):
        snapshots.take()
    assert in_use[0].read_bytes() == second["tls.crt"]
