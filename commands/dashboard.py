"""`cstool dashboard`: the supervisor's live screen (Textual)."""

import os
from typing import Annotated

import typer

from cstool.errors import UsageError

from .context import state


def dashboard_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="The shop to watch (w switches).")] = None,
    poll: Annotated[float, typer.Option(min=0.2, max=60, help="Seconds between polls.")] = 1.0,
    queue_max: Annotated[int, typer.Option(help="Alert when more chats wait than this.")] = 10,
    surge_min: Annotated[int, typer.Option(
        min=1, help="A keyword surge needs at least this many mentions in 15 minutes.")] = 10,
    replay: Annotated[bool, typer.Option(
        "--replay", help="Take 'now' from the newest event in the file, to watch "
                         "`fixtures generate --stream` replay a past day.")] = False,
) -> None:
    """Open the live dashboard: queue, agents, today's rates, hourly volume, alerts.

    Times are the shop's (its time zone) unless $CSTOOL_TZ is set."""
    from cstool.alerts import Thresholds
    from cstool.clock import LatestEventClock
    from tui.dashboard import DashboardApp

    if not os.isatty(1):
        raise UsageError("the dashboard needs a terminal (use `cstool metrics report` in scripts)",
                         key="dashboard_needs_tty")
    backend = state(ctx).backend
    if shop is None:
        shops = backend.list("shops", limit=1)
        if not shops:
            raise UsageError("no shops yet: load some (cstool fixtures load demo)",
                             key="no_shops")
        shop = shops[0]["key"]
    record = backend.get("shops", shop)
    if not os.environ.get("CSTOOL_TZ") and record.get("timezone"):
        # "today" is the shop's day: its chart, clock and alert times in its zone too
        os.environ["CSTOOL_TZ"] = record["timezone"]
        from cstool.values import display_zone

        display_zone.cache_clear()  # the zone is read once per process: read it again
    hint = None
    if replay:
        if not backend.has_database_file:
            raise UsageError("--replay reads the data file: use it with --db, not --api",
                             key="replay_needs_db")
        backend.clock = LatestEventClock(backend.database)
    elif backend.has_database_file:
        newest = LatestEventClock(backend.database, fallback=backend.clock).now_ms()
        if abs(newest - backend.clock.now_ms()) > 6 * 3_600_000:
            from cstool.i18n import t
            from cstool.values import format_time

            hint = t("dash.replay_hint", at=format_time(newest)[:16].replace("T", " "))
    DashboardApp(backend, shop, poll_s=poll,
                 thresholds=Thresholds(queue_max=queue_max, surge_min=surge_min),
                 hint=hint).run()
