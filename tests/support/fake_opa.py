"""A stand-in OPA server on 127.0.0.1 that answers "no violations" (or ``body``) after a delay.

The honest way to inject a slow or hanging policy engine: the webhook talks
to it over real HTTP, exactly as to ``opa run --server``.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpa:
    def __init__(
        self, delay: float = 0.0, body: bytes = b'{"result": []}', status: int = 200
    ) -> None:
        self.delay = delay
        self.requests = 0
        opa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                opa.requests += 1
                time.sleep(opa.delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
