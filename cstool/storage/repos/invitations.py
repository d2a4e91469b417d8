"""What price quotes and invitations read besides the coupons held: a shop's
promotions and records by key (as internal records, row ids stripped), and the
conversation mark an agent's invitation leaves (an agent reply)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ..records import RecordStore, strip_ids


class Invitations:
    """What quotes and invitations read and write."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def shop_promotions(self, shop_id: int) -> list[dict]:
        """The shop's promotions as internal records, by key."""
        return [strip_ids(r) for r in RecordStore(self.conn).read_where(
            "promotions", "WHERE t.shop_id = ?", (shop_id,))]

    def records_by_keys(self, kind: str, keys: Iterable[str]) -> list[dict]:
        """The records of ``kind`` (products, coupons ...) with these keys, by key."""
        keys = sorted(set(keys))
        if not keys:
            return []
        marks = ", ".join("?" for _ in keys)
        return [strip_ids(r) for r in RecordStore(self.conn).read_where(
            kind, f"WHERE t.key IN ({marks})", tuple(keys))]

    def mark_agent_reply(self, conversation: int, at: int) -> None:
        """An agent wrote into the chat at ``at``: its first agent reply (if none yet) and
        the agent has seen it up to now."""
        self.conn.execute(
            "UPDATE conversations SET first_agent_reply_at = COALESCE(first_agent_reply_at, ?), "
            "agent_seen_at = ? WHERE id = ?", (at, at, conversation))
