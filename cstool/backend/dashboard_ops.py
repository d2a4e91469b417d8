"""What the supervisor dashboard reads, in one call: the queue now, agents by status,
active chats, today's figures and hourly volume against the same weekday last week, the
agent table, and keyword counts for surge alerts.

The figures come from the one metrics module, like the CLI and the API: the stored
conversation facts, caught up from the event log first, read for one shop and today in a
few indexed queries (``cstool.metrics.today``), which give exactly what three full
reports give (``figures_by_reports``, the reference the tests and
``benchmarks/bench_metrics.py`` compare against). The live state (queue, agents, active
chats, recent customer messages) is read with small indexed queries, all in one read
transaction."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..alerts import keyword_counts
from ..errors import NotFound
from ..metrics import store, today
from . import queue_index

RECENT_MS = 15 * 60_000
BEFORE_MS = 60 * 60_000


class DashboardOps:
    """Dashboard reads of the Local backend (mixed into LocalBackend)."""

    def dashboard(self, shop: str) -> dict:
        """A snapshot of one shop's desk for the supervisor dashboard."""
        now = self._now()
        with self.database.read() as conn:
            if conn.execute("SELECT 1 FROM shops WHERE key = ?", (shop,)).fetchone() is None:
                raise NotFound(f"no shop {shop!r}")
        self._metrics_current()  # the stored facts caught up with the event log
        with self.database.read() as conn:
            row = conn.execute("SELECT id, name, timezone, settings FROM shops WHERE key = ?",
                               (shop,)).fetchone()
            if row is None:
                raise NotFound(f"no shop {shop!r}")
            shop_id, name, tz = row[0], row[1], row[2]
            queued = queue_index.waiting_since(conn, shop_id)  # by the queue's counts
            active = conn.execute(
                "SELECT COUNT(*) FROM conversations WHERE shop_id = ? AND state = 'active'",
                (shop_id,)).fetchone()[0]
            with_bot = conn.execute(
                "SELECT COUNT(*) FROM conversations WHERE shop_id = ? AND state = 'bot'",
                (shop_id,)).fetchone()[0]
            statuses = dict(conn.execute(
                "SELECT a.status, COUNT(*) FROM agents a JOIN agent_shops s ON s.agent_id = a.id "
                "WHERE s.shop_id = ? AND a.role = 'agent' GROUP BY a.status", (shop_id,)))
            # the last 75 minutes of every shop through the time index, then this shop's
            # (CROSS JOIN keeps that order: the planner would otherwise walk every
            # conversation the shop ever had)
            texts = conn.execute(
                "SELECT m.body, m.created_at FROM messages m CROSS JOIN conversations c "
                "ON c.id = m.conversation_id WHERE c.shop_id = ? AND m.sender = 'customer' "
                "AND m.created_at >= ? AND m.created_at <= ?",
                (shop_id, now - RECENT_MS - BEFORE_MS, now)).fetchall()
            day_start, week_ago, local = _day(now, tz)
            shown = [r[0] for r in conn.execute(
                "SELECT DISTINCT agent_id FROM agent_shops WHERE shop_id = ?", (shop_id,))]
            figures = today.shop_period(conn, shop_id, day_start, now + 1, self._now(), shown)
            targets = store.read_targets(conn)[0][shop_id]
            hourly = today.hourly(conn, shop_id, day_start, now + 1, targets)
            hourly_last_week = today.hourly(conn, shop_id, week_ago, week_ago + 86_400_000,
                                            targets)
        sla = self._sla_tiles(shop_id, now)
        week = self.ticket_report(shop=shop, since=now - 7 * 86_400_000) if \
            hasattr(self, "ticket_report") else []
        recent = [t for t, at in texts if at >= now - RECENT_MS]
        before = [t for t, at in texts if at < now - RECENT_MS]
        return {
            "shop": shop, "name": name, "at_ms": now, "local_hour": local.hour,
            "queue": {"waiting": queued[0],
                      "longest_wait_s": None if queued[1] is None else (now - queued[1]) // 1000},
            "active": active, "with_bot": with_bot,
            "agents": {s: statuses.get(s, 0) for s in ("online", "busy", "away", "offline")},
            "today": figures["total"],
            "hourly": hourly,
            "hourly_last_week": hourly_last_week,
            "agent_rows": figures["rows"],
            "keywords": {"recent": keyword_counts(recent), "before": keyword_counts(before),
                         "window_ratio": BEFORE_MS / RECENT_MS},
            "sla": {**sla,
                    "first_response_met_week": week[0]["first_response_met"] if week else None,
                    "resolution_met_week": week[0]["resolution_met"] if week else None},
        }

    def _sla_tiles(self, shop_id: int, now: int) -> dict:
        """Open tickets, those due within the hour and those past a deadline."""
        with self.database.read() as conn:
            open_, soon, late = conn.execute(
                "SELECT COUNT(*), "
                "SUM(CASE WHEN COALESCE(CASE WHEN first_responded_at IS NULL "
                "THEN first_response_due END, resolution_due) BETWEEN ? AND ? THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN (first_responded_at IS NULL AND first_response_due < ?) "
                "OR resolution_due < ? THEN 1 ELSE 0 END) FROM tickets WHERE shop_id = ? "
                "AND status IN ('new', 'open', 'waiting_customer', 'waiting_third_party')",
                (now, now + 3_600_000, now, now, shop_id)).fetchone()
        return {"open": open_, "due_within_hour": soon or 0, "breached": late or 0}


def _day(now: int, tz: str) -> tuple[int, int, datetime]:
    """(local midnight, the same midnight a week before, the local time) of ``now`` in the
    shop's zone."""
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(now / 1000, tz=UTC).astimezone(zone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
    return (int(midnight.timestamp() * 1000),
            int((midnight - timedelta(days=7)).timestamp() * 1000), local)


def figures_by_reports(backend, shop: str, now: int) -> dict:
    """The snapshot's figures (``today``, ``hourly``, ``hourly_last_week``,
    ``agent_rows``) by three full reports (``metrics_report``): how the dashboard computed
    them before reading them for one shop straight from the stored facts, kept as the
    reference the tests and the benchmark compare the snapshot against."""
    row = backend.get("shops", shop)
    day_start, week_ago, _ = _day(now, row["timezone"])
    today_report = backend.metrics_report(shop, since=day_start, until=now + 1, by="hour")
    last_week = backend.metrics_report(shop, since=week_ago, until=week_ago + 86_400_000,
                                       by="hour")
    agents = backend.metrics_report(shop, since=day_start, until=now + 1, by="agent")
    return {"today": today_report["total"], "hourly": _by_hour(today_report["rows"]),
            "hourly_last_week": _by_hour(last_week["rows"]), "agent_rows": agents["rows"]}


def _by_hour(rows: list[dict]) -> list[int]:
    """Conversations per local hour 0..23 from a report grouped by hour."""
    out = [0] * 24
    for r in rows:
        hour = int(str(r["hour"])[11:13])
        out[hour] += r.get("conversations", 0) or 0
    return out
