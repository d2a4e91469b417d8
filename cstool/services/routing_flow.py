"""Where a customer's chat goes: the bot or a human; which human now, or the queue.

The routing engine (:mod:`cstool.routing`) is pure; this service reads what it needs
from the unit of work (agents and their load, the shop's rules, round-robin state, the
customer's facts), asks it, and writes the outcome (assignment or queueing, its notice
and event). Assignment happens inside the caller's write transaction, so two agents
never get the same chat and no agent goes above capacity.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from .. import service
from ..bot.step import BotReply
from ..errors import Conflict
from ..routing import Decision, RoundRobinState, RoutingState, RuleSet, route, target_key
from ..shop_hours import off_hours_reply
from ..storage.unit_of_work import UnitOfWork
from ..values import format_money
from .context import ServiceContext
from .messages import add_message, system
from .queue_places import QueuePlacesService, position_text, read_routing_state

DAY_MS = 86_400_000
DETAIL_AGENTS = 40
MESSAGE_KINDS = ("text", "image", "product", "coupon", "invitation", "order", "survey")
PAID_STATES = ("paid", "shipped", "delivered", "refund_requested")
_json = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False)


@dataclass
class Known:
    """What a post read already of the customer, so routing does not read it again:
    their orders in the shop (status, total; newest first) and their profile as routing
    reads it (``storage.repos.customers.NO_PROFILE`` columns)."""

    orders: list | None = None
    profile: tuple | None = None


@dataclass
class Routed:
    """A chat routed before it was stored (``route_ahead``): the decision and the agents
    as routing left them."""

    decision: Decision
    state: RoutingState


class RoutingFlow:
    """Bot or human, and which human (``ctx.routing``)."""

    def __init__(self, ctx: ServiceContext, places: QueuePlacesService):
        self.ctx = ctx
        self.places = places
        # Shops this process keeps open whatever their business hours (the demo's demo
        # hours: ``keep_open``); nothing is written to the file.
        self.kept_open: frozenset[str] = frozenset()

    def mode_now(self, shop: dict, now: int) -> str:
        """The shop's service mode in force at ``now`` (its own mode while kept open)."""
        if shop["key"] in self.kept_open:
            return shop["service_mode"]
        return service.effective_mode(shop, now)

    # -- what routing reads ---------------------------------------------------------------
    def routing_state(self, uow: UnitOfWork, shop_id: int, *,
                      staff: bool = False) -> RoutingState:
        """The shop's agents with their live load (see ``read_routing_state``)."""
        return read_routing_state(uow, shop_id, staff=staff)

    def ruleset(self, uow: UnitOfWork, shop_id: int) -> RuleSet:
        """The shop's rules, with the text and id of this version."""
        defs = uow.routing.rule_defs(shop_id)
        ruleset = RuleSet(defs)
        ruleset.stored_text = json.dumps(defs, ensure_ascii=False, sort_keys=True,
                                         separators=(",", ":"))
        ruleset.stored_id = hashlib.sha1(ruleset.stored_text.encode()).hexdigest()[:20]
        return ruleset

    def rr_state(self, uow: UnitOfWork, shop_id: int) -> RoundRobinState:
        """The shop's round-robin state."""
        return RoundRobinState.from_dict(uow.routing.round_robin(shop_id))

    def snapshot(self, uow: UnitOfWork, shop_id: int
                 ) -> tuple[RoutingState, RuleSet, RoundRobinState]:
        """Agents, rules and round-robin state of a shop, cached between our own posts.

        The cache holds while no other connection has committed (PRAGMA data_version)
        and the only write transactions since were posts that kept it in step
        (``keep_snapshot``); anything else rebuilds it from the file.
        """
        db = self.ctx.database
        cache = self.ctx.caches.snapshots
        dv = db.data_version()
        entry = cache.get(shop_id)
        if entry and entry["dv"] == dv and entry["gen"] == db.generation - 1:
            entry["gen"] = db.generation
            return entry["state"], entry["rules"], entry["rr"]
        state = self.routing_state(uow, shop_id)
        rules = self.ruleset(uow, shop_id)
        rr = self.rr_state(uow, shop_id)
        # the rules as they stand, once per version: stored decisions name them (explain
        # derives the reasons from them again)
        uow.routing.remember_ruleset(rules.stored_id, shop_id, rules.stored_text, uow.now)
        cache[shop_id] = {"dv": dv, "gen": db.generation, "state": state, "rules": rules,
                          "rr": rr}
        return state, rules, rr

    def keep_snapshot(self, shop_id: int) -> None:
        """A write that changed nothing routing looks at keeps the shop's snapshot valid."""
        entry = self.ctx.caches.snapshots.get(shop_id)
        if entry and entry["gen"] == self.ctx.database.generation - 1:
            entry["gen"] = self.ctx.database.generation

    def facts(self, uow: UnitOfWork, shop: dict, customer_id: int, conv: dict, text: str,
              now: int, known: Known | None = None) -> dict:
        """What routing rules may look at, for one chat."""
        known = known or Known()
        prof = known.profile
        if prof is None:
            prof = uow.customers.profile_facts(customer_id, shop["id"])
        orders = known.orders
        if orders is None:
            orders = uow.customers.orders_of(customer_id, shop["id"])
        spend = sum(t for s, t in orders if s in PAID_STATES)
        category = None
        if conv.get("product_key"):
            category = uow.shops.product_category(conv["product_key"])
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

    def classification(self, uow: UnitOfWork, customer_id: int, shop_id: int) -> str:
        """The customer's classification in the shop, from their orders there."""
        return service.classify([o[0] for o in uow.customers.orders_of(customer_id,
                                                                        shop_id)])

    def refresh_classification(self, uow: UnitOfWork, customer_id: int,
                               shop_id: int) -> None:
        """Keep open conversations' classification current after an order changes."""
        uow.conversations.refresh_classification(
            customer_id, shop_id, self.classification(uow, customer_id, shop_id))

    # -- the bot or a human ---------------------------------------------------------------
    def bot_or_route(self, uow: UnitOfWork, shop: dict, conv: dict, cust_id: int, text: str,
                     now: int, *, known: Known | None = None,
                     routed: Routed | None = None, kind: str = "text") -> list[dict]:
        """A customer's message to a chat with the bot or new: the bot answers, or the
        chat goes to a human (the shop's mode, the customer asking, the bot handing off).

        A file (``kind`` ``file``: a picture, PDF or video) is not words: the bot cannot
        see it and never reads its name as a question (``[图片 破损照片.jpg]`` is not a
        claim of damage), so a file goes to a human as a bot's handoff would."""
        mode = self.mode_now(shop, now)
        if mode in ("human_first", "human_only") or routed is not None:
            out = self.to_human(uow, shop, conv, cust_id, text, now, known=known,
                                routed=routed)
            if mode == "human_first" and kind == "text":  # the bot answers while they wait
                told = (out[-1].get("payload") or {}) if out else {}
                if "queue_position" in told:  # queued: the notice has the place and wait
                    out += self.cover(uow, shop, conv, cust_id, text, now, tell_place=False,
                                      place=(told["queue_position"],
                                             told["estimated_wait_s"]))
            return out
        if kind == "file":
            if mode == "bot_only":
                uow.conversations.update(conv["id"], state="bot")
                return [system(uow, conv, off_hours_reply(shop, now))]
            return self.to_human(uow, shop, conv, cust_id, text, now, known=known)
        if mode == "bot_first" and service.asks_for_human(text):
            if conv["state"] == "bot":  # the bot notes what it could not help with
                self.ctx.knowledge.bot_turn(uow, shop, conv, cust_id, text)
            return self.to_human(uow, shop, conv, cust_id, text, now, known=known)
        reply = self.ctx.knowledge.bot_turn(uow, shop, conv, cust_id, text)
        if mode == "bot_only":
            uow.conversations.update(conv["id"], state="bot")
            if reply.action == "handoff":
                return [system(uow, conv, off_hours_reply(shop, now))]
            return [self.bot_message(uow, conv, reply)]
        if reply.action == "handoff":  # bot_first
            return self.to_human(uow, shop, conv, cust_id, text, now, known=known)
        uow.conversations.update(conv["id"], state="bot")
        return [self.bot_message(uow, conv, reply)]

    # -- the bot behind human_first ------------------------------------------------------
    def covers(self, uow: UnitOfWork, shop: dict, conv_id: int, now: int,
               place: tuple[int | None, int | None] | None = None
               ) -> tuple[bool, int | None, int | None]:
        """Whether the bot covers a queued chat of a human_first shop now: nobody who may
        serve it is online (no wait can be estimated), or the estimated wait is above
        the shop's ``bot_cover_after_s``. With the chat's place and wait (``place``: as
        read already). Out of hours a human_first shop's chats still queued (from the day,
        or handed back when the last agent went offline) are covered too, unless the
        shop's mode then is human_only: the night is when nobody is online."""
        mode = self.mode_now(shop, now)
        if mode != "human_first" and (mode == "human_only"
                                      or shop.get("service_mode") != "human_first"):
            return False, None, None
        position, wait = place or self.places.position(uow, shop["id"], conv_id)
        if position is None:  # not waiting (assigned, closed)
            return False, None, None
        limit = (shop.get("settings") or {}).get("bot_cover_after_s")
        return wait is None or (limit is not None and wait > limit), position, wait

    def cover(self, uow: UnitOfWork, shop: dict, conv: dict, cust_id: int, text: str,
              now: int, *, tell_place: bool = True,
              place: tuple[int | None, int | None] | None = None) -> list[dict]:
        """A customer's message to a queued chat the bot covers (``covers``): the bot
        answers what it can (its did-you-mean too; nothing when it would hand off) and,
        unless the queue notice just said it (``tell_place``), tells the customer their
        place. The chat stays queued for a human, who sees the bot's turns in the
        transcript. Nothing when the bot does not cover the chat."""
        on, position, wait = self.covers(uow, shop, conv["id"], now, place)
        if not on:
            return []
        out = []
        reply = self.ctx.knowledge.bot_turn(uow, shop, conv, cust_id, text)
        if reply.action != "handoff":
            out.append(self.bot_message(uow, conv, reply, cover=True))
        if tell_place:
            out.append(system(uow, conv, position_text(shop, position, wait),
                              payload={"queue_position": position, "estimated_wait_s": wait,
                                       "cover": True}))
        if out:
            uow.event("conversation.bot_cover", "conversation", str(conv["id"]),
                      shop["id"], {"action": reply.action, "position": position,
                                   "estimated_wait_s": wait})
        return out

    def bot_message(self, uow: UnitOfWork, conv: dict, reply: BotReply, *,
                    cover: bool = False) -> dict:
        """The bot's reply as a message of the chat (``cover``: to a chat queued for a
        human, marked so in its payload)."""
        kind = reply.kind if reply.kind in MESSAGE_KINDS else "text"
        payload = {**reply.payload, "action": reply.action, "entry": reply.entry,
                   "confidence": round(float(reply.confidence), 4),
                   "choices": reply.choices, "reason": reply.reason}
        if cover:
            payload["cover"] = True
        return add_message(uow, conv, "bot", reply.text or reply.answer or "", kind=kind,
                           payload=payload)

    def route_ahead(self, uow: UnitOfWork, shop: dict, conv: dict, cust_id: int, text: str,
                    now: int, known: Known) -> tuple[dict, Routed | None]:
        """The row to store for a chat a post opens (``conv``, the chat as it opens), and
        the routing made for it (None: the bot has it first).

        A chat that goes straight to a human (the shop's mode says so, or the customer
        asks for one in bot-first) is routed before it is stored: it is inserted assigned
        or queued, every index of the chat written once rather than inserted and then
        moved by an update. ``to_human`` finishes the routing (the assignment notice or
        the queue position) after the customer's message, as for any other chat.
        """
        mode = self.mode_now(shop, now)
        if mode not in ("human_first", "human_only") and not (
                mode == "bot_first" and service.asks_for_human(text)):
            return conv, None
        decision, state, trace = self.decide(uow, shop, conv, cust_id, text, now, known)
        row = {**conv, "pool": _json(decision.pool), "rule_key": decision.rule,
               "priority": decision.priority, "route_trace": trace, "handoff_at": now}
        if decision.agent:
            agent_id = state.ids.get(decision.agent) or uow.agents.id_of(decision.agent)
            row.update(state="active", assignee_id=agent_id, assigned_at=now,
                       agent_seen_at=None)
        else:
            row.update(state="queued", queued_at=now, assignee_id=None)
        return row, Routed(decision, state)

    def decide(self, uow: UnitOfWork, shop: dict, conv: dict, cust_id: int, text: str,
               now: int, known: Known | None = None) -> tuple[Decision, RoutingState, str]:
        """Where a chat goes (the routing state kept in step with it) and the trace."""
        facts = self.facts(uow, shop, cust_id, conv, text, now, known)
        state, ruleset, rr = self.snapshot(uow, shop["id"])
        # Every agent's reason in the trace for desks up to DETAIL_AGENTS; bigger ones
        # name the chosen agent and count the rest (route test always gives detail).
        decision = route(ruleset, facts, state, now, rr, detail=len(state) <= DETAIL_AGENTS,
                         utc_offset_minutes=service.utc_offset_minutes(now, shop["timezone"]))
        if decision.agent and decision.strategy == "round_robin":
            uow.routing.save_round_robin(shop["id"], rr.to_dict())
        trace = _json(decision.to_stored(ruleset.stored_id))
        if decision.agent:
            # The snapshot is exact under the write lock (data_version and our own
            # generation checked), so its capacity check stands: one write assigns.
            state.assign(decision.agent, now)  # keep the cached snapshot in step
        return decision, state, trace

    def to_human(self, uow: UnitOfWork, shop: dict, conv: dict, cust_id: int, text: str,
                 now: int, *, known: Known | None = None,
                 routed: Routed | None = None) -> list[dict]:
        """Route a chat to a human: assign now, or queue and tell the customer."""
        if routed is not None:  # routed and stored so by route_ahead
            decision, state = routed.decision, routed.state
        else:
            if conv["state"] != "new":  # routing reads what the customer said so far
                text = self.customer_words(uow, conv["id"]) or text
            decision, state, trace = self.decide(uow, shop, conv, cust_id, text, now, known)
            pool = _json(decision.pool)
            if decision.agent:
                uow.conversations.routed_to_agent(conv["id"], pool, decision.rule,
                                                  decision.priority, trace, decision.agent,
                                                  now)
            else:
                uow.conversations.routed_to_queue(conv["id"], pool, decision.rule,
                                                  decision.priority, trace, now)
        if decision.agent:
            chosen = state.agent(decision.agent)
            return [self.assigned(uow, conv, decision.agent, chosen.name or decision.agent,
                                  now, "routed")]
        uow.event("conversation.queued", "conversation", str(conv["id"]), shop["id"],
                  {"pool": decision.pool, "priority": decision.priority})
        return [self.places.tell_position(uow, shop, conv["id"], state)]

    # -- assignment -----------------------------------------------------------------------
    def assign(self, uow: UnitOfWork, conv: dict, handle: str, now: int, how: str, *,
               pulled: bool = False) -> dict:
        """Give ``conv`` to agent ``handle``; refuse above capacity or when unavailable
        (a busy agent may pull a chat, but is given none)."""
        agent = uow.agents.by_handle(handle)
        active = uow.agents.active_count(agent["id"])
        if agent["status"] != "online" and not (pulled and agent["status"] == "busy"):
            raise Conflict(f"agent {handle!r} is {agent['status']}", key="agent_unavailable",
                           agent=handle, status=agent["status"])
        if active >= agent["max_chats"]:
            raise Conflict(f"agent {handle!r} is at capacity ({active}/{agent['max_chats']})",
                           key="agent_at_capacity", agent=handle, active=active,
                           max=agent["max_chats"])
        uow.conversations.assign(conv["id"], agent["id"], now)
        return self.assigned(uow, conv, handle, agent["name"], now, how)

    def assigned(self, uow: UnitOfWork, conv: dict, handle: str, name: str, now: int,
                 how: str) -> dict:
        """What follows an assignment: the agent's last-assigned time, the event, the
        customer told who serves them."""
        uow.agents.assigned_at(handle, now)
        uow.event("conversation.assigned", "conversation", str(conv["id"]), conv["shop_id"],
                  {"agent": handle, "how": how})
        return system(uow, conv, f"客服{name}为您服务", payload={"assigned": handle, "how": how})

    def drain(self, uow: UnitOfWork, shop_id: int, now: int | None = None
              ) -> list[tuple[int, str]]:
        """Hand queued chats of a shop to agents who can take them, best first.

        The same hand-out as walking the whole queue in serving order, read from the
        head of each pool: the best head goes to its pool's agents; a pool with nobody
        free is done (assignments only take capacity, so nobody frees up in it during
        the drain). Costs the chats handed out and the pools, not the queue's length."""
        now = uow.now if now is None else now
        counts = uow.queue.band_counts(shop_id)
        if not counts:
            return []
        state = self.routing_state(uow, shop_id)
        rr = self.rr_state(uow, shop_id)
        heads = {}
        for pool_text in counts:
            first = uow.queue.head(shop_id, pool_text)
            if first is not None:
                heads[pool_text] = first
        done = []
        while heads:
            pool_text = min(heads, key=lambda p: heads[p].order())
            conv = uow.conversations.get(heads[pool_text].id)
            strategy = "least_load"
            if conv.get("route_trace"):
                strategy = json.loads(conv["route_trace"]).get("strategy") or strategy
            pool = self.places.pool_of(pool_text)
            handle = state.choose(pool, target_key(pool), strategy, rr)
            if handle is None:
                del heads[pool_text]
                continue
            self.assign(uow, conv, handle, now, "from_queue")
            state.assign(handle, now)
            if strategy == "round_robin":
                rr.advance(target_key(pool), handle)
            done.append((conv["id"], handle))
            following = uow.queue.head(shop_id, pool_text)
            if following is None:
                del heads[pool_text]
            else:
                heads[pool_text] = following
        uow.routing.save_round_robin(shop_id, rr.to_dict())
        return done

    def drain_agent_shops(self, uow: UnitOfWork, agent_id: int, now: int
                          ) -> list[tuple[int, str]]:
        """``drain`` every shop the agent works for."""
        done = []
        for shop_id in uow.agents.shop_ids(agent_id):
            done.extend(self.drain(uow, shop_id, now))
        return done

    def reroute(self, uow: UnitOfWork, shop: dict, conv: dict, now: int) -> None:
        """Route again a chat handed back (its agent went offline or left the shop)."""
        # This write changed agents or chats before routing: a snapshot kept by the
        # last post does not know it (an agent going offline would get the chat back).
        self.ctx.caches.snapshots.pop(shop["id"], None)
        self.to_human(uow, shop, uow.conversations.get(conv["id"]), conv["customer_id"],
                      self.customer_words(uow, conv["id"]), now)

    def customer_words(self, uow: UnitOfWork, conv_id: int) -> str:
        """The text routing reads for a chat routed after its first message (the bot had
        it, or its agent went offline): the customer's messages so far, oldest first (the
        first 20), one a line; so 转人工，我的快递丢了 after a bot answer routes on 快递."""
        return "\n".join(uow.messages.customer_words(conv_id))

    def waiting_since(self, uow: UnitOfWork, conv_id: int, now: int) -> int:
        """When the customer of a chat going back to the queue started waiting: at their
        first message after an agent's last one; with no agent message at all, when the
        chat first queued or handed off (a wait runs on through transfers and returns);
        when an agent has answered everything, now."""
        last_agent, first_wait = uow.messages.wait_marks(conv_id)
        if last_agent is None:
            return min(first_wait, now)
        unanswered = uow.messages.first_customer_after(conv_id, last_agent)
        return now if unanswered is None else unanswered
