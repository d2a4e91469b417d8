"""Mapping between internal records (see ``cstool.resources``) and SQLite rows.

Scalar fields are columns of the kind's table (a reference ``x`` is the column
``x_id``); lists and maps are JSON columns; a few collections live in child tables
(an agent's shops and groups, a customer's profiles and coupons, an order's items
and logistics timeline). All functions take an open connection: the caller owns the
transaction.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..resources import KINDS, Kind

JSON_TYPES = {"strlist", "reflist", "attrs", "hours", "settings", "records", "record", "json"}
CHILD_FIELDS: dict[str, tuple[str, ...]] = {
    "agents": ("shops", "groups"),
    "customers": ("profiles", "coupons"),
    "orders": ("items", "logistics"),
}


def q(name: str) -> str:
    """Quote an identifier (``groups`` is a keyword in newer SQLite)."""
    return '"' + name.replace('"', '""') + '"'


def _columns(kind: Kind) -> list:
    children = CHILD_FIELDS.get(kind.name, ())
    return [f for f in kind.fields if f.name not in children]


def _select_sql(kind: Kind) -> str:
    cols = ["t.id AS _id"]
    joins = []
    for f in _columns(kind):
        if f.type == "ref":
            alias = f"r_{f.name}"
            ref = KINDS[f.ref]
            joins.append(f"LEFT JOIN {q(ref.name)} {alias} ON {alias}.id = t.{f.name}_id")
            cols.append(f"{alias}.{ref.key} AS {q(f.name)}")
        else:
            cols.append(f"t.{q(f.name)} AS {q(f.name)}")
    return f"SELECT {', '.join(cols)} FROM {q(kind.name)} t {' '.join(joins)}"


_SELECT = {name: _select_sql(k) for name, k in KINDS.items()}


class RecordStore:
    """Reads and writes internal records of every kind on one connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._ids: dict[tuple[str, str], int] = {}

    # -- keys and ids ------------------------------------------------------------
    def id_of(self, kind: str, key: str) -> int | None:
        """The row id of the record of ``kind`` with ``key``, or None."""
        cached = self._ids.get((kind, key))
        if cached is not None:
            return cached
        k = KINDS[kind]
        row = self.conn.execute(f"SELECT id FROM {q(kind)} WHERE {k.key} = ?", (key,)).fetchone()
        if row:
            self._ids[(kind, key)] = row[0]
            return row[0]
        return None

    def forget(self, kind: str, key: str) -> None:
        """Drop a cached id (after a delete)."""
        self._ids.pop((kind, key), None)

    # -- reading -----------------------------------------------------------------
    def read(self, kind: str, key: str) -> dict | None:
        """The internal record with ``key``, or None."""
        k = KINDS[kind]
        rows = self._query(kind, f"WHERE t.{k.key} = ?", (key,))
        return rows[0] if rows else None

    def read_where(
        self,
        kind: str,
        where: str = "",
        params: tuple = (),
        order: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Internal records matching a WHERE clause over the kind's table (alias ``t``)."""
        k = KINDS[kind]
        sql = f"{where} ORDER BY {order or 't.' + k.key}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._query(kind, sql, params)

    def _query(self, kind: str, tail: str, params: tuple) -> list[dict]:
        k = KINDS[kind]
        cur = self.conn.execute(f"{_SELECT[kind]} {tail}", params)
        names = [d[0] for d in cur.description]
        out = []
        for row in cur.fetchall():
            rec = dict(zip(names, row, strict=True))
            for f in _columns(k):
                v = rec.get(f.name)
                if v is None:
                    continue
                if f.type in JSON_TYPES:
                    rec[f.name] = json.loads(v)
                elif f.type == "bool":
                    rec[f.name] = bool(v)
            self._read_children(k, rec)
            out.append(rec)
        return out

    def _read_children(self, k: Kind, rec: dict) -> None:
        rid = rec["_id"]
        c = self.conn
        if k.name == "agents":
            rec["shops"] = [
                r[0]
                for r in c.execute(
                    "SELECT s.key FROM agent_shops a JOIN shops s ON s.id = a.shop_id "
                    "WHERE a.agent_id = ? ORDER BY a.position, s.key",
                    (rid,),
                )
            ]
            rec["groups"] = [
                r[0]
                for r in c.execute(
                    'SELECT g.key FROM group_members m JOIN "groups" g ON g.id = m.group_id '
                    "WHERE m.agent_id = ? ORDER BY m.position, g.key",
                    (rid,),
                )
            ]
        elif k.name == "customers":
            rec["profiles"] = [
                {
                    "shop": r[0],
                    "level": r[1],
                    "tags": json.loads(r[2]),
                    "region": r[3],
                    "channel": r[4],
                    "credit": r[5],
                    "dedicated_agent": r[6],
                    "last_agent": r[7],
                    "last_served_at": r[8],
                    "opted_out_at": r[9],
                }
                for r in c.execute(
                    "SELECT s.key, p.level, p.tags, p.region, p.channel, p.credit, "
                    "da.handle, la.handle, p.last_served_at, p.opted_out_at "
                    "FROM customer_profiles p "
                    "JOIN shops s ON s.id = p.shop_id "
                    "LEFT JOIN agents da ON da.id = p.dedicated_agent_id "
                    "LEFT JOIN agents la ON la.id = p.last_agent_id "
                    "WHERE p.customer_id = ? ORDER BY p.position, s.key",
                    (rid,),
                )
            ]
            rec["coupons"] = [
                {"coupon": r[0], "issued_at": r[1], "used_at": r[2]}
                for r in c.execute(
                    "SELECT cp.key, cc.issued_at, cc.used_at FROM customer_coupons cc "
                    "JOIN coupons cp ON cp.id = cc.coupon_id WHERE cc.customer_id = ? "
                    "ORDER BY cc.position, cc.id",
                    (rid,),
                )
            ]
        elif k.name == "orders":
            rec["items"] = [
                {"product": r[0], "quantity": r[1], "price": r[2]}
                for r in c.execute(
                    "SELECT p.key, i.quantity, i.price FROM order_items i "
                    "JOIN products p ON p.id = i.product_id WHERE i.order_id = ? "
                    "ORDER BY i.id",
                    (rid,),
                )
            ]
            rec["logistics"] = [
                {"at": r[0], "status": r[1], "detail": r[2]}
                for r in c.execute(
                    "SELECT at, status, detail FROM logistics_events WHERE order_id = ? "
                    "ORDER BY at, id",
                    (rid,),
                )
            ]

    # -- writing -----------------------------------------------------------------
    def write(self, kind: str, rec: dict, now_ms: int) -> tuple[int, bool]:
        """Insert or update (by key) an internal record; return (id, created)."""
        k = KINDS[kind]
        values: dict[str, Any] = {}
        for f in _columns(k):
            v = rec.get(f.name)
            if f.type == "ref":
                values[f"{f.name}_id"] = None if v is None else self._need_id(f.ref, v)
                continue
            if v is not None and f.type in JSON_TYPES:
                v = json.dumps(v, ensure_ascii=False, sort_keys=f.type != "records")
            elif f.type == "bool" and v is not None:
                v = int(v)
            values[f.name] = v
        if kind == "orders":
            values["total"] = (
                sum(i["price"] * i["quantity"] for i in rec["items"]) - rec["discount"]
            )
        existing = self.id_of(kind, rec[k.key])
        if kind in ("routing_rules", "sla_policies") and values.get("position") is None:
            values["position"] = rec["position"] = self._next_position(kind, values["shop_id"])
        values["updated_at"] = now_ms
        if existing is None:
            values["created_at"] = rec.get("created_at") or now_ms
            cols = ", ".join(q(c) for c in values)
            marks = ", ".join("?" for _ in values)
            cur = self.conn.execute(
                f"INSERT INTO {q(kind)} ({cols}) VALUES ({marks})", tuple(values.values())
            )
            rid = cur.lastrowid
            self._ids[(kind, rec[k.key])] = rid
            created = True
        else:
            rid = existing
            sets = ", ".join(f"{q(c)} = ?" for c in values)
            self.conn.execute(f"UPDATE {q(kind)} SET {sets} WHERE id = ?", (*values.values(), rid))
            created = False
        self._write_children(k, rid, rec, created)
        return rid, created

    def _next_position(self, table: str, shop_id: int) -> int:
        row = self.conn.execute(
            f"SELECT COALESCE(MAX(position), 0) FROM {q(table)} WHERE shop_id = ?", (shop_id,)
        ).fetchone()
        return row[0] + 1

    def _need_id(self, kind: str, key: str) -> int:
        rid = self.id_of(kind, key)
        if rid is None:  # validation runs first; this guards against races
            from ..errors import NotFound

            raise NotFound(f"unknown {KINDS[kind].singular} {key!r}",
                           key="unknown_record", kind=KINDS[kind].singular, record=key)
        return rid

    def _write_children(self, k: Kind, rid: int, rec: dict, created: bool) -> None:
        c = self.conn
        if k.name == "agents":
            if not created:
                c.execute("DELETE FROM agent_shops WHERE agent_id = ?", (rid,))
                c.execute("DELETE FROM group_members WHERE agent_id = ?", (rid,))
            c.executemany(
                "INSERT INTO agent_shops (agent_id, shop_id, position) VALUES (?, ?, ?)",
                [(rid, self._need_id("shops", s), i) for i, s in enumerate(rec["shops"])],
            )
            c.executemany(
                "INSERT INTO group_members (group_id, agent_id, position) VALUES (?, ?, ?)",
                [(self._need_id("groups", g), rid, i) for i, g in enumerate(rec["groups"])],
            )
        elif k.name == "customers":
            if not created:
                # Keep runtime state (opt-outs) of profiles that stay.
                kept = dict(
                    c.execute(
                        "SELECT shop_id, opted_out_at FROM customer_profiles WHERE customer_id = ?",
                        (rid,),
                    ).fetchall()
                )
                c.execute("DELETE FROM customer_profiles WHERE customer_id = ?", (rid,))
                c.execute("DELETE FROM customer_coupons WHERE customer_id = ?", (rid,))
            else:
                kept = {}
            rows = []
            for i, p in enumerate(rec["profiles"]):
                sid = self._need_id("shops", p["shop"])
                rows.append(
                    (
                        rid,
                        sid,
                        i,
                        p["level"],
                        json.dumps(p["tags"], ensure_ascii=False),
                        p["region"],
                        p["channel"],
                        p["credit"],
                        p["dedicated_agent"] and self._need_id("agents", p["dedicated_agent"]),
                        p["last_agent"] and self._need_id("agents", p["last_agent"]),
                        p["last_served_at"],
                        p.get("opted_out_at") or kept.get(sid),
                    )
                )
            c.executemany(
                "INSERT INTO customer_profiles (customer_id, shop_id, position, level, tags, "
                "region, channel, credit, dedicated_agent_id, last_agent_id, last_served_at, "
                "opted_out_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            c.executemany(
                "INSERT INTO customer_coupons (customer_id, coupon_id, position, issued_at, "
                "used_at, source) VALUES (?, ?, ?, ?, ?, 'fixture')",
                [
                    (rid, self._need_id("coupons", h["coupon"]), i, h["issued_at"], h["used_at"])
                    for i, h in enumerate(rec["coupons"])
                ],
            )
        elif k.name == "orders":
            if not created:
                c.execute("DELETE FROM order_items WHERE order_id = ?", (rid,))
                c.execute("DELETE FROM logistics_events WHERE order_id = ?", (rid,))
            c.executemany(
                "INSERT INTO order_items (order_id, product_id, quantity, price) "
                "VALUES (?, ?, ?, ?)",
                [
                    (rid, self._need_id("products", i["product"]), i["quantity"], i["price"])
                    for i in rec["items"]
                ],
            )
            c.executemany(
                "INSERT INTO logistics_events (order_id, at, status, detail) VALUES (?, ?, ?, ?)",
                [(rid, e["at"], e["status"], e["detail"]) for e in rec["logistics"]],
            )

    def delete(self, kind: str, key: str) -> None:
        """Delete the record with ``key`` (children cascade)."""
        rid = self.id_of(kind, key)
        if rid is None:
            return
        if kind == "orders":
            self.conn.execute("DELETE FROM order_items WHERE order_id = ?", (rid,))
            self.conn.execute("DELETE FROM logistics_events WHERE order_id = ?", (rid,))
        self.conn.execute(f"DELETE FROM {q(kind)} WHERE id = ?", (rid,))
        self.forget(kind, key)


def strip_ids(rec: dict) -> dict:
    """The record without storage-only keys (``_id``)."""
    return {k: v for k, v in rec.items() if not k.startswith("_")}
