"""Issue 22, items 4, 5 and 10 through the CLI (exact exit codes, parsed ``--json``):
macros (``conv macro``: all or nothing, or a reported partial run), the follow-up lists
(``conv list --classification --since``) and invitations from them under the campaigns'
guards (``conv follow-up``), presence (``conv presence``) and a supervisor's whisper
(``conv note --to``)."""

from __future__ import annotations

import json

import pytest
import yaml

from cstool.backend.local import LocalBackend
from cstool.errors import Conflict
from cstool.macros import TICKET_TEAMS, MacroError, parse_actions, pick
from cstool.services.tickets import TEAMS, TicketService

from .conftest import Cli


@pytest.fixture
def desk(db_path, clock, monkeypatch):
    """A Local backend on the frozen clock and the CLI on its file, at the same instant
    (2026-11-20 10:00 Beijing: outside the default quiet hours)."""
    monkeypatch.setenv("CSTOOL_NOW", "2026-11-20T10:00:00+08:00")
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    be = LocalBackend(db_path, clock=clock)
    be.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "settings": {"labels": ["投诉", "大促",
                                                                       "已解决"]}}],
        "groups": [{"key": "pre", "shop": "s", "name": "售前组"},
                   {"key": "after", "shop": "s", "name": "售后组", "kind": "aftersale"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "groups": ["pre"],
                    "status": "busy", "max_chats": 5},
                   {"handle": "b", "name": "小王", "shops": ["s"], "groups": ["after"],
                    "status": "busy", "max_chats": 5},
                   {"handle": "sup", "name": "主管李", "role": "supervisor", "shops": ["s"]}],
        "products": [{"key": "dress", "shop": "s", "title": "法式碎花连衣裙", "price": 299,
                      "stock": 9}],
        "quick_replies": [{"key": "qr-sorry", "shop": "s", "title": "致歉",
                           "body": "非常抱歉给您带来不便，已为您登记处理"}],
        "macros": [{"key": "complaint", "shop": "s", "name": "投诉升级", "actions": [
            {"reply": "qr-sorry"}, {"label": "投诉"},
            {"ticket": {"type": "complaint", "title": "顾客投诉", "priority": "P2"}},
            {"transfer": {"group": "after", "note": "投诉，请售后跟进"}}, {"priority": 20}]},
            {"key": "done", "shop": "s", "name": "结束", "actions": [
                {"label": "已解决"}, {"close": "resolved"}]}]})
    yield be, Cli(db_path)
    be.close()


def taken(be, text="我要投诉，衣服破了", customer="c1", product=None) -> int:
    cid = be.post_message("s", customer, text, product=product)["conversation"]["id"]
    assert be.accept_next("a")["id"] == cid
    return cid


# -- 4. macros ----------------------------------------------------------------------------

def test_a_macro_runs_every_action_as_the_agent(desk):
    be, cli = desk
    cid = taken(be)
    out = cli.json("conv", "macro", str(cid), "投诉升级", "--agent", "a")
    assert out["complete"] is True and out["macro"] == "complaint"
    assert [(s["action"], s["status"]) for s in out["steps"]] == [
        ("reply", "done"), ("label", "done"), ("ticket", "done"), ("transfer", "done"),
        ("priority", "done")]
    conv = cli.json("conv", "show", str(cid))
    assert conv["labels"] == ["投诉"] and conv["priority"] == 20
    assert (conv["state"], conv["group"]) == ("queued", "after")
    assert ("agent", "非常抱歉给您带来不便，已为您登记处理") in [
        (m["sender"], m["body"]) for m in conv["messages"]]
    [ticket] = be.list_tickets(shop="s")
    assert (ticket["conversation"], ticket["priority"], ticket["type"]) == (
        cid, "P2", "complaint")
    # each step wrote its own event, as the person's operation does
    kinds = [e["type"] for e in be.events(limit=500)]
    assert kinds.index("conversation.labelled") < kinds.index("ticket.created") < \
        kinds.index("conversation.transferred") < kinds.index("conversation.priority")
    # the text report, in Chinese
    cid2 = taken(be, "好的谢谢", customer="c2")
    r = cli("conv", "macro", str(cid2), "结束", "--agent", "a")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["  ✓ label 已解决", "  ✓ close resolved"]
    assert r.stderr.strip() == f"已在会话 {cid2} 运行宏「结束」"
    assert be.get_conversation(cid2)["state"] == "closed"


def test_a_macro_that_cannot_run_is_refused_with_nothing_done(desk):
    be, cli = desk
    cid = be.post_message("s", "c1", "在吗")["conversation"]["id"]  # queued: nobody holds it
    r = cli("conv", "macro", str(cid), "投诉升级", "--agent", "a")
    assert r.exit_code == 1
    assert r.output.strip() == f"错误：客服 a 不能运行宏于会话 {cid}：会话不在其名下"
    conv = be.get_conversation(cid)
    assert conv["labels"] == [] and be.list_tickets(shop="s") == []
    r = cli("conv", "macro", str(cid), "没有的宏", "--agent", "a")
    assert r.exit_code == 1 and "没有的宏" in r.output
    r = cli("conv", "macro", str(cid), "投诉升级")
    assert r.exit_code == 2  # --agent is required
    # a label the shop does not list: the whole macro is refused before any step
    be.apply({"macros": [{"key": "vip", "shop": "s", "name": "VIP", "actions": [
        {"reply": "qr-sorry"}, {"label": "VIP"}]}]})
    assert be.accept_next("a")["id"] == cid
    r = cli("conv", "macro", str(cid), "VIP", "--agent", "a", "--json")
    assert r.exit_code == 1
    assert [m for m in be.get_conversation(cid)["messages"] if m["sender"] == "agent"] == []


def test_a_step_refused_midway_stops_the_run_and_is_reported(desk, monkeypatch):
    be, cli = desk
    cid = taken(be)

    def refuse(self, **kw):  # as if the shop's ticket desk refused it at that moment
        raise Conflict("tickets are closed for the night", key="conversation_closed",
                       conversation=kw["conversation"])

    monkeypatch.setattr(TicketService, "create_ticket", refuse)
    r = cli("conv", "macro", str(cid), "投诉升级", "--agent", "a", "--json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["complete"] is False
    assert [(s["action"], s["status"]) for s in out["steps"]] == [
        ("reply", "done"), ("label", "done"), ("ticket", "failed"), ("transfer", "skipped"),
        ("priority", "skipped")]
    assert out["steps"][2]["error"]["key"] == "conversation_closed"
    r = cli("conv", "macro", str(cid), "投诉升级", "--agent", "a")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "  ✓ reply qr-sorry" and lines[2].startswith("  ✗ ticket 顾客投诉：")
    assert lines[3] == "  · transfer after（未执行）"
    conv = be.get_conversation(cid)
    assert conv["state"] == "active" and conv["labels"] == ["投诉"]  # done steps stay done


def test_macros_in_apply_export_and_listed(desk, tmp_path):
    be, cli = desk
    r = cli("export", "--shop", "s")
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load(r.stdout)
    assert [m["key"] for m in doc["macros"]] == ["complaint", "done"]
    assert doc["macros"][1] == {"key": "done", "shop": "s", "name": "结束", "actions": [
        {"label": "已解决"}, {"close": "resolved"}]}
    rows = cli.json("conv", "macros", "--shop", "s", "--agent", "a")
    assert [m["name"] for m in rows] == ["投诉升级", "结束"]
    bad = {"macros": [{"key": "bad", "shop": "s", "name": "x",
                       "actions": [{"close": True}, {"label": "投诉"}]}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad, ensure_ascii=False))
    r = cli("apply", "-f", str(path))
    assert r.exit_code == 1 and "close 之后不能再有动作" in r.output


def test_the_pure_rules_of_macros():
    assert TICKET_TEAMS == TEAMS
    steps = parse_actions([{"transfer": "g"}, {"label": "x"}, {"ticket": {
        "type": "other", "title": "t"}}])
    assert [s.kind for s in steps] == ["transfer", "label", "ticket"]
    for bad, code in (({"reply": "x\ny"}, "macro_action_text"),
                      ({"label": "x", "close": True}, "macro_action_shape"),
                      ({"priority": True}, "macro_priority"),
                      ({"transfer": {"group": "g", "to": "x"}}, "macro_transfer_shape")):
        with pytest.raises(MacroError) as e:
            parse_actions([bad])
        assert e.value.code == code
    shop_m = {"key": "m", "name": "致歉", "agent": None}
    own = {"key": "m2", "name": "致歉", "agent": "a"}
    assert pick([shop_m, own], "致歉", "a") is own
    assert pick([shop_m, own], "致歉", "b") is shop_m
    assert pick([shop_m, own], "m2", "b") is None


# -- 5. follow-up lists ---------------------------------------------------------------------

def test_follow_up_lists_and_an_invitation_under_the_cap(desk, clock, monkeypatch):
    be, cli = desk
    c1 = be.post_message("s", "c1", "这条裙子有M码吗", product="dress")["conversation"]["id"]
    c2 = be.post_message("s", "c2", "我要退货", product="dress")["conversation"]["id"]
    c3 = be.post_message("s", "c3", "包邮吗", product="dress")["conversation"]["id"]
    be.apply({"orders": [{"key": "o3", "shop": "s", "customer": "c3", "status": "created",
                          "created_at": "2026-11-20T10:00:00+08:00",
                          "items": [{"product": "dress"}]}]})
    rows = cli.json("conv", "list", "--classification", "consulted_not_ordered", "--since",
                    "1d")
    assert [(r["id"], r["customer"], r["product"]) for r in rows] == [(c1, "c1", "dress")]
    rows = cli.json("conv", "list", "--classification", "after_sale", "--shop", "s")
    assert [r["id"] for r in rows] == [c2]
    rows = cli.json("conv", "list", "--classification", "ordered_not_paid")
    assert [(r["id"], r["order"]) for r in rows] == [(c3, "o3")]
    # a chat older than the period is not listed
    clock.advance(2 * 86400)
    monkeypatch.setenv("CSTOOL_NOW", "2026-11-22T10:00:00+08:00")  # the CLI's clock
    assert cli.json("conv", "list", "--classification", "consulted_not_ordered") == []
    assert [r["id"] for r in cli.json("conv", "list", "--classification",
                                      "consulted_not_ordered", "--since", "3d")] == [c1]
    # one invitation to order: the priced card; the second is over the shop's cap
    msg = cli.json("conv", "follow-up", str(c1), "--agent", "a")
    assert (msg["kind"], msg["payload"]["item"]["product"], msg["payload"]["total"]) == (
        "invitation", "dress", 299)
    assert msg["body"].startswith("邀请您下单：法式碎花连衣裙 ×1")
    r = cli("conv", "follow-up", str(c1), "--agent", "b")
    assert r.exit_code == 1 and "上限 1" in r.output
    [row] = cli.json("conv", "list", "--classification", "consulted_not_ordered", "--since",
                     "3d")
    assert row["invited_at"] is not None
    # the campaigns' cap counts it too: the shop's cap is shared
    assert be.follow_up_invite(c3, "a") is not None  # another customer: room
    # usage errors: exit 2, nothing listed
    assert cli("conv", "list", "--classification", "rich").exit_code == 2
    assert cli("conv", "list", "--since", "1d").exit_code == 2
    assert cli("conv", "list", "--classification", "after_sale", "--label", "x").exit_code == 2
    assert cli("conv", "list", "--classification", "after_sale", "--since", "x").exit_code == 2


def test_the_product_page_a_chat_started_on_is_what_it_is_about(desk):
    """A chat started on a product's page (``--entry-page``) is about that product: the
    follow-up list shows it and the invitation offers it, no ``--product`` needed."""
    be, cli = desk
    pages = {"c1": "/item/dress", "c2": "https://m.shop.example/item.htm?id=dress&spm=a1",
             "c3": "/p/dress.html", "c4": "/item/unknown-9", "c5": "/home"}
    ids = {c: cli.json("conv", "post", "有M码吗", "--shop", "s", "--customer", c,
                       "--entry-page", page)["conversation"]["id"] for c, page in pages.items()}
    rows = cli.json("conv", "list", "--classification", "consulted_not_ordered", "--since",
                    "1d")
    assert {r["customer"]: r["product"] for r in rows} == {
        "c1": "dress", "c2": "dress", "c3": "dress", "c4": None, "c5": None}
    msg = cli.json("conv", "follow-up", str(ids["c2"]), "--agent", "a")
    assert msg["payload"]["item"]["product"] == "dress"
    r = cli("conv", "follow-up", str(ids["c5"]), "--agent", "a")  # no product: usage
    assert r.exit_code == 2 and "没有关联商品" in r.output, r.output


def test_follow_up_guards_say_why(desk, monkeypatch):
    be, cli = desk
    c1 = be.post_message("s", "c1", "有M码吗", product="dress")["conversation"]["id"]
    be.post_message("s", "c1", "TD")  # 退订
    r = cli("conv", "follow-up", str(c1), "--agent", "a")
    assert r.exit_code == 1 and "已退订" in r.output
    c2 = be.post_message("s", "c2", "有M码吗", product="dress")["conversation"]["id"]
    # 23:00 Beijing: the default quiet hours (22:00-08:00)
    monkeypatch.setenv("CSTOOL_NOW", "2026-11-20T23:00:00+08:00")
    r = cli("conv", "follow-up", str(c2), "--agent", "a")
    assert r.exit_code == 1 and "免打扰" in r.output, r.output
    assert [m for m in be.get_conversation(c2)["messages"] if m["kind"] == "invitation"] == []


# -- 10. presence and whispers --------------------------------------------------------------

def test_presence_and_a_whisper(desk, clock):
    be, cli = desk
    cid = taken(be)
    assert cli.json("conv", "presence", str(cid), "--agent", "a") == {
        "conversation": cid, "others": []}
    out = cli.json("conv", "presence", str(cid), "--agent", "sup", "--state", "typing")
    assert out["others"] == [{"agent": "a", "name": "小美", "role": "agent",
                              "state": "viewing"}]
    r = cli("conv", "presence", str(cid), "--agent", "a")
    assert r.exit_code == 0 and "主管李（sup，主管）正在输入" in r.stdout
    assert cli("conv", "presence", str(cid), "--agent", "a", "--state", "x").exit_code == 2
    note = cli.json("conv", "note", str(cid), "先道歉再处理", "--agent", "sup", "--to", "a")
    assert (note["to"], note["to_name"]) == ("a", "小美")
    r = cli("conv", "show", str(cid))
    assert "🤫 悄悄话（主管李 → 小美）：先道歉再处理" in r.stdout
    r = cli("conv", "note", str(cid), "x", "--agent", "b", "--to", "a")
    assert r.exit_code == 1 and "只有主管" in r.output
    # the customer never sees it
    assert all("先道歉" not in m["body"] for m in be.get_conversation(cid)["messages"])
