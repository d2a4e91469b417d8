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
) -> None:
    """Open the live dashboard: queue, agents, today's rates, hourly volume, alerts."""
    from cstool.alerts import Thresholds
    from tui.dashboard import DashboardApp

    if not os.isatty(1):
        raise UsageError("the dashboard needs a terminal (use `cstool metrics report` in scripts)")
    backend = state(ctx).backend
    if shop is None:
        shops = backend.list("shops", limit=1)
        if not shops:
            raise UsageError("no shops yet: load some (cstool fixtures load demo)")
        shop = shops[0]["key"]
    backend.get("shops", shop)
    DashboardApp(backend, shop, poll_s=poll, thresholds=Thresholds(queue_max=queue_max)).run()
