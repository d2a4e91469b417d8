"""The shop platform's order and logistics changes, pushed in (``ctx.order_events``).

The platform posts one event per change of an order: ``created``, ``paid``,
``shipped``, ``logistics`` (a tracking step), ``delivered``, ``refund_requested``,
``refunded`` or ``cancelled``, each with its own event id. An event id is recorded per
shop with the result it had, so a retried event changes nothing and answers the first
result (``duplicate: true``). Events may arrive out of order: an order's status only
moves forward (a late ``paid`` after ``shipped`` fills ``paid_at`` and leaves the status
``shipped``), and each instant is set once.

The order rows written here are the ones campaigns read: the worker's campaign pass
(``run_due_campaigns``) sends 催付 for ``created`` orders left unpaid, the shipping
notice for ``shipped`` ones and 追单 after ``delivered``, from these real changes, with
no ``apply``. Each event writes ``order.created`` or ``order.updated`` to the event log
(so webhooks and the live stream see it) in the same transaction.
"""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, InvalidInput
from ..storage.repos.order_events import OrderEvents
from ..text_rules import check_key, check_text
from ..values import format_time, parse_money, parse_time
from .context import ServiceContext

TYPES = ("created", "paid", "shipped", "logistics", "delivered", "refund_requested",
         "refunded", "cancelled")
# The status an event moves the order to, and how far along that is.
STATUS_OF = {"created": "created", "paid": "paid", "shipped": "shipped",
             "delivered": "delivered", "refund_requested": "refund_requested",
             "refunded": "refunded", "cancelled": "cancelled"}
RANK = {"created": 0, "paid": 1, "shipped": 2, "delivered": 3, "refund_requested": 4,
        "refunded": 5, "cancelled": 5}
TIME_OF = {"paid": "paid_at", "shipped": "shipped_at", "delivered": "delivered_at"}
LOGISTICS_STEP = {"shipped": "已发货", "delivered": "已签收"}
MAX_EVENT_ID = 100
MAX_ITEMS = 100


def _short(value: Any, what: str, most: int = 64) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        raise InvalidInput(f"{what} must be text of 1 to {most} characters",
                           key="order_event_field_bad", what=what, most=most)
    return check_text(value.strip(), what)


class OrderEventService:
    """Order events from the shop platform."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def order_event(self, shop: str, event_id: str, type: str, order: str, *,  # noqa: A002
                    at: str | int | None = None, customer: str | None = None,
                    items: list | None = None, discount: Any = None,
                    region: str | None = None, carrier: str | None = None,
                    tracking_no: str | None = None, status: str | None = None,
                    detail: str | None = None) -> dict:
        """Apply one order event of the shop's platform, once per ``event_id``. A new
        order needs ``customer`` and ``items`` ([{product, quantity, price?}]); ``at``
        is when it happened (default: now). Returns the order's state after it."""
        event_id = _short(event_id, "event id", MAX_EVENT_ID)
        if event_id is None:
            raise InvalidInput("event id is required", key="order_event_field_bad",
                               what="event id", most=MAX_EVENT_ID)
        if type not in TYPES:
            raise InvalidInput(f"unknown order event type {str(type)[:40]!r} (one of "
                               f"{', '.join(TYPES)})", key="order_event_type",
                               name=repr(str(type)[:40]), known=", ".join(TYPES))
        check_key(order, "order")
        if customer is not None:
            check_key(customer, "customer")
        carrier = _short(carrier, "carrier")
        tracking_no = _short(tracking_no, "tracking number")
        region = _short(region, "region")
        step = _short(status, "logistics status")
        if detail is not None:
            if not isinstance(detail, str) or len(detail) > 500:
                raise InvalidInput("detail must be text of at most 500 characters",
                                   key="order_event_field_bad", what="detail", most=500)
            check_text(detail, "detail", multiline=True)
        if type == "logistics" and step is None:
            raise InvalidInput("a logistics event needs its status (在途, 派送中 …)",
                               key="order_event_needs_status")
        off = parse_money(discount) if discount is not None else 0
        with self.ctx.write() as uow:
            t = uow.now if at is None else parse_time(at)
            shop_row = uow.shops.by_key(shop)
            sid = shop_row["id"]
            repo = uow.repo(OrderEvents)
            before = repo.seen(sid, event_id)
            if before is not None:
                return {**before, "duplicate": True}
            row = repo.order(order)
            if row is not None and row["shop_id"] != sid:
                raise Conflict(f"order {order!r} is not an order of shop {shop!r}",
                               key="order_other_shop", order=order, shop=shop)
            if row is not None and customer is not None:
                cust = uow.customers.for_post(sid, customer)
                if cust is None or cust[0] != row["customer_id"]:
                    raise Conflict(f"order {order!r} belongs to another customer",
                                   key="order_other_customer", order=order)
            changed: list[str] = []
            if row is None:
                oid = self._create(uow, repo, shop_row, order, customer, items, off, region,
                                   type, t)
                row = repo.order(order)
                changed = ["created"]
                uow.event("order.created", "order", order, sid,
                          {"via": "order_event", "event": type, "event_id": event_id})
            oid = row["id"]
            changes: dict[str, Any] = {}
            new_status = STATUS_OF.get(type)
            if new_status and RANK[new_status] > RANK.get(row["status"], 0):
                changes["status"] = new_status
            if type in TIME_OF and row[TIME_OF[type]] is None:
                changes[TIME_OF[type]] = t
            if type == "paid" and row["status"] == "created" and "status" not in changes:
                changes["status"] = "paid"
            for name, value in (("carrier", carrier), ("tracking_no", tracking_no)):
                if value is not None and value != row[name]:
                    changes[name] = value
            if changes:
                repo.update_order(oid, changes, uow.now)
            if type == "logistics" or type in LOGISTICS_STEP:
                repo.add_logistics(oid, t, step or LOGISTICS_STEP[type], detail)
                changes["logistics"] = True
            fields = sorted(changes)
            if fields and "created" not in changed:
                uow.event("order.updated", "order", order, sid,
                          {"fields": fields, "event": type, "event_id": event_id})
            after = repo.order(order)
            result = {"shop": shop, "order": order, "event": event_id, "type": type,
                      "at": format_time(t), "status": after["status"],
                      "changed": changed + fields,
                      "paid_at": format_time(after["paid_at"]),
                      "shipped_at": format_time(after["shipped_at"]),
                      "delivered_at": format_time(after["delivered_at"]),
                      "carrier": after["carrier"], "tracking_no": after["tracking_no"]}
            repo.record(sid, event_id, oid, type, t, uow.now, result)
            return {**result, "duplicate": False}

    def _create(self, uow: Any, repo: OrderEvents, shop: dict, order: str,
                customer: str | None, items: list | None, discount: int,
                region: str | None, type_: str, t: int) -> int:
        if customer is None or not items:
            raise InvalidInput(f"order {order!r} is new: give customer and items",
                               key="order_event_new_needs", order=order)
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise InvalidInput(f"items: a list of at most {MAX_ITEMS}",
                               key="order_event_items_bad", most=MAX_ITEMS)
        rows = []
        for i, item in enumerate(items):
            if isinstance(item, list | tuple) and len(item) in (2, 3):
                item = dict(zip(("product", "quantity", "price"), item, strict=False))
            if not isinstance(item, dict) or not isinstance(item.get("product"), str):
                raise InvalidInput(f"items[{i}]: expected {{product, quantity, price}}",
                                   key="order_event_items_bad", most=MAX_ITEMS)
            found = repo.product(shop["id"], item["product"])
            if found is None:
                raise InvalidInput(f"items[{i}]: shop {shop['key']!r} has no product "
                                   f"{item['product'][:64]!r}", key="order_event_no_product",
                                   at=i, product=item["product"][:64], shop=shop["key"])
            qty = item.get("quantity", 1)
            if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= 100000:
                raise InvalidInput(f"items[{i}].quantity: a whole number from 1 to 100000",
                                   key="order_event_items_bad", most=MAX_ITEMS)
            price = found[1] if item.get("price") is None else parse_money(item["price"])
            rows.append((found[0], qty, price))
        cust = uow.customers.for_post(shop["id"], customer)
        if cust is None:
            cid = uow.customers.create(customer, uow.now)
            uow.event("customer.created", "customer", customer, shop["id"],
                      {"via": "order_event"})
            uow.customers.add_profile(cid, shop["id"], None)
        else:
            cid = cust[0]
            if cust[1] is None:
                uow.customers.add_profile(cid, shop["id"], None)
        return repo.create_order(order, shop["id"], cid, "created", t, region,
                                 discount, rows, uow.now)
