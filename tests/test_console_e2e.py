"""The real `cstool console` in tmux: type a reply with send-keys, find it in the file
and on the screen, quit with ctrl+q (asked first: the agent holds a chat) and y, which
sets the agent offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cstool.backend.local import LocalBackend

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def _wait(predicate, timeout: float = 20.0) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_reply_typed_in_tmux_is_stored_and_shown(tmp_path):
    db = tmp_path / "e2e.db"
    b = LocalBackend(db)
    b.apply({"shops": [{"key": "s", "name": "翎衣女装"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online"}]})
    conv = b.post_message("s", "c1", "这条裙子有M码吗")["conversation"]["id"]
    b.close()
    cstool = Path(sys.executable).with_name("cstool")
    session = f"cstool-e2e-{os.getpid()}"
    # the tmux server's environment, not the test's, reaches the console: the language is set
    command = f"CSTOOL_LANG=zh CSTOOL_TZ=Asia/Shanghai {cstool} --db {db} console --agent a " \
              "--poll 0.5; " \
              "echo CONSOLE-EXIT:$?; sleep 20"
    _tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", command)
    try:
        screen = lambda: _tmux("capture-pane", "-t", session, "-p")  # noqa: E731
        assert _wait(lambda: "这条裙子有M码吗" in screen()), screen()
        _tmux("send-keys", "-t", session, "有的亲，M码现货")
        time.sleep(0.5)
        _tmux("send-keys", "-t", session, "Enter")

        def stored() -> bool:
            check = LocalBackend(db)
            try:
                return any(m["sender"] == "agent" and m["body"] == "有的亲，M码现货"
                           for m in check.get_conversation(conv)["messages"])
            finally:
                check.close()

        assert _wait(stored), screen()
        assert _wait(lambda: "有的亲，M码现货" in screen().split("╭")[0]), screen()
        _tmux("send-keys", "-t", session, "C-q")
        assert _wait(lambda: "进行中的会话" in screen()), screen()
        _tmux("send-keys", "-t", session, "y")
        assert _wait(lambda: "CONSOLE-EXIT:0" in screen()), screen()
        assert "小美 已离线，1 个会话转回排队" in screen(), screen()
        check = LocalBackend(db)
        try:
            assert check.get("agents", "a")["status"] == "offline"
            assert check.get_conversation(conv)["state"] == "queued"
        finally:
            check.close()
    finally:
        _tmux("kill-session", "-t", session)


def _session(tmp_path, name: str, db: Path, size: tuple[int, int], env: str = "") -> str:
    cstool = Path(sys.executable).with_name("cstool")
    session = f"cstool-{name}-{os.getpid()}"
    # COLUMNS/LINES (set by the test run) would pin the console's size through a resize
    # (and the tmux server's environment, not the test's, reaches it: the language is set)
    command = f"unset COLUMNS LINES; CSTOOL_LANG=zh {env} CSTOOL_TZ=Asia/Shanghai {cstool} " \
              f"--db {db} " \
              "console --agent a --poll 0.3; echo CONSOLE-EXIT:$?; sleep 30"
    _tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), command)
    return session


def _stored(db: Path, conv: int) -> dict:
    check = LocalBackend(db)
    try:
        return check.get_conversation(conv)
    finally:
        check.close()


def test_default_keys_reach_the_console_through_tmux_at_three_sizes(tmp_path):
    """Every default key the desk relies on, sent by tmux as a terminal would send it:
    Tab, Ctrl+T, F8 (asks), Esc, Ctrl+G then 1, Ctrl+U, Enter, F8, Ctrl+R, F1; the key
    line whole with F1, F8, F9 and ^Q at 80, 120 and 200 columns."""
    db = tmp_path / "keys.db"
    b = LocalBackend(db)
    b.apply({"shops": [{"key": "s", "name": "翎衣女装"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                         "max_chats": 5}],
             "knowledge_entries": [{"key": "m", "shop": "s", "question": "有M码吗",
                                    "similar": ["M码有货吗"], "answer": "亲，M码有现货哦",
                                    "category": "尺码"}]})
    first = b.post_message("s", "c1", "这条裙子有M码吗")["conversation"]["id"]
    second = b.post_message("s", "c2", "在吗")["conversation"]["id"]
    b.close()
    session = _session(tmp_path, "keys", db, (80, 24))
    screen = lambda: _tmux("capture-pane", "-t", session, "-p")  # noqa: E731
    send = lambda *keys: _tmux("send-keys", "-t", session, *keys)  # noqa: E731
    try:
        assert _wait(lambda: "这条裙子有M码吗" in screen()), screen()
        last_row = lambda: screen().rstrip("\n").splitlines()[-1]  # noqa: E731
        for key in ("F1", "F2", "F8", "F9", "^Q"):
            assert key in last_row(), last_row()
        send("Tab")
        assert _wait(lambda: "在吗" in screen() and "这条裙子" not in screen()), screen()
        send("BTab")  # shift+tab: back
        assert _wait(lambda: "这条裙子有M码吗" in screen()), screen()
        send("C-t")  # 80 columns: the customer panel in place of the chat list
        assert _wait(lambda: "知识库建议" in screen() and "我的会话" not in screen()), screen()
        send("C-t")
        assert _wait(lambda: "我的会话" in screen()), screen()
        send("F8")
        assert _wait(lambda: "还没有回复" in screen()), screen()
        send("Escape")
        assert _wait(lambda: "还没有回复" not in screen()), screen()
        assert _stored(db, first)["state"] == "active"
        send("C-g")
        assert _wait(lambda: "插入建议" in screen()), screen()
        send("1")
        assert _wait(lambda: "亲，M码有现货哦" in screen().split("╭")[-1]), screen()
        send("C-u")
        assert _wait(lambda: "亲，M码有现货哦" not in screen().split("╭")[-1]), screen()
        send("有的亲")
        time.sleep(0.3)
        send("Enter")
        assert _wait(lambda: _stored(db, first)["messages"][-1]["body"] == "有的亲")
        send("F8")  # answered: closes at once
        assert _wait(lambda: _stored(db, first)["state"] == "closed"), screen()
        send("C-r")
        assert _wait(lambda: _stored(db, first)["state"] == "active"), screen()
        send("F1")
        assert _wait(lambda: "  按键  " in screen()), screen()
        send("Escape")
        assert _wait(lambda: "  按键  " not in screen()), screen()
        for width, height in ((120, 35), (200, 50)):
            _tmux("resize-window", "-t", session, "-x", str(width), "-y", str(height))
            assert _wait(lambda: "F4" in last_row()), screen()
            for key in ("F1", "F2", "F7", "F8", "F9", "^Q"):
                assert key in last_row(), (width, last_row())
            send("C-t")  # wide: hides the customer panel
            assert _wait(lambda: "知识库建议" not in screen()), screen()
            send("C-t")
            assert _wait(lambda: "知识库建议" in screen()), screen()
        assert _stored(db, second)["state"] == "active"
    finally:
        _tmux("kill-session", "-t", session)


def test_a_colliding_key_file_is_refused_naming_file_and_line(tmp_path):
    db = tmp_path / "k.db"
    b = LocalBackend(db)
    b.apply({"shops": [{"key": "s", "name": "店"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online"}]})
    b.close()
    keys = tmp_path / "keys.toml"
    keys.write_text('# my keys\naccept = "f2"\nclose_chat = "f2"\n', encoding="utf-8")
    session = _session(tmp_path, "badkeys", db, (100, 20), env=f"CSTOOL_KEYS={keys}")
    screen = lambda: _tmux("capture-pane", "-t", session, "-J", "-p")  # noqa: E731
    try:
        assert _wait(lambda: "CONSOLE-EXIT:" in screen()), screen()
        assert "CONSOLE-EXIT:1" in screen(), screen()
        # the console speaks zh here (the session sets CSTOOL_LANG=zh): file and line kept
        assert f"{keys}:3：close_chat：'f2' 已经是 accept 的按键" in screen(), screen()
        assert "Traceback" not in screen()
    finally:
        _tmux("kill-session", "-t", session)
