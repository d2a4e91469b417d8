"""Macros (migration 18) as the desk reads them: a shop's, in their record form."""

from __future__ import annotations

import sqlite3

from ..records import RecordStore


class Macros:
    """The macros table (written as records through ``storage.records``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def of_shop(self, shop_id: int) -> list[dict]:
        """The shop's macros (the shop's and its agents' own), by key."""
        return RecordStore(self.conn).read_where("macros", "WHERE t.shop_id = ?", (shop_id,))
