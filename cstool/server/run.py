"""Running the app with uvicorn: loopback by default, a graceful stop on SIGTERM/SIGINT.

On a stop signal the server stops accepting connections, ends the event streams,
lets every request in flight finish and answer (a message that was acknowledged is
committed to the file before its answer is sent), then closes the file.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn

from ..backend.local import LocalBackend
from .app import DEFAULT_MAX_BODY, create_app

GRACE_S = 10.0  # longest wait for requests in flight after a stop signal
SENDER_S = 2.0  # serve's own sender: a pass over due deliveries this often


class Server(uvicorn.Server):
    """uvicorn's server, ending event streams as soon as a stop is asked for, and exiting
    normally (status 0) after a graceful stop instead of re-raising the signal."""

    def __init__(self, config: uvicorn.Config, app: Any):
        super().__init__(config)
        self.cstool_app = app

    def handle_exit(self, sig: int, frame: Any) -> None:
        """Stop: a second Ctrl+C forces it."""
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True
        self.stop_streams()

    def stop_streams(self) -> None:
        """End every event stream (they would hold the graceful stop open)."""
        self.cstool_app.state.cstool.hub.stop_soon()


def make_server(backend: LocalBackend, *, host: str = "127.0.0.1", port: int = 8765,
                max_body: int = DEFAULT_MAX_BODY, ping_s: float = 15.0, poll_s: float = 0.25,
                access_log: bool = False, log_level: str = "info",
                fast_lane: bool = True, sender_s: float | None = None) -> Server:
    """A uvicorn Server for ``backend``, not yet running (``sender_s``: see
    :func:`create_app`)."""
    app = create_app(backend, max_body=max_body, ping_s=ping_s, poll_s=poll_s,
                     fast_lane=fast_lane, sender_s=sender_s)
    config = uvicorn.Config(app, host=host, port=port, access_log=access_log,
                            log_level=log_level, timeout_graceful_shutdown=GRACE_S,
                            server_header=False, lifespan="on")
    return Server(config, app)


def serve(db: str | Path, *, host: str = "127.0.0.1", port: int = 8765,
          max_body: int = DEFAULT_MAX_BODY, access_log: bool = False,
          log_level: str = "info", sender_s: float | None = SENDER_S) -> None:
    """Serve the file ``db`` until SIGTERM or Ctrl+C, sending due webhook and channel
    deliveries every ``sender_s`` seconds (None or 0: leave that to workers)."""
    # a knowledge edit must not stall every request while its index builds
    backend = LocalBackend(db, background_builds=True)
    try:
        server = make_server(backend, host=host, port=port, max_body=max_body,
                             access_log=access_log, log_level=log_level,
                             sender_s=sender_s or None)
        server.run()
    finally:
        backend.close()
    logging.getLogger("cstool.server").info("stopped; %s closed", backend.path)


class ThreadedServer:
    """A server on a free loopback port in a background thread (tests, benchmarks)."""

    def __init__(self, backend: LocalBackend, **options: Any):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        options.setdefault("log_level", "warning")
        self.server = make_server(backend, port=self.port, **options)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True, name="cstool-test-server")

    def start(self, timeout_s: float = 10.0) -> ThreadedServer:
        """Start and wait until it accepts requests."""
        import time

        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop gracefully and wait for the thread."""
        self.server.handle_exit(signal.SIGTERM, None)
        self.thread.join(timeout_s)
        self.sock.close()
