"""Prices and invitations to order: ``price_quote`` reads a shop's promotions, the
products and the customer's coupons and hands them to the pure ``cstool.pricing``;
``invite`` does the same for one item inside a chat and sends the result as an
``invitation`` card from the assigned agent, with its event, in one unit of work.
``quote`` is what other services price with (campaigns' ``{price_after_discount}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .. import pricing
from ..errors import InvalidInput, NotFound
from ..storage.repos.coupons import Coupons
from ..storage.repos.invitations import Invitations
from ..storage.unit_of_work import UnitOfWork
from ..values import format_money, format_time, format_time_in, parse_time, yuan
from . import messages
from .context import ServiceContext


def normalize_items(items: Iterable[Any]) -> list[tuple[str, int]]:
    """Items as ``(product, quantity)``: from pairs, or dicts ``{product, quantity=1}``."""
    out: list[tuple[str, int]] = []
    for item in items:
        if isinstance(item, Mapping):
            if not item.get("product"):
                raise InvalidInput("an item needs a product", key="item_needs_product")
            out.append((str(item["product"]), item.get("quantity", 1)))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            out.append((str(item[0]), item[1]))
        else:
            raise InvalidInput(f"an item is a product and a quantity, got {item!r}",
                               key="item_bad", item=repr(item))
    return out


class InvitationService:
    """Price quotes and invitations to order."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def price_quote(self, shop: str, items: Iterable[Any], customer: str | None = None,
                    coupon: str | None = None, *, at: str | int | None = None) -> dict:
        """The price of ``items`` after promotions and one coupon, with the breakdown.

        With ``customer``, their held coupons are tried and the best one is used unless
        ``coupon`` names one; without, only a named coupon is applied (as if held).
        ``at`` prices at another time (ISO 8601), default now.
        """
        pairs = normalize_items(items)
        try:
            now = self.ctx.now() if at is None else parse_time(at)
        except ValueError as e:
            raise InvalidInput(f"at: {e}", key="at_bad", detail=str(e)) from None
        with self.ctx.read() as uow:
            shop_row = uow.shops.by_key(shop)
            customer_id = None
            if customer is not None:
                customer_id = uow.customers.id_of(customer)
                if customer_id is None:
                    raise NotFound(f"no customer {customer!r}",
                                   key="no_customer", customer=customer)
            q = self.quote(uow, shop_row, pairs, customer_id, coupon, now)
        return {"customer": customer, **q.to_external()}

    def invite(self, conversation: int, agent: str, product: str, quantity: int = 1,
               coupon: str | None = None) -> dict:
        """The assigned agent sends an invitation to order one item: a card with the
        unit price, promotions, coupon (the named one, else the customer's best) and
        the price after stacking. Returns the message."""
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)  # the chat first, as the server's policies
            a = uow.agents.by_handle(agent)
            self.ctx.desk.must_hold(conv, a, "send an invitation in")
            shop = uow.shops.by_id(conv["shop_id"])
            now = uow.now
            q = self.quote(uow, shop, [(product, quantity)], conv["customer_id"], coupon, now)
            card = invitation_card(q, shop["timezone"])
            uow.repo(Invitations).mark_agent_reply(conv["id"], now)
            msg = messages.add_message(uow, conv, "agent", invitation_text(q), agent_id=a["id"],
                                       agent=agent, kind="invitation", payload=card)
            uow.event("invitation.sent", "conversation", str(conv["id"]), conv["shop_id"],
                      {"message": msg["id"], "agent": agent, "product": product,
                       "quantity": quantity,
                       "coupon": card["coupon"]["key"] if card["coupon"] else None,
                       "total": card["total"]})
            return msg

    def quote(self, uow: UnitOfWork, shop: dict, items: list[tuple[str, int]],
              customer_id: int | None, coupon: str | None, now: int) -> pricing.Quote:
        """Read what pricing needs (the shop's promotions, the products named and the
        gifts, the coupons held or named) and price, inside the caller's unit of work."""
        rows = uow.repo(Invitations)
        promotions = rows.shop_promotions(shop["id"])
        keys = {k for k, _ in items} | {p["gift"]["product"] for p in promotions if p.get("gift")}
        products = {r["key"]: r for r in rows.records_by_keys("products", keys)}
        held = None
        if customer_id is not None:  # the coupons held in this shop (another's are not its)
            held = uow.repo(Coupons).held_in_shop(customer_id, shop["id"])
        coupon_keys = {h["coupon"] for h in held or ()} | ({coupon} if coupon else set())
        # a coupon named from another shop is unknown here (its name and shop stay theirs)
        coupons = {r["key"]: r for r in rows.records_by_keys("coupons", coupon_keys)
                   if r["shop"] == shop["key"]}
        return pricing.quote(shop["key"], items, products, promotions, coupons, now,
                             held=held, coupon=coupon)


def invitation_card(q: pricing.Quote, zone: str | None = None) -> dict:
    """The payload of an invitation message: item, quantity, prices, promotions,
    coupon, gifts and total (money in yuan); its time in the shop's ``zone`` (the
    customer's), else the display zone."""
    line = q.chosen.lines[0]
    c = q.coupon
    return {
        "item": {"product": line.key, "title": line.product.get("title"),
                 "category": line.product.get("category")},
        "quantity": line.quantity,
        "unit_price": format_money(line.unit_price),
        "unit_price_after_discount": format_money(line.unit_price_after),
        "subtotal": format_money(q.subtotal),
        "promotions": [{"key": a.promotion["key"], "name": a.promotion["name"],
                        "kind": a.promotion["kind"], "saving": format_money(a.saving)}
                       for a in q.chosen.promotions],
        "after_promotions": format_money(q.chosen.after_promotions),
        "coupon": None if c is None else {"key": c.coupon["key"], "name": c.coupon["name"],
                                          "kind": c.coupon["kind"],
                                          "saving": format_money(c.saving)},
        "gifts": q.chosen.gifts,
        "total": format_money(q.total),
        "saving": format_money(q.subtotal - q.total),
        "quoted_at": format_time(q.at) if zone is None else format_time_in(q.at, zone),
    }


def invitation_text(q: pricing.Quote) -> str:
    """The message body: 邀请您下单：<title> ×<n>，券后价 ¥… (原价、立省、活动、赠品)."""
    line = q.chosen.lines[0]
    saving = q.subtotal - q.total
    label = "券后价" if q.coupon else ("到手价" if saving else "价格")
    text = f"邀请您下单：{line.product.get('title') or line.key} ×{line.quantity}，" \
           f"{label} {yuan(q.total)}"
    extras = []
    if saving:
        extras.append(f"原价 {yuan(q.subtotal)}，立省 {yuan(saving)}")
    names = [a.promotion["name"] for a in q.chosen.promotions if a.promotion["kind"] != "gift"]
    if names:
        extras.append("已享" + "、".join(names))
    if q.coupon:
        extras.append(f"用券「{q.coupon.coupon['name']}」")
    if q.chosen.gifts:
        extras.append("赠" + "、".join(g["title"] or g["product"] for g in q.chosen.gifts))
    return text + ("（" + "；".join(extras) + "）" if extras else "")
