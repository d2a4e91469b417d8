"""The Backend contract: every operation, run against every backend.

Each backend of ``tests.contract_support.BACKENDS`` (``local``: the Local backend on a
fresh file; ``remote``: the Remote backend against a real uvicorn on 127.0.0.1 serving a
fresh file, with an admin token) must pass the same tests with the same results and the
same errors. These tests need an empty store each; tests/test_contract_ops.py covers
every operation of the table on a store shared by its tests.
"""

from __future__ import annotations

import pytest

from cstool.backend.local import LocalBackend
from cstool.errors import Conflict, InvalidInput, NotFound, UsageError
from cstool.storage.migrations import LATEST
from cstool.validation import FieldError

from .contract_support import BACKENDS


@pytest.fixture(params=sorted(BACKENDS))
def be(request, tmp_path, clock):
    """Each backend in turn (tests/contract_support.py), on a fresh store."""
    store = BACKENDS[request.param](tmp_path, clock)
    try:
        yield store.backend
    finally:
        store.close()


def seed(be) -> None:
    be.create("shops", {"key": "lf", "name": "翎衣女装", "service_mode": "bot_first"})
    be.create("groups", {"key": "lf-pre", "shop": "lf", "name": "售前组", "kind": "presale"})
    be.create("agents", {"handle": "xm", "name": "小美", "shops": ["lf"], "groups": ["lf-pre"]})
    be.create("products", {"key": "dress", "shop": "lf", "title": "连衣裙", "price": 299})
    be.create("coupons", {"key": "c20", "shop": "lf", "name": "满200减20", "kind": "amount",
                          "amount": 20, "threshold": 200})
    be.create("customers", {"key": "wl", "name": "王丽",
                            "profiles": [{"shop": "lf", "level": 3, "tags": ["vip"]}],
                            "coupons": [{"coupon": "c20"}]})


def test_create_get_round_trip(be):
    seed(be)
    assert be.get("shops", "lf")["service_mode"] == "bot_first"
    assert be.get("shops", "lf")["settings"]["response_target_s"] == 180
    agent = be.get("agents", "xm")
    assert agent["shops"] == ["lf"] and agent["groups"] == ["lf-pre"]
    assert agent["max_chats"] == 5 and agent["status"] == "offline"
    cust = be.get("customers", "wl")
    assert cust["profiles"] == [{"shop": "lf", "level": 3, "tags": ["vip"]}]
    assert cust["coupons"] == [{"coupon": "c20"}]


def test_money_is_exact(be):
    seed(be)
    be.create("products", {"key": "sock", "shop": "lf", "title": "袜子", "price": "19.9"})
    assert be.get("products", "sock")["price"] == 19.9
    be.create("orders", {
        "key": "o1", "shop": "lf", "customer": "wl", "status": "created",
        "created_at": "2026-11-11T00:00:00+08:00",
        "items": [{"product": "sock", "quantity": 3}], "discount": 0.7,
    })
    stats = be.customer_stats("wl")
    assert stats[0]["orders"] == 1 and stats[0]["paid_orders"] == 0
    assert be.get("orders", "o1")["items"][0]["price"] == 19.9


def test_create_refuses_existing_key(be):
    seed(be)
    with pytest.raises(Conflict, match="exists already"):
        be.create("shops", {"key": "lf", "name": "again"})


def test_unknown_references_are_refused(be):
    seed(be)
    with pytest.raises(FieldError, match="unknown group 'nope'"):
        be.create("agents", {"handle": "a2", "name": "A", "shops": ["lf"], "groups": ["nope"]})
    with pytest.raises(FieldError, match="unknown shop 'x'"):
        be.create("products", {"key": "p", "shop": "x", "title": "t", "price": 1})


def test_group_of_another_shop_is_refused(be):
    seed(be)
    be.create("shops", {"key": "mb", "name": "母婴"})
    with pytest.raises(FieldError, match="not among the agent's shops"):
        be.create("agents", {"handle": "a2", "name": "A", "shops": ["mb"], "groups": ["lf-pre"]})


def test_update_changes_only_given_fields_and_records_event(be):
    seed(be)
    before = be.events(after=0, limit=1000)[-1]["id"]
    out = be.update("products", "dress", {"price": 259, "stock": 7})
    assert out["price"] == 259 and out["stock"] == 7 and out["title"] == "连衣裙"
    evs = be.events(after=before)
    assert [(e["type"], e["key"], e["payload"]["fields"]) for e in evs] == [
        ("product.updated", "dress", ["price", "stock"])
    ]


def test_update_without_change_records_nothing(be):
    seed(be)
    before = be.events(after=0, limit=1000)[-1]["id"]
    be.update("products", "dress", {"price": 299})
    assert be.events(after=before) == []


def test_update_cannot_change_key_and_clears_with_none(be):
    seed(be)
    with pytest.raises(UsageError):
        be.update("shops", "lf", {"key": "other"})
    be.update("products", "dress", {"category": "连衣裙"})
    assert be.update("products", "dress", {"category": None}).get("category") is None


def test_failed_write_leaves_no_event_and_no_row(be):
    seed(be)
    n = len(be.events(after=0, limit=1000))
    with pytest.raises(InvalidInput):
        be.create("products", {"key": "bad", "shop": "lf", "title": "t", "price": -1})
    assert len(be.events(after=0, limit=1000)) == n
    with pytest.raises(NotFound):
        be.get("products", "bad")


def test_delete_refused_while_used_then_allowed(be):
    seed(be)
    with pytest.raises(Conflict, match="still used by"):
        be.delete("shops", "lf")
    with pytest.raises(Conflict, match="1 customer holding it"):
        be.delete("coupons", "c20")
    be.update("customers", "wl", {"coupons": []})
    be.delete("coupons", "c20")
    with pytest.raises(NotFound):
        be.get("coupons", "c20")
    assert be.events(after=0, limit=1000)[-1]["type"] == "coupon.deleted"


def test_get_and_delete_unknown(be):
    with pytest.raises(NotFound):
        be.get("shops", "none")
    with pytest.raises(NotFound):
        be.delete("shops", "none")
    with pytest.raises(UsageError):
        be.get("spaceships", "x")


def test_list_by_shop_and_cursor(be):
    seed(be)
    be.create("shops", {"key": "mb", "name": "母婴"})
    for i in range(5):
        be.create("products", {"key": f"p{i}", "shop": "mb", "title": f"奶瓶{i}", "price": 10})
    assert [p["key"] for p in be.list("products", shop="mb")] == [f"p{i}" for i in range(5)]
    page1 = be.list("products", shop="mb", limit=2)
    page2 = be.list("products", shop="mb", limit=2, after=page1[-1]["key"])
    assert [p["key"] for p in page1 + page2] == ["p0", "p1", "p2", "p3"]
    assert [a["handle"] for a in be.list("agents", shop="lf")] == ["xm"]
    assert be.list("agents", shop="mb") == []
    assert [c["key"] for c in be.list("customers", shop="lf")] == ["wl"]
    with pytest.raises(NotFound):
        be.list("products", shop="nope")


def test_apply_is_idempotent_and_all_or_nothing(be):
    doc = {
        "shops": [{"key": "s", "name": "店"}],
        "products": [{"key": "p", "shop": "s", "title": "t", "price": 1}],
    }
    first = be.apply(doc)
    assert (first.count("create"), first.count("update")) == (2, 0)
    again = be.apply(doc)
    assert (again.count("create"), again.count("update"), again.count("unchanged")) == (0, 0, 2)
    bad = {
        "shops": [{"key": "s2", "name": "新店"}],
        "products": [{"key": "p", "shop": "s", "title": "t", "price": 2},
                     {"key": "q", "shop": "zz", "title": "t", "price": 1}],
    }
    with pytest.raises(FieldError) as e:
        be.apply(bad)
    assert e.value.path == "products[1].shop"
    assert [s["key"] for s in be.list("shops")] == ["s"]
    assert be.get("products", "p")["price"] == 1


def test_apply_dry_run_changes_nothing(be):
    be.apply({"shops": [{"key": "s", "name": "店"}]})
    result = be.apply({"shops": [{"key": "s", "name": "新名"}, {"key": "t", "name": "T"}]},
                      dry_run=True)
    assert [(c.key, c.action, c.fields) for c in result.changes] == [
        ("s", "update", ["name"]), ("t", "create", [])]
    assert be.get("shops", "s")["name"] == "店"
    with pytest.raises(NotFound):
        be.get("shops", "t")


def test_apply_refers_within_the_document(be):
    result = be.apply({
        "agents": [{"handle": "a", "name": "A", "shops": ["s"], "groups": ["g"]}],
        "groups": [{"key": "g", "shop": "s", "name": "G"}],
        "shops": [{"key": "s", "name": "S"}],
    })
    assert result.count("create") == 3


def test_export_round_trip(be, tmp_path, clock):
    seed(be)
    be.create("orders", {
        "key": "o1", "shop": "lf", "customer": "wl", "status": "delivered",
        "created_at": "2026-11-11T00:00:00+08:00", "paid_at": "2026-11-11T00:01:00+08:00",
        "shipped_at": "2026-11-11T12:00:00+08:00", "delivered_at": "2026-11-13T09:30:00+08:00",
        "items": [{"product": "dress", "quantity": 1, "price": 269}], "discount": 20,
        "logistics": [{"at": "2026-11-11T12:00:00+08:00", "status": "已揽收"}],
    })
    exported = be.export()
    other = LocalBackend(tmp_path / "other.db", clock=clock)
    try:
        other.apply(exported)
        assert other.export() == exported
    finally:
        other.close()


def test_export_one_shop_is_self_contained(be, tmp_path, clock):
    seed(be)
    be.create("shops", {"key": "mb", "name": "母婴"})
    be.create("groups", {"key": "mb-pre", "shop": "mb", "name": "售前"})
    be.update("agents", "xm", {"shops": ["lf", "mb"], "groups": ["lf-pre", "mb-pre"]})
    part = be.export(shop="mb")
    assert [a["groups"] for a in part["agents"]] == [["mb-pre"]]
    other = LocalBackend(tmp_path / "other.db", clock=clock)
    try:
        other.apply(part)
        assert other.export() == part
    finally:
        other.close()


def test_events_are_ordered_and_filtered_by_shop(be):
    seed(be)
    be.create("shops", {"key": "mb", "name": "母婴"})
    be.create("products", {"key": "bottle", "shop": "mb", "title": "奶瓶", "price": 59})
    evs = be.events(after=0, limit=1000)
    assert [e["id"] for e in evs] == sorted(e["id"] for e in evs)
    assert [e["type"] for e in be.events(shop="mb")] == ["shop.created", "product.created"]
    assert be.events(after=evs[-1]["id"]) == []
    assert len(be.events(after=0, limit=2)) == 2


def test_bulk_load_and_stats(be):
    seed(be)
    n = be.bulk_load("customers", [
        {"key": f"bc{i}", "name": "客", "profiles": [{"shop": "lf", "level": 1}]}
        for i in range(50)
    ])
    assert n == 50
    be.bulk_load("orders", [{
        "key": "bo1", "shop": "lf", "customer": "bc7", "status": "paid",
        "created_at": 1_700_000_000_000, "paid_at": 1_700_000_060_000,
        "items": [{"product": "dress", "quantity": 2, "price": 29900}], "discount": 1000,
    }])
    assert be.customer_stats("bc7")[0]["spend"] == 588
    assert be.get("customers", "bc49")["profiles"][0]["level"] == 1
    assert be.events(after=0, limit=1000)[-1]["type"] == "bulk.loaded"


def test_info_reports_schema_and_counts(be):
    seed(be)
    data = be.info()
    assert data["schema_version"] == data["latest_schema_version"] == LATEST
    assert data["journal_mode"] == "wal"
    assert data["tables"]["shops"] == 1 and data["tables"]["agents"] == 1


def test_campaigns_run_due_stats_and_sensitive(be):
    seed(be)
    be.apply({
        "shops": [{"key": "lf", "name": "翎衣女装", "service_mode": "bot_first",
                   "settings": {"quiet_hours": None}}],
        "orders": [{"key": "o1", "shop": "lf", "customer": "wl", "status": "created",
                    "created_at": "2026-11-20T09:00:00+08:00", "items": [{"product": "dress"}]}],
        "cart_items": [{"key": "k1", "shop": "lf", "customer": "wl", "product": "dress",
                        "added_at": "2026-11-20T08:00:00+08:00"}],
        "campaigns": [{"key": "pay", "shop": "lf", "name": "催付", "trigger": "payment_reminder",
                       "template": "{name}，订单{order}的{product}待付款"}],
    })
    assert be.get("cart_items", "k1")["price"] == 299
    # the customer has a chat with the shop (closed): the reminder has somewhere to go
    be.close_conversation(be.post_message("lf", "wl", "在吗")["conversation"]["id"])
    out = be.run_due_campaigns("2026-11-20T09:30:00+08:00")
    assert (out["campaigns"], out["due"], out["sent"], out["suppressed"]) == (1, 1, 1, {})
    assert be.run_due_campaigns("2026-11-20T09:31:00+08:00")["due"] == 0
    stats = be.campaign_stats("pay")
    assert (stats["sent"], stats["conversions"], stats["shop"]) == (1, 0, "lf")
    assert be.campaign_stats("pay", since="2026-11-21T00:00:00+08:00")["sent"] == 0
    [decided] = be.campaign_sends("pay")
    assert (decided["customer"], decided["outcome"], decided["order"], decided["body"]) == (
        "wl", "sent", "o1", "王丽，订单o1的连衣裙待付款")
    assert be.campaign_sends("pay", after=decided["id"]) == []
    assert be.campaign_sends("pay", outcome="holdout", customer="wl") == []
    assert [e["type"] for e in be.events(after=0, limit=500)][-1] == "campaign.sent"
    conv = be.post_message("lf", "wl", "发错货了")["conversation"]["id"]
    assert be.mark_sensitive(conv) == {"conversation": conv, "sensitive": True}
    assert be.mark_sensitive(conv, False)["sensitive"] is False
    with pytest.raises(NotFound):
        be.campaign_stats("nope")
    with pytest.raises(NotFound):
        be.mark_sensitive(999)
    with pytest.raises(UsageError, match="now:"):
        be.run_due_campaigns("not a time")
    with pytest.raises(Conflict, match="pause it instead"):
        be.delete("campaigns", "pay")
