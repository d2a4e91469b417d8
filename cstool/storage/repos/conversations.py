"""Conversation rows: reading them (alone, with the names they point at, filtered) and
the writes of their life (opened, routed, queued, assigned, transferred, closed, rated).
"""

from __future__ import annotations

import sqlite3

from ...errors import NotFound
from ..connection import execute_later
from ..ids import row_id
from ..where import Where

# PostgreSQL: many chats' customer message times in one statement (``execute_later``'s
# ``many``: a group of posts' chats, sent together; one row per chat, the last time)
_TOUCHED_MANY = ("UPDATE conversations c SET last_message_at = v.at, last_customer_at = "
                 "v.customer_at FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS "
                 "v(at, customer_at, id) WHERE c.id = v.id")
OPEN_STATES = ("bot", "queued", "active")
# (shop key, customer key, customer name, assignee handle, group key) of a chat
_NAMES = ("SELECT s.key, cu.key, cu.name, a.handle, g.key FROM shops s "
          "JOIN customers cu ON cu.id = ? LEFT JOIN agents a ON a.id = ? "
          'LEFT JOIN "groups" g ON g.id = ? WHERE s.id = ?')


def _row_dict(cur: sqlite3.Cursor, row: tuple | None) -> dict | None:
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


class Conversations:
    """The conversations table."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- reading --------------------------------------------------------------------------
    def get(self, conv_id: int) -> dict:
        """The whole row of conversation ``conv_id``; NotFound when there is none."""
        rid = row_id(conv_id)
        row = None
        if rid is not None:
            cur = self.conn.execute("SELECT * FROM conversations WHERE id = ?", (rid,))
            row = _row_dict(cur, cur.fetchone())
        if row is None:
            raise NotFound(f"no conversation {conv_id}", key="no_conversation",
                           conversation=conv_id)
        return row

    def open_of(self, shop_id: int, customer_id: int) -> dict | None:
        """The customer's open chat in the shop (the newest), None when none is open."""
        # MAX(id) over the covering index, then the row: no sort of whole rows.
        cur = self.conn.execute(
            "SELECT * FROM conversations WHERE id = (SELECT MAX(id) FROM conversations "
            "WHERE customer_id = ? AND shop_id = ? AND state IN ('new', 'bot', 'queued', "
            "'active'))", (customer_id, shop_id))
        return _row_dict(cur, cur.fetchone())

    def last_of(self, shop_id: int, customer_id: int) -> dict | None:
        """The customer's newest chat in the shop, open or not."""
        cur = self.conn.execute(
            "SELECT * FROM conversations WHERE customer_id = ? AND shop_id = ? "
            "ORDER BY id DESC LIMIT 1", (customer_id, shop_id))
        return _row_dict(cur, cur.fetchone())

    def newer_of(self, conv: dict) -> int | None:
        """A chat of the same customer and shop opened after ``conv``, if any."""
        row = self.conn.execute(
            "SELECT id FROM conversations WHERE customer_id = ? AND shop_id = ? AND id > ? "
            "LIMIT 1", (conv["customer_id"], conv["shop_id"], conv["id"])).fetchone()
        return None if row is None else row[0]

    def names(self, conv: dict) -> tuple:
        """(shop key, customer key, customer name, assignee handle, group key)."""
        return self.conn.execute(_NAMES, (conv["customer_id"], conv["assignee_id"],
                                          conv["group_id"], conv["shop_id"])).fetchone()

    def with_names(self, conv_id: int) -> tuple[dict, tuple]:
        """The row and its names (as :meth:`names`) in one read."""
        cur = self.conn.execute(
            "SELECT c.*, s.key, cu.key, cu.name, a.handle, g.key FROM conversations c "
            "JOIN shops s ON s.id = c.shop_id JOIN customers cu ON cu.id = c.customer_id "
            'LEFT JOIN agents a ON a.id = c.assignee_id LEFT JOIN "groups" g '
            "ON g.id = c.group_id WHERE c.id = ?", (conv_id,))
        row = cur.fetchone()
        cols = [d[0] for d in cur.description][:-5]
        return dict(zip(cols, row[:-5], strict=True)), tuple(row[-5:])

    def times_with_names(self, conv_id: int) -> tuple[tuple, int, int]:
        """The names (as :meth:`names`), last message and last customer message times."""
        row = self.conn.execute(
            "SELECT s.key, cu.key, cu.name, a.handle, g.key, c.last_message_at, "
            "c.last_customer_at FROM conversations c JOIN shops s ON s.id = c.shop_id "
            "JOIN customers cu ON cu.id = c.customer_id LEFT JOIN agents a "
            'ON a.id = c.assignee_id LEFT JOIN "groups" g ON g.id = c.group_id '
            "WHERE c.id = ?", (conv_id,)).fetchone()
        return tuple(row[:5]), row[5], row[6]

    def many_with_names(self, ids: list[int]) -> dict[int, tuple[dict, tuple]]:
        """Rows with (customer key, customer name, assignee, group), by id, 500 a query."""
        out: dict[int, tuple[dict, tuple]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            cur = self.conn.execute(
                "SELECT c.*, cu.key, cu.name, a.handle, g.key FROM conversations c "
                "JOIN customers cu ON cu.id = c.customer_id LEFT JOIN agents a "
                'ON a.id = c.assignee_id LEFT JOIN "groups" g ON g.id = c.group_id '
                f"WHERE c.id IN ({', '.join('?' * len(chunk))})", chunk)
            cols = [d[0] for d in cur.description][:-4]
            for r in cur:
                out[r[0]] = (dict(zip(cols, r[:-4], strict=True)), tuple(r[-4:]))
        return out

    def find(self, where: Where, limit: int) -> list[dict]:
        """Rows matching ``where``, newest first, at most ``limit``."""
        cur = self.conn.execute(
            f"SELECT * FROM conversations {where.sql()} ORDER BY id DESC LIMIT ?",
            (*where.params, int(limit)))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def active_of(self, agent_id: int, shop_id: int | None = None) -> list[int]:
        """The chats the agent serves now (in one shop, or every one), oldest first."""
        if shop_id is None:
            rows = self.conn.execute(
                "SELECT id FROM conversations WHERE assignee_id = ? AND state = 'active' "
                "ORDER BY id", (agent_id,))
        else:
            rows = self.conn.execute(
                "SELECT id FROM conversations WHERE assignee_id = ? AND shop_id = ? AND "
                "state = 'active' ORDER BY id", (agent_id, shop_id))
        return [r[0] for r in rows.fetchall()]

    def idle_ids(self, shop_id: int, last_before: int) -> list[int]:
        """The shop's open chats with no message since ``last_before``."""
        # SQLite-only: INDEXED BY (the idle index: state, last message)
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM conversations INDEXED BY conversations_idle "
            "WHERE state IN ('bot', 'queued', 'active') AND last_message_at <= ? "
            "AND shop_id = ?", (last_before, shop_id))]

    def count_in_state(self, shop_id: int, state: str) -> int:
        """How many of the shop's chats are in ``state``."""
        return self.conn.execute(
            "SELECT COUNT(*) FROM conversations WHERE shop_id = ? AND state = ?",
            (shop_id, state)).fetchone()[0]

    def customer_message_times(self, shop_id: int, since: int, until: int
                               ) -> list[tuple[str, int]]:
        """(body, time) of the customers' messages in the shop between two times."""
        # the window of every shop through the time index, then this shop's (CROSS JOIN
        # keeps that order: the planner would otherwise walk every conversation the shop
        # ever had). SQLite-only: CROSS JOIN as a join-order hint.
        return self.conn.execute(
            "SELECT m.body, m.created_at FROM messages m CROSS JOIN conversations c "
            "ON c.id = m.conversation_id WHERE c.shop_id = ? AND m.sender = 'customer' "
            "AND m.created_at >= ? AND m.created_at <= ?", (shop_id, since, until)).fetchall()

    # -- writing --------------------------------------------------------------------------
    def insert(self, row: dict) -> int:
        """Store a new chat (``row``: column -> value); returns its id."""
        cols = list(row)
        cur = self.conn.execute(
            f"INSERT INTO conversations ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})", [row[k] for k in cols])
        return cur.lastrowid

    def update(self, conv_id: int, **columns) -> None:
        """Set columns of one chat."""
        sets = ", ".join(f"{c} = ?" for c in columns)
        self.conn.execute(f"UPDATE conversations SET {sets} WHERE id = ?",
                          (*columns.values(), conv_id))

    def touched(self, conv_id: int, now: int, *, by_customer: bool) -> None:
        """A message at ``now`` keeps the chat alive (a customer's is their last, too)."""
        if by_customer:
            execute_later(self.conn, "UPDATE conversations SET last_message_at = ?, "
                          "last_customer_at = ? WHERE id = ?", (now, now, conv_id),
                          many=(_TOUCHED_MANY, 2))
        else:
            execute_later(self.conn, "UPDATE conversations SET last_message_at = ? "
                          "WHERE id = ?", (now, conv_id))

    def replied(self, conv_id: int, now: int) -> None:
        """An agent wrote at ``now``: the first reply's time kept, the chat seen."""
        self.conn.execute(
            "UPDATE conversations SET first_agent_reply_at = COALESCE(first_agent_reply_at, "
            "?), agent_seen_at = ? WHERE id = ?", (now, now, conv_id))

    def assign(self, conv_id: int, agent_id: int, now: int) -> None:
        """The chat goes to agent ``agent_id`` at ``now`` (unseen by them yet)."""
        self.conn.execute(
            "UPDATE conversations SET state = 'active', assignee_id = ?, assigned_at = ?, "
            "agent_seen_at = NULL WHERE id = ?", (agent_id, now, conv_id))

    def routed_to_agent(self, conv_id: int, pool: str, rule: str | None, priority: int,
                        trace: str, handle: str, now: int) -> None:
        """Routing gave the chat to agent ``handle``."""
        self.conn.execute(
            "UPDATE conversations SET pool = ?, rule_key = ?, priority = ?, "
            "route_trace = ?, handoff_at = COALESCE(handoff_at, ?), state = 'active', "
            "assignee_id = (SELECT id FROM agents WHERE handle = ?), assigned_at = ?, "
            "agent_seen_at = NULL WHERE id = ?",
            (pool, rule, priority, trace, now, handle, now, conv_id))

    def routed_to_queue(self, conv_id: int, pool: str, rule: str | None, priority: int,
                        trace: str, now: int) -> None:
        """Routing queued the chat (its wait runs from its first queueing)."""
        self.conn.execute(
            "UPDATE conversations SET state = 'queued', queued_at = COALESCE(queued_at, "
            "?), pool = ?, rule_key = ?, priority = ?, route_trace = ?, assignee_id = "
            "NULL, handoff_at = COALESCE(handoff_at, ?) WHERE id = ?",
            (now, pool, rule, priority, trace, now, conv_id))

    def requeue(self, conv_id: int, waiting_since: int | None = None) -> None:
        """Back to the queue, unassigned; waiting since ``waiting_since`` (None: since it
        first queued, or opened)."""
        if waiting_since is None:
            self.conn.execute(
                "UPDATE conversations SET state = 'queued', assignee_id = NULL, "
                "queued_at = COALESCE(queued_at, created_at) WHERE id = ?", (conv_id,))
        else:
            self.conn.execute(
                "UPDATE conversations SET state = 'queued', assignee_id = NULL, "
                "queued_at = ? WHERE id = ?", (waiting_since, conv_id))

    def close(self, conv_id: int, now: int, reason: str) -> None:
        """The chat closes at ``now`` for ``reason``."""
        self.conn.execute("UPDATE conversations SET state = 'closed', closed_at = ?, "
                          "close_reason = ? WHERE id = ?", (now, reason, conv_id))

    def refresh_classification(self, customer_id: int, shop_id: int,
                               classification: str) -> None:
        """Set the classification of the customer's open chats in the shop."""
        self.conn.execute(
            "UPDATE conversations SET classification = ? WHERE customer_id = ? AND "
            "shop_id = ? AND state IN ('bot', 'queued', 'active')",
            (classification, customer_id, shop_id))
