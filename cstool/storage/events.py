"""The event log's one writer (and its reader).

Every change commits with the event that records it, in the same transaction; every
event row is written by :func:`append_events` (one row or many), nowhere else. The
writer also says whether the events may have changed who may do what (any event but the
desk's traffic), so that the caller moves its ``access_epoch``, which invalidates cached
token rights.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .connection import execute_later
from .where import Where

_json = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False)

# Events of changes that cannot alter any token's rights (no token, agent role, agent
# shop, customer or shop key changes): the desk's traffic. Every other event moves the
# backend's ``access_epoch``.
ACCESS_NEUTRAL_EVENTS = frozenset({
    "message.created", "conversation.created", "conversation.assigned",
    "conversation.queued", "conversation.transferred", "conversation.returned",
    "conversation.closed", "conversation.rated", "customer.created", "agent.status",
    "conversation.labelled", "conversation.unlabelled", "conversation.noted",
    "conversation.bot_cover", "conversation.priority",
    "webhook.failed", "message.delivery",
})

# (the statement is also the one pg_engine.py sends at a concurrent post's commit)
INSERT_EVENT = ("INSERT INTO events (at, shop_id, type, entity, entity_key, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)")
_INSERT = INSERT_EVENT


@dataclass(frozen=True)
class EventRow:
    """One event to write: when, whose shop (None for platform records), what and to what.

    ``payload`` is a dict (encoded here as JSON, CJK kept readable), an already encoded
    JSON string, or None.
    """

    at: int
    shop_id: int | None
    type: str
    entity: str | None
    key: str | None
    payload: dict | str | None = None

    def params(self) -> tuple[Any, ...]:
        """The row's values in the order of the INSERT."""
        payload = self.payload
        if isinstance(payload, dict):
            payload = _json(payload)
        return (self.at, self.shop_id, self.type, self.entity, self.key, payload)


@dataclass(frozen=True)
class Appended:
    """What :func:`append_events` wrote: the last row's id (None when it wrote several in
    one batch or none, or when the engine sends the row later: PostgreSQL) and whether
    any event may change access rights."""

    last_id: int | None
    count: int
    moves_access: bool


def moves_access(event_type: str) -> bool:
    """Whether an event of this type may change who may do what."""
    return event_type not in ACCESS_NEUTRAL_EVENTS


def append_events(conn: sqlite3.Connection,
                  events: EventRow | Sequence[EventRow] | Iterable[tuple]) -> Appended:
    """Write events in the caller's transaction: the only code that inserts event rows.

    Takes one :class:`EventRow`, a sequence of them, or tuples in the row order
    ``(at, shop_id, type, entity, entity_key, payload)``. One event is written with its
    id returned; several are written in one batch.
    """
    if isinstance(events, EventRow):
        rows = [events]
    else:
        rows = [e if isinstance(e, EventRow) else EventRow(*e) for e in events]
    if not rows:
        return Appended(None, 0, False)
    moved = any(moves_access(r.type) for r in rows)
    hold = getattr(conn, "hold_events", None)
    if hold is not None and hold([r.params() for r in rows]):
        # a concurrent post on PostgreSQL: the rows are written as it commits, under
        # the event lock, so that event ids follow the order of the commits
        return Appended(None, len(rows), moved)
    if len(rows) == 1:
        # nobody reads an event back in its own transaction: on PostgreSQL the row goes
        # with the transaction's next statement (its id is then not known here)
        cur = execute_later(conn, _INSERT, rows[0].params())
        return Appended(None if cur is None else cur.lastrowid, 1, moved)
    conn.executemany(_INSERT, [r.params() for r in rows])
    return Appended(None, len(rows), moved)


def read_events(conn: sqlite3.Connection, *, after: int, limit: int,
                shop_id: int | None = None) -> list[tuple]:
    """(id, at, shop key, type, entity, key, payload JSON) of the events after id
    ``after`` (of one shop when ``shop_id`` is given), oldest first, at most ``limit``."""
    where = Where().add("e.id > ?", after).add_if(shop_id, "e.shop_id = ?", shop_id)
    return conn.execute(
        "SELECT e.id, e.at, s.key, e.type, e.entity, e.entity_key, e.payload "
        f"FROM events e LEFT JOIN shops s ON s.id = e.shop_id {where.sql()} "
        "ORDER BY e.id LIMIT ?", (*where.params, int(limit))).fetchall()
