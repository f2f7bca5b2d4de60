"""``meshc webhook serve``: the app under granian, over TLS, with several workers.

Why granian (figures in docs/webhook.md): on the same Flask app it answered
about three times the requests of gunicorn's gthread worker with a p99 eight
times lower, and it already has what the API server needs — TLS 1.2+, HTTP/1.1
keep-alive, a graceful drain on SIGTERM, and a graceful worker respawn on
SIGHUP. Certificate rotation and spec reload are built on that respawn: the
supervisor watches the certificate and key and the spec, and once a new
version is complete and valid it respawns the workers one at a time, so one
always accepts and a handshake never meets a half-rotated pair.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

from meshc.webhook.certwatch import CertWatcher, FileWatcher
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
SPEC_POLL_SECONDS = 1.0

log = logging.getLogger("meshc.webhook")


def _fail(message: str) -> int:
    print(f"meshc webhook serve: {message}", file=sys.stderr)
    return EXIT_USAGE


def preflight(settings: Settings, cert: Path, key: Path, spec: bytes) -> str | None:
    """Refuse to start on a bad spec, policies or TLS pair, with the reason, before any worker forks."""
    from meshc.webhook.reload import config_problem

    if settings.policies and not Path(settings.policies).is_dir():
        return f"--policies must be a directory of .rego files, got {settings.policies!r}"
    try:
        text = spec.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"cannot read the spec {settings.spec!r}: {exc}"
    # Everything a worker will load, loaded once here: a worker that cannot
    # start would only be respawned in a loop.
    problem: str | None = config_problem(settings, text)
    if problem:
        return problem
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        return f"cannot use the certificate {str(cert)!r} with the key {str(key)!r}: {exc}"
    if settings.max_body < 1:
        return f"--max-body must be positive, got {settings.max_body!r}"
    if settings.decision_timeout <= 0:
        return f"--decision-timeout must be positive, got {settings.decision_timeout!r}"
    return None


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        return _fail(f"--workers must be at least 1, got {args.workers!r}")
    runtime = Path(tempfile.mkdtemp(prefix="meshc-webhook-"))
    spec = Path(args.spec).resolve()
    settings = Settings(
        spec=str(spec),
        engine=args.engine,
        opa_url=args.opa_url,
        opa_timeout=args.opa_timeout,
        opa_publish=args.opa_publish,
        failure_mode=args.failure_mode,
        max_body=args.max_body,
        decision_timeout=args.decision_timeout,
        policies=str(Path(args.policies).resolve()) if args.policies else "",
        spec_snapshot=str(runtime / "spec" / spec.name),
        status_file=str(runtime / "config-status.json"),
    )
    cert, key = Path(args.cert), Path(args.key)
    (runtime / "metrics").mkdir()
    (runtime / "spec").mkdir()
    # Set before anything imports prometheus_client, which reads it at import;
    # the workers inherit all of them.
    os.environ[MULTIPROC_ENV] = str(runtime / "metrics")
    os.environ[SETTINGS_ENV] = settings.to_env()
    if settings.policies:
        from meshc.policies.modules import POLICIES_ENV

        os.environ[POLICIES_ENV] = settings.policies
    try:
        try:
            # Read once: what is validated is exactly what the workers get.
            text = spec.read_bytes()
        except OSError as exc:
            return _fail(f"cannot read the spec {settings.spec!r}: {exc}")
        problem = preflight(settings, cert, key, text)
        if problem:
            return _fail(problem)
        return _serve(args, settings, cert, key, text)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def _serve(args: argparse.Namespace, settings: Settings, cert: Path, key: Path, spec: bytes) -> int:
    server = build_server(
        TARGET,
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=THREADS.get(settings.engine, 1),
        cert=cert,
        key=key,
    )
    _watch_spec(server, settings, spec)
    server.serve()
    return EXIT_OK


def _watch_spec(server: Any, settings: Settings, validated: bytes) -> None:
    from meshc.webhook.reload import SpecReload

    reload = SpecReload(settings)
    reload.take_snapshot(validated.decode("utf-8"))
    watcher = FileWatcher(
        (Path(settings.spec),),
        on_change=server.signal_handler_reload,
        accept=reload.accept,
        interval=SPEC_POLL_SECONDS,
        name="spec",
    )
    # What the workers start with, not what is on disk now: an edit made
    # since preflight is seen as a change on the first poll.
    watcher.current = hashlib.sha256(validated).hexdigest()
    server.on_startup(watcher.start)
    server.on_shutdown(watcher.stop)


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
