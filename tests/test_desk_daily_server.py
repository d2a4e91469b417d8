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
