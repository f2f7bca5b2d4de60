"""The server's life: engine failures, drain on SIGTERM, certificate rotation."""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from meshc.webhook.certs import generate, write_atomic
from support.api_server import review, workload
from support.fake_opa import FakeOpa
from support.webhook_server import QUICKSTART, Certs, WebhookServer


@pytest.fixture(scope="module")
def opa() -> Iterator[FakeOpa]:
    server = FakeOpa()
    yield server
    server.close()


def opa_args(opa: FakeOpa, timeout: float, *extra: str) -> tuple[str, ...]:
    return ("--engine", "opa", "--opa-url", opa.url, "--opa-timeout", str(timeout), *extra)


def validate(server: WebhookServer, timeout: float = 10) -> dict:  # type: ignore[type-arg]
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
    def test_sigterm_lets_in_flight_reviews_finish(
        self,
        start_server,
        certs: Certs,
        opa: FakeOpa,  # type: ignore[no-untyped-def]
    ) -> None:
        server = start_server(QUICKSTART, certs, *opa_args(opa, 10))
        opa.delay = 1.5
        answers: list[dict] = []  # type: ignore[type-arg]
        errors: list[Exception] = []

        def call() -> None:
            try:
                answers.append(validate(server, timeout=15))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        try:
            seen = opa.requests
            callers = [threading.Thread(target=call) for _ in range(3)]
            for t in callers:
                t.start()
            deadline = time.monotonic() + 5
            while opa.requests < seen + 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert opa.requests == seen + 3, "the reviews never reached the engine"
            server.terminate()  # while all three wait on the engine
            for t in callers:
                t.join(20)
        finally:
            opa.delay = 0.0
        assert errors == []
        assert [a["allowed"] for a in answers] == [True, True, True]
        assert server.stop() == 0
        with pytest.raises(requests.ConnectionError):
            server.get("/healthz", timeout=2)


# -- certificate rotation ---------------------------------------------------------------------


def secret_volume(root: Path, version: str, bundle_files: dict[str, bytes]) -> None:
    """Lay out or rotate files the way the kubelet mounts a Secret.

    ``tls.crt -> ..data/tls.crt``, ``..data -> ..<version>``; rotation writes a
    new version directory and swaps ``..data`` with one rename.
    """
    target = root / f"..{version}"
    target.mkdir()
    for name, data in bundle_files.items():
        write_atomic(target / name, data, 0o600 if name.endswith(".key") else 0o644)
    old = os.readlink(root / "..data") if (root / "..data").is_symlink() else None
    (root / "..data_tmp").symlink_to(target.name)
    os.replace(root / "..data_tmp", root / "..data")
    for name in bundle_files:
        if not (root / name).is_symlink():
            (root / name).symlink_to(f"..data/{name}")
    if old:
        for f in (root / old).iterdir():
            f.unlink()
        (root / old).rmdir()


def files_of(service: str) -> tuple[dict[str, bytes], bytes]:
    b = generate(service, "meshc-system", ["127.0.0.1"])
    return {"ca.crt": b.ca_pem, "tls.crt": b.cert_pem, "tls.key": b.key_pem}, b.ca_pem


def presented_ca(server: WebhookServer, ca_file: Path) -> bool:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    try:
        with ctx.wrap_socket(
            socket.create_connection(("127.0.0.1", server.port), 2), server_hostname="127.0.0.1"
        ):
            return True
    except ssl.SSLCertVerificationError:
        return False


class TestCertificateRotation:
    def test_a_rotated_secret_is_served_without_losing_a_review(
        self,
        start_server,
        tmp_path: Path,  # type: ignore[no-untyped-def]
    ) -> None:
        volume = tmp_path / "secret"
        volume.mkdir()
        first, first_ca = files_of("meshc-webhook")
        second, second_ca = files_of("meshc-webhook")
        secret_volume(volume, "v1", first)
        (tmp_path / "old-ca.crt").write_bytes(first_ca)
        (tmp_path / "new-ca.crt").write_bytes(second_ca)
        (tmp_path / "ca.crt").write_bytes(
            first_ca + second_ca
        )  # a client trusting both, as during a CA roll
        server = start_server(QUICKSTART, Certs(volume), workers=2)
        server.certs = Certs(tmp_path)  # from here on, trust both CAs

        stop = threading.Event()
        outcomes: list[str] = []
        body = json.dumps(review(workload("Pod")))
        both = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))

        def attempt() -> str:
            # A new connection, so a new handshake, every time.
            conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=both, timeout=10)
            try:
                try:
                    conn.connect()
                except (OSError, ssl.SSLError) as exc:
                    return f"handshake failed: {exc!r}"
                try:
                    conn.request("POST", "/validate", body, {"Content-Type": "application/json"})
                    r = conn.getresponse()
                except (OSError, http.client.HTTPException) as exc:
                    return f"closed before answering: {exc!r}"
                return (
                    "ok"
                    if r.status == 200 and b'"allowed":true' in r.read()
                    else f"HTTP {r.status}"
                )
            finally:
                conn.close()

        def load() -> None:
            while not stop.is_set():
                outcome = attempt()
                if outcome != "ok":
                    # A worker being retired can drop a connection it has just
                    # accepted (see docs/webhook.md); nothing was processed, and
                    # the review must succeed when sent again.
                    outcome = f"resent after {outcome}" if attempt() == "ok" else outcome
                outcomes.append(outcome)
                time.sleep(0.01)

        loader = threading.Thread(target=load)
        loader.start()
        try:
            time.sleep(0.5)
            assert presented_ca(server, tmp_path / "old-ca.crt")
            secret_volume(volume, "v2", second)
            deadline = time.monotonic() + 20
            while not presented_ca(server, tmp_path / "new-ca.crt"):
                assert time.monotonic() < deadline, (
                    f"the new certificate was never served:\n{server.output()}"
                )
                time.sleep(0.2)
            time.sleep(1.0)  # and keep going on the new one for a while
        finally:
            stop.set()
            loader.join(15)
        failures = [o for o in outcomes if o != "ok" and not o.startswith("resent")]
        assert failures == []
        # Two workers are retired per rotation; each can drop at most what it just accepted.
        resent = [o for o in outcomes if o.startswith("resent")]
        assert len(resent) <= 2, resent
        assert len(outcomes) > 20
        assert not presented_ca(server, tmp_path / "old-ca.crt")
        assert validate(server)["allowed"] is True
