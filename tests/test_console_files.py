"""The console's pictures and files through Pilot: a customer's picture drawn as
``[图片 破损照片.jpg 1.2 MB]``, Ctrl+D saves it into a folder or opens it, and attaches a
file from this machine (a renamed program refused, nothing sent)."""

from __future__ import annotations

from pathlib import Path

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from tests.conftest import NOW
from tests.file_support import EXE, GPS_MARK, b64, jpeg_with_exif, png
from tests.test_console_marks import press, settle, transcript_text
from tui import conv_files
from tui.console import ConsoleApp
from tui.screens import ChoiceScreen, PromptScreen


def desk(tmp_path) -> tuple[LocalBackend, int]:
    b = LocalBackend(tmp_path / "desk.db", clock=FrozenClock(NOW))
    b.apply({"shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                         "max_chats": 3}],
             "customers": [{"key": "c1", "name": "王丽", "profiles": [{"shop": "s"}]}]})
    big = jpeg_with_exif() + b"\x00" * 1_258_000  # about 1.2 MB
    out = b.post_file("s", "c1", "破损照片.jpg", b64(big))
    return b, out["conversation"]["id"]


async def test_a_picture_is_shown_and_ctrl_d_saves_or_opens_it(tmp_path, monkeypatch):
    b, cid = desk(tmp_path)
    opened: list[Path] = []
    monkeypatch.setattr(conv_files, "open_path", opened.append)
    folder = tmp_path / "saved"
    folder.mkdir()
    app = ConsoleApp(b, "a", poll_s=3600)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        assert "[图片 破损照片.jpg 1.2 MB]" in transcript_text(app)
        await press(app, pilot, "ctrl+d")
        assert isinstance(app.screen, ChoiceScreen)
        assert [label for _, label in app.screen.items] == [
            "📎 从本机发送文件…", "[图片 破损照片.jpg 1.2 MB]"]
        await press(app, pilot, "2")  # the picture
        assert isinstance(app.screen, ChoiceScreen)
        await press(app, pilot, "1")  # save into a folder
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one("#prompt-input").value = str(folder)
        await press(app, pilot, "enter")
        saved = folder / "破损照片.jpg"
        assert saved.exists() and GPS_MARK not in saved.read_bytes()
        await press(app, pilot, "ctrl+d", "2", "2")  # open it
        assert len(opened) == 1 and opened[0].read_bytes() == saved.read_bytes()


async def test_ctrl_d_attaches_a_file_and_refuses_a_renamed_program(tmp_path):
    b, cid = desk(tmp_path)
    chart = tmp_path / "尺码表.png"
    chart.write_bytes(png())
    fake = tmp_path / "发票.png"
    fake.write_bytes(EXE)
    app = ConsoleApp(b, "a", poll_s=3600)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        for path in (fake, chart):
            await press(app, pilot, "ctrl+d", "1")
            assert isinstance(app.screen, PromptScreen)
            app.screen.query_one("#prompt-input").value = str(path)
            await press(app, pilot, "enter")
        sent = [m for m in b.get_conversation(cid)["messages"] if m["sender"] == "agent"]
        assert [(m["kind"], m["payload"]["name"]) for m in sent] == [("file", "尺码表.png")]
        app.request_load()
        await settle(app, pilot)
        assert "[图片 尺码表.png" in transcript_text(app)
