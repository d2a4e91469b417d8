"""Notices in the layout, above the footer: what Textual's pop-up toasts showed.

Toasts float over the other widgets, and Textual cuts every screen line at the edges of
all the widgets on it; a double-width character of the toast that straddles such an edge
(the customer panel's border, the reply box's corner) is split and drawn as two blanks,
at the same place every time ("先  束一个会话"). A notice bar that is part of the layout has
no widget under it, so nothing cuts its characters, and it never covers the reply box.

The same notice again (same title, text and severity) is shown once, with a count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Group
from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from cstool.i18n import t as tr
from cstool.text_rules import terminal_safe

from .cjk_text import Wrapped

MARKS = {"information": ("·", "green"), "warning": ("▲", "yellow"), "error": ("✖", "red")}
TIMEOUTS = {"information": 5.0, "warning": 8.0, "error": 10.0}


@dataclass
class Notice:
    """One notice: its words, how serious, how many times it came, when it goes."""

    message: str
    title: str = ""
    severity: str = "information"
    timeout: float = 5.0
    count: int = 1
    expires: float = field(default=0.0)

    @property
    def key(self) -> tuple[str, str, str]:
        """Notices with the same key are one notice."""
        return (self.title, self.message, self.severity)


class Noticed(Message):
    """A notice to show (posted by ``notify``, from any thread)."""

    def __init__(self, notice: Notice) -> None:
        super().__init__()
        self.notice = notice


class NoticeBar(Static):
    """The newest notices (at most ``max_shown``), each at most two rows, wrapped by the
    Chinese line-breaking rules; hidden when there is none."""

    DEFAULT_CSS = """
    NoticeBar {
        height: auto;
        max-height: 7;
        padding: 0 1;
        background: $panel;
        display: none;
    }
    NoticeBar.-shown {
        display: block;
    }
    """

    def __init__(self, *, max_shown: int = 3, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.max_shown = max_shown
        self.shown: list[Notice] = []

    def on_mount(self) -> None:
        self.set_interval(0.5, self.expire)

    def add(self, notice: Notice) -> None:
        """Show a notice; the same one again counts up and stays longer."""
        notice.expires = time.monotonic() + notice.timeout
        for old in self.shown:
            if old.key == notice.key:
                old.count += 1
                old.expires = notice.expires
                self.shown.remove(old)
                self.shown.append(old)
                break
        else:
            self.shown.append(notice)
        self._draw()

    def expire(self) -> None:
        """Drop the notices whose time is up."""
        now = time.monotonic()
        left = [n for n in self.shown if n.expires > now]
        if len(left) != len(self.shown):
            self.shown = left
            self._draw()

    def clear_all(self) -> None:
        """Drop every notice."""
        self.shown = []
        self._draw()

    def _draw(self) -> None:
        rows = []
        for n in self.shown[-self.max_shown:]:
            mark, colour = MARKS.get(n.severity, MARKS["information"])
            t = Text.assemble((f"{mark} ", f"bold {colour}"))
            if n.title:
                t.append(tr("notice.title", title=n.title), f"bold {colour}")
            t.append(n.message)
            if n.count > 1:
                t.append(f" ×{n.count}", "bold")
            rows.append(Wrapped(t, max_lines=2))
        self.set_class(bool(rows), "-shown")
        self.update(Group(*rows))


class NoticesMixin:
    """For an App: ``notify`` shows its notice in the app's NoticeBar (compose one)
    instead of a toast; ``notice_log`` keeps every notice shown (newest last)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.notice_log: list[Notice] = []

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Show a notice (thread-safe, like ``App.notify``; text is never markup)."""
        # names and texts from the data may hold control characters: escaped, as in chats
        notice = Notice(terminal_safe(str(message), keep_lines=True), terminal_safe(title),
                        severity,
                        TIMEOUTS.get(severity, 5.0) if timeout is None else timeout)
        self.post_message(Noticed(notice))  # type: ignore[attr-defined]

    def on_noticed(self, event: Noticed) -> None:
        self.notice_log = [*self.notice_log[-199:], event.notice]
        from textual.css.query import NoMatches

        try:
            bar = self.screen_stack[0].query_one(NoticeBar)  # type: ignore[attr-defined]
        except (NoMatches, IndexError):
            return  # not composed yet (or gone): the log keeps it
        bar.add(event.notice)
