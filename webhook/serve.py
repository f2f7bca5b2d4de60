"""``meshc webhook serve``: the app under granian, over TLS, with several workers.

Why granian (figures in docs/webhook.md): on the same Flask app it answered
about three times the requests of gunicorn's gthread worker with a p99 eight
times lower, and it already has what the API server needs — TLS 1.2+, HTTP/1.1
keep-alive, a graceful drain on SIGTERM, and a graceful worker respawn on
SIGHUP. Certificate rotation is built on that respawn: the supervisor watches
the certificate and key, and once a new pair is complete and valid it
respawns the workers one at a time, so one always accepts and a handshake
never meets a half-rotated pair.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

from meshc.webhook.certwatch import CertWatcher
from meshc.webhook.settings import MULTIPROC_ENV, SETTINGS_ENV, Settings

EXIT_OK = 0
EXIT_USAGE = 2
TARGET = "meshc.webhook.wsgi:create"
# One Python thread per worker runs the app: evaluation is CPU-bound under the
# GIL, so more threads only add contention (measured in bench/bench_webhook.py).
# The OPA engine waits on the network, which is what the extra threads are for.
THREADS = {"embedded": 1, "opa": 8}
# In-flight requests a worker accepts before the rest wait in the listen queue.
BACKPRESSURE = 64
# The kubelet's default termination grace period is 30 s; finish well within it.
DRAIN_TIMEOUT = 25
CERT_POLL_SECONDS = 1.0

log = logging.getLogger("meshc.webhook")


def _fail(message: str) -> int:
    print(f"meshc webhook serve: {message}", file=sys.stderr)
    return EXIT_USAGE


def preflight(settings: Settings, cert: Path, key: Path) -> str | None:
    """Refuse to start on a bad spec or TLS pair, with the reason, before any worker forks."""
    from meshc.compiler.errors import SpecError
    from meshc.policies.engine import EngineError
    from meshc.webhook.state import load_state

    try:
        # Everything a worker will load, loaded once here: a worker that
        # cannot start would only be respawned in a loop.
        load_state(settings)
    except SpecError as exc:
        return f"the spec cannot be loaded:\n{exc.format()}"
    except OSError as exc:
        return f"cannot read the spec {settings.spec!r}: {exc}"
    except EngineError as exc:
        return f"the policy engine cannot start: {exc}"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        return f"cannot use the certificate {str(cert)!r} with the key {str(key)!r}: {exc}"
    if settings.max_body < 1:
        return f"--max-body must be positive, got {settings.max_body!r}"
    return None


def run(args: argparse.Namespace) -> int:
    settings = Settings(
        spec=str(Path(args.spec).resolve()),
        engine=args.engine,
        opa_url=args.opa_url,
        opa_timeout=args.opa_timeout,
        opa_publish=getattr(args, "opa_publish", False),
        failure_mode=args.failure_mode,
        max_body=args.max_body,
    )
    cert, key = Path(args.cert), Path(args.key)
    if args.workers < 1:
        return _fail(f"--workers must be at least 1, got {args.workers!r}")

    metrics_dir = tempfile.mkdtemp(prefix="meshc-webhook-metrics-")
    # Set before anything imports prometheus_client, which reads it at import;
    # the workers inherit both variables.
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[SETTINGS_ENV] = settings.to_env()
    try:
        problem = preflight(settings, cert, key)
        if problem:
            return _fail(problem)
        return _serve(args, settings, cert, key)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(args: argparse.Namespace, settings: Settings, cert: Path, key: Path) -> int:
    server = build_server(
        TARGET,
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=THREADS.get(settings.engine, 1),
        cert=cert,
        key=key,
    )
    server.serve()
    return EXIT_OK


def build_server(
    target: str, *, host: str, port: int, workers: int, threads: int, cert: Path, key: Path
) -> Any:
    """The production server for a WSGI factory ``target`` (also used by bench/)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, SSLProtocols

    server = Granian(
        target,
        factory=True,
        interface=Interfaces.WSGI,
        address=host,
        port=port,
        workers=workers,
        blocking_threads=threads,
        backpressure=max(BACKPRESSURE, threads),
        http=HTTPModes.auto,
        ssl_cert=cert,
        ssl_key=key,
        ssl_protocol_min=SSLProtocols.tls12,
        workers_kill_timeout=DRAIN_TIMEOUT,
        respawn_failed_workers=True,
        # A new worker accepts only once its app is loaded; the old one keeps
        # serving meanwhile, so a short pause between the two is enough.
        respawn_interval=0.5,
        log_access=False,
    )

    def rebuild_tls() -> None:
        # granian resolves the paths once; a Kubernetes Secret volume swaps a
        # symlink on rotation, so resolve again before the new workers start.
        server.build_ssl_context(cert, key, None, SSLProtocols.tls12, None, [], False)

    server.on_reload(rebuild_tls)
    watcher = CertWatcher(
        cert, key, on_change=server.signal_handler_reload, interval=CERT_POLL_SECONDS
    )
    server.on_startup(watcher.start)
    server.on_shutdown(watcher.stop)
    return server
