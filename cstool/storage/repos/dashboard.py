"""What the supervisor dashboard reads that no other aggregate reads: the SLA tiles."""

from __future__ import annotations

import sqlite3

OPEN_TICKET_STATES = ("new", "open", "waiting_customer", "waiting_third_party")


def sla_tiles(conn: sqlite3.Connection, shop_id: int, now: int) -> tuple[int, int, int]:
    """(open tickets, those due within the hour, those past a deadline) of a shop."""
    open_, soon, late = conn.execute(
        "SELECT COUNT(*), "
        "SUM(CASE WHEN COALESCE(CASE WHEN first_responded_at IS NULL "
        "THEN first_response_due END, resolution_due) BETWEEN ? AND ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN (first_responded_at IS NULL AND first_response_due < ?) "
        "OR resolution_due < ? THEN 1 ELSE 0 END) FROM tickets WHERE shop_id = ? "
        "AND status IN ('new', 'open', 'waiting_customer', 'waiting_third_party')",
        (now, now + 3_600_000, now, now, shop_id)).fetchone()
    return open_, soon or 0, late or 0
