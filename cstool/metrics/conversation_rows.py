"""One conversation as the metrics store it: its facts folded into a row with the counts
of its turns, and how each turn and first response counts against the shop's targets
(pure). The figures (``figures.py``) sum these rows; the definitions are in its docstring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from ..resources import SHOP_SETTINGS_DEFAULTS
from .definitions import HOUR_MS, Facts


@dataclass(frozen=True)
class Targets:
    """A shop's thresholds, in ms."""

    response_ms: int = 180_000
    answer_ms: int = 30_000
    attribution_ms: int = 24 * HOUR_MS

    @classmethod
    def from_settings(cls, settings: Mapping | None) -> Targets:
        """From a shop's settings (missing ones take the defaults)."""
        s = {**SHOP_SETTINGS_DEFAULTS, **(settings or {})}
        return cls(int(s["response_target_s"]) * 1000, int(s["answer_target_s"]) * 1000,
                   int(s["attribution_window_h"]) * HOUR_MS)

    def to_dict(self) -> dict:
        """As the settings name them."""
        return {"response_target_s": self.response_ms // 1000,
                "answer_target_s": self.answer_ms // 1000,
                "attribution_window_h": self.attribution_ms // HOUR_MS}


class ConvRow(NamedTuple):
    """A conversation's facts as stored (``metric_conversations``), with the counts of its
    turns, made with the targets ``response_target_ms`` / ``answer_target_ms`` (final once
    it is closed: the row is then *settled* while its shop keeps those targets)."""

    id: int
    shop_id: int
    customer_id: int
    channel: str | None
    group_key: str | None
    created_at: int
    closed_at: int | None
    entry_mode: str
    bot_engaged: int
    handoff_at: int | None
    needs_human_at: int | None
    first_reply_at: int | None
    first_reply_agent_id: int | None
    last_agent_id: int | None
    customer_messages: int
    agent_messages: int
    bot_messages: int
    transfers: int
    queued: int
    queue_wait_ms: int
    queue_since: int | None
    rating: int | None
    reopened_at: int | None
    legs: int
    legs_ended: int
    handle_ms: int
    turns_counted: int
    turns_in: int
    turns_answered: int
    response_ms: int
    response_target_ms: int
    answer_target_ms: int


NOT_COUNTED, MISSED, IN_TARGET = -1, 0, 1


def turn_outcome(started: int, answered: int | None, closed_at: int | None, target_ms: int,
                 as_of: int) -> int:
    """IN_TARGET or MISSED when the turn counts for the answer rate, NOT_COUNTED when it
    does not (yet): unanswered and not waiting past the target (see the docstring)."""
    if answered is not None:
        return IN_TARGET if answered - started <= target_ms else MISSED
    end = closed_at if closed_at is not None else as_of
    return MISSED if end - started > target_ms else NOT_COUNTED


def frt_outcome(needs: int | None, first_reply: int | None, closed_at: int | None,
                target_ms: int, as_of: int) -> int:
    """The same for a conversation's first response (the 3-minute rate)."""
    if needs is None:
        return NOT_COUNTED
    return turn_outcome(needs, first_reply, closed_at, target_ms, as_of)


def turn_counts(turns: Iterable[tuple[int, int | None]], closed_at: int | None,
                target_ms: int, as_of: int) -> tuple[int, int, int, int]:
    """(counted, within target, answered, total answer time in ms) of ``(started,
    answered)`` turns."""
    counted = within = answered_n = total = 0
    for started, answered in turns:
        outcome = turn_outcome(started, answered, closed_at, target_ms, as_of)
        if outcome != NOT_COUNTED:
            counted += 1
            within += outcome
        if answered is not None:
            answered_n += 1
            total += answered - started
    return counted, within, answered_n, total


def settle_time(f_closed: int | None, created: int) -> int:
    return f_closed if f_closed is not None else created


def row_of(f: Facts, t: Targets) -> ConvRow:
    """The stored form of ``f`` (turn counts as of its close; for an open conversation
    they are provisional and counted again at report time)."""
    counts = turn_counts(((x.started_at, x.answered_at) for x in f.turns), f.closed_at,
                         t.answer_ms, settle_time(f.closed_at, f.created_at))
    ended = [g for g in f.legs if g.ended_at is not None]
    return ConvRow(
        f.id, f.shop_id, f.customer_id, f.channel, f.group_key, f.created_at, f.closed_at,
        f.entry_mode, int(f.bot_engaged), f.handoff_at, f.needs_human_at, f.first_reply_at,
        f.first_reply_agent_id, f.last_agent_id, f.customer_messages, f.agent_messages,
        f.bot_messages, f.transfers, int(f.queued), f.queue_wait_ms, f.queue_since, f.rating,
        f.reopened_at, len(f.legs), len(ended),
        sum(g.ended_at - g.started_at for g in ended), *counts, t.response_ms, t.answer_ms)


def leg_turn_counts(f: Facts, t: Targets) -> list[tuple[int, int, int, int]]:
    """Per leg of ``f``, the counts of the turns that belong to it (as of the close)."""
    per: list[list[tuple[int, int | None]]] = [[] for _ in f.legs]
    for x in f.turns:
        if x.leg is not None:
            per[x.leg].append((x.started_at, x.answered_at))
    as_of = settle_time(f.closed_at, f.created_at)
    return [turn_counts(turns, f.closed_at, t.answer_ms, as_of) for turns in per]


def settled(r: ConvRow, targets: Mapping[int, Targets]) -> bool:
    """Closed and counted with its shop's current targets: its stored contribution holds."""
    t = targets[r.shop_id]
    return (r.closed_at is not None and r.answer_target_ms == t.answer_ms
            and r.response_target_ms == t.response_ms)


def bot_resolved(r: ConvRow) -> bool:
    """Resolved by the bot: bot-engaged, closed, the bot wrote, nobody handed off, no agent
    wrote, and the customer opened no new conversation with the shop within 24 h after
    the close (``reopened_at``, as known now)."""
    return bool(r.bot_engaged and r.closed_at is not None and r.bot_messages
                and not r.agent_messages and r.needs_human_at is None
                and r.reopened_at is None)


def first_response_agent(r: ConvRow) -> int | None:
    """The agent a conversation's first response counts for: who answered first, or, when
    nobody did, who held it last."""
    return r.first_reply_agent_id if r.first_reply_at is not None else r.last_agent_id
