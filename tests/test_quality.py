"""Issue 22 items 6-8 through the CLI: satisfaction split by intent, group kind and
product category; 质检 of a day of chats (hand-checked findings), the review queue and
verdicts, `metrics qa`; the agent radar (`metrics agent --radar`); the rules in
apply/export."""

from __future__ import annotations

import json

import pytest

from cstool.backend.local import LocalBackend

from .conftest import Cli


@pytest.fixture
def desk(db_path, clock, monkeypatch):
    """A Local backend with the frozen clock and the CLI on its file."""
    monkeypatch.setenv("CSTOOL_NOW", "2026-11-20T10:00:00+08:00")
    be = LocalBackend(db_path, clock=clock)
    yield be, Cli(db_path)
    be.close()


def mall(be, **qa):
    """Shop s: a pre-sale group and an after-sale group, agents a and b (busy: they take
    chats by hand), supervisor boss, two products of two categories, three customers."""
    be.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_only",
                   "settings": {"qa": qa} if qa else {}}],
        "groups": [{"key": "pre", "shop": "s", "name": "售前组", "kind": "presale"},
                   {"key": "after", "shop": "s", "name": "售后组", "kind": "aftersale"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "groups": ["pre", "after"],
                    "status": "busy", "max_chats": 5},
                   {"handle": "b", "name": "小王", "shops": ["s"], "groups": ["pre", "after"],
                    "status": "busy", "max_chats": 5},
                   {"handle": "boss", "name": "主管", "role": "supervisor", "shops": ["s"],
                    "status": "busy"}],
        "products": [{"key": "dress", "shop": "s", "title": "法式碎花连衣裙",
                      "category": "连衣裙", "price": 299, "stock": 9},
                     {"key": "shoe", "shop": "s", "title": "小白鞋", "category": "鞋",
                      "price": 199, "stock": 9}],
        "customers": [{"key": k, "name": k} for k in ("c1", "c2", "c3", "c4")],
        "routing_rules": [
            {"key": f"to-{g}", "shop": "s", "name": g, "target": {"group": g},
             "conditions": {"all": [{"field": "conversation.intent", "op": "eq",
                                     "value": intent}]}}
            for g, intent in (("after", "aftersale"), ("pre", "presale"))],
    })


def served(be, clock, agent, customer, turns, *, product=None, intent=None, rating=None,
           close_after=600):
    """A chat: the customer's first line, ``agent`` takes it, then (who: c the customer,
    a the agent; text; seconds later) turns; closed ``close_after`` seconds after the
    last; its id."""
    first, *rest = turns
    cid = be.post_message("s", customer, first, product=product, intent=intent)[
        "conversation"]["id"]
    assert be.accept_next(agent)["id"] == cid
    for who, text, wait in rest:
        clock.advance(wait)
        if who == "c":
            be.post_message("s", customer, text)
        else:
            be.reply(agent, cid, text)
    clock.advance(close_after)
    be.close_conversation(cid, by=agent)
    if rating is not None:
        be.rate(cid, rating)
    return cid


def day(be, clock):
    """Four chats with hand-checked findings (see the test)."""
    good = served(be, clock, "a", "c1", ["这件连衣裙有M码吗？", ("a", "亲，M码有现货哦", 20),
                                         ("c", "好的谢谢", 30), ("a", "不客气～", 10)],
                  product="dress", rating=5)
    promise = served(be, clock, "a", "c2", ["小白鞋是正品吗", ("a", "绝对正品，假一赔十", 40),
                                            ("c", "好", 20)], product="shoe", rating=4)
    upset = served(be, clock, "b", "c3", ["快遞怎麼還沒到？太慢了！！", ("a", "单号123", 0),
                                          ("c", "那什么时候能到", 30)],
                   intent="aftersale", rating=1, close_after=5)
    rude = served(be, clock, "b", "c4", ["尺码怎么选", ("a", "自己看详情页", 300),
                                         ("c", "嗯", 10)], product="dress", rating=2)
    return good, promise, upset, rude


def rules_of(item):
    return sorted((f["rule"], f["detail"]) for f in item["findings"])


def test_a_day_of_chats_scored_with_hand_checked_findings(desk, clock):
    be, cli = desk
    mall(be)
    good, promise, upset, rude = day(be, clock)
    assert cli.json("qa", "show", str(good))["findings"] == []
    assert cli.json("qa", "show", str(good))["score"] == 100
    p = cli.json("qa", "show", str(promise))
    assert rules_of(p) == [("banned_word", "假一赔十"), ("banned_word", "绝对")]
    assert p["score"] == 60 and {f["text"] for f in p["findings"]} == {"绝对正品，假一赔十"}
    u = cli.json("qa", "show", str(upset))
    assert rules_of(u) == [("closed_while_typing", "5"), ("negative_unacknowledged", "太慢"),
                           ("unanswered_question", "")]
    assert u["score"] == 100 - 15 - 10 - 15
    upset_msg = next(f for f in u["findings"] if f["rule"] == "negative_unacknowledged")
    assert upset_msg["text"] == "快遞怎麼還沒到？太慢了！！" and upset_msg["sender"] == "customer"
    r = cli.json("qa", "show", str(rude))
    assert rules_of(r) == [("rude_reply", "自己看"), ("slow_first_response", "300")]
    queue = cli.json("qa", "queue", "s")
    assert [i["conversation"] for i in queue] == [promise, upset, rude]  # flagged, by close


def test_review_confirms_or_overturns_each_finding(desk, clock):
    be, cli = desk
    mall(be)
    _, promise, _, _ = day(be, clock)
    p = cli.json("qa", "show", str(promise))
    first = next(f["id"] for f in p["findings"] if f["detail"] == "假一赔十")
    out = cli.json("qa", "review", "s", str(promise), "overturned", "--finding", str(first),
                   "--by", "boss")
    assert out["score"] == 80 and out["reviewed_at"] is None  # one finding still open
    out = cli.json("qa", "review", "s", str(promise), "confirmed", "--by", "boss")
    assert out["score"] == 80 and out["reviewed_by"] == "boss"
    assert {f["verdict"] for f in out["findings"]} == {"confirmed", "overturned"}
    assert promise not in [i["conversation"] for i in cli.json("qa", "queue", "s")]
    r = cli("qa", "review", "s", str(promise), "confirmed", "--json")
    assert r.exit_code == 1 and "reviewed already" in r.stderr
    r = cli("qa", "review", "s", str(promise), "maybe")
    assert r.exit_code == 1 and "verdict must be one of" in r.stderr
    r = cli("qa", "review", "s", "999999", "confirmed")
    assert r.exit_code == 1 and "no inspected chat" in r.stderr
    r = cli("qa", "review", "s", str(promise), "confirmed", "--finding", "999999")
    assert r.exit_code == 1 and "no finding" in r.stderr


def test_metrics_qa_per_agent_and_shop(desk, clock):
    be, cli = desk
    mall(be)
    day(be, clock)
    rep = cli.json("metrics", "qa", "--shop", "s")
    rows = {r["agent"]: r for r in rep["rows"]}
    # a served the clean chat and the promise, b the upset and the rude one
    assert rows["a"]["chats"] == 2 and rows["a"]["qa_score"] == (100 + 60) / 2
    assert rows["a"]["flagged"] == 1 and rows["a"]["low"] == 1
    assert rows["a"]["by_rule"]["banned_word"] == 2 and rows["a"]["hints"] == ["banned_word"]
    assert rows["b"]["chats"] == 2 and rows["b"]["qa_score"] == (60 + 65) / 2
    assert rows["b"]["findings"] == 5 and rows["b"]["low"] == 2
    assert rows["b"]["hints"] == ["slow_first_response", "unanswered_question", "rude_reply"]
    assert rep["total"]["chats"] == 4 and rep["total"]["findings"] == 7
    assert rep["pending_review"] == 3
    shops = cli.json("metrics", "qa", "--by", "shop")
    assert [(r["shop"], r["chats"]) for r in shops["rows"]] == [("s", 4)]
    r = cli("metrics", "qa", "--by", "hour")
    assert r.exit_code == 1 and "--by must be agent or shop" in r.stderr
    r = cli("metrics", "qa", "--shop", "nope")
    assert r.exit_code == 1


def test_a_shop_allows_a_word_and_sets_points_through_apply_and_export(desk, clock, tmp_path):
    be, cli = desk
    mall(be, allowed_words=["假一赔十"], points={"banned_word": 30}, sample_rate=0)
    _, promise, _, _ = day(be, clock)
    assert rules_of(cli.json("qa", "show", str(promise))) == [("banned_word", "绝对")]
    assert cli.json("qa", "show", str(promise))["score"] == 70
    result = cli("export", "--shop", "s", "--format", "json")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert exported["shops"][0]["settings"]["qa"] == {
        "allowed_words": ["假一赔十"], "points": {"banned_word": 30}, "sample_rate": 0.0}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"shops": [{"key": "s", "name": "x", "settings": {
        "qa": {"off": ["no_such_rule"]}}}]}), encoding="utf-8")
    r = cli("apply", "-f", str(bad))
    assert r.exit_code == 1 and "unknown QA rule" in r.stderr


def test_satisfaction_split_by_intent_group_kind_and_category(desk, clock):
    be, cli = desk
    mall(be)
    day(be, clock)
    by = {d: {r[d]: r for r in cli.json("metrics", "report", "--shop", "s", "--by", d)["rows"]}
          for d in ("intent", "category")}
    # intent: given (aftersale) or read from the text and orders (presale)
    assert {k: (v["conversations"], v["csat"]) for k, v in by["intent"].items()} == {
        "presale": (3, 0.6667), "aftersale": (1, 0.0)}
    assert {k: (v["conversations"], v["csat"]) for k, v in by["category"].items()} == {
        "连衣裙": (2, 0.5), "鞋": (1, 1.0), "-": (1, 0.0)}
    kinds = cli.json("metrics", "report", "--shop", "s", "--by", "group-kind")
    assert [(r["group-kind"], r["conversations"], r["csat"]) for r in kinds["rows"]] == [
        ("aftersale", 1, 0.0), ("presale", 3, 0.6667)]
    assert kinds["total"]["conversations"] == 4 and kinds["total"]["csat"] == 0.5
    r = cli("metrics", "report", "--by", "intent,shop")
    assert r.exit_code == 2 and "intent cannot be combined" in r.stderr


def test_agent_radar(desk, clock):
    be, cli = desk
    mall(be)
    _, _, upset, _ = day(be, clock)
    be.add_label(upset, "投诉")
    be.apply({"orders": [
        {"key": "o1", "shop": "s", "customer": "c1", "status": "paid",
         "created_at": "2026-11-20T10:30:00+08:00", "paid_at": "2026-11-20T10:31:00+08:00",
         "items": [{"product": "dress", "quantity": 2}]},
        {"key": "o2", "shop": "s", "customer": "c2", "status": "paid",
         "created_at": "2026-11-20T10:40:00+08:00", "paid_at": "2026-11-20T10:41:00+08:00",
         "items": [{"product": "shoe"}]}]})
    rows = {r["agent"]: r for r in cli.json("metrics", "agent", "--radar", "--shop", "s")}
    a, b = rows["a"], rows["b"]
    assert (a["attributed_orders"], a["multi_item_orders"], a["attach_rate"]) == (2, 1, 0.5)
    assert a["conversations"] == 2 and a["complaints"] == 0 and a["complaint_rate"] == 0.0
    assert b["conversations"] == 2 and b["complaints"] == 1 and b["complaint_rate"] == 0.5
    assert (b["attributed_orders"], b["attach_rate"]) == (0, None)
    assert a["qa_score"] == 80.0 and a["hints"] == ["banned_word"]
    assert b["qa_chats"] == 2 and b["qa_score"] == 62.5 and b["hints"][0] == "slow_first_response"
    assert rows["boss"]["conversations"] == 0 and rows["boss"]["qa_score"] is None
    one = cli.json("metrics", "agent", "a", "--radar", "--shop", "s")
    assert [r["agent"] for r in one] == ["a"]
    r = cli("metrics", "agent", "--radar")
    assert r.exit_code == 2 and "--radar needs --shop" in r.stderr
    r = cli("metrics", "agent")
    assert r.exit_code == 2
