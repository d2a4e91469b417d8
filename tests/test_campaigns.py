"""Campaigns: every trigger, every guard, exactly-once decisions, stats and lift.

A day is replayed with a frozen clock: customers write and order at set times, then a
run-due pass runs "at" a time (``now``) and we check who got what, who was suppressed
and why.
"""

from __future__ import annotations

import json

import pytest

from cstool.backend.local import LocalBackend
from cstool.campaigns import rules
from cstool.campaigns.lift import lift, wilson
from cstool.campaigns.templates import render, variables_of
from cstool.errors import Conflict
from cstool.validation import FieldError
from cstool.values import parse_time


def at(hhmm: str, day: int = 20) -> int:
    """Epoch ms of 2026-11-<day> HH:MM Beijing time."""
    return parse_time(f"2026-11-{day:02d}T{hhmm}:00+08:00")


def iso(hhmm: str, day: int = 20) -> str:
    return f"2026-11-{day:02d}T{hhmm}:00+08:00"


CUSTOMERS = [
    {"key": "u1", "name": "王芳", "profiles": [{"shop": "s1", "level": 3, "tags": ["vip"],
                                               "region": "广东深圳"}]},
    {"key": "u2", "name": "李雷", "profiles": [{"shop": "s1", "level": 0, "region": "浙江杭州"}]},
    {"key": "u3", "name": "韩梅梅", "profiles": [{"shop": "s1", "level": 1}]},
    {"key": "u4", "name": "张伟", "profiles": [{"shop": "s1", "level": 2,
                                              "tags": ["sensitive"]}]},
    {"key": "u5", "name": "刘洋", "profiles": [{"shop": "s1", "level": 5}]},
]


def mall(b, *, quiet: str | None = "22:00-08:00", campaigns=(), orders=(), cap: int = 1,
         customers=CUSTOMERS, reachable: bool = True) -> None:
    """The shop, its customers, orders and campaigns. ``reachable``: every customer had a
    chat with the shop a week before (closed since), so a campaign message has a chat to
    go to (without one a send is ``undeliverable``)."""
    settings = {"quiet_hours": quiet, "campaign_cap": cap}
    b.apply({
        "shops": [{"key": "s1", "name": "翎衣女装", "service_mode": "human_first",
                   "settings": settings}],
        "agents": [{"handle": "a1", "name": "小美", "shops": ["s1"]}],
        "products": [
            {"key": "p1", "shop": "s1", "title": "法式连衣裙", "price": 199, "category": "连衣裙",
             "stock": 10},
            {"key": "p2", "shop": "s1", "title": "真皮腰带", "price": 39.9, "category": "配饰",
             "stock": 10},
        ],
        "coupons": [{"key": "c10", "shop": "s1", "name": "满100减10", "kind": "amount",
                     "amount": 10, "threshold": 100}],
        "customers": list(customers),
        "orders": list(orders),
        "campaigns": list(campaigns),
    })
    if reachable:
        past_chats(b, [c["key"] for c in customers])


def past_chats(b, customers) -> None:
    """A chat of each customer a week before, closed the same day (no trigger falls due
    from it any more)."""
    now = b.clock.now_ms()
    b.clock.set(at("10:00", 13))
    try:
        for key in customers:
            cid = b.post_message("s1", key, "在吗")["conversation"]["id"]
            b.close_conversation(cid)
    finally:
        b.clock.set(now)


def order(key, customer, status="created", created="09:00", *, day=20, items=("p1",), **times):
    rec = {"key": key, "shop": "s1", "customer": customer, "status": status,
           "created_at": iso(created, day), "items": [{"product": p} for p in items]}
    for name, value in times.items():
        timed = name.endswith("_at") and "T" not in value
        rec[name] = iso(value, day) if timed else value
    return rec


def campaign(key, trigger, template="{name}您好", **more):
    return {"key": key, "shop": "s1", "name": key, "trigger": trigger, "template": template,
            **more}


def sends(b, key=None) -> list[tuple]:
    """(campaign, customer, trigger, outcome, reason) of every decision, in order."""
    sql = ("SELECT c.key, cu.key, s.trigger_key, s.outcome, s.reason FROM campaign_sends s "
           "JOIN campaigns c ON c.id = s.campaign_id JOIN customers cu ON cu.id = "
           "s.customer_id")
    params: tuple = ()
    if key:
        sql += " WHERE c.key = ?"
        params = (key,)
    with b.database.read() as conn:
        return conn.execute(sql + " ORDER BY s.id", params).fetchall()


def sent_to(b, key=None) -> list[str]:
    return sorted(r[1] for r in sends(b, key) if r[3] == "sent")


def held_coupons(b, customer: str) -> list[str]:
    return [c["coupon"] for c in b.get("customers", customer).get("coupons", [])]


# -- the pure parts ---------------------------------------------------------------------------

def test_templates_check_variables_and_fill_missing_with_nothing():
    assert variables_of("{name}，{product}到手¥{price_after_discount}") == [
        "name", "product", "price_after_discount"]
    for bad, why in (("{nam}", "unknown variable {nam}"), ("{name", "expected '}'"),
                     ("{price:.2f}", "formats are not supported")):
        with pytest.raises(ValueError, match=why.replace("{", r"\{")):
            variables_of(bad)
    assert render("{name}的{coupon}", {"name": "王芳"}) == "王芳的"
    assert render("{{不是变量}}{name}", {"name": "x"}) == "{不是变量}x"


def test_opt_out_words():
    for text in ("退订", " 退订 ", "TD", "td", "T D", "Td"):
        assert rules.is_opt_out(text), text
    for text in ("我要退订单", "TDD", "怎么退订", ""):
        assert not rules.is_opt_out(text), text


def test_quiet_hours_span_midnight_in_shop_time():
    zone = "Asia/Shanghai"
    assert rules.quiet_until("22:00-08:00", at("21:59"), zone) is None
    assert rules.quiet_until("22:00-08:00", at("22:00"), zone) == at("08:00", 21)
    assert rules.quiet_until("22:00-08:00", at("03:00", 21), zone) == at("08:00", 21)
    assert rules.quiet_until("22:00-08:00", at("08:00", 21), zone) is None
    assert rules.quiet_until("12:00-13:30", at("12:10"), zone) == at("13:30")
    assert rules.quiet_until(None, at("23:00"), zone) is None
    # another zone: 22:00 in New York is 11:00 next day in Beijing
    assert rules.quiet_until("22:00-08:00", at("11:00", 21), "America/New_York") is not None


def test_holdout_is_stable_and_near_its_share():
    picks = [rules.in_holdout("camp", f"c{i}", 0.2) for i in range(10_000)]
    assert 0.18 < sum(picks) / len(picks) < 0.22
    assert picks == [rules.in_holdout("camp", f"c{i}", 0.2) for i in range(10_000)]
    assert not any(rules.in_holdout("camp", f"c{i}", 0) for i in range(1000))
    other = [rules.in_holdout("other", f"c{i}", 0.2) for i in range(10_000)]
    assert other != picks  # each campaign draws its own holdout


def test_lift_interval_matches_newcombe():
    # Newcombe (1998), Statistics in Medicine 17:873, table II: 56/70 vs 48/80, method 10
    out = lift(70, 56, 80, 48)
    assert out["lift"] == pytest.approx(0.2)
    assert out["lift_low"] == pytest.approx(0.0524, abs=5e-5)
    assert out["lift_high"] == pytest.approx(0.3339, abs=5e-5)
    assert out["significant"] is True
    # 9/10 vs 3/10: (0.1705, 0.8090)... the paper's example (c) for method 10
    out = lift(10, 9, 10, 3)
    assert (out["lift_low"], out["lift_high"]) == pytest.approx((0.1705, 0.8090), abs=5e-5)
    assert wilson(0, 10)[0] == 0.0
    assert lift(10, 1, 0, 0)["lift"] is None


# -- triggers ---------------------------------------------------------------------------------

def test_order_nudge_after_the_delay_into_the_consultation(backend, clock):
    mall(backend, campaigns=[campaign(
        "nudge", "order_nudge", "{name}，{product}券后到手¥{price_after_discount}，送您{coupon}",
        delay_min=5, coupon="c10")])
    clock.set(at("10:00"))
    conv = backend.post_message("s1", "u1", "这条裙子有M码吗", product="p1")["conversation"]["id"]
    backend.post_message("s1", "u2", "在吗")
    clock.set(at("10:03"))
    backend.create("orders", order("o2", "u2", created="10:03"))  # u2 ordered: no nudge
    clock.set(at("07:00"))
    backend.post_message("s1", "u3", "发什么快递")  # u3 asked at 07:00: stale by 10:05
    assert backend.run_due_campaigns(at("10:04"))["sent"] == 0
    out = backend.run_due_campaigns(at("10:05"))
    assert (out["due"], out["sent"]) == (1, 1)
    assert sent_to(backend) == ["u1"]
    msg = backend.get_conversation(conv)["messages"][-1]
    assert msg["sender"] == "system" and msg["kind"] == "coupon"
    assert msg["body"] == "王芳，法式连衣裙券后到手¥189，送您满100减10"
    assert msg["payload"]["campaign"] == "nudge" and msg["payload"]["issued"] is True
    assert held_coupons(backend, "u1") == ["c10"]
    assert backend.run_due_campaigns(at("10:06"))["due"] == 0  # decided once
    assert len(sends(backend)) == 1


def test_payment_reminder_once_per_order_never_after_payment(backend):
    mall(backend, cap=5, orders=[
        order("o1", "u1", created="09:00"),
        order("o2", "u2", status="paid", created="09:00", paid_at="09:20"),
        order("o3", "u1", created="09:10", items=("p2",)),
    ], campaigns=[campaign("pay", "payment_reminder", "{name}，订单{order}的{product}还未付款",
                           delay_min=30)])
    out = backend.run_due_campaigns(at("09:35"))
    assert out["sent"] == 1
    assert [r[2] for r in sends(backend)] == [f"order:{_order_id(backend, 'o1')}"]
    backend.run_due_campaigns(at("09:45"))
    assert [r[1:4] for r in sends(backend)] == [
        ("u1", f"order:{_order_id(backend, 'o1')}", "sent"),
        ("u1", f"order:{_order_id(backend, 'o3')}", "sent")]
    with backend.database.read() as conn:
        bodies = [r[0] for r in conn.execute("SELECT body FROM campaign_sends ORDER BY id")]
    assert bodies == ["王芳，订单o1的法式连衣裙还未付款", "王芳，订单o3的真皮腰带还未付款"]
    assert backend.run_due_campaigns(at("12:00"))["due"] == 0


def _order_id(b, key: str) -> int:
    with b.database.read() as conn:
        return conn.execute("SELECT id FROM orders WHERE key = ?", (key,)).fetchone()[0]


def test_shipped_notice_and_follow_up_off_by_default(backend):
    mall(backend, orders=[
        order("o1", "u1", status="shipped", created="08:00", paid_at="08:05",
              shipped_at="09:30", carrier="顺丰", tracking_no="SF1234567890"),
        order("o2", "u2", status="delivered", created="08:00", day=12, paid_at="08:05",
              shipped_at="12:00", delivered_at=iso("10:00", 13)),
    ], campaigns=[
        campaign("ship", "order_shipped", "订单{order}已由{carrier}发出，单号{tracking_no}"),
        campaign("follow", "follow_up", "{product}用得还好吗？"),
    ], reachable=False)
    past_chats(backend, ["u2"])  # u1 never chatted with the shop
    assert backend.get("campaigns", "follow")["status"] == "paused"
    backend.run_due_campaigns(at("09:40"))
    # no chat with the shop and no channel: nobody would read it, so not "sent"
    # (this test asserted a "sent" notice without a chat before honest sends)
    assert sends(backend) == [("ship", "u1", "order:1", "undeliverable", "no_channel")]
    with backend.database.read() as conn:
        body, conv = conn.execute("SELECT body, conversation_id FROM campaign_sends").fetchone()
    assert (body, conv) == (None, None)
    assert backend.campaign_stats("ship")["sent"] == 0
    backend.update("campaigns", "follow", {"status": "active"})
    # delivered 11-13 10:00 + 7 days = due 11-20 10:00, sendable for 72 h
    backend.run_due_campaigns(at("10:00"))
    assert sent_to(backend, "follow") == ["u2"]


def test_price_drop_on_a_carted_item(backend, clock):
    mall(backend, cap=1,
         campaigns=[campaign("drop", "price_drop", "{product}降价了，现价¥{price}")])
    backend.create("cart_items", {"key": "k1", "shop": "s1", "customer": "u1", "product": "p1",
                                  "added_at": iso("09:00")})
    backend.create("cart_items", {"key": "k2", "shop": "s1", "customer": "u2", "product": "p2",
                                  "added_at": iso("09:00")})
    assert backend.get("cart_items", "k1")["price"] == 199
    assert backend.run_due_campaigns(at("09:30"))["due"] == 0
    clock.set(at("09:40"))
    backend.update("products", "p1", {"price": 179.5})
    backend.run_due_campaigns(at("09:41"))
    with backend.database.read() as conn:
        assert conn.execute("SELECT body FROM campaign_sends").fetchall() == [
            ("法式连衣裙降价了，现价¥179.5",)]
    clock.set(at("12:00"))
    backend.update("products", "p1", {"price": 169})  # a further drop is a new trigger...
    backend.run_due_campaigns(at("12:01"))
    assert [r[3:] for r in sends(backend)] == [("sent", None),
                                               ("suppressed", "frequency_cap")]  # ...capped


def test_an_old_price_drop_does_not_come_back_with_an_unrelated_edit(backend, clock):
    mall(backend, cap=9, campaigns=[campaign("drop", "price_drop", "{product}降价了")])
    backend.create("cart_items", {"key": "k1", "shop": "s1", "customer": "u1", "product": "p1",
                                  "added_at": iso("09:00", 10)})
    clock.set(at("10:00", 14))
    backend.update("products", "p1", {"price": 179})  # due on the 14th, stale 72 h later
    clock.set(at("19:55", 20))
    backend.update("products", "p1", {"stock": 50})  # not a price change
    out = backend.run_due_campaigns(at("19:56", 20))
    assert (out["due"], sends(backend)) == (0, [])


def test_related_offer_after_an_order_in_its_categories(backend):
    mall(backend, cap=5, orders=[
        order("o1", "u1", status="paid", created="08:50", paid_at="09:00"),
        order("o2", "u2", status="paid", created="08:50", paid_at="09:00"),
        order("o0", "u2", status="delivered", created="08:00", day=1, paid_at="08:01",
              shipped_at="09:00", delivered_at="10:00", items=("p2",)),  # has the belt
        order("o3", "u3", status="paid", created="08:50", paid_at="09:00", items=("p2",)),
    ], campaigns=[campaign("belt", "related_offer", "搭配{product}只要¥{price}",
                           product="p2", categories=["连衣裙"], delay_min=60)])
    backend.run_due_campaigns(at("10:00"))
    assert sent_to(backend) == ["u1"]
    with backend.database.read() as conn:
        assert conn.execute("SELECT body FROM campaign_sends").fetchone()[0] == \
            "搭配真皮腰带只要¥39.9"


def test_reply_code_earns_its_coupon_once(backend, clock):
    mall(backend, campaigns=[campaign("code", "reply_code", "{name}，{coupon}已到账",
                                      code="VIP888", coupon="c10")])
    first = backend.post_message("s1", "u1", "vip888")
    conv = first["conversation"]["id"]
    card = [r for r in first["replies"] if r["kind"] == "coupon"]
    assert [c["body"] for c in card] == ["王芳，满100减10已到账"]
    assert card[0]["payload"]["coupon"] == "c10" and card[0]["payload"]["issued"] is True
    assert held_coupons(backend, "u1") == ["c10"]
    again = backend.post_message("s1", "u1", " VIP888 ")
    assert again["conversation"]["id"] == conv
    assert [r["body"] for r in again["replies"]] == ["您已领取过「满100减10」，每位顾客限领一次。"]
    assert held_coupons(backend, "u1") == ["c10"]
    stats = backend.campaign_stats("code")
    assert (stats["sent"], stats["decided"]) == (1, 1)
    backend.update("campaigns", "code", {"status": "paused"})
    later = backend.post_message("s1", "u2", "VIP888")
    assert not [r for r in later["replies"] if r["kind"] == "coupon"]
    assert held_coupons(backend, "u2") == []


def test_a_reply_code_is_unique_in_its_shop_whatever_the_case(backend):
    mall(backend, campaigns=[campaign("code", "reply_code", code="VIP888", coupon="c10")])
    with pytest.raises(Conflict, match="has reply code 'vip888' already"):
        backend.create("campaigns", campaign("code2", "reply_code", code="vip888",
                                             coupon="c10"))
    assert [c["key"] for c in backend.list("campaigns")] == ["code"]


def test_a_code_alone_is_no_consultation_and_a_held_coupon_is_not_given_twice(backend):
    mall(backend, cap=9, campaigns=[
        campaign("code", "reply_code", "{name}，{coupon}已到账", code="VIP888", coupon="c10"),
        campaign("nudge", "order_nudge")])
    backend.apply({"customers": [{"key": "u3", "name": "老顾客", "profiles": [{"shop": "s1"}],
                                  "coupons": [{"coupon": "c10"}]}]})
    first = backend.post_message("s1", "u1", "VIP888")
    assert first["conversation"]["state"] == "closed"  # answered: nobody's queue
    held = backend.post_message("s1", "u3", "VIP888")
    assert [r["body"] for r in held["replies"]] == ["您已持有「满100减10」，下单时可直接使用。"]
    out = backend.run_due_campaigns(at("10:06"))  # no 催拍 for chats that were only a code
    assert (out["sent"], out["suppressed"]) == (0, {})


def test_opt_out_is_respected_from_then_on(backend, clock):
    mall(backend, cap=5, orders=[order("o1", "u1", created="09:00"),
                                 order("o2", "u2", created="09:00")],
         campaigns=[campaign("pay", "payment_reminder", delay_min=30)], reachable=False)
    past_chats(backend, ["u2"])
    clock.set(at("08:00"))
    conv = backend.post_message("s1", "u1", "请问什么时候发货")["conversation"]["id"]
    backend.close_conversation(conv, reason="resolved")
    clock.set(at("09:10"))
    out = backend.post_message("s1", "u1", "TD")
    # no new chat for an opt-out: it lands in the customer's last one
    assert out["conversation"]["id"] == conv
    assert [r["body"] for r in out["replies"]] == [rules.OPT_OUT_REPLY]
    assert len(backend.list_conversations(shop="s1", customer="u1")) == 1
    backend.run_due_campaigns(at("09:30"))
    assert [(r[1], r[3], r[4]) for r in sends(backend)] == [("u1", "suppressed", "opted_out"),
                                                            ("u2", "sent", None)]
    events = [e["type"] for e in backend.events(after=0, limit=1000)]
    assert "customer.opted_out" in events


def test_an_opt_out_from_a_customer_who_never_chatted_reaches_no_queue(backend, clock):
    mall(backend, campaigns=[campaign("pay", "payment_reminder", delay_min=30)],
         reachable=False)
    backend.apply({"agents": [{"handle": "a", "name": "A", "shops": ["s1"],
                               "status": "offline"}]})
    clock.set(at("09:10"))
    out = backend.post_message("s1", "newcomer", "退订")
    assert [r["body"] for r in out["replies"]] == [rules.OPT_OUT_REPLY]
    assert (out["conversation"]["state"], out["conversation"]["assignee"]) == ("closed", None)
    assert backend.queue("s1") == []
    assert backend.set_agent_status("a", "online")["assigned"] == []
    # no inquiry either: the metrics leave it out
    assert backend.metrics_report(shop="s1")["total"]["conversations"] == 0


def test_an_opt_out_shows_on_the_customer_and_travels_through_export(backend, db_path,
                                                                     tmp_path, clock):
    mall(backend)
    backend.post_message("s1", "u1", "TD")
    profile = backend.get("customers", "u1")["profiles"][0]
    assert profile["opted_out_at"] == "2026-11-20T10:00:00+08:00"
    doc = backend.export()
    other = LocalBackend(tmp_path / "other.db", clock=clock)
    try:
        other.apply(doc)
        assert other.get("customers", "u1")["profiles"][0]["opted_out_at"] == \
            profile["opted_out_at"]
        # applying a file without the field keeps an opt-out made since
        other.apply({"customers": [{"key": "u1", "name": "王芳",
                                    "profiles": [{"shop": "s1"}]}]})
        assert other.get("customers", "u1")["profiles"][0]["opted_out_at"] is not None
    finally:
        other.close()


def test_frequency_cap_across_campaigns_and_its_window(backend):
    orders = [order("o1", "u1", created="09:00"),
              order("o2", "u1", status="shipped", created="08:00", paid_at="08:01",
                    shipped_at="09:30")]
    mall(backend, orders=orders, campaigns=[
        campaign("pay", "payment_reminder", delay_min=30),
        campaign("ship", "order_shipped")])
    out = backend.run_due_campaigns(at("09:31"))
    # both fall due by 09:31; the earlier (the reminder, due 09:30:00) wins the one slot
    assert (out["sent"], out["suppressed"]) == (1, {"frequency_cap": 1})
    assert [(r[0], r[3], r[4]) for r in sends(backend)] == [
        ("pay", "sent", None), ("ship", "suppressed", "frequency_cap")]
    backend.create("orders", order("o3", "u1", created="10:00", day=21))
    backend.run_due_campaigns(at("10:30", 21))  # > 24 h after the first send: room again
    assert sent_to(backend, "pay") == ["u1", "u1"]


def test_a_higher_cap_lets_both_through(backend):
    mall(backend, cap=2, orders=[
        order("o1", "u1", created="09:00"),
        order("o2", "u1", status="shipped", created="08:00", paid_at="08:01",
              shipped_at="09:30")], campaigns=[
        campaign("pay", "payment_reminder", delay_min=30), campaign("ship", "order_shipped")])
    assert backend.run_due_campaigns(at("09:31"))["sent"] == 2


def test_quiet_hours_defer_what_can_wait_and_drop_what_cannot(backend, clock):
    mall(backend, cap=5, orders=[order("o1", "u1", created="21:40")],
         campaigns=[campaign("pay", "payment_reminder", delay_min=30),
                    campaign("nudge", "order_nudge", delay_min=5)])
    clock.set(at("21:58"))
    backend.post_message("s1", "u2", "有优惠吗")
    out = backend.run_due_campaigns(at("22:15"))
    # the reminder (sendable for 24 h) waits for the morning; the nudge (2 h) would be
    # stale by 08:00, so it is dropped now and recorded as such
    assert (out["sent"], out["deferred"], out["suppressed"]) == (0, 1, {"quiet_hours": 1})
    assert [(r[0], r[1], r[3], r[4]) for r in sends(backend)] == [
        ("nudge", "u2", "suppressed", "quiet_hours")]
    assert backend.run_due_campaigns(at("07:59", 21))["deferred"] == 1
    assert backend.run_due_campaigns(at("08:00", 21))["sent"] == 1
    assert sent_to(backend, "pay") == ["u1"]


def test_no_sends_to_sensitive_customers_or_chats(backend, clock):
    mall(backend, cap=5, orders=[
        order("o1", "u1", created="09:00"),
        order("o2", "u2", created="09:00"),
        order("o2b", "u2", status="refund_requested", created="08:00", day=10, paid_at="08:01"),
        order("o3", "u3", created="09:00"),
        order("o4", "u4", created="09:00"),
        order("o5", "u5", created="09:00"),
    ], campaigns=[campaign("pay", "payment_reminder", delay_min=30)])
    clock.set(at("08:30"))
    c1 = backend.post_message("s1", "u1", "投诉")["conversation"]["id"]
    backend.create_ticket(type="complaint", title="发错颜色", shop="s1", conversation=c1)
    c3 = backend.post_message("s1", "u3", "你们怎么回事")["conversation"]["id"]
    assert backend.mark_sensitive(c3) == {"conversation": c3, "sensitive": True}
    backend.run_due_campaigns(at("09:30"))
    assert sorted((r[1], r[3], r[4]) for r in sends(backend)) == [
        ("u1", "suppressed", "sensitive"),  # open complaint ticket
        ("u2", "suppressed", "sensitive"),  # refund requested on another order
        ("u3", "suppressed", "sensitive"),  # the chat is tagged sensitive
        ("u4", "suppressed", "sensitive"),  # profile tag
        ("u5", "sent", None)]


def test_audience_filters(backend):
    orders = [order(f"o{i}", f"u{i}", created="09:00") for i in range(1, 6)]
    orders.append(order("o0", "u3", status="paid", created="08:00", day=1, paid_at="08:01"))
    mall(backend, cap=9, orders=orders, campaigns=[
        campaign("vip", "payment_reminder", min_level=2, tags=["vip", "sensitive"]),
        campaign("south", "payment_reminder", regions=["广东深圳"]),
        campaign("low", "payment_reminder", max_level=1),
        campaign("klass", "payment_reminder", classifications=["ordered_not_paid"]),
        campaign("paid", "payment_reminder", classifications=["paid"]),  # nobody
    ])
    first = backend.run_due_campaigns(at("09:30"))
    assert first["due"] == len(sends(backend))  # what the filters leave out is not due
    assert backend.run_due_campaigns(at("09:30"))["due"] == 0
    assert sent_to(backend, "vip") == ["u1"]  # u4 matches too but is sensitive-tagged
    assert [r[4] for r in sends(backend, "vip") if r[1] == "u4"] == ["sensitive"]
    assert sent_to(backend, "south") == ["u1"]
    assert sent_to(backend, "low") == ["u2", "u3"]
    # u3's newest order is unpaid: ordered_not_paid like the others
    assert sent_to(backend, "klass") == ["u1", "u2", "u3", "u5"]


def test_schedule_window_and_pause(backend):
    mall(backend, cap=9, orders=[order("o1", "u1", created="09:00"),
                                 order("o2", "u2", created="11:00")],
         campaigns=[campaign("pay", "payment_reminder", starts_at=iso("10:00"),
                             ends_at=iso("12:00"))])
    backend.run_due_campaigns(at("11:00"))  # o1 fell due at 09:30, before the window
    assert sends(backend) == []
    backend.update("campaigns", "pay", {"status": "paused"})
    backend.run_due_campaigns(at("11:31"))
    assert sends(backend) == []
    backend.update("campaigns", "pay", {"status": "active"})
    backend.run_due_campaigns(at("11:32"))
    assert sent_to(backend) == ["u2"]
    backend.create("orders", order("o3", "u3", created="11:45"))
    assert backend.run_due_campaigns(at("12:30"))["campaigns"] == 0  # window over


def test_what_falls_due_while_paused_is_not_sent_after_resume(backend, clock):
    mall(backend, cap=9, orders=[order("o1", "u1", created="10:50"),
                                 order("o2", "u2", created="11:15")],
         campaigns=[campaign("pay", "payment_reminder", delay_min=30)])
    clock.set(at("11:00"))
    backend.update("campaigns", "pay", {"status": "paused"})
    clock.set(at("11:40"))  # o1 fell due at 11:20, while paused
    backend.update("campaigns", "pay", {"status": "active"})
    backend.run_due_campaigns(at("11:41"))
    assert sends(backend) == []
    backend.run_due_campaigns(at("11:46"))  # o2 falls due at 11:45, after the resume
    assert sent_to(backend) == ["u2"]


def test_a_follow_up_campaign_switched_on_sends_nothing_for_past_deliveries(backend, clock):
    orders = [order("o1", "u1", status="delivered", created="09:00", day=12, paid_at="09:01",
                    shipped_at="10:00", delivered_at="10:00"),
              order("o2", "u2", status="delivered", created="09:00", day=15, paid_at="09:01",
                    shipped_at="10:00", delivered_at="10:00")]
    mall(backend, cap=9, orders=orders, campaigns=[campaign("zd", "follow_up")])
    assert backend.get("campaigns", "zd")["status"] == "paused"  # off by default
    clock.set(at("10:00", 20))
    backend.update("campaigns", "zd", {"status": "active"})
    backend.run_due_campaigns(at("10:01", 20))  # o1 fell due on the 19th: not sent now
    assert sends(backend) == []
    backend.run_due_campaigns(at("10:01", 22))  # o2 falls due on the 22nd: sent
    assert sent_to(backend) == ["u2"]


def test_a_send_whose_template_would_have_a_hole_is_suppressed(backend):
    # a 催拍 for a chat about no product: "券后¥" with nothing after it is not sent
    mall(backend, cap=9, campaigns=[campaign("nudge", "order_nudge",
                                             template="{name}，{product}券后¥{price}")])
    backend.post_message("s1", "u1", "在吗")
    out = backend.run_due_campaigns(at("10:06"))
    assert (out["sent"], out["suppressed"]) == (0, {"missing_value": 1})
    assert [(r[1], r[3], r[4]) for r in sends(backend)] == [("u1", "suppressed",
                                                             "missing_value")]


def test_holdout_gets_nothing_and_stays_out(backend):
    customers = [{"key": f"h{i:03d}", "name": f"顾客{i}", "profiles": [{"shop": "s1"}]}
                 for i in range(200)]
    orders = [order(f"o{i:03d}", f"h{i:03d}", created="09:00") for i in range(200)]
    mall(backend, cap=9, customers=customers, orders=orders,
         campaigns=[campaign("pay", "payment_reminder", holdout=0.3, coupon="c10")])
    out = backend.run_due_campaigns(at("09:30"))
    held = {r[1] for r in sends(backend) if r[3] == "holdout"}
    assert out["holdout"] == len(held) and 40 <= len(held) <= 80
    assert out["sent"] == 200 - len(held)
    assert all(held_coupons(backend, c) == [] for c in sorted(held)[:10])
    assert all(held_coupons(backend, c) == ["c10"] for c in sorted(
        {r[1] for r in sends(backend) if r[3] == "sent"})[:10])
    # a second trigger of the same campaign keeps each customer on their side
    backend.apply({"orders": [order(f"n{i:03d}", f"h{i:03d}", created="10:00")
                              for i in range(200)]})
    backend.run_due_campaigns(at("10:30"))
    again = {r[1] for r in sends(backend) if r[3] == "holdout"}
    assert again == held
    assert sum(1 for r in sends(backend) if r[3] == "holdout") == 2 * len(held)


def test_sends_without_chat_or_channel_are_undeliverable_not_sent(backend, clock, cli):
    """Honest sends: a customer with no chat with the shop and no channel gets nothing,
    so the decision is ``undeliverable`` (in either arm of the holdout): not counted as
    sent, no coupon, no place in the frequency cap, nothing in the lift."""
    customers = [{"key": f"h{i:02d}", "name": f"顾客{i}", "profiles": [{"shop": "s1"}]}
                 for i in range(40)]
    shipped = [order(f"s{i:02d}", f"h{i:02d}", status="shipped", created="08:00", day=19,
                     paid_at="08:01", shipped_at=iso("09:00")) for i in range(40)]
    mall(backend, cap=9, customers=customers, orders=shipped, reachable=False,
         campaigns=[campaign("ship", "order_shipped", "订单{order}已发货，送您{coupon}",
                             holdout=0.5, coupon="c10")])
    reachable = [f"h{i:02d}" for i in range(0, 40, 2)]  # every other customer chatted
    past_chats(backend, reachable)
    out = backend.run_due_campaigns(at("09:10"))
    rows = sends(backend)
    undeliverable = sorted(r[1] for r in rows if r[3] == "undeliverable")
    assert undeliverable == sorted(set(c["key"] for c in customers) - set(reachable))
    assert {r[4] for r in rows if r[3] == "undeliverable"} == {"no_channel"}
    sent = sorted(r[1] for r in rows if r[3] == "sent")
    held = sorted(r[1] for r in rows if r[3] == "holdout")
    assert sorted(sent + held) == reachable  # both arms hold reachable customers only
    assert (out["sent"], out["holdout"], out["undeliverable"]) == (len(sent), len(held), 20)
    assert all(held_coupons(backend, c) == [] for c in undeliverable)
    assert all(held_coupons(backend, c) == ["c10"] for c in sent)
    with backend.database.read() as conn:  # every "sent" has its message in a chat
        assert conn.execute("SELECT COUNT(*) FROM campaign_sends WHERE outcome = 'sent' "
                            "AND message_id IS NULL").fetchone()[0] == 0
    buys = [order(f"b{c}", c, status="paid", created="12:00", paid_at="12:01")
            for c in undeliverable[:5] + sent[:2]]
    backend.apply({"orders": buys})
    s = backend.campaign_stats("ship")
    assert (s["sent"], s["holdout"], s["undeliverable"]) == (len(sent), len(held), 20)
    assert (s["delivered"], s["read"], s["failed"]) == (0, 0, 0)
    assert s["conversions"] == 2  # the undeliverable customers' orders are not the send's
    assert s["decided"] == 40
    assert s["lift"] == pytest.approx(lift(len(sent), 2, len(held), 0)["lift"])
    assert sorted(r["customer"] for r in backend.campaign_sends(
        "ship", outcome="undeliverable")) == undeliverable
    kinds = [e["type"] for e in backend.events(limit=1000, shop="s1")]
    assert kinds.count("campaign.undeliverable") == 20
    assert kinds.count("campaign.sent") == len(sent)
    shown = cli("campaign", "stats", "ship").stdout
    assert "undeliverable: 20" in shown and "delivered / read / failed: 0 / 0 / 0" in shown


def test_stats_count_conversions_in_the_window_and_lift(backend, clock, cli):
    customers = [{"key": f"h{i:02d}", "name": f"顾客{i}", "profiles": [{"shop": "s1"}]}
                 for i in range(60)]
    shipped = [order(f"s{i:02d}", f"h{i:02d}", status="shipped", created="08:00", day=19,
                     paid_at="08:01", shipped_at=iso("09:00")) for i in range(60)]
    mall(backend, cap=9, customers=customers, orders=shipped,
         campaigns=[campaign("ship", "order_shipped", holdout=0.5)])
    backend.run_due_campaigns(at("09:10"))
    sent = sorted(r[1] for r in sends(backend) if r[3] == "sent")
    held = sorted(r[1] for r in sends(backend) if r[3] == "holdout")
    assert len(sent) + len(held) == 60 and sent and held
    buys = []
    for i, c in enumerate(sent[:6]):  # 6 treated buy within 24 h, one of them twice
        buys.append(order(f"b{i}", c, status="paid", created="12:00", paid_at="12:01"))
    buys.append(order("b-late", sent[6], status="paid", created="10:00", day=21,
                      paid_at="10:01"))  # after the window
    buys.append(order("b-cancel", sent[7], status="cancelled", created="12:00"))
    buys.append(order("b-twice", sent[0], status="created", created="13:00"))
    buys.append(order("h-buy", held[0], status="paid", created="12:00", paid_at="12:01"))
    backend.apply({"orders": buys})
    s = backend.campaign_stats("ship")
    assert (s["sent"], s["holdout"], s["suppressed"]) == (len(sent), len(held), 0)
    assert s["conversions"] == 6 and s["holdout_conversions"] == 1
    assert s["orders"] == 7 and s["sales"] == 7 * 199
    assert s["conversion_rate"] == pytest.approx(6 / len(sent))
    assert s["holdout_conversion_rate"] == pytest.approx(1 / len(held))
    expected = lift(len(sent), 6, len(held), 1)
    assert (s["lift"], s["lift_low"], s["lift_high"]) == pytest.approx(
        (expected["lift"], expected["lift_low"], expected["lift_high"]))
    assert backend.campaign_stats("ship", since=iso("10:00"))["decided"] == 0
    # the table says the share actually held out, and the relative lift
    shown = cli("campaign", "stats", "ship").stdout
    n = len(sent) + len(held)
    assert f"held out: {len(held)} of {n} ({len(held) / n:.1%}; set share 50%)" in shown
    assert f"{expected['relative_lift'] * 100:+.0f}% relative" in shown


def test_payment_reminder_converts_when_that_order_is_paid(backend, clock):
    mall(backend, cap=9, orders=[order("o1", "u1", created="09:00"),
                                 order("o2", "u2", created="09:00")],
         campaigns=[campaign("pay", "payment_reminder")])
    backend.run_due_campaigns(at("09:30"))
    clock.set(at("09:50"))
    backend.update("orders", "o1", {"status": "paid", "paid_at": iso("09:50")})
    backend.create("orders", order("o9", "u2", status="paid", created="10:00", paid_at="10:00",
                                   items=("p2",)))  # another order is not the reminded one
    s = backend.campaign_stats("pay")
    assert (s["sent"], s["conversions"], s["orders"], s["sales"]) == (2, 1, 1, 199)


# -- records, refusals ------------------------------------------------------------------------

@pytest.mark.parametrize(("record", "field", "message"), [
    ({"trigger": "reply_code", "coupon": "c10"}, "code", "is required"),
    ({"trigger": "reply_code", "code": "退订", "coupon": "c10"}, "code", "opt-out"),
    ({"trigger": "reply_code", "code": "两个 词", "coupon": "c10"}, "code", "one word"),
    ({"trigger": "reply_code", "code": "X1"}, "coupon", "is required"),
    ({"trigger": "order_nudge", "code": "X1"}, "code", "only a reply_code"),
    ({"trigger": "related_offer"}, "product", "is required"),
    ({"trigger": "order_nudge", "template": "{nam}"}, "template", "unknown variable"),
    ({"trigger": "order_nudge", "template": "  "}, "template", "is empty"),
    ({"trigger": "order_nudge", "min_level": 3, "max_level": 1}, "max_level", "below"),
    ({"trigger": "order_nudge", "holdout": 0.95}, "holdout", ""),
    ({"trigger": "order_nudge", "classifications": ["vip"]}, "classifications[0]", "not one"),
    ({"trigger": "order_nudge", "coupon": "other-shop"}, "coupon", "belongs to shop"),
    ({"trigger": "nudge"}, "trigger", "not one of"),
])
def test_bad_campaigns_are_refused_with_the_field(backend, record, field, message):
    mall(backend)
    backend.apply({"shops": [{"key": "s2", "name": "另一家"}],
                   "coupons": [{"key": "other-shop", "shop": "s2", "name": "券",
                                "kind": "amount", "amount": 5}]})
    rec = {"key": "bad", "shop": "s1", "name": "坏", "template": "hi", **record}
    with pytest.raises(FieldError) as e:
        backend.create("campaigns", rec)
    assert e.value.path == field and message in str(e.value)
    assert backend.list("campaigns") == []


def test_a_campaign_with_decisions_is_paused_not_removed(backend):
    mall(backend, orders=[order("o1", "u1")], campaigns=[campaign("pay", "payment_reminder")])
    backend.run_due_campaigns(at("09:30"))
    with pytest.raises(Conflict, match="pause it instead"):
        backend.delete("campaigns", "pay")
    backend.create("campaigns", campaign("spare", "order_nudge"))
    backend.delete("campaigns", "spare")


def test_worker_pass_runs_the_campaigns(backend, clock):
    from cstool.worker import Worker

    mall(backend, orders=[order("o1", "u1")], campaigns=[campaign("pay", "payment_reminder")])
    clock.set(at("09:31"))
    result = Worker(backend).run_once()
    assert result["campaigns"]["sent"] == 1


# -- the CLI ----------------------------------------------------------------------------------

def _cli_mall(cli, tmp_path):
    doc = {
        "shops": [{"key": "s1", "name": "翎衣女装", "settings": {"quiet_hours": None}}],
        "products": [{"key": "p1", "shop": "s1", "title": "连衣裙", "price": 199}],
        "coupons": [{"key": "c10", "shop": "s1", "name": "满100减10", "kind": "amount",
                     "amount": 10, "threshold": 100}],
        "customers": [{"key": "u1", "name": "王芳", "profiles": [{"shop": "s1"}]}],
        "orders": [order("o1", "u1", created="09:00")],
    }
    path = tmp_path / "mall.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert cli("apply", "-f", str(path)).exit_code == 0


def test_cli_campaign_lifecycle(cli, tmp_path):
    _cli_mall(cli, tmp_path)
    # the customer has a chat with the shop: a message reaches them there
    assert cli("conv", "post", "--shop", "s1", "--customer", "u1", "在吗").exit_code == 0
    made = cli.json("campaign", "create", "pay", "--shop", "s1", "--name", "催付",
                    "--trigger", "payment_reminder", "--template", "{name}，订单{order}待付款",
                    "--delay-min", "30", "--holdout", "0")
    assert made["status"] == "active" and made["delay_min"] == 30
    assert [c["key"] for c in cli.json("campaign", "list", "--shop", "s1")] == ["pay"]
    assert cli.json("campaign", "pause", "pay")["status"] == "paused"
    assert cli.json("campaign", "run-due", "--now", iso("09:40"))["campaigns"] == 0
    assert cli.json("campaign", "resume", "pay")["status"] == "active"
    out = cli.json("campaign", "run-due", "--now", iso("09:40"))
    assert (out["campaigns"], out["sent"]) == (1, 1)
    again = cli("campaign", "run-due", "--now", iso("09:41"))
    assert again.exit_code == 0 and "0 sent" in again.stderr
    rows = cli.json("campaign", "sends", "pay")
    assert [(r["customer"], r["outcome"], r["order"], r["body"], r["at"]) for r in rows] == [
        ("u1", "sent", "o1", "王芳，订单o1待付款", iso("09:40"))]
    assert cli.json("campaign", "sends", "pay", "--outcome", "suppressed") == []
    bad = cli("campaign", "sends", "pay", "--outcome", "maybe")
    assert bad.exit_code == 1 and "outcome: one of" in bad.stderr
    stats = cli.json("campaign", "stats", "pay")
    assert (stats["sent"], stats["conversions"], stats["lift"]) == (1, 0, None)
    shown = cli("campaign", "stats", "pay")
    assert shown.exit_code == 0 and "n/a (no holdout)" in shown.stdout
    refused = cli("campaign", "remove", "pay")
    assert refused.exit_code == 1 and "pause it instead" in refused.stderr
    moved = cli("campaign", "update", "pay", "--trigger", "order_shipped")
    assert moved.exit_code == 1 and "has decisions under trigger 'payment_reminder'" in \
        moved.stderr
    assert cli.json("campaign", "update", "pay", "--template", "{name}，快付款")["template"] == \
        "{name}，快付款"


@pytest.mark.parametrize(("args", "code", "message"), [
    (["campaign", "create", "x", "--shop", "s1", "--name", "x", "--trigger", "order_nudge",
      "--template", "{who}"], 1, "template: unknown variable {who}"),
    (["campaign", "create", "x", "--shop", "s1", "--name", "x", "--trigger", "nudge",
      "--template", "hi"], 2, "nudge"),
    (["campaign", "run-due", "--now", "yesterday"], 2, "now:"),
    (["campaign", "create", "x", "--shop", "s1", "--name", "x", "--trigger", "order_nudge",
      "--template", "{name}, 运单{tracking_no}"], 1,
     "trigger order_nudge has no {tracking_no} to fill"),
    (["campaign", "stats", "nope"], 1, "no campaign 'nope'"),
    (["campaign", "pause", "nope"], 1, "nope"),
    (["conv", "sensitive", "999"], 1, "999"),
])
def test_cli_bad_input_is_one_line_and_changes_nothing(cli, tmp_path, args, code, message):
    _cli_mall(cli, tmp_path)
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert cli.json("campaign", "list") == []


def test_campaigns_and_carts_travel_through_apply_and_export(cli, tmp_path):
    _cli_mall(cli, tmp_path)
    doc = {"cart_items": [{"key": "k1", "shop": "s1", "customer": "u1", "product": "p1",
                           "added_at": iso("09:00")}],
           "campaigns": [campaign("code", "reply_code", "{coupon}到账", code="双11",
                                  coupon="c10", holdout=0),
                         campaign("drop", "price_drop", "{product}降价", tags=["vip"])]}
    path = tmp_path / "camp.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert cli("apply", "-f", str(path)).exit_code == 0
    result = cli("export", "--format", "json")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert [c["key"] for c in exported["campaigns"]] == ["code", "drop"]
    assert exported["cart_items"][0]["price"] == 199
    out = tmp_path / "out.json"
    out.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    again = cli("apply", "-f", str(out))
    assert again.exit_code == 0 and "0 created, 0 updated" in again.stderr
