"""The agent console: a keyboard-only chat desk on any Backend.

Storage is never touched on the UI thread: reads run in one exclusive worker that
polls the event log (a new poll is armed only after the last one finished), writes
run in their own workers and then ask for a refresh. Every action has a Binding with
an id (remappable from ``keys.toml``), a footer entry, a help line and a command in
the palette.

Long because: the console is one Textual ``App`` whose actions share its state (the desk
snapshot, the current chat, the composer, the read worker); cutting the class into
mixins over several files would spread one object over modules that call each other's
private helpers through ``self``, what issue #18 removes from the backend. What is not
the app lives beside it: ``keys.py``, ``keybar.py``, ``notices.py``, ``screens.py``,
``widgets.py``, ``cjk_text.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from rich.markup import escape as markup_escape
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Header
from textual.worker import Worker

from cstool.api.backend import Backend
from cstool.bot.mining import Exchange, exchanges
from cstool.cjk_wrap import cut
from cstool.errors import CstoolError
from cstool.i18n import error_text, t, value
from cstool.pricing import coupon_valid_at
from cstool.shop_hours import closed_notice
from cstool.text_rules import terminal_safe
from cstool.values import money, parse_time, short_time

from .conv_files import FilesMixin
from .conv_marks import MarksMixin
from .conv_tools import ToolsMixin
from .keybar import KeyBar, key_label
from .notices import NoticeBar, NoticesMixin
from .screens import (
    ChoiceScreen,
    ConfirmScreen,
    HelpScreen,
    PickScreen,
    PromptScreen,
    localize_bindings,
    localized_system_commands,
    open_command_palette,
)
from .widgets import (
    ChatList,
    Composer,
    CustomerPanel,
    Suggestions,
    Transcript,
    empty_hint,
    my_queue,
)

# (id, default keys, key-line label, what it does, key-line priority: lower shows first,
# None: not on the key line); the label and the help line are catalog ids (cstool/i18n):
# ``key.<id>`` and ``help.<id>``. Every default key reaches the app in tmux, xterm/GNOME
# Terminal, Windows Terminal and macOS Terminal/iTerm2 as they come: no Alt+digit (macOS
# types "¡"), no Ctrl+arrows alone (macOS Spaces), no F10/F11 (GNOME menu, full screen),
# no Ctrl+B (tmux), no Ctrl+V (Windows Terminal pastes). F1 is kept beside the palette
# (Ctrl+P lists every action), since GNOME Terminal may take F1 for its own help.
ACTIONS: list[tuple[str, str, str, str, int | None]] = [
    ("help", "f1", "key.help", "help.help", 0),
    ("accept", "f2", "key.accept", "help.accept", 1),
    ("next_unread", "f3", "key.next_unread", "help.next_unread", 7),
    ("send_product", "f4", "key.send_product", "help.send_product", 8),
    ("send_coupon", "f5", "key.send_coupon", "help.send_coupon", 9),
    ("invite", "f6", "key.invite", "help.invite", 10),
    ("transfer", "f7", "key.transfer", "help.transfer", 4),
    ("close_chat", "f8", "key.close_chat", "help.close_chat", 2),
    ("status", "f9", "key.status", "help.status", 5),
    ("reopen", "ctrl+r", "key.reopen", "help.reopen", 12),
    ("quick_replies", "ctrl+o", "key.quick_replies", "help.quick_replies", 11),
    ("suggestions", "ctrl+g", "key.suggestions", "help.suggestions", 13),
    ("learn", "ctrl+e", "key.learn", "help.learn", None),
    ("search", "ctrl+f", "key.search", "help.search", None),
    ("ticket", "ctrl+k", "key.ticket", "help.ticket", None),
    ("my_tickets", "ctrl+y", "key.my_tickets", "help.my_tickets", None),
    # issue 22: labels and private notes (tui/conv_marks.py)
    ("label", "ctrl+l", "key.label", "help.label", None),
    ("note", "ctrl+n", "key.note", "help.note", None),
    ("whisper", "ctrl+s", "key.whisper", "help.whisper", None),
    # issue 21: pictures and files in chats (tui/conv_files.py)
    ("files", "ctrl+d", "key.files", "help.files", None),
    # issue 22: macros and follow-up lists (tui/conv_tools.py)
    ("macro", "ctrl+x", "key.macro", "help.macro", None),
    ("follow_ups", "ctrl+w", "key.follow_ups", "help.follow_ups", None),
    ("next_chat", "tab,ctrl+down", "key.next_chat", "help.next_chat", 14),
    ("prev_chat", "shift+tab,ctrl+up", "key.prev_chat", "help.prev_chat", None),
    ("toggle_context", "ctrl+t", "key.toggle_context", "help.toggle_context", 15),
    ("clear_reply", "ctrl+u", "key.clear_reply", "help.clear_reply", None),
    ("quit", "ctrl+q", "key.quit", "help.quit", 3),
]
# The reply box's own keys (remappable too).
COMPOSER_KEYS = {"send": "enter", "newline": "ctrl+j"}
# How long after closing a chat it can be reopened from the console.
REOPEN_WINDOW_S = 600


def learnable(messages: list[dict]) -> Exchange | None:
    """The chat's last customer question an agent answered: what the right panel offers
    to propose for the knowledge base (None: nothing answered yet)."""
    found = exchanges(0, messages)
    return found[-1] if found else None


def default_keys() -> dict[str, str]:
    """Every remappable binding id with its default keys."""
    return {**{a[0]: a[1] for a in ACTIONS}, **COMPOSER_KEYS}


DESK_ACTIONS = {a[0] for a in ACTIONS if a[0] not in ("help", "quit")} | {"suggestion"}


def _when(iso: str) -> str:
    try:
        return short_time(parse_time(iso))
    except ValueError:
        return iso


def status_text(status: str) -> str:
    """An agent status for display (在线 / online)."""
    return value("status", status)


def shown_error(e: Exception, me: str = "", names: dict[str, str] | None = None) -> str:
    """A refusal in the interface language, by its error code and parameters (never by its
    English text); an agent's handle shown as their name, "you" when it is ``me``."""
    return error_text(e, me=me or None, names=names)


def _bindings() -> list[Binding]:
    return [Binding(keys, action_id, label, id=action_id, show=False, priority=True)
            for action_id, keys, label, _what, _order in ACTIONS]


class ConsoleApp(NoticesMixin, MarksMixin, FilesMixin, ToolsMixin, App):
    """One agent's chat desk."""

    CSS_PATH = "console.tcss"
    TITLE = "cstool"
    BINDINGS = _bindings()
    # Below 110 columns the customer panel hides (ctrl+t swaps it in for the chat list);
    # from 160 the side panels grow with the screen.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide"), (160, "-xwide")]

    def __init__(
        self,
        backend: Backend,
        agent: str,
        *,
        poll_s: float = 1.0,
        keymap: dict[str, str] | None = None,
        keymap_warning: str | None = None,
        simulator: Any = None,
        now_ms: Callable[[], int] | None = None,
    ):
        super().__init__()
        localize_bindings(self)
        self.title = t("console.title")
        self.backend = backend
        self.agent = agent
        self.poll_s = poll_s
        self.simulator = simulator
        self._now = now_ms or backend.clock.now_ms
        self._keymap = keymap or {}
        self._keymap_warning = keymap_warning
        self.desk: dict | None = None
        self.current: int | None = None
        # The open chat is not mine (closed, or someone else's, opened from the search):
        # its transcript only, the reply box read-only.
        self.readonly = False
        self.conv: dict | None = None
        self.context: dict | None = None
        self.suggestions: list[dict] = []
        self.cursor = 0
        # One draft per chat: what the reply box held when the agent left it.
        self.drafts: dict[int | None, str] = {}
        # Chats I closed or handed over myself (they leave without a "taken away" notice).
        self._left: set[int] = set()
        self._proposed: set[int] = set()  # chats whose answer I proposed (Ctrl+E) already
        # Transfer notes kept after a refused transfer, for the next F7 on that chat.
        self._notes: dict[int, str] = {}
        self._agent_names: dict[str, str] = {}  # handle -> name, to sign messages
        self._named_shops: set[str] = set()  # shops whose agents' names are known
        self._known_chats: set[int] | None = None
        self._loading = False
        self._dirty = False
        # Chats I took myself (accepted, reopened): they come without the 新客户 bell.
        self._taken: set[int] = set()
        self._accepting = False  # an F2 in flight: what comes meanwhile is that chat
        # The chat I closed last, when, and who (for Ctrl+R 重开).
        self._last_closed: tuple[int, float, str] | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a picker, prompt or question is open, the desk's keys wait (they would
        stack a second dialog, or act on the chat behind it); help and quit work."""
        if action in DESK_ACTIONS and isinstance(self.screen, ModalScreen):
            return False
        return True

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
        yield NoticeBar(id="notices")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        if self._keymap_warning:
            self.notify(self._keymap_warning, severity="warning")
        self.sub_title = self.agent
        self._show_keys()
        composer = self.query_one(Composer)
        composer.cursor_blink = False
        composer.border_title = t("console.no_chat_title")
        composer.focus()
        self.query_one(CustomerPanel).show(None)
        self.query_one(Suggestions).show([])
        self.query_one(Transcript).show(None)
        self.load()
        self.read_shops()
        self.set_interval(self.poll_s, self.tick)
        self.start_presence_feed()
        if self.simulator is not None:
            self.run_simulator()

    def _show_keys(self) -> None:
        """Fill the key line from the bindings as remapped."""
        entries = [(key_label(self._keymap.get(a[0], a[1])), t(a[2]), a[4])
                   for a in ACTIONS if a[4] is not None]
        entries.append(("^P", t("key.all"), 6))
        self.query_one(KeyBar).set_entries(entries)
        self.query_one(Suggestions).key_hint = key_label(
            self._keymap.get("suggestions", "ctrl+g"))

    # -- loading (one reader at a time) ----------------------------------------------------
    @work(thread=True, group="shops", exit_on_error=False)
    def read_shops(self) -> None:
        """The agent's shops (their hours), read once for the closed-shop line."""
        shops = [self.backend.get("shops", k)
                 for k in self.backend.get("agents", self.agent).get("shops", [])]
        self.call_from_thread(self._show_hours, shops)

    def _show_hours(self, shops: list[dict] | None = None) -> None:
        """The header says which of my shops is closed and when it opens."""
        if shops is not None:
            self._shops = shops
        kept = self.backend.kept_open
        compact = self.size.width < 100  # narrow: the display zone's time only
        notes = [n for s in getattr(self, "_shops", ()) if (n := closed_notice(
            s, self._now(), kept_open=s["key"] in kept, compact=compact))]
        # the closed shops, else who I am (小美, not lf-xiaomei): one place decides, so
        # the header does not flip between the two on every poll
        self.sub_title = t("hours.separator").join(notes) or (
            (getattr(self, "desk", None) or {}).get("agent", {}).get("name") or self.agent)

    def tick(self) -> None:
        """Every poll: redraw waiting times; renew my presence in the open chat; reload
        when the event log moved."""
        if not self.query(ChatList):  # the desk is not built yet, or the app is quitting
            return
        self._show_hours()
        self.presence_tick()
        if self.desk is not None:
            self.query_one(ChatList).render_desk(self.desk, self.current, self._now())
        if self._loading:
            return
        self.load(check_events=True)

    def load(self, check_events: bool = False) -> None:
        """Read the desk and the open chat now, or right after the read in progress."""
        if self._loading:
            if not check_events:
                self._dirty = True
            return
        self._loading = True
        self._read(self.current, self.readonly, check_events,
                   frozenset(self._known_chats or ()))

    request_load = load

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "load" and event.worker.is_finished:
            self._loading = False
            if self._dirty:
                self._dirty = False
                self.load()

    @work(thread=True, group="load", exit_on_error=False)
    def _read(self, wanted: int | None, readonly: bool, check_events: bool,
              known: frozenset[int]) -> None:
        """Read the desk, the chat ``wanted`` (or another one if it left), its customer
        and suggestions, and how the chats that left my desk (of ``known``) left (worker
        thread)."""
        if check_events and not self.backend.events(after=self.cursor, limit=1):
            return
        desk = self.backend.agent_desk(self.agent)
        ids = [c["id"] for c in desk["chats"]]
        if not readonly and wanted is not None:
            known = known | {wanted}
        gone = {cid: self._gone_how(cid) for cid in known - set(ids)}
        if wanted is not None and (readonly or wanted in ids):
            current = wanted
        else:
            current = ids[0] if ids else None
            readonly = False
        conv = ctx = None
        suggestions: list[dict] = []
        if readonly:
            try:
                conv = self.backend.get_conversation(current)
            except CstoolError as e:
                self.call_from_thread(self.notify, t("console.cannot_open", conversation=current,
                                                         error=shown_error(e)),
                                      severity="error")
                current, readonly = (ids[0] if ids else None), False
        if current is not None:
            chat = next((c for c in desk["chats"] if c["id"] == current), None)
            if chat is not None and chat["unread"] and not readonly:
                self.backend.mark_seen(self.agent, current)
                chat["unread"] = False
            if conv is None:
                conv = self.backend.get_conversation(current)
            if conv["shop"] not in self._named_shops:
                try:
                    agents = self.backend.list("agents", shop=conv["shop"])
                except CstoolError:
                    agents = []
                self._agent_names.update((a["handle"], a["name"]) for a in agents)
                self._named_shops.add(conv["shop"])
            try:
                ctx = self.backend.customer_context(current)
            except CstoolError:
                ctx = None
            if not readonly:
                try:
                    suggestions = self.backend.suggest_answers(current)
                except CstoolError:
                    suggestions = []
        self.call_from_thread(self._show, desk, wanted, current, readonly, conv, ctx,
                              suggestions, gone)

    def _gone_how(self, conv_id: int) -> str:
        """Why a chat left my desk: closed, or handed to someone else or back to the
        queue."""
        try:
            state = self.backend.get_conversation(conv_id)["state"]
        except CstoolError:
            return t("console.gone.unknown")
        return t("console.gone.closed") if state == "closed" else t("console.gone.moved")

    def _show(self, desk: dict, wanted: int | None, current: int | None, readonly: bool,
              conv: dict | None, ctx: dict | None, suggestions: list[dict],
              gone: dict[int, str]) -> None:
        if not self.query(ChatList):  # a read that ends while the app quits
            return
        if wanted != self.current:
            # The agent moved to another chat while this was read: the read that follows
            # shows it (and tells of chats that came or left); only the chat list is new.
            self._dirty = True
            self.query_one(ChatList).render_desk(desk, self.current, self._now())
            return
        new = {c["id"] for c in desk["chats"]}
        if self._known_chats is not None:
            for c in desk["chats"]:
                if c["id"] not in self._known_chats and c["id"] not in self._taken \
                        and not self._accepting:
                    # given to me by routing or a transfer: ring; a chat I took (F2, a
                    # reopen) needs no bell
                    self.notify(t("console.new_chat", customer=c["customer_name"], shop=c["shop"]),
                                title=t("console.new_chat_title"))
                    self.bell()
        self._taken.difference_update(new)
        self._known_chats = new
        old_desk, self.desk = self.desk, desk
        self._show_hours()
        self.cursor = max(self.cursor, desk["last_event"])
        for conv_id, how in sorted(gone.items()):
            self._chat_left(conv_id, how, old_desk)
        self._set_current(current, readonly)
        same = self.conv is not None and conv is not None and self.conv["id"] == conv["id"]
        self.conv, self.context, self.suggestions = conv, ctx, suggestions
        self.query_one(ChatList).render_desk(desk, current, self._now())
        names = {**self._agent_names, self.agent: desk["agent"]["name"]}
        self.query_one(Transcript).show(conv, same_chat=same, readonly=readonly,
                                        hint=empty_hint(desk), names=names)
        self.query_one(CustomerPanel).show(ctx)
        learn = None if readonly or conv is None or current in self._proposed \
            else learnable(conv["messages"])
        self.query_one(Suggestions).show(suggestions, learn,
                                         key_label(self._keymap.get("learn", "ctrl+e")))
        self._label_composer()

    def _chat_left(self, conv_id: int, how: str, old_desk: dict | None) -> None:
        """A chat left my desk: say so (unless I closed or handed it over myself) with its
        unsent draft, which goes into no other chat."""
        if self.current == conv_id and not self.readonly:
            self.drafts[conv_id] = self.query_one(Composer).text
            self.query_one(Composer).clear()
            self.current = None
        draft = self.drafts.pop(conv_id, "").strip()
        self._notes.pop(conv_id, None)
        kept = t("console.draft_kept", draft=draft[:30] + ("…" if len(draft) > 30 else "")) \
            if draft else ""
        if conv_id in self._left:
            self._left.discard(conv_id)
            if draft:
                self.notify(t("console.draft_not_sent", conversation=conv_id, kept=kept),
                            severity="warning")
            return
        name = next((c["customer_name"] for c in (old_desk or {}).get("chats", [])
                     if c["id"] == conv_id), "")
        # with the customer's name when known; no space before the state after Chinese
        # brackets (the catalogs place every space)
        text = t("console.chat_left", conversation=conv_id, customer=name, how=how,
                 kept=kept) if name else \
            t("console.chat_left_noname", conversation=conv_id, how=how, kept=kept)
        self.notify(text,
                    title=t("console.chat_left_title"), severity="warning", timeout=10)

    def _set_current(self, conv_id: int | None, readonly: bool = False) -> None:
        """Open another chat: the reply box keeps each chat's own draft."""
        composer = self.query_one(Composer)
        if conv_id != self.current:
            if self.current is not None and not self.readonly:
                self.drafts[self.current] = composer.text
            composer.clear()
            if not readonly:
                text = self.drafts.pop(conv_id, "")
                if text:
                    composer.insert(text)
        self.current, self.readonly = conv_id, readonly
        composer.read_only = readonly
        self._label_composer()

    def _label_composer(self) -> None:
        """The reply box's border names who a reply goes to."""
        composer = self.query_one(Composer)
        if self.current is None:
            composer.border_title = t("console.no_chat_title")
            return
        name = next((c["customer_name"] for c in (self.desk or {}).get("chats", [])
                     if c["id"] == self.current), None)
        if name is None and self.conv is not None and self.conv["id"] == self.current:
            name = self.conv["customer_name"]
        name = markup_escape(terminal_safe(str(name or "")))  # the border reads markup
        if self.readonly:
            composer.border_title = t("console.readonly_title", customer=name or "")
        else:
            composer.border_title = t("console.reply_to", customer=name or "")

    # -- writes (each in a worker, then a reload) --------------------------------------------
    @work(thread=True, group="act", exit_on_error=False)
    def act(self, what: str, fn: Callable[[], Any], done: Callable[[Any], None] | None = None,
            failed: Callable[[CstoolError], None] | None = None) -> None:
        """Run a backend write off the UI thread; tell the agent if it was refused."""
        try:
            result = fn()
        except CstoolError as e:
            self.call_from_thread(
                self.notify, t("console.failed", what=what,
                               error=shown_error(e, self.agent, self._agent_names)),
                severity="error")
            if failed is not None:
                self.call_from_thread(failed, e)
            self.call_from_thread(self.request_load)
            return
        if done is not None:
            self.call_from_thread(done, result)
        self.call_from_thread(self.request_load)

    def on_composer_submitted(self, message: Composer.Submitted) -> None:
        if self.current is None:
            self.notify(t("console.no_chat_accept_first"), severity="warning")
            return
        if self.readonly:
            self.notify(t("console.readonly_no_reply"), severity="warning")
            return
        composer = self.query_one(Composer)
        text, conv = message.text, self.current
        composer.clear()

        def restore(_: Any = None) -> None:
            # the text goes back to its own chat's draft, wherever the agent is now
            if self.current == conv and not self.readonly:
                if not composer.text:
                    composer.insert(text)
            elif not self.drafts.get(conv):
                self.drafts[conv] = text

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

        self.act(t("console.send_failed"), send, shown)

    def on_composer_quick_replies(self, _: Composer.QuickReplies) -> None:
        self.action_quick_replies()

    def action_accept(self) -> None:
        """Take the next waiting chat."""

        def done(conv: dict | None) -> None:
            if conv is None:
                others = my_queue(self.desk)[1] if self.desk else 0
                more = t("console.others_waiting", n=others) if others else ""
                self.notify(t("console.nothing_waiting", more=more), severity="information")
            else:
                self._set_current(conv["id"])

        def take() -> dict | None:
            try:
                conv = self.backend.accept_next(self.agent)
                if conv is not None:
                    self._taken.add(conv["id"])
                return conv
            finally:
                self._accepting = False

        self._accepting = True
        self.act(t("console.accept"), take, done)

    def _chat_ids(self) -> list[int]:
        return [c["id"] for c in (self.desk or {}).get("chats", [])]

    def _switch(self, step: int) -> None:
        ids = self._chat_ids()
        if not ids:
            return
        i = ids.index(self.current) if self.current in ids else (-1 if step > 0 else 0)
        self._set_current(ids[(i + step) % len(ids)])
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
                self._set_current(c["id"])
                self.request_load()
                return
        self.notify(t("console.no_unread"))

    def _need_chat(self) -> bool:
        if self.current is None or self.conv is None or self.conv["id"] != self.current:
            self.notify(t("console.no_chat"), severity="warning")
            return False
        if self.readonly:
            self.notify(t("console.readonly"), severity="warning")
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
            return [(r["body"], t("console.quick_reply_item", title=r["title"], body=r["body"]))
                    for r in rows
                    if r.get("agent") in (None, self.agent)]

        def insert(body: str) -> None:
            self.query_one(Composer).insert(body)
            self.query_one(Composer).focus()

        self._pick(t("console.quick_replies"), load, insert, t("console.no_quick_replies"))

    def action_send_product(self) -> None:
        """Send a product card (products on sale only)."""
        if not self._need_chat():
            return
        shop, conv = self.conv["shop"], self.current
        titles: dict[str, str] = {}

        def load() -> list[tuple[str, str]]:
            rows = [p for p in self.backend.list("products", shop=shop)
                    if p.get("status", "on_sale") == "on_sale"]
            titles.update((p["key"], p["title"]) for p in rows)
            return [(p["key"], f"{p['title']} {money(p['price'])}") for p in rows]

        self._pick(
            t("console.send_product"), load,
            lambda key: self.act(t("console.send_product_failed", product=titles.get(key, key)),
                                 lambda: self.backend.send_card(self.agent, conv, "product", key)),
            t("console.no_products"))

    def action_send_coupon(self) -> None:
        """Send a coupon the customer will hold: only coupons valid now that the customer
        does not hold yet are offered."""
        if not self._need_chat():
            return
        shop, conv = self.conv["shop"], self.current
        ctx = self.context if (self.context or {}).get("conversation") == conv else None
        held = {c["key"] for c in (ctx or {}).get("coupons", [])}
        names: dict[str, str] = {}

        def usable(c: dict, now: int) -> bool:
            try:
                valid = coupon_valid_at(c, now)  # the coupon rule is the core's
            except ValueError:
                valid = True  # a time the console cannot read: send_card decides
            return valid and c["key"] not in held

        def load() -> list[tuple[str, str]]:
            now = self._now()
            rows = [c for c in self.backend.list("coupons", shop=shop) if usable(c, now)]
            names.update((c["key"], c["name"]) for c in rows)
            return [(c["key"], c["name"] + (t("console.coupon_until", at=_when(c["valid_to"]))
                                             if c.get("valid_to") else "")) for c in rows]

        self._pick(
            t("console.send_coupon"), load,
            lambda key: self.act(t("console.send_coupon_failed", coupon=names.get(key, key)),
                                 lambda: self.backend.send_card(self.agent, conv, "coupon", key)),
            t("console.no_coupons"))

    def action_invite(self) -> None:
        """Invite the customer to order a product at the price after discounts."""
        if not self._need_chat():
            return
        shop, conv = self.conv["shop"], self.current
        self._pick(
            t("console.invite"),
            lambda: [(p["key"], f"{p['title']} {money(p['price'])}")
                     for p in self.backend.list("products", shop=shop)
                     if p.get("status") == "on_sale"],
            lambda key: self.act(t("console.invite"), lambda: self.backend.invite(
                conv, self.agent, key)),
            t("console.no_products"))

    def action_transfer(self) -> None:
        """Transfer to an agent or a group, with a note for the next agent (a refused
        transfer keeps the note for the next try)."""
        if not self._need_chat():
            return
        shop, conv = self.conv["shop"], self.current
        names: dict[str, str] = {}

        def load() -> list[tuple[str, str]]:
            groups = self.backend.list("groups", shop=shop)
            agents = [a for a in self.backend.list("agents", shop=shop)
                      if a["handle"] != self.agent]
            names.update((f"group:{g['key']}", g["name"]) for g in groups)
            names.update((f"agent:{a['handle']}", a["name"]) for a in agents)
            self._agent_names.update((a["handle"], a["name"]) for a in agents)
            return ([(f"group:{g['key']}", t("console.transfer_group", name=g["name"],
                                              group=g["key"])) for g in groups]
                    + [(f"agent:{a['handle']}", t("console.transfer_agent", name=a["name"],
                                                  agent=a["handle"],
                                                  status=status_text(a["status"])))
                       for a in agents])

        def with_note(target: str) -> None:
            name = names.get(target, target)

            def done(result: dict) -> None:
                self._notes.pop(conv, None)
                queued = t("console.queued") if result.get("state") == "queued" else ""
                self.notify(t("console.transferred", name=name, queued=queued))

            def go(note: str | None) -> None:
                if note is None:
                    return
                kind, key = target.split(":", 1)
                self._notes[conv] = note
                self._left.add(conv)  # before the write: a poll may see it gone first
                self.act(t("console.transfer_failed", name=name), lambda: self.backend.transfer(
                    conv, by=self.agent, note=note,
                    to_agent=key if kind == "agent" else None,
                    to_group=key if kind == "group" else None), done,
                    lambda _: self._left.discard(conv))

            self.push_screen(PromptScreen(t("console.transfer_note"),
                                          t("console.transfer_note_hint"),
                                          value=self._notes.get(conv, "")), go)

        self._pick(t("console.transfer_to"), load, with_note, t("console.no_transfer_target"))

    def action_close_chat(self) -> None:
        """Close the open chat; the customer is asked for a 1-5 rating. When the
        customer's last message has no answer yet, ask first."""
        if not self._need_chat():
            return
        conv, name = self.current, self.conv["customer_name"]
        said = [m for m in self.conv["messages"] if m["sender"] in ("customer", "agent")]
        if said and said[-1]["sender"] == "customer":
            last = said[-1]["body"].replace("\n", " ")

            def answered(yes: bool | None) -> None:
                if yes and self.current == conv:
                    self._close(conv, name)

            key = key_label(self._keymap.get("reopen", "ctrl+r"))
            self.push_screen(ConfirmScreen(
                t("console.close_ask_title", customer=name),
                t("console.close_ask_body", last=cut(last, 60), key=key,
                  minutes=REOPEN_WINDOW_S // 60),
                t("console.close_ask_keys")), answered)
            return
        self._close(conv, name)

    def _close(self, conv: int, name: str) -> None:
        def done(_: Any) -> None:
            self._last_closed = (conv, time.monotonic(), name)
            key = key_label(self._keymap.get("reopen", "ctrl+r"))
            self.notify(t("console.closed_reopen", conversation=conv, customer=name, key=key))

        self._left.add(conv)  # before the write: a poll may see it gone first
        self.act(t("console.close_failed"),
                 lambda: self.backend.close_conversation(conv, by=self.agent), done,
                 lambda _: self._left.discard(conv))

    def action_reopen(self) -> None:
        """Reopen the chat I closed last, within REOPEN_WINDOW_S of closing it."""
        last = self._last_closed
        if last is None or time.monotonic() - last[1] > REOPEN_WINDOW_S:
            self.notify(t("console.nothing_to_reopen", minutes=REOPEN_WINDOW_S // 60),
                        severity="warning")
            return
        conv, _, name = last

        def reopen() -> dict:
            self._taken.add(conv)
            return self.backend.reopen_conversation(conv, by=self.agent)

        def done(_: Any) -> None:
            self._last_closed = None
            self._set_current(conv)
            self.notify(t("console.reopened", conversation=conv, customer=name))

        self.act(t("console.reopen_failed"), reopen, done, lambda _: self._taken.discard(conv))

    def action_clear_reply(self) -> None:
        """Clear the reply box (the open chat's draft with it)."""
        composer = self.query_one(Composer)
        if not composer.read_only:
            composer.clear()
            self.drafts.pop(self.current, None)
        composer.focus()

    def action_status(self) -> None:
        """Set my status."""
        items = [(s, t(f"console.status_pick.{s}"))
                 for s in ("online", "busy", "away", "offline")]

        def done(r: dict) -> None:
            self._left.update(r.get("returned") or [])  # said here, not once per chat
            back = len(r.get("returned") or [])
            self.notify(t("console.status_set", status=status_text(r["status"]))
                        + (t("console.returned", n=back) if back else ""))

        self.push_screen(
            PickScreen(t("console.my_status"), items),
            lambda s: s and self.act(t("console.status"), lambda: self.backend.set_agent_status(
                self.agent, s), done))

    def action_search(self) -> None:
        """Search my chat history."""

        def results(text: str | None) -> None:
            if not text:
                return
            number = re.fullmatch(r"\s*[#＃]?\s*(\d{1,12})\s*", text)
            if number:  # #123: open that chat of my shops (another's: read-only)
                self.open_chat_number(int(number.group(1)))
                return

            def show(rows: list[dict]) -> None:
                if not rows:
                    self.notify(t("console.search_none", text=text))
                    return
                items = [(str(r["conversation"]),
                          t("console.search_item", conversation=r["conversation"],
                            customer=r["customer_name"], sender=value("sender", r["sender"]),
                            body=r["body"][:40])) for r in rows]
                self.push_screen(PickScreen(t("console.search_results", text=text), items),
                                 self._open_from_search)

            self.act(t("console.search"),
                     lambda: self.backend.search_history(self.agent, text), show)

        self.push_screen(PromptScreen(t("console.search_prompt"), t("console.search_hint")),
                         results)

    def action_ticket(self) -> None:
        """Raise a ticket from the open chat: pick the type, write the title."""
        if not self._need_chat():
            return
        conv = self.current
        types = [(k, value("ticket_type", k))
                 for k in ("complaint", "return_refund", "damaged_goods", "delivery_delay",
                           "installation_delay", "invoice", "other")]

        def with_title(kind: str) -> None:
            def go(title: str | None) -> None:
                if not title:
                    return
                self.act(t("console.ticket_create"), lambda: self.backend.create_ticket(
                    type=kind, title=title, conversation=conv, by=self.agent,
                    assignee=self.agent),
                    lambda tk: self.notify(t(
                        "console.ticket_created", ticket=tk["id"],
                        due=tk["first_response_due"][5:16].replace("T", " "))))

            self.push_screen(PromptScreen(t("console.ticket_title"),
                                          t("console.ticket_title_hint")), go)

        self.push_screen(PickScreen(t("console.ticket_type"), types),
                         lambda kind: kind and with_title(kind))

    def action_my_tickets(self) -> None:
        """My open tickets, the nearest deadline first, marked by SLA state."""
        marks = {"ok": "●", "warning": "▲", "breached": "✖", "met": "✓"}

        def load() -> list[tuple[str, str]]:
            rows = self.backend.list_tickets(assignee=self.agent, status="open")
            out = []
            for tk in rows:
                pending = "first_response" if not tk["first_responded_at"] else "resolution"
                state = tk["sla"][pending]["state"]
                due = tk[f"{pending}_due" if pending == "resolution" else "first_response_due"]
                out.append((str(tk["id"]), t(
                    "console.ticket_item", mark=marks.get(state, "·"), ticket=tk["id"],
                    priority=value("priority", tk["priority"]), title=tk["title"],
                    due=due[5:16].replace("T", " "), state=value("sla_state", state))))
            return out

        self._pick(t("console.my_tickets"), load,
                   lambda tid: self.notify(t("console.ticket_show", ticket=tid)),
                   t("console.no_tickets"))

    def open_chat_number(self, cid: int) -> None:
        """Open chat ``cid`` of one of my shops: mine to work in, anyone else's (a
        supervisor's view: the transcript, who is there, a whisper) read-only."""
        if cid in self._chat_ids():
            self._set_current(cid)
            self.request_load()
            return
        mine = {s["key"] for s in getattr(self, "_shops", ()) or ()}

        def opened(conv: dict) -> None:
            if mine and conv["shop"] not in mine:
                self.notify(t("console.cannot_open", conversation=cid,
                              error=t("console.not_my_shop", shop=conv["shop"])),
                            severity="error")
                return
            self._set_current(cid, readonly=True)

        self.act(t("console.open_chat"), lambda: self.backend.get_conversation(
            cid, messages=False), opened)

    def _open_from_search(self, conv_id: str | None) -> None:
        if conv_id is None:
            return
        cid = int(conv_id)
        if cid in self._chat_ids():
            self._set_current(cid)
        else:  # closed, or someone else's now: its transcript, read-only
            self._set_current(cid, readonly=True)
        self.request_load()

    def action_suggestion(self, n: str) -> None:
        """Insert a knowledge suggestion's answer into the reply box."""
        i = int(n) - 1
        if self.readonly:
            self.notify(t("console.readonly"), severity="warning")
            return
        if i >= len(self.suggestions):
            self.notify(t("console.no_suggestion"), severity="warning")
            return
        self.query_one(Composer).insert(str(self.suggestions[i].get("answer", "")))
        self.query_one(Composer).focus()

    def action_suggestions(self) -> None:
        """Pick a knowledge suggestion (1, 2, 3 or Enter) and insert its answer."""
        if self.readonly:
            self.notify(t("console.readonly"), severity="warning")
            return
        if not self.suggestions:
            self.notify(t("console.no_suggestions"), severity="warning")
            return
        items = [(str(i), f"{i} {s.get('question', s.get('entry', ''))}："
                          f"{s.get('answer', '')}")
                 for i, s in enumerate(self.suggestions[:3], start=1)]
        self.push_screen(ChoiceScreen(t("console.pick_suggestion"), items),
                         lambda n: n and self.action_suggestion(n))

    def action_learn(self) -> None:
        """Propose the chat's last question I answered for the knowledge base (a
        supervisor accepts it with `kb suggest accept`); nothing is applied here."""
        if not self._need_chat():
            return
        conv = self.current

        def done(p: dict) -> None:
            self._proposed.add(conv)
            self.notify(t("console.learn_proposed", id=p["id"]))

        self.act(t("console.learn_title"),
                 lambda: self.backend.propose_knowledge(conv, self.agent), done)

    def action_toggle_context(self) -> None:
        """Show or hide the customer panel (on narrow screens it replaces the chat list;
        on wide ones the chat gets its room)."""
        self.screen.toggle_class("context")
        narrow = self.screen.has_class("-narrow")
        shown = self.screen.has_class("context") == narrow
        self.notify(t("console.context_shown" if shown else "console.context_hidden"),
                    timeout=2)

    def action_help(self) -> None:
        """All keys."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        rows = []
        for action_id, keys, _label, what, _order in ACTIONS:
            rows.append((self._keymap.get(action_id, keys), t(what)))
        rows.append((f"{self._keymap.get('send', 'enter')} / "
                     f"{self._keymap.get('newline', 'ctrl+j')}", t("help.send_newline")))
        rows.append(("1 2 3", t("help.suggestion_picker")))
        rows.append(("ctrl+p", t("help.palette")))
        self.push_screen(HelpScreen(rows))

    def action_command_palette(self) -> None:
        """The command palette, its prompt in the interface language."""
        open_command_palette(self)

    def format_title(self, title: str, sub_title: str) -> Any:
        """The header's text: "title — sub title", or only the sub title when both do not
        fit (at 80 columns the closed-shop line keeps its end: what happens meanwhile)."""
        from rich.cells import cell_len
        from textual.content import Content

        room = self.size.width - 16  # the icon and the clock's place on each side
        if sub_title and cell_len(f"{title} — {sub_title}") > room:
            return Content(sub_title)
        return super().format_title(title, sub_title)

    def get_system_commands(self, screen) -> Any:
        yield from localized_system_commands(super().get_system_commands(screen))
        for action_id, _keys, label, what, _order in ACTIONS:
            if action_id == "quit":
                continue
            yield SystemCommand(f"{t(label)} · {t(what)}", t(what),
                                getattr(self, f"action_{action_id}"))
        for i, sug in enumerate(self.suggestions[:3], start=1):
            yield SystemCommand(t("console.insert_suggestion", n=i),
                                str(sug.get("question", "")),
                                partial(self.action_suggestion, str(i)))

    # -- quitting -------------------------------------------------------------------------
    async def action_quit(self) -> None:
        """Quit and go offline. While I hold chats, ask first: going offline hands them
        back to the queue (Esc stays)."""
        if isinstance(self.screen, ConfirmScreen):  # ctrl+q twice: yes
            self.screen.dismiss(True)
            return
        if self.desk is None:
            self.exit()
            return
        chats = len(self.desk["chats"])
        if chats and self.simulator is None:  # the demo's customers are not real: no asking
            def answered(yes: bool | None) -> None:
                if yes:
                    self._log_off()

            self.push_screen(ConfirmScreen(
                t("console.quit_title", n=chats), t("console.quit_body"),
                t("console.quit_keys")), answered)
        elif chats or self.desk["agent"]["status"] in ("online", "busy"):
            self._log_off()  # routing must not give new chats to a closed console
        else:
            self.exit()

    @work(thread=True, group="quit", exit_on_error=False)
    def _log_off(self) -> None:
        """Set me offline, then leave (with a line on the terminal saying what happened)."""
        me = (self.desk or {}).get("agent", {}).get("name") or self.agent  # 小美, not lf-xiaomei
        try:
            r = self.backend.set_agent_status(self.agent, "offline")
        except CstoolError as e:
            message = t("console.offline_failed", agent=me,
                        error=shown_error(e, self.agent))
        else:
            back = len(r.get("returned") or [])
            message = t("console.offline", agent=me) + (
                t("console.returned", n=back) if back else "")
        self.call_from_thread(self.exit, message=message)

    # -- the demo's customers -----------------------------------------------------------------
    @work(thread=True, group="simulator", exit_on_error=False)
    def run_simulator(self) -> None:
        """Customers of the demo mall writing in, at the simulator's pace (worker thread)."""
        self.simulator.run(lambda: self.is_running)


def stylesheet() -> Path:
    """The console's stylesheet file."""
    return Path(__file__).with_name("console.tcss")
