"""The discrete-event day: customers arrive, the real bot answers or hands off, the real
routing engine places every chat that needs a human, agents work their slots, queued
customers give up.

Per arrival (a Poisson process whose rate is the curve's, piecewise constant per
half-hour):

1. the customer (a template of the shop's customers: level, tags, region, last and
   dedicated agent, orders) asks a question of the day's pool;
2. in the service mode in force (the shop's, by its business hours, or ``mode``):
   ``bot_first`` / ``bot_only`` ask the bot (its cached answer, see ``world``): an
   ``answer`` resolves the chat (it closes after the shop's idle time); in
   ``bot_first`` a "did you mean" is followed ``handoff_delay_s`` later by 转人工 and a
   ``handoff`` goes to a human at once; in ``bot_only`` the customer is told humans
   answer later and leaves (when the bot wrote, an answer or a "did you mean", the
   metrics count that chat bot-resolved). ``human_first`` / ``human_only`` go to a
   human at once;
3. a chat that needs a human goes through ``cstool.routing.route`` with the shop's
   ``RuleSet``, a ``RoutingState`` of the agents on the desk and the shop's
   round-robin state, exactly as ``DeskOps._to_human`` does: assigned (the engine's
   strategy picks the agent; ``state.assign`` refuses anyone at capacity) or queued for
   the decision's pool with its priority;
4. a freed slot (a chat closes, an agent comes on) takes the best waiting chat whose
   pool holds the agent, highest priority then oldest, with the pool's strategy, as
   ``DeskOps._drain`` does;
5. once assigned, the chat lasts an exponential handling time; the agent's first reply
   comes ``first_reply_s`` after the assignment, then the customer writes turns that
   the agent answers (see ``ConversationModel``), and the agent closes it;
6. a queued customer whose (exponential) patience runs out leaves: the chat closes
   unanswered (abandoned).

Rosters change at the half-hour: the first N agents are on the desk (the shop's agents,
cloned in order when N is larger, each clone keeping the groups, skills, level and
capacity of its original). An agent leaving with chats open finishes them first
(``busy``: routing gives them nothing new) and then goes offline. After midnight the
last half-hour's roster stays until every chat is done; chats still waiting with
nobody on the desk close unanswered at the end.

Random streams are separate for arrivals, chat attributes, service and patience, so a
different roster meets the same customers (common random numbers).

The outcome of each chat is counted by the metric definitions of ``cstool.metrics``
(``frt_outcome``, ``turn_outcome``: the 3-minute and 30-second rates, queue waits,
abandonment; ``bot_resolved`` on the chat's ``BotFacts``: bot resolution) into its
half-hour of arrival, as a report over the same conversations would count them; with
``record=True`` every chat is kept for writing. Times are integer milliseconds
throughout, as stored.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from .. import service
from ..errors import Conflict
from ..metrics.conversation_rows import (
    IN_TARGET,
    NOT_COUNTED,
    bot_resolved,
    frt_outcome,
    turn_outcome,
)
from ..routing import AgentState, RoundRobinState, RoutingState, RuleSet, route
from .day_tables import SOURCES
from .inputs import DAY_MS, SLOT_MS, SLOTS, ConversationModel, Curve
from .world import ShopWorld

# event kinds, in the order they run at the same millisecond
_ROSTER, _END, _ABANDON, _HANDOFF, _ARRIVAL = range(5)
# chat states
BOT, WAITING, QUEUED, ACTIVE, CLOSED = range(5)
BOT_MODES = ("bot_first", "bot_only")
# the bot's actions that write a bot message into the chat (an answer, a "did you mean"
# list); a handoff writes none. ``record.py`` writes the chats by this same rule.
BOT_WRITES = ("answer", "suggest")
PROGRESS_EVERY = 1 << 16


def bot_writes(mode: str, action: str) -> bool:
    """Whether the bot writes a message in a chat that came in under ``mode`` and got the
    bot's ``action``."""
    return mode in BOT_MODES and action in BOT_WRITES


class BotFacts(NamedTuple):
    """The facts of one simulated chat that ``cstool.metrics.conversation_rows.bot_resolved`` reads,
    as the chat is written (``record.py``) and the metrics fold it (``definitions.py``),
    so the simulation counts bot resolution by the metrics' own predicate."""

    bot_engaged: int  # came in under bot_first / bot_only, or the bot wrote
    closed_at: int | None
    bot_messages: int
    agent_messages: int
    needs_human_at: int | None
    reopened_at: int | None  # each written chat has a customer of its own: never reopened


class Chat:
    """One simulated conversation (what the report counts and the writer stores)."""

    __slots__ = ("id", "slot", "created", "question", "customer", "mode", "source",
                 "time_on_site", "pages", "handoff", "rule", "pool", "pool_key", "strategy",
                 "priority", "queued_at", "position", "agent", "assigned", "how",
                 "first_reply", "turns", "closed", "reason", "state")

    def __init__(self, cid: int, slot: int, created: int, question: int, customer: int,
                 mode: str) -> None:
        self.id = cid
        self.slot = slot
        self.created = created
        self.question = question
        self.customer = customer
        self.mode = mode
        self.source = ""
        self.time_on_site = 0
        self.pages = 0
        self.handoff: int | None = None
        self.rule: str | None = None
        self.pool: dict | None = None
        self.pool_key = ""
        self.strategy = "least_load"
        self.priority = 0
        self.queued_at: int | None = None
        self.position = 0
        self.agent: int | None = None  # index into DayResult.agents
        self.assigned: int | None = None
        self.how = ""
        self.first_reply: int | None = None
        self.turns: list[tuple[int, int]] | None = None  # later (customer, agent reply)
        self.closed: int | None = None
        self.reason = ""
        self.state = BOT


@dataclass
class SlotCounts:
    """Counters of one half-hour (by arrival), as the metrics figures count them."""

    arrivals: int = 0
    bot_engaged: int = 0
    bot_resolved: int = 0
    handoffs: int = 0
    human: int = 0
    frt_counted: int = 0
    frt_in: int = 0
    answered: int = 0
    frt_sum_ms: int = 0
    assigned: int = 0
    wait_sum_ms: int = 0
    turns_counted: int = 0
    turns_in: int = 0
    abandoned: int = 0
    queued: int = 0
    queue_sum_ms: int = 0
    queue_waits: list[int] = field(default_factory=list)


@dataclass
class DayResult:
    """What the simulated day produced."""

    start_ms: int
    slots: list[SlotCounts]
    agents: list[AgentState]
    templates: list[int]  # per agent: index of the shop agent it copies
    roster: list[int]  # agents on the desk per half-hour
    rules: dict[str, int]
    pools: dict[str, int]
    peak_active: list[int]
    events: int
    end_ms: int
    chats: list[Chat] | None = None
    statuses: list[tuple[int, int, str, str]] | None = None  # (at, agent, from, to)

    @property
    def max_load(self) -> float:
        """The highest share of an agent's slots ever in use (1.0 = full, never above)."""
        loads = [p / a.max_chats for p, a in zip(self.peak_active, self.agents, strict=True)
                 if a.max_chats]
        return max(loads, default=0.0)


def desk_agents(world: ShopWorld, count: int, concurrency: int | None
                ) -> tuple[list[AgentState], list[int]]:
    """``count`` agents in roster order: the shop's agents, then copies of them in the
    same order (handles ``<handle>-sim2``, ``-sim3``, ...), all offline."""
    base = world.agents
    taken = {a["handle"] for a in base}
    out: list[AgentState] = []
    templates: list[int] = []
    for i in range(count):
        t = base[i % len(base)]
        copy = i // len(base)
        handle = t["handle"] if copy == 0 else f"{t['handle']}-sim{copy + 1}"
        while copy and handle in taken:
            handle += "x"
        taken.add(handle)
        out.append(AgentState(
            handle=handle, status="offline",
            max_chats=concurrency if concurrency is not None else int(t.get("max_chats", 5)),
            level=t.get("level", "junior"), skills=frozenset(t.get("skills") or ()),
            groups=frozenset(t.get("groups") or ()), name=t.get("name", "")))
        templates.append(i % len(base))
    return out, templates


def arrival_times(curve: Curve, start_ms: int, seed: int = 1) -> Iterator[int]:
    """The day's arrival times (ms, ascending): a Poisson process whose rate is the
    curve's, constant within each half-hour (the stream ``simulate_day`` uses)."""
    rnd = random.Random(f"{seed}-arrivals")
    slot_s = SLOT_MS / 1000
    for k, expected in enumerate(curve.arrivals):
        if expected <= 0:
            continue
        rate = expected / slot_s
        x, end = k * slot_s, (k + 1) * slot_s
        while True:
            x += rnd.expovariate(rate)
            if x >= end:
                break
            yield start_ms + int(x * 1000)


def mode_by_minute(record: dict, start_ms: int, mode: str | None) -> list[str]:
    """The service mode in force for each minute of the day (and one past its end)."""
    if mode is not None:
        return [mode] * (DAY_MS // 60_000 + 1)
    return [service.effective_mode(record, start_ms + m * 60_000)
            for m in range(DAY_MS // 60_000 + 1)]


def simulate_day(world: ShopWorld, curve: Curve, roster: list[int] | None,
                 model: ConversationModel, start_ms: int, *, seed: int = 1,
                 record: bool = False,
                 on_progress: Callable[[float], None] | None = None) -> DayResult:
    """Simulate the day starting at ``start_ms`` (local midnight); ``roster`` gives the
    agents on the desk per half-hour (None: every agent of the shop, all day)."""
    model.check()
    if roster is None:
        roster = [len(world.agents)] * SLOTS
    needed = max(roster, default=0)
    if needed and not world.agents:
        raise Conflict(f"shop {world.key!r} has no agents (role agent) to put on the desk",
                       key="sim_no_agents", shop=world.key)
    agents, templates = desk_agents(world, needed, model.concurrency)
    state = RoutingState(agents)
    ruleset = RuleSet(world.rules)
    state.prepare(ruleset.static_pools())
    rr = RoundRobinState()
    index = {a.handle: i for i, a in enumerate(agents)}
    handles = [a.handle for a in agents]
    modes = mode_by_minute(world.record, start_ms, model.mode)
    offset = service.utc_offset_minutes(start_ms + DAY_MS // 2, world.record["timezone"])

    response_ms = world.response_target_s * 1000
    answer_ms = world.answer_target_s * 1000
    idle_ms = world.idle_close_s * 1000
    aht_rate = 1.0 / model.aht_s
    patience_rate = None if model.patience_s is None else 1.0 / model.patience_s
    first_ms = int(model.first_reply_s * 1000)
    reply_rate = 1.0 / model.reply_s
    gap_rate = 1.0 / model.turn_gap_s
    handoff_ms = int(model.handoff_delay_s * 1000)

    rnd_chat = random.Random(f"{seed}-chats")
    rnd_service = random.Random(f"{seed}-service")
    rnd_patience = random.Random(f"{seed}-patience")

    questions = world.pool.questions
    outcomes = world.outcomes
    cum: dict[int, tuple[list[float], float]] = {}
    for mix, weights in world.pool.weights.items():
        acc, run = [], 0.0
        for w in weights:
            run += w
            acc.append(run)
        cum[mix] = (acc, run)
    customers = world.customers
    products = world.products
    n_customers = len(customers)

    slots = [SlotCounts() for _ in range(SLOTS)]
    rules: dict[str, int] = {}
    pools: dict[str, int] = {}
    peak = [0] * len(agents)
    chats: list[Chat] | None = [] if record else None
    statuses: list[tuple[int, int, str, str]] | None = [] if record else None
    heap: list[tuple[int, int, int, object]] = []
    seq = 0
    waiting: dict[str, list] = {}  # pool key -> heap of (-priority, queued_at, id, chat)
    pool_of: dict[str, tuple[dict, frozenset[str]]] = {}
    n_waiting = 0
    leaving: set[int] = set()
    on_desk = 0

    agents_now = [state.agent(h) for h in handles]  # live records (read only)

    def push(t: int, kind: int, obj: object) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, kind, seq, obj))

    def set_status(i: int, status: str, t: int) -> None:
        before = agents_now[i].status
        if before == status:
            return
        state.set_status(handles[i], status, t)
        if statuses is not None:
            statuses.append((t, i, before, status))

    # -- counting (the metric definitions) ------------------------------------------
    def count_bot(chat: Chat, s: SlotCounts) -> None:
        """Bot engagement and resolution of a finished chat, by the metrics' predicate
        (``conversation_rows.bot_resolved``) on the facts the written chat will have."""
        wrote = bot_writes(chat.mode, outcomes[chat.question].action)
        if chat.mode not in BOT_MODES and not wrote:
            return
        s.bot_engaged += 1  # every simulated chat is closed: bot-engaged = closed
        agent_messages = 0 if chat.first_reply is None else 1 + len(chat.turns or ())
        if bot_resolved(BotFacts(1, chat.closed, int(wrote), agent_messages, chat.handoff,
                                 None)):
            s.bot_resolved += 1

    def count_human(chat: Chat) -> None:
        s = slots[chat.slot]
        count_bot(chat, s)
        needs = chat.handoff
        closed = chat.closed
        outcome = frt_outcome(needs, chat.first_reply, closed, response_ms, closed)
        if outcome != NOT_COUNTED:
            s.frt_counted += 1
            s.frt_in += outcome == IN_TARGET
        if chat.first_reply is not None:
            s.answered += 1
            s.frt_sum_ms += chat.first_reply - needs
        else:
            s.abandoned += 1
        # the first customer turn starts at the need for a human (see definitions.py)
        first = turn_outcome(needs, chat.first_reply, closed, answer_ms, closed)
        if first != NOT_COUNTED:
            s.turns_counted += 1
            s.turns_in += first == IN_TARGET
        if chat.turns:
            for asked, answered in chat.turns:
                s.turns_counted += 1
                s.turns_in += answered - asked <= answer_ms
        if chat.queued_at is not None:
            wait = (chat.assigned if chat.assigned is not None else closed) - chat.queued_at
            s.queued += 1
            s.queue_sum_ms += wait
            s.queue_waits.append(wait)
        if chat.assigned is not None:
            s.assigned += 1
            s.wait_sum_ms += chat.assigned - needs

    # -- a chat reaches an agent ----------------------------------------------------------
    def assign(chat: Chat, i: int, t: int, how: str) -> None:
        state.assign(handles[i], t)
        active = agents_now[i].active
        if active > peak[i]:
            peak[i] = active
        chat.agent, chat.assigned, chat.how, chat.state = i, t, how, ACTIVE
        held = int(rnd_service.expovariate(aht_rate) * 1000)
        end = t + held
        chat.first_reply = t + (first_ms if first_ms < held else held)
        turns = None
        last = chat.first_reply
        while True:
            asked = last + int(rnd_service.expovariate(gap_rate) * 1000)
            if asked >= end:
                break
            answered = asked + int(rnd_service.expovariate(reply_rate) * 1000)
            if answered >= end:
                break
            if turns is None:
                turns = []
            turns.append((asked, answered))
            last = answered
        chat.turns = turns
        chat.closed, chat.reason = end, "resolved"
        count_human(chat)
        push(end, _END, chat)

    def enqueue(chat: Chat, t: int) -> None:
        nonlocal n_waiting
        key = chat.pool_key
        if key not in pool_of:
            pool_of[key] = (chat.pool, frozenset(state.members(chat.pool)))
        heapq.heappush(waiting.setdefault(key, []), (-chat.priority, t, chat.id, chat))
        n_waiting += 1
        chat.state, chat.queued_at, chat.position = QUEUED, t, n_waiting
        if patience_rate is not None:
            push(t + int(rnd_patience.expovariate(patience_rate) * 1000), _ABANDON, chat)

    def to_human(chat: Chat, t: int) -> None:
        chat.handoff = t
        c = customers[chat.customer]
        q = questions[chat.question]
        facts = dict(c)
        facts["conversation.channel"] = c.get("customer.channel")
        facts["conversation.source"] = chat.source
        facts["conversation.time_on_site_s"] = chat.time_on_site
        facts["conversation.pages_viewed"] = chat.pages
        facts["message.text"] = q.text
        if q.product is not None:
            p = products[q.product]
            facts["conversation.entry_page"] = f"/item/{p['key']}"
            facts["product.category"] = p.get("category")
        decision = route(ruleset, facts, state, t, rr, utc_offset_minutes=offset)
        chat.rule, chat.pool, chat.pool_key = decision.rule, decision.pool, decision.pool_key
        chat.strategy, chat.priority = decision.strategy, decision.priority
        rules[decision.rule] = rules.get(decision.rule, 0) + 1
        pools[decision.pool_key] = pools.get(decision.pool_key, 0) + 1
        if decision.agent is not None:
            assign(chat, index[decision.agent], t, "routed")
        else:
            enqueue(chat, t)

    def drain(i: int, t: int) -> None:
        """Agent ``i`` may take chats: hand them the best waiting ones (the desk's drain)."""
        nonlocal n_waiting
        handle = handles[i]
        me = agents_now[i]
        while waiting and me.available:
            best = None
            best_key = ""
            for key, queue in list(waiting.items()):
                while queue and queue[0][3].state != QUEUED:
                    heapq.heappop(queue)
                if not queue:
                    del waiting[key]
                    continue
                if handle in pool_of[key][1] and (best is None or queue[0] < best):
                    best, best_key = queue[0], key
            if best is None:
                return
            chat = best[3]
            target = pool_of[best_key][0]
            chosen = state.choose(target, best_key, chat.strategy, rr)
            if chosen is None:  # cannot happen while ``me`` is available; be safe
                return
            heapq.heappop(waiting[best_key])
            n_waiting -= 1
            if chat.strategy == "round_robin":
                rr.advance(best_key, chosen)
            assign(chat, index[chosen], t, "from_queue")

    def roster_change(k: int, t: int) -> None:
        nonlocal on_desk
        want = roster[k]
        for i in range(want):
            leaving.discard(i)
            if agents_now[i].status != "online":
                set_status(i, "online", t)
        for i in range(want, on_desk):
            if agents_now[i].active:
                set_status(i, "busy", t)
                leaving.add(i)
            else:
                set_status(i, "offline", t)
        on_desk = max(want, 0)
        for i in range(want):
            drain(i, t)

    # -- arrivals ---------------------------------------------------------------------
    incoming = arrival_times(curve, start_ms, seed)

    def next_arrival() -> int | None:
        return next(incoming, None)

    def arrive(t: int, cid: int) -> None:
        k = (t - start_ms) // SLOT_MS
        mode = modes[(t - start_ms) // 60_000]
        acc, total = cum[curve.mixes[k]]
        u = rnd_chat.random() * total
        lo, hi = 0, len(acc) - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            if acc[mid] <= u:
                lo = mid + 1
            else:
                hi = mid
        chat = Chat(cid, k, t, lo, int(rnd_chat.random() * n_customers), mode)
        chat.source = SOURCES[int(rnd_chat.random() * len(SOURCES))]
        chat.time_on_site = int(rnd_chat.expovariate(1 / 180.0))
        chat.pages = 1 + int(rnd_chat.expovariate(1 / 3.0))
        if chats is not None:
            chats.append(chat)
        s = slots[k]
        s.arrivals += 1
        if mode in BOT_MODES:
            action = outcomes[lo].action
            if action == "answer" or mode == "bot_only":
                # answered, or (bot_only) a "did you mean" / told humans answer later:
                # nobody hands off, the chat closes idle
                chat.closed, chat.reason, chat.state = t + idle_ms, "idle", CLOSED
                count_bot(chat, s)
                return
            s.handoffs += 1
            s.human += 1
            if action == "suggest":
                chat.state = WAITING
                push(t + handoff_ms, _HANDOFF, chat)
                return
        else:
            s.human += 1
        to_human(chat, t)

    # -- the loop -----------------------------------------------------------------------
    for k in range(SLOTS):
        push(start_ms + k * SLOT_MS, _ROSTER, k)
    first = next_arrival()
    if first is not None:
        push(first, _ARRIVAL, None)
    n_chats = 0
    events = 0
    day_end = start_ms + DAY_MS
    t = start_ms
    pop = heapq.heappop
    while heap:
        t, kind, _, obj = pop(heap)
        events += 1
        if kind == _ARRIVAL:
            n_chats += 1
            arrive(t, n_chats)
            nxt = next_arrival()
            if nxt is not None:
                push(nxt, _ARRIVAL, None)
        elif kind == _END:
            chat = obj  # type: ignore[assignment]
            chat.state = CLOSED
            i = chat.agent
            state.release(handles[i], t)
            if i in leaving:
                if not agents_now[i].active:
                    leaving.discard(i)
                    set_status(i, "offline", t)
            else:
                drain(i, t)
        elif kind == _ABANDON:
            chat = obj  # type: ignore[assignment]
            if chat.state == QUEUED:
                chat.state, chat.closed, chat.reason = CLOSED, t, "abandoned"
                n_waiting -= 1
                count_human(chat)
        elif kind == _HANDOFF:
            to_human(obj, t)  # type: ignore[arg-type]
        else:
            roster_change(obj, t)  # type: ignore[arg-type]
        if on_progress is not None and not events % PROGRESS_EVERY:
            on_progress(min(1.0, (t - start_ms) / DAY_MS))
    # nobody came for these: they close unanswered at the end
    end = max(t, day_end)
    for queue in waiting.values():
        for _, _, _, chat in queue:
            if chat.state == QUEUED:
                chat.state, chat.closed, chat.reason = CLOSED, end, "unanswered"
                count_human(chat)
    if on_progress is not None:
        on_progress(1.0)
    return DayResult(start_ms, slots, agents, templates, list(roster), rules, pools, peak,
                     events, end, chats, statuses)
