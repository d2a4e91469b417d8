"""The bot that acts on orders, with confirmation: what it asks for phrasings it was not
written for (Simplified, Traditional, typos, English), its refusals with the reason, the
customer it acts for and nobody else, the whole dialogue through the desk, the CLI and
over real HTTP with a widget token; and the person's operations it goes through
(`order cancel`, `order address`) with the same guards."""

from __future__ import annotations

import json

import pytest

from cstool.values import parse_time

from .kb_support import KB
from .server_support import serve

NOW_ISO = "2026-11-20T10:00:00+08:00"  # conftest's frozen clock: "yesterday" is 11-19


def order(key, customer, status, created, product, *, logistics=(),
          address="杭州市西湖区文三路1号"):
    """An order of shop s created at ``created`` (a day, 10:00 Beijing time)."""
    t = f"{created}T10:00:00+08:00"
    rec = {"key": key, "shop": "s", "customer": customer, "status": status, "created_at": t,
           "items": [{"product": product}], "receiver": "王丽", "phone": "13800000000",
           "address": address,
           "logistics": [{"at": a, "status": s, "detail": d} for a, s, d in logistics]}
    if status not in ("created", "cancelled"):
        rec["paid_at"] = t
    if status in ("shipped", "delivered"):
        rec.update(shipped_at=t, carrier="中通快递", tracking_no="ZT" + key[-4:])
    if status == "delivered":
        rec["delivered_at"] = f"{created}T20:00:00+08:00"
    return rec


def mall(be, **shop):
    """Shop s (bot first) with agent a; customer buyer with four orders (paid yesterday,
    unpaid today, delivered, shipped), customer other with an unpaid order of their own;
    shop t with its agent b."""
    be.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "bot_first", **shop},
                  {"key": "t", "name": "别家店", "service_mode": "bot_first"}],
        "groups": [{"key": "pre", "shop": "s", "name": "售前组"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "groups": ["pre"],
                    "status": "online", "max_chats": 10},
                   {"handle": "b", "name": "小王", "shops": ["t"], "status": "online"}],
        "products": [
            {"key": "dress-1", "shop": "s", "title": "法式碎花连衣裙", "category": "连衣裙",
             "price": 299, "stock": 100},
            {"key": "dress-2", "shop": "s", "title": "赫本风小黑裙", "category": "连衣裙",
             "price": 359, "stock": 5},
            {"key": "coat-1", "shop": "s", "title": "羊毛双面呢大衣", "category": "外套",
             "price": 899, "stock": 3},
            {"key": "jeans-1", "shop": "s", "title": "高腰直筒牛仔裤", "category": "牛仔裤",
             "price": 199, "stock": 30},
        ],
        "customers": [{"key": "buyer", "name": "王丽", "profiles": [{"shop": "s"}]},
                      {"key": "other", "name": "李娜", "profiles": [{"shop": "s"}]}],
        "orders": [
            order("s-o-20261119-0001", "buyer", "paid", "2026-11-19", "dress-1"),
            order("s-o-20261120-0002", "buyer", "created", "2026-11-20", "coat-1"),
            order("s-o-20261110-0003", "buyer", "delivered", "2026-11-10", "dress-2"),
            order("s-o-20261116-0004", "buyer", "shipped", "2026-11-16", "jeans-1",
                  logistics=[("2026-11-17T09:00:00+08:00", "运输中", "快件已到达 上海转运中心")]),
            order("s-o-20261118-0009", "other", "created", "2026-11-18", "coat-1"),
        ],
        "knowledge_entries": KB,
    })


@pytest.fixture
def shop_cli(cli, monkeypatch):
    """The CLI over the mall, its clock at conftest's NOW."""
    from cstool.backend.local import LocalBackend

    monkeypatch.setenv("CSTOOL_NOW", NOW_ISO)
    be = LocalBackend(cli.db)
    try:
        mall(be)
    finally:
        be.close()
    return cli


def ask(cli, text, customer="buyer"):
    """`cstool bot ask TEXT --shop s --customer C --json`."""
    return cli.json("bot", "ask", text, "--shop", "s", "--customer", customer)


# -- unseen phrasings through `bot ask --json` ----------------------------------------------

@pytest.mark.parametrize("text, step, order_key, words", [
    # the seed's own example (Traditional) and its kin: the order bought yesterday, its status
    ("我昨天買的衣服進度如何", "progress", "s-o-20261119-0001", "已付款，待发货"),
    ("昨天买的裙子到哪了呀", "progress", "s-o-20261119-0001", "仓库正在备货"),
    ("我昨天买的连衣群发货了吗", "progress", "s-o-20261119-0001", "已付款"),  # typo 群
    ("牛仔裤的物流怎么样了", "progress", "s-o-20261116-0004", "上海转运中心"),
    ("11月16号买的东西到哪了", "progress", "s-o-20261116-0004", "运输中"),
    # cancel: the one unpaid order, asked to confirm with its summary
    ("帮我取消订单", "confirm", "s-o-20261120-0002", "确认取消订单 s-o-20261120-0002"),
    ("幫我取消訂單", "confirm", "s-o-20261120-0002", "羊毛双面呢大衣"),
    ("拍错了 不想要了", "confirm", "s-o-20261120-0002", "吗？"),
    ("今天那单大衣取消掉吧", "confirm", "s-o-20261120-0002", "待付款"),
    ("cancel my order please", "confirm", "s-o-20261120-0002", "确认取消订单"),
    # change the address or phone before shipping
    ("昨天那单地址填错了，改成 上海市浦东新区世纪大道100号", "confirm", "s-o-20261119-0001",
     "收货地址改为「上海市浦东新区世纪大道100号」"),
    ("大衣那单的手机号改成 13912345678", "confirm", "s-o-20261120-0002", "手机号改为 13912345678"),
    ("昨天買的裙子收貨地址要改一下", "ask_address", "s-o-20261119-0001", "请发送新的收货地址"),
    # an after-sale request: the delivered dress (what arrived broken has arrived)
    ("收到的裙子破了个洞，申请退货", "confirm", "s-o-20261110-0003", "商品破损"),
    ("我要退货 s-o-20261110-0003", "confirm", "s-o-20261110-0003", "退货退款"),
])
def test_phrasings_ask_the_right_question(shop_cli, text, step, order_key, words):
    r = ask(shop_cli, text)
    assert r["action"] == "answer" and r["reason"] == "action", r
    assert r["flow"]["name"] == "act" and r["flow"]["step"] == step, r
    assert r["flow"]["slots"]["order"] == order_key
    assert words in r["text"], r["text"]
    if step == "confirm":
        assert "确认" in r["text"] and r["text"].rstrip().endswith(
            ("不取消。", "不修改。", "不提交。")), r["text"]


@pytest.mark.parametrize("text, order_key, reason", [
    ("取消订单 s-o-20261116-0004", "s-o-20261116-0004", "已发货"),          # shipped
    ("把 s-o-20261119-0001 取消了吧", "s-o-20261119-0001", "已付款，不能直接取消"),  # paid
    ("帮我取消 s-o-20261110-0003 这个订单", "s-o-20261110-0003", "无法取消"),   # delivered
    ("牛仔裤那单地址改成 北京市朝阳区建国路1号", "s-o-20261116-0004", "收货信息无法再修改"),
    ("昨天买的裙子坏了 申请售后", "s-o-20261119-0001", None),  # paid, not shipped: asks
])
def test_refusals_say_why(shop_cli, text, order_key, reason):
    r = ask(shop_cli, text)
    assert r["flow"]["name"] == "act"
    assert r["flow"]["slots"].get("order") == order_key
    if reason is None:  # after-sale for an order not shipped yet: allowed (a refund)
        assert r["flow"]["step"] == "confirm"
    else:
        assert r["flow"]["step"] == "refused" and reason in r["text"], r["text"]


def test_nothing_to_cancel_or_readdress_says_so(cli, monkeypatch):
    from cstool.backend.local import LocalBackend

    monkeypatch.setenv("CSTOOL_NOW", NOW_ISO)
    be = LocalBackend(cli.db)
    try:
        mall(be)
        be.update("orders", "s-o-20261120-0002", {"status": "cancelled"})
        be.update("orders", "s-o-20261119-0001", {"status": "shipped",
                                                  "shipped_at": "2026-11-19T18:00:00+08:00"})
    finally:
        be.close()
    r = ask(cli, "帮我取消订单")
    assert r["flow"]["step"] == "refused" and "您没有待付款的订单" in r["text"]
    r = ask(cli, "我要改收货地址")
    assert r["flow"]["step"] == "refused" and "都已发货" in r["text"]


def test_another_customers_order_is_never_named_or_touched(shop_cli):
    for text in ("取消订单 s-o-20261118-0009", "s-o-20261118-0009 地址改成 北京市朝阳区建国路1号",
                 "s-o-20261118-0009 到哪了"):
        r = ask(shop_cli, text)
        assert r["flow"]["step"] == "not_found", r
        assert "s-o-20261118-0009" not in r["text"] and "只能查询和处理您本人的订单" in r["text"]
    # the other customer asking for their own: the confirmation
    assert ask(shop_cli, "取消订单 s-o-20261118-0009", "other")["flow"]["step"] == "confirm"


def test_questions_about_policies_are_left_to_the_knowledge(shop_cli):
    for text in ("退货政策是什么", "怎么申请退款", "多久发货", "你好"):
        r = ask(shop_cli, text)
        assert (r["flow"] or {}).get("name") != "act", (text, r)


def test_without_a_customer_the_bot_does_not_act(shop_cli):
    r = shop_cli.json("bot", "ask", "帮我取消订单", "--shop", "s")
    assert (r["flow"] or {}).get("name") != "act"


# -- the whole dialogue through the desk ----------------------------------------------------

def say(be, customer, text, **kw):
    """Post as ``customer`` to shop s; the bot's last reply."""
    r = be.post_message("s", customer, text, **kw)
    return r["replies"][-1]


def order_events(be, key):
    """The order.updated events of order ``key``: their payloads."""
    return [e["payload"] for e in be.events(limit=500)
            if e["type"] == "order.updated" and e["key"] == key]


def test_cancel_after_a_yes_through_the_orders_service(backend):
    mall(backend)
    asked = say(backend, "buyer", "帮我取消订单")
    assert "确认取消订单 s-o-20261120-0002" in asked["body"]
    assert backend.get("orders", "s-o-20261120-0002")["status"] == "created"  # not yet
    done = say(backend, "buyer", "是的")
    assert done["sender"] == "bot" and "已取消" in done["body"]
    assert done["payload"]["done"] == "cancel"
    assert backend.get("orders", "s-o-20261120-0002")["status"] == "cancelled"
    [event] = order_events(backend, "s-o-20261120-0002")
    assert event["by"] == "bot" and event["action"] == "cancel" and event["from"] == "created"
    assert event["conversation"] == done["conversation"]
    again = say(backend, "buyer", "取消订单 s-o-20261120-0002")  # now: already cancelled
    assert "已经取消了" in again["body"]


@pytest.mark.parametrize("answer", ["不用了", "算了", "我再想想", "是不是还能便宜点", "no"])
def test_anything_but_yes_changes_nothing(backend, answer):
    mall(backend)
    say(backend, "buyer", "帮我取消订单")
    reply = say(backend, "buyer", answer)
    assert backend.get("orders", "s-o-20261120-0002")["status"] == "created"
    assert order_events(backend, "s-o-20261120-0002") == []
    assert reply["payload"].get("done") is None
    # and a yes after that is not taken as the confirmation any more
    say(backend, "buyer", "是")
    assert backend.get("orders", "s-o-20261120-0002")["status"] == "created"


def test_a_yes_after_the_timeout_does_nothing(backend, clock):
    mall(backend)
    say(backend, "buyer", "帮我取消订单")
    clock.advance(11 * 60)
    say(backend, "buyer", "确认")
    assert backend.get("orders", "s-o-20261120-0002")["status"] == "created"


def test_yes_words_in_their_variety(backend):
    mall(backend)
    for i, yes in enumerate(["好的", "對", "确认取消", "嗯嗯", "OK", "yes", "取消吧", "是的，亲"]):
        key = f"s-o-20261120-01{i:02d}"
        backend.create("orders", order(key, "buyer", "created", "2026-11-20", "dress-1"))
        say(backend, "buyer", f"取消订单 {key}")
        say(backend, "buyer", yes)
        assert backend.get("orders", key)["status"] == "cancelled", yes


def test_the_order_changed_before_the_yes_is_refused(backend):
    mall(backend)
    say(backend, "buyer", "取消订单 s-o-20261120-0002")
    backend.update("orders", "s-o-20261120-0002", {"status": "paid",
                                                   "paid_at": "2026-11-20T10:00:00+08:00"})
    reply = say(backend, "buyer", "是")
    assert "无法完成" in reply["body"] and reply["payload"]["refused"] == "paid"
    assert backend.get("orders", "s-o-20261120-0002")["status"] == "paid"


def test_change_the_address_in_two_turns(backend):
    mall(backend)
    asked = say(backend, "buyer", "昨天买的裙子地址写错了")
    assert "请发送新的收货地址" in asked["body"]
    confirm = say(backend, "buyer", "改成 上海市浦东新区世纪大道100号 13912345678")
    assert "收货地址改为「上海市浦东新区世纪大道100号」" in confirm["body"]
    assert "手机号改为 13912345678" in confirm["body"]
    done = say(backend, "buyer", "对的")
    assert "已修改订单 s-o-20261119-0001" in done["body"]
    o = backend.get("orders", "s-o-20261119-0001")
    assert (o["address"], o["phone"]) == ("上海市浦东新区世纪大道100号", "13912345678")
    [event] = order_events(backend, "s-o-20261119-0001")
    assert event["fields"] == ["address", "phone"] and event["by"] == "bot"


def test_which_order_then_confirm(backend):
    mall(backend)
    backend.create("orders", order("s-o-20261120-0005", "buyer", "created", "2026-11-20",
                                   "jeans-1"))
    which = say(backend, "buyer", "取消订单")
    assert "您想取消哪一个订单" in which["body"]
    assert [o["key"] for o in which["payload"]["options"]] == ["s-o-20261120-0005",
                                                              "s-o-20261120-0002"]
    confirm = say(backend, "buyer", "第二个")
    assert "确认取消订单 s-o-20261120-0002" in confirm["body"]
    say(backend, "buyer", "是")
    assert backend.get("orders", "s-o-20261120-0002")["status"] == "cancelled"
    assert backend.get("orders", "s-o-20261120-0005")["status"] == "created"


def test_after_sale_ticket_with_the_order_and_the_photos(backend):
    mall(backend, service_mode="bot_only")  # the photo, which the bot cannot read, keeps
    # the chat with the bot here (bot_first hands it to a person, who raises the ticket)
    photo = backend.post_message("s", "buyer", "[图片]", kind="image",
                                 payload={"url": "https://img.example.com/broken.jpg"})
    confirm = say(backend, "buyer", "收到的裙子破了，申请退货")
    assert "确认为订单 s-o-20261110-0003" in confirm["body"] and "商品破损" in confirm["body"]
    done = say(backend, "buyer", "确认")
    assert "已附上您发送的 1 张图片" in done["body"]
    ticket = backend.get_ticket(done["payload"]["ticket"])
    assert (ticket["order"], ticket["customer"], ticket["type"]) == (
        "s-o-20261110-0003", "buyer", "damaged_goods")
    assert ticket["conversation"] == done["conversation"]
    created = ticket["timeline"][0]["payload"]
    created = json.loads(created) if isinstance(created, str) else created
    assert created["by"] == "bot"
    assert created["attachments"] == [{"message": photo["message"]["id"], "kind": "image",
                                       "url": "https://img.example.com/broken.jpg"}]


def test_the_other_customer_cannot_be_acted_for_in_a_dialogue(backend):
    mall(backend)
    reply = say(backend, "buyer", "取消订单 s-o-20261118-0009")
    assert "只能查询和处理您本人的订单" in reply["body"]
    say(backend, "buyer", "是")
    assert backend.get("orders", "s-o-20261118-0009")["status"] == "created"
    assert order_events(backend, "s-o-20261118-0009") == []


def test_english_shop_answers_in_english(backend):
    mall(backend, languages=["en"])
    reply = say(backend, "buyer", "please cancel my order")
    assert reply["body"].startswith("Cancel order s-o-20261120-0002")
    done = say(backend, "buyer", "yes")
    assert done["body"] == "Order s-o-20261120-0002 is cancelled."


# -- the person's operations the bot goes through ------------------------------------------

def test_order_cancel_and_address_from_the_cli(shop_cli):
    cli = shop_cli
    out = cli.json("order", "cancel", "s-o-20261120-0002", "--by", "a", "--reason", "顾客来电")
    assert out["status"] == "cancelled"
    r = cli("order", "cancel", "s-o-20261119-0001")
    assert r.exit_code == 1 and "only an unpaid order can be cancelled" in r.output
    r = cli("order", "address", "s-o-20261116-0004", "--address", "北京市朝阳区建国路1号")
    assert r.exit_code == 1 and "only before it ships" in r.output
    r = cli("order", "address", "s-o-20261119-0001", "--phone", "12ab")
    assert r.exit_code == 1 and "not a phone number" in r.output
    r = cli("order", "address", "s-o-20261119-0001")
    assert r.exit_code == 2
    r = cli("order", "cancel", "s-o-20261118-0009", "--by", "b")  # another shop's agent
    assert r.exit_code == 1 and "does not work for shop" in r.output
    out = cli.json("order", "address", "s-o-20261119-0001", "--address", " 北京市朝阳区 建国路1号 ",
                   "--phone", "139-1234-5678", "--receiver", "王丽丽")
    assert (out["address"], out["phone"], out["receiver"]) == ("北京市朝阳区 建国路1号",
                                                               "13912345678", "王丽丽")
    assert cli.json("order", "show", "s-o-20261118-0009")["status"] == "created"
    r = cli("export", "--shop", "s", "--format", "json")
    assert r.exit_code == 0
    exported = json.loads(r.stdout)
    got = {o["key"]: o for o in exported["orders"]}
    assert got["s-o-20261119-0001"]["phone"] == "13912345678"


# -- over real HTTP, as the widget does ---------------------------------------------------------

def test_the_whole_dialogue_with_a_widget_token(db_path, clock):
    s = serve(db_path, clock)
    try:
        mall(s.backend)
        token = s.customer_token("s", "buyer")

        def post(text):
            r = s.http("POST", "/v1/shops/s/messages", token, json={"text": text})
            assert r.status_code == 200, r.text
            return r.json()["replies"][-1]

        assert "确认取消订单 s-o-20261120-0002" in post("幫我取消訂單")["body"]
        assert "已取消" in post("好的")["body"]
        assert post("取消订单 s-o-20261118-0009")["body"].count("只能查询和处理您本人的订单") == 1
        assert "已发货" in post("取消订单 s-o-20261116-0004")["body"]
        r = s.http("GET", "/v1/orders/s-o-20261120-0002", s.token("a"))
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert s.http("GET", "/v1/orders/s-o-20261118-0009").json()["status"] == "created"
        # the person's operation over HTTP: the agent of the shop, not the customer
        r = s.http("POST", "/v1/orders/s-o-20261119-0001/address", token,
                   json={"phone": "13700000000"})
        assert r.status_code == 403
        r = s.http("POST", "/v1/orders/s-o-20261119-0001/address", s.token("b"),
                   json={"phone": "13700000000"})
        assert r.status_code == 403
        r = s.http("POST", "/v1/orders/s-o-20261119-0001/address", s.token("a"),
                   json={"phone": "13700000000"})
        assert r.status_code == 200 and r.json()["phone"] == "13700000000"
        r = s.http("POST", "/v1/orders/s-o-20261116-0004/cancel", s.token("a"), json={})
        assert r.status_code == 409 and r.json()["error"]["key"] == "order_not_cancellable"
    finally:
        s.close()


def test_time_words_follow_the_clock(backend, clock):
    mall(backend)
    clock.set(parse_time("2026-11-21T09:00:00+08:00"))  # now 11-19 is 前天
    r = backend.ask_bot("前天买的连衣裙到哪了", shop="s", customer="buyer")
    assert r["flow"]["slots"]["order"] == "s-o-20261119-0001"


def test_an_old_order_of_their_own_is_found_by_its_number(backend):
    mall(backend)
    backend.apply({"orders": [order(f"s-o-202611{d:02d}-07{d:02d}", "buyer", "delivered",
                                    f"2026-11-{d:02d}", "dress-1") for d in range(1, 13)]
                   + [order("s-o-20261001-0001", "buyer", "created", "2026-10-01", "coat-1")]})
    r = backend.ask_bot("取消订单 s-o-20261001-0001", shop="s", customer="buyer")
    assert r["flow"]["step"] == "confirm" and "s-o-20261001-0001" in r["text"]
    say(backend, "buyer", "取消订单 s-o-20261001-0001")
    say(backend, "buyer", "是")
    assert backend.get("orders", "s-o-20261001-0001")["status"] == "cancelled"
    r = backend.ask_bot("s-o-20261118-0009 到哪了", shop="s", customer="buyer")
    assert r["flow"]["step"] == "not_found"


def test_a_no_to_an_address_change_is_not_a_yes(backend):
    mall(backend)
    say(backend, "buyer", "昨天那单手机号改成 13912345678")
    say(backend, "buyer", "取消吧")  # to a change of address: no
    assert backend.get("orders", "s-o-20261119-0001")["phone"] == "13800000000"


@pytest.mark.parametrize("text, step, order_key", [
    # homophone slips of 拼音 input, none of them in the lists of words
    ("麻烦把我的定单取消一下", "confirm", "s-o-20261120-0002"),       # 定单 for 订单
    ("我想取销今天那个订单", "confirm", "s-o-20261120-0002"),         # 取销 for 取消
    ("我作天买的裙子到那了", "progress", "s-o-20261119-0001"),        # 作天, 到那了
    ("坐天買的連衣裙物留怎么样", "progress", "s-o-20261119-0001"),    # Traditional and slips
    # when will it ship, about a named order (a time word, the goods)
    ("昨天買的東西什麼時候發貨", "progress", "s-o-20261119-0001"),
    ("昨天的訂單發貨了沒", "progress", "s-o-20261119-0001"),
    ("牛仔裤那单啥时候能到货", "progress", "s-o-20261116-0004"),
])
def test_homophone_slips_are_read_as_the_words_meant(shop_cli, text, step, order_key):
    r = ask(shop_cli, text)
    assert r["flow"]["name"] == "act" and r["flow"]["step"] == step, r
    assert r["flow"]["slots"]["order"] == order_key


def test_a_refusal_names_the_status_once(shop_cli):
    r = ask(shop_cli, "幫我取消訂單 s-o-20261116-0004")
    assert r["flow"]["step"] == "refused", r
    assert r["text"].count("已发货") == 2, r["text"]  # the summary's status and the reason
    assert "（已发货）" not in r["text"], r["text"]
