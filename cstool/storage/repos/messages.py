"""Message rows: writing one, and the readings the desk makes of a chat's messages."""

from __future__ import annotations

import sqlite3

from ..connection import execute_later

# The columns of a message as ``message_dict`` reads them (the agent's id, or handle
# when joined).
# PostgreSQL: many messages with reserved ids in one statement (``execute_later``'s
# ``many``: a group of posts' messages, sent together)
_MANY = ("INSERT INTO messages (id, conversation_id, sender, agent_id, kind, body, "
         "payload, client_id, created_at) SELECT * FROM unnest(%s::bigint[], "
         "%s::bigint[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], "
         "%s::text[], %s::bigint[])")
MESSAGE_COLUMNS = ("SELECT id, conversation_id, sender, agent_id, kind, body, payload, "
                   "client_id, created_at, delivery FROM messages")


class Messages:
    """The messages table."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def insert(self, conversation_id: int, sender: str, agent_id: int | None, kind: str,
               body: str, payload_json: str | None, client_id: str | None, now: int, *,
               reserved_id: int | None = None) -> int:
        """Store one message; returns its id. ``reserved_id``: an id taken already
        (``Posts.lookup`` on PostgreSQL): the row is sent with the transaction's next
        statement instead of in a round trip of its own."""
        if reserved_id is not None:
            execute_later(
                self.conn, "INSERT INTO messages (id, conversation_id, sender, agent_id, "
                "kind, body, payload, client_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (reserved_id, conversation_id, sender, agent_id, kind, body, payload_json,
                 client_id, now), id_reserved=True, many=(_MANY, None))
            return reserved_id
        return self.conn.execute(
            "INSERT INTO messages (conversation_id, sender, agent_id, kind, body, payload, "
            "client_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, sender, agent_id, kind, body, payload_json, client_id,
             now)).lastrowid

    def row(self, message_id: int) -> tuple:
        """One message's columns (``MESSAGE_COLUMNS``)."""
        return self.conn.execute(f"{MESSAGE_COLUMNS} WHERE id = ?", (message_id,)).fetchone()

    def replies_after(self, conversation_id: int, message_id: int, limit: int = 3
                      ) -> list[tuple]:
        """The first messages not from the customer after ``message_id``."""
        return self.conn.execute(
            f"{MESSAGE_COLUMNS} WHERE conversation_id = ? AND id > ? "
            "AND sender != 'customer' ORDER BY id LIMIT ?",
            (conversation_id, message_id, limit)).fetchall()

    def of_conversation(self, conversation_id: int) -> list[tuple]:
        """Every message of a chat, oldest first, the agent by handle."""
        return self.conn.execute(
            "SELECT m.id, m.conversation_id, m.sender, a.handle, m.kind, m.body, "
            "m.payload, m.client_id, m.created_at, m.delivery FROM messages m "
            "LEFT JOIN agents a ON a.id = m.agent_id WHERE m.conversation_id = ? "
            "ORDER BY m.id",
            (conversation_id,)).fetchall()

    def by_client_id(self, client_id: str, customer_id: int, shop_id: int
                     ) -> tuple[int, int] | None:
        """(message id, conversation id) of the customer's message with ``client_id``
        in the shop, None when there is none."""
        return self.conn.execute(
            "SELECT m.id, m.conversation_id FROM messages m JOIN conversations c "
            "ON c.id = m.conversation_id WHERE m.client_id = ? AND c.customer_id = ? "
            "AND c.shop_id = ?", (client_id, customer_id, shop_id)).fetchone()

    def customer_files(self, conversation_id: int, kinds: tuple[str, ...], limit: int
                       ) -> list[tuple]:
        """(id, kind, payload JSON) of the customer's messages of ``kinds`` (pictures,
        files) in a chat, oldest first (the last ``limit``)."""
        marks = ", ".join("?" for _ in kinds)
        rows = self.conn.execute(
            f"SELECT id, kind, payload FROM messages WHERE conversation_id = ? "
            f"AND sender = 'customer' AND kind IN ({marks}) ORDER BY id DESC LIMIT ?",
            (conversation_id, *kinds, limit)).fetchall()
        return rows[::-1]

    def customer_words(self, conversation_id: int, limit: int = 20) -> list[str]:
        """The customer's text messages in a chat, oldest first (the first ``limit``)."""
        return [r[0] for r in self.conn.execute(
            "SELECT body FROM messages WHERE conversation_id = ? AND sender = 'customer' "
            "AND kind = 'text' ORDER BY id LIMIT ?", (conversation_id, limit))]

    def wait_marks(self, conversation_id: int) -> tuple[int | None, int]:
        """(the agents' last message time, when the chat first queued or handed off)."""
        return self.conn.execute(
            "SELECT (SELECT MAX(created_at) FROM messages WHERE conversation_id = ? AND "
            "sender = 'agent'), COALESCE(queued_at, handoff_at, created_at) FROM "
            "conversations WHERE id = ?", (conversation_id, conversation_id)).fetchone()

    def first_customer_after(self, conversation_id: int, at: int) -> int | None:
        """When the customer first wrote after ``at`` (None: not since)."""
        return self.conn.execute(
            "SELECT MIN(created_at) FROM messages WHERE conversation_id = ? AND "
            "sender = 'customer' AND created_at > ?", (conversation_id, at)).fetchone()[0]

    def system_notices(self, conversation_id: int) -> list[tuple]:
        """(time, kind, payload) of the chat's system notices that record its history."""
        return self.conn.execute(
            "SELECT m.created_at, m.kind, m.payload FROM messages m WHERE "
            "m.conversation_id = ? AND m.sender = 'system' AND (m.payload IS NOT NULL OR "
            "m.kind = 'survey') ORDER BY m.id", (conversation_id,)).fetchall()
