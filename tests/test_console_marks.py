"""The console's labels (Ctrl+L, a picker) and private notes (Ctrl+N) through Pilot: what
is stored, and how the transcript and the chat's header show them; F1 help lists both."""

from __future__ import annotations

import shutil
import time

import pytest
from rich.console import Console

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from tests.conftest import NOW
from tui.console import ConsoleApp
from tui.screens import HelpScreen, PickScreen
from tui.widgets import Transcript


def desk(tmp_path, **settings):
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "desk.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first",
                   "settings": settings}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 3}],
        "customers": [{"key": "c1", "name": "王丽", "profiles": [{"shop": "s"}]}],
    })
    b.post_message("s", "c1", "我的包裹破了")
    return b, clock


async def settle(app, pilot, rounds: int = 3) -> None:
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)


async def press(app, pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(app, pilot)


def transcript_text(app) -> str:
    """What the transcript draws, as plain text."""
    console = Console(width=100, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    for w in app.query_one(Transcript).children:
        console.print(w.content)
    return console.export_text()


async def test_ctrl_n_keeps_the_reply_box_as_a_private_note_shown_apart(tmp_path):
    b, clock = desk(tmp_path)
    cid = b.list_conversations(customer="c1")[0]["id"]
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+n")  # nothing written: nothing stored
        assert b.get_conversation(cid)["notes"] == []
        await press(app, pilot, *"客户很急先安抚", "ctrl+n")
        conv = b.get_conversation(cid)
        assert [(n["agent"], n["body"]) for n in conv["notes"]] == [("a", "客户很急先安抚")]
        assert [m["sender"] for m in conv["messages"]] == ["customer", "system"]  # not sent
        assert app.query_one("#composer").text == ""
        app.request_load()
        await settle(app, pilot)
        text = transcript_text(app)
        assert "🔒 内部备注 · 小美" in text and "客户很急先安抚" in text
        notes = [w for w in app.query_one(Transcript).children if w.has_class("note")]
        assert len(notes) == 1
        # a reply after it goes to the customer as usual, below the note
        clock.advance(5)
        await press(app, pilot, *"亲马上处理", "enter")
        app.request_load()
        await settle(app, pilot)
        text = transcript_text(app)
        assert text.index("客户很急先安抚") < text.index("亲马上处理")


async def test_ctrl_l_picks_a_shop_label_and_toggles_it(tmp_path):
    b, clock = desk(tmp_path, labels=["售后-破损", "大促", "投诉"])
    cid = b.list_conversations(customer="c1")[0]["id"]
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+l")
        assert isinstance(app.screen, PickScreen)
        assert [k for k, _ in app.screen.items] == ["售后-破损", "大促", "投诉"]
        await press(app, pilot, *"破损", "enter")
        assert b.get_conversation(cid)["labels"] == ["售后-破损"]
        app.request_load()
        await settle(app, pilot)
        assert "[售后-破损]" in transcript_text(app)  # in the chat's header
        await press(app, pilot, "ctrl+l")
        assert app.screen.items[0][1].startswith("✓ 售后-破损")
        await press(app, pilot, *"破损", "enter")  # chosen again: taken off
        assert b.get_conversation(cid)["labels"] == []
        ev = [e["type"] for e in b.events(limit=500) if e["type"].endswith("labelled")]
        assert ev == ["conversation.labelled", "conversation.unlabelled"]


async def test_f1_help_lists_the_label_and_note_keys(tmp_path):
    b, clock = desk(tmp_path)
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        rows = dict(app.screen.rows)
        assert rows["ctrl+l"].startswith("给会话加上或去掉店铺的标签")
        assert rows["ctrl+n"].startswith("把回复框里的文字存为内部备注")
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any("标签" in t for t in titles) and any("备注" in t for t in titles)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_ctrl_n_and_ctrl_l_reach_the_console_through_tmux(tmp_path):
    """The real console in tmux: Ctrl+N stores the typed note (shown as 内部备注, never
    sent), Ctrl+L opens the labels picker and Enter puts the chosen label on."""
    from tests.test_console_e2e import _session, _stored, _tmux, _wait

    db = tmp_path / "marks.db"
    b = LocalBackend(db)
    b.apply({"shops": [{"key": "s", "name": "翎衣女装", "settings": {"labels": ["大促", "投诉"]}}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                         "max_chats": 5}]})
    cid = b.post_message("s", "c1", "我的包裹破了")["conversation"]["id"]
    b.close()
    session = _session(tmp_path, "marks", db, (120, 35))
    screen = lambda: _tmux("capture-pane", "-t", session, "-p")  # noqa: E731
    send = lambda *keys: _tmux("send-keys", "-t", session, *keys)  # noqa: E731
    try:
        assert _wait(lambda: "我的包裹破了" in screen()), screen()
        send("先安抚客户")
        time.sleep(0.3)
        send("C-n")
        assert _wait(lambda: [n["body"] for n in _stored(db, cid)["notes"]] == ["先安抚客户"])
        assert _wait(lambda: "内部备注" in screen()), screen()
        assert [m["sender"] for m in _stored(db, cid)["messages"]] == ["customer", "system"]
        send("C-l")
        assert _wait(lambda: "会话标签" in screen()), screen()
        send("投诉")
        time.sleep(0.3)
        send("Enter")
        assert _wait(lambda: _stored(db, cid)["labels"] == ["投诉"]), screen()
        assert _wait(lambda: "[投诉]" in screen()), screen()
    finally:
        _tmux("kill-session", "-t", session)
