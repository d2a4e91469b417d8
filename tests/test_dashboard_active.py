"""The dashboard's "active" tile against its agent table.

The tile counts the shop's chats open now (``state = 'active'``); the table's chat column
counts each agent's conversations created today (closed ones too; a chat handed from one
agent to another counts for both). They answer different questions, so the column says
"today" (``dash.col.conversations``: 今日会话 / chats today) and is never the tile's parts.

Who holds the chats the tile counts: the snapshot's ``active_by_agent`` (the shop's chats
each agent holds now, a chat accepted before midnight included) adds up to the tile, and
the table draws it in its "接待中 / chats now" column."""

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
    clock.advance(-12 * 3600)  # 22:00 the evening before (advance takes seconds)
    night = b.post_message("s", "c0", "在吗")["conversation"]["id"]
    clock.advance(12 * 3600)
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


def test_the_chats_held_now_add_up_to_the_active_tile(desk):
    """``active_by_agent``: the shop's chats each agent of the table holds now, the chat
    from before midnight included (a holds it; b holds the one handed to her)."""
    b, _, _ = desk
    s = b.dashboard("s")
    assert s["active_by_agent"] == {"a": 2, "b": 1}
    assert sum(s["active_by_agent"].values()) == s["active"] == 3
    assert set(s["active_by_agent"]) == {r["agent"] for r in s["agent_rows"]}


def test_a_chat_of_another_shop_is_not_held_in_this_one(desk):
    b, _, _ = desk
    b.apply({"shops": [{"key": "t", "name": "另一家", "service_mode": "human_first"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s", "t"],
                         "status": "online", "max_chats": 5}]})
    b.post_message("t", "c9", "在吗")
    assert b.dashboard("t")["active_by_agent"]["a"] == 1
    s = b.dashboard("s")
    assert s["active_by_agent"]["a"] == 2 and sum(s["active_by_agent"].values()) == s["active"]


async def test_the_table_shows_each_agents_chats_now(desk):
    b, _, _ = desk
    app = DashboardApp(b, "s", poll_s=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        table = app.query_one("#agents")
        labels = [str(c.label) for c in table.columns.values()]
        column = labels.index("接待中")
        held = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[column])
                for i in range(table.row_count)}
        assert held == {"小美": "2", "小李": "1"}


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
