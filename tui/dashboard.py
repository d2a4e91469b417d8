"""The supervisor's live dashboard: tiles, today's hourly volume against the same weekday
last week, the agent table (sortable), alerts as a banner and a log, a shop switcher and
a pause key. A worker reads one snapshot (``Backend.dashboard``) when the event log moved
(at least every ``max_age_s``), never two at once; panels are pure functions of it."""

from __future__ import annotations

from collections.abc import Callable
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
from cstool.errors import CstoolError
from cstool.values import format_time, money

from .keybar import KeyBar, key_label
from .notices import NoticeBar, NoticesMixin
from .screens import PickScreen

BARS = " ▁▂▃▄▅▆▇█"
SORTS = [("conversations", "会话"), ("response_rate", "3分钟"), ("answer_rate", "30秒"),
         ("csat", "满意度"), ("attributed_sales", "销售")]


# Shorter forms of the tile labels, longest first: a tile shows the longest form that fits.
SHORT_LABELS = {
    "排队 waiting": ("排队",),
    "最长等待 longest": ("最长等待", "最长"),
    "客服 online/busy/away": ("客服 在线/忙/离", "在线/忙/离", "在/忙/离"),
    "进行中 active": ("进行中",),
    "3分钟响应率": ("3分响应",),
    "30秒应答率": ("30秒应答",),
    "机器人解决率": ("机器人解决", "机器解决"),
    "满意度 CSAT": ("满意度",),
    "询单转化率": ("询单转化",),
    "客服销售额": ("客服销售", "销售"),
    "工单 open tickets": ("工单",),
    "1小时内到期 due ≤1h": ("1小时内到期", "将到期"),
    "已超时 breached": ("已超时",),
    "本周达标 met this week": ("本周达标", "达标"),
}
TILES_PER_ROW = 10


def label_forms(label: str) -> tuple[str, ...]:
    """A label and its shorter forms, longest first."""
    return (label, *SHORT_LABELS.get(label, ()))


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
    q, a, t = s["queue"], agent_counts(s), s["today"]
    wait = q["longest_wait_s"]
    return [
        ("排队 waiting", str(q["waiting"]), "bold red" if q["waiting"] > queue_max else "bold"),
        ("最长等待 longest", "—" if wait is None else f"{wait // 60}m{wait % 60:02d}s",
         "bold red" if wait and wait > 180 else "bold"),
        ("客服 online/busy/away", f"{a['online']}/{a['busy']}/{a['away']}", "bold green"),
        ("进行中 active", str(s["active"]), "bold"),
        ("3分钟响应率", pct(t.get("response_rate")), "bold cyan"),
        ("30秒应答率", pct(t.get("answer_rate")), "bold cyan"),
        ("机器人解决率", pct(t.get("bot_resolution_rate")), "bold"),
        ("满意度 CSAT", pct(t.get("csat")), "bold"),
        ("询单转化率", pct(t.get("inquiry_conversion")), "bold magenta"),
        ("客服销售额", money(t.get("attributed_sales") or 0), "bold yellow"),
    ]


def sla_tiles(s: dict) -> list[tuple[str, str, str]]:
    """(label, value, style) of the ticket SLA tiles."""
    sla = s.get("sla") or {}
    return [
        ("工单 open tickets", str(sla.get("open", 0)), "bold"),
        ("1小时内到期 due ≤1h", str(sla.get("due_within_hour", 0)), "bold yellow"),
        ("已超时 breached", str(sla.get("breached", 0)),
         "bold red" if sla.get("breached") else "bold"),
        ("本周达标 met this week",
         f"{pct(sla.get('first_response_met_week'))} / {pct(sla.get('resolution_met_week'))}",
         "bold cyan"),
    ]


def chart(today: list[int], last_week: list[int], hour: int, width: int = 74,
          rows: int = 6) -> Text:
    """Today's conversations per hour (bars) under the same weekday last week (dots), in
    ``width`` cells: 3 cells an hour (every hour labelled), 2 (every other hour) or 1
    (every sixth), so the hour axis never wraps; ``rows`` high."""
    top = max(max(today, default=0), max(last_week, default=0), 1)
    cw = 3 if width >= 74 else 2 if width >= 50 else 1
    bar_w, gap = max(1, cw - 1), " " if cw > 1 else ""
    t = Text("今日每小时会话 (█ 今天 · 上周同日)\n" if width >= 36 else "每小时会话\n",
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
        t.append_text(line)
        t.append("\n")
    step = {3: 1, 2: 2, 1: 6}[cw]
    t.append("".join(f"{h:<{cw * step}d}" for h in range(0, 24, step)).rstrip(), "dim")
    t.append(f"\n今天 {sum(today)} · 上周同日 {sum(last_week)}", "dim")
    return t


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
    TITLE = "cstool 监控大屏"
    # Under 30 rows (80x24) the panels give the agent table its rows.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    BINDINGS = [
        Binding("s", "sort", "排序", id="sort"),
        Binding("w", "switch_shop", "店铺", id="switch_shop"),
        Binding("p", "pause", "暂停", id="pause"),
        Binding("r", "refresh", "刷新", id="refresh"),
        Binding("ctrl+q", "quit", "退出", id="quit", priority=True),
    ]

    def __init__(self, backend: Any, shop: str, *, poll_s: float = 1.0, max_age_s: float = 30,
                 thresholds: Thresholds = Thresholds(), now_ms: Callable[[], int] | None = None,
                 hint: str | None = None):
        super().__init__()
        self.hint = hint  # shown once at the start (e.g. "a replayed day: try --replay")
        self.backend = backend
        self.shop = shop
        self.poll_s = poll_s
        self.max_age_s = max_age_s
        self.thresholds = thresholds
        self._now = now_ms or backend.clock.now_ms
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
        with Horizontal(id="sla-tiles"):
            for i in range(4):
                yield Tile(inline=True, id=f"sla-{i}")
        with Horizontal(id="middle"):
            yield Static("", id="chart")
            yield Static("", id="alert-log")
        yield DataTable(id="agents", zebra_stripes=True, cursor_type="row")
        yield NoticeBar(id="notices", max_shown=2)
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("客服", "状态", "会话", "3分钟", "30秒", "满意度", "销售")
        self.query_one(KeyBar).set_entries(
            [(key_label(b.key), b.description, i) for i, b in enumerate(self.BINDINGS)])
        if self.hint:
            self.notify(self.hint, title="提示", timeout=15)
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
            snapshot = self.backend.dashboard(self.shop)
            self._loaded_at = time.monotonic()
            cursor = head[-1]["id"] if head else self.cursor
            self.call_from_thread(self._show, snapshot, cursor)
        except CstoolError as e:
            self.call_from_thread(self.notify, str(e), severity="error")
        finally:
            self._loading = False

    def _show(self, snapshot: dict, cursor: int) -> None:
        self.loads += 1
        self.cursor = max(self.cursor, cursor)
        self.snapshot = snapshot
        self.sub_title = f"{snapshot['name']} · {format_time(snapshot['at_ms'])[11:16]}"
        for i, (label, value, style) in enumerate(tiles(snapshot, self.thresholds.queue_max)):
            self.query_one(f"#tile-{i}", Tile).show(label, value, style)
        for i, (label, value, style) in enumerate(sla_tiles(snapshot)):
            self.query_one(f"#sla-{i}", Tile).show(label, value, style)
        self.query_one(TileRow).place(tiles(snapshot, self.thresholds.queue_max))
        self.query_one("#chart", Static).update(
            HourlyChart(snapshot["hourly"], snapshot["hourly_last_week"], snapshot["local_hour"],
                        rows=6 if self.size.height >= 30 else 3))
        alerts = check(snapshot, self.thresholds)
        known = {a.key for a in self.alerts}
        stamp = format_time(snapshot["at_ms"])[11:16]
        for a in alerts:
            if a.key not in known:
                self.log_lines.append(f"{stamp} {a.text}")
                self.notify(a.text, title="告警", severity="warning")
        self.alerts = alerts
        self._banner()
        log = Text("告警记录\n", style="bold")
        for line in reversed(self.log_lines[-12:]):  # the newest never falls off the panel
            log.append(line + "\n")
        self.query_one("#alert-log", Static).update(log)
        self._table()

    def _banner(self) -> None:
        banner = self.query_one("#banner", Static)
        if self.paused:
            banner.update(Text("⏸ 已暂停 paused — 按 p 继续", style="bold"))
            banner.set_class(True, "shown")
            banner.set_class(False, "alert")
        elif self.alerts:
            banner.update(Text("⚠ " + " · ".join(a.text for a in self.alerts),
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
        for r in self.sorted_agents():
            table.add_row(r.get("name") or r["agent"], r.get("status") or "",
                          str(r.get("conversations", 0)), pct(r.get("response_rate")),
                          pct(r.get("answer_rate")), pct(r.get("csat")),
                          money(r.get("attributed_sales") or 0))
        self.query_one(DataTable).border_title = f"客服 · 按{SORTS[self.sort_index][1]}排序"

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

    def action_switch_shop(self) -> None:
        """Watch another shop."""
        shops = [(s["key"], f"{s['name']} ({s['key']})") for s in self.backend.list("shops")]

        def chosen(key: str | None) -> None:
            if key and key != self.shop:
                self.shop = key
                self.alerts, self.log_lines = [], []
                self.load()

        self.push_screen(PickScreen("切换店铺 Switch shop", shops), chosen)
