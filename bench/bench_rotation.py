"""Reloads under load: new-connection and keep-alive clients while workers are replaced or reload.

Run: .venv/bin/python bench/bench_rotation.py [--rotations 30] [--interval 3]
     [--granian-respawn] [--spec]
Starts `meshc webhook serve` (2 workers, TLS) on the quickstart spec, runs
clients that open a new TLS connection for every review and clients that
reuse keep-alive connections, sends the server SIGHUP (what a certificate
rotation triggers) every --interval seconds, and prints every outcome
with its count: a handshake that failed, a connection closed before its
answer, a keep-alive request that failed. Zero failures is the requirement
(docs/reliability.md).

--granian-respawn makes the supervisor use granian's own respawn, its
fallback (webhook/supervisor.py), for the figure to compare with. --spec
edits the spec instead of sending SIGHUP (each worker swaps its state in
place) and reports whether any worker was replaced.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import multiprocessing as mp
import os
import select
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.api_server import review, workload
from support.webhook_server import QUICKSTART, free_port, generate_certs

# Run before the command in the server's process: no replacing by generation.
GRANIAN_RESPAWN = (
    "import meshc.webhook.supervisor as s\n"
    "s.generations_problem = lambda: 'bench_rotation.py --granian-respawn'\n"
    "import sys\n"
    "from meshc.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)

BODY = json.dumps(review(workload("Pod")))
HEADERS = {"Content-Type": "application/json"}


def run_threads(loop: Callable[[], None], threads: int) -> None:
    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()


def new_connections(port: int, ca: str, stop: Any, results: Any, threads: int) -> None:
    """Clients that open a new connection, and so a new handshake, for every review."""
    context = ssl.create_default_context(cafile=ca)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def loop() -> None:
        while not stop.is_set():
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=15)
            try:
                try:
                    conn.connect()
                except Exception as exc:  # noqa: BLE001 - every failure is an outcome to count
                    outcome = f"new connection: handshake failed: {type(exc).__name__}"
                else:
                    try:
                        conn.request("POST", "/validate", BODY, HEADERS)
                        response = conn.getresponse()
                        data = response.read()
                        ok = response.status == 200 and b'"allowed":true' in data
                        outcome = (
                            "new connection: ok"
                            if ok
                            else f"new connection: HTTP {response.status}"
                        )
                    except Exception as exc:  # noqa: BLE001
                        outcome = f"new connection: closed before its answer: {type(exc).__name__}"
            finally:
                conn.close()
            with lock:
                counts[outcome] += 1

    run_threads(loop, threads)
    results.put(dict(counts))


def keep_alive(port: int, ca: str, stop: Any, results: Any, threads: int) -> None:
    """Clients that reuse one connection for review after review, as the API server does."""
    context = ssl.create_default_context(cafile=ca)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def loop() -> None:
        conn: http.client.HTTPSConnection | None = None
        while not stop.is_set():
            if conn is not None and conn.sock is not None:
                readable, _, _ = select.select([conn.sock], [], [], 0)
                if readable:  # closed by the server while idle: a client opens a new one
                    conn.close()
                    conn = None
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=15)
            reused = conn.sock is not None
            try:
                conn.request("POST", "/validate", BODY, HEADERS)
                response = conn.getresponse()
                data = response.read()
                ok = response.status == 200 and b'"allowed":true' in data
                outcome = "keep-alive: ok" if ok else f"keep-alive: HTTP {response.status}"
                if (response.getheader("connection") or "").lower() == "close":
                    with lock:
                        counts["keep-alive: told to close (not a failure)"] += 1
            except Exception as exc:  # noqa: BLE001
                state = "reused" if reused else "new"
                outcome = f"keep-alive: failed on a {state} connection: {type(exc).__name__}"
                conn.close()
                conn = None
            with lock:
                counts[outcome] += 1
        if conn is not None:
            conn.close()

    run_threads(loop, threads)
    results.put(dict(counts))


def children(pid: int) -> set[int]:
    """The supervisor's worker processes (Linux /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found.update(int(c) for c in (task / "children").read_text().split())
    return found


def wait_ready(port: int, context: ssl.SSLContext) -> None:
    for _ in range(300):
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the webhook did not become ready")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rotations", type=int, default=30)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--new-processes", type=int, default=2)
    parser.add_argument("--new-threads", type=int, default=2)
    parser.add_argument("--keep-alive-threads", type=int, default=4)
    parser.add_argument("--granian-respawn", action="store_true", help="granian's own respawn")
    parser.add_argument("--spec", action="store_true", help="edit the spec instead of SIGHUP")
    args = parser.parse_args()

    runtime = Path(tempfile.mkdtemp(prefix="meshc-bench-rotation-"))
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the caBundle
        certs = generate_certs(runtime / "certs")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHC_", "PROMETHEUS_"))}
    spec = runtime / "mesh.yaml"
    original = QUICKSTART.read_text()
    # An edit that loads and changes the data: one more meshed namespace.
    edited = original.replace("  namespaces:\n", "  namespaces:\n    - name: bench-extra\n", 1)
    assert edited != original
    spec.write_text(original)
    launcher = ["-c", GRANIAN_RESPAWN] if args.granian_respawn else ["-m", "meshc"]
    command = [sys.executable, *launcher, "webhook", "serve"]
    command += ["--spec", str(spec), "--cert", str(certs.cert), "--key", str(certs.key)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with open(runtime / "server.log", "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_ready(port, ssl.create_default_context(cafile=str(certs.ca)))
        stop, results = mp.Event(), mp.Queue()
        clients = [
            mp.Process(
                target=new_connections, args=(port, str(certs.ca), stop, results, args.new_threads)
            )
            for _ in range(args.new_processes)
        ]
        clients.append(
            mp.Process(
                target=keep_alive,
                args=(port, str(certs.ca), stop, results, args.keep_alive_threads),
            )
        )
        for client in clients:
            client.start()
        started = time.monotonic()
        time.sleep(1.0)
        workers = children(server.pid)
        for n in range(args.rotations):
            if args.spec:
                tmp = spec.with_suffix(".tmp")
                tmp.write_text(edited if n % 2 == 0 else original)
                tmp.replace(spec)
            else:
                server.send_signal(signal.SIGHUP)
            time.sleep(args.interval)
        replaced = workers - children(server.pid)
        time.sleep(1.0)
        stop.set()
        total: Counter[str] = Counter()
        for _ in clients:
            total.update(results.get(timeout=60))
        elapsed = time.monotonic() - started
        for client in clients:
            client.join()
        server.send_signal(signal.SIGTERM)
        code = server.wait(40)
    failures = sum(n for k, n in total.items() if not k.endswith(("ok", "(not a failure)")))
    what = "spec edits" if args.spec else "worker replacements (SIGHUP)"
    how = "granian's respawn" if args.granian_respawn else "the supervisor"
    print(
        f"# {args.rotations} {what} by {how}, {args.interval}s apart, {elapsed:.0f}s; "
        f"workers replaced: {len(replaced)} of {len(workers)}; exit {code}"
    )
    for outcome, n in sorted(total.items()):
        rate = f"  ({n / elapsed:.0f}/s)" if outcome.endswith("ok") else ""
        print(f"{n:9d}  {outcome}{rate}")
    print(f"failed: {failures}   server log: {runtime / 'server.log'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
