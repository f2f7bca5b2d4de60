"""A keep-alive HTTPS load generator, shaped like the API server's webhook client.

Each connection is opened once (TLS, CA verified) and reused for every
request, one request in flight per connection, as the API server does.
Requests are pre-encoded so the generator spends its CPU on the wire, not on
JSON. Run in its own processes so it does not share a GIL with the server.

Usage from Python: ``run_load(...)`` returns a :class:`Result`; as a script
it prints the result of one run as JSON (used by bench_webhook.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import ssl
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, one per good response
    errors: int = 0
    elapsed: float = 0.0
    first_error: str = ""

    def merge(self, other: Result) -> None:
        self.latencies.extend(other.latencies)
        self.errors += other.errors
        self.elapsed = max(self.elapsed, other.elapsed)
        self.first_error = self.first_error or other.first_error

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


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(
    host: str,
    port: int,
    ctx: ssl.SSLContext,
    requests: list[bytes],
    offset: int,
    deadline: float,
    budget: list[int],
    result: Result,
    check: bytes,
) -> None:
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=host)
    i = offset
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            payload = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            try:
                writer.write(payload)
                status, body = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
                result.errors += 1
                result.first_error = result.first_error or repr(exc)
                writer.close()
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=ctx, server_hostname=host
                )
                continue
            if status != 200 or check not in body:
                result.errors += 1
                result.first_error = result.first_error or f"HTTP {status}: {body[:200]!r}"
                continue
            result.latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def _run(
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
    ctx = ssl.create_default_context(cafile=ca)
    requests = [encode_request(host, path, b) for b in bodies]
    result = Result()
    budget = [max_requests]
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(
            _connection(host, port, ctx, requests, n, deadline, budget, result, check)
            for n in range(connections)
        )
    )
    result.elapsed = time.perf_counter() - started
    return result


def _worker(kwargs: dict[str, object]) -> Result:
    return asyncio.run(_run(**kwargs))  # type: ignore[arg-type]


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
    processes = max(1, min(processes, connections))
    shares = [
        connections // processes + (1 if i < connections % processes else 0)
        for i in range(processes)
    ]
    jobs = [
        {
            "host": host,
            "port": port,
            "ca": ca,
            "bodies": bodies,
            "path": path,
            "connections": n,
            "duration": duration,
            "max_requests": max_requests // processes,
            "check": check,
        }
        for n in shares
    ]
    total = Result()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
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
                "first_error": r.first_error,
            }
        )
    )


if __name__ == "__main__":
    main()
