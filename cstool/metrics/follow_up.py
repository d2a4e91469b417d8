"""Follow-up classes of chats (pure), from the inquiry-conversion figure's own test
(``conversion.conversion``: an order of the customer in the shop placed within the
attribution window after the chat started, and whether such an order was paid).

* ``after_sale``: the chat was after-sale (its classification or its intent) or the
  customer has a refund requested in the shop now;
* ``ordered_not_paid``: the conversion figure's "ordered" without "paid"; or the chat was
  about an order already placed and unpaid that is still unpaid;
* ``paid``: the conversion figure's "paid"; or the chat was about an order placed before
  that has since been paid;
* ``consulted_not_ordered``: the rest: the customer consulted and did not order in the
  window (the figure's unconverted customers).
"""

from __future__ import annotations

from dataclasses import dataclass

from .conversion import Order, OrderIndex, conversion

FOLLOW_UP_CLASSES = ("consulted_not_ordered", "ordered_not_paid", "after_sale", "paid")


@dataclass(slots=True)
class ChatStart:
    """What the conversion test reads of a chat."""

    id: int
    shop_id: int
    customer_id: int
    created_at: int


def follow_up_class(chat: ChatStart, orders: OrderIndex, window_ms: int, *,
                    at_start: str | None, intent: str | None, now: str) -> str:
    """The chat's follow-up class. ``at_start``: the chat's classification when it began
    (``service.classify`` of the orders then); ``now``: the customer's classification in
    the shop now; ``orders``: ``conversion.index_orders`` of the customer's orders."""
    if at_start == "after_sale" or intent == "aftersale" or now == "after_sale":
        return "after_sale"
    ordered, paid = conversion(chat, orders, window_ms)  # type: ignore[arg-type]
    if ordered:
        return "paid" if paid else "ordered_not_paid"
    if at_start == "ordered_not_paid" and now == "ordered_not_paid":
        return "ordered_not_paid"
    if at_start == "ordered_not_paid" and now == "paid":
        return "paid"
    return "consulted_not_ordered"


def converted_order(chat: ChatStart, orders: OrderIndex, window_ms: int) -> Order | None:
    """The first order the conversion test counts for the chat (None: none)."""
    entry = orders.get((chat.shop_id, chat.customer_id))
    if entry is None:
        return None
    for o in entry[1]:
        if chat.created_at <= o.created_at <= chat.created_at + window_ms:
            return o
    return None
