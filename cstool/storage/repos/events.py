"""Reading the event log's position: its newest id and time. (Events are written by
``cstool.storage.events.append_events`` alone; pages of events are the backend's
``events``.)"""

from __future__ import annotations

import sqlite3


def head(conn: sqlite3.Connection) -> int:
    """The newest event id (0 for an empty log)."""
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]


def latest_at(conn: sqlite3.Connection) -> int | None:
    """The time of the newest event (None for an empty log)."""
    row = conn.execute("SELECT at FROM events ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else int(row[0])
