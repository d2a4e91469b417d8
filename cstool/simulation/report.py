"""The simulated day's report: per half-hour and in total, the figures the metrics
module would compute on the same conversations, beside the Erlang prediction.

Simulated figures (same names and rounding as ``cstool metrics report``):
``arrivals``, ``bot_resolved`` (and ``bot_resolution_rate`` over bot-engaged chats),
``human`` (chats that needed a human), ``response_rate`` (3-minute: ``responses_in_target``
/ ``responses_counted``), ``turns`` and ``answer_rate`` (30-second: ``turns_in_target`` /
``turns``), ``queued``, ``queue_wait_avg_s`` (over the chats that
queued) with ``queue_wait_p90_s``, ``abandoned`` and ``abandonment_rate``; and, to set
beside Erlang's own terms, ``p_wait`` (share of human chats that queued) and ``asa_s``
(mean wait from the need for a human to the assignment, over assigned chats).
"""

from __future__ import annotations

import math

from ..staffing.forecast import slot_label
from .day import DayResult, SlotCounts
from .inputs import ConversationModel, Curve
from .predict import erlang_slot, offered_per_slot
from .world import ShopWorld


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _secs(total_ms: float, n: int) -> float | None:
    return round(total_ms / n / 1000, 1) if n else None


def _p90(waits: list[int]) -> float | None:
    if not waits:
        return None
    ordered = sorted(waits)
    return round(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)] / 1000, 1)


def figures(s: SlotCounts) -> dict:
    """One half-hour's (or the day's) simulated figures."""
    return {
        "arrivals": s.arrivals,
        "bot_resolved": s.bot_resolved,
        "bot_resolution_rate": _rate(s.bot_resolved, s.bot_engaged),
        "handoffs": s.handoffs,
        "human": s.human,
        "answered": s.answered,
        "responses_counted": s.frt_counted,
        "responses_in_target": s.frt_in,
        "response_rate": _rate(s.frt_in, s.frt_counted),
        "first_response_avg_s": _secs(s.frt_sum_ms, s.answered),
        "turns": s.turns_counted,
        "turns_in_target": s.turns_in,
        "answer_rate": _rate(s.turns_in, s.turns_counted),
        "p_wait": _rate(s.queued, s.human),
        "asa_s": _secs(s.wait_sum_ms, s.assigned),
        "queued": s.queued,
        "queue_wait_avg_s": _secs(s.queue_sum_ms, s.queued),
        "queue_wait_p90_s": _p90(s.queue_waits),
        "abandoned": s.abandoned,
        "abandonment_rate": _rate(s.abandoned, s.human),
    }


def _total(slots: list[SlotCounts]) -> SlotCounts:
    out = SlotCounts()
    for s in slots:
        for name in SlotCounts.__dataclass_fields__:
            if name == "queue_waits":
                out.queue_waits.extend(s.queue_waits)
            else:
                setattr(out, name, getattr(out, name) + getattr(s, name))
    return out


def _weighted(rows: list[dict], key: str, weight: str) -> float | None:
    num = den = 0.0
    for r in rows:
        value = r[key]
        if value is None:
            continue
        num += value * r[weight]
        den += r[weight]
    return round(num / den, 4) if den else None


def erlang_total(rows: list[dict]) -> dict:
    """The day's Erlang prediction: each half-hour's weighted by its offered chats."""
    return {
        "offered": round(sum(r["offered"] for r in rows), 1),
        "p_wait": _weighted(rows, "p_wait", "offered"),
        "response_rate": _weighted(rows, "response_rate", "offered"),
        "answer_first_turn": _weighted(rows, "answer_first_turn", "offered"),
        "asa_s": (round(v, 1) if (v := _weighted(
            [r for r in rows if r["asa_s"] is not None], "asa_s", "offered")) is not None
            else None),
        "p_abandon": _weighted([r for r in rows if r["p_abandon"] is not None], "p_abandon",
                               "offered"),
        "overloaded_half_hours": sum(1 for r in rows if r["overloaded"]),
    }


def build_report(world: ShopWorld, curve: Curve, model: ConversationModel, result: DayResult,
                 *, date: str, seed: int, roster_source: str,
                 roster_parts: dict | None = None) -> dict:
    """The JSON report (stable keys; see the module docstring and ``commands/simulate``);
    ``roster_parts`` says what ``roster_source`` is made of (see ``runs._roster``)."""
    offered = offered_per_slot(world, curve, model, result.start_ms)
    slot_rows = []
    erlang_rows = []
    for k, s in enumerate(result.slots):
        on_desk = result.roster[k]
        servers = sum(a.max_chats for a in result.agents[:on_desk])
        e = erlang_slot(offered[k], servers, on_desk, world, model)
        erlang_rows.append(e)
        slot_rows.append({"start": slot_label(k), "expected": round(curve.arrivals[k], 2),
                          "agents": on_desk, "servers": servers, **figures(s), "erlang": e})
    shares = {mix: world.bot_share(mix) for mix in world.pool.weights}
    used = sorted(set(curve.mixes))
    return {
        "shop": world.key,
        "date": date,
        "timezone": world.record["timezone"],
        "seed": seed,
        "inputs": {
            "expected_arrivals": round(curve.total, 1),
            "curve": curve.source,
            "peak": curve.peak,
            "roster": roster_source,
            "roster_parts": roster_parts or {"kind": "text", "text": roster_source},
            "agents_max": max(result.roster, default=0),
            "aht_s": model.aht_s,
            "patience_s": model.patience_s,
            "concurrency": model.concurrency,
            "first_reply_s": model.first_reply_s,
            "reply_s": model.reply_s,
            "turn_gap_s": model.turn_gap_s,
            "handoff_delay_s": model.handoff_delay_s,
            "mode": model.mode or "shop",
            "response_target_s": world.response_target_s,
            "answer_target_s": world.answer_target_s,
            "idle_close_s": world.idle_close_s,
        },
        "totals": {**figures(_total(result.slots)), "erlang": erlang_total(erlang_rows)},
        "bot": {
            "questions": len(world.pool.questions),
            "source": world.pool.source,
            "answer": round(sum(shares[m]["answer"] for m in used) / len(used), 4),
            "suggest": round(sum(shares[m]["suggest"] for m in used) / len(used), 4),
            "handoff": round(sum(shares[m]["handoff"] for m in used) / len(used), 4),
        },
        "routing": {
            "rules": dict(sorted(result.rules.items(), key=lambda kv: (-kv[1], kv[0]))),
            "pools": dict(sorted(result.pools.items(), key=lambda kv: (-kv[1], kv[0]))),
            "max_load": round(result.max_load, 4),
            "agents_used": sum(1 for p in result.peak_active if p),
        },
        "events": result.events,
        "slots": slot_rows,
    }
