"""A chat open since last night reads in hours (``11h43m``), not ``703m09s``: on the
console's chat list and the dashboard's longest-wait tile (two units at most)."""

from __future__ import annotations

import pytest

from cstool.backend.local import LocalBackend
from tests.test_console_i18n import screen_text
from tui.console import ConsoleApp
from tui.dashboard import DashboardApp
from tui.widgets import fmt_wait


@pytest.mark.parametrize("seconds,shown", [
    (0, "0s"), (59, "59s"), (60, "1m00s"), (185, "3m05s"), (3599, "59m59s"), (3600, "1h00m"),
    (42_189, "11h43m"), (86_399, "23h59m"), (86_400, "1d00h"), (2 * 86_400 + 3 * 3600, "2d03h"),
    (-5, "0s"),
])
def test_two_units_at_most(seconds, shown):
    assert fmt_wait(seconds) == shown


@pytest.fixture
def night(tmp_path, clock):
    """a holds a chat from 11h43m ago; b's customer has waited as long in the queue."""
    b = LocalBackend(tmp_path / "n.db", clock=clock)
    b.apply({"shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                         "max_chats": 1}]})
    b.post_message("s", "c1", "在吗")
    b.post_message("s", "c2", "还在吗")  # a is full: c2 waits
    clock.advance(42_189)
    yield b, clock
    b.close()


async def test_the_chat_list_says_hours(night):
    b, clock = night
    app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        text = screen_text(app)
    assert "11h43m" in text and "703m" not in text


async def test_the_longest_wait_tile_says_hours(night):
    b, _ = night
    app = DashboardApp(b, "s", poll_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        text = screen_text(app)
    assert "11h43m" in text and "703m" not in text
