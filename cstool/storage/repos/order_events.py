"""The shop platform's order events (migration 17) and the orders they change:
``uow.repo(OrderEvents)``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

ORDER_COLUMNS = ("id", "key", "shop_id", "customer_id", "status", "total", "discount",
                 "region", "carrier", "tracking_no", "created_at", "paid_at", "shipped_at",
                 "delivered_at")


class OrderEvents:
    """The order_events table, and the order rows an event writes."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def seen(self, shop_id: int, event_id: str) -> dict | None:
        """The recorded result of an event the shop's platform sent before, or None."""
        r = self.conn.execute("SELECT result FROM order_events WHERE shop_id = ? AND "
                              "event_id = ?", (shop_id, event_id)).fetchone()
        return None if r is None else json.loads(r[0])

    def record(self, shop_id: int, event_id: str, order_id: int, type_: str, at: int,
               now: int, result: dict) -> bool:
        """Record an event once; False when the same event id was recorded meanwhile."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO order_events (shop_id, event_id, order_id, type, at, "
            "received_at, result) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (shop_id, event_id, order_id, type_, at, now,
             json.dumps(result, ensure_ascii=False)))
        return cur.rowcount == 1

    def order(self, key: str) -> dict | None:
        """The order ``key`` (any shop's: keys are platform-wide), or None."""
        r = self.conn.execute(f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE key = ?",
                              (key,)).fetchone()
        return None if r is None else dict(zip(ORDER_COLUMNS, r, strict=True))

    def create_order(self, key: str, shop_id: int, customer_id: int, status: str,
                     created_at: int, region: str | None, discount: int,
                     items: Sequence[tuple[int, int, int]], now: int) -> int:
        """A new order with its items ((product id, quantity, unit price in cents))."""
        total = sum(q * p for _, q, p in items) - discount
        oid = self.conn.execute(
            "INSERT INTO orders (key, shop_id, customer_id, status, total, discount, region, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, shop_id, customer_id, status, total, discount, region, created_at,
             now)).lastrowid
        self.conn.executemany(
            "INSERT INTO order_items (order_id, product_id, quantity, price) VALUES "
            "(?, ?, ?, ?)", [(oid, pid, q, p) for pid, q, p in items])
        return oid

    def update_order(self, order_id: int, changes: dict, now: int) -> None:
        """Set some of status, paid_at, shipped_at, delivered_at, carrier, tracking_no."""
        allowed = ("status", "paid_at", "shipped_at", "delivered_at", "carrier",
                   "tracking_no", "created_at")
        cols = [c for c in changes if c in allowed]
        if not cols:
            return
        self.conn.execute(
            f"UPDATE orders SET {', '.join(f'{c} = ?' for c in cols)}, updated_at = ? "
            "WHERE id = ?", (*(changes[c] for c in cols), now, order_id))

    def add_logistics(self, order_id: int, at: int, status: str, detail: str | None) -> None:
        """One step of the order's logistics timeline."""
        self.conn.execute("INSERT INTO logistics_events (order_id, at, status, detail) "
                          "VALUES (?, ?, ?, ?)", (order_id, at, status, detail))

    def product(self, shop_id: int, key: str) -> tuple[int, int] | None:
        """(id, price in cents) of the shop's product ``key``, or None."""
        return self.conn.execute("SELECT id, price FROM products WHERE shop_id = ? AND key = ?",
                                 (shop_id, key)).fetchone()

    def events_of(self, order_id: int) -> list[tuple]:
        """(event id, type, at, received at) of the order's events, oldest first."""
        return self.conn.execute(
            "SELECT event_id, type, at, received_at FROM order_events WHERE order_id = ? "
            "ORDER BY at, id", (order_id,)).fetchall()
