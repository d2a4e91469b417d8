"""The Local backend: every operation over one SQLite file, in-process.

Each change and the event that records it commit in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..bot.knowledge_bot import KnowledgeBot
from ..bot.step import BotStep
from ..clock import Clock, default_clock
from ..errors import Conflict, NotFound, UsageError
from ..resources import KINDS, ORDER_BY, Kind
from ..resources import kind as kind_named
from ..services.console import ConsoleService
from ..services.context import ServiceContext
from ..services.conversation_view import ConversationView
from ..services.dashboard import DashboardService
from ..services.desk import DeskService
from ..services.messages import add_message, system
from ..services.queue_places import QueuePlacesService
from ..services.routing_flow import RoutingFlow
from ..services.worker import WorkerService
from ..storage.database import open_database
from ..storage.events import EventRow, append_events
from ..storage.migrations import LATEST
from ..storage.records import RecordStore, q, strip_ids
from ..storage.unit_of_work import UnitOfWork
from ..validation import FieldError, check_refs, to_external, to_internal
from ..values import format_money, format_time
from . import bulk
from .base import ApplyResult, Backend, Change
from .campaign_ops import CampaignOps
from .invite_ops import InviteOps
from .knowledge_ops import KnowledgeOps
from .metrics_ops import MetricsOps
from .staffing_ops import StaffingOps
from .ticket_ops import TicketOps

_json = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False)



class _MixinHooks:
    """The hooks services call on campaigns, tickets, knowledge and metrics, over the
    mixins that still implement them (transitional: each goes when its service comes)."""

    def __init__(self, backend: LocalBackend):
        self.backend = backend

    def command_in(self, uow: UnitOfWork, shop_id: int, text: str):
        """``CampaignHooks.command_in`` over ``CampaignOps.campaign_command``."""
        return self.backend.campaign_command(uow.conn, shop_id, text)

    def answer_command(self, uow: UnitOfWork, shop: dict, conv: dict, customer_id: int,
                       command) -> list[dict]:
        """``CampaignHooks.answer_command`` over ``CampaignOps.answer_campaign_command``."""
        return self.backend.answer_campaign_command(uow.conn, shop, conv, customer_id,
                                                    command)

    def reopen_on_customer_reply(self, uow: UnitOfWork, customer_id: int,
                                 shop_id: int) -> list[int]:
        """``TicketHooks.reopen_on_customer_reply`` over ``TicketOps``."""
        return self.backend.reopen_on_customer_reply(uow.conn, customer_id, shop_id)

    def ticket_report(self, **kw) -> list[dict]:
        """``TicketHooks.ticket_report`` over ``TicketOps``."""
        return self.backend.ticket_report(**kw)

    def bot_turn(self, uow: UnitOfWork, shop: dict, conv: dict, customer_id: int,
                 text: str):
        """``KnowledgeHooks.bot_turn`` over ``KnowledgeOps._bot_turn``."""
        return self.backend._bot_turn(uow.conn, shop, conv, customer_id, text)

    def catch_up(self) -> None:
        """``MetricsHooks.catch_up`` over ``MetricsOps._metrics_current``."""
        self.backend._metrics_current()


def _kind(name: str) -> Kind:
    try:
        return kind_named(name)
    except KeyError:
        raise UsageError(f"unknown kind {name!r} (known: {', '.join(KINDS)})",
                         key="unknown_kind", kind=name, known=", ".join(KINDS)) from None


def _lookup_info(kind: str, rec: dict) -> dict:
    """What reference checks need to know of a record."""
    info: dict[str, Any] = {}
    if "shop" in rec:
        info["shop"] = rec["shop"]
    if kind == "products":
        info["price"] = rec["price"]
    if kind == "agents":
        info["shops"] = rec["shops"]
        info["role"] = rec.get("role")
    return info


class LocalBackend(
    CampaignOps, KnowledgeOps, MetricsOps, TicketOps, StaffingOps, InviteOps, Backend,
):
    """The Backend over one SQLite file: a facade that builds the services' context
    (``self.ctx``) and delegates each operation to its service (``cstool.services``).

    Until every mixin is a service, the facade still inherits the mixins not yet
    converted, and ``_MixinHooks`` offers their hooks to the services."""

    # Moved by every change that may alter who may do what (every event but
    # storage.events.ACCESS_NEUTRAL_EVENTS): the token store's principal cache holds
    # while it stands.
    access_epoch = 0

    def __init__(
        self, path: str | Path, *, clock: Clock | None = None, bot: BotStep | None = None,
        create: bool = True,
    ):
        """Open the file at ``path`` (made, with its folder, when missing, unless
        ``create`` is false: then a missing file raises ``NoDataFile``)."""
        clock = clock or default_clock()
        # The knowledge bot answers by default; any BotStep may replace it.
        self.bot = bot if bot is not None else KnowledgeBot()
        self.database = open_database(path, clock.now_ms(), create=create)
        self.path = self.database.path
        self.ctx = ctx = ServiceContext(self.database, clock, self.bot,
                                        self._move_access_epoch)
        ctx.campaigns = ctx.tickets = ctx.knowledge = ctx.metrics = _MixinHooks(self)
        ctx.places = QueuePlacesService(ctx)
        ctx.routing = RoutingFlow(ctx, ctx.places)
        ctx.views = ConversationView(ctx, ctx.places, ctx.routing)
        ctx.desk = DeskService(ctx, ctx.places, ctx.routing, ctx.views)
        ctx.dashboard = DashboardService(ctx)
        ctx.worker = WorkerService(ctx)
        ctx.console = ConsoleService(ctx)
        # the caches the services share, under the names the mixins still use
        self._post_shops = ctx.caches.post_shops

    @property
    def clock(self) -> Clock:
        """The clock of every operation (the context's: replacing it here replaces it
        for every service)."""
        return self.ctx.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.ctx.clock = clock

    def _move_access_epoch(self) -> None:
        """A committed change may have changed who may do what: cached rights expire."""
        self.access_epoch += 1

    # -- the desk (services.desk, .conversation_view) ----------------------------------------
    @property
    def kept_open(self) -> frozenset[str]:
        """Shops this process serves as if inside their business hours (``keep_open``)."""
        return self.ctx.routing.kept_open

    def keep_open(self, shop: str, keep: bool = True) -> None:
        """Serve ``shop`` as if inside its business hours, in this process only (the demo
        at any hour); ``keep=False`` gives its hours back."""
        kept = self.ctx.routing.kept_open
        self.ctx.routing.kept_open = (kept | {shop}) if keep else (kept - {shop})

    def post_message(self, shop: str, customer: str, text: str, **context: Any) -> dict:
        """A customer writes to a shop (see ``DeskService.post_message``)."""
        return self.ctx.desk.post_message(shop, customer, text, **context)

    def accept_next(self, agent: str) -> dict | None:
        """The agent takes the best waiting chat they may serve; None when none waits."""
        return self.ctx.desk.accept_next(agent)

    def set_agent_status(self, agent: str, status: str) -> dict:
        """Online, busy, away or offline (see ``DeskService.set_agent_status``)."""
        return self.ctx.desk.set_agent_status(agent, status)

    def reply(self, agent: str, conversation: int, text: str, *, kind: str = "text",
              payload: Any = None) -> dict:
        """The assigned agent writes to the customer."""
        return self.ctx.desk.reply(agent, conversation, text, kind=kind, payload=payload)

    def transfer(self, conversation: int, *, by: str, to_agent: str | None = None,
                 to_group: str | None = None, note: str = "") -> dict:
        """Hand a chat to another agent or a group, with a note."""
        return self.ctx.desk.transfer(conversation, by=by, to_agent=to_agent,
                                      to_group=to_group, note=note)

    def close_conversation(self, conversation: int, *, by: str | None = None,
                           reason: str = "resolved") -> dict:
        """Close a chat and ask the customer for a rating."""
        return self.ctx.desk.close_conversation(conversation, by=by, reason=reason)

    def reopen_conversation(self, conversation: int, *, by: str) -> dict:
        """Reopen a chat ``by`` closed, within ten minutes of the close."""
        return self.ctx.desk.reopen_conversation(conversation, by=by)

    def rate(self, conversation: int, rating: int, comment: str | None = None) -> dict:
        """The customer rates a closed chat, once, 1 to 5."""
        return self.ctx.desk.rate(conversation, rating, comment)

    def close_idle(self) -> list[int]:
        """Close chats idle past their shop's limit; returns their ids."""
        return self.ctx.desk.close_idle()

    def get_conversation(self, conversation: int, *, messages: bool = True) -> dict:
        """One conversation, with its messages."""
        return self.ctx.views.get_conversation(conversation, messages=messages)

    def list_conversations(self, *, shop: str | None = None, state: str | None = None,
                           agent: str | None = None, customer: str | None = None,
                           limit: int = 100, after: int | None = None) -> list[dict]:
        """Conversations, newest first, filtered and paged."""
        return self.ctx.views.list_conversations(shop=shop, state=state, agent=agent,
                                                 customer=customer, limit=limit, after=after)

    def queue(self, shop: str, *, limit: int | None = None,
              after: int | None = None) -> list[dict]:
        """A shop's waiting chats in serving order, with positions and waits."""
        return self.ctx.views.queue(shop, limit=limit, after=after)

    def route_test(self, shop: str, customer: str, text: str, **context: Any) -> dict:
        """Who would get this chat now, and why (a dry run)."""
        return self.ctx.views.route_test(shop, customer, text, **context)

    def route_explain(self, conversation: int) -> dict:
        """The routing decision recorded for a conversation, with the reasons."""
        return self.ctx.views.route_explain(conversation)

    def drain_queues(self) -> list[tuple[int, str]]:
        """Hand every shop's waiting chats to agents who can take them now."""
        return self.ctx.worker.drain_queues()

    def dashboard(self, shop: str) -> dict:
        """A snapshot of one shop's desk for the supervisor dashboard."""
        return self.ctx.dashboard.dashboard(shop)

    # -- the agent console (services.console) ----------------------------------------------
    def agent_desk(self, agent: str) -> dict:
        """The agent, their open chats and their shops' queues, in one read."""
        return self.ctx.console.agent_desk(agent)

    def mark_seen(self, agent: str, conversation: int) -> None:
        """The agent has read the chat up to now."""
        self.ctx.console.mark_seen(agent, conversation)

    def customer_context(self, conversation: int) -> dict:
        """Who the customer is in this chat's shop."""
        return self.ctx.console.customer_context(conversation)

    def search_history(self, agent: str, text: str, limit: int = 50) -> list[dict]:
        """Messages containing ``text`` in chats this agent has served, newest first."""
        return self.ctx.console.search_history(agent, text, limit)

    def send_card(self, agent: str, conversation: int, kind: str, key: str) -> dict:
        """Send a product card, or a coupon, into a chat."""
        return self.ctx.console.send_card(agent, conversation, kind, key)

    # -- transitional: the helpers the mixins not yet converted call ----------------------
    # (each goes when the last mixin using it is a service; services use the unit of
    # work's repositories and ``services.messages`` instead)
    def _uow(self, conn: sqlite3.Connection) -> UnitOfWork:
        return self.ctx.storage.over(conn)

    def _conv_row(self, conn: sqlite3.Connection, conv_id: int) -> dict:
        return self._uow(conn).conversations.get(conv_id)

    def _shop_row(self, conn: sqlite3.Connection, key: str) -> dict:
        return self._uow(conn).shops.by_key(key)

    def _shop_by_id(self, conn: sqlite3.Connection, shop_id: int) -> dict:
        return self._uow(conn).shops.by_id(shop_id)

    def _agent_row(self, conn: sqlite3.Connection, handle: str) -> dict:
        return self._uow(conn).agents.by_handle(handle)

    def _add_message(self, conn: sqlite3.Connection, conv: dict, sender: str, body: str,
                     **kw: Any) -> dict:
        return add_message(self._uow(conn), conv, sender, body, **kw)

    def _system(self, conn: sqlite3.Connection, conv: dict, body: str, kind: str = "text",
                payload: Any = None) -> dict:
        return system(self._uow(conn), conv, body, kind=kind, payload=payload)

    def _must_hold(self, conv: dict, agent: dict, action: str) -> None:
        self.ctx.desk.must_hold(conv, agent, action)

    def _routing_state(self, conn: sqlite3.Connection, shop_id: int, *, staff: bool = False):
        return self.ctx.routing.routing_state(self._uow(conn), shop_id, staff=staff)

    def _pool_of(self, text: str | None) -> dict:
        return self.ctx.places.pool_of(text)

    def refresh_classification(self, conn: sqlite3.Connection, customer_id: int,
                               shop_id: int) -> None:
        """Keep open chats' classification current after an order changes."""
        self.ctx.routing.refresh_classification(self._uow(conn), customer_id, shop_id)

    # -- helpers -----------------------------------------------------------------
    def _now(self) -> int:
        return self.clock.now_ms()

    def _event(
        self,
        conn: sqlite3.Connection,
        type_: str,
        entity: str | None,
        key: str | None,
        shop_id: int | None,
        payload: dict | None = None,
    ) -> int:
        written = append_events(conn, EventRow(self._now(), shop_id, type_, entity, key, payload))
        if written.moves_access:
            self._move_access_epoch()
        return written.last_id

    def _db_lookup(self, store: RecordStore):
        def lookup(kind: str, key: str) -> dict | None:
            rec = store.read(kind, key)
            return None if rec is None else _lookup_info(kind, rec)

        return lookup

    def _after_write(self, conn: sqlite3.Connection, store: RecordStore, kind: str,
                     rec: dict) -> None:
        """Derived state that follows a write: open chats' classification after orders;
        a reply code unique in its shop whatever the case (a customer types VIP88 or vip88)."""
        if kind == "campaigns" and rec.get("trigger") == "reply_code" and rec.get("code"):
            other = conn.execute(
                "SELECT c.key FROM campaigns c JOIN shops s ON s.id = c.shop_id WHERE "
                "s.key = ? AND c.trigger = 'reply_code' AND lower(c.code) = lower(?) "
                "AND c.key != ?", (rec["shop"], rec["code"], rec["key"])).fetchone()
            if other:
                raise Conflict(f"campaign {other[0]!r} of shop {rec['shop']!r} has reply code "
                               f"{rec['code']!r} already (codes ignore case)")
        if kind == "orders":
            self.refresh_classification(
                conn, store.id_of("customers", rec["customer"]), store.id_of("shops", rec["shop"])
            )

    def _shop_id_of(self, store: RecordStore, k: Kind, rec: dict) -> int | None:
        if k.name == "shops":
            return store.id_of("shops", rec["key"])
        if k.shop_field and rec.get("shop"):
            return store.id_of("shops", rec["shop"])
        return None

    # -- the store ---------------------------------------------------------------
    def info(self) -> dict:
        """Where the file is, its schema version, size and row counts."""
        db = self.database
        return {
            "backend": "local",
            "path": str(db.path.resolve()),
            "schema_version": db.schema_version(),
            "latest_schema_version": LATEST,
            "size_bytes": db.size_bytes(),
            "journal_mode": db.conn.execute("PRAGMA journal_mode").fetchone()[0],
            "migrations": [
                {**m, "applied_at": format_time(m["applied_at"])} for m in db.migrations()
            ],
            "tables": db.table_counts(),
        }

    def upgrade(self) -> list[int]:
        """Apply pending migrations (opening the file already does; this reports)."""
        return self.database.upgrade(self._now())

    def backup(self, target: str) -> dict:
        """Online backup to ``target``."""
        path = self.database.backup(target)
        return {"path": str(path.resolve()), "size_bytes": path.stat().st_size}

    # -- resources ---------------------------------------------------------------
    def create(self, kind: str, record: dict) -> dict:
        """Create one record; Conflict if the key exists."""
        k = _kind(kind)
        rec = to_internal(k, record)
        key = rec[k.key]
        with self.database.write() as conn:
            store = RecordStore(conn)
            if store.id_of(k.name, key) is not None:
                raise Conflict(f"{k.singular} {key!r} exists already", key="exists_already",
                               kind=k.singular, record=key)
            check_refs(k, rec, self._db_lookup(store))
            store.write(k.name, rec, self._now())
            self._after_write(conn, store, k.name, rec)
            self._event(
                conn, f"{k.singular}.created", k.singular, key, self._shop_id_of(store, k, rec)
            )
            return to_external(k, strip_ids(store.read(k.name, key)))

    def get(self, kind: str, key: str) -> dict:
        """One record by key."""
        k = _kind(kind)
        with self.database.read() as conn:
            rec = RecordStore(conn).read(k.name, key)
        if rec is None:
            raise NotFound(f"no {k.singular} {key!r}", key="no_record", kind=k.singular,
                           record=key)
        return to_external(k, strip_ids(rec))

    def list(
        self,
        kind: str,
        *,
        shop: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[dict]:
        """Records ordered by key, optionally of one shop and after a key cursor."""
        k = _kind(kind)
        with self.database.read() as conn:
            store = RecordStore(conn)
            where, params = self._filter(store, k, shop)
            if after is not None:
                where.append(f"t.{k.key} > ?")
                params.append(after)
            clause = ("WHERE " + " AND ".join(where)) if where else ""
            rows = store.read_where(
                k.name, clause, tuple(params), order=ORDER_BY.get(k.name), limit=limit
            )
        return [to_external(k, strip_ids(r)) for r in rows]

    def _filter(self, store: RecordStore, k: Kind, shop: str | None) -> tuple[list, list]:
        if shop is None:
            return [], []
        sid = store.id_of("shops", shop)
        if sid is None:
            raise NotFound(f"no shop {shop!r}", key="no_shop", shop=shop)
        if k.name == "shops":
            return ["t.id = ?"], [sid]
        if k.name == "agents":
            return ["t.id IN (SELECT agent_id FROM agent_shops WHERE shop_id = ?)"], [sid]
        if k.name == "customers":
            return ["t.id IN (SELECT customer_id FROM customer_profiles WHERE shop_id = ?)"], [sid]
        return ["t.shop_id = ?"], [sid]

    def update(self, kind: str, key: str, changes: dict) -> dict:
        """Change fields of a record; a field set to None is cleared."""
        k = _kind(kind)
        if k.key in changes and changes[k.key] != key:
            raise UsageError(f"the {k.key} of a {k.singular} cannot change", key="key_fixed",
                             field=k.key, kind=k.singular)
        with self.database.write() as conn:
            store = RecordStore(conn)
            current = store.read(k.name, key)
            if current is None:
                raise NotFound(f"no {k.singular} {key!r}", key="no_record", kind=k.singular,
                           record=key)
            merged = to_external(k, strip_ids(current))
            for name, value in changes.items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            rec = to_internal(k, merged)
            check_refs(k, rec, self._db_lookup(store))
            changed = _changed_fields(k, strip_ids(current), rec)
            _check_trigger_kept(conn, k, current, changed)
            if changed:
                now = self._now()
                store.write(k.name, rec, now)
                self._after_write(conn, store, k.name, rec)
                self._event(
                    conn,
                    f"{k.singular}.updated",
                    k.singular,
                    key,
                    self._shop_id_of(store, k, rec),
                    {"fields": changed},
                )
                if k.name == "agents" and "status" in changed:
                    self.ctx.desk.status_changed(self._uow(conn), current["_id"], key,
                                                 current.get("status"),
                                                 rec.get("status") or "offline")
                if k.name == "agents" and "shops" in changed:
                    self.ctx.desk.left_shops(self._uow(conn), current["_id"], key,
                                             set(current.get("shops") or [])
                                             - set(rec["shops"]))
            return to_external(k, strip_ids(store.read(k.name, key)))

    def delete(self, kind: str, key: str) -> None:
        """Delete a record; Conflict while others depend on it."""
        k = _kind(kind)
        with self.database.write() as conn:
            store = RecordStore(conn)
            rec = store.read(k.name, key)
            if rec is None:
                raise NotFound(f"no {k.singular} {key!r}", key="no_record", kind=k.singular,
                           record=key)
            shop_id = self._shop_id_of(store, k, rec)
            blockers = _dependents(conn, k, rec["_id"])
            if blockers and k.name == "campaigns":
                raise Conflict(f"campaign {key!r} has {', '.join(blockers)}: its stats "
                               "need them; pause it instead (cstool campaign pause)")
            if blockers:
                raise Conflict(
                    f"{k.singular} {key!r} is still used by {', '.join(blockers)}; "
                    "remove those first", key="still_used", kind=k.singular, record=key,
                    users=", ".join(blockers))
            try:
                store.delete(k.name, key)
            except sqlite3.IntegrityError:
                raise Conflict(
                    f"{k.singular} {key!r} is still referenced by other records",
                    key="still_referenced", kind=k.singular, record=key) from None
            self._event(
                conn,
                f"{k.singular}.deleted",
                k.singular,
                key,
                None if k.name == "shops" else shop_id,
            )

    def move_rule(self, key: str, position: int) -> dict:
        """Move a routing rule within its shop's order; positions become 1..n."""
        if position < 1:
            raise UsageError("positions start at 1")
        k = KINDS["routing_rules"]
        with self.database.write() as conn:
            row = conn.execute("SELECT id, shop_id FROM routing_rules WHERE key = ?",
                               (key,)).fetchone()
            if row is None:
                raise NotFound(f"no routing rule {key!r}", key="no_record",
                               kind="routing_rule", record=key)
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM routing_rules WHERE shop_id = ? ORDER BY position, key",
                (row[1],))]
            ids.remove(row[0])
            ids.insert(min(position, len(ids) + 1) - 1, row[0])
            now = self._now()
            for i, rid in enumerate(ids, start=1):
                conn.execute("UPDATE routing_rules SET position = ?, updated_at = ? WHERE id = ?",
                             (i, now, rid))
            self._event(conn, "routing_rule.moved", "routing_rule", key, row[1],
                        {"position": ids.index(row[0]) + 1})
            return to_external(k, strip_ids(RecordStore(conn).read("routing_rules", key)))

    def customer_stats(self, key: str) -> list[dict]:
        """Per shop: orders, paid spend, average order value, last order."""
        with self.database.read() as conn:
            cid = RecordStore(conn).id_of("customers", key)
            if cid is None:
                raise NotFound(f"no customer {key!r}", key="no_customer", customer=key)
            rows = conn.execute(
                "SELECT s.key, COUNT(*), "
                "SUM(CASE WHEN o.status NOT IN ('created','cancelled','refunded') "
                "THEN o.total ELSE 0 END), "
                "SUM(CASE WHEN o.status NOT IN ('created','cancelled','refunded') "
                "THEN 1 ELSE 0 END), MAX(o.created_at) "
                "FROM orders o JOIN shops s ON s.id = o.shop_id WHERE o.customer_id = ? "
                "GROUP BY s.key ORDER BY s.key",
                (cid,),
            ).fetchall()
        return [
            {
                "shop": shop,
                "orders": n,
                "paid_orders": paid_n,
                "spend": format_money(spend or 0),
                "average_order_value": format_money((spend or 0) // paid_n) if paid_n else 0,
                "last_order_at": format_time(last),
            }
            for shop, n, spend, paid_n, last in rows
        ]

    # -- declarative ---------------------------------------------------------------
    def apply(self, document: dict[str, list[dict]], *, dry_run: bool = False) -> ApplyResult:
        """Create or update every record of ``document``, all or nothing."""
        unknown = [name for name in document if name not in KINDS]
        if unknown:
            raise FieldError(unknown[0], f"unknown kind (known: {', '.join(KINDS)})")
        # 1. every record on its own, and duplicate keys inside the document
        parsed: dict[str, list[tuple[int, dict, Any]]] = {}
        index: dict[tuple[str, str], dict] = {}
        for name, k in KINDS.items():
            records = document.get(name)
            if records is None or records == {}:  # none given (YAML's empty mapping too)
                records = []
            if not isinstance(records, list):
                raise FieldError(name, "expected a list of records")
            seen: dict[str, int] = {}
            for i, raw in enumerate(records):
                rec = to_internal(k, raw, f"{name}[{i}]")
                key = rec[k.key]
                if key in seen:
                    raise FieldError(
                        f"{name}[{i}].{k.key}",
                        f"duplicate key {key!r} (also {name}[{seen[key]}])",
                        getattr(raw, "lines", {}).get(k.key) or getattr(raw, "line", None),
                    )
                seen[key] = i
                index[(name, key)] = rec
                parsed.setdefault(name, []).append((i, rec, raw))
        with self.database.write() as conn:
            store = RecordStore(conn)
            db_lookup = self._db_lookup(store)

            def lookup(kind: str, key: str) -> dict | None:
                rec = index.get((kind, key))
                return _lookup_info(kind, rec) if rec is not None else db_lookup(kind, key)

            # 2. references, against the document and the file
            for name, items in parsed.items():
                for i, rec, raw in items:
                    check_refs(KINDS[name], rec, lookup, raw, f"{name}[{i}]")
            # 3. the plan, and the writes
            changes: list[Change] = []
            statuses: list[tuple[str, str | None, str]] = []  # agents whose status moves
            left: list[tuple[int, str, set[str]]] = []  # agents who leave shops
            spoken = {rec["key"] for _, rec, _ in parsed.get("shops", [])}
            now = self._now()
            for name, items in parsed.items():
                k = KINDS[name]
                for _, rec, _raw in items:
                    key = rec[k.key]
                    current = store.read(name, key)
                    if current is None:
                        changes.append(Change(name, key, "create"))
                    else:
                        if name in ("routing_rules", "sla_policies") and \
                                rec.get("position") is None:
                            # "default: last" is for new rules: one applied again stays put
                            rec["position"] = current.get("position")
                        if name in ("customers", "agents"):
                            _keep_other_shops(name, rec, current, spoken, store)
                        fields = _changed_fields(k, strip_ids(current), rec)
                        _check_trigger_kept(conn, k, current, fields)
                        if not fields:
                            changes.append(Change(name, key, "unchanged"))
                            continue
                        changes.append(Change(name, key, "update", fields))
                        if name == "agents" and "status" in fields:
                            statuses.append((key, current.get("status"),
                                             rec.get("status") or "offline"))
                        if name == "agents" and "shops" in fields:
                            left.append((current["_id"], key, set(current.get("shops") or [])
                                         - set(rec["shops"])))
                    if not dry_run:
                        store.write(name, rec, now)
                        self._after_write(conn, store, name, rec)
                        action = changes[-1].action
                        self._event(
                            conn,
                            f"{k.singular}.{'created' if action == 'create' else 'updated'}",
                            k.singular,
                            key,
                            self._shop_id_of(store, k, rec),
                            {"fields": changes[-1].fields, "via": "apply"},
                        )
            if not dry_run:  # once everything is written: hand-backs and the queue
                for agent_id, handle, shops in left:
                    self.ctx.desk.left_shops(self._uow(conn), agent_id, handle, shops)
                for handle, old, status in statuses:
                    self.ctx.desk.status_changed(self._uow(conn), store.id_of("agents", handle),
                                                 handle, old, status)
            return ApplyResult(changes, dry_run)

    def export(self, *, shop: str | None = None) -> dict[str, list[dict]]:
        """Every record, or one shop's, as ``apply`` accepts them."""
        out: dict[str, list[dict]] = {}
        with self.database.read() as conn:
            store = RecordStore(conn)
            for name, k in KINDS.items():
                where, params = self._filter(store, k, shop)
                clause = ("WHERE " + " AND ".join(where)) if where else ""
                rows = [
                    strip_ids(r)
                    for r in store.read_where(name, clause, tuple(params), order=ORDER_BY.get(name))
                ]
                if shop is not None:
                    rows = [_scope_to_shop(name, r, shop, store) for r in rows]
                if rows:
                    out[name] = [to_external(k, r) for r in rows]
        return out

    def bulk_load(self, kind: str, records: Iterable[dict[str, Any]]) -> int:
        """Load trusted internal-form records in one transaction (see ``bulk``)."""
        k = _kind(kind)
        with self.database.write() as conn:
            count = bulk.load(conn, k.name, records, self._now())
            self._event(conn, "bulk.loaded", k.singular, None, None, {"count": count})
        return count

    # -- events ------------------------------------------------------------------
    def events(self, *, after: int = 0, limit: int = 100, shop: str | None = None) -> list[dict]:
        """Events after id ``after``, oldest first."""
        with self.database.read() as conn:
            params: list[Any] = [after]
            where = "e.id > ?"
            if shop is not None:
                sid = RecordStore(conn).id_of("shops", shop)
                if sid is None:
                    raise NotFound(f"no shop {shop!r}", key="no_shop", shop=shop)
                where += " AND e.shop_id = ?"
                params.append(sid)
            rows = conn.execute(
                "SELECT e.id, e.at, s.key, e.type, e.entity, e.entity_key, e.payload "
                f"FROM events e LEFT JOIN shops s ON s.id = e.shop_id WHERE {where} "
                "ORDER BY e.id LIMIT ?",
                (*params, int(limit)),
            ).fetchall()
        return [
            {
                "id": r[0],
                "at": format_time(r[1]),
                "shop": r[2],
                "type": r[3],
                "entity": r[4],
                "key": r[5],
                "payload": json.loads(r[6]) if r[6] else None,
            }
            for r in rows
        ]

    def close(self) -> None:
        """Close the file."""
        self.database.close()


def _check_trigger_kept(conn: sqlite3.Connection, k: Kind, current: dict,
                        changed: list[str]) -> None:
    """A campaign with decisions keeps its trigger: its stats and conversions are the
    trigger's."""
    if k.name == "campaigns" and "trigger" in changed and conn.execute(
            "SELECT 1 FROM campaign_sends WHERE campaign_id = ? LIMIT 1",
            (current["_id"],)).fetchone():
        raise Conflict(f"campaign {current['key']!r} has decisions under trigger "
                       f"{current['trigger']!r}; make a new campaign for another trigger")


def _changed_fields(k: Kind, current: dict, new: dict) -> list[str]:
    return [f.name for f in k.fields if current.get(f.name) != new.get(f.name)]


def merge_shop_parts(old: list, new: list, key, shop_of, mine: set) -> list:
    """The parts of a record (profiles, coupons, shops, groups) after a change that speaks
    for the shops ``mine``: ``new`` for those shops, the other shops' parts as ``old`` has
    them; stored order kept, parts new to the record last."""
    wanted = {key(x): x for x in new}
    out = []
    for x in old:
        if shop_of(x) not in mine:
            out.append(x)
        elif key(x) in wanted:
            out.append(wanted.pop(key(x)))
    return out + list(wanted.values())


def _keep_other_shops(name: str, rec: dict, current: dict, spoken: set[str],
                      store: RecordStore) -> None:
    """``apply`` of a customer or agent speaks for the shops the document lists and the
    shops the record names; what they have in other shops stays (so one shop's export,
    applied to the platform's file, changes nothing of the others). Order as stored."""

    def merge(old: list, new: list, key, shop_of) -> list:
        return merge_shop_parts(old, new, key, shop_of, mine)

    shops_of: dict[tuple[str, str], str | None] = {}

    def shop_of_record(kind: str, k: str) -> str | None:
        if (kind, k) not in shops_of:
            r = store.read(kind, k)
            shops_of[(kind, k)] = r.get("shop") if r else None
        return shops_of[(kind, k)]

    if name == "customers":
        mine = spoken | {p["shop"] for p in rec["profiles"]}
        before = {p["shop"]: p for p in current.get("profiles", [])}
        for p in rec["profiles"]:  # an opt-out stays when the file leaves it out
            if p.get("opted_out_at") is None and before.get(p["shop"], {}).get("opted_out_at"):
                p["opted_out_at"] = before[p["shop"]]["opted_out_at"]
        rec["profiles"] = merge(current.get("profiles", []), rec["profiles"],
                                lambda p: p["shop"], lambda p: p["shop"])
        rec["coupons"] = merge(current.get("coupons", []), rec["coupons"],
                               lambda c: c["coupon"],
                               lambda c: shop_of_record("coupons", c["coupon"]))
    else:
        mine = spoken | set(rec["shops"])
        rec["shops"] = merge(current.get("shops", []), rec["shops"], lambda x: x, lambda x: x)
        rec["groups"] = merge(current.get("groups", []), rec["groups"], lambda g: g,
                              lambda g: shop_of_record("groups", g))


def _scope_to_shop(name: str, rec: dict, shop: str, store: RecordStore) -> dict:
    """Trim a multi-shop record to one shop, for ``export --shop``."""
    if name == "agents":
        shop_groups = {
            g["key"]
            for g in store.read_where(
                "groups", "WHERE t.shop_id = ?", (store.id_of("shops", shop),)
            )
        }
        return {**rec, "shops": [shop], "groups": [g for g in rec["groups"] if g in shop_groups]}
    if name == "customers":
        coupons = [c for c in rec["coupons"] if store.read("coupons", c["coupon"])["shop"] == shop]
        profiles = []
        for p in rec["profiles"]:
            if p["shop"] == shop:
                profiles.append(p)
        return {**rec, "profiles": profiles, "coupons": coupons}
    return rec


_DEPENDENTS: dict[str, list[tuple[str, str, str, str]]] = {
    # kind: [(table, column, what people call one of them, and several)]
    "shops": [
        ("groups", "shop_id", "group", "groups"),
        ("products", "shop_id", "product", "products"),
        ("coupons", "shop_id", "coupon", "coupons"),
        ("promotions", "shop_id", "promotion", "promotions"),
        ("orders", "shop_id", "order", "orders"),
        ("agent_shops", "shop_id", "agent", "agents"),
        ("customer_profiles", "shop_id", "customer profile", "customer profiles"),
        ("conversations", "shop_id", "conversation", "conversations"),
        ("routing_rules", "shop_id", "routing rule", "routing rules"),
        ("sla_policies", "shop_id", "SLA policy", "SLA policies"),
        ("knowledge_entries", "shop_id", "knowledge entry", "knowledge entries"),
        ("quick_replies", "shop_id", "quick reply", "quick replies"),
        ("campaigns", "shop_id", "campaign", "campaigns"),
        ("cart_items", "shop_id", "cart item", "cart items"),
        ("tickets", "shop_id", "ticket", "tickets"),
    ],
    "groups": [
        ("group_members", "group_id", "agent", "agents"),
        ("conversations", "group_id", "conversation", "conversations"),
    ],
    "agents": [
        ("conversations", "assignee_id", "conversation", "conversations"),
        ("customer_profiles", "dedicated_agent_id", "customer (dedicated agent)",
         "customers (dedicated agent)"),
        ("customer_profiles", "last_agent_id", "customer (last agent)", "customers (last agent)"),
        ("messages", "agent_id", "message", "messages"),
        ("tickets", "assignee_id", "ticket", "tickets"),
        ("sla_policies", "escalate_to_id", "SLA policy (escalation)", "SLA policies (escalation)"),
        ("quick_replies", "agent_id", "quick reply", "quick replies"),
    ],
    "customers": [
        ("orders", "customer_id", "order", "orders"),
        ("conversations", "customer_id", "conversation", "conversations"),
        ("cart_items", "customer_id", "cart item", "cart items"),
    ],
    "products": [
        ("order_items", "product_id", "order item", "order items"),
        ("cart_items", "product_id", "cart item", "cart items"),
        ("campaigns", "product_id", "campaign", "campaigns"),
    ],
    "coupons": [
        ("customer_coupons", "coupon_id", "customer holding it", "customers holding it"),
        ("campaigns", "coupon_id", "campaign", "campaigns"),
    ],
    "campaigns": [("campaign_sends", "campaign_id", "decision on record", "decisions on record")],
    "orders": [("tickets", "order_id", "ticket", "tickets")],
}


def _dependents(conn: sqlite3.Connection, k: Kind, rid: int) -> list[str]:
    out = []
    for table, column, one, several in _DEPENDENTS.get(k.name, []):
        n = conn.execute(f"SELECT COUNT(*) FROM {q(table)} WHERE {column} = ?", (rid,)).fetchone()[
            0
        ]
        if n:
            out.append(f"{n} {one if n == 1 else several}")
    return out
