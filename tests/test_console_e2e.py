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
    command = f"CSTOOL_TZ=Asia/Shanghai {cstool} --db {db} console --agent a --poll 0.5; " \
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
        assert "a 已离线，1 个会话转回排队" in screen(), screen()
        check = LocalBackend(db)
        try:
            assert check.get("agents", "a")["status"] == "offline"
            assert check.get_conversation(conv)["state"] == "queued"
        finally:
            check.close()
    finally:
        _tmux("kill-session", "-t", session)
