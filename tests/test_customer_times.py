"""Times a customer is shown are in the shop's zone (here Los Angeles), whatever the
machine's zone (UTC here) or the staff's display zone (Shanghai in the tests)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cstool.values import parse_time

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def shop(backend):
    backend.apply({
        "shops": [{"key": "s", "name": "洛城小铺", "timezone": "America/Los_Angeles",
                   "service_mode": "human_first", "settings": {"quiet_hours": None}}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 5}],
        "products": [{"key": "p", "shop": "s", "title": "羽绒服", "price": 599}],
        "coupons": [{"key": "c", "shop": "s", "name": "满500减50", "kind": "amount",
                     "amount": 50, "threshold": 500,
                     "valid_to": "2026-11-30T23:59:00-08:00"}],
        "customers": [{"key": "k", "name": "王丽", "profiles": [{"shop": "s"}]}],
    })
    conv = backend.post_message("s", "k", "在吗")["conversation"]
    return backend, conv["id"]


def test_a_ticket_promise_is_in_the_shops_time(shop):
    b, conv = shop
    t = b.create_ticket(type="complaint", title="衣服破了", conversation=conv, by="a")
    due = datetime.fromisoformat(t["first_response_due"])
    assert due.utcoffset().total_seconds() == 8 * 3600  # staff: the display zone
    told = b.get_conversation(conv)["messages"][-1]["body"]
    local = due.astimezone(LA).strftime("%Y-%m-%d %H:%M")
    assert f"我们会在 {local} 前联系您" in told
    assert due.strftime("%Y-%m-%d %H:%M") not in told


def test_a_coupon_card_and_an_invitation_carry_the_shops_time(shop):
    b, conv = shop
    b.accept_next("a")
    card = b.send_card("a", conv, "coupon", "c")["payload"]
    assert card["valid_to"] == "2026-11-30T23:59:00-08:00"
    inv = b.invite(conv, "a", "p")["payload"]
    quoted = datetime.fromisoformat(inv["quoted_at"])
    assert quoted.utcoffset().total_seconds() == -8 * 3600
    assert int(quoted.timestamp() * 1000) == b.clock.now_ms()


def test_a_campaign_coupon_card_is_in_the_shops_time(shop):
    b, _ = shop
    b.apply({"campaigns": [{"key": "pay", "shop": "s", "name": "催付",
                            "trigger": "payment_reminder", "template": "{name}，送您{coupon}",
                            "coupon": "c"}],
             "orders": [{"key": "o1", "shop": "s", "customer": "k", "status": "created",
                         "created_at": "2026-11-20T09:00:00+08:00",
                         "items": [{"product": "p", "price": 599}]}]})
    out = b.run_due_campaigns(parse_time("2026-11-20T10:00:00+08:00"))
    assert out["sent"] == 1
    sent = b.campaign_sends("pay")
    assert sent, out
    msgs = [m for c in b.list_conversations(customer="k")
            for m in b.get_conversation(c["id"])["messages"]
            if (m.get("payload") or {}).get("campaign") == "pay"]
    assert msgs and msgs[0]["payload"]["valid_to"] == "2026-11-30T23:59:00-08:00"
