"""`cstool kb suggest` (#20 item 5): proposals mined from closed human chats, on the CLI
with exact exit codes and parsed --json; the mining engine's rules on their own."""

from __future__ import annotations

import pytest

from cstool.bot import mining

from .kb_support import KB, register_commands

register_commands()

NOW_DAY = "2026-11-20T12:00:00+08:00"  # the frozen clock's day, two hours later


def mall(be) -> None:
    """Shops s and t (human first), agent a, s's entries: sizes and the small KB."""
    be.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"},
                  {"key": "t", "name": "别家", "service_mode": "human_first"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s", "t"], "status": "busy",
                    "max_chats": 5}],
        "knowledge_entries": [
            {"key": "s-size", "shop": "s", "question": "怎么选尺码？",
             "similar": ["尺码怎么选", "穿多大码"], "answer": "请看详情页的尺码表。"},
            *({**e, "key": f"s-{e['key']}", "shop": "s", "tags": []} for e in KB)],
    })


def human_chat(be, shop: str, customer: str, turns: list[tuple[str, str]]) -> int:
    """A chat agent a accepts, answers turn by turn and closes; its id."""
    cid = be.post_message(shop, customer, turns[0][1])["conversation"]["id"]
    assert be.accept_next("a")["id"] == cid
    for i, (who, text) in enumerate(turns):
        if who == "agent":
            be.reply("a", cid, text)
        elif i:
            be.post_message(shop, customer, text)
    be.close_conversation(cid, by="a")
    return cid


def test_kb_suggest_on_the_cli(cli, backend, monkeypatch):
    mall(backend)
    sf1 = human_chat(backend, "s", "c1", [
        ("customer", "转人工"), ("customer", "你们发顺丰吗"), ("agent", "在的亲，请稍等~"),
        ("agent", "默认发中通，需要顺丰的话可以补10元差价哦"), ("customer", "好的谢谢")])
    sf2 = human_chat(backend, "s", "c2", [
        ("customer", "可以发顺丰快递吗"), ("agent", "您好，请问订单号是多少？"),
        ("customer", "s-o-20261120-0001"), ("agent", "默认中通，补10元差价可以改发顺丰")])
    size = human_chat(backend, "s", "c3", [
        ("customer", "衣服大小怎么挑"), ("agent", "亲，看详情页的尺码表，按身高体重选就可以")])
    human_chat(backend, "t", "c4", [  # another shop's chat is never mined for s
        ("customer", "你们发顺丰吗"), ("agent", "我们只发韵达哦，不支持指定快递")])
    monkeypatch.setenv("CSTOOL_NOW", NOW_DAY)

    rows = cli.json("kb", "suggest", "--shop", "s")
    assert [(r["kind"], r["entry"], r["conversations"]) for r in rows] == [
        ("new", None, [sf1, sf2]), ("similar", "s-size", [size])]
    sf = rows[0]
    assert (sf["question"], sf["similar"], sf["evidence"], sf["status"]) == (
        "你们发顺丰吗", ["可以发顺丰快递吗"], 2, "open")
    assert "中通" in sf["answer"] and "请问订单号" not in sf["answer"]
    assert "韵达" not in str(rows)

    plain = cli("kb", "suggest", "--shop", "s")  # piped: a tab-separated table
    assert plain.exit_code == 0
    assert plain.stdout.splitlines()[0].split("\t") == [
        "id", "kind", "entry", "evidence", "question", "wordings", "answer"]

    monkeypatch.setenv("CSTOOL_NOW", "2026-12-01T12:00:00+08:00")  # 11 days later
    assert cli.json("kb", "suggest", "--shop", "s", "--since", "7d") == []
    assert len(cli.json("kb", "suggest", "--shop", "s", "--since", "2w")) == 2

    done = cli.json("kb", "suggest", "accept", str(sf["id"]), "--key", "s-sf")
    assert (done["status"], done["result_entry"], done["created"]) == ("accepted", "s-sf", True)
    entry = cli.json("kb", "show", "s-sf")
    assert (entry["shop"], entry["question"], entry["similar"], entry["tags"]) == (
        "s", "你们发顺丰吗", ["可以发顺丰快递吗"], ["learned"])
    asked = cli.json("bot", "ask", "可以发顺丰吗", "--shop", "s")
    assert (asked["action"], asked["entry"]) == ("answer", "s-sf")
    similar = cli.json("kb", "suggest", "accept", str(rows[1]["id"]), "--shop", "s")
    assert similar["added"] == ["衣服大小怎么挑"] and not similar["created"]
    assert "衣服大小怎么挑" in cli.json("kb", "show", "s-size")["similar"]
    assert cli.json("kb", "suggest", "--shop", "s", "--since", "all") == []

    r = cli("kb", "suggest", "reject", str(sf["id"]))
    assert (r.exit_code, r.stderr.strip()) == (
        1, f"Error: knowledge suggestion {sf['id']} is accepted already")
    r = cli("kb", "suggest", "accept", str(sf["id"]), "--shop", "t")  # not t's
    assert (r.exit_code, r.stderr.strip()) == (1, f"Error: no knowledge suggestion {sf['id']}")
    r = cli("kb", "suggest")
    assert (r.exit_code, r.stderr.strip()) == (
        2, "Error: give --shop SHOP (the shop whose chats are mined)")
    r = cli("kb", "suggest", "--shop", "s", "--since", "yesterday")
    assert (r.exit_code, r.stderr.strip()) == (
        2, "Error: since must be like 7d, 12h, 90m, 2w or all, not 'yesterday'")


def test_a_rejected_proposal_is_not_proposed_again(cli, backend, monkeypatch):
    mall(backend)
    human_chat(backend, "s", "c1", [("customer", "你们老板是谁"),
                                    ("agent", "我们是品牌官方旗舰店，老板是设计师本人哦")])
    monkeypatch.setenv("CSTOOL_NOW", NOW_DAY)
    [row] = cli.json("kb", "suggest", "--shop", "s")
    assert cli.json("kb", "suggest", "reject", str(row["id"]))["status"] == "rejected"
    human_chat(backend, "s", "c2", [("customer", "你们老板是谁"),
                                    ("agent", "老板是设计师本人，我们是官方旗舰店")])
    assert cli.json("kb", "suggest", "--shop", "s") == []


# -- the engine ------------------------------------------------------------------------------

def test_an_exchange_is_a_question_and_the_reply_that_answered_it():
    msgs = [{"sender": "customer", "body": "转人工"},
            {"sender": "customer", "body": "奶粉拆了没喝能退吗"},
            {"sender": "agent", "body": "亲，您好，我是小美，很高兴为您服务~"},
            {"sender": "agent", "body": "请问订单号是多少呢？"},
            {"sender": "customer", "body": "123456789"},
            {"sender": "agent", "body": "奶粉属于食品，拆封后不支持七天无理由退货哦"},
            {"sender": "customer", "body": "好的谢谢"},
            {"sender": "agent", "body": "您的订单 mb-o-20261120-0001 已为您备注"}]
    assert [(e.question, e.answer) for e in mining.exchanges(7, msgs)] == [
        ("奶粉拆了没喝能退吗", "奶粉属于食品，拆封后不支持七天无理由退货哦")]


@pytest.mark.parametrize("text, ok", [("转人工", False), ("好的谢谢", False), ("123456789", False),
                                      ("在吗", False), ("乌鲁木齐能包邮吗", True)])
def test_what_is_a_question(text, ok):
    assert mining.is_question(text) is ok


def test_canned_replies_teach_nothing():
    canned = "亲，这边已经处理好了，请留意短信通知"
    pairs = [mining.Exchange(i, q, canned) for i, q in enumerate(
        ["乌鲁木齐能包邮吗", "定金付了不想要了", "两只鞋一只37一只38"])]
    pairs.append(mining.Exchange(9, "收到的保温杯摔裂了", "非常抱歉，拍照给我们，马上给您补发一个"))
    groups = mining.group_questions(pairs)
    assert [g.questions for g in groups] == [["收到的保温杯摔裂了"]]


@pytest.mark.parametrize(("wordings", "core"), [
    # the same question around each customer's product name
    (["羊毛围巾今天下单什么时候发货？", "西装外套女今天下单什么时候发货？",
      "羽绒服今天下单什么时候发货"], "今天下单什么时候发货"),
    # different wordings of one question share too little: no core
    (["可以开发票吗", "发票怎么开", "能开公司抬头的发票吗"], None),
    # one wording is the core itself: nothing to add
    (["什么时候发货呀", "什么时候发货呀亲"], None),
    (["只有一种说法的问题"], None),
])
def test_the_question_several_wordings_share(wordings, core):
    assert mining.common_core(wordings) == core


def test_a_proposal_leads_with_what_the_wordings_share():
    group = mining.Group(
        questions=["羊毛围巾今天下单什么时候发货？", "西装外套今天下单什么时候发货？",
                   "羊毛围巾今天下单什么时候发货？"],
        answers=["现货48小时内发出"] * 3, conversations=[1, 2, 3])
    assert group.wordings() == ["今天下单什么时候发货？", "羊毛围巾今天下单什么时候发货？",
                                "西装外套今天下单什么时候发货？"]
    # the decisions remember the customers' own wordings, not the core
    assert group.keys() == sorted({mining.clean(q) for q in group.questions})


@pytest.mark.parametrize("text", [
    "那大概要多久呢", "还有别的办法吗", "可以再快一点吗", "那要是不合适呢", "然后呢怎么弄",
    "亲，那大概几天能到呀", "那如果不合适呢"])
def test_a_question_leaning_on_the_chat_before_is_not_learnt(text):
    assert mining.is_question(text) is False


@pytest.mark.parametrize("text", ["这个有M码吗", "再生纤维面料会起球吗", "那曲能发货吗",
                                  "可以开发票吗"])
def test_questions_standing_alone_are_learnt(text):
    assert mining.is_question(text) is True


@pytest.mark.parametrize("reply, ok", [
    ("亲，稍等我帮您确认一下", False),
    ("好的亲，这边已经为您登记", False),
    ("收到，我这边帮您核实一下，有结果第一时间通知您哈", False),
    ("亲亲请耐心等待，马上为您处理", False),
    ("好的，已为您反馈给仓库了", False),
    ("新疆西藏地区不包邮，需补10元运费哦", True),
    ("确认收货后7天内都可以申请退换", True),
])
def test_a_reply_that_only_promises_to_look_answers_nothing(reply, ok):
    assert mining.is_answer(reply) is ok


def test_holding_replies_and_leaning_questions_make_no_exchange():
    msgs = [{"sender": "customer", "body": "我的快递怎么还没到"},
            {"sender": "agent", "body": "亲，稍等我帮您查看一下"},
            {"sender": "customer", "body": "那大概要多久呢"},
            {"sender": "agent", "body": "好的亲，这边已经为您登记"},
            {"sender": "agent", "body": "偏远地区一般发货后4-6天送达哦"}]
    assert [(e.question, e.answer) for e in mining.exchanges(3, msgs)] == [
        ("我的快递怎么还没到", "偏远地区一般发货后4-6天送达哦")]
