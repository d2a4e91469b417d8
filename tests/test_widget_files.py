"""The widget's pictures in headless Chromium: a customer picks an image (and pastes
another), sees its thumbnail (drawn from a signed link), the agent's PDF arrives as a
link; a renamed program is refused with one line; another shop's token cannot read the
picture."""

from __future__ import annotations

import base64

from tests.file_support import EXE, GPS_MARK, PDF, b64, jpeg_with_exif, png
from tests.test_server_widget import (  # noqa: F401
    CHROMIUM,
    browser,  # noqa: F401  (the module's Chromium)
    pytestmark,
    sync_playwright,
)

if sync_playwright is not None:
    from playwright.sync_api import expect
import pytest

from tests.server_support import serve


@pytest.fixture
def served(db_path, clock):
    s = serve(db_path, clock)
    s.backend.apply({
        "shops": [{"key": "lf", "name": "翎衣女装旗舰店", "service_mode": "human_first"},
                  {"key": "mb", "name": "萌宝母婴", "service_mode": "human_first"}],
        "agents": [{"handle": "xm", "name": "小美", "shops": ["lf"], "status": "online"},
                   {"handle": "aj", "name": "阿杰", "shops": ["mb"], "status": "online"}],
    })
    yield s
    s.close()


def test_a_customer_sends_a_picture_from_the_widget(browser, served, tmp_path):  # noqa: F811
    token = served.customer_token("lf", "c100")
    photo = tmp_path / "破损照片.png"
    photo.write_bytes(png(40, 30))
    fake = tmp_path / "发票.jpg"
    fake.write_bytes(EXE)
    page = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN",
                            timezone_id="Asia/Shanghai", is_mobile=True, has_touch=True)
    try:
        page.goto(f"{served.url}/widget/lf#token={token}")
        expect(page.locator("#status")).to_have_text("您好，请问有什么可以帮您？")
        page.set_input_files("#file", str(photo))
        thumb = page.locator(".msg.customer .file img.thumb")
        expect(thumb).to_have_count(1)
        page.wait_for_function(
            "() => { const i = document.querySelector('.msg.customer img.thumb');"
            " return i && i.complete && i.naturalWidth === 40; }")
        expect(page.locator(".msg.customer .file .muted")).to_contain_text("破损照片.png")
        [conv] = served.backend.list_conversations(customer="c100")
        files = [m for m in served.backend.get_conversation(conv["id"])["messages"]
                 if m["kind"] == "file"]
        assert [(m["sender"], m["payload"]["name"], m["payload"]["width"]) for m in files] == [
            ("customer", "破损照片.png", 40)]
        # a pasted picture goes the same way
        page.evaluate("""(b64) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "截图.jpg", {type: "image/jpeg"}));
            const e = new ClipboardEvent("paste", {clipboardData: dt, bubbles: true,
                                                   cancelable: true});
            document.getElementById("input").dispatchEvent(e);
        }""", b64(jpeg_with_exif(64, 48)))
        expect(thumb).to_have_count(2)
        stored = served.backend.get_file(conv["id"], served.backend.get_conversation(
            conv["id"])["messages"][-1]["id"])
        assert stored["name"] == "截图.jpg"
        assert GPS_MARK not in base64.b64decode(stored["data"])  # EXIF gone before storing
        # a renamed program: one line, nothing stored
        page.set_input_files("#file", str(fake))
        expect(page.locator("#notice")).to_have_text(
            "发送失败：只能发送图片（JPEG、PNG、WebP、GIF）、PDF 或 MP4 视频（按文件内容判断）")
        assert "\n" not in page.locator("#notice").inner_text()
        assert len([m for m in served.backend.get_conversation(conv["id"])["messages"]
                    if m["kind"] == "file"]) == 2
        # the agent's PDF arrives live, as a link
        agent = served.remote(served.token("xm"))
        agent.reply_file("xm", conv["id"], "尺码表.pdf", b64(PDF))
        expect(page.locator(".msg.agent .file-pdf a.file-link")).to_contain_text("尺码表.pdf")
        href = page.locator(".msg.agent .file-pdf a.file-link").get_attribute("href")
        assert href.startswith("/files/")
        # another shop's token (and another customer's) cannot read the picture
        first = files[0]["id"]
        path = f"/v1/conversations/{conv['id']}/files/{first}"
        for other in (served.token("aj"), served.customer_token("mb", "c100"),
                      served.customer_token("lf", "c200")):
            assert served.http("GET", path, other).status_code in (403, 404)
            assert served.http("GET", path + "/link", other).status_code in (403, 404)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(tmp_path / "widget-files.png"), full_page=True)
    finally:
        page.close()
