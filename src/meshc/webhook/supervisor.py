"""The process that runs the webhook's workers and replaces them when the certificate rotates.

The interface is small (:class:`Supervisor`, built by :func:`build_server`):
``serve()`` runs until SIGTERM or SIGINT, ``rotate()`` (or SIGHUP) replaces
every worker so that the new ones load the TLS pair again, and
``on_startup`` / ``on_shutdown`` hooks run in the supervisor around the
workers' lives. ``mode`` says how workers are replaced: ``"generations"``
(below) or ``"respawn"``, granian's own. A spec reload needs none of this:
each worker swaps its own state (webhook/reload.py).

What this module rests on, and why
----------------------------------
granian loads the TLS pair when a worker starts and cannot reload it in
place, so a rotation replaces the workers. granian's own respawn (SIGHUP,
``respawn_interval``) drops connections: it stops each old worker half a
second after starting its replacement, whether or not that one listens yet,
and a stopping granian worker closes its listening socket (resetting what
is queued there), drops the TLS handshakes in flight, and closes
connections whose first request has not arrived. Measured with
``bench/bench_rotation.py`` (30 rotations under load, 2 workers; figures in
docs/reliability.md): granian's respawn failed 19 connections and 3
keep-alive requests at ~327 new connections/s, and more on a busier machine;
replacing workers by generation failed none, in three runs at ~216 to ~439
new connections/s.

Replacing by generation takes what granian does not offer publicly:

- a subclass of granian's process server (``granian.Granian``, i.e.
  ``granian.server.mp.MPServer``) overriding its private methods
  ``_init_shared_socket``, ``_drop_shared_socket``, ``_spawn_worker`` and
  ``_reload``, and calling ``_respawn_workers``, ``_call_hooks``,
  ``_env_loader`` and its private state (``wrks``, ``respawned_wrks``, ...);
- ``granian._granian.SocketHolder``, to give each worker a listening socket
  the supervisor opened, and ``granian._internal.load_target`` to load the
  app in a worker;
- Linux: workers forked (not spawned), ``SO_REUSEPORT`` socket groups and a
  classic BPF program attached to the group (``SO_ATTACH_REUSEPORT_CBPF``).

pyproject.toml pins granian to ``>=2.8.7,<2.9``: a new minor release must
pass tests/webhook/test_supervisor.py (which also checks
:func:`generations_problem` finds nothing) and
tests/webhook/test_serve_lifecycle.py (rotations under load) first.

The fallback is granian's own respawn, used as is:

- when :func:`generations_problem` finds the private API not as written
  against (a name or signature gone, ``SocketHolder`` not taking a
  descriptor, a free-threaded build's thread server), or the platform
  lacks it (not Linux, or workers not forked): :func:`build_server` returns
  granian's server with none of this module's overrides;
- when the kernel refuses the BPF program, and for one rotation whose new
  generation does not start (a worker dies or no app within START_TIMEOUT):
  the workers are respawned one by one, on the listening sockets the
  supervisor holds, so at least nothing queued there is reset.

Each fallback is logged with its reason.

How a generation replaces the workers
-------------------------------------
The supervisor opens each worker's listening socket itself, all in the
port's SO_REUSEPORT group as granian's would be, and attaches a small BPF
program to the group that picks, for each new connection, one socket of the
current generation. A rotation opens new sockets, starts new workers on
them and waits until they have loaded the app; then it steers new
connections to them. The old workers keep running, with no new connection,
until their accept queues have been empty for a moment: what they accepted
has had time to send its request and be answered, and keep-alive clients
have been told ``Connection: close``. Only then do they get SIGTERM, and
their sockets are closed.
"""

from __future__ import annotations

import ctypes
import inspect
import logging
import mmap
import multiprocessing
import os
import select
import signal
import socket
import ssl
import struct
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from granian import Granian
from granian.log import logger

Mode = Literal["generations", "respawn"]
# In-flight requests a worker accepts before the rest wait in the listen queue.
BACKPRESSURE = 64
# The kubelet's default termination grace period is 30 s; finish well within it.
DRAIN_TIMEOUT = 25
# How long a retiring generation keeps running once its accept queue is empty
# and no new connection reaches it: for the handshakes it accepted to finish
# and their first request to arrive, and for each keep-alive client it serves
# to send one more request and be told to close.
RETIRE_GRACE = 1.0
# New workers that have not loaded the app by then are given up on.
START_TIMEOUT = 60.0
# A worker loads the TLS pair right after the app; one that cannot, dies
# within milliseconds of saying it is ready.
START_SETTLE = 0.2
# granian's respawn stops an old worker this long after starting its replacement.
RESPAWN_INTERVAL = 0.5
SO_ATTACH_REUSEPORT_CBPF = 51  # <asm-generic/socket.h>; not in the socket module
# Classic BPF (<linux/filter.h>) for steer(): load, modulo, jump if equal, return.
BPF_LD_W_ABS, BPF_MOD_K, BPF_JEQ_K, BPF_RET_K = 0x20, 0x94, 0x15, 0x06
SKF_AD_RANDOM = 0xFFFFF000 + 56  # SKF_AD_OFF + SKF_AD_RANDOM, as an unsigned offset
# granian's server is untyped: subclassed as Any.
ProcessServer: Any = Granian

log = logging.getLogger("meshc.webhook")


class Supervisor(Protocol):
    """What ``meshc webhook serve`` (and bench/) asks of the process that runs the workers."""

    @property
    def mode(self) -> Mode:
        """How workers are replaced now: by generation, or by granian's respawn."""
        ...

    def serve(self) -> None:
        """Start the workers and run until SIGTERM or SIGINT, which drain them."""
        ...

    def rotate(self) -> None:
        """Replace every worker, so they load the TLS pair again; returns at once, from any thread."""
        ...

    def on_startup(self, hook: Callable[[], object]) -> object:
        """Run ``hook`` in the supervisor before the first workers start."""
        ...

    def on_shutdown(self, hook: Callable[[], object]) -> object:
        """Run ``hook`` in the supervisor once the workers have stopped."""
        ...


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
) -> Supervisor:
    """The server for a WSGI factory ``target``: replacing by generation if it can, else granian's.

    With ``snapshots``, a directory of its own, workers load copies of the
    certificate and key taken there (see TlsSnapshots), not the files.
    """
    from granian.constants import HTTPModes, Interfaces, SSLProtocols

    tls = TlsSnapshots(cert, key, snapshots) if snapshots else None
    served = tls.first() if tls else (cert, key)
    options: dict[str, Any] = {
        "factory": True,
        "interface": Interfaces.WSGI,
        "address": host,
        "port": port,
        "workers": workers,
        "blocking_threads": threads,
        "backpressure": max(BACKPRESSURE, threads),
        "http": HTTPModes.auto,
        "ssl_cert": served[0],
        "ssl_key": served[1],
        "ssl_protocol_min": SSLProtocols.tls12,
        "workers_kill_timeout": DRAIN_TIMEOUT,
        "respawn_failed_workers": True,
        # Where granian's own respawn is used.
        "respawn_interval": RESPAWN_INTERVAL,
        "log_access": False,
    }
    problem = generations_problem()
    server: GenerationServer | Respawning | None = None
    if problem is None:
        try:
            server = GenerationServer(target, **options)
        except AttributeError as exc:  # private state of granian's that is not there
            problem = f"granian's process server is not as expected: {exc}"
    if server is None:
        server = Respawning(Granian(target, **options), problem or "")
        # Once granian has set up its logging: said where its own lines go.
        logger.warning(
            f"Replacing workers with granian's own respawn ({problem}); "
            "a certificate rotation may drop connections"
        )
    granian_server: Any = server.granian

    def rebuild_tls() -> None:
        # granian resolves the paths once; a Kubernetes Secret volume swaps a
        # symlink on rotation, so take the pair again before new workers start.
        pair = tls.take() if tls else (cert, key)
        granian_server.build_ssl_context(*pair, None, SSLProtocols.tls12, None, [], False)

    granian_server.on_reload(rebuild_tls)
    return server


# What GenerationServer calls or overrides on granian's process server, with
# the parameters it passes (after self).
PRIVATE_METHODS: dict[str, tuple[str, ...]] = {
    "_init_shared_socket": (),
    "_drop_shared_socket": (),
    "_spawn_worker": ("idx", "target", "callback_loader"),
    "_reload": ("spawn_target", "target_loader"),
    "_respawn_workers": ("workers", "spawn_target", "target_loader", "delay"),
    "_call_hooks": ("hooks",),
    "serve": ("spawn_target", "target_loader", "wrap_loader"),
    "signal_handler_reload": ("args", "kwargs"),
    "build_ssl_context": ("cert", "key", "password", "proto", "ca", "crl", "client_verify"),
}


def generations_problem() -> str | None:
    """Why workers cannot be replaced by generation here, or None.

    Checks what this module takes from granian beyond its public API, as far
    as it can without starting a server; the rest (its private state) is
    checked when GenerationServer is built.
    """
    if sys.platform != "linux":
        return f"replacing by generation needs Linux, not {sys.platform}"
    if multiprocessing.get_start_method() != "fork":
        return f"workers are started by {multiprocessing.get_start_method()!r}, not forked"
    try:
        from granian._granian import SocketHolder
        from granian._internal import load_target
        from granian.server import mp
    except ImportError as exc:
        return f"granian's private API has changed: {exc}"
    if not (isinstance(Granian, type) and issubclass(Granian, mp.MPServer)):
        return "granian's server is not its process server (a free-threaded build?)"
    if not callable(load_target):
        return "granian._internal.load_target is not a function"
    for name, expected in PRIVATE_METHODS.items():
        method = getattr(Granian, name, None)
        if method is None:
            return f"granian's server has no {name}()"
        params = tuple(inspect.signature(method).parameters)
        if params[:1] == ("self",):
            params = params[1:]  # not on a static method
        if params != expected:
            return f"granian's {name}() takes {params}, not {expected}"
    with socket.socket() as probe:
        try:
            holder = SocketHolder(probe.fileno(), False, 128)  # type: ignore[call-arg]
            fd = holder.get_fd()
        except Exception as exc:  # noqa: BLE001 - any failure means: not as expected
            return f"granian's SocketHolder does not take a descriptor: {exc!r}"
        if fd != probe.fileno():
            return f"granian's SocketHolder holds descriptor {fd!r}, not {probe.fileno()}"
    return None


class Respawning:
    """granian's server as granian has it: a rotation respawns the workers one by one."""

    mode: Mode = "respawn"

    def __init__(self, granian: Any, reason: str):
        self.granian = granian
        self.reason = reason

    def serve(self) -> None:
        self.granian.serve()

    def rotate(self) -> None:
        self.granian.signal_handler_reload()

    def on_startup(self, hook: Callable[[], object]) -> object:
        return self.granian.on_startup(hook)

    def on_shutdown(self, hook: Callable[[], object]) -> object:
        return self.granian.on_shutdown(hook)


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
        from granian._granian import SocketHolder

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


class GenerationServer(ProcessServer):  # type: ignore[misc]
    """granian's process server, replacing workers by generation (module docstring).

    Built only where :func:`generations_problem` finds nothing: Linux, forked
    workers, granian's private API as expected. If the kernel refuses the
    BPF program, or a new generation does not start, granian's own respawn
    replaces the workers instead (on the sockets this server holds).
    """

    bind_port: int
    wrks: list[Any]
    # Read or written here, set by granian's own __init__: checked there.
    GRANIAN_STATE = (
        "bind_addr",
        "bind_port",
        "backlog",
        "workers",
        "target",
        "working_dir",
        "factory",
        "env_files",
        "wrks",
        "respawned_wrks",
        "main_loop_interrupt",
        "interrupt_signal",
        "reload_signal",
        "hooks_reload",
        "respawn_interval",
        "_env_loader",
        "_metrics",
        "_shd",
        "_sfd",
        "_ssp",
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        missing = [name for name in self.GRANIAN_STATE if not hasattr(self, name)]
        if missing:
            raise AttributeError(f"no {', '.join(missing)}")
        self.group = PortGroup(self.bind_addr, self.bind_port, self.backlog)
        self.generations: list[Generation] = []
        self.steerable = True

    @property
    def granian(self) -> Any:
        return self

    @property
    def mode(self) -> Mode:
        return "generations" if self.steerable else "respawn"

    def rotate(self) -> None:
        self.signal_handler_reload()

    @property
    def current(self) -> Generation:
        return self.generations[-1]

    def _init_shared_socket(self) -> None:
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

    def _respawn(self, spawn_target: Callable[..., None], target_loader: Any) -> None:
        """granian's own respawn, one worker after the other, on the sockets of the current generation."""
        self._respawn_workers(
            list(range(self.workers)), spawn_target, target_loader, delay=self.respawn_interval
        )

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
        except (OSError, ssl.SSLError) as exc:
            logger.error(f"Cannot reload ({exc}); the running workers keep serving")
            return
        try:
            new = self._open_generation()
        except OSError as exc:
            logger.error(f"Cannot open new listeners ({exc}); respawning the workers instead")
            for sock in self.group.socks[len(old.socks) :]:
                self.group.close(sock, old.socks)
            self._respawn(spawn_target, target_loader)
            return
        started = [
            self._spawn_worker(idx=idx, target=spawn_target, callback_loader=target_loader)
            for idx in range(self.workers)
        ]
        for wrk in started:
            wrk.interrupt_by_parent = True  # while starting, a failure abandons the generation
            wrk.start()
        if not self._started(new, started):
            self._stop(started)
            self._close_generation(new, keep=old)
            if not self.interrupt_signal:
                logger.error("The new workers did not start; respawning the workers instead")
                self._respawn(spawn_target, target_loader)
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
