"""A receiver on loopback that answers every POST 200 with keep-alive, as most webhook
receivers and messaging gateways do: the far end of bench_webhooks and bench_channels."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def start(path: str) -> tuple[ThreadingHTTPServer, str]:
    """The running receiver on a free port and its URL ending in ``path``; call
    ``server.shutdown()`` when done."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}{path}"
