"""The console's macros, follow-up lists and presence (issue 22 items 4, 5 and 10).

- Ctrl+X (``macro``): a picker of the macros the agent may run in the open chat's shop
  (the shop's and their own); choosing one runs it (``run_macro``) and says how it went:
  done, refused with nothing done, or stopped at a step (which, and why).
- Ctrl+W (``follow_ups``): the follow-up lists of the agent's shops (``FollowUpScreen``):
  1 / 2 / 3 switch between 咨询未下单, 下单未付款 and 售后; ``i`` (or Enter) sends the
  selected customer an invitation to order, under the campaigns' guards: a refusal says
  why (opted out, quiet hours, the cap ...).
- Presence: every few seconds the console says it is viewing the open chat (typing while
  the reply box changes) and shows who else is there in the reply box's border: another
  agent, or a supervisor (👀 viewing, ✍ typing). Over a server, the others' claims also
  arrive at once on the event stream (``conversation.presence`` signals, read by a
  background thread): someone starting to type shows within a second; each renewal's
  answer (the presence table, with its time to live) stays the truth. A supervisor's
  whisper (a note to the agent) is drawn in the transcript apart from other notes
  (``conv_marks``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.markup import escape as markup_escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from cstool.errors import CstoolError
from cstool.i18n import error_text, t, value
from cstool.text_rules import terminal_safe
from cstool.values import parse_time, short_time

from .cjk_text import Wrapped

PRESENCE_EVERY_S = 3.0  # how often the console renews its claim (the claim lasts 20 s)
TYPING_FOR_S = 4.0  # the reply box changed this recently: typing
FOLLOW_UP_CLASSES = ("consulted_not_ordered", "ordered_not_paid", "after_sale")


def presence_text(others: list[dict], names: dict[str, str] | None = None) -> str:
    """Who else is in the chat, for the reply box's border: ``👀 主管李（主管）正在查看 ·
    ✍ 小王 正在输入`` (empty: nobody)."""
    parts = []
    for o in others:
        name = terminal_safe(str(o.get("name") or (names or {}).get(o["agent"]) or o["agent"]))
        role = "" if o.get("role") == "agent" else t("console.presence_role",
                                                      role=value("role", o.get("role")))
        key = "console.presence_typing" if o["state"] == "typing" else \
            "console.presence_viewing"
        parts.append(t(key, name=name + role))
    return " · ".join(parts)


def follow_up_label(r: dict) -> str:
    """One row of a follow-up list: customer, shop, product or order, when, invited."""
    parts = [t("console.follow_up_row", name=terminal_safe(r.get("customer_name") or ""),
               customer=r["customer"], shop=r["shop"],
               when=short_time(parse_time(r["created_at"])))]
    if r.get("order"):
        parts.append(t("console.follow_up_order", order=r["order"]))
    elif r.get("product"):
        parts.append(t("console.follow_up_product", product=r["product"]))
    if r.get("opted_out"):
        parts.append(t("console.follow_up_opted_out"))
    if r.get("invited_at"):
        parts.append(t("console.follow_up_invited",
                       when=short_time(parse_time(r["invited_at"]))))
    return "  ".join(parts)


class FollowUpScreen(ModalScreen[None]):
    """The follow-up lists of some shops: 1/2/3 switch the class, i or Enter invites the
    selected customer, Escape closes."""

    BINDINGS = [Binding("escape", "cancel", "key.cancel", id="cancel"),
                Binding("i", "invite", "key.follow_up_invite", id="follow_up_invite"),
                *[Binding(str(n), f"show_class({n})", str(n), show=False) for n in (1, 2, 3)]]

    def __init__(self, backend: Any, agent: str, shops: list[str], since: str = "1d"):
        super().__init__()
        from .screens import localize_bindings

        localize_bindings(self)
        self.backend, self.agent, self.shops, self.since = backend, agent, shops, since
        self.classification = FOLLOW_UP_CLASSES[0]
        self.rows: list[dict] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("", id="follow-up-title", classes="dialog-title")
            yield OptionList(id="follow-up-list")
            yield Label(t("console.follow_up_keys"), classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load()

    def _title(self) -> str:
        tabs = [(f"[b reverse] {n} {value('classification', c)} [/]" if c == self.classification
                 else f" {n} {value('classification', c)} ")
                for n, c in enumerate(FOLLOW_UP_CLASSES, 1)]
        return t("console.follow_ups_title", since=self.since) + "  " + "".join(tabs)

    @work(thread=True, exclusive=True, group="follow-ups", exit_on_error=False)
    def load(self) -> None:
        """Read the list of the class shown (worker thread)."""
        rows: list[dict] = []
        error = None
        for shop in self.shops:
            try:
                rows += self.backend.follow_ups(shop, self.classification, since=self.since)
            except CstoolError as e:
                error = e
        rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        self.app.call_from_thread(self._show, rows, error)

    def _show(self, rows: list[dict], error: CstoolError | None) -> None:
        self.rows = rows
        self.query_one("#follow-up-title", Label).update(self._title())
        options = self.query_one(OptionList)
        options.clear_options()
        if rows:
            options.add_options([Option(Wrapped(follow_up_label(r)), id=str(r["id"]))
                                 for r in rows])
            options.highlighted = 0
        else:
            options.add_option(Option(t("console.follow_up_empty"), id="-", disabled=True))
        if error is not None:
            self.app.notify(error_text(error), severity="error")

    def action_show_class(self, n: int) -> None:
        """Show the n-th list (1 咨询未下单, 2 下单未付款, 3 售后)."""
        self.classification = FOLLOW_UP_CLASSES[n - 1]
        self.load()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_invite()

    def action_invite(self) -> None:
        """Invite the selected customer to order (the chat's product, the priced card)."""
        options = self.query_one(OptionList)
        if options.highlighted is None or not self.rows:
            return
        row = self.rows[options.highlighted]
        self._invite(row)

    @work(thread=True, group="follow-up-invite", exit_on_error=False)
    def _invite(self, row: dict) -> None:
        try:
            msg = self.backend.follow_up_invite(row["id"], self.agent)
        except CstoolError as e:
            self.app.call_from_thread(
                self.app.notify, t("console.follow_up_refused", name=terminal_safe(
                    row.get("customer_name") or row["customer"]), error=error_text(e)),
                severity="error")
            return
        self.app.call_from_thread(
            self.app.notify, t("console.follow_up_sent", name=terminal_safe(
                row.get("customer_name") or row["customer"]), body=terminal_safe(msg["body"])))
        self.load()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ToolsMixin:
    """Actions of the console (``ConsoleApp``) for macros, follow-up lists and presence."""

    _presence_at: float = 0.0
    _presence_chat: int | None = None
    _typed_at: float = 0.0
    presence_others: list[dict] = []

    # -- macros -----------------------------------------------------------------------------
    def action_macro(self: Any) -> None:
        """Pick one of the macros I may run in the open chat's shop and run it."""
        if not self._need_chat():
            return
        conv_id, shop = self.current, self.conv["shop"]

        def load() -> list[tuple[str, str]]:
            try:
                rows = self.backend.list("macros", shop=shop)
            except CstoolError:
                return []
            return [(m["key"], t("console.macro_item", name=m["name"], actions=" → ".join(
                value("macro_action", next(iter(a))) for a in m["actions"]))) for m in rows
                if m.get("agent") in (None, self.agent)]

        def run(key: str) -> None:
            def done(out: dict) -> None:
                if out["complete"]:
                    self.notify(t("console.macro_done", name=out["name"]), timeout=4)
                    return
                failed = next(s for s in out["steps"] if s["status"] == "failed")
                done_n = sum(1 for s in out["steps"] if s["status"] == "done")
                self.notify(t("console.macro_partial", name=out["name"], done=done_n,
                              what=failed["what"], error=error_text(_Refusal(failed["error"]))),
                            severity="warning", timeout=8)

            self.act(t("console.macro_failed"), lambda: self.backend.run_macro(
                conv_id, self.agent, key), done)

        self._pick(t("console.macros"), load, run, t("console.no_macros"))

    # -- follow-up lists --------------------------------------------------------------------
    def action_follow_ups(self: Any) -> None:
        """The follow-up lists of my shops, with one key to invite a customer to order."""
        shops = [s["key"] for s in getattr(self, "_shops", ())] or sorted(
            {c["shop"] for c in (self.desk or {}).get("chats", [])})
        if not shops:
            self.notify(t("console.no_shops"), severity="warning")
            return
        self.push_screen(FollowUpScreen(self.backend, self.agent, shops))

    # -- presence ---------------------------------------------------------------------------
    def on_text_area_changed(self: Any, event: Any) -> None:
        """The reply box changed: I am typing (said at the next renewal, or now)."""
        if getattr(event.text_area, "id", None) != "composer" or not event.text_area.text:
            return
        was = time.monotonic() - self._typed_at >= TYPING_FOR_S
        self._typed_at = time.monotonic()
        if was:
            self.presence_tick(force=True)

    def presence_tick(self: Any, force: bool = False) -> None:
        """Renew my claim on the open chat every few seconds (or now)."""
        chat = self.current
        now = time.monotonic()
        if chat != self._presence_chat:
            if self._presence_chat is not None:
                self._say_presence(self._presence_chat, "left")
            self._presence_chat, force = chat, True
            self._show_presence([])
        if chat is None or (not force and now - self._presence_at < PRESENCE_EVERY_S):
            return
        self._presence_at = now
        state = "typing" if now - self._typed_at < TYPING_FOR_S else "viewing"
        self._say_presence(chat, state)

    @work(thread=True, group="presence", exit_on_error=False)
    def _say_presence(self: Any, chat: int, state: str) -> None:
        try:
            out = self.backend.presence(chat, self.agent, state)
        except CstoolError:
            return  # a chat I may no longer see: nothing to show
        if state != "left":
            self.call_from_thread(self._got_presence, chat, out["others"])

    def start_presence_feed(self: Any) -> None:
        """Over a server (a backend that can ``subscribe``), follow the others' presence
        live on the event stream, in a daemon thread; nothing on a local file."""
        subscribe = getattr(self.backend, "subscribe", None)
        if subscribe is None:
            return
        self._feed_stop = threading.Event()
        threading.Thread(target=self._presence_feed, args=(subscribe, self._feed_stop),
                         name="cstool-presence-feed", daemon=True).start()

    def _presence_feed(self: Any, subscribe: Any, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                for e in subscribe(after=None, reconnect=False):
                    if stop.is_set():
                        return
                    if e.get("type") == "conversation.presence":
                        self.call_from_thread(self._presence_signal, e.get("payload") or {})
            except CstoolError:
                pass  # the stream dropped or was refused: try again shortly
            except RuntimeError:
                return  # the app has ended
            stop.wait(2.0)

    def on_unmount(self: Any) -> None:
        """Stop following presence."""
        stop = getattr(self, "_feed_stop", None)
        if stop is not None:
            stop.set()

    def _presence_signal(self: Any, p: dict) -> None:
        """Someone's claim on a chat, pushed: shown at once if it is the open chat."""
        if p.get("conversation") != self.current or p.get("agent") in (None, self.agent):
            return
        others = [o for o in self.presence_others if o["agent"] != p["agent"]]
        if p.get("state") in ("viewing", "typing"):
            others.append({"agent": p["agent"], "name": p.get("name"),
                           "role": p.get("role"), "state": p["state"]})
        self._show_presence(others)

    def _got_presence(self: Any, chat: int, others: list[dict]) -> None:
        if chat == self.current:
            self._show_presence(others)

    def _show_presence(self: Any, others: list[dict]) -> None:
        from .widgets import Composer

        self.presence_others = others
        text = presence_text(others, getattr(self, "_agent_names", None))
        self.query_one(Composer).border_subtitle = markup_escape(text) if text else ""


class _Refusal(Exception):
    """A macro step's reported refusal (key and parameters), shown through the catalogs."""

    def __init__(self, error: dict):
        super().__init__(error.get("message", ""))
        self.key, self.params = error.get("key"), error.get("params") or {}
