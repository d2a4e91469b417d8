"""Issue 22 over the real server: a human_first shop with nobody online answers through
the API with the bot's cover; a private note and a label written by staff never reach
the customer, neither through the HTTP endpoints the widget reads (its conversation,
its list, its events) nor in the widget itself (headless Chromium)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.kb_support import KB
from tests.server_support import serve

CHROMIUM = os.environ.get("CSTOOL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
NOTE = "内部：这位客户上次投诉过物流，语气放软"
ANSWER = "48小时内发货。"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the test extras install it
    sync_playwright = None


@pytest.fixture
def served(db_path, clock):
    """A server with the knowledge bot, a human_first shop, an offline agent."""
    s = serve(db_path, clock)
    s.backend.apply({
        "shops": [{"key": "lf", "name": "翎衣女装旗舰店", "service_mode": "human_first",
                   "settings": {"labels": ["投诉", "大促"]}}],
        "agents": [{"handle": "xm", "name": "小美", "shops": ["lf"], "status": "offline"}],
        "knowledge_entries": KB,
    })
    yield s
    s.close()


def test_the_api_covers_the_queue_and_keeps_notes_and_labels_from_the_customer(served):
    customer = served.customer_token("lf", "c100")
    agent = served.token("xm")
    r = served.http("POST", "/v1/shops/lf/messages", customer, json={"text": "什么时候发货？"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["conversation"]["state"] == "queued"
    assert [(m["sender"], m["body"]) for m in out["replies"]] == [
        ("system", "当前排队第 1 位，客服暂时都不在线，上线后会第一时间接待您。"),
        ("bot", ANSWER)]
    cid = out["conversation"]["id"]
    assert served.http("PUT", "/v1/agents/xm/status", agent,
                       json={"status": "online"}).status_code == 200
    r = served.http("POST", f"/v1/conversations/{cid}/notes", agent,
                    json={"agent": "xm", "text": NOTE})
    assert r.status_code == 200, r.text
    r = served.http("POST", f"/v1/conversations/{cid}/labels", agent, json={"label": "投诉"})
    assert r.status_code == 200 and r.json()["labels"] == ["投诉"]
    assert r.json()["conversation"] == cid
    served.http("POST", f"/v1/conversations/{cid}/replies", agent,
                json={"agent": "xm", "text": "亲，48小时内发货哦"})

    # staff see the note and the label, and the bot's turn before they came
    staff_view = served.http("GET", f"/v1/conversations/{cid}", agent).json()
    assert [n["body"] for n in staff_view["notes"]] == [NOTE]
    assert staff_view["labels"] == ["投诉"]
    assert ("bot", ANSWER) in [(m["sender"], m["body"]) for m in staff_view["messages"]]

    # the customer's reads: the chat, the list, the events page and the live stream
    for path in (f"/v1/conversations/{cid}", "/v1/conversations", "/v1/events/page?after=0"):
        r = served.http("GET", path, customer)
        assert r.status_code == 200, (path, r.text)
        assert NOTE not in r.text and "投诉" not in r.text, path
        assert '"notes"' not in r.text and '"labels"' not in r.text, path
    types = {e["type"] for e in served.http("GET", "/v1/events/page?after=0",
                                            customer).json()["items"]}
    assert "message.created" in types
    assert not types & {"conversation.noted", "conversation.labelled"}
    assert "亲，48小时内发货哦" in served.http("GET", f"/v1/conversations/{cid}", customer).text

    # the customer may not write notes, label, or probe labels
    assert served.http("POST", f"/v1/conversations/{cid}/notes", customer,
                       json={"agent": "xm", "text": "hi"}).status_code == 403
    assert served.http("POST", f"/v1/conversations/{cid}/labels", customer,
                       json={"label": "大促"}).status_code == 403
    assert served.http("GET", "/v1/conversations?label=投诉", customer).status_code == 403
    assert served.http("GET", "/v1/shops/lf/labels", customer).status_code == 403


@pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed")
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_the_widget_shows_the_bots_cover_and_never_a_private_note(served):
    token = served.customer_token("lf", "c100")
    agent = served.remote(served.token("xm"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN",
                                    timezone_id="Asia/Shanghai")
            page.goto(f"{served.url}/widget/lf#token={token}")
            expect(page.locator("#app")).to_have_attribute("data-live", "sse")
            page.fill("#input", "什么时候发货？")
            page.keyboard.press("Enter")
            # nobody is online: the bot answers and the customer waits in the queue
            expect(page.locator(".msg.bot .bubble").last).to_have_text(ANSWER)
            expect(page.locator("#status")).to_contain_text("排队中：第 1 位")
            conv = served.backend.list_conversations(customer="c100")[0]["id"]
            agent.set_agent_status("xm", "online")
            expect(page.locator("#status")).to_have_text("人工客服为您服务中")
            agent.add_note("xm", conv, NOTE)
            agent.add_label(conv, "投诉")
            agent.reply("xm", conv, "亲，已经安排发货了")
            expect(page.locator(".msg.agent .bubble").last).to_have_text("亲，已经安排发货了")
            # the reply came after the note over the same stream: the note never did
            assert NOTE not in page.content()
            assert "投诉" not in page.content()
            page.reload()  # the transcript read afresh
            expect(page.locator(".msg.agent .bubble").last).to_have_text("亲，已经安排发货了")
            assert NOTE not in page.content()
        finally:
            browser.close()
