"""The console's macros (Ctrl+X, a picker), follow-up lists (Ctrl+W, one key to invite)
and presence (someone else viewing or typing; a supervisor's whisper drawn apart),
through Pilot."""

from __future__ import annotations

import shutil

import pytest

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from tests.conftest import NOW
from tests.test_console_marks import press, settle, transcript_text
from tui.console import ConsoleApp
from tui.conv_tools import FollowUpScreen
from tui.screens import HelpScreen, PickScreen
from tui.widgets import Composer


def desk(tmp_path, **settings):
    clock = FrozenClock(NOW)  # 2026-11-20 10:00 Beijing
    b = LocalBackend(tmp_path / "desk.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first",
                   "settings": {"labels": ["投诉", "已解决"], **settings}}],
        "groups": [{"key": "after", "shop": "s", "name": "售后组"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 3},
                   {"handle": "sup", "name": "主管李", "role": "supervisor", "shops": ["s"]}],
        "products": [{"key": "dress", "shop": "s", "title": "法式碎花连衣裙", "price": 299,
                      "stock": 9}],
        "customers": [{"key": "c1", "name": "王丽", "profiles": [{"shop": "s"}]}],
        "quick_replies": [{"key": "qr-sorry", "shop": "s", "title": "致歉",
                           "body": "非常抱歉，已为您登记处理"}],
        "macros": [
            {"key": "complaint", "shop": "s", "name": "投诉升级", "actions": [
                {"reply": "qr-sorry"}, {"label": "投诉"},
                {"ticket": {"type": "complaint", "title": "顾客投诉"}},
                {"transfer": "after"}]},
            {"key": "resolved", "shop": "s", "name": "已解决并结束", "actions": [
                {"label": "已解决"}, {"close": "resolved"}]},
            {"key": "vip", "shop": "s", "name": "VIP", "actions": [{"label": "VIP"}]},
            {"key": "sup-own", "shop": "s", "agent": "sup", "name": "主管专用",
             "actions": [{"label": "投诉"}]}],
    })
    b.post_message("s", "c1", "我的包裹破了，要投诉")
    return b, clock


async def test_ctrl_x_picks_a_macro_and_runs_it(tmp_path):
    b, clock = desk(tmp_path)
    cid = b.list_conversations(customer="c1")[0]["id"]
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+x")
        assert isinstance(app.screen, PickScreen)
        # the shop's macros; the supervisor's own is not mine
        assert [k for k, _ in app.screen.items] == ["complaint", "resolved", "vip"]
        # the actions by their names in the interface language
        assert dict(app.screen.items)["complaint"] == "投诉升级：回复 → 标签 → 工单 → 转接"
        await press(app, pilot, *"投诉", "enter")
        conv = b.get_conversation(cid)
        assert conv["labels"] == ["投诉"] and conv["state"] == "queued"
        assert conv["group"] == "after"
        assert "非常抱歉，已为您登记处理" in [m["body"] for m in conv["messages"]]
        assert [t["type"] for t in b.list_tickets(shop="s")] == ["complaint"]
        assert any("投诉升级" in n.message for n in app.notice_log), [
            n.message for n in app.notice_log]


async def test_a_macro_refused_says_why_and_changes_nothing(tmp_path):
    b, clock = desk(tmp_path)
    cid = b.list_conversations(customer="c1")[0]["id"]
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+x", *"VIP", "enter")
        assert b.get_conversation(cid)["labels"] == []
        assert any("没有标签 VIP" in n.message for n in app.notice_log)


async def test_ctrl_w_lists_follow_ups_and_i_invites_under_the_cap(tmp_path):
    b, clock = desk(tmp_path, campaign_cap=1)
    cid = b.list_conversations(customer="c1")[0]["id"]
    b.close_conversation(cid, by="a")
    c2 = b.post_message("s", "c2", "这条裙子有M码吗", product="dress")["conversation"]["id"]
    b.close_conversation(c2, by="a")
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+w")
        assert isinstance(app.screen, FollowUpScreen)
        assert [r["id"] for r in app.screen.rows] == [c2]  # consulted, not ordered
        await press(app, pilot, "3")  # after-sale: the complaint
        assert [r["id"] for r in app.screen.rows] == [cid]
        await press(app, pilot, "1", "i")
        [card] = [m for m in b.get_conversation(c2)["messages"] if m["kind"] == "invitation"]
        assert card["payload"]["item"]["product"] == "dress"
        assert any("已向" in n.message for n in app.notice_log)
        await press(app, pilot, "i")  # again: over the shop's cap, refused with the reason
        assert len([m for m in b.get_conversation(c2)["messages"]
                    if m["kind"] == "invitation"]) == 1
        assert any("上限 1" in n.message for n in app.notice_log)
        await press(app, pilot, "escape")
        assert not isinstance(app.screen, FollowUpScreen)


async def test_someone_else_in_the_chat_and_a_whisper(tmp_path):
    b, clock = desk(tmp_path)
    cid = b.list_conversations(customer="c1")[0]["id"]
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        app.presence_tick(force=True)
        await settle(app, pilot)
        assert app.query_one(Composer).border_subtitle == ""
        # my console told the others I am here
        assert b.presence(cid, "sup", "typing")["others"] == [
            {"agent": "a", "name": "小美", "role": "agent", "state": "viewing"}]
        app.presence_tick(force=True)
        await settle(app, pilot)
        assert app.query_one(Composer).border_subtitle == "✍ 主管李（主管） 正在输入"
        # I type: the supervisor sees it
        await press(app, pilot, *"您好")
        assert b.presence(cid, "sup")["others"][0]["state"] == "typing"
        # the supervisor leaves: gone at the next renewal
        b.presence(cid, "sup", "left")
        app.presence_tick(force=True)
        await settle(app, pilot)
        assert app.query_one(Composer).border_subtitle == ""
        # a whisper, drawn apart from a note
        b.add_note("sup", cid, "先道歉，再登记", to="a")
        b.add_note("a", cid, "普通备注")
        app.request_load()
        await settle(app, pilot)
        text = transcript_text(app)
        assert "🤫 悄悄话 · 主管李 → 小美" in text and "先道歉，再登记" in text
        assert "🔒 内部备注 · 小美" in text


async def test_a_supervisor_opens_the_chat_by_number_and_whispers(tmp_path):
    """The supervisor's console: Ctrl+F with #N opens the agent's chat read-only (the
    supervisor's view), Ctrl+S asks for a whisper and sends it to the agent who holds
    the chat; the agent's console draws it apart; the customer never sees it."""
    from tui.screens import PromptScreen

    b, clock = desk(tmp_path)
    cid = b.list_conversations(customer="c1")[0]["id"]
    assert b.get_conversation(cid)["assignee"] == "a"
    sup = ConsoleApp(b, "sup", poll_s=3600, now_ms=clock.now_ms)
    async with sup.run_test(size=(120, 34)) as pilot:
        await settle(sup, pilot)
        await press(sup, pilot, "ctrl+s")  # nothing open: nobody to whisper to
        assert not isinstance(sup.screen, PromptScreen)
        await press(sup, pilot, "ctrl+f", *f"#{cid}", "enter")
        await settle(sup, pilot)
        assert (sup.current, sup.readonly) == (cid, True)
        assert "我的包裹破了" in transcript_text(sup)
        await press(sup, pilot, "ctrl+s")
        assert isinstance(sup.screen, PromptScreen)
        assert "小美" in sup.screen.title_text
        await press(sup, pilot, *"先道歉再登记退货", "enter")
        await settle(sup, pilot)
        [note] = b.get_conversation(cid)["notes"]
        assert (note["agent"], note["to"], note["body"]) == ("sup", "a", "先道歉再登记退货")
        assert "🤫 悄悄话 · 主管李 → 小美" in transcript_text(sup)
        # a chat number of no shop of mine, or of none: refused with the reason
        await press(sup, pilot, "ctrl+f", *"#999", "enter")
        await settle(sup, pilot)
        assert sup.current == cid
    assert all("先道歉" not in m["body"] for m in b.get_conversation(cid)["messages"])
    agent = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with agent.run_test(size=(120, 34)) as pilot:
        await settle(agent, pilot)
        assert "🤫 悄悄话 · 主管李 → 小美" in transcript_text(agent)
        # an agent's own whisper is refused by the desk with the reason
        await press(agent, pilot, "ctrl+s")
        assert not isinstance(agent.screen, PromptScreen)  # it is her own chat


async def test_help_lists_the_new_keys(tmp_path):
    b, clock = desk(tmp_path)
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        rows = dict(app.screen.rows)
        assert rows["ctrl+x"].startswith("在会话上运行宏")
        assert rows["ctrl+w"].startswith("跟进名单")
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any("宏" in t for t in titles) and any("跟进" in t for t in titles)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_ctrl_x_ctrl_w_and_presence_through_tmux(tmp_path):
    """The real console in tmux: Ctrl+X runs the picked macro, a supervisor in another
    process shows in the reply box's border (viewing, then typing) and sees the agent
    there, and Ctrl+W opens the follow-up lists."""
    from tests.test_console_e2e import _session, _stored, _tmux, _wait

    db = tmp_path / "tools.db"
    b = LocalBackend(db)
    b.apply({"shops": [{"key": "s", "name": "翎衣女装"}],
             "groups": [{"key": "after", "shop": "s", "name": "售后组"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                         "max_chats": 5},
                        {"handle": "sup", "name": "主管李", "role": "supervisor",
                         "shops": ["s"]}],
             "quick_replies": [{"key": "qr", "shop": "s", "title": "t",
                                "body": "非常抱歉，已为您登记"}],
             "macros": [{"key": "m", "shop": "s", "name": "投诉升级", "actions": [
                 {"reply": "qr"}, {"label": "投诉"}, {"priority": 9}]}]})
    cid = b.post_message("s", "c1", "我的包裹破了")["conversation"]["id"]
    b.close()
    session = _session(tmp_path, "tools", db, (120, 35))
    screen = lambda: _tmux("capture-pane", "-t", session, "-p")  # noqa: E731
    send = lambda *keys: _tmux("send-keys", "-t", session, *keys)  # noqa: E731
    try:
        assert _wait(lambda: "我的包裹破了" in screen()), screen()
        send("C-x")
        assert _wait(lambda: "宏（选中即在本会话运行）" in screen()), screen()
        send("Enter")
        assert _wait(lambda: _stored(db, cid)["labels"] == ["投诉"]), screen()
        conv = _stored(db, cid)
        assert conv["priority"] == 9 and "非常抱歉，已为您登记" in [
            m["body"] for m in conv["messages"]]
        assert _wait(lambda: "宏「投诉升级」已完成" in screen()), screen()
        # a supervisor in another process: the console shows them, they see the agent
        other = LocalBackend(db)
        try:
            def seen(state: str) -> bool:
                others = other.presence(cid, "sup", state)["others"]
                return [o["agent"] for o in others] == ["a"]

            assert _wait(lambda: seen("viewing"))
            assert _wait(lambda: "👀 主管李（主管） 正在查看" in screen()), screen()
            assert _wait(lambda: seen("typing") and "✍ 主管李（主管） 正在输入" in screen()), \
                screen()
        finally:
            other.close()
        send("C-w")
        assert _wait(lambda: "跟进名单（1d 内）" in screen()), screen()
    finally:
        _tmux("kill-session", "-t", session)
