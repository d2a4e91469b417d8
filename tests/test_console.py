"""The agent console through Textual's Pilot: every action, asserting what is stored."""

from __future__ import annotations

import pytest

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from tests.conftest import NOW
from tui.console import ConsoleApp
from tui.screens import (
    ChoiceScreen,
    ConfirmScreen,
    HelpScreen,
    PickScreen,
    PromptScreen,
    fuzzy_match,
)


@pytest.fixture
def desk(tmp_path):
    """A shop with agent a (online, 3 slots) serving two chats, one more queued for a
    group a is not in, and one queued that a may take."""
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "desk.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
        "groups": [{"key": "pre", "shop": "s", "name": "售前组"},
                   {"key": "after", "shop": "s", "name": "售后组"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "groups": ["pre"],
                    "status": "online", "max_chats": 3},
                   {"handle": "b", "name": "阿杰", "shops": ["s"], "groups": ["after"],
                    "status": "away", "max_chats": 3}],
        "products": [{"key": "dress", "shop": "s", "title": "法式碎花连衣裙", "price": 299},
                     {"key": "tee", "shop": "s", "title": "纯棉短袖T恤", "price": 59}],
        "coupons": [{"key": "c20", "shop": "s", "name": "满200减20", "kind": "amount",
                     "amount": 20, "threshold": 200}],
        "customers": [{"key": f"c{i}", "name": n, "profiles": [{"shop": "s", "level": i}]}
                      for i, n in enumerate(["王丽", "李娜", "张敏", "刘洋"], start=1)],
    })
    b.post_message("s", "c1", "这条裙子有M码吗？")
    clock.advance(30)
    b.post_message("s", "c2", "什么时候发货")
    clock.advance(30)
    b.post_message("s", "c3", "在吗")           # a's third chat
    clock.advance(30)
    b.post_message("s", "c4", "还有优惠吗")     # a is full: queued
    yield b, clock
    b.close()


async def settle(app, pilot, rounds: int = 3) -> None:
    """Let workers finish and the screen catch up (loads may chain)."""
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)


async def press(app, pilot, *keys: str) -> None:
    """Press keys, then let the console settle."""
    await pilot.press(*keys)
    await settle(app, pilot)


def app_for(b, clock, **kw) -> ConsoleApp:
    return ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms, **kw)


def conv_of(b, customer: str) -> dict:
    return b.list_conversations(customer=customer)[0]


async def test_opens_on_my_first_chat_and_shows_the_queue(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        assert app.current == conv_of(b, "c1")["id"]
        assert [c["customer_name"] for c in app.desk["chats"]] == ["王丽", "李娜", "张敏"]
        assert [q["customer_name"] for q in app.desk["queue"]] == ["刘洋"]
        assert app.conv["messages"][0]["body"] == "这条裙子有M码吗？"


async def test_reply_with_enter_and_newline_with_ctrl_j(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, *"有的亲", "ctrl+j", *"M码现货")
        assert b.get_conversation(app.current)["messages"][-1]["sender"] == "system"
        await press(app, pilot, "enter")
        last = b.get_conversation(conv_of(b, "c1")["id"])["messages"][-1]
        assert (last["sender"], last["agent"], last["body"]) == ("agent", "a", "有的亲\nM码现货")
        assert app.query_one("#composer").text == ""


async def test_enter_in_the_same_read_as_the_text_sends_the_text(desk):
    """A terminal delivers "好的亲⏎" in one read (tmux send-keys, a paste, a fast IME):
    the keys reach the app back to back, and Enter sends what was typed before it."""
    from textual import events

    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        for ch in "好的亲，M码有货":
            app.post_message(events.Key(ch, ch))
        app.post_message(events.Key("enter", "\r"))
        await settle(app, pilot)
        last = b.get_conversation(conv_of(b, "c1")["id"])["messages"][-1]
        assert (last["sender"], last["body"]) == ("agent", "好的亲，M码有货")
        assert app.query_one("#composer").text == ""


async def test_accept_next_takes_the_queued_chat(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f8")  # c1's question is unanswered: asked first
        assert isinstance(app.screen, ConfirmScreen)
        await press(app, pilot, "y")  # close c1 to free a slot (the queue drains to a at once)
        assert conv_of(b, "c4")["assignee"] == "a"
        b.post_message("s", "c1", "又来问一下")  # new chat; a is full again: queued
        b.set_agent_status("a", "busy")
        b.close_conversation(conv_of(b, "c2")["id"], by="a")
        await press(app, pilot, "f2")
        assert conv_of(b, "c1")["state"] == "active" and conv_of(b, "c1")["assignee"] == "a"
        assert app.current == conv_of(b, "c1")["id"]


async def test_accept_with_nothing_waiting_says_so(desk):
    b, clock = desk
    b.close_conversation(conv_of(b, "c1")["id"], by="a")  # c4 goes to a; queue is empty
    b.close_conversation(conv_of(b, "c2")["id"], by="a")  # and a has a free slot
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f2")
        assert any("没有你可以接入的客户" in n.message for n in app.notice_log)


async def test_switch_chat_and_next_unread(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        first = app.current
        await press(app, pilot, "ctrl+down")
        assert app.current == conv_of(b, "c2")["id"] != first
        await press(app, pilot, "ctrl+up")
        assert app.current == first
        # c3 has an unread message; c2 was read when opened
        await press(app, pilot, "f3")
        assert app.current == conv_of(b, "c3")["id"]


async def test_opening_a_chat_marks_it_read(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        chats = {c["id"]: c["unread"] for c in b.agent_desk("a")["chats"]}
        assert chats[conv_of(b, "c1")["id"]] is False
        assert chats[conv_of(b, "c2")["id"]] is True


async def test_send_product_card_by_filtering(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f4")
        assert isinstance(app.screen, PickScreen)
        await press(app, pilot, *"短袖", "enter")
        last = b.get_conversation(conv_of(b, "c1")["id"])["messages"][-1]
        assert last["kind"] == "product" and last["payload"]["product"] == "tee"


async def test_send_coupon_gives_it_to_the_customer(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f5")
        await press(app, pilot, "enter")
        assert b.get("customers", "c1")["coupons"][0]["coupon"] == "c20"
        last = b.get_conversation(conv_of(b, "c1")["id"])["messages"][-1]
        assert last["kind"] == "coupon"
        await pilot.press("f5")  # the customer holds it now: not offered again
        await settle(app, pilot)
        assert not isinstance(app.screen, PickScreen)
        assert any("没有可发的优惠券" in n.message for n in app.notice_log)


async def test_invite_to_order_sends_a_priced_card(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f6")
        assert isinstance(app.screen, PickScreen)
        await press(app, pilot, *"连衣裙", "enter")
        last = b.get_conversation(conv_of(b, "c1")["id"])["messages"][-1]
        assert last["kind"] == "invitation" and last["agent"] == "a"
        assert last["payload"]["total"] == 299


async def test_quick_replies_open_with_slash_and_insert(desk):
    b, clock = desk
    b.apply({"quick_replies": [
        {"key": "qr-hi", "shop": "s", "title": "问候", "body": "亲，在的，请问有什么可以帮您？"},
        {"key": "qr-ship", "shop": "s", "title": "发货", "body": "今天下单，48小时内发货哦"},
        {"key": "qr-mine", "shop": "s", "agent": "b", "title": "阿杰的", "body": "我是阿杰"}]})
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "/")
        assert isinstance(app.screen, PickScreen)
        assert [k for k, _ in app.screen.items] == [
            "亲，在的，请问有什么可以帮您？", "今天下单，48小时内发货哦"]  # not b's own
        await press(app, pilot, *"发货", "enter")
        assert app.query_one("#composer").text == "今天下单，48小时内发货哦"
        await press(app, pilot, "enter")
        last = b.get_conversation(conv_of(b, "c1")["id"])["messages"][-1]
        assert last["body"] == "今天下单，48小时内发货哦" and last["sender"] == "agent"


async def test_knowledge_suggestion_is_inserted_with_ctrl_g_then_1(desk):
    b, clock = desk
    b.apply({"knowledge_entries": [
        {"key": "size-m", "shop": "s", "question": "有M码吗", "similar": ["M码有货吗", "有没有M码"],
         "answer": "亲，M码有现货，身高160-165可以选M码哦", "category": "尺码"},
        {"key": "ship", "shop": "s", "question": "什么时候发货", "similar": ["多久发货"],
         "answer": "付款后48小时内发货", "category": "物流"}]})
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        assert app.suggestions and app.suggestions[0]["answer"].startswith("亲，M码有现货")
        await press(app, pilot, "ctrl+g")
        assert isinstance(app.screen, ChoiceScreen)
        await press(app, pilot, "1")
        assert app.query_one("#composer").text == "亲，M码有现货，身高160-165可以选M码哦"
        await press(app, pilot, "ctrl+u")  # clears the reply box
        assert app.query_one("#composer").text == ""
        await press(app, pilot, "ctrl+g", "enter")  # Enter takes the highlighted (first)
        assert app.query_one("#composer").text.startswith("亲，M码有现货")


async def test_raise_a_ticket_and_see_my_tickets(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+k")
        await press(app, pilot, *"破损", "enter")
        assert isinstance(app.screen, PromptScreen)
        await press(app, pilot, *"裙子开线", "enter")
        tickets = b.list_tickets(assignee="a")
        assert [(t["type"], t["title"], t["conversation"]) for t in tickets] == [
            ("damaged_goods", "裙子开线", app.current)]
        await press(app, pilot, "ctrl+y")
        assert isinstance(app.screen, PickScreen)
        assert "裙子开线" in app.screen.items[0][1] and "（正常）" in app.screen.items[0][1]


async def test_transfer_to_a_group_with_a_note(desk):
    b, clock = desk
    b.set_agent_status("b", "online")
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        conv_id = app.current
        await press(app, pilot, "f7")
        await press(app, pilot, *"售后", "enter")
        assert isinstance(app.screen, PromptScreen)
        await press(app, pilot, *"要退货", "enter")
        conv = b.get_conversation(conv_id)
        assert conv["assignee"] == "b" and conv["group"] == "after"
        assert any((m["payload"] or {}).get("transfer", {}).get("note") == "要退货"
                   for m in conv["messages"])
        assert app.current != conv_id


async def test_close_asks_for_a_rating(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        conv_id = app.current
        await press(app, pilot, "f8", "y")
        conv = b.get_conversation(conv_id)
        assert conv["state"] == "closed" and conv["messages"][-1]["kind"] == "survey"


async def test_set_my_status(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f9")
        await press(app, pilot, *"away", "enter")
        assert b.get("agents", "a")["status"] == "away"


async def test_search_my_history(desk):
    b, clock = desk
    b.reply("a", conv_of(b, "c1")["id"], "M码明天发货")
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+f")
        await press(app, pilot, *"发货", "enter")
        assert isinstance(app.screen, PickScreen)
        labels = [label for _, label in app.screen.items]
        assert any("M码明天发货" in label for label in labels)
        assert any("什么时候发货" in label for label in labels)


async def test_help_and_palette_list_every_action(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        keys = [k for k, _ in app.screen.rows]
        assert "f2" in keys and "f8" in keys and "ctrl+o" in keys
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for word in ("接入", "转接", "结束", "快捷语", "邀请", "搜索", "状态", "重开", "清空"):
            assert any(word in t for t in titles), word
        assert all(b.id for b in app.BINDINGS)


async def test_keys_can_be_remapped(desk):
    b, clock = desk
    b.close_conversation(conv_of(b, "c1")["id"], by="a")
    b.post_message("s", "c1", "我又来了")  # queued: a is full
    b.set_agent_status("a", "busy")
    b.close_conversation(conv_of(b, "c2")["id"], by="a")
    app = app_for(b, clock, keymap={"accept": "f12"})
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f2")
        assert conv_of(b, "c1")["state"] == "queued"
        await press(app, pilot, "f12")
        assert conv_of(b, "c1")["assignee"] == "a"


async def test_live_messages_and_new_chats_appear_without_a_key(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        b.post_message("s", "c1", "还在吗？")
        app.tick()
        await settle(app, pilot)
        assert app.conv["messages"][-1]["body"] == "还在吗？"
        b.close_conversation(conv_of(b, "c2")["id"], by="a")
        b.post_message("s", "c2", "新问题")
        app.tick()
        await settle(app, pilot)
        # titled 新客户, said once (not "新客户：新会话：刘洋")
        assert any(n.title == "新客户" and n.message == "刘洋（s）" for n in app.notice_log), \
            [(n.title, n.message) for n in app.notice_log]


async def test_send_without_a_chat_warns(tmp_path):
    b = LocalBackend(tmp_path / "empty.db", clock=FrozenClock(NOW))
    b.apply({"shops": [{"key": "s", "name": "店"}],
             "agents": [{"handle": "a", "name": "A", "shops": ["s"], "status": "online"}]})
    app = ConsoleApp(b, "a", poll_s=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, *"hello", "enter")
        assert any("没有打开的会话" in n.message for n in app.notice_log)
        await press(app, pilot, "f8")
    b.close()


def test_fuzzy_match_handles_chinese():
    assert fuzzy_match("发货", "亲什么时候发货呀")
    assert fuzzy_match("zt", "中通 ZTO tracking")
    assert not fuzzy_match("退款", "换货流程")


def test_bench_console_quick_runs():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_console.py"),
                          "--quick"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for figure in ("first paint:", "send to stored and drawn:", "peak memory:"):
        assert figure in out.stdout


# -- the reviewer's findings -------------------------------------------------------------------

def shown(widget) -> str:
    """A Static widget's content as plain text."""
    from rich.console import Console

    console = Console(width=60, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


def notices(app) -> list[str]:
    return [str(n.message) for n in app.notice_log]


def agent_bodies(b, conv_id: int) -> list[str]:
    return [m["body"] for m in b.get_conversation(conv_id)["messages"] if m["sender"] == "agent"]


async def test_a_draft_stays_with_its_chat(desk):
    b, clock = desk
    c1, c2 = conv_of(b, "c1")["id"], conv_of(b, "c2")["id"]
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        composer = app.query_one("#composer")
        await pilot.press(*"给王丽的")
        await press(app, pilot, "ctrl+down")
        assert app.current == c2 and composer.text == ""
        await pilot.press(*"给李娜的")
        await press(app, pilot, "ctrl+up")
        assert app.current == c1 and composer.text == "给王丽的"
        await press(app, pilot, "ctrl+down")
        assert composer.text == "给李娜的"
        await press(app, pilot, "enter")
        assert agent_bodies(b, c2) == ["给李娜的"] and agent_bodies(b, c1) == []


@pytest.mark.parametrize("how, word", [("closed", "已结束"), ("transferred", "已转走")])
async def test_a_chat_taken_away_says_so_and_its_draft_goes_nowhere(desk, how, word):
    b, clock = desk
    c1 = conv_of(b, "c1")["id"]
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        assert app.current == c1
        await pilot.press(*"只给王丽看的话")
        if how == "closed":  # from the CLI, while the console is open
            b.close_conversation(c1, by="a")
        else:
            b.set_agent_status("b", "online")
            b.transfer(c1, by="a", to_agent="b")
        app.tick()
        await settle(app, pilot)
        assert app.current != c1
        assert any(f"会话 {c1}" in n and word in n for n in notices(app)), notices(app)
        assert app.query_one("#composer").text == ""
        await press(app, pilot, "enter")
        for cid in [c["id"] for c in b.agent_desk("a")["chats"]]:
            assert "只给王丽看的话" not in agent_bodies(b, cid)


async def test_a_draft_of_a_chat_in_the_background_is_not_lost_silently(desk):
    b, clock = desk
    c1, c2 = conv_of(b, "c1")["id"], conv_of(b, "c2")["id"]
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, *"稍等我查一下", "ctrl+down")
        b.close_conversation(c1, by="a")
        app.tick()
        await settle(app, pilot)
        assert app.current == c2
        assert any(f"会话 {c1}" in n and "已结束" in n and "稍等我查一下" in n
                   for n in notices(app)), notices(app)
        for key in ("ctrl+up", "ctrl+down", "ctrl+up"):
            await press(app, pilot, key)
            assert app.query_one("#composer").text == ""


async def test_going_offline_says_so_once(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f9")
        await press(app, pilot, *"offline", "enter")
        assert app.current is None and app.desk["chats"] == []
        assert notices(app) == ["状态：离线，3 个会话转回排队"], notices(app)


async def test_a_stale_load_does_not_undo_a_switch(desk):
    import threading

    b, clock = desk
    c1, c2 = conv_of(b, "c1")["id"], conv_of(b, "c2")["id"]
    gate = threading.Event()
    gate.set()

    class Slow:  # the backend, with reads of a chat held at the gate
        def __getattr__(self, name):
            return getattr(b, name)

        def get_conversation(self, conv_id):
            gate.wait(5)
            return b.get_conversation(conv_id)

    app = ConsoleApp(Slow(), "a", poll_s=3600, now_ms=clock.now_ms)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        assert app.current == c1
        gate.clear()
        app.request_load()  # reads c1 and waits at the gate
        await pilot.pause(0.1)
        await pilot.press(*"给李娜", "ctrl+down")  # the agent moves on meanwhile
        gate.set()
        await settle(app, pilot, rounds=5)
        assert app.current == c2 and app.conv["id"] == c2
        assert app.query_one("#composer").text == ""


async def test_queue_lists_only_chats_i_may_take(desk):
    b, clock = desk
    # c1 goes to the after-sales group (b is away, a is not in it): queued, not a's
    b.transfer(conv_of(b, "c1")["id"], by="a", to_group="after", note="退货")
    assert conv_of(b, "c1")["state"] == "queued" and conv_of(b, "c4")["assignee"] == "a"
    b.close_conversation(conv_of(b, "c2")["id"], by="a")  # a has a free slot
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        panel = shown(app.query_one("#chats"))
        queue_part = panel.split("排队")[1]
        assert "王丽" not in queue_part.split("其他组")[0], panel
        assert "1 位在等其他组" in panel, panel
        await press(app, pilot, "f2")
        msg = notices(app)[-1]
        assert "没有你可以接入的客户" in msg and "1 位在等其他组" in msg, msg
        assert conv_of(b, "c1")["state"] == "queued"


async def test_pickers_leave_out_off_shelf_products_and_unusable_coupons(desk):
    b, clock = desk
    b.apply({
        "products": [{"key": "old", "shop": "s", "title": "去年款风衣", "price": 399,
                      "status": "off_shelf"}],
        "coupons": [{"key": "gone", "shop": "s", "name": "双11券", "kind": "amount",
                     "amount": 11, "valid_to": "2026-11-12T00:00:00+08:00"},
                    {"key": "later", "shop": "s", "name": "双12券", "kind": "amount",
                     "amount": 12, "valid_from": "2026-12-12T00:00:00+08:00"}]})
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f4")
        assert [k for k, _ in app.screen.items] == ["dress", "tee"]
        await pilot.press("escape")
        await press(app, pilot, "f5")
        assert [k for k, _ in app.screen.items] == ["c20"]
        await press(app, pilot, "enter")
        # the customer holds c20 now: nothing left to send, said in Chinese
        await press(app, pilot, "f5")
        assert not isinstance(app.screen, PickScreen)
        assert "没有可发的优惠券" in notices(app)[-1]


async def test_a_refused_coupon_is_worded_in_chinese(desk):
    b, clock = desk
    b.apply({"coupons": [{"key": "soon", "shop": "s", "name": "限时券", "kind": "amount",
                          "amount": 5, "valid_to": "2026-11-20T10:05:00+08:00"}]})
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f5")
        assert "soon" in [k for k, _ in app.screen.items]
        clock.advance(600)  # it expires while the picker is open
        await press(app, pilot, *"限时", "enter")
        msg = notices(app)[-1]
        assert "限时券" in msg and "已过期" in msg and "11-20 10:05" in msg, msg
        assert "expired" not in msg


async def test_suggestions_are_in_the_command_palette(desk):
    b, clock = desk
    b.apply({"knowledge_entries": [
        {"key": "size-m", "shop": "s", "question": "有M码吗", "similar": ["M码有货吗"],
         "answer": "亲，M码有现货", "category": "尺码"}]})
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any("插入建议 1" in t for t in titles), titles
        await press(app, pilot, "ctrl+p")
        await pilot.press(*"插入建议 1")
        await settle(app, pilot, rounds=6)
        await press(app, pilot, "enter")
        assert app.query_one("#composer").text == "亲，M码有现货"


async def test_quit_with_open_chats_asks_then_goes_offline(desk):
    from tui.screens import ConfirmScreen

    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        await press(app, pilot, "escape")
        assert app.is_running and b.get("agents", "a")["status"] == "online"
        await press(app, pilot, "ctrl+q")
        await press(app, pilot, "y")
    assert b.get("agents", "a")["status"] == "offline"
    assert b.agent_desk("a")["chats"] == []
    assert conv_of(b, "c1")["state"] == "queued"


async def test_the_demo_quits_at_once_and_hands_its_chats_back(desk):
    # the demo's customers are simulated: Ctrl+Q quits without a question (as the README's
    # first command promises), the demo agent going offline as any quitting agent does
    from cstool.simulation.demo_customers import CustomerSimulator

    b, clock = desk
    sim = CustomerSimulator(b, "s", pace_s=3600, seed=1)
    app = app_for(b, clock, simulator=sim)
    async with app.run_test(size=(120, 34)) as pilot:
        for _ in range(40):  # (the simulator's worker runs until the app stops: no settle)
            await pilot.pause(0.1)
            if app.desk and app.desk["chats"]:
                break
        assert app.desk["chats"]
        await pilot.press("ctrl+q")
        for _ in range(40):
            await pilot.pause(0.1)
            if not app.is_running:
                break
    assert not app.is_running
    assert b.get("agents", "a")["status"] == "offline"


async def test_quit_without_chats_goes_offline_at_once(desk):
    b, clock = desk
    b.set_agent_status("a", "offline")
    b.set_agent_status("a", "busy")  # busy takes nothing from the queue
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        assert app.desk["chats"] == []
        await press(app, pilot, "ctrl+q")
    assert b.get("agents", "a")["status"] == "offline"


async def test_close_says_so(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        conv_id = app.current
        await press(app, pilot, "f8", "y")
        assert any(f"已结束会话 {conv_id}" in n for n in notices(app)), notices(app)
        # no second "ended elsewhere" notice for the chat I closed myself
        assert not any(f"会话 {conv_id} 已结束" in n for n in notices(app)), notices(app)


async def test_help_scrolls_to_its_last_line_at_100x30(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f1")
        assert "PgDn：滚动" not in app.export_screenshot()
        await press(app, pilot, "end")
        assert "PgDn：滚动" in app.export_screenshot()
        await press(app, pilot, "home")
        assert "PgDn：滚动" not in app.export_screenshot()


async def test_a_refused_transfer_keeps_the_note(desk):
    b, clock = desk  # b is away: a transfer to b is refused
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        conv_id = app.current
        await press(app, pilot, "f7")
        await press(app, pilot, *"阿杰", "enter")
        await press(app, pilot, *"要退货", "enter")
        assert conv_of(b, "c1")["assignee"] == "a"
        assert "阿杰" in notices(app)[-1] and "离开" in notices(app)[-1], notices(app)
        b.set_agent_status("b", "online")
        await press(app, pilot, "f7")
        await press(app, pilot, *"阿杰", "enter")
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one("#prompt-input").value == "要退货"
        await press(app, pilot, "enter")
        assert b.get_conversation(conv_id)["assignee"] == "b"
        assert any("已转接给 阿杰" in n for n in notices(app)), notices(app)
        assert not any(f"会话 {conv_id} 已转走" in n for n in notices(app))


async def test_search_opens_a_closed_chat_read_only(desk):
    b, clock = desk
    c1 = conv_of(b, "c1")["id"]
    b.reply("a", c1, "M码明天发货")
    b.close_conversation(c1, by="a")
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+f")
        await press(app, pilot, *"明天", "enter")
        await press(app, pilot, "enter")
        assert app.current == c1 and app.conv["id"] == c1
        composer = app.query_one("#composer")
        assert composer.read_only
        await press(app, pilot, *"再见", "enter")
        assert agent_bodies(b, c1) == ["M码明天发货"]
        await press(app, pilot, "ctrl+down")
        assert app.current != c1 and not composer.read_only


async def test_desk_keys_wait_while_a_picker_is_open(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f4")
        await pilot.press("f5", "f8")  # no coupon picker on top, no chat closed behind
        await settle(app, pilot)
        assert len(app.screen_stack) == 2 and app.screen.title_text.startswith("发送商品")
        assert conv_of(b, "c1")["state"] == "active"
        await press(app, pilot, "escape", "f5")
        assert len(app.screen_stack) == 2 and app.screen.title_text.startswith("发送优惠券")


async def test_f8_asks_when_the_customer_waits_for_an_answer_and_esc_keeps_the_chat(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        conv_id = app.current
        await press(app, pilot, "f8")
        assert isinstance(app.screen, ConfirmScreen)
        assert "还没有回复" in app.screen.title_text
        await press(app, pilot, "escape")
        assert b.get_conversation(conv_id)["state"] == "active"
        # answered: F8 closes at once
        await press(app, pilot, *"好的", "enter")
        await press(app, pilot, "f8")
        assert not isinstance(app.screen, ConfirmScreen)
        assert b.get_conversation(conv_id)["state"] == "closed"


async def test_a_just_closed_chat_is_reopened_with_ctrl_r(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+r")
        assert "没有可以重新打开的会话" in notices(app)[-1]
        conv_id = app.current
        await press(app, pilot, "f8", "y")
        assert b.get_conversation(conv_id)["state"] == "closed"
        assert any("重新打开" in n for n in notices(app)), notices(app)
        # closing drained the queued c4 to a: full again, the reopen is refused, says why
        await press(app, pilot, "ctrl+r")
        assert b.get_conversation(conv_id)["state"] == "closed"
        assert "先结束一个会话" in notices(app)[-1], notices(app)
        b.close_conversation(conv_of(b, "c4")["id"], by="a")
        bells = []
        app.bell = lambda: bells.append(1)
        await press(app, pilot, "ctrl+r")
        conv = b.get_conversation(conv_id)
        assert conv["state"] == "active" and conv["assignee"] == "a"
        assert app.current == conv_id and app.readonly is False
        assert not bells  # a chat I took back does not ring the 新客户 bell


async def test_accepting_does_not_ring_but_a_routed_chat_does(desk):
    b, clock = desk
    b.close_conversation(conv_of(b, "c2")["id"], by="a")  # c4 drains to a
    b.close_conversation(conv_of(b, "c3")["id"], by="a")
    b.set_agent_status("a", "busy")  # nothing routed to a; F2 still takes
    b.post_message("s", "c2", "再问一下")
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        bells = []
        app.bell = lambda: bells.append(1)
        await press(app, pilot, "f2")
        assert conv_of(b, "c2")["assignee"] == "a"
        app.tick()
        await settle(app, pilot)
        assert not bells and not any(n.title == "新客户" for n in app.notice_log)
        b.close_conversation(conv_of(b, "c1")["id"], by="a")  # room for one more
        b.post_message("s", "c3", "还在吗")
        if conv_of(b, "c3")["assignee"] != "a":
            b.accept_next("a")  # given to a from outside the console (as routing would)
        assert conv_of(b, "c3")["assignee"] == "a"
        app.tick()
        await settle(app, pilot)
        assert bells and any(n.title == "新客户" for n in app.notice_log)


async def test_the_same_notice_twice_is_one_line_with_a_count(desk):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "ctrl+r", "ctrl+r", "ctrl+r")
        bar = app.query_one("#notices")
        same = [n for n in bar.shown if "没有可以重新打开" in n.message]
        assert len(same) == 1 and same[0].count == 3
        # the bar sits above the key line, never over the reply box
        composer = app.query_one("#composer").region
        assert not composer.overlaps(bar.region)
        assert bar.region.y >= composer.bottom


@pytest.mark.parametrize("width", [80, 120, 200])
async def test_key_line_fits_and_keeps_help_and_the_main_keys(desk, width):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(app, pilot)
        bar = app.query_one("#keys")
        shown = bar.shown()
        text = bar.render().plain
        from rich.cells import cell_len
        assert cell_len(text) <= bar.content_size.width, text
        keys = [k for k, _ in shown]
        for key in ("F1", "F2", "F8", "F9", "F7", "^Q"):
            assert key in keys, (width, keys)
        if width >= 120:
            assert len(shown) > 10


@pytest.mark.parametrize("width", [80, 120, 200])
async def test_ctrl_t_changes_the_layout_at_every_width(desk, width):
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(app, pilot)
        right, left = app.query_one("#right"), app.query_one("#left")
        before = (right.display and right.region.width, left.display and left.region.width)
        await press(app, pilot, "ctrl+t")
        after = (right.display and right.region.width, left.display and left.region.width)
        assert before != after
        await press(app, pilot, "ctrl+t")
        if width >= 200:
            assert right.region.width >= 50  # the panel grows with the screen
