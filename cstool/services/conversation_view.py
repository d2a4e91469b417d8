"""Conversations as the desk shows them: one chat (with its queue place), lists, the
shop queue page by page, and routing explained (a dry run, a recorded decision)."""

from __future__ import annotations

import json
import re
from typing import Any

from .. import service
from ..api.bounds import check_whole
from ..api.operations import check_limit
from ..errors import NotFound, UsageError
from ..routing import Decision, RuleSet, explain, route
from ..storage.repos.labels import Labels, Notes
from ..storage.repos.queue import QueueKey
from ..storage.unit_of_work import UnitOfWork
from ..storage.where import Where
from ..text_rules import check_label
from ..values import SLUG_RE, format_time
from .context import ServiceContext
from .desk_checks import check_context, check_text
from .labels_notes import note_dict
from .messages import message_dict
from .queue_places import QueuePlaces, QueuePlacesService
from .routing_flow import RoutingFlow

HOW = {"routed": "by routing", "from_queue": "from the queue", "accepted": "who pulled it "
       "(accept-next)", "transfer": "by a transfer"}


class ConversationView:
    """Reading conversations (``ctx.views``)."""

    def __init__(self, ctx: ServiceContext, places: QueuePlacesService, flow: RoutingFlow):
        self.ctx = ctx
        self.places = places
        self.flow = flow

    def conversation_dict(self, uow: UnitOfWork, c: dict, names: tuple | None = None,
                          place: tuple[int, int | None] | None = None) -> dict:
        """A conversation row in the public shape (its queue place when it waits).
        ``names``: (shop, customer key, customer name, assignee, group) read already."""
        if names is None:
            names = uow.conversations.names(c)
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
            position, wait = place or self.places.position(uow, c["shop_id"], c["id"])
            out["queue_position"], out["estimated_wait_s"] = position, wait
        return out

    def current(self, uow: UnitOfWork, conv_id: int) -> dict:
        """The chat as it stands now, in the public shape."""
        return self.conversation_dict(uow, uow.conversations.get(conv_id))

    def post_result(self, uow: UnitOfWork, conv_id: int, msg_id: int, replies: list[dict], *,
                    duplicate: bool, message: dict | None = None,
                    known: dict | None = None, names: tuple | None = None) -> dict:
        """What a post returns. ``known`` is the conversation's row as the post read it,
        when the post changed nothing of it but the message times: those and the names
        are read again, not the whole row; with ``names`` too, the row as it stands."""
        if known is not None and names is not None:
            conv = self.conversation_dict(uow, known, names=names)
        elif known is not None:
            names, last_message_at, last_customer_at = \
                uow.conversations.times_with_names(conv_id)
            conv = self.conversation_dict(
                uow, {**known, "last_message_at": last_message_at,
                      "last_customer_at": last_customer_at}, names=names)
        else:
            row, names = uow.conversations.with_names(conv_id)
            conv = self.conversation_dict(uow, row, names=names)
        if duplicate:
            replies = [message_dict(r) for r in uow.messages.replies_after(conv_id, msg_id)]
        if message is None:
            message = message_dict(uow.messages.row(msg_id))
        return {"conversation": conv, "message": message, "replies": replies,
                "duplicate": duplicate}

    def get_conversation(self, conversation: int, *, messages: bool = True) -> dict:
        """One conversation; with ``messages`` also its labels, messages and private
        notes (staff only: the server's customer view drops labels and notes)."""
        with self.ctx.read() as uow:
            c = uow.conversations.get(conversation)
            out = self.conversation_dict(uow, c)
            if messages:  # the whole chat: its labels, messages and notes
                out["labels"] = uow.repo(Labels).of(c["id"])
                out["messages"] = [message_dict(r)
                                   for r in uow.messages.of_conversation(c["id"])]
                # staff only: the server's customer view drops them (and the labels)
                out["notes"] = [note_dict(r) for r in uow.repo(Notes).of(c["id"])]
            return out

    def list_conversations(self, *, shop: str | None = None, state: str | None = None,
                           agent: str | None = None, customer: str | None = None,
                           limit: int = 100, after: int | None = None,
                           label: str | None = None) -> list[dict]:
        """Conversations, newest first, filtered; ``after`` pages by id (older than it);
        ``label``: only those carrying it. The places of the queued ones read each shop's
        agents and counts once; each chat comes with its labels."""
        check_limit(limit)
        where = Where()
        with self.ctx.read() as uow:
            if shop is not None:
                where.add("shop_id = ?", uow.shops.by_key(shop)["id"])
            if state is not None:
                if state not in ("bot", "queued", "active", "closed", "open"):
                    raise UsageError(f"unknown state {state!r}", key="unknown_state", state=state)
                if state == "open":
                    where.add("state IN ('bot', 'queued', 'active')")
                else:
                    where.add("state = ?", state)
            if agent is not None:
                where.add("assignee_id = ?", uow.agents.by_handle(agent)["id"])
            if customer is not None:
                cid = uow.customers.id_of(customer)
                if cid is None:
                    raise NotFound(f"no customer {customer!r}", key="no_customer",
                                   customer=customer)
                where.add("customer_id = ?", cid)
            if after is not None:
                where.add("id < ?", check_whole("after", after))
            if label is not None:
                Labels.filter(where, check_label(label))
            places: dict[int, QueuePlaces] = {}
            out = []
            rows = uow.conversations.find(where, limit)
            labels = uow.repo(Labels).of_many([c["id"] for c in rows])
            for c in rows:
                place = None
                if c["state"] == "queued":  # one reading of each shop's agents and counts
                    p = places.get(c["shop_id"])
                    if p is None:
                        p = places[c["shop_id"]] = self.places.for_read(uow, c["shop_id"])
                    place = p.place(QueueKey(
                        c["priority"], c["queued_at"] or c["created_at"], c["id"]), c["pool"])
                out.append({**self.conversation_dict(uow, c, place=place),
                            "labels": labels.get(c["id"], [])})
            return out

    def queue(self, shop: str, *, limit: int | None = None,
              after: int | None = None) -> list[dict]:
        """A shop's waiting chats in serving order, with positions and waits.

        Paged: at most ``limit`` chats (None: all), those after chat ``after`` in serving
        order (the last id of the previous page; a chat served since still marks its
        place). A page costs its own chats and the shop's pools, not the whole queue."""
        check_limit(limit)
        with self.ctx.read() as uow:
            s = uow.shops.by_key(shop)
            cursor = None
            if after is not None:
                check_whole("after", after)
                try:
                    cursor, shop_of, _state, _pool = uow.queue.key_of(after)
                except (KeyError, TypeError, ValueError):
                    cursor, shop_of = None, None
                if shop_of != s["id"]:
                    raise NotFound(f"no conversation {after} in shop {shop!r}",
                                   key="no_conversation_in_shop", conversation=str(after),
                                   shop=shop)
            keys = uow.queue.page(s["id"], cursor, limit)
            rows = uow.conversations.many_with_names([k.id for k in keys])
            places = self.places.for_read(uow, s["id"], self.flow.routing_state(uow, s["id"]))
            found = places.run([(k, rows[k.id][0]["pool"]) for k in keys])
            return [self.conversation_dict(uow, rows[k.id][0], names=(s["key"], *rows[k.id][1]),
                                           place=p)
                    for k, p in zip(keys, found, strict=True)]

    # -- routing, explained -------------------------------------------------------------
    def route_test(self, shop: str, customer: str, text: str, **context: Any) -> dict:
        """Who would get this chat now, and why: a dry run, nothing is written."""
        check_text(text)
        check_context(context.get("channel"), context.get("time_on_site_s"),
                      context.get("pages_viewed"), context.get("intent"))
        with self.ctx.read() as uow:
            s = uow.shops.by_key(shop)
            if context.get("product") is not None:
                check_product(uow, s, context["product"])
            cid = uow.customers.id_of(customer)
            if cid is None:
                raise NotFound(f"no customer {customer!r}", key="no_customer",
                               customer=customer)
            now = uow.now
            classification = self.flow.classification(uow, cid, s["id"])
            conv = {**context, "classification": classification,
                    "intent": context.get("intent") or service.intent_of(classification, text),
                    "product_key": context.get("product")}
            facts = self.flow.facts(uow, s, cid, conv, text, now)
            decision = route(self.flow.ruleset(uow, s["id"]), facts,
                             self.flow.routing_state(uow, s["id"]), now,
                             self.flow.rr_state(uow, s["id"]).copy(), detail=True,
                             utc_offset_minutes=service.utc_offset_minutes(now, s["timezone"]))
            d = decision.to_dict()
            return {**d, "explanation": explain(Decision.from_dict(d))}

    def route_explain(self, conversation: int) -> dict:
        """The routing decision recorded for a conversation, with the reasons."""
        with self.ctx.read() as uow:
            c = uow.conversations.get(conversation)
            if not c.get("route_trace"):
                raise NotFound(f"conversation {conversation} was never routed to a human "
                               "(it stayed with the bot)", key="never_routed",
                               conversation=conversation)
            stored = json.loads(c["route_trace"])
            ruleset = None
            if stored.get("v") == 2:
                text = uow.routing.ruleset_text(stored["rules"])
                ruleset = RuleSet(json.loads(text)) if text else None
            decision = Decision.from_stored(stored, ruleset)
            out = {**decision.to_dict(), "explanation": explain(decision)}
            history = _history(uow, conversation)
        out["history"] = history
        if history:
            out["explanation"] += ("\n\nWhat happened to the chat (the decision above is the "
                                   "latest routing made; display zone):\n")
            out["explanation"] += "\n".join(
                f"  {h['at'][:19].replace('T', ' ')}  {h['text']}" for h in history)
        return out


_PAGE_PARTS = re.compile(r"[^/?&=#;\s]+")


def page_product(uow: UnitOfWork, shop_id: int, entry_page: str | None) -> str | None:
    """The shop's product an entry page names (``/item/lf-dress-001``,
    ``…/item.htm?id=lf-dress-001``, ``/p/lf-dress-001.html``): the last part of its
    path or query that is a product key of the shop; None when none is."""
    if not isinstance(entry_page, str) or not entry_page:
        return None
    parts = _PAGE_PARTS.findall(entry_page[:500])
    tried = 0
    for part in reversed(parts):
        key = re.sub(r"\.(html?|php|aspx?)$", "", part, flags=re.IGNORECASE)
        if not SLUG_RE.fullmatch(key):
            continue
        if uow.shops.has_product(shop_id, key):
            return key
        tried += 1
        if tried >= 4:
            return None
    return None


def check_product(uow: UnitOfWork, shop: dict, product: str) -> None:
    """Refuse a product the shop does not sell."""
    if not uow.shops.has_product(shop["id"], product):
        raise NotFound(f"no product {product!r} in shop {shop['key']!r}", key="no_product",
                       product=product, shop=shop["key"])


def _history(uow: UnitOfWork, conversation: int) -> list[dict]:
    """What routing and the agents did with a chat, from its system notices: queued,
    assigned (and how), transferred, handed back, closed."""
    rows = uow.messages.system_notices(conversation)
    names = uow.agents.names()
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
