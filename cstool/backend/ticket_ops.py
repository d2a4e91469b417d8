"""Tickets (work orders) with SLA: raised from a chat or on their own, deadlines in the
shop's business calendar (or on the wall clock) that pause while waiting on the
customer, reminders at 80 % and escalation at breach, each exactly once, and SLA
attainment figures.

Deadlines are stored on the ticket and recomputed on every change. Exactly-once
reminders and escalations rest on guarded updates inside one write transaction
(``... WHERE warned_first_at IS NULL``): two workers never both act.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import Conflict, InvalidInput, NotFound, UsageError
from ..resources import PRIORITIES, TICKET_TYPES  # noqa: F401 - imported from here too
from ..sla import Calendar, deadline, elapsed_minutes
from ..text_rules import check_text
from ..values import format_time, short_time_in

TEAMS = ("aftersale", "logistics", "technical", "management")
STATUSES = ("new", "open", "waiting_customer", "waiting_third_party", "resolved", "closed")
OPEN = ("new", "open", "waiting_customer", "waiting_third_party")
DEFAULT_TARGETS = {"P1": (30, 240), "P2": (60, 480), "P3": (240, 1440), "P4": (480, 2880)}
REOPEN_DAYS = 7
TYPE_NAMES = {"complaint": "投诉", "return_refund": "退货退款", "damaged_goods": "商品破损",
              "delivery_delay": "物流延误", "installation_delay": "安装延误",
              "invoice": "发票", "other": "其他"}


def _choice(value: str | None, allowed: tuple, what: str) -> str | None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"{what} must be one of {', '.join(allowed)}, not {value!r}",
                           key="not_one_of", field=what, known=", ".join(allowed), value=value)
    return value


class TicketOps:
    """Ticket operations of the Local backend (mixed into LocalBackend)."""

    # -- lookups -----------------------------------------------------------------------
    def _ticket_row(self, conn, ticket: int) -> dict:
        cur = conn.execute("SELECT * FROM tickets WHERE id = ?", (int(ticket),))
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"no ticket {ticket}", key="no_ticket", ticket=ticket)
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def _calendar(self, conn, shop_id: int, clock: str) -> Calendar:
        tz, hours, settings = conn.execute(
            "SELECT timezone, business_hours, settings FROM shops WHERE id = ?", (shop_id,)
        ).fetchone()
        if clock == "wall":
            return Calendar.wall_clock(tz)
        settings = json.loads(settings)
        return Calendar.from_settings(tz, json.loads(hours) if hours else None,
                                      settings.get("holidays") or (),
                                      settings.get("workdays") or {})

    def _policy_for(self, conn, shop_id: int, type_: str, priority: str,
                    level: int) -> dict:
        """The first enabled policy of the shop whose conditions fit, else the defaults."""
        for row in conn.execute(
            "SELECT p.key, p.conditions, p.first_response_min, p.resolution_min, p.clock, "
            "p.warn_share, p.on_breach, a.handle FROM sla_policies p LEFT JOIN agents a "
            "ON a.id = p.escalate_to_id WHERE p.shop_id = ? AND p.enabled = 1 "
            "ORDER BY p.position, p.key", (shop_id,)
        ).fetchall():
            cond = json.loads(row[1])
            if cond.get("types") and type_ not in cond["types"]:
                continue
            if cond.get("priorities") and priority not in cond["priorities"]:
                continue
            if cond.get("min_customer_level") is not None and level < cond["min_customer_level"]:
                continue
            return {"key": row[0], "first_response_min": row[2], "resolution_min": row[3],
                    "clock": row[4], "warn_share": row[5], "on_breach": row[6],
                    "escalate_to": row[7]}
        first, resolution = DEFAULT_TARGETS[priority]
        return {"key": None, "first_response_min": first, "resolution_min": resolution,
                "clock": "business", "warn_share": 0.8, "on_breach": "notify",
                "escalate_to": None}

    def _pauses(self, conn, ticket_id: int) -> list[tuple[int, int | None]]:
        """Stretches spent waiting on the customer, from the status changes."""
        pauses: list[tuple[int, int | None]] = []
        since = None
        for at, payload in conn.execute(
            "SELECT at, payload FROM ticket_timeline WHERE ticket_id = ? AND kind = 'status' "
            "ORDER BY at, id", (ticket_id,)
        ).fetchall():
            to = json.loads(payload)["to"]
            if to == "waiting_customer" and since is None:
                since = at
            elif to != "waiting_customer" and since is not None:
                pauses.append((since, at))
                since = None
        if since is not None:
            pauses.append((since, None))
        return pauses

    def _recompute(self, conn, t: dict, now: int) -> dict:
        """Deadlines and warning instants from the ticket's targets, calendar and pauses,
        stored on the ticket with the next instant the SLA scan must look at it."""
        cal = self._calendar(conn, t["shop_id"], t["sla_clock"])
        pauses = self._pauses(conn, t["id"])
        start, share = t["created_at"], t["warn_share"]
        t.update(
            first_response_due=deadline(cal, start, t["first_response_min"], pauses, now),
            resolution_due=deadline(cal, start, t["resolution_min"], pauses, now),
            first_warn_due=deadline(cal, start, share * t["first_response_min"], pauses, now),
            resolution_warn_due=deadline(cal, start, share * t["resolution_min"], pauses, now),
            updated_at=now,
        )
        conn.execute(
            "UPDATE tickets SET first_response_due = ?, resolution_due = ?, first_warn_due = ?, "
            "resolution_warn_due = ?, updated_at = ? WHERE id = ?",
            (t["first_response_due"], t["resolution_due"], t["first_warn_due"],
             t["resolution_warn_due"], now, t["id"]))
        self._set_next(conn, t)
        return t

    def _set_next(self, conn, t: dict) -> None:
        """The earliest warning or breach not yet acted on (None while paused or done)."""
        pending = []
        if t["status"] in ("new", "open", "waiting_third_party"):
            if t["first_responded_at"] is None:
                if t["warned_first_at"] is None:
                    pending.append(t["first_warn_due"])
                elif t["breached_first_at"] is None:
                    pending.append(t["first_response_due"])
            if t["resolved_at"] is None:
                if t["warned_resolution_at"] is None:
                    pending.append(t["resolution_warn_due"])
                elif t["breached_resolution_at"] is None:
                    pending.append(t["resolution_due"])
        nxt = min((p for p in pending if p is not None), default=None)
        conn.execute("UPDATE tickets SET next_sla_at = ? WHERE id = ?", (nxt, t["id"]))

    def _timeline(self, conn, t: dict, kind: str, agent_id: int | None = None,
                  body: str | None = None, payload: Any = None) -> None:
        conn.execute(
            "INSERT INTO ticket_timeline (ticket_id, at, kind, agent_id, body, payload) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (t["id"], self._now(), kind, agent_id, body,
             None if payload is None else json.dumps(payload, ensure_ascii=False)))
        self._event(conn, f"ticket.{kind}", "ticket", str(t["id"]), t["shop_id"], payload)

    def _tell_customer(self, conn, t: dict, body: str, kind: str = "text",
                       payload: Any = None) -> None:
        if t["conversation_id"] is None:
            return
        conv = self._conv_row(conn, t["conversation_id"])
        self._add_message(conn, conv, "system", body, kind=kind,
                          payload={"ticket": t["id"], **(payload or {})})

    # -- operations -------------------------------------------------------------------
    def create_ticket(
        self, *, type: str, title: str, shop: str | None = None,
        conversation: int | None = None, priority: str = "P3", team: str | None = None,
        assignee: str | None = None, order: str | None = None, by: str | None = None,
        note: str | None = None,
    ) -> dict:
        """Raise a ticket from a conversation (its shop and customer) or on its own."""
        _choice(type, TICKET_TYPES, "type")
        _choice(priority, PRIORITIES, "priority")
        _choice(team, TEAMS, "team")
        if not title or not title.strip() or len(title) > 200:
            raise InvalidInput("a ticket needs a title of 1 to 200 characters",
                               key="ticket_title", max=200)
        check_text(title, "title")
        check_text(note or "", "note", multiline=True)
        with self.database.write() as conn:
            now = self._now()
            customer_id = None
            if conversation is not None:
                conv = self._conv_row(conn, conversation)
                shop_id, customer_id = conv["shop_id"], conv["customer_id"]
                if shop is not None and self._shop_row(conn, shop)["id"] != shop_id:
                    raise UsageError("the conversation belongs to another shop",
                                     key="conversation_other_shop")
            elif shop is not None:
                shop_id = self._shop_row(conn, shop)["id"]
            else:
                raise UsageError("give a conversation or a shop", key="ticket_needs_shop")
            order_id = None
            if order is not None:
                row = conn.execute("SELECT id, shop_id, customer_id FROM orders WHERE key = ?",
                                   (order,)).fetchone()
                if row is None or row[1] != shop_id:
                    raise NotFound(f"no order {order!r} in this shop", key="no_order_here",
                                   order=order)
                order_id = row[0]
                customer_id = customer_id or row[2]
            assignee_id = by_id = None
            if assignee is not None:
                assignee_id = self._staff_of(conn, assignee, shop_id)["id"]
            if by is not None:
                by_id = self._staff_of(conn, by, shop_id)["id"]
            level = 0
            if customer_id is not None:
                row = conn.execute("SELECT level FROM customer_profiles WHERE customer_id = ? "
                                   "AND shop_id = ?", (customer_id, shop_id)).fetchone()
                level = row[0] if row else 0
            policy = self._policy_for(conn, shop_id, type, priority, level)
            cur = conn.execute(
                "INSERT INTO tickets (shop_id, conversation_id, customer_id, order_id, type, "
                "team, assignee_id, priority, status, title, sla_policy, first_response_min, "
                "resolution_min, sla_clock, warn_share, on_breach, escalate_to, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (shop_id, conversation, customer_id, order_id, type, team, assignee_id, priority,
                 title.strip(), policy["key"], policy["first_response_min"],
                 policy["resolution_min"], policy["clock"], policy["warn_share"],
                 policy["on_breach"], policy["escalate_to"], now, now))
            t = self._ticket_row(conn, cur.lastrowid)
            self._recompute(conn, t, now)
            self._timeline(conn, t, "created", by_id, note, {"type": type, "priority": priority,
                                                             "policy": policy["key"]})
            zone = conn.execute("SELECT timezone FROM shops WHERE id = ?",
                                (shop_id,)).fetchone()[0]
            due = short_time_in(t["first_response_due"], zone)  # the customer's shop time
            self._tell_customer(conn, t, f"已为您创建{TYPE_NAMES[type]}工单 #{t['id']}："
                                f"{t['title']}。我们会在 {due} 前联系您。")
            return self._ticket_dict(conn, self._ticket_row(conn, t["id"]))

    def _staff_of(self, conn, handle: str, shop_id: int) -> dict:
        """An agent of the ticket's shop (admins work for every shop)."""
        a = self._agent_row(conn, handle)
        role = conn.execute("SELECT role FROM agents WHERE id = ?", (a["id"],)).fetchone()[0]
        if role != "admin" and not conn.execute(
                "SELECT 1 FROM agent_shops WHERE agent_id = ? AND shop_id = ?",
                (a["id"], shop_id)).fetchone():
            shop = conn.execute("SELECT key FROM shops WHERE id = ?", (shop_id,)).fetchone()[0]
            raise Conflict(f"agent {handle!r} does not work for shop {shop!r}",
                           key="agent_not_in_shop", agent=handle, shop=shop)
        return a

    def _change(self, ticket: int, by: str | None, fn) -> dict:
        with self.database.write() as conn:
            t = self._ticket_row(conn, ticket)
            by_id = self._staff_of(conn, by, t["shop_id"])["id"] if by is not None else None
            now = self._now()
            fn(conn, t, by_id, now)
            t = self._ticket_row(conn, t["id"])
            if t["status"] in OPEN:
                self._recompute(conn, t, now)
            else:
                self._set_next(conn, t)
            return self._ticket_dict(conn, self._ticket_row(conn, t["id"]))

    def update_ticket(self, ticket: int, *, by: str | None = None, status: str | None = None,
                      priority: str | None = None, team: str | None = None,
                      title: str | None = None) -> dict:
        """Change status (waiting on the customer pauses the clock), priority, team, title."""
        _choice(status, OPEN, "status (use resolve / close / reopen for the others)")
        _choice(priority, PRIORITIES, "priority")
        _choice(team, TEAMS, "team")
        if not any(v is not None for v in (status, priority, team, title)):
            raise UsageError("nothing to change", key="nothing_to_change")
        check_text(title or "", "title")

        def apply(conn, t, by_id, now):
            if t["status"] not in OPEN:
                raise Conflict(f"ticket {t['id']} is {t['status']}; reopen it first",
                               key="ticket_reopen_first", ticket=t["id"], ticket_status=t["status"])
            if status is not None and status != t["status"]:
                conn.execute("UPDATE tickets SET status = ? WHERE id = ?", (status, t["id"]))
                self._timeline(conn, t, "status", by_id, None, {"from": t["status"], "to": status})
            if priority is not None and priority != t["priority"]:
                first, resolution = DEFAULT_TARGETS[priority]
                conn.execute("UPDATE tickets SET priority = ? WHERE id = ?", (priority, t["id"]))
                if t["sla_policy"] is None:  # default targets follow the priority
                    conn.execute("UPDATE tickets SET first_response_min = ?, resolution_min = ? "
                                 "WHERE id = ?", (first, resolution, t["id"]))
                self._timeline(conn, t, "priority", by_id, None,
                               {"from": t["priority"], "to": priority})
            if team is not None and team != t["team"]:
                conn.execute("UPDATE tickets SET team = ? WHERE id = ?", (team, t["id"]))
                self._timeline(conn, t, "team", by_id, None, {"from": t["team"], "to": team})
            if title is not None:
                conn.execute("UPDATE tickets SET title = ? WHERE id = ?", (title, t["id"]))

        return self._change(ticket, by, apply)

    def assign_ticket(self, ticket: int, agent: str, *, by: str | None = None) -> dict:
        """Give the ticket to an agent."""

        def apply(conn, t, by_id, now):
            if t["status"] not in OPEN:
                raise Conflict(f"ticket {t['id']} is {t['status']}", key="ticket_state",
                               ticket=t["id"], ticket_status=t["status"])
            a = self._staff_of(conn, agent, t["shop_id"])
            conn.execute("UPDATE tickets SET assignee_id = ?, status = CASE WHEN status = 'new' "
                         "THEN 'open' ELSE status END WHERE id = ?", (a["id"], t["id"]))
            self._timeline(conn, t, "assigned", by_id, None, {"to": agent})

        return self._change(ticket, by, apply)

    def note_ticket(self, ticket: int, text: str, *, by: str | None = None) -> dict:
        """An internal note (the customer does not see it)."""
        if not text.strip():
            raise InvalidInput("the note is empty", key="text_empty", what="note")
        check_text(text, "note", multiline=True)
        return self._change(ticket, by, lambda conn, t, by_id, now: self._timeline(
            conn, t, "note", by_id, text))

    def reply_ticket(self, ticket: int, text: str, *, by: str) -> dict:
        """A reply to the customer (into their conversation); the first one meets the
        first-response target."""
        if not text.strip():
            raise InvalidInput("the reply is empty", key="text_empty", what="reply")
        if len(text) > 2000:  # it goes into the chat: a chat message's limit
            raise InvalidInput(f"reply too long ({len(text)} characters, at most 2000)",
                               key="text_too_long", what="reply", length=len(text), max=2000)
        check_text(text, "reply", multiline=True)

        def apply(conn, t, by_id, now):
            if t["status"] not in OPEN:
                raise Conflict(f"ticket {t['id']} is {t['status']}", key="ticket_state",
                               ticket=t["id"], ticket_status=t["status"])
            conn.execute("UPDATE tickets SET first_responded_at = COALESCE(first_responded_at, "
                         "?), status = CASE WHEN status = 'new' THEN 'open' ELSE status END "
                         "WHERE id = ?", (now, t["id"]))
            self._timeline(conn, t, "reply", by_id, text)
            self._tell_customer(conn, t, f"【工单 #{t['id']}】{text}")

        return self._change(ticket, by, apply)

    def resolve_ticket(self, ticket: int, *, by: str | None = None, note: str = "") -> dict:
        """Resolved: the customer is told and asked for a rating."""
        check_text(note or "", "note", multiline=True)

        def apply(conn, t, by_id, now):
            if t["status"] not in OPEN:
                raise Conflict(f"ticket {t['id']} is {t['status']} already",
                               key="ticket_state", ticket=t["id"], ticket_status=t["status"])
            if t["status"] == "waiting_customer":
                self._timeline(conn, t, "status", by_id, None,
                               {"from": t["status"], "to": "resolved"})
            conn.execute("UPDATE tickets SET status = 'resolved', resolved_at = ?, "
                         "first_responded_at = COALESCE(first_responded_at, ?) WHERE id = ?",
                         (now, now, t["id"]))
            self._timeline(conn, t, "resolved", by_id, note or None)
            self._tell_customer(conn, t, f"您的工单 #{t['id']} 已处理完成。{note} "
                                "请为本次处理打分（1-5 分）。", kind="survey",
                                payload={"rating": [1, 2, 3, 4, 5]})

        return self._change(ticket, by, apply)

    def close_ticket(self, ticket: int, *, by: str | None = None) -> dict:
        """Closed for good (after resolution, or as a duplicate)."""

        def apply(conn, t, by_id, now):
            if t["status"] == "closed":
                raise Conflict(f"ticket {t['id']} is closed already", key="ticket_state",
                               ticket=t["id"], ticket_status="closed")
            conn.execute("UPDATE tickets SET status = 'closed', closed_at = ?, "
                         "resolved_at = COALESCE(resolved_at, ?) WHERE id = ?",
                         (now, now, t["id"]))
            self._timeline(conn, t, "closed", by_id)

        return self._change(ticket, by, apply)

    def reopen_ticket(self, ticket: int, *, by: str | None = None, reason: str = "") -> dict:
        """Back to open: the resolution clock runs on (its deadline is recomputed)."""
        check_text(reason or "", "reason", multiline=True)

        def apply(conn, t, by_id, now):
            if t["status"] in OPEN:
                raise Conflict(f"ticket {t['id']} is open", key="ticket_state",
                               ticket=t["id"], ticket_status="open")
            conn.execute("UPDATE tickets SET status = 'open', resolved_at = NULL, "
                         "closed_at = NULL WHERE id = ?", (t["id"],))
            self._timeline(conn, t, "reopened", by_id, reason or None)

        return self._change(ticket, by, apply)

    def reopen_on_customer_reply(self, conn, customer_id: int, shop_id: int) -> list[int]:
        """A customer writing to the shop again within REOPEN_DAYS of a resolution reopens
        their resolved tickets there (closed ones stay closed)."""
        now = self._now()
        rows = conn.execute(
            "SELECT id FROM tickets WHERE shop_id = ? AND status = 'resolved' "
            "AND customer_id = ? AND resolved_at >= ?",
            (shop_id, customer_id, now - REOPEN_DAYS * 86_400_000)).fetchall()
        for (tid,) in rows:
            t = self._ticket_row(conn, tid)
            conn.execute("UPDATE tickets SET status = 'open', resolved_at = NULL WHERE id = ?",
                         (tid,))
            self._timeline(conn, t, "reopened", None, "顾客再次来信")
            self._recompute(conn, self._ticket_row(conn, tid), now)
        return [r[0] for r in rows]

    # -- reading ---------------------------------------------------------------------------
    def _ticket_dict(self, conn, t: dict, timeline: bool = False) -> dict:
        names = conn.execute(
            "SELECT s.key, cu.key, a.handle, o.key FROM shops s LEFT JOIN customers cu "
            "ON cu.id = ? LEFT JOIN agents a ON a.id = ? LEFT JOIN orders o ON o.id = ? "
            "WHERE s.id = ?", (t["customer_id"], t["assignee_id"], t["order_id"], t["shop_id"])
        ).fetchone()
        now = self._now()
        out = {
            "id": t["id"], "shop": names[0], "customer": names[1], "assignee": names[2],
            "order": names[3], "conversation": t["conversation_id"], "type": t["type"],
            "team": t["team"], "priority": t["priority"], "status": t["status"],
            "title": t["title"], "sla_policy": t["sla_policy"], "clock": t["sla_clock"],
            "first_response_due": format_time(t["first_response_due"]),
            "resolution_due": format_time(t["resolution_due"]),
            "first_responded_at": format_time(t["first_responded_at"]),
            "resolved_at": format_time(t["resolved_at"]),
            "created_at": format_time(t["created_at"]),
            "sla": self._sla_states(conn, t, now),
        }
        if timeline:
            out["timeline"] = [
                {"at": format_time(r[0]), "kind": r[1], "agent": r[2], "body": r[3],
                 "payload": json.loads(r[4]) if r[4] else None}
                for r in conn.execute(
                    "SELECT tl.at, tl.kind, a.handle, tl.body, tl.payload FROM ticket_timeline tl "
                    "LEFT JOIN agents a ON a.id = tl.agent_id WHERE tl.ticket_id = ? "
                    "ORDER BY tl.at, tl.id", (t["id"],))
            ]
        return out

    def _sla_states(self, conn, t: dict, now: int) -> dict:
        cal = self._calendar(conn, t["shop_id"], t["sla_clock"])
        pauses = self._pauses(conn, t["id"])
        out = {}
        for name, target, done in (("first_response", t["first_response_min"],
                                     t["first_responded_at"]),
                                    ("resolution", t["resolution_min"], t["resolved_at"])):
            used = elapsed_minutes(cal, t["created_at"], done or now, pauses)
            if done is not None:
                state = "met" if used <= target else "breached"
            elif used >= target:
                state = "breached"
            elif used >= t["warn_share"] * target:
                state = "warning"
            else:
                state = "ok"
            out[name] = {"state": state, "used_min": round(used, 1), "target_min": target}
        return out

    def get_ticket(self, ticket: int) -> dict:
        """One ticket with its timeline and SLA states."""
        with self.database.read() as conn:
            return self._ticket_dict(conn, self._ticket_row(conn, ticket), timeline=True)

    def list_tickets(self, *, shop: str | None = None, status: str | None = None,
                     assignee: str | None = None, breaching: bool = False,
                     due_within_s: int | None = None, limit: int = 200) -> list[dict]:
        """Tickets by resolution deadline; ``breaching`` keeps those past a deadline,
        ``due_within_s`` those due within that many seconds (open ones)."""
        where, params = [], []
        with self.database.read() as conn:
            if shop is not None:
                where.append("shop_id = ?")
                params.append(self._shop_row(conn, shop)["id"])
            if status == "open":
                where.append(f"status IN ({', '.join('?' for _ in OPEN)})")
                params.extend(OPEN)
            elif status is not None:
                _choice(status, STATUSES, "status")
                where.append("status = ?")
                params.append(status)
            if assignee is not None:
                where.append("assignee_id = ?")
                params.append(self._agent_row(conn, assignee)["id"])
            now = self._now()
            if breaching or due_within_s is not None:
                where.append(f"status IN ({', '.join('?' for _ in OPEN)})")
                params.extend(OPEN)
            clause = ("WHERE " + " AND ".join(where)) if where else ""
            rows = conn.execute(f"SELECT id FROM tickets {clause} ORDER BY resolution_due, id "
                                "LIMIT ?", (*params, int(limit) * 5)).fetchall()
            out = []
            for (tid,) in rows:
                t = self._ticket_row(conn, tid)
                d = self._ticket_dict(conn, t)
                if breaching:
                    first_late = t["first_responded_at"] is None and \
                        d["sla"]["first_response"]["state"] == "breached"
                    if not (first_late or d["sla"]["resolution"]["state"] == "breached"):
                        continue
                if due_within_s is not None:
                    due = t["resolution_due"] if t["first_responded_at"] is not None else \
                        min(t["first_response_due"], t["resolution_due"])
                    if not now <= due <= now + due_within_s * 1000:
                        continue
                out.append(d)
                if len(out) >= limit:
                    break
            return out

    # -- the worker's pass ------------------------------------------------------------------
    def sla_scan(self) -> list[dict]:
        """Warn at the policy's share (80 %) of each deadline and escalate at breach,
        each exactly once per ticket and deadline; returns what was done.

        Reads only the tickets whose next SLA instant has come (an index range on
        ``next_sla_at``), so a scan over a million tickets costs what is due, not what
        exists."""
        done: list[dict] = []
        with self.database.write() as conn:
            now = self._now()
            for (tid,) in conn.execute(
                "SELECT id FROM tickets WHERE next_sla_at IS NOT NULL AND next_sla_at <= ? "
                "ORDER BY next_sla_at, id", (now,)
            ).fetchall():
                t = self._ticket_row(conn, tid)
                for name, col, warn_due, due, answered in (
                    ("first_response", "first", t["first_warn_due"], t["first_response_due"],
                     t["first_responded_at"]),
                    ("resolution", "resolution", t["resolution_warn_due"], t["resolution_due"],
                     t["resolved_at"]),
                ):
                    if answered is not None:
                        continue
                    if warn_due is not None and warn_due <= now:
                        done += self._once(conn, t, f"warned_{col}_at", "sla_warning", name, now)
                    if due is not None and due <= now:
                        breached = self._once(conn, t, f"breached_{col}_at", "sla_breached",
                                              name, now)
                        if breached:
                            self._escalate(conn, self._ticket_row(conn, tid), name, now)
                        done += breached
                self._set_next(conn, self._ticket_row(conn, tid))
        return done

    def _once(self, conn, t: dict, column: str, kind: str, deadline_name: str,
              now: int) -> list[dict]:
        cur = conn.execute(f"UPDATE tickets SET {column} = ? WHERE id = ? AND {column} IS NULL",
                           (now, t["id"]))
        if cur.rowcount != 1:
            return []
        self._timeline(conn, t, kind, None, None, {"deadline": deadline_name,
                                                   "assignee_notified": t["assignee_id"]})
        return [{"ticket": t["id"], "kind": kind, "deadline": deadline_name}]

    def _escalation_agent(self, conn, t: dict) -> int | None:
        """The id of the ticket's escalation agent if they still work for its shop."""
        if not t["escalate_to"]:
            return None
        row = conn.execute(
            "SELECT a.id FROM agents a WHERE a.handle = ? AND (a.role = 'admin' OR EXISTS "
            "(SELECT 1 FROM agent_shops x WHERE x.agent_id = a.id AND x.shop_id = ?))",
            (t["escalate_to"], t["shop_id"])).fetchone()
        return None if row is None else row[0]

    def _escalate(self, conn, t: dict, deadline_name: str, now: int) -> None:
        action = t["on_breach"] or "notify"
        if action == "raise_priority" and t["priority"] != "P1":
            new = PRIORITIES[PRIORITIES.index(t["priority"]) - 1]
            conn.execute("UPDATE tickets SET priority = ? WHERE id = ?", (new, t["id"]))
            self._timeline(conn, t, "priority", None, "SLA 超时自动升级",
                           {"from": t["priority"], "to": new})
        elif action == "reassign" and self._escalation_agent(conn, t) is not None:
            conn.execute("UPDATE tickets SET assignee_id = ? WHERE id = ?",
                         (self._escalation_agent(conn, t), t["id"]))
            self._timeline(conn, t, "assigned", None, "SLA 超时转派", {"to": t["escalate_to"]})
        else:  # notify (also when the escalation agent no longer works for the shop)
            supervisors = [r[0] for r in conn.execute(
                "SELECT a.handle FROM agents a JOIN agent_shops s ON s.agent_id = a.id "
                "WHERE s.shop_id = ? AND a.role = 'supervisor' ORDER BY a.handle",
                (t["shop_id"],))]
            self._timeline(conn, t, "escalated", None, None,
                           {"deadline": deadline_name, "notified": supervisors})

    # -- figures ---------------------------------------------------------------------------
    def ticket_report(self, *, shop: str | None = None, since: int | None = None,
                      until: int | None = None, by: str | None = None) -> list[dict]:
        """SLA attainment: share of tickets whose first response and resolution met their
        targets, and mean minutes to each, by type, team or agent (or overall). Tickets
        count when created in [since, until); a deadline counts once decided (met or
        breached; still-open tickets past a deadline count as breached)."""
        if by not in (None, "type", "team", "agent"):
            raise UsageError("--by must be type, team or agent")
        with self.database.read() as conn:
            where, params = [], []
            if shop is not None:
                where.append("t.shop_id = ?")
                params.append(self._shop_row(conn, shop)["id"])
            if since is not None:
                where.append("t.created_at >= ?")
                params.append(since)
            if until is not None:
                where.append("t.created_at < ?")
                params.append(until)
            clause = ("WHERE " + " AND ".join(where)) if where else ""
            groups: dict[str, dict] = {}
            now = self._now()
            for tid, gtype, gteam, gagent in conn.execute(
                f"SELECT t.id, t.type, t.team, a.handle FROM tickets t LEFT JOIN agents a "
                f"ON a.id = t.assignee_id {clause} ORDER BY t.id", params
            ).fetchall():
                key = {"type": gtype, "team": gteam, "agent": gagent, None: "all"}[by] or "-"
                g = groups.setdefault(key, {"tickets": 0, "fr": [], "res": [], "fr_min": [],
                                            "res_min": []})
                t = self._ticket_row(conn, tid)
                st = self._sla_states(conn, t, now)
                g["tickets"] += 1
                for name, met, mins, done in (
                    ("first_response", "fr", "fr_min", t["first_responded_at"]),
                    ("resolution", "res", "res_min", t["resolved_at"]),
                ):
                    s = st[name]["state"]
                    if s in ("met", "breached"):
                        g[met].append(s == "met")
                    if done is not None:
                        g[mins].append(st[name]["used_min"])
            return [
                {by or "group": key, "tickets": g["tickets"],
                 "first_response_met": _share(g["fr"]), "resolution_met": _share(g["res"]),
                 "first_response_avg_min": _mean(g["fr_min"]),
                 "resolution_avg_min": _mean(g["res_min"])}
                for key, g in sorted(groups.items())
            ]


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None
