"""`cstool serve` through a real uvicorn on loopback: tokens and every 401 and 403 path,
JSON errors with codes, cursor pages, the live event stream (rights, Last-Event-ID,
pings, revocation), a graceful SIGTERM, the CLI through --api, and desk flows over
the Remote backend."""

from __future__ import annotations

import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cstool.api.backend import Backend
from cstool.api.operations import BY_NAME, OPERATIONS
from cstool.auth import Forbidden, TokenStore, Unauthorized
from cstool.backend.local import LocalBackend
from cstool.backend.remote import RemoteBackend
from cstool.errors import Conflict, InvalidInput, NotFound, UsageError
from cstool.validation import FieldError
from tests import test_desk
from tests.server_support import cli_app, read_events, serve

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def served(db_path, clock):
    """A server over a fresh file with the frozen test clock."""
    s = serve(db_path, clock)
    yield s
    s.close()


def mall(be) -> None:
    """Two shops, each with agents; a supervisor of 翎衣; customers; a chat in each shop."""
    be.apply({
        "shops": [{"key": "lf", "name": "翎衣女装", "service_mode": "human_first"},
                  {"key": "mb", "name": "萌宝母婴", "service_mode": "human_first"}],
        "groups": [{"key": "lf-pre", "shop": "lf", "name": "售前"},
                   {"key": "mb-pre", "shop": "mb", "name": "售前"}],
        "agents": [
            {"handle": "xm", "name": "小美", "shops": ["lf"], "groups": ["lf-pre"],
             "status": "online"},
            {"handle": "lina", "name": "丽娜", "shops": ["lf"], "status": "offline"},
            {"handle": "mbxz", "name": "小舟", "shops": ["mb"], "status": "online"},
            {"handle": "boss", "name": "主管", "role": "supervisor", "shops": ["lf"]},
        ],
        "products": [{"key": "dress", "shop": "lf", "title": "法式碎花连衣裙", "price": 299},
                     {"key": "bottle", "shop": "mb", "title": "奶瓶", "price": 59}],
        "coupons": [{"key": "c20", "shop": "lf", "name": "满200减20", "kind": "amount",
                     "amount": 20, "threshold": 200}],
        "customers": [{"key": "wl", "name": "王丽", "profiles": [{"shop": "lf"},
                                                               {"shop": "mb"}]}],
    })


def chats(s) -> tuple[int, int]:
    """One chat in each shop: (翎衣's, 萌宝's)."""
    lf = s.backend.post_message("lf", "wl", "有M码吗")["conversation"]["id"]
    mb = s.backend.post_message("mb", "wl", "奶瓶几号发货")["conversation"]["id"]
    return lf, mb


# -- the table and the schema -------------------------------------------------------------------

def test_every_backend_operation_is_served_and_remote():
    abstract = {n for n, v in vars(Backend).items() if getattr(v, "__isabstractmethod__", False)}
    assert abstract <= set(BY_NAME), abstract - set(BY_NAME)
    assert not RemoteBackend.__abstractmethods__
    local_ops = {n for n, v in inspect.getmembers(LocalBackend, inspect.isfunction)
                 if not n.startswith("_")
                 and n not in ("close", "refresh_classification")
                 and "conn" not in inspect.signature(v).parameters}
    assert local_ops <= set(BY_NAME), sorted(local_ops - set(BY_NAME))
    # the table (and so the remote methods) takes exactly the Local methods' arguments
    for op in OPERATIONS:
        if op.target != "backend" or not hasattr(LocalBackend, op.name):
            continue
        local = [(p.name, p.kind == p.KEYWORD_ONLY, p.default)
                 for p in inspect.signature(getattr(LocalBackend, op.name)).parameters.values()
                 if p.name != "self" and p.kind != p.VAR_KEYWORD]
        remote = [(p.name, p.kind == p.KEYWORD_ONLY, p.default)
                  for p in inspect.signature(getattr(RemoteBackend, op.name)).parameters.values()
                  if p.name != "self"]
        if any(p.kind == p.VAR_KEYWORD for p in
               inspect.signature(getattr(LocalBackend, op.name)).parameters.values()):
            remote = remote[:len(local)]  # **context: the table names the context fields
        assert remote == local, op.name


def test_no_path_hides_a_later_one():
    def hides(first: str, later: str) -> bool:
        a, b = first.split("/"), later.split("/")
        return len(a) == len(b) and all(x == y or (x.startswith("{") and not y.startswith("{"))
                                        for x, y in zip(a, b, strict=True))

    for i, op in enumerate(OPERATIONS):
        for later in OPERATIONS[i + 1:]:
            assert not (op.verb == later.verb and hides(op.path, later.path)), (op.name,
                                                                                later.name)


def test_openapi_has_every_operation(served):
    schema = httpx.get(served.url + "/openapi.json").json()
    ops = {o["operationId"]: (verb.upper(), path) for path, item in schema["paths"].items()
           for verb, o in item.items()}
    for op in OPERATIONS:
        if op.target != "backend" or hasattr(served.backend, op.name):
            assert ops[op.name] == (op.verb, op.path.replace(":path", "")), op.name
    assert "/v1/events" in schema["paths"]
    body = schema["paths"]["/v1/shops/{shop}/messages"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("PostMessageRequest")


# -- 401 ------------------------------------------------------------------------------------------

def test_every_kind_of_bad_token_is_401(served, clock):
    mall(served.backend)
    store = TokenStore(served.backend)
    revoked = store.create_token("xm")
    store.revoke_token(revoked["id"])
    short = store.create_token("xm", expires="1h")
    clock.advance(3601)
    cases = {
        None: "no token",
        "Basic abc": "no token",
        "Bearer nonsense": "malformed token",
        "Bearer cst_" + "x" * 43: "unknown token",
        f"Bearer {revoked['token']}": f"token {revoked['id']} was revoked",
        f"Bearer {short['token']}": f"token {short['id']} expired",
    }
    for header, message in cases.items():
        headers = {} if header is None else {"Authorization": header}
        for method, path, body in (("GET", "/v1/shops", None),
                                   ("POST", "/v1/shops/lf/messages", {"text": 5}),  # bad body
                                   ("GET", "/v1/events", None)):
            r = httpx.request(method, served.url + path, headers=headers, json=body, timeout=5)
            assert r.status_code == 401, (header, path, r.text)
            assert r.json()["error"]["code"] == "unauthorized"
            assert message in r.json()["error"]["message"]
            assert r.headers["www-authenticate"] == "Bearer"
    with pytest.raises(Unauthorized, match="was revoked"):
        served.remote(revoked["token"]).list("shops")


def test_revocation_and_agent_changes_apply_at_once(served):
    mall(served.backend)
    xm = served.remote(served.token("xm"))
    assert [s["key"] for s in xm.list("shops")] == ["lf"]
    served.backend.update("agents", "xm", {"shops": ["mb"], "groups": []})
    assert [s["key"] for s in xm.list("shops")] == ["mb"]  # rights follow the agent
    served.token("lina")
    served.backend.delete("agents", "lina")  # its tokens go with it
    assert served.backend.database.conn.execute(
        "SELECT COUNT(*) FROM tokens WHERE agent_id IS NOT NULL").fetchone()[0] == 1
    me = xm.whoami()
    served.remote().revoke_token(me["token"])
    with pytest.raises(Unauthorized):
        xm.list("shops")
    # changes made by another process (another connection to the file) apply at once too
    boss = served.remote(served.token("boss"))
    assert [s["key"] for s in boss.list("shops")] == ["lf"]  # now cached
    other = LocalBackend(served.backend.path)
    try:
        other.update("agents", "boss", {"shops": ["lf", "mb"]})
        assert [s["key"] for s in boss.list("shops")] == ["lf", "mb"]
        TokenStore(other).revoke_token(boss.whoami()["token"])
        with pytest.raises(Unauthorized):
            boss.list("shops")
    finally:
        other.close()


# -- 403 ------------------------------------------------------------------------------------------

def test_one_shops_agent_cannot_reach_another_shops_conversation(served):
    mall(served.backend)
    lf, mb = chats(served)
    other = served.remote(served.token("mbxz"))
    assert other.get_conversation(mb)["shop"] == "mb"
    attempts = {
        "read": lambda: other.get_conversation(lf),
        "reply": lambda: other.reply("mbxz", lf, "我来回复"),
        "transfer": lambda: other.transfer(lf, by="mbxz", to_agent="mbxz"),
        "close": lambda: other.close_conversation(lf, by="mbxz"),
        "customer": lambda: other.customer_context(lf),
        "explain": lambda: other.route_explain(lf),
        "seen": lambda: other.mark_seen("mbxz", lf),
        "card": lambda: other.send_card("mbxz", lf, "product", "dress"),
        "queue": lambda: other.queue("lf"),
        "list": lambda: other.list_conversations(shop="lf"),
        "events": lambda: other.events(shop="lf"),
        "route test": lambda: other.route_test("lf", "wl", "你好"),
        "products": lambda: other.list("products", shop="lf"),
        "product": lambda: other.get("products", "dress"),
    }
    for what, call in attempts.items():
        with pytest.raises(Forbidden) as e:
            call()
        assert "'lf'" in str(e.value) or "dress" in str(e.value), what
    assert "belongs to shop 'lf'" in _message(lambda: other.get_conversation(lf))
    # unchanged: nothing was written by the refused calls
    conv = served.backend.get_conversation(lf)
    assert conv["assignee"] == "xm" and conv["state"] == "active"
    assert [m["sender"] for m in conv["messages"]] == ["customer", "system"]
    # what it may see is its own shop only
    assert [c["id"] for c in other.list_conversations()] == [mb]
    assert {e["shop"] for e in other.events()} == {"mb"}
    assert [p["key"] for p in other.list("products")] == ["bottle"]
    assert [c["profiles"] for c in other.list("customers")] == [[{"shop": "mb", "level": 0}]]


def _message(call) -> str:
    try:
        call()
    except Exception as e:  # noqa: BLE001 - the message is what we test
        return str(e)
    raise AssertionError("no error")


def _args_aimed_at(shop: str, conversation: int, product: str) -> dict:
    """An argument of each name in the table, aimed at ``shop`` and ``conversation``."""
    return {
        "shop": shop, "conversation": conversation, "agent": "xm", "handle": "xm", "by": "xm",
        "kind": "products", "key": product, "customer": "wl", "text": "你好", "status": "online",
        "rating": 5, "position": 1, "product": product, "quantity": 1, "items": [
            {"product": "dress"}], "record": {"key": "x", "shop": shop, "title": "t", "price": 1},
        "changes": {"price": 1}, "document": {"products": [{"key": "x", "shop": shop,
                                                            "title": "t", "price": 1}]},
        "target": "x.db", "records": [], "group": "#1", "since": 0, "until": 1, "token_id": 1,
        "question": "有M码吗", "entry": "尺码", "ticket": 1, "type": "complaint", "title": "t",
        "customer_stats.key": "lfonly", "campaign_stats.key": "lf-pay",
        "campaign_sends.key": "lf-pay", "name": "lf-hook", "delivery": "whd_1_1",
        "worker": "w", "attempt": 1, "label": "投诉", "suggestion": 1, "verdict": "confirmed",
        "data": "iVBORw0KGgo=", "message": 1, "event_id": "e1", "order": "o1",
        "macro": "m", "priority": 1, "classification": "consulted_not_ordered",
        "cancel_order.key": "lf-o-1", "change_order_address.key": "lf-o-1",
    }


def _call_every_operation(served, token: str, values: dict) -> dict[str, int]:
    """Each served operation once, with only its required arguments: name -> status."""
    from cstool.api.operations import REQUIRED

    statuses = {}
    for op in OPERATIONS:
        if op.target == "backend" and not hasattr(served.backend, op.name):
            continue
        args = {a.name: values.get(f"{op.name}.{a.name}", values[a.name]) for a in op.args
                if a.default is REQUIRED or a.name in ("shop", "by", "conversation")}
        path = op.url(args)
        rest = {k: v for k, v in args.items() if k not in op.path_args}
        if op.body:
            kw = {"json": rest[op.body]}
        elif op.verb in ("GET", "DELETE"):
            kw = {"params": rest}
        else:
            kw = {"json": rest}
        statuses[op.name] = served.http(op.verb, path, token, **kw).status_code
    return statuses


def test_every_operation_refuses_a_token_aimed_at_what_it_may_not_use(served):
    mall(served.backend)
    lf, mb = chats(served)
    served.backend.create("customers", {"key": "lfonly", "name": "只在翎衣",
                                        "profiles": [{"shop": "lf"}]})
    if hasattr(served.backend, "create_ticket"):
        served.backend.create_ticket(type="complaint", title="投诉", conversation=lf)
    served.backend.create("campaigns", {"key": "lf-pay", "shop": "lf", "name": "催付",
                                        "trigger": "payment_reminder", "template": "请付款"})
    served.backend.create("orders", {"key": "lf-o-1", "shop": "lf", "customer": "wl",
                                     "status": "created", "created_at": "2026-11-20T09:00:00Z",
                                     "items": [{"product": "dress"}]})
    # an agent of 萌宝 aiming at 翎衣's shop, conversation and agent
    got = _call_every_operation(served, served.token("mbxz"), _args_aimed_at("lf", lf, "dress"))
    allowed = {"whoami", "list_tokens"}  # about the caller itself
    assert {n: c for n, c in got.items() if c != 403 and n not in allowed} == {}
    # a customer of 翎衣 aiming at 萌宝 and at another customer's chat in 翎衣
    got = _call_every_operation(served, served.customer_token("lf", "c77"),
                                _args_aimed_at("mb", lf, "bottle"))
    assert {n: c for n, c in got.items() if c != 403 and n not in ("whoami",)} == {}


def test_agents_act_only_as_themselves(served):
    mall(served.backend)
    lf, _ = chats(served)
    xm = served.remote(served.token("xm"))
    for call in (lambda: xm.accept_next("lina"), lambda: xm.set_agent_status("lina", "away"),
                 lambda: xm.agent_desk("lina"), lambda: xm.search_history("lina", "M码"),
                 lambda: xm.reply("lina", lf, "冒名回复")):
        with pytest.raises(Forbidden, match="may act only as themselves"):
            call()
    assert xm.reply("xm", lf, "有的亲")["body"] == "有的亲"
    assert xm.agent_desk("xm")["chats"][0]["id"] == lf
    with pytest.raises(Forbidden, match="closes as themselves"):
        xm.close_conversation(lf)
    assert xm.close_conversation(lf, by="xm")["state"] == "closed"


def test_records_agents_read_supervisors_manage_their_shops(served):
    mall(served.backend)
    xm = served.remote(served.token("xm"))
    boss = served.remote(served.token("boss"))
    new = {"key": "skirt", "shop": "lf", "title": "半身裙", "price": 129}
    with pytest.raises(Forbidden, match="needs a supervisor"):
        xm.create("products", new)
    with pytest.raises(Forbidden, match="needs a supervisor"):
        xm.update("products", "dress", {"price": 1})
    assert boss.create("products", new)["price"] == 129
    assert boss.update("products", "skirt", {"price": 119})["price"] == 119
    with pytest.raises(Forbidden, match="'mb'"):
        boss.create("products", {**new, "key": "x", "shop": "mb"})
    with pytest.raises(Forbidden, match="'mb'"):
        boss.update("products", "skirt", {"shop": "mb"})  # moving it out is touching mb
    with pytest.raises(Forbidden, match="'mb'"):
        boss.delete("products", "bottle")
    with pytest.raises(Forbidden, match="only an admin creates shops"):
        boss.create("shops", {"key": "tea", "name": "茶"})
    with pytest.raises(Forbidden, match="may not make an admin"):
        boss.update("agents", "xm", {"role": "admin"})
    with pytest.raises(Forbidden, match="'mb'"):
        boss.update("agents", "mbxz", {"max_chats": 9})
    assert boss.update("agents", "xm", {"max_chats": 9})["max_chats"] == 9
    assert boss.apply({"products": [{**new, "price": 99}]}).count("update") == 1
    with pytest.raises(Forbidden, match=r"products\[0\] involves shop 'mb'"):
        boss.apply({"products": [{**new, "key": "y", "shop": "mb"}]})
    with pytest.raises(Forbidden, match="give shop"):
        boss.export()
    assert [p["key"] for p in boss.export(shop="lf")["products"]] == ["dress", "skirt"]
    assert boss.set_agent_status("xm", "busy")["status"] == "busy"
    with pytest.raises(Forbidden, match="'mb'"):
        boss.set_agent_status("mbxz", "away")
    for call in (boss.info, boss.close_idle, lambda: boss.backup("/tmp/x.db")):
        with pytest.raises(Forbidden, match="needs an admin token"):
            call()
    boss.delete("products", "skirt")
    with pytest.raises(NotFound):
        served.backend.get("products", "skirt")


def test_customer_tokens_use_only_their_own_conversation(served):
    mall(served.backend)
    lf, _ = chats(served)
    me = served.remote(served.customer_token("lf", "c77"))
    r = me.post_message("lf", "c77", "你好，在吗")
    mine = r["conversation"]["id"]
    assert r["conversation"]["customer"] == "c77" and "pool" not in r["conversation"]
    assert me.get_conversation(mine)["messages"][0]["body"] == "你好，在吗"
    assert [c["id"] for c in me.list_conversations()] == [mine]
    assert me.list("products")[0]["key"] == "dress"
    assert me.get("customers", "c77")["key"] == "c77"
    refused = {
        "other shop": lambda: me.post_message("mb", "c77", "你好"),
        "other customer": lambda: me.post_message("lf", "wl", "冒充"),
        "other chat": lambda: me.get_conversation(lf),
        "reply": lambda: me.reply("xm", mine, "我是客服"),
        "agents": lambda: me.list("agents"),
        "customers": lambda: me.get("customers", "wl"),
        "queue": lambda: me.queue("lf"),
        "desk": lambda: me.agent_desk("xm"),
        "rate other": lambda: me.rate(lf, 5),
        "tokens": lambda: me.list_tokens(),
        "other shop products": lambda: me.list("products", shop="mb"),
        "context": lambda: me.customer_context(mine),
        "forged coupon": lambda: me.post_message("lf", "c77", "x", kind="coupon",
                                                 payload={"amount": 999}),
        "forged invitation": lambda: me.post_message("lf", "c77", "x", kind="invitation",
                                                     payload={"total": 1}),
    }
    for what, call in refused.items():
        with pytest.raises(Forbidden):
            call()
            pytest.fail(what)
    # a customer token posts as itself without naming the customer
    r2 = served.http("POST", "/v1/shops/lf/messages", served.customer_token("lf", "c77"),
                     json={"text": "还在吗"})
    assert r2.status_code == 201 or r2.status_code == 200
    assert r2.json()["conversation"]["id"] == mine
    r3 = served.http("POST", "/v1/shops/lf/messages", served.customer_token("lf", "c77"),
                     json={"text": "x", "kind": "product", "payload": {"price": 1}})
    assert r3.status_code == 403 and "not 'product' cards" in r3.json()["error"]["message"]
    # its events: its own chat only
    assert {e["key"] for e in me.events()} == {str(mine)}
    # it may close and rate its own chat
    served.backend.reply(served.backend.get_conversation(mine)["assignee"], mine, "在的亲")
    assert me.close_conversation(mine)["state"] == "closed"
    assert me.rate(mine, 5, "很好")["rating"] == 5


def test_tokens_over_the_api(served):
    mall(served.backend)
    boss = served.remote(served.token("boss"))
    xm_token = boss.create_token("xm", expires="2w", label="笔记本")
    assert xm_token["role"] == "agent" and xm_token["token"].startswith("cst_")
    with pytest.raises(Forbidden):
        boss.create_token("mbxz")
    with pytest.raises(Forbidden):
        boss.create_token("xm", "supervisor")
    with pytest.raises(Forbidden, match="bound to no agent"):
        boss.create_token(None, "admin")
    widget = boss.create_customer_token("lf", "c9")
    assert widget["role"] == "customer" and widget["shop"] == "lf"
    with pytest.raises(Forbidden):
        boss.create_customer_token("mb", "c9")
    xm = served.remote(xm_token["token"])
    assert [t["id"] for t in xm.list_tokens()] == [xm_token["id"]]
    with pytest.raises(Forbidden):
        xm.list_tokens(agent="boss")
    with pytest.raises(Forbidden):
        xm.revoke_token(widget["id"])
    assert boss.revoke_token(widget["id"])["state"] == "revoked"
    with pytest.raises(Conflict, match="revoked already"):
        boss.revoke_token(widget["id"])
    with pytest.raises(InvalidInput, match="more rights than its agent"):
        served.remote().create_token("xm", "admin")
    assert {t["id"] for t in boss.list_tokens()} >= {xm_token["id"]}
    assert all("token" not in t and "hash" not in t for t in served.remote().list_tokens())
    stored = served.backend.database.conn.execute("SELECT hash FROM tokens").fetchall()
    assert all(xm_token["token"] not in h for (h,) in stored)


def test_knowledge_reads_follow_the_shops(served):
    mall(served.backend)
    lf, _ = chats(served)
    served.backend.apply({"knowledge_entries": [
        {"key": "运费", "question": "包邮吗", "answer": "全场包邮"},  # platform-wide
        {"key": "尺码", "shop": "lf", "question": "有M码吗", "answer": "有的，M码现货"},
        {"key": "奶粉", "shop": "mb", "question": "奶粉保质期多久", "answer": "两年"}]})
    xm = served.remote(served.token("xm"))
    other = served.remote(served.token("mbxz"))
    assert xm.get("knowledge_entries", "运费")["answer"] == "全场包邮"
    assert xm.get("knowledge_entries", "尺码")["shop"] == "lf"
    with pytest.raises(Forbidden):
        xm.get("knowledge_entries", "奶粉")
    assert [e["key"] for e in xm.list("knowledge_entries")] == ["尺码"]
    assert xm.ask_bot("有M码吗")["action"] in ("answer", "suggest", "handoff")  # its one shop
    with pytest.raises(Forbidden, match="'lf'"):
        other.ask_bot("有M码吗", shop="lf")
    assert isinstance(xm.suggest_answers(lf), list)
    with pytest.raises(Forbidden, match="belongs to shop 'lf'"):
        other.suggest_answers(lf)
    with pytest.raises(Forbidden, match="needs a supervisor"):
        xm.create("knowledge_entries", {"key": "新", "shop": "lf", "question": "q",
                                        "answer": "a"})


def test_tickets_over_the_api(served):
    if not hasattr(served.backend, "create_ticket"):
        pytest.skip("tickets are not in this backend yet")
    mall(served.backend)
    lf, mb = chats(served)
    xm = served.remote(served.token("xm"))
    t = xm.create_ticket(type="complaint", title="发错颜色", conversation=lf)
    assert t["shop"] == "lf" and xm.get_ticket(t["id"])["id"] == t["id"]
    xm.note_ticket(t["id"], "已联系仓库")  # by: the token's agent
    assert any("已联系仓库" in str(e) for e in xm.get_ticket(t["id"]).get("timeline", []))
    other = served.remote(served.token("mbxz"))
    with pytest.raises(Forbidden, match="belongs to shop 'lf'"):
        other.get_ticket(t["id"])
    with pytest.raises(Forbidden):
        other.create_ticket(type="complaint", title="x", conversation=lf)
    assert [x["id"] for x in xm.list_tickets()] == [t["id"]]
    assert other.list_tickets() == []


def test_campaigns_over_the_api(served):
    mall(served.backend)
    lf, mb = chats(served)
    served.backend.create("campaigns", {"key": "lf-pay", "shop": "lf", "name": "催付",
                                        "trigger": "payment_reminder", "template": "请付款"})
    xm, boss = served.remote(served.token("xm")), served.remote(served.token("boss"))
    other = served.remote(served.token("mbxz"))
    admin = served.remote()
    assert xm.campaign_stats("lf-pay")["sent"] == 0
    with pytest.raises(Forbidden, match="'lf'"):
        other.campaign_stats("lf-pay")
    with pytest.raises(Forbidden, match="needs a supervisor"):
        xm.run_due_campaigns()
    with pytest.raises(Forbidden, match="give shop"):
        boss.run_due_campaigns()
    with pytest.raises(Forbidden, match="'mb'"):
        boss.run_due_campaigns(shop="mb")
    assert boss.run_due_campaigns(shop="lf")["campaigns"] == 1
    assert admin.run_due_campaigns()["campaigns"] == 1
    assert xm.mark_sensitive(lf)["sensitive"] is True
    with pytest.raises(Forbidden):
        other.mark_sensitive(lf, False)
    with pytest.raises(UsageError, match="now:"):
        admin.run_due_campaigns("tomorrow")


# -- errors ---------------------------------------------------------------------------------------

def test_errors_are_json_with_a_code_and_the_right_status(served):
    mall(served.backend)
    lf, _ = chats(served)
    post = "/v1/shops/lf/messages"
    cases = [
        ("POST", post, {"content": b"{oops", "headers": {"Content-Type": "application/json"}},
         400, "malformed_json"),
        ("POST", post, {"content": b"not json at all"}, 400, "malformed_json"),
        ("POST", post, {"json": {"customer": "wl", "text": 123}}, 422, "invalid"),
        ("POST", post, {"json": {"customer": "wl", "text": "hi", "colour": "red"}}, 422,
         "invalid"),
        ("POST", post, {"json": {"customer": "wl", "text": "长" * 2001}}, 422, "invalid"),
        ("POST", post, {"content": b"x" * (1 << 20 + 1)}, 413, "too_large"),
        ("GET", "/v1/conversations/999", {}, 404, "not_found"),
        ("GET", "/v1/conversations/abc", {}, 422, "invalid"),
        ("GET", "/v1/shops/nope", {}, 404, "not_found"),
        ("POST", "/v1/shops/nope/messages", {"json": {"customer": "wl", "text": "hi"}}, 404,
         "not_found"),
        ("GET", "/v1/spaceships", {}, 400, "usage"),
        ("POST", "/v1/shops", {"json": {"key": "lf", "name": "again"}}, 409, "conflict"),
        ("POST", "/v1/products", {"json": {"key": "p", "shop": "zz", "title": "t", "price": 1}},
         422, "invalid"),
        ("POST", f"/v1/conversations/{lf}/rating", {"json": {"rating": "five"}}, 422, "invalid"),
        ("GET", "/nowhere", {}, 404, "not_found"),
        ("DELETE", "/v1/info", {}, 405, "method_not_allowed"),
        ("GET", "/v1/events/page?limit=ten", {}, 422, "invalid"),
        ("GET", "/v1/products?limit=0", {}, 400, "usage"),
        ("GET", "/v1/events?after=99999999999", {}, 400, "usage"),
        # a lone surrogate escape: valid JSON, not storable text
        ("POST", post, {"content": b'{"customer": "wl", "text": "\\ud800"}',
                        "headers": {"Content-Type": "application/json"}}, 422, "invalid"),
        ("POST", f"/v1/conversations/{lf}/replies",
         {"content": b'{"agent": "xm", "text": "hi \\udc00"}',
          "headers": {"Content-Type": "application/json"}}, 422, "invalid"),
        ("PATCH", "/v1/products/dress", {"content": b'{"title": "\\ud83d"}',
                                         "headers": {"Content-Type": "application/json"}},
         422, "invalid"),
    ]
    for method, path, kw, status, code in cases:
        r = served.http(method, path, **kw)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, r.text)
        assert r.json()["error"]["message"]
    r = served.http("POST", post, json={"customer": "wl", "text": "长" * 2001})
    assert r.json()["error"]["message"] == "message too long (2001 characters, at most 2000)"
    r = served.http("POST", "/v1/products", json={"key": "p", "shop": "zz", "title": "t",
                                                  "price": 1})
    assert r.json()["error"]["path"] == "shop"
    # the same errors come back from the Remote backend as the same classes and messages
    remote = served.remote()
    with pytest.raises(NotFound, match="^no conversation 999$"):
        remote.get_conversation(999)
    with pytest.raises(FieldError) as e:
        remote.create("products", {"key": "p", "shop": "zz", "title": "t", "price": 1})
    assert e.value.path == "shop" and str(e.value) == "shop: unknown shop 'zz'"
    with pytest.raises(UsageError, match="unknown kind"):
        remote.list("spaceships")
    with pytest.raises(InvalidInput, match="request body too large"):
        remote.post_message("lf", "wl", "x" * 1_100_000)
    # nothing above was stored
    assert len(served.backend.list_conversations()) == 2


def test_the_message_lane_answers_exactly_as_fastapi_does(tmp_path, clock):
    """Customer messages take a lane past FastAPI's machinery (MessageLane): every answer,
    good or bad, must be the one FastAPI gives, and the file must end up the same."""
    lane_on = serve(str(tmp_path / "lane.db"), clock)
    lane_off = serve(str(tmp_path / "plain.db"), clock, fast_lane=False)
    try:
        seen = []
        for s in (lane_on, lane_off):
            mall(s.backend)
            chats(s)
            tokens = {"admin": s.admin, "wl": s.customer_token("lf", "wl"),
                      "other": s.customer_token("mb", "wl"), "agent": s.token("mbxz"),
                      "bad": "cst_nope", "none": ""}
            json_ct = {"Content-Type": "application/json"}
            cases = [
                ("admin", {"json": {"customer": "wl", "text": "有L码吗"}}),
                ("admin", {"json": {"customer": "new1", "text": "转人工", "channel": "app",
                                    "client_id": "c-1", "entry_page": "p/1",
                                    "time_on_site_s": 30, "pages_viewed": 2}}),
                ("admin", {"json": {"customer": "new1", "text": "转人工", "client_id": "c-1"}}),
                ("wl", {"json": {"customer": "wl", "text": "在吗"}}),
                ("wl", {"json": {"customer": "wl", "text": "x", "channel": None}}),
                ("admin", {"json": {"customer": "wl", "text": 5}}),
                ("admin", {"json": {"customer": "wl", "text": "x", "pages_viewed": True}}),
                ("admin", {"json": {"customer": "wl", "text": "x", "pages_viewed": 1.0}}),
                ("admin", {"json": {"customer": "wl", "text": "x", "pages_viewed": 2 ** 70}}),
                ("admin", {"json": {"customer": "wl", "text": None}}),
                ("admin", {"json": {"customer": "wl"}}),
                ("admin", {"json": {"customer": "wl", "text": "x", "colour": "red"}}),
                ("admin", {"json": ["customer", "wl"]}),
                ("admin", {"content": b"{oops", "headers": json_ct}),
                ("admin", {"content": "{\"customer\": \"wl\", \"text\": \"嗨\"}".encode(),
                           "headers": {"Content-Type": "text/plain"}}),
                ("admin", {"json": {"customer": "Bad Key", "text": "x"}}),
                ("admin", {"json": {"customer": "wl", "text": "长" * 2001}}),
                ("admin", {"json": {"customer": "wl", "text": "x", "channel": "fax"}}),
                ("wl", {"json": {"customer": "someone-else", "text": "x"}}),
                ("other", {"json": {"customer": "wl", "text": "x"}}),
                ("agent", {"json": {"customer": "wl", "text": "x"}}),
                ("bad", {"json": {"customer": "wl", "text": "x"}}),
                ("none", {"json": {"customer": "wl", "text": "x"}}),
            ]
            answers = []
            for who, kw in cases:
                r = s.http("POST", "/v1/shops/lf/messages", tokens[who], **kw)
                answers.append((r.status_code, r.json()))
            r = s.http("POST", "/v1/shops/nope/messages", json={"customer": "wl", "text": "x"})
            answers.append((r.status_code, r.json()))
            r = s.http("POST", "/v1/shops/lf/messages/", json={"customer": "wl", "text": "x"})
            answers.append((r.status_code, r.text))
            stored = s.backend.database.conn.execute(
                "SELECT conversation_id, sender, body, client_id, created_at FROM messages "
                "ORDER BY id").fetchall()
            seen.append((answers, stored))
        (on, stored_on), (off, stored_off) = seen
        for case, a, b in zip(cases, on, off, strict=False):
            assert a == b, case
        assert len(on) == len(off) == len(cases) + 2
        assert [a[0] for a in on[:5]] == [200] * 5 and on[2][1]["duplicate"] is True
        assert stored_on == stored_off
        # the lane took the well-formed ones (5 stored, 9 refused by token, rights or the
        # desk); FastAPI the rest (its body model refused them) and the trailing slash
        assert lane_on.server.server.cstool_app.lane.served == 14
        assert lane_off.server.server.cstool_app.lane is None
    finally:
        lane_on.close()
        lane_off.close()


def test_lists_are_cursor_pages(served):
    mall(served.backend)
    served.backend.apply({"products": [{"key": f"p{i}", "shop": "mb", "title": f"奶嘴{i}",
                                        "price": 9} for i in range(7)]})
    seen, after = [], None
    for _ in range(5):
        params = {"shop": "mb", "limit": 3, **({"after": after} if after else {})}
        page = served.http("GET", "/v1/products", params=params).json()
        seen += [p["key"] for p in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == ["bottle", "p0", "p1", "p2", "p3", "p4", "p5", "p6"]
    ids = [served.backend.post_message("mb", f"k{i}", "你好")["conversation"]["id"]
           for i in range(5)]
    first = served.http("GET", "/v1/conversations", params={"limit": 2}).json()
    assert [c["id"] for c in first["items"]] == ids[::-1][:2] and first["next"] == ids[3]
    rest = served.http("GET", "/v1/conversations",
                       params={"limit": 10, "after": first["next"]}).json()
    assert [c["id"] for c in rest["items"]] == ids[::-1][2:] and rest["next"] is None
    assert served.http("GET", "/v1/products", params={"limit": 100000}).status_code == 200
    remote = served.remote()
    assert len(remote.list("products")) == 9
    assert [c["id"] for c in remote.list_conversations(limit=3)] == ids[::-1][:3]


# -- live events ---------------------------------------------------------------------------------

def test_event_stream_is_filtered_by_rights(served):
    mall(served.backend)
    head = served.backend.events(after=0, limit=10000)[-1]["id"]
    chats(served)
    served.backend.update("products", "bottle", {"price": 49})
    expected = served.backend.events(after=head, limit=1000)
    admin = read_events(served.url, served.admin, want=len(expected), last_id=head)
    mine = read_events(served.url, served.token("mbxz"), last_id=head,
                       want=len([e for e in expected if e["shop"] == "mb"]))
    assert admin == expected and {e["shop"] for e in admin} == {"lf", "mb"}
    assert mine == [e for e in admin if e["shop"] == "mb"]
    assert [e["type"] for e in mine][-1] == "product.updated"
    r = served.http("GET", "/v1/events", served.token("mbxz"), params={"shop": "lf"})
    assert r.status_code == 403


def test_event_stream_resumes_with_last_event_id_and_loses_nothing(served):
    mall(served.backend)
    start = served.backend.events(after=0, limit=10000)[-1]["id"]
    got: list[dict] = []
    done = threading.Event()

    def writer():
        for i in range(30):
            served.backend.post_message("lf", f"r{i}", f"第{i}条")
            time.sleep(0.005)
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    cursor = start
    for _ in range(40):  # many short connections while the writer writes
        batch = read_events(served.url, served.admin, want=7, last_id=cursor, timeout_s=0.5)
        got += batch
        if batch:
            cursor = batch[-1]["id"]
        if done.is_set() and not batch:
            break
    t.join()
    got += read_events(served.url, served.admin, want=1000, last_id=cursor, timeout_s=0.5)
    expected = served.backend.events(after=start, limit=10000)
    assert [e["id"] for e in got] == [e["id"] for e in expected]
    assert len(expected) >= 30 * 3


def test_event_stream_pings_and_ends_when_the_token_is_revoked(served):
    mall(served.backend)
    token = TokenStore(served.backend).create_token("xm")
    raw: list[str] = []
    events = read_events(served.url, token["token"], want=1, timeout_s=0.7, raw=raw)
    assert events == [] and ": ping" in raw and raw[0] == "retry: 2000"
    revoke = threading.Timer(0.3, TokenStore(served.backend).revoke_token, (token["id"],))
    revoke.start()
    started = time.monotonic()
    assert read_events(served.url, token["token"], want=1, timeout_s=5) == []
    assert time.monotonic() - started < 2  # ended at the next ping, not at our deadline
    revoke.join()


def test_an_open_event_stream_follows_the_agents_rights(served):
    mall(served.backend)
    token = served.token("lina")  # an agent of lf, offline: gets no chats
    got: list[dict] = []
    reader = threading.Thread(target=lambda: got.extend(read_events(
        served.url, token, want=1000, timeout_s=3.0)))
    reader.start()
    time.sleep(0.5)
    served.backend.update("products", "dress", {"price": 259})  # lf: seen
    time.sleep(0.5)
    served.backend.update("agents", "lina", {"shops": ["mb"]})   # moved to mb
    time.sleep(0.6)  # a ping or two
    served.backend.update("products", "dress", {"price": 239})  # lf: no longer seen
    served.backend.update("products", "bottle", {"price": 49})  # mb: seen
    reader.join()
    seen = [(e["type"], e["key"]) for e in got if e["type"] == "product.updated"]
    assert seen == [("product.updated", "dress"), ("product.updated", "bottle")]


def test_customer_event_stream_sees_only_its_own_chat(served):
    mall(served.backend)
    head = served.backend.events(after=0, limit=10000)[-1]["id"]
    token = served.customer_token("lf", "c5")
    chats(served)  # wl's chats: not c5's
    mine = served.backend.post_message("lf", "c5", "我的问题")["conversation"]["id"]
    served.backend.reply("xm", mine, "您好")
    own = [e for e in served.backend.events(after=head, limit=1000)
           if e["key"] == str(mine) and e["type"] in ("conversation.created", "message.created",
                                                       "conversation.assigned")]
    events = read_events(served.url, token, want=len(own) + 1, last_id=head, timeout_s=0.6)
    assert events == own and len(own) >= 4



# -- group commit ---------------------------------------------------------------------------

def test_waiting_calls_commit_together_and_a_failing_one_fails_alone(backend):
    import asyncio

    from cstool.server.worker import StorageWorker

    mall(backend)
    worker = StorageWorker(backend.database)

    def bad():
        with backend.database.write() as conn:  # writes, then fails: rolled back alone
            conn.execute("UPDATE shops SET name = 'x' WHERE key = 'lf'")
            raise Conflict("refused")

    async def main():
        slow = worker.run(lambda: time.sleep(0.1))  # holds the thread while the rest queue
        task = asyncio.ensure_future(slow)
        await asyncio.sleep(0.02)
        calls = [worker.run(lambda i=i: backend.post_message("lf", f"g{i}", "你好")) for i in
                 range(5)]
        calls.insert(2, worker.run(bad))
        calls.append(worker.run(lambda: backend.get_conversation(1)))
        await task
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        worker.stop()
    assert worker.groups == 1
    assert isinstance(results[2], Conflict)
    assert [r["conversation"]["customer"] for r in results[:2] + results[3:6]] == [
        f"g{i}" for i in range(5)]
    assert results[6]["customer"] == "g0"  # a read in the group sees the group's writes
    assert backend.get("shops", "lf")["name"] == "翎衣女装"
    assert len(backend.list_conversations()) == 5
    assert "write" not in vars(backend.database)  # the Database has its own methods back


def test_the_first_threads_groups_are_capped_when_asked(backend):
    """With posts' threads beside it (PostgreSQL) the first thread's groups hold the write
    lock exclusively: capped (``exclusive_group``) so that the posts take it between."""
    import asyncio

    from cstool.server.worker import EXCLUSIVE_GROUP_BESIDE_POSTS, StorageWorker

    mall(backend)
    assert StorageWorker(backend.database, beside=0).exclusive_group == 64  # SQLite: one writer
    worker = StorageWorker(backend.database, exclusive_group=EXCLUSIVE_GROUP_BESIDE_POSTS)
    sizes: list[int] = []
    real = worker._run_group

    def counting(group):
        sizes.append(len(group))
        return real(group)

    worker._run_group = counting

    async def main():
        task = asyncio.ensure_future(worker.run(lambda: time.sleep(0.1)))
        await asyncio.sleep(0.02)  # the rest queue meanwhile
        calls = [worker.run(lambda i=i: backend.post_message("lf", f"g{i}", "你好"))
                 for i in range(10)]
        await task
        return await asyncio.gather(*calls)

    try:
        results = asyncio.run(main())
    finally:
        worker.stop()
    assert sizes == [4, 4, 2]
    assert [r["conversation"]["customer"] for r in results] == [f"g{i}" for i in range(10)]


def test_concurrent_requests_all_land(served):
    mall(served.backend)
    results: list[int] = []

    def client(n: int) -> None:
        with httpx.Client(base_url=served.url, timeout=10,
                          headers={"Authorization": f"Bearer {served.admin}"}) as c:
            for i in range(10):
                r = c.post("/v1/shops/lf/messages", json={"customer": f"k{n}", "text": f"{i}"})
                results.append(r.status_code)
                bad = c.post("/v1/shops/lf/messages", json={"customer": "Bad Key", "text": "x"})
                results.append(bad.status_code)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(results)) == [200, 422] and results.count(200) == 80
    bodies = served.backend.database.conn.execute(
        "SELECT COUNT(*) FROM messages WHERE sender = 'customer'").fetchone()[0]
    assert bodies == 80


def test_the_remote_backend_follows_the_stream(served):
    mall(served.backend)
    head = served.backend.events(after=0, limit=1000)[-1]["id"]
    lf, _ = chats(served)
    stream = served.remote(served.token("xm")).subscribe(after=head)
    try:
        first = [next(stream) for _ in range(3)]
    finally:
        stream.close()
    assert [e["id"] for e in first] == [e["id"] for e in served.backend.events(
        after=head, shop="lf", limit=3)]
    assert first[0] == {**first[0], "type": "conversation.created", "key": str(lf)}


# -- stopping --------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_stops_gracefully_without_losing_acknowledged_messages(tmp_path):
    db = tmp_path / "mall.db"
    be = LocalBackend(db)
    mall(be)
    token = TokenStore(be).create_token(None, "admin")["token"]
    be.close()
    port = _free_port()
    launcher = ("import sys; sys.argv[0] = 'cstool'; from tests.server_support import cli_app; "
                "cli_app()()")
    # its output goes to a file, read whenever a failure shows it: a pipe nobody drains
    # could fill and stall the server, and reading one from a live server blocks
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", launcher, "serve", "--db", str(db), "--port", str(port)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def said() -> str:
        return log.read_text(encoding="utf-8", errors="replace")

    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a bound on a loaded machine, not a speed check
        while True:
            try:
                httpx.get(url + "/v1/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    pytest.fail(f"serve exited ({proc.returncode}) before answering: {said()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"serve did not answer /v1/health within 60 s: {said()}")
                time.sleep(0.05)
        acked: list[tuple[int, str]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(n: int) -> None:
            with httpx.Client(base_url=url, timeout=5,
                              headers={"Authorization": f"Bearer {token}"}) as c:
                for i in range(2000):
                    if stop.is_set():
                        return
                    text = f"客户{n}的第{i}条"
                    try:
                        r = c.post("/v1/shops/lf/messages",
                                   json={"customer": f"g{n}", "text": text})
                    except httpx.TransportError:
                        return
                    if r.status_code in (200, 201):
                        with lock:
                            acked.append((r.json()["message"]["id"], text))

        stream = httpx.stream("GET", url + "/v1/events",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
        stream.__enter__()  # an open event stream must not hold the stop up
        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60  # traffic flowing before the stop (a loaded CI
        while len(acked) <= 20 and time.monotonic() < deadline:  # machine is slow to start)
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - stopped_at
        stop.set()
        for t in threads:
            t.join(10)
        stream.__exit__(None, None, None)
        assert code is not None, f"serve still running 20 s after SIGTERM: {said()}"
        assert code == 0, said()
        assert took < 5, f"the graceful stop took {took:.1f} s: {said()}"
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/v1/health", timeout=1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(acked) > 20
    be = LocalBackend(db)
    try:
        stored = dict(be.database.conn.execute(
            "SELECT id, body FROM messages WHERE sender = 'customer'").fetchall())
    finally:
        be.close()
    assert all(stored.get(mid) == text for mid, text in acked)


# -- the CLI through the API ------------------------------------------------------------------

def test_cli_tokens_and_the_cli_through_the_api(served, db_path):
    mall(served.backend)
    lf, _ = chats(served)
    runner = CliRunner()
    app = cli_app()

    def run(*args, env=None):
        return runner.invoke(app, list(args), env=env)

    made = run("--db", db_path, "token", "create", "--agent", "mbxz", "--expires", "2w")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("cst_") and "shown this once" in made.stderr
    listed = json.loads(run("--db", db_path, "token", "list", "--json").stdout)
    assert listed[0]["agent"] == "mbxz" and listed[0]["prefix"] == secret[:10]
    widget = run("--db", db_path, "token", "customer", "--shop", "lf", "--customer", "c8",
                 "--url", served.url)
    assert f"{served.url}/widget/lf#token=cst_" in widget.stderr
    # the customer's own token in the CLI: its chat, shown with what a customer may see
    mine = {"CSTOOL_API": served.url,
            "CSTOOL_TOKEN": widget.stderr.split("#token=")[1].split()[0]}
    posted = run("conv", "post", "你好", "--shop", "lf", "--customer", "c8", "--json", env=mine)
    assert posted.exit_code == 0, posted.output
    cid = json.loads(posted.stdout)["conversation"]["id"]
    listed_mine = run("conv", "list", env=mine)
    assert listed_mine.exit_code == 0, listed_mine.output
    assert f"\n{cid}\tlf\tc8" in listed_mine.stdout
    shown = run("conv", "show", str(cid), env=mine)
    assert shown.exit_code == 0 and "customer: 你好" in shown.stdout, shown.output
    env = {"CSTOOL_API": served.url, "CSTOOL_TOKEN": secret}
    shops = run("shop", "list", "--json", env=env)
    assert shops.exit_code == 0, shops.output
    assert [s["key"] for s in json.loads(shops.stdout)] == ["mb"]
    denied = run("conv", "show", str(lf), env=env)
    assert denied.exit_code == 1
    assert denied.stderr.startswith("Error: conversation 1 belongs to shop 'lf', which agent "
                                    "'mbxz' may not use")
    bad = run("shop", "list", env={**env, "CSTOOL_TOKEN": "cst_wrong"})
    assert bad.exit_code == 1 and "Error: unknown token" in bad.stderr
    both = run("--db", db_path, "shop", "list", env=env)
    assert both.exit_code == 2 and "not both" in both.stderr
    revoked = run("--db", db_path, "token", "revoke", str(listed[0]["id"]))
    assert revoked.exit_code == 0
    assert run("shop", "list", env=env).exit_code == 1


# -- desk flows over the Remote backend -------------------------------------------------------

@pytest.mark.parametrize("flow", [
    test_desk.test_reply_transfer_close_rate,
    test_desk.test_capacity_is_never_exceeded_and_the_queue_is_told_its_place,
    test_desk.test_agent_going_offline_returns_chats_to_others_or_the_queue,
    test_desk.test_accept_next_takes_highest_priority_then_oldest,
    test_desk.test_retried_client_id_is_stored_once,
    test_desk.test_idle_chats_close_themselves,
    test_desk.test_route_explain_and_test,
    test_desk.test_rule_order_and_move,
    test_desk.test_bad_rules_are_refused_with_the_field,
], ids=lambda f: f.__name__.removeprefix("test_"))
def test_desk_flow_over_the_remote_backend(served, clock, flow):
    remote = served.remote()
    params = inspect.signature(flow).parameters
    flow(*(remote if p == "backend" else clock for p in params))


def test_the_console_reads_through_the_remote_backend(served):
    mall(served.backend)
    lf, _ = chats(served)
    xm = served.remote(served.token("xm"))
    desk = xm.agent_desk("xm")
    assert [c["id"] for c in desk["chats"]] == [lf] and desk["chats"][0]["unread"] is True
    xm.mark_seen("xm", lf)
    assert xm.agent_desk("xm")["chats"][0]["unread"] is False
    assert xm.customer_context(lf)["name"] == "王丽"
    card = xm.send_card("xm", lf, "coupon", "c20")
    assert card["kind"] == "coupon" and card["payload"]["name"] == "满200减20"
    assert xm.search_history("xm", "M码")[0]["body"] == "有M码吗"
    assert xm.events(after=desk["last_event"], limit=1)
    assert xm.clock.now_ms() > 0


def test_bench_api_quick_runs_and_prints_its_figures():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_api.py"), "--quick"],
                         capture_output=True, text=True, timeout=180, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(
                             filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    assert out.returncode == 0, out.stderr
    assert "messages/s" in out.stdout and "ratio" in out.stdout
    assert "missed 0" in out.stdout
