"""What staffing reads from the desk's history: arrivals per time bucket and the
desk's handling profile (chat duration, agents' concurrency, opening hours)."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..errors import InvalidInput, NotFound


class StaffingOps:
    """Staffing reads of the Local backend (mixed into LocalBackend)."""

    def _staffing_shop(self, conn, shop: str) -> dict:
        row = conn.execute(
            "SELECT id, timezone, business_hours, service_mode, off_hours_mode FROM shops "
            "WHERE key = ?", (shop,)).fetchone()
        if row is None:
            raise NotFound(f"no shop {shop!r}")
        return {"id": row[0], "timezone": row[1],
                "business_hours": json.loads(row[2]) if row[2] else None,
                "service_mode": row[3], "off_hours_mode": row[4]}

    def arrivals(self, shop: str, since: int, until: int, bucket_min: int = 30, *,
                 desk_only: bool = False) -> dict:
        """Conversations the shop received in [since, until) (UTC ms), counted per
        ``bucket_min``-minute bucket aligned to the shop's local clock (by creation
        time). With ``desk_only``, only those that reached the human desk (queued or
        assigned). Buckets without arrivals are left out; ``first`` / ``last`` are the
        earliest and latest arrival in the range (None when there is none); an empty
        range (``until <= since``) has no arrivals."""
        if bucket_min <= 0 or 1440 % bucket_min:
            raise InvalidInput("the bucket must divide a day (e.g. 15, 30 or 60 minutes)")
        until = max(until, since)  # an empty range [since, since) has no arrivals
        bucket_ms = bucket_min * 60_000
        desk = (" AND (queued_at IS NOT NULL OR assigned_at IS NOT NULL)" if desk_only else "")
        with self.database.read() as conn:
            info = self._staffing_shop(conn, shop)
            shop_id, tz = info["id"], info["timezone"]
            offset = _offset_ms(tz, since) % bucket_ms
            rows = conn.execute(
                "SELECT (created_at + ?) / ? AS b, COUNT(*) FROM conversations "
                "WHERE shop_id = ? AND created_at >= ? AND created_at < ?" + desk
                + " GROUP BY b ORDER BY b",
                (offset, bucket_ms, shop_id, since, until),
            ).fetchall()
            first, last = conn.execute(
                "SELECT MIN(created_at), MAX(created_at) FROM conversations "
                "WHERE shop_id = ? AND created_at >= ? AND created_at < ?" + desk,
                (shop_id, since, until),
            ).fetchone()
        return {
            "shop": shop,
            "timezone": tz,
            "bucket_min": bucket_min,
            "first": first,
            "last": last,
            "buckets": [(b * bucket_ms - offset, n) for b, n in rows],
        }

    def desk_profile(self, shop: str, since: int, until: int) -> dict:
        """How the shop's desk handles chats: mean handling time (assigned to closed) of
        the conversations closed after an agent took them in [since, until), the median
        ``max_chats`` of its agents (role agent), its time zone, opening hours and modes."""
        with self.database.read() as conn:
            info = self._staffing_shop(conn, shop)
            shop_id = info["id"]
            handled, mean_s = conn.execute(
                "SELECT COUNT(*), AVG(closed_at - assigned_at) / 1000.0 FROM conversations "
                "WHERE shop_id = ? AND created_at >= ? AND created_at < ? "
                "AND assigned_at IS NOT NULL AND closed_at IS NOT NULL "
                "AND closed_at > assigned_at",
                (shop_id, since, until),
            ).fetchone()
            caps = [r[0] for r in conn.execute(
                "SELECT a.max_chats FROM agent_shops x JOIN agents a ON a.id = x.agent_id "
                "WHERE x.shop_id = ? AND a.max_chats > 0 AND a.role = 'agent'",
                (shop_id,),
            ).fetchall()]
        return {
            "shop": shop,
            "timezone": info["timezone"],
            "business_hours": info["business_hours"],
            "service_mode": info["service_mode"],
            "off_hours_mode": info["off_hours_mode"],
            "handled": handled,
            "handle_s": round(mean_s, 1) if handled else None,
            "concurrency": int(statistics.median_low(caps)) if caps else None,
        }


def _offset_ms(tz: str, at_ms: int) -> int:
    zone = ZoneInfo(tz)
    delta = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(zone).utcoffset()
    return int(delta.total_seconds() * 1000) if delta else 0
