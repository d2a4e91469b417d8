"""Pictures, PDFs and short videos in chats (issue 21): types read from the bytes,
metadata stripped, the CLI's exact exit codes, and the API over real HTTP: uploads by a
customer token, files refused to another shop's token, the widget's signed links (and
forged or expired ones), a 30 MB body refused with one line and nothing stored."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from typer.testing import CliRunner

from commands.main import app as cli_app
from cstool import file_types as ft
from cstool.backend.local import LocalBackend
from tests.file_support import EXE, GPS_MARK, MP4, PDF, b64, jpeg_with_exif, png
from tests.server_support import serve

SHOPS = {
    "shops": [{"key": "lf", "name": "翎衣女装", "service_mode": "human_first"},
              {"key": "mb", "name": "萌宝母婴", "service_mode": "human_first"}],
    "agents": [{"handle": "xm", "name": "小美", "shops": ["lf"], "status": "busy"},
               {"handle": "aj", "name": "阿杰", "shops": ["mb"], "status": "busy"}],
    "products": [{"key": "cup", "shop": "lf", "title": "马克杯", "price": 39}],
}


# -- the bytes ----------------------------------------------------------------------------
def _webp_with_exif() -> bytes:
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x0C, 0, 0, 0]) + (99).to_bytes(3, "little") \
        + (49).to_bytes(3, "little")
    exif = b"EXIF" + struct.pack("<I", len(GPS_MARK)) + GPS_MARK
    xmp = b"XMP " + struct.pack("<I", 4) + b"<x/>"
    body = vp8x + exif + xmp + b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00" + b"\x00"
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def _gif_with_comment() -> bytes:
    return (b"GIF89a" + struct.pack("<HH", 2, 2) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
            + b"\x21\xfe" + bytes([len(GPS_MARK)]) + GPS_MARK + b"\x00"
            + b"\x2c\x00\x00\x00\x00\x02\x00\x02\x00\x00\x02\x02\x44\x01\x00\x3b")


@pytest.mark.parametrize("data,mime", [
    (jpeg_with_exif(), "image/jpeg"), (png(), "image/png"), (_webp_with_exif(), "image/webp"),
    (_gif_with_comment(), "image/gif"), (PDF, "application/pdf"), (MP4, "video/mp4")])
def test_types_are_read_from_the_bytes_and_images_lose_their_metadata(data, mime):
    kind = ft.sniff(data)
    assert kind is not None and kind.mime == mime
    clean = ft.strip_metadata(kind, data)
    assert GPS_MARK not in clean and ft.sniff(clean) is kind
    if kind.category != "image":
        assert clean == data
    assert ft.strip_metadata(kind, clean) == clean  # stripping twice changes nothing


def test_sizes_of_images_and_what_is_refused():
    assert ft.dimensions(ft.JPEG, jpeg_with_exif(800, 600)) == (800, 600)
    assert ft.dimensions(ft.PNG, png(7, 5)) == (7, 5)
    assert ft.dimensions(ft.WEBP, _webp_with_exif()) == (100, 50)
    assert ft.dimensions(ft.GIF, _gif_with_comment()) == (2, 2)
    webp = ft.strip_metadata(ft.WEBP, _webp_with_exif())
    assert webp[20] & 0x0C == 0  # the EXIF and XMP flags are cleared with their chunks
    for data in (EXE, b"#!/bin/sh\nrm -rf /\n", b"PK\x03\x04zip", b"", b"\xff\xd8"):
        assert ft.sniff(data) is None or data == b"\xff\xd8"
    with pytest.raises(ft.BadFile):
        ft.strip_metadata(ft.PNG, png()[:30])
    with pytest.raises(ft.BadFile):
        ft.strip_metadata(ft.JPEG, b"\xff\xd8\xff\xe1\x00")
    assert [ft.human_size(n) for n in (812, 34 * 1024, 1_258_291)] == ["812 B", "34 KB", "1.2 MB"]


# -- the CLI ------------------------------------------------------------------------------------
@pytest.fixture
def desk(tmp_path):
    db = str(tmp_path / "files.db")
    be = LocalBackend(db)
    be.apply(SHOPS)
    cid = be.post_message("lf", "wl", "杯子碎了")["conversation"]["id"]
    assert be.accept_next("xm")["id"] == cid
    be.close()
    runner = CliRunner()
    return (lambda *a, **kw: runner.invoke(cli_app, ["--db", db, *a], **kw)), db, cid


def _messages(db: str, cid: int) -> list[dict]:
    be = LocalBackend(db)
    try:
        return be.get_conversation(cid)["messages"]
    finally:
        be.close()


def test_cli_replies_with_a_file_and_saves_one(desk, tmp_path):
    run, db, cid = desk
    photo = tmp_path / "破损照片.jpg"
    photo.write_bytes(jpeg_with_exif())
    r = run("conv", "reply", str(cid), "这是我们的尺码表", "--agent", "xm", "--file", str(photo),
            "--json")
    assert r.exit_code == 0, r.output
    sent = json.loads(r.stdout)
    assert (sent["kind"], sent["payload"]["name"], sent["payload"]["type"]) == (
        "file", "破损照片.jpg", "image/jpeg")
    bodies = [m["body"] for m in _messages(db, cid)]
    assert bodies[-2:] == ["这是我们的尺码表", f"[图片 破损照片.jpg {sent['payload']['bytes']} B]"]
    out = tmp_path / "out"
    out.mkdir()
    for _ in range(2):
        r = run("conv", "file", str(cid), str(sent["id"]), "--save", str(out))
        assert r.exit_code == 0, r.output
    saved = sorted(p.name for p in out.iterdir())
    assert saved == ["破损照片 (2).jpg", "破损照片.jpg"]
    data = (out / "破损照片.jpg").read_bytes()
    assert data.startswith(b"\xff\xd8") and GPS_MARK not in data


def test_cli_refuses_big_files_and_renamed_programs_with_one_line(desk, tmp_path):
    run, db, cid = desk
    before = _messages(db, cid)
    big = tmp_path / "big.jpg"
    with big.open("wb") as f:  # 30 MB, sparse
        f.write(b"\xff\xd8\xff\xe0")
        f.seek(30 * 1024 * 1024 - 1)
        f.write(b"\x00")
    fake = tmp_path / "发票.jpg"
    fake.write_bytes(EXE)
    for path, words in ((big, "too large"), (fake, "not a file a chat takes"),
                        (tmp_path / "nothing.png", "cannot read")):
        r = run("--lang", "en", "conv", "reply", str(cid), "--agent", "xm", "--file", str(path))
        assert r.exit_code == 1, r.output
        assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
        assert "Traceback" not in r.output
    r = run("conv", "reply", str(cid), "--agent", "xm")
    assert r.exit_code == 2, r.output
    r = run("conv", "file", str(cid), "999999", "--save", str(tmp_path))
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert _messages(db, cid) == before  # nothing stored
    assert not any((tmp_path / "files.db.files").rglob("*")) \
        if (tmp_path / "files.db.files").exists() else True


def test_cli_order_events(desk):
    run, db, _ = desk
    args = ("order", "event", "lf", "tb-ev-1", "created", "lf-o-1", "--customer", "wl",
            "--item", "cup:2", "--at", "2026-11-20T09:00:00+08:00", "--json")
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert (json.loads(r.stdout)["status"], json.loads(r.stdout)["duplicate"]) == (
        "created", False)
    r = run(*args)
    assert r.exit_code == 0 and json.loads(r.stdout)["duplicate"] is True
    r = run("order", "event", "lf", "tb-ev-2", "shipped", "lf-o-1", "--carrier", "顺丰",
            "--tracking-no", "SF1")
    assert r.exit_code == 0, r.output
    assert "shipped" in r.output
    r = run("order", "event", "lf", "tb-ev-3", "teleported", "lf-o-1")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    r = run("order", "event", "lf", "tb-ev-4", "created", "lf-o-2", "--customer", "wl",
            "--item", "cup:x")
    assert r.exit_code == 2, r.output
    r = run("order", "show", "lf-o-1", "--json")
    assert json.loads(r.stdout)["status"] == "shipped"


# -- over HTTP ------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path, clock):
    s = serve(tmp_path / "files-http.db", clock)
    s.backend.apply(SHOPS)
    yield s
    s.close()


def test_a_customer_uploads_over_http_and_only_that_chat_may_read_it(served, clock):
    wl = served.customer_token("lf", "wl")
    r = served.http("POST", "/v1/shops/lf/files", wl,
                    json={"name": "破损照片.jpg", "data": b64(jpeg_with_exif())})
    assert r.status_code == 200, r.text
    msg = r.json()["message"]
    cid = r.json()["conversation"]["id"]
    path = f"/v1/conversations/{cid}/files/{msg['id']}"
    got = served.http("GET", path, wl)
    assert got.status_code == 200 and GPS_MARK not in base64.b64decode(got.json()["data"])
    # another shop's staff, another customer: refused; the shop's own agent: served
    for token in (served.token("aj"), served.customer_token("lf", "someone-else"),
                  served.customer_token("mb", "wl")):
        assert served.http("GET", path, token).status_code in (403, 404)
        assert served.http("GET", path + "/link", token).status_code in (403, 404)
    assert served.http("GET", path, served.token("xm")).status_code == 200
    # the widget's link: works without a token, names nothing but the message
    link = served.http("GET", path + "/link", wl).json()
    page = served.http("GET", link["url"], "")
    assert page.status_code == 200 and page.headers["content-type"] == "image/jpeg"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in page.headers["content-security-policy"]
    assert page.content == base64.b64decode(got.json()["data"])
    mid, expires, sig = link["url"].rsplit("/", 1)[1].split(".")
    for forged in (f"{int(mid) + 1}.{expires}.{sig}", f"{mid}.{int(expires) + 60}.{sig}",
                   f"{mid}.{expires}.{'0' * 32}", "../../etc/passwd", "x"):
        bad = served.http("GET", f"/files/{forged}", "")
        assert bad.status_code in (403, 404) and "error" in bad.json(), forged
    clock.advance(11 * 60)  # links last ten minutes
    late = served.http("GET", link["url"], "")
    assert late.status_code == 403 and late.json()["error"]["code"] == "forbidden"


def test_a_30_mb_upload_is_refused_with_one_line_and_nothing_stored(served, tmp_path):
    wl = served.customer_token("lf", "wl")
    huge = b"\xff\xd8\xff\xe0" + b"\x00" * (30 * 1024 * 1024)
    r = served.http("POST", "/v1/shops/lf/files", wl, json={"name": "big.jpg",
                                                            "data": b64(huge)})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    r = served.http("POST", "/v1/shops/lf/files", wl, json={"name": "x.jpg", "data": b64(EXE)})
    assert r.status_code == 422 and r.json()["error"]["key"] == "file_type_refused"
    assert served.backend.list_conversations(shop="lf") == []
    # the CLI through the server: one line, exit 1
    photo = tmp_path / "big.jpg"
    photo.write_bytes(huge)
    env = {"CSTOOL_API": served.url, "CSTOOL_TOKEN": served.admin}
    cid = served.backend.post_message("lf", "wl", "在吗")["conversation"]["id"]
    served.backend.accept_next("xm")
    r = CliRunner().invoke(cli_app, ["conv", "reply", str(cid), "--agent", "xm",
                                     "--file", str(photo)], env=env)
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1, r.output
    assert "file" not in [m["kind"] for m in served.backend.get_conversation(cid)["messages"]]


def test_a_ticket_raised_from_a_chat_keeps_its_pictures(served):
    be = served.backend
    out = be.post_file("lf", "wl", "破损照片.jpg", b64(jpeg_with_exif()))
    cid = out["conversation"]["id"]
    ticket = be.create_ticket(type="damaged_goods", title="杯子破损", shop="lf",
                              conversation=cid)
    got = served.http("GET", f"/v1/tickets/{ticket['id']}")
    [f] = got.json()["files"]
    assert (f["name"], f["message"], f["category"]) == ("破损照片.jpg", out["message"]["id"],
                                                        "image")


def test_the_bot_never_reads_a_files_name_as_a_question(tmp_path):
    """A picture called 破损照片.jpg is not a claim of damage: a bot_first shop's bot
    does not start the after-sale flow on its name (it proposed one for the customer's
    order before) but hands the chat to a human, and the bot covering a human_first
    queue does not answer it either; words after it are the bot's again."""
    be = LocalBackend(str(tmp_path / "bot-files.db"))
    try:
        be.apply({**SHOPS, "shops": [
            {"key": "lf", "name": "翎衣女装", "service_mode": "bot_first"},
            {"key": "mb", "name": "萌宝母婴", "service_mode": "human_first"}]})
        be.set_agent_status("aj", "offline")  # nobody online: the bot covers mb's queue
        for n, event in enumerate(("created", "paid", "shipped", "delivered")):
            be.order_event("lf", f"ev-{n}", event, "lf-o-1", customer="wl",
                           items=[{"product": "cup", "quantity": 1}])
        out = be.post_file("lf", "wl", "破损照片.jpg", b64(jpeg_with_exif()))
        conv = out["conversation"]
        assert conv["state"] in ("queued", "active"), conv
        said = [m for m in be.get_conversation(conv["id"])["messages"] if m["sender"] == "bot"]
        assert said == []
        out = be.post_file("mb", "wl", "破损照片.jpg", b64(jpeg_with_exif()))
        senders = [m["sender"] for m in be.get_conversation(out["conversation"]["id"])[
            "messages"]]
        assert "bot" not in senders and out["conversation"]["state"] == "queued", senders
    finally:
        be.close()
