"""The fast load path for large trusted data (generators, benchmarks).

Records come in the internal form (money in cents, times in epoch ms) and are not
validated field by field: the generator that made them is trusted. Rows go in with
``executemany`` in chunks, with ids assigned here so children need no read-back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from ..storage.records import RecordStore

CHUNK = 20_000


def _chunks(records: Iterable[dict], size: int = CHUNK) -> Iterator[list[dict]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


class _Ids:
    """Key -> id for one table, filled on demand and by inserts."""

    def __init__(self, conn: sqlite3.Connection, table: str, key: str):
        self.conn, self.table, self.key = conn, table, key
        self.known: dict[str, int] = {}
        self.next = (conn.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"').fetchone()[0]) + 1

    def get(self, key: str) -> int:
        rid = self.known.get(key)
        if rid is None:
            row = self.conn.execute(
                f'SELECT id FROM "{self.table}" WHERE {self.key} = ?', (key,)
            ).fetchone()
            if row is None:
                raise KeyError(f"unknown {self.table[:-1]} {key!r}")
            rid = self.known[key] = row[0]
        return rid

    def new(self, key: str) -> int:
        rid = self.next
        self.next += 1
        self.known[key] = rid
        return rid


def load(conn: sqlite3.Connection, kind: str, records: Iterable[dict[str, Any]], now: int) -> int:
    """Insert ``records`` of ``kind`` on ``conn`` (the caller holds the transaction)."""
    if kind == "customers":
        return _customers(conn, records, now)
    if kind == "orders":
        return _orders(conn, records, now)
    store = RecordStore(conn)
    n = 0
    for rec in records:
        store.write(kind, rec, now)
        n += 1
    return n


def _customers(conn: sqlite3.Connection, records: Iterable[dict], now: int) -> int:
    ids = _Ids(conn, "customers", "key")
    shops = _Ids(conn, "shops", "key")
    agents = _Ids(conn, "agents", "handle")
    n = 0
    for chunk in _chunks(records):
        rows, profiles = [], []
        for r in chunk:
            cid = ids.new(r["key"])
            rows.append((cid, r["key"], r["name"], r.get("phone"), r.get("email"), now, now))
            for pos, p in enumerate(r.get("profiles", ())):
                da, la = p.get("dedicated_agent"), p.get("last_agent")
                profiles.append(
                    (
                        cid,
                        shops.get(p["shop"]),
                        pos,
                        p.get("level", 0),
                        json.dumps(p.get("tags", []), ensure_ascii=False),
                        p.get("region"),
                        p.get("channel"),
                        p.get("credit"),
                        da and agents.get(da),
                        la and agents.get(la),
                        p.get("last_served_at"),
                        p.get("opted_out_at"),
                    )
                )
        conn.executemany(
            "INSERT INTO customers (id, key, name, phone, email, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO customer_profiles (customer_id, shop_id, position, level, tags, region, "
            "channel, credit, dedicated_agent_id, last_agent_id, last_served_at, opted_out_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            profiles,
        )
        n += len(chunk)
    return n


def _orders(conn: sqlite3.Connection, records: Iterable[dict], now: int) -> int:
    ids = _Ids(conn, "orders", "key")
    shops = _Ids(conn, "shops", "key")
    customers = _Ids(conn, "customers", "key")
    products = _Ids(conn, "products", "key")
    n = 0
    for chunk in _chunks(records):
        orders, items, events = [], [], []
        for r in chunk:
            oid = ids.new(r["key"])
            total = -r.get("discount", 0)
            for it in r["items"]:
                total += it["price"] * it["quantity"]
                items.append((oid, products.get(it["product"]), it["quantity"], it["price"]))
            orders.append(
                (
                    oid,
                    r["key"],
                    shops.get(r["shop"]),
                    customers.get(r["customer"]),
                    r["status"],
                    total,
                    r.get("discount", 0),
                    r.get("region"),
                    r.get("carrier"),
                    r.get("tracking_no"),
                    r["created_at"],
                    r.get("paid_at"),
                    r.get("shipped_at"),
                    r.get("delivered_at"),
                    r.get("receiver"),
                    r.get("phone"),
                    r.get("address"),
                    now,
                )
            )
            for e in r.get("logistics", ()):
                events.append((oid, e["at"], e["status"], e.get("detail")))
        conn.executemany(
            "INSERT INTO orders (id, key, shop_id, customer_id, status, total, discount, region, "
            "carrier, tracking_no, created_at, paid_at, shipped_at, delivered_at, receiver, phone, "
            "address, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            orders,
        )
        conn.executemany(
            "INSERT INTO order_items (order_id, product_id, quantity, price) VALUES (?, ?, ?, ?)",
            items,
        )
        conn.executemany(
            "INSERT INTO logistics_events (order_id, at, status, detail) VALUES (?, ?, ?, ?)",
            events,
        )
        n += len(chunk)
    return n
