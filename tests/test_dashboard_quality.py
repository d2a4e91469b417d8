"""The dashboard's 质检 tile, its low-score alert (pure rule and on screen), the review
queue screen (one key per finding) and the agent radar screen, through Pilot."""

from __future__ import annotations

import pytest

from cstool.alerts import qa_alerts
from cstool.backend.local import LocalBackend
from tui.dashboard import DashboardApp, Tile, qa_tile
from tui.quality import RadarScreen, ReviewScreen

from .test_quality import day, mall


@pytest.fixture
def shop_day(db_path, clock):
    be = LocalBackend(db_path, clock=clock)
    mall(be)
    chats = day(be, clock)
    yield be, clock, chats
    be.close()


async def settle(app, pilot) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)


def test_low_score_alerts():
    assert qa_alerts(None) == [] and qa_alerts({"score": None}) == []
    ok = {"score": 85.0, "low_score": 80, "low_agents": []}
    assert qa_alerts(ok) == []
    low = {"score": 71.2, "low_score": 80, "low_agents": [{"agent": "b", "score": 62.5}]}
    assert [(a.key, a.text) for a in qa_alerts(low)] == [
        ("qa_score", "今日质检均分 71.2，低于 80"),
        ("qa_agent:b", "客服 b 今日质检均分 62.5，低于 80")]


def test_the_snapshot_carries_todays_qa(shop_day):
    be, _, _ = shop_day
    qa = be.dashboard("s")["qa"]
    assert qa == {"score": 71.2, "chats": 4, "low": 3, "low_score": 80, "pending_review": 3,
                  "low_agents": [{"agent": "b", "score": 62.5}]}
    assert qa_tile({"qa": qa}) == ("质检", "71.2 · 待复核 3", "bold red")


async def test_tile_alert_review_queue_and_radar_on_screen(shop_day):
    be, clock, (good, promise, upset, rude) = shop_day
    app = DashboardApp(be, "s", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        tile = app.query_one("#qa-tile", Tile)
        assert "71.2" in str(tile.render())
        assert {"qa_score", "qa_agent:b"} <= {a.key for a in app.alerts}
        assert any("今日质检均分 71.2" in line for line in app.log_lines)
        await pilot.press("q")
        await pilot.pause(0.05)
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        # one row per finding: the promise's two, the upset chat's three, the rude one's two
        assert [c for c, _ in screen.rows] == [promise] * 2 + [upset] * 3 + [rude] * 2
        first = screen.rows[0][1]
        await pilot.press("n")  # overturn the promise's first finding
        await pilot.pause(0.05)
        verdicts = {f["id"]: f["verdict"] for f in be.qa_chat(promise)["findings"]}
        assert verdicts[first] == "overturned"
        await pilot.press("down", "y")  # confirm its second: the chat leaves the queue
        await pilot.pause(0.05)
        assert be.qa_chat(promise)["reviewed_at"] is not None
        assert be.qa_chat(promise)["score"] == 80
        assert [c for c, _ in screen.rows] == [upset] * 3 + [rude] * 2
        await pilot.press("a")  # confirm all of the upset chat's
        await pilot.pause(0.05)
        assert [c for c, _ in screen.rows] == [rude] * 2
        assert {f["verdict"] for f in be.qa_chat(upset)["findings"]} == {"confirmed"}
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert app.screen is not screen
        await pilot.press("g")
        await pilot.pause(0.05)
        radar = app.screen
        assert isinstance(radar, RadarScreen)
        assert [(r["agent"], r["qa_score"]) for r in radar.rows] == [
            ("a", 90.0), ("b", 62.5), ("boss", None)]  # the promise now scores 80
        table = radar.query_one("#radar")
        assert table.row_count == 3
        assert "违禁词/违规承诺" in " ".join(str(c) for c in table.get_row_at(0))
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert app.screen is not radar
    assert good  # the clean chat never reached the queue


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 35), (129, 40)])
async def test_the_qa_tile_shows_below_130_columns(shop_day, size):
    """Narrower than 130 columns the 质检 tile takes what the SLA tiles leave: on screen
    with its score (and the review count when it fits), every SLA tile still whole."""
    from .test_dashboard import assert_tiles_readable

    be, clock, _ = shop_day
    app = DashboardApp(be, "s", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        tile = app.query_one("#qa-tile", Tile)
        assert tile.display and tile.region.width > 0
        row = app.query_one("#sla-tiles")
        assert row.region.contains_region(tile.region)
        text = str(tile.render())
        assert "质检" in text and "71.2" in text, text
        if size[1] >= 30:  # bordered tiles (80x24 draws them without borders)
            assert_tiles_readable(app)
        else:
            from tui.dashboard import sla_tiles
            line = "".join(s.text for s in app.screen._compositor.render_strips()
                           [row.region.y:row.region.y + 1][0])
            for _, value, _ in sla_tiles(app.snapshot):
                assert value in line, (value, line)


def test_the_qa_tile_gives_way_to_the_sla_figures():
    from tui.dashboard import qa_room

    sla = [("未结工单", "1234", ""), ("1小时内到期", "56", ""), ("已超时", "789", ""),
           ("本周达标", "100.0% / 100.0%", "")]
    qa = ("质检", "71.2 · 待复核 3", "bold")
    # each SLA tile keeps 15 + 4 + 5 = 24 cells: 96 for the four
    assert qa_room(121, 4, sla, qa, "71.2") == ("71.2 · 待复核 3", 25)
    assert qa_room(120, 4, sla, qa, "71.2") == ("71.2", 24)  # the score alone
    assert qa_room(112, 4, sla, qa, "71.2") == ("71.2", 16)
    assert qa_room(100, 4, sla, qa, "71.2") is None  # no room: the alert and q remain
