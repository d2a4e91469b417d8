"""The dashboard's "active" tile against its agent table.

The tile counts the shop's chats open now (``state = 'active'``); the table's chat column
counts each agent's conversations created today (closed ones too; a chat handed from one
agent to another counts for both). They answer different questions, so the column says
"today" (``dash.col.conversations``: 今日会话 / chats today) and is never the tile's parts.

What the table cannot show: who holds the chats the tile counts. The snapshot's agent rows
(``cstool/backend/dashboard_ops.py``, ``today.shop_period``) carry no per-agent count of
chats open now, so a chat accepted before midnight and still open is in the tile and in no
row. The strict xfail below states the missing invariant; it passes (and must lose its mark)
once the rows carry ``active``."""

from __future__ import annotations

import pytest

from cstool.backend.local import LocalBackend
from tui.dashboard import DashboardApp


@pytest.fixture
def desk(tmp_path, clock):
    """Two agents; one chat from last night still open, three of today (one handed from a
    to b, one closed)."""
    b = LocalBackend(tmp_path / "d.db", clock=clock)
    b.apply({"shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                         "max_chats": 5},
                        {"handle": "b", "name": "小李", "shops": ["s"], "status": "offline",
                         "max_chats": 5}]})
    clock.advance(-12 * 3600_000)  # 22:00 the evening before
    night = b.post_message("s", "c0", "在吗")["conversation"]["id"]
    clock.advance(12 * 3600_000)
    today = [b.post_message("s", f"c{i}", "在吗")["conversation"]["id"] for i in (1, 2, 3)]
    b.set_agent_status("b", "online")
    b.transfer(today[0], by="a", to_agent="b")
    b.close_conversation(today[1], by="a")
    yield b, night, today
    b.close()


def test_the_tile_counts_chats_open_now_and_the_column_chats_of_today(desk):
    b, night, today = desk
    s = b.dashboard("s")
    open_now = [c["id"] for c in b.list_conversations(shop="s", state="active")]
    assert sorted(open_now) == sorted([night, today[0], today[2]])
    assert s["active"] == 3
    by_agent = {r["agent"]: r["conversations"] for r in s["agent_rows"]}
    # a: today's three (one handed on, one closed); b: the one handed to her
    assert by_agent == {"a": 3, "b": 1}
    assert sum(by_agent.values()) != s["active"]  # not the tile's parts: labelled "today"


@pytest.mark.xfail(strict=True, reason="dashboard_ops: the agent rows carry no count of "
                   "the chats each agent holds now (a chat from before midnight is in the "
                   "tile and in no row)")
def test_the_agent_rows_add_up_to_the_active_tile(desk):
    b, _, _ = desk
    s = b.dashboard("s")
    assert sum(r.get("active", 0) for r in s["agent_rows"]) == s["active"]


@pytest.mark.parametrize("lang,header", [("zh", "今日会话"), ("en", "chats today")])
async def test_the_table_says_its_chats_are_todays(desk, monkeypatch, lang, header):
    b, _, _ = desk
    monkeypatch.setenv("CSTOOL_LANG", lang)
    app = DashboardApp(b, "s", poll_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        table = app.query_one("#agents")
        labels = [str(c.label) for c in table.columns.values()]
        assert header in labels
