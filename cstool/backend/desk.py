"""Conversations over the SQLite file: customers post, the bot step or the routing
engine decides, agents accept, reply, transfer and close, customers rate.

Every operation is one ``BEGIN IMMEDIATE`` transaction, so assignment is atomic
across processes: two agents pressing "accept next" at once never get the same
chat, and no agent ever goes above capacity. Queued chats are handed out the moment
an agent frees up or comes online.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from .. import service
from ..bot_step import BotReply, BotStep
from ..errors import Conflict, InvalidInput, NotFound, UsageError
from ..message_payloads import check_payload, stored_payload
from ..resources import CHANNELS
from ..routing import (
    AgentState,
    Decision,
    RoundRobinState,
    RoutingState,
    RuleSet,
    agent_in_pool,
    estimate_wait_s,
    explain,
    route,
    target_key,
)
from ..routing.fields import INTENTS
from ..services import messages
from ..shop_hours import off_hours_reply
from ..storage.repos import queue as queue_index
from ..text_rules import check_text
from ..values import format_money, format_time

OPEN_STATES = ("bot", "queued", "active")
DEFAULT_HANDLE_S = 300  # average handle time for wait estimates until history says more
MESSAGE_KINDS = ("text", "image", "product", "coupon", "invitation", "order", "survey")
DAY_MS = 86_400_000
REOPEN_WINDOW_MS = 10 * 60_000  # a closed chat can be reopened by its agent this long
DETAIL_AGENTS = 40
# The posting customer and their profile in the shop, with what routing reads of it
# (the columns of ``_PROFILE_FACTS`` from p.level on), in one look-up.
_CUSTOMER_FOR_POST = (
    "SELECT c.id, p.customer_id, p.level, p.tags, p.region, p.channel, da.handle, la.handle, "
    "p.last_served_at, c.name FROM customers c LEFT JOIN customer_profiles p "
    "ON p.customer_id = c.id AND p.shop_id = ? "
    "LEFT JOIN agents da ON da.id = p.dedicated_agent_id "
    "LEFT JOIN agents la ON la.id = p.last_agent_id WHERE c.key = ?"
)
_PROFILE_FACTS = (
    "SELECT p.level, p.tags, p.region, p.channel, da.handle, la.handle, "
    "p.last_served_at FROM customer_profiles p "
    "LEFT JOIN agents da ON da.id = p.dedicated_agent_id "
    "LEFT JOIN agents la ON la.id = p.last_agent_id "
    "WHERE p.customer_id = ? AND p.shop_id = ?"
)
NO_PROFILE = (0, "[]", None, None, None, None, None)
# The conversation columns a post does not set, as a new row has them.
EMPTY_CONVERSATION = {"rule_key": None, "pool": None, "priority": 0, "assigned_at": None,
                      "first_agent_reply_at": None, "closed_at": None, "close_reason": None,
                      "rating": None}
_json = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False)


def _check_text(text: str, *, what: str = "message") -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{what} is empty", key="text_empty", what=what)
    check_text(text, what, multiline=True)  # no control characters but newline and tab
    if len(text) > service.MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"{what} too long ({len(text)} characters, at most {service.MAX_MESSAGE_CHARS})",
            key="text_too_long", what=what, length=len(text), max=service.MAX_MESSAGE_CHARS)
    return text


def _check_context(channel: str | None, time_on_site_s: Any, pages_viewed: Any,
                   intent: str | None) -> None:
    """The chat's context as a post or a routing dry run gives it."""
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})",
                           key="unknown_channel", channel=channel, known=", ".join(CHANNELS))
    for name, value in (("time on site", time_on_site_s), ("pages viewed", pages_viewed)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise InvalidInput(f"{name} must be a whole number >= 0, not {value!r}")
    if intent is not None and intent not in INTENTS:
        raise InvalidInput(f"unknown intent {intent!r} (one of {', '.join(INTENTS)})",
                           key="unknown_intent", intent=intent, known=", ".join(INTENTS))


class DeskOps:
    """Conversation operations of the Local backend (mixed into LocalBackend)."""

    bot: BotStep
    # Shops this process keeps open whatever their business hours (the demo's demo
    # hours: ``keep_open``); nothing is written to the file.
    kept_open: frozenset[str] = frozenset()

    def keep_open(self, shop: str, keep: bool = True) -> None:
        """Serve ``shop`` as if inside its business hours, in this process only (the demo
        at any hour); ``keep=False`` gives its hours back."""
        self.kept_open = (self.kept_open | {shop}) if keep else (self.kept_open - {shop})

    def _mode_now(self, shop: dict, now: int) -> str:
        """The shop's service mode in force at ``now`` (its own mode while kept open)."""
        if shop["key"] in self.kept_open:
            return shop["service_mode"]
        return service.effective_mode(shop, now)

    # -- lookups ------------------------------------------------------------------------
    def _shop_row(self, conn: sqlite3.Connection, key: str) -> dict:
        row = conn.execute(
            "SELECT id, key, name, service_mode, off_hours_mode, timezone, business_hours, "
            "settings FROM shops WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no shop {key!r}", key="no_shop", shop=key)
        return {
            "id": row[0], "key": row[1], "name": row[2], "service_mode": row[3],
            "off_hours_mode": row[4], "timezone": row[5],
            "business_hours": json.loads(row[6]) if row[6] else None,
            "settings": json.loads(row[7]),
        }

    def _post_shop(self, conn: sqlite3.Connection, key: str) -> dict:
        """``_shop_row`` for posts, cached from post to post. A post changes no shop, so
        the rows read by earlier posts stand while every write transaction since was a
        post (``Database.generation`` moved by one each time) and no other connection
        committed (PRAGMA data_version); anything else empties the cache."""
        db = self.database
        cache = self.__dict__.setdefault("_post_shops", {})
        dv = db.data_version()
        if self.__dict__.get("_post_chain") != (dv, db.generation - 1):
            cache.clear()
        self._post_chain = (dv, db.generation)
        row = cache.get(key)
        if row is None:
            row = cache[key] = self._shop_row(conn, key)
        return dict(row)

    def _shop_by_id(self, conn: sqlite3.Connection, shop_id: int) -> dict:
        key = conn.execute("SELECT key FROM shops WHERE id = ?", (shop_id,)).fetchone()[0]
        return self._shop_row(conn, key)

    def _waiting_since(self, conn: sqlite3.Connection, conv_id: int, now: int) -> int:
        """When the customer of a chat going back to the queue started waiting: at their
        first message after an agent's last one; with no agent message at all, when the
        chat first queued or handed off (a wait runs on through transfers and returns);
        when an agent has answered everything, now."""
        row = conn.execute(
            "SELECT (SELECT MAX(created_at) FROM messages WHERE conversation_id = :c AND "
            "sender = 'agent'), COALESCE(queued_at, handoff_at, created_at) FROM "
            "conversations WHERE id = :c", {"c": conv_id}).fetchone()
        last_agent, first_wait = row
        if last_agent is None:
            return min(first_wait, now)
        unanswered = conn.execute(
            "SELECT MIN(created_at) FROM messages WHERE conversation_id = ? AND "
            "sender = 'customer' AND created_at > ?", (conv_id, last_agent)).fetchone()[0]
        return now if unanswered is None else unanswered

    def _agent_row(self, conn: sqlite3.Connection, handle: str) -> dict:
        row = conn.execute(
            "SELECT id, handle, name, status, max_chats FROM agents WHERE handle = ?", (handle,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no agent {handle!r}", key="no_agent", agent=handle)
        return dict(zip(("id", "handle", "name", "status", "max_chats"), row, strict=True))

    def _conv_row(self, conn: sqlite3.Connection, conv_id: int) -> dict:
        cur = conn.execute("SELECT * FROM conversations WHERE id = ?", (int(conv_id),))
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"no conversation {conv_id}", key="no_conversation",
                           conversation=conv_id)
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def _active_count(self, conn: sqlite3.Connection, agent_id: int) -> int:
        return conn.execute(
            "SELECT COUNT(*) FROM conversations WHERE assignee_id = ? AND state = 'active'",
            (agent_id,),
        ).fetchone()[0]

    # -- routing state from the file ------------------------------------------------------
    def _routing_state(self, conn: sqlite3.Connection, shop_id: int, *,
                       staff: bool = False) -> RoutingState:
        """The shop's agents with their live load, from the file (three set queries:
        agents, open-chat counts, group memberships). Supervisors and admins are left
        out unless ``staff``: routing gives them nothing, they may pull chats."""
        rows = conn.execute(
            "SELECT a.id, a.handle, a.name, a.status, a.max_chats, a.level, a.skills, "
            "a.last_assigned_at, a.idle_since FROM agents a JOIN agent_shops s "
            "ON s.agent_id = a.id WHERE s.shop_id = ? AND (? OR a.role = 'agent') "
            "ORDER BY a.handle",
            (shop_id, staff),
        ).fetchall()
        # An agent's chats in other shops count against their capacity too.
        active = dict(conn.execute(
            "SELECT assignee_id, COUNT(*) FROM conversations WHERE state = 'active' AND "
            "assignee_id IN (SELECT agent_id FROM agent_shops WHERE shop_id = ?) "
            "GROUP BY assignee_id", (shop_id,)).fetchall())
        groups: dict[int, set[str]] = {}
        for agent_id, key in conn.execute(
            'SELECT m.agent_id, g.key FROM group_members m JOIN "groups" g ON g.id = m.group_id '
            "JOIN agent_shops s ON s.agent_id = m.agent_id AND s.shop_id = ?", (shop_id,)):
            groups.setdefault(agent_id, set()).add(key)
        skills_of: dict[str, frozenset] = {}
        agents = []
        for r in rows:
            skills = skills_of.get(r[6])
            if skills is None:
                skills = skills_of[r[6]] = frozenset(json.loads(r[6]))
            agents.append(AgentState(
                handle=r[1], name=r[2], status=r[3], max_chats=r[4], level=r[5], skills=skills,
                last_assigned_ms=r[7] or 0, idle_since_ms=r[8] or 0, active=active.get(r[0], 0),
                groups=frozenset(groups.get(r[0], ())),
            ))
        state = RoutingState(agents)
        state.ids = {r[1]: r[0] for r in rows}  # handle -> row id, for the assignment
        return state

    def _routing_snapshot(self, conn: sqlite3.Connection, shop_id: int
                          ) -> tuple[RoutingState, RuleSet, RoundRobinState]:
        """Agents, rules and round-robin state of a shop, cached between our own posts.

        The cache holds while no other connection has committed (PRAGMA data_version)
        and the only write transactions since were posts that kept it in step
        (``_keep_snapshot``); anything else rebuilds it from the file.
        """
        cache = self.__dict__.setdefault("_snapshots", {})
        dv = self.database.data_version()
        entry = cache.get(shop_id)
        if entry and entry["dv"] == dv and entry["gen"] == self.database.generation - 1:
            entry["gen"] = self.database.generation
            return entry["state"], entry["rules"], entry["rr"]
        state = self._routing_state(conn, shop_id)
        rules = self._ruleset(conn, shop_id)
        rr = self._rr_state(conn, shop_id)
        # the rules as they stand, once per version: stored decisions name them (explain
        # derives the reasons from them again)
        conn.execute("INSERT OR IGNORE INTO routing_rulesets (id, shop_id, rules, created_at) "
                     "VALUES (?, ?, ?, ?)", (rules.stored_id, shop_id, rules.stored_text,
                                              self._now()))
        cache[shop_id] = {"dv": dv, "gen": self.database.generation, "state": state,
                          "rules": rules, "rr": rr}
        return state, rules, rr

    def _keep_snapshot(self, shop_id: int) -> None:
        """A write that changed nothing routing looks at keeps the shop's snapshot valid."""
        entry = self.__dict__.get("_snapshots", {}).get(shop_id)
        if entry and entry["gen"] == self.database.generation - 1:
            entry["gen"] = self.database.generation

    def _ruleset(self, conn: sqlite3.Connection, shop_id: int) -> RuleSet:
        rows = conn.execute(
            "SELECT key, name, conditions, target, strategy, priority, when_unavailable, "
            "enabled FROM routing_rules WHERE shop_id = ? ORDER BY position, key",
            (shop_id,),
        ).fetchall()
        defs = [{"key": r[0], "name": r[1], "conditions": json.loads(r[2]),
                 "target": json.loads(r[3]), "strategy": r[4], "priority": r[5],
                 "when_unavailable": r[6], "enabled": bool(r[7])} for r in rows]
        ruleset = RuleSet(defs)
        ruleset.stored_text = json.dumps(defs, ensure_ascii=False, sort_keys=True,
                                         separators=(",", ":"))
        ruleset.stored_id = hashlib.sha1(ruleset.stored_text.encode()).hexdigest()[:20]
        return ruleset

    def _rr_state(self, conn: sqlite3.Connection, shop_id: int) -> RoundRobinState:
        row = conn.execute(
            "SELECT round_robin FROM shop_routing_state WHERE shop_id = ?", (shop_id,)
        ).fetchone()
        return RoundRobinState.from_dict(json.loads(row[0]) if row else None)

    def _save_rr(self, conn: sqlite3.Connection, shop_id: int, rr: RoundRobinState) -> None:
        conn.execute(
            "INSERT INTO shop_routing_state (shop_id, round_robin) VALUES (?, ?) "
            "ON CONFLICT(shop_id) DO UPDATE SET round_robin = excluded.round_robin",
            (shop_id, json.dumps(rr.to_dict())),
        )

    def _facts(
        self, conn: sqlite3.Connection, shop: dict, customer_id: int, conv: dict, text: str,
        now: int,
    ) -> dict:
        """What routing rules may look at, for one chat."""
        prof = conv.get("_profile")  # read with the customer when the post opened the chat
        if prof is None:
            prof = conn.execute(_PROFILE_FACTS, (customer_id, shop["id"])).fetchone() \
                or NO_PROFILE
        orders = conv.get("_orders")
        if orders is None:
            orders = self._orders_of(conn, customer_id, shop["id"])
        spend = sum(t for s, t in orders if s in ("paid", "shipped", "delivered",
                                                  "refund_requested"))
        category = None
        if conv.get("product_key"):
            row = conn.execute("SELECT category FROM products WHERE key = ?",
                               (conv["product_key"],)).fetchone()
            category = row[0] if row else None
        last_served = prof[6]
        return {
            "customer.level": prof[0],
            "customer.tags": json.loads(prof[1]),
            "customer.region": prof[2],
            "customer.channel": prof[3],
            "customer.dedicated_agent": prof[4],
            "customer.last_agent": prof[5],
            "customer.is_returning": prof[5] is not None or last_served is not None,
            "customer.days_since_last_served": (
                None if last_served is None else (now - last_served) / DAY_MS
            ),
            "customer.spend": format_money(spend),
            "customer.order_count": len(orders),
            "conversation.channel": conv.get("channel"),
            "conversation.entry_page": conv.get("entry_page"),
            "conversation.source": conv.get("source"),
            "conversation.search_keyword": conv.get("search_keyword"),
            "conversation.time_on_site_s": conv.get("time_on_site_s"),
            "conversation.pages_viewed": conv.get("pages_viewed"),
            "conversation.intent": conv.get("intent"),
            "conversation.classification": conv.get("classification"),
            "message.text": text,
            "order.latest_status": orders[0][0] if orders else None,
            "product.category": category,
        }

    def _classification(self, conn: sqlite3.Connection, customer_id: int, shop_id: int) -> str:
        return service.classify([o[0] for o in self._orders_of(conn, customer_id, shop_id)])

    def refresh_classification(self, conn: sqlite3.Connection, customer_id: int,
                               shop_id: int) -> None:
        """Keep open conversations' classification current after an order changes."""
        conn.execute(
            "UPDATE conversations SET classification = ? WHERE customer_id = ? AND shop_id = ? "
            "AND state IN ('bot', 'queued', 'active')",
            (self._classification(conn, customer_id, shop_id), customer_id, shop_id),
        )

    # -- messages ---------------------------------------------------------------------------
    def _add_message(
        self, conn: sqlite3.Connection, conv: dict, sender: str, body: str, *,
        agent_id: int | None = None, agent: str | None = None, kind: str = "text",
        payload: Any = None, client_id: str | None = None, touch: bool = True,
    ) -> dict:
        """``services.messages.add_message`` for code that holds a connection."""
        return messages.add_message(self.ctx.storage.over(conn), conv, sender, body,
                                    agent_id=agent_id, agent=agent, kind=kind,
                                    payload=payload, client_id=client_id, touch=touch)

    def _system(self, conn, conv, body: str, kind: str = "text", payload: Any = None) -> dict:
        return self._add_message(conn, conv, "system", body, kind=kind, payload=payload)

    # -- posting --------------------------------------------------------------------------
    def post_message(
        self,
        shop: str,
        customer: str,
        text: str,
        *,
        channel: str | None = None,
        entry_page: str | None = None,
        source: str | None = None,
        search_keyword: str | None = None,
        time_on_site_s: int | None = None,
        pages_viewed: int | None = None,
        product: str | None = None,
        intent: str | None = None,
        client_id: str | None = None,
        kind: str = "text",
        payload: Any = None,
    ) -> dict:
        """A customer writes to a shop. Opens a conversation if none is open, lets the bot
        step or the routing engine decide, and returns what happened (the conversation,
        the stored message, the replies sent back, the queue position and wait).

        A retried post with the same ``client_id`` is stored once: the retry returns the
        first result with ``duplicate: true``.
        """
        _check_text(text)
        check_payload(kind, payload)  # the shape its kind needs, within the size cap
        for what, value in (("entry page", entry_page), ("source", source),
                            ("search keyword", search_keyword), ("client id", client_id)):
            if isinstance(value, str):
                check_text(value, what)  # stored with the chat, shown to agents
        if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 100):
            raise InvalidInput("client id must be text of at most 100 characters")
        _check_context(channel, time_on_site_s, pages_viewed, intent)
        with self.database.write() as conn:
            shop_row = self._post_shop(conn, shop)
            if product is not None:
                self._check_product(conn, shop_row, product)
            cust_id, usual, profile, new, name = self._customer_for_post(conn, shop_row,
                                                                         customer, channel)
            channel = channel or usual  # the customer's usual client, as the profile says
            # A customer made by this very post has no messages, chats, orders or tickets
            # yet: the look-ups for those are skipped.
            if client_id is not None and not new:
                dup = conn.execute(
                    "SELECT m.id, m.conversation_id FROM messages m JOIN conversations c "
                    "ON c.id = m.conversation_id WHERE m.client_id = ? AND c.customer_id = ? "
                    "AND c.shop_id = ?",
                    (client_id, cust_id, shop_row["id"]),
                ).fetchone()
                if dup is not None:
                    return self._post_result(conn, dup[1], dup[0], [], duplicate=True)
            now = self._now()
            conv = None if new else self._open_conversation(conn, shop_row["id"], cust_id)
            # 退订 / TD and reply codes (CampaignOps): answered by the desk itself; with no
            # chat open they go to the customer's last chat here instead of opening one.
            command = (self.campaign_command(conn, shop_row["id"], text)
                       if hasattr(self, "campaign_command") else None)
            if conv is None and command is not None:
                conv = self._last_conversation(conn, shop_row["id"], cust_id)
            created = conv is None
            if created:
                orders = [] if new else self._orders_of(conn, cust_id, shop_row["id"])
                classification = service.classify([o[0] for o in orders])
                conv = {
                    "shop_id": shop_row["id"], "customer_id": cust_id, "channel": channel,
                    "entry_page": entry_page, "source": source,
                    "search_keyword": search_keyword, "time_on_site_s": time_on_site_s,
                    "pages_viewed": pages_viewed,
                    "intent": intent or service.intent_of(classification, text),
                    "classification": classification, "product_key": product, "state": "new",
                    "created_at": now, "last_message_at": now, "last_customer_at": now,
                    "assignee_id": None, "group_id": None, "route_trace": None,
                    "queued_at": None, "handoff_at": None, "_orders": orders,
                    "_profile": profile,
                }
                row = (conv if command is not None
                       else self._route_ahead(conn, shop_row, conv, cust_id, text, now))
                cols = [k for k in row if not k.startswith("_")]
                cur = conn.execute(
                    f"INSERT INTO conversations ({', '.join(cols)}) "
                    f"VALUES ({', '.join('?' for _ in cols)})", [row[k] for k in cols])
                conv["id"] = cur.lastrowid
                self._event(conn, "conversation.created", "conversation", str(conv["id"]),
                            shop_row["id"], {"customer": customer})
            msg = self._add_message(conn, conv, "customer", text, kind=kind, payload=payload,
                                    client_id=client_id,
                                    touch=not created and conv["state"] != "closed")
            if not new and hasattr(self, "reopen_on_customer_reply"):  # tickets (TicketOps)
                self.reopen_on_customer_reply(conn, cust_id, shop_row["id"])
            replies: list[dict] = []
            if command is not None:
                replies = self.answer_campaign_command(conn, shop_row, conv, cust_id, command)
                if created:  # 退订 / a reply code answered: no chat for an agent's queue
                    conn.execute(
                        "UPDATE conversations SET state = 'closed', closed_at = ?, "
                        "close_reason = 'campaign_command' WHERE id = ?", (now, conv["id"]))
            elif conv["state"] in ("new", "bot"):
                replies += self._bot_or_route(conn, shop_row, conv, cust_id, text, now)
            if not created or conv["state"] == "bot":
                self._keep_snapshot(shop_row["id"])
            # A message into a chat already with an agent or in the queue changes nothing
            # of the chat but its message times: the row read above stands for the rest.
            # A chat this post opened and routed ahead is stored as ``row`` and not
            # changed since: nothing needs reading back.
            known = names = None
            if created and row is not conv:
                known = {**EMPTY_CONVERSATION, **row, "id": conv["id"]}
                names = (shop_row["key"], customer, name, conv["_routed_to"], None)
            elif not created and command is None and conv["state"] in ("active", "queued"):
                known = conv
            return self._post_result(conn, conv["id"], msg["id"], replies, duplicate=False,
                                     message=msg, known=known, names=names)

    def _customer_for_post(self, conn, shop_row: dict, key: str,
                           channel: str | None) -> tuple[int, str | None, tuple, bool, str]:
        """The customer's id (a new key makes a customer), their usual channel here, their
        profile here as routing reads it (``_PROFILE_FACTS``), whether the customer is new
        and their name; a first message to a shop makes the customer's profile there."""
        row = conn.execute(_CUSTOMER_FOR_POST, (shop_row["id"], key)).fetchone()
        new = row is None
        if new:
            from ..values import SLUG_RE

            if not SLUG_RE.match(key):
                raise InvalidInput(f"{key!r} is not a valid customer key")
            now = self._now()
            cid = conn.execute(
                "INSERT INTO customers (key, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (key, key, now, now),
            ).lastrowid
            self._event(conn, "customer.created", "customer", key, shop_row["id"],
                        {"via": "message"})
            row = (cid, None, None, None, None, None, None, None, None, key)
        if row[1] is None:
            conn.execute(
                "INSERT INTO customer_profiles (customer_id, shop_id, position, channel) VALUES "
                "(?, ?, (SELECT COUNT(*) FROM customer_profiles WHERE customer_id = ?), ?)",
                (row[0], shop_row["id"], row[0], channel),
            )
            # the profile just made, with the table's defaults (no need to read it back)
            return row[0], channel, (0, "[]", None, channel, None, None, None), new, row[9]
        return row[0], row[5], row[2:9], new, row[9]

    def _open_conversation(self, conn, shop_id: int, customer_id: int) -> dict | None:
        # MAX(id) over the covering index, then the row: no sort of whole rows.
        cur = conn.execute(
            "SELECT * FROM conversations WHERE id = (SELECT MAX(id) FROM conversations "
            "WHERE customer_id = ? AND shop_id = ? AND state IN ('new', 'bot', 'queued', "
            "'active'))",
            (customer_id, shop_id),
        )
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row,
                                                 strict=True))

    def _last_conversation(self, conn, shop_id: int, customer_id: int) -> dict | None:
        cur = conn.execute(
            "SELECT * FROM conversations WHERE customer_id = ? AND shop_id = ? "
            "ORDER BY id DESC LIMIT 1", (customer_id, shop_id))
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row,
                                                 strict=True))

    def _orders_of(self, conn, customer_id: int, shop_id: int) -> list[tuple[str, int]]:
        """(status, total) of the customer's orders in the shop, newest first."""
        return conn.execute(
            "SELECT status, total FROM orders WHERE customer_id = ? AND shop_id = ? "
            "ORDER BY created_at DESC", (customer_id, shop_id)).fetchall()

    def _bot_or_route(self, conn, shop: dict, conv: dict, cust_id: int, text: str,
                      now: int) -> list[dict]:
        mode = self._mode_now(shop, now)
        if mode in ("human_first", "human_only") or "_routed" in conv:
            return self._to_human(conn, shop, conv, cust_id, text, now)
        if mode == "bot_first" and service.asks_for_human(text):
            if conv["state"] == "bot":  # the bot notes what it could not help with
                self._bot_turn(conn, shop, conv, cust_id, text)
            return self._to_human(conn, shop, conv, cust_id, text, now)
        reply = self._bot_turn(conn, shop, conv, cust_id, text)
        if mode == "bot_only":
            conn.execute("UPDATE conversations SET state = 'bot' WHERE id = ?", (conv["id"],))
            if reply.action == "handoff":
                return [self._system(conn, conv, off_hours_reply(shop, now))]
            return [self._bot_message(conn, conv, reply)]
        if reply.action == "handoff":  # bot_first
            return self._to_human(conn, shop, conv, cust_id, text, now)
        conn.execute("UPDATE conversations SET state = 'bot' WHERE id = ?", (conv["id"],))
        return [self._bot_message(conn, conv, reply)]

    def _bot_turn(self, conn, shop: dict, conv: dict, cust_id: int, text: str) -> BotReply:
        """Ask the bot step (the knowledge ops keep its memory and what it could not
        answer; a bare DeskOps just asks)."""
        return self.bot.reply(shop["key"], text, {"conversation": conv["id"]})

    def _bot_message(self, conn, conv: dict, reply: BotReply) -> dict:
        kind = reply.kind if reply.kind in MESSAGE_KINDS else "text"
        return self._add_message(
            conn, conv, "bot", reply.text or reply.answer or "", kind=kind,
            payload={**reply.payload, "action": reply.action, "entry": reply.entry,
                     "confidence": round(float(reply.confidence), 4),
                     "choices": reply.choices, "reason": reply.reason},
        )

    def _route_ahead(self, conn, shop: dict, conv: dict, cust_id: int, text: str,
                     now: int) -> dict:
        """The row to store for a chat a post opens (``conv``, the chat as it opens).

        A chat that goes straight to a human (the shop's mode says so, or the customer
        asks for one in bot-first) is routed before it is stored: it is inserted assigned
        or queued, every index of the chat written once rather than inserted and then
        moved by an update. ``_to_human`` finishes the routing (the assignment notice or
        the queue position) after the customer's message, as for any other chat.
        """
        mode = self._mode_now(shop, now)
        if mode not in ("human_first", "human_only") and not (
                mode == "bot_first" and service.asks_for_human(text)):
            return conv
        decision, state, trace = self._decide(conn, shop, conv, cust_id, text, now)
        conv["_routed"] = (decision, state)
        conv["_routed_to"] = decision.agent
        row = {**conv, "pool": _json(decision.pool), "rule_key": decision.rule,
               "priority": decision.priority, "route_trace": trace, "handoff_at": now}
        if decision.agent:
            agent_id = state.ids.get(decision.agent) or conn.execute(
                "SELECT id FROM agents WHERE handle = ?", (decision.agent,)).fetchone()[0]
            row.update(state="active", assignee_id=agent_id, assigned_at=now,
                       agent_seen_at=None)
        else:
            row.update(state="queued", queued_at=now, assignee_id=None)
        return row

    def _decide(self, conn, shop: dict, conv: dict, cust_id: int, text: str,
                now: int) -> tuple[Decision, RoutingState, str]:
        """Where a chat goes (the routing state kept in step with it) and the trace."""
        facts = self._facts(conn, shop, cust_id, conv, text, now)
        state, ruleset, rr = self._routing_snapshot(conn, shop["id"])
        # Every agent's reason in the trace for desks up to DETAIL_AGENTS; bigger ones
        # name the chosen agent and count the rest (route test always gives detail).
        decision = route(ruleset, facts, state, now, rr, detail=len(state) <= DETAIL_AGENTS,
                         utc_offset_minutes=service.utc_offset_minutes(now, shop["timezone"]))
        if decision.agent and decision.strategy == "round_robin":
            self._save_rr(conn, shop["id"], rr)
        trace = _json(decision.to_stored(ruleset.stored_id))
        if decision.agent:
            # The snapshot is exact under the write lock (data_version and our own
            # generation checked), so its capacity check stands: one write assigns.
            state.assign(decision.agent, now)  # keep the cached snapshot in step
        return decision, state, trace

    def _to_human(self, conn, shop: dict, conv: dict, cust_id: int, text: str,
                  now: int) -> list[dict]:
        """Route a chat to a human: assign now, or queue and tell the customer."""
        routed = conv.pop("_routed", None)
        if routed is not None:  # routed and stored so by _route_ahead
            decision, state = routed
        else:
            if conv["state"] != "new":  # routing reads what the customer said so far
                text = self._customer_words(conn, conv["id"]) or text
            decision, state, trace = self._decide(conn, shop, conv, cust_id, text, now)
            if decision.agent:
                conn.execute(
                    "UPDATE conversations SET pool = ?, rule_key = ?, priority = ?, "
                    "route_trace = ?, handoff_at = COALESCE(handoff_at, ?), state = 'active', "
                    "assignee_id = (SELECT id FROM agents WHERE handle = ?), assigned_at = ?, "
                    "agent_seen_at = NULL WHERE id = ?",
                    (_json(decision.pool), decision.rule, decision.priority,
                     trace, now, decision.agent, now, conv["id"]),
                )
            else:
                conn.execute(
                    "UPDATE conversations SET state = 'queued', queued_at = COALESCE(queued_at, "
                    "?), pool = ?, rule_key = ?, priority = ?, route_trace = ?, assignee_id = "
                    "NULL, handoff_at = COALESCE(handoff_at, ?) WHERE id = ?",
                    (now, _json(decision.pool), decision.rule,
                     decision.priority, trace, now, conv["id"]),
                )
        if decision.agent:
            chosen = state.agent(decision.agent)
            return [self._assigned(conn, conv, decision.agent, chosen.name or decision.agent,
                                   now, "routed")]
        self._event(conn, "conversation.queued", "conversation", str(conv["id"]), shop["id"],
                    {"pool": decision.pool, "priority": decision.priority})
        return [self._tell_queue_position(conn, shop, conv["id"], state)]

    def _tell_queue_position(self, conn, shop: dict, conv_id: int,
                             state: RoutingState) -> dict:
        position, wait = self._queue_position(conn, shop["id"], conv_id, state)
        conv = self._conv_row(conn, conv_id)
        if wait is None:
            text = f"当前排队第 {position} 位，客服暂时都不在线，上线后会第一时间接待您。"
        else:
            text = f"当前排队第 {position} 位，预计等待约 {max(1, round(wait / 60))} 分钟。"
        return self._system(conn, conv, text, payload={"queue_position": position,
                                                       "estimated_wait_s": wait})

    def _pool_of(self, text: str | None) -> dict:
        """A stored pool (JSON text; None: the whole shop) decoded, once per text.
        The dict is shared: read it, do not change it."""
        cache = self.__dict__.setdefault("_pool_texts", {})
        pool = cache.get(text)
        if pool is None:
            if len(cache) > 4096:
                cache.clear()
            pool = cache[text] = json.loads(text) if text else {"shop": True}
        return pool

    def _queue_position(self, conn, shop_id: int, conv_id: int,
                        state: RoutingState | None = None) -> tuple[int | None, int | None]:
        """The chat's place among the chats ahead that the same agents could be given
        instead, and the estimated wait; (None, None) when it does not wait in the shop."""
        try:
            key, shop_of, conv_state, own = queue_index.key_of(conn, conv_id)
        except KeyError:
            return None, None
        if conv_state != "queued" or shop_of != shop_id:
            return None, None
        places = QueuePlaces(self, conn, shop_id, state or self._current_state(conn, shop_id))
        return places.place(key, own)

    def _current_state(self, conn, shop_id: int) -> RoutingState:
        """The shop's agents as a queue place reads them (pools, status, capacity; not
        their load), kept while ``desk_version`` stands: no agent, shop membership or
        group changed since, on any connection."""
        version = conn.execute("SELECT v FROM desk_version").fetchone()[0]
        cache = self.__dict__.setdefault("_place_states", {})
        hit = cache.get(shop_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        state = self._routing_state(conn, shop_id)
        if len(cache) > 1024:
            cache.clear()
        cache[shop_id] = (version, state)
        return state

    def _avg_handle_s(self, conn, shop_id: int) -> float:
        """Mean handle time of the shop's last 200 closed chats (seconds), kept until a
        chat of the shop closes here or another connection commits."""
        cache = self.__dict__.setdefault("_avg_handle", {})
        dv = self.database.data_version()
        hit = cache.get(shop_id)
        if hit is not None and hit[0] == dv:
            return hit[1]
        row = conn.execute(
            "SELECT AVG(closed_at - assigned_at) FROM (SELECT closed_at, assigned_at FROM "
            "conversations WHERE shop_id = ? AND state = 'closed' AND assigned_at IS NOT NULL "
            "ORDER BY closed_at DESC LIMIT 200)", (shop_id,)).fetchone()
        value = (row[0] / 1000) if row and row[0] else DEFAULT_HANDLE_S
        cache[shop_id] = (dv, value)
        return value

    def _assign(self, conn, conv: dict, handle: str, now: int, how: str, *,
                pulled: bool = False) -> dict:
        """Give ``conv`` to agent ``handle``; refuse above capacity or when unavailable
        (a busy agent may pull a chat, but is given none)."""
        agent = self._agent_row(conn, handle)
        active = self._active_count(conn, agent["id"])
        if agent["status"] != "online" and not (pulled and agent["status"] == "busy"):
            raise Conflict(f"agent {handle!r} is {agent['status']}", key="agent_unavailable",
                           agent=handle, status=agent["status"])
        if active >= agent["max_chats"]:
            raise Conflict(f"agent {handle!r} is at capacity ({active}/{agent['max_chats']})",
                           key="agent_at_capacity", agent=handle, active=active,
                           max=agent["max_chats"])
        conn.execute(
            "UPDATE conversations SET state = 'active', assignee_id = ?, assigned_at = ?, "
            "agent_seen_at = NULL WHERE id = ?",
            (agent["id"], now, conv["id"]),
        )
        return self._assigned(conn, conv, handle, agent["name"], now, how)

    def _assigned(self, conn, conv: dict, handle: str, name: str, now: int, how: str) -> dict:
        """What follows an assignment: the agent's last-assigned time, the event, the
        customer told who serves them."""
        conn.execute("UPDATE agents SET last_assigned_at = ? WHERE handle = ?", (now, handle))
        self._event(conn, "conversation.assigned", "conversation", str(conv["id"]),
                    conv["shop_id"], {"agent": handle, "how": how})
        return self._system(conn, conv, f"客服{name}为您服务",
                            payload={"assigned": handle, "how": how})

    def _drain(self, conn, shop_id: int, now: int) -> list[tuple[int, str]]:
        """Hand queued chats of a shop to agents who can take them, best first.

        The same hand-out as walking the whole queue in serving order, read from the
        head of each pool: the best head goes to its pool's agents; a pool with nobody
        free is done (assignments only take capacity, so nobody frees up in it during
        the drain). Costs the chats handed out and the pools, not the queue's length."""
        counts = queue_index.band_counts(conn, shop_id)
        if not counts:
            return []
        state = self._routing_state(conn, shop_id)
        rr = self._rr_state(conn, shop_id)
        heads = {}
        for pool_text in counts:
            first = queue_index.head(conn, shop_id, pool_text)
            if first is not None:
                heads[pool_text] = first
        done = []
        while heads:
            pool_text = min(heads, key=lambda p: heads[p].order())
            conv = self._conv_row(conn, heads[pool_text].id)
            strategy = "least_load"
            if conv.get("route_trace"):
                strategy = json.loads(conv["route_trace"]).get("strategy") or strategy
            pool = self._pool_of(pool_text)
            handle = state.choose(pool, target_key(pool), strategy, rr)
            if handle is None:
                del heads[pool_text]
                continue
            self._assign(conn, conv, handle, now, "from_queue")
            state.assign(handle, now)
            if strategy == "round_robin":
                rr.advance(target_key(pool), handle)
            done.append((conv["id"], handle))
            following = queue_index.head(conn, shop_id, pool_text)
            if following is None:
                del heads[pool_text]
            else:
                heads[pool_text] = following
        self._save_rr(conn, shop_id, rr)
        return done

    def _drain_agent_shops(self, conn, agent_id: int, now: int) -> list[tuple[int, str]]:
        done = []
        for (shop_id,) in conn.execute("SELECT shop_id FROM agent_shops WHERE agent_id = ?",
                                       (agent_id,)).fetchall():
            done.extend(self._drain(conn, shop_id, now))
        return done

    def _post_result(self, conn, conv_id: int, msg_id: int, replies: list[dict], *,
                     duplicate: bool, message: dict | None = None,
                     known: dict | None = None, names: tuple | None = None) -> dict:
        """What a post returns. ``known`` is the conversation's row as the post read it,
        when the post changed nothing of it but the message times: those and the names
        are read again, not the whole row; with ``names`` too, the row as it stands."""
        if known is not None and names is not None:
            conv = self._conversation_dict(conn, known, names=names)
        elif known is not None:
            row = conn.execute(
                "SELECT s.key, cu.key, cu.name, a.handle, g.key, c.last_message_at, "
                "c.last_customer_at FROM conversations c JOIN shops s ON s.id = c.shop_id "
                "JOIN customers cu ON cu.id = c.customer_id LEFT JOIN agents a "
                'ON a.id = c.assignee_id LEFT JOIN "groups" g ON g.id = c.group_id '
                "WHERE c.id = ?", (conv_id,)).fetchone()
            conv = self._conversation_dict(
                conn, {**known, "last_message_at": row[5], "last_customer_at": row[6]},
                names=row[:5])
        else:
            cur = conn.execute(
                "SELECT c.*, s.key, cu.key, cu.name, a.handle, g.key FROM conversations c "
                "JOIN shops s ON s.id = c.shop_id JOIN customers cu ON cu.id = c.customer_id "
                'LEFT JOIN agents a ON a.id = c.assignee_id LEFT JOIN "groups" g '
                "ON g.id = c.group_id WHERE c.id = ?", (conv_id,))
            row = cur.fetchone()
            cols = [d[0] for d in cur.description][:-5]
            conv = self._conversation_dict(conn, dict(zip(cols, row[:-5], strict=True)),
                                           names=row[-5:])
        if duplicate:
            replies = [self._message_dict(r) for r in conn.execute(
                "SELECT id, conversation_id, sender, agent_id, kind, body, payload, client_id, "
                "created_at FROM messages WHERE conversation_id = ? AND id > ? "
                "AND sender != 'customer' ORDER BY id LIMIT 3", (conv_id, msg_id))]
        if message is None:
            message = self._message_dict(conn.execute(
                "SELECT id, conversation_id, sender, agent_id, kind, body, payload, client_id, "
                "created_at FROM messages WHERE id = ?", (msg_id,)).fetchone())
        return {"conversation": conv, "message": message, "replies": replies,
                "duplicate": duplicate}

    # -- agents ------------------------------------------------------------------------------
    def _may_take_one_more(self, conn, a, handle: str) -> None:
        """Refuse unless agent row ``a`` is online or busy and below capacity (an agent
        pulling a chat: accept-next, a reopen)."""
        if a["status"] not in ("online", "busy"):
            raise Conflict(f"agent {handle!r} is {a['status']}; set the status to online first",
                           key="agent_not_online", agent=handle, status=a["status"])
        active = self._active_count(conn, a["id"])
        if active >= a["max_chats"]:
            raise Conflict(f"agent {handle!r} is at capacity ({active}/{a['max_chats']})",
                           key="agent_at_capacity", agent=handle, active=active,
                           max=a["max_chats"])

    def accept_next(self, agent: str) -> dict | None:
        """The agent takes the best waiting chat they may serve; None when none waits.

        Online and busy agents may pull (busy means routing gives them nothing new, as
        千牛's 忙碌); away and offline agents may not.
        """
        with self.database.write() as conn:
            a = self._agent_row(conn, agent)
            self._may_take_one_more(conn, a, agent)
            now = self._now()
            best = None
            for (shop_id,) in conn.execute("SELECT shop_id FROM agent_shops WHERE agent_id = ?",
                                           (a["id"],)).fetchall():
                counts = queue_index.band_counts(conn, shop_id)
                if not counts:
                    continue
                me = self._routing_state(conn, shop_id, staff=True).agent(agent)
                for pool_text in counts:
                    # pulling is deliberate: the one who transferred a chat may take it back
                    pool = {k: v for k, v in self._pool_of(pool_text).items() if k != "except"}
                    if not agent_in_pool(me, pool):
                        continue
                    first = queue_index.head(conn, shop_id, pool_text)
                    if first is not None and (best is None or first.order() < best.order()):
                        best = first
            if best is None:
                return None
            conv = self._conv_row(conn, best.id)
            self._assign(conn, conv, agent, now, "accepted", pulled=True)
            return self._conversation_dict(conn, self._conv_row(conn, conv["id"]))

    def set_agent_status(self, agent: str, status: str) -> dict:
        """Online, busy, away or offline. Coming online takes waiting chats up to capacity;
        going offline hands the agent's open chats back to routing (others or the queue)."""
        if status not in ("online", "busy", "away", "offline"):
            raise UsageError(f"status must be online, busy, away or offline, not {status!r}",
                             key="unknown_status", status=status)
        with self.database.write() as conn:
            a = self._agent_row(conn, agent)
            returned, assigned = self._status_changed(conn, a["id"], agent, a["status"],
                                                      status, self._now())
            return {"agent": agent, "status": status, "returned": returned,
                    "assigned": [cid for cid, h in assigned if h == agent]}

    def _status_changed(self, conn, agent_id: int, handle: str, old: str | None, status: str,
                        now: int) -> tuple[list[int], list[tuple[int, str]]]:
        """An agent's status moves from ``old`` to ``status`` (whoever changes it: the
        status command, ``agent update`` or ``apply``): the row, the ``agent.status``
        event online time is measured from, and the queue: going offline hands the
        agent's open chats back to routing, coming online takes waiting chats."""
        conn.execute(
            "UPDATE agents SET status = ?, status_changed_at = ?, "
            "idle_since = CASE WHEN ? = 'online' AND ? IS NOT 'online' THEN ? "
            "ELSE idle_since END, updated_at = ? WHERE id = ?",
            (status, now, status, old, now, now, agent_id),
        )
        self._event(conn, "agent.status", "agent", handle, None, {"from": old, "to": status})
        returned: list[int] = []
        assigned: list[tuple[int, str]] = []
        if status == "offline":
            rows = conn.execute(
                "SELECT id FROM conversations WHERE assignee_id = ? AND state = 'active' "
                "ORDER BY id", (agent_id,)).fetchall()
            for (cid,) in rows:
                conv = self._conv_row(conn, cid)
                conn.execute(
                    "UPDATE conversations SET state = 'queued', assignee_id = NULL, "
                    "queued_at = ? WHERE id = ?", (self._waiting_since(conn, cid, now), cid))
                self._system(conn, conv, "客服已下线，正在为您转接其他客服，请稍候。",
                             payload={"returned": handle})
                self._event(conn, "conversation.returned", "conversation", str(cid),
                            conv["shop_id"], {"agent": handle})
                shop = self._shop_by_id(conn, conv["shop_id"])
                self._reroute(conn, shop, conv, now)
                returned.append(cid)
        if status == "online":
            assigned = self._drain_agent_shops(conn, agent_id, now)
        return returned, assigned

    def _reroute(self, conn, shop: dict, conv: dict, now: int) -> None:
        # This write changed agents or chats before routing: a snapshot kept by the
        # last post does not know it (an agent going offline would get the chat back).
        self.__dict__.get("_snapshots", {}).pop(shop["id"], None)
        self._to_human(conn, shop, self._conv_row(conn, conv["id"]), conv["customer_id"],
                       self._customer_words(conn, conv["id"]), now)

    def _check_product(self, conn, shop: dict, product: str) -> None:
        if conn.execute("SELECT 1 FROM products WHERE key = ? AND shop_id = ?",
                        (product, shop["id"])).fetchone() is None:
            raise NotFound(f"no product {product!r} in shop {shop['key']!r}", key="no_product",
                           product=product, shop=shop["key"])

    def _customer_words(self, conn, conv_id: int) -> str:
        """The text routing reads for a chat routed after its first message (the bot had
        it, or its agent went offline): the customer's messages so far, oldest first (the
        first 20), one a line; so 转人工，我的快递丢了 after a bot answer routes on 快递."""
        return "\n".join(r[0] for r in conn.execute(
            "SELECT body FROM messages WHERE conversation_id = ? AND sender = 'customer' "
            "AND kind = 'text' ORDER BY id LIMIT 20", (conv_id,)))

    def reply(self, agent: str, conversation: int, text: str, *, kind: str = "text",
              payload: Any = None) -> dict:
        """The assigned agent writes to the customer."""
        _check_text(text, what="reply")
        check_payload(kind, payload)
        with self.database.write() as conn:
            a = self._agent_row(conn, agent)
            conv = self._conv_row(conn, conversation)
            self._must_hold(conv, a, "reply to")
            now = self._now()
            conn.execute(
                "UPDATE conversations SET first_agent_reply_at = COALESCE(first_agent_reply_at, "
                "?), agent_seen_at = ? WHERE id = ?", (now, now, conv["id"]))
            return self._add_message(conn, conv, "agent", text, agent_id=a["id"], agent=agent,
                                     kind=kind, payload=payload)

    def _must_hold(self, conv: dict, agent: dict, action: str) -> None:
        if conv["state"] == "closed":
            raise Conflict(f"conversation {conv['id']} is closed", key="conversation_closed",
                           conversation=conv["id"])
        if conv["assignee_id"] != agent["id"]:
            raise Conflict(f"agent {agent['handle']!r} cannot {action} conversation "
                           f"{conv['id']}: it is not assigned to them", key="not_assigned",
                           agent=agent["handle"], action=action, conversation=conv["id"])

    def transfer(self, conversation: int, *, by: str, to_agent: str | None = None,
                 to_group: str | None = None, note: str = "") -> dict:
        """Hand a chat to another agent (who must be free) or a group (queued if nobody in
        it is free), with a note the next agent sees."""
        if (to_agent is None) == (to_group is None):
            raise UsageError("transfer to exactly one of an agent or a group",
                             key="transfer_target")
        if note and len(note) > service.MAX_MESSAGE_CHARS:
            raise InvalidInput("note too long", key="note_too_long",
                               length=len(note), max=service.MAX_MESSAGE_CHARS)
        check_text(note or "", "note", multiline=True)
        with self.database.write() as conn:
            a = self._agent_row(conn, by)
            conv = self._conv_row(conn, conversation)
            self._must_hold(conv, a, "transfer")
            now = self._now()
            shop = self._shop_by_id(conn, conv["shop_id"])
            payload = {"from": by, "to_agent": to_agent, "to_group": to_group, "note": note}
            if to_agent is not None:
                if to_agent == by:
                    raise UsageError("cannot transfer a chat to yourself",
                                     key="transfer_to_self")
                target = self._agent_row(conn, to_agent)
                in_shop = conn.execute("SELECT 1 FROM agent_shops WHERE agent_id = ? AND "
                                       "shop_id = ?", (target["id"], shop["id"])).fetchone()
                if not in_shop:
                    raise Conflict(f"agent {to_agent!r} does not work for shop {shop['key']!r}",
                                   key="agent_not_in_shop", agent=to_agent,
                                   shop=shop["key"])
                self._system(conn, conv, f"转接说明：{note}" if note else "会话已转接",
                             kind="text", payload={"transfer": payload})
                self._assign(conn, conv, to_agent, now, "transfer")
                conn.execute("UPDATE conversations SET pool = ? WHERE id = ?",
                             (json.dumps({"agent": to_agent}), conv["id"]))
            else:
                g = conn.execute('SELECT id, shop_id FROM "groups" WHERE key = ?',
                                 (to_group,)).fetchone()
                if g is None:
                    raise NotFound(f"no group {to_group!r}", key="no_group", group=to_group)
                if g[1] != shop["id"]:
                    raise Conflict(f"group {to_group!r} is not in shop {shop['key']!r}",
                                   key="group_not_in_shop", group=to_group,
                                   shop=shop["key"])
                self._system(conn, conv, f"转接说明：{note}" if note else "会话已转接",
                             payload={"transfer": payload})
                # the one handing over is no candidate, now or when the chat is queued
                pool = {"group": to_group, "except": by}
                state = self._routing_state(conn, shop["id"])
                handle = state.choose(pool, target_key(pool), "least_load", None)
                conn.execute("UPDATE conversations SET pool = ?, group_id = ? WHERE id = ?",
                             (json.dumps(pool), g[0], conv["id"]))
                if handle is not None:
                    self._assign(conn, conv, handle, now, "transfer")
                else:
                    conn.execute(
                        "UPDATE conversations SET state = 'queued', assignee_id = NULL, "
                        "queued_at = ? WHERE id = ?",
                        (self._waiting_since(conn, conv["id"], now), conv["id"]))
                    self._event(conn, "conversation.queued", "conversation", str(conv["id"]),
                                shop["id"], {"pool": pool})
                    self._tell_queue_position(conn, shop, conv["id"], state)
            self._event(conn, "conversation.transferred", "conversation", str(conv["id"]),
                        shop["id"], payload)
            self._drain(conn, shop["id"], now)
            return self._conversation_dict(conn, self._conv_row(conn, conv["id"]))

    def close_conversation(
        self, conversation: int, *, by: str | None = None, reason: str = "resolved"
    ) -> dict:
        """Close a chat and ask the customer for a 1-5 rating; the agent frees a slot."""
        if not isinstance(reason, str) or len(reason) > 200:
            raise InvalidInput("reason must be text of at most 200 characters")
        check_text(reason, "reason", multiline=True)
        with self.database.write() as conn:
            conv = self._conv_row(conn, conversation)
            if conv["state"] == "closed":
                raise Conflict(f"conversation {conversation} is closed already",
                               key="conversation_closed", conversation=conversation)
            if by is not None:
                a = self._agent_row(conn, by)
                self._must_hold(conv, a, "close")
            now = self._now()
            self._close(conn, conv, now, reason)
            self._drain(conn, conv["shop_id"], now)
            return self._conversation_dict(conn, self._conv_row(conn, conversation))

    def reopen_conversation(self, conversation: int, *, by: str) -> dict:
        """Reopen a chat ``by`` closed, within ten minutes of the close, before the
        customer rated it or wrote again: it comes back to ``by`` (who must be online or
        busy, with room), and the customer is told."""
        with self.database.write() as conn:
            conv = self._conv_row(conn, conversation)
            if conv["state"] != "closed":
                raise Conflict(f"conversation {conversation} is not closed",
                               key="reopen_not_closed", conversation=conversation)
            a = self._agent_row(conn, by)
            if conv["assignee_id"] != a["id"]:
                raise Conflict(f"agent {by!r} cannot reopen conversation {conversation}: "
                               "another agent served it last", key="reopen_not_yours",
                               agent=by, conversation=conversation)
            now = self._now()
            if now - (conv["closed_at"] or 0) > REOPEN_WINDOW_MS:
                raise Conflict(f"conversation {conversation} was closed more than "
                               f"{REOPEN_WINDOW_MS // 60_000} minutes ago",
                               key="reopen_too_late", conversation=conversation,
                               minutes=REOPEN_WINDOW_MS // 60_000)
            if conv["rating"] is not None:
                raise Conflict(f"conversation {conversation} was rated already",
                               key="reopen_rated", conversation=conversation)
            newer = conn.execute(
                "SELECT id FROM conversations WHERE customer_id = ? AND shop_id = ? AND id > ? "
                "LIMIT 1", (conv["customer_id"], conv["shop_id"], conversation)).fetchone()
            if newer is not None:
                raise Conflict(f"the customer wrote again since: conversation {newer[0]}",
                               key="reopen_newer", conversation=newer[0])
            self._may_take_one_more(conn, a, by)
            conn.execute("UPDATE conversations SET state = 'active', closed_at = NULL, "
                         "close_reason = NULL WHERE id = ?", (conversation,))
            conv = self._conv_row(conn, conversation)
            self._system(conn, conv, "会话已重新打开，客服会继续为您服务。")
            self._event(conn, "conversation.reopened", "conversation", str(conversation),
                        conv["shop_id"], {"by": by})
            return self._conversation_dict(conn, self._conv_row(conn, conversation))

    def _close(self, conn, conv: dict, now: int, reason: str) -> None:
        self.__dict__.get("_avg_handle", {}).pop(conv["shop_id"], None)
        conn.execute("UPDATE conversations SET state = 'closed', closed_at = ?, close_reason = ? "
                     "WHERE id = ?", (now, reason, conv["id"]))
        if conv["assignee_id"] is not None:
            conn.execute(
                "UPDATE customer_profiles SET last_agent_id = ?, last_served_at = ? "
                "WHERE customer_id = ? AND shop_id = ?",
                (conv["assignee_id"], now, conv["customer_id"], conv["shop_id"]))
            if self._active_count(conn, conv["assignee_id"]) == 0:
                conn.execute("UPDATE agents SET idle_since = ? WHERE id = ?",
                             (now, conv["assignee_id"]))
        self._system(conn, conv, "本次服务已结束，请为我们的服务打分（1-5 分）。", kind="survey",
                     payload={"rating": [1, 2, 3, 4, 5]})
        self._event(conn, "conversation.closed", "conversation", str(conv["id"]),
                    conv["shop_id"], {"reason": reason})

    def rate(self, conversation: int, rating: int, comment: str | None = None) -> dict:
        """The customer rates a closed chat, once, 1 to 5."""
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise InvalidInput(f"rating must be a whole number from 1 to 5, got {rating!r}",
                               key="bad_rating", rating=rating)
        with self.database.write() as conn:
            conv = self._conv_row(conn, conversation)
            if conv["state"] != "closed":
                raise Conflict(f"conversation {conversation} is still open; rate it after close",
                               key="rate_open_conversation", conversation=conversation)
            if conv["rating"] is not None:
                raise Conflict(f"conversation {conversation} is rated already", key="rated_already",
                               conversation=conversation)
            now = self._now()
            conn.execute("UPDATE conversations SET rating = ?, rated_at = ? WHERE id = ?",
                         (rating, now, conv["id"]))
            if comment:
                self._add_message(conn, conv, "customer", _check_text(comment, what="comment"),
                                  kind="text", payload={"rating_comment": True})
            self._event(conn, "conversation.rated", "conversation", str(conv["id"]),
                        conv["shop_id"], {"rating": rating})
            return self._conversation_dict(conn, self._conv_row(conn, conversation))

    def close_idle(self) -> list[int]:
        """Close chats with no message for their shop's idle time; returns their ids."""
        with self.database.write() as conn:
            now = self._now()
            # per shop, only the chats idle past its limit, through the idle index (state,
            # last message): the open chats that are not idle are never read
            due = []
            for shop_id, settings in conn.execute("SELECT id, settings FROM shops").fetchall():
                limit = json.loads(settings).get("idle_close_min", 30) * 60_000
                due += [cid for (cid,) in conn.execute(
                    "SELECT id FROM conversations INDEXED BY conversations_idle "
                    "WHERE state IN ('bot', 'queued', 'active') AND last_message_at <= ? "
                    "AND shop_id = ?", (now - limit, shop_id))]
            closed = []
            touched = set()
            for cid in sorted(due):
                conv = self._conv_row(conn, cid)
                self._close(conn, conv, now, "idle")
                closed.append(cid)
                touched.add(conv["shop_id"])
            for shop_id in touched:
                self._drain(conn, shop_id, now)
            return closed

    # -- reading ---------------------------------------------------------------------------
    def _message_dict(self, r: tuple) -> dict:
        return {"id": r[0], "conversation": r[1], "sender": r[2], "agent": r[3], "kind": r[4],
                "body": r[5], "payload": stored_payload(r[6]),
                "client_id": r[7], "at": format_time(r[8])}

    def _conversation_dict(self, conn, c: dict, names: tuple | None = None,
                           place: tuple[int, int | None] | None = None) -> dict:
        if names is None:
            names = conn.execute(
                "SELECT s.key, cu.key, cu.name, a.handle, g.key FROM shops s "
                "JOIN customers cu ON cu.id = ? LEFT JOIN agents a ON a.id = ? "
                'LEFT JOIN "groups" g ON g.id = ? WHERE s.id = ?',
                (c["customer_id"], c["assignee_id"], c["group_id"], c["shop_id"])).fetchone()
        out = {
            "id": c["id"], "shop": names[0], "customer": names[1], "customer_name": names[2],
            "state": c["state"], "assignee": names[3], "group": names[4],
            "channel": c["channel"], "entry_page": c["entry_page"], "source": c["source"],
            "search_keyword": c["search_keyword"], "intent": c["intent"],
            "classification": c["classification"], "priority": c["priority"],
            "pool": json.loads(c["pool"]) if c["pool"] else None, "rule": c["rule_key"],
            "created_at": format_time(c["created_at"]), "queued_at": format_time(c["queued_at"]),
            "assigned_at": format_time(c["assigned_at"]),
            "first_agent_reply_at": format_time(c["first_agent_reply_at"]),
            "last_message_at": format_time(c["last_message_at"]),
            "closed_at": format_time(c["closed_at"]), "close_reason": c["close_reason"],
            "rating": c["rating"],
        }
        if c["state"] == "queued":
            position, wait = place or self._queue_position(conn, c["shop_id"], c["id"])
            out["queue_position"], out["estimated_wait_s"] = position, wait
        return out

    def get_conversation(self, conversation: int, *, messages: bool = True) -> dict:
        """One conversation, with its messages."""
        with self.database.read() as conn:
            c = self._conv_row(conn, conversation)
            out = self._conversation_dict(conn, c)
            if messages:
                out["messages"] = [self._message_dict(r) for r in conn.execute(
                    "SELECT m.id, m.conversation_id, m.sender, a.handle, m.kind, m.body, "
                    "m.payload, m.client_id, m.created_at FROM messages m LEFT JOIN agents a "
                    "ON a.id = m.agent_id WHERE m.conversation_id = ? ORDER BY m.id", (c["id"],))]
            return out

    def list_conversations(self, *, shop: str | None = None, state: str | None = None,
                           agent: str | None = None, customer: str | None = None,
                           limit: int = 100, after: int | None = None) -> list[dict]:
        """Conversations, newest first, filtered; ``after`` pages by id (older than it).
        The places of the queued ones read each shop's agents and counts once."""
        where, params = [], []
        with self.database.read() as conn:
            if shop is not None:
                where.append("shop_id = ?")
                params.append(self._shop_row(conn, shop)["id"])
            if state is not None:
                if state not in ("bot", "queued", "active", "closed", "open"):
                    raise UsageError(f"unknown state {state!r}", key="unknown_state", state=state)
                if state == "open":
                    where.append("state IN ('bot', 'queued', 'active')")
                else:
                    where.append("state = ?")
                    params.append(state)
            if agent is not None:
                where.append("assignee_id = ?")
                params.append(self._agent_row(conn, agent)["id"])
            if customer is not None:
                row = conn.execute("SELECT id FROM customers WHERE key = ?",
                                   (customer,)).fetchone()
                if row is None:
                    raise NotFound(f"no customer {customer!r}", key="no_customer",
                               customer=customer)
                where.append("customer_id = ?")
                params.append(row[0])
            if after is not None:
                where.append("id < ?")
                params.append(int(after))
            clause = ("WHERE " + " AND ".join(where)) if where else ""
            cur = conn.execute(f"SELECT * FROM conversations {clause} ORDER BY id DESC LIMIT ?",
                               (*params, int(limit)))
            cols = [d[0] for d in cur.description]
            found = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
            places: dict[int, QueuePlaces] = {}
            out = []
            for c in found:
                place = None
                if c["state"] == "queued":  # one reading of each shop's agents and counts
                    p = places.get(c["shop_id"])
                    if p is None:
                        p = places[c["shop_id"]] = QueuePlaces(
                            self, conn, c["shop_id"], self._current_state(conn, c["shop_id"]))
                    place = p.place(queue_index.QueueKey(
                        c["priority"], c["queued_at"] or c["created_at"], c["id"]), c["pool"])
                out.append(self._conversation_dict(conn, c, place=place))
            return out

    def queue(self, shop: str, *, limit: int | None = None,
              after: int | None = None) -> list[dict]:
        """A shop's waiting chats in serving order, with positions and waits.

        Paged: at most ``limit`` chats (None: all), those after chat ``after`` in serving
        order (the last id of the previous page; a chat served since still marks its
        place). A page costs its own chats and the shop's pools, not the whole queue."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise UsageError(f"limit must be a whole number of at least 1, not {limit!r}")
        with self.database.read() as conn:
            s = self._shop_row(conn, shop)
            cursor = None
            if after is not None:
                try:
                    cursor, shop_of, _state, _pool = queue_index.key_of(conn, after)
                except (KeyError, TypeError, ValueError):
                    cursor, shop_of = None, None
                if shop_of != s["id"]:
                    raise NotFound(f"no conversation {after} in shop {shop!r}")
            keys = queue_index.page(conn, s["id"], cursor, limit)
            rows: dict[int, tuple[dict, tuple]] = {}
            for i in range(0, len(keys), 500):  # the chats with their names, 500 a query
                chunk = [k.id for k in keys[i:i + 500]]
                cur = conn.execute(
                    "SELECT c.*, cu.key, cu.name, a.handle, g.key FROM conversations c "
                    "JOIN customers cu ON cu.id = c.customer_id LEFT JOIN agents a "
                    'ON a.id = c.assignee_id LEFT JOIN "groups" g ON g.id = c.group_id '
                    f"WHERE c.id IN ({', '.join('?' * len(chunk))})", chunk)
                cols = [d[0] for d in cur.description][:-4]
                for r in cur:
                    rows[r[0]] = (dict(zip(cols, r[:-4], strict=True)), (s["key"], *r[-4:]))
            places = QueuePlaces(self, conn, s["id"], self._routing_state(conn, s["id"]))
            found = places.run([(k, rows[k.id][0]["pool"]) for k in keys])
            return [self._conversation_dict(conn, rows[k.id][0], names=rows[k.id][1], place=p)
                    for k, p in zip(keys, found, strict=True)]

    # -- routing, explained -------------------------------------------------------------
    def route_test(self, shop: str, customer: str, text: str, **context: Any) -> dict:
        """Who would get this chat now, and why: a dry run, nothing is written."""
        _check_text(text)
        _check_context(context.get("channel"), context.get("time_on_site_s"),
                       context.get("pages_viewed"), context.get("intent"))
        with self.database.read() as conn:
            s = self._shop_row(conn, shop)
            if context.get("product") is not None:
                self._check_product(conn, s, context["product"])
            row = conn.execute("SELECT id FROM customers WHERE key = ?", (customer,)).fetchone()
            if row is None:
                raise NotFound(f"no customer {customer!r}", key="no_customer",
                               customer=customer)
            now = self._now()
            classification = self._classification(conn, row[0], s["id"])
            conv = {**context, "classification": classification,
                    "intent": context.get("intent") or service.intent_of(classification, text),
                    "product_key": context.get("product")}
            facts = self._facts(conn, s, row[0], conv, text, now)
            decision = route(self._ruleset(conn, s["id"]), facts,
                             self._routing_state(conn, s["id"]), now,
                             self._rr_state(conn, s["id"]).copy(), detail=True,
                             utc_offset_minutes=service.utc_offset_minutes(now, s["timezone"]))
            return _decision_out(decision.to_dict())

    def route_explain(self, conversation: int) -> dict:
        """The routing decision recorded for a conversation, with the reasons."""
        with self.database.read() as conn:
            c = self._conv_row(conn, conversation)
            if not c.get("route_trace"):
                raise NotFound(f"conversation {conversation} was never routed to a human "
                               "(it stayed with the bot)", key="never_routed",
                               conversation=conversation)
            stored = json.loads(c["route_trace"])
            ruleset = None
            if stored.get("v") == 2:
                row = conn.execute("SELECT rules FROM routing_rulesets WHERE id = ?",
                                   (stored["rules"],)).fetchone()
                ruleset = RuleSet(json.loads(row[0])) if row else None
            decision = Decision.from_stored(stored, ruleset)
            out = {**decision.to_dict(), "explanation": explain(decision)}
            history = _history(conn, conversation)
        out["history"] = history
        if history:
            out["explanation"] += ("\n\nWhat happened to the chat (the decision above is the "
                                   "latest routing made; display zone):\n")
            out["explanation"] += "\n".join(
                f"  {h['at'][:19].replace('T', ' ')}  {h['text']}" for h in history)
        return out


class QueuePlaces:
    """Queue places and wait estimates of a shop's waiting chats, for one read.

    A chat's place counts the chats ahead of it that the same agents could be given
    instead (a chat waiting for the logistics group is not behind one waiting for a VIP
    agent): per pool that any agent of the chat's pool belongs to, the chats of that pool
    ahead, from :mod:`queue_index` (band counts and a probe or two). Each distinct pool
    is decoded and compared once.
    """

    def __init__(self, ops: Any, conn: sqlite3.Connection, shop_id: int,
                 state: RoutingState):
        self.ops, self.conn, self.shop_id, self.state = ops, conn, shop_id, state
        self.counts = queue_index.band_counts(conn, shop_id)
        self._mine: dict[str | None, tuple[list[AgentState], int]] = {}
        self._competes: dict[tuple[str | None, str | None], bool] = {}
        self._avg: float | None = None

    def _mine_of(self, pool: str | None) -> tuple[list[AgentState], int]:
        """The shop's agents in ``pool`` and their online capacity."""
        mine = self._mine.get(pool)
        if mine is None:
            target = self.ops._pool_of(pool)
            agents = [a for a in self.state.agents() if agent_in_pool(a, target)]
            mine = self._mine[pool] = (
                agents, sum(a.max_chats for a in agents if a.status == "online"))
        return mine

    def competes(self, pool: str | None, other: str | None) -> bool:
        """True when an agent who may take chats of ``pool`` may take ``other``'s."""
        known = self._competes.get((pool, other))
        if known is None:
            target = self.ops._pool_of(other)
            known = self._competes[(pool, other)] = any(
                agent_in_pool(a, target) for a in self._mine_of(pool)[0])
        return known

    def wait(self, pool: str | None, position: int) -> int | None:
        """The estimated wait of a chat of ``pool`` at ``position``."""
        if self._avg is None:
            self._avg = self.ops._avg_handle_s(self.conn, self.shop_id)
        return estimate_wait_s(position, self._mine_of(pool)[1], self._avg)

    def place(self, key: queue_index.QueueKey, pool: str | None) -> tuple[int, int | None]:
        """Place and wait of the waiting chat ``key`` of ``pool``."""
        ranker = queue_index.Ranker(self.conn, self.shop_id, self.counts, key, pool, True)
        position = 1 + sum(ranker.ahead(other) for other in self.counts
                           if self.competes(pool, other))
        return position, self.wait(pool, position)

    def run(self, chats: list[tuple[queue_index.QueueKey, str | None]]
            ) -> list[tuple[int, int | None]]:
        """Places and waits of consecutive waiting chats (a page in serving order): the
        chats ahead of the first counted once per pool, then carried along the page."""
        if not chats:
            return []
        ranker = queue_index.Ranker(self.conn, self.shop_id, self.counts, chats[0][0],
                                    chats[0][1], True)
        ahead = {other: ranker.ahead(other) for other in self.counts}
        out = []
        for _key, pool in chats:
            position = 1 + sum(n for other, n in ahead.items() if self.competes(pool, other))
            out.append((position, self.wait(pool, position)))
            ahead[pool] = ahead.get(pool, 0) + 1
        return out


HOW = {"routed": "by routing", "from_queue": "from the queue", "accepted": "who pulled it "
       "(accept-next)", "transfer": "by a transfer"}


def _history(conn, conversation: int) -> list[dict]:
    """What routing and the agents did with a chat, from its system notices: queued,
    assigned (and how), transferred, handed back, closed."""
    rows = conn.execute(
        "SELECT m.created_at, m.kind, m.payload FROM messages m WHERE m.conversation_id = ? "
        "AND m.sender = 'system' AND (m.payload IS NOT NULL OR m.kind = 'survey') "
        "ORDER BY m.id", (conversation,)).fetchall()
    names = dict(conn.execute("SELECT handle, name FROM agents"))
    out = []
    for at, kind, raw in rows:
        p = json.loads(raw) if raw else {}
        if kind == "survey":
            item = {"event": "closed", "text": "closed (the customer is asked for a rating)"}
        elif "assigned" in p:
            who = p["assigned"]
            how = p.get("how")
            item = {"event": "assigned", "agent": who, "how": how,
                    "text": f"assigned to {names.get(who) or who} ({who})"
                            + (f" {HOW.get(how, how)}" if how else "")}
        elif "queue_position" in p:
            item = {"event": "queued", "position": p["queue_position"],
                    "text": f"queued, place {p['queue_position']}"}
        elif "transfer" in p:
            t = p["transfer"]
            to = (f"agent {t['to_agent']}" if t.get("to_agent")
                  else f"group {t.get('to_group')}")
            item = {"event": "transferred", "by": t.get("from"), "to": to,
                    "note": t.get("note") or "",
                    "text": f"transferred by {t.get('from')} to {to}"
                            + (f": {t['note']}" if t.get("note") else "")}
        elif "returned" in p:
            item = {"event": "returned", "agent": p["returned"],
                    "text": f"handed back to routing: {p['returned']} went offline"}
        else:
            continue
        out.append({"at": format_time(at), **item})
    return out


def _decision_out(d: dict) -> dict:
    return {**d, "explanation": explain(Decision.from_dict(d))}
