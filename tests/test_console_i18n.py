"""The console in one language at a time: under CSTOOL_LANG=zh no English word on the
screen, under CSTOOL_LANG=en no Chinese but the shop's own data (names, messages), on the
paths a shift goes through: the desk with a chat open, F1 help, a refused reply, a long
queue, the search, an error about me, my own messages signed with my name."""

from __future__ import annotations

import json
import re

import pytest

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from tests.conftest import NOW
from tui.console import ConsoleApp
from tui.screens import ConfirmScreen, HelpScreen, PickScreen

# Words that are the same in both languages: key names and the program's name.
KEY_WORDS = {"ctrl", "alt", "shift", "tab", "enter", "esc", "pgup", "pgdn", "up", "down",
             "cstool"}
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")

SHOP = {
    "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
    "groups": [{"key": "pre", "shop": "s", "name": "售前组"}],
    "agents": [{"handle": "lf-xiaomei", "name": "小美", "shops": ["s"], "groups": ["pre"],
                "status": "online", "max_chats": 2}],
    "customers": [{"key": f"c{i}", "name": f"顾客{i}", "profiles": [{"shop": "s"}]}
                  for i in range(1, 14)],
}


@pytest.fixture
def shift(tmp_path):
    """小美 (lf-xiaomei) holds two chats; eleven more customers wait for her."""
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "desk.db", clock=clock)
    b.apply(SHOP)
    for i in range(1, 14):
        b.post_message("s", f"c{i}", "这条裙子有M码吗？" if i == 1 else "在吗")
        clock.advance(10)
    yield b, clock
    b.close()


def screen_text(app) -> str:
    """What the terminal shows now (every layer of the current screen)."""
    return "\n".join("".join(s.text for s in strip)
                     for strip in app.screen._compositor.render_strips())


def notices(app) -> list[str]:
    return [str(n.message) for n in app.notice_log]


def english_words(text: str) -> set[str]:
    """Latin words on the screen that are neither key names nor the shop's data (handles,
    keys)."""
    data = set(re.findall(r"[A-Za-z]{2,}", json.dumps(SHOP)))
    return {w for w in re.findall(r"[A-Za-z]{2,}", text)
            if w.lower() not in KEY_WORDS and w not in data}


def foreign_chinese(text: str, b: LocalBackend) -> set[str]:
    """Chinese on the screen that is not the shop's own data (names, what was written)."""
    data = json.dumps(SHOP, ensure_ascii=False)
    for c in b.list_conversations():
        data += "".join(m["body"] for m in b.get_conversation(c["id"])["messages"])
    return {run for run in CJK.findall(text) if run not in data}


async def settle(app, pilot, rounds: int = 3) -> None:
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)


async def press(app, pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(app, pilot)


async def walk_a_shift(b, clock) -> list[tuple[str, str]]:
    """Go through the paths; (what, text shown) for each."""
    app = ConsoleApp(b, "lf-xiaomei", poll_s=3600, now_ms=clock.now_ms)
    seen: list[tuple[str, str]] = []
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        seen.append(("desk", screen_text(app)))
        await press(app, pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        seen.append(("help", screen_text(app)))
        await press(app, pilot, "escape")
        await press(app, pilot, "f8")  # the customer's question has no answer: asked
        assert isinstance(app.screen, ConfirmScreen)
        seen.append(("close?", screen_text(app)))
        await press(app, pilot, "escape")
        await press(app, pilot, "ctrl+r")  # nothing closed yet
        seen.append(("nothing to reopen", notices(app)[-1]))
        await press(app, pilot, "ctrl+t")
        seen.append(("panel", notices(app)[-1]))
        await press(app, pilot, "ctrl+t")
        app.query_one("#composer").insert("好" * 2100)
        await press(app, pilot, "enter")
        seen.append(("reply too long", notices(app)[-1]))
        app.query_one("#composer").clear()
        await pilot.press(*"有的")
        await press(app, pilot, "enter")
        seen.append(("my reply", screen_text(app)))
        await press(app, pilot, "f2")  # two of two: full
        seen.append(("accept refused", notices(app)[-1]))
        await press(app, pilot, "ctrl+f")
        await pilot.press(*"M码")
        await press(app, pilot, "enter")
        assert isinstance(app.screen, PickScreen)
        seen.append(("search", screen_text(app)))
        await press(app, pilot, "escape")
        await press(app, pilot, "ctrl+p")
        seen.append(("palette", screen_text(app)))
    return seen


async def test_the_chinese_console_has_no_english(shift, monkeypatch):
    b, clock = shift
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    seen = dict(await walk_a_shift(b, clock))
    for what, text in seen.items():
        assert english_words(text) == set(), (what, text)
    assert seen["reply too long"] == "发送失败：回复太长了（2100 字，最多 2000 字）"
    assert seen["accept refused"] == "接入：你已接满 2/2：先结束一个会话"
    assert "询单未下单" in seen["desk"] and "consulted" not in seen["desk"]
    assert "… 还有 3 位" in seen["desk"]  # eleven wait, eight are listed
    assert "小美" in seen["my reply"] and "lf-xiaomei" not in seen["my reply"]
    assert "顾客1 客户：这条裙子有M码吗？" in seen["search"]
    assert "F2 接入" in seen["desk"] and "接入下一位等待的客户" in seen["help"]


async def test_the_english_console_has_no_chinese_but_the_shops_data(shift, monkeypatch):
    b, clock = shift
    monkeypatch.setenv("CSTOOL_LANG", "en")
    seen = dict(await walk_a_shift(b, clock))
    for what, text in seen.items():
        assert foreign_chinese(text, b) == set(), (what, text)
    assert seen["reply too long"] == "not sent: reply too long (2100 characters, at most 2000)"
    assert seen["accept refused"] == "accept: you are at capacity (2/2): close a chat first"
    assert "asked, not ordered" in seen["desk"] and "… 3 more" in seen["desk"]
    assert "顾客1 customer: 这条裙子有M码吗？" in seen["search"]
    assert "Accept the next waiting chat" in seen["help"] and "F2 accept" in seen["desk"]


# -- the dashboard -----------------------------------------------------------------------------
@pytest.fixture
def mall(tmp_path):
    """A shop with a queue long and slow enough to raise alerts."""
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "dash.db", clock=clock)
    b.apply({"shops": [{"key": "s", "name": "翎衣女装"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                         "max_chats": 1}]})
    for i in range(1, 14):
        b.post_message("s", f"c{i}", "还没发货吗")
        clock.advance(30)
    clock.advance(240)
    yield b, clock
    b.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_dashboard_in_one_language(mall, monkeypatch, lang):
    from tui.dashboard import DashboardApp

    b, clock = mall
    monkeypatch.setenv("CSTOOL_LANG", lang)
    app = DashboardApp(b, "s", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        text = screen_text(app) + "\n".join(notices(app))
        await press(app, pilot, "w")
        picker = screen_text(app)
    data = "翎衣女装 小美 还没发货吗 发货"
    if lang == "zh":
        words = {w for w in re.findall(r"[A-Za-z]{2,}", text + picker)
                 if w.lower() not in KEY_WORDS}
        assert words == set(), words
        assert "排队 12 人，超过 10" in text and "切换店铺" in picker
    else:
        foreign = {run for run in CJK.findall(text + picker) if run not in data}
        assert foreign == set(), foreign
        assert "12 waiting, more than 10" in text and "Switch shop" in picker
        assert "“发货” surging" in text


@pytest.mark.parametrize("lang,expected", [
    ("zh", "会话 {id}（{name}）已结束"),
    ("en", "chat {id} ({name}) closed"),
])
async def test_a_chat_that_left_is_told_without_a_stray_space(shift, monkeypatch, lang,
                                                              expected):
    """The notice of a chat closed elsewhere: in Chinese no space between the customer's
    bracketed name and what happened to the chat (the catalog id ``console.chat_left``)."""
    b, clock = shift
    monkeypatch.setenv("CSTOOL_LANG", lang)
    chat = b.agent_desk("lf-xiaomei")["chats"][0]
    app = ConsoleApp(b, "lf-xiaomei", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        b.close_conversation(chat["id"], by="lf-xiaomei")  # from the CLI, say
        app.tick()
        await settle(app, pilot)
        said = expected.format(id=chat["id"], name=chat["customer_name"])
        assert said in notices(app), notices(app)
        if lang == "zh":
            assert not any("） " in n for n in notices(app))
