"""The knowledge bot in the conversation flow: exact actions at the shop's thresholds,
handoff phrases, no loops, each multi-turn flow turn by turn, the index following
knowledge changes, agent assist, and `cstool bot ask`."""

from __future__ import annotations

import json
import math

import pytest

from cstool.values import parse_time

from .kb_support import KB, register_commands

register_commands()


def mall(be, mode="bot_first", **shop):
    """Shop s with agent a, two dresses and a coat, coupons, a promotion, orders, the
    small knowledge base KB."""
    be.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": mode, **shop}],
        "groups": [{"key": "pre", "shop": "s", "name": "售前组"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "groups": ["pre"],
                    "status": "online", "max_chats": 10}],
        "products": [
            {"key": "dress-1", "shop": "s", "title": "法式碎花连衣裙", "category": "连衣裙",
             "price": 299, "stock": 100, "attributes": {"尺码": ["S", "M", "L"],
                                                        "颜色": ["米白", "雾蓝"]}},
            {"key": "dress-2", "shop": "s", "title": "赫本风小黑裙方领连衣裙", "category": "连衣裙",
             "price": 359, "stock": 5, "attributes": {"尺码": ["S", "M"]}},
            {"key": "coat-1", "shop": "s", "title": "羊毛双面呢大衣", "category": "外套",
             "price": 899, "stock": 0},
        ],
        "coupons": [
            {"key": "c20", "shop": "s", "name": "满200减20", "kind": "amount", "amount": 20,
             "threshold": 200, "valid_to": "2026-11-30T23:59:59+08:00"},
            {"key": "c-old", "shop": "s", "name": "国庆满100减10", "kind": "amount",
             "amount": 10, "threshold": 100, "valid_to": "2026-10-07T23:59:59+08:00"},
        ],
        "promotions": [{"key": "p300", "shop": "s", "name": "满300减30",
                        "kind": "full_reduction", "tiers": [{"threshold": 300, "off": 30}],
                        "starts_at": "2026-11-01T00:00:00+08:00",
                        "ends_at": "2026-12-01T00:00:00+08:00"}],
        "customers": [
            {"key": "buyer", "name": "王丽", "profiles": [{"shop": "s"}]},
            {"key": "single", "name": "李娜", "profiles": [{"shop": "s"}]},
            {"key": "holder", "name": "张敏", "profiles": [{"shop": "s"}],
             "coupons": [{"coupon": "c20"}, {"coupon": "c-old"}]},
        ],
        "orders": [
            order("s-o-20261110-0001", "buyer", "delivered", "2026-11-10", "dress-1"),
            order("s-o-20261118-0002", "buyer", "shipped", "2026-11-18", "dress-2",
                  logistics=[("2026-11-18T18:00:00+08:00", "已揽收", "杭州仓已揽收"),
                             ("2026-11-19T08:00:00+08:00", "运输中", "快件已到达 上海转运中心")]),
            order("s-o-20261119-0003", "buyer", "paid", "2026-11-19", "coat-1"),
            order("s-o-20261115-0004", "single", "shipped", "2026-11-15", "dress-1",
                  logistics=[("2026-11-16T09:00:00+08:00", "派送中", "快递员正在派件")]),
        ],
        "knowledge_entries": KB,
    })


def order(key, customer, status, day, product, logistics=()):
    t = f"{day}T10:00:00+08:00"
    rec = {"key": key, "shop": "s", "customer": customer, "status": status, "created_at": t,
           "items": [{"product": product}], "carrier": "中通快递", "tracking_no": "ZT" + key[-4:],
           "logistics": [{"at": a, "status": s, "detail": d} for a, s, d in logistics]}
    if status != "created":
        rec["paid_at"] = t
    if status in ("shipped", "delivered"):
        rec["shipped_at"] = logistics[0][0] if logistics else t
    if status == "delivered":
        rec["delivered_at"] = f"{day}T20:00:00+08:00"
    return rec


def say(be, customer, text, **kw):
    """Post and return (the conversation, the single reply)."""
    r = be.post_message("s", customer, text, **kw)
    return r["conversation"], r["replies"][-1]


# -- thresholds, exactly at the boundary ---------------------------------------------------

def raw_confidence(be, text: str) -> float:
    """The bot's unrounded confidence for ``text`` in shop s."""
    with be.ctx.read() as uow:
        return be.ctx.knowledge.index(uow, "s").confidence(text, shop="s")


def set_bot(be, **settings):
    be.update("shops", "s", {"settings": settings})


def test_actions_at_the_shops_thresholds_exactly(backend):
    mall(backend)
    c = raw_confidence(backend, "价格")  # between the default thresholds: a did-you-mean
    assert 0.3 <= c < 0.85
    assert backend.ask_bot("价格", shop="s")["action"] == "suggest"
    set_bot(backend, bot_answer_threshold=c)  # answer at or above: equal answers
    assert backend.ask_bot("价格", shop="s")["action"] == "answer"
    set_bot(backend, bot_answer_threshold=math.nextafter(c, 1))  # a hair above: suggest
    assert backend.ask_bot("价格", shop="s")["action"] == "suggest"
    set_bot(backend, bot_answer_threshold=0.99, bot_suggest_threshold=c)  # suggest at c
    assert backend.ask_bot("价格", shop="s")["action"] == "suggest"
    set_bot(backend, bot_answer_threshold=0.99, bot_suggest_threshold=math.nextafter(c, 1))
    r = backend.ask_bot("价格", shop="s")
    assert (r["action"], r["reason"], r["entry"]) == ("handoff", "low_confidence", "my_coupons")


def test_threshold_settings_are_checked(backend):
    from cstool.validation import FieldError

    mall(backend)
    with pytest.raises(FieldError, match="expected a number from 0 to 1"):
        set_bot(backend, bot_answer_threshold=1.5)
    with pytest.raises(FieldError, match="must not be above bot_answer_threshold"):
        set_bot(backend, bot_answer_threshold=0.5, bot_suggest_threshold=0.6)
    set_bot(backend, bot_synonyms="发票|收据; 退货|退掉", bot_handoff_phrases="找店长|叫老板")
    s = backend.get("shops", "s")["settings"]
    assert s["bot_synonyms"] == ["发票|收据", "退货|退掉"]
    assert s["bot_handoff_phrases"] == ["找店长", "叫老板"]


def test_a_shops_synonyms_apply_to_that_shop(backend):
    mall(backend)
    assert backend.ask_bot("能给个收据吗", shop="s")["action"] == "suggest"
    set_bot(backend, bot_synonyms=["发票|收据"])
    r = backend.ask_bot("能给个收据吗", shop="s")
    assert (r["action"], r["entry"]) == ("answer", "invoice")


# -- handoff and loops ------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["转人工", "talk to a human", "人工客服在吗"])
def test_handoff_phrases_go_to_a_human_at_once(backend, text):
    mall(backend)
    conv, reply = say(backend, "buyer", text)
    assert conv["assignee"] == "a" and conv["state"] == "active"
    assert backend.ask_bot(text, shop="s")["reason"] == "handoff_phrase"


def test_a_shops_own_handoff_phrase(backend):
    mall(backend)
    set_bot(backend, bot_handoff_phrases=["找店长"])
    conv, _ = say(backend, "buyer", "我要找店长")
    assert conv["assignee"] == "a"


def test_answered_questions_stay_with_the_bot_until_a_human_is_asked_for(backend):
    mall(backend)
    conv, reply = say(backend, "newbie", "怎么开发票")
    assert conv["state"] == "bot" and conv["assignee"] is None
    assert reply["sender"] == "bot" and reply["body"] == "确认收货后在订单详情申请开票。"
    assert reply["payload"]["action"] == "answer" and reply["payload"]["entry"] == "invoice"
    conv, reply = say(backend, "newbie", "转人工")
    assert conv["assignee"] == "a" and reply["body"] == "客服小美为您服务"
    # the answer did not help: the question is kept for review
    assert [g["question"] for g in backend.unanswered_questions()] == ["怎么开发票"]


def test_the_same_unsure_question_twice_hands_off(backend):
    mall(backend)
    conv, reply = say(backend, "newbie", "价格")
    assert conv["state"] == "bot" and reply["payload"]["action"] == "suggest"
    assert reply["body"].startswith("您是不是想问：\n1. 有什么优惠券可以用？\n2. 这款有M码吗？")
    assert reply["payload"]["choices"] == ["my_coupons", "product_spec", "invoice"]
    conv, reply = say(backend, "newbie", "价格？")  # the same question again
    assert conv["assignee"] == "a"
    [group] = backend.unanswered_questions()
    assert group["count"] == 2 and group["actions"] == {"suggest": 1, "handoff": 1}


def test_bot_only_hours_tell_the_customer_and_never_loop(backend, clock):
    mall(backend, mode="human_first", off_hours_mode="bot_only",
         business_hours={d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")})
    clock.set(parse_time("2026-11-20T23:00:00+08:00"))
    conv, reply = say(backend, "buyer", "怎么开发票")
    assert conv["state"] == "bot" and reply["sender"] == "bot"
    conv, reply = say(backend, "buyer", "你们家衣服好看吗")
    assert reply["sender"] == "system" and "机器人服务时段" in reply["body"]
    conv, reply = say(backend, "buyer", "你们家衣服好看吗")
    assert conv["state"] == "bot" and "机器人服务时段" in reply["body"]
    memory = json.loads(conv_flow(backend, conv["id"]))
    assert memory["last"]["action"] == "handoff"
    assert [g["actions"] for g in backend.unanswered_questions()] == [{"handoff": 2}]


def conv_flow(be, conv_id):
    with be.database.read() as conn:
        return conn.execute("SELECT flow FROM conversations WHERE id = ?", (conv_id,)).fetchone()[0]


def test_a_did_you_mean_choice_is_answered(backend):
    mall(backend)
    say(backend, "holder", "价格")
    conv, reply = say(backend, "holder", "1")  # 有什么优惠券可以用？ runs the coupon flow
    assert reply["payload"]["entry"] == "my_coupons" and reply["payload"]["reason"] == "picked"
    assert reply["body"].startswith("您现在可以用的优惠券：\n1. 满200减20（满¥200.00减¥20.00")


def test_greetings_alone_are_greeted_back(backend):
    mall(backend)
    conv, reply = say(backend, "newbie", "亲，在吗")
    assert conv["state"] == "bot" and reply["body"] == "您好，请问有什么可以帮您？"
    assert backend.unanswered_questions() == []


# -- flows, turn by turn -----------------------------------------------------------------------

def test_order_status_asks_which_order_then_shows_its_timeline(backend):
    mall(backend)
    conv, reply = say(backend, "buyer", "我的快递到哪了")
    assert reply["body"] == (
        "您在本店有 3 个订单，想查询哪一个呢？回复序号即可：\n"
        "1. 11-19 羊毛双面呢大衣×1 ¥899.00 已付款，待发货\n"
        "2. 11-18 赫本风小黑裙方领连衣裙×1 ¥359.00 已发货\n"
        "3. 11-10 法式碎花连衣裙×1 ¥299.00 已签收")
    assert [o["key"] for o in reply["payload"]["options"]] == [
        "s-o-20261119-0003", "s-o-20261118-0002", "s-o-20261110-0001"]
    conv, reply = say(backend, "buyer", "第二个")
    assert reply["kind"] == "order" and reply["payload"]["order"] == "s-o-20261118-0002"
    assert reply["body"] == (
        "订单 s-o-20261118-0002（赫本风小黑裙方领连衣裙×1）：已发货\n中通快递 ZT0002\n最新物流：\n"
        "· 11-19 08:00 运输中 快件已到达 上海转运中心\n· 11-18 18:00 已揽收 杭州仓已揽收\n"
        "包裹正在路上，有异常我们会第一时间联系您~")
    # the order is remembered: asked again, no question
    conv, reply = say(backend, "buyer", "快递到哪了")
    assert reply["payload"]["order"] == "s-o-20261118-0002"
    assert conv["state"] == "bot"


def test_order_status_with_one_order_none_or_an_order_number(backend):
    mall(backend)
    _, reply = say(backend, "single", "快递到哪了")
    assert reply["payload"]["order"] == "s-o-20261115-0004"
    _, reply = say(backend, "holder", "快递到哪了")
    assert reply["body"].startswith("没有查到您在本店的订单哦")
    _, reply = say(backend, "buyer", "订单20261110-0001到哪了")
    assert reply["payload"]["order"] == "s-o-20261110-0001"
    assert "已签收" in reply["body"]


def test_paid_order_not_shipped_yet(backend):
    mall(backend)
    say(backend, "buyer", "我的快递到哪了")
    _, reply = say(backend, "buyer", "1")
    assert reply["body"] == ("订单 s-o-20261119-0003（羊毛双面呢大衣×1）：已付款，待发货\n"
                             "中通快递 ZT0003\n仓库正在备货，付款后48小时内发出，发出后这里"
                             "就能看到物流哦~")


def test_product_question_asks_which_model_then_answers(backend):
    mall(backend)
    conv, reply = say(backend, "holder", "这款有M码吗")
    assert reply["body"] == "请问您问的是哪一款呢？把商品名称或链接发给我就好~"
    conv, reply = say(backend, "holder", "法式碎花连衣裙")
    assert reply["kind"] == "product" and reply["payload"]["product"] == "dress-1"
    assert reply["body"].splitlines()[:2] == ["有的亲，M有货哦~",
                                              "法式碎花连衣裙：¥299.00，现货充足"]
    assert "尺码：S / M / L" in reply["body"]


def test_product_question_between_two_models_and_from_the_product_page(backend):
    mall(backend)
    _, reply = say(backend, "holder", "连衣裙有M码吗")
    assert reply["body"].endswith("1. 法式碎花连衣裙\n2. 赫本风小黑裙方领连衣裙")
    _, reply = say(backend, "holder", "2")
    assert reply["payload"]["product"] == "dress-2"
    assert reply["body"].splitlines()[1] == "赫本风小黑裙方领连衣裙：¥359.00，库存紧张，仅剩5件"
    r = backend.post_message("s", "single", "这款有L码吗", product="dress-2")  # product page
    assert r["replies"][-1]["body"].startswith("抱歉亲，这款暂时没有L码。\n赫本风小黑裙方领连衣裙")
    # "这件连衣裙…" on a dress's page: that dress, not a list of every dress
    r = backend.post_message("s", "page", "这件连衣裙有M码吗", product="dress-1")
    assert r["replies"][-1]["payload"]["product"] == "dress-1"


def test_coupons_usable_now_and_the_price_after_them(backend):
    mall(backend)
    _, reply = say(backend, "holder", "有什么优惠券可以用")
    assert reply["body"] == (
        "您现在可以用的优惠券：\n1. 满200减20（满¥200.00减¥20.00，11-30到期）\n"
        "店铺活动：满300减30\n想买哪一款？告诉我商品名称，我帮您算好用券后的到手价~")
    _, reply = say(backend, "holder", "赫本风小黑裙方领连衣裙")
    assert reply["payload"]["total"] == "¥309.00"
    assert reply["body"] == ("赫本风小黑裙方领连衣裙 原价¥359.00，已享「满300减30」，"
                             "用券「满200减20」，到手价¥309.00（立省¥50.00）。")
    _, reply = say(backend, "holder", "用券后多少钱")  # the product is remembered
    assert reply["payload"]["product"] == "dress-2" and reply["payload"]["total"] == "¥309.00"


def test_a_question_instead_of_the_answer_drops_the_flow(backend):
    mall(backend)
    say(backend, "buyer", "我的快递到哪了")
    conv, reply = say(backend, "buyer", "怎么开发票")
    assert reply["payload"]["entry"] == "invoice"
    assert "pending" not in json.loads(conv_flow(backend, conv["id"]))


def test_flows_without_a_customer_give_the_entrys_answer(backend):
    mall(backend)
    r = backend.ask_bot("我的快递到哪了", shop="s")
    assert (r["action"], r["entry"], r["answer"]) == ("answer", "order_status",
                                                      "在我的订单里可以查看物流。")
    r = backend.ask_bot("我的快递到哪了", shop="s", customer="single")
    assert r["flow"]["name"] == "order_status" and r["flow"]["slots"] == {
        "order": "s-o-20261115-0004"}


# -- the index follows the knowledge ---------------------------------------------------------

def test_knowledge_changes_reach_the_bot_at_once(backend, db_path, clock):
    from cstool.backend.local import LocalBackend

    mall(backend)
    assert backend.ask_bot("怎么开发票", shop="s")["answer"] == "确认收货后在订单详情申请开票。"
    backend.update("knowledge_entries", "invoice", {"answer": "订单详情里点申请开票。"})
    assert backend.ask_bot("怎么开发票", shop="s")["answer"] == "订单详情里点申请开票。"
    other = LocalBackend(db_path, clock=clock)  # another process changes it
    try:
        other.update("knowledge_entries", "invoice", {"enabled": False})
    finally:
        other.close()
    assert backend.ask_bot("怎么开发票", shop="s")["entry"] != "invoice"


# -- agent assist -------------------------------------------------------------------------------

def test_suggest_answers_for_the_last_customer_message(backend):
    mall(backend, mode="human_first")
    conv, _ = say(backend, "buyer", "你好")
    backend.post_message("s", "buyer", "请问怎么开发票呀")
    backend.post_message("s", "buyer", "转人工")  # a bare request for a human is skipped
    hits = backend.suggest_answers(conv["id"])
    assert len(hits) == 3
    assert hits[0]["entry"] == "invoice" and hits[0]["answer"] == "确认收货后在订单详情申请开票。"
    assert hits[0]["question"] == "怎么开发票？" and hits[0]["for"] == "请问怎么开发票呀"
    assert hits[0]["score"] > hits[1]["score"] >= hits[2]["score"]


# -- bot ask --------------------------------------------------------------------------------

def test_bot_ask_json_and_a_file_of_questions(cli, tmp_path):
    cli.json("apply", "-f", str(write_fixture(tmp_path)))
    r = cli.json("bot", "ask", "怎么开发票", "--shop", "s")
    assert list(r)[:6] == ["question", "action", "entry", "confidence", "answer", "choices"]
    assert (r["action"], r["entry"], r["choices"]) == ("answer", "invoice", ["invoice"])
    questions = tmp_path / "q.txt"
    questions.write_text("怎么开发票\n\n价格\n转人工\n", encoding="utf-8")
    out = cli("bot", "ask", "--file", str(questions), "--shop", "s")
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(x["question"], x["action"]) for x in rows] == [
        ("怎么开发票", "answer"), ("", "handoff"), ("价格", "suggest"), ("转人工", "handoff")]
    assert rows[2]["choices"] == ["my_coupons", "product_spec", "invoice"]
    piped = cli("bot", "ask", "-f", "-", input="怎么退货\n")
    assert json.loads(piped.stdout)["entry"] == "return"


def test_bot_ask_for_a_customer_and_errors(cli, tmp_path):
    cli.json("apply", "-f", str(write_fixture(tmp_path)))
    r = cli("bot", "ask", "快递到哪了", "--shop", "s", "--customer", "single")
    assert r.exit_code == 0 and "订单 s-o-20261115-0004" in r.stdout
    r = cli("bot", "ask", "快递到哪了", "--shop", "nope")
    assert (r.exit_code, r.stderr.strip()) == (1, "Error: no shop 'nope'")
    r = cli("bot", "ask")
    assert r.exit_code == 2


def write_fixture(tmp_path):
    """The mall of this module as a fixture file (for the CLI tests)."""
    from cstool.backend.local import LocalBackend
    from cstool.declarative import dump

    b = LocalBackend(tmp_path / "src.db")
    try:
        mall(b)
        path = tmp_path / "mall.yaml"
        path.write_text(dump(b.export()), encoding="utf-8")
    finally:
        b.close()
    return path


@pytest.mark.parametrize("content,message", [
    (b"", "no questions (one question a line)"),
    (b"\r\n  \r\n\xef\xbb\xbf\r\n", "no questions (one question a line)"),
    ("怎么开发票\n".encode("gbk"), "not UTF-8 text (save it as UTF-8; in Excel: CSV UTF-8)"),
    (bytes(range(256)), "not UTF-8 text (save it as UTF-8; in Excel: CSV UTF-8)"),
])
def test_bot_ask_refuses_a_file_without_questions(cli, tmp_path, content, message):
    cli.json("apply", "-f", str(write_fixture(tmp_path)))
    path = tmp_path / "q.txt"
    path.write_bytes(content)
    r = cli("bot", "ask", "--file", str(path), "--shop", "s")
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr.strip() == f"Error: {path}: {message}"
    r = cli("bot", "ask", "--file", str(tmp_path / "nope.txt"), "--shop", "s")
    assert (r.exit_code, r.stderr.strip()) == (1, f"Error: {tmp_path / 'nope.txt'}: no such file")


def test_bot_ask_names_the_line_of_a_bad_question_and_asks_none(cli, tmp_path):
    cli.json("apply", "-f", str(write_fixture(tmp_path)))
    path = tmp_path / "q.txt"
    path.write_text("怎么开发票\r\n怎么\x01退货\r\n", encoding="utf-8")
    r = cli("bot", "ask", "--file", str(path), "--shop", "s")
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr.strip() == (f"Error: {path}:2: contains a control character U+0001; text "
                                "may not hold control characters (newline and tab are allowed)")


def test_bot_ask_refuses_a_question_longer_than_a_message(cli, tmp_path):
    """A question longer than a customer's message may be (2,000 characters) is refused
    in one line, naming the line of a file, before anything is asked."""
    cli.json("apply", "-f", str(write_fixture(tmp_path)))
    path = tmp_path / "q.txt"
    path.write_text("怎么开发票\n" + "退" * 1_000_000 + "\n", encoding="utf-8")
    r = cli("bot", "ask", "--file", str(path), "--shop", "s")
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr.strip() == (f"Error: {path}:2 too long (1000000 characters, at most "
                                "2000)")
    r = cli("bot", "ask", "运" * 2001, "--shop", "s")
    assert r.exit_code == 1
    assert r.stderr.strip() == "Error: question too long (2001 characters, at most 2000)"
    assert cli.json("bot", "ask", "运" * 2000, "--shop", "s")["action"] in (
        "answer", "suggest", "handoff")
