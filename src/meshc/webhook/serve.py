"""``meshc webhook serve``: the app under granian, over TLS, with several workers.

Why granian (figures in docs/webhook.md): on the same Flask app it answered
about three times the requests of gunicorn's gthread worker with a p99 eight
times lower, and it already has what the API server needs — TLS 1.2+, HTTP/1.1
keep-alive, a graceful drain on SIGTERM. Certificate rotation and spec reload
replace the workers: the supervisor watches the certificate and key and the
spec, and once a new version is complete and valid it starts new workers.

granian's own respawn (SIGHUP) is not used for that. It stops each old worker
half a second after starting its replacement, whether or not that one listens
yet, and a stopping granian worker drops connections: it closes its own
listening socket (resetting what is queued there), drops the TLS handshakes in
flight, and closes connections whose first request has not arrived (hyper's
graceful shutdown only waits for requests already read).

So the supervisor replaces workers by generation, and a worker only stops
once no connection can still be on its way to it. The supervisor opens each
worker's listening socket itself, all in the port's SO_REUSEPORT group as
granian's would be, and attaches a small BPF program to the group that picks,
for each new connection, one socket of the current generation. A reload
opens new sockets, starts new workers on them and waits until they have
loaded the app; then it steers new connections to them. The old workers keep
running, with no new connection, until their accept queues have been empty
for a moment: what they accepted has had time to send its request and be
answered, and keep-alive clients have been told ``Connection: close``. Only
then do they get SIGTERM, and their sockets are closed.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import logging
import mmap
import multiprocessing
import os
import select
import shutil
import signal
import socket
import ssl
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from granian._granian import SocketHolder
from granian.log import logger
from granian.server import mp

from meshc.exitcodes import ExitCode, UsageError
from meshc.policies.engine import ENGINES
from meshc.webhook.certwatch import CertWatcher, FileWatcher
from meshc.webhook.settings import MULTIPROC_ENV, SETTINGS_ENV, Settings

TARGET = "meshc.webhook.wsgi:create"
# Python threads per worker running the app: each engine's own (its server_threads).
THREADS = {name: engine.server_threads for name, engine in ENGINES.items()}
# In-flight requests a worker accepts before the rest wait in the listen queue.
BACKPRESSURE = 64
# The kubelet's default termination grace period is 30 s; finish well within it.
DRAIN_TIMEOUT = 25
CERT_POLL_SECONDS = 1.0
SPEC_POLL_SECONDS = 1.0
# How long a retiring generation keeps running once its accept queue is empty
# and no new connection reaches it: for the handshakes it accepted to finish
# and their first request to arrive, and for each keep-alive client it serves
# to send one more request and be told to close.
RETIRE_GRACE = 1.0
# New workers that have not loaded the app by then abandon the reload.
START_TIMEOUT = 60.0
# A worker loads the TLS pair right after the app; one that cannot, dies
# within milliseconds of saying it is ready.
START_SETTLE = 0.2
SO_ATTACH_REUSEPORT_CBPF = 51  # <asm-generic/socket.h>; not in the socket module
# Classic BPF (<linux/filter.h>) for steer(): load, modulo, jump if equal, return.
BPF_LD_W_ABS, BPF_MOD_K, BPF_JEQ_K, BPF_RET_K = 0x20, 0x94, 0x15, 0x06
SKF_AD_RANDOM = 0xFFFFF000 + 56  # SKF_AD_OFF + SKF_AD_RANDOM, as an unsigned offset
# granian's server is untyped: subclassed as Any.
MPServer: Any = mp.MPServer

log = logging.getLogger("meshc.webhook")


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
    _watch_spec(server, settings, spec)
    server.serve()
    return ExitCode.OK


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
    target: str,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    cert: Path,
    key: Path,
    snapshots: Path | None = None,
) -> Any:
    """The production server for a WSGI factory ``target`` (also used by bench/).

    With ``snapshots``, a directory of its own, workers load copies of the
    certificate and key taken there (see TlsSnapshots), not the files.
    """
    from granian.constants import HTTPModes, Interfaces, SSLProtocols

    tls = TlsSnapshots(cert, key, snapshots) if snapshots else None
    served = tls.first() if tls else (cert, key)
    server = GenerationServer(
        target,
        factory=True,
        interface=Interfaces.WSGI,
        address=host,
        port=port,
        workers=workers,
        blocking_threads=threads,
        backpressure=max(BACKPRESSURE, threads),
        http=HTTPModes.auto,
        ssl_cert=served[0],
        ssl_key=served[1],
        ssl_protocol_min=SSLProtocols.tls12,
        workers_kill_timeout=DRAIN_TIMEOUT,
        respawn_failed_workers=True,
        # Only where granian's own respawn is used (see GenerationServer).
        respawn_interval=0.5,
        log_access=False,
    )

    def rebuild_tls() -> None:
        # granian resolves the paths once; a Kubernetes Secret volume swaps a
        # symlink on rotation, so take the pair again before new workers start.
        pair = tls.take() if tls else (cert, key)
        server.build_ssl_context(*pair, None, SSLProtocols.tls12, None, [], False)

    server.on_reload(rebuild_tls)
    watcher = CertWatcher(
        cert, key, on_change=server.signal_handler_reload, interval=CERT_POLL_SECONDS
    )
    server.on_startup(watcher.start)
    server.on_shutdown(watcher.stop)
    return server


class TlsSnapshots:
    """Copies of the certificate and key, checked to load together, for the workers to load.

    A worker reads the pair from disk when it starts, and not only after a
    rotation: at start-up, and when granian respawns one that crashed. By
    then a Secret volume may have deleted the files the supervisor last
    resolved (the kubelet removes the previous version), and a worker that
    cannot open its certificate dies, again and again. A copy stays until
    the next one is in use.
    """

    def __init__(self, cert: Path, key: Path, directory: Path):
        self.cert, self.key, self.directory = cert, key, directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.taken = 0

    def take(self) -> tuple[Path, Path]:
        """Copy the pair now on disk; OSError or ssl.SSLError if it is not a pair (yet)."""
        number = self.taken + 1
        copies = self.directory / f"tls-{number}.crt", self.directory / f"tls-{number}.key"
        for source, copy, mode in zip((self.cert, self.key), copies, (0o644, 0o600), strict=True):
            data = source.read_bytes()
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        # What the workers will load, checked as they will load it: two reads
        # can straddle a rotation that replaces the files one after the other.
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(*copies)
        self.taken = number
        for stale in (f"tls-{number - 2}.crt", f"tls-{number - 2}.key"):
            (self.directory / stale).unlink(missing_ok=True)
        return copies

    def first(self) -> tuple[Path, Path]:
        """The pair to start with: preflight saw it load, but a rotation may be under way."""
        for _ in range(20):
            try:
                return self.take()
            except (OSError, ssl.SSLError):
                time.sleep(0.25)
        return self.take()


# -- replacing workers by generation ----------------------------------------------------------


def steer(sock: socket.socket, positions: Sequence[int]) -> None:
    """Give each new connection on the port to one of ``positions`` in its SO_REUSEPORT group.

    A classic BPF program attached to the group (through any member): it
    picks one of ``positions`` at random, the position of the socket that
    gets the connection.
    """
    insns = [(BPF_LD_W_ABS, 0, 0, SKF_AD_RANDOM), (BPF_MOD_K, 0, 0, len(positions))]
    for n, position in enumerate(positions[:-1]):
        insns += [(BPF_JEQ_K, 0, 1, n), (BPF_RET_K, 0, 0, position)]
    insns.append((BPF_RET_K, 0, 0, positions[-1]))
    code = b"".join(struct.pack("=HBBI", *insn) for insn in insns)
    program = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(insns), ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)


def queued(sock: socket.socket) -> int:
    """Connections in a listening socket's accept queue (its ``tcpi_unacked``)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
    count: int = struct.unpack_from("=I", info, 24)[0]
    return count


class PortGroup:
    """The listening sockets on the port, numbered as the kernel numbers them.

    socket(7), SO_ATTACH_REUSEPORT_CBPF: the sockets of a group are numbered
    in the order they start listening; when one closes, the last one takes
    its number. The supervisor holds every socket, so a close here is the
    last one (workers close their own copies) and takes effect at once.
    """

    def __init__(self, host: str, port: int, backlog: int):
        self.host, self.port, self.backlog = host, port, backlog
        self.socks: list[socket.socket] = []

    def open(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        try:
            # What granian sets on its own listeners.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.host, self.port))
            sock.listen(self.backlog)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]  # after port 0, every socket on the same port
        self.socks.append(sock)
        return sock

    def steer(self, to: Sequence[socket.socket]) -> None:
        steer(self.socks[0], [n for n, sock in enumerate(self.socks) if sock in to])

    def close(self, sock: socket.socket, keep: Sequence[socket.socket]) -> None:
        """Close ``sock`` without a new connection going anywhere but to ``keep`` meanwhile."""
        after = list(self.socks)
        after[after.index(sock)] = after[-1]
        after.pop()
        # Steer to positions that hold a kept socket both before and after the
        # close; past the end, the kernel hashes over what is left, which is
        # only safe once that is all kept.
        safe = [
            n
            for n, held in enumerate(self.socks)
            if held in keep
            and (after[n] in keep if n < len(after) else all(s in keep for s in after))
        ]
        steer(self.socks[0], safe)
        sock.close()
        self.socks = after

    def close_all(self) -> None:
        for sock in self.socks:
            sock.close()
        self.socks = []


def close_when_retiring(app: Callable[..., Any], retiring: mmap.mmap) -> Callable[..., Any]:
    """``app``, answering HTTP/1 with ``Connection: close`` once its generation retires.

    A keep-alive client then sends its next request on a new connection, to
    the new generation, and the old one is left with no connection a client
    may be writing to when it stops. HTTP/2 needs nothing: a stopping worker
    sends GOAWAY, which tells the client which requests were not taken.
    """

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not retiring[0] or not str(environ.get("SERVER_PROTOCOL", "")).startswith("HTTP/1"):
            return app(environ, start_response)

        def closing(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return app(environ, closing)

    return wsgi


class Generation:
    """Workers started together: their listening sockets, and what they share with the supervisor."""

    def __init__(self, socks: list[socket.socket], backlog: int):
        self.socks = socks
        # What granian's worker listens on; the stub omits the constructor.
        self.holders = [
            SocketHolder(sock.fileno(), False, backlog)  # type: ignore[call-arg]
            for sock in socks
        ]
        # Each worker writes a byte here once its app is loaded.
        self.ready_r, self.ready_w = os.pipe()
        os.set_blocking(self.ready_r, False)
        os.set_blocking(self.ready_w, False)  # a full pipe (nobody reading) must not block a worker
        # Shared memory across fork: the supervisor sets it when they retire.
        self.retiring = mmap.mmap(-1, 1)
        self.pipe_open = True

    def close_pipe(self) -> None:
        if self.pipe_open:
            self.pipe_open = False
            os.close(self.ready_r)
            os.close(self.ready_w)


class GenerationServer(MPServer):  # type: ignore[misc]
    """granian's process server, reloading by generation (module docstring).

    Linux only: the supervisor opens the workers' sockets and forks the
    workers. Elsewhere granian opens them; there, and if the kernel refuses
    the BPF program, reloads use granian's own respawn.
    """

    bind_port: int
    wrks: list[Any]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.group = PortGroup(self.bind_addr, self.bind_port, self.backlog)
        self.generations: list[Generation] = []
        self.own_sockets = (
            sys.platform == "linux"
            and multiprocessing.get_start_method() == "fork"
            and not self.bind_uds
        )
        self.steerable = self.own_sockets

    @property
    def current(self) -> Generation:
        return self.generations[-1]

    def _init_shared_socket(self) -> None:
        if not self.own_sockets:
            super()._init_shared_socket()
            return
        self._ssp, self._sso = None, None
        self._open_generation()
        self.bind_port = self.group.port

    def _open_generation(self) -> Generation:
        generation = Generation([self.group.open() for _ in range(self.workers)], self.backlog)
        self.generations.append(generation)
        return generation

    def _close_generation(self, generation: Generation, keep: Generation) -> None:
        for sock in generation.socks:
            self.group.close(sock, keep.socks)
        self.group.steer(keep.socks)
        generation.close_pipe()
        self.generations.remove(generation)

    def _drop_shared_socket(self) -> None:
        self.group.close_all()
        for generation in self.generations:
            generation.close_pipe()
        super()._drop_shared_socket()

    def _spawn_worker(self, idx: int, target: Callable[..., None], callback_loader: Any) -> Any:
        if not self.own_sockets:
            return super()._spawn_worker(idx, target, callback_loader)
        generation = self.current
        mine = generation.socks[idx]
        others = [sock for sock in self.group.socks if sock is not mine]
        pipes = [g for g in self.generations if g is not generation]

        def worker(*args: Any) -> None:
            # First thing in the forked worker. A listening socket stays in
            # the port's group while any process holds it: the supervisor
            # alone must hold the others, to know when they leave.
            for sock in others:
                sock.close()
            for g in pipes:
                g.close_pipe()
            mine.detach()  # the worker's Rust listener owns the descriptor now
            # Forked with the supervisor's handlers, which only set flags in
            # this copy of it: a SIGTERM before granian installs the worker's
            # own (while the app loads) would be lost and the worker would
            # serve on until killed. It has no connection yet: just exit.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
            target(*args)

        self._shd, self._sfd = generation.holders[idx], mine.fileno()
        return super()._spawn_worker(idx, worker, callback_loader)

    def _load_app(self) -> Any:
        """Load the app in a worker, and tell the supervisor it is loaded."""
        from granian._internal import load_target

        app = load_target(self.target, wd=self.working_dir, factory=self.factory)
        if not self.own_sockets:
            return app
        generation = self.current
        app = close_when_retiring(app, generation.retiring)
        try:
            os.write(generation.ready_w, b"+")
        except BlockingIOError:
            pass  # a respawn after a crash: nobody is waiting for it
        return app

    def serve(
        self,
        spawn_target: Callable[..., None] | None = None,
        target_loader: Callable[..., Any] | None = None,
        wrap_loader: bool = True,
    ) -> None:
        if target_loader is None:
            target_loader, wrap_loader = self._load_app, False
        super().serve(spawn_target, target_loader, wrap_loader)

    def _reload(self, spawn_target: Callable[..., None], target_loader: Any) -> None:
        if self.steerable:
            try:
                # Until the new workers are up, new connections stay with these.
                self.group.steer(self.current.socks)
            except OSError as exc:
                logger.warning(
                    f"Cannot steer connections between listeners ({exc}); using granian's respawn"
                )
                self.steerable = False
        if not self.steerable:
            super()._reload(spawn_target, target_loader)
            return
        logger.info("Reloading: starting new workers on new listeners")
        self.reload_signal = False
        self.respawned_wrks.clear()
        self.main_loop_interrupt.clear()
        old, retiring = self.current, list(self.wrks)
        try:
            self._env_loader(self.env_files)
            self._call_hooks(self.hooks_reload)
            new = self._open_generation()
        except (OSError, ssl.SSLError) as exc:
            logger.error(f"Cannot reload ({exc}); the running workers keep serving")
            for sock in self.group.socks[len(old.socks) :]:
                self.group.close(sock, old.socks)
            return
        started = [
            self._spawn_worker(idx=idx, target=spawn_target, callback_loader=target_loader)
            for idx in range(self.workers)
        ]
        for wrk in started:
            wrk.interrupt_by_parent = True  # while starting, a failure abandons the reload
            wrk.start()
        if not self._started(new, started):
            if not self.interrupt_signal:
                logger.error("The new workers did not start; the running workers keep serving")
            self._stop(started)
            self._close_generation(new, keep=old)
            return
        now = time.monotonic()
        for wrk in started:
            wrk.interrupt_by_parent = False  # from here, granian respawns one that crashes
            self.respawned_wrks[wrk.idx] = now
        for wrk in retiring:
            wrk.interrupt_by_parent = True
        self.wrks = started
        self.group.steer(new.socks)
        old.retiring[0] = 1
        self._drain(old)
        if self.interrupt_signal:
            self.wrks = [*started, *retiring]  # all stopped together by shutdown()
            return
        self._stop(retiring)
        self._close_generation(old, keep=new)
        self._metrics.incr_spawn(len(started))
        logger.info("Reloaded: the previous workers are stopped")

    def _started(self, generation: Generation, workers: list[Any]) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        ready = 0
        while ready < len(workers):
            if self.interrupt_signal or time.monotonic() > deadline:
                return False
            if not all(wrk.is_alive() for wrk in workers):
                return False
            if select.select([generation.ready_r], [], [], 0.05)[0]:
                ready += len(os.read(generation.ready_r, 64))
        settled = time.monotonic() + START_SETTLE
        while time.monotonic() < settled:
            if self.interrupt_signal or not all(wrk.is_alive() for wrk in workers):
                return False
            time.sleep(0.05)
        return True

    def _drain(self, generation: Generation) -> None:
        """Return once ``generation`` has had nothing queued for RETIRE_GRACE seconds."""
        deadline = time.monotonic() + DRAIN_TIMEOUT
        quiet_since = time.monotonic()
        while not self.interrupt_signal:
            now = time.monotonic()
            if now >= deadline:
                return
            if any(queued(sock) for sock in generation.socks):
                quiet_since = now
            elif now - quiet_since >= RETIRE_GRACE:
                return
            time.sleep(0.05)

    def _stop(self, workers: Iterable[Any]) -> None:
        """SIGTERM, as granian stops workers: each finishes its requests, up to DRAIN_TIMEOUT."""
        workers = list(workers)
        for wrk in workers:
            wrk.terminate()
        deadline = time.monotonic() + DRAIN_TIMEOUT
        for wrk in workers:
            # granian's own watcher thread reaps the worker too: until it has
            # recorded the exit status, is_alive() can still say True.
            while wrk.is_alive() and time.monotonic() < deadline:
                wrk.join(0.05)
            if wrk.is_alive():
                logger.warning(f"Killing worker-{wrk.idx + 1} after it refused to stop")
                wrk.kill()
                wrk.join()
