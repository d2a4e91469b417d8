"""Row ids as the storage holds them: whole numbers from 1 to 2**63 - 1 (SQLite's
INTEGER PRIMARY KEY; PostgreSQL's BIGINT). A number outside that range names no row:
lookups answer "none" for it instead of passing it to the driver, which cannot bind it."""

from __future__ import annotations

from typing import Any

MAX_ROW_ID = 2**63 - 1


def row_id(value: Any) -> int | None:
    """``value`` as a row id, or None when no row can have it (outside 1..MAX_ROW_ID,
    or not a whole number)."""
    if isinstance(value, bool):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if 1 <= n <= MAX_ROW_ID else None
