"""The desk: customers post, the bot or routing decides, agents accept, reply, transfer
and close, customers rate.

Every operation is one unit of work (``BEGIN IMMEDIATE``), so assignment is atomic
across processes: two agents pressing "accept next" at once never get the same chat,
and no agent ever goes above capacity. Queued chats are handed out the moment an agent
frees up or comes online. Routing lives in :mod:`.routing_flow`, queue places in
:mod:`.queue_places`, reading in :mod:`.conversation_view`; campaigns, tickets and the
knowledge bot are other services, called by name.
"""

from __future__ import annotations

import json
from typing import Any

from .. import service
from ..errors import Conflict, InvalidInput, NotFound, UsageError
from ..message_payloads import check_payload
from ..resources import CHANNELS
from ..routing import agent_in_pool, target_key
from ..storage.repos.posts import PostLookup, Posts
from ..storage.unit_of_work import UnitOfWork
from ..text_rules import check_text as check_text_rules
from ..values import SLUG_RE
from .channels import connect_chat, connected_channel
from .context import ServiceContext
from .conversation_view import ConversationView, check_product, page_product
from .desk_checks import check_context, check_text
from .messages import add_message, system
from .queue_places import QueuePlacesService
from .routing_flow import Known, RoutingFlow

REOPEN_WINDOW_MS = 10 * 60_000  # a closed chat can be reopened by its agent this long
# The conversation columns a post does not set, as a new row has them.
EMPTY_CONVERSATION = {"rule_key": None, "pool": None, "priority": 0, "assigned_at": None,
                      "first_agent_reply_at": None, "closed_at": None, "close_reason": None,
                      "rating": None}


def _fits_beside_others(found: PostLookup, via: str | None, attachment: Any) -> bool:
    """Whether a post may run beside other posts (PostgreSQL's concurrent posts): a
    known customer of the shop writing into their open chat that an agent serves (its
    row locked by the look-up), with no ticket to reopen, no channel connector and no
    file; or the retry of a message stored already. Such a post writes the message, the
    chat's message times and the event, nothing else: no customer, chat, assignment,
    queue or cached row. Anything else runs under the database's write lock."""
    if found.customer is None or found.customer[1] is None:
        return False  # a new customer, or a first message to this shop
    if via is not None or attachment is not None:
        return False
    if found.duplicate is not None:
        return True
    chat = found.open_chat
    return chat is not None and chat["state"] == "active" and not found.resolved


class DeskService:
    """Conversation operations (``ctx.desk``)."""

    def __init__(self, ctx: ServiceContext, places: QueuePlacesService, flow: RoutingFlow,
                 view: ConversationView):
        self.ctx = ctx
        self.places = places
        self.flow = flow
        self.view = view

    # -- what other services use ----------------------------------------------------------
    def must_hold(self, conv: dict, agent: dict, action: str) -> None:
        """Refuse unless ``agent`` (a row with id and handle) serves the open chat."""
        if conv["state"] == "closed":
            raise Conflict(f"conversation {conv['id']} is closed", key="conversation_closed",
                           conversation=conv["id"])
        if conv["assignee_id"] != agent["id"]:
            raise Conflict(f"agent {agent['handle']!r} cannot {action} conversation "
                           f"{conv['id']}: it is not assigned to them", key="not_assigned",
                           agent=agent["handle"], action=action, conversation=conv["id"])

    def post_shop(self, uow: UnitOfWork, key: str) -> dict:
        """The shop row for posts, cached from post to post. A post changes no shop, so
        the rows read by earlier posts stand while every write transaction since was a
        post (``Database.generation`` moved by one each time) and no other connection
        committed (PRAGMA data_version); anything else empties the cache."""
        db, caches = self.ctx.database, self.ctx.caches
        cache = caches.post_shops
        dv = db.data_version()
        if caches.post_chain != (dv, db.generation - 1):
            cache.clear()
        caches.post_chain = (dv, db.generation)
        row = cache.get(key)
        if row is None:
            row = cache[key] = uow.shops.by_key(key)
        return dict(row)

    # -- posting --------------------------------------------------------------------------
    def prefetch_posts(self, posts: list[tuple[str, str, str | None]]) -> int:
        """In a group of PostgreSQL's concurrent posts (the server's), read the look-ups
        of the posts about to run, given as (shop, customer, client id) hints, in one
        round trip (``Posts.prefetch``); each post then takes its own. Returns how many
        were read (0 on SQLite or elsewhere). The hints choose what is read, never what
        a post may do: each post is checked and looks itself up as before."""
        with self.ctx.read() as uow:
            return uow.repo(Posts).prefetch(posts, self.ctx.tickets.reopen_since(uow.now))

    def post_message(
        self, shop: str, customer: str, text: str, *, channel: str | None = None,
        entry_page: str | None = None, source: str | None = None,
        search_keyword: str | None = None, time_on_site_s: int | None = None,
        pages_viewed: int | None = None, product: str | None = None,
        intent: str | None = None, client_id: str | None = None, kind: str = "text",
        payload: Any = None, attachment: Any = None,
    ) -> dict:
        """A customer writes to a shop. Opens a conversation if none is open, lets the bot
        step or the routing engine decide, and returns what happened (the conversation,
        the stored message, the replies sent back, the queue position and wait).

        A retried post with the same ``client_id`` is stored once: the retry returns the
        first result with ``duplicate: true``. ``attachment`` (``FileService``: a checked
        file) makes the message a ``file`` message whose file is kept with it.
        """
        check_text(text)
        if attachment is not None:
            kind, payload = "file", attachment.payload
        else:
            check_payload(kind, payload)  # the shape its kind needs, within the size cap
        for what, value in (("entry page", entry_page), ("source", source),
                            ("search keyword", search_keyword), ("client id", client_id)):
            if isinstance(value, str):
                check_text_rules(value, what)  # stored with the chat, shown to agents
        if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 100):
            raise InvalidInput("client id must be text of at most 100 characters",
                               key="client_id_bad")
        # ``channel``: a client (app, web ...) or the name of one of the shop's channel
        # connectors (a gateway posting for its customers), resolved in the transaction
        via = channel if isinstance(channel, str) and channel not in CHANNELS else None
        check_context(None if via else channel, time_on_site_s, pages_viewed, intent)
        ctx = self.ctx
        with ctx.write() as uow:
            now = uow.now
            shop_row = self.post_shop(uow, shop)
            shop_id = shop_row["id"]
            connector = None
            if via is not None:
                connector = connected_channel(uow, shop_id, via)
                channel = connector["client"]
            if product is not None:
                check_product(uow, shop_row, product)
            # the customer, a duplicate of the client id and the open chat, read together
            # (one round trip on PostgreSQL)
            if uow.shared and (via is not None or attachment is not None or
                               ctx.campaigns.command_in(uow, shop_id, text) is not None):
                uow.need_write_lock()  # before the look-up: it spends no id for nothing
            found = uow.repo(Posts).lookup(shop_id, customer, client_id,
                                           ctx.tickets.reopen_since(now))
            if uow.shared and not _fits_beside_others(found, via, attachment):
                uow.need_write_lock()
            cust_id, usual, profile, new, name = self._customer_for_post(
                uow, shop_row, customer, channel, found.customer)
            channel = channel or usual  # the customer's usual client, as the profile says
            # A customer made by this very post has no messages, chats, orders or tickets
            # yet: the look-ups for those are skipped.
            if found.duplicate is not None:
                dup = found.duplicate
                uow.claim_shared()  # reads only
                return self.view.post_result(uow, dup[1], dup[0], [], duplicate=True)
            conv = found.open_chat
            # 退订 / TD and reply codes: answered by the campaigns themselves; with no chat
            # open they go to the customer's last chat here instead of opening one.
            command = ctx.campaigns.command_in(uow, shop_id, text)
            if uow.shared:
                if command is not None:
                    uow.need_write_lock()
                # a message into a chat an agent serves, its row locked: the message,
                # the chat's message times and the event (see _fits_beside_others)
                uow.claim_shared()
            if conv is None and command is not None:
                conv = uow.conversations.last_of(shop_id, cust_id)
            created = conv is None
            known = routed = None
            if created:
                orders = [] if new else uow.customers.orders_of(cust_id, shop_id)
                known = Known(orders, profile)
                classification = service.classify([o[0] for o in orders])
                conv = {
                    "shop_id": shop_id, "customer_id": cust_id, "channel": channel,
                    "entry_page": entry_page, "source": source,
                    "search_keyword": search_keyword, "time_on_site_s": time_on_site_s,
                    "pages_viewed": pages_viewed,
                    "intent": intent or service.intent_of(classification, text),
                    "classification": classification,
                    "product_key": product or page_product(uow, shop_id, entry_page),
                    "state": "new",
                    "created_at": now, "last_message_at": now, "last_customer_at": now,
                    "assignee_id": None, "group_id": None, "route_trace": None,
                    "queued_at": None, "handoff_at": None,
                }
                row = conv
                if command is None:  # straight to a human: routed before it is stored
                    row, routed = self.flow.route_ahead(uow, shop_row, conv, cust_id, text,
                                                        now, known)
                if connector is not None:
                    row = {**row, "channel_id": connector["id"]}
                conv["id"] = uow.conversations.insert(row)
                uow.event("conversation.created", "conversation", str(conv["id"]), shop_id,
                          {"customer": customer})
            elif connector is not None:  # answers go where the customer wrote from last
                connect_chat(uow, conv["id"], connector["id"])
            msg = add_message(uow, conv, "customer", text, kind=kind, payload=payload,
                              client_id=client_id,
                              touch=not created and conv["state"] != "closed",
                              reserved_id=found.message_id)
            if attachment is not None:
                ctx.files.attach(uow, conv, msg, attachment)
            if not new:
                ctx.tickets.reopen_on_customer_reply(uow, cust_id, shop_id,
                                                     resolved=found.resolved)
            replies: list[dict] = []
            if command is not None:
                replies = ctx.campaigns.answer_command(uow, shop_row, conv, cust_id, command)
                if created:  # 退订 / a reply code answered: no chat for an agent's queue
                    uow.conversations.close(conv["id"], now, "campaign_command")
            elif conv["state"] in ("new", "bot"):
                replies += self.flow.bot_or_route(uow, shop_row, conv, cust_id, text, now,
                                                  known=known, routed=routed, kind=kind)
            elif conv["state"] == "queued" and kind == "text":
                # human_first: the bot covers the wait (nobody online, or a long wait)
                replies += self.flow.cover(uow, shop_row, conv, cust_id, text, now)
            if not created or conv["state"] == "bot":
                self.flow.keep_snapshot(shop_id)
            # A message into a chat already with an agent or in the queue changes nothing
            # of the chat but its message times: the row read above stands for the rest.
            # A chat this post opened and routed ahead is stored as ``row`` and not
            # changed since: nothing needs reading back.
            as_read = names = None
            if routed is not None:
                as_read = {**EMPTY_CONVERSATION, **row, "id": conv["id"]}
                names = (shop_row["key"], customer, name, routed.decision.agent, None)
            elif not created and command is None and conv["state"] in ("active", "queued"):
                # the row as read, its message times this post's (the customer's message
                # and any reply of the bot's cover are all at ``now``); its names as read
                # with it (nothing here changes the assignee or the group)
                as_read = {**conv, "last_message_at": now, "last_customer_at": now}
                names = found.names
            return self.view.post_result(uow, conv["id"], msg["id"], replies,
                                         duplicate=False, message=msg, known=as_read,
                                         names=names)

    def _customer_for_post(self, uow: UnitOfWork, shop_row: dict, key: str,
                           channel: str | None, row: tuple | None
                           ) -> tuple[int, str | None, tuple, bool, str]:
        """The customer's id (a new key makes a customer), their usual channel here, their
        profile here as routing reads it, whether the customer is new and their name; a
        first message to a shop makes the customer's profile there. ``row``: the
        customer as ``Customers.for_post`` reads them (None: no such key yet)."""
        new = row is None
        if new:
            if not SLUG_RE.match(key):
                raise InvalidInput(f"{key!r} is not a valid customer key",
                                   key="bad_customer_key", customer=key)
            cid = uow.customers.create(key, uow.now)
            uow.event("customer.created", "customer", key, shop_row["id"], {"via": "message"})
            row = (cid, None, None, None, None, None, None, None, None, key)
        if row[1] is None:
            uow.customers.add_profile(row[0], shop_row["id"], channel)
            # the profile just made, with the table's defaults (no need to read it back)
            return row[0], channel, (0, "[]", None, channel, None, None, None), new, row[9]
        return row[0], row[5], row[2:9], new, row[9]

    # -- agents ---------------------------------------------------------------------------
    def _may_take_one_more(self, uow: UnitOfWork, a: dict, handle: str) -> None:
        """Refuse unless agent row ``a`` is online or busy and below capacity (an agent
        pulling a chat: accept-next, a reopen)."""
        if a["status"] not in ("online", "busy"):
            raise Conflict(f"agent {handle!r} is {a['status']}; set the status to online first",
                           key="agent_not_online", agent=handle, status=a["status"])
        active = uow.agents.active_count(a["id"])
        if active >= a["max_chats"]:
            raise Conflict(f"agent {handle!r} is at capacity ({active}/{a['max_chats']})",
                           key="agent_at_capacity", agent=handle, active=active,
                           max=a["max_chats"])

    def accept_next(self, agent: str) -> dict | None:
        """The agent takes the best waiting chat they may serve; None when none waits.

        Online and busy agents may pull (busy means routing gives them nothing new, as
        千牛's 忙碌); away and offline agents may not.
        """
        with self.ctx.write() as uow:
            a = uow.agents.by_handle(agent)
            self._may_take_one_more(uow, a, agent)
            best = None
            for shop_id in uow.agents.shop_ids(a["id"]):
                counts = uow.queue.band_counts(shop_id)
                if not counts:
                    continue
                me = self.flow.routing_state(uow, shop_id, staff=True).agent(agent)
                for pool_text in counts:
                    # pulling is deliberate: the one who transferred a chat may take it back
                    pool = {k: v for k, v in self.places.pool_of(pool_text).items()
                            if k != "except"}
                    if not agent_in_pool(me, pool):
                        continue
                    first = uow.queue.head(shop_id, pool_text)
                    if first is not None and (best is None or first.order() < best.order()):
                        best = first
            if best is None:
                return None
            conv = uow.conversations.get(best.id)
            self.flow.assign(uow, conv, agent, uow.now, "accepted", pulled=True)
            return self.view.current(uow, conv["id"])

    def set_agent_status(self, agent: str, status: str) -> dict:
        """Online, busy, away or offline. Coming online takes waiting chats up to capacity;
        going offline hands the agent's open chats back to routing (others or the queue)."""
        if status not in ("online", "busy", "away", "offline"):
            raise UsageError(f"status must be online, busy, away or offline, not {status!r}",
                             key="unknown_status", status=status)
        with self.ctx.write() as uow:
            a = uow.agents.by_handle(agent)
            returned, assigned = self.status_changed(uow, a["id"], agent, a["status"], status)
            return {"agent": agent, "status": status, "returned": returned,
                    "assigned": [cid for cid, h in assigned if h == agent]}

    def status_changed(self, uow: UnitOfWork, agent_id: int, handle: str, old: str | None,
                       status: str) -> tuple[list[int], list[tuple[int, str]]]:
        """An agent's status moves from ``old`` to ``status`` (whoever changes it: the
        status command, ``agent update`` or ``apply``): the row, the ``agent.status``
        event online time is measured from, and the queue: going offline hands the
        agent's open chats back to routing, coming online takes waiting chats."""
        now = uow.now
        uow.agents.set_status(agent_id, old, status, now)
        uow.event("agent.status", "agent", handle, None, {"from": old, "to": status})
        returned: list[int] = []
        assigned: list[tuple[int, str]] = []
        if status == "offline":
            for cid in uow.conversations.active_of(agent_id):
                conv = uow.conversations.get(cid)
                uow.conversations.requeue(cid, self.flow.waiting_since(uow, cid, now))
                system(uow, conv, "客服已下线，正在为您转接其他客服，请稍候。",
                       payload={"returned": handle})
                uow.event("conversation.returned", "conversation", str(cid), conv["shop_id"],
                          {"agent": handle})
                self.flow.reroute(uow, uow.shops.by_id(conv["shop_id"]), conv, now)
                returned.append(cid)
        if status == "online":
            assigned = self.flow.drain_agent_shops(uow, agent_id, now)
        return returned, assigned

    def left_shops(self, uow: UnitOfWork, agent_id: int, handle: str,
                   shops: set[str]) -> None:
        """Agent ``handle`` no longer works for ``shops``: their open chats there go back
        to routing (their history there is no longer theirs to read), and the shops'
        pointers at them (customers' dedicated and last agent, SLA escalation) are
        cleared, so no record of a shop names an agent of another."""
        now = uow.now
        for shop in sorted(shops):
            shop_id = uow.shops.id_of(shop)
            if shop_id is None:
                continue
            returned = []
            for cid in uow.conversations.active_of(agent_id, shop_id):
                conv = uow.conversations.get(cid)
                uow.conversations.requeue(cid)
                system(uow, conv, "客服已调离本店，正在为您转接其他客服，请稍候。",
                       payload={"returned": handle})
                uow.event("conversation.returned", "conversation", str(cid), shop_id,
                          {"agent": handle, "left_shop": True})
                self.flow.reroute(uow, uow.shops.by_id(shop_id), conv, now)
                returned.append(cid)
            cleared = uow.agents.clear_references(shop_id, agent_id)
            uow.event("agent.left_shop", "agent", handle, shop_id,
                      {"returned": returned, "references_cleared": cleared})

    def reply(self, agent: str, conversation: int, text: str, *, kind: str = "text",
              payload: Any = None, attachment: Any = None) -> dict:
        """The assigned agent writes to the customer (``attachment``: a checked file,
        see ``post_message``)."""
        check_text(text, what="reply")
        if attachment is not None:
            kind, payload = "file", attachment.payload
        else:
            check_payload(kind, payload)
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)  # the chat first, as the server's policies
            a = uow.agents.by_handle(agent)
            self.must_hold(conv, a, "reply to")
            uow.conversations.replied(conv["id"], uow.now)
            msg = add_message(uow, conv, "agent", text, agent_id=a["id"], agent=agent,
                              kind=kind, payload=payload)
            if attachment is not None:
                self.ctx.files.attach(uow, conv, msg, attachment)
            return msg

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
        check_text_rules(note or "", "note", multiline=True)
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)  # the chat first, as the server's policies
            a = uow.agents.by_handle(by)
            self.must_hold(conv, a, "transfer")
            now = uow.now
            shop = uow.shops.by_id(conv["shop_id"])
            payload = {"from": by, "to_agent": to_agent, "to_group": to_group, "note": note}
            notice = f"转接说明：{note}" if note else "会话已转接"
            if to_agent is not None:
                if to_agent == by:
                    raise UsageError("cannot transfer a chat to yourself",
                                     key="transfer_to_self")
                target = uow.agents.by_handle(to_agent)
                if not uow.agents.in_shop(target["id"], shop["id"]):
                    raise Conflict(f"agent {to_agent!r} does not work for shop {shop['key']!r}",
                                   key="agent_not_in_shop", agent=to_agent,
                                   shop=shop["key"])
                system(uow, conv, notice, kind="text", payload={"transfer": payload})
                self.flow.assign(uow, conv, to_agent, now, "transfer")
                uow.conversations.update(conv["id"], pool=_dumps({"agent": to_agent}))
            else:
                g = uow.shops.group(to_group)
                if g is None:
                    raise NotFound(f"no group {to_group!r}", key="no_group", group=to_group)
                if g[1] != shop["id"]:
                    raise Conflict(f"group {to_group!r} is not in shop {shop['key']!r}",
                                   key="group_not_in_shop", group=to_group,
                                   shop=shop["key"])
                system(uow, conv, notice, payload={"transfer": payload})
                # the one handing over is no candidate, now or when the chat is queued
                pool = {"group": to_group, "except": by}
                state = self.flow.routing_state(uow, shop["id"])
                handle = state.choose(pool, target_key(pool), "least_load", None)
                uow.conversations.update(conv["id"], pool=_dumps(pool), group_id=g[0])
                if handle is not None:
                    self.flow.assign(uow, conv, handle, now, "transfer")
                else:
                    uow.conversations.requeue(
                        conv["id"], self.flow.waiting_since(uow, conv["id"], now))
                    uow.event("conversation.queued", "conversation", str(conv["id"]),
                              shop["id"], {"pool": pool})
                    self.places.tell_position(uow, shop, conv["id"], state)
            uow.event("conversation.transferred", "conversation", str(conv["id"]),
                      shop["id"], payload)
            self.flow.drain(uow, shop["id"], now)
            return self.view.current(uow, conv["id"])

    def close_conversation(self, conversation: int, *, by: str | None = None,
                           reason: str = "resolved") -> dict:
        """Close a chat and ask the customer for a 1-5 rating; the agent frees a slot."""
        if not isinstance(reason, str) or len(reason) > 200:
            raise InvalidInput("reason must be text of at most 200 characters", key="reason_bad")
        check_text_rules(reason, "reason", multiline=True)
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            if conv["state"] == "closed":
                raise Conflict(f"conversation {conversation} is closed already",
                               key="conversation_closed", conversation=conversation)
            if by is not None:
                self.must_hold(conv, uow.agents.by_handle(by), "close")
            self.close(uow, conv, reason)
            self.flow.drain(uow, conv["shop_id"])
            return self.view.current(uow, conversation)

    def reopen_conversation(self, conversation: int, *, by: str) -> dict:
        """Reopen a chat ``by`` closed, within ten minutes of the close, before the
        customer rated it or wrote again: it comes back to ``by`` (who must be online or
        busy, with room), and the customer is told."""
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            if conv["state"] != "closed":
                raise Conflict(f"conversation {conversation} is not closed",
                               key="reopen_not_closed", conversation=conversation)
            a = uow.agents.by_handle(by)
            if conv["assignee_id"] != a["id"]:
                raise Conflict(f"agent {by!r} cannot reopen conversation {conversation}: "
                               "another agent served it last", key="reopen_not_yours",
                               agent=by, conversation=conversation)
            if uow.now - (conv["closed_at"] or 0) > REOPEN_WINDOW_MS:
                raise Conflict(f"conversation {conversation} was closed more than "
                               f"{REOPEN_WINDOW_MS // 60_000} minutes ago",
                               key="reopen_too_late", conversation=conversation,
                               minutes=REOPEN_WINDOW_MS // 60_000)
            if conv["rating"] is not None:
                raise Conflict(f"conversation {conversation} was rated already",
                               key="reopen_rated", conversation=conversation)
            newer = uow.conversations.newer_of(conv)
            if newer is not None:
                raise Conflict(f"the customer wrote again since: conversation {newer}",
                               key="reopen_newer", conversation=newer)
            self._may_take_one_more(uow, a, by)
            uow.conversations.update(conversation, state="active", closed_at=None,
                                     close_reason=None)
            conv = uow.conversations.get(conversation)
            system(uow, conv, "会话已重新打开，客服会继续为您服务。")
            uow.event("conversation.reopened", "conversation", str(conversation),
                      conv["shop_id"], {"by": by})
            return self.view.current(uow, conversation)

    def close(self, uow: UnitOfWork, conv: dict, reason: str) -> None:
        """Close ``conv`` now: the customer's last agent noted, the agent idle when it was
        their last chat, the rating asked for, the event."""
        now = uow.now
        self.places.forget_avg(conv["shop_id"])
        uow.conversations.close(conv["id"], now, reason)
        if conv["assignee_id"] is not None:
            uow.customers.served(conv["customer_id"], conv["shop_id"], conv["assignee_id"], now)
            if uow.agents.active_count(conv["assignee_id"]) == 0:
                uow.agents.idle_since(conv["assignee_id"], now)
        system(uow, conv, "本次服务已结束，请为我们的服务打分（1-5 分）。", kind="survey",
               payload={"rating": [1, 2, 3, 4, 5]})
        uow.event("conversation.closed", "conversation", str(conv["id"]), conv["shop_id"],
                  {"reason": reason})

    def rate(self, conversation: int, rating: int, comment: str | None = None) -> dict:
        """The customer rates a closed chat, once, 1 to 5."""
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise InvalidInput(f"rating must be a whole number from 1 to 5, got {rating!r}",
                               key="bad_rating", rating=rating)
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            if conv["state"] != "closed":
                raise Conflict(f"conversation {conversation} is still open; rate it after close",
                               key="rate_open_conversation", conversation=conversation)
            if conv["rating"] is not None:
                raise Conflict(f"conversation {conversation} is rated already", key="rated_already",
                               conversation=conversation)
            uow.conversations.update(conv["id"], rating=rating, rated_at=uow.now)
            if comment:
                add_message(uow, conv, "customer", check_text(comment, what="comment"),
                            kind="text", payload={"rating_comment": True})
            uow.event("conversation.rated", "conversation", str(conv["id"]), conv["shop_id"],
                      {"rating": rating})
            return self.view.current(uow, conversation)

    def close_idle(self) -> list[int]:
        """Close chats with no message for their shop's idle time; returns their ids."""
        with self.ctx.write() as uow:
            now = uow.now
            # per shop, only the chats idle past its limit, through the idle index (state,
            # last message): the open chats that are not idle are never read
            due = []
            for shop_id, settings in uow.shops.settings_by_id():
                limit = settings.get("idle_close_min", 30) * 60_000
                due += uow.conversations.idle_ids(shop_id, now - limit)
            closed = []
            touched = set()
            for cid in sorted(due):
                conv = uow.conversations.get(cid)
                self.close(uow, conv, "idle")
                closed.append(cid)
                touched.add(conv["shop_id"])
            for shop_id in touched:
                self.flow.drain(uow, shop_id, now)
            return closed


def _dumps(value: Any) -> str:
    """A pool as stored by a transfer (JSON, ASCII-escaped as before)."""
    return json.dumps(value)
