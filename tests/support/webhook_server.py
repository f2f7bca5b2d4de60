"""A real `meshc webhook serve` over HTTPS on 127.0.0.1, and its certificates."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from meshc.cli import main as meshc
from support.paths import EXAMPLES

QUICKSTART = EXAMPLES / "quickstart" / "mesh.yaml"
START_TIMEOUT = 30.0
INHERITED = ("MESHC_WEBHOOK_SETTINGS", "PROMETHEUS_MULTIPROC_DIR")


@dataclass
class Certs:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def cert(self) -> Path:
        return self.dir / "tls.crt"

    @property
    def key(self) -> Path:
        return self.dir / "tls.key"


def generate_certs(out: Path) -> Certs:
    """The CLI, in-process: a CA and a serving certificate valid for 127.0.0.1."""
    code = meshc(
        [
            "certs",
            "generate",
            "--service",
            "meshc-webhook",
            "--namespace",
            "meshc-system",
            "--output",
            str(out),
            "--extra-san",
            "127.0.0.1",
            "--extra-san",
            "localhost",
        ]
    )
    assert code == 0
    return Certs(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class WebhookServer:
    spec: Path
    certs: Certs
    log: Path
    extra: list[str] = field(default_factory=list)
    workers: int = 2
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> WebhookServer:
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "meshc",
            "webhook",
            "serve",
            "--spec",
            str(self.spec),
            "--cert",
            str(self.certs.cert),
            "--key",
            str(self.certs.key),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            *self.extra,
        ]
        # Never inherit a developer's (or an outer server's) settings.
        env = {k: v for k, v in os.environ.items() if k not in INHERITED}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"the webhook exited with {self.process.returncode}:\n{self.output()}")
            try:
                if self.get("/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the webhook was not ready within {START_TIMEOUT}s:\n{self.output()}")

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url + path, verify=str(self.certs.ca), **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.post(self.url + path, verify=str(self.certs.ca), **kwargs)  # type: ignore[arg-type]

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def server_starter(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., WebhookServer]]:
    """``start(spec, certs, *extra_args, workers=2)``; every server started is stopped on exit."""
    started: list[WebhookServer] = []

    def start(spec: Path, certs: Certs, *extra: str, workers: int = 2) -> WebhookServer:
        log = tmp_path_factory.mktemp("server") / "server.log"
        server = WebhookServer(spec, certs, log, list(extra), workers)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()
