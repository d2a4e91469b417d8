"""Whole-screen snapshots of the console at 80x24 and 160x48, clock and cursor frozen.

Update after an intended change: pytest tests/test_console_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from tests.conftest import NOW
from tui.console import ConsoleApp


@pytest.fixture
def app(tmp_path):
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "snap.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装旗舰店"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 2}],
        "customers": [{"key": "c1", "name": "王丽", "profiles": [
            {"shop": "s", "level": 4, "tags": ["vip", "returning"], "region": "浙江杭州"}]}],
    })
    b.post_message("s", "c1", "亲，这条法式连衣裙有M码吗？我平时穿M")
    clock.advance(20)
    b.reply("a", 1, "有的亲，M码现货，今天下单明天发货哦")
    clock.advance(45)
    b.post_message("s", "c1", "好的，那可以便宜点吗")
    b.post_message("s", "c2", "在吗")
    clock.advance(200)
    b.post_message("s", "c3", "我的快递到哪了")  # a is full: queued
    clock.advance(15)
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    yield app
    b.close()


async def _settle(pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)


def test_console_80x24(app, snap_compare):
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle)


def test_console_160x48(app, snap_compare):
    assert snap_compare(app, terminal_size=(160, 48), run_before=_settle)


NOTICES = [("这个会话不在你这里（只读），不能回复：Ctrl+↓ 回到我的会话", "warning"),
           ("工单 #12 已创建，首次响应截止 11-20 11:05", "information"),
           ("接入：你已接满 2/2：先结束一个会话", "error"),
           ("接入：你已接满 2/2：先结束一个会话", "error")]


@pytest.mark.parametrize("width", [79, 81, 121])
def test_chinese_notices_at_odd_widths(app, snap_compare, width):
    """Every character of each notice is drawn (none lost where a widget edge is under
    it), the repeated one once with ×2, the reply box uncovered; "？" starts no line."""

    async def run_before(pilot) -> None:
        await _settle(pilot)
        for text, severity in NOTICES:
            pilot.app.notify(text, severity=severity, timeout=3600)
        await _settle(pilot)

    assert snap_compare(app, terminal_size=(width, 24), run_before=run_before)


@pytest.mark.parametrize("width", [79, 121])
def test_notices_keep_every_character_on_screen(app, width):
    """The screen text itself (not only the picture) holds each notice whole."""
    import asyncio

    async def go() -> str:
        async with app.run_test(size=(width, 24)) as pilot:
            await _settle(pilot)
            for text, severity in NOTICES:
                app.notify(text, severity=severity, timeout=3600)
            await _settle(pilot)
            lines = [strip.text for strip in app.screen._compositor.render_strips()]
            return "".join(line.strip() for line in lines)

    screen = asyncio.run(go())
    for text, _ in NOTICES:
        assert text.replace(" ", "") in screen.replace(" ", ""), text
    assert "×2" in screen


def test_follow_ups_and_presence_120x34(tmp_path, snap_compare):
    """Issue 22: the follow-up list over the desk, and a supervisor shown in the reply
    box's border (presence)."""
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "snap-tools.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装旗舰店"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 3},
                   {"handle": "sup", "name": "主管李", "role": "supervisor", "shops": ["s"]}],
        "products": [{"key": "dress", "shop": "s", "title": "法式碎花连衣裙", "price": 299}],
    })
    b.post_message("s", "c1", "我想投诉，包裹破损了")
    clock.advance(30)
    c2 = b.post_message("s", "c2", "这条裙子有M码吗", product="dress")["conversation"]["id"]
    b.close_conversation(c2, by="a")
    clock.advance(30)
    b.presence(1, "sup", "typing")
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)

    async def run_before(pilot) -> None:
        await _settle(pilot)
        pilot.app.presence_tick(force=True)
        await _settle(pilot)
        await pilot.press("ctrl+w")
        await _settle(pilot)

    try:
        assert snap_compare(app, terminal_size=(120, 34), run_before=run_before)
    finally:
        b.close()


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
def test_a_supervisors_view_with_a_whisper(tmp_path, snap_compare, size):
    """Issue 22: the supervisor opened the agent's chat by its number (read-only), whispered
    once, and is writing a second whisper: the prompt names the agent, the transcript
    draws the first whisper apart, the reply box says the chat is not theirs."""
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "snap-whisper.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装旗舰店", "service_mode": "human_first"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 3},
                   {"handle": "sup", "name": "主管李", "role": "supervisor", "shops": ["s"]}],
    })
    cid = b.post_message("s", "c1", "我的包裹破了，要投诉")["conversation"]["id"]
    clock.advance(20)
    b.reply("a", cid, "亲，请发一下照片")
    clock.advance(30)
    b.add_note("sup", cid, "先道歉，再登记退货", to="a")
    clock.advance(10)
    app = ConsoleApp(b, "sup", poll_s=3600, now_ms=clock.now_ms)

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("ctrl+f", "#", *str(cid), "enter")
        await _settle(pilot)
        await pilot.press("ctrl+s")
        await _settle(pilot)

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        b.close()
