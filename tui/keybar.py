"""The console's key line: the most useful keys that fit the width, in key order.

Textual's Footer draws every shown binding and cuts the rest off at the edge ("f8 结束 f▏"
at 120 columns, F9 and F1 gone); this bar picks by priority instead (help first), so
what it shows is whole, and says that Ctrl+P lists every action.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

GAP = 2


def key_label(keys: str) -> str:
    """The first of ``keys`` as a terminal user reads it: F2, ^G, Tab, ⇧Tab."""
    key = keys.split(",")[0]
    *mods, base = key.split("+")
    if len(base) == 1:
        name = base.upper() if mods else base  # ^Q, but a plain s is s (not shift+s)
    elif base.startswith("f") and base[1:].isdigit():
        name = base.upper()
    else:
        name = base.capitalize()
    names = {"Up": "↑", "Down": "↓", "Left": "←", "Right": "→", "Pageup": "PgUp",
             "Pagedown": "PgDn", "Escape": "Esc"}
    name = names.get(name, name)
    out = ""
    for m in mods:
        out += {"ctrl": "^", "shift": "⇧", "alt": "Alt+", "meta": "Meta+"}.get(m, m + "+")
    return out + name


def fit_keys(entries: list[tuple[str, str, int]], width: int) -> list[tuple[str, str]]:
    """Of ``entries`` (key label, action label, priority: lower is more important), the
    most important that fit ``width`` cells together, in their own order."""
    chosen: set[int] = set()
    used = 0
    for i in sorted(range(len(entries)), key=lambda i: (entries[i][2], i)):
        key, label, _ = entries[i]
        w = cell_len(key) + 1 + cell_len(label) + (GAP if chosen else 0)
        if used + w <= width:
            chosen.add(i)
            used += w
    return [(entries[i][0], entries[i][1]) for i in sorted(chosen)]


class KeyBar(Widget):
    """One row of keys, chosen to fit (see ``fit_keys``) at the width it is drawn at."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[tuple[str, str, int]] = []

    def set_entries(self, entries: list[tuple[str, str, int]]) -> None:
        """The keys to choose from: (key label, action label, priority)."""
        self.entries = entries
        self.refresh()

    def shown(self) -> list[tuple[str, str]]:
        """The (key, label) pairs shown at the current width."""
        return fit_keys(self.entries, self.content_size.width)

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="crop")
        for i, (key, label) in enumerate(self.shown()):
            if i:
                t.append(" " * GAP)
            t.append(key, "bold yellow")
            t.append(" " + label)
        return t
