"""Real webhook servers for the hardening tests, built with tests/webhook's own helpers.

The servers judge with the policy samples' specs (tests/hardening/corpus.py
says what they mesh and grant) and are shared by the whole session: the
fuzz and bypass tests only send requests. Fault tests start their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from corpus import SPECS

from support.webhook_server import Certs, WebhookServer, generate_certs, server_starter

Start = Callable[..., "WebhookServer"]


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return generate_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def servers(
    tmp_path_factory: pytest.TempPathFactory, certs: Certs
) -> Iterator[dict[str, WebhookServer]]:
    """One server per provider, judging with policies/samples/specs/<provider>.yaml."""
    with server_starter(tmp_path_factory) as start:
        yield {p: start(SPECS / f"{p}.yaml", certs) for p in ("istio", "linkerd")}


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    """``start_server(spec, certs, *args)``: a server of the test's own, stopped after it."""
    with server_starter(tmp_path_factory) as start:
        yield start
