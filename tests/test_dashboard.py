"""The supervisor dashboard: alert rules (pure), the snapshot through the Local backend,
and the live screen through Pilot with the clock frozen."""

from __future__ import annotations

import pytest
from textual.geometry import Region

from cstool.alerts import Thresholds, check, keyword_counts
from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from cstool.values import parse_time
from tui.dashboard import (
    DashboardApp,
    Tile,
    alert_text,
    chart,
    fit_label,
    label_forms,
    one_tile_row,
    pct,
    sla_tiles,
    tiles,
)


def snap(**kw) -> dict:
    base = {
        "queue": {"waiting": 0, "longest_wait_s": None},
        "today": {"answer_rate": 0.9, "response_rate": 0.95},
        "keywords": {"recent": {}, "before": {}, "window_ratio": 4.0},
    }
    base.update(kw)
    return base


def test_alert_rules():
    assert check(snap()) == []
    alerts = check(snap(queue={"waiting": 25, "longest_wait_s": 400},
                        today={"answer_rate": 0.62, "response_rate": None}))
    assert [(a.key, a.level) for a in alerts] == [
        ("queue", "critical"), ("wait", "warning"), ("answer_rate", "warning")]
    assert alerts[2].text == "30 秒应答率 62%，低于 80%"
    surge = check(snap(keywords={"recent": {"发货": 12, "退款": 2}, "before": {"发货": 4},
                                 "window_ratio": 4.0}))
    assert [(a.key, a.level, a.text) for a in surge] == [
        ("surge:发货", "warning", "「发货」激增：近 15 分钟 12 次（此前约 1 次）")]
    assert alert_text(surge[0]) == "「发货」激增：近 15 分钟 12 次（此前约 1 次）"
    assert alert_text(surge[0], "en") == "“发货” surging: 12 times in 15 minutes (about 1 before)"
    # too few to be a surge, however small the usual rate (5 against 0 at the start)
    few = {"recent": {w: 5 for w in ("发货", "物流", "退款")}, "before": {}, "window_ratio": 4.0}
    assert check(snap(keywords=few)) == []
    assert [a.key for a in check(snap(keywords=few), Thresholds(surge_min=5))] == [
        "surge:发货", "surge:物流", "surge:退款"]
    assert check(snap(queue={"waiting": 5, "longest_wait_s": 10}), Thresholds(queue_max=3))[0] \
        .key == "queue"


def test_keyword_counts_in_unspaced_chinese():
    counts = keyword_counts(["我的快递什么时候发货啊", "发货了吗", "要退款"], ("发货", "退款"))
    assert counts == {"发货": 2, "退款": 1}


def test_tiles_and_chart_render():
    s = snap(agents={"online": 3, "busy": 1, "away": 2, "offline": 0}, active=7,
             today={"response_rate": 0.875, "answer_rate": None, "csat": 1.0,
                    "bot_resolution_rate": 0.5, "inquiry_conversion": 0.25,
                    "attributed_sales": 1299.5})
    got = {label: value for label, value, _ in tiles(s)}
    assert got["3分钟响应率"] == "87.5%" and got["30秒应答率"] == "—"
    assert got["客服 在线/忙/离"] == "3/1/2" and got["客服销售额"] == "¥1,299.50"
    text = chart([0] * 10 + [8, 4] + [0] * 12, [2] * 24, 11).plain
    assert "今天 12 · 上周同日 48" in text
    assert pct(None) == "—" and pct(0.5) == "50.0%"


@pytest.fixture
def mall(tmp_path):
    clock = FrozenClock(parse_time("2026-11-20T10:00:00+08:00"))
    b = LocalBackend(tmp_path / "dash.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装"}, {"key": "t", "name": "萌宝母婴"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 1},
                   {"handle": "b", "name": "阿杰", "shops": ["s"], "status": "away"},
                   {"handle": "c", "name": "糖糖", "shops": ["t"], "status": "online"}],
    })
    b.post_message("s", "c1", "我的快递什么时候发货")
    clock.advance(20)
    b.reply("a", 1, "今天发货哦")
    for i in range(2, 6):
        clock.advance(30)
        b.post_message("s", f"c{i}", "还没发货吗")  # a is full: these wait
    clock.advance(240)
    yield b, clock
    b.close()


def test_snapshot_of_a_shop(mall):
    b, clock = mall
    s = b.dashboard("s")
    assert s["queue"] == {"waiting": 4, "longest_wait_s": 330}
    assert s["active"] == 1 and s["agents"] == {"online": 1, "busy": 0, "away": 1, "offline": 0}
    assert s["today"]["conversations"] == 5
    # one chat answered in 20 s; four still waiting past the 3-minute target count as misses
    assert s["today"]["response_rate"] == 0.2
    assert s["today"]["answer_rate"] == 0.2
    assert s["hourly"][10] == 5 and sum(s["hourly_last_week"]) == 0
    assert s["keywords"]["recent"]["发货"] == 5
    assert [r["agent"] for r in s["agent_rows"]] == ["a", "b"]
    assert s["sla"]["open"] == 0 and s["sla"]["first_response_met_week"] is None
    b.create_ticket(type="delivery_delay", title="快递没动", conversation=1, priority="P1")
    clock.advance(3600)
    sla = b.dashboard("s")["sla"]
    assert (sla["open"], sla["breached"]) == (1, 1)


async def settle(app, pilot) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)


async def test_live_dashboard(mall):
    b, clock = mall
    app = DashboardApp(b, "s", poll_s=3600, thresholds=Thresholds(queue_max=3),
                       now_ms=clock.now_ms)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        assert app.snapshot["queue"]["waiting"] == 4
        # 5 mentions of 发货 against none before: too few for a surge
        assert [a.key for a in app.alerts] == ["queue", "wait", "answer_rate", "response_rate"]
        assert any("排队 4 人" in line for line in app.log_lines)
        loads = app.loads
        app.tick()  # nothing happened: no reload
        await settle(app, pilot)
        assert app.loads == loads
        b.set_agent_status("b", "online")  # an event: the next tick reloads
        app.tick()
        await settle(app, pilot)
        # b (5 slots) takes all four waiting chats
        assert app.loads == loads + 1 and app.snapshot["queue"]["waiting"] == 0
        assert app.snapshot["active"] == 5
        first = [r["agent"] for r in app.sorted_agents()]
        await pilot.press("s")
        assert app.sort_index == 1 and len(app.sorted_agents()) == len(first)
        await pilot.press("p")
        assert app.paused
        b.post_message("s", "c9", "在吗")
        app.tick()
        await settle(app, pilot)
        assert app.loads == loads + 1  # paused: nothing read
        await pilot.press("p")
        await settle(app, pilot)
        assert app.snapshot["active"] == 6
        await pilot.press("w")
        await settle(app, pilot)
        await pilot.press(*"萌宝", "enter")
        await settle(app, pilot)
        assert app.shop == "t" and app.snapshot["name"] == "萌宝母婴"


def test_dashboard_snapshot_picture(mall, snap_compare):
    b, clock = mall
    app = DashboardApp(b, "s", poll_s=3600, now_ms=clock.now_ms)

    async def run_before(pilot) -> None:
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_labels_give_way_to_values():
    label = "客服 在线/忙/离"
    assert fit_label(label, 30) == label and fit_label(label, 15) == label
    assert fit_label(label, 14) == "在线/忙/离"
    assert fit_label(label, 8) == "在/忙/离"
    assert fit_label(label, 7) == "在/忙/…" and fit_label(label, 5) == "在/…"  # never half a 字
    assert fit_label(label, 7, cut=False) == "" and fit_label(label, 0) == ""
    figures = [(label, "3/1/1", ""), ("客服销售额", "¥1299.5", "")]
    assert one_tile_row(120, 4, figures)  # 8 cells a tile: the shortest labels fit
    assert not one_tile_row(110, 4, figures)
    assert not one_tile_row(140, 4, [("客服销售额", "¥12345678.5", "")])


def big_day(snapshot: dict) -> dict:
    """A snapshot with figures as wide as a big shop's."""
    snapshot["queue"] = {"waiting": 128, "longest_wait_s": 5999}
    snapshot["agents"] = {"online": 120, "busy": 45, "away": 13, "offline": 2}
    snapshot["active"] = 1234
    snapshot["today"].update(response_rate=1.0, answer_rate=0.987, csat=0.5,
                             bot_resolution_rate=0.123, inquiry_conversion=1.0,
                             attributed_sales=12345678.5)
    snapshot["sla"] = {"open": 1234, "due_within_hour": 56, "breached": 789,
                       "first_response_met_week": 1.0, "resolution_met_week": 1.0}
    return snapshot


def on_screen(app, tile: Tile) -> list[str]:
    """The rows of text a tile shows inside its border; the whole tile is on the screen and
    nothing covers it."""
    region = tile.region
    assert region.size == tile.outer_size and app.screen.region.contains_region(region)
    for y in range(region.y, region.bottom):
        for x in range(region.x, region.right):
            assert app.screen.get_widget_at(x, y)[0] is tile, (tile.id, x, y)
    strips = tile.render_lines(Region(0, 0, region.width, region.height))
    return ["".join(s.text for s in strip)[1:-1].strip() for strip in strips[1:-1]]


def assert_tiles_readable(app) -> None:
    """Every tile shows its whole value and a label (a shorter form or, at worst, one cut
    with an ellipsis)."""
    shown = [(f"#tile-{i}", figure) for i, figure in enumerate(tiles(app.snapshot))]
    shown += [(f"#sla-{i}", figure) for i, figure in enumerate(sla_tiles(app.snapshot))]
    for selector, (label, value, _) in shown:
        lines = [line for line in on_screen(app, app.query_one(selector, Tile)) if line]
        assert len(lines) in (1, 2), (selector, lines)
        if len(lines) == 1:  # label and value on one line
            assert lines[0].endswith(" " + value), (selector, lines)
            lines = [lines[0][:-len(value)].strip(), value]
        assert lines[1] == value, (selector, lines)
        forms = label_forms(label)
        assert lines[0] in forms or (lines[0].endswith("…") and len(lines[0]) > 1
                                     and forms[-1].startswith(lines[0][:-1])), (selector, lines)


@pytest.mark.parametrize("size,big,rows", [
    ((140, 45), False, 1), ((100, 30), False, 2), ((120, 40), False, 1), ((220, 50), False, 1),
    ((140, 45), True, 2), ((100, 45), True, 2), ((200, 45), True, 1)])
async def test_every_tile_shows_its_value(mall, size, big, rows):
    b, clock = mall
    if big:
        b.dashboard = lambda shop, zone=None, read=b.dashboard: big_day(read(shop, zone))
    app = DashboardApp(b, "s", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        assert_tiles_readable(app)
        row = app.query_one("#tiles")
        assert row.has_class("two-rows") == (rows == 2)
        # two rows: label beside value, or over it when a value leaves no room beside it
        assert row.region.height == (4 if rows == 1 else 8 if row.has_class("stacked") else 6)
        assert app.query_one("#agents").region.height >= 5  # the table keeps some rows
        if not big:
            agents = on_screen(app, app.query_one("#tile-2", Tile))
            assert any(line.endswith("1/0/1") for line in agents)


async def test_tiles_rearrange_when_the_terminal_is_resized(mall):
    b, clock = mall
    app = DashboardApp(b, "s", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(220, 45)) as pilot:
        await settle(app, pilot)
        assert not app.query_one("#tiles").has_class("two-rows")
        for size in ((100, 30), (140, 45), (105, 40)):
            await pilot.resize_terminal(*size)
            await settle(app, pilot)
            assert app.query_one("#tiles").has_class("two-rows") == (size[0] < 120)
            assert_tiles_readable(app)


def test_a_replay_of_a_past_day_is_today_for_a_dashboard_following_it(tmp_path):
    """`cstool dashboard --replay`: "now" is the newest event's time, so a past promotion
    day streamed into the file (fixtures generate --stream) is the dashboard's today."""
    from cstool.storage.event_clock import LatestEventClock

    path = tmp_path / "replay.db"
    writer_clock = FrozenClock(parse_time("2026-11-11T00:05:00+08:00"))
    writer = LocalBackend(path, clock=writer_clock)
    watcher = LocalBackend(path)
    try:
        writer.apply({"shops": [{"key": "s", "name": "翎衣女装", "timezone": "Asia/Shanghai"}],
                      "agents": [{"handle": "a", "name": "A", "shops": ["s"],
                                  "status": "online"}]})
        watcher.clock = LatestEventClock(watcher.database)
        for i in range(3):
            writer.post_message("s", f"c{i}", "什么时候发货")
            writer_clock.advance(60)
        assert watcher.clock.now_ms() == parse_time("2026-11-11T00:07:00+08:00")
        snapshot = watcher.dashboard("s")
        assert snapshot["today"]["conversations"] == 3
        assert snapshot["keywords"]["recent"]["发货"] == 3
    finally:
        writer.close()
        watcher.close()


async def test_dashboard_at_80x24_is_readable(mall):
    """At 80x24: the hour axis on one line, inside the chart; the agent table keeps rows;
    the online tile counts what the table lists; money as ¥1,299.50; the key line whole."""
    b, clock = mall
    app = DashboardApp(b, "s", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        chart_widget = app.query_one("#chart")
        width = chart_widget.content_size.width
        lines = [line.rstrip() for line in
                 chart(app.snapshot["hourly"], app.snapshot["hourly_last_week"], 10,
                       width=width).plain.splitlines()]
        axis = next(line for line in lines if line.startswith("0 "))
        assert axis.endswith("22") or axis.endswith("23") or axis.endswith("18"), axis
        assert all(len(line) <= width for line in lines), lines
        table = app.query_one("#agents")
        assert table.region.height >= 6 and table.row_count >= 2
        rows = app.snapshot["agent_rows"]
        online = sum(1 for r in rows if r.get("status") == "online")
        busy = sum(1 for r in rows if r.get("status") == "busy")
        away = sum(1 for r in rows if r.get("status") == "away")
        got = {label: value for label, value, _ in tiles(app.snapshot)}
        assert got["客服 在线/忙/离"] == f"{online}/{busy}/{away}"
        keys = app.query_one("#keys")
        assert [k for k, _ in keys.shown()] == ["s", "w", "p", "r", "q", "g", "^Q"]


@pytest.mark.parametrize("width", [40, 56, 74, 120])
def test_the_hour_axis_never_wraps(width):
    text = chart([1] * 24, [2] * 24, 12, width=width).plain.splitlines()
    axis = next(line for line in text if line.startswith("0 "))
    assert len(axis) <= width
    assert all(len(line) <= max(width, 36) for line in text[1:]), text
