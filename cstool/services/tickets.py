"""The ticket service: tickets (work orders) with SLA, raised from a chat or on their
own, deadlines in the shop's business calendar (or on the wall clock) that pause while
waiting on the customer, reminders at 80 % and escalation at breach, each exactly once,
and SLA attainment figures.

Deadlines are stored on the ticket and recomputed on every change. Exactly-once
reminders and escalations rest on guarded updates inside one write transaction
(``... WHERE warned_first_at IS NULL``): two workers never both act.
"""

from __future__ import annotations

from typing import Any

from ..api.bounds import check_whole
from ..errors import Conflict, InvalidInput, NotFound, UsageError
from ..resources import PRIORITIES, TICKET_TYPES
from ..sla import Calendar, deadline, elapsed_minutes
from ..storage.repos.files import ChatFiles
from ..storage.repos.tickets import Tickets
from ..storage.unit_of_work import UnitOfWork
from ..text_rules import check_text
from ..values import format_time, short_time_in
from . import messages
from .context import ServiceContext
from .files import file_dict

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


class TicketService:
    """Tickets and their SLA: raising, changing, reading, the SLA scan and the report."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    # -- lookups -----------------------------------------------------------------------
    def _ticket_row(self, uow: UnitOfWork, ticket: int) -> dict:
        row = uow.repo(Tickets).get(ticket)
        if row is None:
            raise NotFound(f"no ticket {ticket}", key="no_ticket", ticket=ticket)
        return row

    def _calendar(self, uow: UnitOfWork, shop_id: int, clock: str) -> Calendar:
        tz, hours, settings = uow.repo(Tickets).calendar_inputs(shop_id)
        if clock == "wall":
            return Calendar.wall_clock(tz)
        return Calendar.from_settings(tz, hours, settings.get("holidays") or (),
                                      settings.get("workdays") or {})

    def _policy_for(self, uow: UnitOfWork, shop_id: int, type_: str, priority: str,
                    level: int) -> dict:
        """The first enabled policy of the shop whose conditions fit, else the defaults."""
        for policy in uow.repo(Tickets).enabled_policies(shop_id):
            cond = policy.pop("conditions")
            if cond.get("types") and type_ not in cond["types"]:
                continue
            if cond.get("priorities") and priority not in cond["priorities"]:
                continue
            if cond.get("min_customer_level") is not None and level < cond["min_customer_level"]:
                continue
            return policy
        first, resolution = DEFAULT_TARGETS[priority]
        return {"key": None, "first_response_min": first, "resolution_min": resolution,
                "clock": "business", "warn_share": 0.8, "on_breach": "notify",
                "escalate_to": None}

    def _pauses(self, uow: UnitOfWork, ticket_id: int) -> list[tuple[int, int | None]]:
        """Stretches spent waiting on the customer, from the status changes."""
        pauses: list[tuple[int, int | None]] = []
        since = None
        for at, to in uow.repo(Tickets).status_changes(ticket_id):
            if to == "waiting_customer" and since is None:
                since = at
            elif to != "waiting_customer" and since is not None:
                pauses.append((since, at))
                since = None
        if since is not None:
            pauses.append((since, None))
        return pauses

    def _recompute(self, uow: UnitOfWork, t: dict, now: int) -> dict:
        """Deadlines and warning instants from the ticket's targets, calendar and pauses,
        stored on the ticket with the next instant the SLA scan must look at it."""
        cal = self._calendar(uow, t["shop_id"], t["sla_clock"])
        pauses = self._pauses(uow, t["id"])
        start, share = t["created_at"], t["warn_share"]
        t.update(
            first_response_due=deadline(cal, start, t["first_response_min"], pauses, now),
            resolution_due=deadline(cal, start, t["resolution_min"], pauses, now),
            first_warn_due=deadline(cal, start, share * t["first_response_min"], pauses, now),
            resolution_warn_due=deadline(cal, start, share * t["resolution_min"], pauses, now),
            updated_at=now,
        )
        uow.repo(Tickets).set_deadlines(
            t["id"], first_response_due=t["first_response_due"],
            resolution_due=t["resolution_due"], first_warn_due=t["first_warn_due"],
            resolution_warn_due=t["resolution_warn_due"], updated_at=now)
        self._set_next(uow, t)
        return t

    def _set_next(self, uow: UnitOfWork, t: dict) -> None:
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
        uow.repo(Tickets).set_next_sla(t["id"], nxt)

    def _timeline(self, uow: UnitOfWork, t: dict, kind: str, agent_id: int | None = None,
                  body: str | None = None, payload: Any = None) -> None:
        uow.repo(Tickets).add_timeline(t["id"], uow.now, kind, agent_id, body, payload)
        uow.event(f"ticket.{kind}", "ticket", str(t["id"]), t["shop_id"], payload)

    def _tell_customer(self, uow: UnitOfWork, t: dict, body: str, kind: str = "text",
                       payload: Any = None) -> None:
        if t["conversation_id"] is None:
            return
        conv = uow.conversations.get(t["conversation_id"])
        messages.add_message(uow, conv, "system", body, kind=kind,
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
        with self.ctx.write() as uow:
            return self.create_in(uow, type=type, title=title, shop=shop,
                                  conversation=conversation, priority=priority, team=team,
                                  assignee=assignee, order=order, by=by, note=note)

    def create_in(self, uow: UnitOfWork, *, type: str, title: str, shop: str | None = None,
                  conversation: int | None = None, priority: str = "P3",
                  team: str | None = None, assignee: str | None = None,
                  order: str | None = None, by: str | None = None, note: str | None = None,
                  via: dict | None = None) -> dict:
        """``create_ticket`` inside the caller's unit of work (arguments checked by the
        caller). ``via``: who else raised it, kept in the ticket's ``created`` entry (the
        bot: ``{"by": "bot", "attachments": [...]}``)."""
        now = uow.now
        customer_id = None
        if conversation is not None:
            conv = uow.conversations.get(conversation)
            shop_id, customer_id = conv["shop_id"], conv["customer_id"]
            if shop is not None and uow.shops.by_key(shop)["id"] != shop_id:
                raise UsageError("the conversation belongs to another shop",
                                 key="conversation_other_shop")
        elif shop is not None:
            shop_id = uow.shops.by_key(shop)["id"]
        else:
            raise UsageError("give a conversation or a shop", key="ticket_needs_shop")
        order_id = None
        if order is not None:
            o = uow.repo(Tickets).order_for_ticket(order)
            if o is None or o["shop_id"] != shop_id:
                raise NotFound(f"no order {order!r} in this shop", key="no_order_here",
                               order=order)
            order_id = o["id"]
            customer_id = customer_id or o["customer_id"]
        assignee_id = by_id = None
        if assignee is not None:
            assignee_id = self._staff_of(uow, assignee, shop_id)["id"]
        if by is not None:
            by_id = self._staff_of(uow, by, shop_id)["id"]
        level = 0
        if customer_id is not None:
            level = uow.customers.level_in(customer_id, shop_id)
        policy = self._policy_for(uow, shop_id, type, priority, level)
        tid = uow.repo(Tickets).insert({
            "shop_id": shop_id, "conversation_id": conversation, "customer_id": customer_id,
            "order_id": order_id, "type": type, "team": team, "assignee_id": assignee_id,
            "priority": priority, "status": "new", "title": title.strip(),
            "sla_policy": policy["key"], "first_response_min": policy["first_response_min"],
            "resolution_min": policy["resolution_min"], "sla_clock": policy["clock"],
            "warn_share": policy["warn_share"], "on_breach": policy["on_breach"],
            "escalate_to": policy["escalate_to"], "created_at": now, "updated_at": now})
        t = self._ticket_row(uow, tid)
        self._recompute(uow, t, now)
        self._timeline(uow, t, "created", by_id, note, {"type": type, "priority": priority,
                                                         "policy": policy["key"],
                                                         **(via or {})})
        zone = uow.shops.by_id(shop_id)["timezone"]
        due = short_time_in(t["first_response_due"], zone)  # the customer's shop time
        self._tell_customer(uow, t, f"已为您创建{TYPE_NAMES[type]}工单 #{t['id']}："
                            f"{t['title']}。我们会在 {due} 前联系您。")
        return self._ticket_dict(uow, self._ticket_row(uow, t["id"]))

    def _staff_of(self, uow: UnitOfWork, handle: str, shop_id: int) -> dict:
        """An agent of the ticket's shop (admins work for every shop)."""
        a = uow.agents.by_handle(handle)
        if not uow.repo(Tickets).works_for_shop(a["id"], shop_id):
            shop = uow.shops.key_of(shop_id)
            raise Conflict(f"agent {handle!r} does not work for shop {shop!r}",
                           key="agent_not_in_shop", agent=handle, shop=shop)
        return a

    def _change(self, ticket: int, by: str | None, fn) -> dict:
        with self.ctx.write() as uow:
            t = self._ticket_row(uow, ticket)
            by_id = self._staff_of(uow, by, t["shop_id"])["id"] if by is not None else None
            now = uow.now
            fn(uow, t, by_id, now)
            t = self._ticket_row(uow, t["id"])
            if t["status"] in OPEN:
                self._recompute(uow, t, now)
            else:
                self._set_next(uow, t)
            return self._ticket_dict(uow, self._ticket_row(uow, t["id"]))

    def update_ticket(self, ticket: int, *, by: str | None = None, status: str | None = None,
                      priority: str | None = None, team: str | None = None,
                      title: str | None = None) -> dict:
        """Change status (waiting on the customer pauses the clock), priority, team, title.
        The ticket is looked up before the arguments are checked (as the server does)."""

        def apply(uow, t, by_id, now):
            _choice(status, OPEN, "status (use resolve / close / reopen for the others)")
            _choice(priority, PRIORITIES, "priority")
            _choice(team, TEAMS, "team")
            if not any(v is not None for v in (status, priority, team, title)):
                raise UsageError("nothing to change", key="nothing_to_change")
            check_text(title or "", "title")
            if t["status"] not in OPEN:
                raise Conflict(f"ticket {t['id']} is {t['status']}; reopen it first",
                               key="ticket_reopen_first", ticket=t["id"], ticket_status=t["status"])
            if status is not None and status != t["status"]:
                uow.repo(Tickets).set_fields(t["id"], status=status)
                self._timeline(uow, t, "status", by_id, None, {"from": t["status"], "to": status})
            if priority is not None and priority != t["priority"]:
                first, resolution = DEFAULT_TARGETS[priority]
                uow.repo(Tickets).set_fields(t["id"], priority=priority)
                if t["sla_policy"] is None:  # default targets follow the priority
                    uow.repo(Tickets).set_fields(t["id"], first_response_min=first,
                                           resolution_min=resolution)
                self._timeline(uow, t, "priority", by_id, None,
                               {"from": t["priority"], "to": priority})
            if team is not None and team != t["team"]:
                uow.repo(Tickets).set_fields(t["id"], team=team)
                self._timeline(uow, t, "team", by_id, None, {"from": t["team"], "to": team})
            if title is not None:
                uow.repo(Tickets).set_fields(t["id"], title=title)

        return self._change(ticket, by, apply)

    def assign_ticket(self, ticket: int, agent: str, *, by: str | None = None) -> dict:
        """Give the ticket to an agent."""

        def apply(uow, t, by_id, now):
            if t["status"] not in OPEN:
                raise Conflict(f"ticket {t['id']} is {t['status']}", key="ticket_state",
                               ticket=t["id"], ticket_status=t["status"])
            a = self._staff_of(uow, agent, t["shop_id"])
            uow.repo(Tickets).take(t["id"], a["id"])
            self._timeline(uow, t, "assigned", by_id, None, {"to": agent})

        return self._change(ticket, by, apply)

    def note_ticket(self, ticket: int, text: str, *, by: str | None = None) -> dict:
        """An internal note (the customer does not see it)."""
        if not text.strip():
            raise InvalidInput("the note is empty", key="text_empty", what="note")
        check_text(text, "note", multiline=True)
        return self._change(ticket, by, lambda uow, t, by_id, now: self._timeline(
            uow, t, "note", by_id, text))

    def reply_ticket(self, ticket: int, text: str, *, by: str) -> dict:
        """A reply to the customer (into their conversation); the first one meets the
        first-response target."""
        if not text.strip():
            raise InvalidInput("the reply is empty", key="text_empty", what="reply")
        if len(text) > 2000:  # it goes into the chat: a chat message's limit
            raise InvalidInput(f"reply too long ({len(text)} characters, at most 2000)",
                               key="text_too_long", what="reply", length=len(text), max=2000)
        check_text(text, "reply", multiline=True)

        def apply(uow, t, by_id, now):
            if t["status"] not in OPEN:
                raise Conflict(f"ticket {t['id']} is {t['status']}", key="ticket_state",
                               ticket=t["id"], ticket_status=t["status"])
            uow.repo(Tickets).mark_replied(t["id"], now)
            self._timeline(uow, t, "reply", by_id, text)
            self._tell_customer(uow, t, f"【工单 #{t['id']}】{text}")

        return self._change(ticket, by, apply)

    def resolve_ticket(self, ticket: int, *, by: str | None = None, note: str = "") -> dict:
        """Resolved: the customer is told and asked for a rating."""
        check_text(note or "", "note", multiline=True)

        def apply(uow, t, by_id, now):
            if t["status"] not in OPEN:
                raise Conflict(f"ticket {t['id']} is {t['status']} already",
                               key="ticket_state", ticket=t["id"], ticket_status=t["status"])
            if t["status"] == "waiting_customer":
                self._timeline(uow, t, "status", by_id, None,
                               {"from": t["status"], "to": "resolved"})
            uow.repo(Tickets).mark_resolved(t["id"], now)
            self._timeline(uow, t, "resolved", by_id, note or None)
            self._tell_customer(uow, t, f"您的工单 #{t['id']} 已处理完成。{note} "
                                "请为本次处理打分（1-5 分）。", kind="survey",
                                payload={"rating": [1, 2, 3, 4, 5]})

        return self._change(ticket, by, apply)

    def close_ticket(self, ticket: int, *, by: str | None = None) -> dict:
        """Closed for good (after resolution, or as a duplicate)."""

        def apply(uow, t, by_id, now):
            if t["status"] == "closed":
                raise Conflict(f"ticket {t['id']} is closed already", key="ticket_state",
                               ticket=t["id"], ticket_status="closed")
            uow.repo(Tickets).mark_closed(t["id"], now)
            self._timeline(uow, t, "closed", by_id)

        return self._change(ticket, by, apply)

    def reopen_ticket(self, ticket: int, *, by: str | None = None, reason: str = "") -> dict:
        """Back to open: the resolution clock runs on (its deadline is recomputed)."""
        check_text(reason or "", "reason", multiline=True)

        def apply(uow, t, by_id, now):
            if t["status"] in OPEN:
                raise Conflict(f"ticket {t['id']} is open", key="ticket_state",
                               ticket=t["id"], ticket_status="open")
            uow.repo(Tickets).reopen(t["id"])
            self._timeline(uow, t, "reopened", by_id, reason or None)

        return self._change(ticket, by, apply)

    @staticmethod
    def reopen_since(now: int) -> int:
        """Tickets resolved since this instant (REOPEN_DAYS before ``now``) reopen when
        their customer writes again."""
        return now - REOPEN_DAYS * 86_400_000

    def reopen_on_customer_reply(self, uow: UnitOfWork, customer_id: int,
                                 shop_id: int, *, resolved: list[int] | None = None
                                 ) -> list[int]:
        """A customer writing to the shop again within REOPEN_DAYS of a resolution reopens
        their resolved tickets there (closed ones stay closed). ``resolved``: the ids of
        those tickets as the caller read them in this transaction (``Posts.lookup``),
        else they are read here."""
        now = uow.now
        ids = resolved if resolved is not None else uow.repo(Tickets).resolved_since(
            shop_id, customer_id, self.reopen_since(now))
        for tid in ids:
            t = self._ticket_row(uow, tid)
            uow.repo(Tickets).reopen(tid, clear_closed=False)
            self._timeline(uow, t, "reopened", None, "顾客再次来信")
            self._recompute(uow, self._ticket_row(uow, tid), now)
        return ids

    # -- reading ---------------------------------------------------------------------------
    def _ticket_dict(self, uow: UnitOfWork, t: dict, timeline: bool = False) -> dict:
        names = uow.repo(Tickets).names_of(t)
        now = uow.now
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
            "sla": self._sla_states(uow, t, now),
        }
        if timeline:
            out["timeline"] = [{**e, "at": format_time(e["at"])}
                               for e in uow.repo(Tickets).timeline(t["id"])]
            # the pictures and files of the chat it was raised from stay with it
            out["files"] = [file_dict(r) for r in uow.repo(ChatFiles).of_conversations(
                [t["conversation_id"]])] if t["conversation_id"] else []
        return out

    def _sla_states(self, uow: UnitOfWork, t: dict, now: int) -> dict:
        cal = self._calendar(uow, t["shop_id"], t["sla_clock"])
        pauses = self._pauses(uow, t["id"])
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
        with self.ctx.read() as uow:
            return self._ticket_dict(uow, self._ticket_row(uow, ticket), timeline=True)

    def list_tickets(self, *, shop: str | None = None, status: str | None = None,
                     assignee: str | None = None, breaching: bool = False,
                     due_within_s: int | None = None, limit: int = 200) -> list[dict]:
        """Tickets by resolution deadline; ``breaching`` keeps those past a deadline,
        ``due_within_s`` those due within that many seconds (open ones)."""
        with self.ctx.read() as uow:
            shop_id = uow.shops.by_key(shop)["id"] if shop is not None else None
            statuses: tuple[str, ...] | None = None
            if status == "open":
                statuses = OPEN
            elif status is not None:
                _choice(status, STATUSES, "status")
                statuses = (status,)
            assignee_id = uow.agents.by_handle(assignee)["id"] if assignee is not None else None
            check_whole("limit", limit)
            if due_within_s is not None:
                check_whole("due_within_s", due_within_s)
            now = uow.now
            rows = uow.repo(Tickets).ticket_ids(
                shop_id=shop_id, statuses=statuses, assignee_id=assignee_id,
                open_statuses=OPEN if breaching or due_within_s is not None else None,
                limit=int(limit) * 5)
            out = []
            for tid in rows:
                t = self._ticket_row(uow, tid)
                d = self._ticket_dict(uow, t)
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
        with self.ctx.write() as uow:
            now = uow.now
            for tid in uow.repo(Tickets).due_for_sla(now):
                t = self._ticket_row(uow, tid)
                for name, col, warn_due, due, answered in (
                    ("first_response", "first", t["first_warn_due"], t["first_response_due"],
                     t["first_responded_at"]),
                    ("resolution", "resolution", t["resolution_warn_due"], t["resolution_due"],
                     t["resolved_at"]),
                ):
                    if answered is not None:
                        continue
                    if warn_due is not None and warn_due <= now:
                        done += self._once(uow, t, f"warned_{col}_at", "sla_warning", name, now)
                    if due is not None and due <= now:
                        breached = self._once(uow, t, f"breached_{col}_at", "sla_breached",
                                              name, now)
                        if breached:
                            self._escalate(uow, self._ticket_row(uow, tid), name, now)
                        done += breached
                self._set_next(uow, self._ticket_row(uow, tid))
        return done

    def _once(self, uow: UnitOfWork, t: dict, column: str, kind: str, deadline_name: str,
              now: int) -> list[dict]:
        if not uow.repo(Tickets).mark_once(t["id"], column, now):
            return []
        self._timeline(uow, t, kind, None, None, {"deadline": deadline_name,
                                                   "assignee_notified": t["assignee_id"]})
        return [{"ticket": t["id"], "kind": kind, "deadline": deadline_name}]

    def _escalation_agent(self, uow: UnitOfWork, t: dict) -> int | None:
        """The id of the ticket's escalation agent if they still work for its shop."""
        if not t["escalate_to"]:
            return None
        return uow.repo(Tickets).escalation_agent(t["escalate_to"], t["shop_id"])

    def _escalate(self, uow: UnitOfWork, t: dict, deadline_name: str, now: int) -> None:
        action = t["on_breach"] or "notify"
        if action == "raise_priority" and t["priority"] != "P1":
            new = PRIORITIES[PRIORITIES.index(t["priority"]) - 1]
            uow.repo(Tickets).set_fields(t["id"], priority=new)
            self._timeline(uow, t, "priority", None, "SLA 超时自动升级",
                           {"from": t["priority"], "to": new})
        elif action == "reassign" and self._escalation_agent(uow, t) is not None:
            uow.repo(Tickets).set_fields(t["id"],
                                   assignee_id=self._escalation_agent(uow, t))
            self._timeline(uow, t, "assigned", None, "SLA 超时转派", {"to": t["escalate_to"]})
        else:  # notify (also when the escalation agent no longer works for the shop)
            supervisors = uow.repo(Tickets).shop_supervisors(t["shop_id"])
            self._timeline(uow, t, "escalated", None, None,
                           {"deadline": deadline_name, "notified": supervisors})

    # -- figures ---------------------------------------------------------------------------
    def ticket_report(self, *, shop: str | None = None, since: int | None = None,
                      until: int | None = None, by: str | None = None) -> list[dict]:
        """SLA attainment: share of tickets whose first response and resolution met their
        targets, and mean minutes to each, by type, team or agent (or overall). Tickets
        count when created in [since, until); a deadline counts once decided (met or
        breached; still-open tickets past a deadline count as breached)."""
        if by not in (None, "type", "team", "agent"):
            raise UsageError("--by must be type, team or agent", key="by_one_of")
        with self.ctx.read() as uow:
            shop_id = uow.shops.by_key(shop)["id"] if shop is not None else None
            groups: dict[str, dict] = {}
            now = uow.now
            for tid, gtype, gteam, gagent in uow.repo(Tickets).report_rows(
                    shop_id=shop_id, since=since, until=until):
                key = {"type": gtype, "team": gteam, "agent": gagent, None: "all"}[by] or "-"
                g = groups.setdefault(key, {"tickets": 0, "fr": [], "res": [], "fr_min": [],
                                            "res_min": []})
                t = self._ticket_row(uow, tid)
                st = self._sla_states(uow, t, now)
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
