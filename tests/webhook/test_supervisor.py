"""The supervisor (webhook/supervisor.py): what it takes from granian, its parts, its fallback.

This file guards the granian pin in pyproject.toml, with
test_serve_lifecycle.py: on the pinned granian, replacing workers by
generation must be possible (``generations_problem()`` finds nothing), and
where granian is not as expected the supervisor must fall back to granian's
own respawn rather than fail.
"""

from __future__ import annotations

import mmap
import multiprocessing
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from granian import Granian

from meshc.atomicfile import write_atomic
from meshc.webhook import supervisor
from meshc.webhook.supervisor import (
    GenerationServer,
    PortGroup,
    Respawning,
    TlsSnapshots,
    build_server,
    close_when_retiring,
    generations_problem,
    queued,
)
from support.api_server import review, workload
from support.webhook_server import (
    QUICKSTART,
    Certs,
    WebhookServer,
    files_of,
    presented_ca,
    secret_volume,
    wait_until,
)


def build(certs: Certs) -> Any:
    return build_server(
        "meshc.webhook.wsgi:create",
        host="127.0.0.1",
        port=0,
        workers=2,
        threads=1,
        cert=certs.cert,
        key=certs.key,
    )


# -- what the supervisor takes from granian ---------------------------------------------------


def test_the_pinned_granian_has_what_replacing_by_generation_takes() -> None:
    """Fails on a granian release whose private API moved: then the pin must not move."""
    assert generations_problem() is None


def test_the_server_replaces_workers_by_generation(certs: Certs) -> None:
    server = build(certs)
    assert isinstance(server, GenerationServer)
    assert server.mode == "generations"
    assert len(server.hooks_reload) == 1  # the TLS pair is taken again before each generation


def test_granian_changed_in_any_way_checked_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(Granian, "_reload", None)  # defined on a base class: hidden here
        assert generations_problem() == "granian's server has no _reload()"
    with monkeypatch.context() as m:

        def spawn(self: Any, idx: int, target: Any, callback_loader: Any, sock: Any) -> None:
            """As the abstract server's, which takes a socket loader too."""

        m.setattr(Granian, "_spawn_worker", spawn)
        problem = generations_problem()
        assert problem is not None and problem.startswith("granian's _spawn_worker() takes")
    with monkeypatch.context() as m:
        import granian._granian

        def holder(*args: Any) -> None:
            raise TypeError("SocketHolder() takes no arguments")

        m.setattr(granian._granian, "SocketHolder", holder)
        problem = generations_problem()
        assert problem is not None and "SocketHolder does not take a descriptor" in problem
    with monkeypatch.context() as m:
        m.setattr(multiprocessing, "get_start_method", lambda: "spawn")
        assert generations_problem() == "workers are started by 'spawn', not forked"
    assert generations_problem() is None


def test_without_the_private_api_the_server_is_granians_own(
    certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "generations_problem", lambda: "simulated")
    server = build(certs)
    assert isinstance(server, Respawning) and server.mode == "respawn"
    assert type(server.granian) is Granian  # none of the overrides
    assert server.granian.respawn_interval == supervisor.RESPAWN_INTERVAL
    assert len(server.granian.hooks_reload) == 1  # rotations still take the TLS pair again
    server.rotate()
    assert server.granian.reload_signal and server.granian.main_loop_interrupt.is_set()


def test_private_state_missing_from_granians_server_falls_back_too(
    certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        GenerationServer, "GRANIAN_STATE", (*GenerationServer.GRANIAN_STATE, "_gone")
    )
    server = build(certs)
    assert isinstance(server, Respawning)
    assert server.reason == "granian's process server is not as expected: no _gone"


# -- the fallback on a real server ------------------------------------------------------------

PRIVATE_API_GONE = (
    "import meshc.webhook.supervisor as s\n"
    "s.generations_problem = lambda: 'simulated: no private API'\n"
)
# A worker of a new generation dies loading the app (as one killed for memory
# while two generations run would); the workers respawned in place load it.
NEW_GENERATIONS_DIE = (
    "import os\n"
    "import meshc.webhook.supervisor as s\n"
    "load = s.GenerationServer._load_app\n"
    "s.GenerationServer._load_app = lambda self: (\n"
    "    os._exit(3) if len(self.generations) > 1 else load(self)\n"
    ")\n"
)


@pytest.mark.parametrize(
    "prelude, logged",
    [
        (
            PRIVATE_API_GONE,
            "Replacing workers with granian's own respawn (simulated: no private API)",
        ),
        (NEW_GENERATIONS_DIE, "The new workers did not start; respawning the workers instead"),
    ],
    ids=["no-private-api", "generation-fails"],
)
def test_a_rotation_still_happens_by_granians_respawn(
    start_server,
    tmp_path: Path,
    prelude: str,
    logged: str,  # type: ignore[no-untyped-def]
) -> None:
    volume = tmp_path / "secret"
    volume.mkdir()
    (first, _), (second, second_ca) = files_of("meshc-webhook"), files_of("meshc-webhook")
    secret_volume(volume, "v1", first)
    server: WebhookServer = start_server(QUICKSTART, Certs(volume), prelude=prelude)
    before = server.worker_pids()
    assert len(before) == 2

    secret_volume(volume, "v2", second)
    ca = tmp_path / "ca-v2.crt"
    ca.write_bytes(second_ca)
    wait_until(lambda: presented_ca(server.port, ca), 90, "the new certificate served")
    wait_until(lambda: not server.worker_pids() & before, 90, "the old workers gone")
    server.certs = Certs(tmp_path)
    (tmp_path / "ca.crt").write_bytes(second_ca)
    r = server.post("/validate", json=review(workload("Pod")))
    assert r.status_code == 200 and r.json()["response"]["allowed"] is True
    assert logged in server.output()
    assert len(server.worker_pids()) == 2


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
