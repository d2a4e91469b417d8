"""The supervisor's live dashboard: tiles, today's hourly volume against the same weekday
last week, the agent table (sortable), alerts as a banner and a log, a shop switcher and
a pause key, the 质检 tile with its review queue (``q``) and the agent radar (``g``,
both in ``tui/quality.py``). A worker reads one snapshot (``Backend.dashboard``) when the
event log moved (at least every ``max_age_s``), never two at once; panels are pure
functions of it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import DataTable, Header, Static

from cstool.alerts import Alert, Thresholds, check
from cstool.api.backend import Backend
from cstool.errors import CstoolError
from cstool.i18n import error_text, language, t, value
from cstool.values import format_time, format_time_in, money

from .keybar import KeyBar, key_label
from .notices import NoticeBar, NoticesMixin
from .screens import (
    PickScreen,
    localize_bindings,
    localized_system_commands,
    open_command_palette,
)
from .widgets import fmt_wait

BARS = " ▁▂▃▄▅▆▇█"
# The agent table's sorts: the figure, and the catalog id of its column.
SORTS = [("conversations", "dash.col.conversations"), ("response_rate", "dash.col.response"),
         ("answer_rate", "dash.col.answer"), ("csat", "dash.col.csat"),
         ("attributed_sales", "dash.col.sales")]
# The tiles, by catalog id: ``dash.tile.<name>`` is the label, ``dash.tile.<name>.short`` its
# shorter forms (longest first, separated by "|"; a tile shows the longest form that fits).
TILE_NAMES = ("waiting", "longest", "agents", "active", "response_rate", "answer_rate",
              "bot_resolution", "csat", "conversion", "sales", "tickets", "due", "breached",
              "met", "qa")
TILES_PER_ROW = 10


def short_labels(lang: str | None = None) -> dict[str, tuple[str, ...]]:
    """Each tile label of the language in use and its shorter forms."""
    return _short_labels(lang or language())


@cache
def _short_labels(lang: str) -> dict[str, tuple[str, ...]]:
    return {t(f"dash.tile.{n}", lang): tuple(f for f in t(f"dash.tile.{n}.short", lang)
                                             .split("|") if f)
            for n in TILE_NAMES}


def label_forms(label: str) -> tuple[str, ...]:
    """A label and its shorter forms, longest first."""
    forms = (label, *short_labels().get(label, ()))
    return tuple(dict.fromkeys(forms))  # a short form may repeat the label


def fit_label(label: str, width: int, *, cut: bool = True) -> str:
    """The longest form of a label at most ``width`` cells wide, else (when ``cut``) the
    shortest form cut with an ellipsis, else nothing."""
    forms = label_forms(label)
    for form in forms:
        if cell_len(form) <= width:
            return form
    if not cut or width <= 0:
        return ""
    short = ""
    for char in forms[-1]:
        if cell_len(short + char) > width - 1:
            break
        short += char
    return short.rstrip() + "…"


def one_tile_row(width: int, gutter: int, figures: list[tuple[str, str, str]]) -> bool:
    """Whether the tiles fit one row at this screen width (``gutter``: a tile's border and
    padding across): every value and some form of every label within a tile, else they go
    in two rows."""
    room = width // TILES_PER_ROW - gutter
    return all(cell_len(value) <= room and cell_len(label_forms(label)[-1]) <= room
               for label, value, _ in figures)


class Tile(Widget):
    """One figure: its label (the longest form that fits) over its value, or before it when
    ``inline``. The value is never wrapped; the label gives way to it (shorter forms, then
    cut); the dashboard keeps tiles wide enough for their values."""

    def __init__(self, *, inline: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, classes="tile")
        self.inline = inline
        self.label, self.value, self.value_style = "", "", "bold"

    def show(self, label: str, value: str, style: str) -> None:
        self.label, self.value, self.value_style = label, value, style
        self.refresh()

    def render(self) -> Text:
        width = self.content_size.width
        value = (self.value, self.value_style)
        if not self.inline:
            return Text.assemble((fit_label(self.label, width), "dim"), "\n", value,
                                 no_wrap=True)
        room = width - cell_len(self.value)
        label, sep = fit_label(self.label, room - 2, cut=False), "  "
        if not label:
            label, sep = fit_label(self.label, room - 1), " "
        return Text.assemble((label, "dim"), sep if label else "", value, no_wrap=True)


class TileRow(Horizontal):
    """The main tiles: one row, label over value, when every value fits, else two rows of
    five, label before value (to keep the height down), or label over value when a value
    leaves no room for two characters of its label beside it."""

    figures: list[tuple[str, str, str]] = []

    def place(self, figures: list[tuple[str, str, str]] | None = None) -> None:
        """Lay the tiles out for these figures (else the last ones) at the current width."""
        if figures is not None:
            self.figures = figures
        row = list(self.query_children(Tile))
        gutter = row[0].styles.gutter.width
        two_rows = not one_tile_row(self.size.width, gutter, self.figures)
        room = self.size.width // (TILES_PER_ROW // 2) - gutter
        inline = two_rows and all(cell_len(value) + 1 + 4 <= room
                                  for _, value, _ in self.figures)
        self.set_class(two_rows, "two-rows")
        self.set_class(two_rows and not inline, "stacked")
        for tile in row:
            if tile.inline != inline:
                tile.inline = inline
                tile.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.place()


QA_WIDE = 130  # from this width the 质检 tile is a fifth of the SLA row


def qa_room(width: int, gutter: int, sla: list[tuple[str, str, str]],
            qa: tuple[str, str, str], compact: str) -> tuple[str, int] | None:
    """Below ``QA_WIDE`` columns: the 质检 tile's value and width in a SLA row ``width``
    wide, after the four SLA tiles keep room for their values and a label cut to one
    character (they share the rest equally): the whole figure, else ``compact`` (the
    score), else None (no room: the alert and ``q`` remain)."""
    share = max(cell_len(v) for _, v, _ in sla) + gutter + 5  # " 达…": a label cut
    left = width - len(sla) * share
    label = cell_len(label_forms(qa[0])[-1])
    for shown in (qa[1], compact):
        need = cell_len(shown) + label + 2 + gutter
        if left >= need:
            return shown, min(left, max(need, width // (len(sla) + 1)))
    return None


class SlaRow(Horizontal):
    """The SLA tiles and the 质检 tile, which gives way below ``QA_WIDE`` columns."""

    figures: tuple[list, tuple, str] | None = None

    def place(self, sla: list | None = None, qa: tuple | None = None,
              compact: str | None = None) -> None:
        """Size the 质检 tile for these figures (else the last ones) at the current width."""
        if sla is not None and qa is not None and compact is not None:
            self.figures = (sla, qa, compact)
        if self.figures is None:
            return
        sla, qa, compact = self.figures
        tile = self.query_one("#qa-tile", Tile)
        if self.size.width >= QA_WIDE or not self.size.width:
            tile.styles.width, tile.display = None, True
            tile.show(*qa)
            return
        fit = qa_room(self.size.width, tile.styles.gutter.width, sla, qa, compact)
        tile.display = fit is not None
        if fit is not None:
            tile.styles.width = fit[1]
            tile.show(qa[0], fit[0], qa[2])

    def on_resize(self, event: events.Resize) -> None:
        self.place()


def alert_text(alert: Alert, lang: str | None = None) -> str:
    """An alert in ``lang`` (default: the interface language) by its kind
    (``alert.<kind>``); an alert without a kind in its own text."""
    if not alert.kind:
        return alert.text
    return t(f"alert.{alert.kind}", lang, **dict(alert.fields))


def pct(x: float | None) -> str:
    """A rate as a percentage, or a dash when there is nothing to rate."""
    return "—" if x is None else f"{x * 100:.1f}%"


def agent_counts(s: dict) -> dict[str, int]:
    """Agents by status, counted over the agent table's rows (so the tile and the table
    agree); the snapshot's own counts when it has no rows."""
    rows = s.get("agent_rows")
    if not rows:
        return s["agents"]
    counts = {"online": 0, "busy": 0, "away": 0, "offline": 0}
    for r in rows:
        if r.get("status") in counts:
            counts[r["status"]] += 1
    return counts


def tiles(s: dict, queue_max: int = 10) -> list[tuple[str, str, str]]:
    """(label, value, style) of each tile (the queue red above ``queue_max``, as its
    alert)."""
    q, a, d = s["queue"], agent_counts(s), s["today"]
    wait = q["longest_wait_s"]
    return [
        (t("dash.tile.waiting"), str(q["waiting"]),
         "bold red" if q["waiting"] > queue_max else "bold"),
        (t("dash.tile.longest"), "—" if wait is None else fmt_wait(wait),
         "bold red" if wait and wait > 180 else "bold"),
        (t("dash.tile.agents"), f"{a['online']}/{a['busy']}/{a['away']}", "bold green"),
        (t("dash.tile.active"), str(s["active"]), "bold"),
        (t("dash.tile.response_rate"), pct(d.get("response_rate")), "bold cyan"),
        (t("dash.tile.answer_rate"), pct(d.get("answer_rate")), "bold cyan"),
        (t("dash.tile.bot_resolution"), pct(d.get("bot_resolution_rate")), "bold"),
        (t("dash.tile.csat"), pct(d.get("csat")), "bold"),
        (t("dash.tile.conversion"), pct(d.get("inquiry_conversion")), "bold magenta"),
        (t("dash.tile.sales"), money(d.get("attributed_sales") or 0), "bold yellow"),
    ]


def sla_tiles(s: dict) -> list[tuple[str, str, str]]:
    """(label, value, style) of the ticket SLA tiles."""
    sla = s.get("sla") or {}
    return [
        (t("dash.tile.tickets"), str(sla.get("open", 0)), "bold"),
        (t("dash.tile.due"), str(sla.get("due_within_hour", 0)), "bold yellow"),
        (t("dash.tile.breached"), str(sla.get("breached", 0)),
         "bold red" if sla.get("breached") else "bold"),
        (t("dash.tile.met"),
         f"{pct(sla.get('first_response_met_week'))} / {pct(sla.get('resolution_met_week'))}",
         "bold cyan"),
    ]


def qa_tile(s: dict, *, compact: bool = False) -> tuple[str, str, str]:
    """(label, value, style) of the 质检 tile: today's mean score (red under the shop's
    ``low_score``) and the chats waiting for review (``compact``: the score alone)."""
    qa = s.get("qa") or {}
    score = qa.get("score")
    low = score is not None and score < qa.get("low_score", 0)
    shown = "—" if score is None else f"{score:g}"
    return (t("dash.tile.qa"),
            shown if compact else t("dash.tile.qa_value", score=shown,
                                    pending=qa.get("pending_review") or 0),
            "bold red" if low else "bold cyan")


def chart(today: list[int], last_week: list[int], hour: int, width: int = 74,
          rows: int = 6) -> Text:
    """Today's conversations per hour (bars) under the same weekday last week (dots), in
    ``width`` cells: 3 cells an hour (every hour labelled), 2 (every other hour) or 1
    (every sixth), so the hour axis never wraps; ``rows`` high."""
    top = max(max(today, default=0), max(last_week, default=0), 1)
    cw = 3 if width >= 74 else 2 if width >= 50 else 1
    bar_w, gap = max(1, cw - 1), " " if cw > 1 else ""
    out = Text(t("dash.chart_title" if width >= 36 else "dash.chart_title_short") + "\n",
               style="bold")
    for level in range(rows, 0, -1):
        line = Text()
        for h in range(24):
            v, w = today[h] * rows / top, last_week[h] * rows / top
            if v >= level:
                line.append("█" * bar_w + gap, "green" if h <= hour else "dim")
            elif v > level - 1 and v > 0:
                line.append(BARS[max(1, int((v - level + 1) * 8))] * bar_w + gap, "green")
            elif w >= level - 0.5 and w < level + 0.5:
                line.append("·" * bar_w + gap, "yellow")
            else:
                line.append(" " * cw)
        out.append_text(line)
        out.append("\n")
    step = {3: 1, 2: 2, 1: 6}[cw]
    out.append("".join(f"{h:<{cw * step}d}" for h in range(0, 24, step)).rstrip(), "dim")
    out.append("\n" + t("dash.chart_totals", today=sum(today), last_week=sum(last_week)),
               "dim")
    return out


class HourlyChart:
    """``chart`` drawn at the width and height it is given."""

    def __init__(self, today: list[int], last_week: list[int], hour: int, rows: int = 6):
        self.args = (today, last_week, hour)
        self.rows = rows

    def __rich_console__(self, console, options):
        text = chart(*self.args, width=options.max_width, rows=self.rows)
        text.no_wrap = True
        text.overflow = "crop"
        yield text


class DashboardApp(NoticesMixin, App):
    """The live dashboard for one shop at a time."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "cstool"
    # Under 30 rows (80x24) the panels give the agent table its rows.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    # Under 130 columns the 质检 tile takes what the SLA tiles leave (``SlaRow``).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (130, "-wide")]
    BINDINGS = [
        Binding("s", "sort", "key.sort", id="sort"),
        Binding("w", "switch_shop", "key.switch_shop", id="switch_shop"),
        Binding("p", "pause", "key.pause", id="pause"),
        Binding("r", "refresh", "key.refresh", id="refresh"),
        Binding("q", "qa_review", "key.qa_review", id="qa_review"),
        Binding("g", "radar", "key.radar", id="radar"),
        Binding("ctrl+q", "quit", "key.quit", id="quit", priority=True),
    ]

    def __init__(self, backend: Backend, shop: str, *, poll_s: float = 1.0, max_age_s: float = 30,
                 thresholds: Thresholds = Thresholds(), now_ms: Callable[[], int] | None = None,
                 hint: str | None = None, zone: str | None = None):
        super().__init__()
        localize_bindings(self)
        self.title = t("dash.title")
        self.hint = hint  # shown once at the start (e.g. "a replayed day: try --replay")
        self.backend = backend
        self.shop = shop
        self.poll_s = poll_s
        self.max_age_s = max_age_s
        self.thresholds = thresholds
        self._now = now_ms or backend.clock.now_ms
        self.zone = zone  # the IANA zone the screen's times are shown in (None: the display's)
        self.snapshot: dict | None = None
        self.alerts: list[Alert] = []
        self.log_lines: list[str] = []
        self.sort_index = 0
        self.paused = False
        self.cursor = 0
        self._loading = False
        self._loaded_at = 0.0
        self.loads = 0

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("", id="banner")
        with TileRow(id="tiles"):
            for i in range(TILES_PER_ROW):
                yield Tile(id=f"tile-{i}")
        with SlaRow(id="sla-tiles"):
            for i in range(4):
                yield Tile(inline=True, id=f"sla-{i}")
            yield Tile(inline=True, id="qa-tile")
        with Horizontal(id="middle"):
            yield Static("", id="chart")
            yield Static("", id="alert-log")
        yield DataTable(id="agents", zebra_stripes=True, cursor_type="row")
        yield NoticeBar(id="notices", max_shown=2)
        yield KeyBar(id="keys")

    def action_command_palette(self) -> None:
        """The command palette, its prompt in the interface language."""
        open_command_palette(self)

    def get_system_commands(self, screen) -> Any:
        """Textual's palette commands, in the interface language."""
        yield from localized_system_commands(super().get_system_commands(screen))

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*(t(f"dash.col.{c}") for c in (
            "agent", "status", "active", "conversations", "response", "answer", "csat",
            "sales")))
        self.query_one(KeyBar).set_entries(
            [(key_label(b.key), t(b.description), i) for i, b in enumerate(self.BINDINGS)])
        if self.hint:
            self.notify(self.hint, title=t("dash.hint_title"), timeout=15)
        self.load()
        self.set_interval(self.poll_s, self.tick)

    def tick(self) -> None:
        """Reload when events arrived or the snapshot is old; never two loads at once."""
        if self.paused or self._loading:
            return
        self.load(check_events=True)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, check_events: bool = False) -> None:
        """Read a snapshot (worker thread)."""
        self._loading = True
        try:
            import time

            fresh = time.monotonic() - self._loaded_at < self.max_age_s
            if check_events and fresh and not self.backend.events(after=self.cursor, limit=1):
                return
            head = self.backend.events(after=self.cursor, limit=1000)
            snapshot = self.backend.dashboard(self.shop, zone=self.zone)
            self._loaded_at = time.monotonic()
            cursor = head[-1]["id"] if head else self.cursor
            self.call_from_thread(self._show, snapshot, cursor)
        except CstoolError as e:
            self.call_from_thread(self.notify, error_text(e), severity="error")
        finally:
            self._loading = False

    def _show(self, snapshot: dict, cursor: int) -> None:
        self.loads += 1
        self.cursor = max(self.cursor, cursor)
        self.snapshot = snapshot
        self.sub_title = f"{snapshot['name']} · {self._clock_text(snapshot['at_ms'])}"
        for i, (label, figure, style) in enumerate(tiles(snapshot, self.thresholds.queue_max)):
            self.query_one(f"#tile-{i}", Tile).show(label, figure, style)
        for i, (label, figure, style) in enumerate(sla_tiles(snapshot)):
            self.query_one(f"#sla-{i}", Tile).show(label, figure, style)
        self.query_one("#qa-tile", Tile).show(*qa_tile(snapshot))
        self.query_one(SlaRow).place(sla_tiles(snapshot), qa_tile(snapshot),
                                     qa_tile(snapshot, compact=True)[1])
        self.query_one(TileRow).place(tiles(snapshot, self.thresholds.queue_max))
        self.query_one("#chart", Static).update(
            HourlyChart(snapshot["hourly"], snapshot["hourly_last_week"], snapshot["local_hour"],
                        rows=6 if self.size.height >= 30 else 3))
        alerts = check(snapshot, self.thresholds)
        known = {a.key for a in self.alerts}
        stamp = self._clock_text(snapshot["at_ms"])
        for a in alerts:
            if a.key not in known:
                self.log_lines.append(f"{stamp} {alert_text(a)}")
                self.notify(alert_text(a), title=t("dash.alert_title"), severity="warning")
        self.alerts = alerts
        self._banner()
        log = Text(t("dash.alert_log") + "\n", style="bold")
        for line in reversed(self.log_lines[-12:]):  # the newest never falls off the panel
            log.append(line + "\n")
        self.query_one("#alert-log", Static).update(log)
        self._table()

    def _clock_text(self, ms: int) -> str:
        """``HH:MM`` of ``ms`` in the screen's zone."""
        text = format_time(ms) if self.zone is None else format_time_in(ms, self.zone)
        return text[11:16]

    def _banner(self) -> None:
        banner = self.query_one("#banner", Static)
        if self.paused:
            banner.update(Text(t("dash.paused"), style="bold"))
            banner.set_class(True, "shown")
            banner.set_class(False, "alert")
        elif self.alerts:
            banner.update(Text("⚠ " + " · ".join(alert_text(a) for a in self.alerts),
                               style="bold white"))
            banner.set_class(True, "shown")
            banner.set_class(True, "alert")
        else:
            banner.set_class(False, "shown")

    def sorted_agents(self) -> list[dict]:
        """The agent rows under the current sort (highest first; missing figures last)."""
        key = SORTS[self.sort_index][0]
        rows = list((self.snapshot or {}).get("agent_rows", []))
        return sorted(rows, key=lambda r: (r.get(key) is None, -(r.get(key) or 0),
                                           r.get("agent", "")))

    def _table(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        held = (self.snapshot or {}).get("active_by_agent") or {}
        for r in self.sorted_agents():
            table.add_row(r.get("name") or r["agent"], value("status", r.get("status")),
                          str(held.get(r["agent"], 0)), str(r.get("conversations", 0)),
                          pct(r.get("response_rate")),
                          pct(r.get("answer_rate")), pct(r.get("csat")),
                          money(r.get("attributed_sales") or 0))
        self.query_one(DataTable).border_title = t("dash.sorted_by",
                                                   column=t(SORTS[self.sort_index][1]))

    def action_sort(self) -> None:
        """Sort the agent table by the next figure."""
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        if self.snapshot:
            self._table()

    def action_pause(self) -> None:
        """Stop or resume refreshing."""
        self.paused = not self.paused
        self._banner()
        if not self.paused:
            self.load()

    def action_refresh(self) -> None:
        """Reload now."""
        if not self._loading:
            self.load()

    def action_qa_review(self) -> None:
        """The 质检 review queue of the shop (``tui.quality.ReviewScreen``)."""
        from .quality import ReviewScreen

        self.push_screen(ReviewScreen(self.backend, self.shop))

    def action_radar(self) -> None:
        """The agent radar of the shop (``tui.quality.RadarScreen``)."""
        from .quality import RadarScreen

        self.push_screen(RadarScreen(self.backend, self.shop, self.zone))

    def action_switch_shop(self) -> None:
        """Watch another shop."""
        shops = [(s["key"], f"{s['name']} ({s['key']})") for s in self.backend.list("shops")]

        def chosen(key: str | None) -> None:
            if key and key != self.shop:
                self.shop = key
                self.alerts, self.log_lines = [], []
                self.load()

        self.push_screen(PickScreen(t("dash.switch_shop"), shops), chosen)
