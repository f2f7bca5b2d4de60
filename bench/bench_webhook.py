"""Admission throughput and latency of ``meshc webhook serve``, against its own ceiling.

For each server (granian by default; gunicorn gthread for comparison) it
starts servers in turn with the same workers and TLS: a constant-allow app
(decode, echo the uid, allow), and the real webhook judging typical Pod
CREATEs with the quickstart spec, once per policy engine (``--engines``:
wasm, the default, and embedded). A load generator in
other processes drives keep-alive HTTPS connections, one request in flight
each, like the API server. Every run is bounded in time and count.

    .venv/bin/python bench/bench_webhook.py                 # granian, 16 and 4 connections
    .venv/bin/python bench/bench_webhook.py --servers granian gunicorn --duration 8
    .venv/bin/python bench/bench_webhook.py --engines wasm --connections 16 4 1

Targets (2 cores, generator on the same machine): >= 2,000 admissions/s at
16 connections, p99 <= 5 ms at 4, no errors, >= 0.5x the constant-allow rate.

Besides rate and latency each run reports CPU per answered request, in ms:
``srv cpu`` for all the server's processes, ``gen cpu`` for the load
generator, which competes with the server for the same two cores.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from loadgen import Result, run_load
from reviews import pod_create_bodies

SPEC = REPO / "examples" / "quickstart" / "mesh.yaml"


@dataclass(frozen=True)
class Run:
    server: str
    app: str
    connections: int
    result: Result
    server_cpu: float  # seconds of CPU the server's processes used during the run


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and every process below it (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            # utime and stime, fields 14 and 15, after the parenthesised command name.
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue  # exited meanwhile
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_command(
    server: str, app: str, port: int, certs: Path, workers: int, threads: int
) -> list[str]:
    """``app`` is ``allow`` or ``meshc:<engine>``."""
    py = sys.executable
    cert, key = str(certs / "tls.crt"), str(certs / "tls.key")
    meshc, _, engine = app.partition(":")
    if server == "granian" and meshc == "meshc":
        return [
            py,
            "-m",
            "meshc",
            "webhook",
            "serve",
            "--spec",
            str(SPEC),
            "--cert",
            cert,
            "--key",
            key,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--engine",
            engine,
        ]
    if server == "granian":
        return [
            py,
            str(Path(__file__)),
            "--serve-constant",
            "--port",
            str(port),
            "--certs",
            str(certs),
            "--workers",
            str(workers),
        ]
    target = "meshc.webhook.wsgi:create()" if meshc == "meshc" else "constant_allow:create()"
    return [
        py,
        "-m",
        "gunicorn",
        "-k",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--certfile",
        cert,
        "--keyfile",
        key,
        "--bind",
        f"127.0.0.1:{port}",
        "--keep-alive",
        "75",
        "--pythonpath",
        str(BENCH),
        "--log-level",
        "warning",
        target,
    ]


def server_env(app: str, server: str, scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    meshc, _, engine = app.partition(":")
    if server == "gunicorn" and meshc == "meshc":
        # What `meshc webhook serve` prepares for granian's workers.
        from meshc.webhook.settings import MULTIPROC_ENV, SETTINGS_ENV, Settings

        metrics = scratch / "metrics"
        metrics.mkdir(exist_ok=True)
        env[MULTIPROC_ENV] = str(metrics)
        env[SETTINGS_ENV] = Settings(spec=str(SPEC), engine=engine).to_env()
    return env


def wait_ready(port: int, ca: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    ctx = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with (
                socket.create_connection(("127.0.0.1", port), 1) as raw,
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
            ):
                tls.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b" 200 " in tls.recv(100):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def measure(
    server: str, app: str, args: argparse.Namespace, certs: Path, bodies: list[bytes]
) -> list[Run]:
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        proc = subprocess.Popen(
            server_command(server, app, port, certs, args.workers, args.threads),
            env=server_env(app, server, Path(scratch)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, certs / "ca.crt", proc)
            ca = str(certs / "ca.crt")
            run_load(
                "127.0.0.1", port, ca, bodies, connections=4, duration=1.0, processes=1
            )  # warm-up
            runs = []
            for connections in args.connections:
                cpu = tree_cpu(proc.pid)
                result = run_load(
                    "127.0.0.1",
                    port,
                    ca,
                    bodies,
                    connections=connections,
                    duration=args.duration,
                    max_requests=args.max_requests,
                    processes=args.client_processes,
                    check=b'"allowed":true',
                )
                runs.append(Run(server, app, connections, result, tree_cpu(proc.pid) - cpu))
            return runs
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def report(runs: list[Run]) -> None:
    """One line per run; CPU columns are milliseconds per answered request."""
    print(
        f"{'server':8} {'app':14} {'conns':>5} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'vs allow':>8} {'srv cpu':>7} {'gen cpu':>7}"
    )
    ceiling = {(r.server, r.connections): r.result.throughput for r in runs if r.app == "allow"}
    for r in runs:
        res = r.result
        ceil = ceiling.get((r.server, r.connections), 0.0)
        ratio = res.throughput / ceil if ceil else 0.0
        answered = max(1, len(res.latencies))
        print(
            f"{r.server:8} {r.app:14} {r.connections:>5} {res.throughput:>7.0f} {res.percentile(50) * 1e3:>7.2f} "
            f"{res.percentile(95) * 1e3:>7.2f} {res.percentile(99) * 1e3:>7.2f} {res.errors:>6} {ratio:>8.2f} "
            f"{r.server_cpu / answered * 1e3:>7.3f} {res.cpu / answered * 1e3:>7.3f}"
        )
        if res.first_error:
            print(f"    first error: {res.first_error}")


def serve_constant(args: argparse.Namespace) -> None:
    from meshc.webhook.supervisor import build_server

    certs = Path(args.certs)
    build_server(
        "constant_allow:create",
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        threads=1,
        cert=certs / "tls.crt",
        key=certs / "tls.key",
    ).serve()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--servers", nargs="+", choices=("granian", "gunicorn"), default=["granian"])
    ap.add_argument(
        "--engines", nargs="+", choices=("wasm", "embedded"), default=["wasm", "embedded"]
    )
    ap.add_argument("--connections", nargs="+", type=int, default=[16, 4])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    ap.add_argument("--max-requests", type=int, default=100_000, help="per run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4, help="gunicorn gthread threads per worker")
    ap.add_argument("--client-processes", type=int, default=1)
    ap.add_argument("--serve-constant", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--certs", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_constant:
        serve_constant(args)
        return

    from meshc.webhook.certs import generate, write_bundle

    bodies = pod_create_bodies()
    print(
        f"# {len(bodies)} distinct Pod CREATE reviews, {len(bodies[0])} bytes each; "
        f"{os.cpu_count()} CPUs; {args.workers} workers; {args.duration:g}s per run; "
        f"load from {args.client_processes} process(es)"
    )
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp)
        write_bundle(generate("meshc-webhook", "meshc-system", ["127.0.0.1"]), certs)
        for server in args.servers:
            for app in ("allow", *(f"meshc:{engine}" for engine in args.engines)):
                runs.extend(measure(server, app, args, certs, bodies))
    report(runs)


if __name__ == "__main__":
    main()
