"""What the agent console reads and does beyond the conversation operations: the
agent's desk in one read (their chats with unread marks and waits, their shops'
queues), the customer's context, read marks, history search, product and coupon cards.
"""

from __future__ import annotations

import json
from typing import Any

from ..api.bounds import check_whole
from ..errors import Conflict, InvalidInput, NotFound
from ..routing import agent_in_pool
from ..storage.repos.console import Console
from ..text_rules import check_text
from ..values import format_money, format_time, format_time_in, short_time, yuan
from .context import ServiceContext
from .messages import add_message

RECENT_ORDERS = 5
DESK_QUEUE = 200  # waiting chats of each shop the console lists (the rest are counted)


class ConsoleService:
    """Agent-console operations (``ctx.console``)."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def agent_desk(self, agent: str) -> dict:
        """The agent, their open chats (unread, waiting since) and their shops' queues:
        the first ``DESK_QUEUE`` waiting chats of each shop in serving order (each marked
        ``mine`` when the agent may accept it) and, in ``waiting``, how many wait in each
        shop in all."""
        with self.ctx.read() as uow:
            console = uow.repo(Console)
            a = console.agent(agent)
            if a is None:
                raise NotFound(f"no agent {agent!r}", key="no_agent", agent=agent)
            shops = console.shops_of(a[0])
            chats = [_desk_chat(console, row) for row in console.open_chats(a[0], a[5])]
            queue = []
            waiting: dict[str, int] = {}
            for shop_id, shop_key, _name, _settings in shops:
                # the first DESK_QUEUE waiting chats in serving order, by the queue's index
                # (a shop with 50,000 waiting costs no more than one with 200)
                waiting[shop_key] = uow.queue.waiting(shop_id)
                keys = uow.queue.page(shop_id, None, DESK_QUEUE) if waiting[shop_key] else []
                rows = console.waiting_rows([k.id for k in keys])
                me = self.ctx.routing.routing_state(uow, shop_id, staff=True).agent(agent) \
                    if rows else None
                for pos, key in enumerate(keys, start=1):
                    row = rows[key.id]
                    # "mine": accept_next may give it to this agent (as there, the one who
                    # transferred a chat away may take it back)
                    pool = {k: v for k, v in self.ctx.places.pool_of(row[5]).items()
                            if k != "except"}
                    queue.append({
                        "id": row[0], "shop": shop_key, "customer": row[1],
                        "customer_name": row[2], "priority": row[3],
                        "waiting_since_ms": row[4], "position": pos,
                        "mine": me is not None and agent_in_pool(me, pool),
                    })
            last_event = console.last_event()
        return {
            "agent": {"handle": a[1], "name": a[2], "status": a[3], "max_chats": a[4],
                      "role": a[5]},
            "shops": [
                {"key": s[1], "name": s[2],
                 "response_target_s": json.loads(s[3]).get("response_target_s", 180)}
                for s in shops
            ],
            "chats": chats,
            "queue": queue,
            "waiting": waiting,
            "last_event": last_event,
        }

    def mark_seen(self, agent: str, conversation: int) -> None:
        """The agent has read the chat up to now (clears its unread mark)."""
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)  # the chat first, as the server's policies
            a = uow.agents.by_handle(agent)
            if conv["assignee_id"] != a["id"]:
                return
            uow.repo(Console).mark_seen(conv["id"], uow.now)

    def customer_context(self, conversation: int) -> dict:
        """Who the customer is in this chat's shop: profile, level, tags, classification,
        recent orders with status and logistics, usable coupons, last agent served."""
        with self.ctx.read() as uow:
            console = uow.repo(Console)
            conv = uow.conversations.get(conversation)
            cid, sid = conv["customer_id"], conv["shop_id"]
            cust = console.customer(cid)
            prof = console.profile(cid, sid)
            orders = []
            for o in console.recent_orders(cid, sid, RECENT_ORDERS):
                track = console.last_tracking(o[0])
                orders.append({
                    "key": o[1], "status": o[2], "total": format_money(o[3]),
                    "created_at": format_time(o[4]),
                    "items": [{"title": t, "quantity": q} for t, q in console.order_items(o[0])],
                    "logistics": None if track is None else {
                        "at": format_time(track[0]), "status": track[1], "detail": track[2]},
                })
            stats = console.order_stats(cid, sid)
            coupons = [
                {"key": r[0], "name": r[1], "kind": r[2], "amount": format_money(r[3]),
                 "rate": r[4], "threshold": format_money(r[5]),
                 "valid_to": format_time(r[6])}
                for r in console.usable_coupons(cid, sid, uow.now)
            ]
        prof = prof or (0, "[]", None, None, None, None, None, None, None)
        return {
            "conversation": conv["id"], "customer": cust[0], "name": cust[1], "phone": cust[2],
            "level": prof[0], "tags": json.loads(prof[1]), "region": prof[2],
            "channel": prof[3], "credit": prof[4],
            "last_agent": prof[5], "last_agent_name": prof[6],
            "last_served_at": format_time(prof[7]), "dedicated_agent": prof[8],
            "classification": conv["classification"],
            "orders_count": stats[0], "spend": format_money(stats[1]),
            "orders": orders, "coupons": coupons,
        }

    def search_history(self, agent: str, text: str, limit: int = 50) -> list[dict]:
        """Messages containing ``text`` in chats this agent has served, newest first; only
        chats of shops the agent works for now (an agent moved out of a shop no longer
        reads its chats; an admin's reach every shop)."""
        if not text.strip():
            raise InvalidInput("search text is empty", key="search_empty")
        check_text(text, "search text", multiline=True)
        with self.ctx.read() as uow:
            a = uow.agents.by_handle(agent)
            check_whole("limit", limit)
            rows = uow.repo(Console).search(a["id"], "%" + _like(text) + "%", limit)
        return [{"conversation": r[0], "customer_name": r[1], "sender": r[2], "body": r[3],
                 "at": format_time(r[4])} for r in rows]

    def send_card(self, agent: str, conversation: int, kind: str, key: str) -> dict:
        """Send a product card, or a coupon (which the customer then holds), into a chat."""
        if kind not in ("product", "coupon"):
            raise InvalidInput(f"a card is a product or a coupon, not {kind!r}",
                               key="unknown_card", kind=kind)
        with self.ctx.write() as uow:
            console = uow.repo(Console)
            now = uow.now
            conv = uow.conversations.get(conversation)  # the chat first, as the server's policies
            a = uow.agents.by_handle(agent)
            self.ctx.desk.must_hold(conv, a, "send a card to")
            if kind == "product":
                row = console.product(key)
                if row is None or row[4] != conv["shop_id"]:
                    raise NotFound(f"no product {key!r} in this shop", key="no_product_here",
                                   product=key)
                payload: dict[str, Any] = {"product": row[0], "title": row[1],
                                           "price": format_money(row[2]), "stock": row[3],
                                           "status": row[5]}
                body = f"【商品】{row[1]} {yuan(row[2])}"
            else:
                row = console.coupon(key)
                if row is None or row[7] != conv["shop_id"]:
                    raise NotFound(f"no coupon {key!r} in this shop", key="no_coupon_here",
                                   coupon=key)
                if row[8] is not None and row[8] < now:
                    raise Conflict(f"coupon {key!r} expired at {format_time(row[8])}",
                                   key="coupon_expired", coupon=key, at=short_time(row[8]))
                if row[9] is not None and row[9] > now:
                    raise Conflict(f"coupon {key!r} is valid only from {format_time(row[9])}",
                                   key="coupon_not_yet_valid", coupon=key,
                                   at=short_time(row[9]))
                if console.holds_coupon(conv["customer_id"], row[0]):
                    raise Conflict(f"the customer holds coupon {key!r} already",
                                   key="coupon_held", coupon=key)
                console.give_coupon(conv["customer_id"], row[0], now)
                zone = uow.shops.by_id(conv["shop_id"])["timezone"]
                payload = {"coupon": row[1], "name": row[2], "kind": row[3],
                           "amount": format_money(row[4]), "rate": row[5],
                           "threshold": format_money(row[6]),
                           "valid_to": format_time_in(row[8], zone)}  # the shop's time
                body = f"【优惠券】{row[2]} 已发放到您的账户"
            uow.conversations.replied(conv["id"], now)
            return add_message(uow, conv, "agent", body, agent_id=a["id"], agent=agent,
                               kind=kind, payload=payload)


def _desk_chat(console: Console, row: tuple) -> dict:
    """One of the agent's open chats as the console lists it."""
    waiting, last = console.chat_marks(row[0])
    return {
        "id": row[0], "shop": row[1], "customer": row[2], "customer_name": row[3],
        "channel": row[4], "classification": row[5],
        "assigned_at_ms": row[6],
        "unread": row[7] is not None and (row[8] is None or row[7] > row[8]),
        "waiting_since_ms": waiting,
        "last_message": None if last is None else {
            "sender": last[0], "kind": last[1], "body": last[2]},
    }


def _like(text: str) -> str:
    """``text`` for a LIKE pattern with ``\\`` as the escape."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
