"""The report's figures from conversation facts, orders and agent status changes (pure).

Every figure of ``docs/DESIGN.md`` §9, over a set of conversations (those *created* in the report's
period, optionally of one shop), grouped by shop, group, channel, hour or day (the
conversation's), or by agent. Thresholds come from each conversation's shop
(``response_target_s``, ``answer_target_s``, ``attribution_window_h``), so one row may
mix shops with different targets: each conversation is judged by its own shop's.

Here: the tally of the figures and the grouping into report rows; the parts they stand
on have their own modules: one conversation's stored row and how its turns count
(``conversation_rows.py``), an agent's online time and concurrency (``agent_time.py``),
conversion and attribution (``conversion.py``).

Definitions and edge decisions (the README's "Service metrics" repeats them):

* **First response time** (FRT): the first agent reply minus the moment the conversation
  first needed a human (``definitions.py``). Mean over answered conversations.
* **Response rate** (3-minute rate, Taobao): share of human-needing conversations whose FRT
  is within ``response_target_s``. A conversation with no agent reply counts as a miss once
  it has waited longer than the target (until its close, or until now while open); one
  that closed unanswered within the target (the customer left at once) or that is still
  inside the target is not counted either way.
* **Answer rate** (30-second rate, JD): share of customer turns answered by an agent within
  ``answer_target_s``, with the same rule for unanswered turns (a miss once the wait passed
  the target; a turn cut short by the close within the target, e.g. "好的谢谢" and the
  agent closes, is not counted).
* **Average response time**: mean answer time over answered turns.
* **Bot resolution rate**: among bot-engaged conversations that are closed, those where the
  bot wrote, nobody handed off, no agent wrote, and the customer opened no new
  conversation with the same shop within 24 h after the close (provisional until the 24 h
  pass; looked up among all conversations, also those after the period).
* **Handoff rate**: bot-engaged conversations handed to a human / bot-engaged conversations.
* **Abandonment rate**: human-needing conversations closed without any agent reply / all
  human-needing conversations.
* **Queue wait**: over conversations that waited in the queue, the total waiting time (all
  spells; a spell still running counts up to now): mean and maximum.
* **CSAT**: ratings 4-5 / rated conversations; **rating response rate**: rated / closed
  conversations (every close sends the survey).
* **Inquiry conversion**: consulting customers (distinct shop + customer with a
  conversation in the set) who placed an order in that shop within ``attribution_window_h``
  after the start of one of those conversations / consulting customers. **Paid
  conversion**: the same, counting only such orders that have been paid (at any time).
* **Sales attributed to agents**: each order goes to the agent whose reply to that customer
  in that shop was the latest before the order was placed, if at most
  ``attribution_window_h`` before it (an order placed while an agent's leg is under way
  goes to that agent). Sales sum the totals of attributed orders that were paid and not
  refunded or cancelled. Replies from conversations outside the report's set are not
  looked at. **Attach rate** (连带销售率): attributed orders of more than one item (units
  summed over the order's lines) / attributed orders.
* **Chats / handle time**: conversations a human held (at least one leg); mean leg duration
  over finished legs (assignment to transfer, hand-back or close).
* **Per agent**: chats = conversations with a leg of theirs; messages = their messages;
  FRT and the response rate over conversations they answered first (plus the unanswered
  ones they held last); answer rate and response time over the turns they answered (or
  missed while holding the chat) — measured, like the shop's, from the customer's turn, so
  queue time before they got the chat counts; CSAT over conversations they held last;
  conversion over the customers they replied to, converted when an order is attributed to
  them. **Online time**: time in status online or busy (from ``agent.status`` events;
  before the first event the agent was in that event's "from" status, since the agent's
  creation; with no events, in the current status), clipped to the period and now.
  **Concurrency**: peak number of chats held at once, and the mean number held over the
  time they held at least one. Online time and concurrency count every shop of the agent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from ..errors import InvalidValue
from ..values import format_money, format_time
from .agent_time import StatusChange, concurrency, online_ms
from .conversation_rows import (
    NOT_COUNTED,
    ConvRow,
    Targets,
    bot_resolved,
    first_response_agent,
    frt_outcome,
    settle_time,
    turn_counts,
    turn_outcome,
)
from .conversion import NOT_SALES, Order, attribute, conversion, index_orders
from .definitions import HOUR_MS, Leg

CONVERSATION_DIMENSIONS = ("shop", "group", "channel", "hour", "day")
DIMENSIONS = (*CONVERSATION_DIMENSIONS, "agent")
NONE_LABEL = "-"

NOT_FOR_AGENTS = ("customer_messages", "bot_messages", "bot_conversations", "handoffs",
                  "handoff_rate", "bot_resolved", "bot_resolution_rate", "queued",
                  "queue_wait_avg_s", "queue_wait_max_s", "transfers")


@dataclass(slots=True)
class Agent:
    """An agent as the report names it."""

    id: int
    handle: str
    name: str
    status: str
    created_at: int


@dataclass
class Labels:
    """Names for ids: shops (id -> key) and agents (id -> Agent); ``shown_shops``: the
    shops whose targets the report lists (None: all); ``zone``: the time zone of the hour
    and day buckets and of the report's times (the caller's display zone)."""

    shops: Mapping[int, str]
    agents: Mapping[int, Agent] = field(default_factory=dict)
    shown_shops: set[int] | None = None
    zone: tzinfo = field(kw_only=True)


_bucket_cache: dict[tuple[int, str, tzinfo], str] = {}
QUARTER_MS = 15 * 60_000  # zones' offsets are whole quarter hours (+05:30, +05:45 ...)


def bucket(ms: int, unit: str, zone: tzinfo) -> str:
    """The hour (``2026-11-11 00:00``) or day (``2026-11-11``) of ``ms`` in ``zone``: the
    local hour, also in a zone whose offset is not whole hours (Asia/Kolkata, +05:30).

    Cached per UTC quarter hour (and zone): when the zone's offset is a whole number of
    quarter hours, every instant of one UTC quarter hour is in the same local hour."""
    quarter = ms // QUARTER_MS
    key = (quarter, unit, zone)
    label = _bucket_cache.get(key)
    if label is None:
        dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone)
        label = dt.strftime("%Y-%m-%d %H:00" if unit == "hour" else "%Y-%m-%d")
        offset = dt.utcoffset()
        if offset is not None and (offset.total_seconds() * 1000) % QUARTER_MS == 0:
            if len(_bucket_cache) > 100_000:
                _bucket_cache.clear()
            _bucket_cache[key] = label
    return label


def fixed_offset(lo: int, hi: int, zone: tzinfo) -> int | None:
    """``zone``'s UTC offset in ms if it is the same over ``[lo, hi]`` (sampled every 6
    hours; spans over two years are not checked and give None)."""
    if hi - lo > 2 * 366 * 24 * HOUR_MS:
        return None
    offsets = set()
    t = lo
    while True:
        dt = datetime.fromtimestamp(t / 1000, tz=UTC).astimezone(zone)
        offsets.add(int(dt.utcoffset().total_seconds() * 1000))
        if len(offsets) > 1:
            return None
        if t >= hi:
            break
        t = min(hi, t + 6 * HOUR_MS)
    return offsets.pop()


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _secs(total_ms: float, n: int) -> float | None:
    return round(total_ms / n / 1000, 1) if n else None



# -- the tally --------------------------------------------------------------------------
# Counters that add up over conversations: a settled conversation's values are stored with
# it (``contribution``) and summed by SQL; everything else is counted here.
ADDITIVE = (
    "conversations", "customer_messages", "agent_messages", "bot_messages", "transfers",
    "human", "answered", "frt_sum", "frt_counted", "frt_in", "abandoned",
    "turns_counted", "turns_in", "turns_answered", "response_sum",
    "bot", "handoffs", "bot_closed", "bot_resolved", "queued", "queue_sum",
    "closed", "rated", "satisfied", "rating_sum", "chats", "legs_ended", "handle_sum",
)
FRT_PART = ("answered", "frt_sum", "frt_counted", "frt_in")
CLOSE_PART = ("closed", "rated", "satisfied", "rating_sum", "abandoned")
LEG_PART = ("legs_ended", "handle_sum", "agent_messages", "turns_counted", "turns_in",
            "turns_answered", "response_sum")


class Tally:
    """Counters of one report row."""

    __slots__ = (
        *ADDITIVE, "queue_max", "customers", "consulting", "ordering", "paying",
        "attributed_orders", "attributed_sales", "multi_item_orders", "chat_ids",
        "n_customers", "n_consulting", "n_chats",
    )

    def __init__(self) -> None:
        self.conversations = self.customer_messages = self.agent_messages = 0
        self.bot_messages = self.transfers = self.human = self.answered = self.frt_sum = 0
        self.frt_counted = self.frt_in = self.abandoned = self.turns_counted = 0
        self.turns_in = self.turns_answered = self.response_sum = self.bot = 0
        self.handoffs = self.bot_closed = self.bot_resolved = self.queued = 0
        self.queue_sum = self.closed = self.rated = self.satisfied = self.rating_sum = 0
        self.chats = self.legs_ended = self.handle_sum = 0
        self.queue_max = self.attributed_orders = self.attributed_sales = 0
        self.multi_item_orders = 0
        self.customers: set[tuple[int, int]] = set()
        self.consulting: set[tuple[int, int]] = set()
        self.ordering: set[tuple[int, int]] = set()
        self.paying: set[tuple[int, int]] = set()
        self.chat_ids: set[int] = set()
        # counts made by SQL (COUNT DISTINCT) over every row, in place of the sets
        self.n_customers: int | None = None
        self.n_consulting: int | None = None
        self.n_chats: int | None = None

    def absorb(self, names: Sequence[str], values: Sequence[int | None]) -> None:
        """Add sums made elsewhere (SQL over stored contributions)."""
        for name, value in zip(names, values, strict=True):
            if value:
                setattr(self, name, getattr(self, name) + value)

    def add(self, r: ConvRow, t: Targets, as_of: int, counts: tuple | None = None,
            ordered: bool = False, paid: bool = False) -> None:
        """Everything one conversation contributes (``counts``: its turn counts made now,
        None to use the stored ones)."""
        self.conversations += 1
        pair = (r.shop_id, r.customer_id)
        self.customers.add(pair)
        self.consulting.add(pair)
        if ordered:
            self.ordering.add(pair)
        if paid:
            self.paying.add(pair)
        self.customer_messages += r.customer_messages
        self.agent_messages += r.agent_messages
        self.bot_messages += r.bot_messages
        self.transfers += r.transfers
        closed = r.closed_at
        if r.needs_human_at is not None:
            self.human += 1
            self.first_response(r, t, as_of)
            if closed is not None and r.first_reply_at is None:
                self.abandoned += 1
        if counts is None:
            counts = (r.turns_counted, r.turns_in, r.turns_answered, r.response_ms)
        self.turns_counted += counts[0]
        self.turns_in += counts[1]
        self.turns_answered += counts[2]
        self.response_sum += counts[3]
        if r.bot_engaged:
            self.bot += 1
            if r.handoff_at is not None:
                self.handoffs += 1
            if closed is not None:
                self.bot_closed += 1
                if bot_resolved(r):
                    self.bot_resolved += 1
        if r.queued:
            self.queue(r, as_of)
        if closed is not None:
            self.rating(r)
        if r.legs:
            self.chats += 1
            self.legs_ended += r.legs_ended
            self.handle_sum += r.handle_ms

    def first_response(self, r: ConvRow, t: Targets, as_of: int) -> None:
        """FRT and the response rate."""
        outcome = frt_outcome(r.needs_human_at, r.first_reply_at, r.closed_at,
                              t.response_ms, as_of)
        if outcome == NOT_COUNTED:
            return
        self.frt_counted += 1
        self.frt_in += outcome
        if r.first_reply_at is not None:
            self.answered += 1
            self.frt_sum += max(0, r.first_reply_at - r.needs_human_at)

    def turn(self, started: int, answered: int | None, closed_at: int | None, t: Targets,
             as_of: int) -> None:
        """One customer turn (by agent)."""
        outcome = turn_outcome(started, answered, closed_at, t.answer_ms, as_of)
        if outcome != NOT_COUNTED:
            self.turns_counted += 1
            self.turns_in += outcome
        if answered is not None:
            self.turns_answered += 1
            self.response_sum += answered - started

    def queue(self, r: ConvRow, as_of: int) -> None:
        """Queue wait (a spell still running counts up to now)."""
        wait = r.queue_wait_ms
        if r.queue_since is not None and r.closed_at is None:
            wait += max(0, as_of - r.queue_since)
        self.queued += 1
        self.queue_sum += wait
        if wait > self.queue_max:
            self.queue_max = wait

    def rating(self, r: ConvRow) -> None:
        """CSAT and the rating response rate (closed conversations)."""
        self.closed += 1
        if r.rating is not None:
            self.rated += 1
            self.rating_sum += r.rating
            if r.rating >= 4:
                self.satisfied += 1

    def sale(self, o: Order) -> None:
        """An order attributed to this row."""
        self.attributed_orders += 1
        self.multi_item_orders += o.items > 1
        if o.paid_at is not None and o.status not in NOT_SALES:
            self.attributed_sales += o.total

    def figures(self, *, agent: bool = False) -> dict:
        """The row's figures."""
        n_customers = len(self.customers) if self.n_customers is None else self.n_customers
        n_consulting = len(self.consulting) if self.n_consulting is None else \
            self.n_consulting
        chats = (len(self.chat_ids) if self.n_chats is None else self.n_chats) if agent \
            else self.chats
        out = {
            "conversations": chats if agent else self.conversations,
            "customers": n_customers,
            "customer_messages": self.customer_messages,
            "agent_messages": self.agent_messages,
            "bot_messages": self.bot_messages,
            "human_conversations": chats if agent else self.human,
            "answered_conversations": self.answered,
            "first_response_avg_s": _secs(self.frt_sum, self.answered),
            "response_rate": _rate(self.frt_in, self.frt_counted),
            "turns": self.turns_counted,
            "answer_rate": _rate(self.turns_in, self.turns_counted),
            "avg_response_s": _secs(self.response_sum, self.turns_answered),
            "bot_conversations": self.bot,
            "handoffs": self.handoffs,
            "handoff_rate": _rate(self.handoffs, self.bot),
            "bot_resolved": self.bot_resolved,
            "bot_resolution_rate": _rate(self.bot_resolved, self.bot_closed),
            "abandoned": self.abandoned,
            "abandonment_rate": _rate(self.abandoned, chats if agent else self.human),
            "queued": self.queued,
            "queue_wait_avg_s": _secs(self.queue_sum, self.queued),
            "queue_wait_max_s": round(self.queue_max / 1000, 1) if self.queued else None,
            "closed": self.closed,
            "rated": self.rated,
            "rating_response_rate": _rate(self.rated, self.closed),
            "csat": _rate(self.satisfied, self.rated),
            "rating_avg": round(self.rating_sum / self.rated, 2) if self.rated else None,
            "consulting_customers": n_consulting,
            "ordering_customers": len(self.ordering),
            "inquiry_conversion": _rate(len(self.ordering), n_consulting),
            "paying_customers": len(self.paying),
            "paid_conversion": _rate(len(self.paying), n_consulting),
            "attributed_orders": self.attributed_orders,
            "attributed_sales": format_money(self.attributed_sales),
            "multi_item_orders": self.multi_item_orders,
            "attach_rate": _rate(self.multi_item_orders, self.attributed_orders),
            "chats": chats,
            "transfers": self.transfers,
            "handle_time_avg_s": _secs(self.handle_sum, self.legs_ended),
        }
        if agent:
            for name in NOT_FOR_AGENTS:
                out[name] = None
        return out


def contribution(r: ConvRow, t: Targets) -> tuple[int, ...]:
    """What a settled conversation adds to each ``ADDITIVE`` counter (stored with it)."""
    one = Tally()
    one.add(r, t, settle_time(r.closed_at, r.created_at))
    return tuple(getattr(one, name) for name in ADDITIVE)


def key_of(dims: Sequence[str], labels: Labels) -> Callable[[ConvRow], tuple]:
    """A row's group key: the labels of its dimensions."""
    getters = {
        "shop": lambda r: labels.shops.get(r.shop_id, str(r.shop_id)),
        "group": lambda r: r.group_key or NONE_LABEL,
        "channel": lambda r: r.channel or NONE_LABEL,
        "hour": lambda r: bucket(r.created_at, "hour", labels.zone),
        "day": lambda r: bucket(r.created_at, "day", labels.zone),
    }
    fns = [getters[d] for d in dims]
    return lambda r: tuple(fn(r) for fn in fns)


@dataclass
class Sums:
    """What SQL summed over the stored contributions, per group key (labels; ``()`` is
    the total): settled rows' ``ADDITIVE`` sums, their longest queue wait, and the distinct
    customers of every row."""

    additive: dict[tuple, Sequence[int]] = field(default_factory=dict)
    queue_max: dict[tuple, int] = field(default_factory=dict)
    customers: dict[tuple, int] = field(default_factory=dict)


@dataclass
class AgentSums:
    """SQL sums for agents (by agent id): legs of every row (chats, customers, customers
    replied to, ended legs, handle time, messages) with the turn counts of settled rows'
    legs; first responses and closes of settled rows; every leg's interval."""

    legs: dict[int, Sequence[int]] = field(default_factory=dict)
    chats: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    frt: dict[int, Sequence[int]] = field(default_factory=dict)
    closes: dict[int, Sequence[int]] = field(default_factory=dict)
    held: dict[int, list[tuple[int, int | None]]] = field(default_factory=dict)


def build(*, sums: Sums, unsettled: Sequence[ConvRow], buyers: Sequence[ConvRow],
          orders: Iterable[Order], replied: Iterable[tuple[ConvRow, Leg]],
          targets: Mapping[int, Targets], labels: Labels, as_of: int,
          by: Sequence[str] = (), since: int | None = None, until: int | None = None,
          turns: Mapping[int, Sequence[tuple[int, int | None, int | None]]] | None = None,
          agent_sums: AgentSums | None = None,
          statuses: Mapping[int, Sequence[StatusChange]] | None = None,
          agents: Sequence[int] = ()) -> dict:
    """The report over the conversations in scope, from the parts the store read.

    ``sums``: SQL sums of the settled rows' stored contributions (grouped ``by`` the
    conversation dimensions); ``unsettled``: the rows whose contribution is counted now
    (open, or counted with other targets), with their ``turns`` (started, answered,
    agent); ``buyers``: rows of customers who ordered (conversion), ``orders`` theirs and
    ``replied`` (row, leg) their legs with a reply (attribution). By agent:
    ``agent_sums``, ``statuses`` and ``agents`` (shown even without chats).
    """
    by = list(by)
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise InvalidValue(f"unknown dimension {unknown[0]!r}", key="unknown_dimension",
                           dimension=unknown[0])
    if "agent" in by and len(by) > 1:
        raise InvalidValue("agent cannot be combined with other dimensions",
                           key="agent_dimension_alone")
    turns = turns or {}
    grouped = bool(by) and by != ["agent"]
    keyf = key_of(by if grouped else [], labels)
    tallies: dict[tuple, Tally] = {}

    def tally(key: tuple) -> Tally:
        t = tallies.get(key)
        if t is None:
            t = tallies[key] = Tally()
        return t

    for key, values in sums.additive.items():
        tally(key).absorb(ADDITIVE, values)
    for key, value in sums.queue_max.items():
        tally(key).queue_max = value or 0
    for key, n in sums.customers.items():
        tally(key).n_customers = tally(key).n_consulting = n
    index = index_orders(orders)
    for r in unsettled:
        t = targets[r.shop_id]
        counts = turn_counts(((a, b) for a, b, _ in turns.get(r.id, ())), r.closed_at,
                             t.answer_ms, as_of)
        for key in ((keyf(r), ()) if grouped else ((),)):
            tally(key).add(r, t, as_of, counts)
    for r in buyers:
        ordered, paid = conversion(r, index, targets[r.shop_id].attribution_ms)
        pair = (r.shop_id, r.customer_id)
        for key in ((keyf(r), ()) if grouped else ((),)):
            if ordered:
                tally(key).ordering.add(pair)
            if paid:
                tally(key).paying.add(pair)
    attributed = attribute(replied, index, targets)
    for o, r, _ in attributed:
        for key in ((keyf(r), ()) if grouped else ((),)):
            tally(key).sale(o)
    total = tally(())
    out_rows: list[dict] = []
    if by == ["agent"]:
        out_rows = _agent_rows(unsettled, targets, attributed, labels, as_of, since, until,
                               turns, agent_sums or AgentSums(), statuses or {}, agents)
    elif grouped:
        for key in sorted(k for k in tallies if k != ()):
            out_rows.append({**dict(zip(by, key, strict=True)), **tallies[key].figures()})
    shops = sorted(targets)
    return {
        "from": format_time(since, labels.zone), "to": format_time(until, labels.zone),
        "as_of": format_time(as_of, labels.zone),
        "by": by,
        "targets": {labels.shops.get(s, str(s)): targets[s].to_dict() for s in shops
                    if s in labels.shown_shops} if labels.shown_shops is not None else
        {labels.shops.get(s, str(s)): targets[s].to_dict() for s in shops},
        "total": total.figures(),
        "rows": out_rows,
    }


def _agent_rows(unsettled: Sequence[ConvRow], targets: Mapping[int, Targets],
                attributed: list[tuple[Order, ConvRow, Leg]], labels: Labels, as_of: int,
                since: int | None, until: int | None,
                turns: Mapping[int, Sequence[tuple[int, int | None, int | None]]],
                sums: AgentSums, statuses: Mapping[int, Sequence[StatusChange]],
                extra: Sequence[int]) -> list[dict]:
    tallies: dict[int, Tally] = {}

    def tally_of(agent_id: int) -> Tally:
        tally = tallies.get(agent_id)
        if tally is None:
            tally = tallies[agent_id] = Tally()
            tally.n_chats = tally.n_customers = tally.n_consulting = 0
        return tally

    for a in extra:
        tally_of(a)
    for agent_id, values in sums.legs.items():
        tally_of(agent_id).absorb(LEG_PART, values)
    for agent_id, (chats, customers, consulting) in sums.chats.items():
        tally = tally_of(agent_id)
        tally.n_chats, tally.n_customers, tally.n_consulting = chats, customers, consulting
    for agent_id, values in sums.frt.items():
        tally_of(agent_id).absorb(FRT_PART, values)
    for agent_id, values in sums.closes.items():
        tally_of(agent_id).absorb(CLOSE_PART, values)
    for r in unsettled:  # what their stored contributions could not say
        t = targets[r.shop_id]
        first = first_response_agent(r)
        if first is not None:
            tally_of(first).first_response(r, t, as_of)
        for started, answered, agent_id in turns.get(r.id, ()):
            if agent_id is not None:
                tally_of(agent_id).turn(started, answered, r.closed_at, t, as_of)
        if r.last_agent_id is not None and r.closed_at is not None:
            tally = tally_of(r.last_agent_id)
            tally.rating(r)
            if r.needs_human_at is not None and r.first_reply_at is None:
                tally.abandoned += 1
    for o, r, g in attributed:
        tally = tally_of(g.agent_id)
        tally.sale(o)
        tally.ordering.add((r.shop_id, r.customer_id))
        if o.paid_at is not None:
            tally.paying.add((r.shop_id, r.customer_id))
    out = []
    end = as_of if until is None else min(until, as_of)
    for agent_id, tally in tallies.items():
        info = labels.agents.get(agent_id)
        start = since if since is not None else 0
        row = {"agent": info.handle if info else str(agent_id),
               "name": info.name if info else None,
               "status": info.status if info else None, **tally.figures(agent=True)}
        row["online_s"] = None if info is None else round(online_ms(
            statuses.get(agent_id, ()), info.status, info.created_at, start, end) / 1000, 1)
        avg, peak = concurrency(((a, b if b is not None else as_of)
                                 for a, b in sums.held.get(agent_id, ())), start, end)
        row["concurrency_avg"] = None if avg is None else round(avg, 2)
        row["concurrency_peak"] = peak
        out.append(row)
    out.sort(key=lambda r: r["agent"])
    return out


FIELDS = tuple(Tally().figures())  # every figure of a report row, in order
