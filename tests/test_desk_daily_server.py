"""Issue 22 items 4, 5 and 10 over the real server (uvicorn on 127.0.0.1): an agent's
token runs a macro and sees a supervisor in the chat (presence through the API, as the
remote console does); a whisper never reaches the customer's reads; a customer's token
may not list follow-ups, run macros or claim presence; a follow-up invitation is refused
over HTTP with its reason (409 and the key)."""

from __future__ import annotations

import pytest

from tests.server_support import serve

WHISPER = "主管悄悄话：先道歉再登记"


@pytest.fixture
def served(db_path, clock):
    s = serve(db_path, clock)
    s.backend.apply({
        "shops": [{"key": "lf", "name": "翎衣女装旗舰店", "settings": {"campaign_cap": 1}}],
        "groups": [{"key": "lf-after", "shop": "lf", "name": "售后组"}],
        "agents": [{"handle": "xm", "name": "小美", "shops": ["lf"], "status": "online"},
                   {"handle": "lina", "name": "李娜", "role": "supervisor", "shops": ["lf"]}],
        "products": [{"key": "dress", "shop": "lf", "title": "连衣裙", "price": 199}],
        "quick_replies": [{"key": "qr", "shop": "lf", "title": "t", "body": "亲，已为您登记"}],
        "macros": [{"key": "m", "shop": "lf", "name": "登记", "actions": [
            {"reply": "qr"}, {"label": "投诉"}]}],
    })
    yield s
    s.close()


def test_macro_presence_whisper_and_follow_ups_over_http(served):
    customer = served.customer_token("lf", "c100")
    agent, sup = served.token("xm"), served.token("lina")
    r = served.http("POST", "/v1/shops/lf/messages", customer,
                    json={"text": "裙子破损了", "product": "dress"})
    cid = r.json()["conversation"]["id"]
    assert r.json()["conversation"]["assignee"] == "xm"
    r = served.http("POST", f"/v1/conversations/{cid}/macro-runs", agent,
                    json={"agent": "xm", "macro": "登记"})
    assert r.status_code == 200, r.text
    assert r.json()["complete"] is True
    assert [s["status"] for s in r.json()["steps"]] == ["done", "done"]
    # the supervisor looks in; the agent's console sees them
    r = served.http("POST", f"/v1/conversations/{cid}/presence", sup,
                    json={"agent": "lina", "state": "typing"})
    assert r.status_code == 200 and r.json()["others"] == []
    r = served.http("POST", f"/v1/conversations/{cid}/presence", agent, json={"agent": "xm"})
    assert r.json()["others"] == [{"agent": "lina", "name": "李娜", "role": "supervisor",
                                   "state": "typing"}]
    # an agent may not claim to be someone else there
    r = served.http("POST", f"/v1/conversations/{cid}/presence", agent, json={"agent": "lina"})
    assert r.status_code == 403
    # a whisper: the agent and the staff read it, the customer never does
    r = served.http("POST", f"/v1/conversations/{cid}/notes", sup,
                    json={"agent": "lina", "text": WHISPER, "to": "xm"})
    assert r.status_code == 200 and r.json()["to"] == "xm"
    staff = served.http("GET", f"/v1/conversations/{cid}", agent).json()
    assert [(n["body"], n["to"]) for n in staff["notes"]] == [(WHISPER, "xm")]
    mine = served.http("GET", f"/v1/conversations/{cid}", customer)
    assert WHISPER not in mine.text and "notes" not in mine.json()
    events = served.http("GET", "/v1/events/page", customer, params={"limit": 500})
    assert WHISPER not in events.text
    # the customer's token may not use any of it
    for method, path, body in (
            ("POST", f"/v1/conversations/{cid}/macro-runs", {"agent": "xm", "macro": "登记"}),
            ("POST", f"/v1/conversations/{cid}/presence", {"agent": "xm"}),
            ("POST", f"/v1/conversations/{cid}/follow-up-invitations", {"agent": "xm"})):
        assert served.http(method, path, customer, json=body).status_code == 403
    assert served.http("GET", "/v1/shops/lf/follow-ups", customer,
                       params={"classification": "after_sale"}).status_code == 403
    # the follow-up list and the invitation under the cap
    served.http("POST", f"/v1/conversations/{cid}/close", agent, json={"by": "xm"})
    r = served.http("GET", "/v1/shops/lf/follow-ups", agent,
                    params={"classification": "after_sale"})
    assert r.status_code == 200 and [row["id"] for row in r.json()["items"]] == [cid]
    r = served.http("POST", f"/v1/conversations/{cid}/follow-up-invitations", agent,
                    json={"agent": "xm"})
    assert r.status_code == 200 and r.json()["kind"] == "invitation"
    r = served.http("POST", f"/v1/conversations/{cid}/follow-up-invitations", agent,
                    json={"agent": "xm"})
    assert r.status_code == 409
    assert r.json()["error"]["key"] == "follow_up_frequency_cap"


def _listen(url: str, token: str, until_type: str, out: list, ready):
    """Read the event stream into ``out`` until an event of ``until_type`` (a thread)."""
    import json

    import httpx

    with httpx.stream("GET", url + "/v1/events", headers={"Authorization": f"Bearer {token}"},
                      timeout=httpx.Timeout(5.0, read=10.0)) as r:
        block: dict = {}
        for line in r.iter_lines():
            if line.startswith("retry:"):
                ready.set()
            elif line.startswith("id: "):
                block["sse_id"] = line[4:]
            elif line.startswith("data: "):
                e = json.loads(line[6:])
                e["sse_id"] = block.pop("sse_id", None)
                out.append(e)
                if e["type"] == until_type:
                    return


def test_presence_is_pushed_live_to_the_shops_staff_only(served):
    """A claim (viewing, typing) reaches the other staff of the shop on ``GET /v1/events``
    at once, as ``conversation.presence`` with no id (not an event: never replayed, moves
    no cursor); a customer's stream and another shop's staff never get it."""
    import threading

    served.backend.apply({"shops": [{"key": "mb", "name": "萌宝"}],
                          "agents": [{"handle": "mbx", "name": "小满", "shops": ["mb"],
                                      "status": "online"}]})
    customer = served.customer_token("lf", "c100")
    agent, sup, other = served.token("xm"), served.token("lina"), served.token("mbx")
    cid = served.http("POST", "/v1/shops/lf/messages", customer,
                      json={"text": "在吗"}).json()["conversation"]["id"]
    streams = {}
    threads = []
    for who, token in (("agent", agent), ("customer", customer), ("other", other)):
        out, ready = [], threading.Event()
        until = "conversation.presence" if who == "agent" else "message.created"
        th = threading.Thread(target=_listen, args=(served.url, token, until, out, ready),
                              daemon=True)
        th.start()
        assert ready.wait(10)
        streams[who], threads = out, threads + [th]
    r = served.http("POST", f"/v1/conversations/{cid}/presence", sup,
                    json={"agent": "lina", "state": "typing"})
    assert r.status_code == 200
    # real events afterwards end the customer's and the other shop's reading
    served.http("POST", "/v1/shops/lf/messages", customer, json={"text": "人呢"})
    served.http("POST", "/v1/shops/mb/messages", served.customer_token("mb", "c9"),
                json={"text": "你好"})
    for th in threads:
        th.join(10)
        assert not th.is_alive()
    [signal] = [e for e in streams["agent"] if e["type"] == "conversation.presence"]
    assert signal["sse_id"] is None and "id" not in signal
    assert (signal["shop"], signal["key"]) == ("lf", str(cid))
    assert signal["payload"] == {"conversation": cid, "agent": "lina", "name": "李娜",
                                 "role": "supervisor", "state": "typing", "ttl_s": 8}
    for who in ("customer", "other"):
        assert streams[who] and all(e["type"] != "conversation.presence"
                                    for e in streams[who]), streams[who]
    # nothing stored: the event log has no presence
    page = served.http("GET", "/v1/events/page", agent, params={"limit": 500}).json()
    assert all(e["type"] != "conversation.presence" for e in page["items"])


async def test_the_remote_console_shows_a_supervisor_typing_as_it_is_pushed(served):
    """The agent's console over the server: a supervisor's claim arrives on the event
    stream and shows in the reply box's border before the console renews its own claim
    (its renewals and reads are held off: only the push can bring it)."""
    import asyncio

    from tests.test_console_marks import settle
    from tui.console import ConsoleApp
    from tui.widgets import Composer

    customer = served.customer_token("lf", "c100")
    cid = served.http("POST", "/v1/shops/lf/messages", customer,
                      json={"text": "裙子破损了"}).json()["conversation"]["id"]
    app = ConsoleApp(served.remote(served.token("xm")), "xm", poll_s=3600)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        assert app.current == cid
        app.presence_tick = lambda force=False: None  # no renewal answers from here on
        subtitle = lambda: str(app.query_one(Composer).border_subtitle)  # noqa: E731
        assert "李娜" not in subtitle()
        for state, words in (("typing", "✍"), ("viewing", "👀")):
            r = served.http("POST", f"/v1/conversations/{cid}/presence",
                            served.token("lina"), json={"agent": "lina", "state": state})
            assert r.status_code == 200
            for _ in range(200):  # until the signal has come (a bound, not a timing)
                if words in subtitle():
                    break
                await asyncio.sleep(0.05)
            assert "李娜" in subtitle() and words in subtitle(), subtitle()
        served.http("POST", f"/v1/conversations/{cid}/presence", served.token("lina"),
                    json={"agent": "lina", "state": "left"})
        for _ in range(200):
            if not subtitle():
                break
            await asyncio.sleep(0.05)
        assert subtitle() == ""


def test_a_customer_closing_their_chat_is_recorded_as_theirs(served):
    """Closed with a customer's token: the close reason is ``customer`` (the 质检 does not
    count a chat the customer left while writing against the agent)."""
    customer = served.customer_token("lf", "c100")
    cid = served.http("POST", "/v1/shops/lf/messages", customer,
                      json={"text": "几天到"}).json()["conversation"]["id"]
    r = served.http("POST", f"/v1/conversations/{cid}/close", customer,
                    json={"reason": "resolved"})
    assert r.status_code == 200, r.text
    assert served.backend.get_conversation(cid)["close_reason"] == "customer"
