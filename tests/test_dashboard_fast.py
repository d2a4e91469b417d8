"""The dashboard snapshot's figures — today's totals, the agent table, today's hourly volume
and the same weekday last week's — read for one shop straight from the stored conversation
facts (``services.metrics.shop_period`` and ``hourly``) equal, figure for figure, what
three full reports give (``figures_by_reports``, how the snapshot was computed before): on
a generated promotion day with the clock frozen in the midnight rush (chats open and
waiting), mid-morning and at the end of the day, after desk activity through the backend,
with rows counted under other targets, after a settings change, in display zones with a
half-hour offset and with a DST change, and in the zone the operation is given; plus the
pieces: status history from the last change before the period, and the concurrency sweep
against the point-by-point one."""

from __future__ import annotations

import random

import pytest

from cstool import values
from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from cstool.errors import UsageError
from cstool.metrics import agent_time, figures
from cstool.services.dashboard import figures_by_reports
from cstool.simulation.promotion_day import DayPlan, simulate, write
from cstool.storage.repos import metrics as store
from cstool.storage.repos import metrics_today as today

MINUTE = 60_000
FIGURES = ("today", "hourly", "hourly_last_week", "agent_rows")


def _mall(be) -> None:
    from cstool.simulation.synthetic_data import Plan, base_document, customers

    plan = Plan(shops=2, customers=400, orders=0, agents_per_shop=8, seed=5)
    doc = base_document(plan)
    for i, shop in enumerate(doc["shops"]):  # one bot-first shop, one human-first
        shop["service_mode"] = "bot_first" if i == 0 else "human_first"
    be.apply(doc)
    be.bulk_load("customers", customers(plan))


def _write_day(b: LocalBackend, clock: FrozenClock, plan: DayPlan, until_min: int) -> int:
    """The generated days (last week's and the promotion day up to ``until_min`` minutes
    after its midnight) written in bulk in two parts, the stored facts caught up from the
    events after the first, with the clock at the end."""
    with b.database.read() as conn:
        day = simulate(conn, plan)
    cut = plan.start_ms() + until_min * MINUTE
    half = plan.start_ms() + until_min * MINUTE // 2
    with b.database.write() as conn:
        write(conn, day, None, half)
    clock.set(half)
    b.metrics_refresh()
    with b.database.write() as conn:
        write(conn, day, half, cut)
    clock.set(cut)
    return cut


def _shops(b: LocalBackend) -> list[str]:
    return [s["key"] for s in b.list("shops")]


def _same(b: LocalBackend, shop: str) -> dict:
    """The snapshot, checked against three full reports at the same instant."""
    snap = b.dashboard(shop)
    ref = figures_by_reports(b, shop, snap["at_ms"])
    for key in FIGURES:
        assert snap[key] == ref[key], key
    return snap


def _forget_zone() -> None:
    clear = getattr(values.display_zone, "cache_clear", None)  # if the zone is cached
    if clear is not None:
        clear()


@pytest.fixture
def display_zone(monkeypatch):
    """Sets the display zone for one test; the zone and hour labels cached meanwhile are
    forgotten afterwards."""
    def set_zone(name: str) -> None:
        monkeypatch.setenv("CSTOOL_TZ", name)
        monkeypatch.setattr(figures, "_bucket_cache", {})
        _forget_zone()

    yield set_zone
    _forget_zone()  # before monkeypatch puts the variable back


@pytest.fixture
def day(tmp_path):
    clock = FrozenClock(0)
    b = LocalBackend(tmp_path / "day.db", clock=clock)
    _mall(b)
    yield b, clock, DayPlan(conversations=900, seed=5)
    b.close()


@pytest.mark.parametrize("until_min", [9, 10 * 60 + 30, 24 * 60 - 1])
def test_fast_snapshot_equals_full_reports_on_a_generated_day(day, until_min):
    b, clock, plan = day
    _write_day(b, clock, plan, until_min)
    open_now = b.database.conn.execute(
        "SELECT COUNT(*) FROM conversations WHERE state != 'closed'").fetchone()[0]
    snaps = {}
    for shop in _shops(b):
        snap = snaps[shop] = _same(b, shop)  # the facts caught up from events
        t = snap["today"]
        assert t["conversations"] > 20 and sum(snap["hourly"]) == t["conversations"]
        assert sum(snap["hourly_last_week"]) > 20
        assert any(r["conversations"] for r in snap["agent_rows"])
        assert len(snap["agent_rows"]) >= 8
    if until_min < 60:  # the midnight rush: open chats are counted as of now
        assert open_now > 0
    else:  # orders followed some chats: conversion and sales via agents
        assert snap["today"]["attributed_orders"] > 0
    # a full recomputation: every conversation folded again from its messages
    assert b.metrics_rebuild()["rebuilt"]
    for shop, snap in snaps.items():
        ref = figures_by_reports(b, shop, snap["at_ms"])
        assert {k: snap[k] for k in FIGURES} == ref


def test_fast_snapshot_after_desk_activity_and_a_settings_change(day):
    b, clock, plan = day
    _write_day(b, clock, plan, 10 * 60 + 30)
    shop = _shops(b)[1]  # human-first
    handles = [a["handle"] for a in b.list("agents", shop=shop)]
    customers = [r[0] for r in b.database.conn.execute(
        "SELECT c.key FROM customers c JOIN customer_profiles p ON p.customer_id = c.id "
        "WHERE p.shop_id = (SELECT id FROM shops WHERE key = ?) LIMIT 12", (shop,))]
    b.set_agent_status(handles[0], "online")
    posted = []
    for i, key in enumerate(customers):
        clock.advance(7)
        c = b.post_message(shop, key, "双十一的快递什么时候到？" if i % 2 else "有优惠券吗")
        posted.append(c["conversation"])
    _same(b, shop)
    for i, c in enumerate(posted):
        clock.advance(20 + 5 * i)
        if c["assignee"]:
            b.reply(c["assignee"], c["id"], "亲，已经帮您查询了")
            if i % 3 == 0:
                b.close_conversation(c["id"], by=c["assignee"])
                b.rate(c["id"], 5 if i % 2 else 3)
    clock.advance(240)  # unanswered turns pass the 30-second target
    _same(b, shop)
    b.set_agent_status(handles[1], "away")
    b.update("shops", shop, {"settings": {"answer_target_s": 20, "response_target_s": 120}})
    clock.advance(60)
    snap = _same(b, shop)
    assert snap["today"]["answer_rate"] is not None


def test_rows_counted_under_other_targets_are_counted_now(day):
    """Between a settings change and the catch-up some rows hold counts made with other
    targets: both ways count them now, as open ones."""
    b, clock, plan = day
    _write_day(b, clock, plan, 10 * 60 + 30)
    conn = b.database.conn
    b.metrics_refresh()
    with b.database.write() as w:
        w.execute("UPDATE metric_conversations SET answer_target_ms = 25000 WHERE "
                  "conversation_id % 3 = 0 AND closed_at IS NOT NULL")
    stale = conn.execute("SELECT COUNT(*) FROM metric_conversations WHERE "
                         "answer_target_ms = 25000").fetchone()[0]
    assert stale > 50
    for shop in _shops(b):
        _same(b, shop)


@pytest.mark.parametrize("zone,date,until_min,offset", [
    ("Asia/Kolkata", "2026-11-11", 20, 19_800_000),
    ("America/New_York", "2026-03-08", 24 * 60 - 1, None)])
def test_hourly_volume_in_other_display_zones(day, display_zone, zone, date, until_min,
                                              offset):
    """Hours as the report labels them: by the zone's fixed offset (here +05:30) for the
    settled rows and by each row's hour for the open ones (in the midnight rush); every
    row by itself when the offset changes within the period (New York's DST start inside
    a Beijing day)."""
    b, clock, _ = day
    display_zone(zone)
    plan = DayPlan(day=date, conversations=600, seed=6)
    now = _write_day(b, clock, plan, until_min)
    for shop in _shops(b):
        snap = _same(b, shop)
        assert sum(snap["hourly"]) == snap["today"]["conversations"] > 0
    first, last = b.database.conn.execute(
        "SELECT MIN(created_at), MAX(created_at) FROM metric_conversations WHERE "
        "created_at >= ? AND created_at <= ?", (plan.start_ms(), now)).fetchone()
    assert figures.fixed_offset(first, last, values.display_zone()) == offset


def test_the_hourly_zone_is_the_operations_argument(day):
    """``dashboard(shop, zone)``: the hours (and the agent table's times) in the zone
    asked, as the reports in that zone give them, whatever the display zone, which
    nothing changes; a half-hour zone moves conversations between hours; an unknown
    zone is a usage error."""
    b, clock, _ = day
    display = values.display_zone()
    _write_day(b, clock, DayPlan(day="2026-11-11", conversations=600, seed=6), 15 * 60)
    for shop in _shops(b):
        shown = b.dashboard(shop)
        kolkata = b.dashboard(shop, zone="Asia/Kolkata")
        ref = figures_by_reports(b, shop, kolkata["at_ms"], zone="Asia/Kolkata")
        assert {k: kolkata[k] for k in FIGURES} == ref
        assert kolkata["today"] == shown["today"]  # the shop's day either way
        assert sum(kolkata["hourly"]) == sum(shown["hourly"]) > 0
        assert kolkata["hourly"] != shown["hourly"]
        assert b.dashboard(shop, zone=None)["hourly"] == shown["hourly"]
    assert values.display_zone() == display
    with pytest.raises(UsageError) as e:
        b.dashboard(_shops(b)[0], zone="Mars/Olympus")
    assert e.value.key == "bad_zone"


def test_the_snapshot_does_not_run_full_reports(day, monkeypatch):
    b, clock, plan = day
    _write_day(b, clock, plan, 12 * 60)

    def refuse(*args, **kwargs):
        raise AssertionError("metrics_report called")

    monkeypatch.setattr(b, "metrics_report", refuse)
    snap = b.dashboard(_shops(b)[0])
    assert snap["today"]["conversations"] > 0


def test_status_history_from_the_last_change_before_the_period(backend, clock):
    """Online time over a period is the same from the whole history and from the last
    change at or before the period's start."""
    backend.apply({"shops": [{"key": "s", "name": "店"}],
                   "agents": [{"handle": "a", "name": "A", "shops": ["s"]}]})
    for minutes, status in ((10, "online"), (20, "away"), (20, "busy"), (45, "offline"),
                            (70, "online"), (90, "away")):
        clock.set(clock.now_ms() + minutes * MINUTE // 10)
        backend.set_agent_status("a", status)
    backend.metrics_refresh()
    conn = backend.database.conn
    agent = store.read_agents(conn)
    (agent_id,) = agent
    whole = store.read_statuses(conn, [agent_id])[agent_id]
    first, last = whole[0].at, whole[-1].at
    for since in (first - 1, first, first + 1, whole[2].at, whole[2].at + 5, last, last + 9):
        for end in (since + 1, whole[3].at, last + 60_000):
            part = today.read_statuses(conn, [agent_id], since)[agent_id]
            a = agent[agent_id]
            assert agent_time.online_ms(part, a.status, a.created_at, since, end) == \
                agent_time.online_ms(whole, a.status, a.created_at, since, end)


def _concurrency_by_points(legs, start, end):
    """The point-by-point sweep ``agent_time.concurrency`` replaced."""
    points = []
    for a, b in legs:
        a, b = max(a, start), min(b, end)
        if b > a:
            points += [(a, 1), (b, -1)]
    if not points:
        return None, 0
    points.sort()
    held = peak = busy = weighted = 0
    last = points[0][0]
    for t, d in points:
        if held:
            busy += t - last
            weighted += held * (t - last)
        held += d
        peak = max(peak, held)
        last = t
    return (weighted / busy if busy else None), peak


def test_concurrency_sweep_equals_the_point_by_point_one():
    rng = random.Random(7)
    for _ in range(3000):
        span = rng.choice((4, 30, 1000))
        legs = []
        for _ in range(rng.randint(0, 12)):
            a = rng.randint(-span, 2 * span)
            legs.append((a, a + rng.randint(-1, span)))
        start, end = rng.randint(-span, span), rng.randint(-span, 2 * span)
        assert agent_time.concurrency(legs, start, end) == \
            _concurrency_by_points(legs, start, end), (legs, start, end)
    assert agent_time.concurrency([(0, 10), (10, 20)], 0, 100) == (1.0, 1)
    assert agent_time.concurrency([(0, 10), (5, 20), (5, 8)], 0, 100) == (28 / 20, 3)
