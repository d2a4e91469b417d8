"""The staffing service: what staffing reads from the desk's history, arrivals per time
bucket and the desk's handling profile (chat duration, agents' concurrency, opening
hours). The SQL is ``cstool.storage.repos.staffing``."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..errors import InvalidInput, NotFound
from ..storage.repos.staffing import Staffing
from .context import ServiceContext


class StaffingService:
    """Staffing reads over the context's data file (one read unit of work each)."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    @staticmethod
    def _shop(repo: Staffing, shop: str) -> dict:
        info = repo.shop(shop)
        if info is None:
            raise NotFound(f"no shop {shop!r}", key="no_shop", shop=shop)
        return info

    def arrivals(self, shop: str, since: int, until: int, bucket_min: int = 30, *,
                 desk_only: bool = False) -> dict:
        """Conversations the shop received in [since, until) (UTC ms), counted per
        ``bucket_min``-minute bucket aligned to the shop's local clock (by creation
        time). With ``desk_only``, only those that reached the human desk (queued or
        assigned). Buckets are ``[start, count]`` pairs (lists, as JSON carries them on
        every backend); buckets without arrivals are left out; ``first`` / ``last`` are the
        earliest and latest arrival in the range (None when there is none); an empty
        range (``until <= since``) has no arrivals."""
        if bucket_min <= 0 or 1440 % bucket_min:
            raise InvalidInput("the bucket must divide a day (e.g. 15, 30 or 60 minutes)",
                               key="bucket_not_dividing_day", minutes=bucket_min)
        until = max(until, since)  # an empty range [since, since) has no arrivals
        bucket_ms = bucket_min * 60_000
        with self.ctx.read() as uow:
            repo = uow.repo(Staffing)
            info = self._shop(repo, shop)
            shop_id, tz = info["id"], info["timezone"]
            offset = _offset_ms(tz, since) % bucket_ms
            rows = repo.arrivals(shop_id, since, until, bucket_ms, offset,
                                 desk_only=desk_only)
            first, last = repo.arrival_span(shop_id, since, until, desk_only=desk_only)
        return {
            "shop": shop,
            "timezone": tz,
            "bucket_min": bucket_min,
            "first": first,
            "last": last,
            "buckets": [[b * bucket_ms - offset, n] for b, n in rows],  # JSON pairs
        }

    def desk_profile(self, shop: str, since: int, until: int) -> dict:
        """How the shop's desk handles chats: mean handling time (assigned to closed) of
        the conversations closed after an agent took them in [since, until), the median
        ``max_chats`` of its agents (role agent), its time zone, opening hours and modes."""
        with self.ctx.read() as uow:
            repo = uow.repo(Staffing)
            info = self._shop(repo, shop)
            handled, mean_s = repo.handling(info["id"], since, until)
            caps = repo.capacities(info["id"])
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
