"""What the multi-process tests share: real ``cstool serve`` / ``cstool worker`` processes
on one database (a PostgreSQL database of the throwaway cluster, or a SQLite file), on
free loopback ports, and a reader of the server-sent event stream in a thread."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = "import sys; sys.argv[0] = 'cstool'; from commands.main import main; main()"


def free_port() -> int:
    """A port nobody listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_process(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    """The real CLI in its own process (stdout and stderr piped)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("CSTOOL_DB", "CSTOOL_API",
                                                                 "CSTOOL_TOKEN")}
    environ.update(env or {})
    return subprocess.Popen([sys.executable, "-c", LAUNCHER, *args], cwd=ROOT, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


class ServeProcess:
    """``cstool serve --db DB`` on a free port, started and waited for."""

    def __init__(self, db: str, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = cli_process("serve", "--db", str(db), "--port", str(self.port), *extra)

    def wait(self, timeout_s: float = 60.0) -> ServeProcess:
        """Wait until it answers /v1/health."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {self.proc.stderr.read()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no graceful anything."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        """SIGTERM and wait; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextlib.contextmanager
def servers(db: str, n: int = 2, *extra: str):
    """``n`` serve processes on ``db``, started in parallel, stopped at the end."""
    procs = [ServeProcess(db, *extra) for _ in range(n)]
    try:
        for p in procs:
            p.wait()
        yield procs
    finally:
        for p in procs:
            p.stop()


class EventReader:
    """Reads ``GET /v1/events`` of one server in a thread, keeping every event in order."""

    def __init__(self, url: str, token: str, *, last_id: int | None = None):
        self.events: list[dict] = []
        self.ids: list[int] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._opened = threading.Event()
        headers = {"Authorization": f"Bearer {token}"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self._args = (url + "/v1/events", headers)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> EventReader:
        """Open the stream (returns once the server answered with 200)."""
        self.thread.start()
        if not self._opened.wait(30):
            raise RuntimeError(f"the event stream did not open: {self.error}")
        return self

    def _run(self) -> None:
        url, headers = self._args
        try:
            with httpx.stream("GET", url, headers=headers,
                              timeout=httpx.Timeout(10.0, read=60.0)) as r:
                if r.status_code != 200:
                    raise RuntimeError(f"{r.status_code}: {r.read()}")
                self._opened.set()
                for line in r.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith("data: "):
                        e = json.loads(line[6:])
                        self.events.append(e)
                        self.ids.append(e["id"])
        except BaseException as e:  # noqa: BLE001 (reported to the test)
            self.error = e
            self._opened.set()

    def wait_for(self, last_id: int, timeout_s: float = 60.0) -> bool:
        """Wait until the event ``last_id`` arrived (False when the time ran out)."""
        deadline = time.monotonic() + timeout_s
        while (not self.ids or self.ids[-1] < last_id) and time.monotonic() < deadline:
            if self.error is not None:
                return False
            time.sleep(0.02)
        return bool(self.ids) and self.ids[-1] >= last_id

    def stop(self) -> None:
        """Stop reading (at the next line; pings come every few seconds)."""
        self._stop.set()


def event_ids(db: str, after: int) -> list[int]:
    """Every event id after ``after``, from the table, in order."""
    from cstool.storage import Database

    database = Database(db, create=False)
    try:
        with database.read() as conn:
            return [r[0] for r in conn.execute(
                "SELECT id FROM events WHERE id > ? ORDER BY id", (after,))]
    finally:
        database.close()


def query(db: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of one read-only statement (SQLite's dialect; translated for PostgreSQL)."""
    from cstool.storage import Database

    database = Database(db, create=False)
    try:
        with database.read() as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        database.close()
