"""The customer web widget end to end in headless Chromium (Debian's chromium, driven by
Playwright with executable_path): a customer at phone width chats with the bot, asks for a
human, waits in the queue, and sees the agent's replies and cards arrive live while the
agent works through the API; the chat closes and the customer rates it."""

from __future__ import annotations

import os
import shutil

import pytest

from cstool.bot.step import BotReply
from tests.server_support import serve

CHROMIUM = os.environ.get("CSTOOL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the test extras install it
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed "
                       "(pip install playwright; the browser is Debian's chromium)"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}: "
                       "apt-get install -y chromium (or set CSTOOL_CHROMIUM)"),
]


class ScriptedBot:
    """A bot with fixed answers, shaped like the knowledge bot's replies."""

    OPTIONS = [{"entry": "return", "question": "退货流程"},
               {"entry": "refund", "question": "退款多久到账"}]

    def reply(self, shop: str, text: str, context: dict) -> BotReply:
        """Suggest for 退, answer the first choice, hand off otherwise."""
        if text.strip() in ("1", "退货流程"):
            return BotReply("answer", text="签收 7 天内可无理由退货，在订单页点「申请售后」即可。",
                            entry="return", confidence=0.93, choices=["return"])
        if "退" in text:
            body = "您是不是想问：\n1. 退货流程\n2. 退款多久到账\n回复序号即可~"
            return BotReply("suggest", text=body, entry="return", confidence=0.5,
                            choices=["return", "refund"], payload={"options": self.OPTIONS})
        return BotReply("handoff")


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def served(db_path, clock):
    """A server whose bot is scripted, with a 翎衣 shop, an agent and a customer token."""
    s = serve(db_path, clock, bot=ScriptedBot())
    s.backend.apply({
        "shops": [{"key": "lf", "name": "翎衣女装旗舰店", "service_mode": "bot_first"}],
        "agents": [{"handle": "xm", "name": "小美", "shops": ["lf"], "status": "offline"}],
        "products": [{"key": "dress", "shop": "lf", "title": "法式碎花连衣裙", "price": 299,
                      "stock": 120}],
        "coupons": [{"key": "c20", "shop": "lf", "name": "满200减20", "kind": "amount",
                     "amount": 20, "threshold": 200}],
    })
    yield s
    s.close()


def test_a_customer_chats_in_the_widget_and_the_agents_reply_arrives_live(browser, served,
                                                                            tmp_path):
    token = served.customer_token("lf", "c100")
    agent = served.remote(served.token("xm"))
    page = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN",
                            timezone_id="Asia/Shanghai",
                            is_mobile=True, has_touch=True)
    try:
        page.goto(f"{served.url}/widget/lf#token={token}")
        expect(page).to_have_title("翎衣女装旗舰店 · 在线客服")
        expect(page.locator("#status")).to_have_text("您好，请问有什么可以帮您？")
        assert "token" not in page.url  # the secret left the address bar
        expect(page.locator("#app")).to_have_attribute("data-live", "sse")

        # the bot offers choices; picking one gets the answer
        page.fill("#input", "我想退")
        page.keyboard.press("Enter")
        expect(page.locator(".msg.customer .bubble").last).to_have_text("我想退")
        expect(page.locator(".chip")).to_have_text(["退货流程", "退款多久到账"])
        page.locator(".chip", has_text="退货流程").click()
        expect(page.locator(".msg.bot .bubble").last).to_contain_text("7 天内可无理由退货")
        # the answer's entry keys (payload.choices) are the desk's, never shown as chips
        expect(page.locator(".chip")).to_have_count(2)
        expect(page.locator(".choices .muted").first).to_have_text("您是不是想问：")

        # a human: nobody is online, so the customer is told their place in the queue
        page.click("#human")
        expect(page.locator("#status")).to_contain_text("排队中：第 1 位")
        conv = served.backend.list_conversations(customer="c100")[0]["id"]
        assert served.backend.get_conversation(conv)["state"] == "queued"

        # the agent comes online through the API and is given the chat: the page follows
        agent.set_agent_status("xm", "online")
        expect(page.locator("#status")).to_have_text("人工客服为您服务中")
        agent.reply("xm", conv, "亲，7 天内都可以退哦，我帮您看看订单~")
        expect(page.locator(".msg.agent .bubble").last).to_have_text(
            "亲，7 天内都可以退哦，我帮您看看订单~", timeout=5000)

        # cards: a product, a coupon, an invitation to order
        agent.send_card("xm", conv, "product", "dress")
        expect(page.locator(".card-product .card-title")).to_have_text("法式碎花连衣裙")
        expect(page.locator(".card-product .price")).to_have_text("¥299")
        agent.send_card("xm", conv, "coupon", "c20")
        expect(page.locator(".card-coupon .card-title")).to_have_text("满200减20")
        agent.invite(conv, "xm", "dress", 1)
        expect(page.locator(".card-invitation .card-title")).to_have_text("法式碎花连衣裙")
        expect(page.locator(".card-invitation .price")).to_have_text("¥279")  # 券后价
        expect(page.locator(".card-invitation button")).to_have_text("立即下单")

        # the customer writes again and the agent sees it
        page.fill("#input", "好的，我下单了，谢谢！")
        page.click("#send")
        expect(page.locator(".msg.customer .bubble").last).to_have_text("好的，我下单了，谢谢！")
        assert agent.get_conversation(conv)["messages"][-1]["body"] == "好的，我下单了，谢谢！"

        # closing asks for a rating; the customer gives five stars
        agent.close_conversation(conv, by="xm")
        expect(page.locator("#rating")).to_be_visible()
        page.locator(".stars [data-score='5']").click()
        page.fill("#rating-comment", "小美很耐心")
        page.click("#rating-send")
        expect(page.locator("#status")).to_contain_text("感谢您的评价（5 分）")
        assert served.backend.get_conversation(conv)["rating"] == 5

        # phone width: nothing runs off the side
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(tmp_path / "widget.png"), full_page=True)
    finally:
        page.close()


def test_the_widget_without_a_token_says_so_and_an_unknown_shop_is_404(browser, served):
    page = browser.new_page(viewport={"width": 360, "height": 640})
    try:
        page.goto(f"{served.url}/widget/lf")
        expect(page.locator("#status")).to_have_text("请从商家页面进入客服（缺少访问令牌）")
        expect(page.locator("#send")).to_be_disabled()
        response = page.goto(f"{served.url}/widget/nope")
        assert response.status == 404
        expect(page.locator("body")).to_contain_text("没有找到店铺 nope")
        bad = page.goto(f"{served.url}/widget/lf#token=cst_revoked")
        assert bad.status == 200
        expect(page.locator("#notice")).to_contain_text("登录已失效")
    finally:
        page.close()
