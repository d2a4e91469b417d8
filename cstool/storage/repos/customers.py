"""Customers as the desk reads them: the posting customer, their profile in a shop and
their orders there."""

from __future__ import annotations

import sqlite3

# The posting customer and their profile in the shop, with what routing reads of it
# (the columns of ``_PROFILE_FACTS`` from p.level on), in one look-up.
_CUSTOMER_FOR_POST = (
    "SELECT c.id, p.customer_id, p.level, p.tags, p.region, p.channel, da.handle, la.handle, "
    "p.last_served_at, c.name FROM customers c LEFT JOIN customer_profiles p "
    "ON p.customer_id = c.id AND p.shop_id = ? "
    "LEFT JOIN agents da ON da.id = p.dedicated_agent_id "
    "LEFT JOIN agents la ON la.id = p.last_agent_id WHERE c.key = ?"
)
_PROFILE_FACTS = (
    "SELECT p.level, p.tags, p.region, p.channel, da.handle, la.handle, "
    "p.last_served_at FROM customer_profiles p "
    "LEFT JOIN agents da ON da.id = p.dedicated_agent_id "
    "LEFT JOIN agents la ON la.id = p.last_agent_id "
    "WHERE p.customer_id = ? AND p.shop_id = ?"
)
# (level, tags, region, channel, dedicated agent, last agent, last served): a customer
# with no profile in the shop, as routing reads one.
NO_PROFILE = (0, "[]", None, None, None, None, None)


class Customers:
    """The customers and customer_profiles tables (and orders, as facts of a customer)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def id_of(self, key: str) -> int | None:
        """The row id of customer ``key`` (None when there is none)."""
        row = self.conn.execute("SELECT id FROM customers WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def key_of(self, customer_id: int) -> str:
        """The key of the customer with row id ``customer_id``."""
        return self.conn.execute("SELECT key FROM customers WHERE id = ?",
                                 (customer_id,)).fetchone()[0]

    def for_post(self, shop_id: int, key: str) -> tuple | None:
        """(id, profile's customer id or None, level, tags, region, channel, dedicated
        agent, last agent, last served, name) of customer ``key`` in the shop."""
        return self.conn.execute(_CUSTOMER_FOR_POST, (shop_id, key)).fetchone()

    def create(self, key: str, now: int) -> int:
        """A new customer named by their key; returns the row id."""
        return self.conn.execute(
            "INSERT INTO customers (key, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (key, key, now, now)).lastrowid

    def add_profile(self, customer_id: int, shop_id: int, channel: str | None) -> None:
        """The customer's profile in a shop, with the table's defaults, listed last."""
        self.conn.execute(
            "INSERT INTO customer_profiles (customer_id, shop_id, position, channel) VALUES "
            "(?, ?, (SELECT COUNT(*) FROM customer_profiles WHERE customer_id = ?), ?)",
            (customer_id, shop_id, customer_id, channel))

    def profile_facts(self, customer_id: int, shop_id: int) -> tuple:
        """What routing reads of the customer's profile in the shop (``NO_PROFILE`` when
        they have none)."""
        return self.conn.execute(_PROFILE_FACTS, (customer_id, shop_id)).fetchone() \
            or NO_PROFILE

    def orders_of(self, customer_id: int, shop_id: int) -> list[tuple[str, int]]:
        """(status, total) of the customer's orders in the shop, newest first."""
        return self.conn.execute(
            "SELECT status, total FROM orders WHERE customer_id = ? AND shop_id = ? "
            "ORDER BY created_at DESC", (customer_id, shop_id)).fetchall()

    def served(self, customer_id: int, shop_id: int, agent_id: int, now: int) -> None:
        """The customer was served in the shop by ``agent_id``, last at ``now``."""
        self.conn.execute(
            "UPDATE customer_profiles SET last_agent_id = ?, last_served_at = ? "
            "WHERE customer_id = ? AND shop_id = ?", (agent_id, now, customer_id, shop_id))
