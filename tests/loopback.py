"""HTTP servers on loopback for tests: a real socket and a real server, answering in a thread."""

from __future__ import annotations

import http.server
import threading


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that keeps the test's output clean of access log lines."""

    def log_message(self, *args) -> None:
        pass


def serve(
    handler: type[http.server.BaseHTTPRequestHandler], address: str = "127.0.0.1", port: int = 0
) -> http.server.ThreadingHTTPServer:
    """``handler`` served on ``address`` (port 0: any free one) until ``shutdown()``."""
    server = http.server.ThreadingHTTPServer((address, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
