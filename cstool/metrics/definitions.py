"""What happened in one conversation, folded from its timeline (pure: no storage, no clock).

This module and ``figures.py`` are the one home of the service metrics of ``docs/DESIGN.md`` §9.
Here a conversation's messages, in order, become its *facts*: when it first needed a
human, its first agent reply, its customer turns and how each was answered, who held
it when (legs), its time in the queue. ``figures.py`` turns the facts of many
conversations into the report's figures, with each shop's thresholds.

The timeline is plain data: for each message ``(sender, agent_id, at, mark)``, where
``sender`` is ``customer``, ``bot``, ``agent`` or ``system``, ``at`` is epoch ms and
``mark`` tells what a system notice of the desk means:

* an agent id (int > 0): the chat was assigned to that agent (``客服X为您服务``, written
  with the ``conversation.assigned`` event: routing, the queue, accept-next, a transfer);
* ``QUEUED``: it went to the queue (the position notice, with ``conversation.queued``);
* ``TRANSFERRED``: the holder handed it over (the transfer note);
* ``CLOSED``: the rating survey sent on close (``conversation.closed``);
* ``UNKNOWN_AGENT``: assigned to an agent who no longer exists;
* ``None``: any other message.

Edge decisions (each is a choice; the README's "Service metrics" repeats them):

* **Needing a human.** In human-first service (the shop's mode in force when the first
  message came was ``human_first`` or ``human_only``) a conversation needs a human from
  its first customer message (``created_at``); otherwise from its handoff
  (``handoff_at``: 转人工, the bot gave up, ...). A conversation that never needed a
  human but was assigned anyway needs one from its first assignment.
* **Customer turns.** A turn is a run of consecutive customer messages; only an agent
  message ends it (bot answers and system notices do not: they answer nobody waiting for
  a human). Only turns *while a human serves* count: a run whose last message came at or
  after the need for a human, starting at the later of its first message and that need
  (so in bot-first service, the run ending in 转人工 starts at the handoff). Its answer
  is the agent message that ends it (any kind: text, product card, coupon, invitation);
  its answer time is that message's time minus the turn's start. Customer messages after
  the close survey (rating comments) are no turn.
* **Who a turn belongs to.** The agent who answered it (and their leg then); an unanswered
  turn belongs to the agent holding the chat (at its close, or now), or to nobody when it
  waits in the queue.
* **Legs.** Each assignment starts a leg of the agent; it ends at the next assignment,
  transfer, return to the queue (an agent going offline) or close. Handle time, chats,
  concurrency and sales attribution are per leg.
* **Queue wait.** The time between going to the queue and the next assignment (or close),
  summed over every spell (a transfer to a busy group queues again); a spell still
  running is counted up to "now" by ``figures.py``.
* **Bot engaged.** The conversation came in while the shop's mode was ``bot_first`` or
  ``bot_only``, or the bot wrote in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

HUMAN_FIRST_MODES = frozenset({"human_first", "human_only"})
BOT_MODES = frozenset({"bot_first", "bot_only"})

# marks of system notices (see the module docstring); agent ids are positive
QUEUED = -1
TRANSFERRED = -2
CLOSED = -3
UNKNOWN_AGENT = -4

HOUR_MS = 3_600_000
# docs/DESIGN.md §9: a bot-handled chat counts as resolved when the customer does not come back to
# the same shop within 24 hours of its close.
BOT_REOPEN_WINDOW_MS = 24 * HOUR_MS


@dataclass(slots=True)
class Turn:
    """One customer turn while a human serves."""

    started_at: int
    answered_at: int | None
    agent_id: int | None
    leg: int | None = None  # index in Facts.legs of the leg it belongs to


@dataclass(slots=True)
class Leg:
    """One agent holding the conversation, from assignment to hand-over or close."""

    agent_id: int
    started_at: int
    ended_at: int | None = None
    first_reply_at: int | None = None
    last_reply_at: int | None = None
    messages: int = 0


@dataclass(slots=True)
class Conversation:
    """The stored conversation fields the metrics read (plain values, epoch ms)."""

    id: int
    shop_id: int
    customer_id: int
    created_at: int
    channel: str | None = None
    group_key: str | None = None
    handoff_at: int | None = None
    closed_at: int | None = None
    rating: int | None = None
    entry_mode: str = "human_first"
    # when the customer opened their next chat with the shop, if within 24 h after the close
    reopened_at: int | None = None


@dataclass(slots=True)
class Facts:
    """Everything the figures need to know about one conversation."""

    id: int
    shop_id: int
    customer_id: int
    channel: str | None
    group_key: str | None
    created_at: int
    closed_at: int | None
    entry_mode: str
    bot_engaged: bool
    handoff_at: int | None
    needs_human_at: int | None
    first_reply_at: int | None
    first_reply_agent_id: int | None
    last_agent_id: int | None
    customer_messages: int
    agent_messages: int
    bot_messages: int
    transfers: int
    queued: bool
    queue_wait_ms: int
    queue_since: int | None
    rating: int | None
    reopened_at: int | None = None
    last_message_id: int = 0
    turns: list[Turn] = field(default_factory=list)
    legs: list[Leg] = field(default_factory=list)


class Timeline:
    """Folds one conversation's messages, fed in order, into its ``Facts``.

    Feeding is incremental, so one pass over many interleaved conversations can keep a
    ``Timeline`` per conversation (the full rebuild does), and one conversation can be
    folded on its own (the catch-up after new events does): both give the same facts.
    """

    __slots__ = (
        "conv", "needs_at", "turns", "legs", "leg", "holder", "closed_seen", "run_start",
        "run_last", "n_customer", "n_agent", "n_bot", "transfers", "queued", "queue_wait",
        "queue_since", "first_reply_at", "first_reply_agent", "last_agent", "last_id",
        "holder_at_close",
    )

    def __init__(self, conv: Conversation):
        self.conv = conv
        if conv.entry_mode in HUMAN_FIRST_MODES:
            self.needs_at: int | None = conv.created_at
        else:
            self.needs_at = conv.handoff_at
        self.turns: list[Turn] = []
        self.legs: list[Leg] = []
        self.leg: Leg | None = None
        self.holder: int | None = None
        self.holder_at_close: int | None = None
        self.closed_seen = False
        self.run_start: int | None = None
        self.run_last = 0
        self.n_customer = self.n_agent = self.n_bot = self.transfers = 0
        self.queued = False
        self.queue_wait = 0
        self.queue_since: int | None = None
        self.first_reply_at: int | None = None
        self.first_reply_agent: int | None = None
        self.last_agent: int | None = None
        self.last_id = 0

    def feed(self, sender: str, agent_id: int | None, at: int, mark: int | None,
             message_id: int = 0) -> None:
        """Take the next message of the conversation."""
        if message_id:
            self.last_id = message_id
        if sender == "customer":
            if self.closed_seen:
                return  # a rating comment: no turn
            self.n_customer += 1
            if self.run_start is None:
                self.run_start = at
            self.run_last = at
        elif sender == "agent":
            self.n_agent += 1
            if self.first_reply_at is None:
                self.first_reply_at, self.first_reply_agent = at, agent_id
            leg = self.leg
            if leg is not None and leg.agent_id == agent_id:
                leg.messages += 1
                if leg.first_reply_at is None:
                    leg.first_reply_at = at
                leg.last_reply_at = at
            if self.run_start is not None:
                needs = self.needs_at
                if needs is not None and self.run_last >= needs:
                    start = self.run_start if self.run_start > needs else needs
                    held = leg is not None and leg.agent_id == agent_id
                    self.turns.append(Turn(start, at, agent_id,
                                           len(self.legs) - 1 if held else None))
                self.run_start = None
        elif sender == "bot":
            self.n_bot += 1
        elif mark is not None:
            self._system(mark, at)

    def _system(self, mark: int, at: int) -> None:
        if self.leg is not None:
            self.leg.ended_at = at
            self.leg = None
        if mark > 0 or mark == UNKNOWN_AGENT:
            if self.needs_at is None:
                self.needs_at = at
            self._end_queue_spell(at)
            if mark > 0:
                self.leg = Leg(mark, at)
                self.legs.append(self.leg)
                self.holder = self.last_agent = mark
            else:
                self.holder = None
        elif mark == QUEUED:
            self.holder = None
            if self.queue_since is None:
                self.queue_since = at
            self.queued = True
        elif mark == TRANSFERRED:
            self.transfers += 1
            self.holder = None
        elif mark == CLOSED:
            self._end_queue_spell(at)
            self.holder_at_close, self.holder = self.holder, None
            self.closed_seen = True

    def _end_queue_spell(self, at: int) -> None:
        if self.queue_since is not None:
            self.queue_wait += at - self.queue_since
            self.queue_since = None

    def facts(self) -> Facts:
        """The facts so far (the timeline may be fed more afterwards)."""
        c = self.conv
        turns = list(self.turns)
        needs = self.needs_at
        if self.run_start is not None and needs is not None and self.run_last >= needs:
            # unanswered: it belongs to whoever holds the chat now (or held it at close)
            start = self.run_start if self.run_start > needs else needs
            holder = self.holder_at_close if self.closed_seen else self.holder
            turns.append(Turn(start, None, holder,
                              len(self.legs) - 1 if holder is not None else None))
        return Facts(
            id=c.id, shop_id=c.shop_id, customer_id=c.customer_id, channel=c.channel,
            group_key=c.group_key, created_at=c.created_at, closed_at=c.closed_at,
            entry_mode=c.entry_mode,
            bot_engaged=c.entry_mode in BOT_MODES or self.n_bot > 0,
            handoff_at=c.handoff_at, needs_human_at=needs,
            first_reply_at=self.first_reply_at, first_reply_agent_id=self.first_reply_agent,
            last_agent_id=self.last_agent, customer_messages=self.n_customer,
            agent_messages=self.n_agent, bot_messages=self.n_bot, transfers=self.transfers,
            queued=self.queued, queue_wait_ms=self.queue_wait, queue_since=self.queue_since,
            rating=c.rating, reopened_at=c.reopened_at, last_message_id=self.last_id,
            turns=turns,
            legs=[Leg(g.agent_id, g.started_at, g.ended_at, g.first_reply_at,
                      g.last_reply_at, g.messages) for g in self.legs],
        )


def fold(conv: Conversation,
         messages: Iterable[tuple[str, int | None, int, int | None]]) -> Facts:
    """The facts of ``conv`` from its messages ``(sender, agent_id, at, mark)`` in order."""
    timeline = Timeline(conv)
    for sender, agent_id, at, mark in messages:
        timeline.feed(sender, agent_id, at, mark)
    return timeline.facts()
