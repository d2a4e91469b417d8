"""The merged console looked at from outside: text from the data cannot drive the terminal
from any panel, and the queue counts every waiting chat, not only the ones the desk lists."""

from __future__ import annotations

import sqlite3

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from cstool.services.console import DESK_QUEUE
from tests.conftest import NOW
from tui.console import ConsoleApp
from tui.widgets import ChatList, CustomerPanel

RED = "\x1b[31mRED\x07"


async def settle(app, pilot, rounds: int = 4) -> None:
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)


def _plain(widget) -> str:
    """What a widget draws, as text."""
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


async def test_names_and_data_text_are_escaped_in_every_panel(tmp_path):
    """An old file (or a remote server) holding ESC in a customer's name, tags, region,
    an order title and the agent's name: the queue, the chat list, the chat header, the
    customer panel and the notices show ``\\x1b`` as text, never the character."""
    path = tmp_path / "old.db"
    clock = FrozenClock(NOW)
    b = LocalBackend(path, clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 1}],
        "customers": [{"key": "c1", "name": "王丽",
                       "profiles": [{"shop": "s", "level": 2, "region": "浙江",
                                     "tags": ["vip"]}]},
                      {"key": "c2", "name": "李娜"}],
    })
    b.post_message("s", "c1", "在吗")      # a's chat
    b.post_message("s", "c2", "还有货吗")  # a is full: queued
    b.close()
    # what validation refuses today, an old file may still hold
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE customers SET name = ? || key", (RED,))
        conn.execute("UPDATE customer_profiles SET region = ?, tags = json_array(?)",
                     (RED, RED))
        conn.execute("UPDATE agents SET name = ?", (RED + "小美",))
    b = LocalBackend(path, clock=clock)
    app = ConsoleApp(b, "a", poll_s=60, now_ms=clock.now_ms)
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            await settle(app, pilot)
            shown = {name: _plain(app.query_one(kind))
                     for name, kind in (("list", ChatList), ("panel", CustomerPanel))}
            shown["header"] = "\n".join(
                _plain(w) for w in app.query(".chat-header"))
            for name, text in shown.items():
                assert "\x1b" not in text and "\x07" not in text, (name, text)
            assert "\\x1b[31mRED" in shown["list"]   # the queue and my chats
            assert shown["list"].count("\\x1b") >= 3  # agent, my chat, the queued one
            assert "\\x1b[31mRED" in shown["panel"] and "\\x1b[31mRED" in shown["header"]
            app.notify("新客户：" + RED)
            await settle(app, pilot)
            assert all("\x1b" not in n.message for n in app.notice_log)
            assert "\\x1b[31mRED" in app.notice_log[-1].message
    finally:
        b.close()


async def test_the_queue_counts_every_waiting_chat_beyond_the_listed_ones(tmp_path):
    """More wait than the desk lists (DESK_QUEUE a shop): the queue's count and the empty
    transcript's hint say how many wait in all."""
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "many.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 1}],
    })
    total = DESK_QUEUE + 7
    for i in range(total + 1):  # the first is a's chat, the rest wait
        b.post_message("s", f"c{i:04d}", "在吗")
        clock.advance(1)
    desk = b.agent_desk("a")
    assert len(desk["queue"]) == DESK_QUEUE and desk["waiting"] == {"s": total}
    app = ConsoleApp(b, "a", poll_s=60, now_ms=clock.now_ms)
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            await settle(app, pilot)
            text = _plain(app.query_one(ChatList))
            assert f"排队 {total}" in text, text
            assert f"还有 {total - 8} 位" in text, text
    finally:
        b.close()


async def test_a_name_that_looks_like_markup_shows_as_written_in_a_dialog(tmp_path):
    """F8's question names the customer in the dialog's title: a name like "[/b]王丽[i]"
    is shown as written (not read as markup, which refuses a stray closing tag)."""
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "markup.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online"}],
        "customers": [{"key": "c1", "name": "[/b]王丽[i]"}],
    })
    b.post_message("s", "c1", "在吗")
    app = ConsoleApp(b, "a", poll_s=60, now_ms=clock.now_ms)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("f8")  # the customer's question has no answer: asked
            await settle(app, pilot)
            from tui.screens import ConfirmScreen

            assert isinstance(app.screen, ConfirmScreen)
            title = _plain(app.screen.query_one(".dialog-title"))
            assert "[/b]王丽[i]" in title, title
            await pilot.press("escape")
            await settle(app, pilot)
            assert b.get_conversation(app.current, messages=False)["state"] == "active"
    finally:
        b.close()
