"""Follow-up lists (``ctx.follow_ups``): the customers of a shop's recent chats by what
became of them (``cstool.metrics.follow_up``: consulted and did not order, ordered and did
not pay, after-sale), and an invitation to order sent to one of them under the
campaigns' guards.

A list holds one row per customer (their newest chat of the period). An invitation is
the pricing module's card (``invitations.invitation_card``: the item, promotions, the
customer's best coupon, the total) put in that chat as a notice from the shop (like a
campaign's message, it does not reopen or keep the chat alive), and recorded so that the
campaigns' frequency cap counts it. It is refused, with the reason, when the customer
opted out (退订), is in a sensitive matter (an open complaint, a refund dispute, a chat
tagged sensitive), it is the shop's quiet hours, or the customer has had as many
messages as the shop's ``campaign_cap`` allows within ``campaign_cap_window_h``.
"""

from __future__ import annotations

from ..api.operations import check_limit
from ..campaigns import rules
from ..errors import Conflict, UsageError
from ..metrics.conversion import Order, index_orders
from ..metrics.follow_up import FOLLOW_UP_CLASSES, ChatStart, converted_order, follow_up_class
from ..resources import SHOP_SETTINGS_DEFAULTS
from ..service import classify
from ..storage.repos.campaigns import Campaigns
from ..storage.repos.follow_ups import FollowUps
from ..values import format_time, format_time_in
from . import messages
from .context import ServiceContext
from .invitations import invitation_card, invitation_text
from .kb_suggestions import since_ms

HOUR_MS = 3_600_000


def _setting(shop: dict, name: str):
    value = (shop.get("settings") or {}).get(name)
    return SHOP_SETTINGS_DEFAULTS.get(name) if value is None else value


class FollowUpService:
    """Follow-up lists and the invitations sent from them."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def follow_ups(self, shop: str, classification: str, *, since: str = "1d",
                   limit: int = 100) -> list[dict]:
        """The shop's customers whose newest chat since ``since`` (7d, 12h, 90m, 2w, all)
        is of ``classification``, newest first, at most ``limit``."""
        if classification not in FOLLOW_UP_CLASSES:
            raise UsageError(f"classification must be one of {', '.join(FOLLOW_UP_CLASSES)}, "
                             f"not {classification!r}", key="follow_up_class",
                             classification=classification,
                             classes=", ".join(FOLLOW_UP_CLASSES))
        check_limit(limit)
        with self.ctx.read() as uow:
            s = uow.shops.by_key(shop)
            start = since_ms(since, uow.now)
            rows = uow.repo(FollowUps)
            chats, seen = [], set()
            for c in rows.chats_since(s["id"], 0 if start is None else start):
                if c["customer_id"] not in seen:  # the customer's newest chat of the period
                    seen.add(c["customer_id"])
                    chats.append(c)
            customers = sorted(seen)
            orders = rows.orders(s["id"], customers)
            keys = {o[0]: o[1] for o in orders}
            index = index_orders(Order(o[0], s["id"], o[2], o[3], o[4], o[5], o[6])
                                 for o in orders)
            statuses = uow.repo(Campaigns).order_statuses(s["id"], customers)
            invited = rows.last_invited(s["id"], customers)
        window = int(_setting(s, "attribution_window_h")) * HOUR_MS
        out = []
        for c in chats:
            start_of = ChatStart(c["id"], s["id"], c["customer_id"], c["created_at"])
            cls = follow_up_class(start_of, index, window, at_start=c["classification"],
                                  intent=c["intent"],
                                  now=classify(statuses.get(c["customer_id"], [])))
            if cls != classification:
                continue
            order = converted_order(start_of, index, window)
            out.append({
                "id": c["id"], "shop": s["key"], "customer": c["customer"],
                "customer_name": c["customer_name"], "state": c["state"],
                "assignee": c["assignee"], "classification": cls, "intent": c["intent"],
                "product": c["product"], "order": None if order is None else keys[order.id],
                "created_at": format_time(c["created_at"]),
                "last_message_at": format_time(c["last_message_at"]),
                "opted_out": c["opted_out_at"] is not None,
                "invited_at": None if c["customer_id"] not in invited
                else format_time(invited[c["customer_id"]])})
            if len(out) >= limit:
                break
        return out

    def follow_up_invite(self, conversation: int, agent: str, product: str | None = None,
                         quantity: int = 1, coupon: str | None = None) -> dict:
        """Send the chat's customer an invitation to order ``product`` (default: the
        product the chat was about) from a follow-up list, as ``agent`` (staff of the
        shop), under the campaigns' guards; Conflict with the reason when one says no.
        Returns the message."""
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            a = uow.agents.by_handle(agent)
            self.ctx.labels.check_staff(uow, agent, conv["shop_id"])
            shop = uow.shops.by_id(conv["shop_id"])
            product = product or conv.get("product_key")
            if not product:
                raise UsageError(f"conversation {conv['id']} is about no product: name one",
                                 key="follow_up_needs_product", conversation=conv["id"])
            now = uow.now
            self._guard(uow, shop, conv, now)
            q = self.ctx.invitations.quote(uow, shop, [(product, quantity)],
                                           conv["customer_id"], coupon, now)
            card = invitation_card(q, shop["timezone"])
            cls = classify(uow.repo(Campaigns).order_statuses(
                shop["id"], [conv["customer_id"]]).get(conv["customer_id"], []))
            msg = messages.add_message(
                uow, conv, "system", invitation_text(q), kind="invitation",
                payload={**card, "follow_up": True, "agent": agent})
            uow.repo(FollowUps).record(shop["id"], conv["customer_id"], conv["id"], msg["id"],
                                       a["id"], cls, now)
            uow.event("invitation.sent", "conversation", str(conv["id"]), conv["shop_id"],
                      {"message": msg["id"], "agent": agent, "product": product,
                       "quantity": quantity, "follow_up": True,
                       "coupon": card["coupon"]["key"] if card["coupon"] else None,
                       "total": card["total"]})
            return msg

    def _guard(self, uow, shop: dict, conv: dict, now: int) -> None:
        """The campaigns' guards, in their order: opt-out, sensitive, quiet hours, cap."""
        cust, sid = conv["customer_id"], shop["id"]
        camp = uow.repo(Campaigns)
        who = {"conversation": conv["id"], "customer": uow.customers.key_of(cust)}
        if cust in camp.opted_out(sid, [cust]):
            raise Conflict(f"customer {who['customer']!r} opted out of the shop's messages",
                           key="follow_up_opted_out", **who)
        if conv.get("sensitive") or cust in camp.customers_in_sensitive_matters(
                sid, [cust], rules.SENSITIVE_TICKET_TYPES):
            raise Conflict(f"customer {who['customer']!r} is in a sensitive matter (a "
                           "complaint, a refund, a chat tagged sensitive)",
                           key="follow_up_sensitive", **who)
        quiet = rules.quiet_until(_setting(shop, "quiet_hours"), now, shop["timezone"])
        if quiet is not None:
            raise Conflict(f"quiet hours in shop {shop['key']!r} until "
                           f"{format_time_in(quiet, shop['timezone'])}",
                           key="follow_up_quiet_hours", shop=shop["key"],
                           until=format_time_in(quiet, shop["timezone"]))
        cap = int(_setting(shop, "campaign_cap"))
        window_h = int(_setting(shop, "campaign_cap_window_h"))
        sent = uow.repo(FollowUps).sends_since(sid, cust, now - window_h * HOUR_MS)
        if sent >= cap:
            raise Conflict(f"customer {who['customer']!r} has had {sent} message(s) from "
                           f"the shop within {window_h} h (the cap is {cap})",
                           key="follow_up_frequency_cap", sent=sent, cap=cap,
                           window_h=window_h, **who)
