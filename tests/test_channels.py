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

from .test_webhooks import SECRET, Receiver, verify


@pytest.fixture
def gateway():
    made: list[Receiver] = []

    def make(*args, **kw) -> Receiver:
        r = Receiver(*args, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


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
