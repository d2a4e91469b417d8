"""The console's pictures and files.

A file message is drawn as ``[图片 破损照片.jpg 1.2 MB]`` (PDF, 视频 likewise) from its
payload, in the console's language. Ctrl+D (``files``) opens the chat's files: the first
item attaches a file from this machine (its path asked; the type is read from the
bytes, images lose their metadata), the others are the chat's files, newest first;
choosing one offers to save it into a folder (never overwriting a file) or to open it
with the system's viewer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rich.text import Text

from cstool.errors import CstoolError
from cstool.file_saving import read_upload, save_download
from cstool.file_types import human_size
from cstool.i18n import t
from cstool.text_rules import terminal_safe

ATTACH = "attach"
FILE_STYLE = "bold magenta"


def file_line(payload: dict | None) -> str:
    """``[图片 破损照片.jpg 1.2 MB]`` for a file message's payload."""
    p = payload or {}
    kind = t(f"console.file_{p.get('category')}") if p.get("category") in (
        "image", "pdf", "video") else t("console.file_other")
    size = p.get("bytes")
    shown = human_size(size) if isinstance(size, int) and not isinstance(size, bool) else "?"
    return f"[{kind} {terminal_safe(str(p.get('name') or ''))} {shown}]"


def file_renderable(m: dict) -> Text:
    """A file message's line in the transcript (the files key saves or opens it)."""
    return Text(file_line(m.get("payload")), FILE_STYLE)


def open_path(path: Path) -> None:
    """Open a saved file with the system's viewer (tests replace this)."""
    import click

    click.launch(str(path))


class FilesMixin:
    """Actions of the console (``ConsoleApp``) for files in chats."""

    def action_files(self: Any) -> None:
        """Attach a file to the open chat, or save or open one of its files."""
        from .screens import ChoiceScreen, PromptScreen

        if self.current is None or self.conv is None or self.conv["id"] != self.current:
            self.notify(t("console.no_chat"), severity="warning")
            return
        conv_id = self.current
        files = [m for m in reversed(self.conv.get("messages") or []) if m.get("kind") == "file"]
        items = [] if self.readonly else [(ATTACH, t("console.file_attach"))]
        items += [(str(m["id"]), file_line(m.get("payload"))) for m in files]
        if not items:
            self.notify(t("console.no_files"), severity="warning")
            return

        def attach(path: str | None) -> None:
            if not path or not path.strip():
                return
            target = Path(path.strip()).expanduser()

            def write() -> dict:
                return self.backend.reply_file(self.agent, conv_id, target.name,
                                               read_upload(target))

            self.act(t("console.file_attach_failed"), write,
                     lambda _: self.notify(t("console.file_sent", name=target.name), timeout=3))

        def fetch_to(folder: Path, then: Any, message: int) -> None:
            def write() -> Path:
                return save_download(self.backend.get_file(conv_id, message), folder)

            self.act(t("console.file_save_failed"), write, then)

        def chosen(key: str | None) -> None:
            if key is None:
                return
            if key == ATTACH:
                self.push_screen(PromptScreen(t("console.file_path"),
                                              t("console.file_path_hint")), attach)
                return
            message = int(key)

            def how(choice: str | None) -> None:
                if choice == "open":
                    folder = Path(tempfile.mkdtemp(prefix="cstool-file-"))
                    fetch_to(folder, lambda p: self._open_saved(p), message)
                elif choice == "save":
                    def save(where: str | None) -> None:
                        if where is None:
                            return
                        fetch_to(Path(where.strip() or ".").expanduser(), lambda p: self.notify(
                            t("console.file_saved", path=str(p)), timeout=5), message)

                    self.push_screen(PromptScreen(t("console.file_folder"), "",
                                                  value=str(Path.cwd())), save)

            self.push_screen(ChoiceScreen(t("console.file_what"), [
                ("save", t("console.file_save")), ("open", t("console.file_open"))]), how)

        self.push_screen(ChoiceScreen(t("console.files"), items), chosen)

    def _open_saved(self: Any, path: Path) -> None:
        try:
            open_path(path)
        except (OSError, RuntimeError, CstoolError):
            self.notify(t("console.file_saved", path=str(path)), timeout=5)
            return
        self.notify(t("console.file_opened", path=str(path)), timeout=3)
