"""What routing keeps in the file: a shop's rules, its round-robin state, the rule-set
versions that stored decisions name, and the desk version places are cached on."""

from __future__ import annotations

import json
import sqlite3


class Routing:
    """routing_rules, shop_routing_state, routing_rulesets and desk_version."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def rule_defs(self, shop_id: int) -> list[dict]:
        """The shop's routing rules in order, as the routing engine takes them."""
        rows = self.conn.execute(
            "SELECT key, name, conditions, target, strategy, priority, when_unavailable, "
            "enabled FROM routing_rules WHERE shop_id = ? ORDER BY position, key",
            (shop_id,)).fetchall()
        return [{"key": r[0], "name": r[1], "conditions": json.loads(r[2]),
                 "target": json.loads(r[3]), "strategy": r[4], "priority": r[5],
                 "when_unavailable": r[6], "enabled": bool(r[7])} for r in rows]

    def round_robin(self, shop_id: int) -> dict | None:
        """The shop's stored round-robin state (None before its first turn)."""
        row = self.conn.execute(
            "SELECT round_robin FROM shop_routing_state WHERE shop_id = ?",
            (shop_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def save_round_robin(self, shop_id: int, state: dict) -> None:
        """Store the shop's round-robin state."""
        self.conn.execute(
            "INSERT INTO shop_routing_state (shop_id, round_robin) VALUES (?, ?) "
            "ON CONFLICT(shop_id) DO UPDATE SET round_robin = excluded.round_robin",
            (shop_id, json.dumps(state)))

    def remember_ruleset(self, ruleset_id: str, shop_id: int, text: str, now: int) -> None:
        """Keep a version of a shop's rules (once: stored decisions name it)."""
        # SQLite-only: INSERT OR IGNORE (PostgreSQL: ON CONFLICT DO NOTHING)
        self.conn.execute(
            "INSERT OR IGNORE INTO routing_rulesets (id, shop_id, rules, created_at) "
            "VALUES (?, ?, ?, ?)", (ruleset_id, shop_id, text, now))

    def ruleset_text(self, ruleset_id: str) -> str | None:
        """The rules of a stored version (JSON), None when unknown."""
        row = self.conn.execute("SELECT rules FROM routing_rulesets WHERE id = ?",
                                (ruleset_id,)).fetchone()
        return row[0] if row else None

    def desk_version(self) -> int:
        """Moved by every change of agents, shop memberships or groups (triggers)."""
        return self.conn.execute("SELECT v FROM desk_version").fetchone()[0]

    def avg_handle_ms(self, shop_id: int) -> float | None:
        """Mean handle time (ms) of the shop's last 200 closed chats; None without any."""
        row = self.conn.execute(
            "SELECT AVG(closed_at - assigned_at) FROM (SELECT closed_at, assigned_at FROM "
            "conversations WHERE shop_id = ? AND state = 'closed' AND assigned_at IS NOT NULL "
            "ORDER BY closed_at DESC LIMIT 200) AS recent", (shop_id,)).fetchone()
        return row[0] if row and row[0] else None
