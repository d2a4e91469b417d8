"""The pure routing engine: conditions, rules, strategies, queue helpers, explain."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cstool.routing import (
    KNOWN_FIELDS,
    OPERATORS,
    RULE_KIND_EXAMPLES,
    AgentState,
    Decision,
    QueuedChat,
    RoundRobinState,
    RoutingState,
    Rule,
    RuleSet,
    agent_in_pool,
    compile_condition,
    display_width,
    estimate_wait_s,
    evaluate,
    explain,
    pick_for_agent,
    prepare_facts,
    queue_order,
    queue_position,
    route,
    target_key,
    validate_condition,
    validate_rule,
)

ROOT = Path(__file__).resolve().parents[1]
NOW = 1_731_283_200_000  # 2024-11-11 08:00 in China (Monday)
KNOWN_OPS = ", ".join(OPERATORS)


def agent(handle: str, *, status: str = "online", max_chats: int = 5, active: int = 0,
          level: str = "junior", groups: tuple[str, ...] = (), skills: tuple[str, ...] = (),
          idle: int = 0, last: int = 0, name: str = "") -> AgentState:
    return AgentState(handle, status, max_chats, active, level, frozenset(skills),
                      frozenset(groups), last, idle, name)


def kind(number: str) -> dict[str, Any]:
    return next(rule for name, rule in RULE_KIND_EXAMPLES.items() if name.startswith(number))


def leaf(field: str, op: str, value: Any = True) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


# --------------------------------------------------------------------------- the nine kinds

def test_kind1_returning_customer_goes_to_last_agent_within_n_days() -> None:
    rules = [kind("1")]
    state = RoutingState([agent("lina", active=2), agent("wang")])
    facts = {"customer.is_returning": True, "customer.days_since_last_served": 3,
             "customer.last_agent": "lina"}
    d = route(rules, facts, state, NOW)
    assert (d.agent, d.rule, d.pool) == ("lina", "returning-customer", {"agent": "lina"})

    too_old = dict(facts, **{"customer.days_since_last_served": 40})
    d = route(rules, too_old, state, NOW)
    assert (d.agent, d.rule) == ("wang", "fallback")
    assert d.trace[0].reason == "customer.days_since_last_served = 40, needs <= 30"


def test_kind1_last_agent_full_tries_next_rule() -> None:
    state = RoutingState([agent("lina", active=5), agent("wang", active=1)])
    facts = {"customer.is_returning": True, "customer.days_since_last_served": 3,
             "customer.last_agent": "lina"}
    d = route([kind("1")], facts, state, NOW)
    assert (d.agent, d.rule, d.queued) == ("wang", "fallback", False)
    first = d.trace[0]
    assert first.matched and first.outcome == "next"
    assert [(n.handle, n.note) for n in first.agents] == [
        ("lina", "passed over: at capacity 5/5")]


def test_kind2_channel_or_entry_page_to_group() -> None:
    state = RoutingState([agent("p1", groups=("presale",)),
                          agent("s1", groups=("aftersale",), active=3),
                          agent("s2", groups=("aftersale",), active=1)])
    d = route([kind("2")], {"conversation.entry_page": "order_detail"}, state, NOW)
    assert (d.agent, d.rule, d.pool) == ("s2", "order-page-to-aftersale", {"group": "aftersale"})
    d = route([kind("2")], {"conversation.channel": "mini_program"}, state, NOW)
    assert d.agent == "s2"
    d = route([kind("2")], {"conversation.channel": "pc", "conversation.entry_page": "home"},
              state, NOW)
    assert (d.agent, d.rule) == ("p1", "fallback")


def test_kind3_load_is_relative_to_capacity() -> None:
    state = RoutingState([agent("x", active=3, max_chats=5), agent("y", active=1, max_chats=3),
                          agent("z", active=2, max_chats=8)])
    ruleset = RuleSet([kind("3")])
    d = route(ruleset, {}, state, NOW)
    assert (d.agent, d.rule) == ("z", "balance-load")  # 2/8 beats 1/3 and 3/5
    state.assign("z", NOW)  # 3/8 = 0.375 > 1/3
    assert route(ruleset, {}, state, NOW).agent == "y"


def test_kind4_region_to_group() -> None:
    state = RoutingState([agent("e1", groups=("east_china",)),
                          agent("e2", groups=("east_china",)),
                          agent("n1", groups=("north_china",))])
    ruleset, rr = RuleSet([kind("4")]), RoundRobinState()
    got = []
    for region in ("浙江杭州", "江苏苏州", "上海"):
        d = route(ruleset, {"customer.region": region}, state, NOW, rr)
        state.assign(d.agent, NOW)
        got.append((d.agent, d.rule))
    assert got == [("e1", "east-china"), ("e2", "east-china"), ("e1", "east-china")]
    d = route(ruleset, {"customer.region": "北京"}, state, NOW, rr)
    assert (d.agent, d.rule) == ("n1", "fallback")


def test_kind5_keyword_in_message_or_search_term() -> None:
    state = RoutingState([agent("l1", groups=("logistics",), active=2),
                          agent("p1", groups=("presale",))])
    ruleset = RuleSet([kind("5")])
    d = route(ruleset, {"message.text": "我的快递什么时候发货啊"}, state, NOW)
    assert (d.agent, d.rule) == ("l1", "logistics-keywords")
    assert d.trace[0].reason == "message.text contains 发货 (one of 发货, 物流, 快递, 到哪了)"
    d = route(ruleset, {"message.text": "你好", "conversation.search_keyword": "物流查询"},
              state, NOW)
    assert d.agent == "l1"
    d = route(ruleset, {"message.text": "这件有红色吗"}, state, NOW)
    assert (d.agent, d.rule) == ("p1", "fallback")


def test_kind6_behaviour_sets_group_and_priority() -> None:
    state = RoutingState([agent("p1", groups=("presale",), max_chats=2),
                          agent("o1", groups=("other",))])
    ruleset = RuleSet([kind("6")])
    facts = {"conversation.entry_page": "product_detail", "conversation.time_on_site_s": 400,
             "conversation.pages_viewed": 6}
    d = route(ruleset, facts, state, NOW, base_priority=1)
    assert (d.agent, d.rule, d.priority) == ("p1", "hesitant-browser", 6)
    state.assign("p1", NOW)
    state.assign("p1", NOW)
    d = route(ruleset, facts, state, NOW)
    assert (d.agent, d.queued, d.pool, d.priority) == (None, True, {"group": "presale"}, 5)
    short = dict(facts, **{"conversation.time_on_site_s": 20})
    assert route(ruleset, short, state, NOW).agent == "o1"


def test_kind7_reception_level_gets_senior_agents_and_priority() -> None:
    state = RoutingState([agent("j1", level="junior"),
                          agent("s1", level="senior", active=1, idle=NOW - 600_000),
                          agent("e1", level="expert", idle=NOW - 60_000)])
    ruleset = RuleSet([kind("7")])
    d = route(ruleset, {"customer.level": 4}, state, NOW)
    assert (d.agent, d.rule, d.priority) == ("s1", "high-value", 10)  # idle longest
    d = route(ruleset, {"customer.level": 1, "customer.spend": 20000}, state, NOW)
    assert d.agent == "s1"
    d = route(ruleset, {"customer.level": 1, "customer.spend": 100}, state, NOW)
    assert (d.rule, d.priority) == ("fallback", 0)


def test_kind8_dedicated_agent_one_to_one() -> None:
    state = RoutingState([agent("lina", active=4), agent("wang")])
    ruleset = RuleSet([kind("8")])
    vip = {"customer.tags": ["VIP"], "customer.dedicated_agent": "lina"}
    d = route(ruleset, vip, state, NOW)
    assert (d.agent, d.rule, d.priority) == ("lina", "vip-dedicated", 20)
    state.assign("lina", NOW)
    d = route(ruleset, vip, state, NOW)
    assert (d.agent, d.queued, d.pool, d.pool_key, d.priority) == (
        None, True, {"agent": "lina"}, "agent:lina", 20)
    d = route(ruleset, {"customer.tags": ["VIP"]}, state, NOW)
    assert (d.agent, d.rule) == ("wang", "fallback")


def test_kind9_category_intent_tags_to_group_and_skill() -> None:
    state = RoutingState([agent("a1", groups=("aftersale",)),
                          agent("a2", groups=("aftersale",), skills=("appliances",), active=2),
                          agent("a3", groups=("aftersale",), skills=("appliances",), active=1)])
    ruleset = RuleSet([kind("9")])
    facts = {"conversation.intent": "aftersale", "product.category": "家电"}
    d = route(ruleset, facts, state, NOW)
    assert (d.agent, d.rule) == ("a3", "appliance-aftersale")
    d = route(ruleset, dict(facts, **{"customer.last_agent": "a2"}), state, NOW, detail=True)
    assert d.agent == "a2"  # sticky
    notes = {n.handle: n.note for n in d.trace[0].agents}
    assert notes["a1"] == "passed over: lacks skill appliances"
    tagged = {"conversation.intent": "aftersale", "customer.tags": ["家电会员"]}
    assert route(ruleset, tagged, state, NOW).agent == "a3"
    assert route(ruleset, {"conversation.intent": "presale", "product.category": "家电"},
                 state, NOW).rule == "fallback"


def test_all_nine_examples_together_route_in_order() -> None:
    ruleset = RuleSet(RULE_KIND_EXAMPLES.values())
    state = RoutingState([agent("lina", groups=("logistics",)), agent("wang", level="expert")])
    d = route(ruleset, {"customer.tags": ["VIP"], "customer.dedicated_agent": "wang",
                        "message.text": "发货了吗"}, state, NOW)
    assert (d.agent, d.rule) == ("wang", "vip-dedicated")
    d = route(ruleset, {"message.text": "发货了吗"}, state, NOW)
    assert (d.agent, d.rule) == ("lina", "logistics-keywords")


# --------------------------------------------------------------------------- strategies

def test_least_load_ties_go_to_longest_idle_then_handle() -> None:
    ruleset = RuleSet([{"key": "all", "target": {"shop": True}}])
    state = RoutingState([agent("a", active=1, last=1_000), agent("b", active=2, max_chats=10,
                                                                    last=500)])
    assert route(ruleset, {}, state, NOW).agent == "b"  # same 20% load, idle longer
    state = RoutingState([agent("b", idle=100), agent("a", idle=100), agent("c", idle=50)])
    assert route(ruleset, {}, state, NOW).agent == "c"
    state = RoutingState([agent("b", idle=100), agent("a", idle=100)])
    assert route(ruleset, {}, state, NOW).agent == "a"


def test_round_robin_rotates_in_handle_order_and_state_persists() -> None:
    ruleset = RuleSet([{"key": "rr", "target": {"group": "g"}, "strategy": "round_robin"}])
    state = RoutingState([agent(h, groups=("g",), max_chats=10) for h in ("c", "a", "b")])
    rr = RoundRobinState()
    got = []
    for _ in range(4):
        d = route(ruleset, {}, state, NOW, rr)
        state.assign(d.agent, NOW)
        got.append(d.agent)
    assert got == ["a", "b", "c", "a"]
    saved = rr.to_dict()
    assert saved == {"last": {"group=g": "a"}}
    state.set_status("b", "away", NOW)
    restored = RoundRobinState.from_dict(saved)
    assert route(ruleset, {}, state, NOW, restored).agent == "c"  # b skipped
    dry = restored.copy()
    route(ruleset, {}, state, NOW, dry)
    assert restored.to_dict() == {"last": {"group=g": "c"}}


def test_longest_idle_picks_earliest_idle_since() -> None:
    ruleset = RuleSet([{"key": "li", "target": {"shop": True}, "strategy": "longest_idle"}])
    state = RoutingState([agent("a", idle=3_000), agent("c", idle=1_000),
                          agent("b", idle=1_000)])
    d = route(ruleset, {}, state, NOW)
    assert d.agent == "b"
    state.assign("b", NOW)
    assert route(ruleset, {}, state, NOW).agent == "c"
    state.assign("c", NOW)
    assert route(ruleset, {}, state, NOW).agent == "a"


def test_sticky_prefers_last_agent_in_pool_else_least_load() -> None:
    ruleset = RuleSet([{"key": "s", "target": {"group": "g"}, "strategy": "sticky"}])
    state = RoutingState([agent("a", groups=("g",), active=3), agent("b", groups=("g",)),
                          agent("x", active=0)])
    assert route(ruleset, {"customer.last_agent": "a"}, state, NOW).agent == "a"
    assert route(ruleset, {"customer.last_agent": "x"}, state, NOW).agent == "b"  # not in pool
    state.set_status("a", "busy", NOW)
    assert route(ruleset, {"customer.last_agent": "a"}, state, NOW).agent == "b"


# --------------------------------------------------------------------------- availability

def test_away_offline_busy_and_full_agents_are_never_chosen() -> None:
    ruleset = RuleSet([{"key": "all", "target": {"shop": True}}])
    state = RoutingState([agent("away", status="away"), agent("off", status="offline"),
                          agent("busy", status="busy"), agent("full", max_chats=2, active=2),
                          agent("ok", active=4)])
    d = route(ruleset, {}, state, NOW, detail=True)
    assert d.agent == "ok"
    notes = {n.handle: n.note for n in d.trace[0].agents}
    assert notes == {"ok": "chosen: lowest load 4/5", "away": "passed over: away",
                     "off": "passed over: offline",
                     "busy": "passed over: busy (takes no new chats)",
                     "full": "passed over: at capacity 2/2"}
    state.assign("ok", NOW)
    d = route(ruleset, {}, state, NOW)
    assert (d.agent, d.queued, d.rule) == (None, True, "all")
    with pytest.raises(ValueError, match="at capacity 5/5"):
        state.assign("ok", NOW)
    state.set_status("away", "online", NOW + 5)
    assert route(ruleset, {}, state, NOW).agent == "away"
    assert state.agent("away").idle_since_ms == NOW + 5


def _reference(rules: list[Rule], facts: dict[str, Any], agents: list[AgentState],
               rr: dict[str, str]) -> tuple[str | None, str, bool]:
    """The documented semantics, written as plainly as possible."""
    f = prepare_facts(facts, NOW)
    dyn = {"$last_agent": "customer.last_agent", "$dedicated_agent": "customer.dedicated_agent"}

    def pick(pool: list[AgentState], strategy: str, key: str) -> str | None:
        free = sorted((a for a in pool if a.status == "online" and a.active < a.max_chats),
                      key=lambda a: a.handle)
        if not free:
            return None
        if strategy == "round_robin":
            after = [a.handle for a in free if key not in rr or a.handle > rr[key]]
            rr[key] = after[0] if after else free[0].handle
            return rr[key]
        if strategy == "sticky" and f.get("customer.last_agent") in [a.handle for a in free]:
            return f["customer.last_agent"]
        if strategy == "longest_idle":
            return min(free, key=lambda a: max(a.idle_since_ms, a.last_assigned_ms)).handle
        return min(free, key=lambda a: (a.active / a.max_chats,
                                        max(a.idle_since_ms, a.last_assigned_ms))).handle

    for rule in rules:
        if not rule.enabled or not evaluate(rule.conditions, f)[0]:
            continue
        target = dict(rule.target)
        if target.get("agent") in dyn:
            if not f.get(dyn[target["agent"]]):
                continue
            target = {"agent": f[dyn[target["agent"]]]}
        pool = [a for a in agents if agent_in_pool(a, target)]
        if not pool:
            continue
        chosen = pick(pool, "least_load" if "agent" in target else rule.strategy,
                      target_key(target))
        if chosen or rule.when_unavailable == "queue":
            return chosen, rule.key, chosen is None
    chosen = pick(agents, "least_load", "shop")
    return chosen, "fallback", chosen is None


def test_random_routing_matches_reference_and_never_exceeds_capacity() -> None:
    rnd = random.Random(20241111)
    groups, skills = ["g1", "g2", "g3"], ["s1", "s2"]
    agents = [agent(f"a{i:02d}", status=rnd.choice(["online"] * 4 + ["away", "busy", "offline"]),
                    max_chats=rnd.randint(1, 4), level=rnd.choice(["junior", "senior", "expert"]),
                    groups=tuple(rnd.sample(groups, rnd.randint(0, 2))),
                    skills=tuple(rnd.sample(skills, rnd.randint(0, 2))), idle=rnd.randint(0, 99))
              for i in range(24)]
    specs = [  # (target, condition, strategy, when_unavailable)
        ({"agent": "$dedicated_agent"}, leaf("customer.tags", "contains", "VIP"), "least_load",
         "queue"),
        ({"agent": "$last_agent"}, leaf("customer.level", "ge", 4), "least_load", "next"),
        ({"group": "nobody"}, {}, "least_load", "queue"),
        ({"group": "g1"}, leaf("message.text", "contains_any", ["发货", "退款"]), "round_robin",
         "next"),
        ({"group": "g2", "skill": "s1"}, leaf("conversation.channel", "in", ["app", "h5"]),
         "sticky", "next"),
        ({"group": "g2"}, leaf("customer.level", "in", [0, 1]), "sticky", "next"),
        ({"skill": "s2"}, leaf("customer.level", "ge", 2), "longest_idle", "next"),
        ({"level": ["senior", "expert"]}, {}, "round_robin", "next"),
        ({"group": "g3", "level": "expert"}, leaf("customer.tags", "contains", "VIP"),
         "least_load", "queue"),
        ({"group": "g1"}, leaf("customer.level", "le", 2), "longest_idle", "next"),
        ({"group": "g3"}, leaf("conversation.channel", "eq", "pc"), "least_load", "queue"),
    ]
    rules = [Rule.from_dict({"key": f"r{i}", "target": target, "conditions": cond,
                             "strategy": strategy, "when_unavailable": when})
             for i, (target, cond, strategy, when) in enumerate(specs)]
    rules.append(Rule.from_dict({"key": "off", "target": {"shop": True}, "enabled": False}))
    used: dict[str, int] = {}
    handles = [a.handle for a in agents]
    state, ref_agents = RoutingState(agents), [a.copy() for a in agents]
    by_handle = {a.handle: a for a in ref_agents}
    rr, ref_rr = RoundRobinState(), {}
    ruleset = RuleSet(rules)
    open_chats: list[str] = []
    assigned = 0
    for step in range(3000):
        facts = {"customer.level": rnd.randint(0, 5),
                 "message.text": rnd.choice(["我要退款", "什么时候发货", "你好"]),
                 "conversation.channel": rnd.choice(["app", "h5", "pc"]),
                 "customer.tags": rnd.choice([[], ["VIP"]]),
                 "customer.last_agent": rnd.choice([None, "zz"] + handles),
                 "customer.dedicated_agent": rnd.choice([None, "a05", "a11"])}
        d = route(ruleset, facts, state, NOW + step, rr)
        assert (d.agent, d.rule, d.queued) == _reference(rules, facts, ref_agents, ref_rr)
        if d.agent:
            if "agent" not in d.pool:
                used[d.strategy] = used.get(d.strategy, 0) + 1
            picked = state.agent(d.agent)
            assert picked.status == "online" and picked.active < picked.max_chats
            state.assign(d.agent, NOW + step)
            ref = by_handle[d.agent]
            ref.active, ref.last_assigned_ms = ref.active + 1, NOW + step
            open_chats.append(d.agent)
            assigned += 1
        roll = rnd.random()
        if open_chats and roll < 0.5:
            handle = open_chats.pop(rnd.randrange(len(open_chats)))
            state.release(handle, NOW + step)
            ref = by_handle[handle]
            ref.active -= 1
            if ref.active == 0:
                ref.idle_since_ms = NOW + step
        elif roll < 0.55:
            handle = rnd.choice(agents).handle
            status = rnd.choice(["online", "online", "away", "busy", "offline"])
            ref = by_handle[handle]
            if ref.status != status:
                if status == "online" and ref.active == 0:
                    ref.idle_since_ms = NOW + step
                ref.status = status
            state.set_status(handle, status, NOW + step)
        for a in state.agents():
            assert 0 <= a.active <= a.max_chats
    assert assigned > 1000
    assert min(used.get(s, 0) for s in ("least_load", "round_robin", "longest_idle",
                                         "sticky")) > 50, used


def test_upsert_and_remove_agents_update_pools() -> None:
    ruleset = RuleSet([{"key": "g", "target": {"group": "vip"}}])
    state = RoutingState([agent("a", groups=("vip",), active=2), agent("b")])
    state.prepare(ruleset.static_pools())
    assert route(ruleset, {}, state, NOW).agent == "a"
    state.upsert_agent(agent("b", groups=("vip",)))
    assert route(ruleset, {}, state, NOW).agent == "b"
    state.remove_agent("b")
    assert route(ruleset, {}, state, NOW).agent == "a"
    state.upsert_agent(agent("b", groups=("vip",), status="away"))
    state.assign("a", NOW)
    state.assign("a", NOW)
    state.assign("a", NOW)
    assert route(ruleset, {}, state, NOW).queued  # the re-added b is away: no stale entry


# --------------------------------------------------------------------------- when unavailable

def test_when_unavailable_next_versus_queue() -> None:
    state = RoutingState([agent("v1", groups=("vip",), max_chats=1, active=1),
                          agent("l1", groups=("logistics",))])
    rules = [{"key": "vip", "target": {"group": "vip"}, "priority": 7,
              "when_unavailable": "next"},
             {"key": "logistics", "target": {"group": "logistics"}}]
    d = route(rules, {}, state, NOW)
    assert (d.agent, d.rule, d.priority) == ("l1", "logistics", 0)
    assert [s.outcome for s in d.trace] == ["next", "assigned"]
    rules[0]["when_unavailable"] = "queue"
    d = route(rules, {}, state, NOW)
    assert (d.agent, d.rule, d.queued, d.pool, d.priority) == (
        None, "vip", True, {"group": "vip"}, 7)


def test_missing_dedicated_agent_or_empty_pool_never_queues() -> None:
    state = RoutingState([agent("a")])
    rules = [{"key": "mine", "target": {"agent": "$dedicated_agent"}},
             {"key": "ghost", "target": {"group": "nobody"}},
             {"key": "gone", "target": {"agent": "$last_agent"}}]
    d = route(rules, {"customer.last_agent": "left-the-shop"}, state, NOW)
    assert (d.agent, d.rule) == ("a", "fallback")
    assert [(s.rule, s.outcome, s.outcome_text) for s in d.trace[:3]] == [
        ("mine", "skipped", "the customer has no dedicated agent; trying the next rule"),
        ("ghost", "skipped", "no agent of the shop is in group nobody; trying the next rule"),
        ("gone", "skipped",
         "their last agent left-the-shop is not an agent here; trying the next rule")]


def test_no_agents_at_all_queues_in_the_shop_pool() -> None:
    d = route([], {}, [], NOW)
    assert (d.agent, d.rule, d.queued, d.pool) == (None, "fallback", True, {"shop": True})


# --------------------------------------------------------------------------- queue helpers

def test_queue_order_position_and_pick_for_agent() -> None:
    items = [QueuedChat("c1", 0, 1_000, {"shop": True}),
             QueuedChat("c2", 5, 3_000, {"group": "vip"}),
             QueuedChat("c3", 5, 2_000, {"group": "logistics"}),
             QueuedChat("c4", 0, 500, {"agent": "lina"})]
    assert [i.id for i in queue_order(items)] == ["c3", "c2", "c4", "c1"]
    assert [queue_position(items, c) for c in ("c3", "c2", "c4", "c1", "c9")] == [
        1, 2, 3, 4, None]
    assert pick_for_agent(agent("lina", groups=("logistics", "vip")), items).id == "c3"
    assert pick_for_agent(agent("lina", groups=("vip",)), items).id == "c2"
    assert pick_for_agent(agent("lina"), items).id == "c4"
    assert pick_for_agent(agent("wang"), items).id == "c1"
    assert pick_for_agent(agent("lina", status="away"), items) is None
    assert pick_for_agent(agent("lina", active=5), items) is None
    assert pick_for_agent(agent("wang"), [items[1]]) is None
    as_dicts = [{"id": i.id, "priority": i.priority, "arrival_ms": i.arrival_ms, "pool": i.pool}
                for i in items]
    assert pick_for_agent({"handle": "x", "status": "online", "groups": ["vip"]},
                          as_dicts)["id"] == "c2"


def test_queued_decision_is_picked_up_by_an_agent_of_its_pool() -> None:
    state = RoutingState([agent("v1", groups=("vip",), max_chats=1, active=1),
                          agent("o1")])
    d = route([{"key": "vip", "target": {"group": "vip"}}], {}, state, NOW)
    waiting = [QueuedChat("c1", d.priority, NOW, d.pool)]
    assert pick_for_agent(state.agent("o1"), waiting) is None
    state.release("v1", NOW + 10)
    assert pick_for_agent(state.agent("v1"), waiting).id == "c1"


def test_estimate_wait() -> None:
    assert estimate_wait_s(3, 10, 300) == 90
    assert estimate_wait_s(1, 3, 100) == 34  # rounded up
    assert estimate_wait_s(0, 3, 100) == 0
    assert estimate_wait_s(2, 0, 100) is None


# --------------------------------------------------------------------------- conditions

def test_chinese_keywords_match_without_spaces() -> None:
    cond = leaf("message.text", "contains_any", ["发货", "物流"])
    assert evaluate(cond, {"message.text": "我的快递什么时候发货啊"}) == (
        True, "message.text contains 发货 (one of 发货, 物流)")
    assert evaluate(cond, {"message.text": "这件衣服有红色吗"}) == (
        False, "message.text contains none of 发货, 物流")
    assert evaluate(leaf("message.text", "contains", "Refund"), {"message.text": "need REFUND"})[0]


@pytest.mark.parametrize(("cond", "facts", "expected"), [
    (leaf("customer.level", "ge", 3), {"customer.level": 1},
     (False, "customer.level = 1, needs >= 3")),
    (leaf("customer.level", "ge", 3), {"customer.level": 4},
     (True, "customer.level = 4, is >= 3")),
    (leaf("customer.days_since_last_served", "le", 30), {},
     (False, "customer.days_since_last_served is not set, needs <= 30")),
    (leaf("customer.region", "in", ["浙江杭州", "上海"]), {"customer.region": "北京"},
     (False, "customer.region = 北京, needs one of 浙江杭州, 上海")),
    (leaf("customer.tags", "contains", "VIP"), {"customer.tags": ["新客"]},
     (False, "customer.tags (新客) lacks VIP")),
    (leaf("customer.tags", "contains", "VIP"), {"customer.tags": ["vip"]},
     (True, "customer.tags has VIP")),
    (leaf("customer.tags", "contains_any", ["Student", "学生"]), {"customer.tags": ["student"]},
     (True, "customer.tags has Student (one of Student, 学生)")),
    (leaf("customer.last_agent", "exists"), {"customer.last_agent": ""},
     (False, "customer.last_agent is not set")),
    (leaf("conversation.intent", "eq", None), {}, (True, "conversation.intent is not set")),
    ({"not": leaf("customer.tags", "contains", "高风险")}, {"customer.tags": ["高风险"]},
     (False, "excluded because customer.tags has 高风险")),
    ({"any": [leaf("customer.level", "ge", 4), leaf("customer.spend", "ge", 10000)]},
     {"customer.level": 1, "customer.spend": 50},
     (False, "none of: (customer.level = 1, needs >= 4); (customer.spend = 50, needs >= 10000)")),
    ({"all": [leaf("conversation.channel", "eq", "app"), leaf("time.hour", "lt", 9)]},
     {"conversation.channel": "app", "time.hour": 8},
     (True, "conversation.channel = app; time.hour = 8, is < 9")),
    (leaf("customer.level", "gt", 2), {"customer.level": "3"},
     (False, "customer.level = '3' is not a number, needs > 2")),
    ({}, {}, (True, "no conditions (matches everything)")),
])
def test_evaluate_reasons(cond: dict[str, Any], facts: dict[str, Any],
                          expected: tuple[bool, str]) -> None:
    validate_condition(cond)
    assert evaluate(cond, facts) == expected
    assert compile_condition(cond)(facts) is expected[0]


@pytest.mark.parametrize(("cond", "message"), [
    ({"all": [leaf("customer.level", "ge", 3), leaf("customer.spend", "gt", 100),
              {"field": "customer.level", "op": "gte", "value": 3}]},
     f"conditions.all[2].op: unknown operator 'gte' (known: {KNOWN_OPS})"),
    (leaf("customer.lvl", "ge", 3),
     "conditions.field: unknown field 'customer.lvl' (did you mean customer.level?)"),
    (leaf("customer.tags", "gt", 1),
     "conditions.op: operator 'gt' does not apply to customer.tags (list); "
     "use one of contains, contains_any, exists"),
    (leaf("customer.level", "ge", 7), "conditions.value: 7 is out of range for customer.level "
                                      "(0..5)"),
    (leaf("customer.level", "ge", "3"),
     "conditions.value: customer.level is a whole number, got '3'"),
    (leaf("conversation.channel", "eq", "wechat"),
     "conditions.value: 'wechat' is not a valid conversation.channel "
     "(one of app, mini_program, h5, pc, web)"),
    (leaf("message.text", "contains_any", "发货"),
     "conditions.value: contains_any needs a non-empty list of keywords, got a string ('发货')"),
    ({"any": []}, "conditions.any: must not be empty (an empty 'any' never matches)"),
    ({"not": {"any": [leaf("x.y", "eq", 1)]}},
     "conditions.not.any[0].field: unknown field 'x.y' (see the list of known fields)"),
    ({"field": "customer.level", "op": "ge", "vlaue": 3},
     "conditions: unknown key 'vlaue' (a condition has field/op/value, or all/any/not)"),
    ({"all": [], "field": "customer.level"},
     "conditions: use exactly one of all/any/not or field/op/value, got keys all, field"),
    (leaf("customer.level", "in", []), "conditions.value: in needs a non-empty list, "
                                       "got a list"),
])
def test_condition_validation_messages(cond: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_condition(cond)
    assert str(info.value) == message


def test_a_list_of_conditions_means_all() -> None:
    cond = [leaf("customer.level", "ge", 3), leaf("message.text", "contains", "发票")]
    assert evaluate(cond, {"customer.level": 4, "message.text": "要开发票"}) == (
        True, "customer.level = 4, is >= 3; message.text contains 发票")
    assert evaluate(cond, {"customer.level": 4, "message.text": "你好"}) == (
        False, "message.text does not contain 发票")
    rule = Rule.from_dict({"key": "r", "target": {"shop": True}, "conditions": cond})
    assert rule.conditions == {"all": cond}
    with pytest.raises(ValueError) as info:
        validate_condition([cond[0], {"field": "customer.level", "op": "gte", "value": 3}])
    assert str(info.value) == f"conditions[1].op: unknown operator 'gte' (known: {KNOWN_OPS})"


def test_bad_regex_is_reported() -> None:
    with pytest.raises(ValueError, match=r"^conditions\.value: bad regular expression '\(':"):
        validate_condition(leaf("message.text", "matches", "("))


def test_known_fields_cover_the_brief() -> None:
    wanted = {"customer.level", "customer.tags", "customer.region", "customer.channel",
              "customer.is_returning", "customer.last_agent", "customer.days_since_last_served",
              "customer.dedicated_agent", "customer.spend", "customer.order_count",
              "conversation.channel", "conversation.entry_page", "conversation.source",
              "conversation.search_keyword", "conversation.time_on_site_s",
              "conversation.pages_viewed", "conversation.intent", "conversation.classification",
              "message.text", "order.latest_status", "product.category", "time.hour",
              "time.weekday"}
    assert wanted <= set(KNOWN_FIELDS)
    assert KNOWN_FIELDS["conversation.channel"].choices == ("app", "mini_program", "h5", "pc",
                                                            "web")


def test_facts_nested_form_and_time_fields() -> None:
    f = prepare_facts({"customer": {"level": 3}, "message.text": "hi"}, NOW)
    assert f == {"customer.level": 3, "message.text": "hi", "time.hour": 8, "time.weekday": 1}
    assert prepare_facts({"time.hour": 23}, NOW)["time.hour"] == 23
    night = {"key": "night", "target": {"group": "night"},
             "conditions": leaf("time.hour", "in", [22, 23, 0, 1])}
    state = RoutingState([agent("n", groups=("night",)), agent("d", active=1)])
    assert route([night], {}, state, NOW - 9 * 3_600_000).rule == "night"  # 23:00
    assert route([night], {}, state, NOW).rule == "fallback"  # 08:00


def _random_leaf(rnd: random.Random) -> dict[str, Any]:
    return rnd.choice([
        leaf("customer.level", rnd.choice(["eq", "ne", "gt", "ge", "lt", "le"]),
             rnd.randint(0, 5)),
        leaf("customer.level", rnd.choice(["in", "not_in"]), rnd.sample(range(6), 2)),
        leaf("customer.tags", rnd.choice(["contains"]), rnd.choice(["VIP", "新客"])),
        leaf("customer.tags", "contains_any", ["VIP", "高风险"]),
        leaf("message.text", "contains_any", rnd.sample(["发货", "退款", "hello", "红色"], 2)),
        leaf("message.text", "matches", "^我"),
        leaf("conversation.channel", rnd.choice(["eq", "ne"]), rnd.choice(["app", "pc"])),
        leaf("customer.last_agent", "exists", rnd.random() < 0.7),
        leaf("customer.is_returning", "eq", True),
        leaf("product.category", "eq", rnd.choice(["家电", "女装"])),
        leaf("conversation.intent", "eq", rnd.choice([None, "presale"])),
    ])


def _random_condition(rnd: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rnd.random()
    if depth > 2 or roll < 0.4:
        return _random_leaf(rnd)
    if roll < 0.65:
        return {"all": [_random_condition(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]}
    if roll < 0.9:
        return {"any": [_random_condition(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]}
    return {"not": _random_condition(rnd, depth + 1)}


def _random_facts(rnd: random.Random) -> dict[str, Any]:
    return {"customer.level": rnd.choice([0, 3, 5, None, "3", 4.0]),
            "customer.tags": rnd.choice([[], ["VIP"], ["新客", "高风险"], None, "VIP"]),
            "message.text": rnd.choice(["我要退款", "什么时候发货", "HELLO there", None, "", 7]),
            "conversation.channel": rnd.choice(["app", "pc", None]),
            "customer.last_agent": rnd.choice(["a1", "", None]),
            "customer.is_returning": rnd.choice([True, False, 1, None]),
            "product.category": rnd.choice(["家电", "女装", None, ["家电"]]),
            "conversation.intent": rnd.choice([None, "presale", "aftersale"])}


def test_compiled_conditions_and_rule_index_agree_with_evaluate() -> None:
    rnd = random.Random(5)
    conditions = [_random_condition(rnd) for _ in range(300)]
    for cond in conditions:
        validate_condition(cond)
    compiled = [compile_condition(c) for c in conditions]
    ruleset = RuleSet([{"key": f"r{i}", "conditions": c, "target": {"shop": True}}
                       for i, c in enumerate(conditions)])
    for _ in range(300):
        facts = _random_facts(rnd)
        truth = [evaluate(c, facts)[0] for c in conditions]
        assert [p(facts) for p in compiled] == truth
        matching = [i for i, ok in enumerate(truth) if ok]
        assert set(matching) <= set(ruleset.candidates(facts))
        assert ruleset.candidates(facts) == sorted(ruleset.candidates(facts))


# --------------------------------------------------------------------------- rules

@pytest.mark.parametrize(("rule", "message"), [
    ({"key": "vip", "target": {"group": "vip"}, "strategy": "fastest"},
     "rule 'vip': strategy: unknown strategy 'fastest' "
     "(one of least_load, round_robin, longest_idle, sticky)"),
    ({"key": "vip", "target": {"groop": "vip"}},
     "rule 'vip': target: unknown key 'groop' (use agent, group, skill, level or shop)"),
    ({"key": "vip", "target": {"agent": "$owner"}},
     "rule 'vip': target.agent: unknown placeholder '$owner' (use $last_agent or "
     "$dedicated_agent)"),
    ({"key": "vip", "target": {"level": ["senior", "master"]}},
     "rule 'vip': target.level[1]: unknown agent level 'master' (one of junior, senior, expert)"),
    ({"key": "vip", "target": {"agent": "lina", "group": "vip"}},
     "rule 'vip': target: agent cannot be combined with group"),
    ({"key": "vip", "target": {"shop": "yes"}},
     "rule 'vip': target.shop: must be true (every agent of the shop)"),
    ({"key": "vip"},
     "rule 'vip': target: required, e.g. {group: logistics} or {agent: $last_agent}"),
    ({"key": "vip", "target": {"shop": True}, "when_unavailable": "wait"},
     "rule 'vip': when_unavailable: must be queue or next, got 'wait'"),
    ({"key": "vip", "target": {"shop": True}, "priority": "high"},
     "rule 'vip': priority: must be a whole number, got 'high'"),
    ({"key": "vip", "target": {"shop": True}, "stratgy": "sticky"},
     "rule 'vip': unknown field 'stratgy' (rule fields: key, name, conditions, target, "
     "strategy, priority, when_unavailable, enabled, description)"),
    ({"key": "vip", "target": {"shop": True},
      "conditions": {"all": [{}, {}, {"field": "customer.level", "op": "gte", "value": 3}]}},
     "rule 'vip': conditions.all[0]: must be a non-empty condition"),
    ({"key": "vip", "target": {"shop": True},
      "conditions": {"all": [leaf("customer.level", "ge", 1), leaf("customer.level", "le", 4),
                             {"field": "customer.level", "op": "gte", "value": 3}]}},
     f"rule 'vip': conditions.all[2].op: unknown operator 'gte' (known: {KNOWN_OPS})"),
    ({"target": {"shop": True}}, "rule: key: required (a short slug such as vip-dedicated)"),
    ({"key": "fallback", "target": {"shop": True}},
     "rule 'fallback': key: 'fallback' is reserved for the implicit last rule"),
])
def test_rule_validation_messages(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_rule(rule)
    assert str(info.value) == message


def test_rule_defaults_duplicates_and_examples() -> None:
    rule = Rule.from_dict({"key": "r", "target": {"group": "g"}})
    assert (rule.strategy, rule.priority, rule.when_unavailable, rule.enabled) == (
        "least_load", 0, "queue", True)
    assert Rule.from_dict(rule.to_dict()) == rule
    with pytest.raises(ValueError, match=r"^rules\[1\]: rule 'r': key: duplicate key$"):
        RuleSet([rule, rule.to_dict()])
    assert len(RULE_KIND_EXAMPLES) == 9
    for example in RULE_KIND_EXAMPLES.values():
        validate_rule(example)


def test_disabled_rules_are_skipped() -> None:
    state = RoutingState([agent("g1", groups=("g",), active=1), agent("o")])
    rules = [{"key": "off", "target": {"group": "g"}, "enabled": False}]
    d = route(rules, {}, state, NOW)
    assert (d.agent, d.rule) == ("o", "fallback")
    assert (d.trace[0].matched, d.trace[0].reason) == (False, "disabled")


# --------------------------------------------------------------------------- explain

def test_explain_says_why_each_earlier_rule_did_not_match() -> None:
    rules = [{"key": "high-level", "name": "高等级客户", "target": {"group": "vip"},
              "conditions": leaf("customer.level", "ge", 3)},
             {"key": "logistics", "target": {"group": "logistics"},
              "conditions": leaf("message.text", "contains_any", ["发货", "物流"])},
             {"key": "presale", "target": {"group": "presale"},
              "conditions": leaf("conversation.intent", "eq", "presale")}]
    state = RoutingState([agent("zsf", name="张三丰", groups=("presale",), active=1),
                          agent("li", name="Li", groups=("presale",), active=3),
                          agent("wu", name="吴", groups=("presale",), status="away"),
                          agent("vip1", groups=("vip",))])
    facts = {"customer.level": 1, "message.text": "这件衣服有红色吗",
             "conversation.intent": "presale"}
    d = route(rules, facts, state, NOW, detail=True)
    assert (d.agent, d.rule) == ("zsf", "presale")
    text = explain(d)
    assert text.splitlines()[0] == "Assigned to 张三丰 (zsf) by rule presale"
    assert "1. high-level  高等级客户\n       no match: customer.level = 1, needs >= 3" in text
    assert "2. logistics\n       no match: message.text contains none of 发货, 物流" in text
    assert "3. presale\n       MATCH: conversation.intent = presale" in text
    assert "passed over: load 3/5, chosen agent has 1/5" in text
    assert "passed over: away" in text
    assert "passed over: not in group presale" in text
    rows = [line for line in text.splitlines() if re.match(r"^ {9}[*-] ", line)]
    assert len(rows) == 4
    # Status column starts at the same terminal column whatever the name's width.
    starts = {display_width(row[: row.index(s)])
              for row in rows for s in (" online", " away") if s in row}
    assert len(starts) == 1
    assert explain(Decision.from_dict(d.to_dict())) == text
    assert explain(d.to_dict()) == text


def test_explain_queued_decision() -> None:
    state = RoutingState([agent("v1", groups=("vip",), max_chats=1, active=1, name="小王")])
    d = route([{"key": "vip", "target": {"group": "vip"}, "priority": 3}], {}, state, NOW)
    text = explain(d)
    assert text.splitlines()[0] == "Queued for group vip by rule vip"
    assert "queue priority 3" in text
    assert "- 小王 (v1)  online  1/1  passed over: at capacity 1/1" in text
    assert "the chat waits in the queue for this pool" in text


def test_large_pool_trace_stays_short_without_detail() -> None:
    state = RoutingState([agent(f"a{i:03d}", active=i % 3) for i in range(100)])
    d = route([], {}, state, NOW)
    step = d.trace[-1]
    assert [n.handle for n in step.agents] == ["a000"]
    assert step.agents_summary.startswith("100 agents in the pool")
    d = route([], {}, state, NOW, detail=True, detail_limit=5)
    step = d.trace[-1]
    assert len(step.agents) == 5
    assert step.agents_summary == "95 more: 95 available but ranked lower"


# --------------------------------------------------------------------------- benchmark

def test_benchmark_quick_runs_and_prints_its_figures() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_routing.py"),
                             "--quick"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for figure in ("engine decisions/s (route calls): ", "engine latency p50: ",
                   "engine latency p99: ", "naive decisions/s", "speed ratio engine/naive: "):
        assert figure in out
    assert re.search(r"engine decisions/s \(route calls\): [\d,]+\n", out)
    assert re.search(r"agreement engine vs naive: (\d+)/\1 identical decisions", out)
    assert re.search(r"\(b\) post to assignment, Local backend: [\d,]+ messages/s", out)
    assert re.search(r"\(b\) raw sqlite3 insert, one per commit: [\d,]+ messages/s", out)
    assert re.search(r"\(b\) ratio \(ours/raw\): \d+\.\d\d", out)
