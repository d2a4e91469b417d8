"""Write a simulated day into a data file, the way the desk writes it, so that
``cstool metrics report`` (and the dashboard, ``conv show``, ``metrics agent``) read the
same conversations the simulation counted.

Into the file (a copy of the source, made by the caller with ``Backend.backup``) go:
the agents the roster cloned (``<handle>-simN``, same groups, skills, level and
capacity), one new customer per conversation (``sim<seed>-0000001`` ..., with the
profile of the customer it was drawn from), the conversations with their messages and
events (system notices with the desk's payloads: ``assigned``, ``queue_position``, the
close survey), the agents' status changes, and the shop's service mode or the agents'
capacity when the run overrode them. Then the metric facts are folded, so the first
report is quick.

One difference from a live desk, on purpose: a customer who gives up in the queue
closes the chat then (reason ``abandoned``), where the desk would wait for the idle
close; that is the moment Erlang A counts them gone.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import Conflict
from ..shop_hours import off_hours_reply
from ..storage.events import append_events
from ..storage.repos import simulated_days as repo
from .day import BOT_MODES, DayResult, bot_writes
from .day_timeline import Day, SimConversation
from .day_writer import access_noter, write
from .inputs import ConversationModel
from .world import ShopWorld

if TYPE_CHECKING:  # the simulated day is written into the Local backend's own file
    from ..backend.local import LocalBackend

ASSIGNED = "客服{name}为您服务"
SURVEY = "本次服务已结束，请为我们的服务打分（1-5 分）。"
HANDOFF_ASK = "转人工"
FIRST_REPLIES = ("亲，您好，我来为您处理~", "在的亲，请稍等，马上为您查看",
                 "您好，这边是人工客服，请讲~")
FOLLOW_UPS = ("好的", "那大概要多久呢", "还有别的办法吗", "嗯嗯，明白了", "可以再快一点吗")
REPLIES = ("亲，已经帮您处理好了", "好的亲，这边已经为您登记", "亲，稍等我帮您确认一下",
           "没问题的亲", "亲，预计1-2天哦")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Writer:
    """Turns simulated chats into ``day_timeline.SimConversation`` timelines."""

    def __init__(self, world: ShopWorld, result: DayResult, agent_ids: list[int],
                 names: list[str]) -> None:
        self.world = world
        self.result = result
        self.agent_ids = agent_ids
        self.names = names

    def conversation(self, chat: Any, shop_id: int, customer: tuple[int, str],
                     model: ConversationModel) -> SimConversation:
        world = self.world
        q = world.pool.questions[chat.question]
        c = world.customers[chat.customer]
        product = world.products[q.product] if q.product is not None else None
        conv = SimConversation(
            shop_id, customer[0], customer[1], c.get("customer.channel") or "app",
            c.get("conversation.intent") or "", chat.created,
            f"/item/{product['key']}" if product else None, chat.source,
            product["key"] if product else None)
        steps = conv.steps
        t0 = chat.created
        steps.append((t0, None, None, None, None, None, "conversation.created",
                      _dump({"customer": customer[1]}), None))
        self._customer(steps, t0, q.text)
        if chat.mode in BOT_MODES:
            o = world.outcomes[chat.question]
            if bot_writes(chat.mode, o.action):  # the rule the count uses (day.py)
                payload = {"action": o.action, "entry": o.entry,
                           "confidence": round(o.confidence, 4), "choices": list(o.choices),
                           "reason": o.reason}
                steps.append((t0, "bot", None, "text", o.text or o.entry or "…", _dump(payload),
                              None, None, {"last_message_at": t0, "state": "bot"}))
            elif chat.mode == "bot_only":
                steps.append((t0, "system", None, "text",
                              off_hours_reply(self.world.record, t0), None, None, None,
                              {"state": "bot"}))
        if chat.handoff is not None:
            self._human(steps, chat, model)
        self._close(steps, chat.closed, chat.reason)
        return conv

    def _customer(self, steps: list, at: int, text: str) -> None:
        steps.append((at, "customer", None, "text", text, None, None, None,
                      {"last_message_at": at, "last_customer_at": at}))

    def _agent(self, steps: list, at: int, agent_id: int, text: str, first: bool) -> None:
        changes = {"last_message_at": at, "agent_seen_at": at}
        if first:
            changes["first_agent_reply_at"] = at
        steps.append((at, "agent", agent_id, "text", text, None, None, None, changes))

    def _human(self, steps: list, chat: Any, model: ConversationModel) -> None:
        h = chat.handoff
        if h != chat.created:  # after a did-you-mean the customer asks for a person
            self._customer(steps, h, HANDOFF_ASK)
        pool = _dump(chat.pool)
        if chat.queued_at is not None:
            wait = round(chat.position * model.aht_s / max(1, self._capacity(chat)))
            text = f"当前排队第 {chat.position} 位，预计等待约 {max(1, round(wait / 60))} 分钟。"
            steps.append((h, "system", None, "text", text,
                          _dump({"queue_position": chat.position, "estimated_wait_s": wait}),
                          "conversation.queued",
                          _dump({"pool": chat.pool, "priority": chat.priority}),
                          {"state": "queued", "queued_at": h, "handoff_at": h, "pool": pool}))
        if chat.assigned is None:
            return
        i = chat.agent
        handle = self.result.agents[i].handle
        changes = {"state": "active", "assignee_id": self.agent_ids[i],
                   "assigned_at": chat.assigned, "handoff_at": h, "pool": pool}
        steps.append((chat.assigned, "system", None, "text",
                      ASSIGNED.format(name=self.names[i] or handle),
                      _dump({"assigned": handle}), "conversation.assigned",
                      _dump({"agent": handle, "how": chat.how}), changes))
        aid = self.agent_ids[i]
        n = chat.id
        self._agent(steps, chat.first_reply, aid, FIRST_REPLIES[n % len(FIRST_REPLIES)], True)
        for j, (asked, answered) in enumerate(chat.turns or ()):
            self._customer(steps, asked, FOLLOW_UPS[(n + j) % len(FOLLOW_UPS)])
            self._agent(steps, answered, aid, REPLIES[(n + j) % len(REPLIES)], False)

    def _capacity(self, chat: Any) -> int:
        k = chat.slot
        return sum(a.max_chats for a in self.result.agents[:self.result.roster[k]])

    def _close(self, steps: list, at: int, reason: str) -> None:
        steps.append((at, "system", None, "survey", SURVEY, _dump({"rating": [1, 2, 3, 4, 5]}),
                      "conversation.closed", _dump({"reason": reason}),
                      {"state": "closed", "closed_at": at, "close_reason": reason}))


def write_day(backend: LocalBackend, world: ShopWorld, model: ConversationModel, result: DayResult,
              *, seed: int, fold: bool = True) -> dict:
    """Write ``result`` (simulated with ``record=True``) into the Local ``backend``'s file
    in one transaction; returns counts. Conflict when this seed's customers exist."""
    if result.chats is None:
        raise ValueError("simulate the day with record=True to write it")
    now = backend.clock.now_ms()
    with backend.ctx.write() as uow:
        conn = uow.conn
        shop_id = repo.shop_id(conn, world.key)
        if shop_id is None:
            raise Conflict(f"no shop {world.key!r} in the file to write into",
                           key="sim_no_shop_in_file", shop=world.key)
        prefix = f"sim{seed}-"
        if repo.customer_exists(conn, f"{prefix}{1:07d}"):
            raise Conflict(f"a simulated day with seed {seed} is in this file already; "
                           "use another --seed or a new file", key="sim_day_exists", seed=seed)
        if model.mode is not None:
            repo.set_service_mode(conn, shop_id, model.mode)
        agent_ids, names, created = _agents(conn, world, result, shop_id, now)
        events: list[tuple] = [(now, shop_id, "agent.created", "agent", h,
                                _dump({"via": "simulate"})) for h in created]
        customers = _customers(conn, world, result, shop_id, prefix, events)
        if append_events(conn, events).moves_access:
            uow.moved_access = True
        writer = _Writer(world, result, agent_ids, names)
        convs = [writer.conversation(chat, shop_id, customers[n], model)
                 for n, chat in enumerate(result.chats)]
        statuses = [(at, agent_ids[i], result.agents[i].handle, before, after)
                    for at, i, before, after in result.statuses or ()]
        day = Day(convs, [], statuses, result.start_ms, result.end_ms)
        counts = write(conn, day, None, max([result.end_ms, *(c.last_at for c in convs)]),
                       on_access_moved=access_noter(uow))
        groups = repo.groups_by_key(conn, shop_id)
        repo.set_routing(
            conn,
            [(chat.rule, chat.priority, groups.get((chat.pool or {}).get("group")), conv.db_id)
             for chat, conv in zip(result.chats, convs, strict=True) if chat.rule is not None])
    if fold:
        backend.metrics_refresh()
    return {**counts, "agents_created": len(created), "customers": len(customers)}


def _agents(conn: Any, world: ShopWorld, result: DayResult, shop_id: int, now: int
            ) -> tuple[list[int], list[str], list[str]]:
    """DB ids of the day's agents, creating the clones (and setting capacities)."""
    groups = repo.groups_by_key(conn, shop_id)
    ids: list[int] = []
    names: list[str] = []
    created: list[str] = []
    for agent, t in zip(result.agents, result.templates, strict=True):
        row = repo.agent_capacity(conn, agent.handle)
        template = world.agents[t]
        name = template.get("name") or agent.handle
        if row is not None:
            if row[1] != agent.max_chats:
                repo.set_max_chats(conn, row[0], agent.max_chats)
            ids.append(row[0])
            names.append(name)
            continue
        copy = agent.handle.rsplit("-sim", 1)[-1]
        aid = repo.insert_agent(
            conn, handle=agent.handle, name=f"{name}{copy}", level=agent.level,
            max_chats=agent.max_chats, skills=_dump(sorted(agent.skills)), shop=shop_id,
            groups=[groups[g] for g in sorted(agent.groups) if g in groups], now=now)
        ids.append(aid)
        names.append(f"{name}{copy}")
        created.append(agent.handle)
    return ids, names, created


def _customers(conn: Any, world: ShopWorld, result: DayResult, shop_id: int, prefix: str,
               events: list[tuple]) -> list[tuple[int, str]]:
    """One new customer per conversation, profiled like the customer it was drawn from."""
    first = repo.next_id(conn, "customers")
    rows, profiles, out = [], [], []
    for n, chat in enumerate(result.chats or ()):
        cid = first + n
        key = f"{prefix}{n + 1:07d}"
        c = world.customers[chat.customer]
        rows.append((cid, key, key, chat.created, chat.created))
        profiles.append((cid, shop_id, int(c.get("customer.level") or 0),
                         _dump(c.get("customer.tags") or []), c.get("customer.region"),
                         c.get("customer.channel")))
        events.append((chat.created, shop_id, "customer.created", "customer", key,
                       _dump({"via": "message"})))
        out.append((cid, key))
    repo.insert_customers(conn, rows, profiles)
    return out
