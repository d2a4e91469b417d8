"""Who may do what, through a real server on loopback (issue 16, D1-D3 and N1-N7): each
attack is refused and leaves the stored data as it was; the legitimate use next to it
still works. Two shops, 翎衣 (lf) and 萌宝 (mb); ``boss`` supervises 翎衣, ``zt`` is an
admin agent who works in 翎衣."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cstool.auth import TokenStore
from tests.server_support import serve


@pytest.fixture
def served(db_path, clock):
    """A server over a fresh file with the two shops."""
    s = serve(db_path, clock)
    mall(s.backend)
    yield s
    s.close()


def mall(be) -> None:
    """Two shops, their agents, a supervisor and an admin agent of 翎衣, customers of one
    shop and of both, coupons, knowledge (one entry platform-wide), a campaign, an order."""
    be.apply({
        "shops": [{"key": "lf", "name": "翎衣女装", "service_mode": "human_first"},
                  {"key": "mb", "name": "萌宝母婴", "service_mode": "human_first"}],
        "groups": [{"key": "lf-pre", "shop": "lf", "name": "售前"},
                   {"key": "mb-pre", "shop": "mb", "name": "售前"}],
        "agents": [
            {"handle": "boss", "name": "丽娜主管", "role": "supervisor", "shops": ["lf"]},
            {"handle": "zt", "name": "周婷", "role": "admin", "shops": ["lf"]},
            {"handle": "peer", "name": "另一位主管", "role": "supervisor", "shops": ["lf"]},
            {"handle": "xm", "name": "小美", "shops": ["lf"], "groups": ["lf-pre"],
             "status": "online"},
            {"handle": "lina", "name": "丽娜", "shops": ["lf"], "status": "offline"},
            {"handle": "mbxz", "name": "小舟", "shops": ["mb"], "groups": ["mb-pre"],
             "status": "online"},
            {"handle": "hj", "name": "红姐", "shops": ["mb"]},
        ],
        "products": [{"key": "dress", "shop": "lf", "title": "法式碎花连衣裙", "price": 299},
                     {"key": "bottle", "shop": "mb", "title": "奶瓶", "price": 59}],
        "coupons": [{"key": "c20", "shop": "lf", "name": "满200减20", "kind": "amount",
                     "amount": 20, "threshold": 200},
                    {"key": "mb60", "shop": "mb", "name": "萌宝满599减60", "kind": "amount",
                     "amount": 60, "threshold": 100}],
        "customers": [
            {"key": "wl", "name": "王丽", "phone": "13800000001",
             "profiles": [{"shop": "lf", "level": 1}, {"shop": "mb", "level": 4}],
             "coupons": [{"coupon": "c20"}, {"coupon": "mb60"}]},
            {"key": "mbonly", "name": "陈静", "phone": "13900000002", "email": "cj@example.cn",
             "profiles": [{"shop": "mb"}], "coupons": [{"coupon": "mb60"}]},
            {"key": "lfonly", "name": "李娜", "profiles": [{"shop": "lf"}]},
        ],
        "orders": [{"key": "mb-o1", "shop": "mb", "customer": "mbonly", "status": "created",
                    "created_at": "2026-11-19T10:00:00+08:00",
                    "items": [{"product": "bottle"}]}],
        "knowledge_entries": [
            {"key": "size", "shop": "lf", "question": "尺码怎么选", "answer": "看尺码表"},
            {"key": "milk", "shop": "mb", "question": "奶粉保质期多久", "answer": "两年"},
            {"key": "ship", "question": "多久发货", "answer": "48小时内"},  # platform-wide
        ],
        "quick_replies": [{"key": "qr-mb", "shop": "mb", "title": "欢迎", "body": "欢迎光临"}],
        "campaigns": [{"key": "mb-pay", "shop": "mb", "name": "催付",
                       "trigger": "payment_reminder", "template": "请付款"}],
    })


def stored(s) -> dict:
    """Everything a refused call must leave as it was: the records, the tokens, the
    unanswered questions and the tickets."""
    conn = s.backend.database.conn
    return {
        "records": s.backend.export(),
        "tokens": conn.execute("SELECT id, role, agent_id, customer_id, shop_id, revoked_at "
                               "FROM tokens ORDER BY id").fetchall(),
        "unanswered": conn.execute("SELECT id, shop_id, question FROM unanswered_questions "
                                   "ORDER BY id").fetchall(),
        "tickets": conn.execute("SELECT id, shop_id FROM tickets ORDER BY id").fetchall(),
        "profiles": conn.execute("SELECT customer_id, shop_id FROM customer_profiles "
                                 "ORDER BY 1, 2").fetchall(),
    }


def refused(s, token: str, method: str, path: str, statuses=(403,), **kw) -> dict:
    """Send the request; it must be refused with one of ``statuses`` and change nothing."""
    before = stored(s)
    r = s.http(method, path, token, **kw)
    assert r.status_code in statuses, (method, path, kw, r.status_code, r.text)
    assert r.json()["error"]["code"] in ("forbidden", "not_found", "invalid"), r.text
    assert stored(s) == before, (method, path, kw)
    return r.json()["error"]


def ok(s, token: str, method: str, path: str, **kw):
    """Send the request; it must succeed."""
    r = s.http(method, path, token, **kw)
    assert r.status_code < 300, (method, path, kw, r.status_code, r.text)
    return r.json() if r.content else None


# -- D1: apply decides on the stored record too ---------------------------------------------------

ATTACKS = {
    "another shop's product moved in": {"products": [
        {"key": "bottle", "shop": "lf", "title": "pwned", "price": 0.01}]},
    "another shop's group": {"groups": [{"key": "mb-pre", "shop": "lf", "name": "x"}]},
    "another shop's quick reply": {"quick_replies": [
        {"key": "qr-mb", "shop": "lf", "title": "x", "body": "y"}]},
    "another shop's knowledge": {"knowledge_entries": [
        {"key": "milk", "shop": "lf", "question": "q", "answer": "a"}]},
    "a platform-wide entry taken": {"knowledge_entries": [
        {"key": "ship", "shop": "lf", "question": "多久发货", "answer": "pwned"}]},
    "a platform-wide entry changed": {"knowledge_entries": [
        {"key": "ship", "question": "多久发货", "answer": "pwned"}]},
    "another shop's campaign": {"campaigns": [
        {"key": "mb-pay", "shop": "lf", "name": "x", "trigger": "payment_reminder",
         "template": "t"}]},
    "another shop's order": {"orders": [
        {"key": "mb-o1", "shop": "lf", "customer": "lfonly", "status": "created",
         "created_at": "2026-11-19T10:00:00+08:00", "items": [{"product": "dress"}]}]},
    "another shop's agent promoted": {"agents": [
        {"handle": "mbxz", "name": "小舟", "role": "supervisor", "shops": ["lf"]}]},
    "another shop's agent taken": {"agents": [
        {"handle": "hj", "name": "红姐", "shops": ["lf"]}]},
    "own agent made admin": {"agents": [
        {"handle": "xm", "name": "小美", "role": "admin", "shops": ["lf"],
         "groups": ["lf-pre"]}]},
    "an admin agent touched": {"agents": [
        {"handle": "zt", "name": "周婷", "role": "admin", "shops": ["lf"]}]},
    "an admin agent demoted": {"agents": [
        {"handle": "zt", "name": "周婷", "role": "agent", "shops": ["lf"]}]},
    "another shop's customer renamed through an own profile": {"customers": [
        {"key": "mbonly", "name": "pwned", "phone": "1", "profiles": [{"shop": "lf"}]}]},
    "another shop's customer given an own profile": {"customers": [
        {"key": "mbonly", "name": "陈静", "phone": "13900000002", "email": "cj@example.cn",
         "profiles": [{"shop": "lf"}]}]},
    "another shop's customer renamed": {"customers": [{"key": "mbonly", "name": "pwned"}]},
    "a shared customer renamed": {"customers": [
        {"key": "wl", "name": "pwned", "phone": "13800000001",
         "profiles": [{"shop": "lf", "level": 1}], "coupons": [{"coupon": "c20"}]}]},
    "a shared customer's phone cleared": {"customers": [
        {"key": "wl", "name": "王丽", "profiles": [{"shop": "lf", "level": 1}],
         "coupons": [{"coupon": "c20"}]}]},
    "a shared customer's other profile": {"customers": [
        {"key": "wl", "name": "王丽", "phone": "13800000001",
         "profiles": [{"shop": "lf", "level": 1}, {"shop": "mb", "level": 0}],
         "coupons": [{"coupon": "c20"}, {"coupon": "mb60"}]}]},
    "another shop's coupon handed out": {"customers": [
        {"key": "lfonly", "name": "李娜", "profiles": [{"shop": "lf"}, {"shop": "mb"}],
         "coupons": [{"coupon": "mb60"}]}]},
    "another shop": {"shops": [{"key": "mb", "name": "pwned"}]},
    "a new shop": {"shops": [{"key": "tea", "name": "茶"}]},
    "an order for another shop's customer": {"orders": [
        {"key": "lf-o9", "shop": "lf", "customer": "mbonly", "status": "created",
         "created_at": "2026-11-19T10:00:00+08:00", "items": [{"product": "dress"}]}]},
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_apply_by_a_supervisor_reaches_only_records_of_their_shops(served, attack):
    boss = served.token("boss")
    for dry_run in (True, False):
        refused(served, boss, "POST", "/v1/apply",
                json={"document": ATTACKS[attack], "dry_run": dry_run})


def test_apply_by_a_supervisor_still_manages_their_shop(served):
    boss = served.token("boss")
    result = ok(served, boss, "POST", "/v1/apply", json={"document": {
        "products": [{"key": "dress", "shop": "lf", "title": "法式碎花连衣裙", "price": 259},
                     {"key": "skirt", "shop": "lf", "title": "半身裙", "price": 129}],
        "agents": [{"handle": "xm", "name": "小美", "level": "senior", "shops": ["lf"],
                    "groups": ["lf-pre"], "status": "online"},
                   {"handle": "peer", "name": "另一位主管", "role": "supervisor",
                    "shops": ["lf"]}],
        "customers": [
            # a shared customer: the shop's own profile and coupons; the rest stays
            {"key": "wl", "name": "王丽", "phone": "13800000001",
             "profiles": [{"shop": "lf", "level": 3}], "coupons": [{"coupon": "c20"}]},
            {"key": "lfonly", "name": "李娜娜", "phone": "13700000003",
             "profiles": [{"shop": "lf", "level": 2}]},
            {"key": "newbie", "name": "新客", "profiles": [{"shop": "lf"}]}],
        "knowledge_entries": [{"key": "size", "shop": "lf", "question": "尺码怎么选",
                               "answer": "看尺码表，拿不准找客服"}],
        "orders": [{"key": "lf-o1", "shop": "lf", "customer": "wl", "status": "created",
                    "created_at": "2026-11-19T10:00:00+08:00", "items": [{"product": "dress"}]}],
    }})
    assert {(c["kind"], c["key"]): c["action"] for c in result["changes"]}[
        ("customers", "wl")] == "update"
    be = served.backend
    assert be.get("products", "dress")["price"] == 259
    assert be.get("agents", "xm")["level"] == "senior"
    wl = be.get("customers", "wl")
    assert wl["name"] == "王丽" and wl["phone"] == "13800000001"
    assert {p["shop"]: p["level"] for p in wl["profiles"]} == {"lf": 3, "mb": 4}
    assert [c["coupon"] for c in wl["coupons"]] == ["c20", "mb60"]
    assert be.get("customers", "lfonly")["name"] == "李娜娜"
    assert be.get("orders", "lf-o1")["customer"] == "wl"


def test_patch_of_a_customer_changes_only_the_shops_part(served):
    boss = served.token("boss")
    refused(served, boss, "PATCH", "/v1/customers/wl", json={"name": "pwned"})
    refused(served, boss, "PATCH", "/v1/customers/wl", json={"phone": None})
    refused(served, boss, "PATCH", "/v1/customers/mbonly", json={"profiles": [{"shop": "lf"}]})
    refused(served, boss, "PATCH", "/v1/customers/wl",
            json={"profiles": [{"shop": "lf"}, {"shop": "mb", "level": 0}]})
    refused(served, boss, "DELETE", "/v1/customers/wl")
    # its own part of the shared customer, as the supervisor sees it (trimmed to 翎衣)
    seen = ok(served, boss, "GET", "/v1/customers/wl")
    assert [p["shop"] for p in seen["profiles"]] == ["lf"]
    assert [c["coupon"] for c in seen["coupons"]] == ["c20"]
    got = ok(served, boss, "PATCH", "/v1/customers/wl",
             json={"profiles": [{"shop": "lf", "level": 5, "tags": ["常客"]}], "coupons": []})
    assert got["profiles"] == [{"shop": "lf", "level": 5, "tags": ["常客"]}]
    wl = served.backend.get("customers", "wl")
    assert {p["shop"]: p["level"] for p in wl["profiles"]} == {"mb": 4, "lf": 5}
    assert [c["coupon"] for c in wl["coupons"]] == ["mb60"]
    # a customer of its shop only is all its own
    assert ok(served, boss, "PATCH", "/v1/customers/lfonly", json={"phone": "1"})["phone"] == "1"


# -- D2: a record cannot leave the caller's shops for no shop -------------------------------------

def test_a_supervisor_cannot_make_a_record_platform_wide(served):
    boss = served.token("boss")
    refused(served, boss, "PATCH", "/v1/knowledge_entries/size", json={"shop": None})
    refused(served, boss, "PATCH", "/v1/products/dress", json={"shop": None})
    refused(served, boss, "PATCH", "/v1/knowledge_entries/ship", json={"answer": "pwned"})
    refused(served, boss, "POST", "/v1/knowledge_entries",
            json={"key": "new", "question": "q", "answer": "a"})
    assert ok(served, boss, "PATCH", "/v1/knowledge_entries/size",
              json={"answer": "看尺码表哦"})["shop"] == "lf"


# -- D3 and N6: role order ------------------------------------------------------------------------

def test_a_supervisor_cannot_act_on_or_as_a_higher_role(served):
    boss = served.token("boss")
    zt_token = TokenStore(served.backend).create_token("zt")
    refused(served, boss, "DELETE", "/v1/agents/zt")
    refused(served, boss, "DELETE", f"/v1/tokens/{zt_token['id']}")
    refused(served, boss, "PUT", "/v1/agents/zt/status", json={"status": "offline"})
    refused(served, boss, "PATCH", "/v1/agents/zt", json={"max_chats": 9})
    refused(served, boss, "POST", "/v1/tokens", json={"agent": "zt"})
    for path in ("/v1/agents/zt/desk", "/v1/agents/zt/metrics"):
        refused(served, boss, "GET", path)
    refused(served, boss, "GET", "/v1/agents/zt/history", params={"text": "x"})
    refused(served, boss, "POST", "/v1/agents/zt/accept")
    # N6: nothing is recorded in a higher role's name
    refused(served, boss, "POST", "/v1/tickets",
            json={"type": "complaint", "title": "t", "shop": "lf", "by": "zt"})
    # an agent's own token was never enough to act for another
    refused(served, served.token("xm"), "PUT", "/v1/agents/lina/status",
            json={"status": "online"})
    # the admin's token still works
    assert ok(served, zt_token["token"], "GET", "/v1/me")["role"] == "admin"
    # the supervisor still manages the shop's agents (and a peer supervisor)
    lina = TokenStore(served.backend).create_token("lina")
    assert ok(served, boss, "PUT", "/v1/agents/lina/status",
              json={"status": "away"})["status"] == "away"
    assert ok(served, boss, "PUT", "/v1/agents/peer/status",
              json={"status": "online"})["status"] == "online"
    ticket = ok(served, boss, "POST", "/v1/tickets",
                json={"type": "complaint", "title": "t", "shop": "lf", "by": "lina"})
    assert ticket["shop"] == "lf"
    assert ok(served, boss, "DELETE", f"/v1/tokens/{lina['id']}")["state"] == "revoked"
    assert ok(served, boss, "POST", "/v1/agents",
              json={"handle": "new", "name": "新人", "shops": ["lf"]})["role"] == "agent"
    assert served.http("DELETE", "/v1/agents/new", boss).status_code == 204


# -- N1: a quote shows only the shop's coupons ----------------------------------------------------

def test_a_quote_never_shows_another_shops_coupons(served):
    xm = served.token("xm")
    q = ok(served, xm, "POST", "/v1/shops/lf/quote",
           json={"items": [{"product": "dress"}], "customer": "wl"})
    assert q["coupon"]["key"] == "c20"
    assert "mb60" not in json.dumps(q) and "萌宝" not in json.dumps(q, ensure_ascii=False)
    r = served.http("POST", "/v1/shops/lf/quote", xm,
                    json={"items": [{"product": "dress"}], "customer": "wl", "coupon": "mb60"})
    text = r.text
    assert "萌宝" not in text and "'mb'" not in text and "满599" not in text, text
    # the customer's own token in 萌宝 sees its coupon there
    mine = served.customer_token("mb", "wl")
    q = ok(served, mine, "POST", "/v1/shops/mb/quote", json={"items": [{"product": "bottle"}]})
    assert q["coupon"] is None or q["coupon"]["key"] == "mb60"
    assert "c20" not in json.dumps(q)


# -- N2, N3: the learning loop stays in the shop --------------------------------------------------

def _unanswered(served) -> dict[str, list[dict]]:
    be = served.backend
    be.update("shops", "lf", {"service_mode": "bot_first"})
    be.update("shops", "mb", {"service_mode": "bot_first"})
    be.post_message("mb", "mbonly", "周末有人值班吗")
    be.post_message("lf", "lfonly", "你们是正品吗")
    be.post_message("lf", "wl", "周末有人值班吗")
    return {s: be.unanswered_questions(shop=s) for s in ("lf", "mb")}


def test_learning_reaches_only_the_supervisors_shop(served):
    groups = _unanswered(served)
    assert groups["mb"] and groups["lf"]
    boss = served.token("boss")
    mb_group = groups["mb"][0]["group"]
    refused(served, boss, "POST", "/v1/knowledge/learn", statuses=(403, 404),
            json={"question": mb_group, "entry": "size"})
    refused(served, boss, "POST", "/v1/knowledge/learn", statuses=(403, 404),
            json={"question": mb_group, "new": "pwn", "answer": "a"})
    refused(served, boss, "POST", "/v1/knowledge/learn",
            json={"question": mb_group, "entry": "size", "shop": "mb"})
    refused(served, boss, "POST", "/v1/knowledge/learn",  # N3: a platform-wide entry
            json={"question": "多久能到", "entry": "ship"})
    refused(served, boss, "POST", "/v1/knowledge/learn",
            json={"question": "多久能到", "entry": "milk"})
    refused(served, boss, "POST", "/v1/knowledge/dismiss", json={"group": mb_group})
    # the same text as 萌宝's question: only 翎衣's copy is learned; 萌宝's stays
    learned = ok(served, boss, "POST", "/v1/knowledge/learn",
                 json={"question": "周末有人值班吗", "entry": "size"})
    assert learned["resolved"] == 1
    assert [g["question"] for g in served.backend.unanswered_questions(shop="mb")] == [
        "周末有人值班吗"]
    lf_group = next(g["group"] for g in served.backend.unanswered_questions(shop="lf"))
    learned = ok(served, boss, "POST", "/v1/knowledge/learn",
                 json={"question": lf_group, "new": "genuine", "answer": "保证正品"})
    assert learned["record"]["shop"] == "lf" and learned["resolved"] == 1
    assert served.backend.get("knowledge_entries", "ship").get("similar", []) == []


# -- N4: customer tokens for the shop's customers -------------------------------------------------

def test_customer_tokens_only_for_the_shops_customers(served):
    boss = served.token("boss")
    refused(served, boss, "POST", "/v1/shops/lf/customer-tokens", json={"customer": "mbonly"})
    refused(served, boss, "POST", "/v1/shops/mb/customer-tokens", json={"customer": "wl"})
    # posting as that customer (an integration) is refused the same way
    refused(served, boss, "POST", "/v1/shops/lf/messages",
            json={"customer": "mbonly", "text": "你好"})
    posted = ok(served, boss, "POST", "/v1/shops/lf/messages",
                json={"customer": "wl", "text": "你好，在吗"})
    assert posted["conversation"]["customer"] == "wl"
    # its own customers, and a new one (who gets a profile in the shop)
    wl = ok(served, boss, "POST", "/v1/shops/lf/customer-tokens", json={"customer": "wl"})
    new = ok(served, boss, "POST", "/v1/shops/lf/customer-tokens", json={"customer": "c900"})
    assert [p["shop"] for p in served.backend.get("customers", "c900")["profiles"]] == ["lf"]
    again = ok(served, boss, "POST", "/v1/shops/lf/customer-tokens", json={"customer": "c900"})
    assert again["customer"] == new["customer"] == "c900"
    # the token reads its customer as the shop sees them
    me = ok(served, wl["token"], "GET", "/v1/customers/wl")
    assert [p["shop"] for p in me["profiles"]] == ["lf"]
    assert [c["coupon"] for c in me["coupons"]] == ["c20"]
    refused(served, wl["token"], "GET", "/v1/customers/mbonly")
    # an admin brings a platform customer to a new shop
    admin_made = ok(served, served.admin, "POST", "/v1/shops/lf/customer-tokens",
                    json={"customer": "mbonly"})
    assert admin_made["shop"] == "lf"
    assert {p["shop"] for p in served.backend.get("customers", "mbonly")["profiles"]} == {
        "lf", "mb"}


# -- N5: moving an agent out of a shop ends their access to its chats -----------------------------

def test_an_agent_moved_out_of_a_shop_no_longer_reaches_its_chats(served):
    be = served.backend
    be.update("customers", "wl", {"profiles": [{"shop": "lf", "level": 1},
                                               {"shop": "mb", "level": 4,
                                                "dedicated_agent": "mbxz"}]})
    be.apply({"sla_policies": [{"key": "mb-sla", "shop": "mb", "first_response_min": 30,
                                "resolution_min": 600, "on_breach": "reassign",
                                "escalate_to": "mbxz"}]})
    conv = be.post_message("mb", "mbonly", "奶瓶的奶嘴是几号的")["conversation"]
    assert conv["assignee"] == "mbxz"
    be.reply("mbxz", conv["id"], "亲，是S号奶嘴")
    token = served.token("mbxz")
    assert ok(served, token, "GET", "/v1/agents/mbxz/history", params={"text": "奶嘴"})["items"]
    assert [c["id"] for c in ok(served, token, "GET", "/v1/agents/mbxz/desk")["chats"]] == [
        conv["id"]]
    ok(served, served.admin, "PATCH", "/v1/agents/mbxz", json={"shops": ["lf"], "groups": []})
    assert ok(served, token, "GET", "/v1/agents/mbxz/history",
              params={"text": "奶嘴"})["items"] == []
    desk = ok(served, token, "GET", "/v1/agents/mbxz/desk")
    assert desk["chats"] == [] and "奶嘴" not in json.dumps(desk, ensure_ascii=False)
    assert "陈静" not in json.dumps(desk, ensure_ascii=False)
    refused(served, token, "GET", f"/v1/conversations/{conv['id']}")
    refused(served, token, "POST", f"/v1/conversations/{conv['id']}/replies",
            json={"agent": "mbxz", "text": "还在吗"})
    # the chat went back to 萌宝's routing; 萌宝's records no longer name the agent
    after = be.get_conversation(conv["id"], messages=False)
    assert after["assignee"] != "mbxz"
    wl_mb = next(p for p in be.get("customers", "wl")["profiles"] if p["shop"] == "mb")
    assert "dedicated_agent" not in wl_mb
    assert "escalate_to" not in be.get("sla_policies", "mb-sla")


# -- N7: a shop's records name only its own agents ------------------------------------------------

def test_a_shops_records_cannot_name_another_shops_agents(served):
    boss = served.token("boss")
    refused(served, boss, "POST", "/v1/sla_policies", statuses=(422,),
            json={"key": "s1", "shop": "lf", "first_response_min": 30, "resolution_min": 600,
                  "on_breach": "reassign", "escalate_to": "hj"})
    refused(served, boss, "PATCH", "/v1/customers/lfonly", statuses=(422,),
            json={"profiles": [{"shop": "lf", "dedicated_agent": "hj"}]})
    refused(served, boss, "PATCH", "/v1/customers/lfonly", statuses=(422,),
            json={"profiles": [{"shop": "lf", "last_agent": "hj"}]})
    refused(served, boss, "POST", "/v1/apply", statuses=(422,), json={"document": {
        "quick_replies": [{"key": "q1", "shop": "lf", "agent": "hj", "title": "t", "body": "b"}]}})
    refused(served, boss, "POST", "/v1/apply", statuses=(422,), json={"document": {
        "routing_rules": [{"key": "r1", "shop": "lf", "target": {"agent": "hj"}}]}})
    # even an admin cannot make such a record
    refused(served, served.admin, "POST", "/v1/apply", statuses=(422,), json={"document": {
        "customers": [{"key": "wl", "name": "王丽", "phone": "13800000001",
                       "profiles": [{"shop": "lf", "dedicated_agent": "mbxz"}]}]}})
    # its own agents, and an admin as the escalation
    ok(served, boss, "POST", "/v1/sla_policies",
       json={"key": "s1", "shop": "lf", "first_response_min": 30, "resolution_min": 600,
             "on_breach": "reassign", "escalate_to": "xm"})
    ok(served, boss, "PATCH", "/v1/sla_policies/s1", json={"escalate_to": "zt"})
    ok(served, boss, "PATCH", "/v1/customers/lfonly",
       json={"profiles": [{"shop": "lf", "dedicated_agent": "xm"}]})


def test_the_cli_on_a_local_file_refuses_cross_shop_agent_references(tmp_path, clock):
    from commands.main import app
    from cstool.backend.local import LocalBackend

    path = tmp_path / "local.db"
    be = LocalBackend(path, clock=clock)
    mall(be)
    be.close()
    doc = tmp_path / "sla.yaml"
    doc.write_text("sla_policies:\n  - key: s1\n    shop: lf\n    first_response_min: 30\n"
                   "    resolution_min: 600\n    on_breach: reassign\n    escalate_to: hj\n",
                   encoding="utf-8")
    r = CliRunner().invoke(app, ["--db", str(path), "apply", "-f", str(doc)])
    assert r.exit_code == 1, r.output
    assert "agent 'hj' does not work for shop 'lf'" in r.output
    r = CliRunner().invoke(app, ["--db", str(path), "sla", "list", "--json"])
    assert "s1" not in r.output


# -- the CLI through the server obeys the same rules -----------------------------------------------

def test_the_cli_through_the_api_is_refused_the_same(served, tmp_path):
    from tests.server_support import cli_app

    env = {"CSTOOL_API": served.url, "CSTOOL_TOKEN": served.token("boss")}
    doc = tmp_path / "pwn.json"
    doc.write_text(json.dumps(ATTACKS["another shop's product moved in"]), encoding="utf-8")
    before = stored(served)
    r = CliRunner().invoke(cli_app(), ["apply", "-f", str(doc)], env=env)
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("Error: products[0] involves shop 'mb'"), r.stderr
    assert stored(served) == before
    doc.write_text(json.dumps({"products": [
        {"key": "dress", "shop": "lf", "title": "法式碎花连衣裙", "price": 269}]}),
        encoding="utf-8")
    r = CliRunner().invoke(cli_app(), ["apply", "-f", str(doc)], env=env)
    assert r.exit_code == 0, r.output
    assert served.backend.get("products", "dress")["price"] == 269
