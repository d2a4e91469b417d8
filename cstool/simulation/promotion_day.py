"""A believable big day: conversation timelines for a promotion day (双11), deterministic.

Over the shops, agents, customers and products already in the file (``cstool fixtures
generate`` makes them), ``simulate`` plays a promotion day and, optionally, the same
weekday a week before as an ordinary day to compare against:

* **arrivals**: an ordinary day's curve (quiet at night, busy late morning and evening)
  and, on the promotion day, a midnight spike (most of it in the first quarter hour) whose
  peak hour runs ``peak`` times (default 11, within 8-14) an ordinary day's mean hour,
  a second wave in the evening;
* **what customers ask**: order status (发货、物流、催单) dominates the spike, pre-sale
  questions, coupons and 满减, after-sale the rest, in Chinese, about the shop's products;
* **the bot** (bot-first shops, by the mode in force at the time) answers first and
  resolves part of it (order status most often); the rest ask for a human (转人工);
* **agents** work shifts (everyone at midnight on the promotion day, a night crew, breaks)
  recorded as ``agent.status`` events; chats go to the agents of the matching group
  (logistics, after-sale, pre-sale) up to each agent's ``max_chats``, first come first
  served; customers who wait past their patience leave, and the chat closes idle;
* **replies** come after realistic delays (slower at the peak), over several customer
  turns (sometimes two messages in a row), with the odd transfer; agents close, and some
  customers rate (mostly 5);
* **orders** follow some pre-sale chats (minutes to, rarely, more than a day later),
  most of them paid.

The timeline is written as the desk writes it — conversation rows, messages (system
notices with the same payloads: ``assigned``, ``queue_position``, ``transfer``, the
close survey) and events in the same order — straight into the file in bulk
(``write``), as of any moment: everything up to ``hi``, so a day can also be streamed
in as the clock moves (``stream``), conversation rows updated as they change.

Here: the plan (``DayPlan``), the simulation and ``generate_day`` / ``stream``; beside it
``day_tables.py`` (volumes, mixes, texts), ``day_timeline.py`` (the shops read from the
file, the timelines made) and ``day_writer.py`` (``write``).
"""

from __future__ import annotations

import heapq
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .. import service
from ..errors import InvalidInput
from ..storage.connection import Connection
from .day_tables import (
    ASKS,
    BOT_ANSWERS,
    BOT_RESOLVES,
    CHANNELS,
    CLOSINGS,
    DAY,
    FOLLOW_UPS,
    HANDOFF_ASKS,
    HOUR,
    INTENT_GROUP,
    INTENTS,
    MINUTE,
    MIX_ORDINARY,
    MIX_PROMOTION,
    MIX_SPIKE,
    ORDINARY,
    PROMOTION,
    RATINGS,
    REPLIES,
    SOURCES,
    STILL_THERE,
)
from .day_timeline import Day, SimConversation, SimOrder, _Agent, _Shop, _world
from .day_writer import _check_new, access_noter, write

if TYPE_CHECKING:  # the day is written into the Local backend's own file
    from ..backend.local import LocalBackend


@dataclass(frozen=True)
class DayPlan:
    """What to generate: the promotion day (a local date), its conversation count, the
    peak hour as a multiple of an ordinary day's mean hour, and whether the same weekday
    a week before is generated too (an ordinary day, for comparisons)."""

    day: str = "2026-11-11"
    conversations: int = 5000
    peak: float = 11.0
    baseline: bool = True
    seed: int = 1
    timezone: str = "Asia/Shanghai"
    shops: tuple[str, ...] = ()

    def check(self) -> None:
        """Refuse impossible plans (InvalidInput)."""
        try:
            datetime.strptime(self.day, "%Y-%m-%d")
        except ValueError:
            raise InvalidInput(f"day must be a date like 2026-11-11, got {self.day!r}",
                               key="promo_day_bad", day=repr(self.day)) from None
        if self.conversations < 1:
            raise InvalidInput("conversations must be at least 1", key="promo_conversations_min")
        if not 2 <= self.peak <= 40:
            raise InvalidInput(f"peak must be from 2 to 40 times the baseline, got {self.peak}",
                               key="promo_peak_range", value=str(self.peak))

    def start_ms(self, days_before: int = 0) -> int:
        """Local midnight of the day (``days_before`` earlier) in epoch ms."""
        d = datetime.strptime(self.day, "%Y-%m-%d") - timedelta(days=days_before)
        return int(d.replace(tzinfo=ZoneInfo(self.timezone)).timestamp() * 1000)


def hourly_volumes(plan: DayPlan) -> tuple[list[int], list[int]]:
    """Conversations per hour on the promotion day and on the ordinary day before it."""
    factors = [plan.peak if f is None else f for f in PROMOTION]
    base_mean = plan.conversations / sum(factors)
    promo = _apportion([f * base_mean for f in factors], plan.conversations)
    mean = sum(ORDINARY) / 24
    ordinary = _apportion([base_mean * o / mean for o in ORDINARY],
                          round(base_mean * 24)) if plan.baseline else [0] * 24
    return promo, ordinary


def _apportion(weights: list[float], total: int) -> list[int]:
    floors = [int(w) for w in weights]
    rest = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: floors[i] - weights[i])
    for i in order[:max(0, rest)]:
        floors[i] += 1
    return floors


def _lognormal(rnd: random.Random, median_ms: float, sigma: float) -> int:
    return int(median_ms * math.exp(rnd.gauss(0, sigma)))


def _shifts(agent: _Agent, start: int, promotion: bool) -> list[tuple[int, int]]:
    i = agent.index
    if promotion:
        spans = [(0, 3 * HOUR)]
        if agent.night:  # the first agent of each group keeps the night
            spans.append((3 * HOUR, 9 * HOUR))
        if i % 2 == 0:
            spans += [(8 * HOUR + 30 * MINUTE, 12 * HOUR),
                      (12 * HOUR + 40 * MINUTE, 24 * HOUR)]
        else:
            spans += [(8 * HOUR + 30 * MINUTE, 18 * HOUR),
                      (18 * HOUR + 40 * MINUTE, 24 * HOUR)]
    else:
        spans = [(0, 2 * HOUR)] if agent.night else []
        if i % 2:
            spans += [(9 * HOUR, 12 * HOUR), (13 * HOUR, 23 * HOUR)]
        else:
            spans += [(9 * HOUR, 23 * HOUR)]
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(start + s, start + e) for s, e in merged]


def simulate(conn: Connection, plan: DayPlan) -> Day:
    """Simulate the plan over the shops in the file (read-only)."""
    plan.check()
    shops = _world(conn, plan.shops)
    rnd = random.Random(f"{plan.seed}-day-{plan.day}")
    promo, ordinary = hourly_volumes(plan)
    days = [(plan.start_ms(7), ordinary, False)] if plan.baseline else []
    days.append((plan.start_ms(), promo, True))
    conversations: list[SimConversation] = []
    orders: list[SimOrder] = []
    statuses: list[tuple[int, int, str, str, str]] = []
    key_prefix = f"d{plan.seed}-{plan.day.replace('-', '')}"
    dropped = 0
    for start, volumes, is_promo in days:
        peak = max(volumes) or 1
        arrivals = _arrivals(rnd, start, volumes, is_promo, len(shops))
        for index, shop in enumerate(shops):
            for a in shop.agents:
                a.intervals = _shifts(a, start, is_promo)
            statuses.extend(_status_changes(shop.agents))
            mine = [(t, mix) for t, s, mix in arrivals if s == index]
            convs, drop = _simulate_shop(rnd, shop, mine, start, volumes, peak, is_promo)
            dropped += drop
            conversations.extend(convs)
            orders.extend(_orders(rnd, shop, convs, is_promo, key_prefix, len(orders)))
    conversations.sort(key=lambda c: (c.created_at, c.shop_id, c.customer_id))
    orders.sort(key=lambda o: (o.created_at, o.key))
    statuses.sort()
    end = max([c.last_at for c in conversations] + [o.paid_at or o.created_at for o in orders]
              + [s[0] for s in statuses] + [plan.start_ms() + DAY])
    return Day(conversations, orders, statuses, days[0][0], end, dropped)


def _arrivals(rnd: random.Random, start: int, volumes: list[int], promo: bool,
              n_shops: int) -> list[tuple[int, int, tuple]]:
    out = []
    for h, n in enumerate(volumes):
        mix = MIX_SPIKE if promo and h < 3 else MIX_PROMOTION if promo else MIX_ORDINARY
        for _ in range(n):
            if promo and h == 0:  # the midnight rush: most of it in the first minutes
                offset = min(HOUR - 1, int(rnd.expovariate(1 / (11 * MINUTE))))
            else:
                offset = rnd.randrange(HOUR)
            out.append((start + h * HOUR + offset, rnd.randrange(n_shops), mix))
    out.sort()
    return out


def _status_changes(agents: list[_Agent]) -> list[tuple[int, int, str, str, str]]:
    out = []
    for a in agents:
        status = "offline"
        for k, (s, e) in enumerate(a.intervals):
            out.append((s, a.id, a.handle, status, "online"))
            nxt = a.intervals[k + 1][0] if k + 1 < len(a.intervals) else None
            status = "away" if nxt is not None and nxt - e <= 2 * HOUR else "offline"
            out.append((e, a.id, a.handle, "online", status))
    return out


class _Pool:
    """Agent slots of one group, first come first served, within each agent's shifts."""

    def __init__(self, agents: list[_Agent]):
        self.agents = {a.id: a for a in agents}
        self.heap = [(0, a.id, k) for a in agents for k in range(a.max_chats)]
        heapq.heapify(self.heap)

    def take(self, t: int, latest: int | None = None) -> tuple[int, _Agent, int] | None:
        """The first slot free at or after ``t`` (not after ``latest``): (when, agent, slot)."""
        while self.heap:
            free, aid, k = self.heap[0]
            agent = self.agents[aid]
            when = agent.next_online(max(free, t))
            if when is None:
                heapq.heappop(self.heap)
                continue
            if when != max(free, t):
                heapq.heapreplace(self.heap, (when, aid, k))
                continue
            if latest is not None and when > latest:
                return None
            heapq.heappop(self.heap)
            return when, agent, k
        return None

    def release(self, when: int, agent: _Agent, k: int) -> None:
        """The slot is free again from ``when``."""
        heapq.heappush(self.heap, (when, agent.id, k))


def _simulate_shop(rnd: random.Random, shop: _Shop, arrivals: list[tuple[int, tuple]],
                   start: int, volumes: list[int], peak: int, promo: bool
                   ) -> tuple[list[SimConversation], int]:
    pools: dict[str, _Pool] = {}
    for kind in ("logistics", "aftersale", "presale"):
        members = [a for a in shop.agents if a.pool == kind]
        if members:
            pools[kind] = _Pool(members)
    titles = [p[2][:14] for p in shop.products] or ["宝贝"]
    pending = []  # (handoff_at, seq, conversation, patience)
    out: list[SimConversation] = []
    for seq, (t, mix) in enumerate(arrivals):
        intent = rnd.choices(INTENTS, mix)[0]
        product = shop.products[rnd.randrange(len(shop.products))] if shop.products else None
        conv = SimConversation(
            shop.id, 0, "", rnd.choice(CHANNELS), intent, t,
            f"/item/{product[1]}" if product and intent == "presale" else None,
            rnd.choice(SOURCES), product[1] if product and intent == "presale" else None)
        text = rnd.choice(ASKS[intent]).format(t=rnd.choice(titles))
        _customer(conv, t, text)
        mode = service.effective_mode(shop.mode, t)
        handoff = t
        if mode in ("bot_first", "bot_only"):
            now = t + 1000
            _bot(conv, now, intent)
            resolves = mode == "bot_only" or rnd.random() < BOT_RESOLVES[intent]
            if resolves:
                if rnd.random() < 0.5:
                    now += rnd.randint(15_000, 60_000)
                    _customer(conv, now, rnd.choice(FOLLOW_UPS[intent]))
                    _bot(conv, now + 1000, intent)
                    now += 1000
                _close(conv, now + shop.idle_ms, "idle")
                out.append(conv)
                continue
            handoff = now + rnd.randint(15_000, 90_000)
            _customer(conv, handoff, rnd.choice(HANDOFF_ASKS))
        patience = _lognormal(rnd, 5 * MINUTE, 0.9)
        pending.append((handoff, seq, conv, patience))
        out.append(conv)
    pending.sort(key=lambda x: (x[0], x[1]))
    queue: list[int] = []  # times waiting chats leave the queue
    for handoff, _, conv, patience in pending:
        pool = pools.get(INTENT_GROUP[conv.intent]) or next(iter(pools.values()), None)
        group = shop.groups.get(INTENT_GROUP[conv.intent])
        pool_json = json.dumps({"group": group} if group else {"shop": True})
        # the customer waits ``patience``, may ask once more, then leaves; the chat stays
        # in the queue until it closes idle, so an agent may still pick it up, too late
        still_there = None
        if patience > 90_000:
            still_there = handoff + rnd.randint(60_000, min(patience, 600_000))
        idle_close = (still_there or handoff) + shop.idle_ms
        got = pool.take(handoff, idle_close - 1) if pool else None
        while queue and queue[0] <= handoff:
            heapq.heappop(queue)
        if got is None or got[0] > handoff:
            heapq.heappush(queue, got[0] if got else idle_close)
            position = len(queue)
            wait_s = max(60, position * 90)
            conv.steps.append((handoff, "system", None, "text",
                               f"当前排队第 {position} 位，预计等待约 {round(wait_s / 60)} 分钟。",
                               json.dumps({"queue_position": position, "estimated_wait_s": wait_s}),
                               "conversation.queued", json.dumps({"pool": json.loads(pool_json)}),
                               {"state": "queued", "queued_at": handoff, "handoff_at": handoff,
                                "pool": pool_json}))
        if still_there is not None and (got is None or still_there < got[0]):
            _customer(conv, still_there, rnd.choice(STILL_THERE))
        if got is None:  # nobody came before it closed idle
            _close(conv, idle_close, "idle")
            continue
        if got[0] > handoff + patience:  # picked up after the customer left
            when, agent, slot = got
            _assign(conv, when, agent, "from_queue", {"handoff_at": handoff, "pool": pool_json})
            now = when + _lognormal(rnd, 12_000, 0.6)
            _reply(conv, now, agent, "亲，让您久等了，请问还在吗？", first=True)
            now += rnd.randint(60_000, 180_000)
            _close(conv, now, "no_reply")
            pool.release(now, agent, slot)
            continue
        when, agent, slot = got
        hour = min(23, max(0, (when - start) // HOUR))
        load = 1 + 0.8 * volumes[hour] / peak if promo else 1 + 0.3 * volumes[hour] / peak
        _assign(conv, when, agent, "routed" if when == handoff else "from_queue",
                {"handoff_at": handoff, "pool": pool_json})
        now = when + _lognormal(rnd, 9_000 * load, 0.6)
        _reply(conv, now, agent, rnd.choice(REPLIES[conv.intent]), first=True)
        holder, holder_slot, holder_pool = agent, slot, pool
        turns = 1 + min(8, int(rnd.expovariate(0.33)))
        for turn in range(turns):
            now += _lognormal(rnd, 35_000, 0.7)
            last_turn = turn == turns - 1
            text = rnd.choice(CLOSINGS) if last_turn and rnd.random() < 0.5 else \
                rnd.choice(FOLLOW_UPS[conv.intent])
            _customer(conv, now, text)
            if rnd.random() < 0.35:
                now += rnd.randint(4_000, 15_000)
                _customer(conv, now, rnd.choice(FOLLOW_UPS[conv.intent]))
            if last_turn and text in CLOSINGS and rnd.random() < 0.6:
                break  # the agent closes without another word
            if turn == 0 and rnd.random() < 0.04 and len(pools) > 1:
                target_kind = "aftersale" if conv.intent != "aftersale" else "presale"
                target_pool = pools.get(target_kind)
                moved = target_pool.take(now, now) if target_pool else None
                if moved and moved[1].id != holder.id:
                    _transfer(conv, now, holder, moved[1], shop.groups.get(target_kind))
                    holder_pool.release(now, holder, holder_slot)
                    holder, holder_slot, holder_pool = moved[1], moved[2], target_pool
                    now += _lognormal(rnd, 20_000 * load, 0.6)
                    _reply(conv, now, holder, "您好，我是售后专员，我来为您处理")
                    continue
                if moved:
                    target_pool.release(moved[0], moved[1], moved[2])
            now += _lognormal(rnd, 14_000 * load, 0.75)
            _reply(conv, now, holder, rnd.choice(REPLIES[conv.intent]))
        now += rnd.randint(15_000, 90_000)
        _close(conv, now, "resolved")
        holder_pool.release(now, holder, holder_slot)
        if rnd.random() < 0.45:
            rating = rnd.choices([r for r, _ in RATINGS], [w for _, w in RATINGS])[0]
            rated = now + rnd.randint(10_000, 600_000)
            conv.steps.append((rated, None, None, None, None, None, "conversation.rated",
                               json.dumps({"rating": rating}),
                               {"rating": rating, "rated_at": rated}))
    return _customers(rnd, shop, out)


def _customers(rnd: random.Random, shop: _Shop, convs: list[SimConversation]
               ) -> tuple[list[SimConversation], int]:
    """Give each conversation a customer of the shop who has no other chat open then
    (a few tries; a conversation nobody is free for is dropped)."""
    busy: dict[int, int] = {}
    kept, dropped = [], 0
    for conv in convs:
        conv.steps.sort(key=lambda s: s[0])
        customer = None
        for _ in range(12):
            cand = shop.customers[rnd.randrange(len(shop.customers))]
            if busy.get(cand[0], 0) < conv.created_at:
                customer = cand
                break
        if customer is None:
            dropped += 1
            continue
        conv.customer_id, conv.customer_key = customer
        busy[customer[0]] = conv.last_at
        conv.steps.insert(0, (conv.created_at, None, None, None, None, None,
                              "conversation.created",
                              json.dumps({"customer": customer[1]}, ensure_ascii=False), None))
        kept.append(conv)
    return kept, dropped


def _customer(conv: SimConversation, at: int, text: str) -> None:
    conv.steps.append((at, "customer", None, "text", text, None, None, None,
                       {"last_message_at": at, "last_customer_at": at}))


def _bot(conv: SimConversation, at: int, intent: str) -> None:
    payload = json.dumps({"action": "answer", "entry": f"kb-{intent}", "confidence": 0.82,
                          "choices": []})
    conv.steps.append((at, "bot", None, "text", BOT_ANSWERS[intent], payload, None, None,
                       {"last_message_at": at, "state": "bot"}))


def _assign(conv: SimConversation, at: int, agent: _Agent, how: str, extra: dict) -> None:
    conv.steps.append((at, "system", None, "text", f"客服{agent.name}为您服务",
                       json.dumps({"assigned": agent.handle}, ensure_ascii=False),
                       "conversation.assigned",
                       json.dumps({"agent": agent.handle, "how": how}, ensure_ascii=False),
                       {"state": "active", "assignee_id": agent.id, "assigned_at": at, **extra}))


def _reply(conv: SimConversation, at: int, agent: _Agent, text: str, *,
           first: bool = False) -> None:
    changes = {"last_message_at": at, "agent_seen_at": at}
    if first:
        changes["first_agent_reply_at"] = at
    conv.steps.append((at, "agent", agent.id, "text", text, None, None, None, changes))


def _transfer(conv: SimConversation, at: int, source: _Agent, target: _Agent,
              group: str | None) -> None:
    note = "客户要退换货，转售后处理"
    payload = {"from": source.handle, "to_agent": target.handle, "to_group": None, "note": note}
    conv.steps.append((at, "system", None, "text", f"转接说明：{note}",
                       json.dumps({"transfer": payload}, ensure_ascii=False), None, None, None))
    _assign(conv, at, target, "transfer",
            {"pool": json.dumps({"agent": target.handle})})
    conv.steps.append((at, None, None, None, None, None, "conversation.transferred",
                       json.dumps(payload, ensure_ascii=False), None))


def _close(conv: SimConversation, at: int, reason: str) -> None:
    conv.steps.append((at, "system", None, "survey",
                       "本次服务已结束，请为我们的服务打分（1-5 分）。",
                       json.dumps({"rating": [1, 2, 3, 4, 5]}), "conversation.closed",
                       json.dumps({"reason": reason}),
                       {"state": "closed", "closed_at": at, "close_reason": reason}))


def _orders(rnd: random.Random, shop: _Shop, convs: list[SimConversation], promo: bool,
            prefix: str, n0: int) -> list[SimOrder]:
    if not shop.products:
        return []
    out = []
    for conv in convs:
        if conv.intent not in ("presale", "promotion"):
            continue
        served = any(s[1] == "agent" for s in conv.steps)
        chance = (0.42 if promo else 0.28) if served else (0.2 if promo else 0.12)
        if rnd.random() >= chance:
            continue
        product = shop.products[rnd.randrange(len(shop.products))]
        closed = next((s[0] for s in conv.steps if s[8] and "closed_at" in s[8]), conv.last_at)
        created = closed - rnd.randint(0, 60_000) + _lognormal(rnd, 20 * MINUTE, 2.0)
        paid = created + rnd.randint(30_000, 20 * MINUTE) if rnd.random() < 0.86 else None
        out.append(SimOrder(f"{prefix}-s{shop.id}-o{n0 + len(out):07d}", shop.id,
                            conv.customer_id, product[0], product[3],
                            1 if rnd.random() < 0.88 else 2, created, paid))
    return out


def generate_day(backend: LocalBackend, plan: DayPlan, *, until: int | None = None,
                 fold: bool = True) -> dict:
    """Simulate ``plan`` over the Local backend's file and write it in one transaction,
    everything up to ``until`` (epoch ms; default: all of it); then, with ``fold``, fold
    the new conversations' metric facts so that the first report is quick. Returns
    counts and the promotion day's hourly volume."""
    with backend.ctx.read() as uow:
        day = simulate(uow.conn, plan)
    with backend.ctx.write() as uow:
        _check_new(uow.conn, day)
        counts = write(uow.conn, day, None, day.end if until is None else until,
                       on_access_moved=access_noter(uow))
    if fold:
        backend.metrics_refresh()
    promo, ordinary = day.volumes(plan.start_ms()), day.volumes(plan.start_ms(7))
    return {**counts, "dropped": day.dropped, "day": plan.day,
            "peak_hour_volume": max(promo),
            "baseline_mean_hour": round(sum(ordinary) / 24, 1) if plan.baseline else None,
            "hourly": promo}


def stream(backend: LocalBackend, plan: DayPlan, *, speed: float = 60.0, start: int | None = None,
           tick_s: float = 1.0, keep_going: Callable[[], bool] = lambda: True,
           sleep: Callable[[float], None] = time.sleep,
           wall: Callable[[], float] = time.monotonic,
           on_tick: Callable[[int, dict], None] | None = None) -> dict:
    """Write the simulated day as it happens, ``speed`` times faster than real time, from
    ``start`` (epoch ms, default the promotion day's midnight; what came before is written
    at once), a transaction per tick, until the day ends or ``keep_going()`` is false."""
    with backend.ctx.read() as uow:
        day = simulate(uow.conn, plan)
    clock = plan.start_ms() if start is None else start
    totals: dict[str, int] = {}
    with backend.ctx.write() as uow:
        _check_new(uow.conn, day)
        first = write(uow.conn, day, None, clock, on_access_moved=access_noter(uow))
    for k, v in first.items():
        totals[k] = totals.get(k, 0) + v
    last = wall()
    while clock < day.end and keep_going():
        sleep(tick_s)
        now = wall()
        target = min(day.end, clock + int((now - last) * speed * 1000))
        last = now
        if target <= clock:
            continue
        with backend.ctx.write() as uow:
            counts = write(uow.conn, day, clock, target, on_access_moved=access_noter(uow))
        clock = target
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
        if on_tick:
            on_tick(clock, counts)
    return {**totals, "until": clock}

