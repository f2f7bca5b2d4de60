"""A keep-alive HTTPS load generator, shaped like the API server's webhook client.

Each connection is opened once (TLS, CA verified) and reused for every
request, one request in flight per connection, as the API server does.
Requests are pre-encoded so the generator spends its CPU on the wire, not on
JSON. Run in its own processes so it does not share a GIL with the server.

It shares the machine with the server it measures, so it is kept cheap: one
``selectors`` loop over non-blocking TLS sockets per process, with the
encryption in OpenSSL and a few lines of Python per request (asyncio's
streams and SSL protocol cost several times that, CPU the server would not
get). A latency is from the request's first byte written to its response's
last byte read.

Usage from Python: ``run_load(...)`` returns a :class:`Result`; as a script
it prints the result of one run as JSON (used by bench_webhook.py).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import select
import selectors
import socket
import ssl
import time
from dataclasses import dataclass, field

# How long, past the run's end, answers to requests already sent are waited for.
DRAIN_SECONDS = 30.0
RECV_SIZE = 256 * 1024


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, one per good response
    errors: int = 0
    elapsed: float = 0.0
    first_error: str = ""
    cpu: float = 0.0  # seconds of CPU the generator itself used

    def merge(self, other: Result) -> None:
        self.latencies.extend(other.latencies)
        self.errors += other.errors
        self.elapsed = max(self.elapsed, other.elapsed)
        self.first_error = self.first_error or other.first_error
        self.cpu += other.cpu

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def encode_request(host: str, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class ResponseError(Exception):
    pass


# The body length parse_head gives a chunked response. Go's net/http chunks any
# answer it has not buffered whole (over 2 kB): Kyverno's, which echoes the
# request's AdmissionReview with the response in it.
CHUNKED = -1


def parse_head(head: bytes) -> tuple[int, int]:
    """The status and Content-Length of a response head (without its blank line);
    CHUNKED for a chunked body."""
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise ResponseError(f"not an HTTP response: {head[:100]!r}") from None
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding":
            if value.strip().lower() != b"chunked":
                raise ResponseError(f"unexpected Transfer-Encoding: {value.strip()!r}")
            length = CHUNKED
    return status, length


def dechunk(data: bytes) -> bytes | None:
    """The body a complete chunked encoding at the start of ``data`` carries; None
    while the last chunk (and the trailers' blank line) has not arrived."""
    body, at = [], 0
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            return None
        size = int(data[at:end].split(b";", 1)[0], 16)  # a chunk extension is ignored
        start = end + 2
        if size == 0:
            if data[start : start + 2] == b"\r\n" or data.find(b"\r\n\r\n", end) >= 0:
                return b"".join(body)
            return None
        if len(data) < start + size + 2:
            return None
        body.append(data[start : start + size])
        at = start + size + 2


class Connection:
    """One keep-alive connection: at most one request in flight."""

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext):
        self.host, self.port, self.ctx = host, port, ctx
        self.sock: ssl.SSLSocket | None = None
        self.buffer = b""
        self.started = 0.0  # when the request in flight was sent; 0 when none is in flight
        self.head: tuple[int, int] | None = None  # status, length: once the head is in
        self.body_at = 0

    def open(self) -> ssl.SSLSocket:
        raw = socket.create_connection((self.host, self.port), timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self.ctx.wrap_socket(raw, server_hostname=self.host)  # handshake, blocking
        sock.setblocking(False)
        self.sock = sock
        return sock

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        self.buffer, self.started, self.head = b"", 0.0, None

    def send(self, payload: bytes) -> None:
        assert self.sock is not None
        self.buffer, self.head = b"", None
        self.started = time.perf_counter()
        view = memoryview(payload)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                # The socket buffer is full: wait for room (rare; a few kB fit).
                select.select([], [self.sock], [], 10)

    def receive(self) -> tuple[int, bytes] | None:
        """Read what has arrived; the status and body once the response is complete."""
        assert self.sock is not None
        while True:
            try:
                chunk = self.sock.recv(RECV_SIZE)
            except (ssl.SSLWantReadError, BlockingIOError):
                return None
            if not chunk:
                raise ResponseError("the server closed the connection")
            self.buffer += chunk
            if self.head is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    continue
                self.head = parse_head(self.buffer[:end])
                self.body_at = end + 4
            status, length = self.head
            if length == CHUNKED:
                body = dechunk(self.buffer[self.body_at :])
                if body is None:
                    continue
            elif len(self.buffer) - self.body_at >= length:
                body = self.buffer[self.body_at : self.body_at + length]
            else:
                continue
            self.buffer, self.head = b"", None
            return status, body


def _run(
    host: str,
    port: int,
    ca: str,
    bodies: list[bytes],
    path: str,
    connections: int,
    duration: float,
    max_requests: int,
    check: bytes,
) -> Result:
    cpu = time.process_time()
    ctx = ssl.create_default_context(cafile=ca)
    requests = [encode_request(host, path, b) for b in bodies]
    result = Result()
    selector = selectors.DefaultSelector()
    conns = [Connection(host, port, ctx) for _ in range(connections)]
    sent = 0

    def fail(c: Connection, exc: BaseException | str) -> None:
        result.errors += 1
        result.first_error = result.first_error or (exc if isinstance(exc, str) else repr(exc))
        if c.sock is not None:
            selector.unregister(c.sock)
        c.close()

    def start(c: Connection) -> None:
        """The connection's next request, if the run is still on; reconnects a closed one."""
        nonlocal sent
        if sent >= max_requests or time.perf_counter() >= deadline:
            return
        try:
            if c.sock is None:
                selector.register(c.open(), selectors.EVENT_READ, c)
            c.send(requests[sent % len(requests)])
            sent += 1
        except (OSError, ssl.SSLError) as exc:
            fail(c, exc)

    for c in conns:
        selector.register(c.open(), selectors.EVENT_READ, c)
    started = time.perf_counter()
    deadline = started + duration
    for c in conns:
        start(c)
    drain_until = deadline + DRAIN_SECONDS
    while True:
        busy = [c for c in conns if c.started]
        if not busy:
            if sent >= max_requests or time.perf_counter() >= deadline:
                break
            time.sleep(0.05)  # every connection failed: try them again, without spinning
            for c in conns:
                start(c)
            continue
        now = time.perf_counter()
        if now >= drain_until:
            for c in busy:
                fail(c, f"no answer within {DRAIN_SECONDS:g}s of the run's end")
            break
        for key, _ in selector.select(timeout=min(1.0, drain_until - now)):
            c = key.data
            try:
                answer = c.receive()
            except (OSError, ssl.SSLError, ResponseError, ValueError) as exc:
                fail(c, exc)
                start(c)
                continue
            if answer is None:
                continue
            latency = time.perf_counter() - c.started
            c.started = 0.0
            status, body = answer
            if status != 200 or check not in body:
                result.errors += 1
                result.first_error = result.first_error or f"HTTP {status}: {body[:200]!r}"
            else:
                result.latencies.append(latency)
            start(c)
    result.elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    selector.close()
    result.cpu = time.process_time() - cpu
    return result


def _worker(kwargs: dict[str, object]) -> Result:
    return _run(**kwargs)  # type: ignore[arg-type]


def shares(connections: int, processes: int) -> list[int]:
    """``connections`` dealt out over at most ``processes`` processes, the first ones one more."""
    processes = max(1, min(processes, connections))
    return [
        connections // processes + (1 if i < connections % processes else 0)
        for i in range(processes)
    ]


def run_load(
    host: str,
    port: int,
    ca: str,
    bodies: list[bytes],
    *,
    path: str = "/validate",
    connections: int = 16,
    duration: float = 10.0,
    max_requests: int = 200_000,
    processes: int = 2,
    check: bytes = b'"uid"',
) -> Result:
    """Drive ``connections`` keep-alive connections spread over ``processes`` processes."""
    return run_targets(
        host,
        [(port, n) for n in shares(connections, processes)],
        ca,
        bodies,
        path=path,
        duration=duration,
        max_requests=max_requests,
        check=check,
    )


def run_targets(
    host: str,
    targets: list[tuple[int, int]],
    ca: str,
    bodies: list[bytes],
    *,
    path: str = "/validate",
    duration: float = 10.0,
    max_requests: int = 200_000,
    check: bytes = b'"uid"',
) -> Result:
    """One load process per ``(port, connections)`` of ``targets``, all at once; their results merged."""
    jobs = [
        {
            "host": host,
            "port": port,
            "ca": ca,
            "bodies": bodies,
            "path": path,
            "connections": n,
            "duration": duration,
            "max_requests": max_requests // len(targets),
            "check": check,
        }
        for port, n in targets
    ]
    total = Result()
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        for part in pool.map(_worker, jobs):
            total.merge(part)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--body", required=True, help="a file holding one AdmissionReview")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    with open(args.body, "rb") as f:
        body = f.read()
    r = run_load(
        "127.0.0.1",
        args.port,
        args.ca,
        [body],
        connections=args.connections,
        duration=args.duration,
        processes=args.processes,
    )
    print(
        json.dumps(
            {
                "requests": len(r.latencies),
                "errors": r.errors,
                "throughput": round(r.throughput),
                "p50_ms": r.percentile(50) * 1e3,
                "p95_ms": r.percentile(95) * 1e3,
                "p99_ms": r.percentile(99) * 1e3,
                "client_cpu_ms_per_request": r.cpu / max(1, len(r.latencies)) * 1e3,
                "first_error": r.first_error,
            }
        )
    )


if __name__ == "__main__":
    main()
