"""Shops as the desk and the services read them."""

from __future__ import annotations

import json
import sqlite3

from ...errors import NotFound

_SHOP = ("SELECT id, key, name, service_mode, off_hours_mode, timezone, business_hours, "
         "settings, languages FROM shops")


def _shop_dict(row: tuple) -> dict:
    return {
        "id": row[0], "key": row[1], "name": row[2], "service_mode": row[3],
        "off_hours_mode": row[4], "timezone": row[5],
        "business_hours": json.loads(row[6]) if row[6] else None,
        "settings": json.loads(row[7]),
        "languages": json.loads(row[8]) if row[8] else ["zh"],
    }


class Shops:
    """The shops table (the service view: id, key, name, modes, zone, hours, settings,
    languages)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def by_key(self, key: str) -> dict:
        """The shop ``key``; NotFound when there is none."""
        row = self.conn.execute(f"{_SHOP} WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise NotFound(f"no shop {key!r}", key="no_shop", shop=key)
        return _shop_dict(row)

    def by_id(self, shop_id: int) -> dict:
        """The shop with row id ``shop_id`` (which must exist)."""
        row = self.conn.execute(f"{_SHOP} WHERE id = ?", (shop_id,)).fetchone()
        if row is None:
            raise NotFound(f"no shop #{shop_id}", key="no_shop", shop=str(shop_id))
        return _shop_dict(row)

    def exists(self, key: str) -> bool:
        """Whether a shop ``key`` exists."""
        return self.conn.execute("SELECT 1 FROM shops WHERE key = ?",
                                 (key,)).fetchone() is not None

    def id_of(self, key: str) -> int | None:
        """The row id of shop ``key`` (None when there is none)."""
        row = self.conn.execute("SELECT id FROM shops WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def key_of(self, shop_id: int) -> str:
        """The key of the shop with row id ``shop_id``."""
        return self.conn.execute("SELECT key FROM shops WHERE id = ?", (shop_id,)).fetchone()[0]

    def settings_by_id(self) -> list[tuple[int, dict]]:
        """Every shop's id and settings."""
        return [(sid, json.loads(s)) for sid, s in
                self.conn.execute("SELECT id, settings FROM shops").fetchall()]

    def has_product(self, shop_id: int, product: str) -> bool:
        """Whether product ``product`` belongs to the shop."""
        return self.conn.execute("SELECT 1 FROM products WHERE key = ? AND shop_id = ?",
                                 (product, shop_id)).fetchone() is not None

    def product_category(self, product: str) -> str | None:
        """The category of product ``product`` (None when unknown)."""
        row = self.conn.execute("SELECT category FROM products WHERE key = ?",
                                (product,)).fetchone()
        return row[0] if row else None

    def group(self, key: str) -> tuple[int, int] | None:
        """(id, shop id) of group ``key``, None when there is none."""
        return self.conn.execute('SELECT id, shop_id FROM "groups" WHERE key = ?',
                                 (key,)).fetchone()
