"""The fast load path for large trusted data (generators, benchmarks).

Records come in the internal form (money in cents, times in epoch ms) and are not
validated field by field: the generator that made them is trusted. Rows go in with
``executemany`` in chunks (SQLite) or PostgreSQL's ``COPY`` (a connection with
``copy_rows``: one stream per table and chunk, not a statement per row), with ids
assigned here so children need no read-back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from ..storage.records import RecordStore

CHUNK = 20_000


def _insert(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert ``rows`` into ``table``: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    copy_rows = getattr(conn, "copy_rows", None)
    if copy_rows is not None:
        copy_rows(table, columns, rows)
        return
    marks = ", ".join("?" for _ in columns)
    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


CUSTOMER_COLUMNS = ("id", "key", "name", "phone", "email", "created_at", "updated_at")
PROFILE_COLUMNS = ("customer_id", "shop_id", "position", "level", "tags", "region", "channel",
                   "credit", "dedicated_agent_id", "last_agent_id", "last_served_at",
                   "opted_out_at")
ORDER_COLUMNS = ("id", "key", "shop_id", "customer_id", "status", "total", "discount", "region",
                 "carrier", "tracking_no", "created_at", "paid_at", "shipped_at",
                 "delivered_at", "receiver", "phone", "address", "updated_at")
ITEM_COLUMNS = ("order_id", "product_id", "quantity", "price")
LOGISTICS_COLUMNS = ("order_id", "at", "status", "detail")


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

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read the ids of the ``keys`` not known yet in one statement per 5,000 (a
        chunk's look-ups in a few round trips, not one each)."""
        missing = sorted({k for k in keys if k is not None and k not in self.known})
        for i in range(0, len(missing), 5000):
            part = json.dumps(missing[i:i + 5000], ensure_ascii=False)
            for key, rid in self.conn.execute(
                    f'SELECT {self.key}, id FROM "{self.table}" WHERE {self.key} IN '
                    "(SELECT value FROM json_each(?))", (part,)).fetchall():
                self.known[key] = rid

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
        shown = [p for r in chunk for p in r.get("profiles", ())]
        shops.prefetch(p["shop"] for p in shown)
        agents.prefetch(h for p in shown for h in (p.get("dedicated_agent"), p.get("last_agent")))
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
        _insert(conn, "customers", CUSTOMER_COLUMNS, rows)
        _insert(conn, "customer_profiles", PROFILE_COLUMNS, profiles)
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
        shops.prefetch(r["shop"] for r in chunk)
        customers.prefetch(r["customer"] for r in chunk)
        products.prefetch(it["product"] for r in chunk for it in r["items"])
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
        _insert(conn, "orders", ORDER_COLUMNS, orders)
        _insert(conn, "order_items", ITEM_COLUMNS, items)
        _insert(conn, "logistics_events", LOGISTICS_COLUMNS, events)
        n += len(chunk)
    return n
