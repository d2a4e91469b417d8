"""The console's labels and private notes.

- Ctrl+L (``label``): a picker of the shop's labels (its setting's and those in use),
  the chat's own marked ✓; choosing one puts it on the chat, or takes it off.
- Ctrl+N (``note``): the reply box's text goes into the chat as a private note, which
  staff see and the customer never does.
- Ctrl+S (``whisper``): a supervisor's whisper to the agent who holds the open chat
  (another's chat, opened with Ctrl+F and its number, ``#123``): asked for in a prompt,
  stored as a note addressed to that agent, which their console draws as 🤫 悄悄话.

Notes are drawn in the transcript in their place, distinctly (🔒, on their own colour),
from the ``notes`` of ``get_conversation``; labels in the chat's header.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from cstool.errors import CstoolError
from cstool.i18n import t
from cstool.text_rules import terminal_safe
from cstool.values import parse_time, short_time

from .cjk_text import Wrapped

NOTE_STYLE = "bold yellow"
WHISPER_STYLE = "bold magenta"


def transcript_items(conv: dict) -> list[dict]:
    """The chat's messages with its private notes in their place (by time; a note after
    the messages of its instant), each note as an item of sender ``note`` whose id
    (``note-<id>``) never equals a message's."""
    notes = conv.get("notes") or []
    if not notes:
        return conv["messages"]
    items = [(parse_time(m["at"]), 0, i, m) for i, m in enumerate(conv["messages"])]
    items += [(parse_time(n["at"]), 1, i, {
        "id": f"note-{n['id']}", "sender": "note", "kind": "text", "body": n["body"],
        "agent": n.get("agent"), "agent_name": n.get("agent_name"), "at": n["at"],
        "payload": None, "to": n.get("to"), "to_name": n.get("to_name")})
        for i, n in enumerate(notes)]
    return [m for *_, m in sorted(items, key=lambda x: x[:3])]


def note_renderable(m: dict) -> Group:
    """A private note: 🔒 内部备注 · who · when, then the text, in the note colour; a
    supervisor's whisper (a note to one agent): 🤫 悄悄话 · who → whom, in its own."""
    who = terminal_safe(str(m.get("agent_name") or m.get("agent") or ""))
    when = short_time(parse_time(m["at"]))[-5:]
    if m.get("to"):
        to = terminal_safe(str(m.get("to_name") or m["to"]))
        head = Text.assemble((t("console.whisper_head", agent=who, to=to) + " ",
                              WHISPER_STYLE), (when, "dim"))
        return Group(head, Wrapped(terminal_safe(m["body"], keep_lines=True),
                                   style="magenta"))
    head = Text.assemble((t("console.note_head", agent=who) + " ", NOTE_STYLE), (when, "dim"))
    return Group(head, Wrapped(terminal_safe(m["body"], keep_lines=True), style="yellow"))


def labels_text(conv: dict) -> Text | None:
    """The chat's labels for its header (None without any)."""
    labels = conv.get("labels") or []
    if not labels:
        return None
    return Text("  " + " ".join(f"[{terminal_safe(x)}]" for x in labels), "cyan")


class MarksMixin:
    """Actions of the console (``ConsoleApp``) for labels and private notes."""

    def action_label(self: Any) -> None:
        """Put one of the shop's labels on the open chat, or take it off."""
        if not self._need_chat():
            return
        conv_id, shop = self.current, self.conv["shop"]
        on = set(self.conv.get("labels") or [])

        def load() -> list[tuple[str, str]]:
            try:
                rows = self.backend.shop_labels(shop)
            except CstoolError:
                return []
            return [(r["label"], t("console.label_item", mark="✓" if r["label"] in on else "·",
                                   label=r["label"], n=r["conversations"])) for r in rows]

        def toggle(label: str) -> None:
            remove = label in on

            def write() -> dict:
                if remove:
                    return self.backend.remove_label(conv_id, label, by=self.agent)
                return self.backend.add_label(conv_id, label, by=self.agent)

            def done(out: dict) -> None:
                if self.conv is not None and self.conv["id"] == conv_id:
                    self.conv["labels"] = out["labels"]
                self.notify(t("console.unlabelled" if remove else "console.labelled",
                              label=label), timeout=3)

            self.act(t("console.label_failed"), write, done)

        self._pick(t("console.labels"), load, toggle, t("console.no_labels"))

    def action_whisper(self: Any) -> None:
        """Whisper to the agent holding the open chat: a private note addressed to them
        (supervisors and admins; the desk refuses anyone else with the reason)."""
        from .screens import PromptScreen

        conv = self.conv
        if self.current is None or conv is None or conv["id"] != self.current:
            self.notify(t("console.no_chat"), severity="warning")
            return
        to = conv.get("assignee")
        if not to or to == self.agent:
            self.notify(t("console.whisper_nobody"), severity="warning")
            return
        conv_id = conv["id"]
        name = terminal_safe(str(self._agent_names.get(to) or to))

        def send(text: str | None) -> None:
            if text is None:
                return
            if not text.strip():
                self.notify(t("console.note_empty"), severity="warning")
                return
            self.act(t("console.whisper_failed"), lambda: self.backend.add_note(
                self.agent, conv_id, text, to=to),
                lambda _: self.notify(t("console.whispered", name=name), timeout=3))

        self.push_screen(PromptScreen(t("console.whisper_prompt", name=name),
                                      t("console.whisper_hint")), send)

    def action_note(self: Any) -> None:
        """The reply box's text as a private note in the open chat (staff only)."""
        from .widgets import Composer

        if not self._need_chat():
            return
        composer = self.query_one(Composer)
        text, conv_id = composer.text, self.current
        if not text.strip():
            self.notify(t("console.note_empty"), severity="warning")
            return
        composer.clear()

        def restore(_: Any = None) -> None:
            if self.current == conv_id and not composer.text:
                composer.insert(text)

        def write() -> dict:
            return self.backend.add_note(self.agent, conv_id, text)

        self.act(t("console.note_failed"), write,
                 lambda _: self.notify(t("console.noted"), timeout=3), restore)
