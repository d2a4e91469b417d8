"""`cstool order ...`: customers' orders, items and logistics."""

from typing import Annotated

import typer

from cstool.i18n import t
from cstool.values import parse_money, parse_time, short_time, yuan

from . import crud
from .context import state, wants_json
from .output import info, print_json


def _total(r: dict) -> str:
    cents = sum(parse_money(i["price"]) * i["quantity"] for i in r["items"])
    return yuan(cents - parse_money(r.get("discount", 0)))


app = typer.Typer(help="Orders: items, amounts, status and logistics.", no_args_is_help=True)
crud.register(
    app,
    "orders",
    [
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("customer", lambda r: r["customer"]),
        ("status", lambda r: r["status"]),
        ("total", _total),
        ("items", lambda r: sum(i["quantity"] for i in r["items"])),
        ("created", lambda r: short_time(parse_time(r["created_at"]))),
    ],
)


ByOpt = Annotated[str | None, typer.Option("--by", help="The acting agent's handle.")]
KeyArg = Annotated[str, typer.Argument(metavar="ORDER", help="The order's key.")]


@app.command("cancel")
def cancel_cmd(
    ctx: typer.Context,
    key: KeyArg,
    by: ByOpt = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the event).")] = None,
    json_: crud.JsonOpt = False,
) -> None:
    """Cancel an order not paid yet (a paid, shipped or cancelled one is refused)."""
    order = state(ctx).backend.cancel_order(key, by=by, reason=reason)
    if wants_json(ctx, json_):
        print_json(order)
    else:
        info(t("cli.order_cancelled", order=order["key"]))


@app.command("address")
def address_cmd(
    ctx: typer.Context,
    key: KeyArg,
    address: Annotated[str | None, typer.Option(help="The new address.")] = None,
    phone: Annotated[str | None, typer.Option(help="The new phone.")] = None,
    receiver: Annotated[str | None, typer.Option(help="The new receiver.")] = None,
    by: ByOpt = None,
    json_: crud.JsonOpt = False,
) -> None:
    """Change where an order goes (address, phone, receiver) before it ships."""
    order = state(ctx).backend.change_order_address(key, address=address, phone=phone,
                                                    receiver=receiver, by=by)
    if wants_json(ctx, json_):
        print_json(order)
    else:
        info(t("cli.order_readdressed", order=order["key"], receiver=order.get("receiver") or "",
               phone=order.get("phone") or "", address=order.get("address") or ""))
