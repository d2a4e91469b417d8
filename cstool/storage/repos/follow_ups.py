"""Follow-up lists (issue 22 item 5): the chats of a period with what the conversion
figures need, the customers' orders, and the invitations to order sent from the lists
(``follow_up_invitations``, migration 18)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

CHUNK = 500
FOLLOW_UP_COLUMNS = ("id", "customer_id", "customer", "customer_name", "state", "assignee",
                     "classification", "intent", "created_at", "last_message_at", "product",
                     "sensitive", "opted_out_at")


def _marks(items: Sequence) -> str:
    return ", ".join("?" * len(items))


class FollowUps:
    """Reads for the follow-up lists; the record of invitations sent from them."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def chats_since(self, shop_id: int, since: int) -> list[dict]:
        """The shop's chats created at or after ``since``, newest first
        (``FOLLOW_UP_COLUMNS``)."""
        cur = self.conn.execute(
            "SELECT c.id, c.customer_id, cu.key, cu.name, c.state, a.handle, "
            "c.classification, c.intent, c.created_at, c.last_message_at, c.product_key, "
            "c.sensitive, p.opted_out_at FROM conversations c "
            "JOIN customers cu ON cu.id = c.customer_id "
            "LEFT JOIN agents a ON a.id = c.assignee_id "
            "LEFT JOIN customer_profiles p ON p.customer_id = c.customer_id "
            "AND p.shop_id = c.shop_id "
            "WHERE c.shop_id = ? AND c.created_at >= ? ORDER BY c.id DESC", (shop_id, since))
        return [dict(zip(FOLLOW_UP_COLUMNS, r, strict=True)) for r in cur.fetchall()]

    def orders(self, shop_id: int, customer_ids: Sequence[int]) -> list[tuple]:
        """(id, key, customer id, created_at, paid_at, total, status) of these customers'
        orders in the shop."""
        out: list[tuple] = []
        ids = list(customer_ids)
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            out += [tuple(r) for r in self.conn.execute(
                "SELECT id, key, customer_id, created_at, paid_at, total, status FROM orders "
                f"WHERE shop_id = ? AND customer_id IN ({_marks(chunk)})", (shop_id, *chunk))]
        return out

    def last_invited(self, shop_id: int, customer_ids: Sequence[int]) -> dict[int, int]:
        """When each of these customers last got a follow-up invitation from the shop."""
        out: dict[int, int] = {}
        ids = list(customer_ids)
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            out.update(self.conn.execute(
                "SELECT customer_id, MAX(at) FROM follow_up_invitations WHERE shop_id = ? "
                f"AND customer_id IN ({_marks(chunk)}) GROUP BY customer_id",
                (shop_id, *chunk)).fetchall())
        return out

    def sends_since(self, shop_id: int, customer_id: int, since: int) -> int:
        """Messages the frequency cap counts for the customer after ``since``: campaign
        sends and follow-up invitations."""
        return self.conn.execute(
            "SELECT (SELECT COUNT(*) FROM campaign_sends WHERE shop_id = ? AND "
            "customer_id = ? AND outcome = 'sent' AND at > ?) + (SELECT COUNT(*) FROM "
            "follow_up_invitations WHERE shop_id = ? AND customer_id = ? AND at > ?)",
            (shop_id, customer_id, since, shop_id, customer_id, since)).fetchone()[0]

    def record(self, shop_id: int, customer_id: int, conversation_id: int, message_id: int,
               agent_id: int, classification: str, at: int) -> int:
        """Record an invitation sent from a follow-up list; returns its id."""
        return int(self.conn.execute(
            "INSERT INTO follow_up_invitations (shop_id, customer_id, conversation_id, "
            "message_id, agent_id, classification, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (shop_id, customer_id, conversation_id, message_id, agent_id, classification,
             at)).lastrowid)
