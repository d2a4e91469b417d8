"""Issue 22, the desk's daily work: the bot behind ``human_first`` (nobody online, or a
wait past ``bot_cover_after_s``), labels on conversations and private notes, through the
CLI (exact exit codes, parsed ``--json``), the Local backend and the metrics."""

from __future__ import annotations

import json

import pytest

from cstool.backend.local import LocalBackend

from .conftest import Cli
from .kb_support import KB

ANSWER = "48小时内发货。"  # the knowledge base's answer to 什么时候发货 and its wordings


@pytest.fixture
def desk(db_path, clock, monkeypatch):
    """A Local backend (the knowledge bot, the frozen clock) and the CLI on its file,
    whose commands start at the same instant."""
    monkeypatch.setenv("CSTOOL_NOW", "2026-11-20T10:00:00+08:00")
    be = LocalBackend(db_path, clock=clock)
    yield be, Cli(db_path)
    be.close()


def shop(be, *, mode="human_first", status="busy", max_chats=3, languages=None, **settings):
    """Shop s with agent a (busy: present, given nothing) in group pre."""
    rec = {"key": "s", "name": "翎衣女装", "service_mode": mode, "settings": settings}
    if languages:
        rec["languages"] = languages
    be.apply({"shops": [rec], "groups": [{"key": "pre", "shop": "s", "name": "售前组"}],
              "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "groups": ["pre"],
                          "status": status, "max_chats": max_chats}],
              "knowledge_entries": KB})


def said(replies):
    return [(r["sender"], r["body"]) for r in replies]


# -- 1. the bot behind human_first ----------------------------------------------------------

def test_human_first_with_nobody_online_the_bot_answers_and_tells_the_place(desk, clock,
                                                                              monkeypatch):
    be, cli = desk
    shop(be)
    out = cli.json("conv", "post", "什么时候发货？", "--shop", "s", "--customer", "c1")
    conv = out["conversation"]
    assert conv["state"] == "queued" and conv["queue_position"] == 1
    assert said(out["replies"]) == [
        ("system", "当前排队第 1 位，客服暂时都不在线，上线后会第一时间接待您。"),
        ("bot", ANSWER)]
    assert out["replies"][1]["payload"]["cover"] is True
    # the customer asks for a person: no bot words, the place again
    out = cli.json("conv", "post", "转人工", "--shop", "s", "--customer", "c1")
    assert said(out["replies"]) == [
        ("system", "当前排队第 1 位，客服暂时都不在线，上线后会第一时间接待您。")]
    # a second customer waits behind the first and is told so
    clock.advance(60)
    out = be.post_message("s", "c2", "多久发货")
    assert said(out["replies"])[0][1].startswith("当前排队第 2 位")
    assert said(out["replies"])[1] == ("bot", ANSWER)
    # the chat stayed queued for a human; the agent who takes it sees the bot's turns
    taken = cli.json("conv", "accept", "--agent", "a")
    assert taken["id"] == conv["id"] and taken["state"] == "active"
    shown = cli.json("conv", "show", str(conv["id"]))
    assert [(m["sender"], m["body"]) for m in shown["messages"]][:4] == [
        ("customer", "什么时候发货？"),
        ("system", "当前排队第 1 位，客服暂时都不在线，上线后会第一时间接待您。"),
        ("bot", ANSWER), ("customer", "转人工")]
    monkeypatch.setenv("CSTOOL_LANG", "en")
    text = cli("conv", "show", str(conv["id"])).stdout
    assert f"bot: {ANSWER}" in text
    # once an agent serves the chat, the bot is quiet
    out = be.post_message("s", "c1", "发货了吗")
    assert out["replies"] == []
    covers = [e for e in be.events(limit=500) if e["type"] == "conversation.bot_cover"]
    assert [e["payload"]["action"] for e in covers] == ["answer", "handoff", "answer"]


def test_an_agent_coming_online_is_given_the_chat_with_the_bots_turns(desk):
    be, cli = desk
    shop(be, status="offline")
    cid = be.post_message("s", "c1", "下单后几天发")["conversation"]["id"]
    result = cli("agent", "status", "a", "online", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["assigned"] == [cid]
    conv = be.get_conversation(cid)
    assert conv["assignee"] == "a"
    assert ("bot", ANSWER) in [(m["sender"], m["body"]) for m in conv["messages"]]


def test_human_only_is_unchanged_no_bot(desk):
    be, _cli = desk
    shop(be, mode="human_only")
    out = be.post_message("s", "c1", "什么时候发货？")
    assert said(out["replies"]) == [
        ("system", "当前排队第 1 位，客服暂时都不在线，上线后会第一时间接待您。")]
    assert be.post_message("s", "c1", "发货呢")["replies"] == []


@pytest.mark.parametrize("night_mode, covered", [("bot_only", True), ("bot_first", True),
                                                 ("human_only", False)])
def test_at_night_a_chat_still_queued_is_covered(desk, clock, night_mode, covered):
    """A human_first shop open 08:00-22:00: a chat queued in the evening, the agent goes
    offline (the chat goes back to the queue), and at 23:30 the customer writes again:
    the bot answers and tells the place (the chat stays queued), unless the shop's
    out-of-hours mode is human_only."""
    be, cli = desk
    be.apply({"shops": [{"key": "s", "name": "萌宝", "service_mode": "human_first",
                         "off_hours_mode": night_mode,
                         "business_hours": {d: "08:00-22:00" for d in
                                            ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}],
              "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                          "max_chats": 3}],
              "knowledge_entries": KB})
    clock.advance(11 * 3600)  # 21:00 Beijing: open
    cid = be.post_message("s", "c1", "在吗")["conversation"]["id"]
    assert be.get_conversation(cid)["assignee"] == "a"
    be.set_agent_status("a", "offline")  # the last agent leaves: the chat is queued again
    assert be.get_conversation(cid)["state"] == "queued"
    clock.advance(int(2.5 * 3600))  # 23:30: closed for the night
    out = be.post_message("s", "c1", "什么时候发货？")
    assert out["conversation"]["state"] == "queued"
    if covered:
        assert said(out["replies"]) == [
            ("bot", ANSWER),
            ("system", "当前排队第 1 位，客服暂时都不在线，上线后会第一时间接待您。")]
    else:
        assert out["replies"] == []


def test_an_english_shop_is_told_its_place_in_english(desk):
    be, _cli = desk
    shop(be, languages=["en", "zh"])
    out = be.post_message("s", "c1", "什么时候发货？")
    assert said(out["replies"]) == [
        ("system", "You are number 1 in the queue. No agent is online right now; one will "
                   "be with you as soon as they are."),
        ("bot", ANSWER)]


def test_the_bot_covers_a_wait_past_the_shops_setting(desk, clock):
    """Agent a is online with one slot and busy with c0: c1 waits. The estimated wait is
    the place times the mean handle time over the online slots; the shop's
    bot_cover_after_s decides whether the bot steps in."""
    be, cli = desk
    shop(be, status="online", max_chats=1, bot_cover_after_s=120)
    # a history of 40-second chats (the injected clock moves between accept and close)
    for i in range(3):
        cid = be.post_message("s", f"h{i}", "你好")["conversation"]["id"]
        clock.advance(40)
        be.close_conversation(cid, by="a")
    assert be.post_message("s", "c0", "在吗")["conversation"]["assignee"] == "a"
    out = be.post_message("s", "c1", "什么时候发货？")
    assert out["conversation"]["estimated_wait_s"] == 40  # 1 × 40 s / 1 slot
    assert said(out["replies"]) == [("system", "当前排队第 1 位，预计等待约 1 分钟。")]  # no bot
    # the shop lowers its threshold under the wait: the bot covers the next message
    result = cli("shop", "update", "s", "--setting", "bot_cover_after_s=30")
    assert result.exit_code == 0, result.output
    out = be.post_message("s", "c1", "付款后多久发出")
    assert said(out["replies"]) == [("bot", ANSWER),
                                    ("system", "当前排队第 1 位，预计等待约 1 分钟。")]
    assert out["replies"][1]["payload"] == {"queue_position": 1, "estimated_wait_s": 40,
                                            "cover": True}


@pytest.mark.parametrize("value,code", [(0, "field_not_positive"), ("5m", "field_not_positive"),
                                        (True, "field_not_positive")])
def test_a_bad_cover_setting_is_refused(desk, value, code):
    be, cli = desk
    result = cli("apply", "-f", "-", input=json.dumps({"shops": [
        {"key": "s", "name": "翎衣", "settings": {"bot_cover_after_s": value}}]}))
    assert result.exit_code == 1 and "bot_cover_after_s" in result.stderr
    assert result.stdout == ""


# -- 2. labels -----------------------------------------------------------------------------

def test_labels_from_the_cli(desk):
    be, cli = desk
    shop(be)
    c1 = be.post_message("s", "c1", "衣服破了")["conversation"]["id"]
    c2 = be.post_message("s", "c2", "双十一优惠")["conversation"]["id"]
    out = cli.json("conv", "label", str(c1), "add", "售后-破损")
    assert out == {"conversation": c1, "labels": ["售后-破损"], "changed": True}
    assert cli.json("conv", "label", str(c1), "add", "投诉", "--agent", "a")["labels"] == [
        "售后-破损", "投诉"]
    cli.json("conv", "label", str(c2), "add", "大促")
    assert [c["id"] for c in cli.json("conv", "list", "--label", "投诉")] == [c1]
    assert [c["id"] for c in cli.json("conv", "list", "--shop", "s", "--label", "大促")] == [c2]
    assert cli.json("conv", "list", "--label", "没有") == []
    assert cli.json("conv", "show", str(c1))["labels"] == ["售后-破损", "投诉"]
    assert cli.json("conv", "label", str(c1), "remove", "投诉")["labels"] == ["售后-破损"]
    assert [r["label"] for r in cli.json("conv", "labels", "--shop", "s")] == ["售后-破损", "大促"]
    text = cli("conv", "show", str(c1)).stdout
    assert "labels: 售后-破损" in text


def test_label_refusals_exit_codes(desk):
    be, cli = desk
    shop(be)
    cid = str(be.post_message("s", "c1", "你好")["conversation"]["id"])
    r = cli("conv", "label", cid, "add", "投\x1b诉")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "control character" in r.stderr
    r = cli("conv", "label", cid, "toggle", "投诉")
    assert r.exit_code == 2 and "add or remove" in r.stderr
    r = cli("conv", "label", "999", "add", "投诉")
    assert r.exit_code == 1
    r = cli("conv", "label", cid, "add", "长" * 33)
    assert r.exit_code == 1 and "too long" in r.stderr
    assert cli.json("conv", "show", cid)["labels"] == []


def test_a_shops_labels_are_its_own_and_go_through_apply_and_export(desk):
    be, cli = desk
    shop(be, labels=["售后-破损", "大促", "投诉"])
    be.apply({"shops": [{"key": "t", "name": "萌宝", "settings": {"labels": ["催发货"]}}]})
    result = cli("export", "--shop", "s", "--format", "json")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert exported["shops"][0]["settings"]["labels"] == ["售后-破损", "大促", "投诉"]
    cs = be.post_message("s", "c1", "你好")["conversation"]["id"]
    ct = be.post_message("t", "c1", "你好")["conversation"]["id"]
    r = cli("conv", "label", str(cs), "add", "催发货")  # shop t's label, not s's
    assert r.exit_code == 1 and "has no label" in r.stderr
    cli.json("conv", "label", str(ct), "add", "催发货")
    cli.json("conv", "label", str(cs), "add", "大促")
    assert [r["label"] for r in cli.json("conv", "labels", "--shop", "t")] == ["催发货"]
    assert [(r["label"], r["conversations"]) for r in cli.json("conv", "labels", "--shop",
                                                               "s")] == [
        ("售后-破损", 0), ("大促", 1), ("投诉", 0)]
    assert cli.json("conv", "list", "--shop", "s", "--label", "催发货") == []
    # a label with a control character is refused in apply too, and nothing changes
    r = cli("apply", "-f", "-", input=json.dumps({"shops": [
        {"key": "s", "name": "翎衣女装", "settings": {"labels": ["好\x07"]}}]}))
    assert r.exit_code == 1 and "labels" in r.stderr
    assert be.get("shops", "s")["settings"]["labels"] == ["售后-破损", "大促", "投诉"]


def test_metrics_by_label(desk, clock):
    be, cli = desk
    shop(be, status="online")
    c1 = be.post_message("s", "c1", "衣服破了")["conversation"]["id"]
    c2 = be.post_message("s", "c2", "双十一优惠")["conversation"]["id"]
    be.post_message("s", "c3", "你好")
    be.add_label(c1, "投诉")
    be.add_label(c1, "大促")
    be.add_label(c2, "大促")
    clock.advance(60)
    be.reply("a", c1, "抱歉，马上为您处理")
    report = cli.json("metrics", "report", "--shop", "s", "--by", "label")
    assert report["by"] == ["label"]
    rows = {r["label"]: r for r in report["rows"]}
    assert [(r["label"], r["conversations"]) for r in report["rows"]] == [
        ("大促", 2), ("投诉", 1), ("-", 1)]
    assert rows["投诉"]["answered_conversations"] == 1
    assert rows["大促"]["answered_conversations"] == 1
    assert report["total"]["conversations"] == 3  # each chat once
    r = cli("metrics", "report", "--by", "label,shop")
    assert r.exit_code == 2 and "label cannot be combined" in r.stderr


# -- 3. private notes ------------------------------------------------------------------------

def test_a_note_from_the_cli_is_shown_to_staff_and_never_counts_as_a_response(desk, clock,
                                                                               monkeypatch):
    be, cli = desk
    shop(be, status="online")
    cid = be.post_message("s", "c1", "我的包裹破了")["conversation"]["id"]
    clock.advance(30)
    note = cli.json("conv", "note", str(cid), "客户情绪激动，先安抚", "--agent", "a")
    assert (note["body"], note["agent"], note["private"]) == ("客户情绪激动，先安抚", "a", True)
    shown = cli.json("conv", "show", str(cid))
    assert [n["body"] for n in shown["notes"]] == ["客户情绪激动，先安抚"]
    assert all(m["sender"] != "agent" for m in shown["messages"])
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    text = cli("conv", "show", str(cid)).stdout
    assert "🔒 内部备注（小美）：客户情绪激动，先安抚" in text
    # a note is not an answer: the chat is unanswered, no first response
    report = cli.json("metrics", "report", "--shop", "s")
    assert report["total"]["answered_conversations"] == 0
    assert report["total"]["agent_messages"] == 0
    assert report["total"]["first_response_avg_s"] is None
    clock.advance(30)
    be.reply("a", cid, "非常抱歉")
    report = cli.json("metrics", "report", "--shop", "s")
    assert report["total"]["answered_conversations"] == 1
    assert report["total"]["first_response_avg_s"] == 60  # the reply, not the note


def test_note_refusals(desk):
    be, cli = desk
    shop(be)
    be.apply({"shops": [{"key": "t", "name": "萌宝"}],
              "agents": [{"handle": "x", "name": "阿杰", "shops": ["t"]}]})
    cid = str(be.post_message("s", "c1", "你好")["conversation"]["id"])
    r = cli("conv", "note", cid, "看看\x1b[2J", "--agent", "a")
    assert r.exit_code == 1 and "control character" in r.stderr
    r = cli("conv", "note", cid, "别家店的", "--agent", "x")
    assert r.exit_code == 1 and "does not work for shop" in r.stderr
    r = cli("conv", "note", cid, "   ", "--agent", "a")
    assert r.exit_code == 1
    assert be.get_conversation(int(cid))["notes"] == []
