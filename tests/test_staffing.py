"""Staffing: Erlang C and A against published examples and independent computations,
large desks, the fewest-agents search, shrinkage, chat concurrency against a
discrete-event simulation, the forecast on synthetic history with a known answer,
the roster covering the requirement, and the staffing CLI."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from cstool.errors import InvalidInput
from cstool.simulation.steady_state_queue import simulate
from cstool.staffing import (
    Workload,
    erlang_b,
    erlang_c,
    evaluate,
    positions,
    required_agents,
)
from cstool.staffing.forecast import (
    ForecastSettings,
    accuracy,
    fit,
    forecast_day,
    history_from_buckets,
)
from cstool.staffing.plan import ShiftSettings, StaffingTarget, make_plan, parse_target, roster

TZ = "Asia/Shanghai"


# -- Erlang C: published worked examples ---------------------------------------------------

def test_erlang_c_call_centre_helper_worked_example():
    # Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example":
    # 100 calls in 30 minutes, AHT 180 s, 80% answered in 20 s, occupancy cap 85%,
    # shrinkage 30%. Traffic 10 Erlangs; 13 agents give 79.6% (short), 14 agents give
    # P(wait) 17.4%, service level 88.8%, ASA 7.8 s, occupancy 71.4%; 20 positions.
    w = Workload(100, 1800, 180, 20)
    assert w.traffic == pytest.approx(10.0)
    p13, p14 = evaluate(w, 13), evaluate(w, 14)
    assert round(p13.service_level, 3) == 0.796
    assert round(p14.p_wait, 3) == 0.174
    assert round(p14.service_level, 3) == 0.888
    assert round(p14.asa_s, 1) == 7.8
    assert round(p14.occupancy, 3) == 0.714
    best = required_agents(w, 0.8, max_occupancy=0.85)
    assert best.agents == 14
    assert positions(best.agents, 0.30) == 20


def test_erlang_c_westbay_worked_example():
    # Westbay Engineers, "The Erlang-C formula" step-by-step example: 360 calls per
    # half hour, 4-minute calls, 55 agents, 15-second target: traffic 48 Erlangs,
    # occupancy 0.873, E_C 0.239, ASA 8.2 s, service level 84.6%.
    p = evaluate(Workload(360, 1800, 240, 15), 55)
    assert p.traffic_erlangs == pytest.approx(48.0)
    assert round(p.occupancy, 3) == 0.873
    assert round(p.p_wait, 3) == 0.239
    assert round(p.asa_s, 1) == 8.2
    assert round(p.service_level, 3) == 0.846


def test_erlang_b_and_c_small_values_by_hand():
    # B(1, A) = A / (1 + A); C(1, A) = A (M/M/1); B(2, 1) = 0.2
    assert erlang_b(1, 0.5) == pytest.approx(1 / 3)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert erlang_c(3, 3.0) == 1.0 and erlang_c(5, 0.0) == 0.0


def test_same_staffing_as_pyworkforce_on_random_cases():
    pw = pytest.importorskip("pyworkforce.queuing")
    rnd = random.Random(7)
    for _ in range(60):
        calls, aht, target = rnd.uniform(5, 3000), rnd.uniform(60, 600), rnd.choice([10, 20, 60])
        sl, occ = rnd.choice([0.7, 0.8, 0.9]), rnd.choice([1.0, 0.85])
        theirs = pw.ErlangC(transactions=calls, aht=aht / 60, asa=target / 60, interval=30,
                            shrinkage=0.0).required_positions(service_level=sl, max_occupancy=occ)
        ours = required_agents(Workload(calls, 1800, aht, target), sl, max_occupancy=occ)
        assert ours.agents == theirs["raw_positions"]
        assert ours.service_level == pytest.approx(theirs["service_level"], abs=1e-9)
        assert ours.p_wait == pytest.approx(theirs["waiting_probability"], abs=1e-9)


# -- large desks ---------------------------------------------------------------------------

def _log_erlang_b_reference(n: int, a: float) -> float:
    """log B(n, A) straight from the definition, in log space with lgamma."""
    terms = np.array([k * math.log(a) - math.lgamma(k + 1) for k in range(n + 1)])
    top = terms.max()
    return terms[-1] - (top + math.log(np.exp(terms - top).sum()))


@pytest.mark.parametrize("n,a", [(10_000, 9_900.0), (10_000, 9_990.0), (10_000, 8_000.0),
                                 (5_000, 4_990.5)])
def test_ten_thousand_agents_without_overflow(n, a):
    assert math.log(erlang_b(n, a)) == pytest.approx(_log_erlang_b_reference(n, a), rel=1e-9)
    c = erlang_c(n, a)
    b = math.exp(_log_erlang_b_reference(n, a))
    assert c == pytest.approx(n * b / (n - a * (1 - b)), rel=1e-9)
    assert 0 <= c <= 1


def test_far_tail_underflows_to_zero_gracefully():
    # B(10000, 100) is about 1e-15,000: no exception, wait probability exactly 0
    assert erlang_c(10_000, 100.0) == 0.0
    p = evaluate(Workload(600, 1800, 300, 20, patience_s=60), 10_000)
    assert p.p_wait == 0.0 and p.service_level == 1.0 and p.p_abandon == 0.0


def test_sizing_a_ten_thousand_agent_desk():
    # 59,400 chats per half hour at 300 s: 9,900 Erlangs
    w = Workload(59_400, 1800, 300, 20)
    best = required_agents(w, 0.8)
    assert 9_900 < best.agents < 10_000
    assert best.service_level >= 0.8 > evaluate(w, best.agents - 1).service_level
    wa = Workload(59_400, 1800, 300, 20, patience_s=120)
    best_a = required_agents(wa, 0.8)
    assert best_a.agents <= best.agents
    assert best_a.service_level >= 0.8 > evaluate(wa, best_a.agents - 1).service_level


# -- Erlang A ------------------------------------------------------------------------------

def _birth_death(lam: float, mu: float, theta: float, servers: int, depth: int = 6000):
    """P(wait), P(abandon), mean wait from the M/M/n+M birth-death chain, truncated."""
    logs = [0.0]
    for j in range(1, servers + depth):
        rate_down = min(j, servers) * mu + max(0, j - servers) * theta
        logs.append(logs[-1] + math.log(lam) - math.log(rate_down))
    p = np.exp(np.array(logs) - max(logs))
    p /= p.sum()
    queue = np.clip(np.arange(len(p)) - servers, 0, None)
    eq = float(queue @ p)
    return float(p[servers:].sum()), theta * eq / lam, eq / lam


@pytest.mark.parametrize("calls,aht,patience,agents", [
    (100, 180, 60, 10), (100, 180, 120, 12), (300, 240, 30, 30), (1000, 300, 90, 150),
    (50, 300, 600, 3), (2000, 120, 45, 100), (200, 180, 60, 10)])
def test_erlang_a_matches_the_birth_death_chain(calls, aht, patience, agents):
    p = evaluate(Workload(calls, 1800, aht, 20, patience_s=patience), agents)
    p_wait, p_ab, mean_wait = _birth_death(calls / 1800, 1 / aht, 1 / patience, agents)
    assert p.p_wait == pytest.approx(p_wait, abs=1e-8)
    assert p.p_abandon == pytest.approx(p_ab, abs=1e-8)
    assert p.mean_wait_s == pytest.approx(mean_wait, rel=1e-6)
    assert p.occupancy == pytest.approx(calls / 1800 * aht * (1 - p_ab) / agents, rel=1e-7)


def _answered_within(lam: float, mu: float, theta: float, servers: int, target: float,
                     depth: int = 400) -> float:
    """P(answered within target) for M/M/n+M, independently of the module: where an
    arrival lands (the birth-death chain), then the tagged chat's own chain - move up at
    n·mu + m·theta with m chats ahead, give up at theta - solved by uniformization."""
    logs = [0.0]
    for j in range(1, servers + depth):
        rate_down = min(j, servers) * mu + max(0, j - servers) * theta
        logs.append(logs[-1] + math.log(lam) - math.log(rate_down))
    p = np.exp(np.array(logs) - max(logs))
    p /= p.sum()
    v = p[servers:servers + depth].copy()  # v[m]: waiting with m chats ahead
    up = servers * mu + np.arange(depth) * theta
    q = (up + theta).max()
    qt, weight, cdf, answered, n = q * target, math.exp(-q * target), math.exp(-q * target), 0.0, 0
    while n <= qt or 1 - cdf > 1e-15:
        n += 1
        gained = v[0] * up[0] / q  # answered at the n-th jump
        v, v_next = v * (1 - (up + theta) / q), v
        v[:-1] += v_next[1:] * up[1:] / q
        answered += gained * (1 - cdf)  # ... counts if that jump came by the target
        weight *= qt / n
        cdf += weight
    return float(p[:servers].sum()) + answered


@pytest.mark.parametrize("calls,aht,patience,agents,target", [
    (100, 180, 60, 10, 20), (100, 180, 120, 12, 30), (300, 240, 30, 30, 10),
    (50, 300, 600, 3, 60), (200, 180, 60, 10, 20), (100, 180, 5, 8, 3)])
def test_erlang_a_service_level_matches_the_tagged_chat_chain(calls, aht, patience, agents,
                                                              target):
    p = evaluate(Workload(calls, 1800, aht, target, patience_s=patience), agents)
    assert p.service_level == pytest.approx(
        _answered_within(calls / 1800, 1 / aht, 1 / patience, agents, target), abs=1e-9)


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    c = evaluate(Workload(100, 1800, 180, 20), 14)
    a = evaluate(Workload(100, 1800, 180, 20, patience_s=1e9), 14)
    assert a.p_wait == pytest.approx(c.p_wait, abs=1e-6)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-5)
    assert a.p_abandon < 1e-7


def test_erlang_a_is_stable_when_overloaded():
    # 20 Erlangs on 10 agents: Erlang C has no steady state, Erlang A does
    assert evaluate(Workload(200, 1800, 180, 20), 10).asa_s is None
    p = evaluate(Workload(200, 1800, 180, 20, patience_s=60), 10)
    assert 0.9 < p.p_wait <= 1 and 0.4 < p.p_abandon < 0.6 and p.occupancy < 1


# -- the fewest agents, occupancy, abandonment, shrinkage ---------------------------------------

@pytest.mark.parametrize("patience", [None, 90.0])
@pytest.mark.parametrize("concurrency", [1, 3])
def test_fewest_agents_is_the_first_that_meets_every_cap(patience, concurrency):
    w = Workload(400, 1800, 300, 30, patience_s=patience, concurrency=concurrency)
    for sl, occ in [(0.8, 1.0), (0.9, 1.0), (0.5, 0.7)]:
        best = required_agents(w, sl, max_occupancy=occ)
        assert best.service_level >= sl and best.occupancy <= occ
        below = evaluate(w, best.agents - 1)
        assert below.service_level < sl or below.occupancy > occ


def test_occupancy_cap_binds():
    w = Workload(100, 1800, 180, 20)  # 10 Erlangs: 14 agents for 80/20 at 71% occupancy
    assert required_agents(w, 0.8, max_occupancy=0.65).agents == 16  # ceil(10 / 0.65)
    assert required_agents(w, 0.7, max_occupancy=1.0).agents == 13  # 12 give 64%


def test_abandonment_cap_binds():
    w = Workload(400, 1800, 300, 30, patience_s=60)
    loose = required_agents(w, 0.5)
    tight = required_agents(w, 0.5, max_abandon=0.01)
    assert tight.agents > loose.agents and tight.p_abandon <= 0.01
    assert evaluate(w, tight.agents - 1).p_abandon > 0.01


def test_zero_arrivals_need_nobody():
    p = required_agents(Workload(0, 1800, 300, 20), 0.8)
    assert p.agents == 0 and p.service_level == 1.0 and positions(0, 0.3) == 0


def test_shrinkage_to_positions():
    assert positions(14, 0.30) == 20  # 14 / 0.7 is 20 exactly, not 21
    assert positions(10, 0.25) == 14  # 13.33 rounds up
    assert positions(7, 0.0) == 7
    with pytest.raises(InvalidInput):
        positions(10, 1.0)
    with pytest.raises(InvalidInput):
        positions(10, -0.1)


@pytest.mark.parametrize("bad,message", [
    (dict(arrivals=-1), "arrivals"), (dict(aht_s=0), "handling time"),
    (dict(concurrency=0), "concurrency"), (dict(patience_s=-5), "patience")])
def test_bad_workloads_are_refused(bad, message):
    kw = dict(arrivals=10, interval_s=1800, aht_s=300, target_s=20) | bad
    with pytest.raises(InvalidInput, match=message):
        evaluate(Workload(**kw), 3)
    with pytest.raises(InvalidInput, match="service level"):
        required_agents(Workload(10, 1800, 300, 20), 1.2)


# -- concurrency and the simulation --------------------------------------------------------------

def test_concurrency_means_k_slots_per_agent():
    chats = evaluate(Workload(400, 1800, 300, 30, concurrency=3), 25)
    pooled = evaluate(Workload(400, 1800, 300, 30), 75)
    assert chats.servers == 75
    assert chats.p_wait == pytest.approx(pooled.p_wait)
    assert chats.service_level == pytest.approx(pooled.service_level)
    # service level rises with slots, so the fewest agents are the fewest slots / 3, rounded up
    best = required_agents(Workload(400, 1800, 300, 30, concurrency=3), 0.8)
    slots = required_agents(Workload(400, 1800, 300, 30), 0.8).servers
    assert best.agents == math.ceil(slots / 3) and best.servers >= slots


def _mean_sim(runs):
    return {k: sum(getattr(r, k) for r in runs) / len(runs)
            for k in ("p_wait", "service_level", "p_abandon", "asa_s", "occupancy")}


# Tolerance: each figure is the mean of 4 seeded runs of 100,000 chats (after a 5,000-chat
# warm-up). Probabilities must be within 0.025 of the formula: about 3.5 standard errors
# of that mean in the slowest-mixing case here (75 slots at 89% load; the spread was
# measured over 30 seeds), far more in the others. ASA, a noisier mean of waits, within
# 20% (Erlang C) and 10% (Erlang A).
@pytest.mark.parametrize("calls,aht,agents,k,patience", [
    (100, 180, 14, 1, None),  # plain M/M/N: Erlang C
    (400, 300, 25, 3, None),  # 3 chats per agent: M/M/75
    (100, 180, 10, 1, 60.0),  # Erlang A
    (400, 300, 22, 3, 90.0),  # Erlang A with concurrency
])
def test_simulation_agrees_with_the_formulas(calls, aht, agents, k, patience):
    model = evaluate(Workload(calls, 1800, aht, 20, patience_s=patience, concurrency=k), agents)
    sim = _mean_sim([simulate(rate=calls / 1800, aht_s=aht, agents=agents, concurrency=k,
                              target_s=20, patience_s=patience, arrivals=100_000, seed=s)
                     for s in (1, 2, 3, 4)])
    assert sim["p_wait"] == pytest.approx(model.p_wait, abs=0.025)
    assert sim["service_level"] == pytest.approx(model.service_level, abs=0.025)
    assert sim["occupancy"] == pytest.approx(model.occupancy, abs=0.025)
    assert sim["asa_s"] == pytest.approx(model.asa_s, rel=0.10 if patience else 0.20)
    if patience:
        assert sim["p_abandon"] == pytest.approx(model.p_abandon, abs=0.025)


def test_slots_of_one_agent_behave_as_pooled_servers():
    # the same random stream through 25 agents x 3 slots and 75 agents x 1 slot
    a = simulate(rate=400 / 1800, aht_s=300, agents=25, concurrency=3, arrivals=20_000, seed=5)
    b = simulate(rate=400 / 1800, aht_s=300, agents=75, concurrency=1, arrivals=20_000, seed=5)
    assert vars(a) == pytest.approx(vars(b), rel=1e-12)


# -- forecast ----------------------------------------------------------------------------------

WEEKDAY_MULT = [4, 3, 3, 4, 5, 7, 6]  # Mon..Sun


def _pattern() -> list[int]:
    """Chats per half-hour on a weekday with multiplier 1: quiet night, two peaks."""
    out = []
    for i in range(48):
        h = i / 2
        out.append(0 if h < 8 else round(2 + 3 * math.exp(-((h - 11) / 2) ** 2)
                                         + 4 * math.exp(-((h - 21) / 1.5) ** 2)))
    return out


def _exact_history(first: date, last: date, peaks: dict[date, float] | None = None):
    pattern = _pattern()
    days = {}
    d = first
    while d <= last:
        scale = WEEKDAY_MULT[d.weekday()] * (peaks or {}).get(d, 1)
        days[d] = [float(scale * v) for v in pattern]
        d += timedelta(days=1)
    return days


def test_forecast_recovers_an_exact_series():
    history = _exact_history(date(2026, 9, 1), date(2026, 11, 19))
    result = forecast_day(history, date(2026, 11, 21), ForecastSettings())  # a Saturday
    expected = [WEEKDAY_MULT[5] * v for v in _pattern()]
    assert [s["arrivals"] for s in result["slots"]] == pytest.approx(expected, abs=1e-6)
    assert result["accuracy"]["mape"] == pytest.approx(0.0, abs=1e-6)
    assert result["accuracy"]["holdout_days"] == 7
    assert result["promotion"] is False and result["uplift"] is None


def test_forecast_learns_the_promotion_uplift_and_sets_the_peak_aside():
    peak_day = date(2026, 11, 11)
    history = _exact_history(date(2026, 9, 1), date(2026, 11, 19), {peak_day: 10})
    model = fit(history)
    assert peak_day in model.promotion_days
    assert model.uplift == pytest.approx(10.0)
    # the baseline is untouched by the peak
    assert model.predict(date(2026, 11, 25), promotion=False) == pytest.approx(
        [WEEKDAY_MULT[2] * v for v in _pattern()])
    # 12.12 is on the festival calendar: ten times its weekday (a Saturday)
    dec12 = forecast_day(history, date(2026, 12, 12))
    assert dec12["promotion"] is True and dec12["uplift"] == pytest.approx(10.0)
    assert dec12["total"] == pytest.approx(10 * WEEKDAY_MULT[5] * sum(_pattern()), rel=1e-6)
    # an unannounced peak (no calendar day) is caught by the threshold
    odd = date(2026, 10, 14)
    model = fit(_exact_history(date(2026, 9, 1), date(2026, 11, 19), {odd: 6}),
                ForecastSettings(promo_calendar=()))
    assert model.promotion_days == [odd] and model.uplift == pytest.approx(6.0)


def test_forecast_is_close_on_noisy_poisson_history():
    rnd = np.random.default_rng(3)
    truth = _exact_history(date(2026, 9, 1), date(2026, 11, 19))
    noisy = {d: [float(rnd.poisson(8 * v)) for v in row] for d, row in truth.items()}
    result = forecast_day(noisy, date(2026, 11, 20), ForecastSettings(promo_calendar=()))
    expected = np.array([8 * WEEKDAY_MULT[4] * v for v in _pattern()])
    got = np.array([s["arrivals"] for s in result["slots"]])
    assert np.abs(got - expected).sum() / expected.sum() < 0.08  # within 8% WAPE of truth
    acc = result["accuracy"]
    assert acc["holdout_days"] == 7 and 0 < acc["wape"] < 25 and acc["daily_mape"] < 10


def test_accuracy_needs_enough_history():
    history = _exact_history(date(2026, 11, 10), date(2026, 11, 19))
    assert accuracy(history)["mape"] is None


def test_history_from_buckets_uses_local_time():
    # 2026-11-18 16:00Z is 2026-11-19 00:00 in Beijing: slot 0 of the 19th
    start = int(datetime(2026, 11, 18, 16, 0, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)
    days = history_from_buckets([(start, 4), (start + 1_800_000 * 21, 2)], TZ,
                                date(2026, 11, 18), date(2026, 11, 19))
    assert days[date(2026, 11, 19)][0] == 4 and days[date(2026, 11, 19)][21] == 2
    assert sum(days[date(2026, 11, 18)]) == 0


# -- roster --------------------------------------------------------------------------------------

def test_roster_staggers_breaks_exactly():
    # 3 agents needed 09:00-17:00, only 8-hour shifts with a 30-minute break: three
    # shifts leave a hole at their breaks, so the best is four shifts
    need = [3 if 18 <= i < 34 else 0 for i in range(48)]
    open_slots = [18 <= i < 34 for i in range(48)]
    shifts = roster(need, open_slots, ShiftSettings(shift_hours=(8,)))
    assert sum(c for _, c in shifts) == 4
    supply = sum(c * t.covers(48) for t, c in shifts)
    assert (supply >= np.array(need)).all()


def test_plan_covers_the_requirement():
    arrivals = [0.0] * 16 + [40.0 + 30 * math.sin(i / 3) ** 2 for i in range(32)]
    open_slots = [i >= 18 for i in range(48)]
    rules = ShiftSettings()
    plan = make_plan(arrivals, open_slots, StaffingTarget(0.8, 30, 300, None, 3, 0.9, 0.1),
                     rules)
    for row in plan["slots"]:
        assert row["scheduled"] >= row["positions"]
        if not row["open"]:
            assert row["agents"] == 0
    t = plan["totals"]
    assert t["agent_hours"] >= t["lower_bound_hours"] > 0
    assert 0.75 < t["efficiency"] <= 1
    for s in plan["shifts"]:
        assert s["hours"] in rules.shift_hours
        assert (s["break"] is not None) == (s["hours"] > rules.break_after_h)
    assert sum(s["agents"] for s in plan["shifts"]) == t["agents_rostered"]


def test_parse_target():
    assert parse_target("80/30") == (0.8, 30.0)
    for bad in ("80", "120/30", "80/-1", "x/y"):
        with pytest.raises(InvalidInput):
            parse_target(bad)


# -- backend and CLI -----------------------------------------------------------------------------

def _seed(backend, shop: str, history: dict[date, list[float]], *, agents=True) -> None:
    """A shop whose conversations arrived as ``history`` says (local days, per slot)."""
    backend.apply({"shops": [{"key": shop, "name": "翎衣女装", "timezone": TZ}],
                   "customers": [{"key": "c1", "name": "李娜"}]})
    if agents:
        backend.apply({"agents": [{"handle": f"{shop}-a{i}", "name": f"客服{i}",
                                   "shops": [shop], "max_chats": 3} for i in range(4)]})
    zone = ZoneInfo(TZ)
    rows = []
    for d, slots in history.items():
        midnight = int(datetime.combine(d, time(0), tzinfo=zone).timestamp() * 1000)
        for i, count in enumerate(slots):
            for j in range(int(count)):
                at = midnight + i * 1_800_000 + (j * 1_800_000) // int(count)
                rows.append((at, at + 60_000, at + 60_000 + 240_000))
    with backend.database.write() as conn:
        shop_id = conn.execute("SELECT id FROM shops WHERE key = ?", (shop,)).fetchone()[0]
        cust = conn.execute("SELECT id FROM customers WHERE key = 'c1'").fetchone()[0]
        conn.executemany(
            "INSERT INTO conversations (shop_id, customer_id, state, created_at, assigned_at, "
            "closed_at, last_message_at) VALUES (?, ?, 'closed', ?, ?, ?, ?)",
            [(shop_id, cust, a, b, c, c) for a, b, c in rows])


def test_backend_arrivals_are_bucketed_on_the_local_clock(backend):
    _seed(backend, "s", {date(2026, 11, 19): [2.0] + [0.0] * 46 + [5.0]})
    zone = ZoneInfo(TZ)
    since = int(datetime(2026, 11, 19, tzinfo=zone).timestamp() * 1000)
    data = backend.arrivals("s", since, since + 86_400_000)
    assert data["timezone"] == TZ and data["bucket_min"] == 30
    assert data["buckets"] == [[since, 2], [since + 47 * 1_800_000, 5]]
    hourly = backend.arrivals("s", since, since + 86_400_000, 60)
    assert hourly["buckets"] == [[since, 2], [since + 23 * 3_600_000, 5]]
    assert backend.arrivals("s", since, since + 86_400_000, desk_only=True)["buckets"][0][1] == 2
    profile = backend.desk_profile("s", 0, 2**62)
    assert profile["handle_s"] == 240.0 and profile["concurrency"] == 3
    empty = backend.arrivals("s", since, since, 30)  # an empty range has no arrivals
    assert empty["buckets"] == [] and empty["first"] is None
    with pytest.raises(InvalidInput):
        backend.arrivals("s", since, since + 86_400_000, 7)  # 7 minutes do not divide a day


def test_cli_erlang_json_keys_and_values(cli):
    out = cli.json("staffing", "erlang", "--arrivals", "100", "--interval-min", "30",
                   "--aht", "180", "--target-s", "20", "--sl", "0.8", "--shrinkage", "0.3",
                   "--max-occupancy", "0.85")
    assert {"agents", "positions", "p_wait", "service_level", "asa_s", "occupancy"} <= set(out)
    assert "p_abandon" not in out
    assert (out["agents"], out["positions"]) == (14, 20)
    assert round(out["service_level"], 3) == 0.888 and round(out["p_wait"], 3) == 0.174
    fixed = cli.json("staffing", "erlang", "--arrivals", "100", "--aht", "180",
                     "--target-s", "20", "--agents", "13")
    assert fixed["agents"] == 13 and fixed["meets_target"] is False
    a = cli.json("staffing", "erlang", "--arrivals", "100", "--aht", "180", "--target-s", "20",
                 "--patience", "60")
    assert "p_abandon" in a and 0 < a["p_abandon"] < 0.1 and a["service_level"] >= 0.8
    chats = cli.json("staffing", "erlang", "--arrivals", "400", "--aht", "300",
                     "--concurrency", "3")
    assert chats["servers"] == 3 * chats["agents"]
    text = cli("staffing", "erlang", "--arrivals", "100", "--aht", "180", "--target-s", "20")
    assert text.exit_code == 0 and "agents" in text.stdout and "14" in text.stdout


OK = ["--arrivals", "100", "--aht", "180"]


@pytest.mark.parametrize("args", [
    # bad option values are usage errors: exit 2, as in `simulate` and `metrics`
    ["--arrivals", "-5", "--aht", "180"],
    [*OK, "--sl", "1.5"],
    [*OK, "--sl", "0"],
    ["--arrivals", "100", "--aht", "0"],
    [*OK, "--shrinkage", "1"],
    [*OK, "--shrinkage", "1.0"],
    [*OK, "--interval-min", "0"],
    [*OK, "--interval-min", "2000"],  # more than a day
    [*OK, "--patience", "-60"],
    [*OK, "--patience", "0"],
    [*OK, "--concurrency", "0"],
    [*OK, "--concurrency", "51"],
    [*OK, "--max-occupancy", "0"],
    [*OK, "--max-occupancy", "nan"],
    [*OK, "--patience", "60", "--max-abandon", "1.5"],
    [*OK, "--target-s", "-1"],
    [*OK, "--agents", "-1"],
    [*OK, "--agents", "2000001"],  # more chat slots than can be evaluated
    [*OK, "--agents", "40001", "--concurrency", "50"],
    ["--arrivals", "nan", "--aht", "180"],
    ["--arrivals", "inf", "--aht", "180"],
    ["--arrivals", "100", "--aht", "nan"],
    ["--arrivals", "100", "--aht", "-inf"],
    [*OK, "--patience", "inf"],
    [*OK, "--sl", "nan"],
    # absurd sizes: bounded with a clear message (was an OverflowError / NaN JSON)
    ["--arrivals", "1e300", "--aht", "1e300"],
    ["--arrivals", "1e300", "--aht", "1e300", "--agents", "5", "--patience", "60"],
    ["--arrivals", "10000001", "--aht", "180"],  # over 10,000,000 per interval
    ["--arrivals", "100", "--aht", "86401"],  # a chat longer than a day
    ["--arrivals", "10000000", "--aht", "86400"],  # 480 million Erlangs
    # an abandonment cap without a patience was silently ignored
    [*OK, "--max-abandon", "0.05"],
    [*OK, "--max-abandon", "0.05", "--agents", "14"],
    # typer's own
    ["--arrivals", "100"],
    ["--arrivals", "many", "--aht", "180"],
])
def test_cli_erlang_bad_input_is_one_line(cli, args):
    result = cli("staffing", "erlang", *args, "--json")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error:") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output and result.stdout == ""


def test_cli_erlang_limits_and_messages(cli):
    r = cli("staffing", "erlang", "--arrivals", "1e300", "--aht", "1e300")
    assert "10,000,000" in r.stderr
    r = cli("staffing", "erlang", "--arrivals", "10000000", "--aht", "86400")
    assert "Erlangs" in r.stderr and "1,000,000" in r.stderr
    r = cli("staffing", "erlang", *OK, "--max-abandon", "0.05")
    assert "--patience" in r.stderr
    # right at the limits it answers (and quickly: one pass of the Erlang B recursion)
    top = cli.json("staffing", "erlang", "--arrivals", "10000000", "--aht", "180")
    assert top["traffic_erlangs"] == 1_000_000 and top["agents"] > 1_000_000


def _strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("args", [
    ["--arrivals", "10000000", "--aht", "8640", "--interval-min", "1440"],  # 1e6 Erlangs
    ["--arrivals", "10000000", "--aht", "180", "--agents", "5", "--patience", "60"],
    ["--arrivals", "10000000", "--aht", "180", "--agents", "5", "--patience", "1e300"],
    ["--arrivals", "10000000", "--aht", "180", "--patience", "1e-300"],
    ["--arrivals", "1e-300", "--aht", "1e-300", "--agents", "1", "--patience", "1e-300"],
    ["--arrivals", "100", "--aht", "180", "--agents", "0", "--patience", "1.7e308"],
    ["--arrivals", "100", "--aht", "180", "--agents", "9", "--patience", "1.7e308"],
    ["--arrivals", "100", "--aht", "180", "--target-s", "86400", "--patience", "1e20"],
])
def test_cli_erlang_json_is_always_plain_json(cli, args):
    result = cli("staffing", "erlang", *args, "--json")
    assert result.exit_code == 0, result.output
    out = _strict_json(result.stdout)
    for key, value in out.items():
        assert value is None or isinstance(value, (bool, int, str)) or math.isfinite(value), key


def test_occupancy_when_the_desk_cannot_keep_up():
    """Fewer chat slots than Erlangs: every slot there is stays busy, occupancy 1.0 —
    also with no agents at all (it was 0.0 there, and 1.0 with 9 agents at 10 Erlangs)."""
    w = Workload(100, 1800, 180, 20)  # 10 Erlangs
    assert [evaluate(w, n).occupancy for n in (0, 9, 10)] == [1.0, 1.0, 1.0]
    assert evaluate(w, 11).occupancy == pytest.approx(10 / 11)
    a = Workload(100, 1800, 180, 20, patience_s=60)
    assert evaluate(a, 0).occupancy == 1.0
    assert evaluate(a, 0).p_abandon == 1.0
    assert evaluate(Workload(0, 1800, 180, 20), 0).occupancy == 0.0  # nothing to do


def test_cli_occupancy_of_no_agents(cli):
    assert cli.json("staffing", "erlang", *OK, "--agents", "0")["occupancy"] == 1.0
    assert cli.json("staffing", "erlang", *OK, "--agents", "9")["occupancy"] == 1.0
    # Erlang A: no agents, every chat leaves; 9 carry less than their slots (some leave)
    none = cli.json("staffing", "erlang", *OK, "--agents", "0", "--patience", "60")
    nine = cli.json("staffing", "erlang", *OK, "--agents", "9", "--patience", "60")
    assert none["occupancy"] == 1.0 and none["p_abandon"] == 1.0
    assert 0.8 < nine["occupancy"] < 1.0


@pytest.mark.parametrize("patience", [1e9, 1e12, 1e15, 1e20, 1e100, 1e300, 1.7e308])
def test_mean_wait_tends_to_erlang_c_at_any_long_patience(patience):
    """The mean wait (and P(abandon) = mean wait / patience) used to cancel to 0 beyond a
    patience of about 1e16 s."""
    c = evaluate(Workload(100, 1800, 180, 20), 14)
    a = evaluate(Workload(100, 1800, 180, 20, patience_s=patience), 14)
    assert c.mean_wait_s == pytest.approx(7.835937, abs=1e-6)
    assert a.mean_wait_s == pytest.approx(c.mean_wait_s, rel=1e-6)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-6)
    assert a.p_abandon == pytest.approx(c.mean_wait_s / patience, rel=1e-6)
    assert a.p_wait == pytest.approx(c.p_wait, abs=1e-6)


@pytest.mark.parametrize("patience", [1e6, 1e20, 1e300])
def test_overloaded_erlang_a_at_a_long_patience_stays_finite(patience):
    """20 Erlangs on 10 agents: in the long run half the chats give up, each after
    waiting about patience x (1 - 10/20) on average (it was NaN)."""
    p = evaluate(Workload(200, 1800, 180, 20, patience_s=patience), 10)
    assert p.p_abandon == pytest.approx(0.5, abs=1e-6)
    assert p.mean_wait_s == pytest.approx(0.5 * patience, rel=1e-6)
    assert p.occupancy == pytest.approx(1.0, abs=1e-6)
    assert math.isfinite(p.asa_s)


def test_cli_mean_wait_at_a_huge_patience(cli):
    out = cli.json("staffing", "erlang", *OK, "--target-s", "20", "--agents", "14",
                   "--patience", "1e20")
    assert out["mean_wait_s"] == pytest.approx(7.836, abs=1e-3)
    assert out["asa_s"] == pytest.approx(7.836, abs=1e-3)


def test_library_limits_and_the_abandonment_cap():
    with pytest.raises(InvalidInput, match="patience"):
        required_agents(Workload(100, 1800, 180, 20), 0.8, max_abandon=0.05)
    with pytest.raises(InvalidInput, match="10,000,000"):
        evaluate(Workload(1e300, 1800, 1e300, 20), 5)
    with pytest.raises(InvalidInput, match="Erlangs"):
        required_agents(Workload(1e7, 60, 86_400, 20), 0.8)
    with pytest.raises(InvalidInput, match="chat slots"):
        evaluate(Workload(100, 1800, 180, 20), 2_000_001)
    with pytest.raises(InvalidInput, match="occupancy"):
        required_agents(Workload(100, 1800, 180, 20), 0.8, max_occupancy=1e-300)


@pytest.fixture
def seeded(backend):
    history = _exact_history(date(2026, 9, 19), date(2026, 11, 19), {date(2026, 11, 11): 8})
    _seed(backend, "lf", history)
    return backend


def test_cli_forecast(cli, seeded):
    out = cli.json("staffing", "forecast", "--shop", "lf", "--date", "2026-11-21")
    assert out["date"] == "2026-11-21" and out["history"]["to"] == "2026-11-19"
    assert len(out["slots"]) == 48 and out["slots"][0]["start"] == "00:00"
    assert out["total"] == pytest.approx(WEEKDAY_MULT[5] * sum(_pattern()), rel=1e-6)
    assert out["accuracy"]["mape"] == pytest.approx(0.0, abs=1e-6)
    assert "2026-11-11" in out["history"]["promotion_days"]
    peak = cli.json("staffing", "forecast", "--shop", "lf", "--date", "2026-12-12")
    assert peak["promotion"] is True and peak["uplift"] == pytest.approx(8.0)
    text = cli("staffing", "forecast", "--shop", "lf", "--date", "2026-11-21")
    assert text.exit_code == 0 and "MAPE" in text.stdout and "█" in text.stdout


def test_cli_forecast_errors(cli, seeded):
    assert cli("staffing", "forecast", "--shop", "nope").exit_code == 1
    bad_date = cli("staffing", "forecast", "--shop", "lf", "--date", "11/11")
    assert bad_date.exit_code == 2 and bad_date.stderr.count("\n") == 1
    seeded.apply({"shops": [{"key": "empty", "name": "空店"}]})
    empty = cli("staffing", "forecast", "--shop", "empty")
    assert empty.exit_code == 1 and "no conversations" in empty.stderr


def test_cli_plan_json_csv_and_chart(cli, seeded):
    out = cli.json("staffing", "plan", "--shop", "lf", "--date", "2026-11-21",
                   "--target", "80/30", "--all-day")
    assert out["inputs"]["aht_s"] == 240.0 and out["inputs"]["concurrency"] == 3
    assert out["inputs"]["aht_from"] == "history"
    for row in out["slots"]:
        assert row["scheduled"] >= row["positions"]
    assert out["totals"]["agent_hours"] >= out["totals"]["lower_bound_hours"] > 0
    assert out["shifts"]
    result = cli("staffing", "plan", "--shop", "lf", "--date", "2026-11-21", "--csv",
                 "--aht", "300", "--concurrency", "1", "--patience", "120")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 48 and int(rows[22]["positions"]) > 0
    assert all(int(r["scheduled"]) >= int(r["positions"]) for r in rows)
    chart = cli("staffing", "plan", "--shop", "lf", "--date", "2026-11-21")
    assert chart.exit_code == 0 and "█" in chart.stdout and "agent-hours" in chart.stdout
    assert cli("staffing", "plan", "--shop", "lf", "--target", "80").exit_code == 2
    both = cli("staffing", "plan", "--shop", "lf", "--csv", "--json")
    assert both.exit_code == 2


@pytest.mark.parametrize("args", [
    ["--target", "80"],
    ["--target", "150/30"],
    ["--target", "80/nan"],
    ["--shift-hours", "0"],
    ["--shift-hours", "inf"],  # was an OverflowError traceback
    ["--shift-hours", "nan"],
    ["--shift-hours", "25"],
    ["--shift-hours", "7.25"],
    ["--break-min", "45"],
    ["--break-after-h", "nan"],
    ["--break-after-h", "-1"],
    ["--aht", "0"],
    ["--aht", "inf"],
    ["--aht", "86401"],
    ["--concurrency", "0"],
    ["--patience", "-1"],
    ["--shrinkage", "1"],
    ["--max-occupancy", "0"],
    ["--weeks", "0"],
    ["--weeks", "100000"],  # was an OverflowError traceback (a date before year 1)
    ["--holdout", "-1"],
    ["--uplift", "0"],
    ["--uplift", "nan"],
    ["--uplift", "1e300"],
])
def test_cli_plan_bad_values_are_usage_errors(cli, seeded, args):
    result = cli("staffing", "plan", "--shop", "lf", "--date", "2026-11-21", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error:") and result.stderr.count("\n") == 1
    # checked before the shop is read: the same for a shop that does not exist
    other = cli("staffing", "plan", "--shop", "nope", "--date", "2026-11-21", *args)
    assert other.exit_code == 2, other.output


@pytest.mark.parametrize("args", [
    ["--weeks", "0"], ["--weeks", "100000"], ["--holdout", "-1"], ["--holdout", "100000"],
    ["--uplift", "-2"], ["--uplift", "inf"], ["--uplift", "1e300"],
])
def test_cli_forecast_bad_values_are_usage_errors(cli, seeded, args):
    result = cli("staffing", "forecast", "--shop", "lf", "--date", "2026-11-21", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error:") and result.stderr.count("\n") == 1


def test_plan_respects_off_hours_bot_only(cli, seeded):
    seeded.update("shops", "lf", {"off_hours_mode": "bot_only",
                                  "business_hours": {d: "09:00-22:00" for d in
                                                     ("mon", "tue", "wed", "thu", "fri",
                                                      "sat", "sun")}})
    out = cli.json("staffing", "plan", "--shop", "lf", "--date", "2026-11-21")
    by_start = {r["start"]: r for r in out["slots"]}
    assert by_start["08:30"]["positions"] == 0 and by_start["22:00"]["positions"] == 0
    assert by_start["09:00"]["positions"] > 0 and by_start["21:30"]["positions"] > 0
    assert all(r["scheduled"] == 0 for r in out["slots"] if not r["open"])


def test_json_output_is_plain_json(cli):
    result = cli("staffing", "erlang", "--arrivals", "10", "--aht", "300", "--json")
    assert json.loads(result.stdout)["agents"] >= 1


def test_bench_staffing_quick_runs_and_prints_figures():
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_staffing.py"),
                          "--quick"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "cstool Erlang C:" in out.stdout and "cstool Erlang A:" in out.stdout
    assert "same agents 48/48" in out.stdout or "not installed" in out.stdout
