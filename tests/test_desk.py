"""Conversations through the Local backend: routing of each rule kind and strategy with
exact assignments, capacity, the queue, hand-back, dedup, service modes, transfer,
close and rate, and the conversation CLI."""

from __future__ import annotations

import pytest

from cstool.errors import Conflict, InvalidInput, NotFound, UsageError
from cstool.validation import FieldError
from cstool.values import parse_time

T0 = "2026-11-20T10:00:00+08:00"  # a Friday, 10:00 in Beijing


def mall(be, *, agents, rules=(), mode="human_first", **shop):
    """A shop with groups pre / log / after / vip, the given agents and rules."""
    be.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": mode, **shop}],
        "groups": [{"key": g, "shop": "s", "name": g} for g in ("pre", "log", "after", "vip")],
        "agents": [{"shops": ["s"], "status": "online", "max_chats": 3, **a} for a in agents],
        "routing_rules": [{"shop": "s", **r} for r in rules],
    })


def agent(handle, *groups, **kw):
    return {"handle": handle, "name": handle.upper(), "groups": list(groups), **kw}


def assignee(result):
    return result["conversation"]["assignee"]


# -- the nine rule kinds, each with an exact expected assignment -----------------------------

def test_returning_customer_goes_to_last_agent_within_n_days(backend, clock):
    mall(backend, agents=[agent("a", "pre"), agent("b", "pre")], rules=[
        {"key": "returning", "conditions": {"field": "customer.days_since_last_served",
                                            "op": "le", "value": 7},
         "target": {"agent": "$last_agent"}, "when_unavailable": "next"}])
    backend.apply({"customers": [
        {"key": "old", "name": "老客", "profiles": [
            {"shop": "s", "last_agent": "b", "last_served_at": "2026-11-15T10:00:00+08:00"}]},
        {"key": "stale", "name": "久未来", "profiles": [
            {"shop": "s", "last_agent": "b", "last_served_at": "2026-10-01T10:00:00+08:00"}]}]})
    assert assignee(backend.post_message("s", "old", "又来啦")) == "b"
    # beyond 7 days the rule does not match: least load picks a (b has one chat now)
    assert assignee(backend.post_message("s", "stale", "你好")) == "a"


def test_returning_customer_whose_agent_is_away_goes_on(backend):
    mall(backend, agents=[agent("a", "pre"), agent("b", "pre", status="away")], rules=[
        {"key": "returning", "conditions": {"field": "customer.is_returning", "op": "eq",
                                            "value": True},
         "target": {"agent": "$last_agent"}, "when_unavailable": "next"}])
    backend.apply({"customers": [{"key": "old", "name": "老客",
                                  "profiles": [{"shop": "s", "last_agent": "b"}]}]})
    assert assignee(backend.post_message("s", "old", "在吗")) == "a"


def test_channel_and_entry_page_to_group(backend):
    mall(backend, agents=[agent("p", "pre"), agent("l", "log")], rules=[
        {"key": "mini", "conditions": {"all": [
            {"field": "conversation.channel", "op": "eq", "value": "mini_program"},
            {"field": "conversation.entry_page", "op": "contains", "value": "/order/"}]},
         "target": {"group": "log"}}])
    assert assignee(backend.post_message("s", "c1", "你好", channel="mini_program",
                                         entry_page="/order/123")) == "l"
    assert assignee(backend.post_message("s", "c2", "你好", channel="app",
                                         entry_page="/order/123")) == "p"


def test_load_picks_least_loaded_relative_to_capacity(backend):
    mall(backend, agents=[agent("big", "pre", max_chats=10), agent("small", "pre", max_chats=2)],
         rules=[{"key": "load", "target": {"shop": True}, "strategy": "least_load"}])
    got = [assignee(backend.post_message("s", f"c{i}", "你好")) for i in range(6)]
    # a tie goes to big (same idle time, then handle); then the lower load ratio wins:
    # big 1/10 vs small 0/2 -> small; then big 0.1..0.4 stays below small's 0.5
    assert got == ["big", "small", "big", "big", "big", "big"]
    assert assignee(backend.post_message("s", "c6", "你好")) == "big"  # 0.5 = 0.5, by handle
    assert assignee(backend.post_message("s", "c7", "你好")) == "small"


def test_region_to_group(backend):
    mall(backend, agents=[agent("p", "pre"), agent("l", "log")], rules=[
        {"key": "west", "conditions": {"field": "customer.region", "op": "contains_any",
                                       "value": ["新疆", "西藏"]}, "target": {"group": "log"}}])
    backend.apply({"customers": [
        {"key": "xj", "name": "阿依", "profiles": [{"shop": "s", "region": "新疆乌鲁木齐"}]},
        {"key": "zj", "name": "王丽", "profiles": [{"shop": "s", "region": "浙江杭州"}]}]})
    assert assignee(backend.post_message("s", "xj", "运费多少")) == "l"
    assert assignee(backend.post_message("s", "zj", "运费多少")) == "p"


def test_keyword_in_first_message_or_search_term_to_group(backend):
    mall(backend, agents=[agent("p", "pre"), agent("l", "log")], rules=[
        {"key": "ship", "conditions": {"any": [
            {"field": "message.text", "op": "contains_any", "value": ["发货", "物流"]},
            {"field": "conversation.search_keyword", "op": "contains", "value": "包邮"}]},
         "target": {"group": "log"}}])
    assert assignee(backend.post_message("s", "c1", "亲什么时候发货呀")) == "l"
    assert assignee(backend.post_message("s", "c2", "在吗", search_keyword="连衣裙包邮")) == "l"
    assert assignee(backend.post_message("s", "c3", "有M码吗")) == "p"


def test_behaviour_raises_priority_in_the_queue(backend):
    mall(backend, agents=[agent("p", "pre", status="offline")], rules=[
        {"key": "keen", "conditions": {"field": "conversation.pages_viewed", "op": "ge",
                                       "value": 8}, "target": {"group": "pre"}, "priority": 5}])
    a = backend.post_message("s", "c1", "你好", pages_viewed=2)
    b = backend.post_message("s", "c2", "你好", pages_viewed=12)
    assert b["conversation"]["priority"] == 5 and a["conversation"]["priority"] == 0
    queue = backend.queue("s")
    assert [c["customer"] for c in queue] == ["c2", "c1"]
    assert [c["queue_position"] for c in queue] == [1, 2]


def test_customer_level_to_senior_agents_with_priority(backend):
    mall(backend, agents=[agent("jr", "pre", level="junior"), agent("sr", "pre", level="senior")],
         rules=[{"key": "vip", "conditions": {"field": "customer.level", "op": "ge", "value": 4},
                 "target": {"level": ["senior", "expert"]}, "priority": 10}])
    backend.apply({"customers": [
        {"key": "v5", "name": "金牌", "profiles": [{"shop": "s", "level": 5}]},
        {"key": "v1", "name": "新人", "profiles": [{"shop": "s", "level": 1}]}]})
    r = backend.post_message("s", "v5", "你好")
    assert assignee(r) == "sr" and r["conversation"]["priority"] == 10
    assert assignee(backend.post_message("s", "v1", "你好")) == "jr"


def test_dedicated_agent_one_to_one(backend):
    mall(backend, agents=[agent("a", "pre"), agent("mine", "vip")], rules=[
        {"key": "own", "conditions": {"field": "customer.dedicated_agent", "op": "exists",
                                      "value": True},
         "target": {"agent": "$dedicated_agent"}}])
    backend.apply({"customers": [{"key": "vip", "name": "大客户",
                                  "profiles": [{"shop": "s", "dedicated_agent": "mine"}]}]})
    assert assignee(backend.post_message("s", "vip", "在吗")) == "mine"
    assert assignee(backend.post_message("s", "other", "在吗")) == "a"


def test_category_intent_and_tags_to_group(backend):
    mall(backend, agents=[agent("p", "pre"), agent("af", "after"), agent("v", "vip")], rules=[
        {"key": "after", "conditions": {"field": "conversation.intent", "op": "eq",
                                        "value": "aftersale"}, "target": {"group": "after"}},
        {"key": "tag", "conditions": {"field": "customer.tags", "op": "contains", "value": "vip"},
         "target": {"group": "vip"}},
        {"key": "dress", "conditions": {"field": "product.category", "op": "eq",
                                        "value": "连衣裙"}, "target": {"group": "pre"}}])
    backend.apply({
        "products": [{"key": "d1", "shop": "s", "title": "连衣裙", "category": "连衣裙",
                      "price": 299}],
        "customers": [
            {"key": "ret", "name": "退货人", "profiles": [{"shop": "s"}]},
            {"key": "tagged", "name": "VIP", "profiles": [{"shop": "s", "tags": ["vip"]}]}],
        "orders": [{"key": "o1", "shop": "s", "customer": "ret", "status": "refund_requested",
                    "created_at": "2026-11-11T00:00:00+08:00",
                    "paid_at": "2026-11-11T00:01:00+08:00", "items": [{"product": "d1"}]}]})
    r = backend.post_message("s", "ret", "我要退款")
    assert assignee(r) == "af"
    assert r["conversation"]["classification"] == "after_sale"
    assert assignee(backend.post_message("s", "tagged", "你好")) == "v"
    assert assignee(backend.post_message("s", "new", "这条裙子有M码吗", product="d1")) == "p"


# -- strategies ------------------------------------------------------------------------------

def test_round_robin_rotates_and_remembers_across_posts(backend):
    mall(backend, agents=[agent(h, "pre", max_chats=10) for h in ("a", "b", "c")],
         rules=[{"key": "rr", "target": {"group": "pre"}, "strategy": "round_robin"}])
    got = [assignee(backend.post_message("s", f"c{i}", "你好")) for i in range(7)]
    assert got == ["a", "b", "c", "a", "b", "c", "a"]


def test_longest_idle(backend, clock):
    mall(backend, agents=[agent("a", "pre"), agent("b", "pre")],
         rules=[{"key": "idle", "target": {"group": "pre"}, "strategy": "longest_idle"}])
    backend.set_agent_status("a", "offline")
    backend.set_agent_status("b", "offline")
    backend.set_agent_status("b", "online")
    clock.advance(60)
    backend.set_agent_status("a", "online")
    clock.advance(60)
    assert assignee(backend.post_message("s", "c1", "你好")) == "b"
    clock.advance(60)
    assert assignee(backend.post_message("s", "c2", "你好")) == "a"


def test_sticky_prefers_the_last_agent_in_pool(backend):
    mall(backend, agents=[agent("a", "pre"), agent("b", "pre")],
         rules=[{"key": "st", "target": {"group": "pre"}, "strategy": "sticky"}])
    backend.apply({"customers": [{"key": "k", "name": "K",
                                  "profiles": [{"shop": "s", "last_agent": "b"}]}]})
    assert assignee(backend.post_message("s", "x", "你好")) == "a"
    assert assignee(backend.post_message("s", "k", "你好")) == "b"


# -- capacity, queue, hand-back -------------------------------------------------------------

def test_capacity_is_never_exceeded_and_the_queue_is_told_its_place(backend):
    mall(backend, agents=[agent("a", "pre", max_chats=2)])
    results = [backend.post_message("s", f"c{i}", "你好") for i in range(5)]
    assert [assignee(r) for r in results] == ["a", "a", None, None, None]
    third = results[2]["replies"][0]
    assert third["sender"] == "system"
    assert third["payload"] == {"queue_position": 1, "estimated_wait_s": 150}
    assert "当前排队第 1 位" in third["body"]
    assert results[4]["conversation"]["queue_position"] == 3
    with pytest.raises(Conflict, match="at capacity"):
        backend.accept_next("a")


def test_the_place_counts_only_chats_waiting_for_the_same_agents(backend):
    mall(backend, agents=[agent("a", "pre", max_chats=1), agent("l", "log", max_chats=1)],
         rules=[{"key": "ship", "target": {"group": "log"},
                 "conditions": {"field": "message.text", "op": "contains", "value": "快递"}},
                {"key": "rest", "target": {"group": "pre"}}])
    backend.post_message("s", "p0", "你好")       # to a
    backend.post_message("s", "l0", "快递到哪了")  # to l
    waiting = [backend.post_message("s", c, t)["conversation"] for c, t in
               (("p1", "你好"), ("p2", "在吗"), ("l1", "我的快递呢"))]
    # l1 waits for the logistics group: the two pre-sale chats ahead are not in its way
    assert [c["queue_position"] for c in waiting] == [1, 2, 1]
    assert [c["id"] for c in backend.queue("s")] == [c["id"] for c in waiting]


def test_freed_agent_takes_the_next_chat_at_once(backend, clock):
    mall(backend, agents=[agent("a", "pre", max_chats=1)])
    first = backend.post_message("s", "c1", "你好")["conversation"]["id"]
    second = backend.post_message("s", "c2", "你好")["conversation"]["id"]
    backend.reply("a", first, "亲在的")
    backend.close_conversation(first, by="a")
    conv = backend.get_conversation(second)
    assert conv["state"] == "active" and conv["assignee"] == "a"


def test_agent_coming_online_takes_waiting_chats_up_to_capacity(backend):
    mall(backend, agents=[agent("a", "pre", max_chats=2, status="offline")])
    ids = [backend.post_message("s", f"c{i}", "你好")["conversation"]["id"] for i in range(3)]
    result = backend.set_agent_status("a", "online")
    assert result["assigned"] == ids[:2]
    assert backend.queue("s")[0]["id"] == ids[2]


def test_agent_going_offline_returns_chats_to_others_or_the_queue(backend):
    mall(backend, agents=[agent("a", "pre", max_chats=2), agent("b", "pre", max_chats=1,
                                                                  status="away")])
    ids = [backend.post_message("s", f"c{i}", "你好")["conversation"]["id"] for i in range(2)]
    backend.set_agent_status("b", "online")
    result = backend.set_agent_status("a", "offline")
    assert result["returned"] == ids
    states = {c["id"]: (c["state"], c["assignee"]) for c in backend.list_conversations()}
    assert states[ids[0]] == ("active", "b")
    assert states[ids[1]] == ("queued", None)
    msgs = backend.get_conversation(ids[0])["messages"]
    assert any("客服已下线" in m["body"] for m in msgs)


def test_an_agent_going_offline_right_after_a_post_does_not_get_the_chat_back(backend):
    # one long-lived backend (as the server keeps): the post just before the status
    # change must not leave routing believing the agent is still online
    mall(backend, agents=[agent("b", "pre")])
    cid = backend.post_message("s", "c1", "在吗")["conversation"]["id"]
    assert backend.get_conversation(cid, messages=False)["assignee"] == "b"
    assert backend.set_agent_status("b", "offline")["returned"] == [cid]
    conv = backend.get_conversation(cid)
    assert (conv["state"], conv["assignee"]) == ("queued", None)
    assert backend.post_message("s", "c2", "你好")["conversation"]["state"] == "queued"


def test_away_and_offline_agents_get_nothing(backend):
    mall(backend, agents=[agent("a", "pre", status="away"), agent("b", "pre", status="offline"),
                          agent("c", "pre", status="busy")])
    r = backend.post_message("s", "c1", "你好")
    assert r["conversation"]["state"] == "queued"
    with pytest.raises(Conflict, match="away"):
        backend.accept_next("a")
    assert backend.accept_next("c")["id"] == r["conversation"]["id"]  # busy may pull


def test_accept_next_takes_highest_priority_then_oldest(backend):
    mall(backend, agents=[agent("a", "pre", status="busy", max_chats=5)], rules=[
        {"key": "vip", "conditions": {"field": "customer.level", "op": "ge", "value": 4},
         "target": {"shop": True}, "priority": 10}])
    backend.apply({"customers": [{"key": "v", "name": "V", "profiles": [{"shop": "s",
                                                                          "level": 5}]}]})
    first = backend.post_message("s", "n1", "你好")["conversation"]["id"]
    second = backend.post_message("s", "n2", "你好")["conversation"]["id"]
    vip = backend.post_message("s", "v", "你好")["conversation"]["id"]
    assert [backend.accept_next("a")["id"] for _ in range(3)] == [vip, first, second]
    assert backend.accept_next("a") is None


# -- posting ---------------------------------------------------------------------------------

def test_retried_client_id_is_stored_once(backend):
    mall(backend, agents=[agent("a", "pre")])
    one = backend.post_message("s", "c1", "你好", client_id="m-1")
    two = backend.post_message("s", "c1", "你好", client_id="m-1")
    assert two["duplicate"] is True and one["duplicate"] is False
    assert two["message"]["id"] == one["message"]["id"]
    conv = backend.get_conversation(one["conversation"]["id"])
    assert [m["body"] for m in conv["messages"] if m["sender"] == "customer"] == ["你好"]
    backend.post_message("s", "c1", "你好", client_id="m-2")
    conv = backend.get_conversation(one["conversation"]["id"])
    assert len([m for m in conv["messages"] if m["sender"] == "customer"]) == 2


def test_follow_up_messages_join_the_open_conversation(backend):
    mall(backend, agents=[agent("a", "pre")])
    c1 = backend.post_message("s", "c1", "你好")["conversation"]["id"]
    again = backend.post_message("s", "c1", "还在吗")
    assert again["conversation"]["id"] == c1 and again["replies"] == []


def test_what_a_post_returns_is_the_chat_as_stored(backend, clock):
    """A post answers with the conversation without reading it back when it knows it
    (a chat it opened and routed, or a message into a chat already routed): the answer
    must be what a fresh read gives, for every way a post can go."""
    mall(backend, agents=[agent("a", "pre", max_chats=1)], rules=[
        {"key": "kw", "conditions": {"field": "message.text", "op": "contains",
                                     "value": "发货"},
         "target": {"group": "pre"}, "priority": 5}])
    backend.apply({"customers": [{"key": "known", "name": "王丽",
                                  "profiles": [{"shop": "s", "level": 3, "channel": "app"}]}]})
    backend.apply({"shops": [{"key": "b", "name": "萌宝", "service_mode": "bot_first"}],
                   "agents": [{"handle": "bb", "name": "BB", "shops": ["b"],
                               "status": "online"}]})

    def same(result):
        got = dict(result["conversation"])
        fresh = backend.get_conversation(got["id"], messages=False)
        assert got == fresh
        return got

    first = same(backend.post_message("s", "known", "什么时候发货", entry_page="/p/1",
                                      source="search", search_keyword="连衣裙",
                                      time_on_site_s=40, pages_viewed=3))
    assert (first["assignee"], first["customer_name"], first["channel"]) == ("a", "王丽", "app")
    clock.advance(5)
    queued = same(backend.post_message("s", "newbie", "在吗", channel="h5"))
    assert queued["state"] == "queued" and queued["queue_position"] == 1
    assert queued["customer_name"] == "newbie"
    clock.advance(5)
    same(backend.post_message("s", "newbie", "还在吗"))  # into the queued chat
    same(backend.post_message("s", "known", "好的"))  # into the active chat
    same(backend.post_message("b", "known", "转人工"))  # bot-first, asks for a human
    same(backend.post_message("b", "newbie", "你好"))  # bot-first, the bot answers


@pytest.mark.parametrize("text, message", [
    ("", "message is empty"),
    ("   ", "message is empty"),
    ("长" * 2001, "message too long (2001 characters, at most 2000)"),
])
def test_bad_messages_are_refused_and_store_nothing(backend, text, message):
    mall(backend, agents=[agent("a", "pre")])
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        backend.post_message("s", "c1", text)
    assert backend.list_conversations() == []


def test_unknown_shop_and_bad_customer_key(backend):
    mall(backend, agents=[agent("a", "pre")])
    with pytest.raises(NotFound):
        backend.post_message("nope", "c1", "你好")
    with pytest.raises(InvalidInput, match="not a valid customer key"):
        backend.post_message("s", "Bad Key", "你好")


def test_bot_first_with_no_knowledge_hands_off_to_a_human(backend):
    mall(backend, agents=[agent("a", "pre")], mode="bot_first")
    r = backend.post_message("s", "c1", "有优惠吗")
    assert assignee(r) == "a"  # the knowledge bot has nothing to answer from


def test_bot_first_hands_off_through_an_injected_handoff_bot(db_path, clock):
    from cstool.backend.local import LocalBackend
    from cstool.bot.step import HandoffBot

    be = LocalBackend(db_path, clock=clock, bot=HandoffBot())
    try:
        mall(be, agents=[agent("a", "pre")], mode="bot_first")
        be.apply({"knowledge_entries": [{"key": "coupon", "question": "有优惠吗",
                                         "answer": "满200减20"}]})
        assert assignee(be.post_message("s", "c1", "有优惠吗")) == "a"  # the bot step is pluggable
    finally:
        be.close()


def test_off_hours_bot_only_keeps_the_chat_with_the_bot(backend, clock):
    mall(backend, agents=[agent("a", "pre")], mode="human_first", off_hours_mode="bot_only",
         business_hours={d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")})
    clock.set(parse_time("2026-11-20T23:30:00+08:00"))  # Friday night
    r = backend.post_message("s", "c1", "转人工")
    assert r["conversation"]["state"] == "bot"
    assert "机器人服务时段" in r["replies"][0]["body"]
    clock.set(parse_time("2026-11-23T09:30:00+08:00"))  # Monday morning
    assert assignee(backend.post_message("s", "c2", "你好")) == "a"


def test_classification_is_kept_current_when_orders_change(backend):
    mall(backend, agents=[agent("a", "pre")])
    backend.apply({"products": [{"key": "d1", "shop": "s", "title": "裙", "price": 100}]})
    conv = backend.post_message("s", "c1", "这个有货吗")["conversation"]
    assert conv["classification"] == "consulted_not_ordered"
    assert conv["intent"] == "presale"
    backend.create("orders", {"key": "o1", "shop": "s", "customer": "c1", "status": "created",
                              "created_at": T0, "items": [{"product": "d1"}]})
    assert backend.get_conversation(conv["id"])["classification"] == "ordered_not_paid"
    backend.update("orders", "o1", {"status": "paid", "paid_at": T0})
    assert backend.get_conversation(conv["id"])["classification"] == "paid"


# -- agents at work --------------------------------------------------------------------------

def test_reply_transfer_close_rate(backend, clock):
    mall(backend, agents=[agent("a", "pre"), agent("b", "log")])
    cid = backend.post_message("s", "c1", "在吗")["conversation"]["id"]
    with pytest.raises(Conflict, match="not assigned to them"):
        backend.reply("b", cid, "你好")
    backend.reply("a", cid, "亲，在的")
    conv = backend.transfer(cid, by="a", to_group="log", note="问物流，订单 o1")
    assert conv["assignee"] == "b" and conv["group"] == "log"
    notes = [m for m in backend.get_conversation(cid)["messages"] if m["payload"]
             and "transfer" in m["payload"]]
    assert notes[0]["payload"]["transfer"]["note"] == "问物流，订单 o1"
    with pytest.raises(Conflict):
        backend.close_conversation(cid, by="a")
    with pytest.raises(Conflict, match="still open"):
        backend.rate(cid, 5)
    closed = backend.close_conversation(cid, by="b")
    assert closed["state"] == "closed"
    survey = backend.get_conversation(cid)["messages"][-1]
    assert survey["kind"] == "survey"
    with pytest.raises(InvalidInput):
        backend.rate(cid, 6)
    assert backend.rate(cid, 4, "很耐心")["rating"] == 4
    with pytest.raises(Conflict, match="rated already"):
        backend.rate(cid, 5)
    # the closing agent is remembered for the returning-customer rule
    prof = backend.get("customers", "c1")["profiles"][0]
    assert prof["last_agent"] == "b"


def test_transfer_to_a_full_agent_is_refused(backend):
    mall(backend, agents=[agent("a", "pre"), agent("b", "log", max_chats=1)])
    backend.post_message("s", "x", "你好")  # to a (ties by handle)
    backend.post_message("s", "y", "你好")  # to b, now full
    cid = backend.post_message("s", "z", "你好")["conversation"]["id"]
    assert backend.get_conversation(cid)["assignee"] == "a"
    with pytest.raises(Conflict, match="at capacity"):
        backend.transfer(cid, by="a", to_agent="b")
    with pytest.raises(UsageError):
        backend.transfer(cid, by="a")


def test_a_chat_transferred_to_a_group_never_goes_straight_back(backend):
    # a is the only one free in group log: the chat waits for a colleague
    mall(backend, agents=[agent("a", "pre", "log"), agent("b", "log", status="offline")])
    cid = backend.post_message("s", "c1", "在吗")["conversation"]["id"]
    conv = backend.transfer(cid, by="a", to_group="log", note="物流问题")
    assert (conv["state"], conv["assignee"]) == ("queued", None)
    assert backend.set_agent_status("b", "online")["assigned"] == [cid]
    # ... though the one who handed it over may pull it back on purpose
    other = backend.post_message("s", "c2", "在吗")["conversation"]["id"]
    assert backend.get_conversation(other, messages=False)["assignee"] == "a"
    backend.set_agent_status("b", "offline")
    assert backend.transfer(other, by="a", to_group="log")["state"] == "queued"
    assert backend.accept_next("a")["id"] == other


def test_idle_chats_close_themselves(backend, clock):
    mall(backend, agents=[agent("a", "pre")], settings={"idle_close_min": 10})
    cid = backend.post_message("s", "c1", "你好")["conversation"]["id"]
    clock.advance(9 * 60)
    assert backend.close_idle() == []
    clock.advance(60)
    assert backend.close_idle() == [cid]
    assert backend.get_conversation(cid)["close_reason"] == "idle"


def test_route_explain_and_test(backend):
    mall(backend, agents=[agent("a", "pre"), agent("l", "log", status="away")], rules=[
        {"key": "ship", "conditions": {"field": "message.text", "op": "contains_any",
                                       "value": ["发货"]}, "target": {"group": "log"}}])
    cid = backend.post_message("s", "c1", "什么时候发货")["conversation"]["id"]
    d = backend.route_explain(cid)
    assert d["rule"] == "ship" and d["queued"] is True
    assert "passed over: away" in d["explanation"]
    t = backend.route_test("s", "c1", "有M码吗")
    assert t["rule"] == "fallback" and t["agent"] == "a"
    assert "no match" in t["explanation"]
    assert backend.get_conversation(cid)["state"] == "queued"  # the test wrote nothing


def test_explain_reads_the_rules_the_decision_was_made_with(backend):
    # decisions are stored compactly, naming the version of the rules; explain derives
    # every rule's reason again from that version, whatever the rules are now
    mall(backend, agents=[agent("a", "pre"), agent("l", "log")], rules=[
        {"key": "vip", "conditions": {"field": "customer.level", "op": "ge", "value": 4},
         "target": {"group": "log"}},
        {"key": "ship", "conditions": {"field": "message.text", "op": "contains_any",
                                       "value": ["发货", "快递"]}, "target": {"group": "log"}}])
    cid = backend.post_message("s", "c1", "快递到哪了")["conversation"]["id"]
    before = backend.route_explain(cid)
    backend.update("routing_rules", "ship", {"conditions": {"field": "message.text",
                                                            "op": "contains", "value": "退款"}})
    backend.delete("routing_rules", "vip")
    after = backend.route_explain(cid)
    assert after["explanation"] == before["explanation"]
    assert [(s["rule"], s["matched"], s["reason"]) for s in after["trace"]] == [
        ("vip", False, "customer.level = 0, needs >= 4"),
        ("ship", True, "message.text contains 快递 (one of 发货, 快递)")]
    assert after["agent"] == "l" and after["facts"]["message.text"] == "快递到哪了"


def test_bad_rules_are_refused_with_the_field(backend):
    mall(backend, agents=[agent("a", "pre")])
    with pytest.raises(FieldError, match="unknown field 'customer.levl'"):
        backend.create("routing_rules", {"key": "r", "shop": "s", "target": {"shop": True},
                                         "conditions": {"field": "customer.levl", "op": "ge",
                                                        "value": 1}})
    with pytest.raises(FieldError, match="unknown group 'nope'"):
        backend.create("routing_rules", {"key": "r", "shop": "s", "target": {"group": "nope"}})


def test_rule_order_and_move(backend):
    mall(backend, agents=[agent("a", "pre")], rules=[
        {"key": "r1", "target": {"shop": True}}, {"key": "r2", "target": {"shop": True}},
        {"key": "r3", "target": {"shop": True}}])
    assert [r["key"] for r in backend.list("routing_rules", shop="s")] == ["r1", "r2", "r3"]
    backend.move_rule("r3", 1)
    rules = backend.list("routing_rules", shop="s")
    assert [(r["key"], r["position"]) for r in rules] == [("r3", 1), ("r1", 2), ("r2", 3)]


# -- the CLI ---------------------------------------------------------------------------------

def test_conversation_cli(cli):
    for args in (["shop", "create", "s", "--name", "店"],
                 ["group", "create", "log", "--shop", "s", "--name", "物流组"],
                 ["agent", "create", "a", "--name", "小美", "--shop", "s", "--status", "online"],
                 ["agent", "create", "l", "--name", "阿杰", "--shop", "s", "--group", "log"],
                 ["route", "add", "ship", "--shop", "s", "--if",
                  "message.text contains_any 发货,物流", "--to-group", "log"]):
        r = cli(*args)
        assert r.exit_code == 0, (args, r.output)
    first = cli.json("conv", "post", "亲，有M码吗", "--shop", "s", "--customer", "c1",
                     "--client-id", "x1")
    assert first["conversation"]["assignee"] == "a"
    again = cli.json("conv", "post", "亲，有M码吗", "--shop", "s", "--customer", "c1",
                     "--client-id", "x1")
    assert again["duplicate"] is True
    ship = cli.json("conv", "post", "什么时候发货", "--shop", "s", "--customer", "c2")
    assert ship["conversation"]["state"] == "queued"
    assert [c["queue_position"] for c in cli.json("conv", "queue", "--shop", "s")] == [1]
    status = cli.json("agent", "status", "l", "online")
    assert status["assigned"] == [ship["conversation"]["id"]]
    cid = first["conversation"]["id"]
    assert cli.json("conv", "reply", str(cid), "有的亲", "--agent", "a")["body"] == "有的亲"
    assert cli.json("conv", "close", str(cid), "--agent", "a")["state"] == "closed"
    assert cli.json("conv", "rate", str(cid), "5")["rating"] == 5
    shown = cli.json("conv", "show", str(cid))
    assert [m["sender"] for m in shown["messages"]] == ["customer", "system", "agent", "system"]
    r = cli("conv", "rate", str(cid), "5")
    assert r.exit_code == 1 and r.stderr.strip() == f"Error: conversation {cid} is rated already"
    r = cli("conv", "reply", "999", "hi", "--agent", "a")
    assert r.exit_code == 1 and r.stderr.strip() == "Error: no conversation 999"
    r = cli("conv", "post", "x" * 2001, "--shop", "s", "--customer", "c1")
    assert r.exit_code == 1 and "too long" in r.stderr
    explained = cli("route", "explain", str(ship["conversation"]["id"]))
    assert "MATCH: message.text contains 发货" in explained.stdout
    tested = cli("route", "test", "--shop", "s", "--customer", "c1", "--message", "物流到哪了")
    assert tested.exit_code == 0 and "by rule ship" in tested.stdout
    r = cli("agent", "status", "a", "sleeping")
    assert r.exit_code == 2
    assert cli.json("conv", "list", "--state", "active")[0]["assignee"] == "l"
    # a Chinese keyboard's comma separates keywords too
    added = cli.json("route", "add", "refund", "--shop", "s", "--if",
                     "message.text contains_any 退款，退货、换货", "--to-group", "log")
    assert added["conditions"]["all"][0]["value"] == ["退款", "退货", "换货"]
    fields = {f["field"]: f for f in cli.json("route", "fields")}
    assert fields["customer.level"]["operators"][:2] == ["eq", "ne"]
    assert fields["conversation.channel"]["choices"][0] == "app"
    # unknown context is refused by a post and a dry run alike, and nothing is stored
    before = len(cli.json("conv", "list"))
    for args, message in ((["--channel", "tv"], "unknown channel 'tv'"),
                          (["--product", "nosuch"], "no product 'nosuch' in shop 's'"),
                          (["--pages-viewed", "-3"], "pages viewed must be"),
                          (["--intent", "nope"], "unknown intent 'nope'")):
        r = cli("conv", "post", "你好", "--shop", "s", "--customer", "c9", *args)
        assert r.exit_code == 1 and message in r.stderr, r.output
        r = cli("route", "test", "--shop", "s", "--customer", "c1", "--message", "hi", *args)
        assert r.exit_code == 1 and message in r.stderr, r.output
    assert len(cli.json("conv", "list")) == before


def test_supervisors_are_not_routed_to_but_may_pull(backend):
    mall(backend, agents=[agent("boss", "pre", role="supervisor", max_chats=10),
                          agent("a", "pre", max_chats=1)])
    first = backend.post_message("s", "c1", "你好")
    assert assignee(first) == "a"
    second = backend.post_message("s", "c2", "你好")
    assert second["conversation"]["state"] == "queued"
    assert backend.accept_next("boss")["id"] == second["conversation"]["id"]


def test_channel_defaults_to_the_customers_usual_one(backend):
    mall(backend, agents=[agent("a", "pre")])
    backend.apply({"customers": [{"key": "m", "name": "小程序用户",
                                  "profiles": [{"shop": "s", "channel": "mini_program"}]}]})
    assert backend.post_message("s", "m", "你好")["conversation"]["channel"] == "mini_program"


def test_rules_without_positions_applied_again_keep_their_order(backend):
    doc = {"shops": [{"key": "s", "name": "店"}],
           "groups": [{"key": "g", "shop": "s", "name": "组"}],
           "routing_rules": [{"key": k, "shop": "s", "target": {"group": "g"}}
                             for k in ("r1", "r2", "r3")]}
    backend.apply(doc)
    backend.apply({"routing_rules": [{"key": "extra", "shop": "s", "target": {"shop": True}}]})
    again = backend.apply(doc)
    assert {c.action for c in again.changes} == {"unchanged"}
    order = [r["key"] for r in backend.list("routing_rules", shop="s")]
    assert order == ["r1", "r2", "r3", "extra"]


def test_a_chat_the_bot_had_first_routes_on_what_the_customer_said_so_far(backend):
    mall(backend, agents=[agent("a", "pre"), agent("b", "log")], mode="bot_first", rules=[
        {"key": "ship", "target": {"group": "log"},
         "conditions": {"field": "message.text", "op": "contains_any",
                        "value": ["快递", "物流"]}},
        {"key": "rest", "target": {"group": "pre"}}])
    backend.apply({"knowledge_entries": [{"key": "hours", "shop": "s",
                                          "question": "你们几点上班",
                                          "answer": "客服 9:00-24:00 在线"}]})
    first = backend.post_message("s", "c1", "你们几点上班")["conversation"]
    assert first["state"] == "bot"
    conv = backend.post_message("s", "c1", "转人工，我的快递丢了")["conversation"]
    assert (conv["assignee"], conv["rule"]) == ("b", "ship")


def test_route_explain_tells_what_happened_after_the_decision(backend):
    mall(backend, agents=[agent("a", "pre", max_chats=1), agent("b", "log", status="offline")])
    first = backend.post_message("s", "c1", "你好")["conversation"]["id"]
    cid = backend.post_message("s", "c2", "在吗")["conversation"]["id"]
    backend.close_conversation(first, by="a")            # c2 goes to a from the queue
    backend.transfer(cid, by="a", to_group="log", note="问物流")
    backend.set_agent_status("b", "online")
    out = backend.route_explain(cid)
    assert [(h["event"], h.get("agent") or h.get("to"), h.get("how")) for h in out["history"]] == [
        ("queued", None, None), ("assigned", "a", "from_queue"),
        ("transferred", "group log", None), ("queued", None, None),
        ("assigned", "b", "from_queue")]
    assert "transferred by a to group log: 问物流" in out["explanation"]
    assert "assigned to B (b) from the queue" in out["explanation"]


def test_undecodable_text_is_refused_in_one_line(cli):
    # what Python makes of a byte that is not UTF-8 in an argument ($'\xff')
    assert cli("shop", "create", "s", "--name", "店").exit_code == 0
    r = cli("conv", "post", "bad \udcff byte", "--shop", "s", "--customer", "c1")
    assert r.exit_code == 1 and "not valid UTF-8" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("shop", "update", "s", "--name", "坏\udcff")
    assert r.exit_code == 1 and "not valid UTF-8" in r.stderr and len(r.stderr.splitlines()) == 1
    assert cli.json("shop", "show", "s")["name"] == "店"
    assert cli.json("conv", "list") == []


# -- reopening a chat just closed ----------------------------------------------------------------

def test_an_agent_reopens_the_chat_they_just_closed(backend, clock):
    mall(backend, agents=[agent("a", "pre"), agent("b", "pre", status="away")])
    conv = backend.post_message("s", "c1", "有M码吗")["conversation"]["id"]
    with pytest.raises(Conflict, match="is not closed"):
        backend.reopen_conversation(conv, by="a")
    backend.close_conversation(conv, by="a")
    with pytest.raises(Conflict, match="another agent served it last"):
        backend.reopen_conversation(conv, by="b")
    clock.advance(120)
    c = backend.reopen_conversation(conv, by="a")
    assert c["state"] == "active" and c["assignee"] == "a"
    last = backend.get_conversation(conv)["messages"][-1]
    assert last["sender"] == "system" and "重新打开" in last["body"]
    assert backend.events(after=0, limit=1000)[-1]["type"] == "conversation.reopened"
    assert backend.reply("a", conv, "有的亲")["sender"] == "agent"


@pytest.mark.parametrize("how", ["late", "rated", "wrote again"])
def test_reopen_is_refused_late_after_a_rating_or_a_new_chat(backend, clock, how):
    mall(backend, agents=[agent("a", "pre")])
    conv = backend.post_message("s", "c1", "有M码吗")["conversation"]["id"]
    backend.close_conversation(conv, by="a")
    words = {"late": "more than 10 minutes", "rated": "rated already",
             "wrote again": "wrote again since"}[how]
    if how == "late":
        clock.advance(601)
    elif how == "rated":
        backend.rate(conv, 5)
    else:
        backend.post_message("s", "c1", "还有一个问题")
    with pytest.raises(Conflict, match=words):
        backend.reopen_conversation(conv, by="a")
    assert backend.get_conversation(conv)["state"] == "closed"
