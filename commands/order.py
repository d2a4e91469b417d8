"""`cstool order ...`: customers' orders, items and logistics, and the shop platform's
order events (``order event``)."""

from typing import Annotated

import typer

from cstool.errors import UsageError
from cstool.i18n import t
from cstool.values import parse_money, parse_time, short_time, yuan

from . import crud
from .context import state, wants_json
from .crud import JsonOpt
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


def _item(text: str) -> dict:
    """``PRODUCT[:QUANTITY[:PRICE]]`` as an order item."""
    product, _, rest = text.partition(":")
    quantity, _, price = rest.partition(":")
    if not product or (quantity and not quantity.isdigit()):
        raise UsageError(f"--item {text!r}: expected PRODUCT[:QUANTITY[:PRICE]]",
                         key="order_item_usage", text=text)
    item: dict = {"product": product, "quantity": int(quantity) if quantity else 1}
    if price:
        item["price"] = price
    return item


@app.command("event")
def event_cmd(
    ctx: typer.Context,
    shop: Annotated[str, typer.Argument(help="The shop the order is in.")],
    event_id: Annotated[str, typer.Argument(metavar="EVENT_ID",
                                            help="The platform's id of the event.")],
    type_: Annotated[str, typer.Argument(
        metavar="TYPE", help="created, paid, shipped, logistics, delivered, refund_requested, "
        "refunded or cancelled.")],
    order: Annotated[str, typer.Argument(help="The order's key.")],
    customer: Annotated[str | None, typer.Option(help="The customer (a new order needs it).")]
    = None,
    item: Annotated[list[str] | None, typer.Option(
        help="A new order's item: PRODUCT[:QUANTITY[:PRICE]] (repeat).")] = None,
    at: Annotated[str | None, typer.Option(help="When it happened (default now).")] = None,
    carrier: Annotated[str | None, typer.Option(help="The carrier (shipped).")] = None,
    tracking_no: Annotated[str | None, typer.Option(help="The tracking number.")] = None,
    status: Annotated[str | None, typer.Option(help="A logistics step's status.")] = None,
    detail: Annotated[str | None, typer.Option(help="A logistics step's detail.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Apply an order or logistics change as the shop platform would push it (once per
    event id); campaigns fire from it."""
    out = state(ctx).backend.order_event(
        shop, event_id, type_, order, at=at, customer=customer,
        items=[_item(i) for i in item] if item else None, carrier=carrier,
        tracking_no=tracking_no, status=status, detail=detail)
    if wants_json(ctx, json_):
        print_json(out)
    elif out["duplicate"]:
        info(t("cli.order_event_duplicate", event=event_id, order=order, status=out["status"]))
    else:
        info(t("cli.order_event_applied", event=event_id, order=order, status=out["status"],
               changed=", ".join(out["changed"]) or "-"))
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
