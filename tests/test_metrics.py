"""Service metrics (docs/DESIGN.md §9) on hand-built timelines with exact expected values, built
through the real backend with a frozen clock: first responses at 179 s / 181 s, turns
answered at 29 s / 30 s / 31 s, bot then human, bot resolution and reopens, a transfer,
the queue and a hand-back, orders inside and outside the attribution window, thresholds
from shop settings, online time and concurrency, grouping, the stored facts caught up
from events equal to a full rebuild, and the CLI (table, --json, --csv, bad arguments)."""

from __future__ import annotations

import csv
import io

import pytest

from cstool.backend.local import LocalBackend
from cstool.bot.step import BotReply
from cstool.clock import FrozenClock
from cstool.errors import NotFound, UsageError
from cstool.metrics import agent_time, figures
from cstool.metrics import definitions as d
from cstool.services.metrics import check_period
from cstool.values import parse_time

T0 = parse_time("2026-11-20T10:00:00+08:00")  # the conftest clock's start
HOUR = 3600


def at(clock: FrozenClock, seconds: float) -> None:
    """Move the frozen clock to T0 + ``seconds``."""
    clock.set(T0 + int(seconds * 1000))


def desk(be, agents=("a", "b"), *, mode="human_first", status="online", max_chats=3,
         settings=None, shop="s"):
    """A shop with online agents (no routing rules: least load, ties by handle)."""
    be.apply({
        "shops": [{"key": shop, "name": "翎衣女装", "service_mode": mode,
                   "settings": settings or {}}],
        "agents": [{"handle": h, "name": h.upper(), "shops": [shop], "status": status,
                    "max_chats": max_chats} for h in agents],
    })


def post(be, customer, text="在吗", shop="s", **kw) -> tuple[int, str | None]:
    """A customer writes; returns (conversation id, assignee)."""
    c = be.post_message(shop, customer, text, **kw)["conversation"]
    return c["id"], c["assignee"]


def total(be, **kw) -> dict:
    return be.metrics_report(**kw)["total"]


def rows(be, by, **kw) -> dict:
    report = be.metrics_report(by=by, **kw)
    dims = report["by"]
    return {tuple(r[x] for x in dims) if len(dims) > 1 else r[dims[0]]: r
            for r in report["rows"]}


class AnswerBot:
    """A bot that answers everything except refund questions."""

    def reply(self, shop, text, context):
        if "退款" in text:
            return BotReply(action="handoff")
        return BotReply(action="answer", text="亲，这是自动回复哦", entry="faq", confidence=0.9)


@pytest.fixture
def bot_backend(db_path, clock):
    b = LocalBackend(db_path, clock=clock, bot=AnswerBot())
    yield b
    b.close()


# -- first response and the 3-minute rate ---------------------------------------------------
def test_first_response_at_179_and_181_seconds(backend, clock):
    desk(backend)
    c1, who1 = post(backend, "c1")
    c2, who2 = post(backend, "c2")
    assert (who1, who2) == ("a", "b")
    at(clock, 179)
    backend.reply("a", c1, "亲，在的")
    at(clock, 181)
    backend.reply("b", c2, "您好")
    t = total(backend)
    assert t["human_conversations"] == 2 and t["answered_conversations"] == 2
    assert t["first_response_avg_s"] == 180.0
    assert t["response_rate"] == 0.5
    # each first message is also a turn: 179 s and 181 s, both over 30 s
    assert (t["turns"], t["answer_rate"], t["avg_response_s"]) == (2, 0.0, 180.0)
    agents = rows(backend, "agent")
    assert agents["a"]["response_rate"] == 1.0 and agents["b"]["response_rate"] == 0.0
    assert agents["a"]["first_response_avg_s"] == 179.0


def test_thresholds_come_from_the_shop_settings(backend, clock):
    desk(backend, settings={"response_target_s": 181, "answer_target_s": 179})
    c1, _ = post(backend, "c1")
    c2, _ = post(backend, "c2")
    at(clock, 179)
    backend.reply("a", c1, "在的")
    at(clock, 181)
    backend.reply("b", c2, "在的")
    t = backend.metrics_report()
    assert t["total"]["response_rate"] == 1.0
    assert t["total"]["answer_rate"] == 0.5
    assert t["targets"] == {"s": {"response_target_s": 181, "answer_target_s": 179,
                                  "attribution_window_h": 24}}
    backend.update("shops", "s", {"settings": {"response_target_s": 180}})
    assert total(backend)["response_rate"] == 0.5
    assert total(backend)["answer_rate"] == 0.0  # back to 30 s


# -- customer turns and the 30-second rate ---------------------------------------------------
def test_customer_turns_answered_at_29_30_and_31_seconds(backend, clock):
    desk(backend, agents=["a"])
    c1, _ = post(backend, "c1", "在吗")
    at(clock, 29)
    backend.reply("a", c1, "在的亲")                 # turn 1: 29 s
    at(clock, 40)
    post(backend, "c1", "有M码吗")
    at(clock, 45)
    post(backend, "c1", "要白色的")                  # same turn (a run of two)
    at(clock, 71)
    backend.reply("a", c1, "有的")                   # turn 2: 31 s from its first message
    at(clock, 80)
    post(backend, "c1", "几天能到")
    at(clock, 110)
    backend.reply("a", c1, "两天左右")               # turn 3: exactly 30 s
    at(clock, 120)
    post(backend, "c1", "好的谢谢")
    at(clock, 130)
    backend.close_conversation(c1, by="a")           # closed 10 s later: not counted
    at(clock, 140)
    backend.rate(c1, 5, "很满意")                    # a rating comment is no turn
    at(clock, 200)
    c2, _ = post(backend, "c2", "你好")
    at(clock, 210)
    backend.reply("a", c2, "您好")                   # 10 s
    at(clock, 220)
    post(backend, "c2", "还在吗")
    at(clock, 260)
    backend.close_conversation(c2, by="a")           # unanswered for 40 s: a miss
    at(clock, 270)
    backend.rate(c2, 2)
    t = total(backend)
    assert t["turns"] == 5
    assert t["answer_rate"] == 0.6                   # 29, 30, 10 in; 31 and the miss out
    assert t["avg_response_s"] == 25.0               # (29 + 31 + 30 + 10) / 4
    assert t["first_response_avg_s"] == 19.5 and t["response_rate"] == 1.0
    assert (t["customer_messages"], t["agent_messages"]) == (7, 4)
    assert (t["closed"], t["rated"], t["rating_response_rate"]) == (2, 2, 1.0)
    assert (t["csat"], t["rating_avg"]) == (0.5, 3.5)
    # the missed turn belongs to the agent who held the chat when it closed
    a = rows(backend, "agent")["a"]
    assert (a["turns"], a["answer_rate"]) == (5, 0.6)


def test_an_open_turn_counts_only_once_past_the_target(backend, clock):
    desk(backend, agents=["a"])
    c1, _ = post(backend, "c1")
    at(clock, 5)
    backend.reply("a", c1, "在的")
    at(clock, 10)
    post(backend, "c1", "发货了吗")
    at(clock, 40)                                     # waited 30 s: not late yet
    assert total(backend)["turns"] == 1
    at(clock, 41)
    t = total(backend)
    assert (t["turns"], t["answer_rate"]) == (2, 0.5)


# -- bot, handoff, bot resolution, reopen -----------------------------------------------------
def test_bot_then_human_and_bot_resolution_with_reopens(bot_backend, clock):
    be = bot_backend
    desk(be, agents=["a"], mode="bot_first")
    c1, who = post(be, "c1", "这个有货吗")
    assert who is None                                # the bot answered
    at(clock, 5)
    c2, _ = post(be, "c2", "运费多少")
    at(clock, 10)
    c3, _ = post(be, "c3", "能开发票吗")
    at(clock, 20)
    c4, _ = post(be, "c4", "支持七天无理由吗")
    at(clock, 60)
    assert post(be, "c1", "转人工")[1] == "a"         # handoff at 60 s
    at(clock, 80)
    be.reply("a", c1, "亲，我来帮您看看")              # first response 20 s after the handoff
    at(clock, 100)
    be.close_conversation(c1, by="a")
    at(clock, 600)
    be.close_conversation(c3, reason="idle")
    at(clock, 1800)
    be.close_conversation(c2, reason="idle")
    at(clock, 1900)
    be.close_conversation(c4, reason="idle")
    at(clock, 600 + 23 * HOUR)
    c3b, _ = post(be, "c3", "发票还能开吗")            # back within 24 h: a reopen
    assert c3b != c3
    at(clock, 900 + 23 * HOUR)
    be.close_conversation(c3b, reason="idle")
    at(clock, 1900 + 25 * HOUR)
    c4b, _ = post(be, "c4", "再问一下")                # back after 25 h: c4 stays resolved
    at(clock, 2200 + 25 * HOUR)
    be.close_conversation(c4b, reason="idle")
    t = total(be)
    assert (t["conversations"], t["customers"]) == (6, 4)
    assert (t["bot_conversations"], t["handoffs"], t["handoff_rate"]) == (6, 1, 0.1667)
    assert (t["bot_resolved"], t["bot_resolution_rate"]) == (4, 0.6667)
    assert t["bot_messages"] == 6
    assert (t["human_conversations"], t["first_response_avg_s"], t["response_rate"]) == (
        1, 20.0, 1.0)
    # the run 这个有货吗 … 转人工 counts from the handoff: answered in 20 s
    assert (t["turns"], t["answer_rate"], t["avg_response_s"]) == (1, 1.0, 20.0)


def test_a_handed_off_chat_nobody_answered_is_abandoned_not_resolved(bot_backend, clock):
    be = bot_backend
    desk(be, agents=["a"], mode="bot_first", status="offline")
    c1, _ = post(be, "c1", "这个有货吗")
    at(clock, 30)
    post(be, "c1", "我要退款")                         # the bot hands off; nobody online
    at(clock, 400)
    be.close_conversation(c1, reason="idle")
    t = total(be)
    assert (t["bot_resolved"], t["bot_resolution_rate"], t["handoff_rate"]) == (0, 0.0, 1.0)
    assert (t["abandoned"], t["abandonment_rate"]) == (1, 1.0)
    assert (t["queued"], t["queue_wait_avg_s"]) == (1, 370.0)
    assert (t["response_rate"], t["turns"], t["answer_rate"]) == (0.0, 1, 0.0)


# -- transfer ------------------------------------------------------------------------------
def test_transfer_splits_legs_and_turns_between_agents(backend, clock):
    desk(backend, agents=["a", "b", "c"])
    c1, who = post(backend, "c1", "在吗")
    assert who == "a"
    at(clock, 10)
    backend.reply("a", c1, "在的")                    # turn 1: 10 s, a
    at(clock, 20)
    post(backend, "c1", "我要退货")
    at(clock, 25)
    backend.transfer(c1, by="a", to_agent="b", note="退货")
    at(clock, 65)
    backend.reply("b", c1, "我来处理")                # turn 2: 45 s, b (counted from 20 s)
    at(clock, 70)
    post(backend, "c1", "好的")
    at(clock, 80)
    backend.reply("b", c1, "已经提交")                # turn 3: 10 s, b
    at(clock, 100)
    backend.close_conversation(c1, by="b")
    at(clock, 110)
    backend.rate(c1, 4)
    t = total(backend)
    assert (t["transfers"], t["chats"], t["handle_time_avg_s"]) == (1, 1, 50.0)
    assert (t["turns"], t["answer_rate"], t["avg_response_s"]) == (3, 0.6667, 21.7)
    agents = rows(backend, "agent")
    a, b, c = agents["a"], agents["b"], agents["c"]
    assert (a["conversations"], a["agent_messages"], a["handle_time_avg_s"]) == (1, 1, 25.0)
    assert (a["first_response_avg_s"], a["response_rate"]) == (10.0, 1.0)
    assert (a["turns"], a["answer_rate"], a["rated"]) == (1, 1.0, 0)
    assert (b["conversations"], b["agent_messages"], b["handle_time_avg_s"]) == (1, 2, 75.0)
    assert (b["answered_conversations"], b["response_rate"]) == (0, None)
    assert (b["turns"], b["answer_rate"], b["avg_response_s"]) == (2, 0.5, 27.5)
    assert (b["closed"], b["rated"], b["csat"]) == (1, 1, 1.0)
    assert (c["conversations"], c["turns"]) == (0, 0)


# -- queue, abandonment, hand-back, online time and concurrency ---------------------------------
def test_queue_abandonment_hand_back_and_online_time(backend, clock):
    desk(backend, agents=["a", "b"], status="offline", max_chats=1)
    c1, _ = post(backend, "c1", "在吗")                # queued at 0
    at(clock, 30)
    c2, _ = post(backend, "c2", "有人吗")              # queued at 30
    at(clock, 90)
    backend.set_agent_status("a", "online")           # takes c1: waited 90 s
    at(clock, 100)
    backend.reply("a", c1, "在的")                    # first response 100 s
    at(clock, 300)
    backend.close_conversation(c2, reason="idle")     # c2 gave up after 270 s
    at(clock, 400)
    c3, _ = post(backend, "c3", "你好")                # a is full: queued at 400
    at(clock, 500)
    backend.set_agent_status("b", "online")           # takes c3: waited 100 s
    at(clock, 520)
    backend.reply("b", c3, "您好")                    # first response 120 s
    at(clock, 600)
    backend.set_agent_status("b", "offline")          # c3 back to the queue (a is full)
    at(clock, 700)
    backend.close_conversation(c1, by="a")            # a frees up and takes c3: 100 s more
    at(clock, 710)
    backend.reply("a", c3, "我接着为您服务")
    at(clock, 720)
    backend.close_conversation(c3, by="a")
    t = total(backend)
    assert (t["queued"], t["queue_wait_avg_s"], t["queue_wait_max_s"]) == (3, 186.7, 270.0)
    assert (t["abandoned"], t["abandonment_rate"]) == (1, 0.3333)
    assert (t["first_response_avg_s"], t["response_rate"]) == (110.0, 0.6667)
    assert (t["turns"], t["answer_rate"]) == (3, 0.0)
    assert t["handle_time_avg_s"] == 243.3            # legs of 610, 100 and 20 s
    agents = rows(backend, "agent")
    a, b = agents["a"], agents["b"]
    assert (a["online_s"], b["online_s"]) == (630.0, 100.0)
    assert (a["conversations"], b["conversations"]) == (2, 1)
    assert (a["concurrency_peak"], a["concurrency_avg"]) == (1, 1.0)
    assert (a["abandoned"], a["closed"]) == (0, 2)
    # the period clips online time: from 550 s on, b was online 50 s
    later = rows(backend, "agent", since=T0 + 550_000)
    assert later["b"]["online_s"] == 50.0 and later["b"]["conversations"] == 0


def test_online_time_and_concurrency(backend, clock):
    desk(backend, agents=["a"], status="offline")
    backend.set_agent_status("a", "online")
    c1, _ = post(backend, "c1")
    at(clock, 100)
    c2, _ = post(backend, "c2")
    at(clock, 300)
    backend.close_conversation(c2, by="a")
    at(clock, 400)
    backend.close_conversation(c1, by="a")
    at(clock, 600)
    backend.set_agent_status("a", "away")
    at(clock, 900)
    backend.set_agent_status("a", "busy")             # busy is working: online time
    at(clock, 1200)
    backend.set_agent_status("a", "offline")
    at(clock, 2000)
    out = backend.agent_metrics("a")
    assert out["figures"]["online_s"] == 900.0
    assert (out["figures"]["concurrency_peak"], out["figures"]["concurrency_avg"]) == (2, 1.5)
    assert out["shops"] == ["s"] and out["status"] == "offline"
    assert backend.agent_metrics("a", since=T0 + 300_000)["figures"]["online_s"] == 600.0
    with pytest.raises(NotFound):
        backend.agent_metrics("nobody")


# -- orders: conversion and attribution -------------------------------------------------------
def _order(be, key, customer, created_s, *, paid_s=None, status="paid", price=100):
    rec = {"key": key, "shop": "s", "customer": customer, "status": status,
           "created_at": T0 + created_s * 1000, "items": [{"product": "p1", "price": price}]}
    if paid_s is not None:
        rec["paid_at"] = T0 + paid_s * 1000
    be.create("orders", rec)


def test_orders_inside_and_outside_the_attribution_window(backend, clock):
    desk(backend)
    backend.create("products", {"key": "p1", "shop": "s", "title": "法式碎花连衣裙",
                                "price": 100})
    c1, w1 = post(backend, "c1")
    c2, w2 = post(backend, "c2")
    c3, w3 = post(backend, "c3")
    c4, w4 = post(backend, "c4")
    at(clock, 10)
    for cid, who in ((c1, w1), (c2, w2), (c3, w3), (c4, w4)):
        backend.reply(who, cid, "亲，在的")
    at(clock, 60)
    for cid in (c1, c2, c3, c4):
        backend.close_conversation(cid)
    _order(backend, "o1", "c1", 2 * HOUR, paid_s=2 * HOUR + 60, price=199)   # inside, paid
    _order(backend, "o2", "c2", 25 * HOUR, paid_s=25 * HOUR + 60, price=88)  # outside
    _order(backend, "o3", "c3", HOUR, status="created", price=50)           # inside, unpaid
    _order(backend, "o4", "c4", -HOUR, paid_s=-HOUR + 60, price=77)         # before the chat
    t = total(backend)
    assert (t["consulting_customers"], t["ordering_customers"], t["paying_customers"]) == (
        4, 2, 1)
    assert (t["inquiry_conversion"], t["paid_conversion"]) == (0.5, 0.25)
    assert (t["attributed_orders"], t["attributed_sales"]) == (2, 199)
    assert (w1, w2, w3, w4) == ("a", "b", "a", "b")  # least load, ties by handle
    agents = rows(backend, "agent")
    assert (agents["a"]["attributed_orders"], agents["a"]["attributed_sales"]) == (2, 199)
    assert (agents["b"]["attributed_orders"], agents["b"]["attributed_sales"]) == (0, 0)
    assert (agents["a"]["inquiry_conversion"], agents["a"]["paid_conversion"]) == (1.0, 0.5)
    # a wider window (a shop setting) takes o2 in
    backend.update("shops", "s", {"settings": {"attribution_window_h": 26}})
    t = total(backend)
    assert (t["inquiry_conversion"], t["paid_conversion"]) == (0.75, 0.5)
    assert (t["attributed_orders"], t["attributed_sales"]) == (3, 287)


def test_the_latest_reply_before_the_order_takes_the_sale(backend, clock):
    desk(backend, agents=["a", "b"])
    backend.create("products", {"key": "p1", "shop": "s", "title": "羽绒服", "price": 100})
    c1, who = post(backend, "c1")
    assert who == "a"
    at(clock, 10)
    backend.reply("a", c1, "在的")
    at(clock, 60)
    backend.close_conversation(c1, by="a")
    backend.set_agent_status("a", "away")
    at(clock, HOUR)
    c2, who = post(backend, "c1", "我又来了")          # a new conversation, to b
    assert who == "b"
    at(clock, HOUR + 20)
    backend.reply("b", c2, "您好")
    at(clock, HOUR + 60)
    backend.close_conversation(c2, by="b")
    _order(backend, "o1", "c1", 30, paid_s=40, price=10)           # after a's reply
    _order(backend, "o2", "c1", 2 * HOUR, paid_s=2 * HOUR, price=300)  # after b's reply
    _order(backend, "o3", "c1", 3 * HOUR, status="refunded", paid_s=3 * HOUR, price=500)
    agents = rows(backend, "agent")
    assert (agents["a"]["attributed_orders"], agents["a"]["attributed_sales"]) == (1, 10)
    # refunded orders are attributed but are not sales
    assert (agents["b"]["attributed_orders"], agents["b"]["attributed_sales"]) == (2, 300)
    assert agents["b"]["inquiry_conversion"] == 1.0 and agents["b"]["paid_conversion"] == 1.0
    t = total(backend)
    # one customer, two conversations: counted once
    assert (t["consulting_customers"], t["inquiry_conversion"]) == (1, 1.0)


# -- grouping and periods -------------------------------------------------------------------
def test_grouping_by_hour_channel_day_shop_and_periods(backend, clock):
    desk(backend)
    desk(backend, agents=["x"], shop="t")
    post(backend, "c1", channel="app")
    at(clock, 65 * 60)
    post(backend, "c2", channel="h5")
    at(clock, 90 * 60)
    post(backend, "c3", channel="app")
    post(backend, "c4", shop="t", channel="app")
    hours = rows(backend, "hour")
    assert {k: r["conversations"] for k, r in hours.items()} == {
        "2026-11-20 10:00": 1, "2026-11-20 11:00": 3}
    assert list(rows(backend, "day")) == ["2026-11-20"]
    combo = rows(backend, "shop,channel,hour")
    assert {k: r["conversations"] for k, r in combo.items()} == {
        ("s", "app", "2026-11-20 10:00"): 1, ("s", "app", "2026-11-20 11:00"): 1,
        ("s", "h5", "2026-11-20 11:00"): 1, ("t", "app", "2026-11-20 11:00"): 1}
    assert total(backend, shop="t")["conversations"] == 1
    assert total(backend, since="2026-11-20T11:00:00+08:00")["conversations"] == 3
    assert total(backend, until="2026-11-20T11:00:00+08:00")["conversations"] == 1
    assert total(backend, since="2026-11-21")["conversations"] == 0
    with pytest.raises(UsageError, match="cannot group by"):
        backend.metrics_report(by="week")
    with pytest.raises(UsageError, match="combined"):
        backend.metrics_report(by="agent,shop")
    # a period that ends before it starts is empty (over HTTP too); the CLI refuses it
    assert total(backend, since="2026-11-21", until="2026-11-20")["conversations"] == 0
    with pytest.raises(UsageError, match="before"):
        check_period("2026-11-21", "2026-11-20")
    with pytest.raises(NotFound):
        backend.metrics_report(shop="nope")


# -- the stored facts: caught up from events, equal to a full rebuild -----------------------
def _busy_day(be, clock, start_s: float, customers: list[str]) -> None:
    for i, c in enumerate(customers):
        at(clock, start_s + i * 7)
        cid, who = post(be, c, "我的快递到哪了")
        if who is None:
            continue
        at(clock, start_s + i * 7 + 3)
        be.reply(who, cid, "亲，已经发出了")
        if i % 3 == 0:
            at(clock, start_s + i * 7 + 4)
            post(be, c, "谢谢")
        if i % 4 == 0:
            at(clock, start_s + i * 7 + 5)
            be.close_conversation(cid, by=who)
            if i % 8 == 0:
                be.rate(cid, 4 + (i % 2))


def test_facts_caught_up_from_events_equal_a_full_rebuild(backend, clock):
    desk(backend, agents=["a", "b", "c"], max_chats=4)
    _busy_day(backend, clock, 0, [f"c{i}" for i in range(10)])
    first = backend.metrics_report(by="agent")
    assert first["total"]["conversations"] == 10
    backend.set_agent_status("c", "offline")          # hands chats back
    _busy_day(backend, clock, 200, [f"c{i}" for i in range(5, 20)])
    at(clock, 400)
    backend.set_agent_status("c", "online")
    caught_up = backend.metrics_report(by="agent")
    stored = _stored(backend)
    assert backend.metrics_rebuild()["conversations"] > 10
    assert _stored(backend) == stored
    assert backend.metrics_report(by="agent") == caught_up
    assert caught_up != first


def _stored(be) -> dict:
    conn = be.database.conn
    out = {}
    for t in ("metric_conversations", "metric_turns", "metric_legs", "metric_agent_status"):
        cur = conn.execute(f"SELECT * FROM {t}")
        # PostgreSQL's explicit rowid (SQLite's is implicit) is the write order, not a fact
        keep = [i for i, d in enumerate(cur.description) if d[0] != "rowid"]
        out[t] = sorted((tuple(r[i] for i in keep) for r in cur.fetchall()), key=repr)
    return out


# -- the pure pieces ------------------------------------------------------------------------
def test_fold_by_hand_bot_first_with_a_transfer_and_a_rating_comment():
    conv = d.Conversation(id=1, shop_id=1, customer_id=9, created_at=0, handoff_at=50_000,
                          closed_at=200_000, rating=5, entry_mode="bot_first")
    facts = d.fold(conv, [
        ("customer", None, 0, None), ("bot", None, 1_000, None),
        ("customer", None, 50_000, None),                  # 转人工: handoff
        ("system", None, 50_000, d.QUEUED),
        ("system", None, 80_000, 7),                       # assigned to agent 7
        ("agent", 7, 90_000, None),
        ("customer", None, 100_000, None),
        ("system", None, 110_000, d.TRANSFERRED), ("system", None, 110_000, 8),
        ("agent", 8, 140_000, None),
        ("system", None, 200_000, d.CLOSED),
        ("customer", None, 210_000, None),                 # rating comment
    ])
    assert facts.needs_human_at == 50_000 and facts.bot_engaged
    assert [(t.started_at, t.answered_at, t.agent_id) for t in facts.turns] == [
        (50_000, 90_000, 7), (100_000, 140_000, 8)]
    assert [(g.agent_id, g.started_at, g.ended_at, g.messages) for g in facts.legs] == [
        (7, 80_000, 110_000, 1), (8, 110_000, 200_000, 1)]
    assert (facts.queue_wait_ms, facts.transfers, facts.customer_messages) == (30_000, 1, 3)
    assert (facts.first_reply_at, facts.first_reply_agent_id, facts.last_agent_id) == (
        90_000, 7, 8)


def test_fold_a_bot_answer_does_not_answer_a_customer_waiting_for_a_human():
    conv = d.Conversation(id=1, shop_id=1, customer_id=9, created_at=0, handoff_at=0,
                          entry_mode="human_first")
    facts = d.fold(conv, [
        ("customer", None, 0, None), ("system", None, 0, d.QUEUED),
        ("bot", None, 1_000, None),                        # the bot fills in while queued
        ("customer", None, 5_000, None),
        ("system", None, 20_000, 3), ("agent", 3, 40_000, None),
    ])
    assert [(t.started_at, t.answered_at) for t in facts.turns] == [(0, 40_000)]
    assert (facts.bot_engaged, facts.queue_wait_ms, facts.closed_at) == (True, 20_000, None)
    figs = figures.Tally()
    figs.queue(facts, as_of=60_000)
    assert figs.queue_sum == 20_000


def test_status_set_by_agent_update_or_apply_counts_like_the_status_command(backend, clock):
    desk(backend, agents=["a", "b"], status="offline")
    backend.update("agents", "a", {"status": "online"})
    at(clock, 100)
    c1, _ = post(backend, "c1")
    backend.apply({"agents": [{"handle": "b", "name": "B", "shops": ["s"],
                               "status": "online", "max_chats": 3}]})
    at(clock, 300)
    backend.update("agents", "a", {"status": "offline"})  # a's chat goes to b
    assert backend.get_conversation(c1, messages=False)["assignee"] == "b"
    at(clock, 400)
    backend.apply({"agents": [{"handle": "b", "name": "B", "shops": ["s"],
                               "status": "away", "max_chats": 3}]})
    at(clock, 1000)
    assert backend.agent_metrics("a")["figures"]["online_s"] == 300.0
    assert backend.agent_metrics("b")["figures"]["online_s"] == 300.0


def test_online_time_and_concurrency_helpers():
    changes = [agent_time.StatusChange(100, "offline", "online"),
               agent_time.StatusChange(300, "online", "away"),
               agent_time.StatusChange(400, "away", "busy")]
    assert agent_time.online_ms(changes, "busy", 0, 0, 1000) == 200 + 600
    assert agent_time.online_ms(changes, "busy", 0, 350, 450) == 50
    assert agent_time.online_ms([], "online", 500, 0, 1000) == 500
    # history imported before the agent record was made still counts
    assert agent_time.online_ms(changes[:1], "online", 500, 0, 1000) == 900
    assert agent_time.concurrency([(0, 400), (100, 300)], 0, 1000) == (1.5, 2)
    assert agent_time.concurrency([], 0, 10) == (None, 0)


# -- the CLI --------------------------------------------------------------------------------
@pytest.fixture
def served(backend, clock):
    """Two conversations: FRT 179 s (a) and 181 s (b), both closed and rated."""
    desk(backend)
    c1, _ = post(backend, "c1")
    c2, _ = post(backend, "c2", channel="h5")
    at(clock, 179)
    backend.reply("a", c1, "在的")
    at(clock, 181)
    backend.reply("b", c2, "在的")
    at(clock, 200)
    backend.close_conversation(c1, by="a")
    backend.close_conversation(c2, by="b")
    backend.rate(c1, 5)
    backend.rate(c2, 3)
    return backend


def test_report_cli_json_csv_and_table(cli, served):
    out = cli.json("metrics", "report", "--shop", "s")
    assert out["shop"] == "s" and out["by"] == []
    assert (out["total"]["response_rate"], out["total"]["csat"]) == (0.5, 0.5)
    by_agent = cli.json("metrics", "report", "--by", "agent",
                        "--from", "2026-11-20", "--to", "2026-11-21")
    assert [r["agent"] for r in by_agent["rows"]] == ["a", "b"]
    assert by_agent["from"] == "2026-11-20T00:00:00+08:00"
    res = cli("metrics", "report", "--by", "channel", "--csv")
    assert res.exit_code == 0, res.output
    table = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["channel"], r["conversations"], r["response_rate"]) for r in table] == [
        ("-", "1", "1.0"), ("h5", "1", "0.0")]
    one = list(csv.DictReader(io.StringIO(cli("metrics", "report", "--csv").stdout)))
    assert len(one) == 1 and one[0]["first_response_avg_s"] == "180.0"
    plain = cli("metrics", "report")
    assert plain.exit_code == 0 and "response rate (3 min)\t50.0%" in plain.stdout
    grouped = cli("metrics", "report", "--by", "agent")
    assert grouped.exit_code == 0
    lines = grouped.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["agent", "status", "chats"]
    assert lines[-1].startswith("(all)")
    agent = cli.json("metrics", "agent", "a")
    assert agent["figures"]["first_response_avg_s"] == 179.0 and agent["shops"] == ["s"]
    agent_csv = list(csv.DictReader(io.StringIO(cli("metrics", "agent", "b", "--csv").stdout)))
    assert agent_csv[0]["agent"] == "b" and agent_csv[0]["response_rate"] == "0.0"
    assert "first response (mean)\t3m01s" in cli("metrics", "agent", "b").stdout


@pytest.mark.parametrize("args,code,message", [
    (["report", "--by", "week"], 2, "cannot group by 'week'"),
    (["report", "--from", "yesterday-ish"], 2, "--from: expected a time"),
    (["report", "--from", "2026-11-21", "--to", "2026-11-20"], 2, "--from must be before"),
    (["report", "--json", "--csv"], 2, "choose one of --json and --csv"),
    (["report", "--shop", "nope"], 1, "no shop 'nope'"),
    (["agent", "nobody"], 1, "no agent 'nobody'"),
    (["report", "--by", "agent,hour"], 2, "cannot be combined"),
    (["report", "--by", ","], 2, "--by names no dimension"),
    (["report", "--by", ""], 2, "--by names no dimension"),
])
def test_report_cli_bad_arguments(cli, served, args, code, message):
    res = cli("metrics", *args)
    assert res.exit_code == code
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("Error: ")
    assert res.stdout == ""


# -- a believable big day -------------------------------------------------------------------
def _mall(be, shops=2, customers_n=400, agents=8):
    from cstool.simulation.synthetic_data import Plan, base_document, customers

    plan = Plan(shops=shops, customers=customers_n, orders=0, agents_per_shop=agents, seed=3)
    doc = base_document(plan)
    for i, shop in enumerate(doc["shops"]):  # one bot-first shop, the others human-first
        shop["service_mode"] = "bot_first" if i == 0 else "human_first"
    be.apply(doc)
    be.bulk_load("customers", customers(plan))
    return plan


def test_promotion_day_is_believable(backend):
    from cstool.simulation.promotion_day import DayPlan, generate_day

    _mall(backend)
    plan = DayPlan(conversations=1200, seed=3)
    out = generate_day(backend, plan)
    promo = out["hourly"]
    assert sum(promo) == 1200 and promo.index(max(promo)) == 0   # the midnight spike
    assert 8 <= max(promo) / out["baseline_mean_hour"] <= 14      # peak x baseline
    conn = backend.database.conn
    start = plan.start_ms()
    first_quarter = conn.execute(
        "SELECT COUNT(*) FROM conversations WHERE created_at >= ? AND created_at < ?",
        (start, start + 15 * 60_000)).fetchone()[0]
    assert first_quarter > promo[0] * 0.6                         # most of it at once
    share = dict(conn.execute(
        "SELECT created_at < ? + 3 * 3600000, AVG(intent = 'order_status') FROM conversations "
        "WHERE created_at >= ? GROUP BY 1", (start, start)).fetchall())
    assert share[1] > 0.5 and share[1] > share[0] + 0.15          # order status dominates
    day = backend.metrics_report(since=start, until=start + 86_400_000, by="agent")
    t = day["total"]
    assert 0.4 < t["answer_rate"] < 0.95 and 10 < t["avg_response_s"] < 90
    assert 0.8 < t["response_rate"] <= 1 and t["bot_resolution_rate"] > 0.1
    assert 0.05 < t["inquiry_conversion"] < 0.6 and t["attributed_orders"] > 0
    assert 0.5 < t["csat"] < 1 and t["transfers"] > 0 and t["queued"] > 0
    caps = dict(conn.execute("SELECT handle, max_chats FROM agents"))
    assert all(r["concurrency_peak"] <= caps[r["agent"]] for r in day["rows"])
    assert sum(r["online_s"] > 0 for r in day["rows"]) == len(caps)
    # one open conversation per customer and shop at any time
    overlaps = conn.execute(
        "SELECT COUNT(*) FROM conversations a JOIN conversations b ON a.customer_id = "
        "b.customer_id AND a.shop_id = b.shop_id AND a.id < b.id AND b.created_at <= "
        "a.closed_at").fetchone()[0]
    assert overlaps == 0
    # the same seed gives the same day
    with pytest.raises(Exception, match="exists already"):
        generate_day(backend, plan)


def test_same_seed_same_day(tmp_path, clock):
    from cstool.simulation.promotion_day import DayPlan, generate_day

    dumps = []
    for name in ("one.db", "two.db"):
        be = LocalBackend(tmp_path / name, clock=clock)
        _mall(be, shops=1, customers_n=200)
        generate_day(be, DayPlan(conversations=300, seed=5, baseline=False))
        dumps.append(be.database.conn.execute(
            "SELECT conversation_id, sender, agent_id, kind, body, created_at FROM messages "
            "ORDER BY id").fetchall())
        be.close()
    assert dumps[0] == dumps[1] and len(dumps[0]) > 1500


def test_a_day_streamed_in_halves_then_caught_up_equals_a_rebuild(backend, tmp_path):
    from cstool.simulation.promotion_day import DayPlan, simulate, stream, write

    _mall(backend, shops=2, customers_n=300)
    plan = DayPlan(conversations=500, seed=9, baseline=False)
    with backend.database.read() as conn:
        day = simulate(conn, plan)
    cut = plan.start_ms() + 10 * 60_000  # in the midnight rush
    with backend.database.write() as conn:
        write(conn, day, None, cut)
    half = backend.metrics_report(by="agent")
    open_now = backend.database.conn.execute(
        "SELECT COUNT(*) FROM conversations WHERE state != 'closed'").fetchone()[0]
    assert open_now > 0 and half["total"]["conversations"] < 500
    with backend.database.write() as conn:
        write(conn, day, cut, day.end)
    caught = backend.metrics_report(by="agent")
    stored = _stored(backend)
    backend.metrics_rebuild()
    assert _stored(backend) == stored
    assert backend.metrics_report(by="agent") == caught
    assert caught["total"]["conversations"] == 500 and caught != half
    # the same day streamed tick by tick into another file ends with the same figures
    other = LocalBackend(tmp_path / "streamed.db", clock=backend.clock)
    _mall(other, shops=2, customers_n=300)
    ticks = iter(range(10_000))
    out = stream(other, plan, speed=3600, sleep=lambda s: None,
                 wall=lambda: float(next(ticks)))
    assert out["conversations"] == 500 and out["until"] == day.end
    assert other.metrics_report(by="agent")["total"] == caught["total"]
    other.close()


def test_summed_by_sql_equals_counted_one_by_one(backend, monkeypatch):
    """The settled rows' stored contributions summed by SQL give the same report as
    counting every conversation here (the path used when the zone's offset changes)."""
    from cstool.services import metrics as service
    from cstool.simulation.promotion_day import DayPlan, generate_day

    _mall(backend)
    generate_day(backend, DayPlan(conversations=800, seed=4))
    for by in ("hour", "day,shop,channel,group"):
        summed = backend.metrics_report(by=by)
        monkeypatch.setattr(service, "fixed_offset", lambda lo, hi, zone: None)
        counted = backend.metrics_report(by=by)
        monkeypatch.undo()
        assert summed == counted and len(summed["rows"]) > 3


def test_bench_metrics_quick_runs():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_metrics.py"),
                          "--quick"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "figures agree:          yes (25 figures)" in out.stdout
    assert "ratio (naive/ours):" in out.stdout
