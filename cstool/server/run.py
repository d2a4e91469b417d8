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
import time
from pathlib import Path
from typing import Any

import uvicorn

from ..backend.local import LocalBackend
from .app import DEFAULT_MAX_BODY, create_app

GRACE_S = 10.0  # longest wait for requests in flight after a stop signal
REPLACE_TRIES = 5  # starts in a row of a replacement that never serves before serve gives up
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
          log_level: str = "info", workers: int = 1,
          sender_s: float | None = SENDER_S) -> None:
    """Serve the file ``db`` until SIGTERM or Ctrl+C, sending due webhook and channel
    deliveries every ``sender_s`` seconds (None or 0: leave that to workers); ``workers``
    > 1: that many server processes on the one port, see :func:`serve_processes`."""
    if workers > 1:
        serve_processes(str(db), workers, host=host, port=port, max_body=max_body,
                        access_log=access_log, log_level=log_level,
                        sender_s=sender_s or None)
        return
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


def _serve_child(db: str, sock: socket.socket, options: dict[str, Any], ready: Any) -> None:
    """One worker process of :func:`serve_processes`: its own backend, the shared socket;
    ``ready`` (an Event) is set once it serves."""
    from ..errors import CstoolError

    try:
        backend = LocalBackend(db, background_builds=True)
    except CstoolError as e:  # one line, not a child's traceback
        logging.getLogger("cstool.server").error("%s", e)
        raise SystemExit(1) from None
    try:
        server = make_server(backend, **options)

        def report_ready() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                ready.set()

        threading.Thread(target=report_ready, daemon=True).start()
        server.run(sockets=[sock])
    finally:
        backend.close()


def serve_processes(db: str, workers: int, *, host: str, port: int,
                    **options: Any) -> None:
    """Serve ``db`` (a PostgreSQL database) from ``workers`` processes that accept on one
    listening socket, bound here and handed to each (the kernel spreads connections).

    Each process has its own connection, event hub and token cache; what keeps them one
    desk is the database (its write lock, and LISTEN/NOTIFY for the event streams and
    rights: storage.notify). A process that dies (even by SIGKILL) is replaced; SIGTERM
    or Ctrl+C stops every one gracefully. A process that dies before it ever served (the
    database is unreachable, say) stops them all (exit status 1)."""
    import multiprocessing

    from ..errors import Conflict

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:  # in use, or not an address of this machine
        sock.close()
        raise Conflict(f"cannot listen on {host}:{port}: {e.strerror}",
                       key="serve_cannot_listen", host=host, port=port,
                       reason=str(e.strerror)) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    options = {**options, "host": host, "port": port}
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    log = logging.getLogger("cstool.server")

    def start() -> tuple[Any, Any]:
        ready = spawn.Event()
        p = spawn.Process(target=_serve_child, args=(db, sock, options, ready),
                          name="cstool-serve", daemon=False)
        p.start()
        return p, ready

    def request_stop(signum: int, frame: Any) -> None:  # noqa: ARG001
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    children = [start() for _ in range(workers)]
    replacing = [0] * workers  # replacements in a row of each place that never served
    failed = False
    try:
        while not stop.wait(0.2):
            for i, (p, ready) in enumerate(children):
                if p.is_alive():
                    continue
                if not ready.is_set():
                    # a first start that fails means the database (or the port) is not
                    # there: stop; a replacement may fail while its killed predecessor's
                    # connections are being closed: try again, a few times
                    if replacing[i] == 0 or replacing[i] >= REPLACE_TRIES:
                        log.error("server process %s exited at start (status %s): "
                                  "stopping", p.pid, p.exitcode)
                        failed = True
                        stop.set()
                        break
                    log.warning("server process %s exited at start (status %s): "
                                "starting another", p.pid, p.exitcode)
                    replacing[i] += 1
                    time.sleep(min(2.0, 0.2 * 2 ** replacing[i]))
                    children[i] = start()
                    continue
                log.warning("server process %s died (status %s): starting another",
                            p.pid, p.exitcode)
                replacing[i] = 1
                children[i] = start()
    finally:
        for p, _ in children:
            if p.is_alive():
                p.terminate()  # SIGTERM: a graceful stop
        deadline = time.monotonic() + GRACE_S + 5
        for p, _ in children:
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        sock.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if failed:
        raise SystemExit(1)
