"""`cstool dashboard`: the supervisor's live screen (Textual)."""

import os
from typing import Annotated

import typer

from cstool.errors import UsageError

from .context import state


def _zone(name: str | None) -> str | None:
    """``name`` when it is a known IANA zone, else None."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return name if name and ZoneInfo(name) else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


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
    from cstool.storage.event_clock import LatestEventClock
    from cstool.values import format_time
    from tui.dashboard import DashboardApp

    if not os.isatty(1):
        raise UsageError("the dashboard needs a terminal (use `cstool metrics report` in scripts)",
                         key="dashboard_needs_tty")
    st = state(ctx)
    replay_clock = None
    if replay:
        if st.api_url() is not None:
            raise UsageError("--replay reads the data file: use it with --db, not --api",
                             key="replay_needs_db")
        from cstool.storage import default_db_path

        # "now" is the newest event's time: the backend is built with that clock
        replay_clock = LatestEventClock.of_file(st.db or default_db_path())
        ctx.call_on_close(replay_clock.close)
        st.clock = replay_clock
    backend = st.backend
    if shop is None:
        shops = backend.list("shops", limit=1)
        if not shops:
            raise UsageError("no shops yet: load some (cstool fixtures load demo)",
                             key="no_shops")
        shop = shops[0]["key"]
    record = backend.get("shops", shop)
    # "today" is the shop's day: the screen's clock, alert times and the hourly chart
    # (the dashboard operation's ``zone``) in its zone too, unless $CSTOOL_TZ says another
    zone = _zone(os.environ.get("CSTOOL_TZ")) or _zone(record.get("timezone"))
    hint = None
    if replay_clock is None and backend.has_database_file:
        newest = LatestEventClock(backend.database, fallback=backend.clock).now_ms()
        if abs(newest - backend.clock.now_ms()) > 6 * 3_600_000:
            from cstool.i18n import t
            from cstool.values import format_time_in

            at = format_time_in(newest, zone) if zone else format_time(newest)
            hint = t("dash.replay_hint", at=at[:16].replace("T", " "))
    DashboardApp(backend, shop, poll_s=poll,
                 thresholds=Thresholds(queue_max=queue_max, surge_min=surge_min),
                 hint=hint, zone=zone).run()
