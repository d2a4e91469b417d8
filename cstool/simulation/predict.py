"""The Erlang C/A prediction for the same inputs as a simulated half-hour, stated in the
metrics' own terms, and the roster Erlang would staff.

Per half-hour: the chats offered to humans are the expected arrivals times the share
that needs one in the service mode in force (minute by minute): all of them in
``human_first`` / ``human_only``, none in ``bot_only``, and in ``bot_first`` those the
bot does not answer (weighted over the half-hour's question mix). The desk is one pool
of the chat slots of the agents rostered (``cstool.staffing.erlang``: M/M/n, or M/M/n+M
with patience), in steady state for the half-hour.

The figures are what the metrics would read off such a desk:

* ``response_rate``: the 3-minute rate. A first reply comes ``first_reply_s`` after the
  assignment, so it is in time when the wait is at most ``T - first_reply_s``; and a
  customer who gave up within ``T`` is not counted either way (the metric's rule), so
  with patience it is P(answered in time) / (1 - P(gave up within T));
* ``answer_first_turn``: the same for the 30-second target: the share of first turns
  answered in time (the simulated 30-second rate also counts the later turns, which
  wait only for the agent's reply);
* ``p_wait``, ``asa_s`` (mean wait of the answered), ``p_abandon``, ``occupancy``.

P(gave up within T) under Erlang A comes from the same virtual-waiting-time density the
Erlang A formulas use: a waiting customer with patience τ and virtual wait V leaves at
τ when τ < V, so P = P(wait) · ∫ f(v) (1 - e^{-θ·min(v, T)}) dv, integrated here
numerically (log space, Simpson on a fine grid).
"""

from __future__ import annotations

import math

import numpy as np

from ..staffing.erlang import Workload, evaluate, required_agents
from .day import mode_by_minute
from .inputs import SLOT_MS, SLOTS, ConversationModel, Curve
from .world import ShopWorld


def human_share(world: ShopWorld, curve: Curve, model: ConversationModel,
                start_ms: int) -> list[float]:
    """Per half-hour, the expected share of arriving chats that need a human."""
    modes = mode_by_minute(world.record, start_ms, model.mode)
    per_mix = {mix: 1.0 - world.bot_share(mix)["answer"] for mix in world.pool.weights}
    out = []
    for k in range(SLOTS):
        minutes = modes[k * 30:(k + 1) * 30]
        share = 0.0
        for m in minutes:
            if m in ("human_first", "human_only"):
                share += 1.0
            elif m == "bot_first":
                share += per_mix[curve.mixes[k]]
        out.append(share / len(minutes))
    return out


def abandon_within(rate: float, servers: int, aht_s: float, patience_s: float,
                   target_s: float, p_wait: float) -> float:
    """P(a customer gives up after waiting at most ``target_s``) in M/M/n+M."""
    if p_wait <= 0.0:
        return 0.0
    mu_s = servers / aht_s
    theta = 1.0 / patience_s

    def log_g(x: np.ndarray) -> np.ndarray:
        return rate * (-np.expm1(-theta * x)) / theta - mu_s * x

    mode = max(0.0, math.log(rate / mu_s) / theta) if rate > mu_s else 0.0
    peak = float(log_g(np.array(mode)))
    hi = max(mode, 1.0 / mu_s)
    while float(log_g(np.array(mode + hi))) > peak - 50.0:
        hi *= 2.0
    xs = np.linspace(0.0, mode + hi, 20_001)
    g = np.exp(log_g(xs) - peak)
    w = np.ones_like(xs)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    left = -np.expm1(-theta * np.minimum(xs, target_s))
    j = float((g * w).sum())
    return p_wait * float((g * left * w).sum()) / j if j > 0 else 0.0


def erlang_slot(offered: float, servers: int, agents: int, world: ShopWorld,
                model: ConversationModel) -> dict:
    """The Erlang prediction for one half-hour (see the module docstring)."""
    lag = min(model.first_reply_s, world.response_target_s)
    w = Workload(offered, SLOT_MS / 1000, model.aht_s, world.response_target_s - lag,
                 model.patience_s)
    perf = evaluate(w, servers)
    first = evaluate(Workload(offered, SLOT_MS / 1000, model.aht_s,
                              max(0.0, world.answer_target_s - model.first_reply_s),
                              model.patience_s), servers)
    rate = perf.service_level
    turn = first.service_level
    if model.patience_s is not None and offered > 0 and servers > 0:
        gone = abandon_within(w.rate, servers, model.aht_s, model.patience_s,
                              world.response_target_s, perf.p_wait)
        gone_30 = abandon_within(w.rate, servers, model.aht_s, model.patience_s,
                                 world.answer_target_s, first.p_wait)
        rate = rate / (1.0 - gone) if gone < 1 else 0.0
        turn = turn / (1.0 - gone_30) if gone_30 < 1 else 0.0
    elif servers == 0 and offered > 0:
        rate = turn = 0.0
    overloaded = perf.asa_s is None
    return {
        "offered": round(offered, 2),
        "agents": agents,
        "servers": servers,
        "traffic_erlangs": round(perf.traffic_erlangs, 3),
        "p_wait": round(perf.p_wait, 4),
        "response_rate": None if offered <= 0 else round(min(1.0, rate), 4),
        "answer_first_turn": None if offered <= 0 else round(min(1.0, turn), 4),
        "asa_s": None if overloaded else round(perf.asa_s, 1),
        "p_abandon": None if perf.p_abandon is None else round(perf.p_abandon, 4),
        "occupancy": round(perf.occupancy, 4),
        "overloaded": overloaded and offered > 0,
    }


def offered_per_slot(world: ShopWorld, curve: Curve, model: ConversationModel,
                     start_ms: int) -> list[float]:
    """Expected chats offered to humans per half-hour."""
    return [a * s for a, s in zip(curve.arrivals,
                                  human_share(world, curve, model, start_ms), strict=True)]


def auto_roster(world: ShopWorld, curve: Curve, model: ConversationModel, start_ms: int,
                service_level: float, target_s: float,
                max_abandon: float | None = None) -> list[int]:
    """Per half-hour, the fewest agents whose chat slots Erlang C (A with patience) says
    reach ``service_level`` within ``target_s`` (and, with patience, lose at most
    ``max_abandon``). Agents join in roster order, each with their own capacity (or
    ``model.concurrency``), so the count is exact for the desk that will be simulated."""
    caps = [model.concurrency or max(1, int(a.get("max_chats", 5))) for a in world.agents] \
        or [model.concurrency or 1]
    cap = max_abandon if model.patience_s is not None else None
    out = []
    for offered in offered_per_slot(world, curve, model, start_ms):
        if offered <= 0:
            out.append(0)
            continue
        w = Workload(offered, SLOT_MS / 1000, model.aht_s, target_s, model.patience_s)
        servers = required_agents(w, service_level, max_abandon=cap).agents
        cycle = sum(caps)
        n = len(caps) * (servers // cycle)
        held = cycle * (servers // cycle)
        while held < servers:
            held += caps[n % len(caps)]
            n += 1
        out.append(n)
    return out
