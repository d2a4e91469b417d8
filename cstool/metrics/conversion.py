"""Conversion and attribution (pure): whether a consulting customer ordered (and paid) in
the shop within the attribution window, and which agent's reply each order is attributed
to (the definitions: ``figures.py``'s docstring, "Inquiry conversion" and "Sales
attributed to agents").
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .conversation_rows import ConvRow, Targets
from .definitions import Leg

NOT_SALES = frozenset({"refunded", "cancelled"})


@dataclass(slots=True)
class Order:
    """An order as the conversion figures see it (total in cents)."""

    id: int
    shop_id: int
    customer_id: int
    created_at: int
    paid_at: int | None
    total: int
    status: str
    items: int = 1  # units ordered (the attach rate's "more than one item")


OrderIndex = dict[tuple[int, int], tuple[list[int], list[Order]]]


def index_orders(orders: Iterable[Order]) -> OrderIndex:
    """Orders per (shop, customer), by creation time."""
    grouped: dict[tuple[int, int], list[Order]] = {}
    for o in orders:
        grouped.setdefault((o.shop_id, o.customer_id), []).append(o)
    out = {}
    for pair, items in grouped.items():
        items.sort(key=lambda o: (o.created_at, o.id))
        out[pair] = ([o.created_at for o in items], items)
    return out


def conversion(r: ConvRow, orders: OrderIndex, window_ms: int) -> tuple[bool, bool]:
    """(ordered, paid): an order of the customer in the shop placed within the window
    after the conversation started, and whether such an order was paid."""
    entry = orders.get((r.shop_id, r.customer_id))
    if entry is None:
        return False, False
    times, items = entry
    i = bisect_left(times, r.created_at)
    j = bisect_right(times, r.created_at + window_ms)
    return i < j, any(items[k].paid_at is not None for k in range(i, j))


def attribute(replied: Iterable[tuple[ConvRow, Leg]], orders: OrderIndex,
              targets: Mapping[int, Targets]) -> list[tuple[Order, ConvRow, Leg]]:
    """Each order with the conversation and leg whose reply it is attributed to
    (``replied``: legs with at least one reply, of the customers who ordered)."""
    by_pair: dict[tuple[int, int], list[tuple[int, int, ConvRow, Leg]]] = {}
    for r, g in replied:
        by_pair.setdefault((r.shop_id, r.customer_id), []).append(
            (g.first_reply_at, r.id, r, g))
    out = []
    for pair, legs in by_pair.items():
        entry = orders.get(pair)
        if entry is None:
            continue
        legs.sort(key=lambda x: (x[0], x[1]))
        firsts = [x[0] for x in legs]
        window = targets[pair[0]].attribution_ms
        for o in entry[1]:
            k = bisect_right(firsts, o.created_at) - 1
            if k < 0:
                continue
            _, _, r, g = legs[k]
            if o.created_at <= g.last_reply_at or o.created_at - g.last_reply_at <= window:
                out.append((o, r, g))
    return out


