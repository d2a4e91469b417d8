"""The dashboard's quality screens: the 质检 review queue (every finding of the chats
waiting for review, each confirmed or overturned with one key) and the agent radar.

Both are screens pushed over the dashboard (``q`` and ``g`` there) and read through the
Backend only (``qa_queue`` / ``qa_review``, ``agent_radar``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from cstool.api.backend import Backend
from cstool.errors import CstoolError
from cstool.i18n import error_text, t

from .keybar import KeyBar, key_label
from .screens import localize_bindings


def _pct(x) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _cut(text: str | None, n: int = 30) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= n else text[:n - 1] + "…"


class ReviewScreen(Screen):
    """The review queue of one shop: a row per finding (a sampled chat without findings
    has one row of its own); ``y`` confirms the selected finding (or passes the clean
    chat), ``n`` overturns it, ``a`` confirms every open finding of its chat."""

    BINDINGS = [
        Binding("y", "verdict('confirmed')", "key.qa_confirm", id="qa_confirm"),
        Binding("n", "verdict('overturned')", "key.qa_overturn", id="qa_overturn"),
        Binding("a", "verdict_all", "key.qa_confirm_all", id="qa_confirm_all"),
        Binding("escape", "app.pop_screen", "key.back", id="back"),
    ]

    def __init__(self, backend: Backend, shop: str, by: str | None = None):
        super().__init__()
        localize_bindings(self)
        self.backend, self.shop, self.by = backend, shop, by
        self.rows: list[tuple[int, int | None]] = []  # (conversation, finding or None)
        self.items: list[dict] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="qa-title")
        yield DataTable(id="qa-findings", zebra_stripes=True, cursor_type="row")
        yield KeyBar(id="qa-keys")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*(t(f"qa.col.{c}") for c in (
            "conversation", "agent", "score", "rule", "text", "detail", "verdict")))
        self.query_one(KeyBar).set_entries(
            [(key_label(b.key), t(b.description), i) for i, b in enumerate(self.BINDINGS)])
        self.reload()

    def reload(self) -> None:
        """Read the queue again and redraw, keeping the cursor's row."""
        table = self.query_one(DataTable)
        at = table.cursor_row
        try:
            self.items = self.backend.qa_queue(self.shop, limit=200)
        except CstoolError as e:
            self.notify(error_text(e), severity="error")
            return
        table.clear()
        self.rows = []
        for item in self.items:
            findings = item["findings"] or [None]
            for f in findings:
                self.rows.append((item["conversation"], None if f is None else f["id"]))
                table.add_row(
                    str(item["conversation"]), item["agent"] or "—", str(item["score"]),
                    t("qa.sampled") if f is None else t(f"qa.rule.{f['rule']}"),
                    "" if f is None else _cut(f["text"]),
                    "" if f is None else _cut(f["detail"], 12),
                    "" if f is None or f["verdict"] is None else t(f"qa.verdict.{f['verdict']}"))
        self.query_one("#qa-title", Static).update(
            t("qa.review_title", shop=self.shop, chats=len(self.items)))
        if self.rows:
            table.move_cursor(row=min(at, len(self.rows) - 1))

    def selected(self) -> tuple[int, int | None] | None:
        """The (conversation, finding) of the cursor's row, or None when the queue is
        empty."""
        table = self.query_one(DataTable)
        if not self.rows:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def action_verdict(self, verdict: str) -> None:
        """Confirm or overturn the selected finding (a clean sampled chat: passed)."""
        picked = self.selected()
        if picked is None:
            return
        conversation, finding = picked
        self._review(conversation, verdict, finding)

    def action_verdict_all(self) -> None:
        """Confirm every open finding of the selected chat."""
        picked = self.selected()
        if picked is not None:
            self._review(picked[0], "confirmed", None)

    def _review(self, conversation: int, verdict: str, finding: int | None) -> None:
        try:
            out = self.backend.qa_review(self.shop, conversation, verdict, finding=finding,
                                         by=self.by)
        except CstoolError as e:
            self.notify(error_text(e), severity="error")
            return
        self.notify(t("qa.reviewed", conversation=conversation, score=out["score"]))
        self.reload()


class RadarScreen(Screen):
    """The agent radar of one shop (today): figures, complaint and attach rates, QA score
    and training hints per agent; ``r`` reads it again."""

    BINDINGS = [
        Binding("r", "reload", "key.refresh", id="refresh"),
        Binding("escape", "app.pop_screen", "key.back", id="back"),
    ]

    def __init__(self, backend: Backend, shop: str, zone: str | None = None):
        super().__init__()
        localize_bindings(self)
        self.backend, self.shop, self.zone = backend, shop, zone
        self.rows: list[dict] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="radar-title")
        yield DataTable(id="radar", zebra_stripes=True, cursor_type="row")
        yield KeyBar(id="radar-keys")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*(t(f"radar.col.{c}") for c in (
            "agent", "chats", "response", "csat", "conversion", "complaints", "attach",
            "qa", "hints")))
        self.query_one(KeyBar).set_entries(
            [(key_label(b.key), t(b.description), i) for i, b in enumerate(self.BINDINGS)])
        self.action_reload()

    def action_reload(self) -> None:
        """Read the radar again."""
        try:
            self.rows = self.backend.agent_radar(self.shop, zone=self.zone)
        except CstoolError as e:
            self.notify(error_text(e), severity="error")
            return
        table = self.query_one(DataTable)
        table.clear()
        for r in self.rows:
            table.add_row(r["name"] or r["agent"], str(r["conversations"]),
                          _pct(r["response_rate"]), _pct(r["csat"]),
                          _pct(r["inquiry_conversion"]), _pct(r["complaint_rate"]),
                          _pct(r["attach_rate"]),
                          "—" if r["qa_score"] is None else f"{r['qa_score']:g}",
                          "、".join(t(f"qa.rule.{h}") for h in r["hints"]))
        self.query_one("#radar-title", Static).update(t("radar.title", shop=self.shop))
