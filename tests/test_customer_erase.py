"""Erasing a customer in one shop (the data subject's right under PIPL and GDPR): the
CLI's confirmation, exit codes and ``--json``; the files' bytes gone from the folder
beside the data file while a picture another customer also sent stays; what the shop
keeps (orders, tickets, campaign sends) without the person; and the rights over real
HTTP (supervisors of the shop and admins only; another shop's customer is not found)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from commands.main import app as cli_app
from cstool.backend.local import LocalBackend
from tests.file_support import b64, png
from tests.server_support import serve

SHOPS = {
    "shops": [{"key": "lf", "name": "翎衣女装", "service_mode": "human_first"},
              {"key": "mb", "name": "萌宝母婴", "service_mode": "human_first"}],
    "agents": [{"handle": "xm", "name": "小美", "shops": ["lf"], "status": "busy"},
               {"handle": "lina", "name": "丽娜", "shops": ["lf"], "role": "supervisor",
                "status": "busy"},
               {"handle": "aj", "name": "阿杰", "shops": ["mb"], "status": "busy"},
               {"handle": "mbboss", "name": "萌宝主管", "shops": ["mb"], "role": "supervisor",
                "status": "busy"}],
    "products": [{"key": "cup", "shop": "lf", "title": "马克杯", "price": 39}],
    "campaigns": [{"key": "lf-ship", "shop": "lf", "name": "发货通知",
                   "trigger": "order_shipped", "template": "{name}，订单{order}已发出"}],
    "customers": [{"key": "wl", "name": "王丽", "phone": "13800001234",
                   "profiles": [{"shop": "lf"}, {"shop": "mb"}]},
                  {"key": "zs", "name": "张三", "profiles": [{"shop": "lf"}]},
                  {"key": "mbonly", "name": "孟秘", "profiles": [{"shop": "mb"}]}],
}
SHARED = png(rgb=(1, 2, 3))
OWN = png(rgb=(7, 8, 9))


def _mall(db: str) -> dict:
    """wl in lf: a chat with two pictures (one zs sent too), a private note, a ticket, an
    order shipped with a notice sent; wl in mb: a chat. Returns ids and SHA-256s."""
    be = LocalBackend(db)
    try:
        be.apply(SHOPS)
        be.update("shops", "lf", {"settings": {"quiet_hours": None}})
        secret = "s" * 20  # nothing listens on port 9: deliveries stay queued
        be.create("channels", {"key": "lf-app", "shop": "lf", "kind": "http",
                               "url": "http://127.0.0.1:9/gw", "secret": secret})
        be.create("webhooks", {"key": "lf-erp", "shop": "lf", "url": "http://127.0.0.1:9/wh",
                               "events": ["*"], "secret": secret})
        cid = be.post_message("lf", "wl", "杯子碎了可以补发吗？我电话13800001234",
                              channel="lf-app")["conversation"]["id"]
        assert be.accept_next("xm")["id"] == cid
        be.reply("xm", cid, "王丽您好，可以补发，已登记")  # to the gateway: a delivery
        be.propose_knowledge(cid, "xm")  # an open proposal with wl's words in it
        shared = be.post_file("lf", "wl", "碎杯.png", b64(SHARED))["message"]
        own = be.post_file("lf", "wl", "快递单.png", b64(OWN))["message"]
        be.add_note("xm", cid, "客户住在上海市徐汇区")
        theirs = be.post_file("lf", "zs", "同一张.png", b64(SHARED))
        ticket = be.create_ticket(type="damaged_goods", title="王丽的杯子破损", shop="lf",
                                  conversation=cid)
        be.order_event("lf", "ev-1", "created", "lf-o1", customer="wl",
                       items=[{"product": "cup", "quantity": 1}],
                       at="2026-11-20T09:00:00+08:00")
        be.order_event("lf", "ev-2", "shipped", "lf-o1", carrier="顺丰", tracking_no="SF1",
                       at="2026-11-20T10:00:00+08:00")
        be.run_due_campaigns("2026-11-20T10:01:00+08:00", shop="lf")
        [send] = be.campaign_sends("lf-ship")
        mb = be.post_message("mb", "wl", "奶瓶有货吗")["conversation"]["id"]
        be.claim_webhook_deliveries("test-worker", limit=1)  # the events become deliveries
        return {"cid": cid, "mb": mb, "shared": shared["payload"]["sha256"],
                "own": own["payload"]["sha256"], "theirs": theirs, "ticket": ticket["id"],
                "outcome": send["outcome"]}
    finally:
        be.close()


@pytest.fixture
def desk(tmp_path):
    db = str(tmp_path / "erase.db")
    ids = _mall(db)
    runner = CliRunner()
    return (lambda *a, **kw: runner.invoke(cli_app, ["--db", db, *a], **kw)), db, ids


def _blob(db: str, sha: str):
    return __import__("pathlib").Path(db + ".files") / sha[:2] / sha


def _rows(db: str, sql: str, *params) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_cli_erase_asks_then_erases_and_the_bytes_leave_the_disk(desk):
    run, db, ids = desk
    assert _blob(db, ids["shared"]).exists() and _blob(db, ids["own"]).exists()
    before = _rows(db, "SELECT COUNT(*) FROM messages")
    # no --yes: asked; anything but y leaves everything as it was
    for answer in ("n\n", "\n", ""):
        r = run("--lang", "en", "customer", "erase", "lf", "wl", input=answer)
        assert r.exit_code == 1, r.output
        assert r.stderr.strip().splitlines()[-1].endswith(
            "Error: customer 'wl' was not erased (answer y, or give --yes)"), r.stderr
        assert r.stderr.count("Error") == 1 and "[y/N]" in r.stderr, r.stderr
        assert "Traceback" not in r.output
    assert _rows(db, "SELECT COUNT(*) FROM messages") == before
    r = run("customer", "erase", "lf", "wl", "--json", input="y\n")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout[r.stdout.index("{"):])  # the runner echoes the typed "y"
    assert (out["conversations"], out["files"], out["blobs_deleted"], out["orders_kept"],
            out["tickets_kept"], out["customer_deleted"], out["tokens"]) == (
        1, 2, 1, 1, 1, False, 0)
    stand_in = out["stand_in"]
    assert out["channel_deliveries"] >= 1 and out["webhook_deliveries"] >= 1, out
    assert out["kb_suggestions"] == 1, out
    assert _rows(db, "SELECT COUNT(*) FROM kb_suggestions") == [(0,)]
    # zs's deliveries stay; none of wl's chat is left
    assert _rows(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE order_key = ?",
                 f"conversation:{ids['cid']}") == [(0,)]
    assert _rows(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE order_key = ?",
                 f"conversation:{ids['theirs']['conversation']['id']}")[0][0] > 0
    assert _rows(db, "SELECT COUNT(*) FROM channel_deliveries") == [(0,)]
    assert stand_in.startswith("erased-")
    # the bytes only wl's message used are gone from disk; the shared ones stay for zs
    assert not _blob(db, ids["own"]).exists()
    assert _blob(db, ids["shared"]).exists()
    theirs = ids["theirs"]
    r = run("conv", "file", str(theirs["conversation"]["id"]), str(theirs["message"]["id"]),
            "--save", str(_blob(db, ids["shared"]).parent.parent.parent))
    assert r.exit_code == 0, r.output
    # nothing of the person is left in shop lf's rows
    dump = "\n".join(str(row) for table in (
        "messages", "conversations", "conversation_notes", "chat_files", "orders",
        "campaign_sends", "tickets", "ticket_timeline", "webhook_deliveries",
        "channel_deliveries") for row in _rows(db, f"SELECT * FROM {table}"))
    dump += "\n".join(str(row) for row in _rows(  # the platform's own events may name wl
        db, "SELECT * FROM events WHERE shop_id = (SELECT id FROM shops WHERE key = 'lf')"))
    for secret in ("13800001234", "徐汇", "王丽", "碎杯", "快递单"):
        assert secret not in dump, secret
    assert "'wl'" not in dump and '"wl"' not in dump
    # what the shop keeps: the order (no receiver, phone or address), the send, the ticket
    r = run("order", "show", "lf-o1", "--json")
    order = json.loads(r.stdout)
    assert (order["customer"], order["status"], order.get("phone"),
            order.get("address")) == (stand_in, "shipped", None, None)
    r = run("campaign", "sends", "lf-ship", "--json")
    assert r.exit_code == 0, r.output
    assert [(x["outcome"], x["customer"], x["body"]) for x in json.loads(r.stdout)] == [
        (ids["outcome"], stand_in, None)]
    r = run("ticket", "show", str(ids["ticket"]), "--json")
    assert json.loads(r.stdout)["title"] == "[已删除]"
    # wl's part in mb stays whole
    r = run("customer", "show", "wl", "--json")
    assert [p["shop"] for p in json.loads(r.stdout)["profiles"]] == ["mb"]
    r = run("conv", "show", str(ids["mb"]), "--json")
    assert r.exit_code == 0, r.output
    r = run("conv", "show", str(ids["cid"]))
    assert r.exit_code == 1, r.output
    # again, another shop's customer, an unknown shop: one line, exit 1, nothing changes
    for args, words in ((("lf", "wl"), "no customer 'wl' in shop 'lf'"),
                        (("lf", "mbonly"), "no customer 'mbonly' in shop 'lf'"),
                        (("nowhere", "wl"), "nowhere")):
        r = run("--lang", "en", "customer", "erase", *args, "--yes")
        assert r.exit_code == 1, r.output
        assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    r = run("customer", "erase", "lf", "--yes")
    assert r.exit_code == 2, r.output


def test_ids_of_the_newest_chat_and_message_are_never_given_again(desk):
    """SQLite gives a new row the highest id plus one: the erased newest chat and message
    stay as empty shells, so the next chat and message get new ids (a gateway that saw
    ``chd_1_<message>`` or a CRM that filed ``conversation:<id>`` never mixes them up)."""
    run, db, ids = desk
    [(top_chat, top_message)] = _rows(db, "SELECT MAX(conversation_id), MAX(id) FROM messages")
    assert top_chat == ids["mb"]  # wl's chat in mb is the newest
    r = run("customer", "erase", "mb", "wl", "--yes", "--json")
    assert r.exit_code == 0, r.output
    stand_in = json.loads(r.stdout)["stand_in"]
    r = run("conv", "post", "还有货吗", "--shop", "mb", "--customer", "zs", "--json")
    assert r.exit_code == 0, r.output
    new = json.loads(r.stdout)
    assert new["conversation"]["id"] > top_chat and new["message"]["id"] > top_message
    shell = _rows(db, "SELECT c.state, c.close_reason, cu.key, m.sender, m.body, m.payload "
                  "FROM conversations c JOIN customers cu ON cu.id = c.customer_id "
                  "JOIN messages m ON m.conversation_id = c.id WHERE c.id = ?", top_chat)
    assert shell == [("closed", "erased", stand_in, "system", "", None)]


def test_erasing_the_last_shop_deletes_the_customer_row(desk):
    run, db, ids = desk
    r = run("--lang", "en", "customer", "delete", "wl")  # a delete points at the erase
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1, r.output
    assert "cstool customer erase SHOP wl" in r.stderr, r.stderr
    for shop in ("lf", "mb"):
        r = run("customer", "erase", shop, "wl", "--yes")
        assert r.exit_code == 0, r.output
    assert "wl" in r.stderr and "mb" in r.stderr, r.output
    assert _rows(db, "SELECT COUNT(*) FROM customers WHERE key = 'wl'") == [(0,)]
    assert _rows(db, "SELECT COUNT(*) FROM events WHERE entity_key = 'wl' OR payload LIKE "
                 "'%\"wl\"%'") == [(0,)]
    r = run("customer", "show", "wl")
    assert r.exit_code == 1


# -- over HTTP ------------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path, clock):
    db = tmp_path / "erase-http.db"
    ids = _mall(str(db))
    s = serve(db, clock)
    yield s, str(db), ids
    s.close()


def test_only_the_shops_supervisors_and_admins_erase_over_http(served):
    s, db, ids = served
    wl = s.customer_token("lf", "wl")
    path = "/v1/shops/lf/customers/wl/erase"
    assert s.http("GET", f"/v1/conversations/{ids['cid']}", wl).status_code == 200
    for token in (s.token("xm"), s.token("aj"), s.token("mbboss"), wl,
                  s.customer_token("lf", "zs")):
        r = s.http("POST", path, token)
        assert r.status_code == 403, r.text
    r = s.http("POST", "/v1/shops/mb/customers/wl/erase", s.token("lina"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = s.http("POST", "/v1/shops/lf/customers/mbonly/erase", s.token("lina"))
    assert r.status_code == 404 and r.json()["error"]["key"] == "no_customer_in_shop"
    assert s.backend.get_conversation(ids["cid"])["id"] == ids["cid"]  # nothing changed yet
    r = s.http("POST", path, s.token("lina"))
    assert r.status_code == 200, r.text
    assert (r.json()["conversations"], r.json()["tokens"]) == (1, 1)
    assert not _blob(db, ids["own"]).exists() and _blob(db, ids["shared"]).exists()
    assert s.http("GET", f"/v1/conversations/{ids['cid']}", wl).status_code == 401  # revoked
    r = s.http("POST", path, s.admin)
    assert r.status_code == 404
    r = s.http("POST", "/v1/shops/mb/customers/wl/erase", s.admin)
    assert r.status_code == 200 and r.json()["customer_deleted"] is True
