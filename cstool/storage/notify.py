"""Cross-process wake-ups on PostgreSQL: LISTEN/NOTIFY beside the event table.

Every process on one PostgreSQL database writes its events to the one ``events`` table;
the table is the truth (ids grow in commit order: every write transaction holds the
database's write lock, see ``storage.postgres``). What this module adds is the *wake-up*:

* a statement-level trigger on ``events`` (installed by :func:`install_trigger`, made
  again when its definition changes) sends ``NOTIFY cstool_events`` once per statement
  that inserts events, with the payload ``access`` when one of the new events may change
  who may do what (``storage.events.moves_access``), else an empty payload. PostgreSQL
  delivers a notification only when its transaction commits, folds identical ones of one
  transaction into one, and delivers them in commit order;
* :class:`EventListener` holds one extra connection per process that ``LISTEN``\\ s, in a
  thread, and calls back for each notification, so a server's event stream reads the
  table as soon as any process committed events, and its token cache forgets rights
  when any process changed them.

A notification carries no data: a lost one (the listening connection dropped) costs
latency, never an event, because the readers re-read the table past their last id on a
slow poll too, and the listener reports the loss (``on_notify(True)``: treat everything
as changed) and reconnects.

SQLite has no such thing: the processes sharing a file poll it (``PRAGMA data_version``,
the server's event hub every ``poll_s``); :func:`listener_for` answers None there.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .events import ACCESS_NEUTRAL_EVENTS

CHANNEL = "cstool_events"
MAX_RETRY_S = 30.0  # the longest wait between attempts to LISTEN again
ACCESS = "access"
_FUNCTION = "cstool_notify_events"
_TRIGGER = "cstool_events_notify"
_INSTALL_LOCK = 0x6373_746F_6F6D  # serialises concurrent installs (not the write lock)
log = logging.getLogger("cstool.storage.notify")


def _function_sql() -> str:
    neutral = ", ".join(f"'{t}'" for t in sorted(ACCESS_NEUTRAL_EVENTS))
    return (
        f"CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM cstool_new_events WHERE type NOT IN ({neutral})) THEN\n"
        f"    PERFORM pg_notify('{CHANNEL}', '{ACCESS}');\n"
        "  ELSE\n"
        f"    PERFORM pg_notify('{CHANNEL}', '');\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END $$")


def install_trigger(raw: Any) -> bool:
    """Install (or bring up to date) the NOTIFY trigger on ``events`` through the psycopg
    connection ``raw`` (autocommit). Idempotent and safe when several processes start at
    once. True when it changed anything."""
    function = _function_sql()
    marker = f"cstool notify v1 {hash_text(function)}"
    current = raw.execute(
        "SELECT obj_description(to_regproc(%s), 'pg_proc')", (_FUNCTION,)).fetchone()
    has_trigger = raw.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = %s AND "
        "tgrelid = to_regclass('events'))", (_TRIGGER,)).fetchone()[0]
    if current and current[0] == marker and has_trigger:
        return False
    with raw.transaction():
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (_INSTALL_LOCK,))
        raw.execute(function)
        raw.execute(f"COMMENT ON FUNCTION {_FUNCTION}() IS '{marker}'")
        raw.execute(f"DROP TRIGGER IF EXISTS {_TRIGGER} ON events")
        raw.execute(f"CREATE TRIGGER {_TRIGGER} AFTER INSERT ON events "
                    "REFERENCING NEW TABLE AS cstool_new_events "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()")
    return True


def hash_text(text: str) -> str:
    """A short stable digest of ``text`` (the installed trigger's version)."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


class EventListener:
    """One process's LISTEN connection, in a daemon thread.

    ``on_notify(access)`` is called from the thread for every notification (``access``:
    the committed events may change rights) and with True whenever notifications may
    have been missed (the connection was lost, or has just been made again).
    ``connected`` says whether notifications are arriving now; ``generation`` moves at
    every (re)connection, so a cache keyed on it does not outlive a gap.
    """

    def __init__(self, url: str, on_notify: Callable[[bool], None], *,
                 retry_s: float = 1.0, tick_s: float = 0.25):
        self.url = url
        self.on_notify = on_notify
        self.retry_s = retry_s
        self.tick_s = tick_s
        self.connected = False
        self.generation = 0
        self.received = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None

    def start(self, wait_s: float = 5.0) -> EventListener:
        """Start listening (waits up to ``wait_s`` for the first LISTEN)."""
        self._thread = threading.Thread(target=self._run, name="cstool-pg-listener",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(wait_s)
        return self

    def stop(self, wait_s: float = 5.0) -> None:
        """Stop listening and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait_s)
            self._thread = None

    def _connect(self) -> Any:
        import psycopg

        conn = psycopg.connect(self.url, autocommit=True)
        install_trigger(conn)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _run(self) -> None:
        wait_s = self.retry_s
        while not self._stop.is_set():
            try:
                self._conn = self._connect()
            except Exception as e:  # the database is down, or the trigger cannot be made
                log.warning("cannot LISTEN on %s (again in %gs): %s", CHANNEL, wait_s, e)
                self._ready.set()
                self._stop.wait(wait_s)
                wait_s = min(wait_s * 2, MAX_RETRY_S)
                continue
            wait_s = self.retry_s
            self.generation += 1
            self.connected = True
            self._ready.set()
            self._call(True)  # whatever happened before we listened: look again
            try:
                while not self._stop.is_set():
                    for note in self._conn.notifies(timeout=self.tick_s):
                        self.received += 1
                        self._call(note.payload == ACCESS)
                        if self._stop.is_set():
                            break
            except Exception as e:  # the connection was lost
                log.warning("LISTEN connection lost: %s", e)
            finally:
                self.connected = False
                self.generation += 1
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None
            if not self._stop.is_set():
                self._call(True)
                self._stop.wait(self.retry_s)

    def _call(self, access: bool) -> None:
        try:
            self.on_notify(access)
        except Exception:  # a closing event loop: nothing to wake
            log.debug("notification callback failed", exc_info=True)


def listener_for(database: Any, on_notify: Callable[[bool], None]) -> EventListener | None:
    """A started :class:`EventListener` for a PostgreSQL ``Database``; None for a SQLite
    file (its processes poll)."""
    if getattr(database.engine, "name", None) != "postgresql":
        return None
    return EventListener(database.engine.dsn, on_notify).start()  # without pool_size


def wait_connected(listener: EventListener, timeout_s: float = 5.0) -> bool:
    """Wait until ``listener`` listens (True) or ``timeout_s`` passed (False)."""
    deadline = time.monotonic() + timeout_s
    while not listener.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    return listener.connected
