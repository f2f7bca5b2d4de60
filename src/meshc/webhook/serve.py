"""``meshc webhook serve``: the app under granian, over TLS, with several workers.

Why granian (figures in docs/webhook.md): on the same Flask app it answered
about three times the requests of gunicorn's gthread worker with a p99 eight
times lower, and it already has what the API server needs — TLS 1.2+, HTTP/1.1
keep-alive, a graceful drain on SIGTERM.

This module is the command: it checks everything once before any worker
starts (:func:`preflight`), prepares the settings the workers inherit, and
watches two things while serving. A new certificate and key that load
together make the supervisor replace the workers (webhook/supervisor.py, the
one module that rests on granian's private API). A new spec that loads is
snapshotted, and each worker swaps its state for one built from it, without
a new worker (webhook/reload.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import ssl
import tempfile
from pathlib import Path

from meshc.exitcodes import ExitCode, UsageError
from meshc.policies.engine import ENGINES
from meshc.webhook.certwatch import CertWatcher, FileWatcher
from meshc.webhook.settings import MULTIPROC_ENV, SETTINGS_ENV, Settings
from meshc.webhook.supervisor import Supervisor, build_server

TARGET = "meshc.webhook.wsgi:create"
# Python threads per worker running the app: each engine's own (its server_threads).
THREADS = {name: engine.server_threads for name, engine in ENGINES.items()}
CERT_POLL_SECONDS = 1.0
SPEC_POLL_SECONDS = 1.0


def preflight(settings: Settings, cert: Path, key: Path, spec: bytes) -> str | None:
    """Refuse to start on a bad spec, policies or TLS pair, with the reason, before any worker forks."""
    from meshc.webhook.reload import config_problem

    if settings.policies and not Path(settings.policies).is_dir():
        return f"--policies must be a directory of .rego files, got {settings.policies!r}"
    if settings.only_policies:
        from meshc.policies.data import only_policies

        try:
            only_policies({}, settings.only_policies)
        except ValueError as exc:
            return f"--policy: {exc}"
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
    return None


def run(args: argparse.Namespace) -> ExitCode:
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
        only_policies=tuple(sorted(set(getattr(args, "policy", ())))),
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
            raise UsageError(f"cannot read the spec {settings.spec!r}: {exc}") from None
        problem = preflight(settings, cert, key, text)
        if problem:
            raise UsageError(problem)
        return _serve(args, settings, cert, key, text, runtime)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def _serve(
    args: argparse.Namespace, settings: Settings, cert: Path, key: Path, spec: bytes, runtime: Path
) -> ExitCode:
    server = build_server(
        TARGET,
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=THREADS.get(settings.engine, 1),
        cert=cert,
        key=key,
        snapshots=runtime / "tls",
    )
    _watch_certificate(server, cert, key)
    _watch_spec(server, settings, spec)
    server.serve()
    # The workers are stopped and nothing is left to drain. As the interpreter
    # finalizes it puts the default handlers back, and a SIGTERM repeated now
    # (by whoever sent the first) would end a clean exit as killed.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    return ExitCode.OK


def _watch_certificate(server: Supervisor, cert: Path, key: Path) -> None:
    watcher = CertWatcher(cert, key, on_change=server.rotate, interval=CERT_POLL_SECONDS)
    server.on_startup(watcher.start)
    server.on_shutdown(watcher.stop)


def _watch_spec(server: Supervisor, settings: Settings, validated: bytes) -> None:
    from meshc.webhook.reload import SpecReload

    reload = SpecReload(settings)
    reload.take_snapshot(validated.decode("utf-8"))
    # accept() validates a changed spec and snapshots it; the workers follow
    # the snapshot themselves, so there is nothing more to do on a change.
    watcher = FileWatcher(
        (Path(settings.spec),),
        on_change=lambda: None,
        accept=reload.accept,
        interval=SPEC_POLL_SECONDS,
        name="spec",
    )
    # What the workers start with, not what is on disk now: an edit made
    # since preflight is seen as a change on the first poll.
    watcher.current = hashlib.sha256(validated).hexdigest()
    server.on_startup(watcher.start)
    server.on_shutdown(watcher.stop)
