"""The console's widgets: chat list, transcript with cards, composer, customer panel."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static, TextArea

from cstool.cjk_wrap import cut
from cstool.i18n import t, value
from cstool.routing.desk_queue import agent_queue
from cstool.text_rules import terminal_safe
from cstool.values import money, parse_time, short_time

from .cjk_text import Wrapped
from .conv_files import file_renderable
from .conv_marks import labels_text, note_renderable, transcript_items

# Who wrote a message: the label is the catalog's ``val.sender.<sender>``.
SENDER_STYLE = {
    "customer": "bold cyan",
    "agent": "bold green",
    "bot": "bold magenta",
    "system": "dim",
}
# Cards drawn as cards; the title is the catalog's ``val.card.<kind>``.
CARD_TITLES = ("product", "coupon", "invitation", "order", "survey")


def wait_style(seconds: float, target_s: float) -> str:
    """Green well inside the shop's response target, yellow near it, red past it."""
    if seconds >= target_s:
        return "bold red"
    if seconds >= target_s / 2:
        return "yellow"
    return "green"


def fmt_wait(seconds: float) -> str:
    """``45s``, ``3m05s``, ``11h43m`` or ``2d03h``: two units at most, so that a chat
    open since last night reads as hours, not as ``703m09s``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86_400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86_400}d{seconds % 86_400 // 3600:02d}h"


class ChatList(Static):
    """My open chats (unread mark, waiting time coloured against the 3-minute target)
    and my shops' queue. Selection is by the app's keys, not the mouse."""

    def render_desk(self, desk: dict, current: int | None, now_ms: int) -> None:
        """Redraw from an ``agent_desk`` result."""
        targets = {s["key"]: s["response_target_s"] for s in desk["shops"]}
        a = desk["agent"]
        lines = [Text.assemble((f"{_safe(a['name'])} ", "bold"), (value("status", a["status"]),
                                                             _status(a)),
                               f"  {len(desk['chats'])}/{a['max_chats']}")]
        lines.append(Text(t("console.my_chats"), style="bold underline"))
        if not desk["chats"]:
            lines.append(Text("  " + t("console.none"), style="dim"))
        for c in desk["chats"]:
            mark = "●" if c["unread"] else " "
            line = Text(("▶" if c["id"] == current else " ") + mark, style="bold yellow")
            line.append(cut(_safe(c["customer_name"]), 10))
            if c["waiting_since_ms"]:
                secs = (now_ms - c["waiting_since_ms"]) / 1000
                line.append(f" {fmt_wait(secs)}", wait_style(secs, targets.get(c["shop"], 180)))
            lines.append(line)
        mine, others = my_queue(desk)
        lines.append(Text(t("console.queue", n=len(mine) + unlisted(desk)),
                          style="bold underline"))
        for i, q in enumerate(mine[:8], start=1):
            secs = (now_ms - q["waiting_since_ms"]) / 1000
            line = Text(cut(f" {i}. {_safe(q['customer_name'])}", 12))
            line.append(f" {fmt_wait(secs)}", wait_style(secs, targets.get(q["shop"], 180)))
            if q["priority"]:
                line.append(f" P{q['priority']}", "magenta")
            lines.append(line)
        if len(mine) + unlisted(desk) > 8:
            lines.append(Text("  " + t("console.more", n=len(mine) + unlisted(desk) - 8),
                              style="dim"))
        if others:
            lines.append(Text(t("console.others_waiting_line", n=others), style="dim"))
        self.update(Group(*lines))


def my_queue(desk: dict) -> tuple[list[dict], int]:
    """The waiting chats this agent may accept, in the order F2 takes them, and how many
    others wait for a group (or an agent) this agent is not in. A desk without the
    ``mine`` mark (an older server) counts every waiting chat as the agent's."""
    mine, others = agent_queue(desk["queue"])  # the order is the core's
    return list(mine), others


def unlisted(desk: dict) -> int:
    """How many wait in the agent's shops beyond the desk's list (it lists at most
    ``DESK_QUEUE`` per shop; ``waiting`` counts them all). Counted with the agent's own
    queue: the desk does not say whose they are, and F2 reaches them in turn."""
    waiting = desk.get("waiting")
    if not isinstance(waiting, dict):
        return 0  # an older server: the list is all there is
    listed: dict[str, int] = {}
    for q in desk["queue"]:
        listed[q["shop"]] = listed.get(q["shop"], 0) + 1
    return sum(max(0, int(n) - listed.get(shop, 0)) for shop, n in waiting.items())


def _safe(value) -> str:
    """Text from the data (names, titles, tags) as the terminal may show it: control
    characters escaped, as message text is."""
    return terminal_safe("" if value is None else str(value))


def empty_hint(desk: dict | None) -> str:
    """What the transcript says with no chat open, agreeing with the queue panel."""
    if desk is None:
        return t("console.empty")
    mine, others = my_queue(desk)
    if mine or unlisted(desk):
        return t("console.empty_waiting", n=len(mine) + unlisted(desk))
    text = t("console.empty_nobody")
    if others:
        text += t("console.others_waiting", n=others)
    return text


def _status(agent: dict) -> str:
    return {"online": "green", "busy": "yellow", "away": "yellow", "offline": "red"}.get(
        agent["status"], "")


class Transcript(VerticalScroll):
    """The chat's messages; cards are drawn as cards. Scrolls to the end only when the
    reader is already at the end."""

    names: dict[str, str] = {}

    def show(self, conv: dict | None, *, same_chat: bool = False, readonly: bool = False,
             hint: str | None = None, names: dict[str, str] | None = None) -> None:
        """Redraw for a conversation (or an empty state saying ``hint``). The same chat
        only gains its new messages; a new chat opens at its end; the same chat follows new
        messages only if the reader was at the end. A ``readonly`` chat (closed, or not
        mine) says so in its header. Agents' messages are signed with their names
        (``names``: handle → name)."""
        if names is not None:
            self.names = names
        at_end = not same_chat or self.scroll_y >= self.max_scroll_y - 1
        shown = getattr(self, "_shown", None)
        items = transcript_items(conv) if conv is not None else []  # notes in their place
        marks = (readonly, tuple(conv.get("labels") or ()),
                 delivery_states(items)) if conv is not None else None
        if conv is not None and same_chat and shown is not None and shown[0] == conv["id"] \
                and shown[2] == marks:
            ids = [m["id"] for m in items]
            if ids[:len(shown[1])] == shown[1]:
                new = items[len(shown[1]):]
                if new:
                    self.mount_all([_message_widget(m, self.names) for m in new])
                    self._shown = (conv["id"], ids, marks)
                    if at_end:
                        self.call_after_refresh(self.scroll_end, animate=False)
                return
        self.remove_children()
        if conv is None:
            self._shown = None
            self.mount(Static(Wrapped(hint or t("console.empty"), style="dim"),
                              classes="empty"))
            return
        header = Text.assemble((f"{_safe(conv['customer_name'])} ", "bold"),
                               (f"{_safe(conv['shop'])} · "
                                f"{value('classification', conv['classification'])}", "dim"))
        if readonly:
            state = t("console.gone.closed") if conv.get("state") == "closed" \
                else t("console.not_mine")
            header.append("  " + t("console.readonly_header", state=state), "bold red")
        if labels_text(conv) is not None:
            header.append(labels_text(conv))
        widgets = [Static(header, classes="chat-header")]
        recent = items[-200:]
        widgets.extend(_message_widget(m, self.names) for m in recent)
        self.mount_all(widgets)
        self._shown = (conv["id"], [m["id"] for m in items], marks)
        if at_end:
            self.call_after_refresh(self.scroll_end, animate=False)

    def append(self, conv: dict, message: dict) -> None:
        """Show a message we just sent, without waiting for the next read."""
        shown = getattr(self, "_shown", None)
        if shown is None or shown[0] != conv["id"] or message["id"] in shown[1]:
            return
        self.mount(_message_widget(message, self.names))
        shown[1].append(message["id"])
        self.call_after_refresh(self.scroll_end, animate=False)


# A message to a channel connector: queued, sent, delivered, read or failed (the
# gateway's receipts), a mark and the catalog's word beside the time.
DELIVERY_MARKS = {"queued": "… ", "sent": "✓ ", "delivered": "✓✓ ", "read": "✓✓ ",
                  "failed": "✗ "}
DELIVERY_STYLE = {"queued": "dim", "sent": "dim", "delivered": "green", "read": "bold blue",
                  "failed": "bold red"}


def delivery_states(items: list[dict]) -> tuple:
    """The delivery states of a chat's messages (a change redraws the transcript)."""
    return tuple((m["id"], m["delivery"]) for m in items if m.get("delivery"))


def _message_widget(m: dict, names: dict[str, str] | None = None) -> Static:
    return Static(message_renderable(m, names), classes=f"msg {m['sender']}")


def message_renderable(m: dict, names: dict[str, str] | None = None):
    """One message for the transcript: a line of text, or a card. An agent's message is
    signed with the agent's name when ``names`` (handle → name) has it; a private note
    (sender ``note``) is drawn as one."""
    if m["sender"] == "note":
        return note_renderable(m)
    style = SENDER_STYLE.get(m["sender"], "")
    who = value("sender", m["sender"])
    if m["sender"] == "agent" and m.get("agent"):
        who = (names or {}).get(m["agent"], m["agent"])
    who = terminal_safe(str(who))
    shown = terminal_safe(m["body"], keep_lines=True)  # old files, remote servers: no ESC
    when = short_time(parse_time(m["at"]))[-5:]
    head = Text.assemble((f"{who} ", style), (when, "dim"))
    if m.get("delivery") and m["sender"] != "customer":  # to a channel: its state
        head.append(f"  {DELIVERY_MARKS.get(m['delivery'], '')}"
                    f"{t('console.delivery.' + m['delivery'])}",
                    DELIVERY_STYLE.get(m["delivery"], "dim"))
    kind = m.get("kind", "text")
    if kind == "file":
        return Group(head, file_renderable(m))
    if kind in CARD_TITLES and kind != "survey":
        p = m.get("payload") or {}
        body = Text(shown)
        if kind == "invitation" and p.get("total") is not None:
            total = p["total"]
            shown_total = (money(total) if isinstance(total, int | float)
                           and not isinstance(total, bool) else terminal_safe(str(total)))
            body.append("\n" + t("console.price_after", total=shown_total), "bold red")
        return Group(head, Panel(Wrapped(body), title=value("card", kind), border_style="yellow",
                                 expand=False))
    return Group(head, Wrapped(shown, style="dim" if m["sender"] == "system" else ""))


class Composer(TextArea):
    """The reply box: Enter sends, Ctrl+J makes a new line, ``/`` on an empty box opens
    the quick replies."""

    # Not priority bindings: a priority binding runs as the key arrives, before the
    # characters typed just ahead of it reach the box (a terminal delivers "好的亲⏎" in one
    # read: Enter would find the box still empty). The box reads its own keys in order
    # (``_on_key``), so Enter sends what was typed before it; a keymap still rebinds them.
    BINDINGS = [
        Binding("enter", "submit", "key.send", id="send"),
        Binding("ctrl+j", "newline", "key.newline", id="newline"),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from .screens import localize_bindings

        localize_bindings(self)

    class Submitted(Message):
        """The agent pressed the send key."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class QuickReplies(Message):
        """The agent typed ``/`` on an empty composer."""

    def action_submit(self) -> None:
        """Send what is typed."""
        text = self.text.strip()
        if text:
            self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        """Insert a line break."""
        self.insert("\n")

    async def _on_key(self, event: events.Key) -> None:
        if event.character == "/" and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.QuickReplies())
            return
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if binding.id in ("send", "newline"):  # as the keymap binds them
                event.stop()
                event.prevent_default()
                if binding.id == "send":
                    self.action_submit()
                else:
                    self.action_newline()
                return
        await super()._on_key(event)


class CustomerPanel(Static):
    """Who the customer is: level, tags, classification, orders, coupons, last agent."""

    def show(self, ctx: dict | None) -> None:
        """Redraw from a ``customer_context`` result: each line wrapped by the Chinese
        rules or cut with "…" at the panel's width."""
        if ctx is None:
            self.update(Text(t("console.customer_info"), style="dim"))
            return
        rows: list = []
        head = Text()
        head.append(_safe(ctx["name"]), "bold")
        head.append(f"  V{ctx['level']}", "bold magenta")
        if ctx["region"]:
            head.append(f"  {_safe(ctx['region'])}", "dim")
        rows.append(Wrapped(head))
        if ctx["tags"]:
            rows.append(Wrapped(" ".join(f"#{_safe(x)}" for x in ctx["tags"]), style="cyan"))
        rows.append(Wrapped(value("classification", ctx["classification"]), style="yellow"))
        rows.append(Wrapped(t("console.orders_spend", orders=ctx["orders_count"],
                              spend=money(ctx["spend"]))))
        if ctx["last_agent_name"]:
            rows.append(Wrapped(t("console.last_agent", name=_safe(ctx["last_agent_name"])),
                                style="dim", cut=True))
        for o in ctx["orders"][:3]:
            title = o["items"][0]["title"] if o["items"] else ""
            rows.append(Wrapped(f"· {value('order_status', o['status'])} {money(o['total'])} "
                                f"{_safe(title)}", cut=True))
            if o["logistics"]:
                rows.append(Wrapped(
                    f"  {value('logistics', o['logistics']['status'])} "
                    f"{_safe(o['logistics']['detail'])}", style="dim", cut=True))
        if ctx["coupons"]:
            rows.append(Wrapped(t("console.coupons", names=", ".join(
                _safe(c["name"]) for c in ctx["coupons"][:3])), style="green", max_lines=2))
        self.update(Group(*rows))


class Suggestions(Static):
    """Knowledge suggestions for the last customer message, each insertable by a key."""

    key_hint = "Ctrl+G"

    def show(self, items: list[dict], learn: object = None, learn_key: str = "Ctrl+E") -> None:
        """Redraw the top suggestions (numbered as the suggestion key's picker takes
        them), and under them ``learn`` (a question of this chat I answered, with the
        answer) as a one-key proposal for the knowledge base."""
        rows: list = []
        if not items:
            rows.append(Text(t("console.suggestions_none"), style="dim"))
        else:
            rows.append(Text(t("console.suggestions"), style="bold"))
            for i, s in enumerate(items[:3], start=1):
                q = Text.assemble((f"{i} ", "bold yellow"),
                                  _safe(s.get("question", s.get("entry", ""))))
                rows.append(Wrapped(q, max_lines=2))
                rows.append(Wrapped("   " + _safe(s.get("answer", "")), style="dim",
                                    max_lines=2))
            rows.append(Text(t("console.suggestions_palette", key=self.key_hint), style="dim"))
        if learn is not None:
            rows.append(Text(t("console.learn_title"), style="bold green"))
            rows.append(Wrapped(t("console.learn_q", text=_safe(learn.question)), max_lines=2))
            rows.append(Wrapped(t("console.learn_a", text=_safe(learn.answer)), style="dim",
                                max_lines=2))
            rows.append(Text(t("console.learn_hint", key=learn_key), style="green"))
        self.update(rows[0] if len(rows) == 1 else Group(*rows))
