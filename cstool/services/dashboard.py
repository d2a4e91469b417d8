"""What the supervisor dashboard reads, in one call: the queue now, agents by status,
active chats, today's figures and hourly volume against the same weekday last week, the
agent table (today's figures, as the reports give them) with ``active_by_agent``, the
shop's chats each agent of the table holds now (they add up to the ``active`` tile),
keyword counts for surge alerts, and today's 质检 (``qa``: the mean score, low-scoring
agents, chats waiting for review).

The figures come from the one metrics module, like the CLI and the API: the stored
conversation facts, caught up from the event log first, read for one shop and today in a
few indexed queries (``services.metrics.shop_period`` and ``hourly`` over
``storage.repos.metrics_today``), which give exactly what three full
reports give (``figures_by_reports``, the reference the tests and
``benchmarks/bench_metrics.py`` compare against). The live state (queue, agents, active
chats, recent customer messages) is read with small indexed queries, all in one read
transaction."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..alerts import keyword_counts
from ..api.backend import Backend
from ..storage.repos.dashboard import sla_tiles
from ..storage.repos.metrics import read_targets
from .context import ServiceContext
from .metrics import hourly, shop_period, zone_of

RECENT_MS = 15 * 60_000
BEFORE_MS = 60 * 60_000


class DashboardService:
    """The supervisor dashboard's snapshot (the worked example of a service: built with
    the context, one read unit of work, the SQL in repositories, other services called
    by name)."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def dashboard(self, shop: str, zone: str | None = None) -> dict:
        """A snapshot of one shop's desk for the supervisor dashboard.

        "Today" is the shop's day (its ``timezone``); the hourly volume and the agent
        table's times are in ``zone`` (an IANA name; None: the display zone, as
        ``metrics_report`` takes it), so they equal the reports asked in that zone. A
        front end showing the shop's clock passes the shop's zone."""
        ctx = self.ctx
        now = ctx.now()
        with ctx.read() as uow:
            uow.shops.by_key(shop)  # NotFound before the catch-up below writes
        hours = zone_of(zone)  # a bad zone: a usage error before anything is read
        ctx.metrics.catch_up()  # the stored facts caught up with the event log
        with ctx.read() as uow:
            row = uow.shops.by_key(shop)
            shop_id, name, tz = row["id"], row["name"], row["timezone"]
            queued = uow.queue.waiting_since(shop_id)  # by the queue's counts
            active = uow.conversations.count_in_state(shop_id, "active")
            with_bot = uow.conversations.count_in_state(shop_id, "bot")
            statuses = uow.agents.status_counts(shop_id)
            texts = uow.conversations.customer_message_times(
                shop_id, now - RECENT_MS - BEFORE_MS, now)
            day_start, week_ago, local = _day(now, tz)
            shown = uow.agents.ids_in_shop(shop_id)
            figures = shop_period(uow.conn, shop_id, day_start, now + 1, ctx.now(), shown,
                                  hours)
            targets = read_targets(uow.conn)[0][shop_id]
            today = hourly(uow.conn, shop_id, day_start, now + 1, targets, hours)
            last_week = hourly(uow.conn, shop_id, week_ago, week_ago + 86_400_000, targets,
                               hours)
            open_, soon, late = sla_tiles(uow.conn, shop_id, now)
            holding = {handle: len(uow.conversations.active_of(agent_id, shop_id))
                       for agent_id, handle, *_ in uow.agents.routing_rows(shop_id, staff=True)}
        week = ctx.tickets.ticket_report(shop=shop, since=now - 7 * 86_400_000)
        qa = ctx.qa.today(shop, day_start, now + 1)
        recent = [t for t, at in texts if at >= now - RECENT_MS]
        before = [t for t, at in texts if at < now - RECENT_MS]
        return {
            "shop": shop, "name": name, "at_ms": now, "local_hour": local.hour,
            "queue": {"waiting": queued[0],
                      "longest_wait_s": None if queued[1] is None else (now - queued[1]) // 1000},
            "active": active, "with_bot": with_bot,
            "agents": {s: statuses.get(s, 0) for s in ("online", "busy", "away", "offline")},
            "today": figures["total"],
            "hourly": today,
            "hourly_last_week": last_week,
            "agent_rows": figures["rows"],
            "active_by_agent": {r["agent"]: holding.get(r["agent"], 0)
                                for r in figures["rows"]},
            "keywords": {"recent": keyword_counts(recent), "before": keyword_counts(before),
                         "window_ratio": BEFORE_MS / RECENT_MS},
            "qa": qa,
            "sla": {"open": open_, "due_within_hour": soon, "breached": late,
                    "first_response_met_week": week[0]["first_response_met"] if week else None,
                    "resolution_met_week": week[0]["resolution_met"] if week else None},
        }


def _day(now: int, tz: str) -> tuple[int, int, datetime]:
    """(local midnight, the same midnight a week before, the local time) of ``now`` in the
    shop's zone."""
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(now / 1000, tz=UTC).astimezone(zone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
    return (int(midnight.timestamp() * 1000),
            int((midnight - timedelta(days=7)).timestamp() * 1000), local)


def figures_by_reports(backend: Backend, shop: str, now: int, zone: str | None = None) -> dict:
    """The snapshot's figures (``today``, ``hourly``, ``hourly_last_week``,
    ``agent_rows``) by three full reports (``metrics_report``): how the dashboard computed
    them before reading them for one shop straight from the stored facts, kept as the
    reference the tests and the benchmark compare the snapshot (of the same ``zone``)
    against."""
    row = backend.get("shops", shop)
    day_start, week_ago, _ = _day(now, row["timezone"])
    today_report = backend.metrics_report(shop, since=day_start, until=now + 1, by="hour",
                                          zone=zone)
    last_week = backend.metrics_report(shop, since=week_ago, until=week_ago + 86_400_000,
                                       by="hour", zone=zone)
    agents = backend.metrics_report(shop, since=day_start, until=now + 1, by="agent",
                                    zone=zone)
    return {"today": today_report["total"], "hourly": _by_hour(today_report["rows"]),
            "hourly_last_week": _by_hour(last_week["rows"]), "agent_rows": agents["rows"]}


def _by_hour(rows: list[dict]) -> list[int]:
    """Conversations per local hour 0..23 from a report grouped by hour."""
    out = [0] * 24
    for r in rows:
        hour = int(str(r["hour"])[11:13])
        out[hour] += r.get("conversations", 0) or 0
    return out
