"""Real webhook servers for the hardening tests, built with tests/webhook's own helpers.

The servers judge with the policy samples' specs (tests/hardening/corpus.py
says what they mesh and grant) and are shared by the whole session: the
fuzz and bypass tests only send requests. Fault tests start their own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.webhook_server import Certs, WebhookServer, generate_certs

# api_server: the AdmissionReview builders the webhook tests use.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webhook"))
from corpus import SPECS

Start = Callable[..., "WebhookServer"]


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return generate_certs(tmp_path_factory.mktemp("certs"))


def _starter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Start, list]]:  # type: ignore[type-arg]
    started: list[WebhookServer] = []

    def start(spec: Path, certs: Certs, *extra: str, workers: int = 2) -> WebhookServer:
        log = tmp_path_factory.mktemp("server") / "server.log"
        server = WebhookServer(spec, certs, log, list(extra), workers)
        started.append(server)
        return server.start()

    yield start, started
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def servers(
    tmp_path_factory: pytest.TempPathFactory, certs: Certs
) -> Iterator[dict[str, WebhookServer]]:
    """One server per provider, judging with policies/samples/specs/<provider>.yaml."""
    for start, _ in _starter(tmp_path_factory):
        yield {p: start(SPECS / f"{p}.yaml", certs) for p in ("istio", "linkerd")}


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    """``start_server(spec, certs, *args)``: a server of the test's own, stopped after it."""
    for start, _ in _starter(tmp_path_factory):
        yield start
