"""The SQL of writing a simulated day into a data file in bulk (``cstool.simulation``:
the promotion day's writer and the recorded staffing simulation): reading the shops'
world, numbering new rows, and the bulk inserts and updates. Events are not written
here: the writers hand them to ``storage.events.append_events``.

Rows are numbered by the caller from ``next_id`` (one ``executemany`` per table instead
of a round trip per row); portable SQL throughout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

_NUMBERED = ("conversations", "messages", "orders", "customers")


# -- reading the world ----------------------------------------------------------------------
def shops(conn: sqlite3.Connection) -> list[tuple]:
    """Every shop: id, key, service mode, off-hours mode, business hours, zone, settings."""
    return conn.execute("SELECT id, key, service_mode, off_hours_mode, business_hours, "
                        "timezone, settings FROM shops ORDER BY id").fetchall()


def shop_id(conn: sqlite3.Connection, key: str) -> int | None:
    """A shop's id by key."""
    row = conn.execute("SELECT id FROM shops WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def groups_by_key(conn: sqlite3.Connection, shop: int) -> dict[str, int]:
    """A shop's groups: key -> id."""
    return dict(conn.execute('SELECT key, id FROM "groups" WHERE shop_id = ?', (shop,)))


def group_kinds(conn: sqlite3.Connection, shop: int) -> list[tuple[str, str]]:
    """A shop's groups as (key, kind), by key."""
    return conn.execute('SELECT key, kind FROM "groups" WHERE shop_id = ? ORDER BY key',
                        (shop,)).fetchall()


def shop_agents(conn: sqlite3.Connection, shop: int) -> list[tuple[int, str, str, int]]:
    """The agents (role agent) of a shop: id, handle, name, max chats, by handle."""
    return conn.execute(
        "SELECT a.id, a.handle, a.name, a.max_chats FROM agents a JOIN agent_shops s "
        "ON s.agent_id = a.id WHERE s.shop_id = ? AND a.role = 'agent' ORDER BY a.handle",
        (shop,)).fetchall()


def agent_group_kinds(conn: sqlite3.Connection, agent: int, shop: int) -> list[str]:
    """The kinds of an agent's groups in a shop, by group key."""
    return [r[0] for r in conn.execute(
        'SELECT g.kind FROM group_members m JOIN "groups" g ON g.id = m.group_id '
        "WHERE m.agent_id = ? AND g.shop_id = ? ORDER BY g.key", (agent, shop))]


def shop_customers(conn: sqlite3.Connection, shop: int) -> list[tuple[int, str]]:
    """The customers with a profile in a shop: (id, key), by id."""
    return conn.execute(
        "SELECT c.id, c.key FROM customer_profiles p JOIN customers c ON c.id = "
        "p.customer_id WHERE p.shop_id = ? ORDER BY c.id", (shop,)).fetchall()


def products_on_sale(conn: sqlite3.Connection, shop: int) -> list[tuple[int, str, str, int]]:
    """A shop's products on sale: id, key, title, price, by id."""
    return conn.execute("SELECT id, key, title, price FROM products WHERE shop_id = ? "
                        "AND status = 'on_sale' ORDER BY id", (shop,)).fetchall()


def next_id(conn: sqlite3.Connection, table: str) -> int:
    """The id after the largest of ``table`` (conversations, messages, orders,
    customers)."""
    if table not in _NUMBERED:
        raise ValueError(f"not a numbered table: {table!r}")
    return conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0]


def order_exists(conn: sqlite3.Connection, key: str) -> bool:
    """Whether an order with this key is in the file."""
    return conn.execute("SELECT 1 FROM orders WHERE key = ?", (key,)).fetchone() is not None


def customer_exists(conn: sqlite3.Connection, key: str) -> bool:
    """Whether a customer with this key is in the file."""
    return conn.execute("SELECT 1 FROM customers WHERE key = ?", (key,)).fetchone() is not None


def agent_capacity(conn: sqlite3.Connection, handle: str) -> tuple[int, int] | None:
    """An agent's id and max chats, by handle (None: no such agent)."""
    return conn.execute("SELECT id, max_chats FROM agents WHERE handle = ?",
                        (handle,)).fetchone()


# -- writing ------------------------------------------------------------------------------
def insert_conversations(conn: sqlite3.Connection, columns: Sequence[str],
                         rows: Iterable[tuple]) -> None:
    """New conversations with their ids: the entry columns, then ``columns``."""
    conn.executemany(
        "INSERT INTO conversations (id, shop_id, customer_id, channel, entry_page, source, "
        "intent, classification, product_key, created_at, "
        f"{', '.join(columns)}) VALUES ({', '.join('?' * (10 + len(columns)))})", rows)


def update_conversations(conn: sqlite3.Connection, columns: Sequence[str],
                         rows: Iterable[tuple]) -> None:
    """Set ``columns`` of conversations: rows of the values, then the id."""
    sets = ", ".join(f"{c} = ?" for c in columns)
    conn.executemany(f"UPDATE conversations SET {sets} WHERE id = ?", rows)


def set_routing(conn: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """Record how conversations were routed: (rule key, priority, group id, id)."""
    conn.executemany(
        "UPDATE conversations SET rule_key = ?, priority = ?, group_id = ? WHERE id = ?", rows)


def insert_messages(conn: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """Messages with their ids: (id, conversation, sender, agent, kind, body, payload,
    created)."""
    conn.executemany("INSERT INTO messages (id, conversation_id, sender, agent_id, kind, body, "
                     "payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def set_agent_statuses(conn: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """Agents' current status: (status, changed at, agent id)."""
    conn.executemany("UPDATE agents SET status = ?, status_changed_at = ? WHERE id = ?", rows)


def insert_orders(conn: sqlite3.Connection, rows: Iterable[tuple],
                  items: Iterable[tuple]) -> None:
    """Orders with their ids (id, key, shop, customer, status, total, created, paid,
    updated; no discount) and their items (order, product, quantity, price)."""
    conn.executemany(
        "INSERT INTO orders (id, key, shop_id, customer_id, status, total, discount, "
        "created_at, paid_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO order_items (order_id, product_id, quantity, price) "
                     "VALUES (?, ?, ?, ?)", items)


def mark_paid(conn: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """Orders paid: (paid at, order id)."""
    conn.executemany("UPDATE orders SET status = 'paid', paid_at = ?, updated_at = ? "
                     "WHERE id = ?", [(at, at, oid) for at, oid in rows])


def set_service_mode(conn: sqlite3.Connection, shop: int, mode: str) -> None:
    """A shop's service mode, with no off-hours mode."""
    conn.execute("UPDATE shops SET service_mode = ?, off_hours_mode = NULL WHERE id = ?",
                 (mode, shop))


def set_max_chats(conn: sqlite3.Connection, agent: int, max_chats: int) -> None:
    """An agent's capacity."""
    conn.execute("UPDATE agents SET max_chats = ? WHERE id = ?", (max_chats, agent))


def insert_agent(conn: sqlite3.Connection, *, handle: str, name: str, level: int,
                 max_chats: int, skills: str, shop: int, groups: Sequence[int],
                 now: int) -> int:
    """A new offline agent of one shop, in ``groups``; returns its id."""
    aid = conn.execute(
        "INSERT INTO agents (handle, name, role, level, max_chats, status, skills, "
        "created_at, updated_at) VALUES (?, ?, 'agent', ?, ?, 'offline', ?, ?, ?)",
        (handle, name, level, max_chats, skills, now, now)).lastrowid
    conn.execute("INSERT INTO agent_shops (agent_id, shop_id) VALUES (?, ?)", (aid, shop))
    conn.executemany("INSERT INTO group_members (group_id, agent_id) VALUES (?, ?)",
                     [(g, aid) for g in groups])
    return aid


def insert_customers(conn: sqlite3.Connection, rows: Iterable[tuple],
                     profiles: Iterable[tuple]) -> None:
    """Customers with their ids (id, key, name, created, updated) and their first profile
    (customer, shop, level, tags, region, channel)."""
    conn.executemany("INSERT INTO customers (id, key, name, created_at, updated_at) "
                     "VALUES (?, ?, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO customer_profiles (customer_id, shop_id, position, level, "
                     "tags, region, channel) VALUES (?, ?, 0, ?, ?, ?, ?)", profiles)
