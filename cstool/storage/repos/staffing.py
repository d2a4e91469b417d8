"""What staffing reads of the desk's history: arrivals per bucket, handling times, the
agents' capacities (portable SQL)."""

from __future__ import annotations

import json
import sqlite3

from ..where import Where


class Staffing:
    """Staffing's reads over one connection (``uow.repo(Staffing)``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def shop(self, key: str) -> dict | None:
        """A shop's id, time zone, opening hours and modes (None: no such shop)."""
        row = self.conn.execute(
            "SELECT id, timezone, business_hours, service_mode, off_hours_mode FROM shops "
            "WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "timezone": row[1],
                "business_hours": json.loads(row[2]) if row[2] else None,
                "service_mode": row[3], "off_hours_mode": row[4]}

    @staticmethod
    def _created(shop_id: int, since: int, until: int, desk_only: bool) -> Where:
        where = Where().add("shop_id = ?", shop_id).add("created_at >= ?", since)
        where.add("created_at < ?", until)
        if desk_only:
            where.add("(queued_at IS NOT NULL OR assigned_at IS NOT NULL)")
        return where

    def arrivals(self, shop_id: int, since: int, until: int, bucket_ms: int, offset: int,
                 *, desk_only: bool = False) -> list[tuple[int, int]]:
        """Conversations created in ``[since, until)`` per bucket: (bucket number of
        ``created_at + offset``, count), in order; with ``desk_only`` only those that
        reached the human desk."""
        where = self._created(shop_id, since, until, desk_only)
        return self.conn.execute(
            f"SELECT (created_at + ?) / ? AS b, COUNT(*) FROM conversations {where.sql()} "
            "GROUP BY b ORDER BY b", (offset, bucket_ms, *where.params)).fetchall()

    def arrival_span(self, shop_id: int, since: int, until: int, *,
                     desk_only: bool = False) -> tuple[int | None, int | None]:
        """The first and last creation time of those conversations."""
        where = self._created(shop_id, since, until, desk_only)
        return self.conn.execute(
            f"SELECT MIN(created_at), MAX(created_at) FROM conversations {where.sql()}",
            where.params).fetchone()

    def handling(self, shop_id: int, since: int, until: int) -> tuple[int, float | None]:
        """How many conversations created in ``[since, until)`` were closed after an
        agent took them, and their mean handling time in seconds."""
        return self.conn.execute(
            "SELECT COUNT(*), AVG(closed_at - assigned_at) / 1000.0 FROM conversations "
            "WHERE shop_id = ? AND created_at >= ? AND created_at < ? "
            "AND assigned_at IS NOT NULL AND closed_at IS NOT NULL "
            "AND closed_at > assigned_at", (shop_id, since, until)).fetchone()

    def capacities(self, shop_id: int) -> list[int]:
        """The ``max_chats`` of the shop's agents (role agent, capacity above 0)."""
        return [r[0] for r in self.conn.execute(
            "SELECT a.max_chats FROM agent_shops x JOIN agents a ON a.id = x.agent_id "
            "WHERE x.shop_id = ? AND a.max_chats > 0 AND a.role = 'agent'", (shop_id,))]
