"""Channel connectors with a fake messaging gateway on loopback (a test double for the
merchant's app / 小程序 / SMS gateway: a small http.server in a thread on a free port):
inbound through the API with the channel named, outbound agents' replies, bot answers
and campaign sends signed and retried with the same delivery id, delivery receipts
moving each message's state (the console's marks, campaign stats), private notes never
delivered, and tenancy (another shop's token refused)."""

from __future__ import annotations

import json

import pytest

from cstool.errors import InvalidInput, NotFound
from cstool.worker import Worker

from .test_webhooks import SECRET, Receiver, receivers, verify  # noqa: F401 (a fixture)


@pytest.fixture
def gateway(receivers):  # noqa: F811 (the fixture imported above)
    """Fake gateways on loopback: test_webhooks' receivers (closed after the test)."""
    return receivers


def shop(b, key: str = "s1", **settings) -> None:
    b.apply({"shops": [{"key": key, "name": "翎衣女装", "service_mode": "human_first",
                        "settings": {"quiet_hours": None, **settings}}],
             "agents": [{"handle": f"{key}-a1", "name": "小美", "shops": [key]}]})


def channel(b, url: str, key: str = "app1", shop_key: str = "s1", **kw) -> dict:
    return b.create("channels", {"key": key, "shop": shop_key, "kind": "http", "url": url,
                                 "secret": SECRET, **kw})


def bodies(rx: Receiver) -> list[dict]:
    return [json.loads(body) for _, body in rx.got]


def agent_reply(b, shop_key="s1", customer="c1", text="有的，M码有货") -> dict:
    """The shop's agent comes online, takes the waiting chat and answers."""
    b.set_agent_status(f"{shop_key}-a1", "online")
    b.accept_next(f"{shop_key}-a1")
    conv = b.list_conversations(shop=shop_key)[0]
    return b.reply(f"{shop_key}-a1", conv["id"], text)


def test_an_agents_reply_reaches_the_gateway_signed_500_then_200_same_id(backend, clock,
                                                                         gateway):
    rx = gateway([500])
    shop(backend)
    channel(backend, rx.url)
    posted = backend.post_message("s1", "c1", "你好，这件有M码吗", channel="app1")
    conv = posted["conversation"]["id"]
    msg = agent_reply(backend)
    worker = Worker(backend)
    first = worker.run_once()["webhooks"]
    assert first["retrying"] == 1  # the gateway's first answer is a 500
    clock.advance(10)
    worker.run_once()
    clock.advance(20)
    assert worker.run_once()["webhooks"]["attempted"] == 0  # all done
    got = bodies(rx)
    mine = [i for i, b in enumerate(got) if b["message"]["id"] == msg["id"]]
    assert len(mine) == 1  # answered 200: sent once
    ids = rx.ids()
    # the one answered 500 came again with the same id and the same body
    retried = [i for i in range(len(ids)) if ids.count(ids[i]) == 2]
    assert len(retried) == 2 and got[retried[0]] == got[retried[1]]
    assert len(set(ids)) == len(ids) - 1 and all(i.startswith("chd_") for i in ids)
    m = got[mine[0]]
    uid = ids[mine[0]]
    assert m["message"]["text"] == "有的，M码有货" and m["message"]["sender"] == "agent"
    assert (m["customer"], m["conversation"], m["channel"]) == ("c1", conv, "app1")
    for headers, body in rx.got:
        assert verify(SECRET, headers["X-Cstool-Signature"], body,
                      now=int(headers["X-Cstool-Signature"].split(",")[0][2:]))
        assert headers["X-Cstool-Event"] == "channel.message"
    # the customer's own words are never sent back to the gateway
    assert all(b["message"]["sender"] != "customer" for b in got)
    view = backend.get_conversation(conv)
    states = {m["id"]: m.get("delivery") for m in view["messages"]}
    assert states[msg["id"]] == "sent"
    assert backend.channel_receipt(uid, "delivered")["message_delivery"] == "delivered"
    assert backend.channel_receipt(uid, "read")["message_delivery"] == "read"
    # a late receipt does not move the state back
    assert backend.channel_receipt(uid, "delivered")["message_delivery"] == "read"
    view = backend.get_conversation(conv)
    assert {m["id"]: m.get("delivery") for m in view["messages"]}[msg["id"]] == "read"
    d = {x["id"]: x for x in backend.channel_deliveries("app1")}
    assert set(d) == set(ids)
    assert (d[uid]["status"], d[uid]["receipt"], d[uid]["channel"],
            d[uid]["message"]) == ("done", "read", "app1", msg["id"])
    assert d[ids[retried[0]]]["attempts"] == 2


def test_a_receipt_of_an_unknown_delivery_or_status_is_refused(backend, gateway):
    rx = gateway()
    shop(backend)
    channel(backend, rx.url)
    backend.post_message("s1", "c1", "在吗", channel="app1")
    agent_reply(backend)
    Worker(backend).run_once()
    uid = rx.ids()[0]
    with pytest.raises(InvalidInput):
        backend.channel_receipt(uid, "opened")
    with pytest.raises(NotFound):
        backend.channel_receipt("chd_999_999", "read")


def test_private_notes_are_never_delivered_to_a_channel(backend, gateway):
    rx = gateway()
    shop(backend)
    channel(backend, rx.url)
    posted = backend.post_message("s1", "c1", "杯子碎了", channel="app1")
    conv = posted["conversation"]["id"]
    backend.set_agent_status("s1-a1", "online")
    backend.accept_next("s1-a1")
    assert backend.get_conversation(conv)["assignee"] == "s1-a1"
    backend.add_note("s1-a1", conv, "内部：这位顾客上次也说碎了，先核实")
    backend.reply("s1-a1", conv, "很抱歉，给您补发一个")
    Worker(backend).run_once()
    texts = [b["message"]["text"] for b in bodies(rx)]
    assert "很抱歉，给您补发一个" in texts
    assert all("内部" not in json.dumps(b, ensure_ascii=False) for b in bodies(rx))


def test_an_unknown_channel_name_is_refused_and_a_client_name_is_not_a_channel_name(
        backend, gateway):
    rx = gateway()
    shop(backend)
    with pytest.raises(InvalidInput):
        backend.post_message("s1", "c1", "你好", channel="nope")
    with pytest.raises(InvalidInput):
        channel(backend, rx.url, key="app")
    with pytest.raises(InvalidInput):
        backend.create("channels", {"key": "x1", "shop": "s1", "kind": "http"})


def test_campaign_sends_reach_customers_on_their_channel_and_receipts_show_in_stats(
        backend, clock, cli, gateway):
    """No open chat: the channel last used (a closed chat through the connector) or the
    one the profile prefers (its client); neither: ``undeliverable``. Receipts from the
    gateway make campaign stats' delivered / read / failed, and the lift is over the
    sends that reached the customer only."""
    from .test_campaigns import at, campaign, iso, order

    rx = gateway()
    backend.apply({
        "shops": [{"key": "s1", "name": "翎衣女装", "service_mode": "human_first",
                   "settings": {"quiet_hours": None, "campaign_cap": 9}}],
        "products": [{"key": "p1", "shop": "s1", "title": "法式连衣裙", "price": 199,
                      "category": "连衣裙", "stock": 10}],
        "customers": [
            {"key": "u1", "name": "王芳", "profiles": [{"shop": "s1", "channel": "app"}]},
            {"key": "u2", "name": "李雷", "profiles": [{"shop": "s1", "channel": "app"}]},
            {"key": "u3", "name": "韩梅梅", "profiles": [{"shop": "s1", "channel": "pc"}]},
            {"key": "u4", "name": "张伟", "profiles": [{"shop": "s1"}]},
        ],
    })
    channel(backend, rx.url, key="lf-app", client="app")
    channel(backend, rx.url, key="lf-sms")  # no client: reached only by those who used it
    # u4 wrote through the SMS gateway a week before; the chat closed since
    clock_now = backend.clock.now_ms()
    backend.clock.set(at("10:00", 13))
    c4 = backend.post_message("s1", "u4", "在吗", channel="lf-sms")["conversation"]["id"]
    backend.close_conversation(c4)
    backend.clock.set(clock_now)
    Worker(backend).run_once()
    rx.got.clear()
    backend.apply({
        "orders": [order(f"o{i}", f"u{i}", status="shipped", created="08:00", day=19,
                         paid_at="08:01", shipped_at=iso("09:00")) for i in range(1, 5)],
        "campaigns": [campaign("ship", "order_shipped", "{name}，订单{order}已发货")],
    })
    out = backend.run_due_campaigns(at("09:10"))
    assert (out["sent"], out["undeliverable"]) == (3, 1)  # u3: a pc profile, no channel
    Worker(backend).run_once()
    got = {b["customer"]: (b, h) for (h, _), b in zip(rx.got, bodies(rx), strict=True)}
    assert set(got) == {"u1", "u2", "u4"}
    assert got["u1"][0]["channel"] == "lf-app" and got["u4"][0]["channel"] == "lf-sms"
    assert got["u1"][0]["message"]["text"] == "王芳，订单o1已发货"
    assert got["u1"][0]["message"]["sender"] == "system"
    stats = cli.json("campaign", "stats", "ship")
    assert (stats["sent"], stats["delivered"], stats["read"], stats["failed"],
            stats["undeliverable"]) == (3, 0, 0, 0, 1)
    backend.channel_receipt(got["u1"][1]["X-Cstool-Delivery"], "read")
    backend.channel_receipt(got["u2"][1]["X-Cstool-Delivery"], "failed")
    backend.channel_receipt(got["u4"][1]["X-Cstool-Delivery"], "delivered")
    # u2's order after the send: not a conversion of a send that never reached them
    backend.apply({"orders": [order("b2", "u2", status="paid", created="12:00",
                                    paid_at="12:01"),
                              order("b1", "u1", status="paid", created="12:00",
                                    paid_at="12:01")]})
    stats = cli.json("campaign", "stats", "ship")
    assert (stats["sent"], stats["delivered"], stats["read"], stats["failed"],
            stats["undeliverable"], stats["reached"]) == (3, 2, 1, 1, 1, 2)
    assert stats["conversions"] == 1  # u1's; u2's send failed
    # the u1 chat made for the send is closed at once: no agent's queue
    assert backend.list_conversations(shop="s1", state="queued") == []


def head_of(app, body: str) -> str:
    """The transcript's head line (who, when, the mark) of the message saying ``body``."""
    from .test_console_marks import transcript_text

    lines = transcript_text(app).splitlines()
    return lines[max(i for i, x in enumerate(lines) if body in x) - 1]


async def test_the_console_marks_an_agents_message_sent_delivered_read_failed_live(
        tmp_path, gateway):
    """The agent answers in the console a customer who wrote through the app gateway;
    the transcript shows the message sending, then sent (the gateway took it), then what
    the gateway reports, on the console's own poll (the event log moved)."""
    from cstool.backend.local import LocalBackend
    from cstool.clock import FrozenClock
    from cstool.i18n import t
    from tui.console import ConsoleApp

    from .conftest import NOW
    from .test_console_marks import press, settle

    rx = gateway()
    clock = FrozenClock(NOW)
    b = LocalBackend(tmp_path / "desk.db", clock=clock)
    try:
        b.apply({
            "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
            "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                        "max_chats": 3}],
            "customers": [{"key": "c1", "name": "王丽", "profiles": [{"shop": "s"}]}],
        })
        channel(b, rx.url, key="s-app", shop_key="s")
        b.post_message("s", "c1", "我的包裹破了", channel="s-app")
        app = ConsoleApp(b, "a", poll_s=3600, now_ms=clock.now_ms)
        async with app.run_test(size=(120, 34)) as pilot:
            await settle(app, pilot)
            clock.advance(5)
            await press(app, pilot, *"亲马上处理", "enter")
            app.tick()
            await settle(app, pilot)
            assert "✓" not in head_of(app, "亲马上处理")  # not yet handed to the gateway
            Worker(b).run_once()  # the gateway takes it: sent
            app.tick()
            await settle(app, pilot)
            assert "✓ " + t("console.delivery.sent") in head_of(app, "亲马上处理")
            mine = [i for (h, _), body in zip(rx.got, bodies(rx), strict=True)
                    for i in [h["X-Cstool-Delivery"]]
                    if body["message"]["text"] == "亲马上处理"]
            b.channel_receipt(mine[0], "read")
            app.tick()
            await settle(app, pilot)
            assert "✓✓ " + t("console.delivery.read") in head_of(app, "亲马上处理")
            assert "✓" not in head_of(app, "我的包裹破了")  # the customer's words: no mark
            b.post_message("s", "c1", "好的", channel="s-app")
            clock.advance(5)
            await press(app, pilot, *"已补发", "enter")
            Worker(b).run_once()
            uid = [h["X-Cstool-Delivery"] for (h, _), body in zip(rx.got, bodies(rx),
                                                                  strict=True)
                   if body["message"]["text"] == "已补发"][0]
            b.channel_receipt(uid, "failed")
            app.tick()
            await settle(app, pilot)
            assert "✗ " + t("console.delivery.failed") in head_of(app, "已补发")
            assert "✓✓ " + t("console.delivery.read") in head_of(app, "亲马上处理")
    finally:
        b.close()


def test_channel_cli_add_list_show_update_delete_export_apply_and_a_dead_letter(
        cli, gateway):
    """The CLI: add prints the generated secret once (never shown again), list / show /
    update / delete, export leaves the secret out and apply of the export changes
    nothing; a gateway down for the whole window: the delivery is dead-lettered, the
    message failed, and `channel redeliver` sends it again with the same id."""
    down = gateway(default=503)
    assert cli("shop", "create", "s1", "--name", "店").exit_code == 0
    out = cli("channel", "add", "s1-app", "--shop", "s1", "--url", down.url,
              "--client", "app")
    assert out.exit_code == 0, out.output
    secret = out.stdout.strip()
    assert secret.startswith("whsec_")
    for args in (("channel", "list"), ("channel", "show", "s1-app"),
                 ("channel", "list", "--json"), ("export", "--format", "json")):
        shown = cli(*args)
        assert shown.exit_code == 0 and secret not in shown.stdout
    listed = cli.json("channel", "list")
    assert [(c["key"], c["kind"], c["client"], c["url"]) for c in listed] == [
        ("s1-app", "http", "app", down.url)]
    bad = cli("channel", "add", "x", "--shop", "s1", "--url", "ftp://gw/")
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1
    assert cli("channel", "add", "web", "--shop", "s1", "--kind", "web").exit_code == 1
    assert cli("channel", "add", "s1-widget", "--shop", "s1", "--kind", "web").exit_code == 0
    assert cli("channel", "update", "s1-app", "--inactive").exit_code == 0
    assert cli.json("channel", "show", "s1-app")["active"] is False
    assert cli("channel", "update", "s1-app", "--active").exit_code == 0
    exported = json.loads(cli("export", "--format", "json").stdout)
    assert {c["key"] for c in exported["channels"]} == {"s1-app", "s1-widget"}
    assert all("secret" not in c for c in exported["channels"])
    with open(cli.db + ".json", "w", encoding="utf-8") as f:
        json.dump({"channels": exported["channels"]}, f, ensure_ascii=False)
    applied = cli.json("apply", "-f", cli.db + ".json")
    assert applied["unchanged"] == 2  # export -> apply on the same file: the secret stays
    posted = cli("conv", "post", "--shop", "s1", "--customer", "c1", "--channel", "s1-app",
                 "在吗")
    assert posted.exit_code == 0, posted.output
    from cstool.backend.local import LocalBackend
    from cstool.clock import FrozenClock

    from .conftest import NOW

    clock = FrozenClock(NOW)
    b = LocalBackend(cli.db, clock=clock)
    try:
        worker = Worker(b)
        for _ in range(12):  # 24 h of retries of the gateway answering 503
            worker.run_once()
            clock.advance(6 * 3600)
        dead = b.channel_deliveries("s1-app", status="failed")
        assert dead and all(d["attempts"] > 1 for d in dead)
        conv = b.list_conversations(shop="s1")[0]["id"]
        states = {m["id"]: m["delivery"] for m in b.get_conversation(conv)["messages"]
                  if m["sender"] != "customer"}
        assert set(states.values()) == {"failed"}
    finally:
        b.close()
    attempts = dead[0]["attempts"]
    tried = [i for i in down.ids() if i == dead[0]["id"]]
    assert len(tried) == attempts  # every attempt with the same delivery id
    down.default = 200
    again = cli("channel", "redeliver", dead[0]["id"])
    assert again.exit_code == 0, again.output
    assert down.ids()[-1] == dead[0]["id"]
    shown = cli.json("channel", "delivery", dead[0]["id"])
    assert (shown["status"], shown["channel"]) == ("done", "s1-app")
    b = LocalBackend(cli.db)
    try:  # the gateway took it at last: the message is sent again
        states = {m["id"]: m["delivery"] for m in b.get_conversation(conv)["messages"]}
        assert states[shown["message"]] == "sent"
    finally:
        b.close()
    delete = cli("channel", "delete", "s1-widget")
    assert delete.exit_code == 0
    assert cli("channel", "show", "s1-widget").exit_code == 1


def test_serve_sends_by_itself_and_shares_claims_with_a_worker_exactly_once(tmp_path,
                                                                          gateway):
    """`serve`'s own background sender delivers (a 500, then the same id again) with no
    worker running; with a worker on the same file beside it, every attempt is made by
    one of them only: each delivery id reaches the gateway as often as its attempts
    say (once, when the gateway answers 200)."""
    import threading
    import time

    from cstool.backend.local import LocalBackend

    from .server_support import serve

    rx = gateway([500])
    served = serve(tmp_path / "s.db", sender_s=0.05)
    try:
        b = served.backend
        shop(b, webhook_retry_base_s=1)
        channel(b, rx.url)
        remote = served.remote(served.admin)
        remote.post_message("s1", "c1", "你好", channel="app1")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                len(rx.got) >= 2 and rx.ids()[0] in rx.ids()[1:]):
            time.sleep(0.05)
        assert rx.ids()[0] in rx.ids()[1:]  # retried by serve itself, the same id
        # now a worker process's share beside the server's: 40 chats' messages
        other = LocalBackend(tmp_path / "s.db")
        stop = threading.Event()

        def work():
            w = Worker(other)
            while not stop.is_set():
                w.run_once()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            for i in range(40):
                remote.post_message("s1", f"k{i}", f"第{i}位顾客", channel="app1")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (
                    remote.channel_deliveries("app1", status="pending", limit=1)):
                time.sleep(0.1)
        finally:
            stop.set()
            thread.join(30)
            other.close()
        d = b.channel_deliveries("app1", limit=1000)
        assert d and all(x["status"] == "done" for x in d)
        ids = rx.ids()
        for x in d:
            assert ids.count(x["id"]) == x["attempts"]  # no attempt made twice
        workers = {a["worker"].split(":")[0] for x in d for a in x["attempt_log"]}
        assert "serve" in workers
    finally:
        served.close()


def test_only_the_shops_integration_token_reports_receipts(tmp_path, gateway):
    """A receipt through the API: the shop's supervisor (integration) token may; its
    agents, a customer, and another shop's supervisor are refused (nothing changes)."""
    from cstool.auth import Forbidden

    from .server_support import serve

    rx = gateway()
    served = serve(tmp_path / "t.db")
    try:
        b = served.backend
        shop(b, "sa")
        shop(b, "sb")
        b.apply({"agents": [{"handle": "boss-a", "name": "甲", "role": "supervisor",
                             "shops": ["sa"]},
                            {"handle": "boss-b", "name": "乙", "role": "supervisor",
                             "shops": ["sb"]}]})
        channel(b, rx.url, key="sa-app", shop_key="sa")
        gw = served.remote(served.token("boss-a"))  # the gateway's integration token
        gw.post_message("sa", "c1", "在吗", channel="sa-app")
        agent_reply(b, "sa")
        Worker(b).run_once()
        uid = rx.ids()[-1]
        for token in (served.token("boss-b"), served.token("sa-a1"),
                      served.customer_token("sa", "c1")):
            with pytest.raises((Forbidden, NotFound)):
                served.remote(token).channel_receipt(uid, "failed")
            with pytest.raises((Forbidden, NotFound)):
                served.remote(token).channel_deliveries("sa-app")
        assert b.webhook_delivery(uid)["receipt"] is None  # nothing changed
        assert gw.channel_receipt(uid, "delivered")["receipt"] == "delivered"
        assert [d["receipt"] for d in gw.channel_deliveries("sa-app")
                if d["id"] == uid] == ["delivered"]
        with pytest.raises(Forbidden):
            served.remote(served.token("boss-b")).get("channels", "sa-app")
    finally:
        served.close()


def test_bench_channels_quick_runs_and_prints_its_figures():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_channels.py"),
                          "--quick"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "deliveries/s" in out.stdout and "ratio (plain POSTs / worker job):" in out.stdout


def test_a_bot_answer_reaches_the_gateway(backend, gateway):
    rx = gateway()
    backend.apply({"shops": [{"key": "b", "name": "萌宝", "service_mode": "bot_first"}],
                   "knowledge_entries": [{"key": "b-return", "shop": "b",
                                          "question": "怎么退货？",
                                          "similar": ["如何退货", "退货流程"],
                                          "answer": "在订单里点申请售后，选择退货即可。",
                                          "category": "returns"}]})
    channel(backend, rx.url, key="b-sms", shop_key="b")
    out = backend.post_message("b", "c1", "怎么退货？", channel="b-sms")
    assert [r["sender"] for r in out["replies"]][:1] == ["bot"]
    Worker(backend).run_once()
    sent = [(b["message"]["sender"], b["message"]["text"]) for b in bodies(rx)]
    assert ("bot", "在订单里点申请售后，选择退货即可。") in sent
