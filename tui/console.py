"""The agent console: a keyboard-only chat desk on any Backend.

Storage is never touched on the UI thread: reads run in one exclusive worker that
polls the event log (a new poll is armed only after the last one finished), writes
run in their own workers and then ask for a refresh. Every action has a Binding with
an id (remappable from ``keys.toml``), a footer entry, a help line and a command in
the palette.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header

from cstool.errors import CstoolError

from .screens import HelpScreen, PickScreen, PromptScreen
from .widgets import ChatList, Composer, CustomerPanel, Suggestions, Transcript

# (id, default keys, footer label, what it does, shown in footer)
ACTIONS: list[tuple[str, str, str, str, bool]] = [
    ("accept", "f2", "接入", "Accept the next waiting chat (接入下一位)", True),
    ("next_unread", "f3", "未读", "Go to the next chat with unread messages", True),
    ("send_product", "f4", "商品", "Send a product card", True),
    ("send_coupon", "f5", "发券", "Send a coupon (the customer then holds it)", True),
    ("invite", "f6", "邀请下单", "Send an invitation to order with the price after discounts",
     True),
    ("transfer", "f7", "转接", "Transfer the chat to an agent or a group, with a note", True),
    ("close_chat", "f8", "结束", "Close the chat (the customer is asked for a rating)", True),
    ("status", "f9", "状态", "Set my status: online, busy, away, offline", True),
    ("quick_replies", "ctrl+o", "快捷语", "Quick replies (also / in an empty reply box)", True),
    ("search", "ctrl+f", "搜索", "Search my chat history", False),
    ("ticket", "ctrl+k", "工单", "Raise a ticket (work order) from this chat", False),
    ("my_tickets", "ctrl+y", "我的工单", "My tickets by deadline, coloured by SLA state", False),
    ("next_chat", "ctrl+down,alt+down", "下一个", "Switch to the next chat", False),
    ("prev_chat", "ctrl+up,alt+up", "上一个", "Switch to the previous chat", False),
    ("suggestion_1", "alt+1", "建议1", "Insert knowledge suggestion 1 into the reply", False),
    ("suggestion_2", "alt+2", "建议2", "Insert knowledge suggestion 2 into the reply", False),
    ("suggestion_3", "alt+3", "建议3", "Insert knowledge suggestion 3 into the reply", False),
    ("toggle_context", "ctrl+t", "客户", "Show or hide the customer panel", False),
    ("help", "f1", "帮助", "All keys", True),
    ("quit", "ctrl+q", "退出", "Quit", True),
]


def _bindings() -> list[Binding]:
    out = []
    for action_id, keys, label, _what, show in ACTIONS:
        action = action_id
        if action_id.startswith("suggestion_"):
            action = f"suggestion({action_id[-1]})"
        out.append(Binding(keys, action, label, id=action_id, show=show, priority=True))
    return out


class ConsoleApp(App):
    """One agent's chat desk."""

    CSS_PATH = "console.tcss"
    TITLE = "cstool 客服工作台"
    BINDINGS = _bindings()
    # Below 110 columns the customer panel hides (ctrl+t swaps it in).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(
        self,
        backend: Any,
        agent: str,
        *,
        poll_s: float = 1.0,
        keymap: dict[str, str] | None = None,
        keymap_warning: str | None = None,
        simulator: Any = None,
        now_ms: Callable[[], int] | None = None,
    ):
        super().__init__()
        self.backend = backend
        self.agent = agent
        self.poll_s = poll_s
        self.simulator = simulator
        self._now = now_ms or backend.clock.now_ms
        self._keymap = keymap or {}
        self._keymap_warning = keymap_warning
        self.desk: dict | None = None
        self.current: int | None = None
        self.conv: dict | None = None
        self.context: dict | None = None
        self.suggestions: list[dict] = []
        self.cursor = 0
        self._known_chats: set[int] | None = None
        self._loading = False
        self._dirty = False

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield ChatList(id="chats")
            with Vertical(id="center"):
                yield Transcript(id="transcript")
                yield Composer(id="composer", soft_wrap=True, show_line_numbers=False)
            with Vertical(id="right"):
                yield CustomerPanel(id="customer")
                yield Suggestions(id="suggestions")
        yield Footer()

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        if self._keymap_warning:
            self.notify(self._keymap_warning, severity="warning")
        self.sub_title = self.agent
        composer = self.query_one(Composer)
        composer.cursor_blink = False
        composer.focus()
        self.query_one(CustomerPanel).show(None)
        self.query_one(Suggestions).show([])
        self.query_one(Transcript).show(None)
        self.load()
        self.set_interval(self.poll_s, self.tick)
        if self.simulator is not None:
            self.run_simulator()

    # -- loading (one reader at a time) ----------------------------------------------------
    def tick(self) -> None:
        """Every poll: redraw waiting times; reload when the event log moved."""
        if self.desk is not None:
            self.query_one(ChatList).render_desk(self.desk, self.current, self._now())
        if self._loading:
            return
        self.load(check_events=True)

    def request_load(self) -> None:
        """Reload now, or right after the load in progress."""
        if self._loading:
            self._dirty = True
        else:
            self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, check_events: bool = False) -> None:
        """Read the desk, the open chat, its customer and suggestions (worker thread)."""
        self._loading = True
        try:
            if check_events and not self.backend.events(after=self.cursor, limit=1):
                return
            desk = self.backend.agent_desk(self.agent)
            ids = [c["id"] for c in desk["chats"]]
            current = self.current if self.current in ids else (ids[0] if ids else None)
            conv = ctx = None
            suggestions: list[dict] = []
            if current is not None:
                chat = next(c for c in desk["chats"] if c["id"] == current)
                if chat["unread"]:
                    self.backend.mark_seen(self.agent, current)
                    chat["unread"] = False
                conv = self.backend.get_conversation(current)
                ctx = self.backend.customer_context(current)
                if hasattr(self.backend, "suggest_answers"):
                    try:
                        suggestions = self.backend.suggest_answers(current)
                    except CstoolError:
                        suggestions = []
            self.call_from_thread(self._show, desk, current, conv, ctx, suggestions)
        finally:
            self._loading = False
            if self._dirty:
                self._dirty = False
                self.call_from_thread(self.load)

    def _show(self, desk: dict, current: int | None, conv: dict | None, ctx: dict | None,
              suggestions: list[dict]) -> None:
        new = {c["id"] for c in desk["chats"]}
        if self._known_chats is not None:
            for c in desk["chats"]:
                if c["id"] not in self._known_chats:
                    self.notify(f"新会话：{c['customer_name']}（{c['shop']}）", title="新客户")
                    self.bell()
        self._known_chats = new
        same = current is not None and current == self.current and self.conv is not None
        self.desk, self.current, self.conv = desk, current, conv
        self.context, self.suggestions = ctx, suggestions
        self.cursor = max(self.cursor, desk["last_event"])
        self.query_one(ChatList).render_desk(desk, current, self._now())
        self.query_one(Transcript).show(conv, same_chat=same)
        self.query_one(CustomerPanel).show(ctx)
        self.query_one(Suggestions).show(suggestions)

    # -- writes (each in a worker, then a reload) --------------------------------------------
    @work(thread=True, group="act", exit_on_error=False)
    def act(self, what: str, fn: Callable[[], Any], done: Callable[[Any], None] | None = None
            ) -> None:
        """Run a backend write off the UI thread; tell the agent if it was refused."""
        try:
            result = fn()
        except CstoolError as e:
            self.call_from_thread(self.notify, f"{what}: {e}", severity="error")
            self.call_from_thread(self.request_load)
            return
        if done is not None:
            self.call_from_thread(done, result)
        self.call_from_thread(self.request_load)

    def on_composer_submitted(self, message: Composer.Submitted) -> None:
        if self.current is None:
            self.notify("没有打开的会话：先按 F2 接入", severity="warning")
            return
        composer = self.query_one(Composer)
        text, conv = message.text, self.current
        composer.clear()

        def restore(_: Any = None) -> None:
            if not composer.text:
                composer.insert(text)

        def send() -> Any:
            try:
                return self.backend.reply(self.agent, conv, text)
            except CstoolError:
                self.call_from_thread(restore)
                raise

        def shown(message: dict) -> None:
            if self.conv is not None and self.conv["id"] == conv:
                self.conv["messages"].append(message)
                self.query_one(Transcript).append(self.conv, message)

        self.act("发送失败", send, shown)

    def on_composer_quick_replies(self, _: Composer.QuickReplies) -> None:
        self.action_quick_replies()

    def action_accept(self) -> None:
        """Take the next waiting chat."""

        def done(conv: dict | None) -> None:
            if conv is None:
                self.notify("没有等待中的客户 Nothing is waiting", severity="information")
            else:
                self.current = conv["id"]

        self.act("接入", lambda: self.backend.accept_next(self.agent), done)

    def _chat_ids(self) -> list[int]:
        return [c["id"] for c in (self.desk or {}).get("chats", [])]

    def _switch(self, step: int) -> None:
        ids = self._chat_ids()
        if not ids:
            return
        i = ids.index(self.current) if self.current in ids else -1
        self.current = ids[(i + step) % len(ids)]
        self.request_load()

    def action_next_chat(self) -> None:
        """Switch to the next chat."""
        self._switch(1)

    def action_prev_chat(self) -> None:
        """Switch to the previous chat."""
        self._switch(-1)

    def action_next_unread(self) -> None:
        """Go to the next chat with unread messages."""
        chats = (self.desk or {}).get("chats", [])
        ids = [c["id"] for c in chats]
        start = ids.index(self.current) + 1 if self.current in ids else 0
        for c in chats[start:] + chats[:start]:
            if c["unread"]:
                self.current = c["id"]
                self.request_load()
                return
        self.notify("没有未读消息 No unread chats")

    def _need_chat(self) -> bool:
        if self.current is None or self.conv is None:
            self.notify("没有打开的会话 No chat open", severity="warning")
            return False
        return True

    def _pick(self, title: str, load: Callable[[], list[tuple[str, str]]],
              then: Callable[[str], None], empty: str) -> None:
        """Load choices in a worker, show the picker, run ``then`` with the choice."""

        def show(items: list[tuple[str, str]]) -> None:
            if not items:
                self.notify(empty, severity="warning")
                return
            self.push_screen(PickScreen(title, items), lambda key: key and then(key))

        self.act(title, load, show)

    def action_quick_replies(self) -> None:
        """Pick a canned reply and put it into the reply box."""
        if not self._need_chat():
            return
        shop = self.conv["shop"]

        def load() -> list[tuple[str, str]]:
            try:
                rows = self.backend.list("quick_replies", shop=shop)
            except CstoolError:
                return []
            return [(r["body"], f"{r['title']}：{r['body']}") for r in rows
                    if r.get("agent") in (None, self.agent)]

        def insert(body: str) -> None:
            self.query_one(Composer).insert(body)
            self.query_one(Composer).focus()

        self._pick("快捷回复 Quick replies", load, insert, "这家店还没有快捷回复")

    def action_send_product(self) -> None:
        """Send a product card."""
        if not self._need_chat():
            return
        shop, conv = self.conv["shop"], self.current
        self._pick(
            "发送商品 Send a product",
            lambda: [(p["key"], f"{p['title']} ¥{p['price']}")
                     for p in self.backend.list("products", shop=shop)],
            lambda key: self.act("发送商品", lambda: self.backend.send_card(
                self.agent, conv, "product", key)),
            "这家店没有商品")

    def action_send_coupon(self) -> None:
        """Send a coupon the customer will hold."""
        if not self._need_chat():
            return
        shop, conv = self.conv["shop"], self.current
        self._pick(
            "发送优惠券 Send a coupon",
            lambda: [(c["key"], c["name"]) for c in self.backend.list("coupons", shop=shop)],
            lambda key: self.act("发券", lambda: self.backend.send_card(
                self.agent, conv, "coupon", key)),
            "这家店没有优惠券")

    def action_invite(self) -> None:
        """Invite the customer to order a product at the price after discounts."""
        if not self._need_chat():
            return
        if not hasattr(self.backend, "invite"):
            self.notify("邀请下单需要价格计算（尚未提供）", severity="warning")
            return
        shop, conv = self.conv["shop"], self.current
        self._pick(
            "邀请下单 Invite to order",
            lambda: [(p["key"], f"{p['title']} ¥{p['price']}")
                     for p in self.backend.list("products", shop=shop)
                     if p.get("status") == "on_sale"],
            lambda key: self.act("邀请下单", lambda: self.backend.invite(
                conv, self.agent, key)),
            "这家店没有在售商品")

    def action_transfer(self) -> None:
        """Transfer to an agent or a group, with a note for the next agent."""
        if not self._need_chat():
            return
        shop, conv = self.conv["shop"], self.current

        def load() -> list[tuple[str, str]]:
            groups = [(f"group:{g['key']}", f"组 {g['name']} ({g['key']})")
                      for g in self.backend.list("groups", shop=shop)]
            agents = [(f"agent:{a['handle']}", f"客服 {a['name']} ({a['handle']}) {a['status']}")
                      for a in self.backend.list("agents", shop=shop)
                      if a["handle"] != self.agent]
            return groups + agents

        def with_note(target: str) -> None:
            def go(note: str | None) -> None:
                if note is None:
                    return
                kind, key = target.split(":", 1)
                self.act("转接", lambda: self.backend.transfer(
                    conv, by=self.agent, note=note,
                    to_agent=key if kind == "agent" else None,
                    to_group=key if kind == "group" else None))

            self.push_screen(PromptScreen("转接说明 Note for the next agent", "例如：问退货"), go)

        self._pick("转接给 Transfer to", load, with_note, "没有可转接的对象")

    def action_close_chat(self) -> None:
        """Close the open chat; the customer is asked for a 1-5 rating."""
        if not self._need_chat():
            return
        conv = self.current
        self.act("结束会话", lambda: self.backend.close_conversation(conv, by=self.agent))

    def action_status(self) -> None:
        """Set my status."""
        items = [("online", "在线 online"), ("busy", "忙碌 busy（不自动分配）"),
                 ("away", "离开 away"), ("offline", "离线 offline（会话转回排队）")]
        self.push_screen(
            PickScreen("我的状态 My status", items),
            lambda s: s and self.act("状态", lambda: self.backend.set_agent_status(
                self.agent, s), lambda r: self.notify(f"状态：{r['status']}")))

    def action_search(self) -> None:
        """Search my chat history."""

        def results(text: str | None) -> None:
            if not text:
                return

            def show(rows: list[dict]) -> None:
                if not rows:
                    self.notify(f"没有找到「{text}」")
                    return
                items = [(str(r["conversation"]),
                          f"#{r['conversation']} {r['customer_name']} {r['sender']}: "
                          f"{r['body'][:40]}") for r in rows]
                self.push_screen(PickScreen(f"搜索：{text}", items), self._open_from_search)

            self.act("搜索", lambda: self.backend.search_history(self.agent, text), show)

        self.push_screen(PromptScreen("搜索历史 Search history", "关键词"), results)

    def action_ticket(self) -> None:
        """Raise a ticket from the open chat: pick the type, write the title."""
        if not self._need_chat():
            return
        conv = self.current
        types = [("complaint", "投诉 complaint"), ("return_refund", "退货退款 return/refund"),
                 ("damaged_goods", "商品破损 damaged goods"),
                 ("delivery_delay", "物流延误 delivery delay"),
                 ("installation_delay", "安装延误 installation delay"),
                 ("invoice", "发票 invoice"), ("other", "其他 other")]

        def with_title(kind: str) -> None:
            def go(title: str | None) -> None:
                if not title:
                    return
                self.act("创建工单", lambda: self.backend.create_ticket(
                    type=kind, title=title, conversation=conv, by=self.agent,
                    assignee=self.agent),
                    lambda t: self.notify(f"工单 #{t['id']} 已创建，首次响应截止 "
                                          f"{t['first_response_due'][5:16].replace('T', ' ')}"))

            self.push_screen(PromptScreen("工单标题 Ticket title", "例如：奶瓶破损，需补发"), go)

        self.push_screen(PickScreen("工单类型 Ticket type", types),
                         lambda kind: kind and with_title(kind))

    def action_my_tickets(self) -> None:
        """My open tickets, the nearest deadline first, marked by SLA state."""
        marks = {"ok": "●", "warning": "▲", "breached": "✖", "met": "✓"}

        def load() -> list[tuple[str, str]]:
            rows = self.backend.list_tickets(assignee=self.agent, status="open")
            out = []
            for t in rows:
                pending = "first_response" if not t["first_responded_at"] else "resolution"
                state = t["sla"][pending]["state"]
                due = t[f"{pending}_due" if pending == "resolution" else "first_response_due"]
                out.append((str(t["id"]), f"{marks.get(state, '·')} #{t['id']} {t['priority']} "
                            f"{t['title']}  截止 {due[5:16].replace('T', ' ')} ({state})"))
            return out

        self._pick("我的工单 My tickets", load,
                   lambda tid: self.notify(f"工单 #{tid}: cstool ticket show {tid}"),
                   "没有进行中的工单")

    def _open_from_search(self, conv_id: str | None) -> None:
        if conv_id is None:
            return
        if int(conv_id) in self._chat_ids():
            self.current = int(conv_id)
            self.request_load()
        else:
            self.notify(f"会话 {conv_id} 已结束或不在我这里", severity="information")

    def action_suggestion(self, n: str) -> None:
        """Insert a knowledge suggestion's answer into the reply box."""
        i = int(n) - 1
        if i >= len(self.suggestions):
            self.notify("没有这条建议", severity="warning")
            return
        self.query_one(Composer).insert(str(self.suggestions[i].get("answer", "")))
        self.query_one(Composer).focus()

    def action_toggle_context(self) -> None:
        """Show or hide the customer panel (on narrow screens it replaces the chat list)."""
        self.screen.toggle_class("context")

    def action_help(self) -> None:
        """All keys."""
        rows = []
        for b in self.BINDINGS:
            what = next((a[3] for a in ACTIONS if a[0] == b.id), b.description)
            keys = self._keymap.get(b.id, b.key)
            rows.append((keys, what))
        rows.append(("enter / ctrl+j", "发送 send / 换行 new line (in the reply box)"))
        self.push_screen(HelpScreen(rows))

    def get_system_commands(self, screen) -> Any:
        yield from super().get_system_commands(screen)
        for action_id, _keys, label, what, _show in ACTIONS:
            if action_id.startswith("suggestion_") or action_id == "quit":
                continue
            yield SystemCommand(f"{label} · {what}", what,
                                getattr(self, f"action_{action_id}"))

    # -- the demo's customers -----------------------------------------------------------------
    @work(thread=True, group="simulator", exit_on_error=False)
    def run_simulator(self) -> None:
        """Customers of the demo mall writing in, at the simulator's pace (worker thread)."""
        self.simulator.run(lambda: self.is_running)


def stylesheet() -> Path:
    """The console's stylesheet file."""
    return Path(__file__).with_name("console.tcss")
