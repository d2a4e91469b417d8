"""The demo at any hour: at 03:00 on a Monday in Shanghai (翎衣女装 opens at 09:00) the
demo agent has a customer at once, the header says the shop is closed and when it opens,
and the demo's customers spread over the shop's agents."""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from commands.demo import DEMO_AGENT, DEMO_SHOP, start_demo
from commands.fixtures import load_set
from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from cstool.shop_hours import closed_notice, next_opening
from cstool.values import parse_time
from tui.console import ConsoleApp

NIGHT = parse_time("2026-12-07T03:00:00+08:00")  # a Monday, 03:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = {"mon": "09:00-24:00", "tue": "09:00-24:00", "sat": "10:00-22:00",
         "sun": "20:00-02:00"}
SHOP = {"key": "lf", "name": "翎衣女装", "timezone": "Asia/Shanghai", "business_hours": HOURS,
        "service_mode": "bot_first", "off_hours_mode": "bot_only"}


@pytest.fixture(autouse=True)
def chinese(monkeypatch):
    """The staff line is read in Chinese here (an English test sets its own language)."""
    monkeypatch.setenv("CSTOOL_LANG", "zh")


def test_next_opening_is_the_next_span_start_in_the_shops_zone():
    at = lambda s: parse_time(s)  # noqa: E731
    assert next_opening(HOURS, NIGHT, "Asia/Shanghai") == at("2026-12-07T09:00+08:00")
    # Tuesday 00:30: Monday's span has ended; Tuesday's starts at 09:00
    assert next_opening(HOURS, at("2026-12-08T00:30+08:00"), "Asia/Shanghai") == \
        at("2026-12-08T09:00+08:00")
    # Wednesday to Friday are closed: Saturday 10:00
    assert next_opening(HOURS, at("2026-12-09T12:00+08:00"), "Asia/Shanghai") == \
        at("2026-12-12T10:00+08:00")
    assert next_opening(None, NIGHT, "Asia/Shanghai") is None
    assert next_opening({"mon": "closed"}, NIGHT, "Asia/Shanghai") is None


def test_the_closed_line_says_when_it_opens_in_the_display_zone():
    assert closed_notice(SHOP, NIGHT, display_zone=SHANGHAI) == \
        "翎衣女装 休息中 · 今天 09:00开门 · 现在机器人接待"
    assert closed_notice(SHOP, parse_time("2026-12-07T10:00+08:00")) is None  # open
    # staff in Berlin: Sunday 20:00 there, the shop opens at 02:00 their Monday
    assert closed_notice(SHOP, NIGHT, display_zone=ZoneInfo("Europe/Berlin"),
                         kept_open=True) == \
        "翎衣女装 休息中 · 明天 02:00开门（店铺时间 今天 09:00） · 演示照常转人工"
    # a Sunday-night span past midnight: open at 01:00 Monday
    assert closed_notice(SHOP, parse_time("2026-12-07T01:00+08:00")) is None


def test_the_closed_line_is_in_the_interface_language(monkeypatch):
    """Staff read the closed-shop line in the interface language: no Chinese in English."""
    monkeypatch.setenv("CSTOOL_LANG", "en")
    assert closed_notice(SHOP, NIGHT, display_zone=SHANGHAI) == \
        "翎衣女装 closed · opens today 09:00 · the bot answers now"
    assert closed_notice(SHOP, NIGHT, display_zone=ZoneInfo("Europe/Berlin"),
                         kept_open=True) == \
        "翎衣女装 closed · opens tomorrow 02:00 (today 09:00 shop time) · " \
        "the demo hands chats to agents anyway"
    # Tuesday night: Wednesday to Friday are closed, Saturday 10:00 is named by its day
    assert closed_notice(SHOP, parse_time("2026-12-09T03:00+08:00"),
                         display_zone=SHANGHAI) == \
        "翎衣女装 closed · opens Sat 10:00 · the bot answers now"
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    assert closed_notice(SHOP, parse_time("2026-12-09T03:00+08:00"),
                         display_zone=SHANGHAI) == \
        "翎衣女装 休息中 · 周六 10:00开门 · 现在机器人接待"


async def test_the_console_in_english_says_the_shop_is_closed_in_english(night, monkeypatch):
    monkeypatch.setenv("CSTOOL_LANG", "en")
    b, clock = night
    app = ConsoleApp(b, DEMO_AGENT, poll_s=0.2, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(app, pilot, lambda: "closed" in app.sub_title)
        assert app.sub_title == "翎衣女装旗舰店 closed · opens today 09:00 · the bot answers now"


@pytest.fixture(scope="module")
def night_file(tmp_path_factory):
    """The demo mall in a file (loaded once; each test copies it)."""
    path = tmp_path_factory.mktemp("night") / "demo.db"
    b = LocalBackend(path, clock=FrozenClock(NIGHT))
    load_set(b, "demo")
    b.close()
    return path


@pytest.fixture
def night(night_file, tmp_path):
    import shutil

    path = tmp_path / "demo.db"
    shutil.copy(night_file, path)
    clock = FrozenClock(NIGHT)
    b = LocalBackend(path, clock=clock)
    yield b, clock
    b.close()


async def until(app, pilot, done, rounds: int = 80) -> None:
    for _ in range(rounds):
        await pilot.pause(0.1)
        if done():
            return


async def test_the_demo_at_night_has_a_customer_and_says_the_shop_is_closed(night):
    b, clock = night
    simulator, restore = start_demo(b, DEMO_AGENT, pace_s=3600, seed=7)
    app = ConsoleApp(b, DEMO_AGENT, poll_s=0.2, now_ms=clock.now_ms, simulator=simulator)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(app, pilot, lambda: app.desk and app.desk["chats"]
                    and "休息中" in app.sub_title)
        assert len(app.desk["chats"]) == 1  # a customer of mine, at once
        chat = b.get_conversation(app.desk["chats"][0]["id"], messages=False)
        assert (chat["state"], chat["assignee"]) == ("active", DEMO_AGENT)
        assert app.sub_title == "翎衣女装旗舰店 休息中 · 今天 09:00开门 · 演示照常转人工"
        seen = set()  # polls and reloads keep the line: the header never flips to the name
        customer = app.desk["chats"][0]["customer"]
        for i in range(20):  # (the demo's customers are a worker that never completes)
            if i % 5 == 0:  # the customer writes: the desk reloads
                b.post_message(DEMO_SHOP, customer, f"还在吗 {i}")
            await pilot.pause(0.1)
            seen.add(app.sub_title)
        assert seen == {"翎衣女装旗舰店 休息中 · 今天 09:00开门 · 演示照常转人工"}
    restore()


async def test_a_plain_console_at_night_says_only_the_bot_serves(night):
    b, clock = night
    app = ConsoleApp(b, DEMO_AGENT, poll_s=0.2, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(app, pilot, lambda: "休息中" in app.sub_title)
        assert app.sub_title == "翎衣女装旗舰店 休息中 · 今天 09:00开门 · 现在机器人接待"
        clock.set(parse_time("2026-12-07T09:00:00+08:00"))  # opening time: the line goes
        await until(app, pilot, lambda: "休息中" not in app.sub_title)
        assert app.sub_title == "小美"  # the agent's name, not the handle lf-xiaomei
    reply = b.post_message(DEMO_SHOP, "c00001", "转人工")  # open: a person now
    assert reply["conversation"]["state"] in ("active", "queued")


def test_without_demo_hours_the_night_sends_customers_to_the_bot(night):
    b, _ = night
    r = b.post_message(DEMO_SHOP, "c00001", "转人工")
    assert r["conversation"]["state"] == "bot"
    # the customer is told when people are back, in the shop's time
    assert r["replies"][-1]["body"] == \
        "现在是机器人服务时段，人工客服今天 09:00上班后会尽快回复您。"


def test_the_demo_spreads_its_customers_over_the_shops_agents(night):
    b, clock = night
    before = {a["handle"]: a["status"] for a in b.list("agents", shop=DEMO_SHOP)}
    sim, restore = start_demo(b, DEMO_AGENT, seed=3)
    sim.colleague_s = 0  # colleagues close their chats at once
    first = sim.step()
    assert first["conversation"]["assignee"] == DEMO_AGENT  # the first one is yours
    for _ in range(60):
        clock.advance(5)  # the demo's pace: equally loaded colleagues take turns by idle time
        sim.step()
    holders = Counter(c["assignee"] for c in b.list_conversations(shop=DEMO_SHOP, limit=500)
                      if c["assignee"])
    mine = len(b.list_conversations(shop=DEMO_SHOP, agent=DEMO_AGENT, state="active"))
    assert len(holders) >= 3  # colleagues served too
    assert holders[DEMO_AGENT] < sum(holders.values()) / 2
    assert mine < 8  # the desk is not full
    restore()
    assert {a["handle"]: a["status"] for a in b.list("agents", shop=DEMO_SHOP)
            if a["handle"] != DEMO_AGENT} == {h: s for h, s in before.items()
                                              if h != DEMO_AGENT}


def test_the_demo_keeps_room_on_an_idle_agents_desk(night):
    """Nobody at the keyboard answers: the desk fills up to all but a couple of chats and
    stays there (new questions are then the bot's kind), whatever the random seed."""
    from cstool.simulation.demo_customers import DESK_ROOM

    b, _ = night
    cap = b.get("agents", DEMO_AGENT)["max_chats"]
    for seed in (11, 12):
        sim, restore = start_demo(b, DEMO_AGENT, seed=seed)
        sim.colleague_s = 0
        peak = 0
        for _ in range(120):
            sim.step()
            peak = max(peak, len(b.list_conversations(shop=DEMO_SHOP, agent=DEMO_AGENT,
                                                      state="active")))
        restore()
        assert cap - DESK_ROOM <= peak < cap
    assert not b.list_conversations(shop=DEMO_SHOP, state="queued")


@pytest.fixture
def night_server(night_file, tmp_path):
    """The demo mall at night behind a real server on loopback."""
    import shutil

    from tests.server_support import serve

    path = tmp_path / "demo.db"
    shutil.copy(night_file, path)
    clock = FrozenClock(NIGHT)
    served = serve(path, clock=clock)
    yield served, clock
    served.close()


def test_remote_demo_hours_are_an_admin_operation_on_the_server(night_server):
    from cstool.auth import Forbidden
    from cstool.errors import NotFound

    served, _ = night_server
    admin = served.remote()
    assert admin.post_message(DEMO_SHOP, "c00001", "转人工")["conversation"]["state"] == "bot"
    agent = served.remote(served.token(DEMO_AGENT))
    with pytest.raises(Forbidden):
        agent.keep_open(DEMO_SHOP)
    assert served.backend.kept_open == frozenset() and agent.kept_open == frozenset()
    with pytest.raises(NotFound):
        admin.keep_open("no-such-shop")
    admin.keep_open(DEMO_SHOP)
    assert served.backend.kept_open == {DEMO_SHOP} == admin.kept_open
    assert admin.post_message(DEMO_SHOP, "c00002", "转人工")["conversation"]["state"] in (
        "active", "queued")  # demo hours: a person, at 03:00
    admin.keep_open(DEMO_SHOP, keep=False)  # the shop's hours are back
    assert served.backend.kept_open == frozenset() == admin.kept_open
    assert admin.post_message(DEMO_SHOP, "c00003", "转人工")["conversation"]["state"] == "bot"


async def test_the_remote_demo_at_night_has_a_customer_and_demo_hours(night_server):
    """`cstool --api URL demo`: the demo's set-up over HTTP keeps the shop open on the
    server, and the console's header says so."""
    served, clock = night_server
    remote = served.remote()
    simulator, restore = start_demo(remote, DEMO_AGENT, pace_s=3600, seed=7)
    assert served.backend.kept_open == {DEMO_SHOP}
    app = ConsoleApp(remote, DEMO_AGENT, poll_s=0.2, now_ms=clock.now_ms, simulator=simulator)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(app, pilot, lambda: app.desk and app.desk["chats"]
                    and "休息中" in app.sub_title)
        assert len(app.desk["chats"]) == 1  # a customer of mine, at once
        chat = remote.get_conversation(app.desk["chats"][0]["id"], messages=False)
        assert (chat["state"], chat["assignee"]) == ("active", DEMO_AGENT)
        assert app.sub_title == "翎衣女装旗舰店 休息中 · 今天 09:00开门 · 演示照常转人工"
    restore()


async def test_the_closed_line_keeps_its_end_at_80_columns(night):
    """At 80x24 the header gives the closed-shop line the room of the console's title, so
    what happens meanwhile stays on screen."""
    from tests.test_console_i18n import screen_text

    b, clock = night
    app = ConsoleApp(b, DEMO_AGENT, poll_s=0.2, now_ms=clock.now_ms)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(app, pilot, lambda: "休息中" in app.sub_title)
        await pilot.pause(0.1)
        top = screen_text(app).splitlines()[0]
    assert "翎衣女装旗舰店 休息中 · 今天 09:00开门 · 现在机器人接待" in top, top
    assert "客服工作台" not in top


def test_the_compact_closed_line_gives_the_display_zone_only():
    berlin = ZoneInfo("Europe/Berlin")
    full = closed_notice(SHOP, NIGHT, kept_open=True, display_zone=berlin)
    short = closed_notice(SHOP, NIGHT, kept_open=True, display_zone=berlin, compact=True)
    assert full == "翎衣女装 休息中 · 明天 02:00开门（店铺时间 今天 09:00） · 演示照常转人工"
    assert short == "翎衣女装 休息中 · 明天 02:00开门 · 演示照常转人工"
