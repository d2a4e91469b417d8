"""Ticket queries: the ticket row and its timeline, its SLA policy and calendar inputs,
the guarded once-only marks of the SLA scan, and the selections of lists and reports.

The SLA scan's exactly-once rests on :func:`mark_once` (``... WHERE <column> IS NULL``
in the caller's write transaction).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..ids import row_id
from ..where import Where

# The instants the SLA scan marks once each (the only columns mark_once may set).
ONCE_COLUMNS = ("warned_first_at", "breached_first_at", "warned_resolution_at",
                "breached_resolution_at")
# The fields a change may set through set_fields.
_SETTABLE = frozenset({"status", "priority", "team", "title", "assignee_id",
                       "first_response_min", "resolution_min"})


class Tickets:
    """The tickets and ticket_timeline tables (and what SLA deadlines read)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def get(self, ticket_id: int) -> dict | None:
        """Every column of the ticket, or None."""
        rid = row_id(ticket_id)
        if rid is None:
            return None
        cur = self.conn.execute("SELECT * FROM tickets WHERE id = ?", (rid,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def insert(self, fields: dict[str, Any]) -> int:
        """A new ticket with these columns; returns its id."""
        names = list(fields)
        return self.conn.execute(
            f"INSERT INTO tickets ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [fields[n] for n in names]).lastrowid

    def set_fields(self, ticket_id: int, **fields: Any) -> None:
        """Set some of status, priority, team, title, assignee and targets."""
        unknown = set(fields) - _SETTABLE
        if unknown:
            raise ValueError(f"not settable: {sorted(unknown)}")
        names = list(fields)
        self.conn.execute(f"UPDATE tickets SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
                          (*[fields[n] for n in names], ticket_id))

    def set_deadlines(self, ticket_id: int, *, first_response_due: int,
                      resolution_due: int, first_warn_due: int, resolution_warn_due: int,
                      updated_at: int) -> None:
        """Store the recomputed deadlines and warning instants."""
        self.conn.execute(
            "UPDATE tickets SET first_response_due = ?, resolution_due = ?, first_warn_due = ?, "
            "resolution_warn_due = ?, updated_at = ? WHERE id = ?",
            (first_response_due, resolution_due, first_warn_due, resolution_warn_due,
             updated_at, ticket_id))

    def set_next_sla(self, ticket_id: int, at: int | None) -> None:
        """When the SLA scan must look at the ticket next (None: never, as things stand)."""
        self.conn.execute("UPDATE tickets SET next_sla_at = ? WHERE id = ?", (at, ticket_id))

    def take(self, ticket_id: int, assignee_id: int) -> None:
        """Give the ticket to an agent; a new ticket opens."""
        self.conn.execute("UPDATE tickets SET assignee_id = ?, status = CASE WHEN status = 'new' "
                          "THEN 'open' ELSE status END WHERE id = ?", (assignee_id, ticket_id))

    def mark_replied(self, ticket_id: int, at: int) -> None:
        """A reply to the customer: the first one answers the first response; a new ticket
        opens."""
        self.conn.execute(
            "UPDATE tickets SET first_responded_at = COALESCE(first_responded_at, ?), "
            "status = CASE WHEN status = 'new' THEN 'open' ELSE status END "
            "WHERE id = ?", (at, ticket_id))

    def mark_resolved(self, ticket_id: int, at: int) -> None:
        """Resolved at ``at`` (which answers the first response if nothing had)."""
        self.conn.execute("UPDATE tickets SET status = 'resolved', resolved_at = ?, "
                          "first_responded_at = COALESCE(first_responded_at, ?) WHERE id = ?",
                          (at, at, ticket_id))

    def mark_closed(self, ticket_id: int, at: int) -> None:
        """Closed at ``at`` (resolved then too if it was not)."""
        self.conn.execute("UPDATE tickets SET status = 'closed', closed_at = ?, "
                          "resolved_at = COALESCE(resolved_at, ?) WHERE id = ?",
                          (at, at, ticket_id))

    def reopen(self, ticket_id: int, *, clear_closed: bool = True) -> None:
        """Back to open, no longer resolved (nor closed, unless ``clear_closed`` is false)."""
        if clear_closed:
            self.conn.execute("UPDATE tickets SET status = 'open', resolved_at = NULL, "
                              "closed_at = NULL WHERE id = ?", (ticket_id,))
        else:
            self.conn.execute("UPDATE tickets SET status = 'open', resolved_at = NULL WHERE id = ?",
                              (ticket_id,))

    def mark_once(self, ticket_id: int, column: str, at: int) -> bool:
        """Set one of :data:`ONCE_COLUMNS` unless set already; True when this call set it."""
        if column not in ONCE_COLUMNS:
            raise ValueError(column)
        cur = self.conn.execute(
            f"UPDATE tickets SET {column} = ? WHERE id = ? AND {column} IS NULL",
            (at, ticket_id))
        return cur.rowcount == 1

    # -- the timeline ----------
    def add_timeline(self, ticket_id: int, at: int, kind: str,
                     agent_id: int | None, body: str | None, payload: Any) -> None:
        """One entry of the ticket's timeline (``payload`` encoded as JSON)."""
        self.conn.execute(
            "INSERT INTO ticket_timeline (ticket_id, at, kind, agent_id, body, payload) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (ticket_id, at, kind, agent_id, body,
             None if payload is None else json.dumps(payload, ensure_ascii=False)))

    def status_changes(self, ticket_id: int) -> list[tuple[int, str]]:
        """The ticket's status changes in order: ``(at, to)``."""
        return [(at, json.loads(payload)["to"]) for at, payload in self.conn.execute(
            "SELECT at, payload FROM ticket_timeline WHERE ticket_id = ? AND kind = 'status' "
            "ORDER BY at, id", (ticket_id,)).fetchall()]

    def timeline(self, ticket_id: int) -> list[dict]:
        """The ticket's timeline in order, with agents' handles and payloads decoded."""
        return [{"at": r[0], "kind": r[1], "agent": r[2], "body": r[3],
                 "payload": json.loads(r[4]) if r[4] else None}
                for r in self.conn.execute(
                    "SELECT tl.at, tl.kind, a.handle, tl.body, tl.payload FROM ticket_timeline tl "
                    "LEFT JOIN agents a ON a.id = tl.agent_id WHERE tl.ticket_id = ? "
                    "ORDER BY tl.at, tl.id", (ticket_id,))]

    def names_of(self, t: dict) -> tuple:
        """The keys a ticket refers to: (shop, customer, assignee handle, order)."""
        return self.conn.execute(
            "SELECT s.key, cu.key, a.handle, o.key FROM shops s LEFT JOIN customers cu "
            "ON cu.id = ? LEFT JOIN agents a ON a.id = ? LEFT JOIN orders o ON o.id = ? "
            "WHERE s.id = ?", (t["customer_id"], t["assignee_id"], t["order_id"], t["shop_id"])
        ).fetchone()

    # -- what deadlines are computed from ----------
    def calendar_inputs(self, shop_id: int) -> tuple[str, Any, dict]:
        """The shop's time zone, business hours (decoded, or None) and settings."""
        tz, hours, settings = self.conn.execute(
            "SELECT timezone, business_hours, settings FROM shops WHERE id = ?", (shop_id,)
        ).fetchone()
        return tz, json.loads(hours) if hours else None, json.loads(settings)

    def enabled_policies(self, shop_id: int) -> list[dict]:
        """The shop's enabled SLA policies in order, conditions decoded."""
        return [{"key": r[0], "conditions": json.loads(r[1]), "first_response_min": r[2],
                 "resolution_min": r[3], "clock": r[4], "warn_share": r[5], "on_breach": r[6],
                 "escalate_to": r[7]}
                for r in self.conn.execute(
                    "SELECT p.key, p.conditions, p.first_response_min, p.resolution_min, p.clock, "
                    "p.warn_share, p.on_breach, a.handle FROM sla_policies p LEFT JOIN agents a "
                    "ON a.id = p.escalate_to_id WHERE p.shop_id = ? AND p.enabled = 1 "
                    "ORDER BY p.position, p.key", (shop_id,)).fetchall()]

    def order_for_ticket(self, key: str) -> dict | None:
        """An order's id, shop and customer by key, or None."""
        row = self.conn.execute("SELECT id, shop_id, customer_id FROM orders WHERE key = ?",
                                (key,)).fetchone()
        return None if row is None else {"id": row[0], "shop_id": row[1], "customer_id": row[2]}

    # -- staff ----------
    def works_for_shop(self, agent_id: int, shop_id: int) -> bool:
        """Whether the agent is an admin or one of the shop's agents."""
        role = self.conn.execute("SELECT role FROM agents WHERE id = ?", (agent_id,)).fetchone()[0]
        return role == "admin" or self.conn.execute(
                                 "SELECT 1 FROM agent_shops WHERE agent_id = ? AND shop_id = ?",
                                 (agent_id, shop_id)).fetchone() is not None

    def escalation_agent(self, handle: str, shop_id: int) -> int | None:
        """The id of the agent with ``handle`` if they work for the shop (or are admin)."""
        row = self.conn.execute(
            "SELECT a.id FROM agents a WHERE a.handle = ? AND (a.role = 'admin' OR EXISTS "
            "(SELECT 1 FROM agent_shops x WHERE x.agent_id = a.id AND x.shop_id = ?))",
            (handle, shop_id)).fetchone()
        return None if row is None else row[0]

    def shop_supervisors(self, shop_id: int) -> list[str]:
        """The handles of the shop's supervisors, sorted."""
        return [r[0] for r in self.conn.execute(
            "SELECT a.handle FROM agents a JOIN agent_shops s ON s.agent_id = a.id "
            "WHERE s.shop_id = ? AND a.role = 'supervisor' ORDER BY a.handle", (shop_id,))]

    # -- selections ----------
    def ticket_ids(self, *, shop_id: int | None,
                   statuses: Sequence[str] | None, assignee_id: int | None,
                   open_statuses: Sequence[str] | None, limit: int) -> list[int]:
        """Ids of tickets by resolution deadline: of one shop, in ``statuses``, of one
        assignee and (``open_statuses``) still open, each filter when given."""
        where = Where().add_if(shop_id, "shop_id = ?", shop_id)
        for group in (statuses, open_statuses):
            if group is not None:
                where.add(f"status IN ({', '.join('?' * len(group))})", *group)
        where.add_if(assignee_id, "assignee_id = ?", assignee_id)
        return [r[0] for r in self.conn.execute(
            f"SELECT id FROM tickets {where.sql()} ORDER BY resolution_due, id LIMIT ?",
            (*where.params, limit)).fetchall()]

    def due_for_sla(self, now: int) -> list[int]:
        """Ids of the tickets whose next SLA instant has come (an index range)."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM tickets WHERE next_sla_at IS NOT NULL AND next_sla_at <= ? "
            "ORDER BY next_sla_at, id", (now,)).fetchall()]

    def report_rows(self, *, shop_id: int | None, since: int | None,
                    until: int | None) -> list[tuple[int, str, str | None, str | None]]:
        """``(id, type, team, assignee handle)`` of the tickets created in [since, until),
        of one shop or all, by id."""
        where = (Where().add_if(shop_id, "t.shop_id = ?", shop_id)
                 .add_if(since, "t.created_at >= ?", since)
                 .add_if(until, "t.created_at < ?", until))
        return self.conn.execute(
            f"SELECT t.id, t.type, t.team, a.handle FROM tickets t LEFT JOIN agents a "
            f"ON a.id = t.assignee_id {where.sql()} ORDER BY t.id", where.params).fetchall()

    def resolved_since(self, shop_id: int, customer_id: int,
                       since: int) -> list[int]:
        """Ids of the customer's tickets in the shop resolved (not closed) since ``since``."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM tickets WHERE shop_id = ? AND status = 'resolved' "
            "AND customer_id = ? AND resolved_at >= ?", (shop_id, customer_id, since)).fetchall()]
