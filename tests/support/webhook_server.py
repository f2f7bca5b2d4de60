"""A real `meshc webhook serve` over HTTPS on 127.0.0.1, and its certificates.

Waits here are for a state (ready, a condition), with a deadline in seconds
that a busy machine still meets: a server that is slow to answer while it
starts (a connection refused, reset, timed out, a handshake cut short) is
"not ready yet", never a failure by itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from meshc.atomicfile import write_atomic
from meshc.cli import main as meshc
from meshc.webhook.certs import generate
from support.paths import EXAMPLES

QUICKSTART = EXAMPLES / "quickstart" / "mesh.yaml"
# Starting takes a second or two on an idle machine; far more while other
# test sessions load the same two cores.
START_TIMEOUT = 90.0
# Each probe of a starting server: long enough for a handshake on a busy machine.
PROBE_TIMEOUT = 10.0
INHERITED = ("MESHC_WEBHOOK_SETTINGS", "PROMETHEUS_MULTIPROC_DIR")
# What a probe of a server that is still starting may meet.
NOT_YET = (requests.ConnectionError, requests.Timeout, OSError, ssl.SSLError)


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
    """The CLI, in-process: a CA and a serving certificate valid for 127.0.0.1.

    The caBundle the command prints is read from the files instead: a
    benchmark's or test's standard output is for its results.
    """
    with contextlib.redirect_stdout(io.StringIO()):
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
    # Python run before the command in the server's process (``python -c``), to
    # change what it is made of: for the supervisor's fallback tests.
    prelude: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> WebhookServer:
        self.port = free_port()
        if self.prelude:
            launcher = [
                "-c",
                f"{self.prelude}\nimport sys\nfrom meshc.cli import main\nsys.exit(main(sys.argv[1:]))",
            ]
        else:
            launcher = ["-m", "meshc"]
        cmd = [
            sys.executable,
            *launcher,
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
                if self.get("/readyz", timeout=PROBE_TIMEOUT).status_code == 200:
                    return
            except NOT_YET:
                pass  # not listening yet, or too busy to answer in time: not ready yet
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the webhook was not ready within {START_TIMEOUT}s:\n{self.output()}")

    def get(self, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.get(self.url + path, verify=str(self.certs.ca), **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 30)
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

    def worker_pids(self) -> set[int]:
        """The processes the supervisor runs now: its workers (Linux /proc)."""
        assert self.process is not None
        children: set[int] = set()
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                children.update(int(pid) for pid in (task / "children").read_text().split())
            except OSError:
                continue  # a thread that ended meanwhile
        return children


def wait_until(condition: Callable[[], object], seconds: float = 60, what: str = "") -> None:
    """Until ``condition()`` is true; a probe that times out or cannot connect counts as false."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except NOT_YET:
            pass
        assert time.monotonic() < deadline, f"{what or 'the condition'} never held in {seconds:g}s"
        time.sleep(0.2)


# -- certificates the way the kubelet mounts and rotates them ----------------------------------


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
    """A Secret's files for a new CA and serving certificate, and that CA."""
    b = generate(service, "meshc-system", ["127.0.0.1"])
    return {"ca.crt": b.ca_pem, "tls.crt": b.cert_pem, "tls.key": b.key_pem}, b.ca_pem


def presented_ca(port: int, ca_file: Path) -> bool:
    """Whether the certificate a new connection gets is signed by the CA in ``ca_file``."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    try:
        with ctx.wrap_socket(
            socket.create_connection(("127.0.0.1", port), PROBE_TIMEOUT),
            server_hostname="127.0.0.1",
        ):
            return True
    except ssl.SSLCertVerificationError:
        return False


@contextmanager
def server_starter(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., WebhookServer]]:
    """``start(spec, certs, *extra_args, workers=2, prelude="")``; every server started is stopped on exit."""
    started: list[WebhookServer] = []

    def start(
        spec: Path, certs: Certs, *extra: str, workers: int = 2, prelude: str = ""
    ) -> WebhookServer:
        log = tmp_path_factory.mktemp("server") / "server.log"
        server = WebhookServer(spec, certs, log, list(extra), workers, prelude)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()
