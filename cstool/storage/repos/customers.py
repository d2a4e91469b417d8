"""Customer lookups by id or key, and their level in a shop."""

from __future__ import annotations

import sqlite3


def customer_id(conn: sqlite3.Connection, key: str) -> int | None:
    """The id of the customer with ``key``, or None."""
    row = conn.execute("SELECT id FROM customers WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def customer_key(conn: sqlite3.Connection, customer_id: int) -> str:
    """The key of an existing customer."""
    return conn.execute("SELECT key FROM customers WHERE id = ?",
                        (customer_id,)).fetchone()[0]


def customer_name(conn: sqlite3.Connection, customer_id: int) -> str | None:
    """The name of an existing customer."""
    return conn.execute("SELECT name FROM customers WHERE id = ?",
                        (customer_id,)).fetchone()[0]


def level_in_shop(conn: sqlite3.Connection, customer_id: int, shop_id: int) -> int:
    """The customer's level in the shop (0 without a profile there)."""
    row = conn.execute("SELECT level FROM customer_profiles WHERE customer_id = ? "
                       "AND shop_id = ?", (customer_id, shop_id)).fetchone()
    return row[0] if row else 0
