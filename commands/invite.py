"""Prices after stacking and invitations to order.

``cstool price quote --shop S --item P[:QTY] ...`` (the ``price`` app) and
``cstool conv invite ID --agent A --product P`` (``invite_cmd``, a command of the
``conv`` app).
"""

from typing import Annotated

import typer
from rich.cells import cell_len

from cstool.errors import UsageError
from cstool.i18n import t
from cstool.text_rules import terminal_safe
from cstool.values import yuan

from .context import state, wants_json
from .crud import JsonOpt
from .output import info, print_json, print_table

price_app = typer.Typer(help="Prices after promotions and coupons.", no_args_is_help=True)


def parse_item(text: str) -> tuple[str, int]:
    """``P`` or ``P:QTY`` as (product, quantity)."""
    key, sep, qty = text.rpartition(":")
    if not sep:
        return text, 1
    try:
        return key, int(qty)
    except ValueError:
        raise UsageError(f"--item {text!r}: expected PRODUCT or PRODUCT:QUANTITY",
                         key="invite_bad_item", text=text) from None


def _money(value) -> str:
    return yuan(round(value * 100))


LINE_COLUMNS = [
    ("product", lambda x: x["product"]),
    ("title", lambda x: x["title"]),
    ("qty", lambda x: x["quantity"]),
    ("unit", lambda x: _money(x["unit_price"])),
    ("unit after", lambda x: _money(x["unit_price_after"])),
    ("amount", lambda x: _money(x["amount_after"])),
    ("discount", lambda x: x["promotion"]),
]


def print_quote(q: dict) -> None:
    """A quote for people: the lines, then each step down to the total."""
    print_table(q["lines"], LINE_COLUMNS)
    out = [_step("subtotal", _money(q["subtotal"]))]
    for p in q["promotions"]:
        if p["kind"] == "gift":
            out.append(_step("gift", f"{p['name']} ({p['key']})"))
        else:
            label = "discount" if p["kind"] == "discount" else "full_reduction"
            out.append(_step(label, f"-{_money(p['saving'])}  {p['name']} ({p['key']})"))
    for p in q["promotions_left_out"]:
        out.append(_step("left_out", f"{p['name']} ({p['key']}): {p['reason']}"))
    c = q["coupon"]
    if c:
        out.append(_step("coupon", f"-{_money(c['saving'])}  {c['name']} "
                                   f"({c['key']}, {c['chosen']})"))
    for g in q["gifts"]:
        out.append(_step("gift_line", f"{g['title'] or g['product']} x{g['quantity']} ¥0.00"))
    out.append(_step("total", t("cli.quote.total_saving", total=_money(q["total"]),
                                saving=_money(q["saving"]))))
    for r in q["coupons_not_usable"]:
        out.append(_step("not_usable", f"{r['coupon']}: {r['detail']}"))
    for r in q["coupons_not_chosen"]:
        out.append(_step("not_chosen", f"{r['coupon']}: {r['detail']}"))
    for h in q["hints"]:
        out.append(_step("hint", t("cli.quote.spend_more", amount=_money(h["spend_more"]),
                                   target=h["for"], promotion=h["promotion"])))
    for n in q["notes"]:
        out.append(_step("note", n))
    typer.echo("\n".join(out))


def _step(label: str, text: str) -> str:
    """One step of a quote: its label (``cli.quote.<label>``) padded to 16 cells (a
    Chinese character takes two), then the text."""
    name = t(f"cli.quote.{label}")
    return name + " " * max(1, 16 - cell_len(name)) + text


@price_app.command("quote")
def quote_cmd(
    ctx: typer.Context,
    shop: Annotated[str, typer.Option(help="The shop's key.")],
    item: Annotated[list[str], typer.Option(
        help="PRODUCT or PRODUCT:QUANTITY; repeat for more items.")],
    customer: Annotated[str | None, typer.Option(
        help="The customer whose coupons are tried (the best is chosen).")] = None,
    coupon: Annotated[str | None, typer.Option(help="Use this coupon.")] = None,
    at: Annotated[str | None, typer.Option(
        help="Price at this time (ISO 8601), default now.")] = None,
    json_: JsonOpt = False,
) -> None:
    """The price of items after promotions and one coupon, with the breakdown."""
    q = state(ctx).backend.price_quote(shop, [parse_item(i) for i in item], customer=customer,
                                       coupon=coupon, at=at)
    if wants_json(ctx, json_):
        print_json(q)
    else:
        print_quote(q)


def invite_cmd(
    ctx: typer.Context,
    conversation: Annotated[int, typer.Argument(metavar="ID", help="The conversation's id.")],
    agent: Annotated[str, typer.Option("--agent", "-a", help="The agent's handle.")],
    product: Annotated[str, typer.Option(help="The product's key.")],
    quantity: Annotated[int, typer.Option(help="How many.")] = 1,
    coupon: Annotated[str | None, typer.Option(
        help="Use this coupon (default: the customer's best).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Send an invitation to order: a card with the price after promotions and coupon."""
    msg = state(ctx).backend.invite(conversation, agent, product, quantity, coupon)
    if wants_json(ctx, json_):
        print_json(msg)
    else:
        typer.echo(terminal_safe(msg["body"], keep_lines=True))
        info(t("cli.invitation_sent", id=msg["id"], conversation=conversation))
