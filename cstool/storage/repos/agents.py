"""Agents: their rows, shops, groups and live load."""

from __future__ import annotations

import sqlite3

from ...errors import NotFound

AGENT_COLUMNS = ("id", "handle", "name", "status", "max_chats")


class Agents:
    """The agents table and what hangs off it (agent_shops, group_members)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def by_handle(self, handle: str) -> dict:
        """id, handle, name, status and max_chats of agent ``handle``; NotFound if none."""
        row = self.conn.execute(
            "SELECT id, handle, name, status, max_chats FROM agents WHERE handle = ?",
            (handle,)).fetchone()
        if row is None:
            raise NotFound(f"no agent {handle!r}", key="no_agent", agent=handle)
        return dict(zip(AGENT_COLUMNS, row, strict=True))

    def id_of(self, handle: str) -> int | None:
        """The row id of agent ``handle`` (None when there is none)."""
        row = self.conn.execute("SELECT id FROM agents WHERE handle = ?", (handle,)).fetchone()
        return None if row is None else row[0]

    def active_count(self, agent_id: int) -> int:
        """How many chats the agent serves now (in every shop)."""
        return self.conn.execute(
            "SELECT COUNT(*) FROM conversations WHERE assignee_id = ? AND state = 'active'",
            (agent_id,)).fetchone()[0]

    def shop_ids(self, agent_id: int) -> list[int]:
        """The shops the agent works for."""
        return [r[0] for r in self.conn.execute(
            "SELECT shop_id FROM agent_shops WHERE agent_id = ?", (agent_id,)).fetchall()]

    def in_shop(self, agent_id: int, shop_id: int) -> bool:
        """Whether the agent works for the shop."""
        return self.conn.execute("SELECT 1 FROM agent_shops WHERE agent_id = ? AND "
                                 "shop_id = ?", (agent_id, shop_id)).fetchone() is not None

    def ids_in_shop(self, shop_id: int) -> list[int]:
        """The agents of a shop (every role)."""
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT agent_id FROM agent_shops WHERE shop_id = ?", (shop_id,))]

    def names(self) -> dict[str, str]:
        """Every agent's name by handle."""
        return dict(self.conn.execute("SELECT handle, name FROM agents"))

    def status_counts(self, shop_id: int) -> dict[str, int]:
        """The shop's agents (role agent) counted by status."""
        return dict(self.conn.execute(
            "SELECT a.status, COUNT(*) FROM agents a JOIN agent_shops s ON s.agent_id = a.id "
            "WHERE s.shop_id = ? AND a.role = 'agent' GROUP BY a.status", (shop_id,)))

    # -- what routing reads ---------------------------------------------------------------
    def routing_rows(self, shop_id: int, *, staff: bool = False) -> list[tuple]:
        """The shop's agents as routing reads them: (id, handle, name, status, max_chats,
        level, skills JSON, last_assigned_at, idle_since), by handle; supervisors and
        admins only when ``staff``."""
        return self.conn.execute(
            "SELECT a.id, a.handle, a.name, a.status, a.max_chats, a.level, a.skills, "
            "a.last_assigned_at, a.idle_since FROM agents a JOIN agent_shops s "
            "ON s.agent_id = a.id WHERE s.shop_id = ? AND (? OR a.role = 'agent') "
            "ORDER BY a.handle", (shop_id, staff)).fetchall()

    def active_in_shop(self, shop_id: int) -> dict[int, int]:
        """Open-chat counts (every shop's chats) of the agents of a shop, by agent id."""
        return dict(self.conn.execute(
            "SELECT assignee_id, COUNT(*) FROM conversations WHERE state = 'active' AND "
            "assignee_id IN (SELECT agent_id FROM agent_shops WHERE shop_id = ?) "
            "GROUP BY assignee_id", (shop_id,)).fetchall())

    def groups_in_shop(self, shop_id: int) -> dict[int, set[str]]:
        """The group keys of each agent of a shop, by agent id."""
        groups: dict[int, set[str]] = {}
        for agent_id, key in self.conn.execute(
                'SELECT m.agent_id, g.key FROM group_members m JOIN "groups" g '
                "ON g.id = m.group_id JOIN agent_shops s ON s.agent_id = m.agent_id "
                "AND s.shop_id = ?", (shop_id,)):
            groups.setdefault(agent_id, set()).add(key)
        return groups

    # -- writes ---------------------------------------------------------------------------
    def set_status(self, agent_id: int, old: str | None, status: str, now: int) -> None:
        """Move the agent's status; coming online starts their idle time."""
        # SQLite-only: ``IS NOT`` compares with NULL (PostgreSQL: IS DISTINCT FROM)
        self.conn.execute(
            "UPDATE agents SET status = ?, status_changed_at = ?, "
            "idle_since = CASE WHEN ? = 'online' AND ? IS NOT 'online' THEN ? "
            "ELSE idle_since END, updated_at = ? WHERE id = ?",
            (status, now, status, old, now, now, agent_id))

    def assigned_at(self, handle: str, now: int) -> None:
        """The agent was given a chat at ``now``."""
        self.conn.execute("UPDATE agents SET last_assigned_at = ? WHERE handle = ?",
                          (now, handle))

    def idle_since(self, agent_id: int, now: int) -> None:
        """The agent has no chat since ``now``."""
        self.conn.execute("UPDATE agents SET idle_since = ? WHERE id = ?", (now, agent_id))

    def clear_references(self, shop_id: int, agent_id: int) -> int:
        """Clear the shop's pointers at the agent (customers' dedicated and last agent,
        SLA escalation); returns how many were cleared."""
        cleared = 0
        for sql in (
            "UPDATE customer_profiles SET dedicated_agent_id = NULL "
            "WHERE shop_id = ? AND dedicated_agent_id = ?",
            "UPDATE customer_profiles SET last_agent_id = NULL "
            "WHERE shop_id = ? AND last_agent_id = ?",
            "UPDATE sla_policies SET escalate_to_id = NULL "
            "WHERE shop_id = ? AND escalate_to_id = ?",
        ):
            cleared += self.conn.execute(sql, (shop_id, agent_id)).rowcount
        return cleared
