"""Coupon queries: the coupons' card fields, who holds which unused, issuing one to a
customer (at the end of their list), and the coupons a customer holds in a shop."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

_ISSUE = ("INSERT INTO customer_coupons (customer_id, coupon_id, position, issued_at, source) "
          "VALUES (?, ?, (SELECT COUNT(*) FROM customer_coupons WHERE customer_id = ?), ?, ?)")


def _marks(values: Sequence) -> str:
    return ", ".join("?" * len(values))


class Coupons:
    """The coupons and customer_coupons tables."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def cards(self, ids: Sequence[int]) -> dict[int, dict]:
        """The card fields of these coupons by id, with their shop's time zone (money in
        cents, ``valid_to`` in epoch ms)."""
        if not ids:
            return {}
        return {r[0]: {"key": r[1], "name": r[2], "kind": r[3], "amount": r[4], "rate": r[5],
                       "threshold": r[6], "valid_to": r[7], "timezone": r[8]}
                for r in self.conn.execute(
                    "SELECT c.id, c.key, c.name, c.kind, c.amount, c.rate, c.threshold, "
                    "c.valid_to, s.timezone FROM coupons c JOIN shops s ON s.id = c.shop_id "
                    f"WHERE c.id IN ({_marks(ids)})", tuple(ids))}

    def unused_holdings(self, customers: Sequence[int],
                        coupon_ids: Sequence[int]) -> set[tuple[int, int]]:
        """The (customer, coupon) pairs among these where the customer holds the coupon
        unused."""
        if not customers or not coupon_ids:
            return set()
        return set(self.conn.execute(
            f"SELECT customer_id, coupon_id FROM customer_coupons WHERE customer_id IN "
            f"({_marks(customers)}) AND coupon_id IN ({_marks(coupon_ids)}) AND used_at IS NULL",
            (*customers, *coupon_ids)).fetchall())

    def holds_unused(self, customer_id: int, coupon_id: int) -> bool:
        """Whether the customer holds the coupon, not yet used."""
        return self.conn.execute("SELECT 1 FROM customer_coupons WHERE customer_id = ? AND "
                                 "coupon_id = ? AND used_at IS NULL",
                                 (customer_id, coupon_id)).fetchone() is not None

    def issue(self, issued: Iterable[tuple[int, int, int, str]]) -> None:
        """Give coupons, each ``(customer_id, coupon_id, issued_at, source)``, at the end of
        the customer's list."""
        self.conn.executemany(_ISSUE, [(cust, coupon, cust, at, source)
                                  for cust, coupon, at, source in issued])

    def held_in_shop(self, customer_id: int, shop_id: int) -> list[dict]:
        """The coupons a customer holds of one shop (another shop's are not its), in their
        order: ``{coupon: key, issued_at, used_at}``."""
        return [{"coupon": r[0], "issued_at": r[1], "used_at": r[2]} for r in self.conn.execute(
            "SELECT cp.key, cc.issued_at, cc.used_at FROM customer_coupons cc "
            "JOIN coupons cp ON cp.id = cc.coupon_id WHERE cc.customer_id = ? "
            "AND cp.shop_id = ? ORDER BY cc.position, cc.id", (customer_id, shop_id))]
