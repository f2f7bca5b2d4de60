"""A real webhook server for the tests: ``meshc webhook serve`` under granian, TLS on 127.0.0.1.

Certificates come from ``meshc certs generate``; clients verify them against
the generated CA, as the API server does with ``caBundle``. Servers are
started per test module (they take a second or two) and always stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.webhook_server import QUICKSTART, Certs, WebhookServer, generate_certs, server_starter


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return generate_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def linkerd_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quickstart spec on Linkerd, STRICT mTLS."""
    text = QUICKSTART.read_text().replace("provider: istio", "provider: linkerd")
    assert "provider: linkerd" in text
    path = tmp_path_factory.mktemp("linkerd") / "mesh.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """``start_server(spec, certs, *extra_args)``: a started server, stopped after the module."""
    with server_starter(tmp_path_factory) as start:
        yield start


@pytest.fixture(scope="module")
def istio_server(start_server, certs: Certs) -> WebhookServer:  # type: ignore[no-untyped-def]
    return start_server(QUICKSTART, certs)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def linkerd_server(start_server, certs: Certs, linkerd_spec: Path) -> WebhookServer:  # type: ignore[no-untyped-def]
    return start_server(linkerd_spec, certs)  # type: ignore[no-any-return]
