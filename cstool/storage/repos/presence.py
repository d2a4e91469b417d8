"""Who is in a chat (``conversation_presence``, migration 18): one row per chat and staff
member, viewing or typing until an instant; ephemeral (rows past their instant are never
read and go at the next write)."""

from __future__ import annotations

import sqlite3


class Presence:
    """The conversation_presence table."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def touch(self, conversation_id: int, agent_id: int, shop_id: int, state: str,
              expires_at: int, now: int) -> None:
        """Record that the agent is in the chat (``state``) until ``expires_at``; sweep
        the rows that have expired."""
        self.conn.execute("DELETE FROM conversation_presence WHERE expires_at <= ?", (now,))
        self.conn.execute(
            "INSERT INTO conversation_presence (conversation_id, agent_id, shop_id, state, "
            "expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (conversation_id, agent_id) "
            "DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at",
            (conversation_id, agent_id, shop_id, state, expires_at))

    def leave(self, conversation_id: int, agent_id: int) -> None:
        """The agent has left the chat."""
        self.conn.execute("DELETE FROM conversation_presence WHERE conversation_id = ? AND "
                          "agent_id = ?", (conversation_id, agent_id))

    def in_chat(self, conversation_id: int, now: int) -> list[tuple]:
        """(handle, name, role, state, expires_at) of who is in the chat now, by handle."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT a.handle, a.name, a.role, p.state, p.expires_at FROM "
            "conversation_presence p JOIN agents a ON a.id = p.agent_id "
            "WHERE p.conversation_id = ? AND p.expires_at > ? ORDER BY a.handle",
            (conversation_id, now))]
