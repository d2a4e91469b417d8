"""Labels on conversations (售后-破损, 大促, 投诉 …) and staff-only private notes in a
chat: the two tables of migration 14 (``uow.repo(Labels)``, ``uow.repo(Notes)``)."""

from __future__ import annotations

import sqlite3

from ..where import Where


class Labels:
    """The conversation_labels table: a chat's labels, kept with the chat's shop."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def of(self, conversation_id: int) -> list[str]:
        """The chat's labels, in text order."""
        return [r[0] for r in self.conn.execute(
            "SELECT label FROM conversation_labels WHERE conversation_id = ? "
            "ORDER BY label", (conversation_id,))]

    def of_many(self, ids: list[int]) -> dict[int, list[str]]:
        """The labels of several chats, by chat id (500 ids a query)."""
        out: dict[int, list[str]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for cid, label in self.conn.execute(
                    "SELECT conversation_id, label FROM conversation_labels "
                    f"WHERE conversation_id IN ({', '.join('?' * len(chunk))}) "
                    "ORDER BY label", chunk):
                out.setdefault(cid, []).append(label)
        return out

    def add(self, conversation_id: int, shop_id: int, label: str, by: str | None,
            now: int) -> bool:
        """Label the chat; False when it had the label already."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO conversation_labels (conversation_id, shop_id, label, "
            "added_by, added_at) VALUES (?, ?, ?, ?, ?)",
            (conversation_id, shop_id, label, by, now))
        return cur.rowcount == 1

    def remove(self, conversation_id: int, label: str) -> bool:
        """Take the label off the chat; False when it did not have it."""
        cur = self.conn.execute(
            "DELETE FROM conversation_labels WHERE conversation_id = ? AND label = ?",
            (conversation_id, label))
        return cur.rowcount == 1

    def in_use(self, shop_id: int) -> list[tuple[str, int]]:
        """The shop's labels on its chats, with how many chats carry each."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT label, COUNT(*) FROM conversation_labels WHERE shop_id = ? "
            "GROUP BY label ORDER BY label", (shop_id,))]

    @staticmethod
    def filter(where: Where, label: str, column: str = "id") -> Where:
        """Keep the chats (``column``: their id) that carry ``label``."""
        return where.add(f"{column} IN (SELECT conversation_id FROM conversation_labels "
                         "WHERE label = ?)", label)


class Notes:
    """The conversation_notes table: private notes, read by staff only."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def add(self, conversation_id: int, shop_id: int, agent_id: int, body: str,
            now: int, to_agent_id: int | None = None) -> int:
        """Store a note (``to_agent_id``: addressed to that agent, a whisper); returns its
        id."""
        cur = self.conn.execute(
            "INSERT INTO conversation_notes (conversation_id, shop_id, agent_id, body, "
            "created_at, to_agent_id) VALUES (?, ?, ?, ?, ?, ?)",
            (conversation_id, shop_id, agent_id, body, now, to_agent_id))
        return int(cur.lastrowid)

    def of(self, conversation_id: int) -> list[tuple]:
        """(id, conversation id, agent handle, agent name, body, created_at, addressee's
        handle, addressee's name) of the chat's notes, oldest first."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT n.id, n.conversation_id, a.handle, a.name, n.body, n.created_at, "
            "t.handle, t.name FROM conversation_notes n JOIN agents a ON a.id = n.agent_id "
            "LEFT JOIN agents t ON t.id = n.to_agent_id "
            "WHERE n.conversation_id = ? ORDER BY n.id", (conversation_id,))]
