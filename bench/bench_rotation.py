"""Certificate rotation under load: new-connection and keep-alive clients while workers are replaced.

Run: .venv/bin/python bench/bench_rotation.py [--rotations 30] [--interval 3]
Starts `meshc webhook serve` (2 workers, TLS) on the quickstart spec, runs
clients that open a new TLS connection for every review and clients that
reuse keep-alive connections, sends the server SIGHUP (what a rotation or a
spec reload triggers) every --interval seconds, and prints every outcome
with its count: a handshake that failed, a connection closed before its
answer, a keep-alive request that failed. Zero failures is the requirement
(docs/reliability.md).
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
    args = parser.parse_args()

    runtime = Path(tempfile.mkdtemp(prefix="meshc-bench-rotation-"))
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the caBundle
        certs = generate_certs(runtime / "certs")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHC_", "PROMETHEUS_"))}
    command = [sys.executable, "-m", "meshc", "webhook", "serve"]
    command += ["--spec", str(QUICKSTART), "--cert", str(certs.cert), "--key", str(certs.key)]
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
        for _ in range(args.rotations):
            server.send_signal(signal.SIGHUP)
            time.sleep(args.interval)
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
    print(
        f"# {args.rotations} worker replacements, {args.interval}s apart, {elapsed:.0f}s; exit {code}"
    )
    for outcome, n in sorted(total.items()):
        rate = f"  ({n / elapsed:.0f}/s)" if outcome.endswith("ok") else ""
        print(f"{n:9d}  {outcome}{rate}")
    print(f"failed: {failures}   server log: {runtime / 'server.log'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
