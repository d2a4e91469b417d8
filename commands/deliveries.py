"""What `cstool webhook` and `cstool channel` share about their deliveries: the options of
`deliveries` (status, limit, paging) and the `delivery DELIVERY_ID` command itself."""

from collections.abc import Callable
from typing import Annotated

import typer

from .context import state, wants_json
from .crud import JsonOpt
from .output import print_json, print_record, print_table

StatusOpt = Annotated[str | None, typer.Option(
    help="Only pending, done or failed (dead letters).")]
LimitOpt = Annotated[int, typer.Option(min=1, max=10000, help="At most this many.")]
AfterOpt = Annotated[str | None, typer.Option(help="After this delivery id (paging).")]
DeliveryArg = Annotated[str, typer.Argument(metavar="DELIVERY_ID")]


def print_deliveries(ctx: typer.Context, json_: bool, rows: list[dict],
                     columns: list[tuple[str, Callable[[dict], object]]]) -> None:
    """A page of deliveries as JSON or as a table of ``columns``."""
    if wants_json(ctx, json_):
        print_json(rows)
    else:
        print_table(rows, columns)


def add_delivery_command(app: typer.Typer, doc: str) -> None:
    """`delivery DELIVERY_ID`: one delivery, its body and every attempt (``doc``: the
    command's help)."""

    def delivery_cmd(ctx: typer.Context, delivery: DeliveryArg, json_: JsonOpt = False) -> None:
        d = state(ctx).backend.webhook_delivery(delivery)
        if wants_json(ctx, json_):
            print_json(d)
        else:
            print_record(d)

    delivery_cmd.__doc__ = doc
    app.command("delivery")(delivery_cmd)
